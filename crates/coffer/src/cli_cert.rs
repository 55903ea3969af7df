//! `coffer cert self-signed`: a throwaway CA and a server certificate it signs, to try TLS
//! locally (clients trust `ca.pem`). Not a certificate authority for production use.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

#[derive(Args, Debug)]
pub struct CertArgs {
    #[command(subcommand)]
    command: CertCommand,
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Write a new CA (ca.pem) and a server certificate it signs (server.pem, the chain,
    /// and server-key.pem) for localhost, 127.0.0.1 and ::1
    SelfSigned {
        /// Directory to write into (created if missing)
        #[arg(long)]
        out: PathBuf,
        /// Another DNS name or IP address the server certificate is for; repeatable
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

/// Names every generated server certificate covers.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The CA outlives the certificates it signs, so a re-issued server certificate (same CA) is
/// still trusted; but the CA key is not kept, so this only matters for the files written now.
const CA_VALIDITY_DAYS: i64 = 3650;
const SERVER_VALIDITY_DAYS: i64 = 365;

pub fn run(args: CertArgs) -> ExitCode {
    let CertCommand::SelfSigned { out, hosts } = args.command;
    match self_signed(&out, &hosts) {
        Ok(()) => {
            println!(
                "Wrote {0}/ca.pem, {0}/server.pem and {0}/server-key.pem (mode 0600).",
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coffer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn self_signed(out: &Path, hosts: &[String]) -> Result<(), String> {
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().map_err(|e| format!("generating the CA key: {e}"))?;
    let ca_params = ca_params(now)?;
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|e| format!("signing the CA certificate: {e}"))?;
    let ca = Issuer::new(ca_params, ca_key);

    let names: Vec<String> = LOCAL_NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(hosts.iter().cloned())
        .collect();
    let server_key = KeyPair::generate().map_err(|e| format!("generating the server key: {e}"))?;
    let server_cert = server_params(names, now)?
        .signed_by(&server_key, &ca)
        .map_err(|e| format!("signing the server certificate: {e}"))?;

    std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    write(&out.join("ca.pem"), ca_cert.pem().as_bytes(), 0o644)?;
    // The chain a server sends: its own certificate, then the one that signed it.
    let chain = format!("{}{}", server_cert.pem(), ca_cert.pem());
    write(&out.join("server.pem"), chain.as_bytes(), 0o644)?;
    let key_pem = Zeroizing::new(server_key.serialize_pem());
    write(&out.join("server-key.pem"), key_pem.as_bytes(), 0o600)
}

fn ca_params(now: OffsetDateTime) -> Result<CertificateParams, String> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| format!("CA parameters: {e}"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Coffer local CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    Ok(params)
}

fn server_params(names: Vec<String>, now: OffsetDateTime) -> Result<CertificateParams, String> {
    let mut params =
        CertificateParams::new(names).map_err(|e| format!("server certificate names: {e}"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Coffer server");
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    // A day of slack for clocks behind ours.
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(SERVER_VALIDITY_DAYS);
    Ok(params)
}

/// Writes `bytes` to a new file `path` created with `mode` (not widened by an umask race:
/// the mode is set at creation), replacing any file there.
fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |e: std::io::Error| format!("writing {}: {e}", path.display());
    // Removing first: an existing file would keep its own, possibly wider, mode.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(fail)?;
    // The umask may have narrowed a public file's mode; set exactly what was asked.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_a_ca_a_chain_and_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), &["coffer.test".to_owned()]).unwrap();
        let mode = |f: &str| {
            std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("server-key.pem"), 0o600);
        assert_eq!(mode("ca.pem"), 0o644);
        let chain = std::fs::read_to_string(dir.path().join("server.pem")).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
        assert!(chain.ends_with(&ca), "the chain ends with the CA");
        // The pair loads as a listener's certificate (key matches the leaf).
        coffer_api::Tls::load(coffer_api::TlsFiles {
            cert: dir.path().join("server.pem"),
            key: dir.path().join("server-key.pem"),
        })
        .unwrap();
    }
}
