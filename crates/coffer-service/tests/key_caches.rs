//! The bucket-key caches at the service level: with the data-key cache on, 1,000 PUTs and
//! 1,000 GETs of SSE-KMS objects cost a handful of key-manager calls, every use served
//! from a cache is still reported to the provider (for its audit log), and a provider
//! refusing such a use refuses the request. Without the cache, each GET is one call.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use coffer_service::{
    Body, CachedUse, CipherSuite, DataKey, Envelope, IssuedKey, KeyContext, KeyError, KeyProvider,
    KeySource, KeyUse, NewBucket, PutOptions, Service, SseMethod, SseRequest,
};
use coffer_storage::{FsBlobStore, RedbMetaStore};
use futures_util::StreamExt;

mod common;
use common::LIMITS;

const BUCKET: &str = "cached";
const OBJECTS: usize = 100;
const READS_PER_OBJECT: usize = 10;

/// Wraps keys as themselves; counts key-manager calls and reported cached uses, and
/// refuses cached uses while `refuse` is set.
#[derive(Default)]
struct CountingKeys {
    issues: AtomicUsize,
    unwraps: AtomicUsize,
    cached_issues: AtomicUsize,
    cached_unwraps: AtomicUsize,
    refuse: AtomicBool,
}

#[async_trait::async_trait]
impl KeyProvider for CountingKeys {
    async fn issue(
        &self,
        _: SseMethod,
        kms_key_id: Option<&str>,
        _: &KeyContext,
        _: &str,
    ) -> Result<IssuedKey, KeyError> {
        self.issues.fetch_add(1, Ordering::SeqCst);
        let key: [u8; 32] = rand::random();
        Ok(IssuedKey {
            plaintext: DataKey::from_bytes(key),
            key_id: kms_key_id.unwrap_or("cmk").to_owned(),
            key_version: 1,
            wrapped: key.to_vec(),
        })
    }

    async fn unwrap(&self, e: &Envelope, _: &KeyContext, _: &str) -> Result<DataKey, KeyError> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        let key: [u8; 32] = e.wrapped_key.as_slice().try_into().unwrap();
        Ok(DataKey::from_bytes(key))
    }

    async fn cached_use(&self, used: &CachedUse<'_>) -> Result<(), KeyError> {
        assert_eq!(used.key_id, "cmk");
        assert_eq!(used.caller, "tester");
        assert_eq!(used.context.get("bucket").map(String::as_str), Some(BUCKET));
        if self.refuse.load(Ordering::SeqCst) {
            return Err(KeyError::AccessDenied);
        }
        let counter = match used.operation {
            KeyUse::Issue => &self.cached_issues,
            KeyUse::Unwrap => &self.cached_unwraps,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn service(cache: Option<Duration>) -> (Service, Arc<CountingKeys>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let meta = Arc::new(RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap());
    let blobs = Arc::new(FsBlobStore::open(&dir.path().join("blobs")).await.unwrap());
    let keys = Arc::new(CountingKeys::default());
    let mut service = Service::new(meta, blobs, LIMITS).with_key_provider(keys.clone());
    if let Some(ttl) = cache {
        service = service.with_data_key_cache(ttl);
    }
    service
        .create_bucket(NewBucket {
            name: BUCKET.into(),
            owner: "owner".into(),
            acl: None,
            storage_class: None,
            data_redundancy_type: None,
            encryption: None,
        })
        .await
        .unwrap();
    (service, keys, dir)
}

fn put_options() -> PutOptions {
    PutOptions {
        sse: Some(SseRequest {
            method: SseMethod::Kms,
            suite: CipherSuite::Aes256Gcm,
            kms_key_id: None,
        }),
        caller: "tester".into(),
        ..PutOptions::default()
    }
}

async fn put_all(service: &Service) {
    for i in 0..OBJECTS {
        let data = Bytes::from(format!("object {i}"));
        let body: Body = Box::pin(futures_util::stream::iter([Ok(data)]));
        service
            .put_object(BUCKET, &format!("o{i}"), body, put_options())
            .await
            .unwrap();
    }
}

async fn read(service: &Service, key: &str) -> Result<Vec<u8>, coffer_service::ServiceError> {
    let object = service.head_object(BUCKET, key).await.unwrap();
    let mut stream = service
        .open_object(BUCKET, &object, None, &KeySource::Managed, "tester")
        .await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    Ok(out)
}

async fn read_all(service: &Service) {
    for round in 0..READS_PER_OBJECT {
        for i in 0..OBJECTS {
            let got = read(service, &format!("o{i}")).await.unwrap();
            assert_eq!(got, format!("object {i}").as_bytes(), "round {round}");
        }
    }
}

#[tokio::test]
async fn with_the_cache_a_thousand_gets_cost_at_most_ten_key_manager_calls() {
    let (service, keys, _dir) = service(Some(Duration::from_secs(300))).await;
    put_all(&service).await;
    assert_eq!(keys.issues.load(Ordering::SeqCst), 1, "one bucket key");
    read_all(&service).await;
    let unwraps = keys.unwraps.load(Ordering::SeqCst);
    assert!(unwraps <= 10, "{unwraps} key-manager calls for 1,000 GETs");
    assert_eq!(unwraps, 1, "all objects share the bucket key");
    // Every use the key manager did not see was reported for the audit log.
    assert_eq!(keys.cached_issues.load(Ordering::SeqCst), OBJECTS - 1);
    assert_eq!(
        keys.cached_unwraps.load(Ordering::SeqCst),
        OBJECTS * READS_PER_OBJECT - 1
    );
}

#[tokio::test]
async fn without_the_cache_each_get_is_one_call() {
    let (service, keys, _dir) = service(None).await;
    put_all(&service).await;
    assert_eq!(keys.issues.load(Ordering::SeqCst), OBJECTS);
    read_all(&service).await;
    assert_eq!(
        keys.unwraps.load(Ordering::SeqCst),
        OBJECTS * READS_PER_OBJECT
    );
    assert_eq!(keys.cached_unwraps.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_cached_use_the_provider_refuses_is_refused() {
    let (service, keys, _dir) = service(Some(Duration::from_secs(300))).await;
    put_all(&service).await;
    read(&service, "o0").await.unwrap();
    keys.refuse.store(true, Ordering::SeqCst);
    let err = read(&service, "o1").await.unwrap_err();
    assert!(matches!(
        err,
        coffer_service::ServiceError::Key(KeyError::AccessDenied)
    ));
    let body: Body = Box::pin(futures_util::stream::iter([Ok(Bytes::from("x"))]));
    let err = service
        .put_object(BUCKET, "refused", body, put_options())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        coffer_service::ServiceError::Key(KeyError::AccessDenied)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_cached_key_stops_serving_after_the_ttl() {
    let ttl = Duration::from_secs(60);
    let (service, keys, _dir) = service(Some(ttl)).await;
    put_all(&service).await;
    read(&service, "o0").await.unwrap();
    read(&service, "o1").await.unwrap();
    assert_eq!(keys.unwraps.load(Ordering::SeqCst), 1);
    tokio::time::advance(ttl).await;
    read(&service, "o2").await.unwrap();
    assert_eq!(
        keys.unwraps.load(Ordering::SeqCst),
        2,
        "asked again after the TTL"
    );
}
