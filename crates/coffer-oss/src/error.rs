//! OSS errors: what goes into the `<Error>` document, its status, and the `x-oss-ec` code.
//!
//! An error is built from an [`ErrorCode`] (module [`code`]), the closed table that fixes
//! the status, `<Code>` and EC of every error Coffer answers with, plus a message and any
//! extra children or headers. Call sites name the variant, never the three values;
//! authentication errors (`auth::AuthError`) name theirs too and convert without loss.

pub mod code;

use coffer_service::{FailedCondition, ServiceError};
use http::StatusCode;

pub use code::ErrorCode;

use crate::auth::AuthError;

#[derive(Debug, Clone)]
pub struct OssError {
    /// Which error: fixes the status, `<Code>` and EC.
    pub code: ErrorCode,
    pub message: String,
    /// Extra children of `<Error>`, such as `StringToSign` or `ArgumentName`.
    pub extra: Vec<(&'static str, String)>,
    /// Extra response headers, such as `x-oss-next-append-position`.
    pub headers: Vec<(&'static str, String)>,
}

pub type OssResult<T> = Result<T, OssError>;

impl OssError {
    /// The error `code` with `message`.
    pub fn of(code: ErrorCode, message: impl Into<String>) -> Self {
        OssError {
            code,
            message: message.into(),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The `<EC>` / `x-oss-ec` value.
    pub fn ec(&self) -> &'static str {
        self.code.ec()
    }

    pub fn with_extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn invalid_argument(name: &str, value: &str, message: impl Into<String>) -> Self {
        OssError::of(ErrorCode::InvalidArgument, message)
            .with_extra("ArgumentName", name)
            .with_extra("ArgumentValue", value)
    }

    pub fn malformed_xml() -> Self {
        OssError::of(
            ErrorCode::MalformedXml,
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        OssError::of(ErrorCode::AccessDenied, message)
    }

    pub fn method_not_allowed() -> Self {
        OssError::of(
            ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        )
    }

    pub fn not_implemented(what: &str) -> Self {
        OssError::of(
            ErrorCode::NotImplemented,
            format!("{what} is not implemented by this server."),
        )
    }

    pub fn missing_content_length() -> Self {
        OssError::of(
            ErrorCode::MissingContentLength,
            "You must provide the Content-Length HTTP header.",
        )
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(detail, "internal error");
        OssError::of(
            ErrorCode::InternalError,
            "We encountered an internal error. Please try again.",
        )
    }
}

impl From<ServiceError> for OssError {
    fn from(e: ServiceError) -> Self {
        use ServiceError::*;
        match e {
            NoSuchBucket => OssError::of(
                ErrorCode::NoSuchBucket,
                "The specified bucket does not exist.",
            ),
            NoSuchKey => OssError::of(ErrorCode::NoSuchKey, "The specified key does not exist."),
            NoSuchUpload => OssError::of(
                ErrorCode::NoSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
            ),
            BucketNotEmpty => OssError::of(
                ErrorCode::BucketNotEmpty,
                "The bucket you tried to delete is not empty.",
            ),
            BucketAlreadyExists => OssError::of(
                ErrorCode::BucketAlreadyExists,
                "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
            ),
            InvalidBucketName => OssError::of(
                ErrorCode::InvalidBucketName,
                "The specified bucket is not valid.",
            ),
            InvalidObjectName(why) => OssError::of(ErrorCode::InvalidObjectName, why),
            EntityTooLarge => OssError::of(
                ErrorCode::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size.",
            ),
            EntityTooSmall => OssError::of(
                ErrorCode::EntityTooSmall,
                "Your proposed upload smaller than the minimum allowed size.",
            ),
            BadDigest => OssError::of(
                ErrorCode::InvalidDigest,
                "The Content-MD5 you specified was invalid.",
            ),
            InvalidPart => OssError::of(
                ErrorCode::InvalidPart,
                "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
            ),
            InvalidPartOrder => OssError::of(
                ErrorCode::InvalidPartOrder,
                "The list of parts was not in ascending order.",
            ),
            InvalidArgument {
                name,
                value,
                message,
            } => OssError::invalid_argument(name, &value, message),
            PositionNotEqualToLength { length, .. } => {
                let mut e = OssError::of(
                    ErrorCode::PositionNotEqualToLength,
                    "Position is not equal to file length",
                );
                e.headers
                    .push(("x-oss-next-append-position", length.to_string()));
                e
            }
            // OSS documents the case (EC 0016-00000503) but not its message.
            AppendableStorageClass(class) => OssError::of(
                ErrorCode::AppendableStorageClass,
                format!("An appendable object cannot be converted to the {class} storage class."),
            )
            .with_extra("ArgumentName", "x-oss-storage-class")
            .with_extra("ArgumentValue", &class),
            ObjectNotAppendable => OssError::of(
                ErrorCode::ObjectNotAppendable,
                "The object is not appendable",
            ),
            ObjectAlreadyExists => OssError::of(
                ErrorCode::FileAlreadyExists,
                "The object you specified already exists and can not be overwritten.",
            ),
            PreconditionFailed(condition) => precondition_failed(condition, ""),
            NotModified => OssError::of(ErrorCode::NotModified, "Not Modified"),
            InvalidRange => OssError::of(
                ErrorCode::InvalidRange,
                "The requested range cannot be satisfied.",
            ),
            IncompleteBody(detail) => {
                tracing::info!(detail, "request body ended early");
                OssError::of(
                    ErrorCode::IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                )
            }
            Key(e) => key_error(e),
            Integrity { bucket, key } => {
                tracing::error!(
                    bucket,
                    key,
                    "refusing to serve object data that failed its integrity check"
                );
                OssError::of(
                    ErrorCode::IntegrityFailure,
                    "The stored object data failed its integrity check.",
                )
            }
            // The OSS dialect always passes managed keys, so of these only the first can
            // reach it (an SSE-C object stored through another dialect); all are mapped.
            CustomerKeyRequired => OssError::of(
                ErrorCode::CustomerKeyRequired,
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            ),
            CustomerKeyNotApplicable => OssError::of(
                ErrorCode::CustomerKeyNotApplicable,
                "The encryption parameters are not applicable to this object.",
            ),
            CustomerKeyMismatch => OssError::of(ErrorCode::CustomerKeyMismatch, "Access Denied"),
            ConflictingEncryption => OssError::of(
                ErrorCode::ConflictingEncryption,
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified.",
            ),
            UnsupportedEncryptionRule(value) => unsupported_encryption_rule(&value),
            Internal(detail) => OssError::internal(&detail),
            // A store that says retrying can help answers 503, like an unavailable key
            // service; anything else is OSS's InternalError. The log keeps the whole cause.
            Storage(e) if e.is_retryable() => {
                tracing::error!(detail = error_chain(&e), "storage unavailable");
                OssError::of(
                    ErrorCode::ServiceUnavailable,
                    "The service is unavailable. Please try again.",
                )
            }
            Storage(e) => OssError::internal(&error_chain(&e)),
        }
    }
}

/// An error and its sources, outermost first; a source whose text its wrapper already
/// ends with (thiserror's `{0}` with `#[source]`) is not repeated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// A bucket default rule the server cannot apply. Real OSS validates rules on the way in
/// and has no such state, so this is the server's own fault, reported as OSS reports
/// those: 500 `InternalError`. A 4xx would blame a request that asked for nothing wrong
/// (the SSE error codes name the request's algorithm), and the operator needs the log.
fn unsupported_encryption_rule(value: &str) -> OssError {
    tracing::error!(
        value,
        "refusing a write: the bucket's default encryption rule holds an unsupported value"
    );
    OssError::of(
        ErrorCode::InternalError,
        "The bucket's default server-side encryption rule cannot be applied; nothing was stored.",
    )
}

/// 412 `PreconditionFailed`, naming in `<Condition>` the request header that failed, as OSS
/// does: `If-Match` on GET and HEAD, `x-oss-copy-source-if-match` (`prefix`
/// `x-oss-copy-source-`) on CopyObject and UploadPartCopy.
fn precondition_failed(condition: Option<FailedCondition>, prefix: &str) -> OssError {
    let error = OssError::of(
        ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold.",
    );
    let Some(condition) = condition else {
        return error;
    };
    let header = match condition {
        FailedCondition::IfMatch => "If-Match",
        FailedCondition::IfUnmodifiedSince => "If-Unmodified-Since",
    };
    let name = if prefix.is_empty() {
        header.to_owned()
    } else {
        format!("{prefix}{}", header.to_ascii_lowercase())
    };
    error.with_extra("Condition", name)
}

/// Maps a CopyObject or UploadPartCopy failure: a failed source condition names its
/// `x-oss-copy-source-if-*` header.
pub(crate) fn copy_error(e: ServiceError) -> OssError {
    match e {
        ServiceError::PreconditionFailed(condition) => {
            precondition_failed(condition, "x-oss-copy-source-")
        }
        other => other.into(),
    }
}

impl From<AuthError> for OssError {
    fn from(e: AuthError) -> Self {
        let mut err = OssError::of(e.kind, e.message);
        err.extra = e.extra;
        err
    }
}

/// KMS failures as OSS reports them (§2.5).
fn key_error(e: coffer_service::KeyError) -> OssError {
    use coffer_service::KeyError::*;
    match e {
        KeyNotFound(_) => OssError::of(
            ErrorCode::KeyNotFound,
            "The specified parameter KMS keyId is not found",
        ),
        AliasNotFound(_) => {
            OssError::of(ErrorCode::AliasNotFound, "The specified Alias is not found")
        }
        Disabled => OssError::of(
            ErrorCode::KeyDisabled,
            "The request was rejected because the key state is Disabled.",
        ),
        PendingDeletion => OssError::of(
            ErrorCode::KeyPendingDeletion,
            "The request was rejected because the key state is PendingDeletion.",
        ),
        Deleted(id) => OssError::of(
            ErrorCode::KeyNotFound,
            format!(
                "The KMS key {id} that protected this object has been deleted; its data can no longer be decrypted."
            ),
        ),
        InvalidParameter(_) => OssError::of(
            ErrorCode::InvalidKmsKeyId,
            "The specified parameter KMS keyId is not valid",
        ),
        AccessDenied => OssError::access_denied("This request is forbidden by kms"),
        InvalidCiphertext => {
            tracing::error!("a stored data key failed to unwrap under its key and context");
            OssError::of(
                ErrorCode::DataKeyUndecryptable,
                "The object's data key could not be decrypted.",
            )
        }
        // The detail (an address, Vault's words) goes to the log only.
        Timeout(waited) => {
            tracing::error!(?waited, "key service did not answer in time");
            OssError::of(
                ErrorCode::KmsUnavailable,
                "The key service (KMS) did not answer in time. Please try again.",
            )
        }
        Unavailable(detail) => {
            tracing::error!(detail, "key service unavailable");
            OssError::of(
                ErrorCode::KmsUnavailable,
                "The key service (KMS) is unavailable. Please try again.",
            )
        }
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;
    use coffer_storage::StorageError;

    #[test]
    fn storage_errors_log_their_whole_cause_once() {
        let e = ServiceError::Storage(StorageError::backend_from(
            "commit",
            std::io::Error::other("disk went away"),
            true,
        ));
        assert!(e.is_retryable());
        assert_eq!(
            error_chain(&e),
            "storage error: metadata backend error: commit: disk went away"
        );
    }

    #[test]
    fn a_key_service_that_did_not_answer_is_a_503() {
        let timeout = coffer_service::KeyError::Timeout(std::time::Duration::from_secs(2));
        let unavailable = coffer_service::KeyError::Unavailable("down".into());
        for e in [timeout, unavailable] {
            let oss = OssError::from(ServiceError::Key(e));
            assert_eq!(oss.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(oss.code.as_str(), "KmsServiceUnavailable");
            assert!(oss.message.contains("(KMS)"), "{}", oss.message);
        }
    }

    /// A refusal and a disabled key, whichever backend says so, answer as OSS does.
    #[test]
    fn a_kms_refusal_is_403_and_a_disabled_key_409() {
        let denied = OssError::from(ServiceError::Key(coffer_service::KeyError::AccessDenied));
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert_eq!(denied.code.as_str(), "AccessDenied");
        assert_eq!(denied.message, "This request is forbidden by kms");
        let disabled = OssError::from(ServiceError::Key(coffer_service::KeyError::Disabled));
        assert_eq!(disabled.status(), StatusCode::CONFLICT);
        assert_eq!(disabled.code.as_str(), "KeyDisabled");
    }

    /// Customer-key errors, which an OSS request meets only for an object another dialect
    /// sealed under a customer's key, answer as S3 does for the same cases.
    #[test]
    fn customer_key_errors_are_invalid_requests_or_access_denied() {
        let cases = [
            (ServiceError::CustomerKeyRequired, 400, "InvalidRequest"),
            (
                ServiceError::CustomerKeyNotApplicable,
                400,
                "InvalidRequest",
            ),
            (ServiceError::CustomerKeyMismatch, 403, "AccessDenied"),
            (ServiceError::ConflictingEncryption, 400, "InvalidArgument"),
        ];
        for (e, status, code) in cases {
            let oss = OssError::from(e);
            assert_eq!((oss.status().as_u16(), oss.code.as_str()), (status, code));
        }
    }
}

#[cfg(test)]
mod code_tests {
    use super::*;

    /// A key that is not UTF-8 is InvalidObjectName, with an EC of its own (it once
    /// shared MissingContentLength's).
    #[test]
    fn router_invalid_object_name_has_its_own_ec() {
        let Err(err) = crate::router::resolve_target(None, "/bucket/%FF", &[]) else {
            panic!("a key that is not UTF-8 must be refused");
        };
        assert_eq!(err.code, ErrorCode::InvalidObjectName);
        assert_eq!(err.ec(), "0016-00000005");
    }

    #[test]
    fn missing_content_length_keeps_code_and_status() {
        let err = OssError::missing_content_length();
        assert_eq!(
            (err.status().as_u16(), err.code.as_str(), err.ec()),
            (411, "MissingContentLength", "0017-00000101")
        );
    }
}
