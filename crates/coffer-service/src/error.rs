//! The service's closed error type, in dialect-neutral terms.

use coffer_storage::StorageError;

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Why an operation failed, in dialect-neutral terms. Each dialect maps these to its own
/// codes, statuses and messages.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("no such key")]
    NoSuchKey,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// The name is taken by another owner.
    #[error("bucket already exists")]
    BucketAlreadyExists,
    #[error("invalid bucket name")]
    InvalidBucketName,
    #[error("invalid object name: {0}")]
    InvalidObjectName(&'static str),
    #[error("entity too large")]
    EntityTooLarge,
    #[error("entity too small")]
    EntityTooSmall,
    #[error("body digest does not match Content-MD5")]
    BadDigest,
    #[error("invalid part")]
    InvalidPart,
    #[error("invalid part order")]
    InvalidPartOrder,
    #[error("invalid argument {name}: {message}")]
    InvalidArgument {
        name: &'static str,
        value: String,
        message: String,
    },
    #[error("append position {position} is not the object length {length}")]
    PositionNotEqualToLength { position: u64, length: u64 },
    /// An appendable object cannot have this storage class (ColdArchive, DeepColdArchive).
    #[error("an appendable object cannot be of storage class {0}")]
    AppendableStorageClass(String),
    #[error("object is not appendable")]
    ObjectNotAppendable,
    /// Overwrite forbidden and the key exists.
    #[error("object already exists")]
    ObjectAlreadyExists,
    /// A conditional request's condition did not hold; names which one when a request
    /// header set it (a lost race with another writer names none).
    #[error("precondition failed")]
    PreconditionFailed(Option<FailedCondition>),
    #[error("not modified")]
    NotModified,
    #[error("range not satisfiable")]
    InvalidRange,
    /// The body ended before its declared length, or the client went away.
    #[error("incomplete body: {0}")]
    IncompleteBody(String),
    /// The key protecting the object (or asked for) cannot be used.
    #[error("key error: {0}")]
    Key(#[from] crate::sse::KeyError),
    /// The bucket's default encryption rule holds a value this build cannot apply (it was
    /// stored by another build, or damaged): the write is refused, never done in
    /// plaintext. Names the value.
    #[error("bucket default encryption rule has unsupported value {0:?}")]
    UnsupportedEncryptionRule(String),
    /// The object (or upload) is sealed under a key the client supplies (SSE-C), and the
    /// request supplied none.
    #[error("the object is encrypted with a customer-provided key, which the request lacks")]
    CustomerKeyRequired,
    /// The request's customer-provided key is not the one the object is sealed under.
    #[error("the customer-provided key does not match the object's")]
    CustomerKeyMismatch,
    /// The request supplied a customer key for an object that is not sealed under one.
    #[error("a customer-provided key does not apply to this object")]
    CustomerKeyNotApplicable,
    /// A write asked for both a customer-provided key and managed encryption.
    #[error("a customer-provided key cannot be combined with managed encryption")]
    ConflictingEncryption,
    /// Stored encrypted data failed authentication: tampering or corruption.
    #[error("stored data of {bucket}/{key} failed its integrity check")]
    Integrity { bucket: String, key: String },
    /// Stored data is missing or unreadable.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store failed; the error keeps its cause and says whether retrying can help.
    #[error("storage error: {0}")]
    Storage(#[source] StorageError),
}

/// Which precondition of a [`crate::Preconditions`] failed, so a dialect can name the
/// header that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedCondition {
    IfMatch,
    IfUnmodifiedSince,
}

impl ServiceError {
    /// Whether the same request may succeed if sent again: only a transient store failure
    /// or a key service that could not answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            ServiceError::Storage(e) => e.is_retryable(),
            ServiceError::Key(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn invalid_argument(
        name: &'static str,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ServiceError::InvalidArgument {
            name,
            value: value.into(),
            message: message.into(),
        }
    }
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NoSuchBucket => ServiceError::NoSuchBucket,
            StorageError::NoSuchUpload => ServiceError::NoSuchUpload,
            // Conditions are translated where they are set; reaching here means a race
            // with another writer, which the later write loses.
            StorageError::ConditionFailed { .. } => ServiceError::PreconditionFailed(None),
            other => ServiceError::Storage(other),
        }
    }
}

impl From<std::io::Error> for ServiceError {
    fn from(e: std::io::Error) -> Self {
        ServiceError::Storage(StorageError::Io(e))
    }
}
