//! The KMS error type.

/// Everything a KMS call can fail with.
///
/// How the OSS layer should report them (see `oss-api.md` §2.5 and §7.2):
///
/// | Variant | OSS code | HTTP |
/// |---|---|---|
/// | `KeyNotFound` | `KeyNotFound` | 404 |
/// | `AliasNotFound` | `AliasNotFound` | 404 |
/// | `KeyDisabled` | `KeyDisabled` | 409 |
/// | `KeyPendingDeletion` | `KeyPendingDeletion` | 409 |
/// | `KeyDeleted` | `KeyNotFound` (what Alibaba KMS reports for a deleted key) | 404 |
/// | `InvalidParameter` | `InvalidParameter` | 400 |
/// | `InvalidCiphertext` | an internal error: the stored wrapped key does not open | 500 |
/// | `Storage` | an internal error | 500 |
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum KmsError {
    /// No CMK has this id (it was never created).
    #[error("the specified KMS key {0} is not found")]
    KeyNotFound(String),
    /// No alias has this name.
    #[error("the specified alias {0} is not found")]
    AliasNotFound(String),
    /// The CMK is Disabled.
    #[error("the request was rejected because the key state is Disabled")]
    KeyDisabled,
    /// The CMK is scheduled for deletion.
    #[error("the request was rejected because the key state is PendingDeletion")]
    KeyPendingDeletion,
    /// The CMK's key material was destroyed: everything wrapped under it is crypto-shredded.
    #[error("the key material was destroyed; data encrypted under this key is unrecoverable")]
    KeyDeleted,
    /// A malformed argument, or an operation the key's state does not allow
    /// (e.g. cancelling the deletion of a key that is not pending deletion).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The caller's policies do not allow this use of the key.
    #[error("This request is forbidden by kms")]
    AccessDenied,
    /// Unwrapping failed: another encryption context, a tampered blob or an unknown version.
    #[error("the ciphertext is invalid for this key and encryption context")]
    InvalidCiphertext,
    /// The state file or root key file could not be read or written, or does not match the root key.
    #[error("KMS storage error: {0}")]
    Storage(String),
}

impl KmsError {
    /// The variant name, as written to the audit log's `outcome` field.
    pub fn code(&self) -> &'static str {
        match self {
            KmsError::KeyNotFound(_) => "KeyNotFound",
            KmsError::AliasNotFound(_) => "AliasNotFound",
            KmsError::KeyDisabled => "KeyDisabled",
            KmsError::KeyPendingDeletion => "KeyPendingDeletion",
            KmsError::KeyDeleted => "KeyDeleted",
            KmsError::InvalidParameter(_) => "InvalidParameter",
            KmsError::AccessDenied => "AccessDenied",
            KmsError::InvalidCiphertext => "InvalidCiphertext",
            KmsError::Storage(_) => "Storage",
        }
    }

    pub(crate) fn io(what: &str, err: std::io::Error) -> KmsError {
        KmsError::Storage(format!("{what}: {err}"))
    }
}
