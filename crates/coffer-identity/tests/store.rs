//! The identity store against a temporary directory: users, keys, policies, attachments,
//! persistence across reopening, sealing, limits and conflicts.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use coffer_api::identity::{CallerIdentity, Identities, SecretKey, SecretLookup};
use coffer_identity::{
    AccessKeyStatus, IdentityError, IdentityStore, KeyOwner, Keyring, MAX_POLICY_DOCUMENT_BYTES,
    RootAccessKey,
};
use zeroize::Zeroizing;

const READ_ONLY: &str = r#"{
  "Version": "1",
  "Statement": [
    {"Effect": "Allow", "Action": ["oss:GetObject", "oss:ListObjects"], "Resource": ["acs:oss:*:*:photos", "acs:oss:*:*:photos/*"]}
  ]
}"#;
const KMS_USE: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;

fn key(byte: u8) -> Zeroizing<[u8; 32]> {
    Zeroizing::new([byte; 32])
}

fn open(dir: &std::path::Path) -> IdentityStore {
    IdentityStore::open(dir, key(9)).unwrap()
}

#[test]
fn users_are_created_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.list_users().is_empty());

    let alice = store.create_user("alice", Some("Alice A.")).unwrap();
    assert_eq!(alice.user_name, "alice");
    assert_eq!(alice.display_name, "Alice A.");
    assert_eq!(alice.user_id.len(), 16);
    assert!(alice.user_id.bytes().all(|b| b.is_ascii_digit()));
    let bob = store.create_user("bob@example.com", None).unwrap();
    assert_eq!(bob.display_name, "bob@example.com");
    assert_ne!(alice.user_id, bob.user_id);

    assert_eq!(
        store.create_user("alice", None).unwrap_err(),
        IdentityError::UserAlreadyExists("alice".into())
    );
    assert_eq!(
        store.create_user("alice", None).unwrap_err().code(),
        "EntityAlreadyExists.User"
    );
    for bad in ["", "has space", "slash/", &"x".repeat(65)] {
        assert_eq!(
            store.create_user(bad, None).unwrap_err().code(),
            "InvalidParameter",
            "{bad:?}"
        );
    }
    assert_eq!(
        store.create_user("carol", Some("")).unwrap_err().code(),
        "InvalidParameter"
    );

    let names: Vec<String> = store
        .list_users()
        .into_iter()
        .map(|u| u.user_name)
        .collect();
    assert_eq!(names, ["alice", "bob@example.com"]);
    assert_eq!(store.get_user("alice").unwrap(), alice);
    assert_eq!(
        store.get_user("nobody").unwrap_err().code(),
        "EntityNotExist.User"
    );

    store.delete_user("alice").unwrap();
    assert_eq!(
        store.delete_user("alice").unwrap_err(),
        IdentityError::NoSuchUser("alice".into())
    );
    assert_eq!(store.list_users(), vec![bob]);
}

#[test]
fn access_keys_authenticate_until_disabled_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let alice = store.create_user("alice", None).unwrap();

    let (info, secret) = store.create_access_key("alice").unwrap();
    let id = info.access_key_id.clone();
    assert_eq!(info.status, AccessKeyStatus::Active);
    assert!(id.starts_with("LTAI") && id.len() == 24, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(secret.len(), 30);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));

    let (user, found) = store.lookup(&id).expect("active key");
    assert_eq!(user, alice);
    assert_eq!(found.expose(), secret.as_str());
    assert!(store.lookup("LTAInotakey").is_none());

    // Disabled: at once no longer found; enabled again: found.
    store.set_access_key_status("alice", &id, false).unwrap();
    assert!(store.lookup(&id).is_none());
    assert_eq!(
        store.list_access_keys("alice").unwrap()[0].status,
        AccessKeyStatus::Inactive
    );
    store.set_access_key_status("alice", &id, true).unwrap();
    assert!(store.lookup(&id).is_some());

    // Someone else's key, or an unknown one, is "not found" for this user.
    store.create_user("bob", None).unwrap();
    for result in [
        store.set_access_key_status("bob", &id, false),
        store.delete_access_key("bob", &id),
        store.delete_access_key("alice", "LTAInope"),
    ] {
        assert_eq!(result.unwrap_err().code(), "EntityNotExist.AccessKey");
    }
    assert_eq!(
        store
            .set_access_key_status("nobody", &id, false)
            .unwrap_err(),
        IdentityError::NoSuchUser("nobody".into())
    );
    assert!(store.lookup(&id).is_some());

    store.delete_access_key("alice", &id).unwrap();
    assert!(store.lookup(&id).is_none());
    assert!(store.list_access_keys("alice").unwrap().is_empty());
    assert_eq!(
        store.list_access_keys("nobody").unwrap_err().code(),
        "EntityNotExist.User"
    );
}

#[test]
fn at_most_two_keys_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_user("alice", None).unwrap();
    let (first, _) = store.create_access_key("alice").unwrap();
    let (second, _) = store.create_access_key("alice").unwrap();
    assert_ne!(first.access_key_id, second.access_key_id);
    // Inactive keys count too.
    store
        .set_access_key_status("alice", &first.access_key_id, false)
        .unwrap();
    let err = store.create_access_key("alice").unwrap_err();
    assert_eq!(err.code(), "LimitExceeded.AccessKey");
    assert!(matches!(err, IdentityError::LimitExceeded(_)));
    assert_eq!(store.list_access_keys("alice").unwrap().len(), 2);
    store
        .delete_access_key("alice", &first.access_key_id)
        .unwrap();
    store.create_access_key("alice").unwrap();
    assert_eq!(
        store.create_access_key("nobody").unwrap_err().code(),
        "EntityNotExist.User"
    );
}

#[test]
fn deleting_a_user_removes_its_keys_and_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_user("alice", None).unwrap();
    let (info, _) = store.create_access_key("alice").unwrap();
    store.create_policy("ReadOnly", READ_ONLY, None).unwrap();
    store.attach_policy("ReadOnly", "alice").unwrap();
    assert_eq!(store.get_policy("ReadOnly").unwrap().attachment_count, 1);

    store.delete_user("alice").unwrap();
    assert!(store.lookup(&info.access_key_id).is_none());
    assert!(store.policies_of("alice").is_empty());
    assert_eq!(store.get_policy("ReadOnly").unwrap().attachment_count, 0);
    // The policy is free to go now.
    store.delete_policy("ReadOnly").unwrap();

    // A new user of the same name starts clean.
    store.create_user("alice", None).unwrap();
    assert!(store.list_access_keys("alice").unwrap().is_empty());
    assert!(store.list_policies_for_user("alice").unwrap().is_empty());
    drop(store);
    let store = open(dir.path());
    assert!(store.lookup(&info.access_key_id).is_none());
}

#[test]
fn policies_are_validated_attached_and_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_user("alice", None).unwrap();

    let created = store
        .create_policy("ReadOnly", READ_ONLY, Some("read photos"))
        .unwrap();
    assert_eq!(created.policy_name, "ReadOnly");
    assert_eq!(created.policy_type, "Custom");
    assert_eq!(created.description, "read photos");
    assert_eq!(created.attachment_count, 0);
    assert_eq!(created.policy_document.as_deref(), Some(READ_ONLY));
    assert_eq!(
        store.create_policy("ReadOnly", KMS_USE, None).unwrap_err(),
        IdentityError::PolicyAlreadyExists("ReadOnly".into())
    );
    store.create_policy("KmsUse", KMS_USE, None).unwrap();

    let listed = store.list_policies();
    assert_eq!(
        listed
            .iter()
            .map(|p| p.policy_name.as_str())
            .collect::<Vec<_>>(),
        ["KmsUse", "ReadOnly"]
    );
    assert!(listed.iter().all(|p| p.policy_document.is_none()));
    assert_eq!(
        store
            .get_policy("ReadOnly")
            .unwrap()
            .policy_document
            .as_deref(),
        Some(READ_ONLY)
    );
    assert_eq!(
        store.get_policy("Nope").unwrap_err().code(),
        "EntityNotExist.Policy"
    );

    assert!(store.policies_of("alice").is_empty());
    store.attach_policy("ReadOnly", "alice").unwrap();
    store.attach_policy("KmsUse", "alice").unwrap();
    let err = store.attach_policy("ReadOnly", "alice").unwrap_err();
    assert_eq!(err.code(), "EntityAlreadyExists.User.Policy");
    assert_eq!(
        store.attach_policy("Nope", "alice").unwrap_err().code(),
        "EntityNotExist.Policy"
    );
    assert_eq!(
        store.attach_policy("ReadOnly", "bob").unwrap_err().code(),
        "EntityNotExist.User"
    );

    // Parsed policies, in name order, are the ones attached.
    let policies = store.policies_of("alice");
    let sources: Vec<&str> = policies.iter().map(|p| p.source()).collect();
    assert_eq!(sources, [KMS_USE, READ_ONLY]);
    assert!(store.policies_of("bob").is_empty());
    let attached = store.list_policies_for_user("alice").unwrap();
    assert_eq!(attached.len(), 2);
    assert_eq!(attached[1].policy_name, "ReadOnly");
    assert_eq!(attached[1].description, "read photos");
    assert_eq!(attached[1].attach_date.len(), 20);

    // Attached: cannot be deleted.
    let err = store.delete_policy("ReadOnly").unwrap_err();
    assert_eq!(err.code(), "DeleteConflict.Policy.User");
    assert!(err.to_string().contains("alice"), "{err}");
    assert_eq!(store.get_policy("ReadOnly").unwrap().attachment_count, 1);

    store.detach_policy("ReadOnly", "alice").unwrap();
    assert_eq!(
        store.detach_policy("ReadOnly", "alice").unwrap_err().code(),
        "EntityNotExist.User.Policy"
    );
    assert_eq!(store.policies_of("alice").len(), 1);
    store.delete_policy("ReadOnly").unwrap();
    assert_eq!(
        store.delete_policy("ReadOnly").unwrap_err().code(),
        "EntityNotExist.Policy"
    );
    assert_eq!(store.list_policies().len(), 1);
}

#[test]
fn a_malformed_policy_is_refused_naming_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let cases = [
        (
            r#"{"Version":"1","Statement":[{"Effect":"Permit","Action":"oss:GetObject","Resource":"*"}]}"#,
            "Statement[0].Effect",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*","Principal":"*"}]}"#,
            "Principal",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:NoSuchAction","Resource":"*"}]}"#,
            "oss:NoSuchAction",
        ),
        (r#"{"Version":"2","Statement":[]}"#, "Version"),
        ("not json", "JSON"),
    ];
    for (document, fault) in cases {
        let err = store.create_policy("Bad", document, None).unwrap_err();
        assert_eq!(err.code(), "MalformedPolicyDocument", "{document}");
        assert!(
            matches!(&err, IdentityError::MalformedPolicy(m) if m.contains(fault)),
            "{document}: expected the message to name {fault}, got: {err}"
        );
    }
    let big = format!(
        r#"{{"Version":"1","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"oss:GetObject","Resource":"*"}}]}}"#,
        "x".repeat(MAX_POLICY_DOCUMENT_BYTES)
    );
    assert_eq!(
        store.create_policy("Big", &big, None).unwrap_err().code(),
        "MalformedPolicyDocument"
    );
    for bad in ["", "under_score", "dot.ted", &"p".repeat(129)] {
        assert_eq!(
            store.create_policy(bad, KMS_USE, None).unwrap_err().code(),
            "InvalidParameter",
            "{bad:?}"
        );
    }
    assert_eq!(
        store
            .create_policy("Long", KMS_USE, Some(&"d".repeat(1025)))
            .unwrap_err()
            .code(),
        "InvalidParameter"
    );
    assert!(store.list_policies().is_empty());
}

#[test]
fn everything_persists_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, key_id, secret, disabled_id) = {
        let store = open(dir.path());
        let alice = store.create_user("alice", Some("Alice")).unwrap();
        store.create_user("bob", None).unwrap();
        let (info, secret) = store.create_access_key("alice").unwrap();
        let (disabled, _) = store.create_access_key("alice").unwrap();
        store
            .set_access_key_status("alice", &disabled.access_key_id, false)
            .unwrap();
        store
            .create_policy("ReadOnly", READ_ONLY, Some("d"))
            .unwrap();
        store.create_policy("KmsUse", KMS_USE, None).unwrap();
        store.attach_policy("ReadOnly", "alice").unwrap();
        (alice, info.access_key_id, secret, disabled.access_key_id)
    };

    let store = open(dir.path());
    assert_eq!(store.get_user("alice").unwrap(), alice);
    assert_eq!(store.list_users().len(), 2);
    let (user, found) = store.lookup(&key_id).unwrap();
    assert_eq!(user, alice);
    assert_eq!(found.expose(), secret.as_str());
    assert!(store.lookup(&disabled_id).is_none());
    let keys = store.list_access_keys("alice").unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        store
            .get_policy("ReadOnly")
            .unwrap()
            .policy_document
            .as_deref(),
        Some(READ_ONLY)
    );
    let policies = store.policies_of("alice");
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].source(), READ_ONLY);
    assert_eq!(store.get_policy("ReadOnly").unwrap().attachment_count, 1);
    assert_eq!(store.list_policies().len(), 2);
}

#[cfg(unix)]
#[test]
fn the_file_is_private_and_never_holds_a_plaintext_secret() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_user("alice", None).unwrap();
    let (info, secret) = store.create_access_key("alice").unwrap();
    let (_, secret2) = store.create_access_key("alice").unwrap();

    let path = dir.path().join(coffer_identity::FILE_NAME);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&info.access_key_id));
    for s in [secret.as_str(), secret2.as_str()] {
        assert!(!text.contains(s), "plaintext secret in the file");
        // Nor any long piece of it.
        assert!(!text.contains(&s[..12]));
    }
    // No temp file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    // Nor does Debug output show secrets.
    let debug = format!("{store:?} {:?}", store.lookup(&info.access_key_id));
    assert!(!debug.contains(secret.as_str()), "{debug}");
}

#[test]
fn another_seal_key_cannot_open_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.create_user("alice", None).unwrap();
    }
    let err = IdentityStore::open(dir.path(), key(10)).unwrap_err();
    assert_eq!(err.code(), "Storage");
    assert!(err.to_string().contains("root key"), "{err}");
    // Even an empty store is bound to its key.
    let empty = tempfile::tempdir().unwrap();
    drop(open(empty.path()));
    assert!(IdentityStore::open(empty.path(), key(10)).is_err());
    assert!(IdentityStore::open(empty.path(), key(9)).is_ok());
}

#[test]
fn a_tampered_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let store = open(dir.path());
        store.create_user("alice", None).unwrap();
        store.create_user("bob", None).unwrap();
        let (a, _) = store.create_access_key("alice").unwrap();
        let (b, _) = store.create_access_key("bob").unwrap();
        (a.access_key_id, b.access_key_id)
    };
    let path = dir.path().join(coffer_identity::FILE_NAME);
    let original = std::fs::read_to_string(&path).unwrap();

    // Moving alice's key to bob: the sealed secret is bound to its user.
    let mut value: serde_json::Value = serde_json::from_str(&original).unwrap();
    value["access_keys"][&a]["user_name"] = "bob".into();
    std::fs::write(&path, value.to_string()).unwrap();
    let err = IdentityStore::open(dir.path(), key(9)).unwrap_err();
    assert!(err.to_string().contains(&a), "{err}");

    // Swapping two sealed secrets: each is bound to its key id.
    let mut value: serde_json::Value = serde_json::from_str(&original).unwrap();
    let sa = value["access_keys"][&a]["sealed_secret"].clone();
    let sb = value["access_keys"][&b]["sealed_secret"].clone();
    value["access_keys"][&a]["sealed_secret"] = sb;
    value["access_keys"][&b]["sealed_secret"] = sa;
    std::fs::write(&path, value.to_string()).unwrap();
    assert!(IdentityStore::open(dir.path(), key(9)).is_err());

    // Garbage.
    std::fs::write(&path, "{").unwrap();
    assert_eq!(
        IdentityStore::open(dir.path(), key(9)).unwrap_err().code(),
        "Storage"
    );
    std::fs::write(&path, original).unwrap();
    assert!(IdentityStore::open(dir.path(), key(9)).is_ok());
}

#[test]
fn one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let err = IdentityStore::open(dir.path(), key(9)).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    drop(first);
    open(dir.path());
}

fn root(id: &str, secret: &str) -> Arc<RootAccessKey> {
    Arc::new(RootAccessKey::new(id.into(), SecretKey::new(secret.into())))
}

#[tokio::test]
async fn the_keyring_knows_root_and_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let alice = store.create_user("alice", None).unwrap();
    let (info, secret) = store.create_access_key("alice").unwrap();
    let keyring = Keyring::new(root("LTAIroot", "root-secret"), store.clone());

    assert_eq!(keyring.owner("LTAIroot"), Some(KeyOwner::Root));
    assert_eq!(
        keyring.secret_for("LTAIroot").await.unwrap().expose(),
        "root-secret"
    );
    assert_eq!(
        keyring.owner(&info.access_key_id),
        Some(KeyOwner::User(alice))
    );
    assert_eq!(
        keyring
            .secret_for(&info.access_key_id)
            .await
            .unwrap()
            .expose(),
        secret.as_str()
    );
    // As a front end sees it.
    assert_eq!(keyring.caller("LTAIroot").await, Some(CallerIdentity::Root));
    assert_eq!(
        keyring.caller(&info.access_key_id).await,
        Some(CallerIdentity::User {
            name: "alice".into(),
            id: store.get_user("alice").unwrap().user_id
        })
    );
    assert!(keyring.user_policies("alice").await.is_empty());
    store
        .create_policy(
            "P",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}]}"#,
            None,
        )
        .unwrap();
    store.attach_policy("P", "alice").unwrap();
    assert_eq!(keyring.user_policies("alice").await.len(), 1);
    assert_eq!(keyring.policies_of("alice").len(), 1);

    // Inactive: no longer anyone's, by any of the questions.
    store
        .set_access_key_status("alice", &info.access_key_id, false)
        .unwrap();
    assert_eq!(keyring.owner(&info.access_key_id), None);
    assert_eq!(keyring.caller(&info.access_key_id).await, None);
    assert!(keyring.secret_for(&info.access_key_id).await.is_none());
    assert_eq!(keyring.owner("LTAIother"), None);

    // Deleted: the same.
    let (other, _) = store.create_access_key("alice").unwrap();
    assert!(keyring.owner(&other.access_key_id).is_some());
    store
        .delete_access_key("alice", &other.access_key_id)
        .unwrap();
    assert_eq!(keyring.owner(&other.access_key_id), None);
    assert_eq!(keyring.caller(&other.access_key_id).await, None);
    assert!(keyring.secret_for(&other.access_key_id).await.is_none());
}

#[tokio::test]
async fn root_wins_over_a_user_key_with_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    store.create_user("alice", None).unwrap();
    let (info, user_secret) = store.create_access_key("alice").unwrap();
    let keyring = Keyring::new(root(&info.access_key_id, "root-secret"), store.clone());

    assert_eq!(keyring.owner(&info.access_key_id), Some(KeyOwner::Root));
    assert_eq!(
        keyring.caller(&info.access_key_id).await,
        Some(CallerIdentity::Root)
    );
    let found = keyring.secret_for(&info.access_key_id).await.unwrap();
    assert_eq!(found.expose(), "root-secret");
    assert_ne!(found.expose(), user_secret.as_str());
}

#[tokio::test]
async fn a_root_only_keyring_knows_no_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_user("alice", None).unwrap();
    let (info, _) = store.create_access_key("alice").unwrap();
    let keyring = Keyring::root_only(root("LTAIroot", "root-secret"));

    assert_eq!(keyring.owner("LTAIroot"), Some(KeyOwner::Root));
    assert_eq!(keyring.owner(&info.access_key_id), None);
    assert!(keyring.secret_for(&info.access_key_id).await.is_none());
    assert!(keyring.policies_of("alice").is_empty());
    assert!(keyring.identities().is_none());
}

#[test]
fn concurrent_writers_and_readers_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    store.create_user("reader", None).unwrap();
    let (info, secret) = store.create_access_key("reader").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let id = info.access_key_id.clone();
            let secret = secret.to_string();
            std::thread::spawn(move || {
                for i in 0..10 {
                    store.create_user(&format!("u{t}-{i}"), None).unwrap();
                    let (_, s) = store.lookup(&id).unwrap();
                    assert_eq!(s.expose(), secret);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.list_users().len(), 41);
    drop(store);
    assert_eq!(open(dir.path()).list_users().len(), 41);
}
