//! The behaviour every [`MetaStore`] must have, as one suite any implementation runs.
//!
//! The checks are the ones the embedded store was first written against; a new store (a
//! PostgreSQL one, say) proves itself by passing the same suite from its own tests:
//!
//! ```ignore
//! coffer_storage::contract::meta::meta_store_contract(|| async {
//!     let (guard, store) = my_fresh_store().await;
//!     (Box::new(guard) as Keep, Arc::new(store) as Arc<dyn MetaStore>)
//! }).await;
//! ```

use std::collections::HashSet;
use std::future::Future;

use crate::blob::BlobId;
use crate::error::{StorageError, StorageResult};
use crate::meta::{BucketDeletion, MetaStore, ObjectListing, PutCondition};
use crate::records::{
    BucketAcl, BucketRecord, ObjectAcl, ObjectKind, ObjectRecord, PartRecord, Segment, UploadRecord,
};

use super::{Fresh, check};

/// Runs every check, each against a store of its own from `fresh`.
pub async fn meta_store_contract<F, Fut>(mut fresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Fresh<dyn MetaStore>>,
{
    let (_keep, store) = fresh().await;
    check("bucket_lifecycle", bucket_lifecycle(&*store)).await;
    let (_keep, store) = fresh().await;
    check(
        "delete_bucket_refuses_when_not_empty",
        delete_bucket_refuses_when_not_empty(&*store),
    )
    .await;
    let (_keep, store) = fresh().await;
    check("object_put_get_delete", object_put_get_delete(&*store)).await;
    let (_keep, store) = fresh().await;
    check("put_conditions", put_conditions(&*store)).await;
    let (_keep, store) = fresh().await;
    check(
        "writes_to_missing_bucket_fail",
        writes_to_missing_bucket_fail(&*store),
    )
    .await;
    let (_keep, store) = fresh().await;
    check(
        "listing_prefix_start_after_limit",
        listing_prefix_start_after_limit(&*store),
    )
    .await;
    let (_keep, store) = fresh().await;
    check("uploads_and_parts", uploads_and_parts(&*store)).await;
    let (_keep, store) = fresh().await;
    check(
        "complete_upload_installs_object",
        complete_upload_installs_object(&*store),
    )
    .await;
    let (_keep, store) = fresh().await;
    check(
        "abort_upload_returns_parts",
        abort_upload_returns_parts(&*store),
    )
    .await;
}

/// A bucket record with every field set.
pub fn bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.to_owned(),
        owner: "owner".to_owned(),
        created_ms: 1,
        acl: BucketAcl::Private,
        storage_class: "Standard".to_owned(),
        data_redundancy_type: "LRS".to_owned(),
        encryption: None,
        policy: None,
    }
}

/// An object record whose segments point at `blobs`.
pub fn object(key: &str, generation: u64, blobs: &[&BlobId]) -> ObjectRecord {
    ObjectRecord {
        key: key.to_owned(),
        generation,
        size: blobs.len() as u64,
        etag: "ETAG".to_owned(),
        crc64: Some(7),
        content_md5: None,
        last_modified_ms: 2,
        kind: ObjectKind::Normal,
        acl: ObjectAcl::Default,
        storage_class: "Standard".to_owned(),
        content_type: "text/plain".to_owned(),
        headers: vec![("cache-control".to_owned(), "no-cache".to_owned())],
        user_meta: vec![("a".to_owned(), "b".to_owned())],
        segments: blobs
            .iter()
            .map(|&blob| Segment {
                blob: blob.clone(),
                len: 1,
                key_index: 0,
            })
            .collect(),
        encryption: None,
    }
}

/// A multipart upload record.
pub fn upload(key: &str, upload_id: &str) -> UploadRecord {
    UploadRecord {
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        initiated_ms: 3,
        acl: ObjectAcl::Private,
        storage_class: "Standard".to_owned(),
        content_type: "application/octet-stream".to_owned(),
        headers: Vec::new(),
        user_meta: Vec::new(),
        encryption: None,
    }
}

/// A part record stored in `blob`.
pub fn part(part_number: u32, blob: &BlobId) -> PartRecord {
    PartRecord {
        part_number,
        etag: format!("P{part_number}"),
        size: 5,
        crc64: None,
        last_modified_ms: 4,
        blob: blob.clone(),
    }
}

fn keys(listing: &ObjectListing) -> Vec<&str> {
    listing.objects.iter().map(|o| o.key.as_str()).collect()
}

async fn bucket_lifecycle(store: &dyn MetaStore) {
    assert_eq!(store.create_bucket(bucket("b")).await.unwrap(), None);
    assert_eq!(store.create_bucket(bucket("a")).await.unwrap(), None);

    let mut other = bucket("b");
    other.owner = "someone-else".to_owned();
    assert_eq!(
        store.create_bucket(other).await.unwrap(),
        Some(bucket("b")),
        "an existing bucket is returned unchanged"
    );
    assert_eq!(store.get_bucket("b").await.unwrap(), Some(bucket("b")));
    assert_eq!(store.get_bucket("c").await.unwrap(), None);

    let mut updated = bucket("b");
    updated.acl = BucketAcl::PublicRead;
    store.update_bucket(updated.clone()).await.unwrap();
    assert_eq!(store.get_bucket("b").await.unwrap(), Some(updated.clone()));
    assert!(matches!(
        store.update_bucket(bucket("c")).await,
        Err(StorageError::NoSuchBucket)
    ));
    assert_eq!(store.get_bucket("c").await.unwrap(), None);

    assert_eq!(
        store.list_buckets().await.unwrap(),
        vec![bucket("a"), updated]
    );

    assert_eq!(
        store.delete_bucket("b").await.unwrap(),
        BucketDeletion::Deleted
    );
    assert_eq!(
        store.delete_bucket("b").await.unwrap(),
        BucketDeletion::NotFound
    );
    assert_eq!(store.list_buckets().await.unwrap(), vec![bucket("a")]);
}

async fn delete_bucket_refuses_when_not_empty(store: &dyn MetaStore) {
    let blob = BlobId::random();
    for name in ["ab", "ab-c", "ab0", "a"] {
        store.create_bucket(bucket(name)).await.unwrap();
    }
    // Neighbouring buckets' contents never make a bucket look non-empty.
    store
        .put_object("ab-c", object("k", 1, &[&blob]), PutCondition::Any)
        .await
        .unwrap();
    store
        .put_object("ab0", object("k", 1, &[&blob]), PutCondition::Any)
        .await
        .unwrap();
    store
        .create_upload("ab-c", upload("k", "u1"))
        .await
        .unwrap();
    store.create_upload("ab0", upload("k", "u2")).await.unwrap();
    assert_eq!(
        store.delete_bucket("ab").await.unwrap(),
        BucketDeletion::Deleted
    );

    // An object blocks deletion.
    store
        .put_object("a", object("x", 1, &[&blob]), PutCondition::Any)
        .await
        .unwrap();
    assert_eq!(
        store.delete_bucket("a").await.unwrap(),
        BucketDeletion::NotEmpty
    );
    store.delete_object("a", "x").await.unwrap();

    // So does an upload.
    store.create_upload("a", upload("y", "u3")).await.unwrap();
    assert_eq!(
        store.delete_bucket("a").await.unwrap(),
        BucketDeletion::NotEmpty
    );
    assert!(store.get_bucket("a").await.unwrap().is_some());
    store.abort_upload("a", "y", "u3").await.unwrap();
    assert_eq!(
        store.delete_bucket("a").await.unwrap(),
        BucketDeletion::Deleted
    );

    assert_eq!(
        store.delete_bucket("ab-c").await.unwrap(),
        BucketDeletion::NotEmpty
    );
}

async fn object_put_get_delete(store: &dyn MetaStore) {
    store.create_bucket(bucket("b")).await.unwrap();
    let (b1, b2) = (BlobId::random(), BlobId::random());

    let first = object("dir/k", 1, &[&b1]);
    assert_eq!(
        store
            .put_object("b", first.clone(), PutCondition::Any)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_object("b", "dir/k").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_object("b", "dir").await.unwrap(), None);
    assert_eq!(store.get_object("other", "dir/k").await.unwrap(), None);

    let second = object("dir/k", 2, &[&b2]);
    assert_eq!(
        store
            .put_object("b", second.clone(), PutCondition::Any)
            .await
            .unwrap(),
        Some(first)
    );
    assert_eq!(
        store.delete_object("b", "dir/k").await.unwrap(),
        Some(second)
    );
    assert_eq!(store.delete_object("b", "dir/k").await.unwrap(), None);
    assert_eq!(store.get_object("b", "dir/k").await.unwrap(), None);
}

async fn put_conditions(store: &dyn MetaStore) {
    store.create_bucket(bucket("b")).await.unwrap();
    let blob = BlobId::random();

    let v1 = object("k", 1, &[&blob]);
    assert_eq!(
        store
            .put_object("b", v1.clone(), PutCondition::Absent)
            .await
            .unwrap(),
        None
    );
    match store
        .put_object("b", object("k", 2, &[]), PutCondition::Absent)
        .await
    {
        Err(StorageError::ConditionFailed { current }) => {
            assert_eq!(current.as_deref(), Some(&v1))
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    match store
        .put_object("b", object("k", 2, &[]), PutCondition::Generation(9))
        .await
    {
        Err(StorageError::ConditionFailed { current }) => {
            assert_eq!(current.as_deref(), Some(&v1))
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(v1.clone()));

    let v2 = object("k", 2, &[&blob, &blob]);
    assert_eq!(
        store
            .put_object("b", v2.clone(), PutCondition::Generation(1))
            .await
            .unwrap(),
        Some(v1)
    );
    let v3 = object("k", 3, &[]);
    assert_eq!(
        store
            .put_object("b", v3.clone(), PutCondition::Any)
            .await
            .unwrap(),
        Some(v2)
    );
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(v3));

    // A generation condition on a missing key fails with no current record.
    match store
        .put_object("b", object("new", 1, &[]), PutCondition::Generation(1))
        .await
    {
        Err(StorageError::ConditionFailed { current: None }) => {}
        other => panic!("expected ConditionFailed without a record, got {other:?}"),
    }
    assert_eq!(store.get_object("b", "new").await.unwrap(), None);
}

async fn writes_to_missing_bucket_fail(store: &dyn MetaStore) {
    let blob = BlobId::random();
    let no_bucket = |r: StorageResult<()>| matches!(r, Err(StorageError::NoSuchBucket));

    assert!(no_bucket(
        store
            .put_object("nope", object("k", 1, &[&blob]), PutCondition::Any)
            .await
            .map(drop)
    ));
    assert!(no_bucket(store.delete_object("nope", "k").await.map(drop)));
    assert!(no_bucket(
        store.create_upload("nope", upload("k", "u")).await
    ));
    assert!(no_bucket(
        store
            .put_part("nope", "k", "u", part(1, &blob))
            .await
            .map(drop)
    ));
    assert!(no_bucket(
        store
            .complete_upload("nope", "u", object("k", 1, &[]), PutCondition::Any)
            .await
            .map(drop)
    ));
    assert!(no_bucket(
        store.abort_upload("nope", "k", "u").await.map(drop)
    ));
    assert!(no_bucket(
        store.list_objects("nope", "", "", 10).await.map(drop)
    ));
    assert!(no_bucket(store.list_uploads("nope").await.map(drop)));

    // Nothing was written behind the failures.
    store.create_bucket(bucket("nope")).await.unwrap();
    assert_eq!(store.get_object("nope", "k").await.unwrap(), None);
    assert!(store.list_uploads("nope").await.unwrap().is_empty());
    assert!(store.referenced_blobs().await.unwrap().is_empty());
}

async fn listing_prefix_start_after_limit(store: &dyn MetaStore) {
    // '-' (0x2D) and '.' (0x2E) sort before '/', '0' (0x30) after it.
    let buckets = ["a", "a-b", "a0", "ab", "ab-c"];
    for name in buckets {
        store.create_bucket(bucket(name)).await.unwrap();
    }
    let blob = BlobId::random();
    let put = |b: &'static str, k: &'static str| {
        let store = &store;
        let blob = &blob;
        async move {
            store
                .put_object(b, object(k, 1, &[blob]), PutCondition::Any)
                .await
                .unwrap();
        }
    };
    for key in ["b/c", "b", "b-x", "c", "d/e", "d/f", "d/g", "z"] {
        put("a", key).await;
    }
    // Keys that would leak into bucket "a" if the bucket separator were not respected.
    put("a-b", "c").await;
    put("a-b", "b/c").await;
    put("a0", "x").await;
    put("ab", "c").await;
    put("ab-c", "c").await;

    let all = store.list_objects("a", "", "", 100).await.unwrap();
    assert_eq!(
        keys(&all),
        ["b", "b-x", "b/c", "c", "d/e", "d/f", "d/g", "z"]
    );
    assert!(!all.truncated);

    assert_eq!(
        keys(&store.list_objects("a-b", "", "", 100).await.unwrap()),
        ["b/c", "c"]
    );
    assert_eq!(
        keys(&store.list_objects("a0", "", "", 100).await.unwrap()),
        ["x"]
    );
    assert_eq!(
        keys(&store.list_objects("ab", "", "", 100).await.unwrap()),
        ["c"]
    );
    assert_eq!(
        keys(&store.list_objects("ab-c", "", "", 100).await.unwrap()),
        ["c"]
    );

    // Prefix.
    let d = store.list_objects("a", "d/", "", 100).await.unwrap();
    assert_eq!(keys(&d), ["d/e", "d/f", "d/g"]);
    assert!(!d.truncated);
    assert_eq!(
        keys(&store.list_objects("a", "b", "", 100).await.unwrap()),
        ["b", "b-x", "b/c"]
    );
    assert!(
        store
            .list_objects("a", "q", "", 100)
            .await
            .unwrap()
            .objects
            .is_empty()
    );

    // Limit and truncation: exactly `limit` matching keys is not truncated.
    let page = store.list_objects("a", "d/", "", 2).await.unwrap();
    assert_eq!(keys(&page), ["d/e", "d/f"]);
    assert!(page.truncated);
    let page = store.list_objects("a", "d/", "d/f", 2).await.unwrap();
    assert_eq!(keys(&page), ["d/g"]);
    assert!(!page.truncated);
    let page = store.list_objects("a", "d/", "d/e", 2).await.unwrap();
    assert_eq!(keys(&page), ["d/f", "d/g"]);
    assert!(!page.truncated, "no more keys match the prefix after d/g");
    let page = store.list_objects("a", "", "d/g", 1).await.unwrap();
    assert_eq!(keys(&page), ["z"]);
    assert!(!page.truncated);
    let page = store.list_objects("a", "", "", 0).await.unwrap();
    assert!(page.objects.is_empty());
    assert!(page.truncated);

    // start_after before the prefix, between keys, and after every matching key.
    assert_eq!(
        keys(&store.list_objects("a", "d/", "a", 100).await.unwrap()),
        ["d/e", "d/f", "d/g"]
    );
    assert_eq!(
        keys(&store.list_objects("a", "", "c0", 100).await.unwrap()),
        ["d/e", "d/f", "d/g", "z"]
    );
    assert!(
        store
            .list_objects("a", "d/", "e", 100)
            .await
            .unwrap()
            .objects
            .is_empty()
    );
    // Paging through the whole bucket one key at a time.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.list_objects("a", "", &after, 1).await.unwrap();
        seen.extend(keys(&page).into_iter().map(str::to_owned));
        if !page.truncated {
            break;
        }
        after = seen.last().unwrap().clone();
    }
    assert_eq!(seen, keys(&all));
}

async fn uploads_and_parts(store: &dyn MetaStore) {
    store.create_bucket(bucket("b")).await.unwrap();
    store.create_bucket(bucket("b-c")).await.unwrap();
    for (key, id) in [
        ("k", "u2"),
        ("k", "u1"),
        ("j", "u9"),
        ("k\0a", "u0"),
        ("k-", "u3"),
        ("k/x", "u4"),
    ] {
        store.create_upload("b", upload(key, id)).await.unwrap();
    }
    store.create_upload("b-c", upload("k", "u5")).await.unwrap();

    let listed: Vec<(String, String)> = store
        .list_uploads("b")
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.key, u.upload_id))
        .collect();
    let mut expected: Vec<(String, String)> = [
        ("j", "u9"),
        ("k", "u1"),
        ("k", "u2"),
        ("k\0a", "u0"),
        ("k-", "u3"),
        ("k/x", "u4"),
    ]
    .iter()
    .map(|&(k, u)| (k.to_owned(), u.to_owned()))
    .collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        store.list_uploads("b-c").await.unwrap(),
        vec![upload("k", "u5")]
    );

    assert_eq!(
        store.get_upload("b", "k", "u1").await.unwrap(),
        Some(upload("k", "u1"))
    );
    assert_eq!(store.get_upload("b", "j", "u1").await.unwrap(), None);
    assert_eq!(store.get_upload("b-c", "k", "u1").await.unwrap(), None);

    // Parts come back in part-number order (big-endian keys: 256 after 2).
    let blobs: Vec<BlobId> = (0..5).map(|_| BlobId::random()).collect();
    for n in [256, 2, 10_000, 1] {
        let replaced = store
            .put_part("b", "k", "u1", part(n, &blobs[0]))
            .await
            .unwrap();
        assert_eq!(replaced, None);
    }
    // A different upload's parts never mix in, even with a prefix-sharing id.
    store.create_upload("b", upload("k", "u")).await.unwrap();
    store
        .put_part("b", "k", "u", part(3, &blobs[1]))
        .await
        .unwrap();
    store
        .put_part("b", "k", "u2", part(3, &blobs[1]))
        .await
        .unwrap();

    let replaced = store
        .put_part("b", "k", "u1", part(2, &blobs[2]))
        .await
        .unwrap();
    assert_eq!(replaced, Some(part(2, &blobs[0])));

    let parts = store.list_parts("b", "k", "u1").await.unwrap();
    assert_eq!(
        parts,
        vec![
            part(1, &blobs[0]),
            part(2, &blobs[2]),
            part(256, &blobs[0]),
            part(10_000, &blobs[0]),
        ]
    );
    assert_eq!(
        store.list_parts("b", "k", "u").await.unwrap(),
        vec![part(3, &blobs[1])]
    );

    // Parts and listings of an upload under the wrong key or bucket are refused.
    assert!(matches!(
        store.put_part("b", "j", "u1", part(1, &blobs[3])).await,
        Err(StorageError::NoSuchUpload)
    ));
    assert!(matches!(
        store.put_part("b", "k", "nope", part(1, &blobs[3])).await,
        Err(StorageError::NoSuchUpload)
    ));
    assert!(matches!(
        store.put_part("b-c", "k", "u1", part(1, &blobs[3])).await,
        Err(StorageError::NoSuchUpload)
    ));
    assert!(matches!(
        store.list_parts("b", "j", "u1").await,
        Err(StorageError::NoSuchUpload)
    ));
    assert!(!store.referenced_blobs().await.unwrap().contains(&blobs[3]));
}

async fn complete_upload_installs_object(store: &dyn MetaStore) {
    store.create_bucket(bucket("b")).await.unwrap();
    let blobs: Vec<BlobId> = (0..6).map(|_| BlobId::random()).collect();

    let old = object("k", 1, &[&blobs[0]]);
    store
        .put_object("b", old.clone(), PutCondition::Any)
        .await
        .unwrap();
    store.create_upload("b", upload("k", "u1")).await.unwrap();
    store.create_upload("b", upload("k", "u2")).await.unwrap();
    for (n, blob) in [(1, &blobs[1]), (2, &blobs[2]), (3, &blobs[3])] {
        store.put_part("b", "k", "u1", part(n, blob)).await.unwrap();
    }
    store
        .put_part("b", "k", "u2", part(1, &blobs[4]))
        .await
        .unwrap();

    // The wrong key, a missing upload, or a failing condition change nothing.
    assert!(matches!(
        store
            .complete_upload("b", "u1", object("other", 2, &[]), PutCondition::Any)
            .await,
        Err(StorageError::NoSuchUpload)
    ));
    assert!(matches!(
        store
            .complete_upload("b", "u7", object("k", 2, &[]), PutCondition::Any)
            .await,
        Err(StorageError::NoSuchUpload)
    ));
    match store
        .complete_upload("b", "u1", object("k", 2, &[]), PutCondition::Absent)
        .await
    {
        Err(StorageError::ConditionFailed { current }) => {
            assert_eq!(current.as_deref(), Some(&old))
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    assert_eq!(store.list_parts("b", "k", "u1").await.unwrap().len(), 3);
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(old.clone()));

    // Parts 1 and 3 make the object; part 2 is unused.
    let mut new = object("k", 2, &[&blobs[1], &blobs[3]]);
    new.kind = ObjectKind::Multipart;
    let done = store
        .complete_upload("b", "u1", new.clone(), PutCondition::Generation(1))
        .await
        .unwrap();
    assert_eq!(done.replaced, Some(old));
    assert_eq!(done.unused_parts, vec![part(2, &blobs[2])]);
    assert_eq!(store.get_object("b", "k").await.unwrap(), Some(new.clone()));
    assert_eq!(store.get_upload("b", "k", "u1").await.unwrap(), None);
    assert!(matches!(
        store.list_parts("b", "k", "u1").await,
        Err(StorageError::NoSuchUpload)
    ));
    assert_eq!(
        store.list_uploads("b").await.unwrap(),
        vec![upload("k", "u2")]
    );
    let referenced = store.referenced_blobs().await.unwrap();
    assert_eq!(
        referenced,
        HashSet::from([blobs[1].clone(), blobs[3].clone(), blobs[4].clone()])
    );

    // Completing again fails: the upload is gone.
    assert!(matches!(
        store
            .complete_upload("b", "u1", new.clone(), PutCondition::Any)
            .await,
        Err(StorageError::NoSuchUpload)
    ));

    // Completing onto a free key replaces nothing; every part unused when none is used.
    store
        .create_upload("b", upload("fresh", "u3"))
        .await
        .unwrap();
    store
        .put_part("b", "fresh", "u3", part(1, &blobs[5]))
        .await
        .unwrap();
    let done = store
        .complete_upload("b", "u3", object("fresh", 1, &[]), PutCondition::Absent)
        .await
        .unwrap();
    assert_eq!(done.replaced, None);
    assert_eq!(done.unused_parts, vec![part(1, &blobs[5])]);
}

async fn abort_upload_returns_parts(store: &dyn MetaStore) {
    store.create_bucket(bucket("b")).await.unwrap();
    let (b1, b2) = (BlobId::random(), BlobId::random());
    store.create_upload("b", upload("k", "u1")).await.unwrap();
    store.put_part("b", "k", "u1", part(2, &b2)).await.unwrap();
    store.put_part("b", "k", "u1", part(1, &b1)).await.unwrap();

    assert!(matches!(
        store.abort_upload("b", "other", "u1").await,
        Err(StorageError::NoSuchUpload)
    ));
    let parts = store.abort_upload("b", "k", "u1").await.unwrap();
    assert_eq!(parts, vec![part(1, &b1), part(2, &b2)]);
    assert!(store.list_uploads("b").await.unwrap().is_empty());
    assert!(store.referenced_blobs().await.unwrap().is_empty());
    assert!(matches!(
        store.abort_upload("b", "k", "u1").await,
        Err(StorageError::NoSuchUpload)
    ));
    assert!(matches!(
        store.put_part("b", "k", "u1", part(3, &b1)).await,
        Err(StorageError::NoSuchUpload)
    ));
}
