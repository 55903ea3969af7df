//! Blobs as files: `<root>/blobs/<2 hex>/<id>`, written under `<root>/tmp/` first.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use std::io::{IoSlice, Write};
use std::sync::Arc;
use tokio::fs;
use tokio::task::JoinHandle;

use crate::blob::{BlobId, BlobRead, BlobReader, BlobStore, BlobWriter};

/// Bytes gathered before one write to the file. Writes run on the blocking pool, one at a
/// time, while the next batch gathers: at most two batches per writer. A batch is the
/// caller's own buffers, written with one `writev`, so bytes are copied only by the kernel.
const WRITE_BATCH: usize = 1 << 20;

/// Every this many bytes, the writer asks the kernel to start writing them to disk. Without
/// it the whole blob waits in the page cache for the fsync at commit, which then takes
/// about 30 ms per 64 MiB here, after the last byte has arrived; with it the disk works
/// while the body is still arriving and the final fsync has little left to do.
const WRITEBACK_STEP: u64 = 8 << 20;

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
            .await?
            .into_std()
            .await;
        Ok(Box::new(FsBlobWriter {
            file: FileState::Idle(FileWrite {
                file,
                batch: Vec::new(),
                written: 0,
                writeback_from: 0,
            }),
            batch: Vec::new(),
            batch_len: 0,
            done: false,
            tmp_path,
            final_path: self.path_of(&id),
            id,
        }))
    }

    async fn open(&self, id: &BlobId) -> io::Result<BlobReader> {
        let file = fs::File::open(self.path_of(id)).await?.into_std().await;
        Ok(Arc::new(FileReader(file)))
    }

    async fn delete(&self, id: &BlobId) -> io::Result<bool> {
        match fs::remove_file(self.path_of(id)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
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

/// A blob file, read with `pread`, so readers share it without a cursor.
struct FileReader(std::fs::File);

impl BlobRead for FileReader {
    fn append_at(&self, mut offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let end = out.len() + len;
        out.reserve(len);
        while out.len() < end {
            // Exactly the room still wanted: a reused buffer may have more, and reading
            // into all of it would fetch bytes past a range nobody asked for.
            let wanted = end - out.len();
            let room = &mut out.spare_capacity_mut()[..wanted];
            let filled = match rustix::io::pread(&self.0, room, offset) {
                Ok((filled, _)) => filled.len(),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if filled == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            offset += filled as u64;
            // SAFETY: `pread` initialised the first `filled` bytes of the spare capacity,
            // which begins at `out.len()`, and `filled` is at most its length.
            unsafe { out.set_len(out.len() + filled) };
        }
        Ok(())
    }

    fn is_in_memory(&self) -> bool {
        false
    }
}

struct FsBlobWriter {
    file: FileState,
    /// Bytes not yet handed to a file write, and their length.
    batch: Vec<Bytes>,
    batch_len: usize,
    /// Committed or aborted: the temporary file is renamed or already removed.
    done: bool,
    tmp_path: PathBuf,
    final_path: PathBuf,
    id: BlobId,
}

enum FileState {
    /// No write in flight.
    Idle(FileWrite),
    /// A write is running on the blocking pool; it hands everything back when done.
    Writing(JoinHandle<(FileWrite, io::Result<()>)>),
    /// Committed, aborted, or a write failed.
    Finished,
}

/// The file and what travels with it to the blocking pool.
struct FileWrite {
    file: std::fs::File,
    /// The batch being written; emptied once written, and swapped with the next.
    batch: Vec<Bytes>,
    /// Bytes in the file so far.
    written: u64,
    /// Where the next early writeback starts (see [`WRITEBACK_STEP`]).
    writeback_from: u64,
}

impl FileWrite {
    /// Appends the batch, then starts writeback once a step's worth has accumulated.
    fn write_batch(&mut self) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = self.batch.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        let mut len = 0;
        while !rest.is_empty() {
            match self.file.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    len += n as u64;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        drop(slices);
        self.batch.clear();
        self.written += len;
        if self.written - self.writeback_from >= WRITEBACK_STEP {
            start_writeback(&self.file, self.writeback_from, self.written);
            self.writeback_from = self.written;
        }
        Ok(())
    }
}

impl FsBlobWriter {
    /// Waits for the write in flight, if any, and takes the file back.
    async fn idle(&mut self) -> io::Result<FileWrite> {
        match std::mem::replace(&mut self.file, FileState::Finished) {
            FileState::Idle(write) => Ok(write),
            FileState::Writing(task) => {
                let (write, result) = task.await.map_err(io::Error::other)?;
                result?;
                Ok(write)
            }
            FileState::Finished => Err(io::Error::other("blob writer already finished")),
        }
    }

    /// Starts writing the gathered bytes, after the previous write has finished.
    async fn submit(&mut self) -> io::Result<()> {
        let mut write = self.idle().await?;
        std::mem::swap(&mut write.batch, &mut self.batch);
        self.batch_len = 0;
        self.file = FileState::Writing(tokio::task::spawn_blocking(move || {
            let result = write.write_batch();
            (write, result)
        }));
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for FsBlobWriter {
    async fn write(&mut self, data: Bytes) -> io::Result<()> {
        if matches!(self.file, FileState::Finished) {
            return Err(io::Error::other("blob writer already finished"));
        }
        self.batch_len += data.len();
        self.batch.push(data);
        if self.batch_len >= WRITE_BATCH {
            self.submit().await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> io::Result<BlobId> {
        let mut write = self.idle().await?;
        std::mem::swap(&mut write.batch, &mut self.batch);
        let dir = self
            .final_path
            .parent()
            .expect("blob paths have a shard folder")
            .to_owned();
        let (tmp_path, final_path) = (self.tmp_path.clone(), self.final_path.clone());
        // One trip to the blocking pool for the rest: last bytes, fsync, rename, and the
        // fsync of the folder, without which the new name is not durable.
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            write.write_batch()?;
            write.file.sync_all()?;
            drop(write);
            std::fs::create_dir_all(&dir)?;
            std::fs::rename(&tmp_path, &final_path)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(io::Error::other)??;
        self.done = true;
        Ok(self.id.clone())
    }

    async fn abort(mut self: Box<Self>) {
        let _ = self.idle().await;
        let _ = fs::remove_file(&self.tmp_path).await;
        self.done = true;
    }
}

impl Drop for FsBlobWriter {
    fn drop(&mut self) {
        // A writer dropped mid-body (client gone, error) or whose commit failed leaves
        // nothing behind. A write still in flight then lands in an unlinked file.
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Starts writing `from..to` of `file` to disk without waiting for it
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`). Purely an optimisation: durability comes
/// from the fsync at commit, so failures are ignored, and on other systems this does
/// nothing.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, from: u64, to: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(from), i64::try_from(to - from)) else {
        return;
    };
    // SAFETY: `file` keeps the descriptor open for the whole call, and `sync_file_range`
    // only reads its integer arguments; no memory is shared.
    unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _from: u64, _to: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_blob_store_contract() {
        crate::contract::blob::blob_store_contract(|| async {
            let dir = tempfile::tempdir().unwrap();
            let store = FsBlobStore::open(dir.path()).await.unwrap();
            (
                Box::new(dir) as crate::contract::Keep,
                Arc::new(store) as Arc<dyn BlobStore>,
            )
        })
        .await;
    }

    #[tokio::test]
    async fn blobs_past_the_writeback_step_read_back_intact() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        let mut w = store.create().await.unwrap();
        // Chunks of a size that does not divide the step, so ranges straddle chunks.
        let chunk: Vec<u8> = (0..700_001u32).map(|i| (i % 251) as u8).collect();
        let total = (3 * WRITEBACK_STEP) as usize;
        let mut expected = Vec::with_capacity(total + chunk.len());
        while expected.len() < total {
            w.write(Bytes::copy_from_slice(&chunk)).await.unwrap();
            expected.extend_from_slice(&chunk);
        }
        let id = w.commit().await.unwrap();
        let reader = store.open(&id).await.unwrap();
        let mut out = Vec::new();
        reader.append_at(0, expected.len(), &mut out).unwrap();
        assert!(out == expected, "blob differs from what was written");
        // A read that stops short of the end, into a buffer with more room than asked for.
        let mut part = Vec::with_capacity(3 << 20);
        reader.append_at(12345, 1 << 20, &mut part).unwrap();
        assert!(part[..] == expected[12345..12345 + (1 << 20)]);
        assert_eq!(part.len(), 1 << 20);
    }

    #[tokio::test]
    async fn uncommitted_blobs_leave_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        let mut dropped = store.create().await.unwrap();
        dropped.write(Bytes::from_static(b"partial")).await.unwrap();
        drop(dropped);
        let mut aborted = store.create().await.unwrap();
        aborted.write(Bytes::from_static(b"partial")).await.unwrap();
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
