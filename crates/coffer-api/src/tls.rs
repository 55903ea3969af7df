//! TLS for a listener: a PEM certificate chain and key, served with rustls (ring provider,
//! TLS 1.2 and 1.3 only), and reloadable in place.
//!
//! The certificate is chosen per handshake by [`ReloadingCert`], so [`Tls::reload`] swaps
//! it for new handshakes while established connections keep the session they negotiated.
//! A reload that fails (unreadable file, key not matching the certificate) leaves the
//! certificate in service unchanged.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where a listener's certificate chain and private key are, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The leaf certificate first, then any intermediates.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why a certificate could not be loaded. Says which file and what was wrong with it, never
/// any of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// A listener's TLS: what accepts its handshakes and the certificate they get.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    cert: Arc<ReloadingCert>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.cert.files)
            .finish()
    }
}

impl Tls {
    /// Loads `files` and builds a server configuration that offers only TLS 1.3 and 1.2
    /// (older versions have known weaknesses and no client of ours needs them), and ALPN
    /// `http/1.1`, the only protocol the listeners speak.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let provider = Arc::new(ring_provider());
        let cert = Arc::new(ReloadingCert::load(files, provider.clone())?);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(|e| TlsError(format!("configuring TLS: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(cert.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert,
        })
    }

    /// Reads the files again; later handshakes get the new certificate. On error the
    /// certificate in service stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.cert.reload()
    }

    /// The files this listener's certificate comes from.
    pub fn files(&self) -> &TlsFiles {
        &self.cert.files
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// rustls with ring: ring has no post-quantum key exchange (which rustls flags by deprecating
/// this constructor), but the alternative, aws-lc-rs, would add a second C crypto library to
/// build; X25519 and the NIST curves remain the key exchange until ring gains ML-KEM.
#[allow(deprecated)]
fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Answers every handshake with the certificate currently loaded.
struct ReloadingCert {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    fn load(files: TlsFiles, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let current = RwLock::new(Arc::new(certified_key(&files, &provider)?));
        Ok(ReloadingCert {
            files,
            provider,
            current,
        })
    }

    fn reload(&self) -> Result<(), TlsError> {
        // Read and check outside the lock: handshakes go on with the old certificate meanwhile.
        let fresh = Arc::new(certified_key(&self.files, &self.provider)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The chain and key of `files`, checked to belong together.
fn certified_key(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        TlsError(format!(
            "reading the private key {}: {}",
            files.key.display(),
            pem_problem(&e)
        ))
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        TlsError(format!(
            "{} and {} do not make a usable certificate: {e}",
            files.cert.display(),
            files.key.display()
        ))
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |what: String| {
        TlsError(format!(
            "reading the certificate {}: {what}",
            path.display()
        ))
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(pem_problem(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(pem_problem(&e)))?;
    if chain.is_empty() {
        return Err(fail("no CERTIFICATE block".to_owned()));
    }
    Ok(chain)
}

/// A PEM error in words. Only the kind of problem: the parser's own messages could quote
/// the file, which for a key file would be secret.
fn pem_problem(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => "no PEM block of the expected kind".to_owned(),
        Error::MissingSectionEnd { .. } | Error::IllegalSectionStart { .. } => {
            "malformed PEM".to_owned()
        }
        Error::Base64Decode(_) => "invalid base64 in a PEM block".to_owned(),
        _ => "unreadable PEM".to_owned(),
    }
}
