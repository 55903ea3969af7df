//! One bounded KMIP exchange over mutual TLS: connect (or reuse an idle connection),
//! write a request message, read one response message. Every way it can fail becomes a
//! [`KeyError`]; nothing here logs a message, since requests and answers carry data keys.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_service::KeyError;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use zeroize::Zeroizing;

use crate::ttlv::{self, Item};

/// The largest response accepted: Coffer's answers are a few hundred bytes, and a peer
/// must not make it allocate more.
const MAX_MESSAGE: usize = 64 * 1024;
/// Idle connections kept for reuse; more concurrent calls open more and close the excess.
const MAX_IDLE: usize = 8;

/// The files that authenticate both ends.
#[derive(Debug, Clone)]
pub struct TlsFiles<'a> {
    pub ca: &'a Path,
    pub client_cert: &'a Path,
    pub client_key: &'a Path,
}

/// A KMIP server's address, the TLS identity used to reach it and idle connections.
pub(crate) struct Transport {
    connector: TlsConnector,
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    timeout: Duration,
    idle: Mutex<Vec<TlsStream<TcpStream>>>,
}

impl Transport {
    pub fn new(addr: &str, files: &TlsFiles<'_>, timeout: Duration) -> Result<Transport, String> {
        let (host, port) = split_addr(addr)?;
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| format!("kmip address {addr:?}: {e}"))?;
        Ok(Transport {
            connector: connector(files)?,
            host,
            port,
            server_name,
            timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one request and returns the decoded response message. The whole exchange,
    /// including a fresh connection's TCP and TLS handshakes, is bounded by the timeout.
    /// A `repeatable` request (one that changes nothing on the server: Locate, Encrypt,
    /// Decrypt) may go out on an idle connection and, if that one turns out closed, once
    /// more on a fresh one; any other goes out once, on a fresh connection, so that a
    /// Create can never run twice.
    pub async fn call(&self, request: &Item, repeatable: bool) -> Result<Item, KeyError> {
        let encoded = request.encode();
        let exchange = self.exchange(&encoded, repeatable);
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(KeyError::Timeout(self.timeout)),
        }
    }

    async fn exchange(&self, request: &[u8], repeatable: bool) -> Result<Item, KeyError> {
        if let Some(mut stream) = repeatable.then(|| self.take_idle()).flatten() {
            // An idle connection the server has since closed fails at once.
            if let Ok(answer) = round_trip(&mut stream, request).await {
                self.give_back(stream);
                return Ok(answer);
            }
        }
        let mut stream = self.connect().await?;
        let answer = round_trip(&mut stream, request).await?;
        self.give_back(stream);
        Ok(answer)
    }

    async fn connect(&self) -> Result<TlsStream<TcpStream>, KeyError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| KeyError::Unavailable(format!("kmip server unreachable: {e}")))?;
        let _ = tcp.set_nodelay(true);
        self.connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| KeyError::Unavailable(format!("kmip TLS handshake: {e}")))
    }

    fn take_idle(&self) -> Option<TlsStream<TcpStream>> {
        self.idle.lock().ok()?.pop()
    }

    fn give_back(&self, stream: TlsStream<TcpStream>) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(stream);
        }
    }
}

async fn round_trip(stream: &mut TlsStream<TcpStream>, request: &[u8]) -> Result<Item, KeyError> {
    let io = |e: std::io::Error| KeyError::Unavailable(format!("kmip connection: {e}"));
    stream.write_all(request).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut header = [0u8; 8];
    stream.read_exact(&mut header).await.map_err(io)?;
    let total = ttlv::framed_len(&header);
    if total > MAX_MESSAGE {
        return Err(KeyError::Unavailable(format!(
            "kmip answer of {total} bytes exceeds {MAX_MESSAGE}"
        )));
    }
    let mut message = Zeroizing::new(vec![0u8; total]);
    message[..8].copy_from_slice(&header);
    stream.read_exact(&mut message[8..]).await.map_err(io)?;
    Item::decode(&message).map_err(|e| KeyError::Unavailable(format!("kmip answer: {e}")))
}

/// `host:port`, `[v6]:port`; the port is required (KMIP's is 5696, but say it).
fn split_addr(addr: &str) -> Result<(String, u16), String> {
    let bad = || format!("kmip address {addr:?}: expected host:port");
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// rustls with ring, as the rest of Coffer: the server is verified against the CA file,
/// and Coffer proves itself with its client certificate. The builder is deprecated only
/// for ring's lack of a post-quantum key exchange.
#[allow(deprecated)]
fn connector(files: &TlsFiles<'_>) -> Result<TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(files.ca)? {
        roots
            .add(cert)
            .map_err(|e| format!("kmip CA {}: {e}", files.ca.display()))?;
    }
    let chain = read_certs(files.client_cert)?;
    let key = PrivateKeyDer::from_pem_file(files.client_key)
        .map_err(|e| format!("kmip client key {}: {e}", files.client_key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configuring TLS: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("kmip client certificate: {e}"))?;
    Ok(TlsConnector::from(Arc::new(config)))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_host_and_a_port() {
        assert_eq!(
            split_addr("127.0.0.1:5696").unwrap(),
            ("127.0.0.1".into(), 5696)
        );
        assert_eq!(split_addr("[::1]:5696").unwrap(), ("::1".into(), 5696));
        assert_eq!(
            split_addr("kmip.example:1").unwrap(),
            ("kmip.example".into(), 1)
        );
        for bad in ["127.0.0.1", ":5696", "h:0", "h:x", "https://h:5696/"] {
            assert!(split_addr(bad).is_err(), "{bad}");
        }
    }
}
