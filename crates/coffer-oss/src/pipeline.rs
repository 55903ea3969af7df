//! The OSS dialect's side of the shared request pipeline (`coffer_api::ApiHandler`): OSS's
//! request ids and header names, how it routes and admits a request, and how its errors
//! are rendered.

use std::time::SystemTime;

use coffer_api::{ApiError, ApiHandler, Endpoint, LimitExceeded, RequestBody, ResponseBody};
use http::request::Parts;
use http::{HeaderMap, Response, StatusCode};

use crate::auth::{self, AuthContext, Principal, RequestParts};
use crate::error::{OssError, OssResult};
use crate::operation::{self, Handler, Operation, Unrouted};
use crate::router::{self, Query, Target};
use crate::{OssApi, RequestContext, access, body, unsupported, xml};

/// What an OSS request names: its bucket and key, and the operation its method, query and
/// headers select.
pub struct OssEndpoint {
    target: Target,
    route: Route,
}

enum Route {
    /// The query string does not decode; refused before anything else is checked.
    BadQuery(OssError),
    /// The decoded query and the operation it selects. A request no operation serves is
    /// refused only after authentication, so that a bad AccessKey is reported first.
    Parsed {
        query: Query,
        routed: Result<Operation, Unrouted>,
    },
}

impl Endpoint for OssEndpoint {
    fn name(&self) -> Option<&'static str> {
        match &self.route {
            Route::Parsed { routed: Ok(op), .. } => Some(op.name()),
            _ => None,
        }
    }

    fn bucket(&self) -> Option<&str> {
        self.target.bucket.as_deref()
    }
}

/// A request that passed authentication and authorisation, ready to run.
pub struct Admitted {
    ctx: RequestContext,
    operation: Operation,
}

impl ApiHandler for OssApi {
    const REQUEST_ID_HEADER: &'static str = "x-oss-request-id";
    const SERVER: &'static str = "AliyunOSS";

    type Endpoint = OssEndpoint;
    type Admitted = Admitted;
    type Error = OssError;

    /// 24 upper-case hex characters, the shape of the real service's request ids.
    fn new_request_id(&self) -> String {
        coffer_api::pipeline::random_hex_id::<12>()
    }

    fn limit_exceeded(&self, limit: LimitExceeded) -> OssError {
        match limit {
            LimitExceeded::Uri => {
                OssError::invalid_argument("uri", "", "The request URI is too long.")
            }
            LimitExceeded::Headers => {
                OssError::invalid_argument("headers", "", "The request headers are too large.")
            }
        }
    }

    fn parse_endpoint(&self, head: &Parts, host: &str) -> OssResult<OssEndpoint> {
        let target = router::resolve_target(Some(host), head.uri.path(), &self.config.domains)?;
        let route = match Query::parse(head.uri.query()) {
            Ok(query) => {
                let has_copy_source = head.headers.contains_key("x-oss-copy-source");
                let routed = operation::route(&head.method, &target, &query, has_copy_source);
                Route::Parsed { query, routed }
            }
            Err(e) => Route::BadQuery(e),
        };
        Ok(OssEndpoint { target, route })
    }

    async fn admit(&self, endpoint: OssEndpoint, head: Parts, host: &str) -> OssResult<Admitted> {
        let OssEndpoint { target, route } = endpoint;
        let (query, routed) = match route {
            Route::BadQuery(e) => return Err(e),
            Route::Parsed { query, routed } => (query, routed),
        };
        // PostObject is signed inside its form, not in headers or the URL (which OSS ignores
        // for it): its handler verifies the policy and derives the caller itself. Every
        // other request, served or not, is authenticated before anything else is said.
        let principal = if routed.as_ref().is_ok_and(|op| *op == Operation::PostObject) {
            Principal::Anonymous
        } else {
            self.authenticate(&head, &target, &query, &routed).await?
        };
        let operation = routed.map_err(|unrouted| unrouted.0)?;
        unsupported::check(operation, &head.headers)?;
        let ctx = RequestContext {
            target,
            query,
            headers: head.headers,
            principal,
            host: host.to_owned(),
            remote: head
                .extensions
                .get::<std::net::SocketAddr>()
                .map(|a| a.ip()),
            // Absent only when a request did not come through a listener (tests): not TLS.
            secure: head.extensions.get::<coffer_api::Transport>()
                == Some(&coffer_api::Transport::Tls),
        };
        if operation != Operation::PostObject {
            access::authorize(self, &ctx, operation).await?;
        }
        if operation.reads_request_body() && !has_length_or_chunked(&ctx.headers) {
            return Err(OssError::missing_content_length());
        }
        Ok(Admitted { ctx, operation })
    }

    async fn handle(
        &self,
        request: Admitted,
        body: RequestBody,
    ) -> OssResult<Response<ResponseBody>> {
        let Admitted { ctx, operation } = request;
        match operation::spec(operation).handler {
            Handler::Body(handler) => handler(self, &ctx, body).await,
            Handler::Head(handler) => {
                let answer = handler(self, &ctx).await;
                // Held until the answer is ready, as when every handler took the body.
                drop(body);
                answer
            }
        }
    }
}

impl OssApi {
    /// Checks the request's signature. A caller whose credentials are refused on a bucket
    /// that does not exist is told `NoSuchBucket`, as OSS does: bucket names are global and
    /// anonymous callers learn the same (see docs/access-control.md), and SDK helpers such
    /// as `is_bucket_exist` rely on it.
    async fn authenticate(
        &self,
        head: &Parts,
        target: &Target,
        query: &Query,
        routed: &Result<Operation, Unrouted>,
    ) -> OssResult<Principal> {
        let checked = auth::authenticate(
            &RequestParts {
                method: head.method.as_str(),
                bucket: target.bucket.as_deref(),
                key: target.key.as_deref(),
                query: &query.0,
                headers: &head.headers,
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
            && refused.status() == StatusCode::FORBIDDEN
            && !creates_bucket
            && let Err(coffer_service::ServiceError::NoSuchBucket) =
                self.service.get_bucket(bucket).await
        {
            return Err(coffer_service::ServiceError::NoSuchBucket.into());
        }
        Err(refused)
    }
}

fn has_length_or_chunked(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::CONTENT_LENGTH)
        || headers
            .get(http::header::TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

impl ApiError for OssError {
    fn status(&self) -> StatusCode {
        OssError::status(self)
    }

    /// The OSS `<Error>` document. HEAD responses cannot carry a body, so the document
    /// travels base64 encoded in `x-oss-err`, where the SDKs look for it.
    fn render(&self, request_id: &str, host: &str, head: bool) -> Response<ResponseBody> {
        let mut builder = Response::builder().status(self.status());
        for (name, value) in &self.headers {
            builder = builder.header(*name, value.as_str());
        }
        if self.status() == StatusCode::NOT_MODIFIED {
            return builder
                .body(body::empty())
                .expect("static response parts are valid");
        }
        let document = xml::ErrorXml {
            code: self.code.as_str().to_owned(),
            message: self.message.clone(),
            request_id: request_id.to_owned(),
            host_id: host.to_owned(),
            ec: Some(self.ec().to_owned()),
            extra: self.extra.iter().map(|(k, v)| (*k, v.clone())).collect(),
        }
        .to_xml();
        builder = builder.header("x-oss-ec", self.ec());
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
}
