//! Encryption fails closed, end to end: PutBucketEncryption refuses an unknown algorithm
//! with OSS's error, and a bucket whose stored rule holds one anyway (written into the
//! metadata store while the server is down, as another build or damage could) refuses
//! every write that would apply it with 500 `InternalError`, stores nothing, and still
//! answers reads of the bucket and lets the owner delete the rule.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use coffer_storage::{MetaStore, RedbMetaStore, SseAlgorithm};
use common::{Sign, TestServer};

const BUCKET: &str = "guarded";
const SOURCE: &str = "plain";
const MARKER: &[u8] = b"COFFER-FAIL-CLOSED-MARKER-5d1e";
const BOUNDARY: &str = "----CofferFailClosedBoundary";

fn rule_document(algorithm: &str) -> String {
    format!(
        "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
         <SSEAlgorithm>{algorithm}</SSEAlgorithm>\
         </ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>"
    )
}

async fn put_rule(server: &TestServer, document: String) -> common::Resp {
    server
        .req("PUT", Some(BUCKET), None)
        .query("encryption", "")
        .body(document)
        .send()
        .await
}

/// Stops the server, then rewrites the bucket's rule algorithm in its metadata store.
async fn break_rule_offline(mut server: TestServer, data_dir: &Path, algorithm: &str) {
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(30)).success());
    let meta = RedbMetaStore::open(&data_dir.join("metadata.redb")).unwrap();
    let mut bucket = meta.get_bucket(BUCKET).await.unwrap().unwrap();
    let rule = bucket.encryption.as_mut().expect("a rule was set");
    rule.algorithm = SseAlgorithm::from(algorithm.to_owned());
    meta.update_bucket(bucket).await.unwrap();
}

/// An anonymous PostObject form (the bucket is public-read-write).
async fn post_form(server: &TestServer, key: &str) -> common::Resp {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(MARKER);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    server
        .req("POST", Some(BUCKET), None)
        .sign(Sign::Anonymous)
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
}

/// Every write path that would apply the bucket default, each answered `InternalError`.
async fn assert_writes_refused(server: &TestServer) {
    let writes = [
        ("PutObject", server.req("PUT", Some(BUCKET), Some("put"))),
        (
            "AppendObject",
            server
                .req("POST", Some(BUCKET), Some("append"))
                .query("append", "")
                .query("position", "0"),
        ),
        (
            "CopyObject",
            server
                .req("PUT", Some(BUCKET), Some("copy"))
                .header("x-oss-copy-source", &format!("/{SOURCE}/src")),
        ),
        (
            "InitiateMultipartUpload",
            server
                .req("POST", Some(BUCKET), Some("mpu"))
                .query("uploads", ""),
        ),
    ];
    for (name, req) in writes {
        let resp = req.body(MARKER.to_vec()).send().await;
        resp.assert_error(500, "InternalError");
        assert!(
            resp.text().contains("encryption rule"),
            "{name}: {}",
            resp.text()
        );
    }
    post_form(server, "post")
        .await
        .assert_error(500, "InternalError");
    for key in ["put", "append", "copy", "post"] {
        let resp = server.req("HEAD", Some(BUCKET), Some(key)).send().await;
        assert_eq!(resp.status, 404, "{key} was stored");
    }
    let uploads = server
        .req("GET", Some(BUCKET), None)
        .query("uploads", "")
        .send()
        .await;
    assert!(!uploads.text().contains("<Upload>"), "{}", uploads.text());
}

fn files_with_marker(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|data| data.windows(MARKER.len()).any(|w| w == MARKER))
            {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn put_bucket_encryption_refuses_an_unknown_algorithm() {
    let server = TestServer::start();
    server.create_bucket(BUCKET).await;
    for algorithm in ["AES128", "random"] {
        let resp = put_rule(&server, rule_document(algorithm)).await;
        resp.assert_error(400, "InvalidEncryptionAlgorithmError");
        assert_eq!(resp.xml_value("EC").as_deref(), Some("0005-00000003"));
    }
    let resp = server
        .req("GET", Some(BUCKET), None)
        .query("encryption", "")
        .send()
        .await;
    resp.assert_error(404, "NoSuchServerSideEncryptionRule");
}

#[tokio::test]
async fn a_stored_unknown_algorithm_fails_writes_closed() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with_data_dir(data.path());
    let resp = server
        .req("PUT", Some(BUCKET), None)
        .header("x-oss-acl", "public-read-write")
        .send()
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    server.create_bucket(SOURCE).await;
    // Only the refused writes carry the marker, so it must appear nowhere on disk.
    server.put_object(SOURCE, "src", &b"copy source"[..]).await;
    assert_eq!(put_rule(&server, rule_document("AES256")).await.status, 200);
    break_rule_offline(server, data.path(), "AES128").await;

    let server = TestServer::start_with_data_dir(data.path());
    assert_writes_refused(&server).await;
    assert_eq!(
        files_with_marker(data.path()),
        Vec::<std::path::PathBuf>::new()
    );

    // Reads of the bucket still work and show what is stored.
    let rule = server
        .req("GET", Some(BUCKET), None)
        .query("encryption", "")
        .send()
        .await;
    assert_eq!(rule.status, 200, "{}", rule.text());
    assert_eq!(rule.xml_value("SSEAlgorithm").as_deref(), Some("AES128"));
    let info = server
        .req("GET", Some(BUCKET), None)
        .query("bucketInfo", "")
        .send()
        .await;
    assert_eq!(info.status, 200, "{}", info.text());
    let listing = server.req("GET", None, None).send().await;
    assert!(listing.text().contains(&format!("<Name>{BUCKET}</Name>")));

    // The owner can remove the rule; writes then proceed, without encryption.
    let deleted = server
        .req("DELETE", Some(BUCKET), None)
        .query("encryption", "")
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let resp = server.put_object(BUCKET, "after", MARKER.to_vec()).await;
    assert!(resp.header("x-oss-server-side-encryption").is_none());
}
