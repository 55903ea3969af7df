//! PutObject and AppendObject.

use coffer_service::{KeySource, ObjectRecord, PutOptions};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::body::{RequestBody, ResponseBody, request_stream};
use crate::encryption::{declare, sse_request};
use crate::error::{OssError, OssResult};
use crate::headers::{content_md5, forbid_overwrite, object_attributes, quoted_etag};
use crate::{OssApi, RequestContext, empty_response};

fn put_options(ctx: &RequestContext) -> OssResult<PutOptions> {
    Ok(PutOptions {
        attributes: object_attributes(&ctx.headers)?,
        content_md5: content_md5(&ctx.headers)?,
        forbid_overwrite: forbid_overwrite(&ctx.headers),
        sse: sse_request(&ctx.headers)?,
        // OSS has no customer-provided keys: its keys are always managed.
        key_source: KeySource::Managed,
        caller: ctx.caller(),
    })
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Headers every write response carries about the object it wrote.
pub(crate) fn write_response(object: &ObjectRecord) -> Response<ResponseBody> {
    let mut response = empty_response(StatusCode::OK);
    let headers = response.headers_mut();
    set(headers, "etag", &quoted_etag(&object.etag));
    if let Some(crc) = object.crc64 {
        set(headers, "x-oss-hash-crc64ecma", &crc.to_string());
    }
    declare(object.encryption.as_ref(), headers);
    response
}

pub(crate) async fn put_object(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    reject_oversized_declared_length(ctx)?;
    let options = put_options(ctx)?;
    let object = api
        .service
        .put_object(ctx.bucket(), ctx.key(), request_stream(body), options)
        .await?;
    let mut response = write_response(&object);
    if let Some(md5) = &object.content_md5 {
        set(response.headers_mut(), "content-md5", md5);
    }
    Ok(response)
}

/// A declared length over the limit is refused before reading a byte of the body.
fn reject_oversized_declared_length(ctx: &RequestContext) -> OssResult<()> {
    let declared = crate::headers::header_str(&ctx.headers, "content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > crate::OSS_LIMITS.max_object_size) {
        return Err(coffer_service::ServiceError::EntityTooLarge.into());
    }
    Ok(())
}

pub(crate) async fn append_object(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    reject_oversized_declared_length(ctx)?;
    let raw = ctx.query.get("position").unwrap_or_default();
    let position: u64 = raw.parse().map_err(|_| {
        OssError::invalid_argument("position", raw, "The value of position is invalid.")
    })?;
    let options = put_options(ctx)?;
    let outcome = api
        .service
        .append_object(
            ctx.bucket(),
            ctx.key(),
            position,
            request_stream(body),
            options,
        )
        .await?;
    let mut response = write_response(&outcome.object);
    set(
        response.headers_mut(),
        "x-oss-next-append-position",
        &outcome.object.size.to_string(),
    );
    Ok(response)
}
