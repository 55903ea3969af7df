//! Metadata lookups in `RedbMetaStore` holding 10,000 objects: `get_object` hits and misses
//! and `list_objects` pages of 1,000 keys. Each call is one read transaction on the blocking
//! pool, as in the server; the runtime is a current-thread tokio runtime. `spawn_blocking/noop`
//! measures the hop to the blocking pool and back alone, the floor under every call.
//!
//! cargo bench -p coffer-storage --bench meta -- --warm-up-time 1 --measurement-time 2

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use coffer_storage::{
    BlobId, BucketAcl, BucketRecord, MetaStore, ObjectAcl, ObjectKind, ObjectRecord, PutCondition,
    RedbMetaStore, Segment,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const BUCKET: &str = "examplebucket";
const OBJECTS: usize = 10_000;
const PAGE: usize = 1_000;

fn key(i: usize) -> String {
    format!("photos/2023/{:02}/IMG_{i:05}.jpg", i % 12 + 1)
}

fn object(i: usize) -> ObjectRecord {
    ObjectRecord {
        key: key(i),
        generation: i as u64 + 1,
        size: 1_000_000 + i as u64 * 37,
        etag: format!("{:032X}", (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        crc64: Some(0x1234_5678_9ABC_DEF0 ^ i as u64),
        content_md5: Some("eB5eJF1ptWaXm4bijSPyxw==".to_owned()),
        last_modified_ms: 1_700_000_000_000 + i as i64,
        kind: ObjectKind::Normal,
        acl: ObjectAcl::Default,
        storage_class: "Standard".to_owned(),
        content_type: "image/jpeg".to_owned(),
        headers: vec![("cache-control".to_owned(), "max-age=3600".to_owned())],
        user_meta: vec![("camera".to_owned(), "X-T5".to_owned())],
        segments: vec![Segment {
            blob: BlobId::parse(&format!("{:032x}", i + 1)).expect("valid blob id"),
            len: 1_000_000 + i as u64 * 37,
            key_index: 0,
        }],
        encryption: None,
    }
}

/// A store with one bucket of `OBJECTS` objects, in a temporary directory.
fn populated(rt: &Runtime) -> (tempfile::TempDir, RedbMetaStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RedbMetaStore::open(&dir.path().join("meta.redb")).expect("open store");
    rt.block_on(async {
        store
            .create_bucket(BucketRecord {
                name: BUCKET.to_owned(),
                owner: "1234567890123456".to_owned(),
                created_ms: 1_700_000_000_000,
                acl: BucketAcl::Private,
                storage_class: "Standard".to_owned(),
                data_redundancy_type: "LRS".to_owned(),
                encryption: None,
                policy: None,
            })
            .await
            .expect("create bucket");
        for i in 0..OBJECTS {
            store
                .put_object(BUCKET, object(i), PutCondition::Any)
                .await
                .expect("put object");
        }
    });
    (dir, store)
}

/// Visits indices `0..n` in a fixed scattered order, so lookups do not hit one hot page.
fn scattered(n: usize) -> impl FnMut() -> usize {
    let mut i = 0;
    move || {
        i = (i + 7_919) % n;
        i
    }
}

fn meta(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (_dir, store) = populated(&rt);
    let keys: Vec<String> = (0..OBJECTS).map(key).collect();
    let missing: Vec<String> = (0..OBJECTS)
        .map(|i| format!("photos/2023/{:02}/IMG_{i:05}.png", i % 12 + 1))
        .collect();
    // Page boundaries: the empty marker, then the last key of each full page.
    let mut sorted = keys.clone();
    sorted.sort();
    let markers: Vec<String> = std::iter::once(String::new())
        .chain(sorted.chunks(PAGE).map(|c| c[c.len() - 1].clone()))
        .take(OBJECTS / PAGE)
        .collect();

    rt.block_on(async {
        assert!(store.get_object(BUCKET, &keys[42]).await.unwrap().is_some());
        assert!(
            store
                .get_object(BUCKET, &missing[42])
                .await
                .unwrap()
                .is_none()
        );
        let page = store
            .list_objects(BUCKET, "", &markers[3], PAGE)
            .await
            .unwrap();
        assert_eq!(page.objects.len(), PAGE);
    });

    let mut group = c.benchmark_group("redb-meta-10k");
    // What every call pays before redb does anything: the hop to the blocking pool and back.
    group.bench_function("spawn_blocking/noop", |b| {
        b.to_async(&rt)
            .iter(|| async { tokio::task::spawn_blocking(|| black_box(0)).await.unwrap() })
    });
    let mut next = scattered(OBJECTS);
    group.bench_function("get_object/hit", |b| {
        b.to_async(&rt).iter(|| {
            let key = &keys[next()];
            let store = &store;
            async move { black_box(store.get_object(BUCKET, key).await.unwrap()) }
        })
    });
    let mut next = scattered(OBJECTS);
    group.bench_function("get_object/miss", |b| {
        b.to_async(&rt).iter(|| {
            let key = &missing[next()];
            let store = &store;
            async move { black_box(store.get_object(BUCKET, key).await.unwrap()) }
        })
    });
    group.throughput(Throughput::Elements(PAGE as u64));
    let mut next = scattered(markers.len());
    group.bench_function("list_objects/1000", |b| {
        b.to_async(&rt).iter(|| {
            let marker = &markers[next()];
            let store = &store;
            async move {
                let page = store.list_objects(BUCKET, "", marker, PAGE).await.unwrap();
                black_box(page.objects.len())
            }
        })
    });
    group.finish();
}

criterion_group!(benches, meta);
criterion_main!(benches);
