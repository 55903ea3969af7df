//! DeleteObject and DeleteMultipleObjects.

use http::{Response, StatusCode};
use md5::{Digest, Md5};

use crate::body::{MAX_XML_BODY, RequestBody, ResponseBody, collect_small};
use crate::error::{ErrorCode, OssError, OssResult};
use crate::headers::content_md5;
use crate::list::url_encoding;
use crate::xml;
use crate::{OssApi, RequestContext, empty_response, xml_response};

/// Most keys one DeleteMultipleObjects request may name.
const MAX_DELETE_KEYS: usize = 1000;

pub(crate) async fn delete_object(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    api.service.delete_object(ctx.bucket(), ctx.key()).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

pub(crate) async fn delete_multiple(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    let encode_url = url_encoding(ctx)?;
    let document = collect_small(body, MAX_XML_BODY).await?;
    // OSS requires Content-MD5 here, since a corrupted key list would delete the wrong data.
    let Some(md5) = content_md5(&ctx.headers)? else {
        return Err(OssError::of(
            ErrorCode::InvalidDigest,
            "The Content-MD5 you specified was invalid.",
        ));
    };
    if <[u8; 16]>::from(Md5::digest(&document)) != md5 {
        return Err(coffer_service::ServiceError::BadDigest.into());
    }
    let request = xml::Delete::parse(&document).map_err(|_| OssError::malformed_xml())?;
    if request.objects.is_empty() || request.objects.len() > MAX_DELETE_KEYS {
        return Err(OssError::malformed_xml());
    }
    for object in &request.objects {
        crate::access::authorize_delete_of(api, ctx, &object.key).await?;
    }
    let mut deleted = Vec::with_capacity(request.objects.len());
    for object in &request.objects {
        api.service.delete_object(ctx.bucket(), &object.key).await?;
        deleted.push(xml::DeletedObject {
            key: object.key.clone(),
            version_id: None,
            delete_marker: false,
            delete_marker_version_id: None,
        });
    }
    if request.quiet {
        return Ok(empty_response(StatusCode::OK));
    }
    xml_response(
        xml::DeleteResult {
            encode_url,
            deleted,
        }
        .to_xml(),
    )
}
