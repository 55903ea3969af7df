//! GetObject, HeadObject and GetObjectMeta.

use coffer_service::{ByteRange, KeySource, Preconditions, RangeMode};
use http::{HeaderValue, Response, StatusCode, header};

use crate::auth::Principal;
use crate::body::{self, ResponseBody};
use crate::encryption::declare;
use crate::error::{OssError, OssResult};
use crate::headers::{header_str, http_date, object_headers, parse_http_date, quoted_etag};
use crate::{OssApi, RequestContext, empty_response};

/// `response-*` query parameters and the headers they override.
const RESPONSE_OVERRIDES: &[(&str, header::HeaderName)] = &[
    ("response-content-type", header::CONTENT_TYPE),
    ("response-content-language", header::CONTENT_LANGUAGE),
    ("response-expires", header::EXPIRES),
    ("response-cache-control", header::CACHE_CONTROL),
    ("response-content-disposition", header::CONTENT_DISPOSITION),
    ("response-content-encoding", header::CONTENT_ENCODING),
];

pub(crate) fn preconditions(ctx: &RequestContext, prefix: &str) -> Preconditions {
    let get = |name: &str| header_str(&ctx.headers, &format!("{prefix}{name}")).map(str::to_owned);
    Preconditions {
        if_match: get("if-match"),
        if_none_match: get("if-none-match"),
        // An unparsable date is ignored, as OSS does.
        if_modified_since: get("if-modified-since").and_then(|v| parse_http_date(&v)),
        if_unmodified_since: get("if-unmodified-since").and_then(|v| parse_http_date(&v)),
    }
}

pub(crate) async fn get_object(
    api: &OssApi,
    ctx: &RequestContext,
    head: bool,
) -> OssResult<Response<ResponseBody>> {
    let object = api.service.head_object(ctx.bucket(), ctx.key()).await?;
    // OSS keys are managed: an object sealed under a customer's key (stored through
    // another dialect) is refused, for HEAD too, before anything about it is answered.
    KeySource::Managed.admits(object.encryption.as_ref())?;
    preconditions(ctx, "").check(&object)?;
    let mode = match header_str(&ctx.headers, "x-oss-range-behavior") {
        Some(v) if v.eq_ignore_ascii_case("standard") => RangeMode::Standard,
        _ => RangeMode::Legacy,
    };
    let range = match header_str(&ctx.headers, "range").and_then(ByteRange::parse) {
        Some(r) => r.resolve(object.size, mode)?,
        None => None,
    };
    let mut response = Response::new(body::empty());
    let headers = response.headers_mut();
    object_headers(&object, headers);
    let length = range.map_or(object.size, |r| r.len());
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(r) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!("bytes {}-{}/{}", r.first, r.last, r.total);
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&value).map_err(|e| OssError::internal(&e.to_string()))?,
        );
    }
    // Overrides apply only to signed requests, as on OSS.
    if matches!(ctx.principal, Principal::AccessKey { .. }) {
        for (param, name) in RESPONSE_OVERRIDES {
            if let Some(value) = ctx.query.get(param)
                && let Ok(v) = HeaderValue::from_str(value)
            {
                response.headers_mut().insert(name.clone(), v);
            }
        }
    }
    declare(object.encryption.as_ref(), response.headers_mut());
    if !head {
        let stream = api
            .service
            .open_object(
                ctx.bucket(),
                &object,
                range,
                &KeySource::Managed,
                &ctx.caller(),
            )
            .await?;
        *response.body_mut() = body::stream(first_frame_checked(stream, ctx).await?);
    }
    Ok(response)
}

/// Reads the first frame before the status line is sent, so that data which is missing
/// or fails authentication right away gets an error response instead of a 200 with a
/// cut-off body. (Later failures can only end the body early.)
async fn first_frame_checked(
    mut stream: coffer_service::ObjectBody,
    ctx: &RequestContext,
) -> OssResult<coffer_service::ObjectBody> {
    use futures_util::StreamExt;
    match stream.next().await {
        None => Ok(stream),
        Some(Ok(first)) => Ok(Box::pin(
            futures_util::stream::once(async move { Ok(first) }).chain(stream),
        )),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
            Err(coffer_service::ServiceError::Integrity {
                bucket: ctx.bucket().to_owned(),
                key: ctx.key().to_owned(),
            }
            .into())
        }
        Some(Err(e)) => Err(OssError::internal(&format!(
            "reading {}/{}: {e}",
            ctx.bucket(),
            ctx.key()
        ))),
    }
}

/// The short form of HEAD: only ETag, size, time and CRC.
pub(crate) async fn get_object_meta(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let object = api.service.head_object(ctx.bucket(), ctx.key()).await?;
    KeySource::Managed.admits(object.encryption.as_ref())?;
    let mut response = empty_response(StatusCode::OK);
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("etag", quoted_etag(&object.etag));
    set("content-length", object.size.to_string());
    set("last-modified", http_date(object.last_modified_ms));
    set("x-oss-last-access-time", http_date(object.last_modified_ms));
    if let Some(crc) = object.crc64 {
        set("x-oss-hash-crc64ecma", crc.to_string());
    }
    declare(object.encryption.as_ref(), response.headers_mut());
    Ok(response)
}
