//! The behaviour every [`BlobStore`] must have: blobs are invisible until committed,
//! immutable once committed, readable at any offset, and gone once deleted or aborted.

use std::future::Future;
use std::io;

use bytes::Bytes;

use crate::blob::{BlobId, BlobStore};

use super::{Fresh, check};

/// Runs every check, each against a store of its own from `fresh`.
pub async fn blob_store_contract<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Fresh<dyn BlobStore>>,
{
    let (_keep, store) = fresh().await;
    check("reads_from_any_offset", reads_from_any_offset(&*store)).await;
    let (_keep, store) = fresh().await;
    check(
        "large_blobs_read_back_intact",
        large_blobs_read_back_intact(&*store),
    )
    .await;
    let (_keep, store) = fresh().await;
    check(
        "uncommitted_blobs_are_invisible",
        uncommitted_blobs_are_invisible(&*store),
    )
    .await;
    let (_keep, store) = fresh().await;
    check(
        "delete_says_whether_it_was_there",
        delete_says_whether_it_was_there(&*store),
    )
    .await;
    let (_keep, store) = fresh().await;
    check(
        "missing_blobs_are_not_found",
        missing_blobs_are_not_found(&*store),
    )
    .await;
}

async fn put(store: &dyn BlobStore, parts: &[&[u8]]) -> BlobId {
    let mut w = store.create().await.expect("create");
    for part in parts {
        w.write(Bytes::copy_from_slice(part)).await.expect("write");
    }
    w.commit().await.expect("commit")
}

async fn reads_from_any_offset(store: &dyn BlobStore) {
    let id = put(store, &[b"hello ", b"world"]).await;
    let reader = store.open(&id).await.unwrap();
    let mut out = b"> ".to_vec();
    reader.append_at(6, 5, &mut out).unwrap();
    assert_eq!(out, b"> world", "appended after what the buffer held");
    let mut all = Vec::new();
    reader.append_at(0, 11, &mut all).unwrap();
    assert_eq!(all, b"hello world");
    let past_end = reader.append_at(7, 5, &mut Vec::new()).unwrap_err();
    assert_eq!(past_end.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(store.list().await.unwrap(), vec![id]);
}

async fn large_blobs_read_back_intact(store: &dyn BlobStore) {
    // Chunks of an odd size, so that reads straddle them, past any small-blob threshold.
    let chunk: Vec<u8> = (0..700_001u32).map(|i| (i % 251) as u8).collect();
    let mut w = store.create().await.unwrap();
    let mut expected = Vec::new();
    for _ in 0..4 {
        w.write(Bytes::copy_from_slice(&chunk)).await.unwrap();
        expected.extend_from_slice(&chunk);
    }
    let id = w.commit().await.unwrap();
    let reader = store.open(&id).await.unwrap();
    let mut out = Vec::new();
    reader.append_at(0, expected.len(), &mut out).unwrap();
    assert!(out == expected, "blob differs from what was written");
    let mut part = Vec::with_capacity(3 << 20);
    reader.append_at(12_345, 1 << 20, &mut part).unwrap();
    assert!(part[..] == expected[12_345..12_345 + (1 << 20)]);
}

async fn uncommitted_blobs_are_invisible(store: &dyn BlobStore) {
    let mut dropped = store.create().await.unwrap();
    dropped.write(Bytes::from_static(b"partial")).await.unwrap();
    drop(dropped);
    let mut aborted = store.create().await.unwrap();
    aborted.write(Bytes::from_static(b"partial")).await.unwrap();
    aborted.abort().await;
    assert!(store.list().await.unwrap().is_empty());
}

async fn delete_says_whether_it_was_there(store: &dyn BlobStore) {
    let a = put(store, &[b"a"]).await;
    let b = put(store, &[b"b"]).await;
    let mut listed = store.list().await.unwrap();
    listed.sort();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(listed, both);
    assert!(store.delete(&a).await.unwrap());
    assert!(!store.delete(&a).await.unwrap(), "already gone");
    assert_eq!(store.list().await.unwrap(), vec![b.clone()]);
    assert_eq!(
        store.open(&a).await.err().map(|e| e.kind()),
        Some(io::ErrorKind::NotFound)
    );
}

async fn missing_blobs_are_not_found(store: &dyn BlobStore) {
    let never = BlobId::random();
    assert_eq!(
        store.open(&never).await.err().map(|e| e.kind()),
        Some(io::ErrorKind::NotFound)
    );
    assert!(!store.delete(&never).await.unwrap());
}
