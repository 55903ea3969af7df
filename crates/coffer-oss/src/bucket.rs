//! Bucket operations: create, delete, list, info, location, stat.

use coffer_service::{BucketRecord, NewBucket};
use http::{HeaderValue, Response, StatusCode};

use crate::body::{MAX_XML_BODY, RequestBody, ResponseBody, collect_small};
use crate::encryption::{rule_from_headers, rule_xml};
use crate::error::{ErrorCode, OssError, OssResult};
use crate::headers::{bucket_acl_name, header_str, parse_bucket_acl, parse_storage_class};
use crate::xml;
use crate::{OssApi, RequestContext, empty_response, xml_response};

/// ISO 8601 at whole seconds: OSS always writes `.000Z`, and oss2 parses only that form.
pub(crate) fn iso_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    xml::iso8601_millis(t)
}

pub(crate) fn owner(api: &OssApi) -> xml::Owner {
    xml::Owner {
        id: api.config.owner_id.clone(),
        display_name: api.config.owner_id.clone(),
    }
}

impl OssApi {
    /// The endpoint clients reach the service at: the request's host, less the bucket
    /// when the request was addressed virtual-hosted style (`bucket.oss-…` names the
    /// bucket, not the endpoint).
    fn endpoints(&self, host: &str, bucket: &str) -> (String, String) {
        let extranet = if host.is_empty() {
            format!("{}.aliyuncs.com", self.config.location())
        } else {
            host.strip_prefix(bucket)
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|rest| !rest.is_empty())
                .unwrap_or(host)
                .to_owned()
        };
        (extranet.clone(), extranet)
    }
}

/// Parses `max-keys`-style parameters: an integer in `1..=max`, or the default.
pub(crate) fn bounded_param(
    ctx: &RequestContext,
    name: &str,
    default: u32,
    max: u32,
) -> OssResult<u32> {
    match ctx.query.get_nonempty(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(OssError::invalid_argument(
                name,
                raw,
                format!("Argument {name} must be an integer between 1 and {max}."),
            )),
        },
    }
}

pub(crate) async fn put_bucket(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    let acl = header_str(&ctx.headers, "x-oss-acl")
        .map(parse_bucket_acl)
        .transpose()?;
    let document = collect_small(body, MAX_XML_BODY).await?;
    let config = if document.iter().all(u8::is_ascii_whitespace) {
        xml::CreateBucketConfiguration::default()
    } else {
        xml::CreateBucketConfiguration::parse(&document).map_err(|_| OssError::malformed_xml())?
    };
    let storage_class = config
        .storage_class
        .as_deref()
        .map(parse_storage_class)
        .transpose()?;
    let redundancy = match config.data_redundancy_type.as_deref() {
        None => None,
        Some(v @ ("LRS" | "ZRS")) => Some(v.to_owned()),
        Some(other) => {
            return Err(OssError::invalid_argument(
                "DataRedundancyType",
                other,
                "Invalid DataRedundancyType.",
            ));
        }
    };
    api.service
        .create_bucket(NewBucket {
            name: ctx.bucket().to_owned(),
            owner: api.config.owner_id.clone(),
            acl,
            storage_class,
            data_redundancy_type: redundancy,
            encryption: rule_from_headers(&ctx.headers)?,
        })
        .await?;
    Ok(located_response(ctx))
}

/// The empty 200 that PutBucket and PutBucketAcl answer with: `Location: /<bucket>`, as
/// OSS sends (the Node SDK ali-oss reads the bucket name from it).
pub(crate) fn located_response(ctx: &RequestContext) -> Response<ResponseBody> {
    let mut response = empty_response(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&format!("/{}", ctx.bucket())) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
    response
}

pub(crate) async fn delete_bucket(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    api.service.delete_bucket(ctx.bucket()).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

fn summary(api: &OssApi, ctx: &RequestContext, b: &BucketRecord) -> xml::BucketSummary {
    let (extranet, intranet) = api.endpoints(&ctx.host, ctx.bucket());
    xml::BucketSummary {
        creation_date: iso_time(b.created_ms),
        extranet_endpoint: extranet,
        intranet_endpoint: intranet,
        location: api.config.location(),
        name: b.name.clone(),
        region: api.config.region.clone(),
        storage_class: b.storage_class.clone(),
        resource_group_id: None,
    }
}

pub(crate) async fn list_buckets(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let prefix = ctx.query.get_nonempty("prefix").unwrap_or_default();
    let marker = ctx.query.get_nonempty("marker").unwrap_or_default();
    let max_keys = bounded_param(ctx, "max-keys", 100, 1000)?;
    let paginated = ctx.query.has("prefix") || ctx.query.has("marker") || ctx.query.has("max-keys");
    let listing = api
        .service
        .list_buckets(&api.config.owner_id, prefix, marker, max_keys as usize)
        .await?;
    let page = (paginated || listing.truncated).then(|| xml::ListBucketsPage {
        prefix: prefix.to_owned(),
        marker: marker.to_owned(),
        max_keys,
        is_truncated: listing.truncated,
        next_marker: listing.next_marker.clone(),
    });
    let document = xml::ListAllMyBucketsResult {
        page,
        owner: owner(api),
        buckets: listing
            .buckets
            .iter()
            .map(|b| summary(api, ctx, b))
            .collect(),
    };
    xml_response(document.to_xml())
}

pub(crate) async fn get_bucket_info(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let b = api.service.get_bucket(ctx.bucket()).await?;
    let (extranet, intranet) = api.endpoints(&ctx.host, ctx.bucket());
    let document = xml::BucketInfo {
        access_monitor: Some("Disabled".into()),
        creation_date: iso_time(b.created_ms),
        extranet_endpoint: extranet,
        intranet_endpoint: intranet,
        location: api.config.location(),
        storage_class: b.storage_class.clone(),
        transfer_acceleration: Some("Disabled".into()),
        cross_region_replication: Some("Disabled".into()),
        data_redundancy_type: Some(b.data_redundancy_type.clone()),
        name: b.name.clone(),
        // Coffer has no resource groups, access logging, bucket comments, Block Public
        // Access or versioning: the elements OSS always sends carry their "off" values.
        resource_group_id: String::new(),
        owner: owner(api),
        acl: bucket_acl_name(b.acl).to_owned(),
        server_side_encryption: b.encryption.as_ref().map(rule_xml),
        log_bucket: String::new(),
        log_prefix: String::new(),
        comment: String::new(),
        block_public_access: false,
        versioning: None,
    };
    xml_response(document.to_xml())
}

pub(crate) async fn get_bucket_location(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    api.service.get_bucket(ctx.bucket()).await?;
    xml_response(
        xml::LocationConstraint {
            location: api.config.location(),
        }
        .to_xml(),
    )
}

pub(crate) async fn get_bucket_stat(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let s = api.service.bucket_stat(ctx.bucket()).await?;
    let class = |name: &str| s.by_class.get(name).copied().unwrap_or_default();
    let (standard, ia, archive) = (class("Standard"), class("IA"), class("Archive"));
    let (cold, deep_cold) = (class("ColdArchive"), class("DeepColdArchive"));
    let document = xml::BucketStat {
        storage: s.storage_bytes,
        object_count: s.object_count,
        multipart_upload_count: s.multipart_upload_count,
        live_channel_count: 0,
        multipart_part_count: s.multipart_part_count,
        multipart_part_storage: s.multipart_part_storage,
        last_modified_time: (s.last_modified_ms / 1000).max(0) as u64,
        standard_storage: standard.bytes,
        standard_object_count: standard.objects,
        infrequent_access_storage: ia.billable_bytes,
        infrequent_access_real_storage: ia.bytes,
        infrequent_access_object_count: ia.objects,
        archive_storage: archive.billable_bytes,
        archive_real_storage: archive.bytes,
        archive_object_count: archive.objects,
        cold_archive_storage: cold.billable_bytes,
        cold_archive_real_storage: cold.bytes,
        cold_archive_object_count: cold.objects,
        deep_cold_archive_storage: deep_cold.billable_bytes,
        deep_cold_archive_real_storage: deep_cold.bytes,
        deep_cold_archive_object_count: deep_cold.objects,
        delete_marker_count: 0,
    };
    xml_response(document.to_xml())
}

/// Largest bucket policy accepted, as on OSS (16 KiB).
const MAX_POLICY_BYTES: usize = 16 * 1024;

pub(crate) async fn put_bucket_policy(
    api: &OssApi,
    ctx: &RequestContext,
    body: RequestBody,
) -> OssResult<Response<ResponseBody>> {
    api.service.get_bucket(ctx.bucket()).await?;
    let document = collect_small(body, MAX_POLICY_BYTES).await.map_err(|_| {
        OssError::of(
            ErrorCode::PolicyTooLarge,
            "The policy document is larger than 16 KB.",
        )
    })?;
    let text = std::str::from_utf8(&document).map_err(|_| {
        OssError::of(
            ErrorCode::PolicyNotUtf8,
            "The policy document is not UTF-8.",
        )
    })?;
    crate::access::validate_bucket_policy(ctx.bucket(), text)?;
    api.service
        .set_bucket_policy(ctx.bucket(), Some(text.to_owned()))
        .await?;
    Ok(empty_response(StatusCode::OK))
}

pub(crate) async fn get_bucket_policy(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    let bucket = api.service.get_bucket(ctx.bucket()).await?;
    let Some(policy) = bucket.policy else {
        return Err(OssError::of(
            ErrorCode::NoSuchBucketPolicy,
            "The bucket policy does not exist.",
        ));
    };
    Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CONTENT_LENGTH, policy.len())
        .body(crate::body::full(policy))
        .map_err(|e| OssError::internal(&e.to_string()))
}

pub(crate) async fn delete_bucket_policy(
    api: &OssApi,
    ctx: &RequestContext,
) -> OssResult<Response<ResponseBody>> {
    api.service.set_bucket_policy(ctx.bucket(), None).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}
