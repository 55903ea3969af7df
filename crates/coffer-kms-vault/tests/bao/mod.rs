//! A real OpenBao dev server for the tests, one per test, on a free loopback port, over
//! plain HTTP or over TLS with the CA the server generates. The `bao` binary comes from
//! `COFFER_BAO_BIN`, which scripts/test.sh sets (tests/engines/openbao.sh installs it);
//! without it these tests fail rather than skip, so that CI cannot pass without having
//! run them.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer_kms_vault::{Credentials, Secret, VaultConfig, VaultKms};

pub const ROOT_TOKEN: &str = "coffer-test-root";

pub struct Bao {
    pub child: Child,
    pub addr: String,
    /// With TLS: the CA that signed the server's certificate (`vault-ca.pem`).
    pub ca: Option<PathBuf>,
    _home: tempfile::TempDir,
}

fn bao_bin() -> String {
    std::env::var("COFFER_BAO_BIN").expect(
        "COFFER_BAO_BIN is not set: run `export COFFER_BAO_BIN=$(tests/engines/openbao.sh)` \
         (scripts/test.sh does)",
    )
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Bao {
    /// Starts a dev server with Transit enabled, and waits until it answers.
    pub fn start() -> Bao {
        Bao::start_with(false)
    }

    /// The same over TLS only (`-dev-tls`): the server writes a CA of its own and a
    /// certificate for 127.0.0.1 signed by it into a folder of the test's.
    pub fn start_tls() -> Bao {
        Bao::start_with(true)
    }

    fn start_with(tls: bool) -> Bao {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            format!("-dev-root-token-id={ROOT_TOKEN}"),
            format!("-dev-listen-address=127.0.0.1:{port}"),
        ];
        if tls {
            args.push("-dev-tls".to_owned());
            args.push(format!("-dev-tls-cert-dir={}", home.path().display()));
        }
        let child = Command::new(bao_bin())
            .args(&args)
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting bao");
        let scheme = if tls { "https" } else { "http" };
        let bao = Bao {
            child,
            addr: format!("{scheme}://127.0.0.1:{port}"),
            ca: tls.then(|| home.path().join("vault-ca.pem")),
            _home: home,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !bao.try_cli(&["status"]) {
            assert!(
                Instant::now() < deadline,
                "bao did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bao.cli(&["secrets", "enable", "transit"]);
        bao
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bao_bin());
        c.args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", ROOT_TOKEN)
            .env("HOME", self._home.path())
            .stdin(Stdio::null());
        if let Some(ca) = &self.ca {
            c.env("BAO_CACERT", ca);
        }
        c
    }

    /// A folder that lives as long as the server, for the test's own files.
    pub fn home(&self) -> &std::path::Path {
        self._home.path()
    }

    pub fn try_cli(&self, args: &[&str]) -> bool {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs the bao CLI as root and returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "bao {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Sends a signal and, for SIGSTOP, waits until the process is stopped (signals are
    /// delivered asynchronously).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(5);
        while signal == "-STOP" && !process_state(&stat).starts_with('T') {
            assert!(Instant::now() < deadline, "bao did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn config(&self, credentials: Credentials, timeout: Duration) -> VaultConfig {
        VaultConfig {
            addr: self.addr.clone(),
            mount: "transit".into(),
            default_key: "coffer-default".into(),
            sse_oss_key: "coffer-sse-oss".into(),
            credentials,
            timeout,
        }
    }

    pub fn kms(&self) -> VaultKms {
        let creds = Credentials::Token(Secret::new(ROOT_TOKEN.into()));
        VaultKms::new(self.config(creds, Duration::from_secs(5))).unwrap()
    }

    pub fn create_derived(&self, name: &str) {
        self.cli(&[
            "write",
            "-f",
            &format!("transit/keys/{name}"),
            "derived=true",
        ]);
    }
}

impl Drop for Bao {
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
