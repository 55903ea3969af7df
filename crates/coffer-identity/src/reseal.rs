//! Re-sealing the identity store under a new seal key, for root key rotation.
//!
//! Every AccessKey secret is opened under the old seal key and sealed again under the new
//! one (same AAD), with a new seal check; the file is then replaced in one atomic rename
//! ([`file::save`]), so it is always sealed wholly under one key. [`reseal`] tells which
//! by the seal check, and a second run after a crash finishes what the first began.

use std::path::Path;

use zeroize::Zeroizing;

use crate::IdentityError;
use crate::file::{self, FileState};
use crate::seal::{self, Sealer};

/// What [`reseal`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resealed {
    /// No identity store in the directory.
    NoStore,
    /// Sealed under the old key before, under the new one now.
    Done,
    /// Already sealed under the new key.
    AlreadyNew,
}

/// Re-seals `<dir>/identities.json` from `old` to `new` (seal keys derived from the old
/// and new root keys with [`crate::SEAL_KEY_PURPOSE`]). Takes the directory's lock, so
/// it fails while a server has the store open; changes nothing if any secret fails to
/// open.
pub fn reseal(
    dir: &Path,
    old: &Zeroizing<[u8; 32]>,
    new: &Zeroizing<[u8; 32]>,
) -> Result<Resealed, IdentityError> {
    if !dir.exists() {
        return Ok(Resealed::NoStore);
    }
    let _lock = file::lock(dir)?;
    let Some(mut state) = file::load(dir)? else {
        return Ok(Resealed::NoStore);
    };
    let (old, new) = (Sealer::new(old), Sealer::new(new));
    if opens_check(&state, &new) {
        return Ok(Resealed::AlreadyNew);
    }
    if !opens_check(&state, &old) {
        return Err(IdentityError::Storage(format!(
            "{} is sealed under neither the current nor the new root key",
            dir.join(file::FILE_NAME).display()
        )));
    }
    for (id, key) in &mut state.access_keys {
        let aad = seal::secret_aad(id, &key.user_name);
        let plain = old.open(&aad, &key.sealed_secret).ok_or_else(|| {
            IdentityError::Storage(format!("the secret of AccessKey {id} does not unseal"))
        })?;
        key.sealed_secret = new.seal(&aad, &plain)?;
    }
    state.seal_check = new.seal(seal::SEAL_CHECK_AAD, seal::SEAL_CHECK_PLAINTEXT)?;
    file::save(dir, &state)?;
    Ok(Resealed::Done)
}

/// Whether `<dir>/identities.json` is sealed under `seal_key`; `None` when there is none.
/// Takes the directory's lock while it reads, so it fails while a server has the store
/// open, as [`reseal`] would.
pub fn sealed_by(
    dir: &Path,
    seal_key: &Zeroizing<[u8; 32]>,
) -> Result<Option<bool>, IdentityError> {
    if !dir.exists() {
        return Ok(None);
    }
    let _lock = file::lock(dir)?;
    Ok(file::load(dir)?.map(|state| opens_check(&state, &Sealer::new(seal_key))))
}

fn opens_check(state: &FileState, sealer: &Sealer) -> bool {
    sealer
        .open(seal::SEAL_CHECK_AAD, &state.seal_check)
        .is_some_and(|p| p.as_slice() == seal::SEAL_CHECK_PLAINTEXT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentityStore;

    #[test]
    fn secrets_survive_resealing_and_only_the_new_key_opens_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (Zeroizing::new([1u8; 32]), Zeroizing::new([2u8; 32]));
        let (id, secret) = {
            let store = IdentityStore::open(dir.path(), old.clone()).unwrap();
            store.create_user("alice", None).unwrap();
            let (info, secret) = store.create_access_key("alice").unwrap();
            let err = reseal(dir.path(), &old, &new).unwrap_err();
            assert!(err.to_string().contains("in use"), "{err}");
            (info.access_key_id, secret)
        };
        assert_eq!(sealed_by(dir.path(), &old).unwrap(), Some(true));
        assert_eq!(reseal(dir.path(), &old, &new).unwrap(), Resealed::Done);
        assert_eq!(sealed_by(dir.path(), &old).unwrap(), Some(false));
        assert_eq!(sealed_by(dir.path(), &new).unwrap(), Some(true));
        assert_eq!(
            reseal(dir.path(), &old, &new).unwrap(),
            Resealed::AlreadyNew
        );
        assert!(IdentityStore::open(dir.path(), old.clone()).is_err());
        let store = IdentityStore::open(dir.path(), new.clone()).unwrap();
        let (_, found) = store.lookup(&id).expect("the key is still there");
        assert_eq!(found.expose(), secret.as_str());
        drop(store);
        let stranger = Zeroizing::new([9u8; 32]);
        let err = reseal(dir.path(), &stranger, &Zeroizing::new([3u8; 32])).unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
    }
}
