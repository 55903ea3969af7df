//! The body types every dialect's handlers take and return, and the bounded drain of a
//! body left unread by an early refusal.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// Every response body Coffer sends.
pub type ResponseBody = UnsyncBoxBody<Bytes, io::Error>;

/// Every request body, once the pipeline has adapted it; errors are already text.
pub type RequestBody = UnsyncBoxBody<Bytes, io::Error>;

pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub fn full(data: impl Into<Bytes>) -> ResponseBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Most of an unread request body the server reads and discards before answering an
/// early error: enough that ordinary clients, still sending, can read the answer instead
/// of failing on a closed socket; bounded so a refused client cannot make the server read
/// gigabytes.
pub const DRAIN_LIMIT: usize = 8 * 1024 * 1024;
/// Longest the server spends draining one refused body.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads and discards up to [`DRAIN_LIMIT`] bytes of `body`, for at most [`DRAIN_TIME`].
pub async fn drain(mut body: RequestBody) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}
