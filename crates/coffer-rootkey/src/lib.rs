//! Where Coffer's root key comes from, and the data directory's record of it.
//!
//! The root key seals every KMS key (and, through a derived key, the RAM users' secrets).
//! [`RootKeySource`] says where it is kept: beside the data (`<data-dir>/root.key`, the
//! embedded default), in a file elsewhere, in an environment variable, or sealed by a
//! PKCS#11 token ([`pkcs11`]). [`open`] loads it and checks it against
//! `<data-dir>/root-key.json`, which records the source the data directory was sealed under
//! and a check value, so that a missing source or a wrong key stops the server at start-up
//! with a message naming the expected source, instead of failing object by object later.

mod error;
pub mod pkcs11;
mod raw;
mod record;
mod rotate;
mod sealer;
mod source;

use std::path::{Path, PathBuf};

use coffer_kms::RootKey;

pub use error::RootKeyError;
pub use raw::generate_file;
pub use rotate::{
    JOURNAL_FILE, KmsState, Rotated, Rotation, SealedState, in_progress as rotation_in_progress,
};
pub use sealer::{ExternalSealer, Unlock};
pub use source::{Pin, Pkcs11Spec, RootKeySource};

use record::Record;
use sealer::Sealer;

/// The embedded default's file name inside the data directory.
pub const EMBEDDED_FILE: &str = "root.key";
/// The data directory's record of its root key source.
pub const RECORD_FILE: &str = record::RECORD_FILE;

/// A loaded root key, what to say about it, and the record still to write once the key
/// has proved itself.
pub struct OpenedRootKey {
    pub key: RootKey,
    pub status: RootKeyStatus,
    pub pending: PendingRecord,
}

/// A record for a data directory that predates `root-key.json`: written by
/// [`PendingRecord::commit`] only after the KMS has opened with the key, so a wrong key
/// never gets recorded as the right one.
#[must_use = "commit the record once the KMS opened with the key"]
pub struct PendingRecord(Option<(PathBuf, Record)>);

impl PendingRecord {
    pub fn commit(self) -> Result<(), RootKeyError> {
        match self.0 {
            Some((dir, record)) => record::save(&dir, &record),
            None => Ok(()),
        }
    }
}

/// What start-up logs and `/health` report about the root key.
#[derive(Clone, Debug)]
pub struct RootKeyStatus {
    source: RootKeySource,
    data_dir: PathBuf,
    /// An external source is in use but a `root.key` still sits in the data directory.
    stray_embedded: bool,
}

impl RootKeyStatus {
    /// True when the root key is stored beside the data it protects.
    pub fn beside_data(&self) -> bool {
        self.source.is_embedded()
    }

    /// The source, as configured (no secret).
    pub fn source(&self) -> &RootKeySource {
        &self.source
    }

    /// What an operator should fix, if anything, with the fix in one line.
    pub fn warning(&self) -> Option<String> {
        let path = self.data_dir.join(EMBEDDED_FILE);
        if self.beside_data() {
            return Some(format!(
                "the root key is stored beside the data ({}): a copy of the data directory \
                 decrypts every object; keep it apart: `mv {} /secure/place/root.key` and start \
                 with `--root-key file:/secure/place/root.key` (or a PKCS#11 token; README, \
                 \"Keeping the root key apart\")",
                path.display(),
                path.display()
            ));
        }
        self.stray_embedded.then(|| {
            format!(
                "{} still sits in the data directory although the root key comes from `{}`; \
                 delete it if it is a copy of that key",
                path.display(),
                self.source
            )
        })
    }
}

/// Loads the root key from `source` and checks it against the data directory's record.
/// `sealed_state_exists`: the data directory already holds state sealed under some root
/// key (the KMS state file), so a key must not be made up for it.
pub fn open(
    data_dir: &Path,
    source: &RootKeySource,
    unlock: Unlock<'_>,
    sealed_state_exists: bool,
) -> Result<OpenedRootKey, RootKeyError> {
    if rotate::in_progress(data_dir) {
        return Err(RootKeyError::Refused(format!(
            "a root key rotation of {} was interrupted ({JOURNAL_FILE} is there): its keys may \
             be sealed under the old or the new root key, so the server does not start; \
             finish it by running `coffer kms root rotate` again with the same --root-key \
             and --new-root-key",
            data_dir.display()
        )));
    }
    let found = record::load(data_dir)?;
    let ctx = Ctx {
        data_dir,
        source,
        sealed_state_exists,
    };
    let (key, pending) = match sealer::for_source(source, unlock)? {
        Some(sealer) => ctx.open_sealed(&sealer, found)?,
        None => ctx.open_raw(found)?,
    };
    Ok(OpenedRootKey {
        key,
        status: RootKeyStatus {
            source: source.clone(),
            data_dir: data_dir.to_owned(),
            stray_embedded: !source.is_embedded() && data_dir.join(EMBEDDED_FILE).exists(),
        },
        pending,
    })
}

struct Ctx<'a> {
    data_dir: &'a Path,
    source: &'a RootKeySource,
    sealed_state_exists: bool,
}

impl Ctx<'_> {
    /// File, environment or embedded: the key itself comes from the source; the record
    /// only checks it.
    fn open_raw(&self, found: Option<Record>) -> Result<(RootKey, PendingRecord), RootKeyError> {
        if let Some(record) = &found
            && (record.sealed.is_some() || (self.source.is_embedded() && record.kind != "embedded"))
        {
            return Err(self.sealed_elsewhere(record));
        }
        let key = match self.source {
            RootKeySource::File(path) => raw::from_file(path)?,
            RootKeySource::Env(var) => raw::from_env(var)?,
            _ => self.embedded(found.is_some())?,
        };
        let pending = self.reconcile(&key, found, None)?;
        Ok((key, pending))
    }

    /// The embedded default, generated only for a data directory that has nothing sealed
    /// yet: generating one for a directory sealed elsewhere would only hide the real cause.
    fn embedded(&self, recorded: bool) -> Result<RootKey, RootKeyError> {
        let path = self.data_dir.join(EMBEDDED_FILE);
        if !path.exists() && (recorded || self.sealed_state_exists) {
            return Err(RootKeyError::Refused(format!(
                "the data directory {} holds keys sealed under a root key, but {} is missing \
                 and no --root-key was given: it was sealed under a root key kept elsewhere \
                 (start with --root-key env:COFFER_ROOT_KEY, file:… or pkcs11:…) or its \
                 root.key was lost (restore it from backup); without it nothing in it can be \
                 decrypted, so the server does not start",
                self.data_dir.display(),
                path.display()
            )));
        }
        RootKey::load_or_create_file(&path).map_err(|e| {
            RootKeyError::Source(format!("loading the root key {}: {e}", path.display()))
        })
    }

    /// A token or a key manager: the root key exists only sealed, in the record.
    fn open_sealed(
        &self,
        sealer: &Sealer<'_>,
        found: Option<Record>,
    ) -> Result<(RootKey, PendingRecord), RootKeyError> {
        let embedded_present = self.data_dir.join(EMBEDDED_FILE).exists()
            && match &found {
                Some(record) => record.kind == "embedded",
                None => self.sealed_state_exists,
            };
        match &found {
            Some(record) if record.kind == self.source.kind() => {
                let key = sealer.unseal(&record.sealed_bytes()?)?;
                let sealed = record.sealed_bytes()?;
                let pending = self.reconcile(&key, found, Some(&sealed))?;
                Ok((key, pending))
            }
            // The embedded default moving onto the token (or key manager): the same key,
            // sealed from now on; the status then asks for root.key to be deleted.
            _ if embedded_present => {
                let key = raw::from_file(&self.data_dir.join(EMBEDDED_FILE))?;
                let sealed = sealer.seal_checked(&key)?;
                let pending = self.reconcile(&key, found, Some(&sealed))?;
                Ok((key, pending))
            }
            Some(record) => Err(self.sealed_elsewhere(record)),
            None if self.sealed_state_exists => Err(RootKeyError::Refused(format!(
                "the data directory {} holds sealed keys but neither {RECORD_FILE} nor \
                 {EMBEDDED_FILE}: if it was sealed by this source, restore {RECORD_FILE} from \
                 backup (it holds the only sealed copy of the root key); otherwise start with \
                 the source it was sealed under (--root-key env:COFFER_ROOT_KEY, file:...)",
                self.data_dir.display()
            ))),
            None => {
                let key = RootKey::generate()
                    .map_err(|e| RootKeyError::Source(format!("generating a root key: {e}")))?;
                let sealed = sealer.seal_checked(&key)?;
                let pending = self.reconcile(&key, None, Some(&sealed))?;
                Ok((key, pending))
            }
        }
    }

    /// Compares `key` with the record; writes a new or updated record now when that is
    /// safe, or leaves it pending when only the KMS can vouch for the key.
    fn reconcile(
        &self,
        key: &RootKey,
        found: Option<Record>,
        sealed: Option<&[u8]>,
    ) -> Result<PendingRecord, RootKeyError> {
        let fresh = Record::new(self.source.kind(), self.source.to_string(), key, sealed);
        match found {
            Some(record) if !record.matches(key) => Err(self.wrong_key(&record)),
            Some(record) if record == fresh => Ok(PendingRecord(None)),
            Some(record) => {
                // Same key, another way to reach it (a moved file, another module path).
                tracing::info!(was = %record.source, now = %self.source, "root key source changed");
                record::save(self.data_dir, &fresh).map(|()| PendingRecord(None))
            }
            None if self.sealed_state_exists => {
                Ok(PendingRecord(Some((self.data_dir.to_owned(), fresh))))
            }
            // Written before anything is sealed under the key: a token-sealed root key
            // exists nowhere else.
            None => record::save(self.data_dir, &fresh).map(|()| PendingRecord(None)),
        }
    }

    fn sealed_elsewhere(&self, record: &Record) -> RootKeyError {
        if record.kind == "embedded" {
            return RootKeyError::Refused(format!(
                "the data directory {} is sealed under its own {EMBEDDED_FILE}, which is \
                 missing: restore it from backup (with it in place, --root-key pkcs11:... seals \
                 it on the token)",
                self.data_dir.display()
            ));
        }
        let started = if self.source.is_embedded() {
            "no --root-key was given".to_owned()
        } else {
            format!("the server was started with `{}`", self.source)
        };
        RootKeyError::Refused(format!(
            "the data directory {} was sealed under an external root key from `{}`, but {started}: \
             start it with --root-key '{}' (a token also needs its PIN); without that key nothing \
             in the data directory can be decrypted, so the server does not start",
            self.data_dir.display(),
            record.source,
            record.source
        ))
    }

    fn wrong_key(&self, record: &Record) -> RootKeyError {
        RootKeyError::Refused(format!(
            "the root key from `{}` is not the one the data directory {} was sealed under \
             (its key check value differs; the data directory expects `{}`); refusing to start \
             rather than fail to decrypt later",
            self.source,
            self.data_dir.display(),
            record.source
        ))
    }
}

#[cfg(test)]
mod tests;
