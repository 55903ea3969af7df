//! A KMIP server as Coffer's key manager: a [`KeyProvider`] that speaks KMIP 1.4 (TTLV
//! over TLS, both ends authenticated by certificate) to a server that holds AES-256 keys
//! and never lets them out.
//!
//! - **Wrapping happens in the server.** A PUT generates its 32-byte data key here from
//!   the system CSPRNG and has the server Encrypt it with AES-256-GCM under the CMK; a GET
//!   has the server Decrypt it. So each costs one KMIP call, and the CMK's material never
//!   leaves the key manager (Coffer could not Get it: it never asks to).
//! - **Bound to the object.** The GCM additional authenticated data is the key context
//!   (bucket, object) in a length-prefixed canonical form: the server's Decrypt fails
//!   unless the envelope is opened for the object it was wrapped for. The nonce is
//!   Coffer's own (96 random bits per wrap) so the envelope does not depend on a server
//!   choosing a fresh one.
//! - **CMK ids are KMIP unique identifiers.** An SSE-KMS request's key id is the server's
//!   Unique Identifier of the key, and the envelope stores it: identifiers never change,
//!   while a Name can be moved to another object. The two keys Coffer owns (the default
//!   SSE-KMS key and the SSE-OSS key) are configured by Name, found by Locate (created and
//!   activated if missing) once, and used by identifier from then on.
//! - **Who may use which CMK** is Coffer's decision: the server sees one client, Coffer's
//!   certificate. A [`KeyAccess`] installed by the server is asked before each SSE-KMS
//!   call, as with the Vault backend.
//! - **The own codec.** `kmip-protocol` 0.4 brings rustls 0.19 / tokio-rustls 0.22 (or
//!   OpenSSL) for its TLS and a sync/async switch by feature; the handful of messages
//!   Coffer sends are simpler to own, with the specification's examples as tests.
//!
//! PyKMIP (the server the tests run) refuses Encrypt *and* Decrypt once a key is revoked
//! (KMIP lets a deactivated key still decrypt); a revoked CMK therefore makes its objects
//! unreadable until it is re-activated, which PyKMIP does not allow either.

mod admin;
mod protocol;
mod seal;
mod transport;
mod ttlv;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use coffer_service::{
    CachedUse, DataKey, Envelope, IssuedKey, KeyContext, KeyError, KeyProvider, KeyUsage, KeyUse,
    SseMethod,
};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use protocol::{AnswerError, Failure, GcmInput, Operation, TAG_LEN, reason, tag};
pub use transport::TlsFiles;
use transport::Transport;
use ttlv::Item;

/// The default deadline of one call to the KMIP server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_KMS_KEY: &str = "coffer-default";
pub const DEFAULT_SSE_OSS_KEY: &str = "coffer-sse-oss";

/// What starts a wrapped key of this backend, so that one wrapped by another (the
/// built-in KMS, Vault) is refused before a call, and a later format can be told apart.
const WRAP_MAGIC: &[u8] = b"KMIP\x01";
const NONCE_LEN: usize = 12;
const WRAPPED_LEN: usize = WRAP_MAGIC.len() + NONCE_LEN + 32 + TAG_LEN;
/// Names what the additional data binds, so it cannot be confused with another use.
const AAD_LABEL: &[u8] = b"coffer/kmip/v1/data-key";

/// Where the KMIP server is, how to authenticate to it and which keys Coffer owns.
#[derive(Debug, Clone)]
pub struct KmipConfig {
    /// `host:port`.
    pub addr: String,
    /// PEM file of the CA(s) that sign the server's certificate.
    pub ca: PathBuf,
    /// PEM files of Coffer's client certificate (chain) and its private key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// Name of the CMK of an SSE-KMS request that names none.
    pub default_key: String,
    /// Name of the key behind SSE-OSS.
    pub sse_oss_key: String,
    /// Deadline of each call (connect, TLS handshake, request and answer).
    pub timeout: Duration,
}

/// Decides whether a caller may use a CMK (a KMIP unique identifier) for a data-path
/// action (`kms:GenerateDataKey`, `kms:Decrypt`).
pub trait KeyAccess: Send + Sync {
    fn allowed(&self, caller: &str, action: &str, key_id: &str) -> bool;
}

/// The identifiers of the two keys Coffer owns, found once.
#[derive(Debug, Clone)]
struct ServiceKeys {
    default: String,
    sse_oss: String,
}

/// The KMIP key manager.
pub struct KmipKms {
    /// Who may use which CMK; unset means every caller may (the server sets it).
    access: OnceLock<Arc<dyn KeyAccess>>,
    config: KmipConfig,
    transport: Transport,
    service: tokio::sync::OnceCell<ServiceKeys>,
    rng: SystemRandom,
    /// Successful data-key calls per key since start, for `coffer kms usage`.
    usage: Mutex<HashMap<String, KeyUsage>>,
}

impl KmipKms {
    /// Reads the certificate files; makes no call to the server.
    pub fn new(config: KmipConfig) -> Result<KmipKms, String> {
        for name in [&config.default_key, &config.sse_oss_key] {
            check_id(name).map_err(|e| e.to_string())?;
        }
        let files = TlsFiles {
            ca: &config.ca,
            client_cert: &config.client_cert,
            client_key: &config.client_key,
        };
        let transport = Transport::new(&config.addr, &files, config.timeout)?;
        Ok(KmipKms {
            access: OnceLock::new(),
            config,
            transport,
            service: tokio::sync::OnceCell::new(),
            rng: SystemRandom::new(),
            usage: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &KmipConfig {
        &self.config
    }

    /// Installs the permission check for CMK use. Can be set once.
    pub fn set_key_access(&self, access: Arc<dyn KeyAccess>) {
        let _ = self.access.set(access);
    }

    /// Finds the default and SSE-OSS keys by name, creating (and activating) each that is
    /// missing. Until this succeeds once, the first request that needs them tries again.
    pub async fn ensure_keys(&self) -> Result<(), KeyError> {
        self.service_keys().await.map(|_| ())
    }

    /// The unique identifiers of the default and SSE-OSS keys, once found.
    pub async fn service_key_ids(&self) -> Result<(String, String), KeyError> {
        let keys = self.service_keys().await?;
        Ok((keys.default.clone(), keys.sse_oss.clone()))
    }

    async fn service_keys(&self) -> Result<&ServiceKeys, KeyError> {
        self.service
            .get_or_try_init(|| async {
                Ok(ServiceKeys {
                    default: self.find_or_create(&self.config.default_key).await?,
                    sse_oss: self.find_or_create(&self.config.sse_oss_key).await?,
                })
            })
            .await
    }

    async fn find_or_create(&self, name: &str) -> Result<String, KeyError> {
        let found = self.locate(name).await?;
        match found.as_slice() {
            [] => self.create_key(name).await,
            [uid] => Ok(uid.clone()),
            _ => Err(KeyError::InvalidParameter(format!(
                "{} KMIP keys are named {name}; Coffer needs exactly one",
                found.len()
            ))),
        }
    }

    /// The unique identifiers of the symmetric keys named `name`.
    pub async fn locate(&self, name: &str) -> Result<Vec<String>, KeyError> {
        let payload = self
            .call(Operation::Locate, protocol::locate_by_name(name), true)
            .await?;
        Ok(protocol::unique_identifiers(&payload))
    }

    fn count(&self, uid: &str, count: impl FnOnce(&mut KeyUsage)) {
        if let Ok(mut usage) = self.usage.lock() {
            count(usage.entry(uid.to_owned()).or_default());
        }
    }

    fn usage_of(&self, uid: &str) -> KeyUsage {
        self.usage
            .lock()
            .ok()
            .and_then(|u| u.get(uid).copied())
            .unwrap_or_default()
    }

    /// Creates an AES-256 key named `name` for Encrypt and Decrypt, activates it, and
    /// returns its unique identifier.
    pub async fn create_key(&self, name: &str) -> Result<String, KeyError> {
        check_id(name)?;
        let payload = self
            .call(Operation::Create, protocol::create_aes256(name), false)
            .await?;
        let uid = protocol::text_of(&payload, tag::UNIQUE_IDENTIFIER).ok_or_else(|| {
            KeyError::Unavailable("kmip Create answered without an identifier".into())
        })?;
        self.call(Operation::Activate, protocol::object(&uid), false)
            .await?;
        tracing::info!(key = name, id = %uid, "created kmip key");
        Ok(uid)
    }

    /// Revokes a key (cessation of operation): it no longer encrypts.
    pub async fn revoke(&self, uid: &str) -> Result<(), KeyError> {
        check_id(uid)?;
        self.call(Operation::Revoke, protocol::revoke(uid), false)
            .await
            .map(|_| ())
    }

    /// Destroys a revoked key: what it wrapped is unrecoverable.
    pub async fn destroy(&self, uid: &str) -> Result<(), KeyError> {
        check_id(uid)?;
        self.call(Operation::Destroy, protocol::object(uid), false)
            .await
            .map(|_| ())
    }

    /// One request and its answer's payload, with a refusal turned into a [`KeyError`].
    async fn call(
        &self,
        operation: Operation,
        payload: Vec<Item>,
        repeatable: bool,
    ) -> Result<Item, KeyError> {
        let request = protocol::request(operation, payload);
        let answer = self.transport.call(&request, repeatable).await?;
        protocol::response_payload(&answer, operation).map_err(|e| match e {
            AnswerError::Failed(failure) => refusal(operation, failure),
            AnswerError::Malformed(what) => {
                KeyError::Unavailable(format!("unusable kmip answer: {what}"))
            }
        })
    }

    /// The SSE-OSS key belongs to the service, not to a CMK a caller could be denied. Only
    /// that key is exempt: an envelope claiming SSE-OSS under another key is checked.
    fn permit(
        &self,
        service_key: bool,
        caller: &str,
        action: &str,
        uid: &str,
    ) -> Result<(), KeyError> {
        match self.access.get() {
            Some(access) if !service_key && !access.allowed(caller, action, uid) => {
                Err(KeyError::AccessDenied)
            }
            _ => Ok(()),
        }
    }

    /// The key an issue uses, and whether it is the service's own SSE-OSS key.
    async fn issuing_key(
        &self,
        method: SseMethod,
        kms_key_id: Option<&str>,
    ) -> Result<(String, bool), KeyError> {
        let requested = kms_key_id.map(str::trim).filter(|k| !k.is_empty());
        match (method, requested) {
            (SseMethod::ServiceManaged, _) => {
                Ok((self.service_keys().await?.sse_oss.clone(), true))
            }
            (SseMethod::Kms, Some(uid)) => check_id(uid).map(|()| (uid.to_owned(), false)),
            (SseMethod::Kms, None) => Ok((self.service_keys().await?.default.clone(), false)),
            (SseMethod::CustomerProvided, _) => Err(customer_keys()),
        }
    }

    fn random<const N: usize>(&self) -> Result<Zeroizing<[u8; N]>, KeyError> {
        let mut out = Zeroizing::new([0u8; N]);
        self.rng
            .fill(out.as_mut())
            .map_err(|_| KeyError::Unavailable("the system random generator failed".into()))?;
        Ok(out)
    }
}

#[async_trait::async_trait]
impl KeyProvider for KmipKms {
    async fn issue(
        &self,
        method: SseMethod,
        kms_key_id: Option<&str>,
        context: &KeyContext,
        caller: &str,
    ) -> Result<IssuedKey, KeyError> {
        let (uid, service_key) = self.issuing_key(method, kms_key_id).await?;
        self.permit(service_key, caller, "kms:GenerateDataKey", &uid)?;
        let data_key = self.random::<32>()?;
        let nonce = self.random::<NONCE_LEN>()?;
        let aad = additional_data(context);
        let input = GcmInput {
            uid: &uid,
            data: data_key.as_ref(),
            nonce: nonce.as_ref(),
            aad: &aad,
        };
        let payload = self
            .call(Operation::Encrypt, protocol::encrypt(&input), true)
            .await
            .map_err(|e| name_missing(e, &uid))?;
        let wrapped = wrapped_key(&payload, nonce.as_ref())?;
        self.count(&uid, |u| u.generate_data_key += 1);
        Ok(IssuedKey {
            plaintext: DataKey::from_bytes(*data_key),
            key_id: uid,
            // A KMIP key is one version (a re-key is a new object with its own identifier),
            // numbered 1 as the other key managers number their first.
            key_version: 1,
            wrapped,
        })
    }

    async fn unwrap(
        &self,
        envelope: &Envelope,
        context: &KeyContext,
        caller: &str,
    ) -> Result<DataKey, KeyError> {
        if envelope.method == SseMethod::CustomerProvided {
            return Err(customer_keys());
        }
        let uid = envelope.key_id.as_str();
        check_id(uid)?;
        let service_key = envelope.method == SseMethod::ServiceManaged
            && self.service_keys().await?.sse_oss == uid;
        self.permit(service_key, caller, "kms:Decrypt", uid)?;
        let parts = WrappedParts::parse(&envelope.wrapped_key)?;
        let aad = additional_data(context);
        let input = GcmInput {
            uid,
            data: parts.ciphertext,
            nonce: parts.nonce,
            aad: &aad,
        };
        let payload = self
            .call(
                Operation::Decrypt,
                protocol::decrypt(&input, parts.auth_tag),
                true,
            )
            .await
            .map_err(|e| name_missing(e, uid))?;
        let plain = protocol::bytes_of(&payload, tag::DATA).ok_or(KeyError::InvalidCiphertext)?;
        let key: Zeroizing<[u8; 32]> = Zeroizing::new(
            plain
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::InvalidCiphertext)?,
        );
        self.count(uid, |u| u.decrypt += 1);
        Ok(DataKey::from_bytes(*key))
    }

    /// Coffer's own permission check, as for a call the server answers: the caches are
    /// shared by every caller. The server is not asked (that is what the cache saves), so
    /// a key revoked on the server stops cached uses only when the entry expires.
    async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
        let action = match used.operation {
            KeyUse::Issue => "kms:GenerateDataKey",
            KeyUse::Unwrap => "kms:Decrypt",
        };
        let service_key = used.method == SseMethod::ServiceManaged
            && self.service_keys().await?.sse_oss == used.key_id;
        self.permit(service_key, used.caller, action, used.key_id)
    }
}

fn customer_keys() -> KeyError {
    KeyError::InvalidParameter("customer-provided keys are not held by the KMS".into())
}

/// The key context as bytes: a label, then each (name, value) pair in the map's sorted
/// order, every string prefixed by its length so no two contexts share an encoding.
fn additional_data(context: &KeyContext) -> Vec<u8> {
    let mut out = AAD_LABEL.to_vec();
    for (name, value) in context {
        for s in [name, value] {
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// The envelope's wrapped key: magic, Coffer's nonce, the server's ciphertext and tag.
fn wrapped_key(payload: &Item, nonce: &[u8]) -> Result<Vec<u8>, KeyError> {
    let bad = |what: &str| KeyError::Unavailable(format!("kmip Encrypt answered {what}"));
    let ciphertext = protocol::bytes_of(payload, tag::DATA).ok_or_else(|| bad("no data"))?;
    let auth_tag = protocol::bytes_of(payload, tag::AUTHENTICATED_ENCRYPTION_TAG)
        .ok_or_else(|| bad("no authentication tag"))?;
    // The server may echo the nonce; if it does, it must be Coffer's.
    if protocol::bytes_of(payload, tag::IV_COUNTER_NONCE).is_some_and(|n| n.as_slice() != nonce) {
        return Err(bad("another nonce"));
    }
    if ciphertext.len() != 32 || auth_tag.len() != TAG_LEN {
        return Err(bad("a ciphertext or tag of the wrong length"));
    }
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    for part in [WRAP_MAGIC, nonce, ciphertext, auth_tag] {
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// A wrapped key of this backend, taken apart.
#[derive(Debug, PartialEq, Eq)]
struct WrappedParts<'a> {
    nonce: &'a [u8],
    ciphertext: &'a [u8],
    auth_tag: &'a [u8],
}

impl<'a> WrappedParts<'a> {
    fn parse(wrapped: &'a [u8]) -> Result<WrappedParts<'a>, KeyError> {
        if wrapped.len() != WRAPPED_LEN || !wrapped.starts_with(WRAP_MAGIC) {
            // Not ours: e.g. wrapped by the built-in KMS before the backend changed.
            return Err(KeyError::InvalidCiphertext);
        }
        let rest = &wrapped[WRAP_MAGIC.len()..];
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (ciphertext, auth_tag) = rest.split_at(32);
        Ok(WrappedParts {
            nonce,
            ciphertext,
            auth_tag,
        })
    }
}

/// A KMIP refusal as a [`KeyError`]. The server's messages name objects and states, never
/// key material, so they may be shown.
fn refusal(operation: Operation, failure: Failure) -> KeyError {
    let Failure { reason, message } = failure;
    match reason {
        reason::ITEM_NOT_FOUND => KeyError::KeyNotFound(message),
        // PyKMIP's answer to Encrypt or Decrypt with a key that is not Active.
        reason::PERMISSION_DENIED if message.contains("Active state") => KeyError::Disabled,
        reason::PERMISSION_DENIED | reason::AUTHENTICATION_NOT_SUCCESSFUL => KeyError::AccessDenied,
        // A GCM tag that does not verify: PyKMIP lets the cipher's exception through as a
        // general failure, other servers answer cryptographic failure. On Decrypt either
        // means the wrapped key does not open under this key and context.
        reason::CRYPTOGRAPHIC_FAILURE | reason::GENERAL_FAILURE
            if operation == Operation::Decrypt =>
        {
            KeyError::InvalidCiphertext
        }
        reason::GENERAL_FAILURE => KeyError::Unavailable(format!("kmip server: {message}")),
        _ => KeyError::InvalidParameter(format!("kmip refused {operation:?}: {message}")),
    }
}

/// The server's "not found" message names its own lookup; the error should name the key.
fn name_missing(e: KeyError, uid: &str) -> KeyError {
    match e {
        KeyError::KeyNotFound(_) => KeyError::KeyNotFound(uid.to_owned()),
        other => other,
    }
}

/// A key identifier or name: printable ASCII without spaces, so that one taken from a
/// request cannot smuggle control characters into logs or the server's lookups.
fn check_id(id: &str) -> Result<(), KeyError> {
    if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(KeyError::InvalidParameter(format!(
            "invalid kmip key id {id:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttlv::Value;

    fn context(pairs: &[(&str, &str)]) -> KeyContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn contexts_that_differ_never_share_additional_data() {
        let a = context(&[("bucket", "b"), ("object", "o/x")]);
        let b = context(&[("bucket", "b"), ("object", "o/y")]);
        let shifted = context(&[("bucket", "bo"), ("object", "/x")]);
        let bucket_only = context(&[("bucket", "b")]);
        let all = [&a, &b, &shifted, &bucket_only].map(additional_data);
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_eq!(additional_data(&a), additional_data(&a.clone()));
    }

    fn encrypt_answer(ciphertext: &[u8], auth_tag: &[u8]) -> Item {
        let b = |t, v: &[u8]| Item::new(t, Value::ByteString(Zeroizing::new(v.to_vec())));
        Item::structure(
            tag::RESPONSE_PAYLOAD,
            vec![
                Item::new(tag::UNIQUE_IDENTIFIER, Value::TextString("1".into())),
                b(tag::DATA, ciphertext),
                b(tag::AUTHENTICATED_ENCRYPTION_TAG, auth_tag),
            ],
        )
    }

    #[test]
    fn a_wrapped_key_splits_back_into_its_parts() {
        let wrapped = wrapped_key(&encrypt_answer(&[1; 32], &[2; 16]), &[3; 12]).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(
            WrappedParts::parse(&wrapped).unwrap(),
            WrappedParts {
                nonce: &[3; 12],
                ciphertext: &[1; 32],
                auth_tag: &[2; 16]
            }
        );
        assert_eq!(
            WrappedParts::parse(b"vault:v1:abc"),
            Err(KeyError::InvalidCiphertext)
        );
        assert!(wrapped_key(&encrypt_answer(&[1; 31], &[2; 16]), &[3; 12]).is_err());
        assert!(wrapped_key(&encrypt_answer(&[1; 32], &[2; 8]), &[3; 12]).is_err());
    }

    fn failed(reason: u32, message: &str) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }

    /// The messages are PyKMIP 0.11's own.
    #[test]
    fn refusals_map_to_key_errors() {
        let inactive = "The encryption key must be in the Active state to be used for encryption.";
        assert_eq!(
            refusal(
                Operation::Encrypt,
                failed(reason::PERMISSION_DENIED, inactive)
            ),
            KeyError::Disabled
        );
        assert!(matches!(
            refusal(
                Operation::Decrypt,
                failed(reason::ITEM_NOT_FOUND, "Could not locate object: 9")
            ),
            KeyError::KeyNotFound(_)
        ));
        assert_eq!(
            refusal(
                Operation::Decrypt,
                failed(reason::GENERAL_FAILURE, "Operation failed.")
            ),
            KeyError::InvalidCiphertext
        );
        assert!(refusal(Operation::Encrypt, failed(reason::GENERAL_FAILURE, "x")).is_retryable());
        assert_eq!(
            refusal(
                Operation::Encrypt,
                failed(reason::AUTHENTICATION_NOT_SUCCESSFUL, "x")
            ),
            KeyError::AccessDenied
        );
        assert!(!refusal(Operation::Create, failed(0x07, "Invalid field")).is_retryable());
    }

    #[test]
    fn key_ids_are_printable_and_bounded() {
        for bad in ["", "a b", "a\nb", &"x".repeat(129)] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        for good in ["1", "coffer-default", "a3e5f1c2-uuid-like", "tenant/key:1"] {
            assert!(check_id(good).is_ok(), "{good:?}");
        }
    }
}
