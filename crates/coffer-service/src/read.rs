//! The read path: an object's segments, or a range of them, as a stream of plaintext
//! frames. Segments are read in batches of about 1 MiB, one batch ahead of the frames being
//! sent. Encrypted segments are read in whole packages, from the one that holds the first
//! wanted byte to the one that holds the last, and every package is authenticated before
//! any of its bytes are released.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use coffer_crypto::PackageOpener;
use coffer_crypto::package::{HEADER_LEN, PACKAGE_PLAINTEXT, PACKAGE_STORED, locate, stored_len};
use coffer_storage::{BlobReader, BlobStore, ObjectRecord, Segment};
use futures_util::Stream;
use tokio::task::JoinHandle;

use crate::customer_key::KeySource;
use crate::range::ResolvedRange;
use crate::sse::ObjectKey;
use crate::{Service, ServiceResult};

/// Bytes per read of an unencrypted segment: large enough to amortise the trip through the
/// blocking pool that each read costs (at 256 KiB, unencrypted 64 MiB GETs ran at half the
/// speed of sealed ones, which read 1 MiB at a time), small enough that a slow client
/// holds little memory.
const READ_BATCH: usize = 1024 * 1024;
/// Packages per read of a sealed segment: about [`READ_BATCH`] of stored bytes.
const PACKAGES_PER_BATCH: u64 = (READ_BATCH / PACKAGE_PLAINTEXT) as u64;
/// Batch buffers a read keeps for reuse once the client has been sent their bytes. A
/// fresh 1 MiB buffer costs page faults and cold cache lines for the disk read to fill; a
/// reused one was touched moments ago.
const RECYCLED_BUFFERS: usize = 3;

/// A stream of an object's bytes. An error mid-stream ends the response early, which the
/// client sees as a truncated body rather than wrong bytes.
pub type ObjectBody = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// One segment's share of a read: `len` bytes from plaintext offset `offset`.
struct SegmentRead {
    segment: Segment,
    offset: u64,
    len: u64,
}

/// How far one segment's read has got. It travels to the blocking pool with each batch
/// and comes back with the batch's frames.
struct SegmentCursor {
    reader: BlobReader,
    /// Stored offset of the next batch.
    position: u64,
    /// Stored bytes still to read: up to the end of the package holding the last wanted
    /// byte, for a sealed segment.
    stored_left: u64,
    /// Plaintext bytes still to release.
    left: u64,
    /// For an encrypted object.
    sealed: Option<SealedCursor>,
}

struct SealedCursor {
    opener: PackageOpener,
    /// Plaintext bytes to drop from the next package, for a range that starts mid-package.
    skip: usize,
    /// The read ends where the segment ends, so its last package must be the FINAL one.
    must_end: bool,
}

/// Plaintext frames, slices of one batch's buffer.
type Frames = VecDeque<Bytes>;

/// A batch read: the cursor moved on, the batch's whole buffer and the frames cut from it.
type BatchRead = io::Result<(SegmentCursor, Bytes, Frames)>;

/// The batch read next. Batches are read (and opened) one ahead of the frames being
/// sent, so the disk and the cipher work while the client receives.
enum Batch {
    /// On the blocking pool.
    Reading(JoinHandle<BatchRead>),
    /// Read in place: the blob was in memory.
    Read(BatchRead),
}

struct ReadState {
    blobs: Arc<dyn BlobStore>,
    key: Option<Arc<ObjectKey>>,
    pending: std::vec::IntoIter<SegmentRead>,
    ready: Frames,
    next: Option<Batch>,
    /// Buffers of earlier batches, oldest first: reused once no frame of theirs is alive.
    used: VecDeque<Bytes>,
    /// `bucket/key`, to name the object when its data fails a check.
    name: Arc<str>,
}

impl Service {
    /// Streams `range` of the object (or all of it), decrypting as needed. The request's
    /// key source is checked, and the data key unwrapped (one KMS call for SSE-KMS), here,
    /// before the first byte.
    pub async fn open_object(
        &self,
        bucket: &str,
        object: &ObjectRecord,
        range: Option<ResolvedRange>,
        key_source: &KeySource,
        caller: &str,
    ) -> ServiceResult<ObjectBody> {
        let key = self
            .existing_key(object.encryption.as_ref(), key_source, caller)
            .await?
            .map(Arc::new);
        Ok(self.stream_object(bucket, object, range, key))
    }

    pub(crate) fn stream_object(
        &self,
        bucket: &str,
        object: &ObjectRecord,
        range: Option<ResolvedRange>,
        key: Option<Arc<ObjectKey>>,
    ) -> ObjectBody {
        let (mut first, mut remaining) = match range {
            Some(r) => (r.first, r.len()),
            None => (0, object.size),
        };
        let mut plan = Vec::new();
        for segment in &object.segments {
            if remaining == 0 {
                break;
            }
            if first >= segment.len {
                first -= segment.len;
                continue;
            }
            let take = (segment.len - first).min(remaining);
            plan.push(SegmentRead {
                segment: segment.clone(),
                offset: first,
                len: take,
            });
            remaining -= take;
            first = 0;
        }
        let state = ReadState {
            blobs: self.blobs.clone(),
            key,
            pending: plan.into_iter(),
            ready: Frames::new(),
            next: None,
            used: VecDeque::new(),
            name: format!("{bucket}/{}", object.key).into(),
        };
        Box::pin(futures_util::stream::try_unfold(state, next_frame))
    }
}

fn integrity_error(name: &str, detail: &str) -> io::Error {
    tracing::error!(
        object = name,
        detail,
        "stored object data failed its integrity check"
    );
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("stored data of {name} failed its integrity check"),
    )
}

async fn next_frame(mut state: ReadState) -> io::Result<Option<(Bytes, ReadState)>> {
    loop {
        if let Some(frame) = state.ready.pop_front() {
            return Ok(Some((frame, state)));
        }
        let read = match state.next.take() {
            Some(Batch::Reading(task)) => task.await.map_err(io::Error::other)?,
            Some(Batch::Read(read)) => read,
            None => match state.open_next_segment().await? {
                Some(cursor) => {
                    state.start_batch(cursor);
                    continue;
                }
                None => return Ok(None),
            },
        };
        let (cursor, whole, frames) = read?;
        state.ready = frames;
        if state.used.len() == RECYCLED_BUFFERS {
            state.used.pop_front();
        }
        state.used.push_back(whole);
        if cursor.left > 0 {
            state.start_batch(cursor);
        }
    }
}

impl ReadState {
    fn start_batch(&mut self, cursor: SegmentCursor) {
        let buf = self.reusable_buffer();
        self.next = Some(if cursor.reader.is_in_memory() {
            Batch::Read(cursor.read_batch(buf, &self.name))
        } else {
            let name = Arc::clone(&self.name);
            Batch::Reading(tokio::task::spawn_blocking(move || {
                cursor.read_batch(buf, &name)
            }))
        });
    }

    /// The oldest earlier batch's buffer if the client is done with it, else a new one.
    fn reusable_buffer(&mut self) -> Vec<u8> {
        let Some(oldest) = self.used.pop_front() else {
            return Vec::new();
        };
        match oldest.try_into_mut() {
            Ok(mut buf) => {
                // Emptied first, so turning it back into a Vec copies nothing.
                buf.clear();
                buf.into()
            }
            Err(still_sent) => {
                self.used.push_front(still_sent);
                Vec::new()
            }
        }
    }

    async fn open_next_segment(&mut self) -> io::Result<Option<SegmentCursor>> {
        let Some(read) = self.pending.next() else {
            return Ok(None);
        };
        let reader = self.blobs.open(&read.segment.blob).await?;
        let Some(key) = &self.key else {
            return Ok(Some(SegmentCursor {
                reader,
                position: read.offset,
                stored_left: read.len,
                left: read.len,
                sealed: None,
            }));
        };
        let segment_key = key
            .segment(read.segment.key_index)
            .map_err(|e| integrity_error(&self.name, &e.to_string()))?;
        let (first_package, position) = locate(read.offset);
        let end = read.offset + read.len;
        let last_package = (end - 1) / PACKAGE_PLAINTEXT as u64;
        let stored_end =
            ((last_package + 1) * PACKAGE_STORED as u64).min(stored_len(read.segment.len));
        Ok(Some(SegmentCursor {
            reader,
            position,
            stored_left: stored_end - position,
            left: read.len,
            sealed: Some(SealedCursor {
                opener: PackageOpener::new(segment_key, first_package),
                skip: (read.offset - first_package * PACKAGE_PLAINTEXT as u64) as usize,
                must_end: end == read.segment.len,
            }),
        }))
    }
}

impl SegmentCursor {
    /// Reads the next batch with one positional read and, for a sealed segment,
    /// authenticates and decrypts its packages in place, releasing only the wanted bytes.
    fn read_batch(mut self, mut buf: Vec<u8>, name: &str) -> BatchRead {
        let batch_max = match self.sealed {
            None => READ_BATCH as u64,
            Some(_) => PACKAGES_PER_BATCH * PACKAGE_STORED as u64,
        };
        let want = self.stored_left.min(batch_max) as usize;
        buf.clear();
        match self.reader.append_at(self.position, want, &mut buf) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(integrity_error(name, "blob is shorter than its record"));
            }
            read => read?,
        }
        self.position += want as u64;
        self.stored_left -= want as u64;
        let Some(sealed) = &mut self.sealed else {
            self.left -= want as u64;
            let whole = Bytes::from(buf);
            return Ok((self, whole.clone(), Frames::from([whole])));
        };
        let mut spans = Vec::with_capacity(PACKAGES_PER_BATCH as usize);
        let mut at = 0;
        while at < want && self.left > 0 {
            let header: [u8; HEADER_LEN] = buf
                .get(at..at + HEADER_LEN)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| integrity_error(name, "package cut short"))?;
            let len = sealed
                .opener
                .package_len(&header)
                .map_err(|_| integrity_error(name, "malformed package header"))?;
            let package = buf
                .get_mut(at..at + len)
                .ok_or_else(|| integrity_error(name, "package cut short"))?;
            let plain_len = sealed
                .opener
                .open(package)
                .map_err(|_| integrity_error(name, "package failed authentication"))?
                .len();
            let take = (plain_len.saturating_sub(sealed.skip) as u64).min(self.left) as usize;
            if take == 0 {
                return Err(integrity_error(
                    name,
                    "package shorter than the record says",
                ));
            }
            let start = at + HEADER_LEN + sealed.skip;
            spans.push(start..start + take);
            sealed.skip = 0;
            self.left -= take as u64;
            at += len;
        }
        if self.left == 0 && sealed.must_end && !sealed.opener.is_finished() {
            return Err(integrity_error(
                name,
                "segment continues past its recorded end",
            ));
        }
        if self.left > 0 && self.stored_left == 0 {
            return Err(integrity_error(
                name,
                "segment ends before its last package",
            ));
        }
        let whole = Bytes::from(buf);
        let frames = spans.into_iter().map(|span| whole.slice(span)).collect();
        Ok((self, whole, frames))
    }
}
