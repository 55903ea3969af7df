//! V1 signatures (oss-api.md §3.1, §3.2): `Authorization: OSS <ak>:<sig>` and presigned URLs
//! with `OSSAccessKeyId`, `Expires` and `Signature`. Signature = Base64(HMAC-SHA1(secret, sts)).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderValue;
use sha1::Sha1;

use super::error::MSG_DATE_REQUIRED;
use super::{
    AuthContext, AuthError, Check, HeaderMap, Principal, RequestParts, SecretLookup,
    canonical_headers, dates, joined_header, parse_decimal, query_param, valid_access_key_id,
};
use crate::error::ErrorCode;

/// Query parameters that belong to the canonical resource (oss-api.md §3.1), in byte order for
/// binary search. Every parameter starting with `x-oss-` is signed too, so those are left out.
const SUBRESOURCES: &[&str] = &[
    "accessPoint",
    "accessPointPolicy",
    "acl",
    "append",
    "asyncFetch",
    "bucketArchiveDirectRead",
    "bucketInfo",
    "callback",
    "callback-var",
    "cloudboxes",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "httpsConfig",
    "img",
    "inventory",
    "inventoryId",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "publicAccessBlock",
    "qos",
    "qosInfo",
    "qosRequester",
    "redundancyTransition",
    "referer",
    "regionList",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "requesterQosInfo",
    "resourceGroup",
    "resourcePool",
    "resourcePoolBuckets",
    "resourcePoolInfo",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "transferAcceleration",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
];

pub(crate) const PARAM_ACCESS_KEY_ID: &str = "OSSAccessKeyId";
pub(crate) const PARAM_EXPIRES: &str = "Expires";
pub(crate) const PARAM_SIGNATURE: &str = "Signature";
/// The STS token parameter of V1 presigned URLs; it is a sub-resource and therefore signed.
pub(crate) const PARAM_SECURITY_TOKEN: &str = "security-token";

const MSG_QUERY_PARAMS: &str =
    "Query-string authentication requires the Signature, Expires and OSSAccessKeyId parameters";

fn is_subresource(name: &str) -> bool {
    name.starts_with("x-oss-") || SUBRESOURCES.binary_search(&name).is_ok()
}

/// `/`, `/bucket/` or `/bucket/key`, then the signed sub-resources as `?a=1&b&c=3`.
pub(crate) fn canonical_resource(req: &RequestParts<'_>) -> Vec<u8> {
    let mut out = vec![b'/'];
    if let Some(bucket) = req.bucket {
        out.extend_from_slice(bucket.as_bytes());
        out.push(b'/');
        if let Some(key) = req.key {
            out.extend_from_slice(key.as_bytes());
        }
    }
    let mut params: Vec<&(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| is_subresource(k))
        .collect();
    // Stable sort: repeated names keep their request order.
    params.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in params.into_iter().enumerate() {
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(name.as_bytes());
        if !value.is_empty() {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
    }
    out
}

/// The header that supplies the date line: `x-oss-date` wins over `Date`.
pub(crate) fn date_header(headers: &HeaderMap) -> Option<&HeaderValue> {
    headers
        .get("x-oss-date")
        .or_else(|| headers.get(http::header::DATE))
}

/// `VERB\nContent-MD5\nContent-Type\n<date line>\n<x-oss- headers><resource>`. The date line is
/// the date header for header signatures and the `Expires` value for presigned URLs.
pub(crate) fn string_to_sign(req: &RequestParts<'_>, date_line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    for name in ["content-md5", "content-type"] {
        if let Some(value) = joined_header(req.headers, name) {
            out.extend_from_slice(&value);
        }
        out.push(b'\n');
    }
    out.extend_from_slice(date_line);
    out.push(b'\n');
    out.extend(canonical_headers(req.headers, |n| n.starts_with("x-oss-")));
    out.extend(canonical_resource(req));
    out
}

/// Base64(HMAC-SHA1(secret, string_to_sign)).
pub(crate) fn sign(secret: &str, string_to_sign: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign);
    BASE64.encode(mac.finalize().into_bytes())
}

/// Verifies `Authorization: OSS <ak>:<signature>`; `credentials` is the part after `OSS `.
pub(super) async fn verify_header(
    req: &RequestParts<'_>,
    credentials: &str,
    keys: &dyn SecretLookup,
    ctx: &AuthContext,
) -> Result<Principal, AuthError> {
    let malformed = || AuthError::new(ErrorCode::V1AuthMalformed, super::MSG_MALFORMED_AUTH);
    let (access_key_id, provided) = credentials.trim().split_once(':').ok_or_else(malformed)?;
    if !valid_access_key_id(access_key_id) {
        return Err(AuthError::new(
            ErrorCode::V1AccessKeyInvalid,
            "The OSS Access Key Id in the Authorization header is invalid.",
        ));
    }
    if provided.is_empty() {
        return Err(malformed());
    }

    let now = dates::unix_secs(ctx.now);
    let date = date_header(req.headers)
        .ok_or_else(|| AuthError::new(ErrorCode::DateMissing, MSG_DATE_REQUIRED))?;
    let date_text = date.to_str().unwrap_or_default();
    // SDKs send RFC 1123; the EC pages also show `x-oss-date` in ISO 8601 basic form.
    let when = dates::parse_http_date(date_text)
        .or_else(|| dates::parse_iso_basic(date_text))
        .ok_or_else(|| AuthError::new(ErrorCode::DateInvalid, MSG_DATE_REQUIRED))?;
    if when.abs_diff(now) > dates::MAX_SKEW_SECS.unsigned_abs() {
        return Err(AuthError::skewed(date_text, now));
    }

    let sts = string_to_sign(req, date.as_bytes());
    Check {
        access_key_id,
        provided,
        string_to_sign: &sts,
        canonical_request: None,
        mismatch: ErrorCode::V1SignatureMismatch,
    }
    .run(keys, |secret| sign(secret.expose(), &sts))
    .await
}

/// Verifies a V1 presigned URL (`OSSAccessKeyId`, `Expires`, `Signature`).
pub(super) async fn verify_query(
    req: &RequestParts<'_>,
    keys: &dyn SecretLookup,
    ctx: &AuthContext,
) -> Result<Principal, AuthError> {
    let incomplete = |code| AuthError::new(code, MSG_QUERY_PARAMS);
    let access_key_id = query_param(req.query, PARAM_ACCESS_KEY_ID)
        .ok_or_else(|| incomplete(ErrorCode::V1AccessKeyMissing))?;
    if access_key_id.is_empty() {
        return Err(incomplete(ErrorCode::V1AccessKeyEmpty));
    }
    let expires = query_param(req.query, PARAM_EXPIRES)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| incomplete(ErrorCode::V1ExpiresMissing))?;
    let provided = query_param(req.query, PARAM_SIGNATURE)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| incomplete(ErrorCode::V1SignatureMissing))?;

    let expires_at = parse_decimal::<i64>(expires).ok_or_else(|| {
        AuthError::new(
            ErrorCode::V1ExpiresInvalid,
            "The Expires parameter must be a Unix time in seconds.",
        )
    })?;
    // OSS checks expiry before the signature.
    let now = dates::unix_secs(ctx.now);
    if now > expires_at {
        return Err(AuthError::expired(expires_at, now));
    }

    let sts = string_to_sign(req, expires.as_bytes());
    Check {
        access_key_id,
        provided,
        string_to_sign: &sts,
        canonical_request: None,
        mismatch: ErrorCode::V1SignatureMismatch,
    }
    .run(keys, |secret| sign(secret.expose(), &sts))
    .await
}

#[cfg(test)]
mod tests {
    use super::super::test_support::authenticate;
    use super::super::test_support::*;
    use super::super::{error::MSG_SIGNATURE_MISMATCH, error::MSG_SKEWED};
    use super::*;
    use crate::auth::ec;

    /// Wed, 28 Dec 2022 10:27:41 GMT, the time of the SDK vectors.
    const NOW: u64 = 1_672_223_261;
    const DATE: &str = "Wed, 28 Dec 2022 10:27:41 GMT";

    fn bucket_get(q: &[(String, String)], h: &HeaderMap, now: u64) -> Result<Principal, AuthError> {
        authenticate(
            &parts("GET", Some("examplebucket"), None, q, h),
            &Keys,
            &ctx(now),
        )
    }

    /// A correctly signed bucket GET, built independently of the signer.
    fn signed_headers(ak: &str, secret: &str, date_header: (&str, &str)) -> HeaderMap {
        let mut h = headers(&[date_header]);
        let q: Vec<(String, String)> = Vec::new();
        let sts = string_to_sign(
            &parts("GET", Some("examplebucket"), None, &q, &h),
            date_header.1.as_bytes(),
        );
        let value = format!("OSS {ak}:{}", sign(secret, &sts));
        h.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn subresource_list_is_sorted_for_binary_search() {
        assert!(SUBRESOURCES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_subresource("uploadId"));
        assert!(is_subresource("x-oss-anything"));
        assert!(!is_subresource("prefix"));
        assert!(!is_subresource("uploadid"));
    }

    #[test]
    fn canonical_resource_shapes() {
        let h = HeaderMap::new();
        let none: Vec<(String, String)> = Vec::new();
        let cases: [(Option<&str>, Option<&str>, &str); 3] = [
            (None, None, "/"),
            (Some("b"), None, "/b/"),
            (Some("b"), Some("dir/中 +.txt"), "/b/dir/中 +.txt"),
        ];
        for (bucket, key, want) in cases {
            let r = parts("GET", bucket, key, &none, &h);
            assert_eq!(canonical_resource(&r), want.as_bytes());
        }
        let q = query(&[
            ("uploadId", "u/1"),
            ("prefix", "p"),
            ("max-keys", "10"),
            ("x-oss-process", "image/resize,w_10"),
            ("acl", ""),
            ("partNumber", "2"),
        ]);
        let r = parts("GET", Some("b"), Some("k"), &q, &h);
        assert_eq!(
            String::from_utf8(canonical_resource(&r)).unwrap(),
            "/b/k?acl&partNumber=2&uploadId=u/1&x-oss-process=image/resize,w_10"
        );
    }

    #[test]
    fn accepts_valid_header_signature_with_either_date_header() {
        let h = signed_headers("ak", "sk", ("date", DATE));
        assert_eq!(
            bucket_get(&[], &h, NOW),
            Ok(Principal::AccessKey {
                access_key_id: "ak".into()
            })
        );
        // x-oss-date in ISO 8601 basic form is accepted too (as the EC pages show).
        let h = signed_headers("ak", "sk", ("x-oss-date", "20221228T102741Z"));
        assert!(bucket_get(&[], &h, NOW).is_ok());
    }

    #[test]
    fn x_oss_date_wins_over_date() {
        let mut h = signed_headers("ak", "sk", ("x-oss-date", DATE));
        // A stale Date is irrelevant when x-oss-date is present.
        h.insert(
            http::header::DATE,
            "Thu, 01 Jan 2015 00:00:00 GMT".parse().unwrap(),
        );
        assert!(bucket_get(&[], &h, NOW).is_ok());
    }

    #[test]
    fn unknown_access_key() {
        let h = signed_headers("nobody", "sk", ("date", DATE));
        let err = expect_err(
            bucket_get(&[], &h, NOW),
            403,
            "InvalidAccessKeyId",
            ec::ACCESS_KEY_NOT_FOUND,
        );
        assert_eq!(
            err.message,
            "The OSS Access Key Id you provided does not exist in our records."
        );
        assert_eq!(err.extra, vec![("OSSAccessKeyId", "nobody".to_owned())]);
    }

    #[test]
    fn wrong_signature_reports_string_to_sign() {
        let h = signed_headers("ak", "wrong-secret", ("date", DATE));
        let err = expect_err(
            bucket_get(&[], &h, NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V1_SIGNATURE_MISMATCH,
        );
        assert_eq!(err.message, MSG_SIGNATURE_MISMATCH);
        let sts = format!("GET\n\n\n{DATE}\n/examplebucket/");
        let provided = sign("wrong-secret", sts.as_bytes());
        let bytes: String = sts.bytes().map(|b| format!("{b:02X} ")).collect();
        assert_eq!(
            err.extra,
            vec![
                ("StringToSign", sts),
                ("StringToSignBytes", bytes),
                ("SignatureProvided", provided),
                ("OSSAccessKeyId", "ak".to_owned()),
            ]
        );
    }

    #[test]
    fn tampering_with_signed_parts_is_detected() {
        let good = signed_headers("ak", "sk", ("date", DATE));
        let mut h = good.clone();
        h.insert("x-oss-meta-evil", "1".parse().unwrap());
        expect_err(
            bucket_get(&[], &h, NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V1_SIGNATURE_MISMATCH,
        );
        let q = query(&[("acl", "")]);
        expect_err(
            bucket_get(&q, &good, NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V1_SIGNATURE_MISMATCH,
        );
        // Unsigned listing parameters do not matter.
        let q = query(&[("prefix", "a"), ("max-keys", "5")]);
        assert!(bucket_get(&q, &good, NOW).is_ok());
    }

    #[test]
    fn clock_skew_limit_is_fifteen_minutes_each_way() {
        let h = signed_headers("ak", "sk", ("date", DATE));
        assert!(bucket_get(&[], &h, NOW + 900).is_ok());
        assert!(bucket_get(&[], &h, NOW - 900).is_ok());
        for now in [NOW + 901, NOW - 901] {
            let err = expect_err(
                bucket_get(&[], &h, now),
                403,
                "RequestTimeTooSkewed",
                ec::TIME_SKEWED,
            );
            assert_eq!(err.message, MSG_SKEWED);
            assert_eq!(err.extra[0], ("RequestTime", DATE.to_owned()));
            assert_eq!(
                err.extra[2],
                ("MaxAllowedSkewMilliseconds", "900000".to_owned())
            );
        }
    }

    #[test]
    fn missing_or_invalid_date_is_access_denied() {
        let h = headers(&[("authorization", "OSS ak:c2ln")]);
        let err = expect_err(
            bucket_get(&[], &h, NOW),
            403,
            "AccessDenied",
            ec::DATE_MISSING,
        );
        assert_eq!(err.message, MSG_DATE_REQUIRED);
        for bad in ["yesterday", "2022-12-28 10:27:41", ""] {
            let h = headers(&[("authorization", "OSS ak:c2ln"), ("date", bad)]);
            let err = expect_err(
                bucket_get(&[], &h, NOW),
                403,
                "AccessDenied",
                ec::DATE_INVALID,
            );
            assert_eq!(err.message, MSG_DATE_REQUIRED);
        }
    }

    #[test]
    fn malformed_header_credentials() {
        for (value, ec) in [
            ("OSS aksig", ec::V1_AUTH_MALFORMED),
            ("OSS ak:", ec::V1_AUTH_MALFORMED),
            ("OSS :sig", ec::V1_ACCESS_KEY_INVALID),
            ("OSS a\tk:sig", ec::V1_ACCESS_KEY_INVALID),
        ] {
            let h = headers(&[("authorization", value), ("date", DATE)]);
            expect_err(bucket_get(&[], &h, NOW), 400, "InvalidArgument", ec);
        }
    }

    fn presigned(expires: &str, secret: &str) -> Vec<(String, String)> {
        let h = HeaderMap::new();
        let mut q = query(&[("acl", "")]);
        let sts = string_to_sign(
            &parts("GET", Some("examplebucket"), None, &q, &h),
            expires.as_bytes(),
        );
        q.extend(query(&[
            ("OSSAccessKeyId", "ak"),
            ("Expires", expires),
            ("Signature", &sign(secret, &sts)),
        ]));
        q
    }

    #[test]
    fn presigned_url_valid_until_expires() {
        let q = presigned("1672223261", "sk");
        let ok = Ok(Principal::AccessKey {
            access_key_id: "ak".into(),
        });
        assert_eq!(bucket_get(&q, &HeaderMap::new(), NOW - 3600), ok);
        assert_eq!(bucket_get(&q, &HeaderMap::new(), NOW), ok);
        let err = expect_err(
            bucket_get(&q, &HeaderMap::new(), NOW + 1),
            403,
            "AccessDenied",
            ec::URL_EXPIRED,
        );
        assert_eq!(err.message, "Request has expired.");
        assert_eq!(
            err.extra[0],
            ("Expires", "2022-12-28T10:27:41.000Z".to_owned())
        );
        assert_eq!(
            err.extra[1],
            ("ServerTime", "2022-12-28T10:27:42.000Z".to_owned())
        );
    }

    #[test]
    fn presigned_url_expiry_is_checked_before_signature() {
        let q = presigned("1672223261", "wrong");
        expect_err(
            bucket_get(&q, &HeaderMap::new(), NOW + 1),
            403,
            "AccessDenied",
            ec::URL_EXPIRED,
        );
        expect_err(
            bucket_get(&q, &HeaderMap::new(), NOW),
            403,
            "SignatureDoesNotMatch",
            ec::V1_SIGNATURE_MISMATCH,
        );
    }

    #[test]
    fn presigned_url_first_value_wins() {
        let mut q = presigned("1672223261", "sk");
        q.push(("Signature".into(), "bogus".into()));
        assert!(bucket_get(&q, &HeaderMap::new(), NOW).is_ok());
    }

    #[test]
    fn presigned_url_missing_or_empty_parameters() {
        let full = presigned("1672223261", "sk");
        for (name, missing_ec, empty_ec) in [
            (
                "OSSAccessKeyId",
                ec::V1_ACCESS_KEY_MISSING,
                ec::V1_ACCESS_KEY_EMPTY,
            ),
            ("Expires", ec::V1_EXPIRES_MISSING, ec::V1_EXPIRES_MISSING),
            (
                "Signature",
                ec::V1_SIGNATURE_MISSING,
                ec::V1_SIGNATURE_MISSING,
            ),
        ] {
            let dropped: Vec<_> = full.iter().filter(|(k, _)| k != name).cloned().collect();
            let emptied: Vec<_> = full
                .iter()
                .map(|(k, v)| (k.clone(), if k == name { String::new() } else { v.clone() }))
                .collect();
            for (q, ec) in [(dropped, missing_ec), (emptied, empty_ec)] {
                let err = expect_err(
                    bucket_get(&q, &HeaderMap::new(), NOW),
                    403,
                    "AccessDenied",
                    ec,
                );
                assert_eq!(err.message, MSG_QUERY_PARAMS);
            }
        }
    }

    #[test]
    fn presigned_url_invalid_expires() {
        for bad in ["soon", "-1", "+1672223261", "1e9", "99999999999999999999"] {
            let h = HeaderMap::new();
            let q = query(&[
                ("OSSAccessKeyId", "ak"),
                ("Expires", bad),
                ("Signature", "c2ln"),
            ]);
            expect_err(
                bucket_get(&q, &h, NOW),
                403,
                "AccessDenied",
                ec::V1_EXPIRES_INVALID,
            );
        }
    }

    #[test]
    fn presigned_url_unknown_access_key() {
        let mut q = presigned("1672223261", "sk");
        q[1].1 = "nobody".into();
        expect_err(
            bucket_get(&q, &HeaderMap::new(), NOW),
            403,
            "InvalidAccessKeyId",
            ec::ACCESS_KEY_NOT_FOUND,
        );
    }
}
