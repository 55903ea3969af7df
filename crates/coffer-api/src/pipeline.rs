//! The request pipeline every dialect shares: [`ApiServer`] runs it around an
//! [`ApiHandler`], the one trait a dialect implements.
//!
//! For every request the pipeline assigns a request id (in the dialect's form), refuses a
//! request target or header set beyond the [`Limits`] before the dialect sees anything,
//! asks the dialect to route the request to an [`Endpoint`] and to admit it (signature,
//! permission: everything decided before the body is read), drains the body of a request
//! refused there, runs the handler, renders any error through [`ApiError`], adds the
//! request id, `Server` and `Date` headers, writes one access-log line and updates the
//! request metrics. The dialect supplies every word the client sees; this module supplies
//! none.
//!
//! The pipeline is generic over the dialect (monomorphised): the dialect's futures run
//! inline in the request's own, and only the bodies are boxed ([`RequestBody`],
//! [`ResponseBody`]), so that every handler exchanges one type each.

use std::future::Future;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;

use crate::body::{self, RequestBody, ResponseBody};

/// The operation logged for a request the dialect could not route.
const UNKNOWN_OPERATION: &str = "Unknown";

/// What a dialect's router found a request to name, as far as the log and metrics care.
pub trait Endpoint: Send {
    /// The operation's name (`PutObject`), labelling the log line and the metrics; `None`
    /// when the request names no operation the dialect serves.
    fn name(&self) -> Option<&'static str>;
    /// The bucket the request addresses, for the log line.
    fn bucket(&self) -> Option<&str>;
}

/// A dialect's error, which the pipeline renders but never inspects.
pub trait ApiError: Send {
    /// The HTTP status the error answers with.
    fn status(&self) -> StatusCode;
    /// The response that reports the error: `request_id` is the request's, `host` the
    /// `Host` the client sent, and `head` says the request was a HEAD, whose response
    /// carries no body.
    fn render(&self, request_id: &str, host: &str, head: bool) -> Response<ResponseBody>;
}

/// A limit the pipeline enforces on every request, which the dialect reports in its own
/// words ([`ApiHandler::limit_exceeded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitExceeded {
    /// The request target (path and query) is longer than [`Limits::max_uri_bytes`].
    Uri,
    /// Header names and values total more than [`Limits::max_header_bytes`].
    Headers,
}

/// Sizes beyond which a request is refused before the dialect sees it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request target (path and query) accepted, in bytes.
    pub max_uri_bytes: usize,
    /// Largest total size of request header names and values accepted, in bytes.
    pub max_header_bytes: usize,
}

impl Limits {
    /// The first limit `head` exceeds, if any.
    fn exceeded_by(&self, head: &Parts) -> Option<LimitExceeded> {
        let uri_len = head.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if uri_len > self.max_uri_bytes {
            return Some(LimitExceeded::Uri);
        }
        // hyper's own head limit is approximate (its read buffer grows by doubling), so the
        // exact limit is enforced here.
        let header_bytes: usize = head
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        (header_bytes > self.max_header_bytes).then_some(LimitExceeded::Headers)
    }
}

/// A wire dialect (OSS, S3): how it names, admits and serves requests, and what it calls
/// the headers the pipeline adds.
///
/// A request goes through [`parse_endpoint`](Self::parse_endpoint), then
/// [`admit`](Self::admit), then [`handle`](Self::handle). An error from the first two
/// leaves the body unread, and the pipeline drains it; only `handle` sees the body.
pub trait ApiHandler: Send + Sync + 'static {
    /// The response header that carries the request id (`x-oss-request-id`).
    const REQUEST_ID_HEADER: &'static str;
    /// The `Server` header's value (`AliyunOSS`).
    const SERVER: &'static str;

    /// What the router finds a request names.
    type Endpoint: Endpoint;
    /// A request admitted to run: whatever `handle` needs besides the body.
    type Admitted: Send;
    type Error: ApiError;

    /// A fresh request id, in the form the dialect's clients expect.
    fn new_request_id(&self) -> String;

    /// The error reporting that a request exceeds `limit`.
    fn limit_exceeded(&self, limit: LimitExceeded) -> Self::Error;

    /// Routes a request from its head and `Host` (empty when absent).
    fn parse_endpoint(&self, head: &Parts, host: &str) -> Result<Self::Endpoint, Self::Error>;

    /// Everything decided before the body is read: signature, permission, header checks.
    fn admit(
        &self,
        endpoint: Self::Endpoint,
        head: Parts,
        host: &str,
    ) -> impl Future<Output = Result<Self::Admitted, Self::Error>> + Send;

    /// Serves an admitted request.
    fn handle(
        &self,
        request: Self::Admitted,
        body: RequestBody,
    ) -> impl Future<Output = Result<Response<ResponseBody>, Self::Error>> + Send;
}

/// `N` random bytes as upper-case hex: a request id generator for dialects whose ids have
/// that shape (OSS's are 12 bytes, 24 characters).
pub fn random_hex_id<const N: usize>() -> String {
    let bytes: [u8; N] = rand::random();
    hex::encode_upper(bytes)
}

/// Serves one dialect through the shared pipeline.
pub struct ApiServer<A> {
    handler: A,
    limits: Limits,
}

/// What one request did, for the access log and metrics.
struct LogFields {
    operation: &'static str,
    bucket: String,
}

impl<A: ApiHandler> ApiServer<A> {
    pub fn new(handler: A, limits: Limits) -> Self {
        ApiServer { handler, limits }
    }

    /// The dialect this server runs.
    pub fn handler(&self) -> &A {
        &self.handler
    }

    /// Serves one request. Never fails: every error becomes the dialect's error response.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        let started = Instant::now();
        let request_id = self.handler.new_request_id();
        let head = req.method() == Method::HEAD;
        let host = header_str(req.headers(), http::header::HOST).to_owned();
        let bytes_in = content_length(req.headers());
        let sends_body =
            bytes_in > 0 || req.headers().contains_key(http::header::TRANSFER_ENCODING);
        let mut log = LogFields {
            operation: UNKNOWN_OPERATION,
            bucket: String::new(),
        };
        let req = req.map(|b| {
            b.map_err(|e| std::io::Error::other(e.to_string()))
                .boxed_unsync()
        });
        let mut response = match self.dispatch(req, &host, &mut log).await {
            Ok(response) => response,
            Err(err) => {
                let mut response = err.render(&request_id, &host, head);
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
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert(A::REQUEST_ID_HEADER, v);
        }
        headers.insert(http::header::SERVER, HeaderValue::from_static(A::SERVER));
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
            headers.insert(http::header::DATE, v);
        }
        let bytes_out = content_length(response.headers());
        record(
            &request_id,
            &log,
            response.status(),
            bytes_in,
            bytes_out,
            started,
        );
        response
    }

    async fn dispatch(
        &self,
        req: Request<RequestBody>,
        host: &str,
        log: &mut LogFields,
    ) -> Result<Response<ResponseBody>, A::Error> {
        let (head, body) = req.into_parts();
        let admitted = match self.admit(head, host, log).await {
            Ok(admitted) => admitted,
            Err(e) => {
                body::drain(body).await;
                return Err(e);
            }
        };
        self.handler.handle(admitted, body).await
    }

    /// Limits, routing and the dialect's admission: a refusal here leaves the body unread.
    async fn admit(
        &self,
        head: Parts,
        host: &str,
        log: &mut LogFields,
    ) -> Result<A::Admitted, A::Error> {
        if let Some(limit) = self.limits.exceeded_by(&head) {
            return Err(self.handler.limit_exceeded(limit));
        }
        let endpoint = self.handler.parse_endpoint(&head, host)?;
        log.bucket = endpoint.bucket().unwrap_or_default().to_owned();
        if let Some(name) = endpoint.name() {
            log.operation = name;
        }
        self.handler.admit(endpoint, head, host).await
    }
}

fn header_str(headers: &HeaderMap, name: http::header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
}

fn content_length(headers: &HeaderMap) -> u64 {
    header_str(headers, http::header::CONTENT_LENGTH)
        .parse::<u64>()
        .unwrap_or(0)
}

/// Writes the access-log line and updates the request metrics.
fn record(
    request_id: &str,
    log: &LogFields,
    status: StatusCode,
    bytes_in: u64,
    bytes_out: u64,
    started: Instant,
) {
    let elapsed = started.elapsed();
    tracing::info!(
        request_id = %request_id,
        operation = log.operation,
        bucket = %log.bucket,
        status = status.as_u16(),
        bytes_in,
        bytes_out,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    let labels = [
        ("operation", log.operation.to_string()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("coffer_requests_total", &labels).increment(1);
    metrics::histogram!("coffer_request_duration_seconds", "operation" => log.operation)
        .record(elapsed.as_secs_f64());
    metrics::counter!("coffer_bytes_in_total").increment(bytes_in);
    metrics::counter!("coffer_bytes_out_total").increment(bytes_out);
}
