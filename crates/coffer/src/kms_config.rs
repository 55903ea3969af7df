//! Which key manager serves SSE-OSS and SSE-KMS, and how to reach it: `--kms-backend` and
//! the `--vault-*` or `--kmip-*` settings, with the usual precedence (flag, environment,
//! the config file's `[kms]` table, default). Vault credentials are never flags, which
//! would show in the process list: a token comes from `VAULT_TOKEN`/`BAO_TOKEN` or a token
//! file, an AppRole secret id from a file. KMIP's credential is a client certificate, so
//! its flags name files only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use coffer_kms_kmip::{self as kmip, KmipConfig};
use coffer_kms_vault::{
    Credentials, DEFAULT_KMS_KEY, DEFAULT_MOUNT, DEFAULT_SSE_OSS_KEY, DEFAULT_TIMEOUT, Secret,
    VaultConfig,
};
use serde::Deserialize;

/// The key managers this build can use. Another backend is one more variant here and one
/// more arm where the server builds its key provider.
#[derive(ValueEnum, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum KmsBackend {
    /// The built-in KMS, its state in the data directory.
    #[default]
    Builtin,
    /// Vault or OpenBao Transit.
    Vault,
    /// A KMIP server (KMIP 1.4 over mutual TLS).
    Kmip,
}

#[derive(Args, Debug, Default, Clone)]
pub struct KmsArgs {
    /// Key manager behind SSE-OSS and SSE-KMS: builtin, vault or kmip [default: builtin]
    #[arg(long, env = "COFFER_KMS_BACKEND")]
    pub kms_backend: Option<KmsBackend>,
    /// Vault/OpenBao address, http://host:port or https://host:port
    #[arg(long, env = "COFFER_VAULT_ADDR")]
    pub vault_addr: Option<String>,
    /// PEM file of the CA that signed an https Vault's certificate (else VAULT_CACERT or
    /// BAO_CACERT; else the system's CAs)
    #[arg(long, env = "COFFER_VAULT_CA_CERT")]
    pub vault_ca_cert: Option<PathBuf>,
    /// Mount path of the Transit engine [default: transit]
    #[arg(long, env = "COFFER_VAULT_TRANSIT_MOUNT")]
    pub vault_transit_mount: Option<String>,
    /// Transit key used for SSE-KMS when a request names none [default: coffer-default]
    #[arg(long, env = "COFFER_VAULT_DEFAULT_KEY")]
    pub vault_default_key: Option<String>,
    /// Transit key behind SSE-OSS [default: coffer-sse-oss]
    #[arg(long, env = "COFFER_VAULT_SSE_OSS_KEY")]
    pub vault_sse_oss_key: Option<String>,
    /// File holding the Vault token (else VAULT_TOKEN or BAO_TOKEN)
    #[arg(long, env = "COFFER_VAULT_TOKEN_FILE")]
    pub vault_token_file: Option<PathBuf>,
    /// AppRole role id (with --vault-approle-secret-id-file: log in by AppRole)
    #[arg(long, env = "COFFER_VAULT_APPROLE_ROLE_ID")]
    pub vault_approle_role_id: Option<String>,
    /// File holding the AppRole secret id
    #[arg(long, env = "COFFER_VAULT_APPROLE_SECRET_ID_FILE")]
    pub vault_approle_secret_id_file: Option<PathBuf>,
    /// Milliseconds each Vault call may take before it fails as a timeout [default: 5000]
    #[arg(long, env = "COFFER_VAULT_TIMEOUT_MS")]
    pub vault_timeout_ms: Option<u64>,
    /// KMIP server address, host:port
    #[arg(long, env = "COFFER_KMIP_ADDR")]
    pub kmip_addr: Option<String>,
    /// PEM file of the CA that signed the KMIP server's certificate
    #[arg(long, env = "COFFER_KMIP_CA")]
    pub kmip_ca: Option<PathBuf>,
    /// PEM file of Coffer's client certificate for the KMIP server
    #[arg(long, env = "COFFER_KMIP_CLIENT_CERT")]
    pub kmip_client_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key
    #[arg(long, env = "COFFER_KMIP_CLIENT_KEY")]
    pub kmip_client_key: Option<PathBuf>,
    /// Name of the KMIP key used for SSE-KMS when a request names none [default: coffer-default]
    #[arg(long, env = "COFFER_KMIP_DEFAULT_KEY")]
    pub kmip_default_key: Option<String>,
    /// Name of the KMIP key behind SSE-OSS [default: coffer-sse-oss]
    #[arg(long, env = "COFFER_KMIP_SSE_OSS_KEY")]
    pub kmip_sse_oss_key: Option<String>,
    /// Milliseconds each KMIP call may take before it fails as a timeout [default: 5000]
    #[arg(long, env = "COFFER_KMIP_TIMEOUT_MS")]
    pub kmip_timeout_ms: Option<u64>,
}

/// The config file's `[kms]` table.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct KmsFile {
    backend: Option<KmsBackend>,
    vault_addr: Option<String>,
    vault_ca_cert: Option<PathBuf>,
    vault_transit_mount: Option<String>,
    vault_default_key: Option<String>,
    vault_sse_oss_key: Option<String>,
    vault_token_file: Option<PathBuf>,
    vault_approle_role_id: Option<String>,
    vault_approle_secret_id_file: Option<PathBuf>,
    vault_timeout_ms: Option<u64>,
    kmip_addr: Option<String>,
    kmip_ca: Option<PathBuf>,
    kmip_client_cert: Option<PathBuf>,
    kmip_client_key: Option<PathBuf>,
    kmip_default_key: Option<String>,
    kmip_sse_oss_key: Option<String>,
    kmip_timeout_ms: Option<u64>,
}

/// The resolved choice.
#[derive(Debug, Clone, Default)]
pub enum KmsSettings {
    #[default]
    Builtin,
    // Boxed: the settings are built once, and the enum stays small where it is moved.
    Vault(Box<VaultConfig>),
    Kmip(KmipConfig),
}

impl KmsSettings {
    pub fn resolve(args: KmsArgs, file: KmsFile) -> Result<KmsSettings, String> {
        Self::resolve_with(args, file, &|var| std::env::var(var).ok())
    }

    /// [`Self::resolve`] with Vault's own environment variables (`VAULT_TOKEN`,
    /// `VAULT_CACERT`, their `BAO_` twins) read through `env`, so tests need not set them.
    fn resolve_with(args: KmsArgs, file: KmsFile, env: &Env) -> Result<KmsSettings, String> {
        match args.kms_backend.or(file.backend).unwrap_or_default() {
            KmsBackend::Builtin => Ok(KmsSettings::Builtin),
            KmsBackend::Vault => vault(args, file, env, "--kms-backend vault")
                .map(|v| KmsSettings::Vault(Box::new(v))),
            KmsBackend::Kmip => kmip(args, file, "--kms-backend kmip").map(KmsSettings::Kmip),
        }
    }
}

/// The KMIP settings, for the key backend or for a root key sealed by KMIP (`user` names
/// which, in the error when one is missing).
pub(crate) fn kmip(args: KmsArgs, file: KmsFile, user: &str) -> Result<KmipConfig, String> {
    let needs = |flag: &str| format!("{user} needs --kmip-{flag}");
    let timeout_ms = args
        .kmip_timeout_ms
        .or(file.kmip_timeout_ms)
        .unwrap_or(kmip::DEFAULT_TIMEOUT.as_millis() as u64);
    if timeout_ms == 0 {
        return Err("kmip_timeout_ms must be at least 1".into());
    }
    Ok(KmipConfig {
        addr: args
            .kmip_addr
            .or(file.kmip_addr)
            .ok_or_else(|| needs("addr"))?,
        ca: args.kmip_ca.or(file.kmip_ca).ok_or_else(|| needs("ca"))?,
        client_cert: args
            .kmip_client_cert
            .or(file.kmip_client_cert)
            .ok_or_else(|| needs("client-cert"))?,
        client_key: args
            .kmip_client_key
            .or(file.kmip_client_key)
            .ok_or_else(|| needs("client-key"))?,
        default_key: args
            .kmip_default_key
            .or(file.kmip_default_key)
            .unwrap_or_else(|| kmip::DEFAULT_KMS_KEY.to_owned()),
        sse_oss_key: args
            .kmip_sse_oss_key
            .or(file.kmip_sse_oss_key)
            .unwrap_or_else(|| kmip::DEFAULT_SSE_OSS_KEY.to_owned()),
        timeout: Duration::from_millis(timeout_ms),
    })
}

/// Reads an environment variable.
type Env = dyn Fn(&str) -> Option<String>;

/// The Vault settings, for the key backend or for a root key sealed by Transit (`user`
/// names which, in the error when the address is missing).
pub(crate) fn vault(
    args: KmsArgs,
    file: KmsFile,
    env: &Env,
    user: &str,
) -> Result<VaultConfig, String> {
    let addr = args
        .vault_addr
        .or(file.vault_addr)
        .ok_or_else(|| format!("{user} needs --vault-addr"))?;
    let timeout_ms = args
        .vault_timeout_ms
        .or(file.vault_timeout_ms)
        .unwrap_or(DEFAULT_TIMEOUT.as_millis() as u64);
    if timeout_ms == 0 {
        return Err("vault_timeout_ms must be at least 1".into());
    }
    let role_id = args.vault_approle_role_id.or(file.vault_approle_role_id);
    let secret_id_file = args
        .vault_approle_secret_id_file
        .or(file.vault_approle_secret_id_file);
    let token_file = args.vault_token_file.or(file.vault_token_file);
    Ok(VaultConfig {
        addr,
        ca_cert: args
            .vault_ca_cert
            .or_else(|| first_set(env, &["VAULT_CACERT", "BAO_CACERT"]).map(PathBuf::from))
            .or(file.vault_ca_cert),
        mount: args
            .vault_transit_mount
            .or(file.vault_transit_mount)
            .unwrap_or_else(|| DEFAULT_MOUNT.to_owned())
            .trim_matches('/')
            .to_owned(),
        default_key: args
            .vault_default_key
            .or(file.vault_default_key)
            .unwrap_or_else(|| DEFAULT_KMS_KEY.to_owned()),
        sse_oss_key: args
            .vault_sse_oss_key
            .or(file.vault_sse_oss_key)
            .unwrap_or_else(|| DEFAULT_SSE_OSS_KEY.to_owned()),
        credentials: credentials(role_id, secret_id_file, token_file, env)?,
        timeout: Duration::from_millis(timeout_ms),
    })
}

/// The first of Vault's own environment variables that is set and not blank: the ones the
/// `vault` and `bao` CLIs read, so one setting serves them and Coffer.
fn first_set(env: &Env, vars: &[&str]) -> Option<String> {
    vars.iter()
        .find_map(|var| env(var).filter(|v| !v.trim().is_empty()))
        .map(|v| v.trim().to_owned())
}

/// AppRole when a role id is given, else a token file, else the token environment.
fn credentials(
    role_id: Option<String>,
    secret_id_file: Option<PathBuf>,
    token_file: Option<PathBuf>,
    env: &Env,
) -> Result<Credentials, String> {
    if let Some(role_id) = role_id {
        let file =
            secret_id_file.ok_or("an AppRole role id needs --vault-approle-secret-id-file")?;
        return Ok(Credentials::AppRole {
            mount: "approle".into(),
            role_id,
            secret_id: read_secret(&file)?,
        });
    }
    if let Some(file) = token_file {
        return Ok(Credentials::Token(read_secret(&file)?));
    }
    first_set(env, &["VAULT_TOKEN", "BAO_TOKEN"])
        .map(|t| Credentials::Token(Secret::new(t)))
        .ok_or_else(|| {
            "--kms-backend vault needs credentials: VAULT_TOKEN, BAO_TOKEN, \
             --vault-token-file or an AppRole"
                .to_owned()
        })
}

fn read_secret(path: &Path) -> Result<Secret, String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?,
    );
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(Secret::new(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_the_default_and_vault_needs_an_address() {
        let s = KmsSettings::resolve(KmsArgs::default(), KmsFile::default()).unwrap();
        assert!(matches!(s, KmsSettings::Builtin));
        let args = KmsArgs {
            kms_backend: Some(KmsBackend::Vault),
            ..Default::default()
        };
        assert!(KmsSettings::resolve(args, KmsFile::default()).is_err());
    }

    #[test]
    fn flags_beat_the_file_and_secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s.tok\n").unwrap();
        let file: KmsFile = toml::from_str(
            "backend = \"vault\"\nvault_addr = \"http://file:8200\"\n\
             vault_default_key = \"from-file\"\nvault_timeout_ms = 900\n",
        )
        .unwrap();
        let args = KmsArgs {
            vault_addr: Some("http://flag:8200".into()),
            vault_token_file: Some(token),
            ..Default::default()
        };
        let KmsSettings::Vault(v) = KmsSettings::resolve(args, file).unwrap() else {
            panic!("vault expected");
        };
        assert_eq!(v.addr, "http://flag:8200");
        assert_eq!(v.default_key, "from-file");
        assert_eq!(v.sse_oss_key, DEFAULT_SSE_OSS_KEY);
        assert_eq!(v.mount, "transit");
        assert_eq!(v.timeout, Duration::from_millis(900));
        assert!(matches!(v.credentials, Credentials::Token(_)));
    }

    /// Flag over environment (VAULT_CACERT, as the vault CLI reads it) over file.
    #[test]
    fn the_vault_ca_comes_from_flag_then_environment_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s.tok").unwrap();
        let resolve = |flag: Option<&str>, env: &Env| {
            let file: KmsFile = toml::from_str(
                "backend = \"vault\"\nvault_addr = \"https://v:8200\"\n\
                 vault_ca_cert = \"/from/file.pem\"\n",
            )
            .unwrap();
            let args = KmsArgs {
                vault_ca_cert: flag.map(PathBuf::from),
                vault_token_file: Some(token.clone()),
                ..Default::default()
            };
            let KmsSettings::Vault(v) = KmsSettings::resolve_with(args, file, env).unwrap() else {
                panic!("vault expected");
            };
            v.ca_cert.unwrap()
        };
        let none = |_: &str| None;
        assert_eq!(resolve(None, &none), PathBuf::from("/from/file.pem"));
        let bao = |var: &str| (var == "BAO_CACERT").then(|| "/from/bao.pem".to_owned());
        assert_eq!(resolve(None, &bao), PathBuf::from("/from/bao.pem"));
        let vault = |var: &str| var.ends_with("CACERT").then(|| format!("/{var}.pem"));
        assert_eq!(resolve(None, &vault), PathBuf::from("/VAULT_CACERT.pem"));
        assert_eq!(
            resolve(Some("/from/flag.pem"), &vault),
            PathBuf::from("/from/flag.pem")
        );
    }

    #[test]
    fn kmip_needs_its_address_and_files_and_flags_beat_the_file() {
        let file = || -> KmsFile {
            toml::from_str(
                "backend = \"kmip\"\nkmip_addr = \"file:5696\"\nkmip_ca = \"/f/ca.pem\"\n\
                 kmip_client_cert = \"/f/c.pem\"\nkmip_default_key = \"from-file\"\n\
                 kmip_timeout_ms = 900\n",
            )
            .unwrap()
        };
        let missing_key = KmsSettings::resolve(KmsArgs::default(), file()).unwrap_err();
        assert!(missing_key.contains("--kmip-client-key"), "{missing_key}");
        let args = KmsArgs {
            kmip_addr: Some("flag:5696".into()),
            kmip_client_key: Some("/flag/c.key".into()),
            ..Default::default()
        };
        let KmsSettings::Kmip(k) = KmsSettings::resolve(args, file()).unwrap() else {
            panic!("kmip expected");
        };
        assert_eq!(k.addr, "flag:5696");
        assert_eq!(k.ca, PathBuf::from("/f/ca.pem"));
        assert_eq!(k.client_key, PathBuf::from("/flag/c.key"));
        assert_eq!(k.default_key, "from-file");
        assert_eq!(k.sse_oss_key, kmip::DEFAULT_SSE_OSS_KEY);
        assert_eq!(k.timeout, Duration::from_millis(900));
    }

    #[test]
    fn an_approle_role_id_needs_its_secret_id_file() {
        let none = |_: &str| None;
        assert!(credentials(Some("role".into()), None, None, &none).is_err());
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret-id");
        std::fs::write(&secret, "sid").unwrap();
        let creds = credentials(Some("role".into()), Some(secret), None, &none).unwrap();
        assert!(matches!(creds, Credentials::AppRole { .. }));
    }
}
