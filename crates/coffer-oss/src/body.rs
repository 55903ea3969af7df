//! Adapters between hyper bodies and the service's streams; the body types themselves are
//! `coffer_api`'s, shared by every dialect.

use bytes::{Bytes, BytesMut};
use coffer_service::{Body, BodyError, ObjectBody, ServiceError};
use futures_util::{StreamExt, TryStreamExt};
use http_body::Frame;
use http_body_util::{BodyExt, BodyStream, StreamBody};

use crate::error::{OssError, OssResult};

pub use coffer_api::body::{DRAIN_LIMIT, DRAIN_TIME, RequestBody, ResponseBody, empty, full};

pub fn stream(object: ObjectBody) -> ResponseBody {
    BodyExt::boxed_unsync(StreamBody::new(object.map_ok(Frame::data)))
}

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
