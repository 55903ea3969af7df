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
    tmp_path: PathBuf,
    final_path: PathBuf,
    id: BlobId,
}

#[async_trait]
impl BlobWriter for FsBlobWriter {
    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.write_all(data).await,
            None => Err(io::Error::other("blob writer already finished")),
        }
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
