//! Where an object's key comes from: a key service (SSE-OSS, SSE-KMS, or none), or the
//! client, with every request (SSE-C).
//!
//! Every operation that seals or opens object data takes a [`KeySource`]. A write with a
//! customer key makes an SSE-C object whatever the bucket default says (as on S3), and
//! cannot also ask for managed encryption. Every later use of that object (read, copy
//! from it, append to it, each part of its upload) must present the same key, which
//! [`KeySource::admits`] checks against the envelope's verifier; a customer key presented
//! for an object that has none is refused too, so a client never believes an object is
//! protected by its key when it is not.

use coffer_crypto::{CipherSuite, CustomerKey, Envelope, KeyVerifier, SseMethod};
use coffer_storage::EncryptionRule;

use crate::error::{ServiceError, ServiceResult};
use crate::sse::{ObjectKey, SseRequest, check_format, resolve_encryption};

/// Where the key of the object a request reads or writes comes from.
#[derive(Debug, Clone, Default)]
pub enum KeySource {
    /// A key service holds it (or the object is not encrypted). Every OSS request.
    #[default]
    Managed,
    /// The client supplied it with the request (SSE-C). The dialect has decoded it and
    /// checked it against the digest the client sent alongside.
    Customer(CustomerKey),
}

impl KeySource {
    /// Whether this source may open an object or upload protected by `encryption`
    /// (`None`: stored in plaintext). A dialect calls this on HEAD, which reads no data;
    /// every operation that reads or extends data calls it itself.
    pub fn admits(&self, encryption: Option<&Envelope>) -> ServiceResult<()> {
        let customer_envelope = encryption.filter(|e| e.method == SseMethod::CustomerProvided);
        match (self, customer_envelope) {
            (KeySource::Managed, None) => Ok(()),
            (KeySource::Managed, Some(_)) => Err(ServiceError::CustomerKeyRequired),
            (KeySource::Customer(_), None) => Err(ServiceError::CustomerKeyNotApplicable),
            (KeySource::Customer(key), Some(envelope)) => match &envelope.key_verifier {
                Some(verifier) if verifier.verifies(key) => Ok(()),
                Some(_) => Err(ServiceError::CustomerKeyMismatch),
                None => Err(ServiceError::Internal(
                    "customer-key envelope has no key verifier".into(),
                )),
            },
        }
    }
}

/// How a new object or upload is to be sealed.
pub(crate) enum WritePlan {
    Plaintext,
    Managed(SseRequest),
    Customer(CustomerKey),
}

/// Decides a write's encryption: a customer key, else the managed precedence of
/// [`resolve_encryption`]. A customer key with an explicit managed request is refused:
/// the client asked for two different things.
pub(crate) fn plan_write(
    sse: Option<&SseRequest>,
    source: &KeySource,
    bucket_default: Option<&EncryptionRule>,
) -> ServiceResult<WritePlan> {
    if sse.is_some_and(|r| r.method == SseMethod::CustomerProvided) {
        // A dialect bug, not a client's: SSE-C comes as a KeySource, with its key.
        return Err(ServiceError::Internal(
            "an SseRequest cannot ask for a customer-provided key".into(),
        ));
    }
    match (source, sse) {
        (KeySource::Customer(_), Some(_)) => Err(ServiceError::ConflictingEncryption),
        // The bucket default does not apply: the client chose how the object is sealed.
        (KeySource::Customer(key), None) => Ok(WritePlan::Customer(key.clone())),
        (KeySource::Managed, _) => Ok(match resolve_encryption(sse, bucket_default)? {
            Some(request) => WritePlan::Managed(request),
            None => WritePlan::Plaintext,
        }),
    }
}

/// A new SSE-C object's key: the customer's key as data key, a fresh salt for segment
/// keys and a verifier with its own salt. SSE-C is AES-256 only, as on S3.
pub(crate) fn customer_object_key(key: &CustomerKey, bucket: &str, object: &str) -> ObjectKey {
    let envelope = Envelope {
        format: Envelope::FORMAT,
        method: SseMethod::CustomerProvided,
        suite: CipherSuite::Aes256Gcm,
        key_id: String::new(),
        key_version: 0,
        wrapped_key: Vec::new(),
        salt: rand::random::<[u8; 16]>().to_vec(),
        bucket: bucket.to_owned(),
        object: object.to_owned(),
        key_verifier: Some(KeyVerifier::new(key, rand::random())),
    };
    ObjectKey::new(envelope, key.data_key())
}

impl crate::Service {
    /// The key a new object or upload in `bucket` is sealed under (`None`: plaintext), as
    /// [`plan_write`] decides from the request's managed choice, its key source and the
    /// bucket's default rule. Every write path that creates data asks this.
    pub(crate) async fn key_for_write(
        &self,
        sse: Option<&SseRequest>,
        source: &KeySource,
        bucket: &coffer_storage::BucketRecord,
        object: &str,
        caller: &str,
    ) -> ServiceResult<Option<ObjectKey>> {
        let plan = plan_write(sse, source, bucket.encryption.as_ref())?;
        self.new_key_for(&plan, &bucket.name, object, caller).await
    }

    /// The key a new object or upload is sealed under, `None` for plaintext.
    async fn new_key_for(
        &self,
        plan: &WritePlan,
        bucket: &str,
        object: &str,
        caller: &str,
    ) -> ServiceResult<Option<ObjectKey>> {
        Ok(match plan {
            WritePlan::Plaintext => None,
            WritePlan::Managed(request) => {
                Some(self.new_object_key(request, bucket, object, caller).await?)
            }
            WritePlan::Customer(key) => Some(customer_object_key(key, bucket, object)),
        })
    }

    /// The key of an existing object or upload, once `source` is admitted for it; `None`
    /// for plaintext.
    pub(crate) async fn existing_key(
        &self,
        encryption: Option<&Envelope>,
        source: &KeySource,
        caller: &str,
    ) -> ServiceResult<Option<ObjectKey>> {
        source.admits(encryption)?;
        let Some(envelope) = encryption else {
            return Ok(None);
        };
        Ok(Some(match source {
            KeySource::Customer(key) => {
                check_format(envelope)?;
                ObjectKey::new(envelope.clone(), key.data_key())
            }
            KeySource::Managed => self.object_key(envelope, caller).await?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(byte: u8) -> KeySource {
        KeySource::Customer(CustomerKey::from_bytes([byte; 32]))
    }

    fn managed_envelope() -> Envelope {
        let mut e = customer_object_key(&CustomerKey::from_bytes([0; 32]), "b", "o").envelope;
        e.method = SseMethod::Kms;
        e.key_verifier = None;
        e
    }

    #[test]
    fn each_source_opens_only_what_it_protects() {
        let key = CustomerKey::from_bytes([1; 32]);
        let sse_c = customer_object_key(&key, "b", "o").envelope;
        let managed = managed_envelope();
        assert!(KeySource::Managed.admits(None).is_ok());
        assert!(KeySource::Managed.admits(Some(&managed)).is_ok());
        assert!(customer(1).admits(Some(&sse_c)).is_ok());
        assert!(matches!(
            KeySource::Managed.admits(Some(&sse_c)),
            Err(ServiceError::CustomerKeyRequired)
        ));
        assert!(matches!(
            customer(2).admits(Some(&sse_c)),
            Err(ServiceError::CustomerKeyMismatch)
        ));
        for envelope in [None, Some(&managed)] {
            assert!(matches!(
                customer(1).admits(envelope),
                Err(ServiceError::CustomerKeyNotApplicable)
            ));
        }
    }

    #[test]
    fn a_customer_envelope_stores_no_key() {
        let envelope = customer_object_key(&CustomerKey::from_bytes([7; 32]), "b", "o").envelope;
        assert!(envelope.wrapped_key.is_empty());
        assert!(envelope.key_id.is_empty());
        let stored = serde_json::to_string(&envelope).unwrap();
        assert!(!stored.contains(&hex::encode([7u8; 32])));
    }

    #[test]
    fn a_customer_key_replaces_the_bucket_default_but_not_an_explicit_request() {
        let rule = EncryptionRule {
            algorithm: coffer_storage::SseAlgorithm::Kms,
            kms_key_id: None,
            kms_data_encryption: None,
        };
        assert!(matches!(
            plan_write(None, &customer(1), Some(&rule)),
            Ok(WritePlan::Customer(_))
        ));
        let request = SseRequest {
            method: SseMethod::ServiceManaged,
            suite: CipherSuite::Aes256Gcm,
            kms_key_id: None,
        };
        assert!(matches!(
            plan_write(Some(&request), &customer(1), None),
            Err(ServiceError::ConflictingEncryption)
        ));
        assert!(matches!(
            plan_write(None, &KeySource::Managed, Some(&rule)),
            Ok(WritePlan::Managed(SseRequest {
                method: SseMethod::Kms,
                ..
            }))
        ));
        assert!(matches!(
            plan_write(None, &KeySource::Managed, None),
            Ok(WritePlan::Plaintext)
        ));
    }
}
