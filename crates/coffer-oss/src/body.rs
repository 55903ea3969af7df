//! Adapters between hyper bodies and the service's streams.

use std::io;

use bytes::{Bytes, BytesMut};
use coffer_service::{Body, BodyError, ObjectBody, ServiceError};
use futures_util::{StreamExt, TryStreamExt};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, BodyStream, Empty, Full, StreamBody};

use crate::error::{OssError, OssResult};

/// Every response body Coffer sends.
pub type ResponseBody = UnsyncBoxBody<Bytes, io::Error>;

pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub fn full(data: impl Into<Bytes>) -> ResponseBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn stream(object: ObjectBody) -> ResponseBody {
    BodyExt::boxed_unsync(StreamBody::new(object.map_ok(Frame::data)))
}

/// Every request body, once the server has adapted it; errors are already text.
pub type RequestBody = UnsyncBoxBody<Bytes, io::Error>;

/// Turns a request body into the service's byte stream. A body that ends before its
/// `Content-Length` surfaces as an error from hyper, so it can never be stored short.
pub fn request_stream(body: RequestBody) -> Body {
    Box::pin(BodyStream::new(body).filter_map(|frame| async move {
        match frame {
            Ok(frame) => frame.into_data().ok().map(Ok),
            Err(e) => Some(Err(BodyError(e.to_string()))),
        }
    }))
}

/// Largest XML request body accepted (CompleteMultipartUpload with 10,000 parts fits).
pub const MAX_XML_BODY: usize = 2 * 1024 * 1024;

/// Reads a small request body (XML documents) into memory, refusing oversized ones.
pub async fn collect_small(mut body: RequestBody, limit: usize) -> OssResult<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| OssError::from(ServiceError::IncompleteBody(e.to_string())))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(OssError::malformed_xml());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Most of an unread request body the server reads and discards before answering an
/// early error: enough that ordinary clients, still sending, can read the answer instead
/// of failing on a closed socket; bounded so a refused client cannot make the server read
/// gigabytes.
pub(crate) const DRAIN_LIMIT: usize = 8 * 1024 * 1024;
pub(crate) const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

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
