//! The OSS V4 [VECTOR]s of oss-api.md §3.4 and §3.5 (from the alibabacloud-oss-v2 Python SDK's
//! `tests/unit/signer/test_v4.py`, ak/sk, region cn-hangzhou), run through the [`OSS`]
//! vocabulary beside the AWS ones.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use coffer_sigv4::{OSS, Request, UNSIGNED_PAYLOAD, encode_path};
use http::HeaderMap;

const PATH: &str = "/bucket/1234+-/123/1.txt";
const QUERY: &str = "%2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2";

fn query(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    [
        ("param1", "value1"),
        ("+param1", "value3"),
        ("|param1", "value4"),
        ("+param2", ""),
        ("|param2", ""),
        ("param2", ""),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn headers(content_type: &str, extra: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let base = [
        ("x-oss-head1", "value"),
        ("abc", "value"),
        ("zabc", "value"),
        ("xyz", "value"),
        ("content-type", content_type),
    ];
    for (k, v) in base.iter().chain(extra) {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

/// Canonical request and signature of a PUT to the vector's object at `datetime`.
fn sign(
    q: &[(String, String)],
    h: &HeaderMap,
    listed: &[String],
    datetime: &str,
) -> (String, String) {
    let req = Request {
        method: "PUT",
        path: PATH,
        query: q,
        headers: h,
    };
    let canonical = OSS.canonical_request(&req, listed, UNSIGNED_PAYLOAD);
    let scope = OSS.scope(&datetime[..8], "cn-hangzhou");
    let sts = OSS.string_to_sign(datetime, &OSS.scope_string(&scope), &canonical);
    let signature = OSS.signature("sk", &scope, &sts);
    (String::from_utf8(canonical).unwrap(), signature)
}

fn signed_headers<'a>(datetime: &'a str, extra: &[(&'a str, &'a str)]) -> HeaderMap {
    let mut more = vec![
        ("x-oss-content-sha256", UNSIGNED_PAYLOAD),
        ("x-oss-date", datetime),
    ];
    more.extend_from_slice(extra);
    headers("text/plain", &more)
}

#[test]
fn header_vector() {
    let datetime = "20231216T162057Z";
    let (canonical, signature) = sign(&query(&[]), &signed_headers(datetime, &[]), &[], datetime);
    assert_eq!(
        canonical,
        format!(
            "PUT\n/bucket/1234%2B-/123/1.txt\n{QUERY}\ncontent-type:text/plain\n\
             x-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20231216T162057Z\n\
             x-oss-head1:value\n\n\nUNSIGNED-PAYLOAD"
        )
    );
    assert_eq!(
        OSS.string_to_sign(
            datetime,
            "20231216/cn-hangzhou/oss/aliyun_v4_request",
            canonical.as_bytes()
        ),
        "OSS4-HMAC-SHA256\n20231216T162057Z\n20231216/cn-hangzhou/oss/aliyun_v4_request\n\
         f4613657f1b108998e8dbd10a1aa5da621dc2c6e02c9ddec0f163664848704c4"
    );
    assert_eq!(
        signature,
        "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
    );
    assert_eq!(
        OSS.authorization(
            "ak",
            "20231216/cn-hangzhou/oss/aliyun_v4_request",
            &[],
            &signature
        ),
        "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,\
         Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
    );
}

#[test]
fn header_vector_with_additional_headers() {
    let datetime = "20231216T172512Z";
    let h = signed_headers(datetime, &[]);
    let listed = OSS.headers_to_list(&h, &["ZAbc", "abc", "content-type", "range"]);
    assert_eq!(listed, ["abc", "zabc"]);
    let (canonical, signature) = sign(&query(&[]), &h, &listed, datetime);
    assert!(canonical.contains("\nabc:value\ncontent-type:text/plain\n"));
    assert!(canonical.ends_with("\nzabc:value\n\nabc;zabc\nUNSIGNED-PAYLOAD"));
    assert_eq!(
        signature,
        "4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"
    );
}

#[test]
fn header_vector_with_security_token() {
    let datetime = "20231217T034736Z";
    let h = signed_headers(datetime, &[("x-oss-security-token", "token")]);
    let (_, signature) = sign(&query(&[]), &h, &[], datetime);
    assert_eq!(
        signature,
        "b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea"
    );
}

#[test]
fn presigned_vector() {
    let q = &OSS.query;
    let params = [
        (q.algorithm, OSS.algorithm),
        (q.date, "20231217T025437Z"),
        (q.expires, "599"),
        (
            q.credential,
            "ak/20231217/cn-hangzhou/oss/aliyun_v4_request",
        ),
        (q.signature, "left out of the canonical query"),
    ];
    let h = headers("application/octet-stream", &[]);
    let (canonical, signature) = sign(&query(&params), &h, &[], "20231217T025437Z");
    assert_eq!(
        canonical,
        format!(
            "PUT\n/bucket/1234%2B-/123/1.txt\n{QUERY}&\
             x-oss-credential=ak%2F20231217%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&\
             x-oss-date=20231217T025437Z&x-oss-expires=599&x-oss-signature-version=OSS4-HMAC-SHA256\n\
             content-type:application/octet-stream\nx-oss-head1:value\n\n\nUNSIGNED-PAYLOAD"
        )
    );
    assert_eq!(
        signature,
        "a39966c61718be0d5b14e668088b3fa07601033f6518ac7b523100014269c0fe"
    );
    assert_eq!(encode_path(PATH), "/bucket/1234%2B-/123/1.txt");
}
