use std::collections::HashSet;

use async_trait::async_trait;

use crate::blob::BlobId;
use crate::error::StorageResult;
use crate::records::{BucketRecord, ObjectRecord, PartRecord, UploadRecord};

/// What a conditional object write requires of the current record under the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutCondition {
    /// Replace whatever is there.
    Any,
    /// The key must be free (`x-oss-forbid-overwrite`, the first append).
    Absent,
    /// The current record must have this generation (later appends).
    Generation(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketDeletion {
    Deleted,
    NotFound,
    /// Objects or multipart uploads remain.
    NotEmpty,
}

/// One page of a bucket's keys in ascending byte order.
#[derive(Debug, Clone, Default)]
pub struct ObjectListing {
    pub objects: Vec<ObjectRecord>,
    /// More keys matching the prefix follow the last one returned.
    pub truncated: bool,
}

/// The result of completing a multipart upload.
#[derive(Debug, Clone)]
pub struct CompletedUpload {
    /// The object the new one replaced, whose blobs the caller now frees.
    pub replaced: Option<ObjectRecord>,
    /// Uploaded parts the completed object does not use; the caller frees their blobs.
    pub unused_parts: Vec<PartRecord>,
}

/// Transactional metadata. Every method is atomic; each write re-checks inside its
/// transaction that the bucket (or upload) it touches still exists.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Creates the bucket, or returns the existing record unchanged.
    async fn create_bucket(&self, bucket: BucketRecord) -> StorageResult<Option<BucketRecord>>;
    async fn get_bucket(&self, name: &str) -> StorageResult<Option<BucketRecord>>;
    /// Replaces an existing bucket's record (`NoSuchBucket` if it is gone).
    async fn update_bucket(&self, bucket: BucketRecord) -> StorageResult<()>;
    async fn delete_bucket(&self, name: &str) -> StorageResult<BucketDeletion>;
    /// All buckets, ordered by name.
    async fn list_buckets(&self) -> StorageResult<Vec<BucketRecord>>;

    async fn get_object(&self, bucket: &str, key: &str) -> StorageResult<Option<ObjectRecord>>;
    /// Writes the record if `condition` holds, returning the record it replaced.
    /// Fails with `ConditionFailed` (carrying the current record) otherwise.
    async fn put_object(
        &self,
        bucket: &str,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> StorageResult<Option<ObjectRecord>>;
    /// Removes the record, returning it.
    async fn delete_object(&self, bucket: &str, key: &str) -> StorageResult<Option<ObjectRecord>>;
    /// Up to `limit` objects whose keys start with `prefix` and sort strictly after
    /// `start_after`.
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> StorageResult<ObjectListing>;

    async fn create_upload(&self, bucket: &str, upload: UploadRecord) -> StorageResult<()>;
    async fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StorageResult<Option<UploadRecord>>;
    /// Records a part (`NoSuchUpload` if the upload is gone), returning the part it replaced.
    async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> StorageResult<Option<PartRecord>>;
    /// Every part of the upload, ordered by part number.
    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StorageResult<Vec<PartRecord>>;
    /// The bucket's uploads, ordered by (key, upload id).
    async fn list_uploads(&self, bucket: &str) -> StorageResult<Vec<UploadRecord>>;
    /// Atomically installs `object` and removes the upload and its parts.
    async fn complete_upload(
        &self,
        bucket: &str,
        upload_id: &str,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> StorageResult<CompletedUpload>;
    /// Removes the upload (`NoSuchUpload` if absent), returning its parts.
    async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StorageResult<Vec<PartRecord>>;

    /// Every blob any object or part references.
    async fn referenced_blobs(&self) -> StorageResult<HashSet<BlobId>>;
}
