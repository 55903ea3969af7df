//! Encryption fails closed: a bucket default rule holding a value this build does not know
//! (written straight into the store, since the API refuses it) makes every write path that
//! would apply it fail, and leaves neither an object nor a blob behind. The bucket itself
//! stays readable and its rule removable.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use coffer_service::{
    Body, BucketRecord, CompleteOptions, CompletePart, CopyOptions, CopySource, EncryptionRule,
    KeySource, KmsDataEncryption, MetadataDirective, NewBucket, ObjectAcl, ObjectAttributes,
    PartTarget, PutOptions, Service, ServiceError, SseAlgorithm, SseMethod, SseRequest,
};
use coffer_storage::{BlobStore, FsBlobStore, MetaStore, RedbMetaStore};
use futures_util::StreamExt;

mod common;
use common::{LIMITS, SelfWrappingKeys};

const BUCKET: &str = "guarded";
const PLAIN_BUCKET: &str = "plain";
const BODY: &[u8] = b"must never be stored in plaintext";

struct Fixture {
    service: Service,
    meta: Arc<RedbMetaStore>,
    blobs: Arc<FsBlobStore>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap());
        let blobs = Arc::new(FsBlobStore::open(&dir.path().join("blobs")).await.unwrap());
        let service = Service::new(meta.clone(), blobs.clone(), LIMITS)
            .with_key_provider(Arc::new(SelfWrappingKeys::default()));
        for name in [BUCKET, PLAIN_BUCKET] {
            service
                .create_bucket(NewBucket {
                    name: name.into(),
                    owner: "owner".into(),
                    acl: None,
                    storage_class: None,
                    data_redundancy_type: None,
                    encryption: None,
                })
                .await
                .unwrap();
        }
        Fixture {
            service,
            meta,
            blobs,
            _dir: dir,
        }
    }

    /// Writes `rule` into the bucket record directly, as another build or damage could.
    async fn store_rule(&self, rule: Option<EncryptionRule>) {
        let mut record: BucketRecord = self.meta.get_bucket(BUCKET).await.unwrap().unwrap();
        record.encryption = rule;
        self.meta.update_bucket(record).await.unwrap();
    }

    async fn blob_count(&self) -> usize {
        self.blobs.list().await.unwrap().len()
    }

    /// Nothing was stored under `key`: no object, no upload, and no blob beyond `blobs`.
    async fn assert_nothing_stored(&self, key: &str, blobs: usize) {
        assert!(self.meta.get_object(BUCKET, key).await.unwrap().is_none());
        assert!(self.meta.list_uploads(BUCKET).await.unwrap().is_empty());
        assert_eq!(self.blob_count().await, blobs, "a blob was left behind");
    }
}

fn rule(algorithm: &str, data: Option<&str>) -> EncryptionRule {
    EncryptionRule {
        algorithm: SseAlgorithm::from(algorithm.to_owned()),
        kms_key_id: None,
        kms_data_encryption: data.map(|d| KmsDataEncryption::from(d.to_owned())),
    }
}

/// Rules the API would refuse, each with the value that makes it unusable.
fn broken_rules() -> Vec<(EncryptionRule, &'static str)> {
    vec![
        (rule("AES128", None), "AES128"),
        (rule("aes256", None), "aes256"),
        (rule("KMS", Some("SM3")), "SM3"),
        // Not used by AES256, but a rule with an unknown value is not trusted at all.
        (rule("AES256", Some("SM3")), "SM3"),
    ]
}

fn body(bytes: &'static [u8]) -> Body {
    Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(bytes))]))
}

fn put_options() -> PutOptions {
    PutOptions {
        caller: "tester".into(),
        ..PutOptions::default()
    }
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, ServiceError>, value: &str) {
    match result {
        Err(ServiceError::UnsupportedEncryptionRule(v)) => assert_eq!(v, value),
        other => panic!("expected UnsupportedEncryptionRule({value:?}), got {other:?}"),
    }
}

async fn read_all(service: &Service, bucket: &str, key: &str) -> Vec<u8> {
    let object = service.head_object(bucket, key).await.unwrap();
    let mut stream = service
        .open_object(bucket, &object, None, &KeySource::Managed, "tester")
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// PutObject; PostObject stores through the same `Service::put_object`.
#[tokio::test]
async fn put_object_refuses_an_unknown_rule() {
    let f = Fixture::new().await;
    for (rule, value) in broken_rules() {
        f.store_rule(Some(rule)).await;
        let result = f
            .service
            .put_object(BUCKET, "put", body(BODY), put_options())
            .await;
        assert_refused(result, value);
        f.assert_nothing_stored("put", 0).await;
    }
}

#[tokio::test]
async fn the_first_append_refuses_an_unknown_rule() {
    let f = Fixture::new().await;
    for (rule, value) in broken_rules() {
        f.store_rule(Some(rule)).await;
        let result = f
            .service
            .append_object(BUCKET, "append", 0, body(BODY), put_options())
            .await;
        assert_refused(result, value);
        f.assert_nothing_stored("append", 0).await;
    }
}

#[tokio::test]
async fn copy_object_refuses_an_unknown_rule_on_the_destination() {
    let f = Fixture::new().await;
    f.service
        .put_object(PLAIN_BUCKET, "src", body(BODY), put_options())
        .await
        .unwrap();
    let source = CopySource {
        bucket: PLAIN_BUCKET.into(),
        key: "src".into(),
        conditions: Default::default(),
        key_source: KeySource::Managed,
    };
    for (rule, value) in broken_rules() {
        f.store_rule(Some(rule)).await;
        let options = CopyOptions {
            directive: MetadataDirective::Copy,
            acl: ObjectAcl::Default,
            storage_class: None,
            forbid_overwrite: false,
            sse: None,
            key_source: KeySource::Managed,
            caller: "tester".into(),
        };
        let result = f
            .service
            .copy_object(&source, BUCKET, "copy", options)
            .await;
        assert_refused(result, value);
        // Only the source's blob exists.
        f.assert_nothing_stored("copy", 1).await;
    }
}

#[tokio::test]
async fn initiate_multipart_upload_refuses_an_unknown_rule() {
    let f = Fixture::new().await;
    for (rule, value) in broken_rules() {
        f.store_rule(Some(rule)).await;
        let result = f
            .service
            .initiate_upload(
                BUCKET,
                "mpu",
                ObjectAttributes::default(),
                None,
                &KeySource::Managed,
                "tester",
            )
            .await;
        assert_refused(result, value);
        f.assert_nothing_stored("mpu", 0).await;
    }
}

/// An upload's encryption is fixed at initiation: parts, part copies and completion never
/// consult the bucket rule again, so a rule broken meanwhile can neither turn them into
/// plaintext nor stop them.
#[tokio::test]
async fn an_upload_keeps_the_encryption_it_was_initiated_with() {
    let f = Fixture::new().await;
    f.store_rule(Some(rule("SM4", None))).await;
    let upload = f
        .service
        .initiate_upload(
            BUCKET,
            "mpu",
            ObjectAttributes::default(),
            None,
            &KeySource::Managed,
            "tester",
        )
        .await
        .unwrap();
    let envelope = upload.encryption.clone().expect("the upload is encrypted");
    f.store_rule(Some(rule("AES128", None))).await;
    f.service
        .put_object(PLAIN_BUCKET, "src", body(BODY), put_options())
        .await
        .unwrap();
    let target = |part_number| PartTarget {
        bucket: BUCKET,
        key: "mpu",
        upload_id: &upload.upload_id,
        part_number,
    };
    let (part, sealed) = f
        .service
        .upload_part(&target(1), body(BODY), None, &KeySource::Managed, "tester")
        .await
        .unwrap();
    assert_eq!(sealed.as_ref(), Some(&envelope));
    let source = CopySource {
        bucket: PLAIN_BUCKET.into(),
        key: "src".into(),
        conditions: Default::default(),
        key_source: KeySource::Managed,
    };
    let copied = f
        .service
        .upload_part_copy(&target(2), &source, None, &KeySource::Managed, "tester")
        .await
        .unwrap();
    assert_eq!(copied.encryption.as_ref(), Some(&envelope));
    let parts = [(1, part.etag), (2, copied.part.etag)]
        .map(|(part_number, etag)| CompletePart { part_number, etag });
    // Part 1 is under the minimum part size, so complete with part 2 alone.
    let object = f
        .service
        .complete_upload(
            BUCKET,
            "mpu",
            &upload.upload_id,
            Some(vec![parts[1].clone()]),
            CompleteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(object.encryption.as_ref(), Some(&envelope));
    assert_eq!(read_all(&f.service, BUCKET, "mpu").await, BODY);
}

/// The request's own SSE wins over the bucket rule, so such a write is encrypted as asked
/// and never consults the broken rule.
#[tokio::test]
async fn an_explicit_request_is_encrypted_as_asked() {
    let f = Fixture::new().await;
    f.store_rule(Some(rule("AES128", None))).await;
    let options = PutOptions {
        sse: Some(SseRequest {
            method: SseMethod::ServiceManaged,
            suite: coffer_service::CipherSuite::Aes256Gcm,
            kms_key_id: None,
        }),
        ..put_options()
    };
    let object = f
        .service
        .put_object(BUCKET, "asked", body(BODY), options)
        .await
        .unwrap();
    assert!(object.encryption.is_some());
}

/// The bucket stays readable with the rule as stored, and the rule can be removed.
#[tokio::test]
async fn a_bucket_with_an_unknown_rule_stays_readable_and_fixable() {
    let f = Fixture::new().await;
    let (broken, _) = broken_rules().remove(2);
    f.store_rule(Some(broken.clone())).await;
    let bucket = f.service.get_bucket(BUCKET).await.unwrap();
    assert_eq!(bucket.encryption, Some(broken));
    let listing = f.service.list_buckets("owner", "", "", 10).await.unwrap();
    assert_eq!(listing.buckets.len(), 2);
    f.service.set_bucket_encryption(BUCKET, None).await.unwrap();
    let object = f
        .service
        .put_object(BUCKET, "after", body(BODY), put_options())
        .await
        .unwrap();
    assert!(object.encryption.is_none());
}
