//! Sources that keep the root key sealed rather than holding it: a PKCS#11 token, or an
//! external key manager (Vault/OpenBao Transit, KMIP) reached through [`ExternalSealer`]. Both
//! generate nothing themselves: Coffer generates the root key, has it sealed, and keeps
//! only the sealed copy in `<data>/root-key.json`.

use coffer_kms::RootKey;

use crate::{Pin, RootKeyError, RootKeySource, pkcs11};

/// The key managers that seal and open a root key under one of their keys, for the
/// `vault:` and `kmip:` sources (`source` says which, and the key's name). The key manager
/// binds nothing else to the blob: Coffer checks the key it gets back against the data
/// directory's check value.
pub trait ExternalSealer {
    fn seal(&self, source: &RootKeySource, root: &RootKey) -> Result<Vec<u8>, RootKeyError>;
    fn unseal(&self, source: &RootKeySource, sealed: &[u8]) -> Result<RootKey, RootKeyError>;
}

/// What a sealed source needs besides its description: a token's PIN, or the key
/// managers behind `vault:` and `kmip:` sources.
#[derive(Clone, Copy, Default)]
pub struct Unlock<'a> {
    pub pin: Option<&'a Pin>,
    pub external: Option<&'a dyn ExternalSealer>,
}

impl<'a> Unlock<'a> {
    pub fn pin(pin: Option<&'a Pin>) -> Unlock<'a> {
        Unlock {
            pin,
            external: None,
        }
    }
}

/// The sealer of a sealed `source`, or `None` for a source that holds the key itself.
pub(crate) fn for_source<'a>(
    source: &'a RootKeySource,
    unlock: Unlock<'a>,
) -> Result<Option<Sealer<'a>>, RootKeyError> {
    match source {
        RootKeySource::Pkcs11(spec) => Ok(Some(Sealer::Token(spec, unlock.pin))),
        RootKeySource::Vault(_) | RootKeySource::Kmip(_) => match unlock.external {
            Some(external) => Ok(Some(Sealer::External(external, source))),
            None => Err(RootKeyError::Config(format!(
                "`{source}` needs its key manager: give --{}-addr and its credentials",
                source.kind()
            ))),
        },
        _ => Ok(None),
    }
}

pub(crate) enum Sealer<'a> {
    Token(&'a crate::Pkcs11Spec, Option<&'a Pin>),
    External(&'a dyn ExternalSealer, &'a RootKeySource),
}

impl Sealer<'_> {
    pub fn seal(&self, root: &RootKey) -> Result<Vec<u8>, RootKeyError> {
        match self {
            Sealer::Token(spec, pin) => pkcs11::seal(spec, *pin, root),
            Sealer::External(external, source) => external.seal(source, root),
        }
    }

    pub fn unseal(&self, sealed: &[u8]) -> Result<RootKey, RootKeyError> {
        match self {
            Sealer::Token(spec, pin) => pkcs11::unseal(spec, *pin, sealed),
            Sealer::External(external, source) => external.unseal(source, sealed),
        }
    }

    /// Seals `root` and proves the round trip before anything relies on the sealed copy.
    pub fn seal_checked(&self, root: &RootKey) -> Result<Vec<u8>, RootKeyError> {
        let sealed = self.seal(root)?;
        let back = self.unseal(&sealed)?;
        if back.expose_for_sealing() != root.expose_for_sealing() {
            return Err(RootKeyError::Source(
                "the sealing source did not give back the root key it sealed".into(),
            ));
        }
        Ok(sealed)
    }
}
