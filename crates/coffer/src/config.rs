//! Server settings. Each setting comes from, in order of precedence: a command-line flag,
//! an environment variable, the TOML config file, the built-in default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
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
    /// TOML file with any of: listen, admin_listen, data_dir, region, domains,
    /// sse_oss_rotation_days, kms_data_key_cache_seconds, and a [kms] table
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
    kms: Option<KmsFile>,
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
    /// The key manager behind SSE-OSS and SSE-KMS.
    pub kms: KmsSettings,
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
        let kms = KmsSettings::resolve(args.kms, file.kms.unwrap_or_default())?;
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
        Ok(Settings {
            kms,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
