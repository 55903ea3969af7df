//! The closed set of OSS errors Coffer answers with: each [`ErrorCode`] fixes the HTTP
//! status, the `<Code>` string and the `x-oss-ec` EC together, in one table.
//!
//! One OSS `<Code>` may stand for several errors (`InvalidArgument`, `InternalError`):
//! each gets its own variant and EC. ECs marked "doc" are the ones Alibaba Cloud documents
//! for exactly that case; the others are Coffer's own, in the same `NNNN-NNNNNNNN` shape
//! and unused by any other variant, so a logged EC names one error.

use http::StatusCode;

/// Declares [`ErrorCode`], its table and [`ErrorCode::ALL`] from one list, so the three
/// cannot drift apart.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = ($status:ident, $code:literal, $ec:expr), )*) => {
        /// An OSS error: HTTP status, `<Code>` and EC together.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every variant, for checks over the whole table.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$name),*];

            /// `(status, <Code>, EC)`.
            const fn parts(self) -> (StatusCode, &'static str, &'static str) {
                match self {
                    $( ErrorCode::$name => (StatusCode::$status, $code, $ec), )*
                }
            }
        }
    };
}

error_codes! {
    /// Generic bad parameter (query, header or form field).
    InvalidArgument = (BAD_REQUEST, "InvalidArgument", "0016-00000001"),
    MalformedXml = (BAD_REQUEST, "MalformedXML", "0016-00000002"),
    MethodNotAllowed = (METHOD_NOT_ALLOWED, "MethodNotAllowed", "0016-00000003"),
    NotImplemented = (BAD_REQUEST, "NotImplemented", "0016-00000004"),
    InvalidObjectName = (BAD_REQUEST, "InvalidObjectName", "0016-00000005"),
    /// doc: 0017-00000101, the request has no `Content-Length` header (it used to borrow
    /// 0016-00000005, InvalidObjectName's).
    MissingContentLength = (LENGTH_REQUIRED, "MissingContentLength", "0017-00000101"),
    EntityTooLarge = (BAD_REQUEST, "EntityTooLarge", "0016-00000010"),
    InvalidDigest = (BAD_REQUEST, "InvalidDigest", "0016-00000011"),
    IncompleteBody = (BAD_REQUEST, "IncompleteBody", "0016-00000012"),
    /// The server's own fault.
    InternalError = (INTERNAL_SERVER_ERROR, "InternalError", "0016-00000500"),
    /// Stored object data failed its integrity check.
    IntegrityFailure = (INTERNAL_SERVER_ERROR, "InternalError", "0016-00000501"),
    /// A stored data key did not unwrap under its key and context.
    DataKeyUndecryptable = (INTERNAL_SERVER_ERROR, "InternalError", "0016-00000502"),
    /// The store or the key service is unavailable; retrying can help. Coffer's own EC
    /// (it used to borrow 0016-00000503, which OSS documents for AppendableStorageClass).
    ServiceUnavailable = (SERVICE_UNAVAILABLE, "ServiceUnavailable", "0016-00000504"),
    /// The key manager (KMS) is down, timed out, or its circuit breaker is open; retrying
    /// later can help. OSS documents no code for it: Coffer's own, named after OSS's
    /// `KmsServiceNotEnabled`, so a client sees the KMS is at fault, not the store.
    KmsUnavailable = (SERVICE_UNAVAILABLE, "KmsServiceUnavailable", "0016-00000509"),
    /// doc: 0016-00000503, an appendable object cannot take the requested storage class.
    AppendableStorageClass = (BAD_REQUEST, "InvalidArgument", "0016-00000503"),
    AccessDenied = (FORBIDDEN, "AccessDenied", "0003-00000001"),
    /// The object is sealed under a customer-provided key (SSE-C, stored through another
    /// dialect), which OSS requests never carry. OSS has no such case: Coffer's own ECs.
    CustomerKeyRequired = (BAD_REQUEST, "InvalidRequest", "0016-00000505"),
    /// A customer-provided key for an object not sealed under one.
    CustomerKeyNotApplicable = (BAD_REQUEST, "InvalidRequest", "0016-00000506"),
    /// A customer-provided key that is not the object's.
    CustomerKeyMismatch = (FORBIDDEN, "AccessDenied", "0016-00000507"),
    /// A write asking for a customer-provided key and managed encryption at once.
    ConflictingEncryption = (BAD_REQUEST, "InvalidArgument", "0016-00000508"),

    InvalidBucketName = (BAD_REQUEST, "InvalidBucketName", "0015-00000001"),
    NoSuchBucket = (NOT_FOUND, "NoSuchBucket", "0015-00000101"),
    BucketAlreadyExists = (CONFLICT, "BucketAlreadyExists", "0015-00000104"),
    BucketNotEmpty = (CONFLICT, "BucketNotEmpty", "0015-00000301"),

    NoSuchKey = (NOT_FOUND, "NoSuchKey", "0026-00000001"),
    PreconditionFailed = (PRECONDITION_FAILED, "PreconditionFailed", "0026-00000002"),
    NotModified = (NOT_MODIFIED, "NotModified", "0026-00000003"),
    InvalidRange = (RANGE_NOT_SATISFIABLE, "InvalidRange", "0026-00000004"),
    PositionNotEqualToLength = (CONFLICT, "PositionNotEqualToLength", "0026-00000015"),
    ObjectNotAppendable = (CONFLICT, "ObjectNotAppendable", "0026-00000016"),
    FileAlreadyExists = (CONFLICT, "FileAlreadyExists", "0026-00000017"),

    NoSuchUpload = (NOT_FOUND, "NoSuchUpload", "0042-00000002"),
    InvalidPart = (BAD_REQUEST, "InvalidPart", "0042-00000303"),
    InvalidPartOrder = (BAD_REQUEST, "InvalidPartOrder", "0042-00000304"),
    EntityTooSmall = (BAD_REQUEST, "EntityTooSmall", "0042-00000307"),

    /// doc: bad SSE algorithm in a header or a bucket rule.
    InvalidEncryptionAlgorithm = (BAD_REQUEST, "InvalidEncryptionAlgorithmError", "0005-00000003"),
    /// doc.
    NoSuchServerSideEncryptionRule = (NOT_FOUND, "NoSuchServerSideEncryptionRule", "0005-00000004"),
    /// doc.
    InvalidDataEncryptionAlgorithm = (BAD_REQUEST, "InvalidDataEncryptionAlgorithmError", "0005-00000203"),
    /// doc: empty `x-oss-server-side-encryption-key-id` (code and status unconfirmed).
    EmptyKmsKeyId = (BAD_REQUEST, "InvalidArgument", "0005-00000205"),
    /// doc: the CMK id is not known to KMS.
    KeyNotFound = (NOT_FOUND, "KeyNotFound", "0005-00000208"),
    /// A malformed CMK id. OSS's page for EC 0005-00000208 describes an invalid CMK id, so
    /// this shares it with [`ErrorCode::KeyNotFound`].
    InvalidKmsKeyId = (BAD_REQUEST, "InvalidParameter", "0005-00000208"),
    AliasNotFound = (NOT_FOUND, "AliasNotFound", "0005-00000209"),
    /// doc.
    KeyDisabled = (CONFLICT, "KeyDisabled", "0005-00000214"),
    /// doc.
    KeyPendingDeletion = (CONFLICT, "KeyPendingDeletion", "0005-00000215"),

    /// A bucket policy that does not parse or validate.
    PolicyInvalid = (BAD_REQUEST, "InvalidPolicyDocument", "0031-00000001"),
    PolicyTooLarge = (BAD_REQUEST, "InvalidPolicyDocument", "0031-00000002"),
    PolicyNotUtf8 = (BAD_REQUEST, "InvalidPolicyDocument", "0031-00000003"),
    NoSuchBucketPolicy = (NOT_FOUND, "NoSuchBucketPolicy", "0031-00000004"),

    /// doc: a PostObject form that is not well-formed (e.g. cut short).
    PostMalformed = (BAD_REQUEST, "MalformedPOSTRequest", "0006-00000104"),
    /// PostObject without `multipart/form-data`.
    PostNotMultipart = (BAD_REQUEST, "RequestIsNotMultiPartContent", "0006-00000101"),
    /// doc: the form has no `file` field.
    PostFileMissing = (BAD_REQUEST, "MalformedPOSTRequest", "0006-00000107"),
    /// Form fields before the file too large.
    PostFieldsTooLarge = (BAD_REQUEST, "FieldItemTooLong", "0006-00000105"),
    /// doc: larger than `content-length-range` (or 5 GiB).
    PostEntityTooLarge = (BAD_REQUEST, "EntityTooLarge", "0006-00000003"),
    /// doc: smaller than `content-length-range`.
    PostEntityTooSmall = (BAD_REQUEST, "EntityTooSmall", "0006-00000004"),

    /// `x-oss-tagging` not of the form `k1=v1&k2=v2`.
    TaggingFormat = (BAD_REQUEST, "InvalidArgument", "0010-00000219"),
    /// An `x-oss-tagging` key or value OSS would refuse.
    InvalidTag = (BAD_REQUEST, "InvalidArgument", "0010-00000217"),

    // Authentication. The ECs and whether OSS documents them are recorded with the
    // constants in `auth::ec` and `auth::post_policy::post_ec`.
    AccessKeyNotFound = (FORBIDDEN, "InvalidAccessKeyId", crate::auth::ec::ACCESS_KEY_NOT_FOUND),
    BothSignatureKinds = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::BOTH_SIGNATURE_KINDS),
    PostDateInvalid = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::DATE_INVALID),
    DateInvalid = (FORBIDDEN, "AccessDenied", crate::auth::ec::DATE_INVALID),
    DateMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::DATE_MISSING),
    TimeSkewed = (FORBIDDEN, "RequestTimeTooSkewed", crate::auth::ec::TIME_SKEWED),
    UrlExpired = (FORBIDDEN, "AccessDenied", crate::auth::ec::URL_EXPIRED),
    V1AccessKeyEmpty = (FORBIDDEN, "AccessDenied", crate::auth::ec::V1_ACCESS_KEY_EMPTY),
    V1AccessKeyInvalid = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V1_ACCESS_KEY_INVALID),
    V1AccessKeyMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V1_ACCESS_KEY_MISSING),
    V1AuthMalformed = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V1_AUTH_MALFORMED),
    V1ExpiresInvalid = (FORBIDDEN, "AccessDenied", crate::auth::ec::V1_EXPIRES_INVALID),
    V1ExpiresMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V1_EXPIRES_MISSING),
    V1SignatureMismatch = (FORBIDDEN, "SignatureDoesNotMatch", crate::auth::ec::V1_SIGNATURE_MISMATCH),
    V1SignatureMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V1_SIGNATURE_MISSING),
    V4AccessKeyInvalid = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_ACCESS_KEY_INVALID),
    V4AdditionalHeadersEmpty = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_ADDITIONAL_HEADERS_EMPTY),
    V4AdditionalHeaderEmptyElement = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_ADDITIONAL_HEADER_EMPTY_ELEMENT),
    V4AuthMalformed = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_AUTH_MALFORMED),
    V4ContentSha256Invalid = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_CONTENT_SHA256_INVALID),
    V4CredentialDateInvalid = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_CREDENTIAL_DATE_INVALID),
    V4CredentialDateMismatch = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_CREDENTIAL_DATE_MISMATCH),
    V4CredentialEmpty = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_CREDENTIAL_EMPTY),
    V4CredentialInvalid = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_CREDENTIAL_INVALID),
    PostV4CredentialMissing = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_CREDENTIAL_MISSING),
    V4CredentialMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_CREDENTIAL_MISSING),
    PostV4DateParamMissing = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_DATE_PARAM_MISSING),
    V4DateParamMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_DATE_PARAM_MISSING),
    V4ExpiresInvalid = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_EXPIRES_INVALID),
    V4ExpiresMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_EXPIRES_MISSING),
    V4NotYetValid = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_NOT_YET_VALID),
    V4RegionEmpty = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_REGION_EMPTY),
    V4RegionInvalid = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_REGION_INVALID),
    V4SignatureMismatch = (FORBIDDEN, "SignatureDoesNotMatch", crate::auth::ec::V4_SIGNATURE_MISMATCH),
    PostV4SignatureMissing = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_SIGNATURE_MISSING),
    V4SignatureMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_SIGNATURE_MISSING),
    PostV4VersionMissing = (BAD_REQUEST, "InvalidArgument", crate::auth::ec::V4_VERSION_MISSING),
    V4VersionMissing = (FORBIDDEN, "AccessDenied", crate::auth::ec::V4_VERSION_MISSING),
    PostAccessKeyMissing = (BAD_REQUEST, "InvalidArgument", crate::auth::post_policy::post_ec::ACCESS_KEY_MISSING),
    PostConditionsMissing = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::CONDITIONS_MISSING),
    PostConditionsNotList = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::CONDITIONS_NOT_LIST),
    PostConditionFailed = (FORBIDDEN, "AccessDenied", crate::auth::post_policy::post_ec::CONDITION_FAILED),
    PostConditionFieldMissing = (FORBIDDEN, "AccessDenied", crate::auth::post_policy::post_ec::CONDITION_FIELD_MISSING),
    PostConditionNotMapOrList = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::CONDITION_NOT_MAP_OR_LIST),
    PostConditionValueType = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::CONDITION_VALUE_TYPE),
    PostCredentialInvalid = (BAD_REQUEST, "InvalidArgument", crate::auth::post_policy::post_ec::CREDENTIAL_INVALID),
    PostExpirationEmpty = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::EXPIRATION_EMPTY),
    PostExpirationInvalid = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::EXPIRATION_INVALID),
    PostExpirationMissing = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::EXPIRATION_MISSING),
    PostExpirationNotString = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::EXPIRATION_NOT_STRING),
    PostPolicyEmpty = (BAD_REQUEST, "InvalidArgument", crate::auth::post_policy::post_ec::POLICY_EMPTY),
    PostPolicyExpired = (FORBIDDEN, "AccessDenied", crate::auth::post_policy::post_ec::POLICY_EXPIRED),
    PostPolicyFieldsMissing = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::POLICY_FIELDS_MISSING),
    PostPolicyInvalid = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::POLICY_INVALID),
    PostPolicyMissing = (BAD_REQUEST, "InvalidArgument", crate::auth::post_policy::post_ec::POLICY_MISSING),
    PostPolicyNotJson = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::POLICY_NOT_JSON),
    PostPolicyUnknownField = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::POLICY_UNKNOWN_FIELD),
    PostRangeInvalid = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::RANGE_INVALID),
    PostRangeReversed = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::RANGE_REVERSED),
    PostSignatureMissing = (BAD_REQUEST, "InvalidArgument", crate::auth::post_policy::post_ec::SIGNATURE_MISSING),
    PostSimpleConditionInvalid = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::SIMPLE_CONDITION_INVALID),
    PostUnknownMatchingMode = (BAD_REQUEST, "InvalidPolicyDocument", crate::auth::post_policy::post_ec::UNKNOWN_MATCHING_MODE),
}

impl ErrorCode {
    /// The HTTP status.
    pub const fn status(self) -> StatusCode {
        self.parts().0
    }

    /// The `<Code>` string.
    pub const fn as_str(self) -> &'static str {
        self.parts().1
    }

    /// The `<EC>` / `x-oss-ec` value.
    pub const fn ec(self) -> &'static str {
        self.parts().2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Variants that share an EC because OSS documents one EC for both.
    const DOCUMENTED_SHARED: &[(ErrorCode, ErrorCode)] =
        &[(ErrorCode::KeyNotFound, ErrorCode::InvalidKmsKeyId)];

    /// Variants that share an EC the reference does not document as shared: a PostObject
    /// form field answers with the EC of the same presigned-URL field, under another
    /// status and code. Kept so responses do not change; each pair is a candidate for an
    /// EC of its own.
    const INHERITED_SHARED: &[(ErrorCode, ErrorCode)] = &[
        (ErrorCode::DateInvalid, ErrorCode::PostDateInvalid),
        (
            ErrorCode::V4CredentialMissing,
            ErrorCode::PostV4CredentialMissing,
        ),
        (
            ErrorCode::V4DateParamMissing,
            ErrorCode::PostV4DateParamMissing,
        ),
        (
            ErrorCode::V4SignatureMissing,
            ErrorCode::PostV4SignatureMissing,
        ),
        (ErrorCode::V4VersionMissing, ErrorCode::PostV4VersionMissing),
    ];

    fn allowed_to_share(a: ErrorCode, b: ErrorCode) -> bool {
        DOCUMENTED_SHARED
            .iter()
            .chain(INHERITED_SHARED)
            .any(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a))
    }

    #[test]
    fn no_two_errors_share_an_ec() {
        let mut seen: HashMap<&str, ErrorCode> = HashMap::new();
        for &code in ErrorCode::ALL {
            if let Some(&other) = seen.get(code.ec()) {
                assert!(
                    allowed_to_share(code, other),
                    "{code:?} and {other:?} share EC {}",
                    code.ec()
                );
            }
            seen.insert(code.ec(), code);
        }
    }

    #[test]
    fn every_ec_has_the_oss_shape() {
        for &code in ErrorCode::ALL {
            let ec = code.ec().as_bytes();
            let shaped = ec.len() == 13
                && ec[4] == b'-'
                && ec[..4].iter().chain(&ec[5..]).all(u8::is_ascii_digit);
            assert!(shaped, "{code:?} has EC {:?}", code.ec());
        }
    }

    #[test]
    fn content_length_and_object_name_errors_are_told_apart() {
        assert_eq!(ErrorCode::MissingContentLength.ec(), "0017-00000101");
        assert_ne!(
            ErrorCode::MissingContentLength.ec(),
            ErrorCode::InvalidObjectName.ec()
        );
    }
}
