//! The KMIP key manager against a real PyKMIP server, one per test, on a free loopback
//! port, with a CA, server and client certificates made for the test. The server is run
//! by the python of the venv that tests/engines/pykmip.sh prints; `COFFER_PYKMIP` names
//! it (scripts/test.sh sets it), and without it these tests fail rather than skip, so
//! that CI cannot pass without having run them.
// The helpers outside #[test] functions unwrap too: a panic there is the failure report.
#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_kms_kmip::{KeyAccess, KmipConfig, KmipKms};
use coffer_service::contract::{KeyManagerUnderTest, key_lifecycle_contract};
use coffer_service::{CachedUse, KeyUse};
use coffer_service::{
    CipherSuite, Envelope, IssuedKey, KeyAdmin, KeyAdminError, KeyContext, KeyError, KeyOperation,
    KeyProvider, KeyState, NewKey, SseMethod,
};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair,
};

/// A CA that signs the server's and clients' certificates, written as PEM files.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(dir: &Path, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.distinguished_name = common_name(&format!("coffer test {name}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        Ca {
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `usage` (PyKMIP requires clientAuth in a client's certificate, and takes
    /// the client's identity from its one common name).
    fn leaf(&self, dir: &Path, name: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) {
        let sans = sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name = common_name(name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

struct PyKmip {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn pykmip_python() -> String {
    std::env::var("COFFER_PYKMIP").expect(
        "COFFER_PYKMIP is not set: run `export COFFER_PYKMIP=$(tests/engines/pykmip.sh)` \
         (scripts/test.sh does)",
    )
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl PyKmip {
    /// Writes certificates and a server config into a temp dir, starts the server (its
    /// SQLite store in the same dir) and waits until it accepts connections.
    fn start() -> PyKmip {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca = Ca::new(d, "ca");
        ca.leaf(
            d,
            "server",
            &["127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        ca.leaf(d, "client", &[], ExtendedKeyUsagePurpose::ClientAuth);
        let port = free_port();
        let config = format!(
            "[server]\nhostname=127.0.0.1\nport={port}\ncertificate_path={s}.pem\n\
             key_path={s}.key\nca_path={ca}\nauth_suite=TLS1.2\nenable_tls_client_auth=True\n\
             logging_level=INFO\ndatabase_path={db}\n",
            s = d.join("server").display(),
            ca = d.join("ca.pem").display(),
            db = d.join("pykmip.sqlite").display(),
        );
        std::fs::write(d.join("server.conf"), config).unwrap();
        let child = Command::new(pykmip_python())
            .args(["-c", "from kmip.services.server.server import main; main()"])
            .args(["-f", &d.join("server.conf").display().to_string()])
            .args(["-l", &d.join("server.log").display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting pykmip");
        let server = PyKmip { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pykmip did not start on port {port}: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self, timeout: Duration) -> KmipConfig {
        KmipConfig {
            addr: format!("127.0.0.1:{}", self.port),
            ca: self.path("ca.pem"),
            client_cert: self.path("client.pem"),
            client_key: self.path("client.key"),
            default_key: "coffer-default".into(),
            sse_oss_key: "coffer-sse-oss".into(),
            timeout,
        }
    }

    fn kms(&self) -> KmipKms {
        KmipKms::new(self.config(Duration::from_secs(5))).unwrap()
    }

    /// Sends a signal and, for SIGSTOP, waits until the process is stopped.
    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(5);
        while signal == "-STOP" && !process_state(&stat).starts_with('T') {
            assert!(Instant::now() < deadline, "pykmip did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for PyKmip {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The state letter of /proc/<pid>/stat (after the parenthesised command name).
fn process_state(stat: &str) -> String {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    text.rsplit(") ").next().unwrap_or_default().to_owned()
}

fn context(object: &str) -> KeyContext {
    KeyContext::from([
        ("bucket".to_owned(), "b".to_owned()),
        ("object".to_owned(), object.to_owned()),
    ])
}

fn envelope(issued: &IssuedKey, method: SseMethod) -> Envelope {
    Envelope {
        format: Envelope::FORMAT,
        method,
        suite: CipherSuite::Aes256Gcm,
        key_id: issued.key_id.clone(),
        key_version: issued.key_version,
        wrapped_key: issued.wrapped.clone(),
        salt: vec![0; 16],
        bucket: "b".into(),
        object: "o".into(),
        key_verifier: None,
    }
}

async fn try_issue(kms: &KmipKms, key: Option<&str>) -> Result<IssuedKey, KeyError> {
    kms.issue(SseMethod::Kms, key, &context("o"), "test").await
}

async fn try_unwrap(kms: &KmipKms, issued: &IssuedKey) -> Result<[u8; 32], KeyError> {
    let env = envelope(issued, SseMethod::Kms);
    let key = kms.unwrap(&env, &context("o"), "test").await?;
    Ok(*key.as_bytes())
}

#[tokio::test]
async fn data_keys_round_trip_and_are_bound_to_their_object() {
    let server = PyKmip::start();
    let kms = server.kms();
    kms.ensure_keys().await.unwrap();
    let (default_id, oss_id) = kms.service_key_ids().await.unwrap();
    assert_ne!(default_id, oss_id);

    let issued = try_issue(&kms, None).await.unwrap();
    assert_eq!(issued.key_id, default_id);
    assert_eq!(issued.key_version, 1);
    assert_eq!(
        try_unwrap(&kms, &issued).await.unwrap(),
        *issued.plaintext.as_bytes()
    );
    let other = try_issue(&kms, None).await.unwrap();
    assert_ne!(other.plaintext.as_bytes(), issued.plaintext.as_bytes());

    // Another object's context: the server's GCM check fails.
    let env = envelope(&issued, SseMethod::Kms);
    let moved = kms.unwrap(&env, &context("elsewhere"), "test").await;
    assert_eq!(moved.err(), Some(KeyError::InvalidCiphertext));
    // A flipped bit in the server's ciphertext, and a wrap that is not this backend's.
    let mut tampered = issued.clone();
    tampered.wrapped[20] ^= 1;
    assert_eq!(
        try_unwrap(&kms, &tampered).await.err(),
        Some(KeyError::InvalidCiphertext)
    );
    tampered.wrapped = b"vault:v1:abc".to_vec();
    assert_eq!(
        try_unwrap(&kms, &tampered).await.err(),
        Some(KeyError::InvalidCiphertext)
    );

    // SSE-OSS uses its own key.
    let oss = kms
        .issue(SseMethod::ServiceManaged, None, &context("o"), "test")
        .await
        .unwrap();
    assert_eq!(oss.key_id, oss_id);
    let env = envelope(&oss, SseMethod::ServiceManaged);
    let key = kms.unwrap(&env, &context("o"), "test").await.unwrap();
    assert_eq!(key.as_bytes(), oss.plaintext.as_bytes());

    // A CMK named by its unique identifier.
    let tenant = kms.create_key("tenant-key").await.unwrap();
    let issued = try_issue(&kms, Some(&tenant)).await.unwrap();
    assert_eq!(issued.key_id, tenant);
    assert_eq!(
        try_unwrap(&kms, &issued).await.unwrap(),
        *issued.plaintext.as_bytes()
    );

    // A second Coffer finds the same keys by name instead of creating new ones.
    let again = server.kms();
    assert_eq!(again.service_key_ids().await.unwrap(), (default_id, oss_id));
    assert_eq!(kms.locate("coffer-default").await.unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_revoked_and_destroyed_keys_are_refused() {
    let server = PyKmip::start();
    let kms = server.kms();
    kms.ensure_keys().await.unwrap();
    assert_eq!(
        try_issue(&kms, Some("999")).await.err(),
        Some(KeyError::KeyNotFound("999".into()))
    );
    let uid = kms.create_key("retired").await.unwrap();
    let issued = try_issue(&kms, Some(&uid)).await.unwrap();

    kms.revoke(&uid).await.unwrap();
    let refused = try_issue(&kms, Some(&uid)).await.err().unwrap();
    assert_eq!(refused, KeyError::Disabled);
    assert!(!refused.is_retryable());
    // PyKMIP decrypts with Active keys only (see the crate doc).
    assert_eq!(
        try_unwrap(&kms, &issued).await.err(),
        Some(KeyError::Disabled)
    );

    kms.destroy(&uid).await.unwrap();
    assert_eq!(
        try_unwrap(&kms, &issued).await.err(),
        Some(KeyError::KeyNotFound(uid.clone()))
    );
    // An active key cannot be destroyed: it must be revoked first.
    let active = kms.create_key("active").await.unwrap();
    assert!(kms.destroy(&active).await.is_err());
    assert!(try_issue(&kms, Some(&active)).await.is_ok());
}

#[tokio::test]
async fn a_paused_server_times_out_within_the_bound_and_a_dead_one_is_unavailable() {
    let server = PyKmip::start();
    let bound = Duration::from_millis(700);
    let kms = KmipKms::new(server.config(bound)).unwrap();
    let issued = try_issue(&kms, None).await.unwrap();

    server.signal("-STOP");
    for _ in 0..2 {
        let started = Instant::now();
        let e = try_unwrap(&kms, &issued).await.err().unwrap();
        assert_eq!(e, KeyError::Timeout(bound));
        assert!(e.is_retryable());
        assert!(started.elapsed() < bound + Duration::from_millis(500));
    }
    server.signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while try_unwrap(&kms, &issued).await.is_err() {
        assert!(Instant::now() < deadline, "no recovery after SIGCONT");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Built before the server (and its certificate files) goes; it connects lazily.
    let fresh = KmipKms::new(server.config(bound)).unwrap();
    drop(server);
    let started = Instant::now();
    let e = try_unwrap(&kms, &issued).await.err().unwrap();
    assert!(matches!(e, KeyError::Unavailable(_)), "{e:?}");
    assert!(started.elapsed() < bound + Duration::from_millis(500));
    // A fresh client with nothing pooled: the same.
    let e = fresh.ensure_keys().await.err().unwrap();
    assert!(e.is_retryable(), "{e:?}");
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let server = PyKmip::start();
    let other = tempfile::tempdir().unwrap();
    let ca = Ca::new(other.path(), "ca");
    ca.leaf(
        other.path(),
        "client",
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let mut config = server.config(Duration::from_secs(2));
    config.client_cert = other.path().join("client.pem");
    config.client_key = other.path().join("client.key");
    let kms = KmipKms::new(config).unwrap();
    assert!(kms.ensure_keys().await.is_err());

    // And a server whose certificate is not from the configured CA.
    let mut config = server.config(Duration::from_secs(2));
    config.ca = other.path().join("ca.pem");
    let kms = KmipKms::new(config).unwrap();
    let e = kms.ensure_keys().await.err().unwrap();
    assert!(
        matches!(e, KeyError::Unavailable(ref m) if m.contains("TLS")),
        "{e:?}"
    );
}

struct OnlyAlice;

impl KeyAccess for OnlyAlice {
    fn allowed(&self, caller: &str, _action: &str, _key: &str) -> bool {
        caller == "alice"
    }
}

#[tokio::test]
async fn the_access_check_guards_cmks_but_not_the_service_key() {
    let server = PyKmip::start();
    let kms = server.kms();
    kms.set_key_access(Arc::new(OnlyAlice));
    let ctx = context("o");
    let issued = kms
        .issue(SseMethod::Kms, None, &ctx, "alice")
        .await
        .unwrap();
    let refused = kms.issue(SseMethod::Kms, None, &ctx, "bob").await.err();
    assert_eq!(refused, Some(KeyError::AccessDenied));
    let env = envelope(&issued, SseMethod::Kms);
    assert_eq!(
        kms.unwrap(&env, &ctx, "bob").await.err(),
        Some(KeyError::AccessDenied)
    );
    // SSE-OSS is the service's key: anyone who may read the object may unwrap it.
    let oss = kms
        .issue(SseMethod::ServiceManaged, None, &ctx, "bob")
        .await
        .unwrap();
    let env = envelope(&oss, SseMethod::ServiceManaged);
    assert!(kms.unwrap(&env, &ctx, "bob").await.is_ok());
    // A CMK's envelope relabelled as SSE-OSS is still checked as a CMK.
    let relabelled = envelope(&issued, SseMethod::ServiceManaged);
    assert_eq!(
        kms.unwrap(&relabelled, &ctx, "bob").await.err(),
        Some(KeyError::AccessDenied)
    );
    // A use served from the bucket-key caches is checked the same way.
    let cmk = issued.key_id.as_str();
    let bob = cached(SseMethod::Kms, cmk, &ctx, "bob");
    assert_eq!(
        kms.cached_use(&bob).await.err(),
        Some(KeyError::AccessDenied)
    );
    let alice = cached(SseMethod::Kms, cmk, &ctx, "alice");
    assert!(kms.cached_use(&alice).await.is_ok());
    let service = cached(SseMethod::ServiceManaged, &oss.key_id, &ctx, "bob");
    assert!(kms.cached_use(&service).await.is_ok());
}

/// A data-key use served from Coffer's caches, as the service reports it.
fn cached<'a>(
    method: SseMethod,
    key_id: &'a str,
    context: &'a KeyContext,
    caller: &'a str,
) -> CachedUse<'a> {
    CachedUse {
        operation: KeyUse::Unwrap,
        method,
        key_id,
        key_version: 1,
        context,
        caller,
    }
}

fn named(name: &str) -> NewKey {
    NewKey {
        name: Some(name.to_owned()),
        description: String::new(),
    }
}

/// The key-lifecycle contract every key manager runs, here against the real PyKMIP: what
/// KMIP shares with the others behaves alike, the rest is refused with a reason.
#[tokio::test]
async fn kmip_passes_the_key_lifecycle_contract() {
    let server = PyKmip::start();
    let kms = Arc::new(server.kms());
    key_lifecycle_contract(KeyManagerUnderTest {
        provider: kms.clone(),
        admin: kms,
        new_key: Box::new(|label| named(&format!("contract-{label}"))),
        // PyKMIP numbers its objects from 1.
        missing_key: "999999".into(),
    })
    .await;
}

/// `coffer kms` against KMIP: what KMIP has works on the real server, what it has not is
/// refused with a reason and leaves the key as it was.
#[tokio::test]
async fn key_admin_creates_lists_describes_and_deletes_and_refuses_the_rest() {
    let server = PyKmip::start();
    let kms = server.kms();
    let (default_id, _) = kms.service_key_ids().await.unwrap();

    let created = KeyAdmin::create_key(&kms, named("tenant-a")).await.unwrap();
    assert_eq!(created.state, KeyState::Enabled);
    assert_eq!((created.primary_key_version, created.versions), (1, 1));
    assert_eq!(created.description, "tenant-a");
    assert!(
        created.creation_date.ends_with('Z'),
        "{}",
        created.creation_date
    );
    let uid = created.key_id.clone();
    assert_eq!(kms.describe_key(&uid).await.unwrap(), created);
    let listed = kms.list_keys().await.unwrap();
    assert!(listed.iter().any(|k| k.key_id == uid));
    assert!(
        listed
            .iter()
            .any(|k| k.key_id == default_id && k.default_key)
    );
    assert!(
        KeyAdmin::create_key(&kms, named("tenant-a")).await.is_err(),
        "names stay unique"
    );

    let issued = try_issue(&kms, Some(&uid)).await.unwrap();
    try_unwrap(&kms, &issued).await.unwrap();
    let (id, usage) = kms.key_usage(&uid).await.unwrap();
    assert_eq!(
        (id.as_str(), usage.generate_data_key, usage.decrypt),
        (uid.as_str(), 1, 1)
    );

    let refusals = [
        (
            kms.disable_key(&uid).await.map(|_| ()),
            KeyOperation::DisableKey,
        ),
        (
            kms.enable_key(&uid).await.map(|_| ()),
            KeyOperation::EnableKey,
        ),
        (
            kms.rotate_key(&uid).await.map(|_| ()),
            KeyOperation::RotateKey,
        ),
        (
            kms.schedule_key_deletion(&uid, 7).await.map(|_| ()),
            KeyOperation::ScheduleKeyDeletion,
        ),
        (
            kms.cancel_key_deletion(&uid).await.map(|_| ()),
            KeyOperation::CancelKeyDeletion,
        ),
        (
            kms.create_alias("alias/a", &uid).await,
            KeyOperation::CreateAlias,
        ),
        (
            kms.list_aliases().await.map(|_| ()),
            KeyOperation::ListAliases,
        ),
    ];
    for (result, op) in refusals {
        match result {
            Err(KeyAdminError::Unsupported {
                backend: "kmip",
                operation,
                reason,
            }) => {
                assert_eq!(operation, op);
                assert!(
                    reason.contains("coffer kms") || reason.contains("KMIP"),
                    "{reason}"
                );
            }
            other => panic!("{op}: expected Unsupported, got {other:?}"),
        }
    }
    assert_eq!(
        try_unwrap(&kms, &issued).await.unwrap(),
        *issued.plaintext.as_bytes()
    );

    assert!(
        kms.delete_key_now(&default_id).await.is_err(),
        "the server's own key"
    );
    kms.delete_key_now(&uid).await.unwrap();
    assert_eq!(
        try_unwrap(&kms, &issued).await.err(),
        Some(KeyError::KeyNotFound(uid.clone()))
    );
    assert!(matches!(
        kms.describe_key(&uid).await,
        Err(KeyAdminError::Key(KeyError::KeyNotFound(_)))
    ));
    assert!(
        kms.list_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.key_id != uid)
    );
    assert!(matches!(
        kms.key_usage("999").await,
        Err(KeyAdminError::Key(KeyError::KeyNotFound(_)))
    ));
}

/// `--root-key kmip:key=NAME`: the root key round-trips through the server's Encrypt and
/// Decrypt under a key made on first use; a wrapped data key does not open as a root key.
#[tokio::test]
async fn a_root_key_is_sealed_and_opened_by_the_kmip_server() {
    let server = PyKmip::start();
    let kms = server.kms();
    let root = [0x3c; 32];
    let sealed = kms.seal_root_key("coffer-root", &root).await.unwrap();
    assert!(!sealed.windows(32).any(|w| w == root), "not in the clear");
    assert_eq!(*kms.open_root_key(&sealed).await.unwrap(), root);
    let again = kms.seal_root_key("coffer-root", &root).await.unwrap();
    assert_eq!(
        kms.locate("coffer-root").await.unwrap().len(),
        1,
        "one key, reused"
    );
    assert_ne!(again, sealed, "a fresh nonce each time");

    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        kms.open_root_key(&tampered).await.err(),
        Some(KeyError::InvalidCiphertext)
    );
    let data_key = try_issue(&kms, None).await.unwrap();
    assert_eq!(
        kms.open_root_key(&data_key.wrapped).await.err(),
        Some(KeyError::InvalidCiphertext)
    );
}
