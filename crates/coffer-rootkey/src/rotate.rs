//! Root key rotation: everything sealed under the current root key is sealed again under a
//! new one, resumably, so that `kill -9` at any point leaves every sealed key openable by
//! the old root key or by the new one, and a second run finishes the job.
//!
//! The order is what makes it safe:
//!
//! 1. The new key is made (or read from its source) and `<data>/root-rotation.json`, the
//!    journal, is written atomically: the check values of the old and the new key, the new
//!    source, and what only the data directory can keep of the new key (the embedded
//!    default's key; a token's sealed copy). From here on, the new key can always be had.
//! 2. Each [`SealedState`] is re-sealed from the old key to the new one, each in one
//!    atomic file replacement, and each can tell which key it is under now.
//! 3. Commit: the embedded default's `root.key` is replaced, then `root-key.json` names the
//!    new source and check value, then the journal is deleted.
//!
//! While the journal exists the server refuses to start ([`crate::open`]): its state may
//! be sealed under either key, and only this procedure knows both. The server must be
//! stopped during a rotation; every state takes its directory's lock, so a running server
//! makes the rotation fail before anything changes.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coffer_kms::RootKey;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::record::{self, Record, check_value, write_atomically};
use crate::sealer::{self, Sealer, Unlock};
use crate::{EMBEDDED_FILE, RootKeyError, RootKeySource, raw};

/// The rotation journal inside the data directory.
pub const JOURNAL_FILE: &str = "root-rotation.json";
const FORMAT: u32 = 1;

/// Something sealed under the root key that a rotation must carry over (the KMS state,
/// the identity store).
pub trait SealedState {
    /// What it is, for messages.
    fn name(&self) -> String;
    /// `Some(true)` if it is sealed under `key`, `Some(false)` under another key, `None`
    /// when there is nothing sealed.
    fn sealed_by(&self, key: &RootKey) -> Result<Option<bool>, String>;
    /// Re-seals it from `old` to `new`, in one atomic step; does nothing if it is already
    /// under `new`.
    fn reseal(&self, old: &RootKey, new: &RootKey) -> Result<(), String>;
}

#[derive(Serialize, Deserialize, Debug)]
struct Journal {
    format: u32,
    old_check: String,
    new_check: String,
    new_kind: String,
    new_source: String,
    /// A token's sealed copy of the new key (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_sealed: Option<String>,
    /// The embedded default's new key (hex): it lives in the data directory anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_embedded: Option<String>,
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Some(text) = &mut self.new_embedded {
            text.zeroize();
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// A journal from an interrupted run was found and finished.
    pub resumed: bool,
    /// The source to start the server with from now on.
    pub new_source: String,
}

/// Where the current and the new root key come from.
pub struct Rotation<'a> {
    pub data_dir: &'a Path,
    pub current: &'a RootKeySource,
    pub new: &'a RootKeySource,
    /// What the sealed sources among the two need (a token's PIN, the key manager).
    pub unlock: Unlock<'a>,
}

/// True while a rotation is under way (or was interrupted).
pub fn in_progress(data_dir: &Path) -> bool {
    data_dir.join(JOURNAL_FILE).exists()
}

impl Rotation<'_> {
    /// Rotates (or finishes an interrupted rotation of) the root key of `data_dir`,
    /// re-sealing every one of `states`.
    pub fn run(&self, states: &[&dyn SealedState]) -> Result<Rotated, RootKeyError> {
        let found = record::load(self.data_dir)?;
        let current = self.current_key(found.as_ref())?;
        let (journal, resumed) = match self.load_journal()? {
            Some(journal) => (self.check_resume(journal)?, true),
            None => (self.begin(&current, found.as_ref(), states)?, false),
        };
        let new = self.new_key(&journal)?;
        let current_check = check_value(&current);
        if current_check == journal.old_check {
            for state in states {
                state
                    .reseal(&current, &new)
                    .map_err(|e| RootKeyError::Io(format!("re-sealing {}: {e}", state.name())))?;
            }
        } else if current_check != journal.new_check {
            return Err(RootKeyError::Refused(format!(
                "the root key from `{}` is neither the old nor the new key of the rotation \
                 recorded in {JOURNAL_FILE}",
                self.current
            )));
        }
        self.commit(&journal, &new)?;
        Ok(Rotated {
            resumed,
            new_source: journal.new_source.clone(),
        })
    }

    /// The key the current source gives, unchecked (the journal or record decides).
    fn current_key(&self, found: Option<&Record>) -> Result<RootKey, RootKeyError> {
        match self.current {
            RootKeySource::Embedded => raw::from_file(&self.data_dir.join(EMBEDDED_FILE)),
            RootKeySource::File(path) => raw::from_file(path),
            RootKeySource::Env(var) => raw::from_env(var),
            RootKeySource::Pkcs11(_) | RootKeySource::Vault(_) | RootKeySource::Kmip(_) => {
                let sealed = match found {
                    Some(r) if r.kind == self.current.kind() => r.sealed_bytes()?,
                    _ => {
                        return Err(RootKeyError::Refused(format!(
                            "{} was not sealed by `{}`: give the --root-key it was sealed \
                             under",
                            self.data_dir.display(),
                            self.current
                        )));
                    }
                };
                self.sealer(self.current)?.unseal(&sealed)
            }
        }
    }

    /// Checks that the current key is the one everything is sealed under, makes the new
    /// key and writes the journal.
    fn begin(
        &self,
        current: &RootKey,
        found: Option<&Record>,
        states: &[&dyn SealedState],
    ) -> Result<Journal, RootKeyError> {
        if let Some(record) = found
            && !record.matches(current)
        {
            return Err(RootKeyError::Refused(format!(
                "the root key from `{}` is not the one {} was sealed under (`{}`)",
                self.current,
                self.data_dir.display(),
                record.source
            )));
        }
        for state in states {
            if state.sealed_by(current).map_err(RootKeyError::Io)? == Some(false) {
                return Err(RootKeyError::Refused(format!(
                    "{} is not sealed under the root key from `{}`; nothing was changed",
                    state.name(),
                    self.current
                )));
            }
        }
        let (new, sealed, embedded) = self.make_new_key()?;
        let journal = Journal {
            format: FORMAT,
            old_check: check_value(current),
            new_check: check_value(&new),
            new_kind: self.new.kind().to_owned(),
            new_source: self.new.to_string(),
            new_sealed: sealed.map(|s| STANDARD.encode(s)),
            new_embedded: embedded.map(|t| t.to_string()),
        };
        if journal.new_check == journal.old_check {
            return Err(RootKeyError::Config(format!(
                "the new root key from `{}` is the current one: a rotation needs another key",
                self.new
            )));
        }
        self.save_journal(&journal)?;
        Ok(journal)
    }

    /// The new key: generated for the embedded default and for a token (which seals it),
    /// read from a file or variable the operator prepared.
    #[allow(clippy::type_complexity)]
    fn make_new_key(
        &self,
    ) -> Result<(RootKey, Option<Vec<u8>>, Option<Zeroizing<String>>), RootKeyError> {
        let generate =
            || RootKey::generate().map_err(|e| RootKeyError::Source(format!("generating: {e}")));
        match self.new {
            RootKeySource::Embedded => {
                let key = generate()?;
                let text = Zeroizing::new(hex::encode(key.expose_for_sealing()));
                Ok((key, None, Some(text)))
            }
            RootKeySource::File(path) => Ok((raw::from_file(path)?, None, None)),
            RootKeySource::Env(var) => Ok((raw::from_env(var)?, None, None)),
            RootKeySource::Pkcs11(_) | RootKeySource::Vault(_) | RootKeySource::Kmip(_) => {
                let key = generate()?;
                let sealed = self.sealer(self.new)?.seal_checked(&key)?;
                Ok((key, Some(sealed), None))
            }
        }
    }

    /// A journal is finished with the new source it was begun with, and no other.
    fn check_resume(&self, journal: Journal) -> Result<Journal, RootKeyError> {
        if journal.new_source != self.new.to_string() {
            return Err(RootKeyError::Refused(format!(
                "an interrupted rotation to `{}` is recorded in {JOURNAL_FILE}: run the \
                 rotation again with that new root key to finish it",
                journal.new_source
            )));
        }
        Ok(journal)
    }

    /// The journal's new key, checked against its check value.
    fn new_key(&self, journal: &Journal) -> Result<RootKey, RootKeyError> {
        let key = match (self.new, &journal.new_embedded, &journal.new_sealed) {
            (RootKeySource::Embedded, Some(text), _) => RootKey::from_hex(text)
                .map_err(|_| RootKeyError::Io(format!("{JOURNAL_FILE}: bad new key")))?,
            (
                RootKeySource::Pkcs11(_) | RootKeySource::Vault(_) | RootKeySource::Kmip(_),
                _,
                Some(sealed),
            ) => {
                let sealed = STANDARD
                    .decode(sealed)
                    .map_err(|e| RootKeyError::Io(format!("{JOURNAL_FILE}: {e}")))?;
                self.sealer(self.new)?.unseal(&sealed)?
            }
            (RootKeySource::File(path), _, _) => raw::from_file(path)?,
            (RootKeySource::Env(var), _, _) => raw::from_env(var)?,
            _ => return Err(RootKeyError::Io(format!("{JOURNAL_FILE} is incomplete"))),
        };
        if check_value(&key) != journal.new_check {
            return Err(RootKeyError::Refused(format!(
                "the key from `{}` is not the new key recorded in {JOURNAL_FILE}",
                self.new
            )));
        }
        Ok(key)
    }

    /// Makes the new key the data directory's root key, then forgets the journal.
    fn commit(&self, journal: &Journal, new: &RootKey) -> Result<(), RootKeyError> {
        if let Some(text) = &journal.new_embedded {
            write_atomically(self.data_dir, EMBEDDED_FILE, text.as_bytes())?;
        }
        let sealed = journal
            .new_sealed
            .as_deref()
            .map(|s| STANDARD.decode(s))
            .transpose()
            .map_err(|e| RootKeyError::Io(format!("{JOURNAL_FILE}: {e}")))?;
        let record = Record::new(
            &journal.new_kind,
            journal.new_source.clone(),
            new,
            sealed.as_deref(),
        );
        record::save(self.data_dir, &record)?;
        std::fs::remove_file(self.data_dir.join(JOURNAL_FILE))
            .map_err(|e| RootKeyError::io(format!("removing {JOURNAL_FILE}"), e))?;
        record::sync_dir(self.data_dir)?;
        // Moving off the embedded default: the old root.key opens nothing any more. Last,
        // so that a crash before this leaves only a stray file that start-up warns about.
        if self.current.is_embedded() && !self.new.is_embedded() {
            let path = self.data_dir.join(EMBEDDED_FILE);
            std::fs::remove_file(&path)
                .map_err(|e| RootKeyError::io(format!("removing {}", path.display()), e))?;
        }
        Ok(())
    }

    fn sealer<'s>(&'s self, source: &'s RootKeySource) -> Result<Sealer<'s>, RootKeyError> {
        sealer::for_source(source, self.unlock)?
            .ok_or_else(|| RootKeyError::Config(format!("`{source}` does not seal")))
    }

    fn load_journal(&self) -> Result<Option<Journal>, RootKeyError> {
        let path = self.data_dir.join(JOURNAL_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RootKeyError::io(format!("reading {}", path.display()), e)),
        };
        let journal: Journal = serde_json::from_slice(&bytes)
            .map_err(|e| RootKeyError::Io(format!("{} is corrupt: {e}", path.display())))?;
        if journal.format != FORMAT {
            return Err(RootKeyError::Io(format!(
                "{} has format {}, this version understands {FORMAT}",
                path.display(),
                journal.format
            )));
        }
        Ok(Some(journal))
    }

    fn save_journal(&self, journal: &Journal) -> Result<(), RootKeyError> {
        let bytes = Zeroizing::new(
            serde_json::to_vec_pretty(journal)
                .map_err(|e| RootKeyError::Io(format!("encoding {JOURNAL_FILE}: {e}")))?,
        );
        write_atomically(self.data_dir, JOURNAL_FILE, &bytes)
    }
}

/// The built-in KMS's state (`<data>/kms`): every key version's material is sealed under
/// the root key.
pub struct KmsState(pub std::path::PathBuf);

impl SealedState for KmsState {
    fn name(&self) -> String {
        format!("the KMS state in {}", self.0.display())
    }

    fn sealed_by(&self, key: &RootKey) -> Result<Option<bool>, String> {
        coffer_kms::state_sealed_by(&self.0, key).map_err(|e| e.to_string())
    }

    fn reseal(&self, old: &RootKey, new: &RootKey) -> Result<(), String> {
        coffer_kms::reseal_state(&self.0, old, new)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
#[path = "rotate_tests.rs"]
mod tests;
