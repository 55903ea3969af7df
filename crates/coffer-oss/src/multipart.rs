//! Multipart uploads: initiate, upload part (and part copy), complete, abort, list.

use coffer_service::{
    ByteRange, CompleteOptions, CompletePart, KeySource, PartTarget, common_prefix, resume_point,
};
use http::{HeaderValue, Response, StatusCode};

use crate::body::{MAX_XML_BODY, RequestBody, ResponseBody, collect_small, request_stream};
use crate::bucket::{bounded_param, iso_time};
use crate::copy::copy_source;
use crate::encryption::{SSE, SSE_DATA, SSE_KEY_ID, declare, reject_sse_headers, sse_request};
use crate::error::{OssError, OssResult, copy_error};
use crate::headers::{
    content_md5, forbid_overwrite, header_str, object_attributes, parse_object_acl, quoted_etag,
};
use crate::list::url_encoding;
use crate::put::write_response;
use crate::xml;
use crate::{OssApi, RequestContext, empty_response, xml_response};

fn upload_id(ctx: &RequestContext) -> &str {
    ctx.query.get("uploadId").unwrap_or_default()
}

fn part_target(ctx: &RequestContext, part_number: u32) -> PartTarget<'_> {
    PartTarget {
        bucket: ctx.bucket(),
        key: ctx.key(),
        upload_id: upload_id(ctx),
        part_number,
    }
}

fn part_number(ctx: &RequestContext) -> OssResult<u32> {
    let raw = ctx.query.get("partNumber").unwrap_or_default();
    match raw.parse::<u32>() {
        Ok(n) if (1..=crate::OSS_LIMITS.max_part_number).contains(&n) => Ok(n),
        _ => Err(OssError::invalid_argument(
            "partNumber",
            raw,
            "Part number must be an integer between 1 and 10000, inclusive.",
        )),
    }
}

pub(crate) async fn initiate(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let encode_url = url_encoding(ctx)?;
    let sse = sse_request(&ctx.headers)?;
    let upload = api
        .service
        .initiate_upload(
            ctx.bucket(),
            ctx.key(),
            object_attributes(&ctx.headers)?,
            sse.as_ref(),
            &KeySource::Managed,
            &ctx.caller(),
        )
        .await?;
    let encryption = upload.encryption.clone();
    let document = xml::InitiateMultipartUploadResult {
        bucket: ctx.bucket().to_owned(),
        key: upload.key,
        upload_id: upload.upload_id,
        encode_url,
    };
    let mut response = xml_response(document.to_xml())?;
    declare(encryption.as_ref(), response.headers_mut());
    Ok(response)
}

pub(crate) async fn upload_part(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    let number = part_number(ctx)?;
    reject_sse_headers(&ctx.headers)?;
    let md5 = content_md5(&ctx.headers)?;
    let (part, encryption) = api
        .service
        .upload_part(
            &part_target(ctx, number),
            request_stream(body),
            md5,
            &KeySource::Managed,
            &ctx.caller(),
        )
        .await?;
    let mut response = empty_response(StatusCode::OK);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&quoted_etag(&part.etag)) {
        headers.insert("etag", v);
    }
    if let Some(crc) = part.crc64 {
        headers.insert("x-oss-hash-crc64ecma", HeaderValue::from(crc));
    }
    if let Some(md5) = md5_base64(&part.etag) {
        headers.insert("content-md5", md5);
    }
    declare(encryption.as_ref(), headers);
    Ok(response)
}

/// `Content-MD5` of a part: its ETag is the hex MD5 of the part's plaintext bytes.
fn md5_base64(hex_etag: &str) -> Option<HeaderValue> {
    use base64::Engine;
    let digest = hex::decode(hex_etag).ok()?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(digest)).ok()
}

pub(crate) async fn upload_part_copy(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let number = part_number(ctx)?;
    let source = copy_source(ctx)?;
    let range = match header_str(&ctx.headers, "x-oss-copy-source-range") {
        None => None,
        Some(raw) => Some(ByteRange::parse(raw).ok_or_else(|| {
            OssError::invalid_argument(
                "x-oss-copy-source-range",
                raw,
                "The x-oss-copy-source-range is invalid.",
            )
        })?),
    };
    let copied = api
        .service
        .upload_part_copy(
            &part_target(ctx, number),
            &source,
            range,
            &KeySource::Managed,
            &ctx.caller(),
        )
        .await
        .map_err(copy_error)?;
    let document = xml::CopyPartResult {
        last_modified: iso_time(copied.part.last_modified_ms),
        etag: quoted_etag(&copied.part.etag),
    };
    let mut response = xml_response(document.to_xml())?;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&quoted_etag(&copied.part.etag)) {
        headers.insert("etag", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "bytes {}-{}/{}",
        copied.first, copied.last, copied.total
    )) {
        headers.insert("content-range", v);
    }
    declare(copied.encryption.as_ref(), headers);
    Ok(response)
}

pub(crate) async fn complete(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    let encode_url = url_encoding(ctx)?;
    reject_sse_headers(&ctx.headers)?;
    let document = collect_small(body, MAX_XML_BODY).await?;
    let complete_all = header_str(&ctx.headers, "x-oss-complete-all")
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let parts = if complete_all {
        if !document.iter().all(u8::is_ascii_whitespace) {
            return Err(OssError::invalid_argument(
                "x-oss-complete-all",
                "yes",
                "With x-oss-complete-all the request body must be empty.",
            ));
        }
        None
    } else {
        let request = xml::CompleteMultipartUpload::parse(&document)
            .map_err(|_| OssError::malformed_xml())?;
        Some(
            request
                .parts
                .into_iter()
                .map(|p| CompletePart {
                    part_number: p.part_number,
                    etag: p.etag,
                })
                .collect(),
        )
    };
    let object = api
        .service
        .complete_upload(
            ctx.bucket(),
            ctx.key(),
            upload_id(ctx),
            parts,
            CompleteOptions {
                forbid_overwrite: forbid_overwrite(&ctx.headers),
                acl: header_str(&ctx.headers, "x-oss-object-acl")
                    .map(parse_object_acl)
                    .transpose()?,
            },
        )
        .await?;
    let result = xml::CompleteMultipartUploadResult {
        encode_url,
        location: format!("http://{}/{}/{}", ctx.host, ctx.bucket(), object.key),
        bucket: ctx.bucket().to_owned(),
        key: object.key.clone(),
        etag: quoted_etag(&object.etag),
    };
    let mut response = xml_response(result.to_xml())?;
    let written = write_response(&object);
    for name in ["etag", "x-oss-hash-crc64ecma", SSE, SSE_DATA, SSE_KEY_ID] {
        if let Some(v) = written.headers().get(name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
    Ok(response)
}

pub(crate) async fn abort(api: &OssApi, ctx: &RequestContext) -> OssResult<Response<ResponseBody>> {
    api.service
        .abort_upload(ctx.bucket(), ctx.key(), upload_id(ctx))
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub(crate) async fn list_parts(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let encode_url = url_encoding(ctx)?;
    let max_parts = bounded_param(ctx, "max-parts", 1000, 1000)?;
    let marker_raw = ctx.query.get_nonempty("part-number-marker").unwrap_or("0");
    let marker: u32 = marker_raw.parse().map_err(|_| {
        OssError::invalid_argument(
            "part-number-marker",
            marker_raw,
            "Invalid part-number-marker.",
        )
    })?;
    let (upload, parts) = api
        .service
        .list_parts(ctx.bucket(), ctx.key(), upload_id(ctx))
        .await?;
    let mut after = parts.into_iter().filter(|p| p.part_number > marker);
    let page: Vec<_> = after.by_ref().take(max_parts as usize).collect();
    let truncated = after.next().is_some();
    let document = xml::ListPartsResult {
        bucket: ctx.bucket().to_owned(),
        encode_url,
        key: upload.key,
        upload_id: upload.upload_id,
        part_number_marker: marker,
        next_part_number_marker: page.last().map_or(marker, |p| p.part_number),
        max_parts,
        is_truncated: truncated,
        client_encryption: xml::ClientEncryption::from_user_meta(&upload.user_meta),
        parts: page
            .iter()
            .map(|p| xml::PartSummary {
                part_number: p.part_number,
                last_modified: iso_time(p.last_modified_ms),
                etag: quoted_etag(&p.etag),
                size: p.size,
            })
            .collect(),
    };
    xml_response(document.to_xml())
}

pub(crate) async fn list_uploads(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let encode_url = url_encoding(ctx)?;
    let max_uploads = bounded_param(ctx, "max-uploads", 1000, 1000)? as usize;
    let prefix = ctx.query.get_nonempty("prefix").unwrap_or_default();
    let delimiter = ctx.query.get_nonempty("delimiter").unwrap_or_default();
    let key_marker = ctx.query.get_nonempty("key-marker").unwrap_or_default();
    let id_marker = ctx
        .query
        .get_nonempty("upload-id-marker")
        .unwrap_or_default();
    let all = api.service.list_uploads(ctx.bucket()).await?;
    let mut uploads = Vec::new();
    let mut common_prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let (mut next_key, mut next_id) = (String::new(), String::new());
    // A key-marker that is a common prefix (the last entry of the previous page) resumes
    // past every upload under it, as ListObjects does.
    let resume = resume_point(key_marker, prefix, delimiter);
    for u in all.iter().filter(|u| u.key.starts_with(prefix)) {
        // Resume strictly after (key-marker, upload-id-marker).
        let after_marker = u.key > resume
            || (!id_marker.is_empty() && u.key == key_marker && u.upload_id.as_str() > id_marker);
        if !after_marker {
            continue;
        }
        let group = common_prefix(&u.key, prefix, delimiter);
        if let Some(g) = &group
            && common_prefixes.last() == Some(g)
        {
            continue;
        }
        if uploads.len() + common_prefixes.len() == max_uploads {
            truncated = true;
            break;
        }
        match group {
            Some(g) => {
                next_key = g.clone();
                next_id.clear();
                common_prefixes.push(g);
            }
            None => {
                next_key = u.key.clone();
                next_id = u.upload_id.clone();
                uploads.push(xml::UploadSummary {
                    key: u.key.clone(),
                    upload_id: u.upload_id.clone(),
                    initiated: iso_time(u.initiated_ms),
                });
            }
        }
    }
    let document = xml::ListMultipartUploadsResult {
        bucket: ctx.bucket().to_owned(),
        encode_url,
        key_marker: key_marker.to_owned(),
        upload_id_marker: id_marker.to_owned(),
        next_key_marker: if truncated { next_key } else { String::new() },
        next_upload_id_marker: if truncated { next_id } else { String::new() },
        delimiter: delimiter.to_owned(),
        prefix: prefix.to_owned(),
        max_uploads: max_uploads as u32,
        is_truncated: truncated,
        uploads,
        common_prefixes,
    };
    xml_response(document.to_xml())
}
