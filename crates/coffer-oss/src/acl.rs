//! Bucket and object ACLs (`?acl`).

use http::{Response, StatusCode};

use crate::body::ResponseBody;
use crate::bucket::{located_response, owner};
use crate::error::{OssError, OssResult};
use crate::headers::{
    bucket_acl_name, header_str, object_acl_name, parse_bucket_acl, parse_object_acl,
};
use crate::xml;
use crate::{OssApi, RequestContext, empty_response, xml_response};

pub(crate) async fn put_bucket_acl(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let value = header_str(&ctx.headers, "x-oss-acl").ok_or_else(|| {
        OssError::invalid_argument("x-oss-acl", "", "The x-oss-acl header is required.")
    })?;
    api.service
        .set_bucket_acl(ctx.bucket(), parse_bucket_acl(value)?)
        .await?;
    Ok(located_response(ctx))
}

pub(crate) async fn get_bucket_acl(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let bucket = api.service.get_bucket(ctx.bucket()).await?;
    let document = xml::AccessControlPolicy {
        owner: owner(api),
        grant: bucket_acl_name(bucket.acl).to_owned(),
    };
    xml_response(document.to_xml())
}

pub(crate) async fn put_object_acl(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let value = header_str(&ctx.headers, "x-oss-object-acl").ok_or_else(|| {
        OssError::invalid_argument(
            "x-oss-object-acl",
            "",
            "The x-oss-object-acl header is required.",
        )
    })?;
    api.service
        .set_object_acl(ctx.bucket(), ctx.key(), parse_object_acl(value)?)
        .await?;
    Ok(empty_response(StatusCode::OK))
}

pub(crate) async fn get_object_acl(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let object = api.service.head_object(ctx.bucket(), ctx.key()).await?;
    let document = xml::AccessControlPolicy {
        owner: owner(api),
        grant: object_acl_name(object.acl).to_owned(),
    };
    xml_response(document.to_xml())
}
