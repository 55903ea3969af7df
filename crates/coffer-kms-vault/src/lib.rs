//! Vault (or OpenBao) Transit as Coffer's key manager: a [`KeyProvider`] whose data keys
//! come from `POST <mount>/datakey/plaintext/<key>` and are unwrapped by
//! `POST <mount>/decrypt/<key>`.
//!
//! - An SSE-KMS CMK id is a Transit key name; without one, the configured default key.
//!   SSE-OSS uses a dedicated Transit key of its own (default `coffer-sse-oss`), so that
//!   with this backend nothing in the data directory can unwrap any data key.
//! - The envelope keeps the Transit key name, the key version that wrapped the data key,
//!   and Transit's ciphertext (`vault:vN:...`) as the wrapped key.
//! - Each wrap is bound to its object through Transit's `context`, which only a key created
//!   with `derived=true` uses (a plain key accepts and ignores it). Coffer therefore checks,
//!   once per key name, that a key is derived, refuses one that is not, and creates its own
//!   keys derived.
//! - Who may use which CMK is Coffer's decision, as with the built-in KMS: Vault sees one
//!   token, Coffer's, which may use every key it serves. A [`KeyAccess`] installed by the
//!   server is asked before each SSE-KMS call (`kms:GenerateDataKey`, `kms:Decrypt`), so an
//!   anonymous reader of a public bucket is still refused an SSE-KMS object.
//! - `datakey/plaintext` rather than `datakey/wrapped`: the latter returns only the
//!   ciphertext, and a write would need a second call (decrypt) to learn the key it must
//!   encrypt with. One call per PUT is the budget.

mod admin;
mod auth;
mod seal;
mod transport;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_service::{
    CachedUse, DataKey, Envelope, IssuedKey, KeyContext, KeyError, KeyProvider, KeyUsage, KeyUse,
    SseMethod,
};
use http::Method;
use serde::Deserialize;
use zeroize::Zeroizing;

use auth::Authenticator;
pub use auth::Credentials;
use transport::Transport;

/// The default deadline of one call to Vault.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_MOUNT: &str = "transit";
pub const DEFAULT_KMS_KEY: &str = "coffer-default";
pub const DEFAULT_SSE_OSS_KEY: &str = "coffer-sse-oss";

/// A token or secret id: wiped when dropped, never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where Vault is and which Transit keys Coffer uses.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// `http://host:port` or `https://host:port`.
    pub addr: String,
    /// PEM file of the CA certificates that an `https` Vault's certificate must chain to;
    /// `None` trusts the system's CA store.
    pub ca_cert: Option<std::path::PathBuf>,
    /// Where the Transit engine is mounted (`transit`).
    pub mount: String,
    /// The CMK of an SSE-KMS request that names none.
    pub default_key: String,
    /// The key behind SSE-OSS.
    pub sse_oss_key: String,
    pub credentials: Credentials,
    /// Deadline of each call (connect, request and answer).
    pub timeout: Duration,
}

/// Decides whether a caller may use a CMK (a Transit key name) for a data-path action
/// (`kms:GenerateDataKey`, `kms:Decrypt`).
pub trait KeyAccess: Send + Sync {
    fn allowed(&self, caller: &str, action: &str, key_name: &str) -> bool;
}

/// The Transit key manager.
pub struct VaultKms {
    /// Who may use which CMK; unset means every caller may (the server sets it).
    access: std::sync::OnceLock<std::sync::Arc<dyn KeyAccess>>,
    config: VaultConfig,
    transport: Transport,
    auth: Authenticator,
    /// Key names already seen to be derived, so the check costs one read per key.
    derived: Mutex<HashSet<String>>,
    /// Successful data-key calls per key name since start, for `coffer kms usage`:
    /// Vault keeps no such count.
    usage: Mutex<HashMap<String, KeyUsage>>,
}

#[derive(Deserialize)]
struct Answer<T> {
    data: T,
}

#[derive(Deserialize)]
struct DataKeyAnswer {
    ciphertext: String,
    key_version: u32,
    plaintext: Zeroizing<String>,
}

#[derive(Deserialize)]
struct DecryptAnswer {
    plaintext: Zeroizing<String>,
}

#[derive(Deserialize)]
struct KeyInfo {
    #[serde(default)]
    derived: bool,
}

impl VaultKms {
    pub fn new(config: VaultConfig) -> Result<VaultKms, String> {
        for name in [&config.default_key, &config.sse_oss_key] {
            check_key_name(name).map_err(|e| e.to_string())?;
        }
        if config.mount.is_empty() || config.mount.contains("..") {
            return Err(format!("invalid transit mount {:?}", config.mount));
        }
        let transport = Transport::new(&config.addr, config.timeout, config.ca_cert.as_deref())?;
        Ok(VaultKms {
            access: std::sync::OnceLock::new(),
            auth: Authenticator::new(config.credentials.clone()),
            config,
            transport,
            derived: Mutex::new(HashSet::new()),
            usage: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &VaultConfig {
        &self.config
    }

    /// Installs the permission check for CMK use. Can be set once.
    pub fn set_key_access(&self, access: std::sync::Arc<dyn KeyAccess>) {
        let _ = self.access.set(access);
    }

    /// The SSE-OSS key belongs to the service, not to a CMK a caller could be denied. Only
    /// that key is exempt: an envelope claiming SSE-OSS under any other key (one edited to
    /// dodge the check) is checked like a CMK use.
    fn permit(
        &self,
        method: SseMethod,
        caller: &str,
        action: &str,
        name: &str,
    ) -> Result<(), KeyError> {
        let service_key = method == SseMethod::ServiceManaged && name == self.config.sse_oss_key;
        match self.access.get() {
            Some(access) if !service_key && !access.allowed(caller, action, name) => {
                Err(KeyError::AccessDenied)
            }
            _ => Ok(()),
        }
    }

    /// Creates the default and SSE-OSS keys (derived) where they are missing and the token
    /// may create them. A key that exists must already be derived, or issuing refuses it.
    pub async fn ensure_keys(&self) -> Result<(), KeyError> {
        for name in [&self.config.default_key, &self.config.sse_oss_key] {
            match self.read_key(name).await {
                Ok(_) => {}
                Err(KeyError::KeyNotFound(_)) => self.create_transit_key(name).await?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates a derived AES-256-GCM Transit key (Transit leaves an existing key as it is).
    pub async fn create_transit_key(&self, name: &str) -> Result<(), KeyError> {
        check_key_name(name)?;
        let body = br#"{"type":"aes256-gcm96","derived":true}"#.to_vec();
        self.call(Method::POST, &self.path("keys", name), Some(body))
            .await?;
        tracing::info!(key = name, "created transit key");
        Ok(())
    }

    fn path(&self, operation: &str, key: &str) -> String {
        format!("{}/{operation}/{key}", self.config.mount)
    }

    /// One authenticated call; with AppRole, a refused token is replaced once by a new login.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<transport::Body, KeyError> {
        let body = body.map(Zeroizing::new);
        let token = self.auth.token(&self.transport).await?;
        let first = self
            .transport
            .call(method.clone(), path, Some(&token), body.clone())
            .await;
        match first {
            Err(KeyError::AccessDenied) if self.auth.can_relogin() => {
                self.auth.invalidate().await;
                let token = self.auth.token(&self.transport).await?;
                self.transport.call(method, path, Some(&token), body).await
            }
            other => other,
        }
    }

    async fn read_key(&self, name: &str) -> Result<KeyInfo, KeyError> {
        let body = self
            .call(Method::GET, &self.path("keys", name), None)
            .await
            .map_err(|e| name_missing(e, name))?;
        parse::<Answer<KeyInfo>>(&body).map(|a| a.data)
    }

    /// Refuses a key that would silently ignore the context binding.
    async fn check_derived(&self, name: &str) -> Result<(), KeyError> {
        if self.known_derived(name) {
            return Ok(());
        }
        if !self.read_key(name).await?.derived {
            return Err(KeyError::InvalidParameter(format!(
                "transit key {name} is not derived: Coffer binds each data key to its object \
                 through the key derivation context, so its keys need derived=true"
            )));
        }
        if let Ok(mut known) = self.derived.lock() {
            known.insert(name.to_owned());
        }
        Ok(())
    }

    fn known_derived(&self, name: &str) -> bool {
        self.derived.lock().is_ok_and(|k| k.contains(name))
    }

    /// Forgets what was learnt about a key that was deleted (a key created later under
    /// its name is checked afresh).
    fn forget(&self, name: &str) {
        if let Ok(mut known) = self.derived.lock() {
            known.remove(name);
        }
        if let Ok(mut usage) = self.usage.lock() {
            usage.remove(name);
        }
    }

    fn count(&self, name: &str, count: impl FnOnce(&mut KeyUsage)) {
        if let Ok(mut usage) = self.usage.lock() {
            count(usage.entry(name.to_owned()).or_default());
        }
    }

    /// Every key name's counts since start, for `/metrics`.
    pub fn usage_snapshot(&self) -> Vec<(String, KeyUsage)> {
        self.usage
            .lock()
            .map(|u| u.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    fn usage_of(&self, name: &str) -> KeyUsage {
        self.usage
            .lock()
            .ok()
            .and_then(|u| u.get(name).copied())
            .unwrap_or_default()
    }

    fn key_name<'a>(
        &'a self,
        method: SseMethod,
        kms_key_id: Option<&'a str>,
    ) -> Result<&'a str, KeyError> {
        let name = match method {
            SseMethod::ServiceManaged => self.config.sse_oss_key.as_str(),
            SseMethod::Kms => kms_key_id
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .unwrap_or(&self.config.default_key),
            SseMethod::CustomerProvided => {
                return Err(KeyError::InvalidParameter(
                    "customer-provided keys are not held by the KMS".into(),
                ));
            }
        };
        check_key_name(name)?;
        Ok(name)
    }
}

#[async_trait::async_trait]
impl KeyProvider for VaultKms {
    async fn issue(
        &self,
        method: SseMethod,
        kms_key_id: Option<&str>,
        context: &KeyContext,
        caller: &str,
    ) -> Result<IssuedKey, KeyError> {
        let name = self.key_name(method, kms_key_id)?;
        self.permit(method, caller, "kms:GenerateDataKey", name)?;
        self.check_derived(name).await?;
        let body = request_body(context, None)?;
        let answer = self
            .call(
                Method::POST,
                &self.path("datakey/plaintext", name),
                Some(body),
            )
            .await
            .map_err(|e| name_missing(e, name))?;
        let data = parse::<Answer<DataKeyAnswer>>(&answer)?.data;
        let plaintext = data_key(&data.plaintext)?;
        self.count(name, |u| u.generate_data_key += 1);
        Ok(IssuedKey {
            plaintext,
            key_id: name.to_owned(),
            key_version: data.key_version,
            wrapped: data.ciphertext.into_bytes(),
        })
    }

    async fn unwrap(
        &self,
        envelope: &Envelope,
        context: &KeyContext,
        caller: &str,
    ) -> Result<DataKey, KeyError> {
        if envelope.method == SseMethod::CustomerProvided {
            return Err(KeyError::InvalidParameter(
                "customer-provided keys are not held by the KMS".into(),
            ));
        }
        let name = envelope.key_id.as_str();
        check_key_name(name)?;
        self.permit(envelope.method, caller, "kms:Decrypt", name)?;
        let ciphertext = std::str::from_utf8(&envelope.wrapped_key)
            .ok()
            .filter(|c| c.starts_with("vault:v"))
            // Not Transit's: e.g. wrapped by the built-in KMS before the backend changed.
            .ok_or(KeyError::InvalidCiphertext)?;
        let body = request_body(context, Some(ciphertext))?;
        let answer = self
            .call(Method::POST, &self.path("decrypt", name), Some(body))
            .await
            .map_err(|e| name_missing(e, name))?;
        let key = data_key(&parse::<Answer<DecryptAnswer>>(&answer)?.data.plaintext)?;
        self.count(name, |u| u.decrypt += 1);
        Ok(key)
    }

    /// Coffer's own permission check, as for a call Vault answers: the cache is shared by
    /// every caller. Vault is not asked (that is what the cache saves), so a key disabled
    /// in Vault stops cached uses only when the entry expires.
    async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
        let action = match used.operation {
            KeyUse::Issue => "kms:GenerateDataKey",
            KeyUse::Unwrap => "kms:Decrypt",
        };
        self.permit(used.method, used.caller, action, used.key_id)
    }
}

/// Transit's `context` is bytes; the key context is serialised as JSON of a sorted map, so
/// the same object always yields the same bytes.
fn request_body(context: &KeyContext, ciphertext: Option<&str>) -> Result<Vec<u8>, KeyError> {
    let context =
        serde_json::to_vec(context).map_err(|e| KeyError::InvalidParameter(e.to_string()))?;
    let mut body = serde_json::json!({ "context": B64.encode(context) });
    match ciphertext {
        Some(c) => body["ciphertext"] = c.into(),
        None => body["bits"] = 256.into(),
    }
    serde_json::to_vec(&body).map_err(|e| KeyError::InvalidParameter(e.to_string()))
}

fn data_key(plaintext_b64: &str) -> Result<DataKey, KeyError> {
    let bytes = Zeroizing::new(
        B64.decode(plaintext_b64)
            .map_err(|_| KeyError::Unavailable("vault returned a malformed data key".into()))?,
    );
    let array: Zeroizing<[u8; 32]> = Zeroizing::new(
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::InvalidCiphertext)?,
    );
    Ok(DataKey::from_bytes(*array))
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, KeyError> {
    serde_json::from_slice(body)
        .map_err(|e| KeyError::Unavailable(format!("unreadable answer from vault: {e}")))
}

/// Transit's "not found" messages do not name the key; the error should.
fn name_missing(e: KeyError, name: &str) -> KeyError {
    match e {
        KeyError::KeyNotFound(_) => KeyError::KeyNotFound(name.to_owned()),
        other => other,
    }
}

/// A key name goes into a URL path: only the characters Transit names are made of, so
/// that a CMK id from a request cannot reach another endpoint.
fn check_key_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(KeyError::InvalidParameter(format!(
            "invalid transit key name {name:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_cannot_leave_the_key_path() {
        for bad in ["", "../sys/mounts", "a/b", "a?b", ".hidden", "a b"] {
            assert!(check_key_name(bad).is_err(), "{bad:?}");
        }
        for good in ["coffer-default", "tenant_1.key", "K9"] {
            assert!(check_key_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn the_context_is_the_same_bytes_for_the_same_object() {
        let a = KeyContext::from([
            ("object".to_owned(), "o".to_owned()),
            ("bucket".to_owned(), "b".to_owned()),
        ]);
        let b = KeyContext::from([
            ("bucket".to_owned(), "b".to_owned()),
            ("object".to_owned(), "o".to_owned()),
        ]);
        assert_eq!(
            request_body(&a, None).unwrap(),
            request_body(&b, None).unwrap()
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let creds = Credentials::AppRole {
            mount: "approle".into(),
            role_id: "role".into(),
            secret_id: Secret::new("s3cr3t".into()),
        };
        assert!(!format!("{creds:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", Credentials::Token(Secret::new("tok".into()))).contains("tok"));
    }
}
