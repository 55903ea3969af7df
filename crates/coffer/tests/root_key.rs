//! The root key kept apart from the data: a data directory sealed under a PKCS#11 token
//! (SoftHSM2) or a key file elsewhere is useless on its own, a wrong key is caught at
//! start-up, and the embedded default says it is one.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{ServeOptions, TestServer};

const SOFTHSM2_DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "271828";

/// The SoftHSM2 module: from COFFER_SOFTHSM2_MODULE (set by scripts/test.sh, which installs
/// it), else the Debian path. Missing in CI is a failure; elsewhere the test says it skips.
fn softhsm_module() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("COFFER_SOFTHSM2_MODULE") {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "COFFER_SOFTHSM2_MODULE={} is missing",
            path.display()
        );
        return Some(path);
    }
    let default = PathBuf::from(SOFTHSM2_DEFAULT_MODULE);
    if default.exists() {
        return Some(default);
    }
    assert!(
        std::env::var("CI").is_err(),
        "SoftHSM2 is required in CI: run scripts/test.sh (it installs softhsm2 and sets \
         COFFER_SOFTHSM2_MODULE)"
    );
    eprintln!("SKIPPED: SoftHSM2 is not installed (scripts/test.sh installs it)");
    None
}

/// A SoftHSM2 token in a temporary directory: its own config (SOFTHSM2_CONF), one
/// initialized token, a user PIN file.
struct Token {
    dir: tempfile::TempDir,
    module: PathBuf,
    label: String,
}

impl Token {
    fn new(module: PathBuf, label: &str) -> Token {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("pin"), format!("{PIN}\n")).unwrap();
        let token = Token {
            dir,
            module,
            label: label.to_owned(),
        };
        let out = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label, "--pin", PIN])
            .args(["--so-pin", "31415926"])
            .env("SOFTHSM2_CONF", token.conf())
            .output()
            .expect("running softhsm2-util (package softhsm2)");
        assert!(out.status.success(), "{out:?}");
        token
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    fn pin_file(&self) -> PathBuf {
        self.dir.path().join("pin")
    }

    fn source(&self, key: &str) -> String {
        format!(
            "pkcs11:module={};token={};key={key}",
            self.module.display(),
            self.label
        )
    }

    /// `coffer root-key init-pkcs11`: the token key users create the same way.
    fn create_key(&self, key: &str) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["root-key", "init-pkcs11", "--root-key", &self.source(key)])
            .arg("--root-key-pin-file")
            .arg(self.pin_file())
            .env("SOFTHSM2_CONF", self.conf())
            .env_remove("COFFER_ROOT_KEY_SOURCE")
            .output()
            .unwrap()
    }

    fn serve_options(&self, key: &str, data_dir: &Path) -> ServeOptions {
        ServeOptions {
            data_dir: Some(data_dir.to_owned()),
            args: vec![
                "--root-key".into(),
                self.source(key),
                "--root-key-pin-file".into(),
                self.pin_file().display().to_string(),
            ],
            env: vec![("SOFTHSM2_CONF".into(), self.conf().display().to_string())],
        }
    }
}

const OBJECTS: [(&str, &str, &[u8]); 2] = [
    ("sse-oss", "AES256", b"sealed by the service key"),
    ("sse-kms", "KMS", b"sealed by a customer master key"),
];

async fn write_encrypted(server: &TestServer) {
    server.create_bucket("apart").await;
    for (key, method, body) in OBJECTS {
        let resp = server
            .req("PUT", Some("apart"), Some(key))
            .header("x-oss-server-side-encryption", method)
            .body(body.to_vec())
            .send()
            .await;
        assert_eq!(resp.status, 200, "{key}: {}", resp.text());
    }
}

async fn assert_readable(server: &TestServer) {
    for (key, method, body) in OBJECTS {
        let resp = server.req("GET", Some("apart"), Some(key)).send().await;
        assert_eq!(resp.status, 200, "{key}: {}", resp.text());
        assert_eq!(resp.body.as_ref(), body);
        assert_eq!(resp.header("x-oss-server-side-encryption"), Some(method));
    }
}

fn stop(mut server: TestServer) {
    server.terminate();
    assert!(server.wait_exit(Duration::from_secs(30)).success());
}

/// `cp -a` of a data directory, as a thief or a careless backup would take it.
fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_data_dir_sealed_by_a_token_is_useless_without_it() {
    let Some(module) = softhsm_module() else {
        return;
    };
    let token = Token::new(module, "coffer");
    let created = token.create_key("coffer-root");
    assert!(created.status.success(), "{created:?}");
    let again = token.create_key("coffer-root");
    assert!(
        !again.status.success(),
        "a second key with the label is refused"
    );

    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let server = TestServer::start_with(&token.serve_options("coffer-root", &data));
    write_encrypted(&server).await;
    assert_readable(&server).await;
    let health = server.admin_get("/health").await.text();
    assert!(health.starts_with("ok\n"), "{health}");
    assert!(health.contains(&token.source("coffer-root")), "{health}");
    assert!(!health.contains("warning"), "{health}");
    stop(server);
    assert!(
        !data.join("root.key").exists(),
        "no root key beside the data"
    );

    // The copy, started without the token: refused at start-up, saying which source it needs.
    let stolen = base.path().join("stolen");
    copy_dir(&data, &stolen);
    let log = TestServer::start_refused(&ServeOptions {
        data_dir: Some(stolen.clone()),
        ..ServeOptions::default()
    });
    assert!(log.contains("sealed under an external root key"), "{log}");
    assert!(log.contains(&token.source("coffer-root")), "{log}");
    assert!(
        !stolen.join("root.key").exists(),
        "no key was made up for it"
    );

    // Another key on the same token is told apart at start-up, before any object.
    assert!(token.create_key("other-root").status.success());
    let log = TestServer::start_refused(&token.serve_options("other-root", &stolen));
    assert!(
        log.contains("not the token key the data directory was sealed with"),
        "{log}"
    );

    // With the right token the copy serves every object again: only the key was missing.
    let server = TestServer::start_with(&token.serve_options("coffer-root", &stolen));
    assert_readable(&server).await;
    stop(server);
}

#[tokio::test]
async fn a_data_dir_sealed_by_a_key_file_elsewhere_is_useless_without_it() {
    let secrets = tempfile::tempdir().unwrap();
    let key_file = secrets.path().join("root.key");
    let generated = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["root-key", "generate-file"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let source = format!("file:{}", key_file.display());
    let with_key = |data: &Path, source: &str| ServeOptions {
        data_dir: Some(data.to_owned()),
        args: vec!["--root-key".into(), source.to_owned()],
        env: vec![],
    };

    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let server = TestServer::start_with(&with_key(&data, &source));
    write_encrypted(&server).await;
    stop(server);

    let stolen = base.path().join("stolen");
    copy_dir(&data, &stolen);
    let log = TestServer::start_refused(&ServeOptions {
        data_dir: Some(stolen.clone()),
        ..ServeOptions::default()
    });
    assert!(log.contains("sealed under an external root key"), "{log}");
    assert!(log.contains(&source), "{log}");

    // Another key file: caught by the key check value at start-up.
    let other = secrets.path().join("other.key");
    coffer_rootkey::generate_file(&other).unwrap();
    let log = TestServer::start_refused(&with_key(&stolen, &format!("file:{}", other.display())));
    assert!(log.contains("is not the one the data directory"), "{log}");

    // The right file, readable by others: refused with the fix.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = TestServer::start_refused(&with_key(&stolen, &source));
    assert!(
        log.contains(&format!("chmod 600 {}", key_file.display())),
        "{log}"
    );
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let server = TestServer::start_with(&with_key(&stolen, &source));
    assert_readable(&server).await;
    stop(server);
}

#[tokio::test]
async fn the_embedded_default_warns_at_start_and_in_health() {
    let server = TestServer::start();
    let health = server.admin_get("/health").await.text();
    assert!(health.starts_with("ok\n"), "{health}");
    assert!(health.contains("root_key: embedded"), "{health}");
    assert!(
        health.contains("warning: the root key is stored beside the data"),
        "{health}"
    );
    assert!(health.contains("--root-key file:"), "{health}");
    let log = server.log();
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains("the root key is stored beside the data"),
        "{log}"
    );
}

#[tokio::test]
async fn the_legacy_variable_still_supplies_the_key_and_is_recorded() {
    let options = ServeOptions {
        env: vec![("COFFER_ROOT_KEY".into(), "ab".repeat(32))],
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&options);
    let health = server.admin_get("/health").await.text();
    assert!(health.contains("root_key: env:COFFER_ROOT_KEY"), "{health}");
    assert!(!health.contains("warning"), "{health}");
    let record = std::fs::read_to_string(server.data_dir.join("root-key.json")).unwrap();
    assert!(record.contains("\"kind\": \"env\""), "{record}");
    assert!(!record.contains(&"ab".repeat(32)), "{record}");
}

#[tokio::test]
async fn an_embedded_data_dir_moves_onto_a_token() {
    let Some(module) = softhsm_module() else {
        return;
    };
    let token = Token::new(module, "move");
    assert!(token.create_key("coffer-root").status.success());
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let embedded = ServeOptions {
        data_dir: Some(data.clone()),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&embedded);
    write_encrypted(&server).await;
    stop(server);

    // Started with the token, the same root key is sealed by it; root.key is now a stray copy.
    let server = TestServer::start_with(&token.serve_options("coffer-root", &data));
    assert_readable(&server).await;
    let health = server.admin_get("/health").await.text();
    assert!(health.contains(&token.source("coffer-root")), "{health}");
    assert!(
        health.contains("still sits in the data directory"),
        "{health}"
    );
    stop(server);

    std::fs::remove_file(data.join("root.key")).unwrap();
    let server = TestServer::start_with(&token.serve_options("coffer-root", &data));
    assert_readable(&server).await;
    assert!(!server.admin_get("/health").await.text().contains("warning"));
    stop(server);
    let log = TestServer::start_refused(&embedded);
    assert!(log.contains("sealed under an external root key"), "{log}");
}

/// `coffer root-key rotate` on a stopped server's data directory.
fn rotate(data: &Path, args: &[String], env: &[(String, String)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["root-key", "rotate", "--data-dir"])
        .arg(data)
        .args(args)
        .envs(env.iter().cloned())
        .env_remove("COFFER_ROOT_KEY_SOURCE")
        .env_remove("COFFER_ROOT_KEY")
        .output()
        .unwrap()
}

/// A RAM user's AccessKey, made through the admin API; its secret is sealed under the root
/// key too, so a rotation must carry it over.
fn ram_key(server: &TestServer) -> (String, String) {
    let admin = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
            .arg("admin")
            .args(args)
            .arg("--json")
            .env("COFFER_ADMIN_ENDPOINT", format!("http://{}", server.admin))
            .env("COFFER_REGION", common::REGION)
            .env("OSS_ACCESS_KEY_ID", common::AK)
            .env("OSS_ACCESS_KEY_SECRET", common::SK)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    admin(&["user", "create", "carol"]);
    let key = admin(&["key", "create", "carol"]);
    let field = |name: &str| key["AccessKey"][name].as_str().unwrap().to_owned();
    (field("AccessKeyId"), field("AccessKeySecret"))
}

/// The RAM key still signs: its secret unsealed under the new root key.
async fn assert_ram_key_works(server: &TestServer, (id, secret): &(String, String)) {
    let resp = server
        .req("GET", Some("apart"), Some("sse-oss"))
        .credentials(id, secret)
        .send()
        .await;
    // No policy is attached: a known key, refused for lack of permission, not as unknown.
    resp.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn the_embedded_root_key_rotates_and_everything_stays_readable() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let options = ServeOptions {
        data_dir: Some(data.clone()),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&options);
    write_encrypted(&server).await;
    let ram = ram_key(&server);
    let old_key = std::fs::read_to_string(data.join("root.key")).unwrap();

    // Refused while the server runs, before anything changes.
    let out = rotate(&data, &[], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{out:?}"
    );
    assert!(!data.join(coffer_rootkey::JOURNAL_FILE).exists());
    stop(server);

    // The name for it: `coffer kms root rotate`, the same command.
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["kms", "root", "rotate", "--data-dir"])
        .arg(&data)
        .env_remove("COFFER_ROOT_KEY_SOURCE")
        .env_remove("COFFER_ROOT_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rotated"),
        "{out:?}"
    );
    assert_ne!(
        std::fs::read_to_string(data.join("root.key")).unwrap(),
        old_key
    );
    let kms_state = std::fs::read_to_string(data.join("kms/kms-state.json")).unwrap();
    assert!(!kms_state.contains(old_key.trim()));

    let server = TestServer::start_with(&options);
    assert_readable(&server).await;
    assert_ram_key_works(&server, &ram).await;
    stop(server);
}

/// From a token to a key file, then a new root key on the token again: each time every
/// sealed key moves over, and the source the server must start with is recorded.
#[tokio::test]
async fn a_token_sealed_root_key_rotates_onto_a_file_and_back() {
    let Some(module) = softhsm_module() else {
        return;
    };
    let token = Token::new(module, "rotate");
    assert!(token.create_key("coffer-root").status.success());
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let on_token = token.serve_options("coffer-root", &data);
    let server = TestServer::start_with(&on_token);
    write_encrypted(&server).await;
    let ram = ram_key(&server);
    stop(server);

    let key_file = base.path().join("new-root.key");
    coffer_rootkey::generate_file(&key_file).unwrap();
    let file_source = format!("file:{}", key_file.display());
    let mut args = on_token.args.clone();
    args.extend(["--new-root-key".into(), file_source.clone()]);
    let out = rotate(&data, &args, &on_token.env);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&file_source),
        "{out:?}"
    );

    // The token no longer opens it; the file does.
    let log = TestServer::start_refused(&on_token);
    assert!(log.contains(&file_source), "{log}");
    let on_file = ServeOptions {
        data_dir: Some(data.clone()),
        args: vec!["--root-key".into(), file_source.clone()],
        env: vec![],
    };
    let server = TestServer::start_with(&on_file);
    assert_readable(&server).await;
    assert_ram_key_works(&server, &ram).await;
    stop(server);

    let mut args = on_file.args.clone();
    args.extend(["--new-root-key".into(), token.source("coffer-root")]);
    args.extend([
        "--root-key-pin-file".into(),
        token.pin_file().display().to_string(),
    ]);
    let out = rotate(&data, &args, &on_token.env);
    assert!(out.status.success(), "{out:?}");
    let server = TestServer::start_with(&on_token);
    assert_readable(&server).await;
    assert_ram_key_works(&server, &ram).await;
    stop(server);
}

/// `kill -9` of a rotation at a spread of moments, each followed by a run that must
/// finish it: whatever the moment, the data directory ends up serving every object and
/// RAM key under the last root key.
#[tokio::test]
async fn a_rotation_killed_at_any_moment_is_finished_by_the_next_run() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let options = ServeOptions {
        data_dir: Some(data.clone()),
        ..ServeOptions::default()
    };
    let server = TestServer::start_with(&options);
    write_encrypted(&server).await;
    let ram = ram_key(&server);
    stop(server);

    let mut interrupted = 0;
    for round in 0..12u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["root-key", "rotate", "--data-dir"])
            .arg(&data)
            .env_remove("COFFER_ROOT_KEY_SOURCE")
            .env_remove("COFFER_ROOT_KEY")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(round * 700));
        // SIGKILL: no destructor, no flush, as a crash or an OOM kill.
        let _ = child.kill();
        let _ = child.wait();
        if data.join(coffer_rootkey::JOURNAL_FILE).exists() {
            interrupted += 1;
            let log = TestServer::start_refused(&options);
            assert!(log.contains("coffer kms root rotate"), "{log}");
        }
        let out = rotate(&data, &[], &[]);
        assert!(out.status.success(), "round {round}: {out:?}");
    }
    eprintln!("{interrupted} of 12 rotations were killed mid-way");
    let server = TestServer::start_with(&options);
    assert_readable(&server).await;
    assert_ram_key_works(&server, &ram).await;
    stop(server);
}

/// `--root-key vault:key=NAME`: the root key exists only sealed by Transit. A copy of the
/// data directory is useless without Vault; with Vault down the server says why at start;
/// a rotation moves it to another Transit key.
#[tokio::test]
async fn a_root_key_sealed_by_vault_transit() {
    let bao = common::bao::Bao::start();
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let source = "vault:key=coffer-root";
    let bao_env = vec![("VAULT_TOKEN".to_owned(), common::bao::ROOT_TOKEN.to_owned())];
    let with = |data: &Path, source: &str, addr: &str| ServeOptions {
        data_dir: Some(data.to_owned()),
        args: vec![
            "--root-key".into(),
            source.into(),
            "--vault-addr".into(),
            addr.into(),
        ],
        env: bao_env.clone(),
    };
    let on_vault = with(&data, source, &bao.addr);
    let server = TestServer::start_with(&on_vault);
    write_encrypted(&server).await;
    let ram = ram_key(&server);
    let health = server.admin_get("/health").await.text();
    assert!(
        health.contains(source) && !health.contains("warning"),
        "{health}"
    );
    stop(server);
    assert!(!data.join("root.key").exists());
    let record = std::fs::read_to_string(data.join("root-key.json")).unwrap();
    assert!(record.contains("\"kind\": \"vault\""), "{record}");

    let stolen = base.path().join("stolen");
    copy_dir(&data, &stolen);
    let log = TestServer::start_refused(&ServeOptions {
        data_dir: Some(stolen.clone()),
        ..ServeOptions::default()
    });
    assert!(log.contains("sealed under an external root key"), "{log}");
    assert!(log.contains(source), "{log}");
    // Another Transit key cannot open it.
    bao.create_derived("intruder");
    let log = TestServer::start_refused(&with(&stolen, "vault:key=intruder", &bao.addr));
    assert!(
        log.contains("`vault:key=intruder` of Vault at") && log.contains("does not open"),
        "{log}"
    );

    // A new Transit key for the root key, through a rotation.
    let out = rotate(
        &data,
        &[
            "--root-key".into(),
            source.into(),
            "--new-root-key".into(),
            "vault:key=coffer-root-2".into(),
            "--vault-addr".into(),
            bao.addr.clone(),
        ],
        &bao_env,
    );
    assert!(out.status.success(), "{out:?}");
    let on_new = with(&data, "vault:key=coffer-root-2", &bao.addr);
    let server = TestServer::start_with(&on_new);
    assert_readable(&server).await;
    assert_ram_key_works(&server, &ram).await;
    stop(server);

    // Vault gone: the server cannot unseal its root key, says so and does not start.
    let addr = bao.addr.clone();
    drop(bao);
    let log = TestServer::start_refused(&with(&data, "vault:key=coffer-root-2", &addr));
    assert!(log.contains(&format!("Vault at {addr}")), "{log}");
}
