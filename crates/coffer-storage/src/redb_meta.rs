//! [`MetaStore`] on an embedded [redb](https://docs.rs/redb) database file.
//!
//! Reads are redb read transactions on the blocking thread pool. Writes go to one writer
//! thread that commits concurrent writes together ([`GroupCommitter`]), durably: an
//! acknowledged write survives a crash, and concurrent writes share one fsync.
//!
//! The record tables map bytes to the JSON of a record, and their keys are laid out so that every
//! listing is a single ordered range scan:
//!
//! * `buckets`: `name`.
//! * `objects`: `bucket "/" key`. Bucket names never contain `/`, so one bucket's keys are
//!   exactly the keys starting with `bucket "/"`.
//! * `uploads`: `bucket "/" escaped(key) 0x00 upload_id`, where `escaped` replaces each NUL
//!   byte with `00 FF`. A key's terminator sorts below any byte an escaped key can continue
//!   with, so the table is ordered by (key, upload id) even for keys containing NUL.
//! * `parts`: `len(upload_id) as u32 BE, upload_id, part_number as u32 BE`; the length prefix
//!   keeps one upload's parts from ever sharing a prefix with another's.
//!
//! The same file holds the `small_blobs` table of [`RedbBlobStore`] (blob id to raw bytes).

use std::collections::HashSet;
use std::fmt::Display;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::blob::BlobId;
use crate::error::{StorageError, StorageResult};
use crate::group_commit::GroupCommitter;
use crate::meta::{BucketDeletion, CompletedUpload, MetaStore, ObjectListing, PutCondition};
use crate::records::{BucketRecord, ObjectRecord, PartRecord, UploadRecord};
use crate::redb_blob::PendingBlobs;
use crate::redb_blob::{RedbBlobStore, SMALL_BLOBS};

type Bytes = &'static [u8];

const BUCKETS: TableDefinition<Bytes, Bytes> = TableDefinition::new("buckets");
const OBJECTS: TableDefinition<Bytes, Bytes> = TableDefinition::new("objects");
const UPLOADS: TableDefinition<Bytes, Bytes> = TableDefinition::new("uploads");
const PARTS: TableDefinition<Bytes, Bytes> = TableDefinition::new("parts");

/// The metadata store of a single-node deployment: one redb file.
pub struct RedbMetaStore {
    db: Arc<Database>,
    writer: Arc<GroupCommitter>,
    /// Small-blob changes, which ride along with the writer's transactions.
    pending_blobs: Arc<PendingBlobs>,
}

impl std::fmt::Debug for RedbMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbMetaStore").finish_non_exhaustive()
    }
}

impl RedbMetaStore {
    /// Opens the database at `path`, creating the file and its tables if needed.
    ///
    /// This blocks on file I/O; call it at start-up (or inside `spawn_blocking`).
    pub fn open(path: &Path) -> StorageResult<Self> {
        let db = Database::create(path).map_err(redb_err)?;
        let txn = db.begin_write().map_err(redb_err)?;
        for table in [BUCKETS, OBJECTS, UPLOADS, PARTS, SMALL_BLOBS] {
            txn.open_table(table).map_err(redb_err)?;
        }
        txn.commit().map_err(redb_err)?;
        let db = Arc::new(db);
        let pending_blobs = Arc::<PendingBlobs>::default();
        let writer = Arc::new(GroupCommitter::start(db.clone(), pending_blobs.clone())?);
        Ok(RedbMetaStore {
            db,
            writer,
            pending_blobs,
        })
    }

    /// A blob store in this database, for blobs small enough that a file of their own
    /// would cost more than they do. Its changes join this store's next transaction, so a
    /// small blob is written with the record that references it.
    pub fn small_blob_store(&self) -> RedbBlobStore {
        RedbBlobStore {
            db: Arc::clone(&self.db),
            pending: Arc::clone(&self.pending_blobs),
        }
    }

    /// Runs `f`, a point lookup, in a read transaction on the caller's thread. A lookup
    /// touches a few B-tree pages that redb keeps cached, a few microseconds; a trip
    /// through the blocking pool costs two thread wake-ups, which measured as most of a
    /// small GET's CPU. Scans, whose length the caller chooses, use [`Self::scan`].
    fn lookup<T>(&self, f: impl FnOnce(&ReadTransaction) -> StorageResult<T>) -> StorageResult<T> {
        let txn = self.db.begin_read().map_err(redb_err)?;
        f(&txn)
    }

    /// Runs `f`, a range scan, in a read transaction on the blocking pool.
    async fn scan<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> StorageResult<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        run_blocking(move || {
            let txn = db.begin_read().map_err(redb_err)?;
            f(&txn)
        })
        .await
    }

    /// Runs `f` in the writer's next group transaction, answering once it has committed
    /// (durably); if `f` fails, nothing it did persists. `f` may run more than once.
    async fn write<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> StorageResult<T> + Send + 'static,
    {
        self.writer.write(f).await
    }
}

async fn run_blocking<T, F>(f: F) -> StorageResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StorageResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::backend_from("metadata task failed", e, false))?
}

/// Maps any redb error, keeping I/O errors as such. redb's other failures (a corrupt
/// file, a refused transaction after a failed commit) do not go away by asking again.
pub(crate) fn redb_err(e: impl Into<redb::Error>) -> StorageError {
    match e.into() {
        redb::Error::Io(io) => StorageError::Io(io),
        other => StorageError::backend_from("redb", other, false),
    }
}

fn corrupt(what: &str, e: impl Display) -> StorageError {
    StorageError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    }
}

// ---- keys ----

fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1 + key.len());
    k.extend_from_slice(bucket.as_bytes());
    k.push(b'/');
    k.extend_from_slice(key.as_bytes());
    k
}

/// The prefix every object and upload key of `bucket` starts with.
fn bucket_prefix(bucket: &str) -> Vec<u8> {
    object_key(bucket, "")
}

fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + key.len() + upload_id.len() + 2);
    k.extend_from_slice(bucket.as_bytes());
    k.push(b'/');
    for &b in key.as_bytes() {
        k.push(b);
        if b == 0 {
            // UTF-8 never contains 0xFF, so `00 FF` sorts after the `00` terminator followed
            // by any upload id.
            k.push(0xFF);
        }
    }
    k.push(0);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

fn parts_prefix(upload_id: &str) -> StorageResult<Vec<u8>> {
    let len =
        u32::try_from(upload_id.len()).map_err(|_| corrupt("upload", "upload id too long"))?;
    let mut k = Vec::with_capacity(4 + upload_id.len() + 4);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(upload_id.as_bytes());
    Ok(k)
}

fn part_key(upload_id: &str, part_number: u32) -> StorageResult<Vec<u8>> {
    let mut k = parts_prefix(upload_id)?;
    k.extend_from_slice(&part_number.to_be_bytes());
    Ok(k)
}

// ---- values ----

fn encode<T: Serialize>(value: &T) -> StorageResult<Vec<u8>> {
    crate::record_format::encode(value)
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> StorageResult<T> {
    crate::record_format::decode(what, bytes)
}

/// `BlobId`'s `Deserialize` accepts any string; a blob id read back must still be one that
/// [`BlobId::parse`] accepts, or it could name a path outside the blob store.
fn check_blob(what: &str, id: &BlobId) -> StorageResult<()> {
    if BlobId::parse(id.as_str()).is_some() {
        Ok(())
    } else {
        Err(corrupt(
            what,
            format_args!("invalid blob id {:?}", id.as_str()),
        ))
    }
}

fn decode_object(bytes: &[u8]) -> StorageResult<ObjectRecord> {
    let object: ObjectRecord = decode("object", bytes)?;
    for segment in &object.segments {
        check_blob("object", &segment.blob)?;
    }
    Ok(object)
}

fn decode_part(bytes: &[u8]) -> StorageResult<PartRecord> {
    let part: PartRecord = decode("part", bytes)?;
    check_blob("part", &part.blob)?;
    Ok(part)
}

// ---- transaction helpers ----

fn bucket_exists(table: &impl ReadableTable<Bytes, Bytes>, bucket: &str) -> StorageResult<bool> {
    Ok(table.get(bucket.as_bytes()).map_err(redb_err)?.is_some())
}

fn require_bucket(txn: &WriteTransaction, bucket: &str) -> StorageResult<()> {
    let buckets = txn.open_table(BUCKETS).map_err(redb_err)?;
    if bucket_exists(&buckets, bucket)? {
        Ok(())
    } else {
        Err(StorageError::NoSuchBucket)
    }
}

fn require_bucket_read(txn: &ReadTransaction, bucket: &str) -> StorageResult<()> {
    let buckets = txn.open_table(BUCKETS).map_err(redb_err)?;
    if bucket_exists(&buckets, bucket)? {
        Ok(())
    } else {
        Err(StorageError::NoSuchBucket)
    }
}

fn get_record<T>(
    table: &impl ReadableTable<Bytes, Bytes>,
    key: &[u8],
    decode: impl FnOnce(&[u8]) -> StorageResult<T>,
) -> StorageResult<Option<T>> {
    match table.get(key).map_err(redb_err)? {
        Some(value) => decode(value.value()).map(Some),
        None => Ok(None),
    }
}

/// Whether any key of `table` starts with `prefix`: one bounded seek, not a scan.
fn any_with_prefix(table: &impl ReadableTable<Bytes, Bytes>, prefix: &[u8]) -> StorageResult<bool> {
    let mut range = table.range::<&[u8]>(prefix..).map_err(redb_err)?;
    match range.next() {
        Some(entry) => {
            let (key, _) = entry.map_err(redb_err)?;
            Ok(key.value().starts_with(prefix))
        }
        None => Ok(false),
    }
}

/// Every part of an upload in part-number order, with its table key.
fn collect_parts(
    table: &impl ReadableTable<Bytes, Bytes>,
    upload_id: &str,
) -> StorageResult<Vec<(Vec<u8>, PartRecord)>> {
    let prefix = parts_prefix(upload_id)?;
    let mut parts = Vec::new();
    for entry in table
        .range::<&[u8]>(prefix.as_slice()..)
        .map_err(redb_err)?
    {
        let (key, value) = entry.map_err(redb_err)?;
        let key = key.value();
        if !key.starts_with(&prefix) {
            break;
        }
        parts.push((key.to_vec(), decode_part(value.value())?));
    }
    Ok(parts)
}

/// Removes every part of an upload, returning them in part-number order.
fn remove_parts(txn: &WriteTransaction, upload_id: &str) -> StorageResult<Vec<PartRecord>> {
    let mut table = txn.open_table(PARTS).map_err(redb_err)?;
    let parts = collect_parts(&table, upload_id)?;
    let mut records = Vec::with_capacity(parts.len());
    for (key, part) in parts {
        table.remove(key.as_slice()).map_err(redb_err)?;
        records.push(part);
    }
    Ok(records)
}

fn check_condition(
    condition: PutCondition,
    current: Option<ObjectRecord>,
) -> StorageResult<Option<ObjectRecord>> {
    let holds = match (condition, &current) {
        (PutCondition::Any, _) => true,
        (PutCondition::Absent, current) => current.is_none(),
        (PutCondition::Generation(g), Some(current)) => current.generation == g,
        (PutCondition::Generation(_), None) => false,
    };
    if holds {
        Ok(current)
    } else {
        Err(StorageError::ConditionFailed {
            current: current.map(Box::new),
        })
    }
}

/// Checks `condition` against the current record of `object.key` and installs `object`,
/// returning the record it replaced.
fn put_object_in(
    txn: &WriteTransaction,
    bucket: &str,
    object: &ObjectRecord,
    condition: PutCondition,
) -> StorageResult<Option<ObjectRecord>> {
    let key = object_key(bucket, &object.key);
    let value = encode(object)?;
    let mut objects = txn.open_table(OBJECTS).map_err(redb_err)?;
    let current = get_record(&objects, &key, decode_object)?;
    let replaced = check_condition(condition, current)?;
    objects
        .insert(key.as_slice(), value.as_slice())
        .map_err(redb_err)?;
    Ok(replaced)
}

#[async_trait]
impl MetaStore for RedbMetaStore {
    async fn create_bucket(&self, bucket: BucketRecord) -> StorageResult<Option<BucketRecord>> {
        self.write(move |txn| {
            let mut buckets = txn.open_table(BUCKETS).map_err(redb_err)?;
            let key = bucket.name.as_bytes();
            if let Some(existing) = get_record(&buckets, key, |b| decode("bucket", b))? {
                return Ok(Some(existing));
            }
            buckets
                .insert(key, encode(&bucket)?.as_slice())
                .map_err(redb_err)?;
            Ok(None)
        })
        .await
    }

    async fn get_bucket(&self, name: &str) -> StorageResult<Option<BucketRecord>> {
        self.lookup(|txn| {
            let buckets = txn.open_table(BUCKETS).map_err(redb_err)?;
            get_record(&buckets, name.as_bytes(), |b| decode("bucket", b))
        })
    }

    async fn update_bucket(&self, bucket: BucketRecord) -> StorageResult<()> {
        self.write(move |txn| {
            let mut buckets = txn.open_table(BUCKETS).map_err(redb_err)?;
            let key = bucket.name.as_bytes();
            if !bucket_exists(&buckets, &bucket.name)? {
                return Err(StorageError::NoSuchBucket);
            }
            buckets
                .insert(key, encode(&bucket)?.as_slice())
                .map_err(redb_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_bucket(&self, name: &str) -> StorageResult<BucketDeletion> {
        let name = name.to_owned();
        self.write(move |txn| {
            let mut buckets = txn.open_table(BUCKETS).map_err(redb_err)?;
            if !bucket_exists(&buckets, &name)? {
                return Ok(BucketDeletion::NotFound);
            }
            let prefix = bucket_prefix(&name);
            let objects = txn.open_table(OBJECTS).map_err(redb_err)?;
            let uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            if any_with_prefix(&objects, &prefix)? || any_with_prefix(&uploads, &prefix)? {
                return Ok(BucketDeletion::NotEmpty);
            }
            buckets.remove(name.as_bytes()).map_err(redb_err)?;
            Ok(BucketDeletion::Deleted)
        })
        .await
    }

    async fn list_buckets(&self) -> StorageResult<Vec<BucketRecord>> {
        self.scan(|txn| {
            let buckets = txn.open_table(BUCKETS).map_err(redb_err)?;
            let mut out = Vec::new();
            for entry in buckets.range::<&[u8]>(..).map_err(redb_err)? {
                let (_, value) = entry.map_err(redb_err)?;
                out.push(decode("bucket", value.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn get_object(&self, bucket: &str, key: &str) -> StorageResult<Option<ObjectRecord>> {
        let key = object_key(bucket, key);
        self.lookup(|txn| {
            let objects = txn.open_table(OBJECTS).map_err(redb_err)?;
            get_record(&objects, &key, decode_object)
        })
    }

    async fn put_object(
        &self,
        bucket: &str,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> StorageResult<Option<ObjectRecord>> {
        let bucket = bucket.to_owned();
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            put_object_in(txn, &bucket, &object, condition)
        })
        .await
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> StorageResult<Option<ObjectRecord>> {
        let bucket = bucket.to_owned();
        let key = object_key(&bucket, key);
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            let mut objects = txn.open_table(OBJECTS).map_err(redb_err)?;
            let removed = objects.remove(key.as_slice()).map_err(redb_err)?;
            match removed {
                Some(value) => decode_object(value.value()).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> StorageResult<ObjectListing> {
        let bucket = bucket.to_owned();
        let full_prefix = object_key(&bucket, prefix);
        // Keys after `start_after` that match `prefix` all sort at or after `prefix` too, so
        // the scan starts at whichever of the two bounds is later (an empty `start_after`
        // means none, and must not skip a key equal to the prefix).
        let start = if !start_after.is_empty() && start_after >= prefix {
            Bound::Excluded(object_key(&bucket, start_after))
        } else {
            Bound::Included(full_prefix.clone())
        };
        self.scan(move |txn| {
            require_bucket_read(txn, &bucket)?;
            let objects = txn.open_table(OBJECTS).map_err(redb_err)?;
            let range = (start.as_ref().map(Vec::as_slice), Bound::Unbounded);
            let mut listing = ObjectListing::default();
            for entry in objects.range::<&[u8]>(range).map_err(redb_err)? {
                let (key, value) = entry.map_err(redb_err)?;
                if !key.value().starts_with(&full_prefix) {
                    break;
                }
                if listing.objects.len() == limit {
                    listing.truncated = true;
                    break;
                }
                listing.objects.push(decode_object(value.value())?);
            }
            Ok(listing)
        })
        .await
    }

    async fn create_upload(&self, bucket: &str, upload: UploadRecord) -> StorageResult<()> {
        let bucket = bucket.to_owned();
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            let key = upload_key(&bucket, &upload.key, &upload.upload_id);
            let mut uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            uploads
                .insert(key.as_slice(), encode(&upload)?.as_slice())
                .map_err(redb_err)?;
            Ok(())
        })
        .await
    }

    async fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StorageResult<Option<UploadRecord>> {
        let key = upload_key(bucket, key, upload_id);
        self.lookup(|txn| {
            let uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            get_record(&uploads, &key, |b| decode("upload", b))
        })
    }

    async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> StorageResult<Option<PartRecord>> {
        let bucket = bucket.to_owned();
        let upload = upload_key(&bucket, key, upload_id);
        let part_key = part_key(upload_id, part.part_number)?;
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            let uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            if uploads.get(upload.as_slice()).map_err(redb_err)?.is_none() {
                return Err(StorageError::NoSuchUpload);
            }
            let mut parts = txn.open_table(PARTS).map_err(redb_err)?;
            let replaced = parts
                .insert(part_key.as_slice(), encode(&part)?.as_slice())
                .map_err(redb_err)?;
            match replaced {
                Some(old) => decode_part(old.value()).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StorageResult<Vec<PartRecord>> {
        let bucket = bucket.to_owned();
        let upload = upload_key(&bucket, key, upload_id);
        let upload_id = upload_id.to_owned();
        self.scan(move |txn| {
            require_bucket_read(txn, &bucket)?;
            let uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            if uploads.get(upload.as_slice()).map_err(redb_err)?.is_none() {
                return Err(StorageError::NoSuchUpload);
            }
            let parts = txn.open_table(PARTS).map_err(redb_err)?;
            Ok(collect_parts(&parts, &upload_id)?
                .into_iter()
                .map(|(_, part)| part)
                .collect())
        })
        .await
    }

    async fn list_uploads(&self, bucket: &str) -> StorageResult<Vec<UploadRecord>> {
        let bucket = bucket.to_owned();
        self.scan(move |txn| {
            require_bucket_read(txn, &bucket)?;
            let prefix = bucket_prefix(&bucket);
            let uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            let mut out = Vec::new();
            for entry in uploads
                .range::<&[u8]>(prefix.as_slice()..)
                .map_err(redb_err)?
            {
                let (key, value) = entry.map_err(redb_err)?;
                if !key.value().starts_with(&prefix) {
                    break;
                }
                out.push(decode("upload", value.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        upload_id: &str,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> StorageResult<CompletedUpload> {
        let bucket = bucket.to_owned();
        let upload_id = upload_id.to_owned();
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            // The upload is keyed under the object it builds.
            let upload = upload_key(&bucket, &object.key, &upload_id);
            let mut uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            if uploads
                .remove(upload.as_slice())
                .map_err(redb_err)?
                .is_none()
            {
                return Err(StorageError::NoSuchUpload);
            }
            let replaced = put_object_in(txn, &bucket, &object, condition)?;
            let used: HashSet<&BlobId> = object.segments.iter().map(|s| &s.blob).collect();
            let unused_parts = remove_parts(txn, &upload_id)?
                .into_iter()
                .filter(|part| !used.contains(&part.blob))
                .collect();
            Ok(CompletedUpload {
                replaced,
                unused_parts,
            })
        })
        .await
    }

    async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StorageResult<Vec<PartRecord>> {
        let bucket = bucket.to_owned();
        let upload = upload_key(&bucket, key, upload_id);
        let upload_id = upload_id.to_owned();
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            let mut uploads = txn.open_table(UPLOADS).map_err(redb_err)?;
            if uploads
                .remove(upload.as_slice())
                .map_err(redb_err)?
                .is_none()
            {
                return Err(StorageError::NoSuchUpload);
            }
            remove_parts(txn, &upload_id)
        })
        .await
    }

    async fn referenced_blobs(&self) -> StorageResult<HashSet<BlobId>> {
        self.scan(|txn| {
            let mut blobs = HashSet::new();
            let objects = txn.open_table(OBJECTS).map_err(redb_err)?;
            for entry in objects.range::<&[u8]>(..).map_err(redb_err)? {
                let (_, value) = entry.map_err(redb_err)?;
                blobs.extend(
                    decode_object(value.value())?
                        .segments
                        .into_iter()
                        .map(|s| s.blob),
                );
            }
            let parts = txn.open_table(PARTS).map_err(redb_err)?;
            for entry in parts.range::<&[u8]>(..).map_err(redb_err)? {
                let (_, value) = entry.map_err(redb_err)?;
                blobs.insert(decode_part(value.value())?.blob);
            }
            Ok(blobs)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::meta::{bucket, meta_store_contract, object, part, upload};
    use crate::contract::{Fresh, Keep};

    #[tokio::test]
    async fn passes_the_meta_store_contract() {
        meta_store_contract(|| async {
            let (dir, store) = open();
            (Box::new(dir) as Keep, Arc::new(store) as Arc<dyn MetaStore>) as Fresh<_>
        })
        .await;
    }

    fn open() -> (tempfile::TempDir, RedbMetaStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let (b1, b2) = (BlobId::random(), BlobId::random());
        {
            let store = RedbMetaStore::open(&path).unwrap();
            store.create_bucket(bucket("b")).await.unwrap();
            store
                .put_object("b", object("k", 1, &[&b1]), PutCondition::Any)
                .await
                .unwrap();
            store.create_upload("b", upload("k", "u1")).await.unwrap();
            store.put_part("b", "k", "u1", part(1, &b2)).await.unwrap();
        }
        let store = RedbMetaStore::open(&path).unwrap();
        assert_eq!(store.list_buckets().await.unwrap(), vec![bucket("b")]);
        assert_eq!(
            store.get_object("b", "k").await.unwrap(),
            Some(object("k", 1, &[&b1]))
        );
        assert_eq!(
            store.list_uploads("b").await.unwrap(),
            vec![upload("k", "u1")]
        );
        assert_eq!(
            store.list_parts("b", "k", "u1").await.unwrap(),
            vec![part(1, &b2)]
        );
        assert_eq!(
            store.referenced_blobs().await.unwrap(),
            HashSet::from([b1, b2])
        );
    }

    #[tokio::test]
    async fn corrupt_values_are_errors() {
        let (_dir, store) = open();
        store.create_bucket(bucket("b")).await.unwrap();
        let mut bad_blob = serde_json::to_value(object("evil", 1, &[&BlobId::random()])).unwrap();
        bad_blob["segments"][0]["blob"] = serde_json::json!("../../etc/passwd");
        let bad_blob = serde_json::to_vec(&bad_blob).unwrap();
        {
            let txn = store.db.begin_write().unwrap();
            {
                let mut objects = txn.open_table(OBJECTS).unwrap();
                objects
                    .insert(
                        object_key("b", "garbage").as_slice(),
                        b"{not json".as_slice(),
                    )
                    .unwrap();
                objects
                    .insert(object_key("b", "evil").as_slice(), bad_blob.as_slice())
                    .unwrap();
            }
            txn.commit().unwrap();
        }
        for key in ["garbage", "evil"] {
            assert!(matches!(
                store.get_object("b", key).await,
                Err(StorageError::Corrupt { .. })
            ));
        }
        assert!(matches!(
            store.list_objects("b", "", "", 10).await,
            Err(StorageError::Corrupt { .. })
        ));
        assert!(matches!(
            store.referenced_blobs().await,
            Err(StorageError::Corrupt { .. })
        ));
        assert!(matches!(
            store
                .put_object("b", object("garbage", 1, &[]), PutCondition::Absent)
                .await,
            Err(StorageError::Corrupt { .. })
        ));
    }
}
