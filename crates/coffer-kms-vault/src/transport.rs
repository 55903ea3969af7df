//! One bounded JSON call to Vault's HTTP API, and the translation of every way it can go
//! wrong into a [`KeyError`]. Nothing here logs a token, a request body or a response body:
//! bodies carry data keys in plaintext.

use std::time::Duration;

use bytes::Bytes;
use coffer_service::KeyError;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::Secret;

/// A Vault server's address and the client that reaches it.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port`, without a trailing slash.
    base: String,
    timeout: Duration,
}

/// A response body, wiped when dropped: a data key may be inside.
pub(crate) type Body = Zeroizing<Vec<u8>>;

impl Transport {
    /// Accepts `http://host[:port]` only: this build has no TLS client yet, and a token
    /// must not be sent where the operator asked for TLS.
    pub fn new(addr: &str, timeout: Duration) -> Result<Transport, String> {
        let base = addr.trim_end_matches('/');
        let uri: http::Uri = base
            .parse()
            .map_err(|e| format!("vault address {base:?}: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!(
                "vault address {base:?}: only http://host:port is supported by this build \
                 (no TLS client yet)"
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
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
            .map_err(|e| KeyError::Unavailable(format!("vault unreachable: {e}")))?;
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
    fn only_plain_http_addresses_are_accepted() {
        let t = Duration::from_secs(1);
        assert!(Transport::new("http://127.0.0.1:8200/", t).is_ok());
        assert!(Transport::new("https://vault.example:8200", t).is_err());
        assert!(Transport::new("127.0.0.1:8200", t).is_err());
    }
}
