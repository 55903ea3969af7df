//! One bounded JSON call to Vault's HTTP API, over plain HTTP or HTTPS (rustls), and the
//! translation of every way it can go wrong into a [`KeyError`]. Nothing here logs a
//! token, a request body or a response body: bodies carry data keys in plaintext.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffer_service::KeyError;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::Secret;

/// A Vault server's address and the client that reaches it.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `http(s)://host:port`, without a trailing slash.
    base: String,
    timeout: Duration,
}

/// A response body, wiped when dropped: a data key may be inside.
pub(crate) type Body = Zeroizing<Vec<u8>>;

impl Transport {
    /// `http://host[:port]` or `https://host[:port]`. Over HTTPS the server's certificate
    /// is checked against the CA certificates in `ca_file` alone when given (as Vault's
    /// own `VAULT_CACERT`), else against the system's. Only the address's scheme is ever
    /// used: a token meant for TLS never travels in the clear. A CA file for a plain
    /// `http` address is refused, since it would suggest a protection that is not there.
    pub fn new(addr: &str, timeout: Duration, ca_file: Option<&Path>) -> Result<Transport, String> {
        let base = addr.trim_end_matches('/');
        let uri: http::Uri = base
            .parse()
            .map_err(|e| format!("vault address {base:?}: {e}"))?;
        let https = match (uri.scheme_str(), uri.host()) {
            (Some("https"), Some(_)) => true,
            (Some("http"), Some(_)) => false,
            _ => {
                return Err(format!(
                    "vault address {base:?}: expected http://host:port or https://host:port"
                ));
            }
        };
        if !https && ca_file.is_some() {
            return Err(format!(
                "a vault CA certificate was given but the vault address {base:?} is plain \
                 http: use https://"
            ));
        }
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        // The connector must be allowed to hand https:// URIs to TLS; hyper-rustls then
        // refuses any scheme but the base's, which every request uses.
        http.enforce_http(false);
        let builder = HttpsConnectorBuilder::new().with_tls_config(tls_config(https, ca_file)?);
        let connector = if https {
            builder.https_only()
        } else {
            builder.https_or_http()
        }
        .enable_http1()
        .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Transport {
            client,
            base: base.to_owned(),
            timeout,
        })
    }

    /// Sends one request and returns the body of a 2xx answer. The whole exchange
    /// (connect, send, headers, body) is bounded by the configured timeout.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Body, KeyError> {
        let exchange = self.exchange(method, path, token, body);
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(KeyError::Timeout(self.timeout)),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Body, KeyError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}/v1/{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("x-vault-token", token.expose());
        }
        let payload = body.map(|b| Bytes::from(b.to_vec())).unwrap_or_default();
        let request = request
            .body(Full::new(payload))
            .map_err(|e| KeyError::InvalidParameter(format!("building a vault request: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| KeyError::Unavailable(unreachable(&e)))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| KeyError::Unavailable(format!("reading vault's answer: {e}")))?
            .to_bytes();
        let body = Zeroizing::new(Vec::from(bytes));
        if status.is_success() {
            Ok(body)
        } else {
            Err(status_error(status, &body))
        }
    }
}

/// The rustls client configuration: ring, TLS 1.2 and 1.3, the given CA or the system's.
/// A plain-http transport gets one with no roots, which it never uses.
#[allow(deprecated)] // ring's provider constructor: deprecated only for lacking a PQ kex.
fn tls_config(https: bool, ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let roots = match (https, ca_file) {
        (false, _) => rustls::RootCertStore::empty(),
        (true, Some(path)) => ca_roots(path)?,
        (true, None) => system_roots()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS for vault: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn ca_roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let invalid = |detail: String| format!("vault CA certificate {}: {detail}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(invalid("no usable CERTIFICATE in the file".into()));
    }
    Ok(roots)
}

fn system_roots() -> Result<rustls::RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(
            "no system CA certificates found to check vault's certificate: give its CA \
             with --vault-ca-cert (or VAULT_CACERT)"
                .into(),
        );
    }
    Ok(roots)
}

/// Why Vault could not be reached, with the causes the client's own message hides
/// ("client error (Connect)"), and the fix when its certificate is not trusted.
fn unreachable(e: &hyper_util::client::legacy::Error) -> String {
    let mut causes = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let chain = causes.join(": ");
    if chain.contains("certificate") {
        format!(
            "vault's TLS certificate is not trusted ({chain}): give the CA that signed it \
             with --vault-ca-cert or VAULT_CACERT"
        )
    } else {
        format!("vault unreachable: {chain}")
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<String>,
}

/// Vault's error messages name keys and operations, never key material, so they may be
/// shown; they decide the variant where the status alone does not (Transit answers 400 for
/// a missing key, a failed authentication and a disallowed version alike).
fn status_error(status: StatusCode, body: &[u8]) -> KeyError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.errors.join("; "))
        .unwrap_or_default();
    match status {
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => KeyError::AccessDenied,
        StatusCode::NOT_FOUND => KeyError::KeyNotFound(message),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            KeyError::Unavailable(format!("vault answered {s}: {message}"))
        }
        _ => transit_refusal(message),
    }
}

fn transit_refusal(message: String) -> KeyError {
    if message.contains("key not found") {
        KeyError::KeyNotFound(message)
    } else if message.contains("message authentication failed")
        || message.contains("invalid ciphertext")
    {
        KeyError::InvalidCiphertext
    } else if message.contains("disallowed by policy") {
        // min_decryption_version raised past this ciphertext's version: the key version
        // that wrapped it is retired, which is Transit's way of disabling it.
        KeyError::Disabled
    } else {
        KeyError::InvalidParameter(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, message: &str) -> KeyError {
        let body = serde_json::json!({ "errors": [message] }).to_string();
        status_error(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    /// The messages are OpenBao 2.7's own, copied from its answers in the tests.
    #[test]
    fn transit_answers_map_to_key_errors() {
        assert_eq!(refusal(403, "permission denied"), KeyError::AccessDenied);
        assert!(matches!(
            refusal(400, "encryption key not found"),
            KeyError::KeyNotFound(_)
        ));
        assert_eq!(
            refusal(400, "cipher: message authentication failed"),
            KeyError::InvalidCiphertext
        );
        assert_eq!(
            refusal(400, "invalid ciphertext: version is too new"),
            KeyError::InvalidCiphertext
        );
        assert_eq!(
            refusal(
                400,
                "ciphertext or signature version is disallowed by policy (too old)"
            ),
            KeyError::Disabled
        );
        assert!(refusal(503, "Vault is sealed").is_retryable());
        assert!(refusal(429, "rate limited").is_retryable());
        assert!(!refusal(400, "anything else").is_retryable());
    }

    #[test]
    fn addresses_are_http_or_https_and_a_ca_needs_https() {
        let t = Duration::from_secs(1);
        assert!(Transport::new("http://127.0.0.1:8200/", t, None).is_ok());
        assert!(Transport::new("127.0.0.1:8200", t, None).is_err());
        assert!(Transport::new("ftp://127.0.0.1:8200", t, None).is_err());
        let dir = std::env::temp_dir();
        let err = Transport::new("http://127.0.0.1:8200", t, Some(&dir))
            .err()
            .unwrap_or_default();
        assert!(err.contains("use https://"), "{err}");
        let missing = dir.join("coffer-no-such-ca.pem");
        let err = Transport::new("https://127.0.0.1:8200", t, Some(&missing))
            .err()
            .unwrap_or_default();
        assert!(err.contains("vault CA certificate"), "{err}");
    }
}
