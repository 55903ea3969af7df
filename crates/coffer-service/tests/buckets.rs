//! Bucket ownership rules, checked on the service with the embedded stores.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use coffer_service::{BucketAcl, NewBucket, Service, ServiceError};
use coffer_storage::{FsBlobStore, RedbMetaStore};

mod common;
use common::LIMITS;

async fn service(dir: &std::path::Path) -> Service {
    let meta = RedbMetaStore::open(&dir.join("meta.redb")).unwrap();
    let blobs = FsBlobStore::open(dir).await.unwrap();
    Service::new(Arc::new(meta), Arc::new(blobs), LIMITS)
}

fn new_bucket(owner: &str, acl: Option<BucketAcl>) -> NewBucket {
    NewBucket {
        name: "shared-name".into(),
        owner: owner.into(),
        acl,
        storage_class: None,
        data_redundancy_type: None,
        encryption: None,
    }
}

#[tokio::test]
async fn a_name_owned_by_another_account_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let service = service(dir.path()).await;
    service
        .create_bucket(new_bucket("alice", None))
        .await
        .unwrap();
    let err = service
        .create_bucket(new_bucket("bob", Some(BucketAcl::PublicRead)))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::BucketAlreadyExists), "{err:?}");
    // Nothing about the existing bucket changed.
    let bucket = service.get_bucket("shared-name").await.unwrap();
    assert_eq!(
        (bucket.owner.as_str(), bucket.acl),
        ("alice", BucketAcl::Private)
    );
}

#[tokio::test]
async fn the_owner_recreating_a_bucket_updates_its_acl() {
    let dir = tempfile::tempdir().unwrap();
    let service = service(dir.path()).await;
    let created = service
        .create_bucket(new_bucket("alice", None))
        .await
        .unwrap();
    let again = service
        .create_bucket(new_bucket("alice", Some(BucketAcl::PublicRead)))
        .await
        .unwrap();
    assert_eq!(again.created_ms, created.created_ms);
    assert_eq!(
        service.get_bucket("shared-name").await.unwrap().acl,
        BucketAcl::PublicRead
    );
}
