//! ListObjects (V1) and ListObjectsV2.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_service::{ListPage, ListQuery, ObjectRecord};
use http::Response;

use crate::body::ResponseBody;
use crate::bucket::{bounded_param, iso_time, owner};
use crate::error::{OssError, OssResult};
use crate::headers::{object_type_name, quoted_etag};
use crate::xml;
use crate::{OssApi, RequestContext, xml_response};

/// `encoding-type`: only `url` exists.
pub(crate) fn url_encoding(ctx: &RequestContext) -> OssResult<bool> {
    match ctx.query.get_nonempty("encoding-type") {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(OssError::invalid_argument(
            "encoding-type",
            other,
            "The encoding-type must be url.",
        )),
    }
}

fn summary(api: &OssApi, o: &ObjectRecord, with_owner: bool) -> xml::ObjectSummary {
    xml::ObjectSummary {
        key: o.key.clone(),
        last_modified: iso_time(o.last_modified_ms),
        etag: quoted_etag(&o.etag),
        object_type: object_type_name(o.kind).to_owned(),
        size: o.size,
        storage_class: o.storage_class.clone(),
        owner: with_owner.then(|| owner(api)),
    }
}

fn query(ctx: &RequestContext, start_after: String, max_keys: u32) -> ListQuery {
    ListQuery {
        prefix: ctx
            .query
            .get_nonempty("prefix")
            .unwrap_or_default()
            .to_owned(),
        delimiter: ctx
            .query
            .get_nonempty("delimiter")
            .unwrap_or_default()
            .to_owned(),
        start_after,
        max_keys: max_keys as usize,
    }
}

async fn list(api: &OssApi, ctx: &RequestContext, q: &ListQuery) -> OssResult<ListPage> {
    Ok(api.service.list_objects(ctx.bucket(), q).await?)
}

pub(crate) async fn list_objects_v1(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let encode_url = url_encoding(ctx)?;
    let max_keys = bounded_param(ctx, "max-keys", 100, 1000)?;
    let marker = ctx
        .query
        .get_nonempty("marker")
        .unwrap_or_default()
        .to_owned();
    let q = query(ctx, marker.clone(), max_keys);
    let page = list(api, ctx, &q).await?;
    let document = xml::ListBucketResultV1 {
        name: ctx.bucket().to_owned(),
        prefix: q.prefix.clone(),
        marker,
        max_keys,
        delimiter: q.delimiter.clone(),
        encode_url,
        is_truncated: page.truncated,
        next_marker: page.next_marker.clone(),
        contents: page.objects.iter().map(|o| summary(api, o, true)).collect(),
        common_prefixes: page.common_prefixes,
    };
    xml_response(document.to_xml())
}

/// Continuation tokens are opaque to clients: the resume key, base64url-encoded so that it
/// survives any query or XML encoding unchanged.
fn encode_token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_token(token: &str) -> OssResult<String> {
    URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            OssError::invalid_argument(
                "continuation-token",
                token,
                "The continuation token provided is incorrect.",
            )
        })
}

pub(crate) async fn list_objects_v2(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let encode_url = url_encoding(ctx)?;
    let max_keys = bounded_param(ctx, "max-keys", 100, 1000)?;
    let token = ctx
        .query
        .get("continuation-token")
        .filter(|t| !t.is_empty());
    let start_after = ctx.query.get_nonempty("start-after");
    let resume = match token {
        Some(t) => decode_token(t)?,
        None => start_after.unwrap_or_default().to_owned(),
    };
    let fetch_owner = ctx
        .query
        .get("fetch-owner")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let q = query(ctx, resume, max_keys);
    let page = list(api, ctx, &q).await?;
    let document = xml::ListBucketResultV2 {
        name: ctx.bucket().to_owned(),
        prefix: q.prefix.clone(),
        continuation_token: token.map(str::to_owned),
        max_keys,
        delimiter: ctx.query.get_nonempty("delimiter").map(str::to_owned),
        start_after: start_after.map(str::to_owned),
        encode_url,
        is_truncated: page.truncated,
        next_continuation_token: page
            .next_marker
            .as_deref()
            .filter(|_| page.truncated)
            .map(encode_token),
        contents: page
            .objects
            .iter()
            .map(|o| summary(api, o, fetch_owner))
            .collect(),
        common_prefixes: page.common_prefixes,
    };
    xml_response(document.to_xml())
}
