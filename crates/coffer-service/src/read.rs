//! The read path: an object's segments, or a range of them, as a stream of frames.

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use coffer_storage::{BlobReader, BlobStore, ObjectRecord, Segment};
use futures_util::Stream;
use tokio::io::AsyncReadExt;

use crate::Service;
use crate::range::ResolvedRange;

/// Frame size for reads: large enough to amortise syscalls, small enough that a slow
/// client holds little memory.
const READ_CHUNK: usize = 256 * 1024;

/// A stream of an object's bytes. An I/O error mid-stream ends the response early, which
/// the client sees as a truncated body rather than wrong bytes.
pub type ObjectBody = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

struct ReadState {
    blobs: Arc<dyn BlobStore>,
    /// (segment, offset within it, bytes to read from it), in order.
    pending: std::vec::IntoIter<(Segment, u64, u64)>,
    current: Option<(BlobReader, u64)>,
}

impl Service {
    /// Streams `range` of the object (or all of it).
    pub fn read_object(&self, object: &ObjectRecord, range: Option<ResolvedRange>) -> ObjectBody {
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
            plan.push((segment.clone(), first, take));
            remaining -= take;
            first = 0;
        }
        let state = ReadState {
            blobs: self.blobs.clone(),
            pending: plan.into_iter(),
            current: None,
        };
        Box::pin(futures_util::stream::try_unfold(state, next_frame))
    }
}

async fn next_frame(mut state: ReadState) -> io::Result<Option<(Bytes, ReadState)>> {
    loop {
        if let Some((reader, left)) = state.current.as_mut() {
            if *left > 0 {
                let want = (*left).min(READ_CHUNK as u64) as usize;
                let mut buf = BytesMut::zeroed(want);
                let n = reader.read(&mut buf).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stored blob is shorter than its record",
                    ));
                }
                buf.truncate(n);
                *left -= n as u64;
                return Ok(Some((buf.freeze(), state)));
            }
            state.current = None;
        }
        match state.pending.next() {
            None => return Ok(None),
            Some((segment, offset, len)) => {
                let reader = state.blobs.open(&segment.blob, offset).await?;
                state.current = Some((reader, len));
            }
        }
    }
}
