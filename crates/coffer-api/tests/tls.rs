//! A listener serving TLS, driven by a real rustls client: TLS 1.3 and 1.2 handshakes
//! succeed and TLS 1.1 is refused; a reload swaps the certificate for new connections while
//! a keep-alive connection made before it goes on working; a bad certificate on reload is
//! refused and the old one kept.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffer_api::{HttpSettings, Listen, Server, Tls, TlsFiles};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SerialNumber};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion, version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A test CA that issues leaf certificates for 127.0.0.1 with chosen serial numbers.
struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes a leaf with `serial` (and its key) to `dir`, returning the leaf's DER.
    fn issue(&self, dir: &Path, serial: u64) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        cert.der().clone()
    }
}

fn files(dir: &Path) -> TlsFiles {
    TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}

/// Serves "hello" over TLS with `tls` until the returned sender is dropped.
async fn serve(tls: Tls) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Server::new(HttpSettings {
        read_buffer: 64 * 1024,
        header_read_timeout: Duration::from_secs(5),
    })
    .service("test", Listen::tls(tcp, tls), |_peer| {
        service_fn(|_req: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
        })
    });
    tokio::spawn(server.run(
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    (addr, stop)
}

// ring, as the server uses; its constructor is deprecated only for lacking post-quantum kx.
#[allow(deprecated)]
fn client(ca: &Ca, versions: &[&'static SupportedProtocolVersion]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn connect(connector: &TlsConnector, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    connector.connect(name, tcp).await.unwrap()
}

fn leaf_of(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// An HTTP/1 client on an established TLS connection.
async fn http(
    stream: TlsStream<TcpStream>,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn get(sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>) -> String {
    sender.ready().await.unwrap();
    let request = Request::get("/")
        .header("host", "127.0.0.1")
        .body(Empty::new());
    let response = sender.send_request(request.unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn tls_1_3_and_1_2_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    ca.issue(dir.path(), 1);
    let (addr, _stop) = serve(Tls::load(files(dir.path())).unwrap()).await;
    for version in [&version::TLS13, &version::TLS12] {
        let stream = connect(&client(&ca, &[version]), addr).await;
        assert_eq!(stream.get_ref().1.protocol_version(), Some(version.version));
        assert_eq!(stream.get_ref().1.alpn_protocol(), None, "no ALPN asked");
        assert_eq!(get(&mut http(stream).await).await, "hello");
    }
}

/// A TLS 1.1 ClientHello (no rustls client can send one, so it is written out by hand): the
/// server answers with a fatal alert (rustls says handshake_failure) instead of a ServerHello.
#[tokio::test]
async fn tls_1_1_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Ca::new().issue(dir.path(), 1);
    let (addr, _stop) = serve(Tls::load(files(dir.path())).unwrap()).await;
    let mut hello = vec![0x03, 0x02]; // client_version TLS 1.1
    hello.extend_from_slice(&[0x42; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&[0x00, 0x04, 0xc0, 0x13, 0xc0, 0x09]); // ECDHE AES128-CBC-SHA
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0x00, 0x00, hello.len() as u8];
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&record).await.unwrap();
    let mut answer = [0u8; 7];
    tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        answer[0], 0x15,
        "an alert record, not a ServerHello: {answer:?}"
    );
    assert_eq!(answer[5], 2, "fatal: {answer:?}");
    assert!(
        [40, 70].contains(&answer[6]),
        "handshake_failure or protocol_version: {answer:?}"
    );
}

#[tokio::test]
async fn reload_serves_the_new_certificate_to_new_connections_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let first = ca.issue(dir.path(), 1);
    let tls = Tls::load(files(dir.path())).unwrap();
    let (addr, _stop) = serve(tls.clone()).await;
    let connector = client(&ca, &[&version::TLS13]);

    let before = connect(&connector, addr).await;
    assert_eq!(leaf_of(&before), first);
    let mut kept_alive = http(before).await;
    assert_eq!(get(&mut kept_alive).await, "hello");

    let second = ca.issue(dir.path(), 2);
    assert_ne!(first, second);
    tls.reload().unwrap();

    // A fresh client: this one would resume its session, which proves nothing new.
    let after = connect(&client(&ca, &[&version::TLS13]), addr).await;
    assert_eq!(leaf_of(&after), second, "a new handshake gets serial 2");
    assert_eq!(get(&mut http(after).await).await, "hello");
    // The connection made before the reload is still up, on its own session.
    assert_eq!(get(&mut kept_alive).await, "hello");
    assert_eq!(get(&mut kept_alive).await, "hello");
}

#[tokio::test]
async fn a_bad_certificate_on_reload_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let first = ca.issue(dir.path(), 1);
    let tls = Tls::load(files(dir.path())).unwrap();
    let (addr, _stop) = serve(tls.clone()).await;

    // A key that belongs to another certificate.
    let elsewhere = tempfile::tempdir().unwrap();
    ca.issue(elsewhere.path(), 3);
    std::fs::copy(elsewhere.path().join("key.pem"), dir.path().join("key.pem")).unwrap();
    let err = tls.reload().unwrap_err().to_string();
    assert!(err.contains("do not make a usable certificate"), "{err}");
    // A certificate file with no certificate in it.
    std::fs::write(dir.path().join("cert.pem"), "not pem\n").unwrap();
    let err = tls.reload().unwrap_err().to_string();
    assert!(err.contains("cert.pem"), "{err}");

    let stream = connect(&client(&ca, &[&version::TLS13]), addr).await;
    assert_eq!(leaf_of(&stream), first);
    assert_eq!(get(&mut http(stream).await).await, "hello");
    // And a start with such files fails outright.
    assert!(Tls::load(files(dir.path())).is_err());
}
