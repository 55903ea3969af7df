//! `--root-key vault:key=NAME`: bridges coffer-rootkey's synchronous [`ExternalSealer`] to
//! the async Transit client. The root key is opened once per start, on a blocking thread
//! (the server opens the KMS on the blocking pool), which waits on the runtime's handle.

use coffer_kms::RootKey;
use coffer_kms_vault::{VaultConfig, VaultKms};
use coffer_rootkey::{ExternalSealer, RootKeyError};
use coffer_service::KeyError;
use tokio::runtime::Handle;

pub struct VaultRootSealer {
    vault: VaultKms,
    runtime: Handle,
}

impl VaultRootSealer {
    /// `runtime` must have a worker thread free to drive the calls: the sealer's methods
    /// are called from outside it and block until they are done.
    pub fn new(config: &VaultConfig, runtime: Handle) -> Result<VaultRootSealer, String> {
        Ok(VaultRootSealer {
            vault: VaultKms::new(config.clone())?,
            runtime,
        })
    }

    fn error(&self, name: &str, e: KeyError) -> RootKeyError {
        let at = self.describe();
        match e {
            KeyError::InvalidCiphertext => RootKeyError::Refused(format!(
                "the Transit key `{name}` of {at} does not open this data directory's sealed \
                 root key: it is not the key the data directory was sealed with"
            )),
            KeyError::KeyNotFound(_) => RootKeyError::Refused(format!(
                "{at} has no Transit key `{name}`: the data directory's root key was sealed by \
                 a key that is gone or on another server"
            )),
            other => RootKeyError::Source(format!(
                "{at} could not seal or unseal the root key with `{name}`: {other}"
            )),
        }
    }
}

impl ExternalSealer for VaultRootSealer {
    fn describe(&self) -> String {
        format!("Vault at {}", self.vault.config().addr)
    }

    fn seal(&self, key_name: &str, root: &RootKey) -> Result<Vec<u8>, RootKeyError> {
        self.runtime
            .block_on(
                self.vault
                    .seal_root_key(key_name, root.expose_for_sealing()),
            )
            .map(String::into_bytes)
            .map_err(|e| self.error(key_name, e))
    }

    fn unseal(&self, key_name: &str, sealed: &[u8]) -> Result<RootKey, RootKeyError> {
        let sealed = std::str::from_utf8(sealed)
            .map_err(|_| self.error(key_name, KeyError::InvalidCiphertext))?;
        let key = self
            .runtime
            .block_on(self.vault.open_root_key(key_name, sealed))
            .map_err(|e| self.error(key_name, e))?;
        Ok(RootKey::from_bytes(*key))
    }
}
