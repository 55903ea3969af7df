//! The client side: signed calls to the admin API.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
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
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio_rustls::TlsConnector;
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
    /// The endpoint is not an `http(s)://host[:port]` URL.
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
                format!("the admin endpoint must look like http(s)://host:port, not {detail:?}")
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
    /// `Some` for an `https://` endpoint: trusts only the CAs given to [`AdminClient::with_ca_file`].
    tls: Option<Trust>,
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
    /// `endpoint` is the admin listener, `http://host:port` or `https://host:port` (a
    /// trailing `/` is fine; other paths and queries are not). An `https` endpoint needs
    /// [`AdminClient::with_ca_file`]. `region` is the server's region.
    pub fn new(
        endpoint: &str,
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
        region: impl Into<String>,
    ) -> Result<AdminClient, AdminError> {
        let invalid = || AdminError::InvalidEndpoint(endpoint.to_owned());
        let uri: Uri = endpoint.trim().parse().map_err(|_| invalid())?;
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTP => None,
            Some(s) if *s == Scheme::HTTPS => Some(Trust::default()),
            _ => return Err(invalid()),
        };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid());
        }
        let authority = uri.authority().cloned().ok_or_else(invalid)?;
        Ok(AdminClient {
            http: Client::builder(TokioExecutor::new()).build_http(),
            tls,
            authority,
            access_key_id: access_key_id.into(),
            secret: Zeroizing::new(secret.into()),
            region: region.into(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Trusts the CA certificates in the PEM file `path` for an `https` endpoint (the only
    /// ones trusted: the admin listener's certificate is the operator's own).
    pub fn with_ca_file(mut self, path: &Path) -> Result<AdminClient, AdminError> {
        let invalid = |detail: String| {
            AdminError::Transport(format!("reading the CA file {}: {detail}", path.display()))
        };
        let Some(trust) = &mut self.tls else {
            return Err(AdminError::InvalidEndpoint(format!(
                "{} (a CA file is for https endpoints)",
                self.authority
            )));
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| invalid(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(invalid("no usable CERTIFICATE".to_owned()));
        }
        trust.connector = Some(tls_connector(roots)?);
        Ok(self)
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
        let unreachable = |e: &dyn std::error::Error| {
            let mut detail = format!("cannot reach the admin endpoint {}", self.authority);
            let mut source: Option<&dyn std::error::Error> = Some(e);
            while let Some(err) = source {
                detail.push_str(": ");
                detail.push_str(&err.to_string());
                source = err.source();
            }
            AdminError::Transport(detail)
        };
        let response = match &self.tls {
            None => self
                .http
                .request(request)
                .await
                .map_err(|e| unreachable(&e))?,
            Some(trust) => {
                let connector = trust.connector.as_ref().ok_or_else(|| {
                    AdminError::Transport(
                        "an https admin endpoint needs the CA that signed its certificate \
                         (--admin-ca-cert)"
                            .to_owned(),
                    )
                })?;
                send_tls(connector, &self.authority, request)
                    .await
                    .map_err(|e| unreachable(&*e))?
            }
        };
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

/// How an `https` endpoint is trusted: not at all until a CA file is given.
#[derive(Clone, Default)]
struct Trust {
    connector: Option<TlsConnector>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("ca", &self.connector.is_some())
            .finish()
    }
}

/// rustls with ring, as the server; the constructor is deprecated only for ring's lack of a
/// post-quantum key exchange.
#[allow(deprecated)]
fn tls_connector(roots: rustls::RootCertStore) -> Result<TlsConnector, AdminError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AdminError::Transport(format!("configuring TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One request on a connection of its own: a CLI makes one call, so nothing is pooled.
async fn send_tls(
    connector: &TlsConnector,
    authority: &Authority,
    mut request: Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, BoxError> {
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(443);
    let tcp = tokio::net::TcpStream::connect((host, port)).await?;
    let stream = connector
        .connect(ServerName::try_from(host.to_owned())?, tcp)
        .await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    // An HTTP/1 connection of our own takes the origin form and a Host header.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()?;
    *request.uri_mut() = path;
    request
        .headers_mut()
        .insert(header::HOST, HeaderValue::from_str(authority.as_str())?);
    Ok(sender.send_request(request).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_or_https_authorities() {
        for ok in [
            "http://127.0.0.1:7071",
            "http://127.0.0.1:7071/",
            "http://localhost",
            "https://127.0.0.1:7071",
        ] {
            assert!(AdminClient::new(ok, "ak", "sk", "r").is_ok(), "{ok}");
        }
        for bad in [
            "ftp://127.0.0.1:7071",
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

    #[tokio::test]
    async fn https_needs_a_ca_file_and_only_https_takes_one() {
        let client = AdminClient::new("https://127.0.0.1:1", "ak", "sk", "r").unwrap();
        let err = client.call("ListKeys", Value::Null).await.unwrap_err();
        assert!(err.message().contains("--admin-ca-cert"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "no certificate here\n").unwrap();
        let plain = AdminClient::new("http://127.0.0.1:1", "ak", "sk", "r").unwrap();
        assert!(matches!(
            plain.with_ca_file(&ca),
            Err(AdminError::InvalidEndpoint(_))
        ));
        let err = client.with_ca_file(&ca).unwrap_err();
        assert!(err.message().contains("no usable CERTIFICATE"), "{err}");
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
