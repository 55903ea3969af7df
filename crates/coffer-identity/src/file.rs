//! The identity file, `<dir>/identities.json`: its format, loading, and atomic replacement.
//!
//! ```json
//! {
//!   "format": 1,
//!   "seal_check": "<base64 sealed constant>",
//!   "users": { "alice": { "user_id": "…", "display_name": "…", "create_date": "…", "update_date": "…" } },
//!   "access_keys": { "LTAI…": { "user_name": "alice", "status": "Active", "create_date": "…", "sealed_secret": "<base64>" } },
//!   "policies": { "ReadOnly": { "description": "…", "document": "…", "create_date": "…", "update_date": "…" } },
//!   "attachments": [ { "user_name": "alice", "policy_name": "ReadOnly", "attach_date": "…" } ]
//! }
//! ```
//!
//! Secrets only ever appear sealed. The file is replaced atomically (temp file, fsync, rename,
//! fsync of the directory) and created with mode 0600.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{AccessKeyStatus, IdentityError};

pub(crate) const FILE_NAME: &str = "identities.json";
const TMP_NAME: &str = "identities.json.tmp";
const LOCK_NAME: &str = "identities.lock";
pub(crate) const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileState {
    pub format: u32,
    /// A constant sealed under the seal key: opening it proves the key is the right one even
    /// when no AccessKey exists yet.
    #[serde(with = "b64")]
    pub seal_check: Vec<u8>,
    #[serde(default)]
    pub users: BTreeMap<String, UserRecord>,
    #[serde(default)]
    pub access_keys: BTreeMap<String, KeyRecord>,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyRecord>,
    /// Sorted by user name, then policy name.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserRecord {
    pub user_id: String,
    pub display_name: String,
    pub create_date: String,
    pub update_date: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyRecord {
    pub user_name: String,
    pub status: AccessKeyStatus,
    pub create_date: String,
    #[serde(with = "b64")]
    pub sealed_secret: Vec<u8>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyRecord {
    pub description: String,
    pub document: String,
    pub create_date: String,
    pub update_date: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Attachment {
    pub user_name: String,
    pub policy_name: String,
    pub attach_date: String,
}

/// The state in the file, or `None` when there is no file yet.
pub(crate) fn load(dir: &Path) -> Result<Option<FileState>, IdentityError> {
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IdentityError::io(&format!("reading {}", path.display()), e)),
    };
    warn_if_readable_by_others(&path);
    let state: FileState = serde_json::from_slice(&bytes)
        .map_err(|e| IdentityError::Storage(format!("parsing {}: {e}", path.display())))?;
    if state.format != FORMAT {
        return Err(IdentityError::Storage(format!(
            "{} has format {}, this version understands {FORMAT}",
            path.display(),
            state.format
        )));
    }
    Ok(Some(state))
}

/// Replaces the file atomically: temp file (0600), fsync, rename, fsync of the directory.
pub(crate) fn save(dir: &Path, state: &FileState) -> Result<(), IdentityError> {
    let bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| IdentityError::Storage(format!("encoding the identity file: {e}")))?;
    let tmp = dir.join(TMP_NAME);
    // A temp file left by a crash may have other permissions; start from a fresh one.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(IdentityError::io("removing the old identity temp file", e)),
    }
    let mut file = private_file()
        .create_new(true)
        .open(&tmp)
        .map_err(|e| IdentityError::io("creating the identity temp file", e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| IdentityError::io("writing the identity temp file", e))?;
    drop(file);
    fs::rename(&tmp, dir.join(FILE_NAME))
        .map_err(|e| IdentityError::io("replacing the identity file", e))?;
    sync_dir(dir)
}

/// Takes an exclusive lock on the directory's identity lock file, so two processes never
/// write the same identity file. Held while the returned file is open.
pub(crate) fn lock(dir: &Path) -> Result<fs::File, IdentityError> {
    let file = private_file()
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_NAME))
        .map_err(|e| IdentityError::io("opening the identity lock file", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(IdentityError::Storage(format!(
            "the identity file in {} is in use by another process",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(IdentityError::io("locking the identity file", e)),
    }
}

fn private_file() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn sync_dir(dir: &Path) -> Result<(), IdentityError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IdentityError::io("syncing the identity directory", e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the identity file is accessible to group or others; it should be mode 0600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
