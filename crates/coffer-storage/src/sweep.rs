//! Freeing blobs no record references, safely even while writes are in flight.
//!
//! The write protocol commits a blob before the record that references it, so between the
//! two a live upload's blob is unreferenced. At start-up, before serving, nothing is in
//! flight and every unreferenced blob is a crash's residue ([`sweep_orphans`]). A sweep
//! that runs beside writes (several stateless nodes over one shared store) must instead
//! give each unreferenced blob a grace period: [`OrphanSweeper`] deletes a blob only when
//! it was already unreferenced at an earlier sweep at least `grace` ago, and is still. A
//! write that commits its record within the grace period is never touched.
//!
//! Each sweep lists the blobs *before* it reads the references, so a blob committed and
//! referenced in between counts as referenced, never as an orphan.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::blob::{BlobId, BlobStore};
use crate::error::StorageResult;
use crate::meta::MetaStore;

/// Deletes committed blobs that no record references: the residue of a crash between a
/// blob's commit and its record's, or between a record's replacement and the old blob's
/// deletion. Run it before serving, when no write is in flight.
pub async fn sweep_orphans(meta: &dyn MetaStore, blobs: &dyn BlobStore) -> StorageResult<usize> {
    OrphanSweeper::new(Duration::ZERO).sweep(meta, blobs).await
}

/// A sweep that may run while writes are in flight; keep one and call
/// [`OrphanSweeper::sweep`] periodically (at intervals shorter than `grace`, or longer: a
/// candidate waits at least `grace` either way).
#[derive(Debug)]
pub struct OrphanSweeper {
    grace: Duration,
    /// Unreferenced blobs seen by earlier sweeps, and when each was first seen.
    candidates: HashMap<BlobId, Instant>,
}

impl OrphanSweeper {
    /// `grace` must exceed the longest time between a blob's commit and its record's.
    pub fn new(grace: Duration) -> Self {
        OrphanSweeper {
            grace,
            candidates: HashMap::new(),
        }
    }

    /// One sweep now; returns how many blobs it deleted.
    pub async fn sweep(
        &mut self,
        meta: &dyn MetaStore,
        blobs: &dyn BlobStore,
    ) -> StorageResult<usize> {
        self.sweep_at(meta, blobs, Instant::now()).await
    }

    /// One sweep as of `now` (tests pass their own clock).
    pub async fn sweep_at(
        &mut self,
        meta: &dyn MetaStore,
        blobs: &dyn BlobStore,
        now: Instant,
    ) -> StorageResult<usize> {
        let listed = blobs.list().await?;
        let referenced = meta.referenced_blobs().await?;
        let mut next = HashMap::new();
        let mut removed = 0;
        for id in listed.into_iter().filter(|id| !referenced.contains(id)) {
            let first_seen = self.candidates.get(&id).copied().unwrap_or(now);
            if now.saturating_duration_since(first_seen) >= self.grace {
                blobs.delete(&id).await?;
                removed += 1;
            } else {
                next.insert(id, first_seen);
            }
        }
        // A candidate that is gone or referenced now is forgotten.
        self.candidates = next;
        Ok(removed)
    }

    /// Unreferenced blobs waiting out their grace period.
    pub fn pending(&self) -> usize {
        self.candidates.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::contract::meta::{bucket, object};
    use crate::meta::PutCondition;
    use crate::{FsBlobStore, RedbMetaStore};

    async fn blob(store: &dyn BlobStore) -> BlobId {
        let mut w = store.create().await.unwrap();
        w.write(Bytes::from_static(b"x")).await.unwrap();
        w.commit().await.unwrap()
    }

    #[tokio::test]
    async fn in_flight_blobs_survive_their_grace_and_orphans_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let meta = RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap();
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).await.unwrap());
        meta.create_bucket(bucket("b")).await.unwrap();
        let t0 = Instant::now();
        let grace = Duration::from_secs(60);
        let mut sweeper = OrphanSweeper::new(grace);

        let in_flight = blob(&*blobs).await; // its record is about to commit
        let orphan = blob(&*blobs).await; // its record never will
        assert_eq!(sweeper.sweep_at(&meta, &*blobs, t0).await.unwrap(), 0);
        assert_eq!(sweeper.pending(), 2);

        // The upload commits its record within the grace period.
        meta.put_object("b", object("k", 1, &[&in_flight]), PutCondition::Any)
            .await
            .unwrap();
        let early = t0 + grace / 2;
        assert_eq!(sweeper.sweep_at(&meta, &*blobs, early).await.unwrap(), 0);
        assert_eq!(sweeper.pending(), 1, "the referenced blob is no candidate");

        let late = t0 + grace;
        assert_eq!(sweeper.sweep_at(&meta, &*blobs, late).await.unwrap(), 1);
        let mut left = blobs.list().await.unwrap();
        left.sort();
        assert_eq!(left, vec![in_flight.clone()]);
        assert!(blobs.open(&orphan).await.is_err());

        // A blob first seen late gets its own full grace period.
        let newcomer = blob(&*blobs).await;
        assert_eq!(sweeper.sweep_at(&meta, &*blobs, late).await.unwrap(), 0);
        assert_eq!(
            sweeper
                .sweep_at(&meta, &*blobs, late + grace / 2)
                .await
                .unwrap(),
            0
        );
        assert!(blobs.open(&newcomer).await.is_ok());
    }

    #[tokio::test]
    async fn the_start_up_sweep_frees_every_orphan_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let meta = RedbMetaStore::open(&dir.path().join("meta.redb")).unwrap();
        let blobs = FsBlobStore::open(dir.path()).await.unwrap();
        meta.create_bucket(bucket("b")).await.unwrap();
        let kept = blob(&blobs).await;
        meta.put_object("b", object("k", 1, &[&kept]), PutCondition::Any)
            .await
            .unwrap();
        blob(&blobs).await;
        blob(&blobs).await;
        assert_eq!(sweep_orphans(&meta, &blobs).await.unwrap(), 2);
        assert_eq!(blobs.list().await.unwrap(), vec![kept]);
    }
}
