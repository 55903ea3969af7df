//! The shared pipeline, driven through a tiny dialect of its own: request ids and the
//! dialect's header names, error rendering through `ApiError`, limits refused before the
//! dialect runs, bodies drained after an early refusal, and `Connection: close` when an
//! error may leave a body unread.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use coffer_api::body::{self, RequestBody, ResponseBody};
use coffer_api::pipeline::random_hex_id;
use coffer_api::{ApiError, ApiHandler, ApiServer, Endpoint, LimitExceeded, Limits};
use futures_util::StreamExt;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};

/// A dialect whose paths are `/<bucket>/<verb>`: `ok` answers 200 without reading the
/// body, `echo` answers with the body, `fail` fails in its handler, `refuse` is refused at
/// admission, and anything else names no operation.
#[derive(Default)]
struct Toy {
    routed: AtomicUsize,
    handled: AtomicUsize,
}

#[derive(Debug, PartialEq)]
enum ToyError {
    Limit(LimitExceeded),
    Unknown,
    Refused,
    Failed,
}

impl ApiError for ToyError {
    fn status(&self) -> StatusCode {
        match self {
            ToyError::Limit(_) => StatusCode::BAD_REQUEST,
            ToyError::Unknown => StatusCode::NOT_IMPLEMENTED,
            ToyError::Refused => StatusCode::FORBIDDEN,
            ToyError::Failed => StatusCode::CONFLICT,
        }
    }

    fn render(&self, request_id: &str, host: &str, head: bool) -> Response<ResponseBody> {
        let text = format!("{self:?} id={request_id} host={host}");
        let builder = Response::builder()
            .status(ApiError::status(self))
            .header("x-toy-error", format!("{self:?}"));
        let body = if head {
            body::empty()
        } else {
            body::full(text)
        };
        builder.body(body).expect("valid test response")
    }
}

struct ToyEndpoint {
    bucket: String,
    verb: String,
}

impl Endpoint for ToyEndpoint {
    fn name(&self) -> Option<&'static str> {
        match self.verb.as_str() {
            "ok" => Some("Ok"),
            "echo" => Some("Echo"),
            "fail" => Some("Fail"),
            "refuse" => Some("Refuse"),
            _ => None,
        }
    }

    fn bucket(&self) -> Option<&str> {
        Some(&self.bucket)
    }
}

impl ApiHandler for Toy {
    const REQUEST_ID_HEADER: &'static str = "x-toy-request-id";
    const SERVER: &'static str = "ToyServer";
    type Endpoint = ToyEndpoint;
    type Admitted = ToyEndpoint;
    type Error = ToyError;

    fn new_request_id(&self) -> String {
        random_hex_id::<8>()
    }

    fn limit_exceeded(&self, limit: LimitExceeded) -> ToyError {
        ToyError::Limit(limit)
    }

    fn parse_endpoint(&self, head: &Parts, _host: &str) -> Result<ToyEndpoint, ToyError> {
        self.routed.fetch_add(1, Ordering::SeqCst);
        let mut parts = head.uri.path().trim_start_matches('/').splitn(2, '/');
        let bucket = parts.next().unwrap_or_default().to_owned();
        let verb = parts.next().unwrap_or_default().to_owned();
        Ok(ToyEndpoint { bucket, verb })
    }

    async fn admit(
        &self,
        endpoint: ToyEndpoint,
        _head: Parts,
        _host: &str,
    ) -> Result<ToyEndpoint, ToyError> {
        match endpoint.name() {
            None => Err(ToyError::Unknown),
            Some("Refuse") => Err(ToyError::Refused),
            Some(_) => Ok(endpoint),
        }
    }

    async fn handle(
        &self,
        request: ToyEndpoint,
        body: RequestBody,
    ) -> Result<Response<ResponseBody>, ToyError> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        match request.verb.as_str() {
            "ok" => Ok(Response::new(body::empty())),
            "echo" => {
                let data = body.collect().await.map_err(|_| ToyError::Failed)?;
                Ok(Response::new(body::full(data.to_bytes())))
            }
            _ => Err(ToyError::Failed),
        }
    }
}

const LIMITS: Limits = Limits {
    max_uri_bytes: 64,
    max_header_bytes: 256,
};

fn server() -> ApiServer<Toy> {
    ApiServer::new(Toy::default(), LIMITS)
}

fn request(method: Method, uri: &str, body: &'static str) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "toy.example");
    if !body.is_empty() {
        builder = builder.header("content-length", body.len());
    }
    builder
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("valid test request")
}

async fn text(response: Response<ResponseBody>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn header<'a>(response: &'a Response<ResponseBody>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn every_answer_carries_the_dialects_request_id_server_and_date() {
    let server = server();
    let ok = server.handle(request(Method::GET, "/b/ok", "")).await;
    let failed = server.handle(request(Method::GET, "/b/fail", "")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(failed.status(), StatusCode::CONFLICT);
    let mut ids = Vec::new();
    for response in [&ok, &failed] {
        let id = header(response, "x-toy-request-id").expect("request id");
        assert_eq!(id.len(), 16, "{id}");
        assert!(
            id.chars().all(|c| matches!(c, '0'..='9' | 'A'..='F')),
            "{id}"
        );
        ids.push(id.to_owned());
        assert_eq!(header(response, "server"), Some("ToyServer"));
        let date = header(response, "date").expect("date");
        assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
        assert!(response.headers().get("x-oss-request-id").is_none());
    }
    assert_ne!(ids[0], ids[1], "each request has an id of its own");
}

#[tokio::test]
async fn errors_are_rendered_by_the_dialect_with_request_id_and_host() {
    let server = server();
    let response = server.handle(request(Method::GET, "/b/fail", "")).await;
    let id = header(&response, "x-toy-request-id")
        .expect("request id")
        .to_owned();
    assert_eq!(header(&response, "x-toy-error"), Some("Failed"));
    assert_eq!(
        text(response).await,
        format!("Failed id={id} host=toy.example")
    );

    let head = server.handle(request(Method::HEAD, "/b/nothing", "")).await;
    assert_eq!(head.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(header(&head, "x-toy-error"), Some("Unknown"));
    assert_eq!(text(head).await, "", "a HEAD error has no body");
}

#[tokio::test]
async fn limits_are_refused_before_the_dialect_routes_anything() {
    let server = server();
    let long = format!("/b/ok?{}", "x".repeat(LIMITS.max_uri_bytes));
    let response = server.handle(request(Method::GET, &long, "")).await;
    assert_eq!(header(&response, "x-toy-error"), Some("Limit(Uri)"));

    let mut big = request(Method::GET, "/b/ok", "");
    big.headers_mut().insert(
        "x-filler",
        "y".repeat(LIMITS.max_header_bytes)
            .parse()
            .expect("header value"),
    );
    let response = server.handle(big).await;
    assert_eq!(header(&response, "x-toy-error"), Some("Limit(Headers)"));
    assert!(header(&response, "x-toy-request-id").is_some());

    assert_eq!(server.handler().routed.load(Ordering::SeqCst), 0);
    assert_eq!(server.handler().handled.load(Ordering::SeqCst), 0);

    // Exactly at the limit is still served.
    let at_limit = format!(
        "/b/ok?{}",
        "x".repeat(LIMITS.max_uri_bytes - "/b/ok?".len())
    );
    let response = server.handle(request(Method::GET, &at_limit, "")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_error_with_a_request_body_closes_the_connection() {
    let server = server();
    for uri in ["/b/refuse", "/b/fail", "/b/nothing"] {
        let response = server.handle(request(Method::PUT, uri, "payload")).await;
        assert!(!response.status().is_success(), "{uri}");
        assert_eq!(header(&response, "connection"), Some("close"), "{uri}");
    }
    let no_body = server.handle(request(Method::PUT, "/b/refuse", "")).await;
    assert_eq!(header(&no_body, "connection"), None);
    let echoed = server
        .handle(request(Method::PUT, "/b/echo", "payload"))
        .await;
    assert_eq!(header(&echoed, "connection"), None);
    assert_eq!(text(echoed).await, "payload");
}

#[tokio::test]
async fn a_body_refused_before_its_handler_runs_is_drained() {
    let server = server();
    let frames = Arc::new(AtomicUsize::new(0));
    let counted = frames.clone();
    let stream = futures_util::stream::iter(0..3).map(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"chunk")))
    });
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/b/refuse")
        .header("transfer-encoding", "chunked")
        .body(StreamBody::new(stream))
        .expect("valid test request");
    let response = server.handle(req).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&response, "connection"), Some("close"));
    assert_eq!(frames.load(Ordering::SeqCst), 3, "every frame was read");
    assert_eq!(server.handler().handled.load(Ordering::SeqCst), 0);
}
