//! V4 signatures (oss-api.md §3.4, §3.5): `Authorization: OSS4-HMAC-SHA256 Credential=..,
//! [AdditionalHeaders=..,]Signature=..` and presigned URLs with `x-oss-signature-version`,
//! `x-oss-date`, `x-oss-expires`, `x-oss-credential`, `[x-oss-additional-headers]`,
//! `x-oss-signature`. Signature = HexLower(HMAC-SHA256(kSigning, StringToSign)).
//!
//! The canonicalisation and key derivation are `coffer-sigv4`'s, spoken in its [`OSS`]
//! vocabulary; this module parses and checks what OSS clients send.

use coffer_sigv4::{OSS, Request};

use super::error::MSG_DATE_REQUIRED;
use super::{
    AuthContext, AuthError, Check, HeaderMap, Principal, RequestParts, SecretLookup, dates,
    joined_header, parse_decimal, query_param, valid_access_key_id,
};
use crate::error::ErrorCode;

pub(crate) use coffer_sigv4::{UNSIGNED_PAYLOAD, encode_query_component, normalize_header_names};

pub(crate) const ALGORITHM: &str = OSS.algorithm;
pub(crate) const CONTENT_SHA256: &str = OSS.content_sha256_header;
/// Longest validity of a presigned URL: 7 days.
pub(crate) const MAX_EXPIRES_SECS: u64 = 7 * 24 * 3600;

pub(crate) const PARAM_VERSION: &str = OSS.query.algorithm;
pub(crate) const PARAM_DATE: &str = OSS.query.date;
pub(crate) const PARAM_EXPIRES: &str = OSS.query.expires;
pub(crate) const PARAM_CREDENTIAL: &str = OSS.query.credential;
pub(crate) const PARAM_ADDITIONAL_HEADERS: &str = OSS.query.listed_headers;
pub(crate) const PARAM_SIGNATURE: &str = OSS.query.signature;
pub(crate) const PARAM_SECURITY_TOKEN: &str = OSS.query.security_token;

const MSG_QUERY_PARAMS: &str = "Query-string authentication requires the x-oss-signature-version, x-oss-credential, x-oss-date, x-oss-expires and x-oss-signature parameters";
const MSG_REGION: &str = "Invalid signing region in Authorization header.";
const MSG_REGION_EMPTY: &str = "The signing region in credential is invalid.";

/// The resource OSS signs, decoded: `/` for service requests, `/bucket/` for bucket
/// requests, `/bucket/key` for objects (whatever host the request was sent to).
fn resource_path(bucket: Option<&str>, key: Option<&str>) -> String {
    let mut raw = String::from("/");
    if let Some(bucket) = bucket {
        raw.push_str(bucket);
        raw.push('/');
        raw.push_str(key.unwrap_or_default());
    }
    raw
}

/// The resource path percent-encoded with `/` kept.
pub(crate) fn canonical_uri(bucket: Option<&str>, key: Option<&str>) -> String {
    coffer_sigv4::encode_path(&resource_path(bucket, key))
}

/// All query parameters but `x-oss-signature`, encoded, sorted, `k=v` or a bare `k` when empty.
#[cfg(test)]
fn canonical_query(query: &[(String, String)]) -> String {
    OSS.canonical_query(query)
}

/// The canonical request of §3.4. `additional` must already be lower-case and sorted.
pub(crate) fn canonical_request(req: &RequestParts<'_>, additional: &[String]) -> Vec<u8> {
    let path = resource_path(req.bucket, req.key);
    let request = Request {
        method: req.method,
        path: &path,
        query: req.query,
        headers: req.headers,
    };
    // Any other payload hash is rejected before this point, so it is always the literal.
    OSS.canonical_request(&request, additional, UNSIGNED_PAYLOAD)
}

/// `yyyymmdd/region/oss/aliyun_v4_request`.
pub(crate) fn scope(date: &str, region: &str) -> String {
    OSS.scope_string(&OSS.scope(date, region))
}

/// `OSS4-HMAC-SHA256\n<x-oss-date>\n<scope>\n<hex sha256(canonical request)>`.
pub(crate) fn string_to_sign(datetime: &str, scope: &str, canonical_request: &[u8]) -> String {
    OSS.string_to_sign(datetime, scope, canonical_request)
}

/// HexLower(HMAC-SHA256(kSigning, string_to_sign)), with kSigning derived from the secret
/// through date, region, product and terminator.
pub(crate) fn sign(secret: &str, date: &str, region: &str, string_to_sign: &str) -> String {
    OSS.signature(secret, &OSS.scope(date, region), string_to_sign)
}

/// The fields of `<ak>/<yyyymmdd>/<region>/oss/aliyun_v4_request`.
#[derive(Debug, PartialEq, Eq)]
struct Credential<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
}

fn parse_credential<'a>(s: &'a str, ctx: &AuthContext) -> Result<Credential<'a>, AuthError> {
    let invalid = || {
        AuthError::new(
            ErrorCode::V4CredentialInvalid,
            "Invalid credential; the format is <AccessKeyId>/<SignDate>/<Region>/oss/aliyun_v4_request.",
        )
    };
    let parts: Vec<&str> = s.split('/').collect();
    let [access_key_id, date, region, product, terminator] = parts[..] else {
        return Err(invalid());
    };
    if product != OSS.service || terminator != OSS.terminator {
        return Err(invalid());
    }
    // What OSS answers a signer that had no region (oss2 signs URLs with an empty one).
    if region.is_empty() {
        return Err(AuthError::new(ErrorCode::V4RegionEmpty, MSG_REGION_EMPTY));
    }
    if !valid_access_key_id(access_key_id) {
        return Err(AuthError::new(
            ErrorCode::V4AccessKeyInvalid,
            "The AccessKeyId in the credential is invalid.",
        ));
    }
    if !dates::is_yyyymmdd(date) {
        return Err(AuthError::new(
            ErrorCode::V4CredentialDateInvalid,
            "The signing date in the credential must be yyyymmdd.",
        ));
    }
    if region != ctx.region {
        return Err(AuthError::new(ErrorCode::V4RegionInvalid, MSG_REGION));
    }
    Ok(Credential {
        access_key_id,
        date,
        region,
    })
}

/// Parses `h1;h2`: an empty list and empty elements are errors (§3.4).
fn parse_additional_headers(s: &str) -> Result<Vec<String>, AuthError> {
    if s.trim().is_empty() {
        return Err(AuthError::new(
            ErrorCode::V4AdditionalHeadersEmpty,
            "AdditionalHeaders must not be empty.",
        ));
    }
    let names: Vec<&str> = s.split(';').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(AuthError::new(
            ErrorCode::V4AdditionalHeaderEmptyElement,
            "AdditionalHeaders must not contain an empty header name.",
        ));
    }
    Ok(normalize_header_names(names))
}

/// OSS accepts only `UNSIGNED-PAYLOAD`; an absent header means the same.
fn check_content_sha256(headers: &HeaderMap) -> Result<(), AuthError> {
    match joined_header(headers, CONTENT_SHA256) {
        Some(v) if v != UNSIGNED_PAYLOAD.as_bytes() => Err(AuthError::new(
            ErrorCode::V4ContentSha256Invalid,
            "The x-oss-content-sha256 header must be UNSIGNED-PAYLOAD.",
        )),
        _ => Ok(()),
    }
}

/// The credential date must be the date part of `x-oss-date`.
fn check_credential_date(credential: &Credential<'_>, datetime: &str) -> Result<(), AuthError> {
    if datetime.get(..8) == Some(credential.date) {
        Ok(())
    } else {
        Err(AuthError::new(
            ErrorCode::V4CredentialDateMismatch,
            "The date in the credential does not match the date of x-oss-date.",
        ))
    }
}

/// The named fields of the header; any order, optional spaces after commas.
struct HeaderFields<'a> {
    credential: &'a str,
    additional: Option<&'a str>,
    signature: &'a str,
}

fn parse_header_fields(fields: &str) -> Result<HeaderFields<'_>, AuthError> {
    let malformed = || AuthError::new(ErrorCode::V4AuthMalformed, super::MSG_MALFORMED_AUTH);
    let (mut credential, mut additional, mut signature) = (None, None, None);
    for field in fields.split(',') {
        let (name, value) = field.trim().split_once('=').ok_or_else(malformed)?;
        let slot = match name {
            "Credential" => &mut credential,
            "AdditionalHeaders" => &mut additional,
            "Signature" => &mut signature,
            _ => return Err(malformed()),
        };
        if slot.replace(value).is_some() {
            return Err(malformed());
        }
    }
    match (credential, signature) {
        (Some(credential), Some(signature)) if !credential.is_empty() && !signature.is_empty() => {
            Ok(HeaderFields {
                credential,
                additional,
                signature,
            })
        }
        _ => Err(malformed()),
    }
}

/// What is left to check once a scheme's own parameters have been validated.
struct Signed<'a> {
    credential: Credential<'a>,
    datetime: &'a str,
    additional: Vec<String>,
    provided: &'a str,
}

impl Signed<'_> {
    async fn verify(
        self,
        req: &RequestParts<'_>,
        keys: &dyn SecretLookup,
    ) -> Result<Principal, AuthError> {
        let canonical = canonical_request(req, &self.additional);
        let Credential {
            access_key_id,
            date,
            region,
        } = self.credential;
        let sts = string_to_sign(self.datetime, &scope(date, region), &canonical);
        Check {
            access_key_id,
            provided: self.provided,
            string_to_sign: sts.as_bytes(),
            canonical_request: Some(&canonical),
            mismatch: ErrorCode::V4SignatureMismatch,
        }
        .run(keys, |secret| sign(secret.expose(), date, region, &sts))
        .await
    }
}

/// Verifies the V4 Authorization header; `fields` is the part after `OSS4-HMAC-SHA256 `.
pub(super) async fn verify_header(
    req: &RequestParts<'_>,
    fields: &str,
    keys: &dyn SecretLookup,
    ctx: &AuthContext,
) -> Result<Principal, AuthError> {
    let fields = parse_header_fields(fields)?;
    let credential = parse_credential(fields.credential, ctx)?;
    let additional = fields
        .additional
        .map(parse_additional_headers)
        .transpose()?
        .unwrap_or_default();
    check_content_sha256(req.headers)?;

    let datetime = req
        .headers
        .get(OSS.date_header)
        .ok_or_else(|| AuthError::new(ErrorCode::DateMissing, MSG_DATE_REQUIRED))?
        .to_str()
        .unwrap_or_default();
    let when = dates::parse_iso_basic(datetime)
        .ok_or_else(|| AuthError::new(ErrorCode::DateInvalid, MSG_DATE_REQUIRED))?;
    check_credential_date(&credential, datetime)?;
    let now = dates::unix_secs(ctx.now);
    if when.abs_diff(now) > dates::MAX_SKEW_SECS.unsigned_abs() {
        return Err(AuthError::skewed(datetime, now));
    }

    Signed {
        credential,
        datetime,
        additional,
        provided: fields.signature,
    }
    .verify(req, keys)
    .await
}

/// Verifies a V4 presigned URL.
pub(super) async fn verify_query(
    req: &RequestParts<'_>,
    keys: &dyn SecretLookup,
    ctx: &AuthContext,
) -> Result<Principal, AuthError> {
    let incomplete = |code| AuthError::new(code, MSG_QUERY_PARAMS);
    let param = |name| query_param(req.query, name);
    let version = param(PARAM_VERSION).ok_or_else(|| incomplete(ErrorCode::V4VersionMissing))?;
    if version != ALGORITHM {
        return Err(AuthError::new(
            ErrorCode::V1AuthMalformed,
            super::MSG_UNSUPPORTED_SCHEME,
        ));
    }
    let credential =
        param(PARAM_CREDENTIAL).ok_or_else(|| incomplete(ErrorCode::V4CredentialMissing))?;
    if credential.is_empty() {
        return Err(incomplete(ErrorCode::V4CredentialEmpty));
    }
    let datetime = param(PARAM_DATE)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| incomplete(ErrorCode::V4DateParamMissing))?;
    let expires = param(PARAM_EXPIRES)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| incomplete(ErrorCode::V4ExpiresMissing))?;
    let provided = param(PARAM_SIGNATURE)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| incomplete(ErrorCode::V4SignatureMissing))?;

    let credential = parse_credential(credential, ctx)?;
    let additional = param(PARAM_ADDITIONAL_HEADERS)
        .map(parse_additional_headers)
        .transpose()?
        .unwrap_or_default();
    let when = dates::parse_iso_basic(datetime)
        .ok_or_else(|| AuthError::new(ErrorCode::DateInvalid, MSG_DATE_REQUIRED))?;
    check_credential_date(&credential, datetime)?;
    let expires = parse_decimal::<u64>(expires)
        .filter(|s| (1..=MAX_EXPIRES_SECS).contains(s))
        .ok_or_else(|| {
            AuthError::new(
                ErrorCode::V4ExpiresInvalid,
                "x-oss-expires must be between 1 and 604800 seconds.",
            )
        })?;

    let now = dates::unix_secs(ctx.now);
    if when.saturating_sub(now) > dates::MAX_SKEW_SECS {
        return Err(AuthError::new(
            ErrorCode::V4NotYetValid,
            "Request is not valid yet; x-oss-date is in the future.",
        ));
    }
    // `expires` is at most 7 days and `when` at most year 9999: no overflow, lossless cast.
    let expires_at = when + expires as i64;
    if now > expires_at {
        return Err(AuthError::expired(expires_at, now));
    }
    check_content_sha256(req.headers)?;

    Signed {
        credential,
        datetime,
        additional,
        provided,
    }
    .verify(req, keys)
    .await
}

#[cfg(test)]
mod tests {
    use crate::auth::ec;
    use std::time::{Duration, SystemTime};

    use super::super::error::{MSG_SIGNATURE_MISMATCH, MSG_SKEWED};
    use super::super::signer::{Credentials, SignableRequest, presign_v4, sign_v4_header};
    use super::super::test_support::authenticate;
    use super::super::test_support::*;
    use super::super::{MSG_MALFORMED_AUTH, MSG_UNSUPPORTED_SCHEME};
    use super::*;

    /// 2023-12-16T16:20:57Z.
    const NOW: u64 = 1_702_743_657;
    const CREDENTIAL: &str = "ak/20231216/cn-hangzhou/oss/aliyun_v4_request";

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn run(q: &[(String, String)], h: &HeaderMap, now: u64) -> Result<Principal, AuthError> {
        authenticate(
            &parts("GET", Some("bucket"), Some("k"), q, h),
            &Keys,
            &ctx(now),
        )
    }

    /// A GET signed in the header by `ak` with `secret` at NOW.
    fn header_signed(secret: &str) -> HeaderMap {
        let (mut q, mut h) = (Vec::new(), headers(&[("range", "bytes=0-1")]));
        let mut req = SignableRequest::new("GET", Some("bucket"), Some("k"), &mut q, &mut h);
        sign_v4_header(
            &mut req,
            &Credentials::new("ak", secret),
            "cn-hangzhou",
            at(NOW),
            &["range"],
        )
        .unwrap();
        h
    }

    fn with_authorization(h: &HeaderMap, value: &str) -> HeaderMap {
        let mut h = h.clone();
        h.insert("authorization", value.parse().unwrap());
        h
    }

    fn presigned(region: &str, time: u64, expires: u64) -> Vec<(String, String)> {
        let (mut q, mut h) = (Vec::new(), HeaderMap::new());
        let mut req = SignableRequest::new("GET", Some("bucket"), Some("k"), &mut q, &mut h);
        let expires = Duration::from_secs(expires);
        presign_v4(
            &mut req,
            &Credentials::new("ak", "sk"),
            region,
            at(time),
            expires,
            &[],
        )
        .unwrap();
        q
    }

    fn set_param(q: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
        let mut out: Vec<_> = q.iter().filter(|(k, _)| k != name).cloned().collect();
        if let Some(value) = value {
            out.push((name.to_owned(), value.to_owned()));
        }
        out
    }

    #[test]
    fn accepts_signed_header_request() {
        let h = header_signed("sk");
        assert_eq!(
            run(&[], &h, NOW),
            Ok(Principal::AccessKey {
                access_key_id: "ak".into()
            })
        );
    }

    #[test]
    fn wrong_signature_reports_string_to_sign_and_canonical_request() {
        let h = header_signed("wrong");
        let err = expect_err(
            run(&[], &h, NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V4_SIGNATURE_MISMATCH,
        );
        assert_eq!(err.message, MSG_SIGNATURE_MISMATCH);
        let names: Vec<_> = err.extra.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "StringToSign",
                "StringToSignBytes",
                "SignatureProvided",
                "OSSAccessKeyId",
                "CanonicalRequest"
            ]
        );
        assert!(err.extra[0].1.starts_with(
            "OSS4-HMAC-SHA256\n20231216T162057Z\n20231216/cn-hangzhou/oss/aliyun_v4_request\n"
        ));
        assert!(err.extra[1].1.starts_with("4F 53 53 34 2D "));
        assert_eq!(err.extra[3].1, "ak");
        assert_eq!(
            err.extra[4].1,
            "GET\n/bucket/k\n\nrange:bytes=0-1\nx-oss-content-sha256:UNSIGNED-PAYLOAD\n\
             x-oss-date:20231216T162057Z\n\nrange\nUNSIGNED-PAYLOAD"
        );
    }

    #[test]
    fn unknown_access_key() {
        let h = header_signed("sk");
        let value = authorization_with(&h, |v| {
            v.replacen("Credential=ak/", "Credential=nobody/", 1)
        });
        let err = expect_err(
            run(&[], &value, NOW),
            403,
            "InvalidAccessKeyId",
            ec::ACCESS_KEY_NOT_FOUND,
        );
        assert_eq!(
            err.message,
            "The OSS Access Key Id you provided does not exist in our records."
        );
    }

    fn authorization_with(h: &HeaderMap, edit: impl Fn(&str) -> String) -> HeaderMap {
        let value = edit(h.get("authorization").unwrap().to_str().unwrap());
        with_authorization(h, &value)
    }

    #[test]
    fn wrong_region_is_invalid_argument() {
        let h = authorization_with(&header_signed("sk"), |v| {
            v.replace("/cn-hangzhou/", "/cn-beijing/")
        });
        let err = expect_err(
            run(&[], &h, NOW),
            400,
            "InvalidArgument",
            ec::V4_REGION_INVALID,
        );
        assert_eq!(
            err.message,
            "Invalid signing region in Authorization header."
        );
        let q = presigned("oss-cn-hangzhou", NOW, 60);
        let err = expect_err(
            run(&q, &HeaderMap::new(), NOW),
            400,
            "InvalidArgument",
            ec::V4_REGION_INVALID,
        );
        assert_eq!(err.message, MSG_REGION);
    }

    #[test]
    fn empty_region_is_invalid_argument() {
        let h = authorization_with(&header_signed("sk"), |v| v.replace("/cn-hangzhou/", "//"));
        let err = expect_err(
            run(&[], &h, NOW),
            400,
            "InvalidArgument",
            ec::V4_REGION_EMPTY,
        );
        assert_eq!(err.message, "The signing region in credential is invalid.");
        let q = presigned("", NOW, 60);
        let err = expect_err(
            run(&q, &HeaderMap::new(), NOW),
            400,
            "InvalidArgument",
            ec::V4_REGION_EMPTY,
        );
        assert_eq!(err.message, MSG_REGION_EMPTY);
    }

    #[test]
    fn only_unsigned_payload_is_accepted() {
        let mut h = header_signed("sk");
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        h.insert(CONTENT_SHA256, sha.parse().unwrap());
        let err = expect_err(
            run(&[], &h, NOW),
            400,
            "InvalidArgument",
            ec::V4_CONTENT_SHA256_INVALID,
        );
        assert!(err.message.contains("UNSIGNED-PAYLOAD"));
        let q = presigned("cn-hangzhou", NOW, 60);
        let h = headers(&[(CONTENT_SHA256, sha)]);
        expect_err(
            run(&q, &h, NOW),
            400,
            "InvalidArgument",
            ec::V4_CONTENT_SHA256_INVALID,
        );
        // An absent header means UNSIGNED-PAYLOAD (signed here without the signer, which
        // always sends the header).
        let mut h = headers(&[("x-oss-date", "20231216T162057Z")]);
        let canonical = canonical_request(&parts("GET", Some("bucket"), Some("k"), &[], &h), &[]);
        let scope = scope("20231216", "cn-hangzhou");
        let sts = string_to_sign("20231216T162057Z", &scope, &canonical);
        let value = format!(
            "{ALGORITHM} Credential=ak/{scope},Signature={}",
            sign("sk", "20231216", "cn-hangzhou", &sts)
        );
        h.insert("authorization", value.parse().unwrap());
        assert!(run(&[], &h, NOW).is_ok());
    }

    #[test]
    fn credential_date_must_match_x_oss_date() {
        let h = authorization_with(&header_signed("sk"), |v| {
            v.replace("/20231216/", "/20231215/")
        });
        expect_err(
            run(&[], &h, NOW),
            400,
            "InvalidArgument",
            ec::V4_CREDENTIAL_DATE_MISMATCH,
        );
        let q = presigned("cn-hangzhou", NOW, 60);
        let q = set_param(
            &q,
            PARAM_CREDENTIAL,
            Some("ak/20231215/cn-hangzhou/oss/aliyun_v4_request"),
        );
        expect_err(
            run(&q, &HeaderMap::new(), NOW),
            400,
            "InvalidArgument",
            ec::V4_CREDENTIAL_DATE_MISMATCH,
        );
    }

    #[test]
    fn missing_or_invalid_x_oss_date() {
        let mut h = header_signed("sk");
        h.remove("x-oss-date");
        // A Date header does not stand in for x-oss-date in V4.
        let err = expect_err(run(&[], &h, NOW), 403, "AccessDenied", ec::DATE_MISSING);
        assert_eq!(err.message, MSG_DATE_REQUIRED);
        for bad in [
            "Sat, 16 Dec 2023 16:20:57 GMT",
            "20231216T162057",
            "2023121616:20:57Z",
        ] {
            h.insert("x-oss-date", bad.parse().unwrap());
            expect_err(run(&[], &h, NOW), 403, "AccessDenied", ec::DATE_INVALID);
        }
    }

    #[test]
    fn clock_skew_limit() {
        let h = header_signed("sk");
        assert!(run(&[], &h, NOW + 900).is_ok());
        assert!(run(&[], &h, NOW - 900).is_ok());
        for now in [NOW + 901, NOW - 901] {
            let err = expect_err(
                run(&[], &h, now),
                403,
                "RequestTimeTooSkewed",
                ec::TIME_SKEWED,
            );
            assert_eq!(err.message, MSG_SKEWED);
            assert_eq!(err.extra[0], ("RequestTime", "20231216T162057Z".to_owned()));
        }
    }

    #[test]
    fn malformed_authorization_fields() {
        let h = header_signed("sk");
        let sig = "Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe";
        let cases = [
            (format!("OSS4-HMAC-SHA256 {sig}"), ec::V4_AUTH_MALFORMED),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL}"),
                ec::V4_AUTH_MALFORMED,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL},{sig},Foo=bar"),
                ec::V4_AUTH_MALFORMED,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL},{sig},{sig}"),
                ec::V4_AUTH_MALFORMED,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL} {sig}"),
                ec::V4_AUTH_MALFORMED,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL},Signature="),
                ec::V4_AUTH_MALFORMED,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL},,{sig}"),
                ec::V4_AUTH_MALFORMED,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL},AdditionalHeaders=,{sig}"),
                ec::V4_ADDITIONAL_HEADERS_EMPTY,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL},AdditionalHeaders=host;,{sig}"),
                ec::V4_ADDITIONAL_HEADER_EMPTY_ELEMENT,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential={CREDENTIAL},AdditionalHeaders=a;;b,{sig}"),
                ec::V4_ADDITIONAL_HEADER_EMPTY_ELEMENT,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss,{sig}"),
                ec::V4_CREDENTIAL_INVALID,
            ),
            (
                format!(
                    "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/s3/aliyun_v4_request,{sig}"
                ),
                ec::V4_CREDENTIAL_INVALID,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/abc,{sig}"),
                ec::V4_CREDENTIAL_INVALID,
            ),
            (
                format!(
                    "OSS4-HMAC-SHA256 Credential=a/k/20231216/cn-hangzhou/oss/aliyun_v4_request,{sig}"
                ),
                ec::V4_CREDENTIAL_INVALID,
            ),
            (
                format!("OSS4-HMAC-SHA256 Credential=ak/20231216//oss/aliyun_v4_request,{sig}"),
                ec::V4_REGION_EMPTY,
            ),
            (
                format!(
                    "OSS4-HMAC-SHA256 Credential=/20231216/cn-hangzhou/oss/aliyun_v4_request,{sig}"
                ),
                ec::V4_ACCESS_KEY_INVALID,
            ),
            (
                format!(
                    "OSS4-HMAC-SHA256 Credential=a\tk/20231216/cn-hangzhou/oss/aliyun_v4_request,{sig}"
                ),
                ec::V4_ACCESS_KEY_INVALID,
            ),
            (
                format!(
                    "OSS4-HMAC-SHA256 Credential=ak/2023-1216/cn-hangzhou/oss/aliyun_v4_request,{sig}"
                ),
                ec::V4_CREDENTIAL_DATE_INVALID,
            ),
            (
                format!(
                    "OSS4-HMAC-SHA256 Credential=ak/20231332/cn-hangzhou/oss/aliyun_v4_request,{sig}"
                ),
                ec::V4_CREDENTIAL_DATE_INVALID,
            ),
        ];
        for (value, ec) in cases {
            let err = expect_err(
                run(&[], &with_authorization(&h, &value), NOW),
                400,
                "InvalidArgument",
                ec,
            );
            if ec == ec::V4_AUTH_MALFORMED {
                assert_eq!(err.message, MSG_MALFORMED_AUTH, "{value}");
            }
        }
    }

    #[test]
    fn presigned_url_valid_window() {
        let q = presigned("cn-hangzhou", NOW, 3600);
        let ok = Ok(Principal::AccessKey {
            access_key_id: "ak".into(),
        });
        // Usable from 15 minutes before x-oss-date until x-oss-date + x-oss-expires.
        assert_eq!(run(&q, &HeaderMap::new(), NOW - 900), ok);
        assert_eq!(run(&q, &HeaderMap::new(), NOW + 3600), ok);
        let err = expect_err(
            run(&q, &HeaderMap::new(), NOW - 901),
            403,
            "AccessDenied",
            ec::V4_NOT_YET_VALID,
        );
        assert!(err.message.contains("not valid yet"));
        let err = expect_err(
            run(&q, &HeaderMap::new(), NOW + 3601),
            403,
            "AccessDenied",
            ec::URL_EXPIRED,
        );
        assert_eq!(err.message, "Request has expired.");
        assert_eq!(
            err.extra[0],
            ("Expires", "2023-12-16T17:20:57.000Z".to_owned())
        );
    }

    #[test]
    fn presigned_url_missing_parameters() {
        let full = presigned("cn-hangzhou", NOW, 60);
        for (name, missing, empty) in [
            (
                PARAM_CREDENTIAL,
                ec::V4_CREDENTIAL_MISSING,
                ec::V4_CREDENTIAL_EMPTY,
            ),
            (
                PARAM_DATE,
                ec::V4_DATE_PARAM_MISSING,
                ec::V4_DATE_PARAM_MISSING,
            ),
            (
                PARAM_EXPIRES,
                ec::V4_EXPIRES_MISSING,
                ec::V4_EXPIRES_MISSING,
            ),
            (
                PARAM_SIGNATURE,
                ec::V4_SIGNATURE_MISSING,
                ec::V4_SIGNATURE_MISSING,
            ),
            (PARAM_VERSION, ec::V4_VERSION_MISSING, ""),
        ] {
            let err = expect_err(
                run(&set_param(&full, name, None), &HeaderMap::new(), NOW),
                403,
                "AccessDenied",
                missing,
            );
            assert_eq!(err.message, MSG_QUERY_PARAMS);
            if !empty.is_empty() {
                let q = set_param(&full, name, Some(""));
                let err = expect_err(run(&q, &HeaderMap::new(), NOW), 403, "AccessDenied", empty);
                assert_eq!(err.message, MSG_QUERY_PARAMS);
            }
        }
    }

    #[test]
    fn presigned_url_unsupported_version() {
        let full = presigned("cn-hangzhou", NOW, 60);
        for version in ["OSS2", "", "AWS4-HMAC-SHA256"] {
            let q = set_param(&full, PARAM_VERSION, Some(version));
            let err = expect_err(
                run(&q, &HeaderMap::new(), NOW),
                400,
                "InvalidArgument",
                ec::V1_AUTH_MALFORMED,
            );
            assert_eq!(err.message, MSG_UNSUPPORTED_SCHEME);
        }
    }

    #[test]
    fn presigned_url_expires_range() {
        let full = presigned("cn-hangzhou", NOW, 60);
        for bad in [
            "0",
            "604801",
            "-1",
            "+60",
            "abc",
            "1e3",
            "99999999999999999999999",
        ] {
            let q = set_param(&full, PARAM_EXPIRES, Some(bad));
            expect_err(
                run(&q, &HeaderMap::new(), NOW),
                403,
                "AccessDenied",
                ec::V4_EXPIRES_INVALID,
            );
        }
    }

    #[test]
    fn presigned_url_invalid_date_and_additional_headers() {
        let full = presigned("cn-hangzhou", NOW, 60);
        let q = set_param(&full, PARAM_DATE, Some("2023-12-16T16:20:57Z"));
        expect_err(
            run(&q, &HeaderMap::new(), NOW),
            403,
            "AccessDenied",
            ec::DATE_INVALID,
        );
        let q = set_param(&full, PARAM_ADDITIONAL_HEADERS, Some(""));
        expect_err(
            run(&q, &HeaderMap::new(), NOW),
            400,
            "InvalidArgument",
            ec::V4_ADDITIONAL_HEADERS_EMPTY,
        );
    }

    #[test]
    fn presigned_url_tampering_is_detected() {
        let full = presigned("cn-hangzhou", NOW, 60);
        let mut q = full.clone();
        q.push(("x-oss-process".into(), "image/resize,w_1".into()));
        expect_err(
            run(&q, &HeaderMap::new(), NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V4_SIGNATURE_MISMATCH,
        );
        let q = set_param(&full, PARAM_EXPIRES, Some("600"));
        expect_err(
            run(&q, &HeaderMap::new(), NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V4_SIGNATURE_MISMATCH,
        );
        // Every query parameter is signed in V4, unlike V1.
        let mut q = full;
        q.push(("prefix".into(), "a".into()));
        expect_err(
            run(&q, &HeaderMap::new(), NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V4_SIGNATURE_MISMATCH,
        );
    }

    #[test]
    fn canonical_uri_and_query_encoding() {
        assert_eq!(canonical_uri(None, Some("ignored")), "/");
        assert_eq!(canonical_uri(Some("b"), None), "/b/");
        assert_eq!(
            canonical_uri(Some("b"), Some("a b/c~d.e_f-g+h")),
            "/b/a%20b/c~d.e_f-g%2Bh"
        );
        let q = query(&[
            ("b", "x/y z"),
            ("a", ""),
            ("x-oss-signature", "zz"),
            ("a", "1"),
        ]);
        assert_eq!(canonical_query(&q), "a&a=1&b=x%2Fy%20z");
    }
}
