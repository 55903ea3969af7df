//! PostObject (browser form upload) against a real server: V1 and V4 signed policies, the
//! three success statuses and the redirect, SSE form fields, `${filename}`, policy conditions,
//! expiry, signatures, `content-length-range`, anonymous uploads and malformed forms
//! (oss-api.md §2.3, §3.6). Forms are built by hand and signed here with HMAC directly, not
//! with Coffer's own signer, so the test checks the documented algorithm.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::{Resp, Sign, TestServer, content_md5, crc64, etag_of, pattern, xml_value};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

const BOUNDARY: &str = "----CofferFormBoundary7MA4YWxkTrZu0gW";
const BUCKET: &str = "forms";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// UTC calendar fields of Unix seconds (civil-from-days).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `2024-01-02T03:04:05.000Z`, the policy's expiration format.
fn iso8601(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000Z")
}

/// `20240102T030405Z`, the V4 `x-oss-date` format.
fn iso_basic(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// A policy expiring in an hour with the given conditions (a JSON array's items).
fn policy(conditions: &str) -> String {
    format!(
        r#"{{"expiration":"{}","conditions":[{conditions}]}}"#,
        iso8601(now_secs() + 3600)
    )
}

type Fields = Vec<(String, String)>;

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The V1 signature fields for a policy: Base64(HMAC-SHA1(secret, Base64(policy))).
fn v1_fields(policy_json: &str, ak: &str, sk: &str) -> Fields {
    let encoded = b64(policy_json.as_bytes());
    let mut mac = Hmac::<Sha1>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(encoded.as_bytes());
    let signature = b64(&mac.finalize().into_bytes());
    fields(&[
        ("OSSAccessKeyId", ak),
        ("policy", &encoded),
        ("Signature", &signature),
    ])
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The V4 form fields; the policy's conditions get the three V4 fields added, as the SDKs do.
fn v4_fields(conditions: &str, sk: &str) -> Fields {
    let now = now_secs();
    let datetime = iso_basic(now);
    let date = &datetime[..8];
    let credential = format!(
        "{}/{date}/{}/oss/aliyun_v4_request",
        common::AK,
        common::REGION
    );
    let mut all = format!(
        r#"{{"x-oss-signature-version":"OSS4-HMAC-SHA256"}},{{"x-oss-credential":"{credential}"}},{{"x-oss-date":"{datetime}"}}"#
    );
    if !conditions.is_empty() {
        all.push(',');
        all.push_str(conditions);
    }
    let encoded = b64(policy(&all).as_bytes());
    let k_date = hmac256(format!("aliyun_v4{sk}").as_bytes(), date.as_bytes());
    let k_region = hmac256(&k_date, common::REGION.as_bytes());
    let k_service = hmac256(&k_region, b"oss");
    let k_signing = hmac256(&k_service, b"aliyun_v4_request");
    let signature = hex::encode(hmac256(&k_signing, encoded.as_bytes()));
    fields(&[
        ("x-oss-signature-version", "OSS4-HMAC-SHA256"),
        ("x-oss-credential", &credential),
        ("x-oss-date", &datetime),
        ("policy", &encoded),
        ("x-oss-signature", &signature),
    ])
}

/// The uploaded file part: (filename, Content-Type, data).
struct File<'a> {
    name: &'a str,
    content_type: &'a str,
    data: &'a [u8],
}

fn file(data: &[u8]) -> File<'_> {
    File {
        name: "upload.bin",
        content_type: "application/octet-stream",
        data,
    }
}

/// A multipart/form-data body: the fields, the file (if any), then `trailer` fields.
fn form_body(fields: &Fields, file: Option<&File<'_>>, trailer: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let text = |name: &str, value: &str, out: &mut Vec<u8>| {
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    for (name, value) in fields {
        text(name, value, &mut out);
    }
    if let Some(f) = file {
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                f.name, f.content_type
            )
            .as_bytes(),
        );
        out.extend_from_slice(f.data);
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in trailer {
        text(name, value, &mut out);
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

async fn post_raw(server: &TestServer, bucket: &str, content_type: &str, body: Vec<u8>) -> Resp {
    server
        .req("POST", Some(bucket), None)
        .sign(Sign::Anonymous)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
}

async fn post(server: &TestServer, bucket: &str, fields: &Fields, file: Option<&File<'_>>) -> Resp {
    let body = form_body(fields, file, &[]);
    post_raw(
        server,
        bucket,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    )
    .await
}

fn with(mut base: Fields, extra: &[(&str, &str)]) -> Fields {
    base.extend(fields(extra));
    base
}

async fn get(server: &TestServer, bucket: &str, key: &str) -> Resp {
    server.req("GET", Some(bucket), Some(key)).send().await
}

async fn assert_absent(server: &TestServer, bucket: &str, key: &str) {
    let resp = server.req("HEAD", Some(bucket), Some(key)).send().await;
    assert_eq!(resp.status, 404, "{key} should not exist");
}

fn assert_message(resp: &Resp, needle: &str) {
    let message = resp.xml_value("Message").unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
}

#[tokio::test]
async fn v1_signed_form_with_every_success_status() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    let data = pattern(70_000, 1);
    let signed = v1_fields(
        &policy(&format!(
            r#"{{"bucket":"{BUCKET}"}},["starts-with","$key","docs/"],["content-length-range",0,1048576]"#
        )),
        common::AK,
        common::SK,
    );

    // Default: 204, no body, ETag and CRC of the content.
    let form = with(
        signed.clone(),
        &[
            ("key", "docs/a.txt"),
            ("Content-Disposition", "attachment;filename=a.txt"),
            ("Cache-Control", "max-age=60"),
            ("x-oss-meta-color", "blue"),
        ],
    );
    let f = File {
        name: "a.txt",
        content_type: "text/plain",
        data: &data,
    };
    let resp = post(&server, BUCKET, &form, Some(&f)).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("etag").unwrap(), etag_of(&data));
    assert_eq!(
        resp.header("x-oss-hash-crc64ecma").unwrap(),
        crc64(&data).to_string()
    );
    let got = get(&server, BUCKET, "docs/a.txt").await;
    assert_eq!(got.status, 200);
    assert_eq!(&got.body[..], &data[..]);
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment;filename=a.txt")
    );
    assert_eq!(got.header("cache-control"), Some("max-age=60"));
    assert_eq!(got.header("x-oss-meta-color"), Some("blue"));
    assert_eq!(got.header("content-md5"), Some(content_md5(&data).as_str()));

    // 200: empty body. Field names in any case; a trailing field after `file` is ignored.
    let mut form = with(
        signed.clone(),
        &[("KEY", "docs/b.txt"), ("Success_Action_Status", "200")],
    );
    for (name, _) in &mut form {
        if name == "Signature" {
            *name = "signature".into();
        }
    }
    let body = form_body(&form, Some(&file(b"bee")), &[("submit", "Upload to OSS")]);
    let resp = post_raw(
        &server,
        BUCKET,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("content-length"), Some("0"));
    assert_eq!(resp.header("etag").unwrap(), etag_of(b"bee"));
    assert_eq!(&get(&server, BUCKET, "docs/b.txt").await.body[..], b"bee");

    // 201: a PostResponse document.
    let form = with(
        signed.clone(),
        &[("key", "docs/c d+é.txt"), ("success_action_status", "201")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"sea"))).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/xml"));
    assert!(resp.text().contains("<PostResponse>"), "{}", resp.text());
    assert_eq!(resp.xml_value("Bucket").as_deref(), Some(BUCKET));
    assert_eq!(resp.xml_value("Key").as_deref(), Some("docs/c d+é.txt"));
    assert_eq!(
        resp.xml_value("ETag").unwrap().replace("&quot;", "\""),
        etag_of(b"sea")
    );
    let location = resp.xml_value("Location").unwrap();
    assert!(
        location.ends_with(&format!("/{BUCKET}/docs/c%20d%2B%C3%A9.txt")),
        "{location}"
    );
    assert_eq!(
        &get(&server, BUCKET, "docs/c d+é.txt").await.body[..],
        b"sea"
    );

    // Any other status value means the default.
    let form = with(
        signed.clone(),
        &[("key", "docs/d"), ("success_action_status", "302")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"d"))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());

    // success_action_redirect: 303 to the URL with bucket, key and ETag appended.
    let form = with(
        signed,
        &[
            ("key", "docs/e"),
            ("success_action_redirect", "http://example.com/done?x=1"),
        ],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"e"))).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    let etag = etag_of(b"e").replace('"', "%22");
    assert_eq!(
        resp.header("location"),
        Some(
            format!("http://example.com/done?x=1&bucket={BUCKET}&key=docs%2Fe&etag={etag}")
                .as_str()
        )
    );
}

#[tokio::test]
async fn v4_signed_form() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    let signed = v4_fields(
        &format!(r#"{{"bucket":"{BUCKET}"}},["eq","$key","v4/object"]"#),
        common::SK,
    );
    let form = with(
        signed.clone(),
        &[("key", "v4/object"), ("success_action_status", "200")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"signed with v4"))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        &get(&server, BUCKET, "v4/object").await.body[..],
        b"signed with v4"
    );

    // Wrong secret.
    let form = with(v4_fields("", "not-the-secret"), &[("key", "v4/x")]);
    let resp = post(&server, BUCKET, &form, Some(&file(b"x"))).await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    assert_absent(&server, BUCKET, "v4/x").await;

    // A V4 field changed after signing no longer matches its condition.
    let mut form = with(signed, &[("key", "v4/object")]);
    for (name, value) in &mut form {
        if name == "x-oss-date" {
            value.replace_range(9..11, if &value[9..11] == "00" { "01" } else { "00" });
        }
    }
    let resp = post(&server, BUCKET, &form, Some(&file(b"x"))).await;
    resp.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn sse_form_fields() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    let signed = v1_fields(&policy(""), common::AK, common::SK);
    let data = pattern(100_000, 2);

    let form = with(
        signed.clone(),
        &[("key", "kms"), ("x-oss-server-side-encryption", "KMS")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(&data))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(resp.header("x-oss-server-side-encryption"), Some("KMS"));
    let key_id = resp
        .header("x-oss-server-side-encryption-key-id")
        .expect("KMS uploads report the key id")
        .to_owned();
    assert!(!key_id.is_empty());
    assert_eq!(resp.header("etag").unwrap(), etag_of(&data));
    let got = get(&server, BUCKET, "kms").await;
    assert_eq!(&got.body[..], &data[..]);
    assert_eq!(got.header("x-oss-server-side-encryption"), Some("KMS"));
    assert_eq!(
        got.header("x-oss-server-side-encryption-key-id"),
        Some(key_id.as_str())
    );

    // KMS with SM4 data encryption; field names case-insensitive.
    let form = with(
        signed.clone(),
        &[
            ("key", "kms-sm4"),
            ("X-Oss-Server-Side-Encryption", "KMS"),
            ("x-oss-server-side-data-encryption", "SM4"),
        ],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(&data))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(
        resp.header("x-oss-server-side-data-encryption"),
        Some("SM4")
    );
    let head = server
        .req("HEAD", Some(BUCKET), Some("kms-sm4"))
        .send()
        .await;
    assert_eq!(head.header("x-oss-server-side-encryption"), Some("KMS"));
    assert_eq!(
        head.header("x-oss-server-side-data-encryption"),
        Some("SM4")
    );

    for method in ["AES256", "SM4"] {
        let key = format!("sse-{method}");
        let form = with(
            signed.clone(),
            &[("key", &key), ("x-oss-server-side-encryption", method)],
        );
        let resp = post(&server, BUCKET, &form, Some(&file(&data))).await;
        assert_eq!(resp.status, 204, "{method}: {}", resp.text());
        assert_eq!(resp.header("x-oss-server-side-encryption"), Some(method));
        assert!(resp.header("x-oss-server-side-encryption-key-id").is_none());
        let got = get(&server, BUCKET, &key).await;
        assert_eq!(&got.body[..], &data[..]);
        assert_eq!(got.header("x-oss-server-side-encryption"), Some(method));
    }

    // Values are case-sensitive: "kms" is not an algorithm.
    let form = with(
        signed.clone(),
        &[("key", "bad-sse"), ("x-oss-server-side-encryption", "kms")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(&data))).await;
    resp.assert_error(400, "InvalidEncryptionAlgorithmError");
    assert_absent(&server, BUCKET, "bad-sse").await;

    // An unknown CMK.
    let form = with(
        signed,
        &[
            ("key", "bad-cmk"),
            ("x-oss-server-side-encryption", "KMS"),
            (
                "x-oss-server-side-encryption-key-id",
                "0d0f6a52-8c4e-4b1f-9d3a-5e2a7c1b9f00",
            ),
        ],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(&data))).await;
    resp.assert_error(404, "KeyNotFound");
    assert_absent(&server, BUCKET, "bad-cmk").await;
}

#[tokio::test]
async fn filename_substitution_after_the_policy_check() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    // The policy sees the key as sent, before `${filename}` is expanded.
    let signed = v1_fields(
        &policy(r#"["eq","$key","uploads/${filename}"]"#),
        common::AK,
        common::SK,
    );
    let form = with(signed, &[("key", "uploads/${filename}")]);
    let f = File {
        name: "photo.png",
        content_type: "image/png",
        data: b"\x89PNG...",
    };
    let resp = post(&server, BUCKET, &form, Some(&f)).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let got = get(&server, BUCKET, "uploads/photo.png").await;
    assert_eq!(got.status, 200);
    assert_eq!(&got.body[..], b"\x89PNG...");
    assert_eq!(got.header("content-type"), Some("image/png"));

    // x-oss-content-type beats the type the browser gave the file.
    let signed = v1_fields(&policy(""), common::AK, common::SK);
    let form = with(
        signed,
        &[
            ("key", "typed/${filename}"),
            ("x-oss-content-type", "text/csv"),
        ],
    );
    let f = File {
        name: "t.csv",
        content_type: "application/octet-stream",
        data: b"a,b",
    };
    let resp = post(&server, BUCKET, &form, Some(&f)).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let got = get(&server, BUCKET, "typed/t.csv").await;
    assert_eq!(got.header("content-type"), Some("text/csv"));
}

#[tokio::test]
async fn policy_and_signature_failures() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    let conditions = format!(
        r#"{{"bucket":"{BUCKET}"}},["starts-with","$key","user/"],["in","$x-oss-object-acl",["private","public-read"]]"#
    );
    let signed = v1_fields(&policy(&conditions), common::AK, common::SK);
    let ok = with(
        signed.clone(),
        &[("key", "user/ok"), ("x-oss-object-acl", "private")],
    );
    let resp = post(&server, BUCKET, &ok, Some(&file(b"ok"))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());

    // A key outside the allowed prefix.
    let form = with(
        signed.clone(),
        &[("key", "admin/x"), ("x-oss-object-acl", "private")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"x"))).await;
    resp.assert_error(403, "AccessDenied");
    assert_message(
        &resp,
        "Invalid according to Policy: Policy Condition failed:",
    );
    assert_message(&resp, r#"["starts-with", "$key", "user/"]"#);
    assert_absent(&server, BUCKET, "admin/x").await;

    // A value outside an `in` list, and a field the policy names but the form lacks.
    let form = with(
        signed.clone(),
        &[("key", "user/y"), ("x-oss-object-acl", "public-read-write")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"y"))).await;
    resp.assert_error(403, "AccessDenied");
    let form = with(signed.clone(), &[("key", "user/z")]);
    let resp = post(&server, BUCKET, &form, Some(&file(b"z"))).await;
    resp.assert_error(403, "AccessDenied");
    assert_absent(&server, BUCKET, "user/y").await;
    assert_absent(&server, BUCKET, "user/z").await;

    // The same policy used on another bucket.
    server.create_bucket("other").await;
    let resp = post(&server, "other", &ok, Some(&file(b"ok"))).await;
    resp.assert_error(403, "AccessDenied");

    // Expired.
    let expired = format!(
        r#"{{"expiration":"{}","conditions":[]}}"#,
        iso8601(now_secs() - 60)
    );
    let form = with(
        v1_fields(&expired, common::AK, common::SK),
        &[("key", "late")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"late"))).await;
    resp.assert_error(403, "AccessDenied");
    assert_message(&resp, "Invalid according to Policy: Policy expired.");
    assert_absent(&server, BUCKET, "late").await;

    // Wrong secret, unknown access key, tampered policy.
    let form = with(
        v1_fields(&policy(""), common::AK, "wrong-secret"),
        &[("key", "forged")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"f"))).await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    let form = with(
        v1_fields(&policy(""), "LTAIunknownkey", common::SK),
        &[("key", "forged")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"f"))).await;
    resp.assert_error(403, "InvalidAccessKeyId");
    let mut form = with(signed, &[("key", "forged")]);
    for (name, value) in &mut form {
        if name == "policy" {
            *value = b64(policy("").as_bytes());
        }
    }
    let resp = post(&server, BUCKET, &form, Some(&file(b"f"))).await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    assert_absent(&server, BUCKET, "forged").await;

    // Malformed policies.
    for bad in [
        "not json",
        r#"{"conditions":[]}"#,
        r#"{"expiration":"2099-01-01T00:00:00Z","conditions":[["ends-with","$key","x"]]}"#,
    ] {
        let form = with(v1_fields(bad, common::AK, common::SK), &[("key", "bad")]);
        let resp = post(&server, BUCKET, &form, Some(&file(b"b"))).await;
        resp.assert_error(400, "InvalidPolicyDocument");
    }

    // Some but not all of OSSAccessKeyId, policy and Signature.
    let partial = fields(&[("key", "partial"), ("OSSAccessKeyId", common::AK)]);
    let resp = post(&server, BUCKET, &partial, Some(&file(b"p"))).await;
    resp.assert_error(400, "InvalidArgument");
    let partial = fields(&[("key", "partial"), ("policy", &b64(policy("").as_bytes()))]);
    let resp = post(&server, BUCKET, &partial, Some(&file(b"p"))).await;
    resp.assert_error(400, "InvalidArgument");
    assert_absent(&server, BUCKET, "partial").await;
}

#[tokio::test]
async fn content_length_range_and_large_files() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    let signed = v1_fields(
        &policy(r#"["content-length-range",1,10]"#),
        common::AK,
        common::SK,
    );
    let form = with(signed.clone(), &[("key", "sized")]);
    let resp = post(&server, BUCKET, &form, Some(&file(b"0123456789"))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let form = with(signed.clone(), &[("key", "too-big")]);
    let resp = post(&server, BUCKET, &form, Some(&file(b"0123456789a"))).await;
    resp.assert_error(400, "EntityTooLarge");
    let form = with(signed.clone(), &[("key", "too-small")]);
    let resp = post(&server, BUCKET, &form, Some(&file(b""))).await;
    resp.assert_error(400, "EntityTooSmall");
    assert_absent(&server, BUCKET, "too-big").await;
    assert_absent(&server, BUCKET, "too-small").await;

    // A failed upload leaves the previous object in place.
    let form = with(signed, &[("key", "sized")]);
    let resp = post(&server, BUCKET, &form, Some(&file(&pattern(300_000, 3)))).await;
    resp.assert_error(400, "EntityTooLarge");
    assert_eq!(&get(&server, BUCKET, "sized").await.body[..], b"0123456789");

    // Several megabytes stream through intact (many parser bursts and service packages).
    let data = pattern(3 * 1024 * 1024 + 12_345, 4);
    let form = with(
        v1_fields(&policy(""), common::AK, common::SK),
        &[("key", "big"), ("x-oss-server-side-encryption", "AES256")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(&data))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(resp.header("etag").unwrap(), etag_of(&data));
    let got = get(&server, BUCKET, "big").await;
    assert_eq!(got.body.len(), data.len());
    assert!(got.body[..] == data[..]);
}

#[tokio::test]
async fn anonymous_forms_need_a_public_read_write_bucket() {
    let server = TestServer::start();
    server.create_bucket("private-forms").await;
    let resp = server
        .req("PUT", Some("open-forms"), None)
        .header("x-oss-acl", "public-read-write")
        .send()
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());

    let form = fields(&[("key", "anon.txt")]);
    let resp = post(&server, "private-forms", &form, Some(&file(b"hi"))).await;
    resp.assert_error(403, "AccessDenied");
    assert_absent(&server, "private-forms", "anon.txt").await;

    let resp = post(&server, "open-forms", &form, Some(&file(b"hi"))).await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(
        &get(&server, "open-forms", "anon.txt").await.body[..],
        b"hi"
    );

    // Authorization headers are not how PostObject is signed: a V1-signed POST with an
    // unsigned form is still anonymous.
    let body = form_body(&form, Some(&file(b"hi")), &[]);
    let resp = server
        .req("POST", Some("private-forms"), None)
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");

    // A missing bucket.
    let resp = post(&server, "no-such-bucket", &form, Some(&file(b"hi"))).await;
    resp.assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn malformed_forms() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    let signed = v1_fields(&policy(""), common::AK, common::SK);

    // No file field.
    let form = with(signed.clone(), &[("key", "nofile")]);
    let resp = post(&server, BUCKET, &form, None).await;
    resp.assert_error(400, "MalformedPOSTRequest");

    // No key field.
    let resp = post(&server, BUCKET, &signed, Some(&file(b"k"))).await;
    resp.assert_error(400, "InvalidArgument");

    // Not multipart/form-data at all, and multipart without a boundary.
    let resp = post_raw(
        &server,
        BUCKET,
        "application/x-www-form-urlencoded",
        b"key=x".to_vec(),
    )
    .await;
    resp.assert_error(400, "RequestIsNotMultiPartContent");
    let resp = post_raw(&server, BUCKET, "multipart/form-data", b"--x--".to_vec()).await;
    resp.assert_error(400, "MalformedPOSTRequest");

    // A body cut off inside the file part stores nothing.
    let form = with(signed.clone(), &[("key", "cut")]);
    let mut body = form_body(&form, Some(&file(&pattern(50_000, 5))), &[]);
    body.truncate(body.len() - 1000);
    let resp = post_raw(
        &server,
        BUCKET,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    )
    .await;
    resp.assert_error(400, "MalformedPOSTRequest");
    assert_absent(&server, BUCKET, "cut").await;

    // Oversized fields before the file.
    let huge = "v".repeat(70 * 1024);
    let form = with(
        signed.clone(),
        &[("key", "huge"), ("x-oss-meta-big", &huge)],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"h"))).await;
    resp.assert_error(400, "FieldItemTooLong");

    // x-oss-forbid-overwrite.
    server.put_object(BUCKET, "exists", "old").await;
    let form = with(
        signed,
        &[("key", "exists"), ("x-oss-forbid-overwrite", "true")],
    );
    let resp = post(&server, BUCKET, &form, Some(&file(b"new"))).await;
    resp.assert_error(409, "FileAlreadyExists");
    assert_eq!(&get(&server, BUCKET, "exists").await.body[..], b"old");
}

#[test]
fn civil_dates() {
    assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso_basic(1_702_743_657), "20231216T162057Z");
    assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
    assert_eq!(xml_value("<a>b</a>", "a").as_deref(), Some("b"));
}
