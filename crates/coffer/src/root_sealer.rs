//! `--root-key vault:key=NAME` and `kmip:key=NAME`: bridges coffer-rootkey's synchronous
//! [`ExternalSealer`] to the async Transit and KMIP clients. The root key is opened once
//! per start, on a blocking thread (the server opens the KMS on the blocking pool), which
//! waits on the runtime's handle.

use coffer_kms::RootKey;
use coffer_kms_kmip::{KmipConfig, KmipKms};
use coffer_kms_vault::{VaultConfig, VaultKms};
use coffer_rootkey::{ExternalSealer, RootKeyError, RootKeySource};
use coffer_service::KeyError;
use tokio::runtime::Handle;

/// The key managers a root key source may name, each built only when configured.
pub struct RootSealers {
    vault: Option<VaultKms>,
    kmip: Option<KmipKms>,
    runtime: Handle,
}

impl RootSealers {
    /// `runtime` must have a worker thread free to drive the calls: the sealer's methods
    /// are called from outside it and block until they are done.
    pub fn new(
        vault: Option<&VaultConfig>,
        kmip: Option<&KmipConfig>,
        runtime: Handle,
    ) -> Result<RootSealers, String> {
        Ok(RootSealers {
            vault: vault.map(|c| VaultKms::new(c.clone())).transpose()?,
            kmip: kmip.map(|c| KmipKms::new(c.clone())).transpose()?,
            runtime,
        })
    }

    fn describe(&self, source: &RootKeySource) -> String {
        match (source, &self.vault, &self.kmip) {
            (RootKeySource::Vault(_), Some(v), _) => format!("Vault at {}", v.config().addr),
            (RootKeySource::Kmip(_), _, Some(k)) => {
                format!("the KMIP server at {}", k.config().addr)
            }
            _ => source.to_string(),
        }
    }

    fn error(&self, source: &RootKeySource, e: KeyError) -> RootKeyError {
        let at = self.describe(source);
        match e {
            KeyError::InvalidCiphertext => RootKeyError::Refused(format!(
                "`{source}` of {at} does not open this data directory's sealed root key: it \
                 is not the key the data directory was sealed with"
            )),
            KeyError::KeyNotFound(_) => RootKeyError::Refused(format!(
                "{at} has no key for `{source}`: the data directory's root key was sealed by a \
                 key that is gone or on another server"
            )),
            other => RootKeyError::Source(format!(
                "{at} could not seal or unseal the root key with `{source}`: {other}"
            )),
        }
    }

    fn missing(source: &RootKeySource) -> RootKeyError {
        RootKeyError::Config(format!(
            "`{source}` needs --{}-addr and the rest of its settings",
            source.kind()
        ))
    }
}

impl ExternalSealer for RootSealers {
    fn seal(&self, source: &RootKeySource, root: &RootKey) -> Result<Vec<u8>, RootKeyError> {
        let key = root.expose_for_sealing();
        let sealed = match (source, &self.vault, &self.kmip) {
            (RootKeySource::Vault(name), Some(vault), _) => self
                .runtime
                .block_on(vault.seal_root_key(name, key))
                .map(String::into_bytes),
            (RootKeySource::Kmip(name), _, Some(kmip)) => {
                self.runtime.block_on(kmip.seal_root_key(name, key))
            }
            _ => return Err(Self::missing(source)),
        };
        sealed.map_err(|e| self.error(source, e))
    }

    fn unseal(&self, source: &RootKeySource, sealed: &[u8]) -> Result<RootKey, RootKeyError> {
        let key = match (source, &self.vault, &self.kmip) {
            (RootKeySource::Vault(name), Some(vault), _) => {
                let text = std::str::from_utf8(sealed)
                    .map_err(|_| self.error(source, KeyError::InvalidCiphertext))?;
                self.runtime.block_on(vault.open_root_key(name, text))
            }
            (RootKeySource::Kmip(_), _, Some(kmip)) => {
                self.runtime.block_on(kmip.open_root_key(sealed))
            }
            _ => return Err(Self::missing(source)),
        }
        .map_err(|e| self.error(source, e))?;
        Ok(RootKey::from_bytes(*key))
    }
}
