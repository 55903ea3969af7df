//! The KMS itself.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::audit::{ADMIN_CALLER, AuditEvent, AuditLog, SYSTEM_CALLER};
use crate::clock::{Clock, SystemClock};
use crate::crypto::{self, ROOT_CHECK_AAD};
use crate::rotation::{NextVersion, Saver, Shared};
use crate::store::{self, KeyRecord, StateFile, StoredState, VersionRecord};
use crate::{DataKey, EncryptionContext, GeneratedKey, KeySelector, KmsError, RootKey, WrappedKey};

/// `WrappedKey::key_id` of data keys wrapped by the SSE-OSS service master key.
pub const SERVICE_KEY_ID: &str = "service";
/// The alias of the OSS default CMK.
pub const DEFAULT_KEY_ALIAS: &str = "alias/acs/oss";
/// Aliases under this prefix belong to the service; users cannot create or delete them.
pub const RESERVED_ALIAS_PREFIX: &str = "alias/acs/";
const ALIAS_PREFIX: &str = "alias/";
const MAX_ALIAS_LEN: usize = 255;
const MAX_DESCRIPTION_LEN: usize = 8192;
const DEFAULT_KEY_DESCRIPTION: &str =
    "Default CMK for OSS server-side encryption (alias/acs/oss), created on first use";

/// KMS settings.
#[derive(Clone, Debug)]
pub struct KmsConfig {
    /// How often the SSE-OSS service master key gets a new version. Must not be zero.
    pub service_key_rotation: Duration,
    /// JSON-lines audit file (created with mode 0600, appended to); `None` writes no audit log.
    pub audit_log: Option<PathBuf>,
}

impl Default for KmsConfig {
    /// 30-day service key rotation, no audit log.
    fn default() -> KmsConfig {
        KmsConfig {
            service_key_rotation: Duration::from_secs(30 * 86_400),
            audit_log: None,
        }
    }
}

/// A CMK's state, as Alibaba Cloud KMS names them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Successful calls since the KMS was opened (in memory only; failures are not counted).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyUsage {
    pub generate_data_key: u64,
    pub decrypt: u64,
}

/// What `describe_key` and `list_keys` report about a CMK (JSON names as in Alibaba's DescribeKey).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    pub key_id: String,
    /// Sorted.
    pub aliases: Vec<String>,
    #[serde(rename = "KeyState")]
    pub state: KeyState,
    pub description: String,
    /// RFC 3339, to the second.
    pub creation_date: String,
    /// When a key in PendingDeletion will be destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_date: Option<String>,
    /// Creation date of the primary version.
    pub last_rotation_date: String,
    /// The newest version, used by GenerateDataKey. Versions are numbered from 1.
    pub primary_key_version: u32,
    /// How many versions exist (all still usable for Decrypt).
    pub versions: u32,
    /// Always `Aliyun_AES_256`.
    pub key_spec: String,
    /// True for the OSS default CMK (`alias/acs/oss`).
    pub default_key: bool,
    pub usage: KeyUsage,
}

/// What the admin API reports about the SSE-OSS service master key (never the material).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceKeyInfo {
    pub primary_key_version: u32,
    pub versions: u32,
    pub last_rotation_date: String,
    pub next_rotation_date: String,
    pub usage: KeyUsage,
}

type MaterialId = (String, u32);

pub(crate) struct State {
    pub(crate) file: StateFile,
    /// Unsealed material of every live CMK version and service key version.
    material: HashMap<MaterialId, Zeroizing<Vec<u8>>>,
    usage: HashMap<String, KeyUsage>,
}

impl State {
    /// The service master key's newest version, the one new data keys are wrapped under.
    fn current_service_version(&self) -> &VersionRecord {
        self.file
            .service_key
            .last()
            .expect("the service key has a version")
    }
}

/// Coffer's built-in KMS. Synchronous; every call takes one internal mutex, and calls that change
/// state write the state file (with fsync) before returning. Data-key calls never write it: a
/// service-key rotation they find due is saved by a thread of its own (see `rotation`).
/// `Send + Sync`: share it in an `Arc`.
pub struct Kms {
    root: RootKey,
    service_key_rotation: Duration,
    clock: Arc<dyn Clock>,
    rng: SystemRandom,
    shared: Shared,
    saver: Saver,
    /// Who may use which key; unset means every caller may (the server sets it).
    access: std::sync::OnceLock<Arc<dyn KeyAccess>>,
    _dir_lock: File,
}

/// Decides whether a caller may use a CMK for a data-path action (`kms:GenerateDataKey`,
/// `kms:Decrypt`). The KMS asks after resolving the key id, so policies see real ids, and
/// audits refusals like any other outcome.
pub trait KeyAccess: Send + Sync {
    fn allowed(&self, caller: &str, action: &str, key_id: &str) -> bool;
}

impl Drop for Kms {
    /// A rotation being saved finishes before the directory lock is released.
    fn drop(&mut self) {
        self.saver.wait();
    }
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

impl Kms {
    /// Opens (or creates) the KMS whose state lives in `dir/kms-state.json`.
    ///
    /// Fails with `Storage` if `dir` is locked by another open `Kms`, if the state file is
    /// corrupt, or if `root_key` is not the key the state was created with.
    pub fn open(dir: &Path, root_key: RootKey, config: KmsConfig) -> Result<Kms, KmsError> {
        Kms::open_with_clock(dir, root_key, config, Arc::new(SystemClock))
    }

    /// [`Kms::open`] with another time source (tests: [`ManualClock`](crate::ManualClock)).
    pub fn open_with_clock(
        dir: &Path,
        root_key: RootKey,
        config: KmsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Kms, KmsError> {
        if config.service_key_rotation.is_zero() {
            return Err(KmsError::InvalidParameter(
                "service_key_rotation must be longer than zero".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| KmsError::io("creating the KMS directory", e))?;
        let dir_lock = store::lock_dir(dir)?;
        let audit = config
            .audit_log
            .as_deref()
            .map(AuditLog::open)
            .transpose()?;
        let rng = SystemRandom::new();
        let now = clock.now();

        let (file, created) = match store::load(dir)? {
            Some(file) => (file, false),
            None => {
                let mut file = StateFile {
                    format: store::FORMAT,
                    root_key_check: crypto::seal(root_key.bytes(), ROOT_CHECK_AAD, &[], &rng)?,
                    default_key_id: None,
                    keys: BTreeMap::new(),
                    aliases: BTreeMap::new(),
                    service_key: Vec::new(),
                };
                let (record, _) = new_version(&root_key, &rng, SERVICE_KEY_ID, 1, now)?;
                file.service_key.push(record);
                store::save(dir, &file)?;
                (file, true)
            }
        };
        if crypto::open(root_key.bytes(), ROOT_CHECK_AAD, &file.root_key_check).is_none() {
            return Err(KmsError::Storage(format!(
                "the root key does not match the KMS state in {}; refusing to open",
                dir.display()
            )));
        }
        let mut material = HashMap::new();
        let service = file.service_key.iter().map(|v| (SERVICE_KEY_ID, v));
        let cmks = file
            .keys
            .iter()
            .filter(|(_, k)| k.state != StoredState::Deleted)
            .flat_map(|(id, k)| k.versions.iter().map(move |v| (id.as_str(), v)));
        for (id, version) in service.chain(cmks) {
            let aad = crypto::material_aad(id, version.version);
            let plain =
                crypto::open_key(root_key.bytes(), &aad, &version.material).ok_or_else(|| {
                    KmsError::Storage(format!(
                        "the material of key {id} version {} does not authenticate",
                        version.version
                    ))
                })?;
            material.insert((id.to_owned(), version.version), plain);
        }
        if file.service_key.is_empty() {
            return Err(KmsError::Storage(
                "the KMS state file has no service key".into(),
            ));
        }

        let kms = Kms {
            root: root_key,
            service_key_rotation: config.service_key_rotation,
            clock,
            rng,
            shared: Shared {
                dir: dir.to_owned(),
                state: Arc::new(Mutex::new(State {
                    file,
                    material,
                    usage: HashMap::new(),
                })),
                writer: Arc::new(Mutex::new(())),
                audit: audit.map(Arc::new),
            },
            saver: Saver::default(),
            access: std::sync::OnceLock::new(),
            _dir_lock: dir_lock,
        };
        if created {
            kms.audit(vec![
                AuditEvent::new(now, SYSTEM_CALLER, "CreateServiceKey")
                    .key(SERVICE_KEY_ID)
                    .version(1),
            ]);
        }
        Ok(kms)
    }

    /// Installs the permission check for CMK use. Can be set once.
    pub fn set_key_access(&self, access: Arc<dyn KeyAccess>) {
        let _ = self.access.set(access);
    }

    fn permit(&self, caller: &str, action: &str, key_id: &str) -> Result<(), KmsError> {
        match self.access.get() {
            Some(access) if !access.allowed(caller, action, key_id) => Err(KmsError::AccessDenied),
            _ => Ok(()),
        }
    }

    // ------------------------------------------------------------------ data path

    /// SSE-KMS: a fresh 256-bit data key wrapped under the CMK's primary version.
    /// `KeySelector::Default` uses the OSS default CMK (alias `alias/acs/oss`), which is created on
    /// first use, and created afresh if the previous one was deleted.
    pub fn generate_data_key(
        &self,
        key: &KeySelector,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<GeneratedKey, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "GenerateDataKey").context(context);
        let mut events = Vec::new();
        // Creating the default CMK writes the state file: only that (first-use) call
        // takes the writer lock.
        let writing = (matches!(key, KeySelector::Default) && self.lacks_default_key())
            .then(|| self.shared.write_guard());
        let mut st = self.lock();
        let result = (|| {
            let id = match key {
                KeySelector::Default => {
                    self.default_key(&mut st, now, caller, &mut events, writing.is_some())?
                }
                KeySelector::Named(name) => {
                    event.set_key(name, None);
                    resolve(&st.file, name)?
                }
            };
            let record = &st.file.keys[&id];
            let version = primary_version(record);
            event.set_key(&id, Some(version));
            self.permit(caller, "kms:GenerateDataKey", &id)?;
            usable(record)?;
            let plaintext = DataKey::random(&self.rng)?;
            let ciphertext = crypto::seal(
                &st.material[&(id.clone(), version)],
                &crypto::data_key_aad(&id, version, context),
                plaintext.as_bytes(),
                &self.rng,
            )?;
            st.usage.entry(id.clone()).or_default().generate_data_key += 1;
            Ok(GeneratedKey {
                plaintext,
                wrapped: WrappedKey {
                    key_id: id,
                    key_version: version,
                    ciphertext,
                },
            })
        })();
        drop(st);
        events.push(event.outcome(&result));
        self.audit(events);
        result
    }

    /// SSE-KMS: unwraps a data key made by [`generate_data_key`](Self::generate_data_key) with the
    /// version it records. The CMK must be Enabled and `context` must equal the one it was made with.
    pub fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<DataKey, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "Decrypt").context(context);
        event.set_key(&wrapped.key_id, Some(wrapped.key_version));
        let mut st = self.lock();
        let result = (|| {
            if wrapped.key_id == SERVICE_KEY_ID {
                return Err(KmsError::InvalidParameter(
                    "this data key is wrapped by the service key (SSE-OSS), not a CMK".into(),
                ));
            }
            let id = resolve(&st.file, &wrapped.key_id)?;
            event.set_key(&id, None);
            self.permit(caller, "kms:Decrypt", &id)?;
            usable(&st.file.keys[&id])?;
            let material = st
                .material
                .get(&(id.clone(), wrapped.key_version))
                .ok_or(KmsError::InvalidCiphertext)?;
            let aad = crypto::data_key_aad(&id, wrapped.key_version, context);
            let plain = crypto::open_key(material, &aad, &wrapped.ciphertext)
                .ok_or(KmsError::InvalidCiphertext)?;
            st.usage.entry(id).or_default().decrypt += 1;
            Ok(DataKey::from_slice(&plain))
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// SSE-OSS: a fresh data key wrapped under the current service master key version. Rotates the
    /// service key first if its period has passed.
    pub fn generate_service_data_key(
        &self,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<GeneratedKey, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "GenerateServiceDataKey")
            .context(context)
            .key(SERVICE_KEY_ID);
        let mut st = self.lock();
        let mut due = None;
        let result = (|| {
            let current = st.current_service_version();
            let version = current.version;
            // Rotation due: this key still uses the current (durable) version; the next
            // one goes live once the saver thread has made it durable.
            if now >= self.service_rotation_due(current.created) {
                due = Some(version + 1);
            }
            event.set_key(SERVICE_KEY_ID, Some(version));
            let plaintext = DataKey::random(&self.rng)?;
            let ciphertext = crypto::seal(
                &st.material[&(SERVICE_KEY_ID.to_owned(), version)],
                &crypto::data_key_aad(SERVICE_KEY_ID, version, context),
                plaintext.as_bytes(),
                &self.rng,
            )?;
            st.usage
                .entry(SERVICE_KEY_ID.to_owned())
                .or_default()
                .generate_data_key += 1;
            let wrapped = WrappedKey {
                key_id: SERVICE_KEY_ID.to_owned(),
                key_version: version,
                ciphertext,
            };
            Ok(GeneratedKey { plaintext, wrapped })
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        if let Some(version) = due {
            self.saver
                .start(&self.shared, || self.next_service_version(version, now));
        }
        result
    }

    /// SSE-OSS: unwraps a data key made by [`generate_service_data_key`](Self::generate_service_data_key).
    pub fn decrypt_service_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<DataKey, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "DecryptServiceDataKey").context(context);
        event.set_key(&wrapped.key_id, Some(wrapped.key_version));
        let mut st = self.lock();
        let result = (|| {
            if wrapped.key_id != SERVICE_KEY_ID {
                return Err(KmsError::InvalidParameter(
                    "this data key is wrapped by a CMK (SSE-KMS), not the service key".into(),
                ));
            }
            let material = st
                .material
                .get(&(SERVICE_KEY_ID.to_owned(), wrapped.key_version))
                .ok_or(KmsError::InvalidCiphertext)?;
            let aad = crypto::data_key_aad(SERVICE_KEY_ID, wrapped.key_version, context);
            let plain = crypto::open_key(material, &aad, &wrapped.ciphertext)
                .ok_or(KmsError::InvalidCiphertext)?;
            st.usage
                .entry(SERVICE_KEY_ID.to_owned())
                .or_default()
                .decrypt += 1;
            Ok(DataKey::from_slice(&plain))
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// Gives the service master key a new version if `service_key_rotation` has passed since the
    /// current one was made. Returns whether it rotated. Call it at start and periodically.
    /// The save runs on the calling thread, without holding the mutex data-key calls take.
    pub fn rotate_service_key_if_due(&self) -> Result<bool, KmsError> {
        let now = self.clock.now();
        let current = {
            let st = self.lock();
            let current = st.current_service_version();
            (now >= self.service_rotation_due(current.created)).then_some(current.version)
        };
        match current {
            Some(version) => {
                crate::rotation::rotate(&self.shared, self.next_service_version(version + 1, now))
            }
            None => Ok(false),
        }
    }

    /// Waits until a service-key rotation started by a data-key call has been saved and
    /// made live (or has failed). Dropping the KMS waits too.
    pub fn wait_for_rotation(&self) {
        self.saver.wait();
    }

    /// The service master key's versions and rotation dates.
    pub fn service_key_info(&self) -> ServiceKeyInfo {
        let st = self.lock();
        let current = st.current_service_version();
        ServiceKeyInfo {
            primary_key_version: current.version,
            versions: st.file.service_key.len() as u32,
            last_rotation_date: store::format_time_seconds(current.created),
            next_rotation_date: store::format_time_seconds(
                self.service_rotation_due(current.created),
            ),
            usage: st.usage.get(SERVICE_KEY_ID).copied().unwrap_or_default(),
        }
    }

    /// Per-key usage counters since start: every live CMK, then `"service"`.
    pub fn usage_snapshot(&self) -> Vec<(String, KeyUsage)> {
        let st = self.lock();
        let mut out: Vec<(String, KeyUsage)> = st
            .file
            .keys
            .iter()
            .filter(|(_, k)| k.state != StoredState::Deleted)
            .map(|(id, _)| (id.clone(), st.usage.get(id).copied().unwrap_or_default()))
            .collect();
        out.push((
            SERVICE_KEY_ID.to_owned(),
            st.usage.get(SERVICE_KEY_ID).copied().unwrap_or_default(),
        ));
        out
    }

    /// The id of the OSS default CMK, if it exists and is not deleted.
    pub fn default_key_id(&self) -> Option<String> {
        let st = self.lock();
        st.file
            .default_key_id
            .clone()
            .filter(|id| st.file.keys[id].state != StoredState::Deleted)
    }

    // ------------------------------------------------------------------ admin

    /// Creates an Enabled CMK with one version.
    pub fn create_key(&self, description: &str) -> Result<KeyMetadata, KmsError> {
        let now = self.clock.now();
        let mut event =
            AuditEvent::new(now, ADMIN_CALLER, "CreateKey").detail("description", description);
        let _writing = self.shared.write_guard();
        let mut st = self.lock();
        let result = (|| {
            if description.len() > MAX_DESCRIPTION_LEN {
                return Err(KmsError::InvalidParameter(format!(
                    "the description is longer than {MAX_DESCRIPTION_LEN} bytes"
                )));
            }
            let id = self.create_key_locked(&mut st, now, description, false)?;
            event.set_key(&id, Some(1));
            Ok(metadata(&st, &id))
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// Every CMK that is not deleted, oldest first.
    pub fn list_keys(&self) -> Vec<KeyMetadata> {
        let now = self.clock.now();
        let st = self.lock();
        let mut ids: Vec<(&OffsetDateTime, &String)> = st
            .file
            .keys
            .iter()
            .filter(|(_, k)| k.state != StoredState::Deleted)
            .map(|(id, k)| (&k.creation_date, id))
            .collect();
        ids.sort();
        let keys: Vec<KeyMetadata> = ids.into_iter().map(|(_, id)| metadata(&st, id)).collect();
        drop(st);
        self.audit(vec![AuditEvent::new(now, ADMIN_CALLER, "ListKeys")]);
        keys
    }

    /// A CMK by id or alias, in any state but deleted (`KeyDeleted`).
    pub fn describe_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        self.admin_op("DescribeKey", key, |_, st, id| {
            live(&st.file.keys[id])?;
            Ok(Change::None)
        })
    }

    /// Disabled → Enabled; Enabled stays Enabled. A key pending deletion must be cancelled first
    /// (`KeyPendingDeletion`).
    pub fn enable_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        self.admin_op("EnableKey", key, |_, st, id| {
            set_state(st, id, StoredState::Enabled)
        })
    }

    /// Enabled → Disabled; Disabled stays Disabled. Data keys under a disabled CMK can be neither
    /// generated nor decrypted (`KeyDisabled`).
    pub fn disable_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        self.admin_op("DisableKey", key, |_, st, id| {
            set_state(st, id, StoredState::Disabled)
        })
    }

    /// Enabled or Disabled → PendingDeletion; the key material is destroyed `pending_window_days`
    /// (7 to 30) days from now by [`purge_expired`](Self::purge_expired), unless cancelled.
    pub fn schedule_key_deletion(
        &self,
        key: &str,
        pending_window_days: u32,
    ) -> Result<KeyMetadata, KmsError> {
        let now = self.clock.now();
        self.admin_op_with(
            "ScheduleKeyDeletion",
            key,
            &[("pending_window_days", pending_window_days.to_string())],
            |_, st, id| {
                if !(7..=30).contains(&pending_window_days) {
                    return Err(KmsError::InvalidParameter(format!(
                        "PendingWindowInDays must be between 7 and 30, not {pending_window_days}"
                    )));
                }
                let mut next = st.file.clone();
                let record = next.keys.get_mut(id).expect("resolved");
                match record.state {
                    StoredState::Enabled | StoredState::Disabled => {
                        record.state = StoredState::PendingDeletion;
                        record.delete_date =
                            Some(now + time::Duration::days(i64::from(pending_window_days)));
                        Ok(Change::File(next))
                    }
                    StoredState::PendingDeletion => Err(KmsError::KeyPendingDeletion),
                    StoredState::Deleted => Err(KmsError::KeyDeleted),
                }
            },
        )
        .map(expect_live)
    }

    /// PendingDeletion → Disabled (as Alibaba Cloud KMS does); enable it again explicitly.
    pub fn cancel_key_deletion(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        self.admin_op("CancelKeyDeletion", key, |_, st, id| {
            let mut next = st.file.clone();
            let record = next.keys.get_mut(id).expect("resolved");
            match record.state {
                StoredState::PendingDeletion => {
                    record.state = StoredState::Disabled;
                    record.delete_date = None;
                    Ok(Change::File(next))
                }
                StoredState::Deleted => Err(KmsError::KeyDeleted),
                StoredState::Enabled | StoredState::Disabled => Err(KmsError::InvalidParameter(
                    format!("key {id} is not pending deletion"),
                )),
            }
        })
    }

    /// Destroys, now, the material of a key in PendingDeletion (crypto-shredding): every data key
    /// wrapped under it becomes undecryptable (`KeyDeleted`). Its aliases are removed; a tombstone
    /// with its id remains. Keys in another state must be scheduled for deletion first.
    pub fn delete_key_now(&self, key: &str) -> Result<(), KmsError> {
        let now = self.clock.now();
        self.admin_op_with("DeleteKey", key, &[], |_, st, id| {
            match st.file.keys[id].state {
                StoredState::PendingDeletion => {
                    let mut next = st.file.clone();
                    destroy(&mut next, id, now);
                    Ok(Change::File(next))
                }
                StoredState::Deleted => Err(KmsError::KeyDeleted),
                StoredState::Enabled | StoredState::Disabled => Err(KmsError::InvalidParameter(
                    format!("key {id} is not pending deletion; schedule its deletion first"),
                )),
            }
        })
        .map(|_| ())
    }

    /// Destroys every key whose deletion window has ended; returns their ids.
    pub fn purge_expired(&self) -> Result<Vec<String>, KmsError> {
        let now = self.clock.now();
        let _writing = self.shared.write_guard();
        let mut st = self.lock();
        let due: Vec<String> = st
            .file
            .keys
            .iter()
            .filter(|(_, k)| {
                k.state == StoredState::PendingDeletion && k.delete_date.is_some_and(|d| d <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        if due.is_empty() {
            return Ok(due);
        }
        let mut next = st.file.clone();
        for id in &due {
            destroy(&mut next, id, now);
        }
        let result = self.commit(&mut st, next, Vec::new());
        drop(st);
        let events = due
            .iter()
            .map(|id| {
                AuditEvent::new(now, SYSTEM_CALLER, "DeleteKey")
                    .key(id.clone())
                    .detail("reason", "deletion window ended")
                    .outcome(&result)
            })
            .collect();
        self.audit(events);
        result.map(|()| due)
    }

    /// Gives an Enabled CMK a new primary version; older versions stay usable for Decrypt.
    pub fn rotate_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let now = self.clock.now();
        self.admin_op("RotateKey", key, |kms, st, id| {
            let record = &st.file.keys[id];
            usable(record)?;
            let version = primary_version(record) + 1;
            let (version_record, material) = new_version(&kms.root, &kms.rng, id, version, now)?;
            let mut next = st.file.clone();
            next.keys
                .get_mut(id)
                .expect("resolved")
                .versions
                .push(version_record);
            Ok(Change::FileAndMaterial(
                next,
                vec![((id.to_owned(), version), material)],
            ))
        })
    }

    /// Points a new alias (`alias/<name>`: letters, digits, `_`, `-`, `/`; at most 255 characters;
    /// not under `alias/acs/`) at a key given by id or alias.
    pub fn create_alias(&self, alias: &str, key: &str) -> Result<(), KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, ADMIN_CALLER, "CreateAlias").detail("alias", alias);
        event.set_key(key, None);
        let _writing = self.shared.write_guard();
        let mut st = self.lock();
        let result = (|| {
            validate_alias(alias)?;
            let id = resolve(&st.file, key)?;
            event.set_key(&id, None);
            live(&st.file.keys[&id])?;
            if st.file.aliases.contains_key(alias) {
                return Err(KmsError::InvalidParameter(format!(
                    "the alias {alias} already exists"
                )));
            }
            let mut next = st.file.clone();
            next.aliases.insert(alias.to_owned(), id);
            self.commit(&mut st, next, Vec::new())
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    pub fn delete_alias(&self, alias: &str) -> Result<(), KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, ADMIN_CALLER, "DeleteAlias").detail("alias", alias);
        let _writing = self.shared.write_guard();
        let mut st = self.lock();
        let result = (|| {
            validate_alias(alias)?;
            let mut next = st.file.clone();
            let id = next
                .aliases
                .remove(alias)
                .ok_or_else(|| KmsError::AliasNotFound(alias.to_owned()))?;
            event.set_key(&id, None);
            self.commit(&mut st, next, Vec::new())
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// `(alias, key id)` pairs, sorted by alias; includes `alias/acs/oss` once the default CMK exists.
    pub fn list_aliases(&self) -> Vec<(String, String)> {
        let now = self.clock.now();
        let st = self.lock();
        let aliases = st
            .file
            .aliases
            .iter()
            .map(|(a, id)| (a.clone(), id.clone()))
            .collect();
        drop(st);
        self.audit(vec![AuditEvent::new(now, ADMIN_CALLER, "ListAliases")]);
        aliases
    }

    // ------------------------------------------------------------------ internals

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    fn audit(&self, events: Vec<AuditEvent>) {
        self.shared.audit(events);
    }

    /// Persists `next`, then makes it (and `material`) the live state. The caller holds
    /// the writer lock (see `rotation`).
    fn commit(
        &self,
        st: &mut State,
        next: StateFile,
        material: Vec<(MaterialId, Zeroizing<Vec<u8>>)>,
    ) -> Result<(), KmsError> {
        store::save(&self.shared.dir, &next)?;
        apply(st, next, material);
        Ok(())
    }

    fn lacks_default_key(&self) -> bool {
        let st = self.lock();
        st.file
            .default_key_id
            .as_ref()
            .is_none_or(|id| st.file.keys[id].state == StoredState::Deleted)
    }

    fn next_service_version(&self, version: u32, now: OffsetDateTime) -> NextVersion {
        NextVersion {
            version,
            now,
            made: new_version(&self.root, &self.rng, SERVICE_KEY_ID, version, now),
        }
    }

    /// Resolves `key`, runs `op`, commits what it changed, audits, and returns the key's metadata.
    fn admin_op(
        &self,
        operation: &'static str,
        key: &str,
        op: impl FnOnce(&Kms, &State, &str) -> Result<Change, KmsError>,
    ) -> Result<KeyMetadata, KmsError> {
        self.admin_op_with(operation, key, &[], op).map(expect_live)
    }

    fn admin_op_with(
        &self,
        operation: &'static str,
        key: &str,
        detail: &[(&'static str, String)],
        op: impl FnOnce(&Kms, &State, &str) -> Result<Change, KmsError>,
    ) -> Result<Option<KeyMetadata>, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, ADMIN_CALLER, operation);
        for (name, value) in detail {
            event = event.detail(name, value.clone());
        }
        event.set_key(key, None);
        let _writing = self.shared.write_guard();
        let mut st = self.lock();
        let result = (|| {
            let id = resolve(&st.file, key)?;
            event.set_key(&id, None);
            match op(self, &st, &id)? {
                Change::None => {}
                Change::File(next) => self.commit(&mut st, next, Vec::new())?,
                Change::FileAndMaterial(next, material) => self.commit(&mut st, next, material)?,
            }
            let record = &st.file.keys[&id];
            if record.state == StoredState::Deleted {
                return Ok(None);
            }
            event.set_key(&id, Some(primary_version(record)));
            Ok(Some(metadata(&st, &id)))
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    fn create_key_locked(
        &self,
        st: &mut State,
        now: OffsetDateTime,
        description: &str,
        is_default: bool,
    ) -> Result<String, KmsError> {
        let id = Uuid::new_v4().hyphenated().to_string();
        let (version, material) = new_version(&self.root, &self.rng, &id, 1, now)?;
        let mut next = st.file.clone();
        next.keys.insert(
            id.clone(),
            KeyRecord {
                description: description.to_owned(),
                state: StoredState::Enabled,
                creation_date: now,
                delete_date: None,
                deleted_date: None,
                is_default,
                versions: vec![version],
            },
        );
        if is_default {
            next.default_key_id = Some(id.clone());
            next.aliases
                .insert(DEFAULT_KEY_ALIAS.to_owned(), id.clone());
        }
        self.commit(st, next, vec![((id.clone(), 1), material)])?;
        Ok(id)
    }

    /// The default CMK's id, creating it if there is none (or only a deleted one).
    fn default_key(
        &self,
        st: &mut State,
        now: OffsetDateTime,
        caller: &str,
        events: &mut Vec<AuditEvent>,
        writing: bool,
    ) -> Result<String, KmsError> {
        if let Some(id) = &st.file.default_key_id
            && st.file.keys[id].state != StoredState::Deleted
        {
            return Ok(id.clone());
        }
        if !writing {
            // Deleted between the caller's check and now: creating it here, without the
            // writer lock, could race a rotation's save. Rare; retrying succeeds.
            return Err(KmsError::Storage(
                "the default key was deleted concurrently; retry".into(),
            ));
        }
        let result = self.create_key_locked(st, now, DEFAULT_KEY_DESCRIPTION, true);
        let mut event =
            AuditEvent::new(now, caller, "CreateKey").detail("alias", DEFAULT_KEY_ALIAS);
        if let Ok(id) = &result {
            event.set_key(id, Some(1));
        }
        events.push(event.outcome(&result));
        result
    }

    fn service_rotation_due(&self, created: OffsetDateTime) -> OffsetDateTime {
        time::Duration::try_from(self.service_key_rotation)
            .ok()
            .and_then(|period| created.checked_add(period))
            .unwrap_or(OffsetDateTime::new_utc(
                time::Date::MAX,
                time::Time::MIDNIGHT,
            ))
    }
}

fn expect_live(meta: Option<KeyMetadata>) -> KeyMetadata {
    meta.expect("only delete_key_now leaves a deleted key behind")
}

enum Change {
    None,
    File(StateFile),
    FileAndMaterial(StateFile, Vec<(MaterialId, Zeroizing<Vec<u8>>)>),
}

/// Makes `next` (already saved) and `material` the live state.
pub(crate) fn apply(
    st: &mut State,
    next: StateFile,
    material: Vec<(MaterialId, Zeroizing<Vec<u8>>)>,
) {
    st.file = next;
    st.material.extend(material);
    let keys = &st.file.keys;
    st.material.retain(|(id, _), _| {
        id == SERVICE_KEY_ID
            || keys
                .get(id)
                .is_some_and(|k| k.state != StoredState::Deleted)
    });
    st.usage.retain(|id, _| {
        id == SERVICE_KEY_ID
            || keys
                .get(id)
                .is_some_and(|k| k.state != StoredState::Deleted)
    });
}

/// Makes a version's random material and its sealed record.
fn new_version(
    root: &RootKey,
    rng: &SystemRandom,
    key_id: &str,
    version: u32,
    now: OffsetDateTime,
) -> Result<(VersionRecord, Zeroizing<Vec<u8>>), KmsError> {
    let mut material = Zeroizing::new(vec![0u8; 32]);
    ring::rand::SecureRandom::fill(rng, &mut material[..])
        .map_err(|_| KmsError::Storage("system random number generator failed".into()))?;
    let sealed = crypto::seal(
        root.bytes(),
        &crypto::material_aad(key_id, version),
        &material[..],
        rng,
    )?;
    Ok((
        VersionRecord {
            version,
            created: now,
            material: sealed,
        },
        material,
    ))
}

/// An id or alias → the key id. `InvalidParameter` for something that is neither a UUID nor `alias/…`.
fn resolve(file: &StateFile, key: &str) -> Result<String, KmsError> {
    if key.starts_with(ALIAS_PREFIX) {
        return file
            .aliases
            .get(key)
            .cloned()
            .ok_or_else(|| KmsError::AliasNotFound(key.to_owned()));
    }
    let id = Uuid::parse_str(key.trim())
        .map_err(|_| {
            KmsError::InvalidParameter("The specified parameter KMS keyId is not valid".into())
        })?
        .hyphenated()
        .to_string();
    if file.keys.contains_key(&id) {
        Ok(id)
    } else {
        Err(KmsError::KeyNotFound(key.to_owned()))
    }
}

/// The key may encrypt and decrypt.
fn usable(record: &KeyRecord) -> Result<(), KmsError> {
    match record.state {
        StoredState::Enabled => Ok(()),
        StoredState::Disabled => Err(KmsError::KeyDisabled),
        StoredState::PendingDeletion => Err(KmsError::KeyPendingDeletion),
        StoredState::Deleted => Err(KmsError::KeyDeleted),
    }
}

/// The key still exists (any state but deleted).
fn live(record: &KeyRecord) -> Result<(), KmsError> {
    match record.state {
        StoredState::Deleted => Err(KmsError::KeyDeleted),
        _ => Ok(()),
    }
}

fn primary_version(record: &KeyRecord) -> u32 {
    record.versions.last().map_or(0, |v| v.version)
}

fn set_state(st: &State, id: &str, target: StoredState) -> Result<Change, KmsError> {
    let current = st.file.keys[id].state;
    match current {
        StoredState::Deleted => Err(KmsError::KeyDeleted),
        StoredState::PendingDeletion => Err(KmsError::KeyPendingDeletion),
        _ if current == target => Ok(Change::None),
        _ => {
            let mut next = st.file.clone();
            next.keys.get_mut(id).expect("resolved").state = target;
            Ok(Change::File(next))
        }
    }
}

/// Turns a key into a tombstone: no material, state Deleted, no aliases.
fn destroy(file: &mut StateFile, id: &str, now: OffsetDateTime) {
    let record = file.keys.get_mut(id).expect("resolved");
    record.state = StoredState::Deleted;
    record.versions.clear();
    record.delete_date = None;
    record.deleted_date = Some(now);
    file.aliases.retain(|_, target| target != id);
}

fn validate_alias(alias: &str) -> Result<(), KmsError> {
    let name = alias.strip_prefix(ALIAS_PREFIX).unwrap_or_default();
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'));
    if !alias.starts_with(ALIAS_PREFIX)
        || name.is_empty()
        || alias.len() > MAX_ALIAS_LEN
        || !valid_chars
    {
        return Err(KmsError::InvalidParameter(format!(
            "the alias {alias:?} is not valid: use alias/ followed by letters, digits, '_', '-' or '/' (at most {MAX_ALIAS_LEN} characters)"
        )));
    }
    if alias.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(KmsError::InvalidParameter(format!(
            "aliases under {RESERVED_ALIAS_PREFIX} are reserved"
        )));
    }
    Ok(())
}

fn metadata(st: &State, id: &str) -> KeyMetadata {
    let record = &st.file.keys[id];
    let state = match record.state {
        StoredState::Enabled => KeyState::Enabled,
        StoredState::Disabled => KeyState::Disabled,
        // Never called for a deleted key.
        StoredState::PendingDeletion | StoredState::Deleted => KeyState::PendingDeletion,
    };
    let primary = record.versions.last();
    KeyMetadata {
        key_id: id.to_owned(),
        aliases: st
            .file
            .aliases
            .iter()
            .filter(|(_, target)| *target == id)
            .map(|(a, _)| a.clone())
            .collect(),
        state,
        description: record.description.clone(),
        creation_date: store::format_time_seconds(record.creation_date),
        delete_date: record.delete_date.map(store::format_time_seconds),
        last_rotation_date: store::format_time_seconds(
            primary.map_or(record.creation_date, |v| v.created),
        ),
        primary_key_version: primary.map_or(0, |v| v.version),
        versions: record.versions.len() as u32,
        key_spec: "Aliyun_AES_256".to_owned(),
        default_key: record.is_default,
        usage: st.usage.get(id).copied().unwrap_or_default(),
    }
}
