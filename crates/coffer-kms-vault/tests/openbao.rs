//! The Transit key manager against a real OpenBao dev server, one per test, on a free
//! loopback port. The `bao` binary comes from `COFFER_BAO_BIN`, which scripts/test.sh sets
//! (tests/engines/openbao.sh installs it); without it these tests fail rather than skip, so
//! that CI cannot pass without having run them.
// The helpers outside #[test] functions unwrap too: a panic there is the failure report.
#![allow(clippy::unwrap_used)]

mod bao;

use std::time::{Duration, Instant};

use bao::{Bao, ROOT_TOKEN, free_port};
use coffer_kms_vault::{Credentials, Secret, VaultKms};
use coffer_service::{CipherSuite, Envelope, KeyContext, KeyError, KeyProvider, SseMethod};

fn context(object: &str) -> KeyContext {
    KeyContext::from([
        ("bucket".to_owned(), "b".to_owned()),
        ("object".to_owned(), object.to_owned()),
    ])
}

fn envelope(issued: &coffer_service::IssuedKey, method: SseMethod) -> Envelope {
    Envelope {
        format: Envelope::FORMAT,
        method,
        suite: CipherSuite::Aes256Gcm,
        key_id: issued.key_id.clone(),
        key_version: issued.key_version,
        wrapped_key: issued.wrapped.clone(),
        salt: vec![0; 16],
        bucket: "b".into(),
        object: "o".into(),
        key_verifier: None,
    }
}

async fn try_issue(
    kms: &VaultKms,
    key: Option<&str>,
) -> Result<coffer_service::IssuedKey, KeyError> {
    kms.issue(SseMethod::Kms, key, &context("o"), "test").await
}

async fn issue(kms: &VaultKms, key: Option<&str>, object: &str) -> coffer_service::IssuedKey {
    kms.issue(SseMethod::Kms, key, &context(object), "test")
        .await
        .unwrap()
}

#[tokio::test]
async fn data_keys_round_trip_and_are_bound_to_their_object() {
    let bao = Bao::start();
    bao.create_derived("k1");
    let kms = bao.kms();
    let issued = issue(&kms, Some("k1"), "o").await;
    assert_eq!(issued.key_id, "k1");
    assert_eq!(issued.key_version, 1);
    assert!(issued.wrapped.starts_with(b"vault:v1:"));
    let env = envelope(&issued, SseMethod::Kms);
    let key = kms.unwrap(&env, &context("o"), "test").await.unwrap();
    assert_eq!(key.as_bytes(), issued.plaintext.as_bytes());

    let moved = kms.unwrap(&env, &context("other"), "test").await;
    assert_eq!(moved.err(), Some(KeyError::InvalidCiphertext));

    let mut tampered = env.clone();
    tampered.wrapped_key = b"not transit ciphertext".to_vec();
    let refused = kms.unwrap(&tampered, &context("o"), "test").await;
    assert_eq!(refused.err(), Some(KeyError::InvalidCiphertext));
}

/// Coffer creates its default and SSE-OSS keys, derived; SSE-OSS is wrapped by its own key.
#[tokio::test]
async fn default_and_sse_oss_keys_are_created_derived_and_used() {
    let bao = Bao::start();
    let kms = bao.kms();
    kms.ensure_keys().await.unwrap();
    kms.ensure_keys().await.unwrap();
    for name in ["coffer-default", "coffer-sse-oss"] {
        let info = bao.cli(&["read", "-field=derived", &format!("transit/keys/{name}")]);
        assert_eq!(info.trim(), "true", "{name}");
    }
    let default = issue(&kms, None, "o").await;
    assert_eq!(default.key_id, "coffer-default");
    let oss = kms
        .issue(SseMethod::ServiceManaged, None, &context("o"), "test")
        .await
        .unwrap();
    assert_eq!(oss.key_id, "coffer-sse-oss");
    let env = envelope(&oss, SseMethod::ServiceManaged);
    let key = kms.unwrap(&env, &context("o"), "test").await.unwrap();
    assert_eq!(key.as_bytes(), oss.plaintext.as_bytes());
}

#[tokio::test]
async fn rotation_keeps_old_wraps_readable_and_retiring_a_version_disables_them() {
    let bao = Bao::start();
    bao.create_derived("k1");
    let kms = bao.kms();
    let old = issue(&kms, Some("k1"), "o").await;
    bao.cli(&["write", "-f", "transit/keys/k1/rotate"]);
    let new = issue(&kms, Some("k1"), "o").await;
    assert_eq!((old.key_version, new.key_version), (1, 2));
    assert!(new.wrapped.starts_with(b"vault:v2:"));
    for issued in [&old, &new] {
        let env = envelope(issued, SseMethod::Kms);
        let key = kms.unwrap(&env, &context("o"), "test").await.unwrap();
        assert_eq!(key.as_bytes(), issued.plaintext.as_bytes());
    }

    bao.cli(&[
        "write",
        "transit/keys/k1/config",
        "min_decryption_version=2",
    ]);
    let retired = kms
        .unwrap(&envelope(&old, SseMethod::Kms), &context("o"), "test")
        .await;
    assert_eq!(retired.err(), Some(KeyError::Disabled));
    assert!(
        kms.unwrap(&envelope(&new, SseMethod::Kms), &context("o"), "test")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn deleted_unknown_and_underived_keys_are_refused() {
    let bao = Bao::start();
    bao.create_derived("doomed");
    bao.cli(&["write", "-f", "transit/keys/plain"]);
    let kms = bao.kms();
    let issued = issue(&kms, Some("doomed"), "o").await;
    bao.cli(&[
        "write",
        "transit/keys/doomed/config",
        "deletion_allowed=true",
    ]);
    bao.cli(&["delete", "transit/keys/doomed"]);
    let gone = kms
        .unwrap(&envelope(&issued, SseMethod::Kms), &context("o"), "test")
        .await;
    assert_eq!(gone.err(), Some(KeyError::KeyNotFound("doomed".into())));
    let issue_gone = try_issue(&kms, Some("doomed"));
    assert_eq!(
        issue_gone.await.err(),
        Some(KeyError::KeyNotFound("doomed".into()))
    );

    let unknown = try_issue(&kms, Some("nope"));
    assert_eq!(
        unknown.await.err(),
        Some(KeyError::KeyNotFound("nope".into()))
    );

    let plain = try_issue(&kms, Some("plain"));
    assert!(matches!(plain.await, Err(KeyError::InvalidParameter(m)) if m.contains("derived")));

    let path = try_issue(&kms, Some("../../sys/mounts"));
    assert!(matches!(path.await, Err(KeyError::InvalidParameter(_))));
}

#[tokio::test]
async fn a_bad_token_is_access_denied_and_a_dead_address_unavailable() {
    let bao = Bao::start();
    bao.create_derived("k1");
    let creds = Credentials::Token(Secret::new("not-a-token".into()));
    let kms = VaultKms::new(bao.config(creds, Duration::from_secs(5))).unwrap();
    let denied = try_issue(&kms, Some("k1"));
    assert_eq!(denied.await.err(), Some(KeyError::AccessDenied));

    let mut config = bao.config(
        Credentials::Token(Secret::new(ROOT_TOKEN.into())),
        Duration::from_secs(5),
    );
    config.addr = format!("http://127.0.0.1:{}", free_port());
    let kms = VaultKms::new(config).unwrap();
    let down = kms
        .issue(SseMethod::Kms, Some("k1"), &context("o"), "t")
        .await;
    assert!(
        matches!(down, Err(KeyError::Unavailable(_))),
        "{:?}",
        down.err()
    );
}

/// A paused server makes calls fail with Timeout within the bound, not hang; once it
/// resumes, the same provider works again.
#[tokio::test]
async fn a_paused_server_times_out_within_the_bound_and_recovers() {
    let bao = Bao::start();
    bao.create_derived("k1");
    let creds = Credentials::Token(Secret::new(ROOT_TOKEN.into()));
    let bound = Duration::from_millis(800);
    let kms = VaultKms::new(bao.config(creds, bound)).unwrap();
    let issued = issue(&kms, Some("k1"), "o").await;
    let env = envelope(&issued, SseMethod::Kms);

    bao.signal("-STOP");
    let started = Instant::now();
    let stalled = kms.unwrap(&env, &context("o"), "t").await;
    let took = started.elapsed();
    assert_eq!(
        stalled.err(),
        Some(KeyError::Timeout(bound)),
        "after {took:?}"
    );
    assert!(took < bound + Duration::from_millis(500), "{took:?}");
    let stalled = try_issue(&kms, Some("k1"));
    assert!(matches!(stalled.await, Err(KeyError::Timeout(_))));

    bao.signal("-CONT");
    let key = kms.unwrap(&env, &context("o"), "t").await.unwrap();
    assert_eq!(key.as_bytes(), issued.plaintext.as_bytes());
}

/// AppRole: Coffer logs in with a role id and secret id, and logs in again when its short
/// lived token is due.
#[tokio::test]
async fn approle_logs_in_and_logs_in_again_when_the_token_expires() {
    let bao = Bao::start();
    bao.create_derived("k1");
    let policy = r#"path "transit/datakey/plaintext/*" { capabilities = ["update"] }
path "transit/decrypt/*" { capabilities = ["update"] }
path "transit/keys/*" { capabilities = ["read"] }"#;
    let dir = tempfile::tempdir().unwrap();
    let policy_file = dir.path().join("coffer.hcl");
    std::fs::write(&policy_file, policy).unwrap();
    bao.cli(&["policy", "write", "coffer", policy_file.to_str().unwrap()]);
    bao.cli(&["auth", "enable", "approle"]);
    bao.cli(&[
        "write",
        "auth/approle/role/coffer",
        "token_policies=coffer",
        "token_ttl=3s",
        "token_max_ttl=3s",
    ]);
    let role_id = bao.cli(&["read", "-field=role_id", "auth/approle/role/coffer/role-id"]);
    let secret_id = bao.cli(&[
        "write",
        "-f",
        "-field=secret_id",
        "auth/approle/role/coffer/secret-id",
    ]);
    let creds = Credentials::AppRole {
        mount: "approle".into(),
        role_id: role_id.trim().to_owned(),
        secret_id: Secret::new(secret_id.trim().to_owned()),
    };
    let kms = VaultKms::new(bao.config(creds, Duration::from_secs(5))).unwrap();
    let issued = issue(&kms, Some("k1"), "o").await;
    // Past the token's lifetime: a second login must have happened for this to work.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let env = envelope(&issued, SseMethod::Kms);
    let key = kms.unwrap(&env, &context("o"), "t").await.unwrap();
    assert_eq!(key.as_bytes(), issued.plaintext.as_bytes());

    // Vault revokes the token early (an operator, or a lease cut short): the refusal makes
    // Coffer log in again once, and the call succeeds.
    let accessors = bao.cli(&["list", "-format=json", "auth/token/accessors"]);
    let mut revoked = 0;
    for accessor in serde_json::from_str::<Vec<String>>(&accessors).unwrap() {
        let policies = bao.cli(&["token", "lookup", "-format=json", "-accessor", &accessor]);
        if !policies.contains("\"root\"") {
            bao.cli(&["token", "revoke", "-accessor", &accessor]);
            revoked += 1;
        }
    }
    assert!(revoked >= 1, "no AppRole token to revoke");
    let key = kms.unwrap(&env, &context("o"), "t").await.unwrap();
    assert_eq!(key.as_bytes(), issued.plaintext.as_bytes());

    // The policy grants no key creation: a refusal, not a hang or a retry loop.
    let create = kms.create_transit_key("new-key").await;
    assert_eq!(create.err(), Some(KeyError::AccessDenied));

    let wrong = Credentials::AppRole {
        mount: "approle".into(),
        role_id: role_id.trim().to_owned(),
        secret_id: Secret::new("wrong".into()),
    };
    let kms = VaultKms::new(bao.config(wrong, Duration::from_secs(5))).unwrap();
    let refused = try_issue(&kms, Some("k1"));
    assert!(refused.await.is_err());
}

struct OnlyRoot;

impl coffer_kms_vault::KeyAccess for OnlyRoot {
    fn allowed(&self, caller: &str, _action: &str, _key: &str) -> bool {
        caller == "root"
    }
}

/// The installed access check decides who may use a CMK; SSE-OSS keys are the service's.
#[tokio::test]
async fn the_access_check_guards_cmks_but_not_the_service_key() {
    let bao = Bao::start();
    bao.create_derived("k1");
    let kms = bao.kms();
    kms.ensure_keys().await.unwrap();
    kms.set_key_access(std::sync::Arc::new(OnlyRoot));
    let ctx = context("o");
    let issued = kms
        .issue(SseMethod::Kms, Some("k1"), &ctx, "root")
        .await
        .unwrap();
    let denied = kms
        .issue(SseMethod::Kms, Some("k1"), &ctx, "anonymous")
        .await;
    assert_eq!(denied.err(), Some(KeyError::AccessDenied));
    let env = envelope(&issued, SseMethod::Kms);
    let denied = kms.unwrap(&env, &ctx, "anonymous").await;
    assert_eq!(denied.err(), Some(KeyError::AccessDenied));

    let oss = kms
        .issue(SseMethod::ServiceManaged, None, &ctx, "anonymous")
        .await
        .unwrap();
    let env = envelope(&oss, SseMethod::ServiceManaged);
    assert!(kms.unwrap(&env, &ctx, "anonymous").await.is_ok());

    // An SSE-KMS envelope relabelled as SSE-OSS is still a CMK use.
    let mut relabelled = envelope(&issued, SseMethod::ServiceManaged);
    relabelled.method = SseMethod::ServiceManaged;
    let denied = kms.unwrap(&relabelled, &ctx, "anonymous").await;
    assert_eq!(denied.err(), Some(KeyError::AccessDenied));
}
