//! What a store reports when it cannot do what it was asked.

use std::io;

use crate::records::ObjectRecord;

pub type StorageResult<T> = Result<T, StorageError>;

/// Any error a backend library reports, kept as the source of a [`StorageError`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Failures a store reports. The logical ones (`NoSuchBucket`, ...) are checked inside the
/// same transaction as the write, so callers never act on a stale read. The others keep
/// the error that caused them and say whether the same call may succeed if tried again
/// ([`StorageError::is_retryable`]), which a store on a network (PostgreSQL, S3) needs to
/// tell a dropped connection from a broken record.
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
    Io(#[from] io::Error),
    /// A stored record does not decode (or a value cannot be encoded): retrying cannot help.
    #[error("corrupt {what} record: {detail}")]
    Corrupt { what: String, detail: String },
    /// The backend failed; `context` says at what.
    #[error("metadata backend error: {context}")]
    Backend {
        context: String,
        #[source]
        source: Option<BackendError>,
        retryable: bool,
    },
}

impl StorageError {
    /// A backend failure with no underlying error value.
    pub fn backend(context: impl Into<String>, retryable: bool) -> Self {
        StorageError::Backend {
            context: context.into(),
            source: None,
            retryable,
        }
    }

    /// A backend failure caused by `source`.
    pub fn backend_from(
        context: impl Into<String>,
        source: impl Into<BackendError>,
        retryable: bool,
    ) -> Self {
        StorageError::Backend {
            context: context.into(),
            source: Some(source.into()),
            retryable,
        }
    }

    /// Whether the same call may succeed later: a transient I/O condition or a backend
    /// that said so. Logical outcomes and corrupt records never change by retrying.
    pub fn is_retryable(&self) -> bool {
        match self {
            StorageError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::Interrupted
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            ),
            StorageError::Backend { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn backend_errors_keep_their_source_and_retry_hint() {
        let e = StorageError::backend_from("commit", io::Error::other("disk went away"), true);
        assert!(e.is_retryable());
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("disk went away")
        );
        let corrupt = StorageError::Corrupt {
            what: "object".into(),
            detail: "expected value".into(),
        };
        assert!(!corrupt.is_retryable());
        assert!(StorageError::Io(io::ErrorKind::Interrupted.into()).is_retryable());
        assert!(!StorageError::Io(io::ErrorKind::NotFound.into()).is_retryable());
    }
}
