//! Wiring: stores, service, the OSS dialect behind the shared pipeline, the two listeners
//! (served, and shut down gracefully, by `coffer_api::Server`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use coffer_admin::{AdminApi, BuiltinKeyAdmin};
use coffer_api::{ApiServer, HttpSettings, Limits, Listen, Server, Tls, TlsFiles};
use coffer_kms::{Kms, KmsConfig};
use coffer_oss::{OssApi, OssConfig};
use coffer_rootkey::{ExternalSealer, RootKeySource, RootKeyStatus, Unlock};

use crate::root_sealer::RootSealers;
use coffer_service::Service;
use coffer_storage::{FsBlobStore, RedbMetaStore, TieredBlobStore, sweep_orphans};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::identities::ServerIdentities;
use crate::keys::BuiltinKms;
use crate::kms_config::KmsSettings;
use coffer_identity::{IdentityStore, Keyring};
use coffer_kms_kmip::{KmipConfig, KmipKms};
use coffer_kms_vault::{VaultConfig, VaultKms};
use coffer_service::{KeyAdmin, KeyProvider, Resilience, ResilientKeys};
use zeroize::Zeroizing;

/// hyper's read buffer, which bounds both a request head and each body frame. Bodies
/// arrive in frames of up to this size: with 1 MiB rather than 64 KiB a 64 MiB PUT costs
/// 7-9 % less server CPU (fewer reads, ACKs and wake-ups, and fewer frames through the
/// hashing and writing stages). A head that does not fit gets 431; hyper may accept heads
/// up to about twice this, so the exact header limit is checked per request
/// (`MAX_HEADER_BYTES`). The price is up to this much buffer per busy connection.
const READ_BUFFER: usize = 1024 * 1024;
/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest total of header names and values accepted.
const MAX_HEADER_BYTES: usize = 48 * 1024;
/// Longest path and query accepted.
const MAX_URI_BYTES: usize = 16 * 1024;
/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);
/// Account id of the root key; every bucket it creates is owned by it.
const ROOT_ACCOUNT: &str = "coffer-root";
/// Stored blobs up to this size (sealed packages included) live in the metadata database
/// rather than in files of their own: a small object then costs one shared database commit
/// instead of a file creation, a rename and two fsyncs (see docs/performance.md). 128 KiB
/// is where MinIO stops inlining too; the write buffers at most this much per request.
const SMALL_BLOB_MAX: usize = 128 * 1024;

/// A key-manager call, retries included, ends within this many times the backend's own
/// per-call timeout (`--vault-timeout-ms`): room for one slow attempt and a retry, and a
/// documented bound on what a client waits for the KMS in an outage.
const DEADLINE_PER_TIMEOUT: u32 = 2;
/// The same bound for the built-in KMS, which answers from memory (a call that must save
/// its state waits on a disk).
const BUILTIN_KMS_DEADLINE: Duration = Duration::from_secs(10);
/// First wait before a retry; doubled per retry (jittered, capped by coffer-service).
const KMS_RETRY_BACKOFF: Duration = Duration::from_millis(50);

fn resilience(settings: crate::config::KmsResilience, deadline: Duration) -> Resilience {
    Resilience {
        retries: settings.retries,
        backoff: KMS_RETRY_BACKOFF,
        deadline,
        breaker_threshold: settings.breaker_threshold,
        breaker_cooldown: settings.breaker_cooldown,
    }
}

pub async fn run(settings: Settings) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|e| format!("creating {}: {e}", settings.data_dir.display()))?;
    let (root, generated) = crate::credentials::load(&settings.data_dir)?;
    if generated {
        // Printed once, on the start that created the pair; later starts only name the id.
        println!("Generated root AccessKey pair (stored in the data directory, mode 0600):");
        println!("  OSS_ACCESS_KEY_ID={}", root.access_key_id());
        println!("  OSS_ACCESS_KEY_SECRET={}", root.secret().expose());
    }

    let files = FsBlobStore::open(&settings.data_dir)
        .await
        .map_err(|e| format!("opening blob store: {e}"))?;
    let meta_path = settings.data_dir.join("metadata.redb");
    let meta = tokio::task::spawn_blocking(move || RedbMetaStore::open(&meta_path))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("opening metadata store: {e}"))?;
    let blobs = TieredBlobStore::new(
        Arc::new(meta.small_blob_store()),
        Arc::new(files),
        SMALL_BLOB_MAX,
    );
    let orphans = sweep_orphans(&meta, &blobs)
        .await
        .map_err(|e| format!("sweeping orphaned blobs: {e}"))?;
    if orphans > 0 {
        tracing::info!(orphans, "removed blobs left by interrupted writes");
    }

    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("installing metrics recorder: {e}"))?;

    let (kms, identity_key, root_key) = open_kms(&settings).await?;
    match root_key.warning() {
        Some(warning) => tracing::warn!(source = %root_key.source(), "{warning}"),
        None => tracing::info!(source = %root_key.source(), "root key loaded"),
    }
    let iam_dir = settings.data_dir.join("iam");
    let users = tokio::task::spawn_blocking(move || IdentityStore::open(&iam_dir, identity_key))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("opening the identity store: {e}"))?;
    let vault = match &settings.kms {
        KmsSettings::Vault(config) => Some(vault_provider(config).await?),
        _ => None,
    };
    let kmip = match &settings.kms {
        KmsSettings::Kmip(config) => Some(kmip_provider(config).await?),
        _ => None,
    };
    type Backend = (Arc<dyn KeyProvider>, Arc<dyn KeyAdmin>, Duration);
    let (keys, key_admin, deadline): Backend = match (&vault, &kmip) {
        (Some(vault), _) => (
            audited(vault.clone(), &kms, "vault"),
            vault.clone(),
            vault.config().timeout * DEADLINE_PER_TIMEOUT,
        ),
        (_, Some(kmip)) => (
            audited(kmip.clone(), &kms, "kmip"),
            kmip.clone(),
            kmip.config().timeout * DEADLINE_PER_TIMEOUT,
        ),
        _ => (
            Arc::new(BuiltinKms(kms.clone())),
            Arc::new(BuiltinKeyAdmin::new(kms.clone())),
            BUILTIN_KMS_DEADLINE,
        ),
    };
    let keys = Arc::new(ResilientKeys::new(
        keys,
        resilience(settings.kms_resilience, deadline),
    ));
    let mut service = Service::new(Arc::new(meta), Arc::new(blobs), coffer_oss::OSS_LIMITS)
        .with_key_provider(keys);
    if let Some(ttl) = settings.kms_data_key_cache {
        service = service.with_data_key_cache(ttl);
    }
    tokio::spawn(kms_maintenance(kms.clone()));
    // One keyring answers every "whose key is this?": the OSS front end, the admin API and
    // the KMS permission checks.
    let root = Arc::new(root);
    let users = Arc::new(users);
    let keyring = Keyring::new(root.clone(), users.clone());
    let identities = Arc::new(ServerIdentities {
        keyring: keyring.clone(),
        account: ROOT_ACCOUNT.to_owned(),
    });
    kms.set_key_access(identities.clone());
    if let Some(vault) = &vault {
        vault.set_key_access(identities.clone());
    }
    if let Some(kmip) = &kmip {
        kmip.set_key_access(identities.clone());
    }
    let admin_routes = Arc::new(AdminRoutes {
        api: AdminApi::new(key_admin, root, settings.region.clone())
            .with_identities(users)
            .with_kms_authorizer(identities),
        metrics,
        kms: kms.clone(),
        vault: vault.clone(),
        health: health_body(&root_key),
    });
    let oss = Arc::new(ApiServer::new(
        OssApi::new(
            service,
            Arc::new(keyring),
            OssConfig {
                region: settings.region.clone(),
                domains: settings.domains.clone(),
                owner_id: ROOT_ACCOUNT.to_owned(),
            },
        ),
        Limits {
            max_uri_bytes: MAX_URI_BYTES,
            max_header_bytes: MAX_HEADER_BYTES,
        },
    ));

    // Certificates are read before binding, so a bad one stops the start with nothing served.
    let tls = load_tls(settings.tls.clone())?;
    let admin_tls = load_tls(settings.admin_tls.clone())?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("binding {}: {e}", settings.listen))?;
    let admin = TcpListener::bind(settings.admin_listen)
        .await
        .map_err(|e| format!("binding {}: {e}", settings.admin_listen))?;
    tracing::info!(
        listen = %listener.local_addr().map_err(|e| e.to_string())?,
        admin = %admin.local_addr().map_err(|e| e.to_string())?,
        tls = tls.is_some(),
        admin_tls = admin_tls.is_some(),
        data_dir = %settings.data_dir.display(),
        region = %settings.region,
        "coffer is serving"
    );

    let admin_service = move |_peer| {
        let routes = admin_routes.clone();
        service_fn(move |req: Request<Incoming>| {
            let routes = routes.clone();
            async move { Ok::<_, Infallible>(admin_response(req, &routes).await) }
        })
    };
    let certs: Vec<Tls> = [tls.clone(), admin_tls.clone()]
        .into_iter()
        .flatten()
        .collect();
    // Only with a certificate to reload: otherwise SIGHUP keeps its usual meaning.
    if !certs.is_empty() {
        tokio::spawn(reload_on_sighup(certs));
    }
    // One `.api` per dialect: an S3 listener would be one more call.
    Server::new(HttpSettings {
        read_buffer: READ_BUFFER,
        header_read_timeout: HEADER_READ_TIMEOUT,
    })
    .api("oss", Listen::new(listener, tls), oss)
    .service("admin", Listen::new(admin, admin_tls), admin_service)
    .run(shutdown_signal(), SHUTDOWN_GRACE)
    .await;
    Ok(())
}

/// What the admin listener serves: `/metrics` and `/health` (unauthenticated) and the signed
/// admin API under `/admin/`.
struct AdminRoutes {
    api: AdminApi,
    metrics: PrometheusHandle,
    kms: Arc<Kms>,
    /// Transit, when it serves the keys: its per-key counts go to `/metrics` too.
    vault: Option<Arc<VaultKms>>,
    /// Fixed at start-up: the root key's source does not change while serving.
    health: String,
}

/// `/health`: `ok` on the first line (what probes read), then where the root key lives and,
/// when it sits beside the data, the warning with its one-line fix.
fn health_body(root_key: &RootKeyStatus) -> String {
    let mut body = format!("ok\nroot_key: {}\n", root_key.source());
    if let Some(warning) = root_key.warning() {
        body.push_str(&format!("warning: {warning}\n"));
    }
    body
}

async fn admin_response(req: Request<Incoming>, routes: &AdminRoutes) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if path == "/admin" || path.starts_with("/admin/") {
        return routes.api.handle(req).await;
    }
    let (status, body) = match path {
        "/metrics" => {
            export_kms_usage(&routes.kms, routes.vault.as_deref()).await;
            (StatusCode::OK, routes.metrics.render())
        }
        "/health" => (StatusCode::OK, routes.health.clone()),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// Builds the Transit key provider and creates its default and SSE-OSS keys where they
/// are missing. Vault being unreachable or refusing that at start-up does not stop the
/// server: objects that need no key manager stay available, and SSE requests fail closed
/// with a KMS error until Vault answers.
async fn vault_provider(config: &VaultConfig) -> Result<Arc<VaultKms>, String> {
    let vault = VaultKms::new(config.clone())?;
    match vault.ensure_keys().await {
        Ok(()) => tracing::info!(
            addr = %config.addr,
            mount = %config.mount,
            default_key = %config.default_key,
            sse_oss_key = %config.sse_oss_key,
            "SSE keys are served by vault transit"
        ),
        Err(e) => tracing::warn!(
            addr = %config.addr,
            error = %e,
            "vault transit: could not check or create the default and SSE-OSS keys"
        ),
    }
    Ok(Arc::new(vault))
}

/// Builds the KMIP key provider and finds (or creates) its default and SSE-OSS keys. As
/// with Vault, a KMIP server that cannot be reached at start-up does not stop the server:
/// the first SSE request tries again, and fails closed until the KMIP server answers.
async fn kmip_provider(config: &KmipConfig) -> Result<Arc<KmipKms>, String> {
    let kmip = KmipKms::new(config.clone())?;
    match kmip.service_key_ids().await {
        Ok((default_id, sse_oss_id)) => tracing::info!(
            addr = %config.addr,
            default_key = %config.default_key,
            default_key_id = %default_id,
            sse_oss_key = %config.sse_oss_key,
            sse_oss_key_id = %sse_oss_id,
            "SSE keys are served by the kmip server"
        ),
        Err(e) => tracing::warn!(
            addr = %config.addr,
            error = %e,
            "kmip: could not find or create the default and SSE-OSS keys"
        ),
    }
    Ok(Arc::new(kmip))
}

/// Sets `coffer_kms_key_calls{key_id, operation}` from the KMS's in-memory usage counters
/// (live CMKs and the SSE-OSS service key, `key_id="service"`), and with Transit from its
/// per-key-name counts, so a scrape sees current values.
async fn export_kms_usage(kms: &Arc<Kms>, vault: Option<&VaultKms>) {
    let kms = kms.clone();
    let builtin = tokio::task::spawn_blocking(move || {
        kms.usage_snapshot()
            .into_iter()
            .map(|(id, u)| (id, u.generate_data_key, u.decrypt))
            .collect::<Vec<_>>()
    })
    .await;
    let transit = vault.map(|v| v.usage_snapshot()).unwrap_or_default();
    let transit = transit
        .into_iter()
        .map(|(id, u)| (id, u.generate_data_key, u.decrypt));
    match builtin {
        Ok(usage) => {
            for (key_id, generate_data_key, decrypt) in usage.into_iter().chain(transit) {
                metrics::gauge!(
                    "coffer_kms_key_calls",
                    "key_id" => key_id.clone(),
                    "operation" => "GenerateDataKey"
                )
                .set(generate_data_key as f64);
                metrics::gauge!(
                    "coffer_kms_key_calls",
                    "key_id" => key_id,
                    "operation" => "Decrypt"
                )
                .set(decrypt as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading KMS usage for /metrics failed"),
    }
}

fn load_tls(files: Option<TlsFiles>) -> Result<Option<Tls>, String> {
    files
        .map(Tls::load)
        .transpose()
        .map_err(|e| format!("loading the TLS certificate: {e}"))
}

/// Re-reads every listener's certificate on each SIGHUP (as after a renewal). Connections stay
/// up; new handshakes get the new certificate. A certificate that fails to load is reported
/// and the one in service kept, so a botched renewal does not take the server down.
async fn reload_on_sighup(certs: Vec<Tls>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(hup) => hup,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGHUP: certificates will not reload");
            return;
        }
    };
    while hup.recv().await.is_some() {
        for tls in &certs {
            let cert = tls.files().cert.display();
            match tls.reload() {
                Ok(()) => tracing::info!(%cert, "reloaded the TLS certificate"),
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate not reloaded; keeping the old one")
                }
            }
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// Opens the built-in KMS (key state under `<data>/kms/`, sealed by the root key), and
/// derives from the same root key the key that seals the identity store's secrets. The
/// root key comes from `settings.root_key`, checked against the data directory's record
/// (coffer-rootkey) before anything is decrypted.
async fn open_kms(
    settings: &Settings,
) -> Result<(Arc<Kms>, Zeroizing<[u8; 32]>, RootKeyStatus), String> {
    let data_dir = settings.data_dir.clone();
    let rotation = settings.sse_oss_rotation;
    let source = settings.root_key.clone();
    let pin = settings.root_key_pin.clone();
    let sealer = RootSealers::new(
        settings.root_key_vault.as_ref(),
        settings.root_key_kmip.as_ref(),
        tokio::runtime::Handle::current(),
    )?;
    tokio::task::spawn_blocking(move || {
        let dir = data_dir.join("kms");
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let sealed_state_exists = dir.join(coffer_kms::STATE_FILE_NAME).exists();
        let pin = match &source {
            RootKeySource::Pkcs11(_) => pin.read()?,
            _ => None,
        };
        let unlock = Unlock {
            pin: pin.as_ref(),
            external: Some(&sealer as &dyn ExternalSealer),
        };
        let opened = coffer_rootkey::open(&data_dir, &source, unlock, sealed_state_exists)
            .map_err(|e| format!("root key: {e}"))?;
        let config = KmsConfig {
            service_key_rotation: rotation,
            audit_log: Some(dir.join("audit.log")),
        };
        let identity_key = opened.key.derive_subkey(coffer_identity::SEAL_KEY_PURPOSE);
        let kms =
            Kms::open(&dir, opened.key, config).map_err(|e| format!("opening the KMS: {e}"))?;
        opened
            .pending
            .commit()
            .map_err(|e| format!("recording the root key source: {e}"))?;
        kms.rotate_service_key_if_due()
            .map_err(|e| format!("rotating the service key: {e}"))?;
        Ok((Arc::new(kms), identity_key, opened.status))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// An external key manager whose cached uses Coffer's own audit log records.
fn audited(
    inner: Arc<dyn KeyProvider>,
    kms: &Arc<Kms>,
    backend: &'static str,
) -> Arc<dyn KeyProvider> {
    Arc::new(crate::cached_audit::AuditedCache {
        inner,
        kms: kms.clone(),
        backend,
    })
}

/// How often time-driven key work runs: service key rotation, and destroying keys whose
/// deletion window has ended.
const KMS_MAINTENANCE_PERIOD: Duration = Duration::from_secs(60);

async fn kms_maintenance(kms: Arc<Kms>) {
    let mut tick = tokio::time::interval(KMS_MAINTENANCE_PERIOD);
    loop {
        tick.tick().await;
        let kms = kms.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let rotated = kms.rotate_service_key_if_due()?;
            let purged = kms.purge_expired()?;
            Ok::<_, coffer_kms::KmsError>((rotated, purged))
        })
        .await;
        match outcome {
            Ok(Ok((rotated, purged))) => {
                if rotated {
                    tracing::info!("rotated the SSE-OSS service master key");
                }
                for key in purged {
                    tracing::warn!(key_id = %key, "deletion window ended: key material destroyed");
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "KMS maintenance failed"),
            Err(e) => tracing::error!(error = %e, "KMS maintenance task panicked"),
        }
    }
}
