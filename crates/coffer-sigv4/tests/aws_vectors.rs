//! AWS's published SigV4 vectors, run through the [`AWS`] vocabulary.
//!
//! Sources (typed in as facts: input request, expected result):
//! * The AWS General Reference's worked example "Create a signed AWS API request" (IAM
//!   ListUsers).
//! * The "aws-sig-v4-test-suite" of the AWS General Reference ("Signature Version 4 test
//!   suite", AKIDEXAMPLE, us-east-1, service `service`, 20150830T123600Z). Each case's
//!   `.authz` value is quoted. The suite's expected values were also checked against
//!   botocore 1.44 (`SigV4Auth`; for get-utf8 and get-space, whose paths botocore encodes
//!   twice for non-S3 services, `S3SigV4Auth`, which encodes once as the suite does).
//! * The Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
//!   Transferring Payload in a Single Chunk" (GET object with range, PUT object, GET bucket
//!   lifecycle, GET bucket list objects) and "Authenticating Requests: Using Query
//!   Parameters" (presigned GET object), AKIAIOSFODNN7EXAMPLE, 20130524T000000Z. The PUT,
//!   lifecycle, list and presigned signatures were cross-checked with botocore 1.44
//!   (`S3SigV4Auth`, `S3SigV4QueryAuth`).

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use coffer_sigv4::{AWS, Request, UNSIGNED_PAYLOAD, normalize_header_names};
use http::HeaderMap;
use sha2::{Digest, Sha256};

const SUITE_AK: &str = "AKIDEXAMPLE";
const SUITE_SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_TIME: &str = "20150830T123600Z";
const S3_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const S3_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const S3_TIME: &str = "20130524T000000Z";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A request as the vectors describe it: decoded path and query, headers as sent.
struct Case<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    headers: &'a [(&'a str, &'a str)],
    payload_hash: String,
}

struct Signed {
    canonical: String,
    authorization: String,
    signature: String,
}

/// Signs `case` listing every header it carries, as the vectors do.
fn sign(case: &Case<'_>, ak: &str, sk: &str, datetime: &str, service: &str) -> Signed {
    let mut headers = HeaderMap::new();
    for (name, value) in case.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        headers.append(name, value.parse().unwrap());
    }
    let query: Vec<(String, String)> = case
        .query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let listed = normalize_header_names(headers.keys().map(|k| k.as_str()));
    let req = Request {
        method: case.method,
        path: case.path,
        query: &query,
        headers: &headers,
    };
    let canonical = AWS.canonical_request(&req, &listed, &case.payload_hash);
    let scope = coffer_sigv4::Scope::new(&datetime[..8], "us-east-1", service);
    let scope_string = AWS.scope_string(&scope);
    let sts = AWS.string_to_sign(datetime, &scope_string, &canonical);
    let signature = AWS.signature(sk, &scope, &sts);
    Signed {
        canonical: String::from_utf8(canonical).unwrap(),
        authorization: AWS.authorization(ak, &scope_string, &listed, &signature),
        signature,
    }
}

fn sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

// --- aws-sig-v4-test-suite --------------------------------------------------------------

const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
const DATE: (&str, &str) = ("X-Amz-Date", SUITE_TIME);

/// Signs a suite case and compares the whole Authorization value with the case's `.authz`.
fn suite(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &[u8],
    signed_headers: &str,
    signature: &str,
) -> String {
    let case = Case {
        method,
        path,
        query,
        headers,
        payload_hash: sha256(body),
    };
    let signed = sign(&case, SUITE_AK, SUITE_SK, SUITE_TIME, "service");
    let expected = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={signed_headers}, Signature={signature}"
    );
    assert_eq!(signed.authorization, expected, "{method} {path} {query:?}");
    signed.canonical
}

#[test]
fn get_vanilla() {
    let canonical = suite(
        "GET",
        "/",
        &[],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    // get-vanilla.creq
    assert_eq!(
        canonical,
        format!(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\n{EMPTY_SHA256}"
        )
    );
}

#[test]
fn get_vanilla_query_order_key_case() {
    let canonical = suite(
        "GET",
        "/",
        &[("Param2", "value2"), ("Param1", "value1")],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    );
    assert!(canonical.starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
}

#[test]
fn get_vanilla_query_unreserved() {
    let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    suite(
        "GET",
        "/",
        &[(unreserved, unreserved)],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    );
}

#[test]
fn get_vanilla_utf8_query() {
    let canonical = suite(
        "GET",
        "/",
        &[("ሴ", "bar")],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    );
    assert!(canonical.starts_with("GET\n/\n%E1%88%B4=bar\n"));
}

#[test]
fn post_vanilla_query_nonunreserved() {
    suite(
        "POST",
        "/",
        &[("@#$%^", ""), ("+", "/,?><`\";:\\|][{}")],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    );
}

#[test]
fn get_header_value_trim() {
    let canonical = suite(
        "GET",
        "/",
        &[],
        &[
            HOST,
            ("My-Header1", " value1"),
            ("My-Header2", " \"a   b   c\""),
            DATE,
        ],
        b"",
        "host;my-header1;my-header2;x-amz-date",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    );
    assert!(canonical.contains("\nmy-header1:value1\nmy-header2:\"a b c\"\n"));
}

#[test]
fn get_header_key_duplicate() {
    // The suite sends My-Header1 three times (value2, value2, value1); they are joined in
    // the order sent.
    suite(
        "GET",
        "/",
        &[],
        &[
            HOST,
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
            DATE,
        ],
        b"",
        "host;my-header1;x-amz-date",
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    );
}

#[test]
fn get_utf8() {
    let canonical = suite(
        "GET",
        "/ሴ",
        &[],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    );
    assert!(canonical.starts_with("GET\n/%E1%88%B4\n\n"));
}

#[test]
fn get_space() {
    let canonical = suite(
        "GET",
        "/example space/",
        &[],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    );
    assert!(canonical.starts_with("GET\n/example%20space/\n\n"));
}

#[test]
fn get_unreserved() {
    suite(
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        &[],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    );
}

#[test]
fn post_vanilla_and_header_cases() {
    suite(
        "POST",
        "/",
        &[],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
    // post-header-key-sort: names are sorted whatever order they come in.
    suite(
        "POST",
        "/",
        &[],
        &[DATE, ("My-Header1", "value1"), HOST],
        b"",
        "host;my-header1;x-amz-date",
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    );
    // post-header-value-case: values keep their case.
    suite(
        "POST",
        "/",
        &[],
        &[HOST, ("My-Header1", "VALUE1"), DATE],
        b"",
        "host;my-header1;x-amz-date",
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    );
    // post-vanilla-query
    suite(
        "POST",
        "/",
        &[("Param1", "value1")],
        &[HOST, DATE],
        b"",
        "host;x-amz-date",
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    );
}

#[test]
fn post_x_www_form_urlencoded() {
    let canonical = suite(
        "POST",
        "/",
        &[],
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            HOST,
            DATE,
        ],
        b"Param1=value1",
        "content-type;host;x-amz-date",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    );
    // The body is signed through its hash.
    assert!(
        canonical.ends_with("\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")
    );
    suite(
        "POST",
        "/",
        &[],
        &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf8",
            ),
            HOST,
            DATE,
        ],
        b"Param1=value1",
        "content-type;host;x-amz-date",
        "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    );
}

/// The worked example of the AWS General Reference's "Create a signed AWS API request"
/// (IAM ListUsers), formerly the load tool's own test.
#[test]
fn iam_list_users_worked_example() {
    let case = Case {
        method: "GET",
        path: "/",
        query: &[("Version", "2010-05-08"), ("Action", "ListUsers")],
        headers: &[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", "iam.amazonaws.com"),
            DATE,
        ],
        payload_hash: EMPTY_SHA256.to_owned(),
    };
    let signed = sign(&case, SUITE_AK, SUITE_SK, SUITE_TIME, "iam");
    assert_eq!(
        sha256(signed.canonical.as_bytes()),
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    );
    assert_eq!(
        signed.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

// --- Amazon S3 API Reference examples ---------------------------------------------------

const S3_HOST: (&str, &str) = ("Host", "examplebucket.s3.amazonaws.com");
const S3_DATE: (&str, &str) = ("x-amz-date", S3_TIME);

fn s3(case: &Case<'_>) -> Signed {
    sign(case, S3_AK, S3_SK, S3_TIME, AWS.service)
}

#[test]
fn s3_get_object_with_range() {
    let signed = s3(&Case {
        method: "GET",
        path: "/test.txt",
        query: &[],
        headers: &[
            S3_HOST,
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            S3_DATE,
        ],
        payload_hash: EMPTY_SHA256.to_owned(),
    });
    assert_eq!(
        signed.canonical,
        format!(
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:20130524T000000Z\n\n\
             host;range;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}"
        )
    );
    let scope = "20130524/us-east-1/s3/aws4_request";
    assert_eq!(
        AWS.string_to_sign(S3_TIME, scope, signed.canonical.as_bytes()),
        format!(
            "AWS4-HMAC-SHA256\n{S3_TIME}\n{scope}\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        )
    );
    assert_eq!(
        signed.signature,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    assert!(
        signed
            .authorization
            .contains(", SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ")
    );
}

#[test]
fn s3_put_object() {
    let body = b"Welcome to Amazon S3.";
    let hash = sha256(body);
    assert_eq!(
        hash,
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    );
    let signed = s3(&Case {
        method: "PUT",
        path: "/test$file.text",
        query: &[],
        headers: &[
            S3_HOST,
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            S3_DATE,
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &hash),
        ],
        payload_hash: hash.clone(),
    });
    assert_eq!(
        signed.canonical,
        format!(
            "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n\
             host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:{hash}\n\
             x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n\
             date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n{hash}"
        )
    );
    assert_eq!(
        signed.signature,
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
}

#[test]
fn s3_get_bucket_lifecycle() {
    let signed = s3(&Case {
        method: "GET",
        path: "/",
        query: &[("lifecycle", "")],
        headers: &[S3_HOST, S3_DATE, ("x-amz-content-sha256", EMPTY_SHA256)],
        payload_hash: EMPTY_SHA256.to_owned(),
    });
    // An empty value keeps its `=` in AWS's canonical query.
    assert!(signed.canonical.starts_with("GET\n/\nlifecycle=\nhost:"));
    assert_eq!(
        signed.signature,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
    );
}

#[test]
fn s3_list_objects() {
    let signed = s3(&Case {
        method: "GET",
        path: "/",
        query: &[("prefix", "J"), ("max-keys", "2")],
        headers: &[S3_HOST, S3_DATE, ("x-amz-content-sha256", EMPTY_SHA256)],
        payload_hash: EMPTY_SHA256.to_owned(),
    });
    assert!(
        signed
            .canonical
            .starts_with("GET\n/\nmax-keys=2&prefix=J\n")
    );
    assert_eq!(
        signed.signature,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}

#[test]
fn s3_presigned_get_object() {
    // The presigned URL's own parameters are signed, all but X-Amz-Signature.
    let q = &AWS.query;
    let signed = s3(&Case {
        method: "GET",
        path: "/test.txt",
        query: &[
            (q.algorithm, AWS.algorithm),
            (
                q.credential,
                "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
            ),
            (q.date, S3_TIME),
            (q.expires, "86400"),
            (q.listed_headers, "host"),
            (q.signature, "left out"),
        ],
        headers: &[S3_HOST],
        payload_hash: UNSIGNED_PAYLOAD.to_owned(),
    });
    assert_eq!(
        signed.canonical,
        "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&\
         X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&\
         X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
         host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
    );
    assert_eq!(
        signed.signature,
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
}
