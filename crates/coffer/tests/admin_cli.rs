//! `coffer admin …` against the real server binary: users, AccessKeys and policies through
//! the signed RAM admin API, root-only access, key states, persistence across a restart,
//! and the local failures (no credentials, no server, no policy source).

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{AK, REGION, SK, TestServer};
use serde_json::{Value, json};

const READ_PHOTOS: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject","oss:PutObject"],"Resource":"acs:oss:*:*:photos/*"}]}"#;

/// `coffer admin <args>` pointed at `server`'s admin port, signed with `ak`/`sk`.
fn admin_as(server: &TestServer, ak: &str, sk: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("admin")
        .args(args)
        .env("COFFER_ADMIN_ENDPOINT", format!("http://{}", server.admin))
        .env("COFFER_REGION", REGION)
        .env("OSS_ACCESS_KEY_ID", ak)
        .env("OSS_ACCESS_KEY_SECRET", sk)
        .env_remove("COFFER_DATA_DIR")
        .output()
        .expect("running coffer admin")
}

fn admin(server: &TestServer, args: &[&str]) -> Output {
    admin_as(server, AK, SK, args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `coffer admin <args> --json`, asserts success and returns the parsed JSON.
fn admin_json(server: &TestServer, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = admin(server, &args);
    assert!(
        out.status.success(),
        "coffer admin {args:?} failed: {}\n{}",
        out.status,
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("coffer admin {args:?}: {e}: {}", stdout(&out)))
}

/// Runs a command expected to fail at the server; returns its stderr.
fn admin_fails_as(server: &TestServer, ak: &str, sk: &str, args: &[&str], code: &str) -> String {
    let out = admin_as(server, ak, sk, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "coffer admin {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(code),
        "coffer admin {args:?}: expected {code}, got {err}"
    );
    assert!(out.stdout.is_empty());
    err
}

fn admin_fails(server: &TestServer, args: &[&str], code: &str) -> String {
    admin_fails_as(server, AK, SK, args, code)
}

/// Creates `user` and an AccessKey for it; returns (id, secret).
fn user_with_key(server: &TestServer, user: &str) -> (String, String) {
    admin_json(server, &["user", "create", user]);
    let key = admin_json(server, &["key", "create", user]);
    (
        key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        key["AccessKey"]["AccessKeySecret"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test]
async fn users_keys_and_policies_through_the_cli() {
    let server = TestServer::start();

    // users
    let created = admin_json(
        &server,
        &["user", "create", "alice", "--display-name", "Alice"],
    );
    assert_eq!(created["User"]["UserName"], "alice");
    assert_eq!(created["User"]["DisplayName"], "Alice");
    let user_id = created["User"]["UserId"].as_str().unwrap().to_owned();
    assert_eq!(user_id.len(), 16);
    assert_eq!(admin_json(&server, &["user", "get", "alice"]), created);
    let out = admin(&server, &["user", "create", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("bob "), "{}", stdout(&out));
    let users = admin_json(&server, &["user", "list"]);
    assert_eq!(users["Users"].as_array().unwrap().len(), 2);
    let table = stdout(&admin(&server, &["user", "list"]));
    assert!(table.starts_with("USER NAME"), "{table}");
    assert!(
        table.contains(&user_id) && table.contains("Alice"),
        "{table}"
    );
    admin_fails(
        &server,
        &["user", "create", "alice"],
        "EntityAlreadyExists.User",
    );
    admin_fails(
        &server,
        &["user", "create", "no spaces"],
        "InvalidParameter",
    );
    admin_fails(&server, &["user", "get", "carol"], "EntityNotExist.User");

    // keys
    let key = admin_json(&server, &["key", "create", "alice"]);
    let key_id = key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = key["AccessKey"]["AccessKeySecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key_id.starts_with("LTAI") && key_id.len() == 24, "{key}");
    assert_eq!(secret.len(), 30);
    // The human form: the two values, and a warning on stderr.
    let out = admin(&server, &["key", "create", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.starts_with("AccessKeyId:"), "{shown}");
    assert!(shown.contains("AccessKeySecret:"), "{shown}");
    assert!(stderr(&out).contains("cannot be shown again"));
    let second_id = shown
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    admin_fails(
        &server,
        &["key", "create", "alice"],
        "LimitExceeded.AccessKey",
    );
    let keys = admin_json(&server, &["key", "list", "alice"]);
    assert_eq!(keys["AccessKeys"].as_array().unwrap().len(), 2);
    assert!(!keys.to_string().contains(&secret));

    // The user's key authenticates, but RAM actions are root's alone.
    let err = admin_fails_as(&server, &key_id, &secret, &["user", "list"], "AccessDenied");
    assert!(err.starts_with("coffer: AccessDenied: "), "{err}");
    admin_fails_as(
        &server,
        &key_id,
        "wrong",
        &["user", "list"],
        "SignatureDoesNotMatch",
    );

    // disable / enable / delete
    let out = admin(&server, &["key", "disable", "alice", &key_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{key_id} Inactive\n"));
    let keys = admin_json(&server, &["key", "list", "alice"]);
    let status = keys["AccessKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["AccessKeyId"] == key_id.as_str())
        .unwrap()["Status"]
        .clone();
    assert_eq!(status, "Inactive");
    admin_fails_as(
        &server,
        &key_id,
        &secret,
        &["user", "list"],
        "InvalidAccessKeyId",
    );
    assert_eq!(
        admin_json(&server, &["key", "enable", "alice", &key_id]),
        json!({})
    );
    admin_fails_as(&server, &key_id, &secret, &["user", "list"], "AccessDenied");
    assert_eq!(
        admin_json(&server, &["key", "delete", "alice", &second_id]),
        json!({})
    );
    admin_fails(
        &server,
        &["key", "delete", "alice", &second_id],
        "EntityNotExist.AccessKey",
    );
    admin_fails(
        &server,
        &["key", "delete", "bob", &key_id],
        "EntityNotExist.AccessKey",
    );

    // policies
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("read-photos.json");
    std::fs::write(&file, READ_PHOTOS).unwrap();
    let created = admin_json(
        &server,
        &[
            "policy",
            "create",
            "ReadPhotos",
            "--file",
            file.to_str().unwrap(),
            "--description",
            "photos only",
        ],
    );
    assert_eq!(created["Policy"]["PolicyName"], "ReadPhotos");
    assert_eq!(created["Policy"]["PolicyType"], "Custom");
    let out = admin(
        &server,
        &[
            "policy",
            "create",
            "KmsAll",
            "--document",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "KmsAll\n");
    let err = admin_fails(
        &server,
        &[
            "policy",
            "create",
            "Bad",
            "--document",
            r#"{"Version":"1","Statement":[{"Effect":"Permit","Action":"oss:GetObject","Resource":"*"}]}"#,
        ],
        "MalformedPolicyDocument",
    );
    assert!(err.contains("Effect"), "{err}");
    admin_fails(
        &server,
        &["policy", "create", "ReadPhotos", "--document", READ_PHOTOS],
        "EntityAlreadyExists.Policy",
    );
    let got = admin_json(&server, &["policy", "get", "ReadPhotos"]);
    assert_eq!(got["Policy"]["PolicyDocument"], READ_PHOTOS);
    assert_eq!(got["Policy"]["Description"], "photos only");
    let shown = stdout(&admin(&server, &["policy", "get", "ReadPhotos"]));
    assert!(shown.trim_end().ends_with(READ_PHOTOS), "{shown}");
    let listed = admin_json(&server, &["policy", "list"]);
    let names: Vec<&str> = listed["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["KmsAll", "ReadPhotos"]);

    assert_eq!(
        admin_json(&server, &["policy", "attach", "ReadPhotos", "alice"]),
        json!({})
    );
    admin_fails(
        &server,
        &["policy", "attach", "ReadPhotos", "alice"],
        "EntityAlreadyExists.User.Policy",
    );
    admin_fails(
        &server,
        &["policy", "attach", "Nope", "alice"],
        "EntityNotExist.Policy",
    );
    let attached = admin_json(&server, &["policy", "list-for", "alice"]);
    assert_eq!(attached["Policies"][0]["PolicyName"], "ReadPhotos");
    assert!(attached["Policies"][0]["AttachDate"].is_string());
    let err = admin_fails(
        &server,
        &["policy", "delete", "ReadPhotos"],
        "DeleteConflict.Policy.User",
    );
    assert!(err.contains("alice"), "{err}");
    let out = admin(&server, &["policy", "detach", "ReadPhotos", "alice"]);
    assert_eq!(stdout(&out), "ReadPhotos detached from alice\n");
    admin_fails(
        &server,
        &["policy", "detach", "ReadPhotos", "alice"],
        "EntityNotExist.User.Policy",
    );
    assert_eq!(
        admin_json(&server, &["policy", "list-for", "alice"]),
        json!({"Policies": []})
    );
    assert_eq!(
        admin_json(&server, &["policy", "delete", "ReadPhotos"]),
        json!({})
    );
    admin_fails(
        &server,
        &["policy", "get", "ReadPhotos"],
        "EntityNotExist.Policy",
    );

    // Deleting a user takes its keys with it.
    admin_json(&server, &["policy", "attach", "KmsAll", "alice"]);
    assert_eq!(admin_json(&server, &["user", "delete", "alice"]), json!({}));
    admin_fails_as(
        &server,
        &key_id,
        &secret,
        &["user", "list"],
        "InvalidAccessKeyId",
    );
    admin_fails(&server, &["key", "list", "alice"], "EntityNotExist.User");
    let listed = admin_json(&server, &["policy", "list"]);
    assert_eq!(listed["Policies"][0]["AttachmentCount"], 0);
}

#[tokio::test]
async fn identities_survive_a_restart_and_secrets_stay_sealed() {
    let data = tempfile::tempdir().unwrap();
    let (key_id, secret) = {
        let mut server = TestServer::start_with_data_dir(data.path());
        let pair = user_with_key(&server, "alice");
        admin_json(
            &server,
            &["policy", "create", "ReadPhotos", "--document", READ_PHOTOS],
        );
        admin_json(&server, &["policy", "attach", "ReadPhotos", "alice"]);
        server.terminate();
        assert!(
            server
                .wait_exit(std::time::Duration::from_secs(30))
                .success()
        );
        pair
    };

    let path = data.path().join("iam").join("identities.json");
    let text = std::fs::read_to_string(&path).expect("the identity file is in the data directory");
    assert!(text.contains(&key_id));
    assert!(
        !text.contains(&secret),
        "plaintext secret in {}",
        path.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }

    let server = TestServer::start_with_data_dir(data.path());
    let user = admin_json(&server, &["user", "get", "alice"]);
    assert_eq!(user["User"]["UserName"], "alice");
    let keys = admin_json(&server, &["key", "list", "alice"]);
    assert_eq!(keys["AccessKeys"][0]["AccessKeyId"], key_id.as_str());
    let attached = admin_json(&server, &["policy", "list-for", "alice"]);
    assert_eq!(attached["Policies"][0]["PolicyName"], "ReadPhotos");
    // The key still authenticates (and is still refused RAM actions).
    admin_fails_as(&server, &key_id, &secret, &["user", "list"], "AccessDenied");
}

#[tokio::test]
async fn a_ram_users_key_works_on_the_oss_api_within_its_policies() {
    let server = TestServer::start();
    server.create_bucket("photos").await;
    let (key_id, secret) = user_with_key(&server, "alice");

    // No policy: nothing allowed.
    let resp = server
        .req("PUT", Some("photos"), Some("a.jpg"))
        .credentials(&key_id, &secret)
        .body(&b"jpeg"[..])
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");

    admin_json(
        &server,
        &["policy", "create", "ReadPhotos", "--document", READ_PHOTOS],
    );
    admin_json(&server, &["policy", "attach", "ReadPhotos", "alice"]);
    let resp = server
        .req("PUT", Some("photos"), Some("a.jpg"))
        .credentials(&key_id, &secret)
        .body(&b"jpeg"[..])
        .send()
        .await;
    assert_eq!(resp.status.as_u16(), 200, "{}", resp.text());
    let resp = server
        .req("GET", Some("photos"), Some("a.jpg"))
        .credentials(&key_id, &secret)
        .send()
        .await;
    assert_eq!(&resp.body[..], b"jpeg");
    // Outside the policy's resources.
    let resp = server
        .req("DELETE", Some("photos"), Some("a.jpg"))
        .credentials(&key_id, &secret)
        .send()
        .await;
    resp.assert_error(403, "AccessDenied");

    // A disabled key stops working at once.
    admin_json(&server, &["key", "disable", "alice", &key_id]);
    let resp = server
        .req("GET", Some("photos"), Some("a.jpg"))
        .credentials(&key_id, &secret)
        .send()
        .await;
    resp.assert_error(403, "InvalidAccessKeyId");
}

#[tokio::test]
async fn a_ram_user_calls_the_kms_actions_its_policies_allow() {
    let server = TestServer::start();
    let (key_id, secret) = user_with_key(&server, "alice");
    let kms = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_coffer"))
            .arg("kms")
            .args(args)
            .env("COFFER_ADMIN_ENDPOINT", format!("http://{}", server.admin))
            .env("COFFER_REGION", REGION)
            .env("OSS_ACCESS_KEY_ID", &key_id)
            .env("OSS_ACCESS_KEY_SECRET", &secret)
            .env_remove("COFFER_DATA_DIR")
            .output()
            .expect("running coffer kms")
    };
    let out = kms(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("AccessDenied"), "{}", stderr(&out));

    admin_json(
        &server,
        &[
            "policy",
            "create",
            "KmsList",
            "--document",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#,
        ],
    );
    admin_json(&server, &["policy", "attach", "KmsList", "alice"]);
    let out = kms(&["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = kms(&["create"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("AccessDenied"), "{}", stderr(&out));
}

// ---- failures that need no wiring ----

fn admin_with_data_dir(server: &TestServer, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("admin")
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
        .expect("running coffer admin")
}

#[tokio::test]
async fn credentials_are_required_and_come_from_the_data_dir() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let out = admin_with_data_dir(&server, dir.path(), &["user", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("root-credentials.toml"),
        "{}",
        stderr(&out)
    );

    // With the file, the request is signed and reaches the server (which, without RAM
    // wiring, answers InvalidAction; with it, an empty list).
    std::fs::write(
        dir.path().join("root-credentials.toml"),
        format!("access_key_id = \"{AK}\"\naccess_key_secret = \"{SK}\"\n"),
    )
    .unwrap();
    let out = admin_with_data_dir(&server, dir.path(), &["user", "list", "--json"]);
    let err = stderr(&out);
    assert!(
        out.status.success() || err.contains("InvalidAction"),
        "{}: {err}",
        out.status
    );
    assert!(!err.contains("SignatureDoesNotMatch"), "{err}");
}

#[test]
fn an_unreachable_endpoint_is_a_connection_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["admin", "user", "list", "--admin-endpoint"])
        .arg(format!("http://{closed}"))
        .env("OSS_ACCESS_KEY_ID", AK)
        .env("OSS_ACCESS_KEY_SECRET", SK)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ConnectionError"), "{}", stderr(&out));
}

#[test]
fn a_policy_needs_a_readable_source() {
    let base = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_coffer"));
        c.env("OSS_ACCESS_KEY_ID", AK)
            .env("OSS_ACCESS_KEY_SECRET", SK)
            .args(["admin", "--admin-endpoint", "http://127.0.0.1:1"]);
        c
    };
    // Neither --file nor --document: a usage error from clap.
    let out = base().args(["policy", "create", "P"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A missing file: a local failure, before any request.
    let out = base()
        .args([
            "policy",
            "create",
            "P",
            "--file",
            "/nonexistent/policy.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/policy.json"),
        "{}",
        stderr(&out)
    );
}
