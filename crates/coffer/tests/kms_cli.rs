//! `coffer kms …` against the real server binary: every subcommand through the signed admin
//! API, the effect of key states on SSE-KMS objects, usage counters and their metrics, and
//! the failures (wrong secret, no credentials, no server).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{AK, REGION, SK, TestServer};
use http::StatusCode;
use serde_json::{Value, json};

/// `coffer kms <args>` pointed at `server`'s admin port, with the given secret.
fn kms_with(server: &TestServer, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("kms")
        .args(args)
        .env("COFFER_ADMIN_ENDPOINT", format!("http://{}", server.admin))
        .env("COFFER_REGION", REGION)
        .env("OSS_ACCESS_KEY_ID", AK)
        .env("OSS_ACCESS_KEY_SECRET", secret)
        .env_remove("COFFER_DATA_DIR")
        .output()
        .expect("running coffer kms")
}

fn kms(server: &TestServer, args: &[&str]) -> Output {
    kms_with(server, SK, args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `coffer kms <args> --json`, asserts success and returns the parsed JSON.
fn kms_json(server: &TestServer, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = kms(server, &args);
    assert!(
        out.status.success(),
        "coffer kms {args:?} failed: {}\n{}",
        out.status,
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("coffer kms {args:?}: {e}: {}", stdout(&out)))
}

/// Runs a command expected to fail; returns its stderr after checking the exit code.
fn kms_fails(server: &TestServer, args: &[&str], code: &str) -> String {
    let out = kms(server, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "coffer kms {args:?}: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(code),
        "coffer kms {args:?}: expected {code}, got {err}"
    );
    assert!(out.stdout.is_empty());
    err
}

async fn put_with_key(server: &TestServer, key: &str, kms_key: &str) -> StatusCode {
    server
        .req("PUT", Some("cli"), Some(key))
        .header("x-oss-server-side-encryption", "KMS")
        .header("x-oss-server-side-encryption-key-id", kms_key)
        .body(&b"secret data"[..])
        .send()
        .await
        .status
}

fn metric_value(metrics: &str, key_id: &str, operation: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with("coffer_kms_key_calls{"))
        .filter(|l| l.contains(&format!("key_id=\"{key_id}\"")))
        .find(|l| l.contains(&format!("operation=\"{operation}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn kms_subcommands_drive_the_key_lifecycle() {
    let server = TestServer::start();
    server.create_bucket("cli").await;

    // create / describe
    let created = kms_json(&server, &["create", "--description", "cli test key"]);
    let id = created["KeyId"].as_str().expect("KeyId").to_owned();
    assert_eq!(created["KeyState"], "Enabled");
    assert_eq!(created["Description"], "cli test key");
    assert_eq!(created["PrimaryKeyVersion"], 1);
    let described = kms_json(&server, &["describe", &id]);
    assert_eq!(described, created);

    // The human form of `create` is the id alone.
    let out = kms(&server, &["create"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = stdout(&out);
    assert_eq!(second.lines().count(), 1, "{second:?}");
    assert_eq!(second.trim().len(), 36, "{second:?}");
    let keys = kms_json(&server, &["list"]);
    let ids: Vec<&str> = keys["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), second.trim()]);

    // aliases
    assert_eq!(
        kms_json(&server, &["alias", "create", "alias/cli", &id]),
        json!({})
    );
    let by_alias = kms_json(&server, &["describe", "alias/cli"]);
    assert_eq!(by_alias["KeyId"], id.as_str());
    assert_eq!(by_alias["Aliases"], json!(["alias/cli"]));
    let aliases = kms_json(&server, &["alias", "list"]);
    assert!(
        aliases["Aliases"]
            .as_array()
            .unwrap()
            .contains(&json!({"AliasName": "alias/cli", "KeyId": id})),
        "{aliases}"
    );

    // usage: one SSE-KMS upload and one download under the key
    assert_eq!(
        put_with_key(&server, "obj", "alias/cli").await,
        StatusCode::OK
    );
    let resp = server.req("GET", Some("cli"), Some("obj")).send().await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(&resp.body[..], b"secret data");
    let usage = kms_json(&server, &["usage", &id]);
    assert_eq!(
        usage,
        json!({"KeyId": id, "Usage": {"GenerateDataKey": 1, "Decrypt": 1}})
    );
    let out = kms(&server, &["usage", "alias/cli"]);
    assert_eq!(stdout(&out), "GenerateDataKey 1\nDecrypt 1\n");
    let metrics = server.admin_get("/metrics").await.text();
    assert_eq!(
        metric_value(&metrics, &id, "GenerateDataKey"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(&metrics, &id, "Decrypt"),
        Some(1.0),
        "{metrics}"
    );

    // disable / enable: a disabled key neither encrypts nor decrypts
    let disabled = kms_json(&server, &["disable", &id]);
    assert_eq!(disabled["KeyState"], "Disabled");
    assert_ne!(put_with_key(&server, "obj2", &id).await, StatusCode::OK);
    let resp = server.req("GET", Some("cli"), Some("obj")).send().await;
    assert_ne!(resp.status, StatusCode::OK);
    kms_fails(&server, &["rotate", &id], "KeyDisabled");
    let enabled = kms_json(&server, &["enable", &id]);
    assert_eq!(enabled["KeyState"], "Enabled");
    let resp = server.req("GET", Some("cli"), Some("obj")).send().await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());

    // rotate
    let rotated = kms_json(&server, &["rotate", &id]);
    assert_eq!(rotated["PrimaryKeyVersion"], 2);
    assert_eq!(rotated["Versions"], 2);
    let resp = server.req("GET", Some("cli"), Some("obj")).send().await;
    assert_eq!(resp.status, StatusCode::OK, "old versions still decrypt");

    // schedule-deletion / cancel-deletion / delete-now
    kms_fails(
        &server,
        &["schedule-deletion", &id, "--days", "3"],
        "InvalidParameter",
    );
    let pending = kms_json(&server, &["schedule-deletion", &id, "--days", "7"]);
    assert_eq!(pending["KeyState"], "PendingDeletion");
    assert!(pending["DeleteDate"].is_string(), "{pending}");
    kms_fails(&server, &["enable", &id], "KeyPendingDeletion");
    let cancelled = kms_json(&server, &["cancel-deletion", &id]);
    assert_eq!(cancelled["KeyState"], "Disabled");
    kms_fails(&server, &["delete-now", &id], "InvalidParameter");
    kms_json(&server, &["schedule-deletion", &id, "--days", "30"]);
    assert_eq!(kms_json(&server, &["delete-now", &id]), json!({}));

    let err = kms_fails(&server, &["describe", &id], "KeyDeleted");
    assert!(err.starts_with("coffer: KeyDeleted: "), "{err}");
    kms_fails(&server, &["describe", "alias/cli"], "AliasNotFound");
    kms_fails(&server, &["usage", &id], "KeyDeleted");
    let resp = server.req("GET", Some("cli"), Some("obj")).send().await;
    assert_ne!(resp.status, StatusCode::OK, "crypto-shredded");
    let keys = kms_json(&server, &["list"]);
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 1, "{keys}");

    // alias delete
    kms_json(&server, &["alias", "create", "alias/other", second.trim()]);
    assert_eq!(
        kms_json(&server, &["alias", "delete", "alias/other"]),
        json!({})
    );
    kms_fails(
        &server,
        &["alias", "delete", "alias/other"],
        "AliasNotFound",
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let server = TestServer::start();
    let out = kms_with(&server, "not-the-secret", &["create", "--json"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    // Nothing was created.
    assert_eq!(kms_json(&server, &["list"]), json!({"Keys": []}));
    // The admin API is not reachable unsigned either, while /health stays open.
    let resp = server.admin_get("/admin/kms/ListKeys").await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert!(resp.text().contains("AccessDenied"), "{}", resp.text());
    assert_eq!(server.admin_get("/health").await.status, StatusCode::OK);
}

fn kms_with_data_dir(server: &TestServer, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("kms")
        .args(args)
        .arg("--admin-endpoint")
        .arg(format!("http://{}", server.admin))
        .arg("--region")
        .arg(REGION)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("OSS_ACCESS_KEY_ID")
        .env_remove("OSS_ACCESS_KEY_SECRET")
        .env_remove("COFFER_ADMIN_ENDPOINT")
        .env_remove("COFFER_REGION")
        .env_remove("COFFER_DATA_DIR")
        .output()
        .expect("running coffer kms")
}

#[tokio::test]
async fn credentials_come_from_the_data_dir_without_the_environment() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();

    let out = kms_with_data_dir(&server, dir.path(), &["list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("root-credentials.toml"),
        "{}",
        stderr(&out)
    );

    std::fs::write(
        dir.path().join("root-credentials.toml"),
        format!("access_key_id = \"{AK}\"\naccess_key_secret = \"{SK}\"\n"),
    )
    .unwrap();
    let out = kms_with_data_dir(
        &server,
        dir.path(),
        &["create", "--description", "from file"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    let out = kms_with_data_dir(&server, dir.path(), &["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("KEY ID"), "{table}");
    assert!(
        table.contains(&id) && table.contains("from file"),
        "{table}"
    );
}

#[test]
fn an_unreachable_endpoint_is_a_connection_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["kms", "list", "--admin-endpoint"])
        .arg(format!("http://{closed}"))
        .env("OSS_ACCESS_KEY_ID", AK)
        .env("OSS_ACCESS_KEY_SECRET", SK)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ConnectionError"), "{}", stderr(&out));
}
