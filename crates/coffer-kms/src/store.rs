//! The persisted KMS state: one JSON file, replaced atomically on every change.
//!
//! Key material appears in it only sealed under the root key (see [`crate::crypto`]); a
//! destroyed key keeps a tombstone (id, dates, state `Deleted`) and no material at all.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::KmsError;

pub(crate) const STATE_FILE: &str = "kms-state.json";
const STATE_TMP: &str = "kms-state.json.tmp";
const LOCK_FILE: &str = "kms.lock";
pub(crate) const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct StateFile {
    pub format: u32,
    /// An empty plaintext sealed under the root key: proves at open that the root key is the right one.
    #[serde(with = "b64")]
    pub root_key_check: Vec<u8>,
    /// The OSS default CMK (alias `alias/acs/oss`), once created.
    pub default_key_id: Option<String>,
    pub keys: BTreeMap<String, KeyRecord>,
    /// alias → key id.
    pub aliases: BTreeMap<String, String>,
    /// The SSE-OSS service master key's versions, oldest first; the last is current.
    pub service_key: Vec<VersionRecord>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoredState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// Material destroyed; only a tombstone remains.
    Deleted,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct KeyRecord {
    pub description: String,
    pub state: StoredState,
    #[serde(with = "rfc3339")]
    pub creation_date: OffsetDateTime,
    #[serde(with = "rfc3339_opt", default)]
    pub delete_date: Option<OffsetDateTime>,
    #[serde(with = "rfc3339_opt", default)]
    pub deleted_date: Option<OffsetDateTime>,
    #[serde(default)]
    pub is_default: bool,
    /// Versions 1..=n in order; empty once the key is deleted.
    pub versions: Vec<VersionRecord>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct VersionRecord {
    pub version: u32,
    #[serde(with = "rfc3339")]
    pub created: OffsetDateTime,
    /// The version's 256-bit material sealed under the root key (AAD = key id + version).
    #[serde(with = "b64")]
    pub material: Vec<u8>,
}

/// Loads the state file, if there is one.
pub(crate) fn load(dir: &Path) -> Result<Option<StateFile>, KmsError> {
    let path = dir.join(STATE_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KmsError::io("reading the KMS state file", e)),
    };
    let state: StateFile = serde_json::from_slice(&bytes).map_err(|e| {
        KmsError::Storage(format!(
            "the KMS state file {} is corrupt: {e}",
            path.display()
        ))
    })?;
    if state.format != FORMAT {
        return Err(KmsError::Storage(format!(
            "the KMS state file {} has format {}, this version understands {FORMAT}",
            path.display(),
            state.format
        )));
    }
    Ok(Some(state))
}

/// Replaces the state file atomically: temp file, fsync, rename, fsync of the directory.
pub(crate) fn save(dir: &Path, state: &StateFile) -> Result<(), KmsError> {
    let bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| KmsError::Storage(format!("encoding KMS state: {e}")))?;
    let tmp = dir.join(STATE_TMP);
    let mut file = private_file(true)
        .open(&tmp)
        .map_err(|e| KmsError::io("creating the KMS state temp file", e))?;
    file.write_all(&bytes)
        .map_err(|e| KmsError::io("writing the KMS state temp file", e))?;
    file.sync_all()
        .map_err(|e| KmsError::io("syncing the KMS state temp file", e))?;
    drop(file);
    fs::rename(&tmp, dir.join(STATE_FILE))
        .map_err(|e| KmsError::io("replacing the KMS state file", e))?;
    sync_dir(dir)
}

/// Takes an exclusive lock on the state directory, so two processes never write the same state.
/// The lock is held as long as the returned file is open.
pub(crate) fn lock_dir(dir: &Path) -> Result<fs::File, KmsError> {
    let file = private_file(false)
        .open(dir.join(LOCK_FILE))
        .map_err(|e| KmsError::io("opening the KMS lock file", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(KmsError::Storage(format!(
            "the KMS state directory {} is in use by another KMS instance",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(KmsError::io("locking the KMS state directory", e)),
    }
}

/// Open options for a new or existing file only its owner may read (mode 0600 when created).
pub(crate) fn private_file(truncate: bool) -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// fsyncs a directory so a rename or create in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), KmsError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| KmsError::io("syncing the KMS directory", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

pub(crate) fn format_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC date between years 0 and 9999 formats as RFC 3339")
}

/// RFC 3339 to the second, as Alibaba Cloud prints dates (`2024-05-01T12:00:00Z`).
pub(crate) fn format_time_seconds(t: OffsetDateTime) -> String {
    format_time(t.replace_nanosecond(0).expect("0 is a valid nanosecond"))
}

mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

mod rfc3339_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&super::format_time(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom))
            .transpose()
    }
}

pub(crate) mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        STANDARD
            .decode(String::deserialize(d)?)
            .map_err(serde::de::Error::custom)
    }
}
