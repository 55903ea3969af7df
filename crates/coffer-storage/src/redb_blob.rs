//! Small blobs as values in the metadata database.
//!
//! A file per small object costs more than the object: creating it (ext4 searches its inode
//! bitmaps), renaming it into place and two fsyncs, for the file and its folder. In the
//! database a small blob is one insert that shares its commit, and its fsync, with every
//! other write in flight ([`GroupCommitter`]). [`crate::TieredBlobStore`] decides which
//! blobs are small; this store keeps whatever it is given in memory until it commits.
//!
//! A committed small blob is visible at once but reaches the disk with the database's next
//! durable commit, at the latest the one of the record that references it. That is exactly
//! what the write protocol needs (a record is never durable without its blob) and saves a
//! small PUT a second fsync wait. It holds because the records live in the same database:
//! pair this store only with the [`crate::RedbMetaStore`] it came from.

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, TableDefinition};

use crate::blob::{BlobId, BlobRead, BlobReader, BlobStore, BlobWriter};
use crate::error::StorageError;
use crate::group_commit::{Durable, GroupCommitter};
use crate::redb_meta::redb_err;

/// Blob id (its 32 ASCII characters) to the blob's bytes.
pub(crate) const SMALL_BLOBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("small_blobs");

/// Blobs kept in a [`crate::RedbMetaStore`]'s database; see
/// [`crate::RedbMetaStore::small_blob_store`].
#[derive(Clone)]
pub struct RedbBlobStore {
    pub(crate) db: Arc<Database>,
    pub(crate) writer: Arc<GroupCommitter>,
}

impl std::fmt::Debug for RedbBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBlobStore").finish_non_exhaustive()
    }
}

impl RedbBlobStore {
    /// Runs a read on the blocking pool.
    async fn read<T, F>(&self, f: F) -> io::Result<T>
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

/// A small blob, read out of the database whole when opened.
struct InMemoryBlob(Vec<u8>);

impl BlobRead for InMemoryBlob {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(bytes);
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
            bytes: Vec::new(),
        }))
    }

    async fn open(&self, id: &BlobId) -> io::Result<BlobReader> {
        let key = id.as_str().as_bytes().to_vec();
        let bytes = self
            .read(move |db| {
                let txn = db.begin_read().map_err(redb_io)?;
                let table = txn.open_table(SMALL_BLOBS).map_err(redb_io)?;
                let value = table
                    .get(key.as_slice())
                    .map_err(redb_io)?
                    .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                Ok(value.value().to_vec())
            })
            .await?;
        Ok(Arc::new(InMemoryBlob(bytes)))
    }

    async fn delete(&self, id: &BlobId) -> io::Result<()> {
        let key = id.as_str().as_bytes().to_vec();
        // The tiered store asks here for every blob, most of them files: a read settles
        // those without queueing behind the writer's commits. Ids are written once, so
        // the blob cannot appear after this check.
        let probe = key.clone();
        let present = self
            .read(move |db| {
                let txn = db.begin_read().map_err(redb_io)?;
                let table = txn.open_table(SMALL_BLOBS).map_err(redb_io)?;
                Ok(table.get(probe.as_slice()).map_err(redb_io)?.is_some())
            })
            .await?;
        if !present {
            return Ok(());
        }
        // Not durable: a delete lost in a crash leaves an unreferenced blob, which the
        // start-up sweep removes.
        self.writer
            .write(Durable::No, move |txn| {
                let mut table = txn.open_table(SMALL_BLOBS).map_err(redb_err)?;
                table.remove(key.as_slice()).map_err(redb_err)?;
                Ok(())
            })
            .await
            .map_err(to_io)
    }

    async fn list(&self) -> io::Result<Vec<BlobId>> {
        self.read(|db| {
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
        .await
    }
}

struct RedbBlobWriter {
    store: RedbBlobStore,
    bytes: Vec<u8>,
}

#[async_trait]
impl BlobWriter for RedbBlobWriter {
    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> io::Result<BlobId> {
        let id = BlobId::random();
        let key = id.as_str().as_bytes().to_vec();
        let bytes = self.bytes;
        // Not durable on its own: the record that will reference this blob is written to
        // the same database after this returns, and its durable commit persists both. A
        // crash before that loses only a blob nothing references yet.
        self.store
            .writer
            .write(Durable::No, move |txn| {
                let mut table = txn.open_table(SMALL_BLOBS).map_err(redb_err)?;
                table
                    .insert(key.as_slice(), bytes.as_slice())
                    .map_err(redb_err)?;
                Ok(())
            })
            .await
            .map_err(to_io)?;
        Ok(id)
    }

    async fn abort(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RedbMetaStore;

    #[tokio::test]
    async fn blobs_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.redb");
        let meta = RedbMetaStore::open(&path).unwrap();
        let store = meta.small_blob_store();
        let mut w = store.create().await.unwrap();
        w.write(b"hello ").await.unwrap();
        w.write(b"world").await.unwrap();
        let id = w.commit().await.unwrap();
        let mut aborted = store.create().await.unwrap();
        aborted.write(b"never").await.unwrap();
        aborted.abort().await;
        drop((store, meta));

        let meta = RedbMetaStore::open(&path).unwrap();
        let store = meta.small_blob_store();
        assert_eq!(store.list().await.unwrap(), vec![id.clone()]);
        let reader = store.open(&id).await.unwrap();
        let mut out = [0u8; 5];
        reader.read_exact_at(&mut out, 6).unwrap();
        assert_eq!(&out, b"world");
        for offset in [7, 99, u64::MAX] {
            let past_end = reader.read_exact_at(&mut out, offset).unwrap_err();
            assert_eq!(past_end.kind(), io::ErrorKind::UnexpectedEof);
        }
        reader.read_exact_at(&mut [], 11).unwrap();

        store.delete(&id).await.unwrap();
        store.delete(&id).await.unwrap();
        assert!(store.list().await.unwrap().is_empty());
        let missing = store.open(&id).await.err().unwrap();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
