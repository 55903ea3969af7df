//! `<data-dir>/root-key.json`: which source the data directory was sealed under, a check
//! value that tells the right root key from a wrong one, and, for a token, the root key
//! sealed by the token. Nothing in it decrypts anything without the source.
//!
//! The check value is HKDF-SHA256 of the root key (purpose `root-key-check`): 32 bytes that
//! say nothing about the key, yet any other key gives other bytes.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coffer_kms::RootKey;
use serde::{Deserialize, Serialize};

use crate::RootKeyError;

pub(crate) const RECORD_FILE: &str = "root-key.json";
const FORMAT: u32 = 1;
const CHECK_PURPOSE: &str = "root-key-check";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub format: u32,
    /// `RootKeySource::kind`: embedded, file, env, pkcs11.
    pub kind: String,
    /// The source as given (`RootKeySource`'s Display): what a refusal tells the operator
    /// to start with.
    pub source: String,
    /// Hex of the check value.
    pub check: String,
    /// For `pkcs11`: base64 of the root key sealed by the token key (IV || ciphertext || tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

impl Record {
    pub fn new(kind: &str, source: String, key: &RootKey, sealed: Option<&[u8]>) -> Record {
        Record {
            format: FORMAT,
            kind: kind.to_owned(),
            source,
            check: check_value(key),
            sealed: sealed.map(|s| STANDARD.encode(s)),
        }
    }

    /// True when `key` is the root key this record was written for.
    pub fn matches(&self, key: &RootKey) -> bool {
        // Both sides are public (derived) values: a plain comparison leaks nothing.
        self.check == check_value(key)
    }

    pub fn sealed_bytes(&self) -> Result<Vec<u8>, RootKeyError> {
        let text = self.sealed.as_deref().ok_or_else(|| {
            RootKeyError::Io(format!(
                "{RECORD_FILE} names a token but holds no sealed key"
            ))
        })?;
        STANDARD
            .decode(text)
            .map_err(|e| RootKeyError::Io(format!("{RECORD_FILE}: sealed key: {e}")))
    }
}

pub(crate) fn check_value(key: &RootKey) -> String {
    hex::encode(&key.derive_subkey(CHECK_PURPOSE)[..])
}

/// The data directory's record, if it has one.
pub(crate) fn load(data_dir: &Path) -> Result<Option<Record>, RootKeyError> {
    let path = data_dir.join(RECORD_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RootKeyError::io(format!("reading {}", path.display()), e)),
    };
    let record: Record = serde_json::from_slice(&bytes)
        .map_err(|e| RootKeyError::Io(format!("{} is corrupt: {e}", path.display())))?;
    if record.format != FORMAT {
        return Err(RootKeyError::Io(format!(
            "{} has format {}, this version understands {FORMAT}",
            path.display(),
            record.format
        )));
    }
    Ok(Some(record))
}

/// Replaces the record atomically, so a crash leaves the old record or the new one.
pub(crate) fn save(data_dir: &Path, record: &Record) -> Result<(), RootKeyError> {
    let bytes = serde_json::to_vec_pretty(record)
        .map_err(|e| RootKeyError::Io(format!("encoding {RECORD_FILE}: {e}")))?;
    write_atomically(data_dir, RECORD_FILE, &bytes)
}

/// Replaces `<dir>/<name>` with `bytes`: a private (0600) temp file, fsync, rename, fsync
/// of the directory. A crash leaves the old file or the new one, never a mix.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RootKeyError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(|e| RootKeyError::io(format!("creating {}", tmp.display()), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| RootKeyError::io(format!("writing {}", tmp.display()), e))?;
    drop(file);
    fs::rename(&tmp, dir.join(name))
        .map_err(|e| RootKeyError::io(format!("replacing {name}"), e))?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), RootKeyError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RootKeyError::io(format!("syncing {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tells_keys_apart() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let key = RootKey::from_bytes([7; 32]);
        let record = Record::new("pkcs11", "pkcs11:x".into(), &key, Some(&[1, 2, 3]));
        save(dir.path(), &record).unwrap();
        let loaded = load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded, record);
        assert_eq!(loaded.sealed_bytes().unwrap(), vec![1, 2, 3]);
        assert!(loaded.matches(&key));
        assert!(!loaded.matches(&RootKey::from_bytes([8; 32])));
        let text = std::fs::read_to_string(dir.path().join(RECORD_FILE)).unwrap();
        assert!(!text.contains(&hex::encode([7u8; 32])), "{text}");
    }
}
