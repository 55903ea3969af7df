//! The read path: an object's segments, or a range of them, as a stream of plaintext
//! frames. Encrypted segments are read package by package, starting at the package that
//! holds the first wanted byte, and every package is authenticated before any of its
//! bytes are released.

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use coffer_crypto::PackageOpener;
use coffer_crypto::package::{HEADER_LEN, PACKAGE_PLAINTEXT, locate, stored_len};
use coffer_storage::{BlobReader, BlobStore, ObjectRecord, Segment};
use futures_util::Stream;
use tokio::io::AsyncReadExt;

use crate::range::ResolvedRange;
use crate::sse::ObjectKey;
use crate::{Service, ServiceResult};

/// Frame size for plaintext reads: large enough to amortise the trip through the blocking
/// file pool that each read costs (at 256 KiB, unencrypted 64 MiB GETs ran at half the
/// speed of sealed ones, which read through a 1 MiB buffer), small enough that a slow
/// client holds little memory.
const READ_CHUNK: usize = 1024 * 1024;
/// Read-ahead for sealed segments: several packages per file read.
const SEALED_READ_BUFFER: usize = 1024 * 1024;

/// A stream of an object's bytes. An error mid-stream ends the response early, which the
/// client sees as a truncated body rather than wrong bytes.
pub type ObjectBody = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// One segment's share of a read: `len` bytes from plaintext offset `offset`.
struct SegmentRead {
    segment: Segment,
    offset: u64,
    len: u64,
}

enum Source {
    Plain {
        reader: BlobReader,
        left: u64,
    },
    Sealed {
        reader: BlobReader,
        opener: PackageOpener,
        skip: usize,
        left: u64,
        must_end: bool,
    },
}

struct ReadState {
    blobs: Arc<dyn BlobStore>,
    key: Option<Arc<ObjectKey>>,
    pending: std::vec::IntoIter<SegmentRead>,
    current: Option<Source>,
    /// `bucket/key`, to name the object when its data fails a check.
    name: String,
}

impl Service {
    /// Streams `range` of the object (or all of it), decrypting as needed. Unwrapping the
    /// data key (one KMS call for SSE-KMS) happens here, before the first byte.
    pub async fn open_object(
        &self,
        bucket: &str,
        object: &ObjectRecord,
        range: Option<ResolvedRange>,
        caller: &str,
    ) -> ServiceResult<ObjectBody> {
        let key = match &object.encryption {
            Some(envelope) => Some(Arc::new(self.object_key(envelope, caller).await?)),
            None => None,
        };
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
            current: None,
            name: format!("{bucket}/{}", object.key),
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
        match state.current.as_mut() {
            Some(Source::Plain { reader, left }) if *left > 0 => {
                let want = (*left).min(READ_CHUNK as u64) as usize;
                let mut buf = BytesMut::zeroed(want);
                let n = reader.read(&mut buf).await?;
                if n == 0 {
                    return Err(integrity_error(
                        &state.name,
                        "blob is shorter than its record",
                    ));
                }
                buf.truncate(n);
                *left -= n as u64;
                return Ok(Some((buf.freeze(), state)));
            }
            Some(Source::Sealed {
                reader,
                opener,
                skip,
                left,
                must_end,
            }) if *left > 0 => {
                let mut header = [0u8; HEADER_LEN];
                if reader.read_exact(&mut header).await.is_err() {
                    return Err(integrity_error(
                        &state.name,
                        "segment ends before its last package",
                    ));
                }
                let len = opener
                    .package_len(&header)
                    .map_err(|_| integrity_error(&state.name, "malformed package header"))?;
                let mut package = BytesMut::zeroed(len);
                package[..HEADER_LEN].copy_from_slice(&header);
                if reader.read_exact(&mut package[HEADER_LEN..]).await.is_err() {
                    return Err(integrity_error(&state.name, "package cut short"));
                }
                let plain_len = opener
                    .open(&mut package)
                    .map_err(|_| integrity_error(&state.name, "package failed authentication"))?
                    .len();
                let start = HEADER_LEN + *skip;
                let take = ((plain_len.saturating_sub(*skip)) as u64).min(*left) as usize;
                if take == 0 {
                    return Err(integrity_error(
                        &state.name,
                        "package shorter than the record says",
                    ));
                }
                *skip = 0;
                *left -= take as u64;
                if *left == 0 && *must_end && !opener.is_finished() {
                    return Err(integrity_error(
                        &state.name,
                        "segment continues past its recorded end",
                    ));
                }
                let frame = package.freeze().slice(start..start + take);
                return Ok(Some((frame, state)));
            }
            _ => {}
        }
        state.current = None;
        let Some(read) = state.pending.next() else {
            return Ok(None);
        };
        state.current = Some(match &state.key {
            None => Source::Plain {
                reader: state.blobs.open(&read.segment.blob, read.offset).await?,
                left: read.len,
            },
            Some(key) => {
                let segment_key = key
                    .segment(read.segment.key_index)
                    .map_err(|e| integrity_error(&state.name, &e.to_string()))?;
                let (index, stored_offset) = locate(read.offset);
                Source::Sealed {
                    // Packages are read header first, then body: buffer them, so each
                    // small read is not a trip through the blocking file pool. A small
                    // object gets a buffer its size, not a whole MiB to zero and free.
                    reader: Box::pin(tokio::io::BufReader::with_capacity(
                        usize::try_from(stored_len(read.segment.len).saturating_sub(stored_offset))
                            .map_or(SEALED_READ_BUFFER, |n| n.clamp(1, SEALED_READ_BUFFER)),
                        state.blobs.open(&read.segment.blob, stored_offset).await?,
                    )),
                    opener: PackageOpener::new(segment_key, index),
                    skip: (read.offset - index * PACKAGE_PLAINTEXT as u64) as usize,
                    left: read.len,
                    must_end: read.offset + read.len == read.segment.len,
                }
            }
        });
    }
}
