//! Transit over HTTPS, against OpenBao serving TLS with a CA of its own (`-dev-tls`): the
//! right CA works, any other fails closed (no data key, a retryable KMS error that says
//! the certificate is not trusted and how to fix it), and no token is sent in the clear.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod bao;

use std::time::Duration;

use bao::{Bao, ROOT_TOKEN};
use coffer_kms_vault::{Credentials, Secret, VaultKms};
use coffer_service::{KeyAdmin, KeyContext, KeyError, KeyProvider, SseMethod};

fn root() -> Credentials {
    Credentials::Token(Secret::new(ROOT_TOKEN.into()))
}

fn context() -> KeyContext {
    KeyContext::from([("bucket".to_owned(), "b".to_owned())])
}

/// A CA that signed nothing OpenBao serves.
fn stranger_ca(dir: &std::path::Path) -> std::path::PathBuf {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let path = dir.join("stranger-ca.pem");
    std::fs::write(&path, cert.pem()).unwrap();
    path
}

#[tokio::test]
async fn https_vault_serves_keys_with_its_ca_and_fails_closed_with_another() {
    let bao = Bao::start_tls();
    assert!(bao.addr.starts_with("https://"));

    let kms = bao.kms();
    kms.ensure_keys().await.unwrap();
    let issued = kms
        .issue(SseMethod::Kms, None, &context(), "t")
        .await
        .unwrap();
    assert_eq!(issued.key_id, "coffer-default");
    let listed = kms.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);

    let mut config = bao.config(root(), Duration::from_secs(5));
    config.ca_cert = Some(stranger_ca(bao.home()));
    let wrong = VaultKms::new(config).unwrap();
    let refused = wrong
        .issue(SseMethod::Kms, None, &context(), "t")
        .await
        .err()
        .unwrap();
    let KeyError::Unavailable(message) = &refused else {
        panic!("expected Unavailable, got {refused:?}");
    };
    assert!(refused.is_retryable(), "a fixed CA file cures it");
    assert!(
        message.contains("not trusted") && message.contains("--vault-ca-cert"),
        "{message}"
    );
    assert!(!message.contains(ROOT_TOKEN));
    let admin = wrong.ensure_keys().await.unwrap_err();
    assert!(matches!(admin, KeyError::Unavailable(_)), "{admin:?}");
}

/// Without a CA file the system's CAs are used, and OpenBao's own CA is not among them:
/// refused at start (no system CAs at all) or on the first call, never trusted blindly.
#[tokio::test]
async fn without_a_ca_file_a_private_ca_is_not_trusted() {
    let bao = Bao::start_tls();
    let mut config = bao.config(root(), Duration::from_secs(5));
    config.ca_cert = None;
    match VaultKms::new(config) {
        Err(e) => assert!(e.contains("--vault-ca-cert"), "{e}"),
        Ok(kms) => {
            let e = kms
                .issue(SseMethod::Kms, None, &context(), "t")
                .await
                .err()
                .unwrap();
            assert!(e.to_string().contains("not trusted"), "{e}");
        }
    }
}

/// Plain HTTP to a TLS listener is not a downgrade path: the call fails.
#[tokio::test]
async fn plain_http_to_a_tls_vault_fails() {
    let bao = Bao::start_tls();
    let mut config = bao.config(root(), Duration::from_secs(5));
    config.addr = bao.addr.replacen("https://", "http://", 1);
    config.ca_cert = None;
    let kms = VaultKms::new(config).unwrap();
    let e = kms
        .issue(SseMethod::Kms, None, &context(), "t")
        .await
        .err()
        .unwrap();
    assert!(!matches!(e, KeyError::KeyNotFound(_)), "{e:?}");
}
