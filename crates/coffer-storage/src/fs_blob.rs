//! Blobs as files: `<root>/blobs/<2 hex>/<id>`, written under `<root>/tmp/` first.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::fs;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::blob::{BlobId, BlobReader, BlobStore, BlobWriter};

/// Buffer between the request body and the file, so that writes reach the kernel in
/// large chunks rather than one per body frame.
const WRITE_BUFFER: usize = 1 << 20;

/// Every this many bytes, the writer asks the kernel to start writing them to disk. Without
/// it the whole blob waits in the page cache for the fsync at commit, which then takes
/// about 30 ms per 64 MiB here, after the last byte has arrived; with it the disk works
/// while the body is still arriving and the final fsync has little left to do.
const WRITEBACK_STEP: u64 = 8 << 20;

/// How far early writeback trails the bytes written: further back than this writer's
/// buffer plus tokio's one in-flight file write (at most 2 MiB), so the range is certain
/// to have reached the kernel without waiting for it.
const WRITEBACK_LAG: u64 = 4 << 20;

pub struct FsBlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl FsBlobStore {
    /// Opens the store, creating its folders. Temporary files left by a crash are deleted:
    /// they belong to writes that were never acknowledged.
    pub async fn open(root: &Path) -> io::Result<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        fs::create_dir_all(&blobs).await?;
        if fs::try_exists(&tmp).await? {
            fs::remove_dir_all(&tmp).await?;
        }
        fs::create_dir_all(&tmp).await?;
        Ok(FsBlobStore { blobs, tmp })
    }

    fn path_of(&self, id: &BlobId) -> PathBuf {
        self.blobs.join(&id.as_str()[..2]).join(id.as_str())
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn create(&self) -> io::Result<Box<dyn BlobWriter>> {
        let id = BlobId::random();
        let tmp_path = self.tmp.join(id.as_str());
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .await?;
        Ok(Box::new(FsBlobWriter {
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            written: 0,
            writeback_from: 0,
            tmp_path,
            final_path: self.path_of(&id),
            id,
        }))
    }

    async fn open(&self, id: &BlobId, offset: u64) -> io::Result<BlobReader> {
        let mut file = fs::File::open(self.path_of(id)).await?;
        if offset > 0 {
            file.seek(io::SeekFrom::Start(offset)).await?;
        }
        Ok(Box::pin(file))
    }

    async fn delete(&self, id: &BlobId) -> io::Result<()> {
        match fs::remove_file(self.path_of(id)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> io::Result<Vec<BlobId>> {
        let mut ids = Vec::new();
        let mut shards = fs::read_dir(&self.blobs).await?;
        while let Some(shard) = shards.next_entry().await? {
            if !shard.file_type().await?.is_dir() {
                continue;
            }
            let mut entries = fs::read_dir(shard.path()).await?;
            while let Some(entry) = entries.next_entry().await? {
                if let Some(id) = entry.file_name().to_str().and_then(BlobId::parse) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }
}

struct FsBlobWriter {
    /// `None` once committed or aborted.
    file: Option<BufWriter<fs::File>>,
    /// Bytes handed to `write` so far.
    written: u64,
    /// Where the next early writeback starts (see [`WRITEBACK_STEP`]).
    writeback_from: u64,
    tmp_path: PathBuf,
    final_path: PathBuf,
    id: BlobId,
}

#[async_trait]
impl BlobWriter for FsBlobWriter {
    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already finished"))?;
        file.write_all(data).await?;
        self.written += data.len() as u64;
        if self.written >= self.writeback_from + WRITEBACK_STEP + WRITEBACK_LAG {
            let to = self.written - WRITEBACK_LAG;
            start_writeback(file.get_ref(), self.writeback_from, to);
            self.writeback_from = to;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> io::Result<BlobId> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("blob writer already finished"))?;
        file.flush().await?;
        file.get_ref().sync_all().await?;
        drop(file);
        let dir = self
            .final_path
            .parent()
            .expect("blob paths have a shard folder");
        fs::create_dir_all(dir).await?;
        fs::rename(&self.tmp_path, &self.final_path).await?;
        // The rename is durable only once the folder holding the new name is synced.
        sync_dir(dir).await?;
        Ok(self.id.clone())
    }

    async fn abort(mut self: Box<Self>) {
        self.file.take();
        let _ = fs::remove_file(&self.tmp_path).await;
    }
}

impl Drop for FsBlobWriter {
    fn drop(&mut self) {
        // A writer dropped mid-body (client gone, error) leaves nothing behind.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Starts writing `from..to` of `file` to disk, without waiting
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)` on a blocking thread). Purely an optimisation:
/// durability comes from the fsync at commit, so failures are ignored, and on other
/// systems this does nothing.
#[cfg(target_os = "linux")]
fn start_writeback(file: &fs::File, from: u64, to: u64) {
    use std::os::fd::{AsFd, AsRawFd};
    let (Ok(offset), Ok(len)) = (i64::try_from(from), i64::try_from(to - from)) else {
        return;
    };
    // Its own descriptor, so the call stays valid even if the writer finishes first.
    let Ok(fd) = file.as_fd().try_clone_to_owned() else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        // SAFETY: `fd` is an open descriptor owned by this closure for the whole call, and
        // `sync_file_range` only reads its integer arguments; no memory is shared.
        unsafe { libc::sync_file_range(fd.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
    });
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &fs::File, _from: u64, _to: u64) {}

async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn committed_blob_reads_back_from_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        let mut w = store.create().await.unwrap();
        w.write(b"hello ").await.unwrap();
        w.write(b"world").await.unwrap();
        let id = w.commit().await.unwrap();
        let mut out = String::new();
        store
            .open(&id, 6)
            .await
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        assert_eq!(out, "world");
        assert_eq!(store.list().await.unwrap(), vec![id.clone()]);
        store.delete(&id).await.unwrap();
        store.delete(&id).await.unwrap();
        assert!(store.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn blobs_past_the_writeback_step_read_back_intact() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        let mut w = store.create().await.unwrap();
        // Chunks of a size that does not divide the step, so ranges straddle chunks.
        let chunk: Vec<u8> = (0..700_001u32).map(|i| (i % 251) as u8).collect();
        let total = (3 * (WRITEBACK_STEP + WRITEBACK_LAG)) as usize;
        let mut expected = Vec::with_capacity(total + chunk.len());
        while expected.len() < total {
            w.write(&chunk).await.unwrap();
            expected.extend_from_slice(&chunk);
        }
        let id = w.commit().await.unwrap();
        let mut out = Vec::new();
        store
            .open(&id, 0)
            .await
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert!(out == expected, "blob differs from what was written");
    }

    #[tokio::test]
    async fn uncommitted_blobs_leave_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        let mut dropped = store.create().await.unwrap();
        dropped.write(b"partial").await.unwrap();
        drop(dropped);
        let mut aborted = store.create().await.unwrap();
        aborted.write(b"partial").await.unwrap();
        aborted.abort().await;
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert!(store.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn reopening_clears_leftover_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        drop(FsBlobStore::open(dir.path()).await.unwrap());
        std::fs::write(dir.path().join("tmp").join("stray"), b"x").unwrap();
        FsBlobStore::open(dir.path()).await.unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
