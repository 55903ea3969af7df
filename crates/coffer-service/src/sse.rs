//! Server-side encryption: which method an upload gets, and the keys that implement it.
//!
//! [`resolve_encryption`] is the one place precedence is decided (the request's own
//! choice, then the bucket default, then none); every write path calls it. Keys come
//! from a [`KeyProvider`], so the built-in KMS, an external KMS or a test double plug in
//! without this crate knowing which. A key the client supplies (SSE-C) never reaches a
//! provider: see [`crate::customer_key`].

use std::collections::BTreeMap;

use coffer_crypto::{CipherSuite, DataKey, Envelope, SegmentKey, SseMethod};
use coffer_storage::{EncryptionRule, KmsDataEncryption, SseAlgorithm};

use crate::error::{ServiceError, ServiceResult};
pub use crate::unwrap_cache::{CachedUse, KeyUse};

/// What a request asked for, already validated by the dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseRequest {
    pub method: SseMethod,
    pub suite: CipherSuite,
    /// SSE-KMS only: a CMK id or alias; `None` for the default CMK.
    pub kms_key_id: Option<String>,
}

impl SseRequest {
    /// The request equivalent of a bucket's default rule. A rule holding a value this
    /// build does not know is refused, never read as "no encryption".
    pub fn from_rule(rule: &EncryptionRule) -> ServiceResult<SseRequest> {
        // Checked first so that an unknown data cipher is refused even beside an
        // algorithm that would not use it.
        if let Some(value) = rule.unknown_value() {
            return Err(unsupported(value));
        }
        let (method, suite) = match &rule.algorithm {
            SseAlgorithm::Aes256 => (SseMethod::ServiceManaged, CipherSuite::Aes256Gcm),
            SseAlgorithm::Sm4 => (SseMethod::ServiceManaged, CipherSuite::Sm4Gcm),
            SseAlgorithm::Kms => match &rule.kms_data_encryption {
                None => (SseMethod::Kms, CipherSuite::Aes256Gcm),
                Some(KmsDataEncryption::Sm4) => (SseMethod::Kms, CipherSuite::Sm4Gcm),
                Some(KmsDataEncryption::Unknown(name)) => return Err(unsupported(name)),
            },
            SseAlgorithm::Unknown(name) => return Err(unsupported(name)),
        };
        let kms_key_id = match method {
            SseMethod::Kms => rule.kms_key_id.clone().filter(|k| !k.is_empty()),
            SseMethod::ServiceManaged | SseMethod::CustomerProvided => None,
        };
        Ok(SseRequest {
            method,
            suite,
            kms_key_id,
        })
    }
}

fn unsupported(value: &str) -> ServiceError {
    ServiceError::UnsupportedEncryptionRule(value.to_owned())
}

/// Precedence, for every write path (PUT, POST, first append, initiate, copy): an
/// explicit request wins, else the bucket default applies, else the object is stored in
/// plaintext. A bucket default that cannot be applied fails the write: nothing may be
/// stored in plaintext where encryption was asked for.
pub fn resolve_encryption(
    request: Option<&SseRequest>,
    bucket_default: Option<&EncryptionRule>,
) -> ServiceResult<Option<SseRequest>> {
    match (request, bucket_default) {
        (Some(r), _) => Ok(Some(r.clone())),
        (None, Some(rule)) => SseRequest::from_rule(rule).map(Some),
        (None, None) => Ok(None),
    }
}

/// What a key provider binds a wrapped key to: unwrapping with any other context fails.
pub type KeyContext = BTreeMap<String, String>;

/// A data key in plaintext (for this request only) and wrapped (for the envelope).
#[derive(Clone)]
pub struct IssuedKey {
    pub plaintext: DataKey,
    /// The resolved CMK id, or `service` for SSE-OSS.
    pub key_id: String,
    pub key_version: u32,
    pub wrapped: Vec<u8>,
}

/// Why a key could not be issued or unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key {0} not found")]
    KeyNotFound(String),
    #[error("alias {0} not found")]
    AliasNotFound(String),
    #[error("key is disabled")]
    Disabled,
    #[error("key is pending deletion")]
    PendingDeletion,
    /// The key's material was destroyed: what it protected is unrecoverable.
    #[error("key {0} was deleted")]
    Deleted(String),
    #[error("invalid key parameter: {0}")]
    InvalidParameter(String),
    /// The caller may not use the key.
    #[error("this request is forbidden by kms")]
    AccessDenied,
    /// The wrapped key does not open under its key and context.
    #[error("wrapped data key failed authentication")]
    InvalidCiphertext,
    /// The key service could not answer now (down, overloaded, its state not
    /// writable). Retrying later can help.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// The key service did not answer within the provider's deadline. A network provider
    /// bounds every call itself (connect and response) and reports an expired deadline
    /// as this, never by hanging the request. Retrying can help: issuing and unwrapping
    /// change no key state, so a call that timed out after the service acted is harmless.
    #[error("key service did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl KeyError {
    /// Whether the same call may succeed if retried later. Only a key service that could
    /// not answer is worth retrying; every other error is the key service's answer (the
    /// key's state, the caller's rights, the ciphertext) and repeats until that changes.
    pub fn is_retryable(&self) -> bool {
        matches!(self, KeyError::Unavailable(_) | KeyError::Timeout(_))
    }
}

/// Issues and unwraps data keys. The service awaits these on its async workers with no
/// lock held, so a provider may answer from memory (the built-in KMS seals or opens 32
/// bytes and appends an audit line: its async fns just run that code, because a trip
/// through the blocking pool costs two thread wake-ups, measured as a third of a small
/// encrypted GET's CPU) or over a network. A network provider must bound each call with
/// its own deadline and report [`KeyError::Timeout`] or [`KeyError::Unavailable`] when
/// the service does not answer; [`KeyError::is_retryable`] tells callers which errors a
/// retry can cure. An implementation must never block the calling thread on I/O.
#[async_trait::async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    async fn issue(
        &self,
        method: SseMethod,
        kms_key_id: Option<&str>,
        context: &KeyContext,
        caller: &str,
    ) -> Result<IssuedKey, KeyError>;
    async fn unwrap(
        &self,
        envelope: &Envelope,
        context: &KeyContext,
        caller: &str,
    ) -> Result<DataKey, KeyError>;

    /// A key use the service served from its cache (see [`CachedUse`]), reported so the
    /// provider can audit it and, answering from memory without calling its key service,
    /// check that `caller` may still use the key: an error refuses the use. The cache is
    /// shared by every caller, so a provider that authorizes per caller must check here.
    /// The default records nothing and allows the use.
    async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
        let _ = used;
        Ok(())
    }
}

/// The context a data key is wrapped under: the object it protects. A key shared by a
/// bucket's objects (the data-key cache) is bound to the bucket alone.
pub(crate) fn key_context(bucket: &str, object: Option<&str>) -> KeyContext {
    let mut c = KeyContext::new();
    c.insert("bucket".into(), bucket.into());
    if let Some(o) = object {
        c.insert("object".into(), o.into());
    }
    c
}

pub(crate) fn envelope_context(envelope: &Envelope) -> KeyContext {
    key_context(
        &envelope.bucket,
        (!envelope.object.is_empty()).then_some(envelope.object.as_str()),
    )
}

/// An object's plaintext data key together with its envelope, ready to derive segment keys.
pub(crate) struct ObjectKey {
    pub envelope: Envelope,
    data_key: DataKey,
}

impl ObjectKey {
    pub fn new(envelope: Envelope, data_key: DataKey) -> Self {
        ObjectKey { envelope, data_key }
    }

    pub fn segment(&self, index: u32) -> ServiceResult<SegmentKey> {
        let salt = self
            .envelope
            .salt_array()
            .ok_or_else(|| ServiceError::Internal("envelope salt is not 16 bytes".into()))?;
        Ok(SegmentKey::derive(
            &self.data_key,
            &salt,
            self.envelope.suite,
            index,
        ))
    }
}

/// Refuses an envelope of a format this build does not know, whatever its key source.
pub(crate) fn check_format(envelope: &Envelope) -> ServiceResult<()> {
    if envelope.format == Envelope::FORMAT {
        Ok(())
    } else {
        Err(ServiceError::Internal(format!(
            "unknown envelope format {}",
            envelope.format
        )))
    }
}

impl crate::Service {
    fn keys(&self) -> ServiceResult<std::sync::Arc<dyn KeyProvider>> {
        self.keys
            .clone()
            .ok_or_else(|| ServiceError::Internal("no key provider configured".into()))
    }

    /// Issues a fresh data key for a new object (or upload) under `plan`.
    pub(crate) async fn new_object_key(
        &self,
        plan: &SseRequest,
        bucket: &str,
        object: &str,
        caller: &str,
    ) -> ServiceResult<ObjectKey> {
        let keys = self.keys()?;
        let cached = plan.method == SseMethod::Kms && self.key_cache.is_some();
        let context = key_context(bucket, (!cached).then_some(object));
        let asked = std::sync::atomic::AtomicBool::new(false);
        let issue = || {
            asked.store(true, std::sync::atomic::Ordering::Relaxed);
            keys.issue(plan.method, plan.kms_key_id.as_deref(), &context, caller)
        };
        let issued = match &self.key_cache {
            Some(cache) => cache.get_or_issue(bucket, plan, issue).await?,
            None => issue().await?,
        };
        if !asked.load(std::sync::atomic::Ordering::Relaxed) {
            let used = CachedUse {
                operation: KeyUse::Issue,
                method: plan.method,
                key_id: &issued.key_id,
                key_version: issued.key_version,
                context: &context,
                caller,
            };
            keys.cached_use(&used).await?;
        }
        let envelope = Envelope {
            format: Envelope::FORMAT,
            method: plan.method,
            suite: plan.suite,
            key_id: issued.key_id.clone(),
            key_version: issued.key_version,
            wrapped_key: issued.wrapped.clone(),
            salt: rand::random::<[u8; 16]>().to_vec(),
            bucket: bucket.to_owned(),
            object: if cached {
                String::new()
            } else {
                object.to_owned()
            },
            key_verifier: None,
        };
        Ok(ObjectKey {
            envelope,
            data_key: issued.plaintext,
        })
    }

    /// Unwraps the managed data key of an existing object or upload. Callers go through
    /// [`crate::Service::existing_key`], which checks the request's key source first.
    pub(crate) async fn object_key(
        &self,
        envelope: &Envelope,
        caller: &str,
    ) -> ServiceResult<ObjectKey> {
        check_format(envelope)?;
        if envelope.method == SseMethod::CustomerProvided {
            // The key service never held this key; asking it would only fail obscurely.
            return Err(ServiceError::CustomerKeyRequired);
        }
        let keys = self.keys()?;
        let data_key = match &self.unwrap_cache {
            Some(cache) => self.cached_unwrap(cache, &*keys, envelope, caller).await?,
            None => {
                keys.unwrap(envelope, &envelope_context(envelope), caller)
                    .await?
            }
        };
        Ok(ObjectKey {
            envelope: envelope.clone(),
            data_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_key_service_that_could_not_answer_is_worth_retrying() {
        let retryable = [
            KeyError::Unavailable("down".into()),
            KeyError::Timeout(std::time::Duration::from_secs(2)),
        ];
        for e in retryable {
            assert!(e.is_retryable(), "{e}");
            assert!(ServiceError::Key(e).is_retryable());
        }
        let final_answers = [
            KeyError::KeyNotFound("k".into()),
            KeyError::AliasNotFound("alias/a".into()),
            KeyError::Disabled,
            KeyError::PendingDeletion,
            KeyError::Deleted("k".into()),
            KeyError::InvalidParameter("k".into()),
            KeyError::AccessDenied,
            KeyError::InvalidCiphertext,
        ];
        for e in final_answers {
            assert!(!e.is_retryable(), "{e}");
            assert!(!ServiceError::Key(e).is_retryable());
        }
    }
}
