//! `coffer serve` with TLS on both listeners, certificates from `coffer cert self-signed`:
//! verified HTTPS on the OSS and admin listeners, and SIGHUP reloading the certificate (a
//! bad one is refused and the old kept; a good one reaches new connections while a
//! keep-alive connection made before goes on); `coffer admin` over HTTPS.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::TestServer;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

fn self_signed(out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["cert", "self-signed", "--out"])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
}

fn first_cert(path: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

/// A client trusting the CAs in `cas`; a new one has no session to resume.
#[allow(deprecated)] // ring, as the server; deprecated only for lacking post-quantum kx
fn connector(cas: &[&Path]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots.add(first_cert(ca)).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn connect(connector: &TlsConnector, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

fn leaf(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

async fn http(stream: TlsStream<TcpStream>) -> SendRequest<Empty<Bytes>> {
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn get(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> (u16, String) {
    sender.ready().await.unwrap();
    let request = http::Request::get(path).header("host", "localhost");
    let response = sender
        .send_request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn sighup(server: &TestServer) {
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(server.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the server log says `what` `times` times (for both listeners).
fn wait_for_log(server: &TestServer, what: &str, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log().matches(what).count() < times {
        assert!(
            Instant::now() < deadline,
            "no {what:?} in:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn both_listeners_serve_tls_and_sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, live) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("live"),
    );
    self_signed(&a);
    self_signed(&b);
    std::fs::create_dir(&live).unwrap();
    for file in ["server.pem", "server-key.pem"] {
        std::fs::copy(a.join(file), live.join(file)).unwrap();
    }
    let (cert, key) = (live.join("server.pem"), live.join("server-key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = TestServer::start_with_args(&[
        "--tls-cert",
        cert,
        "--tls-key",
        key,
        "--admin-tls-cert",
        cert,
        "--admin-tls-key",
        key,
    ]);
    let trust = connector(&[&a.join("ca.pem"), &b.join("ca.pem")]);

    let first = connect(&trust, server.addr).await;
    assert_eq!(leaf(&first), first_cert(&a.join("server.pem")));
    let mut kept_alive = http(first).await;
    let (status, body) = get(&mut kept_alive, "/").await;
    assert_eq!(
        status, 403,
        "unsigned ListBuckets is refused, over TLS: {body}"
    );
    let mut admin = http(connect(&trust, server.admin).await).await;
    let (status, health) = get(&mut admin, "/health").await;
    // `ok` on the first line is what probes read; what follows says where the root key is.
    assert_eq!(
        (status, health.lines().next()),
        (200, Some("ok")),
        "{health}"
    );
    // Only the CA that signed it is trusted: a client trusting just `b` refuses `a`'s cert.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    assert!(
        connector(&[&b.join("ca.pem")])
            .connect(name, tcp)
            .await
            .is_err()
    );

    // `coffer admin` reaches the TLS admin listener, trusting the CA it is given.
    let admin_cli = |ca: &Path| {
        Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["admin", "user", "list", "--json", "--admin-endpoint"])
            .arg(format!("https://localhost:{}", server.admin.port()))
            .arg("--admin-ca-cert")
            .arg(ca)
            .env("OSS_ACCESS_KEY_ID", common::AK)
            .env("OSS_ACCESS_KEY_SECRET", common::SK)
            .env("COFFER_REGION", common::REGION)
            .output()
            .unwrap()
    };
    let listed = admin_cli(&a.join("ca.pem"));
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("Users"),
        "{listed:?}"
    );
    let untrusted = admin_cli(&b.join("ca.pem"));
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("ConnectionError"));

    // A key that is not the certificate's: refused, the old certificate stays.
    std::fs::copy(b.join("server-key.pem"), live.join("server-key.pem")).unwrap();
    sighup(&server);
    wait_for_log(&server, "TLS certificate not reloaded", 2);
    let still = connect(&connector(&[&a.join("ca.pem")]), server.addr).await;
    assert_eq!(leaf(&still), first_cert(&a.join("server.pem")));

    std::fs::copy(b.join("server.pem"), live.join("server.pem")).unwrap();
    sighup(&server);
    wait_for_log(&server, "reloaded the TLS certificate", 2);
    for addr in [server.addr, server.admin] {
        let renewed = connect(&connector(&[&b.join("ca.pem")]), addr).await;
        assert_eq!(leaf(&renewed), first_cert(&b.join("server.pem")));
    }
    // The connection from before both reloads still serves requests.
    assert_eq!(get(&mut kept_alive, "/").await.0, 403);
    assert_eq!(get(&mut admin, "/health").await.0, 200);
}
