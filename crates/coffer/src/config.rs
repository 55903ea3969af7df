//! Server settings. Each setting comes from, in order of precedence: a command-line flag,
//! an environment variable, the TOML config file, the built-in default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use coffer_api::TlsFiles;
use coffer_rootkey::{Pin, RootKeySource};
use serde::Deserialize;

use crate::kms_config::{KmsArgs, KmsFile, KmsSettings};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:7071";
pub const DEFAULT_DATA_DIR: &str = "./coffer-data";
pub const DEFAULT_REGION: &str = "cn-hangzhou";
pub const DEFAULT_SSE_OSS_ROTATION_DAYS: u64 = 30;

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address of the OSS API listener [default: 127.0.0.1:7070]
    #[arg(long, env = "COFFER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address of the admin listener (/metrics, /health, /admin) [default: 127.0.0.1:7071]
    #[arg(long, env = "COFFER_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Where metadata and object data live [default: ./coffer-data]
    #[arg(long, env = "COFFER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Region id clients sign V4 requests for [default: cn-hangzhou]
    #[arg(long, env = "COFFER_REGION")]
    pub region: Option<String>,
    /// Domain whose sub-domains address buckets (virtual-hosted style); repeatable
    #[arg(long = "domain", env = "COFFER_DOMAINS", value_delimiter = ',')]
    pub domains: Vec<String>,
    /// Days between automatic rotations of the SSE-OSS service master key [default: 30]
    #[arg(long, env = "COFFER_SSE_OSS_ROTATION_DAYS")]
    pub sse_oss_rotation_days: Option<u64>,
    /// Seconds an SSE-KMS data key may serve a bucket's uploads (0 = one key per object) [default: 0]
    #[arg(long, env = "COFFER_KMS_DATA_KEY_CACHE_SECONDS")]
    pub kms_data_key_cache_seconds: Option<u64>,
    /// Retries of a key-manager call that could not be answered (down, timed out) [default: 2]
    #[arg(long, env = "COFFER_KMS_RETRIES")]
    pub kms_retries: Option<u32>,
    /// Consecutive key-manager failures that open the circuit breaker (0 = never) [default: 5]
    #[arg(long, env = "COFFER_KMS_BREAKER_THRESHOLD")]
    pub kms_breaker_threshold: Option<u32>,
    /// Milliseconds an open breaker fails KMS calls at once before a trial call [default: 5000]
    #[arg(long, env = "COFFER_KMS_BREAKER_COOLDOWN_MS")]
    pub kms_breaker_cooldown_ms: Option<u64>,
    /// Where the root key comes from: file:/path, env:VAR or
    /// pkcs11:module=/path/lib.so;token=LABEL;key=LABEL [default: <data-dir>/root.key]
    #[arg(long, env = "COFFER_ROOT_KEY_SOURCE")]
    pub root_key: Option<String>,
    /// File holding the PKCS#11 token's user PIN (or set COFFER_ROOT_KEY_PIN)
    #[arg(long, env = "COFFER_ROOT_KEY_PIN_FILE")]
    pub root_key_pin_file: Option<PathBuf>,
    /// PEM certificate chain (leaf first) for the OSS listener; with --tls-key it serves HTTPS
    #[arg(long, env = "COFFER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, env = "COFFER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificate chain for the admin listener; with --admin-tls-key it serves HTTPS
    #[arg(long, env = "COFFER_ADMIN_TLS_CERT")]
    pub admin_tls_cert: Option<PathBuf>,
    /// PEM private key of --admin-tls-cert
    #[arg(long, env = "COFFER_ADMIN_TLS_KEY")]
    pub admin_tls_key: Option<PathBuf>,
    /// TOML file with any of: listen, admin_listen, data_dir, region, domains,
    /// sse_oss_rotation_days, kms_data_key_cache_seconds, kms_retries, kms_breaker_threshold,
    /// kms_breaker_cooldown_ms, root_key, root_key_pin_file,
    /// tls_cert, tls_key, admin_tls_cert, admin_tls_key, and a [kms] table
    #[arg(long, env = "COFFER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub kms: KmsArgs,
}

/// The config file's shape; every field is optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    domains: Option<Vec<String>>,
    sse_oss_rotation_days: Option<u64>,
    kms_data_key_cache_seconds: Option<u64>,
    kms_retries: Option<u32>,
    kms_breaker_threshold: Option<u32>,
    kms_breaker_cooldown_ms: Option<u64>,
    root_key: Option<String>,
    root_key_pin_file: Option<PathBuf>,
    kms: Option<KmsFile>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    admin_tls_cert: Option<PathBuf>,
    admin_tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub domains: Vec<String>,
    pub sse_oss_rotation: std::time::Duration,
    /// `None`: every SSE-KMS object gets its own data key.
    pub kms_data_key_cache: Option<std::time::Duration>,
    /// Retries and circuit breaker around every key manager.
    pub kms_resilience: KmsResilience,
    pub root_key: RootKeySource,
    /// The Vault that seals the root key, for `--root-key vault:key=NAME`.
    pub root_key_vault: Option<coffer_kms_vault::VaultConfig>,
    /// The KMIP server that seals the root key, for `--root-key kmip:key=NAME`.
    pub root_key_kmip: Option<coffer_kms_kmip::KmipConfig>,
    /// Where the token PIN is read from, when the source is a token.
    pub root_key_pin: PinSource,
    /// The key manager behind SSE-OSS and SSE-KMS.
    pub kms: KmsSettings,
    /// `None`: the OSS listener speaks plain HTTP.
    pub tls: Option<TlsFiles>,
    /// `None`: the admin listener speaks plain HTTP.
    pub admin_tls: Option<TlsFiles>,
}

pub const DEFAULT_KMS_RETRIES: u32 = 2;
/// More retries would only lengthen the wait in an outage; the per-call deadline ends it anyway.
pub const MAX_KMS_RETRIES: u32 = 10;
pub const DEFAULT_KMS_BREAKER_THRESHOLD: u32 = 5;
pub const DEFAULT_KMS_BREAKER_COOLDOWN_MS: u64 = 5_000;

/// How key-manager calls are retried and when the breaker opens (the per-call deadline
/// derives from the backend's own timeout, in the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KmsResilience {
    pub retries: u32,
    /// 0: the breaker never opens.
    pub breaker_threshold: u32,
    pub breaker_cooldown: std::time::Duration,
}

impl KmsResilience {
    fn resolve(args: &ServeArgs, file: &FileConfig) -> Result<KmsResilience, String> {
        let retries = args
            .kms_retries
            .or(file.kms_retries)
            .unwrap_or(DEFAULT_KMS_RETRIES);
        if retries > MAX_KMS_RETRIES {
            return Err(format!("kms_retries must be at most {MAX_KMS_RETRIES}"));
        }
        let cooldown_ms = args
            .kms_breaker_cooldown_ms
            .or(file.kms_breaker_cooldown_ms)
            .unwrap_or(DEFAULT_KMS_BREAKER_COOLDOWN_MS);
        if cooldown_ms == 0 {
            return Err("kms_breaker_cooldown_ms must be at least 1".into());
        }
        Ok(KmsResilience {
            retries,
            breaker_threshold: args
                .kms_breaker_threshold
                .or(file.kms_breaker_threshold)
                .unwrap_or(DEFAULT_KMS_BREAKER_THRESHOLD),
            breaker_cooldown: std::time::Duration::from_millis(cooldown_ms),
        })
    }
}

/// The legacy variable: 64 hex digits of the root key itself. Set (and no `--root-key`),
/// it means `env:COFFER_ROOT_KEY`, as it did before sources existed.
const LEGACY_ROOT_KEY_ENV: &str = "COFFER_ROOT_KEY";
/// The token PIN itself, for deployments that inject secrets as variables.
const ROOT_KEY_PIN_ENV: &str = "COFFER_ROOT_KEY_PIN";

/// Where a token PIN comes from: a file, or the `COFFER_ROOT_KEY_PIN` variable.
#[derive(Debug, Clone, Default)]
pub enum PinSource {
    File(PathBuf),
    #[default]
    Env,
}

impl PinSource {
    /// The PIN, if one is configured; `None` lets the token code say what is missing.
    pub fn read(&self) -> Result<Option<Pin>, String> {
        match self {
            PinSource::File(path) => Pin::from_file(path).map(Some).map_err(|e| e.to_string()),
            PinSource::Env => Ok(std::env::var(ROOT_KEY_PIN_ENV).ok().map(Pin::new)),
        }
    }
}

/// `--root-key` > `COFFER_ROOT_KEY_SOURCE` > file > legacy `COFFER_ROOT_KEY` > embedded.
pub(crate) fn root_key_source(
    flag_or_env: Option<String>,
    file: Option<String>,
    legacy_env_set: bool,
) -> Result<RootKeySource, String> {
    match flag_or_env.or(file) {
        Some(text) => RootKeySource::parse(&text).map_err(|e| e.to_string()),
        None if legacy_env_set => Ok(RootKeySource::Env(LEGACY_ROOT_KEY_ENV.to_owned())),
        None => Ok(RootKeySource::Embedded),
    }
}

impl Settings {
    /// Flags and environment are merged by clap already; the file fills what they leave.
    pub fn resolve(args: ServeArgs) -> Result<Settings, String> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| format!("parsing {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let kms_resilience = KmsResilience::resolve(&args, &file)?;
        let legacy_env_set = std::env::var(LEGACY_ROOT_KEY_ENV).is_ok_and(|v| !v.trim().is_empty());
        let root_key = root_key_source(args.root_key, file.root_key, legacy_env_set)?;
        let kms_file = file.kms.unwrap_or_default();
        let needs = format!("--root-key {root_key}");
        let root_key_vault = match &root_key {
            RootKeySource::Vault(_) => Some(crate::kms_config::vault(
                args.kms.clone(),
                kms_file.clone(),
                &|var| std::env::var(var).ok(),
                &needs,
            )?),
            _ => None,
        };
        let root_key_kmip = match &root_key {
            RootKeySource::Kmip(_) => Some(crate::kms_config::kmip(
                args.kms.clone(),
                kms_file.clone(),
                &needs,
            )?),
            _ => None,
        };
        let kms = KmsSettings::resolve(args.kms, kms_file)?;
        let parse = |s: &str| s.parse::<SocketAddr>().expect("built-in address is valid");
        let region = args
            .region
            .or(file.region)
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let mut domains = if args.domains.is_empty() {
            file.domains.unwrap_or_default()
        } else {
            args.domains
        };
        if domains.is_empty() {
            domains = vec!["localhost".to_owned(), format!("oss-{region}.aliyuncs.com")];
        }
        let rotation_days = args
            .sse_oss_rotation_days
            .or(file.sse_oss_rotation_days)
            .unwrap_or(DEFAULT_SSE_OSS_ROTATION_DAYS);
        if rotation_days == 0 {
            return Err("sse_oss_rotation_days must be at least 1".into());
        }
        let cache_seconds = args
            .kms_data_key_cache_seconds
            .or(file.kms_data_key_cache_seconds)
            .unwrap_or(0);
        let root_key_pin = args
            .root_key_pin_file
            .or(file.root_key_pin_file)
            .map_or(PinSource::Env, PinSource::File);
        let tls = tls_files(
            ("tls_cert", args.tls_cert.or(file.tls_cert)),
            ("tls_key", args.tls_key.or(file.tls_key)),
        )?;
        let admin_tls = tls_files(
            (
                "admin_tls_cert",
                args.admin_tls_cert.or(file.admin_tls_cert),
            ),
            ("admin_tls_key", args.admin_tls_key.or(file.admin_tls_key)),
        )?;
        Ok(Settings {
            kms_resilience,
            root_key,
            root_key_vault,
            root_key_kmip,
            root_key_pin,
            kms,
            tls,
            admin_tls,
            sse_oss_rotation: std::time::Duration::from_secs(rotation_days * 86_400),
            kms_data_key_cache: (cache_seconds > 0)
                .then(|| std::time::Duration::from_secs(cache_seconds)),
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| parse(DEFAULT_LISTEN)),
            admin_listen: args
                .admin_listen
                .or(file.admin_listen)
                .unwrap_or_else(|| parse(DEFAULT_ADMIN_LISTEN)),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            region,
            domains: domains
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        })
    }
}

/// A listener's certificate and key, each resolved on its own (flag > env > file); one
/// without the other is a mistake worth stopping for, not a reason to serve plain HTTP.
fn tls_files(
    (cert_name, cert): (&str, Option<PathBuf>),
    (key_name, key): (&str, Option<PathBuf>),
) -> Result<Option<TlsFiles>, String> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!("{cert_name} is set but {key_name} is not")),
        (None, Some(_)) => Err(format!("{key_name} is set but {cert_name} is not")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nregion = \"cn-beijing\"\ndata_dir = \"/srv/coffer\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:1234".parse().unwrap()),
            config: Some(path),
            ..Default::default()
        };
        let s = Settings::resolve(args).unwrap();
        assert_eq!(s.listen.port(), 1234);
        assert_eq!(s.region, "cn-beijing");
        assert_eq!(s.data_dir, PathBuf::from("/srv/coffer"));
        assert_eq!(s.admin_listen.to_string(), DEFAULT_ADMIN_LISTEN);
        assert!(
            s.domains
                .contains(&"oss-cn-beijing.aliyuncs.com".to_owned())
        );
    }

    #[test]
    fn root_key_source_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "root_key = \"file:/etc/coffer/root.key\"\nroot_key_pin_file = \"/etc/pin\"\n",
        )
        .unwrap();
        let from_file = Settings::resolve(ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            from_file.root_key,
            RootKeySource::File("/etc/coffer/root.key".into())
        );
        assert!(matches!(from_file.root_key_pin, PinSource::File(p) if p == Path::new("/etc/pin")));
        let flag = Settings::resolve(ServeArgs {
            config: Some(path),
            root_key: Some("env:K".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(flag.root_key, RootKeySource::Env("K".into()));
        assert_eq!(
            root_key_source(None, None, true).unwrap(),
            RootKeySource::Env("COFFER_ROOT_KEY".into())
        );
        assert_eq!(
            root_key_source(None, None, false).unwrap(),
            RootKeySource::Embedded
        );
        assert!(root_key_source(Some("nope".into()), None, false).is_err());
    }

    #[test]
    fn kms_resilience_precedence_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "kms_retries = 4\nkms_breaker_threshold = 9\nkms_breaker_cooldown_ms = 700\n",
        )
        .unwrap();
        let defaults = Settings::resolve(ServeArgs::default())
            .unwrap()
            .kms_resilience;
        assert_eq!(
            defaults,
            KmsResilience {
                retries: DEFAULT_KMS_RETRIES,
                breaker_threshold: DEFAULT_KMS_BREAKER_THRESHOLD,
                breaker_cooldown: std::time::Duration::from_millis(DEFAULT_KMS_BREAKER_COOLDOWN_MS),
            }
        );
        let s = Settings::resolve(ServeArgs {
            config: Some(path.clone()),
            kms_retries: Some(1),
            ..Default::default()
        })
        .unwrap()
        .kms_resilience;
        assert_eq!(s.retries, 1, "the flag wins");
        assert_eq!(s.breaker_threshold, 9);
        assert_eq!(s.breaker_cooldown, std::time::Duration::from_millis(700));
        for bad in [
            ServeArgs {
                kms_retries: Some(MAX_KMS_RETRIES + 1),
                ..Default::default()
            },
            ServeArgs {
                kms_breaker_cooldown_ms: Some(0),
                ..Default::default()
            },
        ] {
            assert!(Settings::resolve(bad).is_err());
        }
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9999\"\n").unwrap();
        assert!(
            Settings::resolve(ServeArgs {
                config: Some(path),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn tls_needs_cert_and_key_and_flags_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "tls_cert = \"/file/cert.pem\"\ntls_key = \"/file/key.pem\"\nadmin_tls_key = \"/k\"\n",
        )
        .unwrap();
        let err = Settings::resolve(ServeArgs {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.contains("admin_tls_key is set but admin_tls_cert"),
            "{err}"
        );
        let s = Settings::resolve(ServeArgs {
            config: Some(path),
            tls_cert: Some("/flag/cert.pem".into()),
            admin_tls_cert: Some("/flag/admin.pem".into()),
            ..Default::default()
        })
        .unwrap();
        let tls = s.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/flag/cert.pem"));
        assert_eq!(tls.key, PathBuf::from("/file/key.pem"));
        assert_eq!(s.admin_tls.unwrap().key, PathBuf::from("/k"));
        assert!(
            Settings::resolve(ServeArgs::default())
                .unwrap()
                .tls
                .is_none()
        );
    }
}
