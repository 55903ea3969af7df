use crate::records::ObjectRecord;

pub type StorageResult<T> = Result<T, StorageError>;

/// Failures a store reports. The logical ones (`NoSuchBucket`, ...) are checked inside the
/// same transaction as the write, so callers never act on a stale read.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("bucket does not exist")]
    NoSuchBucket,
    #[error("multipart upload does not exist")]
    NoSuchUpload,
    /// A conditional write found a different current object (boxed: records are large).
    #[error("the current object does not satisfy the write condition")]
    ConditionFailed { current: Option<Box<ObjectRecord>> },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("metadata backend error: {0}")]
    Backend(String),
}
