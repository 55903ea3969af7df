//! Every OSS operation Coffer serves, declared once (name, RAM action, route, handler), and
//! the allow-list that routes a request to one of them.
//!
//! OSS names most operations by a *sub-resource* in the query string (`?acl`, `?uploads`,
//! `?policy`), and a method on a bucket or an object. A router that classifies by method
//! whenever it does not recognise a sub-resource turns `PUT /b/k?retention` into a PutObject
//! that overwrites the object with the request's XML, and `DELETE /b?overwriteConfig` into
//! a DeleteBucket. So routing here is an allow-list: each row of [`OPERATIONS`] names the
//! method, the target, the sub-resource that selects it and the qualifiers it accepts; a
//! request whose sub-resources no row accepts as a whole is answered `NotImplemented`
//! before anything is read or written.
//!
//! Query parameters fall into four kinds (see [`param_kind`]): signature parameters
//! (never routing), ordinary listing and paging parameters (ignored where unused, as OSS
//! does), OSS sub-resources and qualifiers (must be accepted by the chosen row), and names
//! OSS does not know. Real OSS ignores unknown names; Coffer does too on GET and HEAD, but a
//! write carrying one is refused, because an unknown name may be a sub-resource newer than
//! this table and a write must never be guessed.

use std::future::Future;
use std::pin::Pin;

use http::{Method, Response};

use crate::auth::PRESIGN_PARAMS;
use crate::error::{OssError, OssResult};
use crate::router::{Query, Target};
use crate::{OssApi, RequestBody, RequestContext, ResponseBody};
use crate::{acl, bucket, copy, delete, encryption, get, list, multipart, post, put};

/// Every operation Coffer's OSS dialect serves. The name is the OSS API name, used in
/// logs, metrics and permission checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    PutBucket,
    DeleteBucket,
    GetBucketInfo,
    GetBucketLocation,
    GetBucketStat,
    PutBucketAcl,
    GetBucketAcl,
    PutBucketEncryption,
    GetBucketEncryption,
    DeleteBucketEncryption,
    PutBucketPolicy,
    GetBucketPolicy,
    DeleteBucketPolicy,
    ListObjects,
    ListObjectsV2,
    ListMultipartUploads,
    DeleteMultipleObjects,
    PutObject,
    PostObject,
    CopyObject,
    GetObject,
    HeadObject,
    GetObjectMeta,
    DeleteObject,
    AppendObject,
    PutObjectAcl,
    GetObjectAcl,
    InitiateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
}

/// What a request addresses: the service (no bucket), a bucket, or an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Service,
    Bucket,
    Object,
}

impl TargetKind {
    pub fn of(target: &Target) -> TargetKind {
        match (&target.bucket, &target.key) {
            (None, _) => TargetKind::Service,
            (Some(_), None) => TargetKind::Bucket,
            (Some(_), Some(_)) => TargetKind::Object,
        }
    }
}

/// A condition beyond method, target and sub-resources that tells two operations apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    /// `x-oss-copy-source` is present.
    CopySource,
    /// `x-oss-copy-source` is absent.
    NoCopySource,
    /// `list-type=2`.
    ListV2,
    /// Any other `list-type`, or none.
    ListV1,
}

/// What a handler returns: its future, boxed so that every row's handler has one type (one
/// allocation per request).
pub(crate) type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = OssResult<Response<ResponseBody>>> + Send + 'a>>;

/// The function that serves an operation once it is admitted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Handler {
    /// Reads the request body.
    Body(for<'a> fn(&'a OssApi, &'a RequestContext, RequestBody) -> HandlerFuture<'a>),
    /// Needs only the request head; the body, unread, is dropped once it has answered.
    Head(for<'a> fn(&'a OssApi, &'a RequestContext) -> HandlerFuture<'a>),
}

/// A row's [`Handler::Body`]: `takes_body!(put::put_object)`.
macro_rules! takes_body {
    ($handler:path) => {
        Handler::Body(|api, ctx, body| Box::pin($handler(api, ctx, body)))
    };
}

/// A row's [`Handler::Head`], with any further fixed arguments:
/// `head_only!(get::get_object, false)`.
macro_rules! head_only {
    ($handler:path $(, $arg:expr)*) => {
        Handler::Head(|api, ctx| Box::pin($handler(api, ctx $(, $arg)*)))
    };
}

/// One operation's facts, declared once: adding an operation is one row of [`OPERATIONS`]
/// and its handler.
#[derive(Debug)]
pub struct OperationSpec {
    pub op: Operation,
    pub name: &'static str,
    /// The RAM action a policy names to allow or deny it.
    pub action: &'static str,
    pub target: TargetKind,
    method: Method,
    /// The sub-resource that names the operation, if any.
    selector: Option<&'static str>,
    /// Further sub-resources and qualifiers it accepts.
    accepts: &'static [&'static str],
    when: When,
    /// Streams a request body of arbitrary size (so it needs a length or chunking).
    pub reads_body: bool,
    /// Only reads object data or listings (what `public-read` opens to anonymous callers).
    pub is_read: bool,
    /// Serves it.
    pub(crate) handler: Handler,
}

/// Shorthand for a table row; `reads_body` and `is_read` default to false.
const fn row(
    op: Operation,
    name: &'static str,
    action: &'static str,
    target: TargetKind,
    method: Method,
    selector: Option<&'static str>,
    handler: Handler,
) -> OperationSpec {
    OperationSpec {
        op,
        name,
        action,
        target,
        method,
        selector,
        accepts: &[],
        when: When::Always,
        reads_body: false,
        is_read: false,
        handler,
    }
}

impl OperationSpec {
    const fn accepts(mut self, names: &'static [&'static str]) -> Self {
        self.accepts = names;
        self
    }
    const fn when(mut self, when: When) -> Self {
        self.when = when;
        self
    }
    const fn body(mut self) -> Self {
        self.reads_body = true;
        self
    }
    const fn read(mut self) -> Self {
        self.is_read = true;
        self
    }
}

/// `response-*` overrides of GetObject's response headers.
const RESPONSE_OVERRIDES: &[&str] = &[
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
];

use Method as M;
use Operation as Op;
use TargetKind::{Bucket as B, Object as O, Service as S};

/// The operations, indexed by `Operation as usize` (see [`spec`]). The first row that
/// matches a request serves it; rows that share a method, target and sub-resources differ
/// in their `when`, so at most one of them can match.
#[rustfmt::skip]
pub static OPERATIONS: [OperationSpec; 34] = [
    row(Op::ListBuckets, "ListBuckets", "oss:ListBuckets", S, M::GET, None, head_only!(bucket::list_buckets)),
    row(Op::PutBucket, "PutBucket", "oss:PutBucket", B, M::PUT, None, takes_body!(bucket::put_bucket)),
    row(Op::DeleteBucket, "DeleteBucket", "oss:DeleteBucket", B, M::DELETE, None, head_only!(bucket::delete_bucket)),
    row(Op::GetBucketInfo, "GetBucketInfo", "oss:GetBucketInfo", B, M::GET, Some("bucketInfo"), head_only!(bucket::get_bucket_info)),
    row(Op::GetBucketLocation, "GetBucketLocation", "oss:GetBucketLocation", B, M::GET, Some("location"), head_only!(bucket::get_bucket_location)),
    row(Op::GetBucketStat, "GetBucketStat", "oss:GetBucketStat", B, M::GET, Some("stat"), head_only!(bucket::get_bucket_stat)),
    row(Op::PutBucketAcl, "PutBucketAcl", "oss:PutBucketAcl", B, M::PUT, Some("acl"), head_only!(acl::put_bucket_acl)),
    row(Op::GetBucketAcl, "GetBucketAcl", "oss:GetBucketAcl", B, M::GET, Some("acl"), head_only!(acl::get_bucket_acl)),
    row(Op::PutBucketEncryption, "PutBucketEncryption", "oss:PutBucketEncryption", B, M::PUT, Some("encryption"), takes_body!(encryption::put_bucket_encryption)),
    row(Op::GetBucketEncryption, "GetBucketEncryption", "oss:GetBucketEncryption", B, M::GET, Some("encryption"), head_only!(encryption::get_bucket_encryption)),
    row(Op::DeleteBucketEncryption, "DeleteBucketEncryption", "oss:DeleteBucketEncryption", B, M::DELETE, Some("encryption"), head_only!(encryption::delete_bucket_encryption)),
    row(Op::PutBucketPolicy, "PutBucketPolicy", "oss:PutBucketPolicy", B, M::PUT, Some("policy"), takes_body!(bucket::put_bucket_policy)),
    row(Op::GetBucketPolicy, "GetBucketPolicy", "oss:GetBucketPolicy", B, M::GET, Some("policy"), head_only!(bucket::get_bucket_policy)),
    row(Op::DeleteBucketPolicy, "DeleteBucketPolicy", "oss:DeleteBucketPolicy", B, M::DELETE, Some("policy"), head_only!(bucket::delete_bucket_policy)),
    row(Op::ListObjects, "ListObjects", "oss:ListObjects", B, M::GET, None, head_only!(list::list_objects_v1))
        .accepts(&["continuation-token"]).when(When::ListV1).read(),
    row(Op::ListObjectsV2, "ListObjectsV2", "oss:ListObjects", B, M::GET, None, head_only!(list::list_objects_v2))
        .accepts(&["continuation-token"]).when(When::ListV2).read(),
    row(Op::ListMultipartUploads, "ListMultipartUploads", "oss:ListMultipartUploads", B, M::GET, Some("uploads"), head_only!(multipart::list_uploads)),
    row(Op::DeleteMultipleObjects, "DeleteMultipleObjects", "oss:DeleteObject", B, M::POST, Some("delete"), takes_body!(delete::delete_multiple)),
    row(Op::PutObject, "PutObject", "oss:PutObject", O, M::PUT, None, takes_body!(put::put_object))
        .when(When::NoCopySource).body(),
    // Browser form upload; the handler insists on multipart/form-data.
    row(Op::PostObject, "PostObject", "oss:PutObject", B, M::POST, None, takes_body!(post::post_object)).body(),
    row(Op::CopyObject, "CopyObject", "oss:PutObject", O, M::PUT, None, head_only!(copy::copy_object)).when(When::CopySource),
    row(Op::GetObject, "GetObject", "oss:GetObject", O, M::GET, None, head_only!(get::get_object, false))
        .accepts(RESPONSE_OVERRIDES).read(),
    row(Op::HeadObject, "HeadObject", "oss:GetObject", O, M::HEAD, None, head_only!(get::get_object, true))
        .accepts(RESPONSE_OVERRIDES).read(),
    row(Op::GetObjectMeta, "GetObjectMeta", "oss:GetObject", O, M::HEAD, Some("objectMeta"), head_only!(get::get_object_meta)).read(),
    row(Op::DeleteObject, "DeleteObject", "oss:DeleteObject", O, M::DELETE, None, head_only!(delete::delete_object)),
    row(Op::AppendObject, "AppendObject", "oss:PutObject", O, M::POST, Some("append"), takes_body!(put::append_object))
        .accepts(&["position"]).body(),
    row(Op::PutObjectAcl, "PutObjectAcl", "oss:PutObjectAcl", O, M::PUT, Some("acl"), head_only!(acl::put_object_acl)),
    row(Op::GetObjectAcl, "GetObjectAcl", "oss:GetObjectAcl", O, M::GET, Some("acl"), head_only!(acl::get_object_acl)),
    row(Op::InitiateMultipartUpload, "InitiateMultipartUpload", "oss:PutObject", O, M::POST, Some("uploads"), head_only!(multipart::initiate)),
    row(Op::UploadPart, "UploadPart", "oss:PutObject", O, M::PUT, Some("uploadId"), takes_body!(multipart::upload_part))
        .accepts(&["partNumber"]).when(When::NoCopySource).body(),
    row(Op::UploadPartCopy, "UploadPartCopy", "oss:PutObject", O, M::PUT, Some("uploadId"), head_only!(multipart::upload_part_copy))
        .accepts(&["partNumber"]).when(When::CopySource),
    row(Op::CompleteMultipartUpload, "CompleteMultipartUpload", "oss:PutObject", O, M::POST, Some("uploadId"), takes_body!(multipart::complete)),
    row(Op::AbortMultipartUpload, "AbortMultipartUpload", "oss:AbortMultipartUpload", O, M::DELETE, Some("uploadId"), head_only!(multipart::abort)),
    row(Op::ListParts, "ListParts", "oss:ListParts", O, M::GET, Some("uploadId"), head_only!(multipart::list_parts)),
];

/// The facts of `op`.
pub fn spec(op: Operation) -> &'static OperationSpec {
    &OPERATIONS[op as usize]
}

impl Operation {
    pub fn name(self) -> &'static str {
        spec(self).name
    }

    /// Whether the operation only reads (anonymous access under `public-read`).
    pub fn is_read(self) -> bool {
        spec(self).is_read
    }

    pub fn reads_request_body(self) -> bool {
        spec(self).reads_body
    }
}

/// What a query parameter is to the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Carries a presigned URL's signature; never routing.
    Signature,
    /// A listing or paging parameter; ignored by operations that do not use it.
    Ordinary,
    /// An OSS sub-resource or qualifier: the chosen operation must accept it.
    SubResource,
    /// A name OSS does not define.
    Unknown,
}

/// Listing and paging parameters (not signed as sub-resources by any SDK), and the
/// requester-pays acknowledgement, which changes nothing on a bucket that does not charge
/// requesters (and no Coffer bucket does).
const ORDINARY_PARAMS: &[&str] = &[
    "prefix",
    "marker",
    "max-keys",
    "delimiter",
    "encoding-type",
    "list-type",
    "start-after",
    "fetch-owner",
    "max-parts",
    "part-number-marker",
    "key-marker",
    "upload-id-marker",
    "max-uploads",
    "x-oss-request-payer",
];

/// Every sub-resource and qualifier of the OSS API: the SDKs' signed sub-resource lists
/// (oss2, alibabacloud-oss-v2, Go v2, Java) and the names in the OSS API reference. Any
/// `x-oss-` parameter that is not a signature parameter counts as one too.
#[rustfmt::skip]
pub const OSS_SUBRESOURCES: &[&str] = &[
    "accessmonitor", "accessPoint", "accessPointForObjectProcess", "accessPointPolicy",
    "accessPointPolicyForObjectProcess", "acl", "append", "archiveDirectRead", "asyncFetch",
    "bucketArchiveDirectRead", "bucketInfo", "callback", "callback-var", "cloudboxes", "cname",
    "comp", "continuation-token", "cors", "dataAccelerator", "delete", "dirs", "encryption",
    "endTime", "group", "httpsConfig", "img", "inventory", "inventoryId", "legalHold",
    "lifecycle", "link", "live", "location", "logging", "metaQuery", "mode", "objectInfo",
    "objectMeta", "objectProcessConfiguration", "overwriteConfig", "partNumber", "policy",
    "policyStatus", "position", "processConf", "publicAccessBlock", "qos", "qosInfo",
    "qosRequester", "redundancyTransition", "referer", "regionList", "regions", "rename",
    "replication", "replicationLocation", "replicationProgress", "requesterQosInfo",
    "requestPayment", "resourceGroup", "resourcePool", "resourcePoolBuckets",
    "resourcePoolInfo", "response-cache-control", "response-content-disposition",
    "response-content-encoding", "response-content-language", "response-content-type",
    "response-expires", "restore", "retention", "seal", "sequential", "startTime", "stat",
    "status", "style", "styleName", "symlink", "tagging", "transferAcceleration", "udf",
    "udfApplication", "udfApplicationLog", "udfImage", "udfImageDesc", "udfName", "uploadId",
    "uploads", "userDefinedLogFieldsConfig", "versionId", "versioning", "versions", "vip",
    "vod", "vpcip", "website", "worm", "wormExtend", "wormId",
];

pub fn param_kind(name: &str) -> ParamKind {
    if PRESIGN_PARAMS.contains(&name) {
        ParamKind::Signature
    } else if ORDINARY_PARAMS.contains(&name) {
        ParamKind::Ordinary
    } else if OSS_SUBRESOURCES.contains(&name) || name.starts_with("x-oss-") {
        ParamKind::SubResource
    } else {
        ParamKind::Unknown
    }
}

/// A request no row serves. It is reported after authentication, so that a caller with a
/// bad AccessKey learns that first whatever it asked for.
#[derive(Debug, Clone)]
pub struct Unrouted(pub OssError);

/// Finds the operation a request names, or says why none serves it.
pub fn route(
    method: &Method,
    target: &Target,
    query: &Query,
    has_copy_source: bool,
) -> Result<Operation, Unrouted> {
    let kind = TargetKind::of(target);
    let writes = !matches!(*method, Method::GET | Method::HEAD);
    // The names that must be accepted; few requests carry more than two.
    let mut named: Vec<&str> = Vec::new();
    for (name, _) in &query.0 {
        match param_kind(name) {
            ParamKind::SubResource => named.push(name),
            ParamKind::Unknown if writes => named.push(name),
            _ => {}
        }
    }
    let chosen = OPERATIONS.iter().find(|spec| {
        spec.target == kind
            && spec.method == *method
            && spec.selector.is_none_or(|s| named.contains(&s))
            && named
                .iter()
                .all(|n| spec.selector == Some(*n) || spec.accepts.contains(n))
            && holds(spec.when, query, has_copy_source)
    });
    match chosen {
        Some(spec) => Ok(spec.op),
        None => Err(Unrouted(unrouted_error(method, kind, &named))),
    }
}

fn holds(when: When, query: &Query, has_copy_source: bool) -> bool {
    match when {
        When::Always => true,
        When::CopySource => has_copy_source,
        When::NoCopySource => !has_copy_source,
        When::ListV2 => query.get("list-type") == Some("2"),
        When::ListV1 => query.get("list-type") != Some("2"),
    }
}

/// `NotImplemented` names the first sub-resource no operation here accepts with the others;
/// a plain method on a target that has no such operation is `MethodNotAllowed`.
fn unrouted_error(method: &Method, kind: TargetKind, named: &[&str]) -> OssError {
    let served_with_method = |name: &str| {
        OPERATIONS.iter().any(|s| {
            s.target == kind
                && s.method == *method
                && (s.selector == Some(name) || s.accepts.contains(&name))
        })
    };
    match named
        .iter()
        .find(|n| !served_with_method(n))
        .or(named.first())
    {
        Some(name) => OssError::not_implemented(&format!(
            "{} with the `{name}` sub-resource",
            method.as_str()
        )),
        None => OssError::method_not_allowed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(b: Option<&str>, k: Option<&str>) -> Target {
        Target::new(b, k)
    }

    fn routed(method: Method, target: &Target, query: &str, copy: bool) -> Option<Operation> {
        route(&method, target, &Query::parse(Some(query)).unwrap(), copy).ok()
    }

    #[test]
    fn table_is_indexed_by_operation() {
        for (i, spec) in OPERATIONS.iter().enumerate() {
            assert_eq!(spec.op as usize, i, "{} is out of place", spec.name);
            assert!(spec.action.starts_with("oss:"));
        }
    }

    #[test]
    fn each_row_is_reached_by_its_own_request_and_by_no_other() {
        for spec in &OPERATIONS {
            let target = match spec.target {
                TargetKind::Service => t(None, None),
                TargetKind::Bucket => t(Some("b"), None),
                TargetKind::Object => t(Some("b"), Some("k")),
            };
            let mut query: Vec<String> = spec.selector.iter().map(|s| s.to_string()).collect();
            query.extend(spec.accepts.iter().map(|s| format!("{s}=1")));
            if spec.when == When::ListV2 {
                query.push("list-type=2".into());
            }
            let copy = spec.when == When::CopySource;
            let got = routed(spec.method.clone(), &target, &query.join("&"), copy);
            assert_eq!(got, Some(spec.op), "{} {:?}", spec.method, query);
        }
    }

    #[test]
    fn operations_that_stream_a_body_have_handlers_that_take_it() {
        for spec in &OPERATIONS {
            if spec.reads_body {
                assert!(
                    matches!(spec.handler, Handler::Body(_)),
                    "{} streams a body its handler never sees",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn every_selector_and_qualifier_is_a_known_sub_resource() {
        for spec in &OPERATIONS {
            for name in spec.selector.iter().chain(spec.accepts) {
                assert_eq!(param_kind(name), ParamKind::SubResource, "{name}");
            }
        }
    }

    #[test]
    fn classification() {
        let obj = t(Some("b"), Some("k"));
        let bucket = t(Some("b"), None);
        let cases = [
            (
                Method::PUT,
                &obj,
                "partNumber=1&uploadId=x",
                true,
                Some(Op::UploadPartCopy),
            ),
            (
                Method::PUT,
                &obj,
                "partNumber=1&uploadId=x",
                false,
                Some(Op::UploadPart),
            ),
            (
                Method::POST,
                &obj,
                "append&position=0",
                false,
                Some(Op::AppendObject),
            ),
            (
                Method::HEAD,
                &obj,
                "objectMeta",
                false,
                Some(Op::GetObjectMeta),
            ),
            (
                Method::GET,
                &bucket,
                "list-type=2&prefix=a",
                false,
                Some(Op::ListObjectsV2),
            ),
            (
                Method::GET,
                &bucket,
                "prefix=a&max-keys=2",
                false,
                Some(Op::ListObjects),
            ),
            (Method::POST, &bucket, "", false, Some(Op::PostObject)),
            (Method::PUT, &obj, "", true, Some(Op::CopyObject)),
            (
                Method::GET,
                &obj,
                "response-content-type=a%2Fb",
                false,
                Some(Op::GetObject),
            ),
            // Cache busters and other unknown names are ignored on reads, as OSS does.
            (Method::GET, &obj, "t=123", false, Some(Op::GetObject)),
            (
                Method::GET,
                &t(None, None),
                "prefix=a",
                false,
                Some(Op::ListBuckets),
            ),
        ];
        for (method, target, query, copy, want) in cases {
            assert_eq!(
                routed(method.clone(), target, query, copy),
                want,
                "{method} {query}"
            );
        }
    }

    #[test]
    fn unserved_sub_resources_never_fall_through() {
        let obj = t(Some("b"), Some("k"));
        let bucket = t(Some("b"), None);
        let cases = [
            (Method::PUT, &obj, "retention"),
            (Method::PUT, &obj, "legalHold"),
            (Method::PUT, &obj, "tagging"),
            (Method::GET, &obj, "x-oss-process=image%2Fresize"),
            (Method::PUT, &obj, "unknownThing"),
            (Method::DELETE, &bucket, "overwriteConfig"),
            (Method::DELETE, &bucket, "accessPoint"),
            (Method::GET, &bucket, "policy&comp=callback"),
            (Method::DELETE, &bucket, "policy&comp=callback"),
            (Method::PUT, &bucket, "httpsConfig"),
            (Method::POST, &bucket, "redundancyTransition"),
            (Method::GET, &t(None, None), "regions"),
            (Method::GET, &obj, "partNumber=1"),
        ];
        for (method, target, query) in cases {
            let err = route(&method, target, &Query::parse(Some(query)).unwrap(), false)
                .expect_err(query);
            assert_eq!(err.0.code.as_str(), "NotImplemented", "{method} {query}");
        }
        let err = route(&Method::PATCH, &obj, &Query::default(), false).expect_err("PATCH");
        assert_eq!(err.0.code.as_str(), "MethodNotAllowed");
    }
}
