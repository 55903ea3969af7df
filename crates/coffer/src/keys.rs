//! Connects the object service's `KeyProvider` seam to the built-in KMS. An external KMS
//! would be another implementation of the same trait.

use std::sync::Arc;

use coffer_kms::{EncryptionContext, KeySelector, Kms, KmsError, WrappedKey};
use coffer_service::{Envelope, IssuedKey, KeyContext, KeyError, KeyProvider, SseMethod};
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

/// A customer-provided key (SSE-C) is never the KMS's to issue or unwrap; the service
/// does not ask, and a provider that is asked refuses.
fn not_managed() -> KeyError {
    KeyError::InvalidParameter("customer-provided keys are not held by the KMS".into())
}

fn to_data_key(plaintext: &coffer_kms::DataKey) -> coffer_service::DataKey {
    let bytes = Zeroizing::new(*plaintext.as_bytes());
    coffer_service::DataKey::from_bytes(*bytes)
}

// The built-in KMS answers from memory, so these async fns run its sync code inline:
// no blocking-pool hop (docs/performance.md). Its state saves never run here (see
// coffer_kms::Kms, rotation).
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
                self.0
                    .generate_data_key(&KeySelector::from_header(kms_key_id), &context, caller)
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
}
