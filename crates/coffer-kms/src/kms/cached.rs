//! Data-key uses a caller served from its own cache (Coffer's bucket-key caches), so the
//! KMS never saw them: each is audited like the call it saved, marked
//! `"detail":{"served_from":"cache"}`, after the checks that call would have made that
//! need no cryptography (the CMK exists and is Enabled, the caller may use it). A refusal
//! is audited with its outcome and returned, so disabling a CMK or revoking a caller's
//! right takes effect at once even for cached keys. Usage counters are not bumped: they
//! count the KMS's own work.

use crate::audit::AuditEvent;
use crate::{EncryptionContext, KmsError};

use super::{Kms, SERVICE_KEY_ID, resolve, usable};

/// Which KMS call a cached use stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachedOperation {
    GenerateDataKey,
    Decrypt,
    GenerateServiceDataKey,
    DecryptServiceDataKey,
}

impl CachedOperation {
    fn name(self) -> &'static str {
        match self {
            CachedOperation::GenerateDataKey => "GenerateDataKey",
            CachedOperation::Decrypt => "Decrypt",
            CachedOperation::GenerateServiceDataKey => "GenerateServiceDataKey",
            CachedOperation::DecryptServiceDataKey => "DecryptServiceDataKey",
        }
    }

    /// The permission a CMK use needs; `None` for the service key, which no caller is
    /// denied.
    fn action(self) -> Option<&'static str> {
        match self {
            CachedOperation::GenerateDataKey => Some("kms:GenerateDataKey"),
            CachedOperation::Decrypt => Some("kms:Decrypt"),
            CachedOperation::GenerateServiceDataKey | CachedOperation::DecryptServiceDataKey => {
                None
            }
        }
    }
}

impl Kms {
    /// Checks and audits a use of a data key wrapped under `key_id` (version
    /// `key_version`) that the caller served from its cache. See the module docs.
    pub fn record_cached_use(
        &self,
        operation: CachedOperation,
        key_id: &str,
        key_version: u32,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<(), KmsError> {
        let mut event = AuditEvent::new(self.clock.now(), caller, operation.name())
            .context(context)
            .detail("served_from", "cache");
        event.set_key(key_id, Some(key_version));
        let result = match operation.action() {
            Some(action) => self.check_cached_cmk_use(caller, action, key_id),
            None if key_id == SERVICE_KEY_ID => Ok(()),
            None => Err(KmsError::InvalidParameter(
                "this data key is wrapped by a CMK (SSE-KMS), not the service key".into(),
            )),
        };
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// Audits a data-key use that Coffer's cache served for an external key manager
    /// (`backend`: `vault`, `kmip`), which therefore never saw it: the same line as
    /// [`Kms::record_cached_use`] writes, with `"backend"` in the detail. The external
    /// provider made the permission check; `allowed` is its answer. The key id is the
    /// external manager's, which this KMS does not hold, so nothing is looked up.
    #[allow(clippy::too_many_arguments)]
    pub fn audit_external_cached_use(
        &self,
        backend: &str,
        operation: CachedOperation,
        key_id: &str,
        key_version: u32,
        context: &EncryptionContext,
        caller: &str,
        allowed: bool,
    ) {
        let mut event = AuditEvent::new(self.clock.now(), caller, operation.name())
            .context(context)
            .detail("served_from", "cache")
            .detail("backend", backend);
        event.set_key(key_id, Some(key_version));
        let result = if allowed {
            Ok(())
        } else {
            Err(KmsError::AccessDenied)
        };
        self.audit(vec![event.outcome(&result)]);
    }

    fn check_cached_cmk_use(
        &self,
        caller: &str,
        action: &str,
        key_id: &str,
    ) -> Result<(), KmsError> {
        let st = self.lock();
        let id = resolve(&st.file, key_id)?;
        self.permit(caller, action, &id)?;
        usable(&st.file.keys[&id])
    }
}
