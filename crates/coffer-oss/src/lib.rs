//! The Alibaba Cloud OSS dialect of Coffer.
//!
//! [`OssApi`] is a `coffer_api::ApiHandler`: the shared pipeline (`coffer_api::ApiServer`)
//! runs every request through it. One request flows: [`router`] finds the bucket and key,
//! [`operation`] the [`Operation`] from its declared allow-list; [`auth`] checks the
//! signature; [`access`] checks the caller may do it (module `pipeline` wires these into
//! the shared pipeline); the handler the operation's row names (`bucket`, `list`, `put`,
//! `get`, `copy`, `delete`, `multipart`, `acl`, ...) calls [`coffer_service`] and renders
//! the answer with [`xml`]; failures are `OssError`s, which `pipeline` renders. Everything
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
mod pipeline;
mod post;
mod put;
pub mod router;
mod unsupported;
pub mod xml;

use std::sync::Arc;

use coffer_service::Service;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

pub use body::{RequestBody, ResponseBody};
pub use error::OssError;
pub use operation::Operation;
pub use pipeline::{Admitted, OssEndpoint};

pub use access::action_of;
use auth::Principal;
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
    default_data_redundancy: "LRS",
    // Objects under 64 KB of the infrequent-access and archive classes count as 64 KB
    // (GetBucketStat's *Storage figures; its *RealStorage ones are actual sizes).
    billing_minimums: &[
        ("IA", 64 * 1024),
        ("Archive", 64 * 1024),
        ("ColdArchive", 64 * 1024),
        ("DeepColdArchive", 64 * 1024),
    ],
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
    /// Whether the request came over TLS, for `acs:SecureTransport` conditions.
    pub secure: bool,
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

impl OssApi {
    pub fn new(service: Service, identities: Arc<dyn Identities>, config: OssConfig) -> Self {
        OssApi {
            service,
            identities,
            config,
            policies: Default::default(),
        }
    }
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
