//! Small blobs as values in the metadata database.
//!
//! A file per small object costs more than the object: creating it (ext4 searches its inode
//! bitmaps), renaming it into place and two fsyncs, for the file and its folder. In the
//! database a small blob costs one insert, and not even a transaction of its own: committed
//! blobs and deletes wait in memory ([`PendingBlobs`]) and ride along with the next
//! transaction of the metadata writer ([`crate::group_commit`]). Readers see them at once.
//! [`crate::TieredBlobStore`] decides which blobs are small.
//!
//! A committed small blob therefore reaches the disk with the database's next commit, at the
//! latest the one of the record that references it: the blob is pending before that
//! record's write is queued, and each transaction takes everything pending when it begins.
//! That is exactly what the write protocol needs (a record is never durable without its
//! blob), and a crash before it loses only a blob nothing references. It holds because the
//! records live in the same database: pair this store only with the [`crate::RedbMetaStore`]
//! it came from.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};

use crate::blob::{BlobId, BlobRead, BlobReader, BlobStore, BlobWriter};
use crate::error::{StorageError, StorageResult};
use crate::redb_meta::redb_err;

/// Blob id (its 32 ASCII characters) to the blob's bytes.
pub(crate) const SMALL_BLOBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("small_blobs");

/// Blobs kept in a [`crate::RedbMetaStore`]'s database; see
/// [`crate::RedbMetaStore::small_blob_store`].
#[derive(Clone)]
pub struct RedbBlobStore {
    pub(crate) db: Arc<Database>,
    pub(crate) pending: Arc<PendingBlobs>,
}

/// Small-blob changes since the metadata writer's last commit, which its next transaction
/// writes ([`PendingBlobs::write_into`]).
#[derive(Default)]
pub(crate) struct PendingBlobs(Mutex<Pending>);

#[derive(Default)]
struct Pending {
    inserts: HashMap<BlobId, Bytes>,
    deletes: HashSet<BlobId>,
}

/// The changes one transaction wrote, forgotten once it commits.
pub(crate) struct WrittenBlobs {
    inserted: Vec<BlobId>,
    deleted: Vec<BlobId>,
}

/// What the pending changes say about one blob.
enum PendingState {
    Inserted(Bytes),
    Deleted,
    Unknown,
}

impl PendingBlobs {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Every update leaves the maps consistent, so a panic elsewhere cannot spoil them.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, id: BlobId, bytes: Bytes) {
        self.lock().inserts.insert(id, bytes);
    }

    /// A delete always goes to the database too: the blob may be in a transaction that
    /// is committing right now.
    fn delete(&self, id: &BlobId) {
        let mut pending = self.lock();
        pending.inserts.remove(id);
        pending.deletes.insert(id.clone());
    }

    fn state(&self, id: &BlobId) -> PendingState {
        let pending = self.lock();
        if pending.deletes.contains(id) {
            PendingState::Deleted
        } else if let Some(bytes) = pending.inserts.get(id) {
            PendingState::Inserted(bytes.clone())
        } else {
            PendingState::Unknown
        }
    }

    /// Writes every pending change into `txn`, inserts before deletes. They stay pending
    /// until [`PendingBlobs::written`] is told the transaction committed.
    pub(crate) fn write_into(&self, txn: &WriteTransaction) -> StorageResult<WrittenBlobs> {
        let (inserts, deleted): (Vec<(BlobId, Bytes)>, Vec<BlobId>) = {
            let pending = self.lock();
            (
                pending
                    .inserts
                    .iter()
                    .map(|(id, bytes)| (id.clone(), bytes.clone()))
                    .collect(),
                pending.deletes.iter().cloned().collect(),
            )
        };
        if !inserts.is_empty() || !deleted.is_empty() {
            let mut table = txn.open_table(SMALL_BLOBS).map_err(redb_err)?;
            for (id, bytes) in &inserts {
                table
                    .insert(id.as_str().as_bytes(), bytes.as_ref())
                    .map_err(redb_err)?;
            }
            for id in &deleted {
                table.remove(id.as_str().as_bytes()).map_err(redb_err)?;
            }
        }
        Ok(WrittenBlobs {
            inserted: inserts.into_iter().map(|(id, _)| id).collect(),
            deleted,
        })
    }

    /// The transaction that wrote `written` has committed.
    pub(crate) fn written(&self, written: WrittenBlobs) {
        let mut pending = self.lock();
        for id in &written.inserted {
            pending.inserts.remove(id);
        }
        for id in &written.deleted {
            pending.deletes.remove(id);
        }
    }
}

impl std::fmt::Debug for RedbBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBlobStore").finish_non_exhaustive()
    }
}

impl RedbBlobStore {
    /// Runs `f` on the committed bytes of `id`, if any. A point lookup, on the caller's
    /// thread: it and a copy of at most the tier threshold cost less than the two thread
    /// wake-ups of a trip through the blocking pool.
    fn with_committed<T>(&self, id: &BlobId, f: impl FnOnce(Option<&[u8]>) -> T) -> io::Result<T> {
        let txn = self.db.begin_read().map_err(redb_io)?;
        let table = txn.open_table(SMALL_BLOBS).map_err(redb_io)?;
        let value = table.get(id.as_str().as_bytes()).map_err(redb_io)?;
        Ok(f(value.as_ref().map(|v| v.value())))
    }

    /// Runs a scan on the blocking pool.
    async fn scan<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> io::Result<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(io::Error::other)?
    }
}

fn to_io(e: impl Into<StorageError>) -> io::Error {
    match e.into() {
        StorageError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

fn redb_io(e: impl Into<redb::Error>) -> io::Error {
    to_io(redb_err(e))
}

/// A small blob, held whole once opened.
struct InMemoryBlob(Bytes);

impl BlobRead for InMemoryBlob {
    fn append_at(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(len)
            .and_then(|end| self.0.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        out.extend_from_slice(bytes);
        Ok(())
    }

    fn is_in_memory(&self) -> bool {
        true
    }
}

#[async_trait]
impl BlobStore for RedbBlobStore {
    async fn create(&self) -> io::Result<Box<dyn BlobWriter>> {
        Ok(Box::new(RedbBlobWriter {
            store: self.clone(),
            parts: Vec::new(),
        }))
    }

    async fn open(&self, id: &BlobId) -> io::Result<BlobReader> {
        match self.pending.state(id) {
            PendingState::Inserted(bytes) => return Ok(Arc::new(InMemoryBlob(bytes))),
            PendingState::Deleted => return Err(io::ErrorKind::NotFound.into()),
            PendingState::Unknown => {}
        }
        let bytes = self
            .with_committed(id, |value| value.map(<[u8]>::to_vec))?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok(Arc::new(InMemoryBlob(bytes.into())))
    }

    /// Lands with the metadata writer's next commit. Until then the blob is gone for
    /// readers; a crash before it leaves an unreferenced blob, which the start-up sweep
    /// removes. A blob this store does not hold is left alone, so the tiered store learns
    /// from the answer that the blob is a file.
    async fn delete(&self, id: &BlobId) -> io::Result<bool> {
        let present = match self.pending.state(id) {
            PendingState::Inserted(_) => true,
            PendingState::Deleted => false,
            PendingState::Unknown => self.with_committed(id, |value| value.is_some())?,
        };
        if present {
            self.pending.delete(id);
        }
        Ok(present)
    }

    async fn list(&self) -> io::Result<Vec<BlobId>> {
        let mut ids = self
            .scan(|db| {
                let txn = db.begin_read().map_err(redb_io)?;
                let table = txn.open_table(SMALL_BLOBS).map_err(redb_io)?;
                let mut ids = Vec::new();
                for entry in table.range::<&[u8]>(..).map_err(redb_io)? {
                    let (key, _) = entry.map_err(redb_io)?;
                    let id = std::str::from_utf8(key.value())
                        .ok()
                        .and_then(BlobId::parse)
                        .ok_or_else(|| io::Error::other("corrupt small blob id"))?;
                    ids.push(id);
                }
                Ok(ids)
            })
            .await?;
        let pending = self.pending.lock();
        ids.retain(|id| !pending.deletes.contains(id) && !pending.inserts.contains_key(id));
        ids.extend(pending.inserts.keys().cloned());
        Ok(ids)
    }
}

struct RedbBlobWriter {
    store: RedbBlobStore,
    parts: Vec<Bytes>,
}

#[async_trait]
impl BlobWriter for RedbBlobWriter {
    async fn write(&mut self, data: Bytes) -> io::Result<()> {
        self.parts.push(data);
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> io::Result<BlobId> {
        let id = BlobId::random();
        // A small body usually arrives whole: keep that frame rather than copy it.
        let bytes = match self.parts.len() {
            1 => self.parts.pop().expect("one part"),
            _ => self.parts.concat().into(),
        };
        self.store.pending.insert(id.clone(), bytes);
        Ok(id)
    }

    async fn abort(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::meta::bucket;
    use crate::{MetaStore, RedbMetaStore};

    /// A metadata write: what a small blob's changes ride along with.
    async fn some_write(meta: &RedbMetaStore, name: &str) {
        meta.create_bucket(bucket(name)).await.unwrap();
    }

    async fn put(store: &RedbBlobStore, parts: &[&[u8]]) -> BlobId {
        let mut w = store.create().await.unwrap();
        for part in parts {
            w.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        w.commit().await.unwrap()
    }

    /// A database path in a fresh folder, which lives as long as the returned guard.
    fn database_path() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        (dir, path)
    }

    fn read(reader: &BlobReader, offset: u64, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        reader.append_at(offset, len, &mut out).unwrap();
        out
    }

    #[tokio::test]
    async fn passes_the_blob_store_contract() {
        crate::contract::blob::blob_store_contract(|| async {
            let (dir, path) = database_path();
            let meta = RedbMetaStore::open(&path).unwrap();
            let store = meta.small_blob_store();
            (
                Box::new((dir, meta)) as crate::contract::Keep,
                Arc::new(store) as Arc<dyn BlobStore>,
            )
        })
        .await;
    }

    #[tokio::test]
    async fn blobs_are_visible_at_once_and_land_with_the_next_write() {
        let (_dir, path) = database_path();
        let meta = RedbMetaStore::open(&path).unwrap();
        let store = meta.small_blob_store();
        let id = put(&store, &[b"hello ", b"world"]).await;
        let mut aborted = store.create().await.unwrap();
        aborted.write(Bytes::from_static(b"never")).await.unwrap();
        aborted.abort().await;
        assert_eq!(read(&store.open(&id).await.unwrap(), 6, 5), b"world");
        assert_eq!(store.list().await.unwrap(), vec![id.clone()]);
        some_write(&meta, "b1").await;
        drop((store, meta));

        let meta = RedbMetaStore::open(&path).unwrap();
        let store = meta.small_blob_store();
        assert_eq!(store.list().await.unwrap(), vec![id.clone()]);
        let reader = store.open(&id).await.unwrap();
        assert_eq!(read(&reader, 6, 5), b"world");
        for offset in [7, 99, u64::MAX] {
            let past_end = reader.append_at(offset, 5, &mut Vec::new()).unwrap_err();
            assert_eq!(past_end.kind(), io::ErrorKind::UnexpectedEof);
        }
        assert_eq!(read(&reader, 11, 0), b"");

        assert!(store.delete(&id).await.unwrap());
        assert!(!store.delete(&id).await.unwrap(), "already gone");
        assert!(
            !store.delete(&BlobId::random()).await.unwrap(),
            "never held"
        );
        assert!(store.list().await.unwrap().is_empty());
        let missing = store.open(&id).await.err().unwrap();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        some_write(&meta, "b2").await;
        drop((store, meta));

        let meta = RedbMetaStore::open(&path).unwrap();
        assert!(meta.small_blob_store().list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_blob_deleted_before_any_write_never_lands() {
        let (_dir, path) = database_path();
        let meta = RedbMetaStore::open(&path).unwrap();
        let store = meta.small_blob_store();
        let id = put(&store, &[b"short-lived"]).await;
        assert!(store.delete(&id).await.unwrap());
        some_write(&meta, "b").await;
        drop((store, meta));
        let meta = RedbMetaStore::open(&path).unwrap();
        assert!(meta.small_blob_store().list().await.unwrap().is_empty());
    }

    /// The write protocol's invariant: a write queued after a blob's commit is never
    /// durable without the blob, however the writes interleave into transactions.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_later_write_is_never_durable_without_the_blob() {
        let (_dir, path) = database_path();
        let meta = Arc::new(RedbMetaStore::open(&path).unwrap());
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let meta = meta.clone();
                tokio::spawn(async move {
                    let store = meta.small_blob_store();
                    let id = put(&store, &[format!("blob {i}").as_bytes()]).await;
                    some_write(&meta, &format!("bucket-{i}")).await;
                    (id, format!("blob {i}"))
                })
            })
            .collect();
        let mut expected = Vec::new();
        for task in tasks {
            expected.push(task.await.unwrap());
        }
        drop(Arc::into_inner(meta).expect("tasks are done"));

        let meta = RedbMetaStore::open(&path).unwrap();
        let store = meta.small_blob_store();
        assert_eq!(store.list().await.unwrap().len(), expected.len());
        for (id, body) in expected {
            let reader = store.open(&id).await.unwrap();
            assert_eq!(read(&reader, 0, body.len()), body.as_bytes());
        }
    }
}
