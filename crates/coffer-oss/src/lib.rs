//! The Alibaba Cloud OSS dialect of Coffer.
//!
//! One request flows: [`router`] finds the bucket and key, [`operation`] the [`Operation`]
//! from its declared allow-list; [`auth`] checks the signature; [`access`] checks the caller may do it; an operation module (`bucket`,
//! `list`, `put`, `get`, `copy`, `delete`, `multipart`, `acl`) calls [`coffer_service`]
//! and renders the answer with [`xml`]; [`error`] renders failures. Everything
//! OSS-specific (header names, XML, signatures, error codes) lives in this crate, so
//! another dialect can sit beside it over the same service.

pub mod access;
mod acl;
pub mod auth;
mod body;
mod bucket;
mod copy;
mod delete;
mod encryption;
mod error;
mod get;
mod headers;
mod list;
mod multipart;
pub mod operation;
mod post;
mod put;
pub mod router;
mod unsupported;
pub mod xml;

use std::sync::Arc;

use bytes::Bytes;
use std::time::{Instant, SystemTime};

use coffer_service::Service;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

pub use body::{RequestBody, ResponseBody};
pub use error::OssError;
use http_body_util::BodyExt;
pub use operation::Operation;

pub use access::action_of;
use auth::{AuthContext, Principal, RequestParts};
use coffer_api::identity::Identities;
use error::OssResult;
use router::{Query, Target};

/// OSS's limits on objects and parts, which the service enforces for this dialect.
pub const OSS_LIMITS: coffer_service::Limits = coffer_service::Limits {
    max_object_size: 5 * 1024 * 1024 * 1024,
    max_part_size: 5 * 1024 * 1024 * 1024,
    min_part_size: 100 * 1024,
    max_part_number: 10_000,
    default_storage_class: "Standard",
};

/// Settings of the OSS front end.
#[derive(Debug, Clone)]
pub struct OssConfig {
    /// Region id (`cn-hangzhou`); V4 signatures must name it.
    pub region: String,
    /// Host names whose sub-domains are buckets (virtual-hosted style).
    pub domains: Vec<String>,
    /// Account id that owns everything the root key creates.
    pub owner_id: String,
    /// Longest request target (path and query) accepted, in bytes.
    pub max_uri_bytes: usize,
    /// Largest total size of request header names and values accepted, in bytes.
    pub max_header_bytes: usize,
}

impl OssConfig {
    pub fn location(&self) -> String {
        format!("oss-{}", self.region)
    }
}

/// The OSS front end: turns HTTP requests into service calls.
pub struct OssApi {
    service: Service,
    identities: Arc<dyn Identities>,
    config: OssConfig,
    /// Parsed bucket policies, by bucket.
    policies: access::PolicyCache,
}

/// Everything an operation handler needs to know about its request.
pub(crate) struct RequestContext {
    pub target: Target,
    pub query: Query,
    pub headers: HeaderMap,
    pub principal: Principal,
    /// `Host` as the client sent it, echoed as `HostId` in errors.
    pub host: String,
    /// The client's address, for `acs:SourceIp` conditions.
    pub remote: Option<std::net::IpAddr>,
}

impl RequestContext {
    pub fn bucket(&self) -> &str {
        self.target.bucket.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.target.key.as_deref().unwrap_or_default()
    }

    /// Who is calling, as the key audit trail names them.
    pub fn caller(&self) -> String {
        match &self.principal {
            Principal::AccessKey { access_key_id } => access_key_id.clone(),
            Principal::Anonymous => "anonymous".to_owned(),
        }
    }
}

/// What one request did, for the access log and metrics.
struct Outcome {
    operation: &'static str,
    status: StatusCode,
}

impl OssApi {
    pub fn new(service: Service, identities: Arc<dyn Identities>, config: OssConfig) -> Self {
        OssApi {
            service,
            identities,
            config,
            policies: Default::default(),
        }
    }

    /// Serves one request. Never fails: every error becomes an OSS error response.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        let started = Instant::now();
        let request_id = new_request_id();
        let method = req.method().clone();
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes_in = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let sends_body =
            bytes_in > 0 || req.headers().contains_key(http::header::TRANSFER_ENCODING);
        let mut outcome = Outcome {
            operation: "Unknown",
            status: StatusCode::OK,
        };
        let mut bucket_for_log = String::new();
        let req = req.map(|b| {
            b.map_err(|e| std::io::Error::other(e.to_string()))
                .boxed_unsync()
        });
        let result = self
            .dispatch(req, &host, &mut outcome, &mut bucket_for_log)
            .await;
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                let mut response = render_error(&err, &request_id, &host, method == Method::HEAD);
                // The body may be unread; hyper then closes the connection, so say so
                // rather than let the client reuse a connection that is going away.
                if sends_body {
                    response
                        .headers_mut()
                        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                }
                response
            }
        };
        outcome.status = response.status();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-oss-request-id", v);
        }
        headers.insert(http::header::SERVER, HeaderValue::from_static("AliyunOSS"));
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
            headers.insert(http::header::DATE, v);
        }
        let bytes_out = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let elapsed = started.elapsed();
        tracing::info!(
            request_id = %request_id,
            operation = outcome.operation,
            bucket = %bucket_for_log,
            status = outcome.status.as_u16(),
            bytes_in,
            bytes_out,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        let labels = [
            ("operation", outcome.operation.to_string()),
            ("status", outcome.status.as_u16().to_string()),
        ];
        metrics::counter!("coffer_requests_total", &labels).increment(1);
        metrics::histogram!("coffer_request_duration_seconds", "operation" => outcome.operation)
            .record(elapsed.as_secs_f64());
        metrics::counter!("coffer_bytes_in_total").increment(bytes_in);
        metrics::counter!("coffer_bytes_out_total").increment(bytes_out);
        response
    }

    async fn dispatch(
        &self,
        req: Request<RequestBody>,
        host: &str,
        outcome: &mut Outcome,
        bucket_for_log: &mut String,
    ) -> OssResult<Response<ResponseBody>> {
        let (parts, body) = req.into_parts();
        let (ctx, operation) = match self.prepare(parts, host, outcome, bucket_for_log).await {
            Ok(prepared) => prepared,
            Err(e) => {
                body::drain(body).await;
                return Err(e);
            }
        };
        self.run(operation, &ctx, body).await
    }

    /// Everything decided before an operation runs: target, operation, signature,
    /// permission. A refusal here leaves the request body unread.
    async fn prepare(
        &self,
        parts: http::request::Parts,
        host: &str,
        outcome: &mut Outcome,
        bucket_for_log: &mut String,
    ) -> OssResult<(RequestContext, Operation)> {
        let uri_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if uri_len > self.config.max_uri_bytes {
            return Err(OssError::invalid_argument(
                "uri",
                "",
                "The request URI is too long.",
            ));
        }
        // hyper's own head limit is approximate (its read buffer grows by doubling), so the
        // exact limit is enforced here.
        let header_bytes: usize = parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        if header_bytes > self.config.max_header_bytes {
            return Err(OssError::invalid_argument(
                "headers",
                "",
                "The request headers are too large.",
            ));
        }
        let target = router::resolve_target(Some(host), parts.uri.path(), &self.config.domains)?;
        *bucket_for_log = target.bucket.clone().unwrap_or_default();
        let query = Query::parse(parts.uri.query())?;
        let has_copy_source = parts.headers.contains_key("x-oss-copy-source");
        let routed = operation::route(&parts.method, &target, &query, has_copy_source);
        if let Ok(op) = routed {
            outcome.operation = op.name();
        }

        // PostObject is signed inside its form, not in headers or the URL (which OSS ignores
        // for it): its handler verifies the policy and derives the caller itself. Every
        // other request, served or not, is authenticated before anything else is said.
        let principal = if routed.as_ref().is_ok_and(|op| *op == Operation::PostObject) {
            Principal::Anonymous
        } else {
            self.authenticate(&parts, &target, &query, &routed).await?
        };
        let operation = routed.map_err(|unrouted| unrouted.0)?;
        unsupported::check(operation, &parts.headers)?;
        let ctx = RequestContext {
            target,
            query,
            headers: parts.headers,
            principal,
            host: host.to_owned(),
            remote: parts
                .extensions
                .get::<std::net::SocketAddr>()
                .map(|a| a.ip()),
        };
        if operation != Operation::PostObject {
            access::authorize(self, &ctx, operation).await?;
        }
        if operation.reads_request_body() && !has_length_or_chunked(&ctx.headers) {
            return Err(OssError::missing_content_length());
        }
        Ok((ctx, operation))
    }

    /// Checks the request's signature. A caller whose credentials are refused on a bucket
    /// that does not exist is told `NoSuchBucket`, as OSS does: bucket names are global and
    /// anonymous callers learn the same (see docs/access-control.md), and SDK helpers such
    /// as `is_bucket_exist` rely on it.
    async fn authenticate(
        &self,
        parts: &http::request::Parts,
        target: &Target,
        query: &Query,
        routed: &Result<Operation, operation::Unrouted>,
    ) -> OssResult<Principal> {
        let checked = auth::authenticate(
            &RequestParts {
                method: parts.method.as_str(),
                bucket: target.bucket.as_deref(),
                key: target.key.as_deref(),
                query: &query.0,
                headers: &parts.headers,
            },
            &*self.identities,
            &AuthContext {
                region: self.config.region.clone(),
                now: SystemTime::now(),
            },
        )
        .await;
        let refused = match checked {
            Ok(principal) => return Ok(principal),
            Err(e) => OssError::from(e),
        };
        let creates_bucket = routed.as_ref().is_ok_and(|op| *op == Operation::PutBucket);
        if let Some(bucket) = &target.bucket
            && refused.status() == http::StatusCode::FORBIDDEN
            && !creates_bucket
            && let Err(coffer_service::ServiceError::NoSuchBucket) =
                self.service.get_bucket(bucket).await
        {
            return Err(coffer_service::ServiceError::NoSuchBucket.into());
        }
        Err(refused)
    }

    async fn run(
        &self,
        operation: Operation,
        ctx: &RequestContext,
        body: RequestBody,
    ) -> OssResult<Response<ResponseBody>> {
        use Operation::*;
        match operation {
            ListBuckets => bucket::list_buckets(self, ctx).await,
            PutBucket => bucket::put_bucket(self, ctx, body).await,
            DeleteBucket => bucket::delete_bucket(self, ctx).await,
            GetBucketInfo => bucket::get_bucket_info(self, ctx).await,
            GetBucketLocation => bucket::get_bucket_location(self, ctx).await,
            GetBucketStat => bucket::get_bucket_stat(self, ctx).await,
            PutBucketAcl => acl::put_bucket_acl(self, ctx).await,
            GetBucketAcl => acl::get_bucket_acl(self, ctx).await,
            PutBucketEncryption => encryption::put_bucket_encryption(self, ctx, body).await,
            GetBucketEncryption => encryption::get_bucket_encryption(self, ctx).await,
            DeleteBucketEncryption => encryption::delete_bucket_encryption(self, ctx).await,
            PutBucketPolicy => bucket::put_bucket_policy(self, ctx, body).await,
            GetBucketPolicy => bucket::get_bucket_policy(self, ctx).await,
            DeleteBucketPolicy => bucket::delete_bucket_policy(self, ctx).await,
            ListObjects => list::list_objects_v1(self, ctx).await,
            ListObjectsV2 => list::list_objects_v2(self, ctx).await,
            ListMultipartUploads => multipart::list_uploads(self, ctx).await,
            DeleteMultipleObjects => delete::delete_multiple(self, ctx, body).await,
            PutObject => put::put_object(self, ctx, body).await,
            PostObject => post::post_object(self, ctx, body).await,
            AppendObject => put::append_object(self, ctx, body).await,
            CopyObject => copy::copy_object(self, ctx).await,
            GetObject => get::get_object(self, ctx, false).await,
            HeadObject => get::get_object(self, ctx, true).await,
            GetObjectMeta => get::get_object_meta(self, ctx).await,
            DeleteObject => delete::delete_object(self, ctx).await,
            PutObjectAcl => acl::put_object_acl(self, ctx).await,
            GetObjectAcl => acl::get_object_acl(self, ctx).await,
            InitiateMultipartUpload => multipart::initiate(self, ctx).await,
            UploadPart => multipart::upload_part(self, ctx, body).await,
            UploadPartCopy => multipart::upload_part_copy(self, ctx).await,
            CompleteMultipartUpload => multipart::complete(self, ctx, body).await,
            AbortMultipartUpload => multipart::abort(self, ctx).await,
            ListParts => multipart::list_parts(self, ctx).await,
        }
    }
}

fn has_length_or_chunked(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::CONTENT_LENGTH)
        || headers
            .get(http::header::TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// 24 upper-case hex characters, the shape of the real service's request ids.
fn new_request_id() -> String {
    let bytes: [u8; 12] = rand::random();
    hex::encode_upper(bytes)
}

/// Renders an error. HEAD responses cannot carry a body, so the document travels base64
/// encoded in `x-oss-err`, where the SDKs look for it.
fn render_error(
    err: &OssError,
    request_id: &str,
    host: &str,
    head: bool,
) -> Response<ResponseBody> {
    let mut builder = Response::builder().status(err.status());
    for (name, value) in &err.headers {
        builder = builder.header(*name, value.as_str());
    }
    if err.status() == StatusCode::NOT_MODIFIED {
        return builder
            .body(body::empty())
            .expect("static response parts are valid");
    }
    let document = xml::ErrorXml {
        code: err.code.as_str().to_owned(),
        message: err.message.clone(),
        request_id: request_id.to_owned(),
        host_id: host.to_owned(),
        ec: Some(err.ec().to_owned()),
        extra: err.extra.iter().map(|(k, v)| (*k, v.clone())).collect(),
    }
    .to_xml();
    builder = builder.header("x-oss-ec", err.ec());
    let response = if head {
        use base64::Engine;
        builder
            .header(
                "x-oss-err",
                base64::engine::general_purpose::STANDARD.encode(document.as_bytes()),
            )
            .body(body::empty())
    } else {
        builder
            .header(http::header::CONTENT_TYPE, "application/xml")
            .header(http::header::CONTENT_LENGTH, document.len())
            .body(body::full(document))
    };
    response.unwrap_or_else(|_| Response::new(body::empty()))
}

/// An XML success response.
pub(crate) fn xml_response(document: String) -> OssResult<Response<ResponseBody>> {
    Response::builder()
        .header(http::header::CONTENT_TYPE, "application/xml")
        .header(http::header::CONTENT_LENGTH, document.len())
        .body(body::full(document))
        .map_err(|e| OssError::internal(&e.to_string()))
}

/// An empty success response with the given status.
pub(crate) fn empty_response(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(body::empty());
    *response.status_mut() = status;
    if status != StatusCode::NO_CONTENT {
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    response
}
