//! End-to-end tests against the real `coffer` binary: the main object lifecycle, signatures
//! and ACLs, ranges, multipart, append, metrics and graceful shutdown.

mod common;

use std::io::Write;
use std::time::{Duration, SystemTime};

use base64::Engine;
use common::{
    AK, Sign, TestServer, content_md5, crc64, etag_of, pattern, read_response, write_head,
    xml_value,
};
use http::{HeaderMap, HeaderValue, StatusCode};

const HELLO: &[u8] = b"hello world";
const HELLO_ETAG: &str = "\"5EB63BBBE01EEED093CB22BB8F5ACDC3\"";
const HELLO_CRC: &str = "5981764153023615706";

async fn lifecycle(sign: Sign, bucket: &str) {
    let server = TestServer::start();
    let key = "dir/héllo wörld+1.txt";

    let resp = server
        .req("PUT", Some(bucket), None)
        .sign(sign)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "PutBucket: {}", resp.text());

    let resp = server
        .req("PUT", Some(bucket), Some(key))
        .header("content-type", "text/plain")
        .header("x-oss-meta-colour", "blue")
        .body(HELLO)
        .sign(sign)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "PutObject: {}", resp.text());
    assert_eq!(resp.header("etag"), Some(HELLO_ETAG));
    assert_eq!(resp.header("x-oss-hash-crc64ecma"), Some(HELLO_CRC));
    assert_eq!(etag_of(HELLO), HELLO_ETAG);
    assert_eq!(crc64(HELLO).to_string(), HELLO_CRC);

    let resp = server
        .req("GET", Some(bucket), Some(key))
        .sign(sign)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "GetObject: {}", resp.text());
    assert_eq!(&resp.body[..], HELLO);
    assert_eq!(resp.header("etag"), Some(HELLO_ETAG));
    assert_eq!(resp.header("x-oss-hash-crc64ecma"), Some(HELLO_CRC));
    assert_eq!(resp.header("content-length"), Some("11"));
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(resp.header("x-oss-meta-colour"), Some("blue"));
    assert_eq!(resp.header("x-oss-object-type"), Some("Normal"));
    assert!(resp.header("last-modified").is_some());

    let resp = server
        .req("HEAD", Some(bucket), Some(key))
        .sign(sign)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.body.is_empty());
    assert!(resp.header("x-oss-err").is_none());
    assert_eq!(resp.header("content-length"), Some("11"));
    assert_eq!(resp.header("etag"), Some(HELLO_ETAG));
    assert_eq!(resp.header("x-oss-hash-crc64ecma"), Some(HELLO_CRC));

    let resp = server
        .req("GET", Some(bucket), None)
        .sign(sign)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "ListObjects: {}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/xml"));
    let xml = resp.text();
    assert!(xml.contains("<ListBucketResult>"), "{xml}");
    assert!(xml.contains(&format!("<Name>{bucket}</Name>")), "{xml}");
    assert!(xml.contains(&format!("<Key>{key}</Key>")), "{xml}");
    assert!(xml.contains("<Size>11</Size>"), "{xml}");
    assert!(xml.contains("<IsTruncated>false</IsTruncated>"), "{xml}");
    // The ETag is XML text, so its quotes may be escaped.
    assert!(
        xml.contains("<ETag>\"5EB63BBBE01EEED093CB22BB8F5ACDC3\"</ETag>")
            || xml.contains("<ETag>&quot;5EB63BBBE01EEED093CB22BB8F5ACDC3&quot;</ETag>"),
        "{xml}"
    );

    let resp = server
        .req("DELETE", Some(bucket), Some(key))
        .sign(sign)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{}", resp.text());
    assert!(resp.body.is_empty());

    let resp = server
        .req("GET", Some(bucket), Some(key))
        .sign(sign)
        .send()
        .await;
    resp.assert_error(404, "NoSuchKey");

    let resp = server
        .req("DELETE", Some(bucket), None)
        .sign(sign)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{}", resp.text());

    let resp = server
        .req("GET", Some(bucket), None)
        .sign(sign)
        .send()
        .await;
    resp.assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn object_lifecycle_signed_v1() {
    lifecycle(Sign::V1, "lifecycle-v1").await;
}

#[tokio::test]
async fn object_lifecycle_signed_v4() {
    lifecycle(Sign::V4, "lifecycle-v4").await;
}

#[tokio::test]
async fn presigned_urls_work_until_they_expire() {
    let server = TestServer::start();
    server.create_bucket("presign").await;
    server.put_object("presign", "a b.txt", HELLO).await;
    let now = SystemTime::now();

    let resp = server
        .req("GET", Some("presign"), Some("a b.txt"))
        .sign(Sign::PresignV1 {
            expires_at: now + Duration::from_secs(300),
        })
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "V1 presign: {}", resp.text());
    assert_eq!(&resp.body[..], HELLO);

    let resp = server
        .req("GET", Some("presign"), Some("a b.txt"))
        .sign(Sign::PresignV4 {
            at: now,
            expires_in: Duration::from_secs(300),
        })
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "V4 presign: {}", resp.text());
    assert_eq!(&resp.body[..], HELLO);

    let resp = server
        .req("GET", Some("presign"), Some("a b.txt"))
        .sign(Sign::PresignV1 {
            expires_at: now - Duration::from_secs(60),
        })
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");

    let resp = server
        .req("GET", Some("presign"), Some("a b.txt"))
        .sign(Sign::PresignV4 {
            at: now - Duration::from_secs(3600),
            expires_in: Duration::from_secs(60),
        })
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");

    // A presigned URL is good for its method and object only.
    let url = server
        .req("GET", Some("presign"), Some("a b.txt"))
        .sign(Sign::PresignV1 {
            expires_at: now + Duration::from_secs(300),
        })
        .url();
    assert!(url.contains("/presign/a%20b.txt?"), "{url}");
    let resp = server.send_url("GET", &url, "").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(&resp.body[..], HELLO);
    let resp = server.send_url("PUT", &url, "overwrite").await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    let other = url.replace("/presign/a%20b.txt?", "/presign/other.txt?");
    let resp = server.send_url("GET", &other, "").await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    let v4_url = server
        .req("GET", Some("presign"), Some("a b.txt"))
        .sign(Sign::PresignV4 {
            at: now,
            expires_in: Duration::from_secs(300),
        })
        .url();
    let resp = server.send_url("PUT", &v4_url, "overwrite").await;
    resp.assert_error(403, "SignatureDoesNotMatch");
    let resp = server
        .req("GET", Some("presign"), Some("a b.txt"))
        .send()
        .await;
    assert_eq!(&resp.body[..], HELLO, "the object is unchanged");
}

#[tokio::test]
async fn bad_credentials_are_rejected() {
    let server = TestServer::start();
    server.create_bucket("creds").await;
    server.put_object("creds", "k", HELLO).await;

    for sign in [Sign::V1, Sign::V4] {
        let resp = server
            .req("GET", Some("creds"), Some("k"))
            .credentials(AK, "not-the-secret")
            .sign(sign)
            .send()
            .await;
        resp.assert_error(403, "SignatureDoesNotMatch");
        let xml = resp.text();
        assert!(xml.contains("<StringToSign>"), "{sign:?}: {xml}");
        assert!(xml.contains("<SignatureProvided>"), "{sign:?}: {xml}");
        assert!(
            xml.contains(&format!("<OSSAccessKeyId>{AK}</OSSAccessKeyId>")),
            "{sign:?}: {xml}"
        );

        let resp = server
            .req("GET", Some("creds"), Some("k"))
            .credentials("LTAINoSuchKeyAnywhere", "whatever")
            .sign(sign)
            .send()
            .await;
        resp.assert_error(403, "InvalidAccessKeyId");
    }

    // The V1 string to sign reported back is the one the client should have signed.
    let resp = server
        .req("GET", Some("creds"), Some("k"))
        .query("acl", "")
        .credentials(AK, "wrong")
        .send()
        .await;
    let sts = xml_value(&resp.text(), "StringToSign").expect("StringToSign");
    assert!(sts.starts_with("GET\n\n\n"), "{sts:?}");
    assert!(sts.ends_with("\n/creds/k?acl"), "{sts:?}");
}

#[tokio::test]
async fn acls_govern_anonymous_access() {
    let server = TestServer::start();
    server.create_bucket("acl-test").await;
    server.put_object("acl-test", "doc.txt", HELLO).await;

    let anonymous_get = || {
        server
            .req("GET", Some("acl-test"), Some("doc.txt"))
            .sign(Sign::Anonymous)
            .send()
    };
    anonymous_get().await.assert_error(403, "AccessDenied");
    let resp = server
        .req("GET", Some("acl-test"), None)
        .sign(Sign::Anonymous)
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");

    let resp = server
        .req("GET", Some("acl-test"), None)
        .query("acl", "")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.text().contains("<Grant>private</Grant>"),
        "{}",
        resp.text()
    );

    let resp = server
        .req("PUT", Some("acl-test"), None)
        .query("acl", "")
        .header("x-oss-acl", "public-read")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "PutBucketAcl: {}", resp.text());

    let resp = server
        .req("GET", Some("acl-test"), None)
        .query("acl", "")
        .send()
        .await;
    assert!(
        resp.text().contains("<Grant>public-read</Grant>"),
        "{}",
        resp.text()
    );

    let resp = anonymous_get().await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(&resp.body[..], HELLO);
    let resp = server
        .req("HEAD", Some("acl-test"), Some("doc.txt"))
        .sign(Sign::Anonymous)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK);

    // public-read is not public-write.
    let resp = server
        .req("PUT", Some("acl-test"), Some("doc.txt"))
        .body("defaced")
        .sign(Sign::Anonymous)
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");
    let resp = server
        .req("DELETE", Some("acl-test"), Some("doc.txt"))
        .sign(Sign::Anonymous)
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");
    assert_eq!(&anonymous_get().await.body[..], HELLO);

    // An object ACL overrides the bucket's.
    let resp = server
        .req("PUT", Some("acl-test"), Some("doc.txt"))
        .query("acl", "")
        .header("x-oss-object-acl", "private")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "PutObjectAcl: {}", resp.text());
    anonymous_get().await.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn head_errors_travel_in_x_oss_err() {
    let server = TestServer::start();
    server.create_bucket("heads").await;

    let resp = server
        .req("HEAD", Some("heads"), Some("missing.txt"))
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert!(resp.body.is_empty(), "HEAD must have no body");
    assert!(resp.header("x-oss-ec").is_some());
    let encoded = resp.header("x-oss-err").expect("x-oss-err header");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("x-oss-err is base64");
    let xml = String::from_utf8(decoded).expect("UTF-8 XML");
    assert!(xml.contains("<Error>"), "{xml}");
    assert!(xml.contains("<Code>NoSuchKey</Code>"), "{xml}");
    let request_id = resp.header("x-oss-request-id").unwrap();
    assert!(
        xml.contains(&format!("<RequestId>{request_id}</RequestId>")),
        "{xml}"
    );

    let resp = server
        .req("HEAD", Some("no-such-bucket"), Some("k"))
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(resp.header("x-oss-err").expect("x-oss-err"))
        .unwrap();
    assert!(String::from_utf8_lossy(&decoded).contains("<Code>NoSuchBucket</Code>"));
}

#[tokio::test]
async fn range_requests() {
    let server = TestServer::start();
    server.create_bucket("ranges").await;
    let data = b"0123456789";
    server.put_object("ranges", "digits", &data[..]).await;
    let whole_crc = crc64(data).to_string();

    let get = |range: &'static str, standard: bool| {
        let mut req = server
            .req("GET", Some("ranges"), Some("digits"))
            .header("range", range);
        if standard {
            req = req.header("x-oss-range-behavior", "standard");
        }
        req.send()
    };

    for (range, body, content_range) in [
        ("bytes=0-4", "01234", "bytes 0-4/10"),
        ("bytes=-3", "789", "bytes 7-9/10"),
        ("bytes=5-", "56789", "bytes 5-9/10"),
        ("bytes=9-9", "9", "bytes 9-9/10"),
    ] {
        let resp = get(range, false).await;
        assert_eq!(resp.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(resp.text(), body, "{range}");
        assert_eq!(resp.header("content-range"), Some(content_range), "{range}");
        assert_eq!(
            resp.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        // The CRC header always describes the whole object.
        assert_eq!(
            resp.header("x-oss-hash-crc64ecma"),
            Some(whole_crc.as_str())
        );
    }

    // Unsatisfiable or invalid ranges: the whole object, 200, by default.
    for range in ["bytes=20-30", "bytes=7-3", "bytes=abc"] {
        let resp = get(range, false).await;
        assert_eq!(resp.status, StatusCode::OK, "{range}");
        assert_eq!(&resp.body[..], data, "{range}");
        assert!(resp.header("content-range").is_none(), "{range}");
    }

    // Standard behaviour: a start past the end is 416, an end past it is clamped.
    let resp = get("bytes=20-30", true).await;
    resp.assert_error(416, "InvalidRange");
    let resp = get("bytes=5-100", true).await;
    assert_eq!(resp.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.text(), "56789");
    assert_eq!(resp.header("content-range"), Some("bytes 5-9/10"));
}

#[tokio::test]
async fn multipart_upload() {
    let server = TestServer::start();
    server.create_bucket("multi").await;
    let key = "big/object.bin";
    let part1 = pattern(150 * 1024, 1);
    let part2 = pattern(3000, 2);

    let resp = server
        .req("POST", Some("multi"), Some(key))
        .query("uploads", "")
        .header("content-type", "application/x-test")
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "Initiate: {}", resp.text());
    let xml = resp.text();
    assert!(xml.contains("<InitiateMultipartUploadResult>"), "{xml}");
    assert!(xml.contains("<Bucket>multi</Bucket>"), "{xml}");
    assert!(xml.contains(&format!("<Key>{key}</Key>")), "{xml}");
    let upload_id = xml_value(&xml, "UploadId").expect("UploadId");
    assert!(!upload_id.is_empty());

    let mut etags = Vec::new();
    for (number, data) in [(1, &part1), (2, &part2)] {
        let resp = server
            .req("PUT", Some("multi"), Some(key))
            .query("partNumber", &number.to_string())
            .query("uploadId", &upload_id)
            .header("content-md5", &content_md5(data))
            .body(data.clone())
            .send()
            .await;
        assert_eq!(resp.status, StatusCode::OK, "UploadPart: {}", resp.text());
        assert_eq!(resp.header("etag"), Some(etag_of(data).as_str()));
        assert_eq!(
            resp.header("x-oss-hash-crc64ecma"),
            Some(crc64(data).to_string().as_str())
        );
        etags.push(etag_of(data));
    }

    let resp = server
        .req("GET", Some("multi"), Some(key))
        .query("uploadId", &upload_id)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "ListParts: {}", resp.text());
    let xml = resp.text();
    assert!(xml.contains("<PartNumber>1</PartNumber>"), "{xml}");
    assert!(xml.contains("<PartNumber>2</PartNumber>"), "{xml}");
    assert!(
        xml.contains(&format!("<Size>{}</Size>", part1.len())),
        "{xml}"
    );

    let complete = format!(
        "<CompleteMultipartUpload>\
         <Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{}</ETag></Part>\
         </CompleteMultipartUpload>",
        etags[0], etags[1]
    );
    let resp = server
        .req("POST", Some("multi"), Some(key))
        .query("uploadId", &upload_id)
        .body(complete)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK, "Complete: {}", resp.text());
    let mut whole = part1.clone();
    whole.extend_from_slice(&part2);
    let whole_crc = crc64(&whole).to_string();
    let xml = resp.text();
    assert!(xml.contains("<CompleteMultipartUploadResult>"), "{xml}");
    assert!(xml.contains(&format!("<Key>{key}</Key>")), "{xml}");
    let etag = resp.header("etag").expect("ETag header").to_owned();
    assert!(is_multipart_etag(&etag, 2), "{etag}");
    let xml_etag = xml_value(&xml, "ETag").expect("ETag element");
    assert!(
        xml_etag == etag || xml_etag == etag.replace('"', "&quot;"),
        "{xml_etag} vs {etag}"
    );
    assert_eq!(
        resp.header("x-oss-hash-crc64ecma"),
        Some(whole_crc.as_str())
    );

    let resp = server.req("GET", Some("multi"), Some(key)).send().await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.body[..] == whole[..], "GET returns the concatenation");
    assert_eq!(resp.header("etag"), Some(etag.as_str()));
    assert_eq!(
        resp.header("x-oss-hash-crc64ecma"),
        Some(whole_crc.as_str())
    );
    assert_eq!(resp.header("x-oss-object-type"), Some("Multipart"));
    assert_eq!(resp.header("content-type"), Some("application/x-test"));

    // The upload is gone once completed.
    let resp = server
        .req("GET", Some("multi"), Some(key))
        .query("uploadId", &upload_id)
        .send()
        .await;
    resp.assert_error(404, "NoSuchUpload");
}

/// `"<32 upper hex>-<parts>"`.
fn is_multipart_etag(etag: &str, parts: u32) -> bool {
    let Some(inner) = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')) else {
        return false;
    };
    let Some((hex, count)) = inner.split_once('-') else {
        return false;
    };
    hex.len() == 32
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
        && count == parts.to_string()
}

#[tokio::test]
async fn append_object() {
    let server = TestServer::start();
    server.create_bucket("appends").await;
    let append = |position: u64, data: &'static [u8]| {
        server
            .req("POST", Some("appends"), Some("log.txt"))
            .query("append", "")
            .query("position", &position.to_string())
            .body(data)
            .send()
    };

    let resp = append(0, b"hello ").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(resp.header("x-oss-next-append-position"), Some("6"));
    assert_eq!(
        resp.header("x-oss-hash-crc64ecma"),
        Some(crc64(b"hello ").to_string().as_str())
    );

    let resp = append(6, b"world").await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(resp.header("x-oss-next-append-position"), Some("11"));
    assert_eq!(resp.header("x-oss-hash-crc64ecma"), Some(HELLO_CRC));

    let resp = append(5, b"!").await;
    resp.assert_error(409, "PositionNotEqualToLength");
    assert_eq!(resp.header("x-oss-next-append-position"), Some("11"));
    let resp = append(0, b"!").await;
    resp.assert_error(409, "PositionNotEqualToLength");
    assert_eq!(resp.header("x-oss-next-append-position"), Some("11"));

    let resp = server
        .req("GET", Some("appends"), Some("log.txt"))
        .send()
        .await;
    assert_eq!(&resp.body[..], HELLO);
    assert_eq!(resp.header("x-oss-object-type"), Some("Appendable"));
    assert_eq!(resp.header("x-oss-hash-crc64ecma"), Some(HELLO_CRC));

    // A normal object cannot be appended to.
    server.put_object("appends", "plain", HELLO).await;
    let resp = server
        .req("POST", Some("appends"), Some("plain"))
        .query("append", "")
        .query("position", "11")
        .body("more")
        .send()
        .await;
    resp.assert_error(409, "ObjectNotAppendable");
}

#[tokio::test]
async fn metrics_live_on_the_admin_port_only() {
    let server = TestServer::start();
    server.create_bucket("counted").await;
    server.put_object("counted", "k", HELLO).await;
    server
        .req("GET", Some("counted"), Some("missing"))
        .send()
        .await
        .assert_error(404, "NoSuchKey");

    let resp = server.admin_get("/metrics").await;
    assert_eq!(resp.status, StatusCode::OK);
    let text = resp.text();
    assert!(text.contains("coffer_requests_total"), "{text}");
    assert!(text.contains("PutObject"), "{text}");
    let health = server.admin_get("/health").await;
    assert_eq!(health.status, StatusCode::OK);

    // On the API port `/metrics` is the bucket "metrics".
    let resp = server.req("GET", Some("metrics"), None).send().await;
    resp.assert_error(404, "NoSuchBucket");
    assert!(!resp.text().contains("coffer_requests_total"));
    let resp = server
        .req("GET", Some("metrics"), None)
        .sign(Sign::Anonymous)
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND, "{}", resp.text());
    assert!(!resp.text().contains("coffer_requests_total"));

    server.create_bucket("metrics").await;
    let resp = server.req("GET", Some("metrics"), None).send().await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.text().contains("<Name>metrics</Name>"),
        "{}",
        resp.text()
    );
}

#[tokio::test]
async fn sigterm_lets_an_upload_in_flight_finish() {
    const TOTAL: usize = 50 * 1024 * 1024;
    const CHUNK: usize = 1024 * 1024;
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_with_data_dir(data_dir.path());
    server.create_bucket("drain").await;

    let chunk = pattern(CHUNK, 9);
    let mut whole = Vec::with_capacity(TOTAL);
    while whole.len() < TOTAL {
        whole.extend_from_slice(&chunk);
    }
    let mut headers = HeaderMap::new();
    headers.insert("content-length", HeaderValue::from(TOTAL));
    let (target, headers) =
        server.signed_parts("PUT", Some("drain"), Some("big.bin"), Vec::new(), headers);

    let mut stream = server.connect();
    write_head(&mut stream, "PUT", &target, &headers).unwrap();
    for (i, piece) in whole.chunks(CHUNK).enumerate() {
        stream.write_all(piece).expect("server kept reading");
        if i == 10 {
            server.terminate();
        }
        if i == 20 {
            // Shutdown has begun while the upload is still going: no new connections.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while std::net::TcpStream::connect(server.addr).is_ok() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "still accepting connections after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let resp = read_response(&mut stream).expect("a response to the upload");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("etag"), Some(etag_of(&whole).as_str()));
    drop(stream);

    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "coffer exited with {status}");
    drop(server);

    // The object was committed: a new server on the same data finds it intact.
    let server = TestServer::start_with_data_dir(data_dir.path());
    let resp = server
        .req("HEAD", Some("drain"), Some("big.bin"))
        .send()
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.header("content-length"),
        Some(TOTAL.to_string().as_str())
    );
    assert_eq!(resp.header("etag"), Some(etag_of(&whole).as_str()));
    assert_eq!(
        resp.header("x-oss-hash-crc64ecma"),
        Some(crc64(&whole).to_string().as_str())
    );
}
