//! Re-sealing the KMS state under a new root key, for root key rotation.
//!
//! Every key version's material is opened under the old root key and sealed again under
//! the new one, with the same AAD, and the root key check is replaced; the new state file
//! then replaces the old one in one atomic rename ([`store::save`]). A crash therefore
//! leaves the file sealed wholly under one key or wholly under the other, never mixed,
//! and [`reseal_state`] tells which by the check, so running it again finishes the job.
//!
//! It takes the state directory's lock: a running server holds it, so the state cannot
//! change underneath (and a running server is never left holding keys sealed under a
//! root key it does not know).

use std::path::Path;

use ring::rand::SystemRandom;

use crate::crypto::{self, ROOT_CHECK_AAD};
use crate::store::{self, StateFile, VersionRecord};
use crate::{KmsError, RootKey};

/// What [`reseal_state`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resealed {
    /// There is no KMS state in the directory: nothing to do.
    NoState,
    /// The state was sealed under the old key and now is under the new one.
    Done,
    /// The state was already sealed under the new key (an earlier run got this far).
    AlreadyNew,
}

/// Which key `dir`'s state is sealed under: `Some(true)` for `key`, `Some(false)` for
/// another, `None` when there is no state. Takes the directory's lock for the moment it
/// reads, so it fails while a server runs on the state, as [`reseal_state`] would.
pub fn state_sealed_by(dir: &Path, key: &RootKey) -> Result<Option<bool>, KmsError> {
    if !dir.exists() {
        return Ok(None);
    }
    let _lock = store::lock_dir(dir)?;
    Ok(store::load(dir)?.map(|file| opens_check(&file, key)))
}

/// Re-seals the KMS state in `dir` from `old` to `new`. Fails, changing nothing, if the
/// state is sealed under neither key, if any material fails to open (a damaged file), or
/// if the directory is locked (a server is running on it).
pub fn reseal_state(dir: &Path, old: &RootKey, new: &RootKey) -> Result<Resealed, KmsError> {
    let _lock = store::lock_dir(dir)?;
    let Some(mut file) = store::load(dir)? else {
        return Ok(Resealed::NoState);
    };
    if opens_check(&file, new) {
        return Ok(Resealed::AlreadyNew);
    }
    if !opens_check(&file, old) {
        return Err(KmsError::Storage(format!(
            "the KMS state in {} is sealed under neither the current nor the new root key",
            dir.display()
        )));
    }
    let rng = SystemRandom::new();
    for version in &mut file.service_key {
        reseal_version(crate::SERVICE_KEY_ID, version, old, new, &rng)?;
    }
    for (id, key) in &mut file.keys {
        // A deleted key's tombstone has no versions, hence no material.
        for version in &mut key.versions {
            reseal_version(id, version, old, new, &rng)?;
        }
    }
    file.root_key_check = crypto::seal(new.bytes(), ROOT_CHECK_AAD, &[], &rng)?;
    store::save(dir, &file)?;
    Ok(Resealed::Done)
}

fn opens_check(file: &StateFile, key: &RootKey) -> bool {
    crypto::open(key.bytes(), ROOT_CHECK_AAD, &file.root_key_check).is_some()
}

fn reseal_version(
    id: &str,
    version: &mut VersionRecord,
    old: &RootKey,
    new: &RootKey,
    rng: &SystemRandom,
) -> Result<(), KmsError> {
    let aad = crypto::material_aad(id, version.version);
    let plain = crypto::open_key(old.bytes(), &aad, &version.material).ok_or_else(|| {
        KmsError::Storage(format!(
            "the material of key {id} version {} does not open under the current root key",
            version.version
        ))
    })?;
    version.material = crypto::seal(new.bytes(), &aad, &plain, rng)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EncryptionContext, KeySelector, Kms, KmsConfig};

    fn open(dir: &Path, key: [u8; 32]) -> Result<Kms, KmsError> {
        Kms::open(dir, RootKey::from_bytes(key), KmsConfig::default())
    }

    /// Everything the old root key could open, the new one opens after re-sealing: the
    /// service key, every version of a rotated CMK, and data keys issued before.
    #[test]
    fn resealed_state_opens_under_the_new_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let context = EncryptionContext::for_object("b", "o");
        let (wrapped, plain, service, service_plain) = {
            let kms = open(dir.path(), [1; 32]).unwrap();
            let id = kms.create_key("t").unwrap().key_id;
            let first = kms
                .generate_data_key(&KeySelector::Named(id.clone()), &context, "root")
                .unwrap();
            kms.rotate_key(&id).unwrap();
            let service = kms.generate_service_data_key(&context, "root").unwrap();
            (
                first.wrapped,
                *first.plaintext.as_bytes(),
                service.wrapped,
                *service.plaintext.as_bytes(),
            )
        };
        let (old, new) = (RootKey::from_bytes([1; 32]), RootKey::from_bytes([2; 32]));
        assert_eq!(state_sealed_by(dir.path(), &old).unwrap(), Some(true));
        assert_eq!(
            reseal_state(dir.path(), &old, &new).unwrap(),
            Resealed::Done
        );
        assert_eq!(state_sealed_by(dir.path(), &new).unwrap(), Some(true));
        assert_eq!(
            reseal_state(dir.path(), &old, &new).unwrap(),
            Resealed::AlreadyNew,
            "a second run finds the work done"
        );
        assert!(open(dir.path(), [1; 32]).is_err(), "the old key is refused");
        let kms = open(dir.path(), [2; 32]).unwrap();
        let back = kms.decrypt_data_key(&wrapped, &context, "root").unwrap();
        assert_eq!(*back.as_bytes(), plain);
        let back = kms
            .decrypt_service_data_key(&service, &context, "root")
            .unwrap();
        assert_eq!(*back.as_bytes(), service_plain);
    }

    #[test]
    fn refuses_a_state_sealed_under_neither_key_and_a_running_kms() {
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path(), [1; 32]).unwrap();
        let (old, new) = (RootKey::from_bytes([1; 32]), RootKey::from_bytes([2; 32]));
        let err = reseal_state(dir.path(), &old, &new).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
        drop(kms);
        let stranger = RootKey::from_bytes([9; 32]);
        let err = reseal_state(dir.path(), &stranger, &new).unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
        assert_eq!(state_sealed_by(dir.path(), &old).unwrap(), Some(true));
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            reseal_state(empty.path(), &old, &new).unwrap(),
            Resealed::NoState
        );
    }
}
