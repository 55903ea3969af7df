//! The audit line of a data-key use that Coffer's bucket-key caches served for an external
//! key manager. Vault or a KMIP server audits the calls it answers; a use the cache served
//! never reaches it, so without this it would be recorded nowhere. [`AuditedCache`] wraps
//! the external provider: every call goes through unchanged, and each cached use, after
//! the provider's own permission check, is appended to Coffer's audit log
//! (`<data>/kms/audit.log`) marked with the backend's name.

use std::sync::Arc;

use coffer_kms::{EncryptionContext, Kms};
use coffer_service::{
    CachedUse, DataKey, Envelope, IssuedKey, KeyContext, KeyError, KeyProvider, SseMethod,
};

use crate::keys::cached_operation;

pub struct AuditedCache {
    pub inner: Arc<dyn KeyProvider>,
    /// Whose audit log the lines go to.
    pub kms: Arc<Kms>,
    /// `vault` or `kmip`.
    pub backend: &'static str,
}

#[async_trait::async_trait]
impl KeyProvider for AuditedCache {
    async fn issue(
        &self,
        method: SseMethod,
        kms_key_id: Option<&str>,
        context: &KeyContext,
        caller: &str,
    ) -> Result<IssuedKey, KeyError> {
        self.inner.issue(method, kms_key_id, context, caller).await
    }

    async fn unwrap(
        &self,
        envelope: &Envelope,
        context: &KeyContext,
        caller: &str,
    ) -> Result<DataKey, KeyError> {
        self.inner.unwrap(envelope, context, caller).await
    }

    async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
        let checked = self.inner.cached_use(used).await;
        if let Some(operation) = cached_operation(used) {
            self.kms.audit_external_cached_use(
                self.backend,
                operation,
                used.key_id,
                used.key_version,
                &EncryptionContext(used.context.clone()),
                used.caller,
                checked.is_ok(),
            );
        }
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_kms::KmsConfig;
    use coffer_service::KeyUse;

    /// An external manager that allows only alice and is never asked for keys here.
    struct OnlyAlice;

    #[async_trait::async_trait]
    impl KeyProvider for OnlyAlice {
        async fn issue(
            &self,
            _: SseMethod,
            _: Option<&str>,
            _: &KeyContext,
            _: &str,
        ) -> Result<IssuedKey, KeyError> {
            Err(KeyError::Unavailable("not in this test".into()))
        }

        async fn unwrap(&self, _: &Envelope, _: &KeyContext, _: &str) -> Result<DataKey, KeyError> {
            Err(KeyError::Unavailable("not in this test".into()))
        }

        async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
            match used.caller {
                "alice" => Ok(()),
                _ => Err(KeyError::AccessDenied),
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_cached_use_of_an_external_key_is_audited_with_its_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let config = KmsConfig {
            audit_log: Some(log.clone()),
            ..KmsConfig::default()
        };
        let kms = Arc::new(
            Kms::open(dir.path(), coffer_kms::RootKey::from_bytes([5; 32]), config).unwrap(),
        );
        let audited = AuditedCache {
            inner: Arc::new(OnlyAlice),
            kms,
            backend: "vault",
        };
        let context = KeyContext::from([("bucket".to_owned(), "photos".to_owned())]);
        let used = |caller| CachedUse {
            operation: KeyUse::Unwrap,
            method: SseMethod::Kms,
            key_id: "tenant-a",
            key_version: 3,
            context: &context,
            caller,
        };
        audited.cached_use(&used("alice")).await.unwrap();
        let refused = audited.cached_use(&used("bob")).await;
        assert_eq!(refused, Err(KeyError::AccessDenied));

        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|l: &serde_json::Value| l["operation"] == "Decrypt")
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (line, caller) in lines.iter().zip(["alice", "bob"]) {
            assert_eq!(line["caller"], caller, "{line}");
            assert_eq!(line["key_id"], "tenant-a", "{line}");
            assert_eq!(line["detail"]["backend"], "vault", "{line}");
            assert_eq!(line["detail"]["served_from"], "cache", "{line}");
        }
        assert_ne!(lines[0]["outcome"], lines[1]["outcome"], "{text}");
    }
}
