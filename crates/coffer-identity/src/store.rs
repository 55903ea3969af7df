//! The identity store: users, AccessKeys, policies and attachments, in memory with the file
//! behind them.
//!
//! Readers (the per-request [`IdentityStore::lookup`] and [`IdentityStore::policies_of`]) take a
//! read lock only long enough to clone an `Arc` of the current snapshot, and never touch the
//! disk. Writers are serialised by a mutex; each builds the next snapshot, writes the file, and
//! only then publishes the snapshot, so a failed write changes nothing.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use coffer_api::identity::SecretKey;
use coffer_iam::{Policy, PolicyKind};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::file::{self, Attachment, FileState, KeyRecord, PolicyRecord, UserRecord};
use crate::seal::{self, Sealer};
use crate::{
    IdentityError, MAX_ACCESS_KEYS_PER_USER, MAX_DESCRIPTION_CHARS, MAX_DISPLAY_NAME_CHARS,
    MAX_POLICY_DOCUMENT_BYTES, MAX_POLICY_NAME_CHARS, MAX_USER_NAME_CHARS,
};

/// A RAM user, as the admin API shows it (PascalCase JSON like RAM's `User`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserInfo {
    /// 16 digits, unique, never reused while the user exists.
    pub user_id: String,
    pub user_name: String,
    /// The user name when none was given.
    pub display_name: String,
    /// RFC 3339 to the second (`2024-05-01T12:00:00Z`).
    pub create_date: String,
    pub update_date: String,
}

/// Whether an AccessKey can sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
}

/// An AccessKey without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyInfo {
    pub access_key_id: String,
    pub status: AccessKeyStatus,
    pub create_date: String,
}

/// A custom identity policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyInfo {
    pub policy_name: String,
    /// Always `Custom` (there are no system policies).
    pub policy_type: &'static str,
    pub description: String,
    pub create_date: String,
    pub update_date: String,
    /// How many users it is attached to.
    pub attachment_count: u32,
    /// The document as given; only from [`IdentityStore::get_policy`] and
    /// [`IdentityStore::create_policy`], not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
}

/// A policy attached to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicyInfo {
    pub policy_name: String,
    pub policy_type: &'static str,
    pub description: String,
    pub attach_date: String,
}

const POLICY_TYPE: &str = "Custom";

/// One consistent view: the file's content plus what is derived from it.
#[derive(Clone)]
struct Snapshot {
    file: FileState,
    /// Unsealed secrets by AccessKey id (zeroized when dropped).
    secrets: HashMap<String, SecretKey>,
    /// Parsed policies by name.
    parsed: HashMap<String, Arc<Policy>>,
    /// The parsed policies attached to each user, by user name.
    user_policies: HashMap<String, Vec<Arc<Policy>>>,
}

impl Snapshot {
    fn reindex(&mut self) {
        self.file
            .attachments
            .sort_by(|a, b| (&a.user_name, &a.policy_name).cmp(&(&b.user_name, &b.policy_name)));
        let mut user_policies: HashMap<String, Vec<Arc<Policy>>> = HashMap::new();
        for a in &self.file.attachments {
            if let Some(p) = self.parsed.get(&a.policy_name) {
                user_policies
                    .entry(a.user_name.clone())
                    .or_default()
                    .push(p.clone());
            }
        }
        self.user_policies = user_policies;
    }

    fn user(&self, name: &str) -> Result<&UserRecord, IdentityError> {
        self.file
            .users
            .get(name)
            .ok_or_else(|| IdentityError::NoSuchUser(name.to_owned()))
    }

    fn policy(&self, name: &str) -> Result<&PolicyRecord, IdentityError> {
        self.file
            .policies
            .get(name)
            .ok_or_else(|| IdentityError::NoSuchPolicy(name.to_owned()))
    }

    /// The user's key `key_id`; a key of another user is as good as missing.
    fn user_key_mut(&mut self, user: &str, key_id: &str) -> Result<&mut KeyRecord, IdentityError> {
        self.user(user)?;
        self.file
            .access_keys
            .get_mut(key_id)
            .filter(|k| k.user_name == user)
            .ok_or_else(|| IdentityError::NoSuchAccessKey(key_id.to_owned()))
    }

    fn attachment_count(&self, policy: &str) -> u32 {
        let n = self
            .file
            .attachments
            .iter()
            .filter(|a| a.policy_name == policy)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn policy_info(&self, name: &str, record: &PolicyRecord, with_document: bool) -> PolicyInfo {
        PolicyInfo {
            policy_name: name.to_owned(),
            policy_type: POLICY_TYPE,
            description: record.description.clone(),
            create_date: record.create_date.clone(),
            update_date: record.update_date.clone(),
            attachment_count: self.attachment_count(name),
            policy_document: with_document.then(|| record.document.clone()),
        }
    }
}

fn user_info(name: &str, record: &UserRecord) -> UserInfo {
    UserInfo {
        user_id: record.user_id.clone(),
        user_name: name.to_owned(),
        display_name: record.display_name.clone(),
        create_date: record.create_date.clone(),
        update_date: record.update_date.clone(),
    }
}

fn key_info(id: &str, record: &KeyRecord) -> AccessKeyInfo {
    AccessKeyInfo {
        access_key_id: id.to_owned(),
        status: record.status,
        create_date: record.create_date.clone(),
    }
}

/// RFC 3339 to the second, UTC, as Alibaba Cloud prints dates.
fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn parse(document: &str) -> Result<Policy, IdentityError> {
    coffer_iam::parse_policy(document, &PolicyKind::Identity)
        .map_err(|e| IdentityError::MalformedPolicy(e.to_string()))
}

/// RAM users, their AccessKeys and identity policies, kept in `<dir>/identities.json`.
/// `Send + Sync`; share one per server behind an `Arc`.
pub struct IdentityStore {
    dir: PathBuf,
    sealer: Sealer,
    current: RwLock<Arc<Snapshot>>,
    /// Serialises writers (build, save, publish).
    writer: Mutex<()>,
    /// Holds the directory's identity lock for the store's lifetime.
    _lock: std::fs::File,
}

impl fmt::Debug for IdentityStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snap = self.snapshot();
        f.debug_struct("IdentityStore")
            .field("dir", &self.dir)
            .field("users", &snap.file.users.len())
            .field("access_keys", &snap.file.access_keys.len())
            .field("policies", &snap.file.policies.len())
            .finish_non_exhaustive()
    }
}

impl IdentityStore {
    /// Opens (or, on first use, creates) `<dir>/identities.json`. `seal_key` seals the
    /// AccessKey secrets; derive it from the root key with
    /// `root_key.derive_subkey(coffer_identity::SEAL_KEY_PURPOSE)`. Opening a file written
    /// under another key fails, as does a file that is damaged or inconsistent, or a
    /// directory another process has open.
    pub fn open(dir: &Path, seal_key: Zeroizing<[u8; 32]>) -> Result<Self, IdentityError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| IdentityError::io(&format!("creating {}", dir.display()), e))?;
        let lock = file::lock(dir)?;
        let sealer = Sealer::new(&seal_key);
        drop(seal_key);

        let snapshot = match file::load(dir)? {
            Some(state) => Self::restore(dir, &sealer, state)?,
            None => {
                let state = FileState {
                    format: file::FORMAT,
                    seal_check: sealer.seal(seal::SEAL_CHECK_AAD, seal::SEAL_CHECK_PLAINTEXT)?,
                    users: Default::default(),
                    access_keys: Default::default(),
                    policies: Default::default(),
                    attachments: Vec::new(),
                };
                file::save(dir, &state)?;
                Snapshot {
                    file: state,
                    secrets: HashMap::new(),
                    parsed: HashMap::new(),
                    user_policies: HashMap::new(),
                }
            }
        };
        tracing::debug!(
            dir = %dir.display(),
            users = snapshot.file.users.len(),
            access_keys = snapshot.file.access_keys.len(),
            policies = snapshot.file.policies.len(),
            "identity store opened"
        );
        Ok(IdentityStore {
            dir: dir.to_owned(),
            sealer,
            current: RwLock::new(Arc::new(snapshot)),
            writer: Mutex::new(()),
            _lock: lock,
        })
    }

    /// Checks a loaded file and derives the in-memory state: unseals every secret and parses
    /// every policy. Refuses anything inconsistent rather than guessing.
    fn restore(dir: &Path, sealer: &Sealer, state: FileState) -> Result<Snapshot, IdentityError> {
        let path = dir.join(file::FILE_NAME);
        let damaged = |what: String| IdentityError::Storage(format!("{}: {what}", path.display()));
        match sealer.open(seal::SEAL_CHECK_AAD, &state.seal_check) {
            Some(p) if p.as_slice() == seal::SEAL_CHECK_PLAINTEXT => {}
            _ => {
                return Err(damaged(
                    "sealed under a different root key (or damaged); it cannot be opened with this one"
                        .into(),
                ));
            }
        }
        let mut secrets = HashMap::new();
        for (id, key) in &state.access_keys {
            if !state.users.contains_key(&key.user_name) {
                return Err(damaged(format!(
                    "AccessKey {id} belongs to the missing user {}",
                    key.user_name
                )));
            }
            let plain = sealer
                .open(&seal::secret_aad(id, &key.user_name), &key.sealed_secret)
                .ok_or_else(|| damaged(format!("the secret of AccessKey {id} does not unseal")))?;
            let text = std::str::from_utf8(&plain)
                .map_err(|_| damaged(format!("the secret of AccessKey {id} is not text")))?;
            secrets.insert(id.clone(), SecretKey::new(text.to_owned()));
        }
        let mut parsed = HashMap::new();
        for (name, policy) in &state.policies {
            // A stored policy the engine no longer accepts must not be dropped silently (its
            // Deny statements would stop applying): refuse to start instead.
            let p = parse(&policy.document)
                .map_err(|e| damaged(format!("stored policy {name} is refused: {e}")))?;
            parsed.insert(name.clone(), Arc::new(p));
        }
        for a in &state.attachments {
            if !state.users.contains_key(&a.user_name) || !parsed.contains_key(&a.policy_name) {
                return Err(damaged(format!(
                    "attachment of policy {} to user {} names a missing entity",
                    a.policy_name, a.user_name
                )));
            }
        }
        let mut snapshot = Snapshot {
            file: state,
            secrets,
            parsed,
            user_policies: HashMap::new(),
        };
        snapshot.reindex();
        Ok(snapshot)
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        // A panic elsewhere cannot leave a half-updated snapshot: publishing is one assignment.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `change` on a copy of the current state, saves the result and publishes it.
    /// Nothing changes when `change` or the save fails.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut Snapshot, &Sealer) -> Result<T, IdentityError>,
    ) -> Result<T, IdentityError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = (*self.snapshot()).clone();
        let out = change(&mut next, &self.sealer)?;
        next.reindex();
        file::save(&self.dir, &next.file)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(out)
    }

    // ---- users ----

    /// Creates a user. `name`: 1 to 64 characters from `A-Z a-z 0-9 . _ @ -`; `display_name`:
    /// 1 to 128 characters (the name when `None`).
    pub fn create_user(
        &self,
        name: &str,
        display_name: Option<&str>,
    ) -> Result<UserInfo, IdentityError> {
        check_user_name(name)?;
        let display_name = display_name.unwrap_or(name);
        check_text("DisplayName", display_name, 1, MAX_DISPLAY_NAME_CHARS)?;
        let info = self.update(|s, sealer| {
            if s.file.users.contains_key(name) {
                return Err(IdentityError::UserAlreadyExists(name.to_owned()));
            }
            let user_id = loop {
                let id = sealer.user_id()?;
                if !s.file.users.values().any(|u| u.user_id == id) {
                    break id;
                }
            };
            let date = now();
            let record = UserRecord {
                user_id,
                display_name: display_name.to_owned(),
                create_date: date.clone(),
                update_date: date,
            };
            let info = user_info(name, &record);
            s.file.users.insert(name.to_owned(), record);
            Ok(info)
        })?;
        tracing::info!(user = %name, user_id = %info.user_id, "RAM user created");
        Ok(info)
    }

    /// Deletes a user with its AccessKeys (which stop working at once) and its policy
    /// attachments.
    pub fn delete_user(&self, name: &str) -> Result<(), IdentityError> {
        self.update(|s, _| {
            s.user(name)?;
            s.file.users.remove(name);
            let keys: Vec<String> = s
                .file
                .access_keys
                .iter()
                .filter(|(_, k)| k.user_name == name)
                .map(|(id, _)| id.clone())
                .collect();
            for id in keys {
                s.file.access_keys.remove(&id);
                s.secrets.remove(&id);
            }
            s.file.attachments.retain(|a| a.user_name != name);
            Ok(())
        })?;
        tracing::info!(user = %name, "RAM user deleted");
        Ok(())
    }

    /// All users, by name.
    pub fn list_users(&self) -> Vec<UserInfo> {
        let snap = self.snapshot();
        snap.file
            .users
            .iter()
            .map(|(name, u)| user_info(name, u))
            .collect()
    }

    pub fn get_user(&self, name: &str) -> Result<UserInfo, IdentityError> {
        let snap = self.snapshot();
        snap.user(name).map(|u| user_info(name, u))
    }

    // ---- AccessKeys ----

    /// Creates an Active AccessKey for `user`: an id `LTAI` + 20 letters and digits and a
    /// secret of 30. The secret is returned here only; the file keeps it sealed. At most
    /// [`MAX_ACCESS_KEYS_PER_USER`] keys per user, active or not.
    pub fn create_access_key(
        &self,
        user: &str,
    ) -> Result<(AccessKeyInfo, Zeroizing<String>), IdentityError> {
        let created = self.update(|s, sealer| {
            s.user(user)?;
            let count = s
                .file
                .access_keys
                .values()
                .filter(|k| k.user_name == user)
                .count();
            if count >= MAX_ACCESS_KEYS_PER_USER {
                return Err(IdentityError::LimitExceeded(format!(
                    "the user {user} already has {count} AccessKeys, the most allowed; \
                     delete one first"
                )));
            }
            let id = loop {
                let id = format!("LTAI{}", sealer.alnum(20)?.as_str());
                if !s.file.access_keys.contains_key(&id) {
                    break id;
                }
            };
            let secret = sealer.alnum(30)?;
            let record = KeyRecord {
                user_name: user.to_owned(),
                status: AccessKeyStatus::Active,
                create_date: now(),
                sealed_secret: sealer.seal(&seal::secret_aad(&id, user), secret.as_bytes())?,
            };
            let info = key_info(&id, &record);
            s.file.access_keys.insert(id.clone(), record);
            s.secrets
                .insert(id, SecretKey::new(secret.as_str().to_owned()));
            Ok((info, secret))
        })?;
        tracing::info!(user = %user, access_key_id = %created.0.access_key_id, "AccessKey created");
        Ok(created)
    }

    /// The user's AccessKeys, oldest first.
    pub fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKeyInfo>, IdentityError> {
        let snap = self.snapshot();
        snap.user(user)?;
        let mut keys: Vec<AccessKeyInfo> = snap
            .file
            .access_keys
            .iter()
            .filter(|(_, k)| k.user_name == user)
            .map(|(id, k)| key_info(id, k))
            .collect();
        keys.sort_by(|a, b| {
            (&a.create_date, &a.access_key_id).cmp(&(&b.create_date, &b.access_key_id))
        });
        Ok(keys)
    }

    /// Activates or deactivates one of the user's keys; an Inactive key fails authentication
    /// from the next request on.
    pub fn set_access_key_status(
        &self,
        user: &str,
        key_id: &str,
        active: bool,
    ) -> Result<(), IdentityError> {
        let status = if active {
            AccessKeyStatus::Active
        } else {
            AccessKeyStatus::Inactive
        };
        self.update(|s, _| {
            s.user_key_mut(user, key_id)?.status = status;
            Ok(())
        })?;
        tracing::info!(user = %user, access_key_id = %key_id, status = status.as_str(), "AccessKey status set");
        Ok(())
    }

    pub fn delete_access_key(&self, user: &str, key_id: &str) -> Result<(), IdentityError> {
        self.update(|s, _| {
            s.user_key_mut(user, key_id)?;
            s.file.access_keys.remove(key_id);
            s.secrets.remove(key_id);
            Ok(())
        })?;
        tracing::info!(user = %user, access_key_id = %key_id, "AccessKey deleted");
        Ok(())
    }

    // ---- policies ----

    /// Creates a custom identity policy. `name`: 1 to 128 characters from `A-Z a-z 0-9 -`;
    /// `document`: at most [`MAX_POLICY_DOCUMENT_BYTES`], accepted by
    /// `coffer_iam::parse_policy` as an identity policy (else
    /// [`IdentityError::MalformedPolicy`] with the engine's explanation); `description`: at
    /// most 1024 characters.
    pub fn create_policy(
        &self,
        name: &str,
        document: &str,
        description: Option<&str>,
    ) -> Result<PolicyInfo, IdentityError> {
        check_policy_name(name)?;
        let description = description.unwrap_or("");
        check_text("Description", description, 0, MAX_DESCRIPTION_CHARS)?;
        if document.len() > MAX_POLICY_DOCUMENT_BYTES {
            return Err(IdentityError::MalformedPolicy(format!(
                "the document is {} bytes long, more than the {MAX_POLICY_DOCUMENT_BYTES} allowed",
                document.len()
            )));
        }
        if self.snapshot().file.policies.contains_key(name) {
            return Err(IdentityError::PolicyAlreadyExists(name.to_owned()));
        }
        // Parsed outside the writer lock; the existence check is repeated under it.
        let parsed = Arc::new(parse(document)?);
        let info = self.update(|s, _| {
            if s.file.policies.contains_key(name) {
                return Err(IdentityError::PolicyAlreadyExists(name.to_owned()));
            }
            let date = now();
            let record = PolicyRecord {
                description: description.to_owned(),
                document: document.to_owned(),
                create_date: date.clone(),
                update_date: date,
            };
            let info = s.policy_info(name, &record, true);
            s.file.policies.insert(name.to_owned(), record);
            s.parsed.insert(name.to_owned(), parsed);
            Ok(info)
        })?;
        tracing::info!(policy = %name, "RAM policy created");
        Ok(info)
    }

    /// Deletes a policy; refused with [`IdentityError::DeleteConflict`] while it is attached
    /// to any user.
    pub fn delete_policy(&self, name: &str) -> Result<(), IdentityError> {
        self.update(|s, _| {
            s.policy(name)?;
            let users: Vec<&str> = s
                .file
                .attachments
                .iter()
                .filter(|a| a.policy_name == name)
                .map(|a| a.user_name.as_str())
                .collect();
            if !users.is_empty() {
                return Err(IdentityError::DeleteConflict(format!(
                    "the policy {name} is attached to {} user(s) ({}); detach it first",
                    users.len(),
                    users.join(", ")
                )));
            }
            s.file.policies.remove(name);
            s.parsed.remove(name);
            Ok(())
        })?;
        tracing::info!(policy = %name, "RAM policy deleted");
        Ok(())
    }

    /// All policies by name, without their documents.
    pub fn list_policies(&self) -> Vec<PolicyInfo> {
        let snap = self.snapshot();
        snap.file
            .policies
            .iter()
            .map(|(name, p)| snap.policy_info(name, p, false))
            .collect()
    }

    /// A policy with its document.
    pub fn get_policy(&self, name: &str) -> Result<PolicyInfo, IdentityError> {
        let snap = self.snapshot();
        let record = snap.policy(name)?;
        Ok(snap.policy_info(name, record, true))
    }

    pub fn attach_policy(&self, policy: &str, user: &str) -> Result<(), IdentityError> {
        self.update(|s, _| {
            s.policy(policy)?;
            s.user(user)?;
            if s.file
                .attachments
                .iter()
                .any(|a| a.policy_name == policy && a.user_name == user)
            {
                return Err(IdentityError::AlreadyAttached {
                    policy: policy.to_owned(),
                    user: user.to_owned(),
                });
            }
            s.file.attachments.push(Attachment {
                user_name: user.to_owned(),
                policy_name: policy.to_owned(),
                attach_date: now(),
            });
            Ok(())
        })?;
        tracing::info!(policy = %policy, user = %user, "RAM policy attached");
        Ok(())
    }

    pub fn detach_policy(&self, policy: &str, user: &str) -> Result<(), IdentityError> {
        self.update(|s, _| {
            s.policy(policy)?;
            s.user(user)?;
            let before = s.file.attachments.len();
            s.file
                .attachments
                .retain(|a| !(a.policy_name == policy && a.user_name == user));
            if s.file.attachments.len() == before {
                return Err(IdentityError::NotAttached {
                    policy: policy.to_owned(),
                    user: user.to_owned(),
                });
            }
            Ok(())
        })?;
        tracing::info!(policy = %policy, user = %user, "RAM policy detached");
        Ok(())
    }

    /// The policies attached to a user, by name, with their attach dates.
    pub fn list_policies_for_user(
        &self,
        user: &str,
    ) -> Result<Vec<AttachedPolicyInfo>, IdentityError> {
        let snap = self.snapshot();
        snap.user(user)?;
        Ok(snap
            .file
            .attachments
            .iter()
            .filter(|a| a.user_name == user)
            .filter_map(|a| {
                let p = snap.file.policies.get(&a.policy_name)?;
                Some(AttachedPolicyInfo {
                    policy_name: a.policy_name.clone(),
                    policy_type: POLICY_TYPE,
                    description: p.description.clone(),
                    attach_date: a.attach_date.clone(),
                })
            })
            .collect())
    }

    // ---- the request path ----

    /// The user and secret of an Active AccessKey; `None` for an unknown, Inactive or deleted
    /// key (or one whose user is gone). No disk I/O, no unsealing: a map look-up.
    pub fn lookup(&self, access_key_id: &str) -> Option<(UserInfo, SecretKey)> {
        let snap = self.snapshot();
        let key = snap.file.access_keys.get(access_key_id)?;
        if key.status != AccessKeyStatus::Active {
            return None;
        }
        let user = snap.file.users.get(&key.user_name)?;
        let secret = snap.secrets.get(access_key_id)?.clone();
        Some((user_info(&key.user_name, user), secret))
    }

    /// The parsed policies attached to `user` (none for an unknown user), in policy-name
    /// order. Cached: no parsing, no disk I/O.
    pub fn policies_of(&self, user: &str) -> Vec<Arc<Policy>> {
        self.snapshot()
            .user_policies
            .get(user)
            .cloned()
            .unwrap_or_default()
    }
}

fn check_user_name(name: &str) -> Result<(), IdentityError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    if name.is_empty() || name.len() > MAX_USER_NAME_CHARS || !name.chars().all(ok_char) {
        return Err(IdentityError::InvalidParameter(format!(
            "UserName {name:?} is invalid: it must be 1 to {MAX_USER_NAME_CHARS} characters \
             from A-Z, a-z, 0-9, '.', '_', '@' and '-'"
        )));
    }
    Ok(())
}

fn check_policy_name(name: &str) -> Result<(), IdentityError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if name.is_empty() || name.len() > MAX_POLICY_NAME_CHARS || !name.chars().all(ok_char) {
        return Err(IdentityError::InvalidParameter(format!(
            "PolicyName {name:?} is invalid: it must be 1 to {MAX_POLICY_NAME_CHARS} characters \
             from A-Z, a-z, 0-9 and '-'"
        )));
    }
    Ok(())
}

/// Free text: `min..=max` characters, no control characters.
fn check_text(field: &str, text: &str, min: usize, max: usize) -> Result<(), IdentityError> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(IdentityError::InvalidParameter(format!(
            "{field} must be {min} to {max} characters long, not {n}"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(IdentityError::InvalidParameter(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_ram_rules() {
        for ok in ["a", "alice", "a.b_c@d-e", "A1", &"x".repeat(64)] {
            assert!(check_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(65), "a:b"] {
            assert_eq!(
                check_user_name(bad).unwrap_err().code(),
                "InvalidParameter",
                "{bad}"
            );
        }
    }

    #[test]
    fn policy_names_follow_ram_rules() {
        assert!(check_policy_name("Read-Only-1").is_ok());
        assert!(check_policy_name(&"p".repeat(128)).is_ok());
        for bad in ["", "a_b", "a.b", &"p".repeat(129)] {
            assert!(check_policy_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_limits_count_characters() {
        assert!(check_text("D", "", 0, 3).is_ok());
        assert!(check_text("D", "äöü", 0, 3).is_ok());
        assert!(check_text("D", "äöüx", 0, 3).is_err());
        assert!(check_text("D", "", 1, 3).is_err());
        assert!(check_text("D", "a\nb", 0, 9).is_err());
    }

    #[test]
    fn dates_are_rfc3339_seconds() {
        let d = now();
        assert_eq!(d.len(), 20, "{d}");
        assert!(d.ends_with('Z'), "{d}");
    }
}
