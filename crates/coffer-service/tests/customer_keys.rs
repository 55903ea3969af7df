//! Keys the client supplies (SSE-C) through every path that seals or opens data: put,
//! read, copy, append and multipart. The key is used, never stored: neither it nor its
//! plain digests appear in a record or on disk, nor does the plaintext, and the key
//! service is never asked about it.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use coffer_service::{
    Body, CipherSuite, CompleteOptions, CompletePart, CopyOptions, CopySource, CustomerKey,
    EncryptionRule, KeySource, MetadataDirective, NewBucket, ObjectAcl, ObjectAttributes,
    ObjectRecord, PartTarget, PutOptions, Service, ServiceError, SseAlgorithm, SseMethod,
    SseRequest,
};
use coffer_storage::{FsBlobStore, MetaStore, RedbMetaStore};
use futures_util::StreamExt;
use md5::Digest as _;

mod common;
use common::{LIMITS, SelfWrappingKeys};

const BUCKET: &str = "plain-default";
/// A bucket whose default is SSE-KMS: an SSE-C write into it stays SSE-C.
const KMS_BUCKET: &str = "kms-default";
const KEY_A: [u8; 32] = [0xA5; 32];
const KEY_B: [u8; 32] = [0x5B; 32];
const BODY: &[u8] = b"customer-keyed plaintext that must never be written to disk as it is";

struct Fixture {
    service: Service,
    meta: Arc<RedbMetaStore>,
    keys: Arc<SelfWrappingKeys>,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap());
        let blobs = Arc::new(FsBlobStore::open(&dir.path().join("blobs")).await.unwrap());
        let keys = Arc::new(SelfWrappingKeys::default());
        let service = Service::new(meta.clone(), blobs, LIMITS).with_key_provider(keys.clone());
        let kms_rule = EncryptionRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: None,
            kms_data_encryption: None,
        };
        for (name, encryption) in [(BUCKET, None), (KMS_BUCKET, Some(kms_rule))] {
            service
                .create_bucket(NewBucket {
                    name: name.into(),
                    owner: "owner".into(),
                    acl: None,
                    storage_class: None,
                    data_redundancy_type: None,
                    encryption,
                })
                .await
                .unwrap();
        }
        Fixture {
            service,
            meta,
            keys,
            dir,
        }
    }

    fn key_service_calls(&self) -> usize {
        self.keys.calls()
    }

    async fn put(&self, bucket: &str, key: &str, data: &[u8], source: KeySource) -> ObjectRecord {
        self.service
            .put_object(bucket, key, body(data), options(source))
            .await
            .unwrap()
    }

    async fn read(
        &self,
        bucket: &str,
        key: &str,
        source: &KeySource,
    ) -> Result<Vec<u8>, ServiceError> {
        let object = self.service.head_object(bucket, key).await.unwrap();
        let mut stream = self
            .service
            .open_object(bucket, &object, None, source, "tester")
            .await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        Ok(out)
    }

    /// Every byte Coffer stored: the metadata database and every blob file.
    fn stored_bytes(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        collect_files(self.dir.path(), &mut files);
        assert!(
            files.len() >= 2,
            "expected the database and blobs: {files:?}"
        );
        files
            .into_iter()
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect()
    }
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn body(data: &[u8]) -> Body {
    let data = Bytes::copy_from_slice(data);
    Box::pin(futures_util::stream::iter([Ok(data)]))
}

fn customer(key: [u8; 32]) -> KeySource {
    KeySource::Customer(CustomerKey::from_bytes(key))
}

fn options(source: KeySource) -> PutOptions {
    PutOptions {
        key_source: source,
        caller: "tester".into(),
        ..PutOptions::default()
    }
}

fn source(key: &str, key_source: KeySource) -> CopySource {
    CopySource {
        bucket: BUCKET.into(),
        key: key.into(),
        conditions: Default::default(),
        key_source,
    }
}

fn copy_options(sse: Option<SseRequest>, key_source: KeySource) -> CopyOptions {
    CopyOptions {
        directive: MetadataDirective::Copy,
        acl: ObjectAcl::Default,
        storage_class: None,
        forbid_overwrite: false,
        sse,
        key_source,
        caller: "tester".into(),
    }
}

fn sse_oss() -> SseRequest {
    SseRequest {
        method: SseMethod::ServiceManaged,
        suite: CipherSuite::Aes256Gcm,
        kms_key_id: None,
    }
}

fn assert_customer_envelope(object: &ObjectRecord) {
    let envelope = object
        .encryption
        .as_ref()
        .expect("an SSE-C object is encrypted");
    assert_eq!(envelope.method, SseMethod::CustomerProvided);
    assert!(envelope.wrapped_key.is_empty(), "no key is wrapped");
    assert!(envelope.key_id.is_empty());
    assert!(envelope.key_verifier.is_some());
}

macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}

#[tokio::test]
async fn a_customer_keyed_object_reads_back_with_its_key_only() {
    let f = Fixture::new().await;
    // The KMS bucket default does not apply: the client chose the key.
    for bucket in [BUCKET, KMS_BUCKET] {
        let object = f.put(bucket, "o", BODY, customer(KEY_A)).await;
        assert_customer_envelope(&object);
        assert_eq!(f.read(bucket, "o", &customer(KEY_A)).await.unwrap(), BODY);
        assert_err!(
            f.read(bucket, "o", &KeySource::Managed).await,
            ServiceError::CustomerKeyRequired
        );
        assert_err!(
            f.read(bucket, "o", &customer(KEY_B)).await,
            ServiceError::CustomerKeyMismatch
        );
        // HEAD reads no data; the dialect asks the key source itself.
        let head = f.service.head_object(bucket, "o").await.unwrap();
        assert!(customer(KEY_A).admits(head.encryption.as_ref()).is_ok());
        assert_err!(
            KeySource::Managed.admits(head.encryption.as_ref()),
            ServiceError::CustomerKeyRequired
        );
    }
    assert_eq!(
        f.key_service_calls(),
        0,
        "a customer key reached the key service"
    );
}

#[tokio::test]
async fn a_customer_key_is_refused_for_an_object_not_sealed_under_one() {
    let f = Fixture::new().await;
    f.put(BUCKET, "plain", BODY, KeySource::Managed).await;
    f.put(KMS_BUCKET, "managed", BODY, KeySource::Managed).await;
    for (bucket, key) in [(BUCKET, "plain"), (KMS_BUCKET, "managed")] {
        assert_err!(
            f.read(bucket, key, &customer(KEY_A)).await,
            ServiceError::CustomerKeyNotApplicable
        );
        assert_eq!(
            f.read(bucket, key, &KeySource::Managed).await.unwrap(),
            BODY
        );
    }
}

#[tokio::test]
async fn a_write_cannot_ask_for_a_customer_key_and_managed_encryption() {
    let f = Fixture::new().await;
    let mut both = options(customer(KEY_A));
    both.sse = Some(sse_oss());
    assert_err!(
        f.service.put_object(BUCKET, "both", body(BODY), both).await,
        ServiceError::ConflictingEncryption
    );
    assert!(f.meta.get_object(BUCKET, "both").await.unwrap().is_none());
    assert_err!(
        f.service
            .initiate_upload(
                BUCKET,
                "both",
                ObjectAttributes::default(),
                Some(&sse_oss()),
                &customer(KEY_A),
                "tester",
            )
            .await,
        ServiceError::ConflictingEncryption
    );
}

/// Neither the key, nor its SHA-256 or MD5 (what S3 clients send beside it), in any
/// encoding, appears in the record or anywhere on disk; nor does the plaintext.
#[tokio::test]
async fn neither_the_key_nor_the_plaintext_is_stored() {
    let f = Fixture::new().await;
    let object = f.put(BUCKET, "secret", BODY, customer(KEY_A)).await;
    f.service
        .append_object(BUCKET, "appended", 0, body(BODY), options(customer(KEY_A)))
        .await
        .unwrap();
    let sha256 = sha2::Sha256::digest(KEY_A).to_vec();
    let md5 = md5::Md5::digest(KEY_A).to_vec();
    let mut forbidden: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, raw) in [("key", KEY_A.to_vec()), ("sha256", sha256), ("md5", md5)] {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        forbidden.push((format!("{name} hex"), hex::encode(&raw).into_bytes()));
        forbidden.push((format!("{name} HEX"), hex::encode_upper(&raw).into_bytes()));
        forbidden.push((format!("{name} base64"), b64.into_bytes()));
        forbidden.push((format!("{name} raw"), raw));
    }
    let record = serde_json::to_vec(&object).unwrap();
    for (what, needle) in &forbidden {
        assert!(!contains(&record, needle), "the record holds the {what}");
    }
    forbidden.push(("plaintext".into(), BODY.to_vec()));
    // Controls: the scan does see records and blob contents.
    let control = b"a plaintext control object, stored as it is";
    f.put(BUCKET, "control", control, KeySource::Managed).await;
    let stored = f.stored_bytes();
    assert!(stored.iter().any(|(_, b)| contains(b, control)));
    assert!(
        stored
            .iter()
            .any(|(_, b)| contains(b, object.etag.as_bytes()))
    );
    for (file, bytes) in stored {
        for (what, needle) in &forbidden {
            assert!(!contains(&bytes, needle), "{file} holds the {what}");
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn copies_take_each_side_under_its_own_key() {
    let f = Fixture::new().await;
    f.put(BUCKET, "c", BODY, customer(KEY_A)).await;
    f.put(BUCKET, "m", BODY, KeySource::Managed).await;
    let copy = |src: CopySource, dest: &'static str, opts: CopyOptions| {
        let service = f.service.clone();
        async move { service.copy_object(&src, BUCKET, dest, opts).await }
    };

    // SSE-C to SSE-C under a new key: only the new key opens the copy.
    let object = copy(
        source("c", customer(KEY_A)),
        "c2c",
        copy_options(None, customer(KEY_B)),
    )
    .await
    .unwrap();
    assert_customer_envelope(&object);
    assert_eq!(f.read(BUCKET, "c2c", &customer(KEY_B)).await.unwrap(), BODY);
    assert_err!(
        f.read(BUCKET, "c2c", &customer(KEY_A)).await,
        ServiceError::CustomerKeyMismatch
    );

    // SSE-C to managed, with an explicit request.
    let object = copy(
        source("c", customer(KEY_A)),
        "c2m",
        copy_options(Some(sse_oss()), KeySource::Managed),
    )
    .await
    .unwrap();
    assert_eq!(object.encryption.unwrap().method, SseMethod::ServiceManaged);
    assert_eq!(
        f.read(BUCKET, "c2m", &KeySource::Managed).await.unwrap(),
        BODY
    );

    // Managed (here plaintext) to SSE-C.
    let object = copy(
        source("m", KeySource::Managed),
        "m2c",
        copy_options(None, customer(KEY_A)),
    )
    .await
    .unwrap();
    assert_customer_envelope(&object);
    assert_eq!(f.read(BUCKET, "m2c", &customer(KEY_A)).await.unwrap(), BODY);

    // A source opened without its key, or with the wrong one, or a key for a source that
    // has none: refused, and nothing written.
    let refused = [
        (source("c", KeySource::Managed), "CustomerKeyRequired"),
        (source("c", customer(KEY_B)), "CustomerKeyMismatch"),
        (source("m", customer(KEY_A)), "CustomerKeyNotApplicable"),
    ];
    for (src, expected) in refused {
        let err = copy(src, "refused", copy_options(None, customer(KEY_A)))
            .await
            .unwrap_err();
        assert_eq!(format!("{err:?}"), expected);
        assert!(
            f.meta
                .get_object(BUCKET, "refused")
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn every_part_of_a_customer_keyed_upload_presents_the_key() {
    let f = Fixture::new().await;
    let upload = f
        .service
        .initiate_upload(
            KMS_BUCKET,
            "mpu",
            ObjectAttributes::default(),
            None,
            &customer(KEY_A),
            "tester",
        )
        .await
        .unwrap();
    assert_eq!(
        upload.encryption.as_ref().unwrap().method,
        SseMethod::CustomerProvided
    );
    let target = |part_number| PartTarget {
        bucket: KMS_BUCKET,
        key: "mpu",
        upload_id: &upload.upload_id,
        part_number,
    };
    let first = vec![b'p'; LIMITS.min_part_size as usize];
    for (wrong, expected) in [
        (KeySource::Managed, "CustomerKeyRequired"),
        (customer(KEY_B), "CustomerKeyMismatch"),
    ] {
        let err = f
            .service
            .upload_part(&target(1), body(&first), None, &wrong, "tester")
            .await
            .unwrap_err();
        assert_eq!(format!("{err:?}"), expected);
    }
    let (part1, _) = f
        .service
        .upload_part(&target(1), body(&first), None, &customer(KEY_A), "tester")
        .await
        .unwrap();
    // A part copied from an SSE-C source: the source's key opens it, the upload's seals.
    f.put(BUCKET, "src", BODY, customer(KEY_B)).await;
    let err = f
        .service
        .upload_part_copy(
            &target(2),
            &source("src", customer(KEY_B)),
            None,
            &KeySource::Managed,
            "tester",
        )
        .await
        .unwrap_err();
    assert_eq!(format!("{err:?}"), "CustomerKeyRequired");
    let err = f
        .service
        .upload_part_copy(
            &target(2),
            &source("src", customer(KEY_A)),
            None,
            &customer(KEY_A),
            "tester",
        )
        .await
        .unwrap_err();
    assert_eq!(format!("{err:?}"), "CustomerKeyMismatch");
    let part2 = f
        .service
        .upload_part_copy(
            &target(2),
            &source("src", customer(KEY_B)),
            None,
            &customer(KEY_A),
            "tester",
        )
        .await
        .unwrap();
    assert_eq!(
        f.meta
            .list_parts(KMS_BUCKET, "mpu", &upload.upload_id)
            .await
            .unwrap()
            .len(),
        2
    );
    // Completion seals and opens nothing, so it needs no key.
    let parts = vec![
        CompletePart {
            part_number: 1,
            etag: part1.etag,
        },
        CompletePart {
            part_number: 2,
            etag: part2.part.etag,
        },
    ];
    let object = f
        .service
        .complete_upload(
            KMS_BUCKET,
            "mpu",
            &upload.upload_id,
            Some(parts),
            CompleteOptions::default(),
        )
        .await
        .unwrap();
    assert_customer_envelope(&object);
    let mut expected = first.clone();
    expected.extend_from_slice(BODY);
    assert_eq!(
        f.read(KMS_BUCKET, "mpu", &customer(KEY_A)).await.unwrap(),
        expected
    );
    assert_err!(
        f.read(KMS_BUCKET, "mpu", &customer(KEY_B)).await,
        ServiceError::CustomerKeyMismatch
    );
    assert_eq!(
        f.key_service_calls(),
        0,
        "a customer key reached the key service"
    );
}

#[tokio::test]
async fn every_append_presents_the_key() {
    let f = Fixture::new().await;
    let append = |position, source| {
        let service = f.service.clone();
        async move {
            service
                .append_object(BUCKET, "log", position, body(BODY), options(source))
                .await
        }
    };
    let first = append(0, customer(KEY_A)).await.unwrap();
    assert_customer_envelope(&first.object);
    let len = BODY.len() as u64;
    assert_err!(
        append(len, KeySource::Managed).await,
        ServiceError::CustomerKeyRequired
    );
    assert_err!(
        append(len, customer(KEY_B)).await,
        ServiceError::CustomerKeyMismatch
    );
    append(len, customer(KEY_A)).await.unwrap();
    assert_eq!(
        f.read(BUCKET, "log", &customer(KEY_A)).await.unwrap(),
        [BODY, BODY].concat()
    );
    // A customer key cannot extend an object that has none.
    let service = f.service.clone();
    service
        .append_object(
            BUCKET,
            "plain-log",
            0,
            body(BODY),
            options(KeySource::Managed),
        )
        .await
        .unwrap();
    assert_err!(
        service
            .append_object(
                BUCKET,
                "plain-log",
                len,
                body(BODY),
                options(customer(KEY_A))
            )
            .await,
        ServiceError::CustomerKeyNotApplicable
    );
    assert_eq!(
        f.key_service_calls(),
        0,
        "a customer key reached the key service"
    );
}
