//! The key-lifecycle contract: one matrix every key manager runs (the built-in KMS in the
//! binary's tests, Vault Transit against a real OpenBao in `coffer-kms-vault`'s, KMIP against
//! PyKMIP in `coffer-kms-kmip`'s), so that
//! they behave alike where they share an operation and refuse clearly where they do not.
//!
//! A backend passes when [`key_lifecycle_contract`] returns: generate and decrypt, a wrap
//! bound to its context and key, rotation that keeps old wraps readable, disable and
//! enable, scheduled and immediate deletion, unknown keys, usage counts. An operation the
//! backend does not have must answer [`KeyAdminError::Unsupported`] with a reason, and
//! leave the key as it was. A new backend (KMIP) runs the same suite from its crate with
//! the `testing` feature, giving a [`KeyManagerUnderTest`]; `coffer-kms-kmip` does, against
//! PyKMIP.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;

use coffer_crypto::{CipherSuite, Envelope, SseMethod};

use crate::key_admin::{KeyAdmin, KeyAdminError, KeyInfo, KeyOperation, KeyState, NewKey};
use crate::sse::{IssuedKey, KeyContext, KeyError, KeyProvider};

/// The caller every data-key call names (a backend under test has no access check, or
/// one that allows it).
pub const CALLER: &str = "contract";

/// One key manager, seen through both seams.
pub struct KeyManagerUnderTest {
    pub provider: Arc<dyn KeyProvider>,
    pub admin: Arc<dyn KeyAdmin>,
    /// How to ask this backend for a fresh key; `label` is short, unique within the run
    /// and made of letters (a backend that names keys by their creator can use it).
    pub new_key: Box<dyn Fn(&str) -> NewKey + Send + Sync>,
    /// A key id of the backend's form under which no key exists.
    pub missing_key: String,
}

/// Runs one named check, so that a failure says which part of the contract broke.
async fn check<T>(name: &str, run: impl Future<Output = T>) -> T {
    struct Named<'a>(&'a str);
    impl Drop for Named<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("key-lifecycle contract check failed: {}", self.0);
            }
        }
    }
    let _named = Named(name);
    run.await
}

/// The whole matrix, in order: later checks use the keys earlier ones made.
pub async fn key_lifecycle_contract(kms: KeyManagerUnderTest) {
    let a = check("create and describe", create_and_describe(&kms, "a")).await;
    let first = check("generate and decrypt", generate_and_decrypt(&kms, &a)).await;
    let b = check("create a second key", create_and_describe(&kms, "b")).await;
    check(
        "wrong context or key",
        wrong_context_or_key(&kms, &first, &b),
    )
    .await;
    check("unknown key", unknown_key(&kms)).await;
    check("rotate then decrypt old", rotate(&kms, &a, &first)).await;
    check("usage counts successes", usage(&kms, &a, 3, 3)).await;
    check("disable and enable", disable_and_enable(&kms, &a, &first)).await;
    check("aliases", aliases(&kms, &a)).await;
    check("delete", delete(&kms, &b)).await;
}

fn context(object: &str) -> KeyContext {
    KeyContext::from([
        ("bucket".to_owned(), "contract".to_owned()),
        ("object".to_owned(), object.to_owned()),
    ])
}

/// The envelope an object written with `issued` would carry.
pub fn envelope(issued: &IssuedKey, object: &str) -> Envelope {
    Envelope {
        format: Envelope::FORMAT,
        method: SseMethod::Kms,
        suite: CipherSuite::Aes256Gcm,
        key_id: issued.key_id.clone(),
        key_version: issued.key_version,
        wrapped_key: issued.wrapped.clone(),
        salt: vec![7; 16],
        bucket: "contract".into(),
        object: object.into(),
        key_verifier: None,
    }
}

/// A data key issued under `key` for `object`, with its envelope.
struct Written {
    issued: IssuedKey,
    envelope: Envelope,
    object: String,
}

async fn issue(kms: &KeyManagerUnderTest, key: &str, object: &str) -> Result<Written, KeyError> {
    let issued = kms
        .provider
        .issue(SseMethod::Kms, Some(key), &context(object), CALLER)
        .await?;
    Ok(Written {
        envelope: envelope(&issued, object),
        issued,
        object: object.to_owned(),
    })
}

async fn unwrap(kms: &KeyManagerUnderTest, w: &Written) -> Result<[u8; 32], KeyError> {
    kms.provider
        .unwrap(&w.envelope, &context(&w.object), CALLER)
        .await
        .map(|k| *k.as_bytes())
}

async fn reads_back(kms: &KeyManagerUnderTest, w: &Written) {
    assert_eq!(
        &unwrap(kms, w).await.unwrap(),
        w.issued.plaintext.as_bytes(),
        "the data key unwraps to what was issued"
    );
}

async fn create_and_describe(kms: &KeyManagerUnderTest, label: &str) -> String {
    let created = kms.admin.create_key((kms.new_key)(label)).await.unwrap();
    assert_eq!(created.state, KeyState::Enabled);
    assert_eq!((created.primary_key_version, created.versions), (1, 1));
    let described = kms.admin.describe_key(&created.key_id).await.unwrap();
    assert_eq!(described.key_id, created.key_id);
    assert_eq!(described.state, KeyState::Enabled);
    let listed = kms.admin.list_keys().await.unwrap();
    assert!(listed.iter().any(|k| k.key_id == created.key_id), "listed");
    created.key_id
}

async fn generate_and_decrypt(kms: &KeyManagerUnderTest, key: &str) -> Written {
    let first = issue(kms, key, "o1").await.unwrap();
    assert_eq!(first.issued.key_id, key, "the envelope names the key");
    assert_eq!(first.issued.key_version, 1);
    reads_back(kms, &first).await;
    let second = issue(kms, key, "o2").await.unwrap();
    assert_ne!(
        second.issued.plaintext.as_bytes(),
        first.issued.plaintext.as_bytes(),
        "every issue is a fresh data key"
    );
    first
}

async fn wrong_context_or_key(kms: &KeyManagerUnderTest, first: &Written, other: &str) {
    let elsewhere = kms
        .provider
        .unwrap(&first.envelope, &context("another-object"), CALLER)
        .await;
    assert_eq!(
        elsewhere.err(),
        Some(KeyError::InvalidCiphertext),
        "context"
    );
    let mut forged = first.envelope.clone();
    forged.key_id = other.to_owned();
    let under_other = kms
        .provider
        .unwrap(&forged, &context(&first.object), CALLER)
        .await;
    assert_eq!(under_other.err(), Some(KeyError::InvalidCiphertext), "key");
}

async fn unknown_key(kms: &KeyManagerUnderTest) {
    let missing = kms.missing_key.as_str();
    let issued = issue(kms, missing, "o").await;
    assert!(
        matches!(issued, Err(KeyError::KeyNotFound(_))),
        "issue: {:?}",
        issued.err()
    );
    let described = kms.admin.describe_key(missing).await;
    assert!(
        matches!(described, Err(KeyAdminError::Key(KeyError::KeyNotFound(_)))),
        "describe: {described:?}"
    );
    let usage = kms.admin.key_usage(missing).await;
    assert!(
        matches!(usage, Err(KeyAdminError::Key(KeyError::KeyNotFound(_)))),
        "usage: {usage:?}"
    );
}

/// Rotation where the backend has it (KMIP's re-key makes a new object, so PyKMIP-backed
/// KMIP refuses it): either way the key keeps issuing, and what it wrapped before reads.
async fn rotate(kms: &KeyManagerUnderTest, key: &str, old: &Written) {
    let version = match kms.admin.rotate_key(key).await {
        Ok(rotated) => {
            assert_eq!(rotated.primary_key_version, 2);
            assert_eq!(rotated.versions, 2);
            2
        }
        refused => {
            assert_refused(refused, KeyOperation::RotateKey);
            old.issued.key_version
        }
    };
    let new = issue(kms, key, "o3").await.unwrap();
    assert_eq!(
        new.issued.key_version, version,
        "new data keys use the primary version"
    );
    reads_back(kms, &new).await;
    reads_back(kms, old).await;
}

async fn usage(kms: &KeyManagerUnderTest, key: &str, generated: u64, decrypted: u64) {
    let (id, usage) = kms.admin.key_usage(key).await.unwrap();
    assert_eq!(id, key);
    assert_eq!(
        (usage.generate_data_key, usage.decrypt),
        (generated, decrypted)
    );
}

/// The refusal an unsupported operation must give: named, with a reason.
fn assert_refused<T: std::fmt::Debug>(result: Result<T, KeyAdminError>, op: KeyOperation) {
    match result {
        Err(KeyAdminError::Unsupported {
            operation, reason, ..
        }) => {
            assert_eq!(operation, op);
            assert!(!reason.is_empty(), "a refusal says why");
        }
        other => panic!("{op}: expected Unsupported, got {other:?}"),
    }
}

async fn disable_and_enable(kms: &KeyManagerUnderTest, key: &str, old: &Written) {
    match kms.admin.disable_key(key).await {
        Ok(info) => {
            assert_eq!(info.state, KeyState::Disabled);
            let issued = issue(kms, key, "o4").await;
            assert_eq!(issued.err(), Some(KeyError::Disabled), "no new data keys");
            assert_eq!(unwrap(kms, old).await.err(), Some(KeyError::Disabled));
            let enabled = kms.admin.enable_key(key).await.unwrap();
            assert_eq!(enabled.state, KeyState::Enabled);
        }
        refused => {
            assert_refused(refused, KeyOperation::DisableKey);
            assert_refused(kms.admin.enable_key(key).await, KeyOperation::EnableKey);
        }
    }
    reads_back(kms, old).await;
    issue(kms, key, "o5").await.unwrap();
}

async fn aliases(kms: &KeyManagerUnderTest, key: &str) {
    let alias = "alias/contract-alias";
    match kms.admin.create_alias(alias, key).await {
        Ok(()) => {
            let listed = kms.admin.list_aliases().await.unwrap();
            assert!(
                listed
                    .iter()
                    .any(|a| a.alias_name == alias && a.key_id == key)
            );
            assert_eq!(kms.admin.describe_key(alias).await.unwrap().key_id, key);
            kms.admin.delete_alias(alias).await.unwrap();
            let gone = kms.admin.describe_key(alias).await;
            assert!(
                matches!(gone, Err(KeyAdminError::Key(KeyError::AliasNotFound(_)))),
                "{gone:?}"
            );
        }
        refused => {
            assert_refused(refused, KeyOperation::CreateAlias);
            assert_refused(kms.admin.list_aliases().await, KeyOperation::ListAliases);
            assert_refused(
                kms.admin.delete_alias(alias).await,
                KeyOperation::DeleteAlias,
            );
        }
    }
}

/// Scheduled deletion where the backend has it (the key refuses use while pending, and
/// cancelling leaves it Disabled); then destruction now, after which nothing wrapped
/// under the key unwraps and the key is neither described nor listed.
async fn delete(kms: &KeyManagerUnderTest, key: &str) {
    let doomed = issue(kms, key, "d1").await.unwrap();
    match kms.admin.schedule_key_deletion(key, 7).await {
        Ok(info) => {
            assert_pending(kms, &info, &doomed).await;
            let cancelled = kms.admin.cancel_key_deletion(key).await.unwrap();
            assert_eq!(cancelled.state, KeyState::Disabled);
            kms.admin.schedule_key_deletion(key, 7).await.unwrap();
        }
        refused => {
            assert_refused(refused, KeyOperation::ScheduleKeyDeletion);
            assert_refused(
                kms.admin.cancel_key_deletion(key).await,
                KeyOperation::CancelKeyDeletion,
            );
            reads_back(kms, &doomed).await;
        }
    }
    kms.admin.delete_key_now(key).await.unwrap();
    let gone = |e: &KeyError| matches!(e, KeyError::KeyNotFound(_) | KeyError::Deleted(_));
    let unwrapped = unwrap(kms, &doomed).await;
    assert!(unwrapped.as_ref().is_err_and(gone), "unwrap: {unwrapped:?}");
    match kms.admin.describe_key(key).await {
        Err(KeyAdminError::Key(e)) if gone(&e) => {}
        other => panic!("describe after deletion: {other:?}"),
    }
    let listed: Vec<KeyInfo> = kms.admin.list_keys().await.unwrap();
    assert!(listed.iter().all(|k| k.key_id != key), "not listed");
}

async fn assert_pending(kms: &KeyManagerUnderTest, info: &KeyInfo, doomed: &Written) {
    assert_eq!(info.state, KeyState::PendingDeletion);
    assert!(info.delete_date.is_some(), "says when");
    let issued = issue(kms, &info.key_id, "d2").await;
    assert_eq!(issued.err(), Some(KeyError::PendingDeletion));
    assert_eq!(
        unwrap(kms, doomed).await.err(),
        Some(KeyError::PendingDeletion)
    );
}
