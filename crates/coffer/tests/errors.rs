//! End-to-end tests of bad input: every malformed request gets the documented OSS error,
//! never a 500, and never corrupts what is stored.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::{TestServer, content_md5, read_response, write_head, xml_value};
use http::{HeaderMap, HeaderValue, StatusCode};

#[tokio::test]
async fn invalid_bucket_names() {
    let server = TestServer::start();
    for name in [
        "Bad_Bucket",
        "ab",
        "-leading-dash",
        "trailing-dash-",
        "UPPER",
    ] {
        let resp = server.req("PUT", Some(name), None).send().await;
        resp.assert_error(400, "InvalidBucketName");
    }
    let long = "a".repeat(64);
    server
        .req("PUT", Some(&long), None)
        .send()
        .await
        .assert_error(400, "InvalidBucketName");
    server.create_bucket(&"a".repeat(63)).await;
    server.create_bucket("abc").await;
}

#[tokio::test]
async fn object_name_length_limit() {
    let server = TestServer::start();
    server.create_bucket("names").await;
    let ok = "k".repeat(1023);
    server.put_object("names", &ok, "fits").await;
    let resp = server.req("GET", Some("names"), Some(&ok)).send().await;
    assert_eq!(resp.text(), "fits");

    let too_long = "k".repeat(1024);
    let resp = server
        .req("PUT", Some("names"), Some(&too_long))
        .body("too long")
        .send()
        .await;
    resp.assert_error(400, "InvalidObjectName");

    // Multi-byte characters count in bytes: 341 × 3 + 1 = 1024.
    let wide = format!("{}x", "€".repeat(341));
    assert_eq!(wide.len(), 1024);
    let resp = server
        .req("PUT", Some("names"), Some(&wide))
        .body("too long")
        .send()
        .await;
    resp.assert_error(400, "InvalidObjectName");
}

#[tokio::test]
async fn content_md5_mismatch_keeps_the_old_object() {
    let server = TestServer::start();
    server.create_bucket("digest").await;
    server.put_object("digest", "obj", "original").await;

    let resp = server
        .req("PUT", Some("digest"), Some("obj"))
        .header("content-md5", &content_md5(b"something else"))
        .body("replacement")
        .send()
        .await;
    resp.assert_error(400, "InvalidDigest");

    // A Content-MD5 that is not base64 of 16 bytes is also InvalidDigest.
    let resp = server
        .req("PUT", Some("digest"), Some("obj"))
        .header("content-md5", "not-an-md5")
        .body("replacement")
        .send()
        .await;
    resp.assert_error(400, "InvalidDigest");

    let resp = server.req("GET", Some("digest"), Some("obj")).send().await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "original");

    // The right digest is accepted and echoed.
    let resp = server
        .req("PUT", Some("digest"), Some("obj"))
        .header("content-md5", &content_md5(b"replacement"))
        .body("replacement")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(
        resp.header("content-md5"),
        Some(content_md5(b"replacement").as_str())
    );
}

async fn initiate(server: &TestServer, bucket: &str, key: &str) -> String {
    let resp = server
        .req("POST", Some(bucket), Some(key))
        .query("uploads", "")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "Initiate: {}", resp.text());
    resp.xml_value("UploadId").expect("UploadId")
}

#[tokio::test]
async fn multipart_argument_errors() {
    let server = TestServer::start();
    server.create_bucket("mpu").await;
    let upload_id = initiate(&server, "mpu", "obj").await;

    for body in [
        "<CompleteMultipartUpload><Part>",
        "not xml at all",
        "<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>",
    ] {
        let resp = server
            .req("POST", Some("mpu"), Some("obj"))
            .query("uploadId", &upload_id)
            .body(body)
            .send()
            .await;
        resp.assert_error(400, "MalformedXML");
    }

    for number in ["0", "10001", "-1", "abc", ""] {
        let resp = server
            .req("PUT", Some("mpu"), Some("obj"))
            .query("partNumber", number)
            .query("uploadId", &upload_id)
            .body("data")
            .send()
            .await;
        resp.assert_error(400, "InvalidArgument");
    }
    for number in ["1", "10000"] {
        let resp = server
            .req("PUT", Some("mpu"), Some("obj"))
            .query("partNumber", number)
            .query("uploadId", &upload_id)
            .body("data")
            .send()
            .await;
        assert_eq!(
            resp.status,
            StatusCode::OK,
            "part {number}: {}",
            resp.text()
        );
    }

    let resp = server
        .req("PUT", Some("mpu"), Some("obj"))
        .query("partNumber", "1")
        .query("uploadId", "0000000000000000DEADBEEF")
        .body("data")
        .send()
        .await;
    resp.assert_error(404, "NoSuchUpload");
    let resp = server
        .req("POST", Some("mpu"), Some("obj"))
        .query("uploadId", "0000000000000000DEADBEEF")
        .body(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>\
             <ETag>\"8D777F385D3DFEC8815D20F7496026DC\"</ETag></Part></CompleteMultipartUpload>",
        )
        .send()
        .await;
    resp.assert_error(404, "NoSuchUpload");
    let resp = server
        .req("DELETE", Some("mpu"), Some("obj"))
        .query("uploadId", "0000000000000000DEADBEEF")
        .send()
        .await;
    resp.assert_error(404, "NoSuchUpload");
    // An upload id belongs to its key.
    let resp = server
        .req("PUT", Some("mpu"), Some("other-key"))
        .query("partNumber", "1")
        .query("uploadId", &upload_id)
        .body("data")
        .send()
        .await;
    resp.assert_error(404, "NoSuchUpload");
}

#[tokio::test]
async fn put_without_content_length_is_411() {
    let server = TestServer::start();
    server.create_bucket("lengths").await;
    let (target, headers) = server.signed_parts(
        "PUT",
        Some("lengths"),
        Some("k"),
        Vec::new(),
        HeaderMap::new(),
    );
    let mut stream = server.connect();
    write_head(&mut stream, "PUT", &target, &headers).unwrap();
    let resp = read_response(&mut stream).unwrap();
    assert_eq!(resp.status, 411, "{}", resp.text());
    assert!(resp.text().contains("<Code>MissingContentLength</Code>"));
    // OSS's documented EC, not InvalidObjectName's 0016-00000005 it once shared.
    assert_eq!(resp.header("x-oss-ec"), Some("0017-00000101"));
    assert!(resp.text().contains("<EC>0017-00000101</EC>"));
    assert!(common::is_request_id(
        resp.header("x-oss-request-id").unwrap_or_default()
    ));

    // Chunked transfer is allowed without a Content-Length.
    let mut headers = HeaderMap::new();
    headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
    let (target, headers) =
        server.signed_parts("PUT", Some("lengths"), Some("k"), Vec::new(), headers);
    let mut stream = server.connect();
    write_head(&mut stream, "PUT", &target, &headers).unwrap();
    stream.write_all(b"5\r\nhello\r\n0\r\n\r\n").unwrap();
    let resp = read_response(&mut stream).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = server.req("GET", Some("lengths"), Some("k")).send().await;
    assert_eq!(resp.text(), "hello");
}

#[tokio::test]
async fn garbage_authorization_is_invalid_argument() {
    let server = TestServer::start();
    server.create_bucket("garbage").await;
    let values: &[&[u8]] = &[
        b"garbage",
        b"OSS",
        b"OSS ",
        b"OSS nocolon",
        b"OSS :sig",
        b"OSS ak:",
        b"OSS a k:sig",
        b"OSS2 AccessKeyId:ak,Signature:x",
        b"AWS4-HMAC-SHA256 Credential=x",
        b"Bearer abc",
        b"OSS4-HMAC-SHA256",
        b"OSS4-HMAC-SHA256 garbage",
        b"OSS4-HMAC-SHA256 Credential=,Signature=",
        b"OSS4-HMAC-SHA256 Credential=x,Signature=y",
        b"OSS4-HMAC-SHA256 Credential=ak/20250101/cn-hangzhou/oss/aliyun_v4_request,Foo=1,Signature=y",
        b"OSS4-HMAC-SHA256 Credential=ak/2025/xx/yy/zz,Signature=y",
        b"OSS \xff\xfe:\x80",
    ];
    for value in values {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_bytes(value).unwrap());
        headers.insert("date", HeaderValue::from_static("garbage date"));
        let target = "/garbage/key";
        let mut stream = server.connect();
        write_head_bytes(&mut stream, "GET", target, &headers);
        let resp = read_response(&mut stream).unwrap();
        let shown = String::from_utf8_lossy(value);
        assert_eq!(resp.status, 400, "{shown:?}: {}", resp.text());
        assert_eq!(
            xml_value(&resp.text(), "Code").as_deref(),
            Some("InvalidArgument"),
            "{shown:?}: {}",
            resp.text()
        );
    }
    // The server is fine afterwards.
    let resp = server.req("GET", Some("garbage"), None).send().await;
    assert_eq!(resp.status, StatusCode::OK);
}

/// Like `write_head`, but copies header values as raw bytes (they may not be ASCII).
fn write_head_bytes(
    stream: &mut std::net::TcpStream,
    method: &str,
    target: &str,
    headers: &HeaderMap,
) {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\n",
        stream.peer_addr().unwrap()
    )
    .into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).unwrap();
}

#[tokio::test]
async fn huge_header_is_refused_and_server_survives() {
    let server = TestServer::start();
    server.create_bucket("huge").await;
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-oss-meta-big",
        HeaderValue::from_str(&"a".repeat(100 * 1024)).unwrap(),
    );
    let mut stream = server.connect();
    // The server may stop reading (and close) before all of it is sent.
    let _ = write_head(&mut stream, "GET", "/huge/key", &headers);
    match read_response(&mut stream) {
        Ok(resp) => assert!(
            resp.status == 431 || resp.status == 400,
            "expected 431 or 400, got {} {}",
            resp.status,
            resp.text()
        ),
        Err(e) => panic!("no response to an oversized head: {e}"),
    }
    drop(stream);

    let resp = server.req("GET", Some("huge"), None).send().await;
    assert_eq!(resp.status, StatusCode::OK, "server still serves");
}

#[tokio::test]
async fn truncated_body_stores_nothing() {
    let server = TestServer::start();
    server.create_bucket("trunc").await;
    server.put_object("trunc", "existing", "keep me").await;

    for key in ["new", "existing"] {
        let mut headers = HeaderMap::new();
        headers.insert("content-length", HeaderValue::from_static("1000"));
        let (target, headers) =
            server.signed_parts("PUT", Some("trunc"), Some(key), Vec::new(), headers);
        let mut stream = server.connect();
        write_head(&mut stream, "PUT", &target, &headers).unwrap();
        stream.write_all(b"0123456789").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        // Whatever the server answers (if anything), it must not be success.
        if let Ok(resp) = read_response(&mut stream) {
            assert_ne!(resp.status, 200, "a truncated upload succeeded");
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let resp = server.req("GET", Some("trunc"), Some("new")).send().await;
    resp.assert_error(404, "NoSuchKey");
    let resp = server
        .req("GET", Some("trunc"), Some("existing"))
        .send()
        .await;
    assert_eq!(resp.text(), "keep me");
    let resp = server.req("GET", Some("trunc"), None).send().await;
    assert!(!resp.text().contains("<Key>new</Key>"), "{}", resp.text());
}

#[tokio::test]
async fn bad_requests_never_500() {
    let server = TestServer::start();
    server.create_bucket("misc").await;
    server.put_object("misc", "k", "v").await;
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
    );
    let cases: &[Case<'_>] = &[
        ("GET", None, &[("max-keys", "abc")], &[]),
        ("GET", None, &[("max-keys", "0")], &[]),
        ("GET", None, &[("max-keys", "1001")], &[]),
        ("GET", None, &[("list-type", "2"), ("max-keys", "-1")], &[]),
        ("GET", None, &[("encoding-type", "base64")], &[]),
        (
            "POST",
            Some("k"),
            &[("append", ""), ("position", "abc")],
            &[],
        ),
        (
            "GET",
            Some("k"),
            &[("uploadId", "x"), ("max-parts", "zz")],
            &[],
        ),
        ("PUT", None, &[("acl", "")], &[("x-oss-acl", "everyone")]),
        ("PUT", Some("k2"), &[], &[("x-oss-copy-source", "nonsense")]),
        (
            "POST",
            None,
            &[("delete", "")],
            &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
        ),
    ];
    for (method, key, query, headers) in cases {
        let mut req = server.req(method, Some("misc"), *key);
        for (name, value) in *query {
            req = req.query(name, value);
        }
        for (name, value) in *headers {
            req = req.header(name, value);
        }
        let resp = req.send().await;
        assert!(
            resp.status.is_client_error(),
            "{method} {key:?} {query:?}: {} {}",
            resp.status,
            resp.text()
        );
        assert!(
            resp.xml_value("Code").is_some(),
            "{method} {key:?} {query:?}"
        );
    }

    // A key that is not UTF-8.
    let mut stream = server.connect();
    write_head(&mut stream, "GET", "/misc/%FF%FE", &HeaderMap::new()).unwrap();
    let resp = read_response(&mut stream).unwrap();
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        xml_value(&resp.text(), "Code").as_deref(),
        Some("InvalidObjectName")
    );
}

/// The shared pipeline's size limits (16 KiB of path and query, 48 KiB of headers) are
/// reported in OSS's words, with OSS's request id and server headers, and a refused
/// request that sent a body is told the connection is closing.
#[tokio::test]
async fn request_size_limits_answer_oss_errors() {
    let server = TestServer::start();
    server.create_bucket("limits").await;

    let resp = server
        .req("GET", Some("limits"), Some("k"))
        .query("pad", &"p".repeat(16 * 1024))
        .send()
        .await;
    resp.assert_error(400, "InvalidArgument");
    resp.assert_oss_headers();
    assert_eq!(resp.xml_value("ArgumentName").as_deref(), Some("uri"));

    let resp = server
        .req("PUT", Some("limits"), Some("k"))
        .header("x-oss-meta-pad", &"p".repeat(48 * 1024))
        .body("refused")
        .send()
        .await;
    resp.assert_error(400, "InvalidArgument");
    resp.assert_oss_headers();
    assert_eq!(resp.xml_value("ArgumentName").as_deref(), Some("headers"));
    assert_eq!(resp.header("connection"), Some("close"));
    let resp = server.req("GET", Some("limits"), Some("k")).send().await;
    resp.assert_error(404, "NoSuchKey");

    // One access-log line per request, naming the operation and bucket once routed.
    let id = resp.header("x-oss-request-id").unwrap();
    let log = server.log();
    let line = log.lines().find(|l| l.contains(id)).unwrap();
    for field in [
        "operation=\"GetObject\"",
        "bucket=limits",
        "status=404",
        "bytes_in=0",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert_eq!(log.matches(id).count(), 1, "{log}");
}
