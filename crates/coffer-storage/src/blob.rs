use std::fmt;
use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Names one immutable blob. Blobs are written once, under a fresh random id, and never
/// modified, so a reader can never observe a half-overwritten object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct BlobId(String);

impl TryFrom<String> for BlobId {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        BlobId::parse(&s).ok_or_else(|| format!("not a blob id: {s:?}"))
    }
}

impl BlobId {
    pub fn random() -> Self {
        BlobId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Accepts only ids of the form [`BlobId::random`] makes, so an id read back from disk
    /// or a database can never name a path outside the store.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| BlobId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A committed blob, open for reading at any offset.
///
/// Reads are blocking and positional so that a reader can batch them on the blocking pool
/// straight into buffers it owns. An async file stages every byte in a buffer of its own
/// first, one more copy per byte, and sealed packages read one by one each cost a trip
/// through the pool.
pub trait BlobRead: Send + Sync {
    /// Appends the `len` bytes at `offset` to `out`, reading straight into its spare
    /// capacity: zeroing room for 1 MiB first cost half as much as decrypting it. A blob
    /// that ends first fails with [`io::ErrorKind::UnexpectedEof`], and `out` may then have
    /// grown by part of the bytes.
    fn append_at(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()>;
    /// Whether reads only copy memory and never wait for a disk, so a caller may run them
    /// in place instead of on the blocking pool.
    fn is_in_memory(&self) -> bool;
}

pub type BlobReader = Arc<dyn BlobRead>;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob. Nothing is visible until [`BlobWriter::commit`].
    async fn create(&self) -> io::Result<Box<dyn BlobWriter>>;
    /// Opens a committed blob for reading; a missing blob is [`io::ErrorKind::NotFound`].
    async fn open(&self, id: &BlobId) -> io::Result<BlobReader>;
    /// Removes a blob and tells whether it was there; a missing blob is not an error.
    async fn delete(&self, id: &BlobId) -> io::Result<bool>;
    /// Every committed blob, for the orphan sweep.
    async fn list(&self) -> io::Result<Vec<BlobId>>;
}

#[async_trait]
pub trait BlobWriter: Send {
    /// Appends `data`. It is taken by value so a store can keep the bytes it is given
    /// (reference-counted request frames, sealed packages) until it writes them, instead
    /// of copying them into a buffer of its own.
    async fn write(&mut self, data: Bytes) -> io::Result<()>;
    /// Makes the blob durable (data and name) and returns its id.
    async fn commit(self: Box<Self>) -> io::Result<BlobId>;
    /// Discards the blob. Dropping an uncommitted writer does the same, best-effort.
    async fn abort(self: Box<Self>);
}
