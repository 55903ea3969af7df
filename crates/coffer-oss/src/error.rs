//! OSS errors: the `<Error>` document, its status, and the `x-oss-ec` code.
//!
//! EC values come from the real service where the reference records them; the others are
//! Coffer's own in the same `NNNN-NNNNNNNN` shape, so clients that log them still can.

use coffer_service::{FailedCondition, ServiceError};
use http::StatusCode;

use crate::auth::AuthError;

#[derive(Debug, Clone)]
pub struct OssError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub ec: &'static str,
    /// Extra children of `<Error>`, such as `StringToSign` or `ArgumentName`.
    pub extra: Vec<(&'static str, String)>,
    /// Extra response headers, such as `x-oss-next-append-position`.
    pub headers: Vec<(&'static str, String)>,
}

pub type OssResult<T> = Result<T, OssError>;

impl OssError {
    pub fn new(
        status: u16,
        code: &'static str,
        ec: &'static str,
        message: impl Into<String>,
    ) -> Self {
        OssError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            ec,
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_extra(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn invalid_argument(name: &str, value: &str, message: impl Into<String>) -> Self {
        OssError::new(400, "InvalidArgument", "0016-00000001", message)
            .with_extra("ArgumentName", name)
            .with_extra("ArgumentValue", value)
    }

    pub fn malformed_xml() -> Self {
        OssError::new(
            400,
            "MalformedXML",
            "0016-00000002",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        OssError::new(403, "AccessDenied", "0003-00000001", message)
    }

    pub fn method_not_allowed() -> Self {
        OssError::new(
            405,
            "MethodNotAllowed",
            "0016-00000003",
            "The specified method is not allowed against this resource.",
        )
    }

    pub fn not_implemented(what: &str) -> Self {
        OssError::new(
            400,
            "NotImplemented",
            "0016-00000004",
            format!("{what} is not implemented by this server."),
        )
    }

    pub fn missing_content_length() -> Self {
        OssError::new(
            411,
            "MissingContentLength",
            "0016-00000005",
            "You must provide the Content-Length HTTP header.",
        )
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(detail, "internal error");
        OssError::new(
            500,
            "InternalError",
            "0016-00000500",
            "We encountered an internal error. Please try again.",
        )
    }
}

impl From<ServiceError> for OssError {
    fn from(e: ServiceError) -> Self {
        use ServiceError::*;
        match e {
            NoSuchBucket => OssError::new(
                404,
                "NoSuchBucket",
                "0015-00000101",
                "The specified bucket does not exist.",
            ),
            NoSuchKey => OssError::new(
                404,
                "NoSuchKey",
                "0026-00000001",
                "The specified key does not exist.",
            ),
            NoSuchUpload => OssError::new(
                404,
                "NoSuchUpload",
                "0042-00000002",
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
            ),
            BucketNotEmpty => OssError::new(
                409,
                "BucketNotEmpty",
                "0015-00000301",
                "The bucket you tried to delete is not empty.",
            ),
            BucketAlreadyExists => OssError::new(
                409,
                "BucketAlreadyExists",
                "0015-00000104",
                "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
            ),
            InvalidBucketName => OssError::new(
                400,
                "InvalidBucketName",
                "0015-00000001",
                "The specified bucket is not valid.",
            ),
            InvalidObjectName(why) => OssError::new(400, "InvalidObjectName", "0016-00000005", why),
            EntityTooLarge => OssError::new(
                400,
                "EntityTooLarge",
                "0016-00000010",
                "Your proposed upload exceeds the maximum allowed size.",
            ),
            EntityTooSmall => OssError::new(
                400,
                "EntityTooSmall",
                "0042-00000307",
                "Your proposed upload smaller than the minimum allowed size.",
            ),
            BadDigest => OssError::new(
                400,
                "InvalidDigest",
                "0016-00000011",
                "The Content-MD5 you specified was invalid.",
            ),
            InvalidPart => OssError::new(
                400,
                "InvalidPart",
                "0042-00000303",
                "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
            ),
            InvalidPartOrder => OssError::new(
                400,
                "InvalidPartOrder",
                "0042-00000304",
                "The list of parts was not in ascending order.",
            ),
            InvalidArgument {
                name,
                value,
                message,
            } => OssError::invalid_argument(name, &value, message),
            PositionNotEqualToLength { length, .. } => {
                let mut e = OssError::new(
                    409,
                    "PositionNotEqualToLength",
                    "0026-00000015",
                    "Position is not equal to file length",
                );
                e.headers
                    .push(("x-oss-next-append-position", length.to_string()));
                e
            }
            // OSS documents the case (EC 0016-00000503) but not its message.
            AppendableStorageClass(class) => OssError::new(
                400,
                "InvalidArgument",
                "0016-00000503",
                format!("An appendable object cannot be converted to the {class} storage class."),
            )
            .with_extra("ArgumentName", "x-oss-storage-class")
            .with_extra("ArgumentValue", &class),
            ObjectNotAppendable => OssError::new(
                409,
                "ObjectNotAppendable",
                "0026-00000016",
                "The object is not appendable",
            ),
            ObjectAlreadyExists => OssError::new(
                409,
                "FileAlreadyExists",
                "0026-00000017",
                "The object you specified already exists and can not be overwritten.",
            ),
            PreconditionFailed(condition) => precondition_failed(condition, ""),
            NotModified => OssError::new(304, "NotModified", "0026-00000003", "Not Modified"),
            InvalidRange => OssError::new(
                416,
                "InvalidRange",
                "0026-00000004",
                "The requested range cannot be satisfied.",
            ),
            IncompleteBody(detail) => {
                tracing::info!(detail, "request body ended early");
                OssError::new(
                    400,
                    "IncompleteBody",
                    "0016-00000012",
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
                OssError::new(
                    500,
                    "InternalError",
                    "0016-00000501",
                    "The stored object data failed its integrity check.",
                )
            }
            UnsupportedEncryptionRule(value) => unsupported_encryption_rule(&value),
            Internal(detail) => OssError::internal(&detail),
            // A store that says retrying can help answers 503, like an unavailable key
            // service; anything else is OSS's InternalError. The log keeps the whole cause.
            Storage(e) if e.is_retryable() => {
                tracing::error!(detail = error_chain(&e), "storage unavailable");
                OssError::new(
                    503,
                    "ServiceUnavailable",
                    "0016-00000503",
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
    OssError::new(
        500,
        "InternalError",
        "0016-00000500",
        "The bucket's default server-side encryption rule cannot be applied; nothing was stored.",
    )
}

/// 412 `PreconditionFailed`, naming in `<Condition>` the request header that failed, as OSS
/// does: `If-Match` on GET and HEAD, `x-oss-copy-source-if-match` (`prefix`
/// `x-oss-copy-source-`) on CopyObject and UploadPartCopy.
fn precondition_failed(condition: Option<FailedCondition>, prefix: &str) -> OssError {
    let error = OssError::new(
        412,
        "PreconditionFailed",
        "0026-00000002",
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
        let mut err = OssError::new(e.status, e.code, e.ec, e.message);
        err.extra = e.extra;
        err
    }
}

/// KMS failures as OSS reports them (§2.5).
fn key_error(e: coffer_service::KeyError) -> OssError {
    use coffer_service::KeyError::*;
    match e {
        KeyNotFound(_) => OssError::new(
            404,
            "KeyNotFound",
            "0005-00000208",
            "The specified parameter KMS keyId is not found",
        ),
        AliasNotFound(_) => OssError::new(
            404,
            "AliasNotFound",
            "0005-00000209",
            "The specified Alias is not found",
        ),
        Disabled => OssError::new(
            409,
            "KeyDisabled",
            "0005-00000214",
            "The request was rejected because the key state is Disabled.",
        ),
        PendingDeletion => OssError::new(
            409,
            "KeyPendingDeletion",
            "0005-00000215",
            "The request was rejected because the key state is PendingDeletion.",
        ),
        Deleted(id) => OssError::new(
            404,
            "KeyNotFound",
            "0005-00000208",
            format!(
                "The KMS key {id} that protected this object has been deleted; its data can no longer be decrypted."
            ),
        ),
        InvalidParameter(_) => OssError::new(
            400,
            "InvalidParameter",
            "0005-00000208",
            "The specified parameter KMS keyId is not valid",
        ),
        AccessDenied => OssError::access_denied("This request is forbidden by kms"),
        InvalidCiphertext => {
            tracing::error!("a stored data key failed to unwrap under its key and context");
            OssError::new(
                500,
                "InternalError",
                "0016-00000502",
                "The object's data key could not be decrypted.",
            )
        }
        Timeout(waited) => {
            tracing::error!(?waited, "key service did not answer in time");
            OssError::new(
                503,
                "ServiceUnavailable",
                "0016-00000503",
                "The key service is unavailable. Please try again.",
            )
        }
        Unavailable(detail) => {
            tracing::error!(detail, "key service unavailable");
            OssError::new(
                503,
                "ServiceUnavailable",
                "0016-00000503",
                "The key service is unavailable. Please try again.",
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
            assert_eq!(oss.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!((oss.code, oss.ec), ("ServiceUnavailable", "0016-00000503"));
        }
    }
}
