//! `coffer kms` against Transit, on a real OpenBao: the key-lifecycle contract every key
//! manager runs, and the refusals an operator must be able to read.
// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod bao;

use std::sync::Arc;
use std::time::Duration;

use bao::Bao;
use coffer_kms_vault::{Credentials, Secret, VaultKms};
use coffer_service::contract::{KeyManagerUnderTest, key_lifecycle_contract};
use coffer_service::{KeyAdmin, KeyAdminError, KeyError, KeyOperation, NewKey};

fn named(name: &str) -> NewKey {
    NewKey {
        name: Some(name.to_owned()),
        description: String::new(),
    }
}

#[tokio::test]
async fn transit_passes_the_key_lifecycle_contract() {
    let bao = Bao::start();
    let kms = Arc::new(bao.kms());
    key_lifecycle_contract(KeyManagerUnderTest {
        provider: kms.clone(),
        admin: kms,
        new_key: Box::new(|label| named(&format!("contract-{label}"))),
        missing_key: "contract-missing".into(),
    })
    .await;
}

/// What Transit cannot do is refused with a reason naming what to do instead; what it
/// can is reported as Transit has it.
#[tokio::test]
async fn transit_refuses_what_it_has_not_and_describes_what_it_has() {
    let bao = Bao::start();
    let kms = bao.kms();
    kms.ensure_keys().await.unwrap();

    let err = kms.disable_key("coffer-default").await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            KeyAdminError::Unsupported {
                backend: "vault",
                operation: KeyOperation::DisableKey,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        text.contains("no Disabled") && text.contains("policy"),
        "{text}"
    );

    let unnamed = kms.create_key(NewKey::default()).await.unwrap_err();
    assert!(unnamed.to_string().contains("--name"), "{unnamed}");
    let again = kms.create_key(named("coffer-default")).await.unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");

    // The SSE-OSS key is the service's: not listed as a CMK, and not deletable here.
    let listed = kms.list_keys().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(names, ["coffer-default"]);
    assert!(listed[0].default_key);
    assert_eq!(listed[0].key_spec, "aes256-gcm96");
    assert!(listed[0].creation_date.ends_with('Z'), "{:?}", listed[0]);
    let kept = kms.delete_key_now("coffer-sse-oss").await.unwrap_err();
    assert!(kept.to_string().contains("SSE-OSS"), "{kept}");
    bao.cli(&["read", "transit/keys/coffer-sse-oss"]);

    // A key made outside Coffer without derivation is shown as one Coffer cannot use.
    bao.cli(&["write", "-f", "transit/keys/plain"]);
    let plain = kms.describe_key("plain").await.unwrap();
    assert!(plain.description.contains("not derived"), "{plain:?}");
}

/// A token whose policy lets Coffer use keys but not create them gets a message that
/// names the capability to grant, not a bare "forbidden".
#[tokio::test]
async fn a_token_that_may_not_create_keys_says_which_permission_is_missing() {
    let bao = Bao::start();
    bao.create_derived("usable");
    let policy = bao.home().join("use-only.hcl");
    std::fs::write(
        &policy,
        r#"
path "transit/keys/*" { capabilities = ["read"] }
path "transit/datakey/plaintext/*" { capabilities = ["update"] }
path "transit/decrypt/*" { capabilities = ["update"] }
"#,
    )
    .unwrap();
    bao.cli(&["policy", "write", "use-only", policy.to_str().unwrap()]);
    let token = bao.cli(&["token", "create", "-policy=use-only", "-field=token"]);
    let creds = Credentials::Token(Secret::new(token.trim().to_owned()));
    let kms = VaultKms::new(bao.config(creds, Duration::from_secs(5))).unwrap();

    // Using the key works: the token is good, only creation is not granted.
    let usable = kms.describe_key("usable").await.unwrap();
    assert_eq!(usable.primary_key_version, 1);
    let err = kms.create_key(named("tenant-b")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            KeyAdminError::Denied {
                backend: "vault",
                operation: KeyOperation::CreateKey,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("`create` capability") && text.contains("transit/keys/tenant-b"),
        "{text}"
    );
    let rotate = kms.rotate_key("usable").await.unwrap_err();
    assert!(
        rotate.to_string().contains("`update` capability"),
        "{rotate}"
    );
    // The data path's own refusal stays the KMS's.
    let unknown = kms.describe_key("absent").await.unwrap_err();
    assert_eq!(
        unknown,
        KeyAdminError::Key(KeyError::KeyNotFound("absent".into()))
    );
}
