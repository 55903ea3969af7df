//! PostObject: browser form upload, `POST /` on a bucket with a `multipart/form-data` body
//! (oss-api.md §2.3, §3.6).
//!
//! The form fields before `file` are read into memory (bounded by [`MAX_FORM_BYTES`] and
//! [`MAX_FORM_FIELDS`]); they carry the key, the signed policy and what PutObject takes as
//! headers. Then the policy is verified ([`crate::auth::post_policy`]), the caller is
//! authorized as for PutObject of the resulting key, and the `file` part is streamed into the
//! service without being buffered. Fields after `file` are ignored, as they come too late to
//! matter (the reference form ends with a `submit` field).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use coffer_service::{BodyError, KeySource, ObjectRecord, PutOptions, ServiceError};
use futures_util::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use crate::access;
use crate::auth::AuthContext;
use crate::auth::post_policy::{self, FormFields};
use crate::body::{self, RequestBody, ResponseBody};
use crate::encryption::sse_request;
use crate::error::{ErrorCode, OssError, OssResult};
use crate::headers::{content_md5, forbid_overwrite, object_attributes, quoted_etag};
use crate::operation::Operation;
use crate::put::write_response;
use crate::router::{Query, Target};
use crate::xml::escape_text;
use crate::{OssApi, RequestContext};

/// Largest total size of the form fields before `file` (names and values).
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Most form fields accepted before `file`.
pub const MAX_FORM_FIELDS: usize = 128;
/// Most bytes of trailing fields (after `file`) read to leave the connection reusable.
const MAX_TRAILER_BYTES: usize = 64 * 1024;
/// Most bytes handed to the multipart parser per poll. The parser reads its input until it
/// would block, so this keeps a fast client from filling memory faster than the store drains.
const PARSER_BURST: usize = 256 * 1024;

/// Form fields that become object headers, besides `x-oss-meta-*` and the content type.
const HEADER_FIELDS: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "content-md5",
    "x-oss-object-acl",
    "x-oss-storage-class",
    "x-oss-forbid-overwrite",
    // Carried so that the same check as PutObject's refuses it (tags are not stored yet).
    crate::unsupported::TAGGING,
    crate::encryption::SSE,
    crate::encryption::SSE_DATA,
    crate::encryption::SSE_KEY_ID,
];

/// EC doc: the form is not well-formed (e.g. cut short).
fn malformed(detail: impl std::fmt::Display) -> OssError {
    tracing::debug!(%detail, "malformed PostObject form");
    OssError::of(
        ErrorCode::PostMalformed,
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

/// EC guess; code and message from the OSS 400 error catalogue.
fn not_multipart() -> OssError {
    OssError::of(
        ErrorCode::PostNotMultipart,
        "Bucket POST must be of the enclosure-type multipart/form-data.",
    )
}

/// EC doc: the form has no `file` field.
fn file_missing() -> OssError {
    OssError::of(
        ErrorCode::PostFileMissing,
        "The body of your POST request is not well-formed multipart/form-data: the file field is missing; it must be the last field.",
    )
}

/// EC guess; `FieldItemTooLong` is the code OSS lists for oversized form fields.
fn fields_too_large() -> OssError {
    OssError::of(
        ErrorCode::PostFieldsTooLarge,
        format!(
            "Your POST request fields preceding the upload file were too large (at most {MAX_FORM_FIELDS} fields and {MAX_FORM_BYTES} bytes)."
        ),
    )
}

/// EC doc: larger than `content-length-range` (or 5 GiB).
fn entity_too_large() -> OssError {
    OssError::of(
        ErrorCode::PostEntityTooLarge,
        "Your proposed upload exceeds the maximum allowed size.",
    )
}

/// EC doc: smaller than `content-length-range`.
fn entity_too_small() -> OssError {
    OssError::of(
        ErrorCode::PostEntityTooSmall,
        "Your proposed upload is smaller than the minimum allowed size.",
    )
}

/// The boundary of a `multipart/form-data` request, or the OSS error for its absence.
fn boundary(headers: &HeaderMap) -> OssResult<String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(not_multipart)?;
    match multer::parse_boundary(content_type) {
        Ok(boundary) => Ok(boundary),
        Err(multer::Error::NoBoundary) => Err(malformed("no boundary parameter")),
        Err(_) => Err(not_multipart()),
    }
}

pub(crate) async fn post_object(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    let boundary = boundary(&ctx.headers)?;
    let declared = crate::headers::header_str(&ctx.headers, "content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| {
        n > crate::OSS_LIMITS.max_object_size + 2 * (MAX_FORM_BYTES + MAX_TRAILER_BYTES) as u64
    }) {
        return Err(entity_too_large());
    }
    let input = Bursts {
        inner: body.into_data_stream(),
        budget: PARSER_BURST,
    };
    let mut multipart = multer::Multipart::new(input, boundary);

    // Fields up to `file`.
    let mut form = FormFields::new();
    let mut form_bytes = 0usize;
    let file = loop {
        let Some(mut field) = multipart.next_field().await.map_err(malformed)? else {
            return Err(file_missing());
        };
        let name = field
            .name()
            .ok_or_else(|| malformed("a part without a field name"))?
            .to_owned();
        if name.eq_ignore_ascii_case("file") {
            break field;
        }
        if form.len() >= MAX_FORM_FIELDS {
            return Err(fields_too_large());
        }
        form_bytes += name.len();
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            form_bytes += chunk.len();
            if form_bytes > MAX_FORM_BYTES {
                return Err(fields_too_large());
            }
            value.extend_from_slice(&chunk);
        }
        let value =
            String::from_utf8(value).map_err(|_| malformed("a field value is not UTF-8"))?;
        form.push(&name, value);
    };
    let file_name = file.file_name().unwrap_or_default().to_owned();
    let file_type = file
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (object_ctx, options, range) =
        match prepare_upload(api, ctx, &form, &file_name, file_type.as_deref()).await {
            Ok(prepared) => prepared,
            Err(e) => {
                // A refusal must reach the client: closing on a body it is still sending
                // would reset the connection before the answer is read.
                let _ = tokio::time::timeout(crate::body::DRAIN_TIME, async {
                    if drain_file(file).await {
                        drain_trailer(&mut multipart).await;
                    }
                })
                .await;
                return Err(e);
            }
        };

    let verdict = Arc::new(AtomicU8::new(FILE_OK));
    let file = FileStream {
        field: file,
        seen: 0,
        min: range.0,
        max: range.1,
        verdict: verdict.clone(),
        done: false,
    };
    let stored = api
        .service
        .put_object(
            object_ctx.bucket(),
            object_ctx.key(),
            Box::pin(file),
            options,
        )
        .await;
    let object = match stored {
        Ok(object) => object,
        Err(err @ ServiceError::IncompleteBody(_)) => {
            return Err(match verdict.load(Ordering::Acquire) {
                FILE_TOO_LARGE => entity_too_large(),
                FILE_TOO_SMALL => entity_too_small(),
                FILE_MALFORMED => malformed(err_detail(&err)),
                _ => err.into(),
            });
        }
        Err(err) => return Err(err.into()),
    };
    drain_trailer(&mut multipart).await;
    success(ctx, &form, &object_ctx, &object)
}

/// Everything decided before the file is read: the key, the form's signature and policy,
/// the caller's permission and the upload's options, with the policy's size range.
async fn prepare_upload(
    api: &OssApi,
    ctx: &RequestContext,
    form: &FormFields,
    file_name: &str,
    file_type: Option<&str>,
) -> OssResult<(RequestContext, PutOptions, (u64, u64))> {
    let raw_key = form
        .get("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| OssError::invalid_argument("key", "", "The key form field is required."))?;
    let auth = post_policy::authenticate(
        form,
        &*api.identities,
        &AuthContext {
            region: api.config.region.clone(),
            now: SystemTime::now(),
        },
    )
    .await?;
    let mut range = (0, crate::OSS_LIMITS.max_object_size);
    if let Some(policy) = &auth.policy {
        policy.check(ctx.bucket(), form, file_type)?;
        if let Some((min, max)) = policy.content_length_range() {
            range = (min, max.min(crate::OSS_LIMITS.max_object_size));
        }
    }
    // The policy constrains the key as sent; `${filename}` is expanded afterwards.
    let key = raw_key.replace("${filename}", file_name);

    let object_ctx = RequestContext {
        target: Target {
            bucket: Some(ctx.bucket().to_owned()),
            key: Some(key),
        },
        query: Query::default(),
        headers: object_headers(form, file_type)?,
        principal: auth.principal,
        host: ctx.host.clone(),
        remote: ctx.remote,
        secure: ctx.secure,
    };
    if form.get("callback").is_some() {
        return Err(OssError::not_implemented(
            "Upload callbacks (the callback form field)",
        ));
    }
    crate::unsupported::check(Operation::PostObject, &object_ctx.headers)?;
    // PostObject needs what PutObject of the same key needs (oss:PutObject); anonymous
    // forms therefore need a public-read-write bucket.
    access::authorize(api, &object_ctx, Operation::PutObject).await?;
    let options = PutOptions {
        attributes: object_attributes(&object_ctx.headers)?,
        content_md5: content_md5(&object_ctx.headers)?,
        forbid_overwrite: forbid_overwrite(&object_ctx.headers),
        sse: sse_request(&object_ctx.headers)?,
        key_source: KeySource::Managed,
        caller: object_ctx.caller(),
    };
    Ok((object_ctx, options, range))
}

fn err_detail(err: &ServiceError) -> String {
    match err {
        ServiceError::IncompleteBody(detail) => detail.clone(),
        other => format!("{other:?}"),
    }
}

/// The request headers a PutObject of this form would have carried.
fn object_headers(form: &FormFields, file_type: Option<&str>) -> OssResult<HeaderMap> {
    let mut headers = HeaderMap::new();
    let mut set = |name: &str, value: &str| -> OssResult<()> {
        let invalid = || {
            OssError::invalid_argument(name, value, format!("The {name} form field is invalid."))
        };
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let header_value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        if !headers.contains_key(&header_name) {
            headers.insert(header_name, header_value);
        }
        Ok(())
    };
    for (name, value) in form.iter() {
        if name.starts_with(crate::headers::META_PREFIX) || HEADER_FIELDS.contains(&name) {
            set(name, value)?;
        }
    }
    // x-oss-content-type, then the type the browser gave the file, then the Content-Type
    // field (browsers overwrite what the page sets, hence x-oss-content-type).
    let content_type = form
        .get("x-oss-content-type")
        .or(file_type)
        .or(form.get("content-type"));
    if let Some(content_type) = content_type {
        set("content-type", content_type)?;
    }
    Ok(headers)
}

/// The response `success_action_redirect` or `success_action_status` asks for.
fn success(
    ctx: &RequestContext,
    form: &FormFields,
    object_ctx: &RequestContext,
    object: &ObjectRecord,
) -> OssResult<Response<ResponseBody>> {
    let mut response = write_response(object);
    if let Some(md5) = &object.content_md5
        && let Ok(v) = HeaderValue::from_str(md5)
    {
        response.headers_mut().insert("content-md5", v);
    }
    let bucket = object_ctx.bucket();
    let key = object_ctx.key();
    let etag = quoted_etag(&object.etag);
    if let Some(redirect) = form
        .get("success_action_redirect")
        .filter(|r| !r.is_empty())
    {
        let separator = if redirect.contains('?') { '&' } else { '?' };
        let encode = coffer_sigv4::encode_query_component;
        let location = format!(
            "{redirect}{separator}bucket={}&key={}&etag={}",
            encode(bucket),
            encode(key),
            encode(&etag)
        );
        let location = HeaderValue::from_str(&location).map_err(|_| {
            OssError::invalid_argument(
                "success_action_redirect",
                redirect,
                "The success_action_redirect form field is not a valid URL.",
            )
        })?;
        *response.status_mut() = StatusCode::SEE_OTHER;
        response.headers_mut().insert(header::LOCATION, location);
        return Ok(response);
    }
    match form.get("success_action_status") {
        Some("200") => Ok(response),
        Some("201") => {
            let document = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Bucket>{}</Bucket><Location>{}</Location><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                escape_text(bucket),
                escape_text(&location(ctx, bucket, key)),
                escape_text(key),
                escape_text(&etag),
            );
            *response.status_mut() = StatusCode::CREATED;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(document.len()));
            *response.body_mut() = body::full(document);
            Ok(response)
        }
        // 204 is the default, and what any other value gets.
        _ => {
            *response.status_mut() = StatusCode::NO_CONTENT;
            response.headers_mut().remove(header::CONTENT_LENGTH);
            Ok(response)
        }
    }
}

/// `http://<host>/<key>` for a virtual-hosted request, `http://<host>/<bucket>/<key>` else.
fn location(ctx: &RequestContext, bucket: &str, key: &str) -> String {
    let host = if ctx.host.is_empty() {
        "localhost"
    } else {
        ctx.host.as_str()
    };
    let key = coffer_sigv4::encode_path(key);
    let virtual_hosted = host
        .to_ascii_lowercase()
        .starts_with(&format!("{}.", bucket.to_ascii_lowercase()));
    if virtual_hosted {
        format!("http://{host}/{key}")
    } else {
        format!("http://{host}/{bucket}/{key}")
    }
}

/// Reads (a bounded amount of) the fields after `file` so the connection stays usable.
async fn drain_trailer(multipart: &mut multer::Multipart<'static>) {
    let mut left = MAX_TRAILER_BYTES;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                return;
            }
        }
    }
}

/// Reads and drops what is left of the `file` part, up to the limit of any other refused
/// request body; says whether it reached the part's end.
async fn drain_file(mut file: multer::Field<'static>) -> bool {
    let mut seen = 0;
    while let Ok(Some(chunk)) = file.chunk().await {
        seen += chunk.len();
        if seen > crate::body::DRAIN_LIMIT {
            return false;
        }
    }
    true
}

const FILE_OK: u8 = 0;
const FILE_TOO_LARGE: u8 = 1;
const FILE_TOO_SMALL: u8 = 2;
const FILE_MALFORMED: u8 = 3;

/// The `file` part as the service's body stream: enforces the policy's
/// `content-length-range` and records why it failed, for the error report.
struct FileStream {
    field: multer::Field<'static>,
    seen: u64,
    min: u64,
    max: u64,
    verdict: Arc<AtomicU8>,
    done: bool,
}

impl FileStream {
    fn fail(&mut self, verdict: u8, detail: String) -> Poll<Option<Result<Bytes, BodyError>>> {
        self.done = true;
        self.verdict.store(verdict, Ordering::Release);
        Poll::Ready(Some(Err(BodyError(detail))))
    }
}

impl Stream for FileStream {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.field).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.max {
                    let detail = format!("the file exceeds {} bytes", this.max);
                    return this.fail(FILE_TOO_LARGE, detail);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => this.fail(FILE_MALFORMED, e.to_string()),
            Poll::Ready(None) if this.seen < this.min => {
                let detail = format!("the file is under {} bytes", this.min);
                this.fail(FILE_TOO_SMALL, detail)
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Yields at most [`PARSER_BURST`] bytes per run of ready data, then returns `Pending` once
/// (after waking itself), so the multipart parser's read-ahead stays bounded.
struct Bursts<S> {
    inner: S,
    budget: usize,
}

impl<S> Stream for Bursts<S>
where
    S: Stream<Item = Result<Bytes, io::Error>> + Unpin,
{
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.budget == 0 {
            this.budget = PARSER_BURST;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                this.budget = this.budget.saturating_sub(chunk.len());
            }
            Poll::Pending => this.budget = PARSER_BURST,
            _ => {}
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormFields {
        let mut f = FormFields::new();
        for (n, v) in pairs {
            f.push(n, (*v).to_owned());
        }
        f
    }

    #[test]
    fn object_headers_pick_form_fields_and_content_type_order() {
        let f = form(&[
            ("key", "k"),
            ("Content-Type", "text/plain"),
            ("X-OSS-Meta-Color", "red"),
            ("Cache-Control", "no-cache"),
            ("policy", "xyz"),
            ("x-oss-server-side-encryption", "KMS"),
        ]);
        let h = object_headers(&f, Some("image/png")).unwrap();
        assert_eq!(h.get("content-type").unwrap(), "image/png");
        assert_eq!(h.get("x-oss-meta-color").unwrap(), "red");
        assert_eq!(h.get("cache-control").unwrap(), "no-cache");
        assert_eq!(h.get("x-oss-server-side-encryption").unwrap(), "KMS");
        assert!(h.get("policy").is_none() && h.get("key").is_none());
        let h = object_headers(&f, None).unwrap();
        assert_eq!(h.get("content-type").unwrap(), "text/plain");
        let mut f = f;
        f.push("x-oss-content-type", "application/json".into());
        let h = object_headers(&f, Some("image/png")).unwrap();
        assert_eq!(h.get("content-type").unwrap(), "application/json");
        let bad = form(&[("cache-control", "a\u{7f}b")]);
        assert_eq!(
            object_headers(&bad, None).unwrap_err().code.as_str(),
            "InvalidArgument"
        );
    }

    #[test]
    fn boundary_errors() {
        let mut h = HeaderMap::new();
        assert_eq!(
            boundary(&h).unwrap_err().code.as_str(),
            "RequestIsNotMultiPartContent"
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        assert_eq!(
            boundary(&h).unwrap_err().code.as_str(),
            "RequestIsNotMultiPartContent"
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data"),
        );
        assert_eq!(
            boundary(&h).unwrap_err().code.as_str(),
            "MalformedPOSTRequest"
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=abc"),
        );
        assert_eq!(boundary(&h).unwrap(), "abc");
    }
}
