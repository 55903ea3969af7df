//! A real OpenBao dev server with Transit enabled, for the server's tests of Vault-backed
//! features, on a free loopback port and stopped (by its own PID) when dropped. The `bao`
//! binary comes from `COFFER_BAO_BIN` (scripts/test.sh installs it with
//! tests/engines/openbao.sh); without it the tests fail rather than skip.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ROOT_TOKEN: &str = "coffer-server-test-root";

pub struct Bao {
    child: Child,
    pub addr: String,
    home: tempfile::TempDir,
}

fn bao_bin() -> String {
    std::env::var("COFFER_BAO_BIN").expect(
        "COFFER_BAO_BIN is not set: run `export COFFER_BAO_BIN=$(tests/engines/openbao.sh)` \
         (scripts/test.sh does)",
    )
}

impl Bao {
    pub fn start() -> Bao {
        let home = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let child = Command::new(bao_bin())
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting bao");
        let bao = Bao {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            home,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !bao.run(&["status"]) {
            assert!(Instant::now() < deadline, "bao did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(bao.run(&["secrets", "enable", "transit"]));
        bao
    }

    /// Runs the bao CLI as root; true on success.
    pub fn run(&self, args: &[&str]) -> bool {
        Command::new(bao_bin())
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", ROOT_TOKEN)
            .env("HOME", self.home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The environment a Coffer process needs to reach this server as root.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("VAULT_TOKEN".into(), ROOT_TOKEN.into())]
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
