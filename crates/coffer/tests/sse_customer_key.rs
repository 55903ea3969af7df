//! An object sealed under a customer-provided key (SSE-C, as another dialect would store
//! it) is refused by every OSS request that would read or copy it, since OSS requests carry
//! no customer key: 400 `InvalidRequest`, never its bytes or a key-service call. Objects
//! under managed keys beside it are unaffected.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use coffer_service::{CustomerKey, KeyVerifier, SseMethod};
use coffer_storage::{MetaStore, RedbMetaStore};
use common::TestServer;

const BUCKET: &str = "sse-c";

/// Stops the server, then turns `key`'s envelope into an SSE-C one in its metadata store.
async fn seal_under_customer_key_offline(mut server: TestServer, data_dir: &Path, key: &str) {
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(30)).success());
    let meta = RedbMetaStore::open(&data_dir.join("metadata.redb")).unwrap();
    let mut object = meta.get_object(BUCKET, key).await.unwrap().unwrap();
    let envelope = object.encryption.as_mut().expect("stored encrypted");
    envelope.method = SseMethod::CustomerProvided;
    envelope.key_id.clear();
    envelope.wrapped_key.clear();
    let customer = CustomerKey::from_bytes([0x42; 32]);
    envelope.key_verifier = Some(KeyVerifier::new(&customer, [7; 16]));
    meta.put_object(BUCKET, object, coffer_storage::PutCondition::Any)
        .await
        .unwrap();
}

#[tokio::test]
async fn oss_requests_cannot_open_a_customer_keyed_object() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with_data_dir(data.path());
    server.create_bucket(BUCKET).await;
    for key in ["sealed", "managed"] {
        let resp = server
            .req("PUT", Some(BUCKET), Some(key))
            .header("x-oss-server-side-encryption", "AES256")
            .body(&b"customer data"[..])
            .send()
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    seal_under_customer_key_offline(server, data.path(), "sealed").await;
    let server = TestServer::start_with_data_dir(data.path());

    for method in ["GET", "HEAD"] {
        let resp = server
            .req(method, Some(BUCKET), Some("sealed"))
            .send()
            .await;
        assert_eq!(resp.status, 400, "{method}");
        if method == "GET" {
            resp.assert_error(400, "InvalidRequest");
        }
    }
    let meta = server
        .req("HEAD", Some(BUCKET), Some("sealed"))
        .query("objectMeta", "")
        .send()
        .await;
    assert_eq!(meta.status, 400);
    let copy = server
        .req("PUT", Some(BUCKET), Some("copy"))
        .header("x-oss-copy-source", &format!("/{BUCKET}/sealed"))
        .send()
        .await;
    copy.assert_error(400, "InvalidRequest");
    let missing = server.req("GET", Some(BUCKET), Some("copy")).send().await;
    assert_eq!(missing.status, 404, "the refused copy stored something");

    let managed = server
        .req("GET", Some(BUCKET), Some("managed"))
        .send()
        .await;
    assert_eq!(managed.status, 200);
    assert_eq!(managed.body.as_ref(), b"customer data");
}
