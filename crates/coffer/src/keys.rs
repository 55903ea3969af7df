//! Connects the object service's `KeyProvider` seam to the built-in KMS. An external KMS
//! would be another implementation of the same trait.

use std::sync::Arc;

use coffer_kms::{CachedOperation, EncryptionContext, KeySelector, Kms, KmsError, WrappedKey};
use coffer_service::{
    CachedUse, Envelope, IssuedKey, KeyContext, KeyError, KeyProvider, KeyUse, SseMethod,
};
use zeroize::Zeroizing;

pub struct BuiltinKms(pub Arc<Kms>);

fn key_error(e: KmsError, key_id: Option<&str>) -> KeyError {
    let id = key_id.unwrap_or_default().to_owned();
    match e {
        KmsError::KeyNotFound(id) => KeyError::KeyNotFound(id),
        KmsError::AliasNotFound(alias) => KeyError::AliasNotFound(alias),
        KmsError::KeyDisabled => KeyError::Disabled,
        KmsError::KeyPendingDeletion => KeyError::PendingDeletion,
        KmsError::KeyDeleted => KeyError::Deleted(id),
        KmsError::InvalidParameter(p) => KeyError::InvalidParameter(p),
        KmsError::InvalidCiphertext => KeyError::InvalidCiphertext,
        KmsError::AccessDenied => KeyError::AccessDenied,
        KmsError::Storage(detail) => KeyError::Unavailable(detail),
    }
}

impl BuiltinKms {
    /// `generate_data_key` when it must first create (and save) the default CMK: on the
    /// blocking pool, awaited, so the data key is issued only once the CMK is durable.
    async fn first_use(
        &self,
        selector: KeySelector,
        context: EncryptionContext,
        caller: &str,
    ) -> Result<coffer_kms::GeneratedKey, KmsError> {
        let (kms, caller) = (self.0.clone(), caller.to_owned());
        tokio::task::spawn_blocking(move || kms.generate_data_key(&selector, &context, &caller))
            .await
            .unwrap_or_else(|e| Err(KmsError::Storage(format!("creating the default CMK: {e}"))))
    }
}

/// A customer-provided key (SSE-C) is never the KMS's to issue or unwrap; the service
/// does not ask, and a provider that is asked refuses.
fn not_managed() -> KeyError {
    KeyError::InvalidParameter("customer-provided keys are not held by the KMS".into())
}

/// The KMS call a cached use stands for; `None` for a customer-provided key, which no KMS
/// ever held.
pub(crate) fn cached_operation(used: &CachedUse<'_>) -> Option<CachedOperation> {
    Some(match (used.method, used.operation) {
        (SseMethod::Kms, KeyUse::Issue) => CachedOperation::GenerateDataKey,
        (SseMethod::Kms, KeyUse::Unwrap) => CachedOperation::Decrypt,
        (SseMethod::ServiceManaged, KeyUse::Issue) => CachedOperation::GenerateServiceDataKey,
        (SseMethod::ServiceManaged, KeyUse::Unwrap) => CachedOperation::DecryptServiceDataKey,
        (SseMethod::CustomerProvided, _) => return None,
    })
}

fn to_data_key(plaintext: &coffer_kms::DataKey) -> coffer_service::DataKey {
    let bytes = Zeroizing::new(*plaintext.as_bytes());
    coffer_service::DataKey::from_bytes(*bytes)
}

// The built-in KMS answers from memory, so these async fns run its sync code inline:
// no blocking-pool hop (docs/performance.md). The one data-key call that saves KMS state
// (creating the default CMK on first use) runs on the blocking pool instead, so no
// runtime thread waits on its fsync; service-key rotations are saved by the KMS's own
// thread (coffer_kms::Kms).
#[async_trait::async_trait]
impl KeyProvider for BuiltinKms {
    async fn issue(
        &self,
        method: SseMethod,
        kms_key_id: Option<&str>,
        context: &KeyContext,
        caller: &str,
    ) -> Result<IssuedKey, KeyError> {
        let context = EncryptionContext(context.clone());
        let generated = match method {
            SseMethod::ServiceManaged => self.0.generate_service_data_key(&context, caller),
            SseMethod::Kms => {
                let selector = KeySelector::from_header(kms_key_id);
                match self
                    .0
                    .generate_data_key_from_memory(&selector, &context, caller)
                {
                    Some(generated) => generated,
                    None => self.first_use(selector, context, caller).await,
                }
            }
            SseMethod::CustomerProvided => return Err(not_managed()),
        }
        .map_err(|e| key_error(e, kms_key_id))?;
        Ok(IssuedKey {
            plaintext: to_data_key(&generated.plaintext),
            key_id: generated.wrapped.key_id.clone(),
            key_version: generated.wrapped.key_version,
            wrapped: generated.wrapped.ciphertext.clone(),
        })
    }

    async fn unwrap(
        &self,
        envelope: &Envelope,
        context: &KeyContext,
        caller: &str,
    ) -> Result<coffer_service::DataKey, KeyError> {
        let wrapped = WrappedKey {
            key_id: envelope.key_id.clone(),
            key_version: envelope.key_version,
            ciphertext: envelope.wrapped_key.clone(),
        };
        let context = EncryptionContext(context.clone());
        let plaintext = match envelope.method {
            SseMethod::ServiceManaged => {
                self.0.decrypt_service_data_key(&wrapped, &context, caller)
            }
            SseMethod::Kms => self.0.decrypt_data_key(&wrapped, &context, caller),
            SseMethod::CustomerProvided => return Err(not_managed()),
        }
        .map_err(|e| key_error(e, Some(&envelope.key_id)))?;
        Ok(to_data_key(&plaintext))
    }

    /// Audited (marked as served from cache) and checked against the CMK's state and the
    /// caller's rights, from memory like every other call here.
    async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
        let operation = cached_operation(used).ok_or_else(not_managed)?;
        let context = EncryptionContext(used.context.clone());
        self.0
            .record_cached_use(
                operation,
                used.key_id,
                used.key_version,
                &context,
                used.caller,
            )
            .map_err(|e| key_error(e, Some(used.key_id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_kms::KmsConfig;

    fn open(dir: &std::path::Path) -> Arc<Kms> {
        let root = coffer_kms::RootKey::from_bytes([3; 32]);
        Arc::new(Kms::open(dir, root, KmsConfig::default()).unwrap())
    }

    /// The first SSE-KMS write without a key id creates the default CMK (on the blocking
    /// pool, since it saves state); the key survives a restart and unwraps what it issued.
    #[tokio::test(flavor = "current_thread")]
    async fn default_cmk_created_on_first_use_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let provider = BuiltinKms(open(dir.path()));
        let context = KeyContext::from([("bucket".to_owned(), "b".to_owned())]);
        let issued = provider
            .issue(SseMethod::Kms, None, &context, "t")
            .await
            .unwrap();
        let second = provider
            .issue(SseMethod::Kms, Some(" "), &context, "t")
            .await
            .unwrap();
        assert_eq!(second.key_id, issued.key_id, "created once");
        drop(provider);

        let kms = open(dir.path());
        assert_eq!(kms.default_key_id(), Some(issued.key_id.clone()));
        let wrapped = WrappedKey {
            key_id: issued.key_id,
            key_version: issued.key_version,
            ciphertext: issued.wrapped,
        };
        let plaintext = kms
            .decrypt_data_key(&wrapped, &EncryptionContext(context), "t")
            .unwrap();
        assert_eq!(plaintext.as_bytes(), issued.plaintext.as_bytes());
    }

    /// The built-in KMS passes the key-lifecycle contract every key manager runs.
    #[tokio::test(flavor = "current_thread")]
    async fn builtin_kms_passes_the_key_lifecycle_contract() {
        use coffer_service::contract::{KeyManagerUnderTest, key_lifecycle_contract};
        let dir = tempfile::tempdir().unwrap();
        let kms = open(dir.path());
        key_lifecycle_contract(KeyManagerUnderTest {
            provider: Arc::new(BuiltinKms(kms.clone())),
            admin: Arc::new(coffer_admin::BuiltinKeyAdmin::new(kms)),
            new_key: Box::new(|label| coffer_service::NewKey {
                name: None,
                description: format!("contract key {label}"),
            }),
            missing_key: "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f".into(),
        })
        .await;
    }
}
