//! CopyObject, and the copy-source header shared with UploadPartCopy.

use coffer_service::{CopyOptions, CopySource, KeySource, MetadataDirective};
use http::{HeaderValue, Response};
use percent_encoding::percent_decode_str;

use crate::body::ResponseBody;
use crate::bucket::iso_time;
use crate::encryption::{declare, sse_request};
use crate::error::{OssError, OssResult, copy_error};
use crate::get::preconditions;
use crate::headers::{forbid_overwrite, header_str, object_attributes, quoted_etag};
use crate::xml;
use crate::{OssApi, RequestContext, xml_response};

/// Parses `x-oss-copy-source: /bucket/url-encoded-key` and its `x-oss-copy-source-if-*`
/// conditions.
pub(crate) fn copy_source(ctx: &RequestContext) -> OssResult<CopySource> {
    let raw = header_str(&ctx.headers, "x-oss-copy-source").unwrap_or_default();
    let invalid = || {
        OssError::invalid_argument(
            "x-oss-copy-source",
            raw,
            "Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.",
        )
    };
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    if !query.is_empty() {
        return Err(OssError::not_implemented(
            "Copying a specific object version",
        ));
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = path.split_once('/').ok_or_else(invalid)?;
    let key = percent_decode_str(key)
        .decode_utf8()
        .map_err(|_| invalid())?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok(CopySource {
        bucket: bucket.to_owned(),
        key: key.into_owned(),
        conditions: preconditions(ctx, "x-oss-copy-source-"),
        key_source: KeySource::Managed,
    })
}

pub(crate) async fn copy_object(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let source = copy_source(ctx)?;
    let directive = match header_str(&ctx.headers, "x-oss-metadata-directive") {
        None => MetadataDirective::Copy,
        Some(v) if v.eq_ignore_ascii_case("COPY") => MetadataDirective::Copy,
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => {
            MetadataDirective::Replace(object_attributes(&ctx.headers)?)
        }
        Some(v) => {
            return Err(OssError::invalid_argument(
                "x-oss-metadata-directive",
                v,
                "Invalid metadata directive.",
            ));
        }
    };
    let requested = object_attributes(&ctx.headers)?;
    let options = CopyOptions {
        directive,
        acl: requested.acl,
        storage_class: requested.storage_class,
        forbid_overwrite: forbid_overwrite(&ctx.headers),
        sse: sse_request(&ctx.headers)?,
        key_source: KeySource::Managed,
        caller: ctx.caller(),
    };
    let object = api
        .service
        .copy_object(&source, ctx.bucket(), ctx.key(), options)
        .await
        .map_err(copy_error)?;
    let document = xml::CopyObjectResult {
        etag: quoted_etag(&object.etag),
        last_modified: iso_time(object.last_modified_ms),
    };
    let mut response = xml_response(document.to_xml())?;
    if let Ok(v) = HeaderValue::from_str(&quoted_etag(&object.etag)) {
        response.headers_mut().insert("etag", v);
    }
    if let Some(crc) = object.crc64 {
        response
            .headers_mut()
            .insert("x-oss-hash-crc64ecma", HeaderValue::from(crc));
    }
    declare(object.encryption.as_ref(), response.headers_mut());
    Ok(response)
}
