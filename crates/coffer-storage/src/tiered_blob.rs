//! Small blobs in one store, the rest in another, decided by size as the bytes arrive.
//!
//! A writer holds up to `small_max` bytes in memory. If the blob ends within that, it goes
//! to the small store (in Coffer: the metadata database, see [`crate::RedbBlobStore`]);
//! the first byte past it spills everything to the large store (files), so memory per
//! write stays bounded. Blob ids are unique across both stores, so a reader asks the small
//! store first and falls back to the large one.

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::blob::{BlobId, BlobReader, BlobStore, BlobWriter};

pub struct TieredBlobStore {
    small: Arc<dyn BlobStore>,
    large: Arc<dyn BlobStore>,
    small_max: usize,
}

impl TieredBlobStore {
    /// Blobs of at most `small_max` bytes go to `small`, larger ones to `large`.
    pub fn new(small: Arc<dyn BlobStore>, large: Arc<dyn BlobStore>, small_max: usize) -> Self {
        TieredBlobStore {
            small,
            large,
            small_max,
        }
    }
}

#[async_trait]
impl BlobStore for TieredBlobStore {
    async fn create(&self) -> io::Result<Box<dyn BlobWriter>> {
        Ok(Box::new(TieredWriter {
            small: self.small.clone(),
            large: self.large.clone(),
            small_max: self.small_max,
            state: State::Buffering {
                parts: Vec::new(),
                len: 0,
            },
        }))
    }

    async fn open(&self, id: &BlobId) -> io::Result<BlobReader> {
        match self.small.open(id).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.large.open(id).await,
            found => found,
        }
    }

    /// Asks the small store first: it answers from memory or its cache, where a file
    /// delete is a trip through the blocking pool.
    async fn delete(&self, id: &BlobId) -> io::Result<bool> {
        if self.small.delete(id).await? {
            return Ok(true);
        }
        self.large.delete(id).await
    }

    async fn list(&self) -> io::Result<Vec<BlobId>> {
        let mut ids = self.small.list().await?;
        ids.extend(self.large.list().await?);
        Ok(ids)
    }
}

enum State {
    /// At most `small_max` bytes so far, as written.
    Buffering { parts: Vec<Bytes>, len: usize },
    /// Past `small_max`: everything goes to the large store.
    Spilled(Box<dyn BlobWriter>),
    /// Committed, aborted or failed.
    Done,
}

struct TieredWriter {
    small: Arc<dyn BlobStore>,
    large: Arc<dyn BlobStore>,
    small_max: usize,
    state: State,
}

#[async_trait]
impl BlobWriter for TieredWriter {
    async fn write(&mut self, data: Bytes) -> io::Result<()> {
        match &mut self.state {
            State::Buffering { parts, len } if *len + data.len() <= self.small_max => {
                *len += data.len();
                parts.push(data);
                Ok(())
            }
            State::Buffering { parts, .. } => {
                let buffered = std::mem::take(parts);
                self.state = State::Done;
                let mut large = self.large.create().await?;
                for part in buffered {
                    large.write(part).await?;
                }
                large.write(data).await?;
                self.state = State::Spilled(large);
                Ok(())
            }
            State::Spilled(large) => large.write(data).await,
            State::Done => Err(io::Error::other("blob writer already finished")),
        }
    }

    async fn commit(mut self: Box<Self>) -> io::Result<BlobId> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Buffering { parts, .. } => {
                let mut small = self.small.create().await?;
                for part in parts {
                    small.write(part).await?;
                }
                small.commit().await
            }
            State::Spilled(large) => large.commit().await,
            State::Done => Err(io::Error::other("blob writer already finished")),
        }
    }

    async fn abort(mut self: Box<Self>) {
        if let State::Spilled(large) = std::mem::replace(&mut self.state, State::Done) {
            large.abort().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FsBlobStore, RedbMetaStore};

    async fn read_all(store: &dyn BlobStore, id: &BlobId, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let reader = store.open(id).await.unwrap();
        reader.append_at(0, len, &mut out).unwrap();
        assert!(reader.append_at(len as u64, 1, &mut Vec::new()).is_err());
        out
    }

    #[tokio::test]
    async fn passes_the_blob_store_contract() {
        crate::contract::blob::blob_store_contract(|| async {
            let dir = tempfile::tempdir().unwrap();
            let meta = RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap();
            let small: Arc<dyn BlobStore> = Arc::new(meta.small_blob_store());
            let large: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).await.unwrap());
            let store = TieredBlobStore::new(small, large, 64 * 1024);
            (
                Box::new((dir, meta)) as crate::contract::Keep,
                Arc::new(store) as Arc<dyn BlobStore>,
            )
        })
        .await;
    }

    #[tokio::test]
    async fn blobs_land_in_the_tier_their_size_picks() {
        let dir = tempfile::tempdir().unwrap();
        let meta = RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap();
        let small: Arc<dyn BlobStore> = Arc::new(meta.small_blob_store());
        let large: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).await.unwrap());
        let tiered = TieredBlobStore::new(small.clone(), large.clone(), 10);

        let mut at_limit = tiered.create().await.unwrap();
        at_limit.write(Bytes::from_static(b"01234")).await.unwrap();
        at_limit.write(Bytes::from_static(b"56789")).await.unwrap();
        let at_limit = at_limit.commit().await.unwrap();

        let mut past_limit = tiered.create().await.unwrap();
        past_limit
            .write(Bytes::from_static(b"01234"))
            .await
            .unwrap();
        past_limit
            .write(Bytes::from_static(b"567890"))
            .await
            .unwrap();
        let past_limit = past_limit.commit().await.unwrap();

        assert_eq!(small.list().await.unwrap(), vec![at_limit.clone()]);
        assert_eq!(large.list().await.unwrap(), vec![past_limit.clone()]);
        assert_eq!(read_all(&tiered, &at_limit, 10).await, b"0123456789");
        assert_eq!(read_all(&tiered, &past_limit, 11).await, b"01234567890");
        let mut ids = tiered.list().await.unwrap();
        ids.sort();
        let mut expected = vec![at_limit.clone(), past_limit.clone()];
        expected.sort();
        assert_eq!(ids, expected);

        assert!(tiered.delete(&at_limit).await.unwrap());
        assert!(tiered.delete(&past_limit).await.unwrap());
        assert!(!tiered.delete(&past_limit).await.unwrap(), "already gone");
        assert!(tiered.list().await.unwrap().is_empty());
        let gone = tiered.open(&past_limit).await.err().unwrap();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn an_aborted_spilled_blob_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let meta = RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap();
        let large = Arc::new(FsBlobStore::open(dir.path()).await.unwrap());
        let tiered = TieredBlobStore::new(Arc::new(meta.small_blob_store()), large, 4);
        let mut w = tiered.create().await.unwrap();
        w.write(Bytes::from_static(b"too long")).await.unwrap();
        w.abort().await;
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert!(tiered.list().await.unwrap().is_empty());
    }
}
