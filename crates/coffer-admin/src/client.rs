//! The client side: signed calls to the admin API.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use coffer_oss::auth::signer::{Credentials, SignableRequest, sign_v4_header};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use md5::{Digest, Md5};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::{ADMIN_BUCKET, KMS_PATH_PREFIX, RAM_PATH_PREFIX};

/// How long a call may take, connection included, unless changed with
/// [`AdminClient::with_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// The server answered with an error (`{"Code", "Message"}`).
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The endpoint is not an `http://host[:port]` URL.
    InvalidEndpoint(String),
    /// The action name is not a plain identifier.
    InvalidAction(String),
    /// The request could not be signed.
    Sign(String),
    /// The server could not be reached, or the connection broke.
    Transport(String),
    /// No answer within the timeout.
    Timeout(Duration),
    /// The server answered something that is not the admin API's JSON.
    InvalidResponse { status: u16, detail: String },
}

impl AdminError {
    /// The server's error code, or a client-side one (`InvalidEndpoint`, `InvalidAction`,
    /// `SignError`, `ConnectionError`, `Timeout`, `InvalidResponse`).
    pub fn code(&self) -> &str {
        match self {
            AdminError::Api { code, .. } => code,
            AdminError::InvalidEndpoint(_) => "InvalidEndpoint",
            AdminError::InvalidAction(_) => "InvalidAction",
            AdminError::Sign(_) => "SignError",
            AdminError::Transport(_) => "ConnectionError",
            AdminError::Timeout(_) => "Timeout",
            AdminError::InvalidResponse { .. } => "InvalidResponse",
        }
    }

    /// The human-readable part.
    pub fn message(&self) -> String {
        match self {
            AdminError::Api { message, .. } => message.clone(),
            AdminError::InvalidEndpoint(detail) => {
                format!("the admin endpoint must look like http://host:port, not {detail:?}")
            }
            AdminError::InvalidAction(action) => format!("{action:?} is not an action name"),
            AdminError::Sign(detail) | AdminError::Transport(detail) => detail.clone(),
            AdminError::Timeout(after) => format!("no answer within {after:?}"),
            AdminError::InvalidResponse { status, detail } => {
                format!("unexpected response (HTTP {status}): {detail}")
            }
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for AdminError {}

/// Calls the admin API, signing every request with OSS V4. Cheap to clone.
#[derive(Clone)]
pub struct AdminClient {
    http: Client<HttpConnector, Full<Bytes>>,
    authority: Authority,
    access_key_id: String,
    secret: Zeroizing<String>,
    region: String,
    timeout: Duration,
}

impl fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminClient")
            .field("authority", &self.authority)
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"..")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    /// `endpoint` is the admin listener, `http://host:port` (a trailing `/` is fine; other
    /// paths, queries and `https` are not supported). `region` is the server's region.
    pub fn new(
        endpoint: &str,
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
        region: impl Into<String>,
    ) -> Result<AdminClient, AdminError> {
        let invalid = || AdminError::InvalidEndpoint(endpoint.to_owned());
        let uri: Uri = endpoint.trim().parse().map_err(|_| invalid())?;
        if uri.scheme() != Some(&Scheme::HTTP)
            || !matches!(uri.path(), "" | "/")
            || uri.query().is_some()
        {
            return Err(invalid());
        }
        let authority = uri.authority().cloned().ok_or_else(invalid)?;
        Ok(AdminClient {
            http: Client::builder(TokioExecutor::new()).build_http(),
            authority,
            access_key_id: access_key_id.into(),
            secret: Zeroizing::new(secret.into()),
            region: region.into(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Replaces [`DEFAULT_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> AdminClient {
        self.timeout = timeout;
        self
    }

    /// Calls a KMS action (`CreateKey`, `DescribeKey`, …) with `params` as the JSON body and
    /// returns the JSON result.
    pub async fn call(&self, action: &str, params: Value) -> Result<Value, AdminError> {
        self.call_under(KMS_PATH_PREFIX, action, params).await
    }

    /// Calls a RAM action (`CreateUser`, `CreateAccessKey`, …) with `params` as the JSON body
    /// and returns the JSON result.
    pub async fn call_ram(&self, action: &str, params: Value) -> Result<Value, AdminError> {
        self.call_under(RAM_PATH_PREFIX, action, params).await
    }

    async fn call_under(
        &self,
        prefix: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, AdminError> {
        if action.is_empty() || !action.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AdminError::InvalidAction(action.to_owned()));
        }
        let path = format!("{prefix}{action}");
        let body = serde_json::to_vec(&params).map_err(|e| AdminError::Sign(e.to_string()))?;
        let request = self.signed_request(&path, Bytes::from(body))?;
        match tokio::time::timeout(self.timeout, self.send(request)).await {
            Ok(result) => result,
            Err(_) => Err(AdminError::Timeout(self.timeout)),
        }
    }

    fn signed_request(&self, path: &str, body: Bytes) -> Result<Request<Full<Bytes>>, AdminError> {
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            "content-md5",
            HeaderValue::from_str(&md5).map_err(|e| AdminError::Sign(e.to_string()))?,
        );
        let mut query = Vec::new();
        let key = path.trim_start_matches('/');
        let mut signable = SignableRequest::new(
            "POST",
            Some(ADMIN_BUCKET),
            Some(key),
            &mut query,
            &mut headers,
        );
        let creds = Credentials::new(&self.access_key_id, &self.secret);
        sign_v4_header(&mut signable, &creds, &self.region, SystemTime::now(), &[])
            .map_err(|e| AdminError::Sign(e.to_string()))?;

        let uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| AdminError::InvalidAction(e.to_string()))?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| AdminError::Sign(e.to_string()))?;
        *request.headers_mut() = headers;
        Ok(request)
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Value, AdminError> {
        let response = self.http.request(request).await.map_err(|e| {
            let mut detail = format!("cannot reach the admin endpoint {}", self.authority);
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            while let Some(err) = source {
                detail.push_str(": ");
                detail.push_str(&err.to_string());
                source = err.source();
            }
            AdminError::Transport(detail)
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| AdminError::Transport(format!("reading the response: {e}")))?
            .to_bytes();
        let invalid = |detail: String| AdminError::InvalidResponse {
            status: status.as_u16(),
            detail,
        };
        let value: Value = serde_json::from_slice(&body).map_err(|_| {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            invalid(text.trim().to_owned())
        })?;
        if status.is_success() {
            return Ok(value);
        }
        let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        match (field("Code"), field("Message")) {
            (Some(code), message) => Err(AdminError::Api {
                status: status.as_u16(),
                code,
                message: message.unwrap_or_default(),
            }),
            (None, _) => Err(invalid(value.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_plain_http_authorities() {
        for ok in [
            "http://127.0.0.1:7071",
            "http://127.0.0.1:7071/",
            "http://localhost",
        ] {
            assert!(AdminClient::new(ok, "ak", "sk", "r").is_ok(), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:7071",
            "127.0.0.1:7071",
            "http://127.0.0.1:7071/prefix",
            "http://127.0.0.1:7071/?a=b",
            "",
            "not a url",
        ] {
            assert!(
                matches!(
                    AdminClient::new(bad, "ak", "sk", "r"),
                    Err(AdminError::InvalidEndpoint(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let client = AdminClient::new("http://127.0.0.1:1", "ak", "very-secret", "r").unwrap();
        let text = format!("{client:?}");
        assert!(text.contains("ak") && !text.contains("very-secret"));
    }

    #[tokio::test]
    async fn action_names_cannot_change_the_path() {
        let client = AdminClient::new("http://127.0.0.1:1", "ak", "sk", "r").unwrap();
        for bad in ["", "../metrics", "CreateKey?x=1", "Create Key", "a/b"] {
            assert_eq!(
                client.call(bad, serde_json::json!({})).await,
                Err(AdminError::InvalidAction(bad.to_owned()))
            );
            assert_eq!(
                client.call_ram(bad, serde_json::json!({})).await,
                Err(AdminError::InvalidAction(bad.to_owned()))
            );
        }
    }

    #[test]
    fn errors_render_code_and_message() {
        let e = AdminError::Api {
            status: 404,
            code: "KeyNotFound".into(),
            message: "gone".into(),
        };
        assert_eq!(e.to_string(), "KeyNotFound: gone");
        assert_eq!(
            AdminError::Timeout(Duration::from_secs(1)).code(),
            "Timeout"
        );
    }
}
