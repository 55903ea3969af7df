//! Sealing Coffer's root key with a Transit key (`--root-key vault:key=NAME`): the root key
//! is sent to `encrypt/<NAME>` once, when a data directory is created or its root key
//! rotated, and opened by `decrypt/<NAME>` once per start. Only the ciphertext is kept, in
//! `<data>/root-key.json`; without Vault and the token, nothing in the data directory opens.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::Method;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::{Answer, DecryptAnswer, VaultKms, check_key_name, name_missing, parse};

/// The derivation context of a root key seal: it keeps a Transit ciphertext made for any
/// other purpose (a data key) from opening as a root key.
const ROOT_KEY_CONTEXT: &[u8] = b"coffer-root-key";

#[derive(Deserialize)]
struct EncryptAnswer {
    ciphertext: String,
}

impl VaultKms {
    /// Seals a 32-byte root key under the Transit key `name`, creating that key (derived)
    /// if it does not exist yet. Returns Transit's ciphertext (`vault:vN:...`).
    pub async fn seal_root_key(
        &self,
        name: &str,
        root: &[u8; 32],
    ) -> Result<String, coffer_service::KeyError> {
        check_key_name(name)?;
        match self.read_key(name).await {
            Ok(_) => {}
            Err(coffer_service::KeyError::KeyNotFound(_)) => self.create_transit_key(name).await?,
            Err(e) => return Err(e),
        }
        let body = Zeroizing::new(
            serde_json::to_vec(&serde_json::json!({
                "plaintext": B64.encode(root),
                "context": B64.encode(ROOT_KEY_CONTEXT),
            }))
            .map_err(|e| coffer_service::KeyError::InvalidParameter(e.to_string()))?,
        );
        let answer = self
            .call(
                Method::POST,
                &self.path("encrypt", name),
                Some(body.to_vec()),
            )
            .await
            .map_err(|e| name_missing(e, name))?;
        Ok(parse::<Answer<EncryptAnswer>>(&answer)?.data.ciphertext)
    }

    /// Opens a root key sealed by [`VaultKms::seal_root_key`].
    pub async fn open_root_key(
        &self,
        name: &str,
        sealed: &str,
    ) -> Result<Zeroizing<[u8; 32]>, coffer_service::KeyError> {
        check_key_name(name)?;
        let body = serde_json::to_vec(&serde_json::json!({
            "ciphertext": sealed,
            "context": B64.encode(ROOT_KEY_CONTEXT),
        }))
        .map_err(|e| coffer_service::KeyError::InvalidParameter(e.to_string()))?;
        let answer = self
            .call(Method::POST, &self.path("decrypt", name), Some(body))
            .await
            .map_err(|e| name_missing(e, name))?;
        let plaintext = parse::<Answer<DecryptAnswer>>(&answer)?.data.plaintext;
        let bytes = Zeroizing::new(
            B64.decode(plaintext.as_bytes())
                .map_err(|_| coffer_service::KeyError::InvalidCiphertext)?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(coffer_service::KeyError::InvalidCiphertext);
        }
        key.copy_from_slice(&bytes);
        Ok(key)
    }
}
