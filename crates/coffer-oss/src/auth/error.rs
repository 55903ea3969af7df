//! The authentication error type and the OSS codes it carries.

use std::fmt;

use super::dates;
use crate::error::ErrorCode;

/// Everything the error layer needs to render the OSS `<Error>` XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// The error, from the closed [`ErrorCode`] table.
    pub kind: ErrorCode,
    /// HTTP status (`kind`'s, kept as a plain number for matching).
    pub status: u16,
    /// `<Code>`, e.g. `SignatureDoesNotMatch` (`kind`'s).
    pub code: &'static str,
    /// `<Message>`.
    pub message: String,
    /// `<EC>`, the fine-grained `NNNN-NNNNNNNN` code (`kind`'s).
    pub ec: &'static str,
    /// Extra XML children in order, e.g. `("StringToSign", ..)`, `("OSSAccessKeyId", ..)`.
    pub extra: Vec<(&'static str, String)>,
}

/// Fine-grained error codes (`x-oss-ec`, `<EC>`), as [`ErrorCode`]'s auth rows use them.
///
/// "doc" means the value is documented on Alibaba Cloud's EC pages for exactly this case.
/// "guess" means no page was found, so a plausible number from the same family was chosen.
pub mod ec {
    /// doc: Authorization header and URL signature in one request.
    pub const BOTH_SIGNATURE_KINDS: &str = "0002-00000039";
    /// doc: V1 signature mismatch (documented for the header form; reused for presigned URLs).
    pub const V1_SIGNATURE_MISMATCH: &str = "0002-00000040";
    /// doc: malformed `OSS ak:sig` header. guess: also used for unknown or unsupported schemes.
    pub const V1_AUTH_MALFORMED: &str = "0002-00000062";
    /// doc: invalid AccessKeyId in the V1 header.
    pub const V1_ACCESS_KEY_INVALID: &str = "0002-00000064";
    /// doc: `Expires` empty (guess: also used when it is absent).
    pub const V1_EXPIRES_MISSING: &str = "0002-00000068";
    /// doc: presigned URL expired (documented for V1/V2; reused for V4).
    pub const URL_EXPIRED: &str = "0002-00000069";
    /// doc: `Expires` not a valid timestamp.
    pub const V1_EXPIRES_INVALID: &str = "0002-00000070";
    /// doc: `OSSAccessKeyId` missing.
    pub const V1_ACCESS_KEY_MISSING: &str = "0002-00000071";
    /// doc: `OSSAccessKeyId` empty.
    pub const V1_ACCESS_KEY_EMPTY: &str = "0002-00000072";
    /// doc: `Signature` missing (guess: also used when it is empty).
    pub const V1_SIGNATURE_MISSING: &str = "0002-00000074";
    /// doc: V4 signature mismatch.
    pub const V4_SIGNATURE_MISMATCH: &str = "0002-00000201";
    /// guess: V4 Authorization header not parseable (missing or unknown fields, no `=`).
    pub const V4_AUTH_MALFORMED: &str = "0002-00000202";
    /// doc: invalid AccessKeyId inside the V4 credential.
    pub const V4_ACCESS_KEY_INVALID: &str = "0002-00000206";
    /// doc: `AdditionalHeaders` present but empty.
    pub const V4_ADDITIONAL_HEADERS_EMPTY: &str = "0002-00000209";
    /// doc: `AdditionalHeaders` with an empty element such as `host;`.
    pub const V4_ADDITIONAL_HEADER_EMPTY_ELEMENT: &str = "0002-00000210";
    /// doc: V4 credential not of the form `<ak>/<date>/<region>/oss/aliyun_v4_request`.
    pub const V4_CREDENTIAL_INVALID: &str = "0002-00000213";
    /// doc: `x-oss-content-sha256` other than `UNSIGNED-PAYLOAD`.
    pub const V4_CONTENT_SHA256_INVALID: &str = "0002-00000214";
    /// doc: `x-oss-expires` missing.
    pub const V4_EXPIRES_MISSING: &str = "0002-00000215";
    /// guess: `x-oss-signature-version` missing while other V4 parameters are present.
    pub const V4_VERSION_MISSING: &str = "0002-00000216";
    /// doc: `x-oss-credential` missing.
    pub const V4_CREDENTIAL_MISSING: &str = "0002-00000217";
    /// doc: `x-oss-credential` empty.
    pub const V4_CREDENTIAL_EMPTY: &str = "0002-00000218";
    /// doc: `x-oss-signature` missing (guess: also used when it is empty).
    pub const V4_SIGNATURE_MISSING: &str = "0002-00000219";
    /// guess: `x-oss-date` query parameter missing.
    pub const V4_DATE_PARAM_MISSING: &str = "0002-00000220";
    /// doc: the date inside the credential is not `yyyymmdd`.
    pub const V4_CREDENTIAL_DATE_INVALID: &str = "0002-00000223";
    /// guess: credential date differs from the date part of `x-oss-date`.
    pub const V4_CREDENTIAL_DATE_MISMATCH: &str = "0002-00000224";
    /// doc: signing region differs from the server's region.
    pub const V4_REGION_INVALID: &str = "0002-00000226";
    /// doc (0002-00000228): the region in a V4 credential is not a valid region; Coffer
    /// uses it for an empty region, with the message oss2's real-server test records.
    pub const V4_REGION_EMPTY: &str = "0002-00000228";
    /// doc: `x-oss-expires` outside 1..=604800 seconds (guess: also used when not a number).
    pub const V4_EXPIRES_INVALID: &str = "0002-00000232";
    /// doc: presigned V4 URL used more than 15 minutes before its `x-oss-date`.
    pub const V4_NOT_YET_VALID: &str = "0002-00000235";
    /// doc: `Date` / `x-oss-date` not in the expected format.
    pub const DATE_INVALID: &str = "0002-00000502";
    /// doc: neither `Date` nor `x-oss-date` present.
    pub const DATE_MISSING: &str = "0002-00000503";
    /// doc: request time more than 15 minutes from server time.
    pub const TIME_SKEWED: &str = "0002-00000504";
    /// doc: AccessKeyId does not exist.
    pub const ACCESS_KEY_NOT_FOUND: &str = "0002-00000902";
}

pub(crate) const MSG_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
pub(crate) const MSG_UNKNOWN_ACCESS_KEY: &str =
    "The OSS Access Key Id you provided does not exist in our records.";
pub(crate) const MSG_SKEWED: &str =
    "The difference between the request time and the current time is too large.";
pub(crate) const MSG_DATE_REQUIRED: &str = "OSS authentication requires a valid Date.";
pub(crate) const MSG_EXPIRED: &str = "Request has expired.";

impl AuthError {
    /// The error `kind` with `message`.
    pub(crate) fn new(kind: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: kind.status().as_u16(),
            code: kind.as_str(),
            message: message.into(),
            ec: kind.ec(),
            extra: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub(crate) fn unknown_access_key(access_key_id: &str) -> Self {
        Self::new(ErrorCode::AccessKeyNotFound, MSG_UNKNOWN_ACCESS_KEY)
            .with("OSSAccessKeyId", access_key_id)
    }

    /// 403 `RequestTimeTooSkewed`, with the S3-style diagnostic children OSS also sends.
    pub(crate) fn skewed(request_time: &str, now: i64) -> Self {
        Self::new(ErrorCode::TimeSkewed, MSG_SKEWED)
            .with("RequestTime", request_time)
            .with("ServerTime", dates::format_for_error(now))
            .with(
                "MaxAllowedSkewMilliseconds",
                (dates::MAX_SKEW_SECS * 1000).to_string(),
            )
    }

    /// 403 `AccessDenied` for a presigned URL used after `expires_at`.
    pub(crate) fn expired(expires_at: i64, now: i64) -> Self {
        Self::new(ErrorCode::UrlExpired, MSG_EXPIRED)
            .with("Expires", dates::format_for_error(expires_at))
            .with("ServerTime", dates::format_for_error(now))
    }

    /// 403 `SignatureDoesNotMatch` with what the client needs to debug its signer.
    pub(crate) fn signature_mismatch(
        string_to_sign: &[u8],
        provided: &str,
        access_key_id: &str,
        kind: ErrorCode,
    ) -> Self {
        Self::new(kind, MSG_SIGNATURE_MISMATCH)
            .with("StringToSign", String::from_utf8_lossy(string_to_sign))
            .with("StringToSignBytes", hex_dump(string_to_sign))
            .with("SignatureProvided", provided)
            .with("OSSAccessKeyId", access_key_id)
    }

    /// Adds the V4 canonical request, the first thing to diff when a V4 signature fails.
    pub(crate) fn with_canonical_request(self, canonical_request: &[u8]) -> Self {
        self.with(
            "CanonicalRequest",
            String::from_utf8_lossy(canonical_request),
        )
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AuthError {}

/// `StringToSignBytes` as OSS prints it: upper-case hex, each byte followed by a space
/// (so the text ends in a space), as in the documented sample response.
fn hex_dump(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_matches_documented_sample() {
        assert_eq!(hex_dump(b"PUT\n\n"), "50 55 54 0A 0A ");
        assert_eq!(hex_dump(&[0x00, 0xff]), "00 FF ");
        assert_eq!(hex_dump(b""), "");
    }

    #[test]
    fn mismatch_carries_debug_children_in_order() {
        let e =
            AuthError::signature_mismatch(b"GET\n", "c2ln", "ak", ErrorCode::V1SignatureMismatch);
        assert_eq!((e.status, e.code), (403, "SignatureDoesNotMatch"));
        let names: Vec<_> = e.extra.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "StringToSign",
                "StringToSignBytes",
                "SignatureProvided",
                "OSSAccessKeyId"
            ]
        );
        assert_eq!(e.extra[1].1, "47 45 54 0A ");
    }
}
