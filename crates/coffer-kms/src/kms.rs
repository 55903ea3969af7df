//! The KMS itself: its public types, opening it, and what its operations share.
//!
//! The operations live in submodules: `data_keys` (the data path: generating and
//! unwrapping data keys, the service key) and `admin` (CMK and alias management). How
//! the state changes durably, and which locks guard it, is `crate::state`'s business.

mod admin;
mod cached;
mod data_keys;

pub use cached::CachedOperation;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditLog, SYSTEM_CALLER};
use crate::clock::{Clock, SystemClock};
use crate::crypto::{self, ROOT_CHECK_AAD};
use crate::rotation::{NextVersion, Saver};
use crate::state::{FileStore, Shared, State, StateStore, new_version};
use crate::store::{self, KeyRecord, StateFile, StoredState};
use crate::{KmsError, RootKey};

/// `WrappedKey::key_id` of data keys wrapped by the SSE-OSS service master key.
pub const SERVICE_KEY_ID: &str = "service";
/// The alias of the OSS default CMK.
pub const DEFAULT_KEY_ALIAS: &str = "alias/acs/oss";
/// Aliases under this prefix belong to the service; users cannot create or delete them.
pub const RESERVED_ALIAS_PREFIX: &str = "alias/acs/";
const ALIAS_PREFIX: &str = "alias/";

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

/// Coffer's built-in KMS. Synchronous. Calls read an in-memory state under a mutex held
/// only briefly; calls that change the state save it (with fsync) before returning, but
/// never while holding that mutex, so data-key calls do not wait for an admin
/// operation's save (see `crate::state`). Data-key calls never write the file
/// themselves, except [`generate_data_key`](Kms::generate_data_key) creating the default
/// CMK on first use ([`generate_data_key_from_memory`](Kms::generate_data_key_from_memory)
/// never writes). `Send + Sync`: share it in an `Arc`.
pub struct Kms {
    root: RootKey,
    service_key_rotation: Duration,
    clock: Arc<dyn Clock>,
    rng: SystemRandom,
    dir: PathBuf,
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
            .field("dir", &self.dir)
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
        let store = Arc::new(FileStore(dir.to_owned()));
        Kms::open_with_store(dir, root_key, config, clock, store)
    }

    /// [`Kms::open_with_clock`] saving through `store` (which must write `dir`'s state
    /// file: the state is loaded from there).
    pub(crate) fn open_with_store(
        dir: &Path,
        root_key: RootKey,
        config: KmsConfig,
        clock: Arc<dyn Clock>,
        store: Arc<dyn StateStore>,
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
            None => (new_state_file(&root_key, &rng, now, store.as_ref())?, true),
        };
        let state = unseal_state(dir, &root_key, file)?;
        let kms = Kms {
            root: root_key,
            service_key_rotation: config.service_key_rotation,
            clock,
            rng,
            dir: dir.to_owned(),
            shared: Shared::new(state, store, audit),
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    fn audit(&self, events: Vec<AuditEvent>) {
        self.shared.audit(events);
    }

    fn next_service_version(&self, version: u32, now: OffsetDateTime) -> NextVersion {
        NextVersion {
            version,
            now,
            made: new_version(&self.root, &self.rng, SERVICE_KEY_ID, version, now),
        }
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

/// A fresh state: no CMK, a service key with one version; saved before it is used.
fn new_state_file(
    root_key: &RootKey,
    rng: &SystemRandom,
    now: OffsetDateTime,
    store: &dyn StateStore,
) -> Result<StateFile, KmsError> {
    let mut file = StateFile {
        format: store::FORMAT,
        root_key_check: crypto::seal(root_key.bytes(), ROOT_CHECK_AAD, &[], rng)?,
        default_key_id: None,
        keys: BTreeMap::new(),
        aliases: BTreeMap::new(),
        service_key: Vec::new(),
    };
    let (record, _) = new_version(root_key, rng, SERVICE_KEY_ID, 1, now)?;
    file.service_key.push(record);
    store.save(&file)?;
    Ok(file)
}

/// Checks the root key against `file` and unseals the material of every live version.
fn unseal_state(dir: &Path, root_key: &RootKey, file: StateFile) -> Result<State, KmsError> {
    if crypto::open(root_key.bytes(), ROOT_CHECK_AAD, &file.root_key_check).is_none() {
        return Err(KmsError::Storage(format!(
            "the root key does not match the KMS state in {}; refusing to open",
            dir.display()
        )));
    }
    if file.service_key.is_empty() {
        return Err(KmsError::Storage(
            "the KMS state file has no service key".into(),
        ));
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
    Ok(State {
        file,
        material,
        usage: HashMap::new(),
    })
}

/// The live default CMK's id, if there is one (not deleted).
fn live_default_key(file: &StateFile) -> Option<&String> {
    file.default_key_id
        .as_ref()
        .filter(|id| file.keys[*id].state != StoredState::Deleted)
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

#[cfg(test)]
mod tests;
