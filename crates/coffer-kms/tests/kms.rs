//! Behaviour of the built-in KMS through its public API.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_kms::{
    DEFAULT_KEY_ALIAS, EncryptionContext, KeySelector, KeyState, KeyUsage, Kms, KmsConfig,
    KmsError, ManualClock, RootKey, SERVICE_KEY_ID, STATE_FILE_NAME, WrappedKey,
};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const ROOT: [u8; 32] = [0x5a; 32];
const DAY: Duration = Duration::from_secs(86_400);

fn open(dir: &Path) -> Kms {
    Kms::open(dir, RootKey::from_bytes(ROOT), KmsConfig::default()).unwrap()
}

fn open_with_clock(dir: &Path, clock: &Arc<ManualClock>, audit: Option<&Path>) -> Kms {
    let config = KmsConfig {
        service_key_rotation: 30 * DAY,
        audit_log: audit.map(Path::to_owned),
    };
    Kms::open_with_clock(dir, RootKey::from_bytes(ROOT), config, clock.clone()).unwrap()
}

fn ctx(bucket: &str, object: &str) -> EncryptionContext {
    EncryptionContext::for_object(bucket, object)
}

fn named(key: &str) -> KeySelector {
    KeySelector::Named(key.to_owned())
}

/// All the ways a 32-byte secret could appear in a text file.
fn encodings(bytes: &[u8]) -> Vec<Vec<u8>> {
    vec![
        bytes.to_vec(),
        hex::encode(bytes).into_bytes(),
        hex::encode_upper(bytes).into_bytes(),
        B64.encode(bytes).into_bytes(),
        // Any 16-byte window of the base64 (alignment-independent check for the raw bytes' encoding).
        B64.encode(&bytes[3..27]).into_bytes(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_absent(file: &[u8], secret: &[u8], what: &str) {
    for enc in encodings(secret) {
        assert!(!contains(file, &enc), "{what} found in a file");
    }
}

/// Opens every sealed material blob in the state file with the root key, the way the crate
/// documents it (AAD = "coffer-kms/v1/key-material" || len(id) || id || version).
fn unseal_all_material(state_file: &Path) -> Vec<(String, u32, [u8; 32])> {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_file).unwrap()).unwrap();
    let mut sealed = Vec::new();
    for v in state["service_key"].as_array().unwrap() {
        sealed.push((SERVICE_KEY_ID.to_owned(), v.clone()));
    }
    for (id, key) in state["keys"].as_object().unwrap() {
        for v in key["versions"].as_array().unwrap() {
            sealed.push((id.clone(), v.clone()));
        }
    }
    let root = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &ROOT).unwrap());
    sealed
        .into_iter()
        .map(|(id, v)| {
            let version = v["version"].as_u64().unwrap() as u32;
            let blob = B64.decode(v["material"].as_str().unwrap()).unwrap();
            let mut aad = b"coffer-kms/v1/key-material".to_vec();
            aad.extend_from_slice(&(id.len() as u32).to_be_bytes());
            aad.extend_from_slice(id.as_bytes());
            aad.extend_from_slice(&version.to_be_bytes());
            let nonce = Nonce::try_assume_unique_for_key(&blob[..12]).unwrap();
            let mut buf = blob[12..].to_vec();
            let plain = root
                .open_in_place(nonce, Aad::from(&aad), &mut buf)
                .unwrap();
            (id, version, <[u8; 32]>::try_from(&plain[..]).unwrap())
        })
        .collect()
}

#[test]
fn kms_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Kms>();
}

#[test]
fn generate_and_decrypt_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let meta = kms.create_key("test key").unwrap();
    assert!(
        uuid::Uuid::parse_str(&meta.key_id)
            .unwrap()
            .get_version_num()
            == 4
    );
    let c = ctx("b", "k");
    let g = kms
        .generate_data_key(&named(&meta.key_id), &c, "alice")
        .unwrap();
    assert_eq!(g.wrapped.key_id, meta.key_id);
    assert_eq!(g.wrapped.key_version, 1);
    assert_eq!(g.wrapped.ciphertext.len(), 12 + 32 + 16);
    let back = kms.decrypt_data_key(&g.wrapped, &c, "alice").unwrap();
    assert_eq!(back.as_bytes(), g.plaintext.as_bytes());

    // Two data keys differ, and so do their wrappings.
    let g2 = kms
        .generate_data_key(&named(&meta.key_id), &c, "alice")
        .unwrap();
    assert_ne!(g.plaintext.as_bytes(), g2.plaintext.as_bytes());
    assert_ne!(g.wrapped.ciphertext, g2.wrapped.ciphertext);

    // The wrapped key survives a JSON round trip (what the object metadata stores).
    let json = serde_json::to_string(&g.wrapped).unwrap();
    let parsed: WrappedKey = serde_json::from_str(&json).unwrap();
    assert_eq!(
        kms.decrypt_data_key(&parsed, &c, "alice")
            .unwrap()
            .as_bytes(),
        g.plaintext.as_bytes()
    );
}

#[test]
fn wrong_context_fails() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let id = kms.create_key("").unwrap().key_id;
    let g = kms
        .generate_data_key(&named(&id), &ctx("b", "k"), "t")
        .unwrap();
    for other in [
        ctx("b", "k2"),
        ctx("b2", "k"),
        EncryptionContext::new(),
        ctx("b", "k").with("extra", ""),
    ] {
        assert_eq!(
            kms.decrypt_data_key(&g.wrapped, &other, "t").unwrap_err(),
            KmsError::InvalidCiphertext
        );
    }
}

#[test]
fn tampered_or_misattributed_ciphertext_fails() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let id = kms.create_key("").unwrap().key_id;
    let other = kms.create_key("").unwrap().key_id;
    let c = ctx("b", "k");
    let g = kms.generate_data_key(&named(&id), &c, "t").unwrap();
    for i in [0, 11, 12, 30, 43, 44, 59] {
        let mut w = g.wrapped.clone();
        w.ciphertext[i] ^= 0x80;
        assert_eq!(
            kms.decrypt_data_key(&w, &c, "t").unwrap_err(),
            KmsError::InvalidCiphertext,
            "byte {i}"
        );
    }
    let mut short = g.wrapped.clone();
    short.ciphertext.pop();
    assert_eq!(
        kms.decrypt_data_key(&short, &c, "t").unwrap_err(),
        KmsError::InvalidCiphertext
    );
    let mut empty = g.wrapped.clone();
    empty.ciphertext.clear();
    assert_eq!(
        kms.decrypt_data_key(&empty, &c, "t").unwrap_err(),
        KmsError::InvalidCiphertext
    );
    // Another CMK, or a version that does not exist.
    let moved = WrappedKey {
        key_id: other,
        ..g.wrapped.clone()
    };
    assert_eq!(
        kms.decrypt_data_key(&moved, &c, "t").unwrap_err(),
        KmsError::InvalidCiphertext
    );
    for version in [0, 2] {
        let w = WrappedKey {
            key_version: version,
            ..g.wrapped.clone()
        };
        assert_eq!(
            kms.decrypt_data_key(&w, &c, "t").unwrap_err(),
            KmsError::InvalidCiphertext
        );
    }
}

#[test]
fn rotation_keeps_old_versions_decryptable() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let id = kms.create_key("rotating").unwrap().key_id;
    let c = ctx("b", "k");
    let v1 = kms.generate_data_key(&named(&id), &c, "t").unwrap();
    let meta = kms.rotate_key(&id).unwrap();
    assert_eq!((meta.primary_key_version, meta.versions), (2, 2));
    let v2 = kms.generate_data_key(&named(&id), &c, "t").unwrap();
    assert_eq!(v2.wrapped.key_version, 2);
    kms.rotate_key(&id).unwrap();
    let v3 = kms.generate_data_key(&named(&id), &c, "t").unwrap();
    assert_eq!(v3.wrapped.key_version, 3);
    for g in [&v1, &v2, &v3] {
        assert_eq!(
            kms.decrypt_data_key(&g.wrapped, &c, "t")
                .unwrap()
                .as_bytes(),
            g.plaintext.as_bytes()
        );
    }
    // A version-1 ciphertext relabelled as version 2 does not open.
    let relabelled = WrappedKey {
        key_version: 2,
        ..v1.wrapped.clone()
    };
    assert_eq!(
        kms.decrypt_data_key(&relabelled, &c, "t").unwrap_err(),
        KmsError::InvalidCiphertext
    );

    drop(kms);
    let kms = open(dir.path());
    assert_eq!(kms.describe_key(&id).unwrap().primary_key_version, 3);
    for g in [&v1, &v2, &v3] {
        assert_eq!(
            kms.decrypt_data_key(&g.wrapped, &c, "t")
                .unwrap()
                .as_bytes(),
            g.plaintext.as_bytes()
        );
    }
}

#[test]
fn disable_and_enable() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let id = kms.create_key("").unwrap().key_id;
    let c = ctx("b", "k");
    let g = kms.generate_data_key(&named(&id), &c, "t").unwrap();
    assert_eq!(kms.disable_key(&id).unwrap().state, KeyState::Disabled);
    assert_eq!(
        kms.disable_key(&id).unwrap().state,
        KeyState::Disabled,
        "idempotent"
    );
    assert_eq!(
        kms.generate_data_key(&named(&id), &c, "t").unwrap_err(),
        KmsError::KeyDisabled
    );
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t").unwrap_err(),
        KmsError::KeyDisabled
    );
    assert_eq!(kms.rotate_key(&id).unwrap_err(), KmsError::KeyDisabled);
    assert_eq!(kms.describe_key(&id).unwrap().state, KeyState::Disabled);
    assert_eq!(kms.enable_key(&id).unwrap().state, KeyState::Enabled);
    assert_eq!(
        kms.enable_key(&id).unwrap().state,
        KeyState::Enabled,
        "idempotent"
    );
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t")
            .unwrap()
            .as_bytes(),
        g.plaintext.as_bytes()
    );
}

#[test]
fn schedule_and_cancel_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2024-05-01 12:00:00 UTC),
    ));
    let kms = open_with_clock(dir.path(), &clock, None);
    let id = kms.create_key("").unwrap().key_id;
    let c = ctx("b", "k");
    let g = kms.generate_data_key(&named(&id), &c, "t").unwrap();
    for days in [0, 6, 31, 365] {
        assert!(
            matches!(
                kms.schedule_key_deletion(&id, days),
                Err(KmsError::InvalidParameter(_))
            ),
            "{days}"
        );
    }
    assert_eq!(kms.describe_key(&id).unwrap().state, KeyState::Enabled);

    let meta = kms.schedule_key_deletion(&id, 7).unwrap();
    assert_eq!(meta.state, KeyState::PendingDeletion);
    assert_eq!(meta.delete_date.as_deref(), Some("2024-05-08T12:00:00Z"));
    assert_eq!(
        kms.generate_data_key(&named(&id), &c, "t").unwrap_err(),
        KmsError::KeyPendingDeletion
    );
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t").unwrap_err(),
        KmsError::KeyPendingDeletion
    );
    assert_eq!(
        kms.enable_key(&id).unwrap_err(),
        KmsError::KeyPendingDeletion
    );
    assert_eq!(
        kms.disable_key(&id).unwrap_err(),
        KmsError::KeyPendingDeletion
    );
    assert_eq!(
        kms.schedule_key_deletion(&id, 30).unwrap_err(),
        KmsError::KeyPendingDeletion
    );
    assert_eq!(
        kms.describe_key(&id).unwrap().state,
        KeyState::PendingDeletion,
        "describe works in every state"
    );

    let meta = kms.cancel_key_deletion(&id).unwrap();
    assert_eq!(
        meta.state,
        KeyState::Disabled,
        "cancelling leaves the key Disabled"
    );
    assert_eq!(meta.delete_date, None);
    assert!(matches!(
        kms.cancel_key_deletion(&id),
        Err(KmsError::InvalidParameter(_))
    ));
    kms.enable_key(&id).unwrap();
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t")
            .unwrap()
            .as_bytes(),
        g.plaintext.as_bytes()
    );

    // 30 days is the upper bound; a Disabled key can be scheduled too.
    kms.disable_key(&id).unwrap();
    assert_eq!(
        kms.schedule_key_deletion(&id, 30)
            .unwrap()
            .delete_date
            .as_deref(),
        Some("2024-05-31T12:00:00Z")
    );
}

#[test]
fn delete_key_now_crypto_shreds() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let id = kms.create_key("doomed").unwrap().key_id;
    let keep = kms.create_key("kept").unwrap().key_id;
    kms.create_alias("alias/doomed", &id).unwrap();
    let c = ctx("b", "k");
    let g = kms.generate_data_key(&named(&id), &c, "t").unwrap();

    assert!(
        matches!(kms.delete_key_now(&id), Err(KmsError::InvalidParameter(_))),
        "must be scheduled first"
    );
    kms.schedule_key_deletion(&id, 7).unwrap();
    kms.delete_key_now(&id).unwrap();

    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t").unwrap_err(),
        KmsError::KeyDeleted
    );
    assert_eq!(
        kms.generate_data_key(&named(&id), &c, "t").unwrap_err(),
        KmsError::KeyDeleted
    );
    assert_eq!(kms.describe_key(&id).unwrap_err(), KmsError::KeyDeleted);
    assert_eq!(kms.enable_key(&id).unwrap_err(), KmsError::KeyDeleted);
    assert_eq!(
        kms.cancel_key_deletion(&id).unwrap_err(),
        KmsError::KeyDeleted
    );
    assert_eq!(kms.delete_key_now(&id).unwrap_err(), KmsError::KeyDeleted);
    assert_eq!(kms.rotate_key(&id).unwrap_err(), KmsError::KeyDeleted);
    assert_eq!(
        kms.create_alias("alias/again", &id).unwrap_err(),
        KmsError::KeyDeleted
    );
    assert_eq!(
        kms.generate_data_key(&named("alias/doomed"), &c, "t")
            .unwrap_err(),
        KmsError::AliasNotFound("alias/doomed".into()),
        "the key's aliases went with it"
    );
    let listed: Vec<String> = kms.list_keys().into_iter().map(|k| k.key_id).collect();
    assert_eq!(listed, vec![keep.clone()]);

    // The material is gone from the state file, and the tombstone survives a restart.
    drop(kms);
    let state = std::fs::read_to_string(dir.path().join(STATE_FILE_NAME)).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(parsed["keys"][&id]["versions"].as_array().unwrap().len(), 0);
    assert_eq!(parsed["keys"][&id]["state"], "Deleted");
    let kms = open(dir.path());
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t").unwrap_err(),
        KmsError::KeyDeleted
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        kms.describe_key(&unknown).unwrap_err(),
        KmsError::KeyNotFound(unknown)
    );
}

#[test]
fn purge_expired_destroys_keys_whose_window_ended() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let kms = open_with_clock(dir.path(), &clock, None);
    let short = kms.create_key("7 days").unwrap().key_id;
    let long = kms.create_key("30 days").unwrap().key_id;
    let c = ctx("b", "k");
    let g = kms.generate_data_key(&named(&short), &c, "t").unwrap();
    kms.schedule_key_deletion(&short, 7).unwrap();
    kms.schedule_key_deletion(&long, 30).unwrap();

    clock.advance(6 * DAY);
    assert!(kms.purge_expired().unwrap().is_empty());
    assert_eq!(
        kms.describe_key(&short).unwrap().state,
        KeyState::PendingDeletion
    );

    clock.advance(DAY);
    assert_eq!(
        kms.purge_expired().unwrap(),
        vec![short.clone()],
        "due exactly at the delete date"
    );
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t").unwrap_err(),
        KmsError::KeyDeleted
    );
    assert_eq!(
        kms.describe_key(&long).unwrap().state,
        KeyState::PendingDeletion
    );
    assert!(
        kms.purge_expired().unwrap().is_empty(),
        "nothing left to purge"
    );

    clock.advance(30 * DAY);
    assert_eq!(kms.purge_expired().unwrap(), vec![long.clone()]);
    assert!(kms.list_keys().is_empty());
}

#[test]
fn default_cmk_is_created_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    assert_eq!(kms.default_key_id(), None);
    assert_eq!(
        kms.describe_key(DEFAULT_KEY_ALIAS).unwrap_err(),
        KmsError::AliasNotFound(DEFAULT_KEY_ALIAS.into())
    );
    let c = ctx("b", "k");
    let g1 = kms
        .generate_data_key(&KeySelector::Default, &c, "t")
        .unwrap();
    let g2 = kms
        .generate_data_key(&KeySelector::Default, &c, "t")
        .unwrap();
    assert_eq!(g1.wrapped.key_id, g2.wrapped.key_id);
    let default_id = g1.wrapped.key_id.clone();
    assert_eq!(kms.default_key_id().as_deref(), Some(default_id.as_str()));
    let meta = kms.describe_key(DEFAULT_KEY_ALIAS).unwrap();
    assert_eq!(meta.key_id, default_id);
    assert!(meta.default_key);
    assert_eq!(meta.aliases, vec![DEFAULT_KEY_ALIAS.to_owned()]);
    assert_eq!(kms.list_keys().len(), 1);
    // Naming the alias works like Default.
    let g3 = kms
        .generate_data_key(&named(DEFAULT_KEY_ALIAS), &c, "t")
        .unwrap();
    assert_eq!(g3.wrapped.key_id, default_id);
    assert_eq!(KeySelector::from_header(None), KeySelector::Default);
    assert_eq!(KeySelector::from_header(Some(" ")), KeySelector::Default);
    assert_eq!(KeySelector::from_header(Some("alias/x")), named("alias/x"));

    drop(kms);
    let kms = open(dir.path());
    let g4 = kms
        .generate_data_key(&KeySelector::Default, &c, "t")
        .unwrap();
    assert_eq!(g4.wrapped.key_id, default_id, "reused across reopen");
    assert_eq!(
        kms.decrypt_data_key(&g1.wrapped, &c, "t")
            .unwrap()
            .as_bytes(),
        g1.plaintext.as_bytes()
    );
    assert_eq!(kms.list_keys().len(), 1);

    // A disabled default key is reported, not replaced.
    kms.disable_key(&default_id).unwrap();
    assert_eq!(
        kms.generate_data_key(&KeySelector::Default, &c, "t")
            .unwrap_err(),
        KmsError::KeyDisabled
    );
    // A deleted one is replaced by a new default key on next use.
    kms.schedule_key_deletion(&default_id, 7).unwrap();
    assert_eq!(
        kms.generate_data_key(&KeySelector::Default, &c, "t")
            .unwrap_err(),
        KmsError::KeyPendingDeletion
    );
    kms.delete_key_now(&default_id).unwrap();
    assert_eq!(kms.default_key_id(), None);
    let g5 = kms
        .generate_data_key(&KeySelector::Default, &c, "t")
        .unwrap();
    assert_ne!(g5.wrapped.key_id, default_id);
    assert_eq!(
        kms.describe_key(DEFAULT_KEY_ALIAS).unwrap().key_id,
        g5.wrapped.key_id
    );
}

#[test]
fn aliases() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let a = kms.create_key("a").unwrap().key_id;
    let b = kms.create_key("b").unwrap().key_id;
    kms.create_alias("alias/app-1", &a).unwrap();
    kms.create_alias("alias/team/app_2", &a).unwrap();
    kms.create_alias("alias/b", &b).unwrap();
    assert_eq!(kms.describe_key("alias/app-1").unwrap().key_id, a);
    assert_eq!(
        kms.describe_key(&a).unwrap().aliases,
        vec!["alias/app-1".to_owned(), "alias/team/app_2".to_owned()]
    );
    assert_eq!(
        kms.list_aliases(),
        vec![
            ("alias/app-1".to_owned(), a.clone()),
            ("alias/b".to_owned(), b.clone()),
            ("alias/team/app_2".to_owned(), a.clone())
        ]
    );
    let c = ctx("b", "k");
    let g = kms.generate_data_key(&named("alias/b"), &c, "t").unwrap();
    assert_eq!(
        g.wrapped.key_id, b,
        "the wrapped key records the resolved id, not the alias"
    );

    // An alias to an alias resolves to the key.
    kms.create_alias("alias/via-alias", "alias/b").unwrap();
    assert_eq!(kms.describe_key("alias/via-alias").unwrap().key_id, b);

    assert!(
        matches!(
            kms.create_alias("alias/b", &a),
            Err(KmsError::InvalidParameter(_))
        ),
        "duplicate"
    );
    for bad in [
        "b",
        "alias/",
        "alias/with space",
        "alias/ünï",
        "Alias/x",
        &format!("alias/{}", "x".repeat(250)),
    ] {
        assert!(
            matches!(
                kms.create_alias(bad, &a),
                Err(KmsError::InvalidParameter(_))
            ),
            "{bad}"
        );
    }
    assert!(
        matches!(
            kms.create_alias("alias/acs/mine", &a),
            Err(KmsError::InvalidParameter(_))
        ),
        "reserved"
    );
    assert!(
        matches!(
            kms.delete_alias(DEFAULT_KEY_ALIAS),
            Err(KmsError::InvalidParameter(_))
        ),
        "reserved"
    );
    assert_eq!(
        kms.create_alias("alias/x", "alias/nope").unwrap_err(),
        KmsError::AliasNotFound("alias/nope".into())
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        kms.create_alias("alias/x", &unknown).unwrap_err(),
        KmsError::KeyNotFound(unknown.clone())
    );
    assert_eq!(
        kms.generate_data_key(&named(&unknown), &c, "t")
            .unwrap_err(),
        KmsError::KeyNotFound(unknown.clone())
    );
    assert!(matches!(
        kms.generate_data_key(&named("not-a-key-id"), &c, "t"),
        Err(KmsError::InvalidParameter(_))
    ));
    assert_eq!(
        kms.describe_key(&a.to_uppercase()).unwrap().key_id,
        a,
        "ids are case-insensitive"
    );

    kms.delete_alias("alias/b").unwrap();
    assert_eq!(
        kms.delete_alias("alias/b").unwrap_err(),
        KmsError::AliasNotFound("alias/b".into())
    );
    assert_eq!(
        kms.describe_key("alias/b").unwrap_err(),
        KmsError::AliasNotFound("alias/b".into())
    );
    // The key itself is untouched.
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t")
            .unwrap()
            .as_bytes(),
        g.plaintext.as_bytes()
    );

    drop(kms);
    let kms = open(dir.path());
    assert_eq!(kms.list_aliases().len(), 3);
    assert_eq!(kms.describe_key("alias/team/app_2").unwrap().key_id, a);
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2024-01-02 03:04:05.678 UTC),
    ));
    let kms = open_with_clock(dir.path(), &clock, None);
    // list_keys is ordered by creation date (then id).
    let enabled = kms.create_key("enabled key").unwrap();
    clock.advance(Duration::from_millis(1));
    let disabled = kms.create_key("disabled key").unwrap().key_id;
    clock.advance(Duration::from_millis(1));
    let pending = kms.create_key("pending key").unwrap().key_id;
    kms.disable_key(&disabled).unwrap();
    kms.schedule_key_deletion(&pending, 10).unwrap();
    kms.rotate_key(&enabled.key_id).unwrap();
    let c = ctx("b", "k");
    let g = kms
        .generate_data_key(&named(&enabled.key_id), &c, "t")
        .unwrap();
    let s = kms.generate_service_data_key(&c, "t").unwrap();
    let before = kms.list_keys();
    drop(kms);

    let kms = open_with_clock(dir.path(), &clock, None);
    let mut after = kms.list_keys();
    // Usage counters are in memory only.
    assert_eq!(
        before[0].usage,
        KeyUsage {
            generate_data_key: 1,
            decrypt: 0
        }
    );
    after[0].usage = before[0].usage;
    assert_eq!(before, after);
    assert_eq!(after[0].creation_date, "2024-01-02T03:04:05Z");
    assert_eq!(after[0].description, "enabled key");
    assert_eq!(after[0].primary_key_version, 2);
    assert_eq!(after[1].state, KeyState::Disabled);
    assert_eq!(after[2].state, KeyState::PendingDeletion);
    assert_eq!(
        after[2].delete_date.as_deref(),
        Some("2024-01-12T03:04:05Z")
    );
    assert_eq!(
        kms.decrypt_data_key(&g.wrapped, &c, "t")
            .unwrap()
            .as_bytes(),
        g.plaintext.as_bytes()
    );
    assert_eq!(
        kms.decrypt_service_data_key(&s.wrapped, &c, "t")
            .unwrap()
            .as_bytes(),
        s.plaintext.as_bytes()
    );
}

#[test]
fn wrong_root_key_and_concurrent_open_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    kms.create_key("").unwrap();
    let second = Kms::open(dir.path(), RootKey::from_bytes(ROOT), KmsConfig::default());
    assert!(
        matches!(second, Err(KmsError::Storage(_))),
        "directory is locked while open"
    );
    drop(kms);
    let wrong = Kms::open(
        dir.path(),
        RootKey::from_bytes([1; 32]),
        KmsConfig::default(),
    );
    assert!(matches!(wrong, Err(KmsError::Storage(_))));
    let zero = KmsConfig {
        service_key_rotation: Duration::ZERO,
        audit_log: None,
    };
    assert!(matches!(
        Kms::open(dir.path(), RootKey::from_bytes(ROOT), zero),
        Err(KmsError::InvalidParameter(_))
    ));
    open(dir.path());
}

#[test]
fn state_file_holds_no_plaintext_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let id = kms.create_key("").unwrap().key_id;
    kms.rotate_key(&id).unwrap();
    let c = ctx("b", "k");
    let data_keys = [
        kms.generate_data_key(&named(&id), &c, "t").unwrap(),
        kms.generate_data_key(&KeySelector::Default, &c, "t")
            .unwrap(),
        kms.generate_service_data_key(&c, "t").unwrap(),
    ];
    drop(kms);

    let path = dir.path().join(STATE_FILE_NAME);
    let file = std::fs::read(&path).unwrap();
    for g in &data_keys {
        assert_absent(&file, g.plaintext.as_bytes(), "a data key");
    }
    assert_absent(&file, &ROOT, "the root key");
    let material = unseal_all_material(&path);
    // Service key v1, CMK v1 and v2, default CMK v1.
    assert_eq!(material.len(), 4);
    for (id, version, bytes) in &material {
        assert_absent(&file, bytes, &format!("material of {id} v{version}"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn root_key_file_is_created_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets").join("root.key");
    let a = RootKey::load_or_create_file(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64);
    assert!(text.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let b = RootKey::load_or_create_file(&path).unwrap();

    // Same key both times: a KMS made with one opens with the other.
    let kms_dir = dir.path().join("kms");
    let kms = Kms::open(&kms_dir, a, KmsConfig::default()).unwrap();
    let g = kms.generate_service_data_key(&ctx("b", "k"), "t").unwrap();
    drop(kms);
    let kms = Kms::open(&kms_dir, b, KmsConfig::default()).unwrap();
    assert_eq!(
        kms.decrypt_service_data_key(&g.wrapped, &ctx("b", "k"), "t")
            .unwrap()
            .as_bytes(),
        g.plaintext.as_bytes()
    );
    let from_hex = RootKey::from_hex(text.trim()).unwrap();
    drop(kms);
    Kms::open(&kms_dir, from_hex, KmsConfig::default()).unwrap();
}

/// The version a request rotates to on demand is durable before any request can wrap a
/// key under it: a KMS reopened right after (as after a kill -9) unwraps that key.
#[test]
fn service_key_rotation_on_demand_persists() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let kms = open_with_clock(dir.path(), &clock, None);
    let c = ctx("b", "k");
    clock.advance(31 * DAY);
    let first = kms.generate_service_data_key(&c, "t").unwrap();
    assert_eq!(first.wrapped.key_version, 1);
    // Requests in the window before the save is durable keep getting version 1.
    let mut rotated = None;
    for _ in 0..10_000 {
        let g = kms.generate_service_data_key(&c, "t").unwrap();
        if g.wrapped.key_version == 2 {
            rotated = Some(g);
            break;
        }
        assert_eq!(g.wrapped.key_version, 1);
        std::thread::sleep(Duration::from_millis(1));
    }
    let rotated = rotated.expect("the saver made version 2 live");
    // Read the file a crash would leave: a second KMS cannot open the locked directory,
    // so copy the state as it is on disk now.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join(coffer_kms::STATE_FILE_NAME),
        copy.path().join(coffer_kms::STATE_FILE_NAME),
    )
    .unwrap();
    let reopened = open_with_clock(copy.path(), &clock, None);
    for g in [&first, &rotated] {
        let key = reopened
            .decrypt_service_data_key(&g.wrapped, &c, "t")
            .unwrap();
        assert_eq!(key.as_bytes(), g.plaintext.as_bytes());
    }
    assert_eq!(reopened.service_key_info().versions, 2);
}

/// An admin write racing a rotation's save loses neither change on disk: writers are
/// serialised, so each save includes the other's committed change.
#[test]
fn rotation_save_and_admin_writes_keep_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let kms = Arc::new(open_with_clock(dir.path(), &clock, None));
    clock.advance(31 * DAY);
    let admin = {
        let kms = kms.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                kms.create_key(&format!("k{i}")).unwrap();
            }
        })
    };
    kms.generate_service_data_key(&ctx("b", "k"), "t").unwrap();
    admin.join().unwrap();
    kms.wait_for_rotation();
    drop(Arc::into_inner(kms).unwrap());
    let reopened = open_with_clock(dir.path(), &clock, None);
    assert_eq!(reopened.list_keys().len(), 20);
    assert_eq!(reopened.service_key_info().versions, 2);
}

#[test]
fn service_key_rotates_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let kms = open_with_clock(dir.path(), &clock, None);
    let c = ctx("b", "k");
    let g1 = kms.generate_service_data_key(&c, "t").unwrap();
    assert_eq!(
        (g1.wrapped.key_id.as_str(), g1.wrapped.key_version),
        (SERVICE_KEY_ID, 1)
    );
    assert!(!kms.rotate_service_key_if_due().unwrap());

    clock.advance(29 * DAY);
    assert!(!kms.rotate_service_key_if_due().unwrap());
    assert_eq!(
        kms.generate_service_data_key(&c, "t")
            .unwrap()
            .wrapped
            .key_version,
        1
    );

    clock.advance(DAY);
    assert!(kms.rotate_service_key_if_due().unwrap());
    assert!(!kms.rotate_service_key_if_due().unwrap(), "once per period");
    let g2 = kms.generate_service_data_key(&c, "t").unwrap();
    assert_eq!(g2.wrapped.key_version, 2);

    // generate_service_data_key also rotates by itself when the server has not: the
    // call that finds rotation due still uses the current (durable) version, and the new
    // one goes live once the saver thread has saved it.
    clock.advance(31 * DAY);
    let due = kms.generate_service_data_key(&c, "t").unwrap();
    assert_eq!(due.wrapped.key_version, 2);
    kms.wait_for_rotation();
    let g3 = kms.generate_service_data_key(&c, "t").unwrap();
    assert_eq!(g3.wrapped.key_version, 3);
    let info = kms.service_key_info();
    assert_eq!((info.primary_key_version, info.versions), (3, 3));

    // The service key is not a CMK.
    assert!(kms.list_keys().is_empty());
    assert!(matches!(
        kms.describe_key(SERVICE_KEY_ID),
        Err(KmsError::InvalidParameter(_))
    ));
    assert!(matches!(
        kms.decrypt_data_key(&g1.wrapped, &c, "t"),
        Err(KmsError::InvalidParameter(_))
    ));

    drop(kms);
    let kms = open_with_clock(dir.path(), &clock, None);
    for g in [&g1, &g2, &g3] {
        assert_eq!(
            kms.decrypt_service_data_key(&g.wrapped, &c, "t")
                .unwrap()
                .as_bytes(),
            g.plaintext.as_bytes()
        );
    }
    assert_eq!(
        kms.decrypt_service_data_key(&g1.wrapped, &ctx("b", "other"), "t")
            .unwrap_err(),
        KmsError::InvalidCiphertext
    );
    let future = WrappedKey {
        key_version: 4,
        ..g3.wrapped.clone()
    };
    assert_eq!(
        kms.decrypt_service_data_key(&future, &c, "t").unwrap_err(),
        KmsError::InvalidCiphertext
    );
    let cmk = kms.create_key("").unwrap().key_id;
    let kms_wrapped = kms
        .generate_data_key(&named(&cmk), &c, "t")
        .unwrap()
        .wrapped;
    assert!(matches!(
        kms.decrypt_service_data_key(&kms_wrapped, &c, "t"),
        Err(KmsError::InvalidParameter(_))
    ));
}

#[test]
fn usage_counts_successful_calls() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let id = kms.create_key("").unwrap().key_id;
    let c = ctx("b", "k");
    let g = kms.generate_data_key(&named(&id), &c, "t").unwrap();
    kms.generate_data_key(&named(&id), &c, "t").unwrap();
    kms.decrypt_data_key(&g.wrapped, &c, "t").unwrap();
    kms.decrypt_data_key(&g.wrapped, &ctx("b", "x"), "t")
        .unwrap_err();
    let s = kms.generate_service_data_key(&c, "t").unwrap();
    kms.decrypt_service_data_key(&s.wrapped, &c, "t").unwrap();
    kms.decrypt_service_data_key(&s.wrapped, &c, "t").unwrap();

    assert_eq!(
        kms.describe_key(&id).unwrap().usage,
        KeyUsage {
            generate_data_key: 2,
            decrypt: 1
        }
    );
    assert_eq!(
        kms.usage_snapshot(),
        vec![
            (
                id.clone(),
                KeyUsage {
                    generate_data_key: 2,
                    decrypt: 1
                }
            ),
            (
                SERVICE_KEY_ID.to_owned(),
                KeyUsage {
                    generate_data_key: 1,
                    decrypt: 2
                }
            )
        ]
    );
    assert_eq!(
        kms.service_key_info().usage,
        KeyUsage {
            generate_data_key: 1,
            decrypt: 2
        }
    );
}

#[test]
fn key_metadata_json_uses_alibaba_names() {
    let dir = tempfile::tempdir().unwrap();
    let kms = open(dir.path());
    let meta = kms.create_key("desc").unwrap();
    kms.create_alias("alias/x", &meta.key_id).unwrap();
    let json = serde_json::to_value(kms.describe_key("alias/x").unwrap()).unwrap();
    assert_eq!(json["KeyId"], meta.key_id.as_str());
    assert_eq!(json["KeyState"], "Enabled");
    assert_eq!(json["Description"], "desc");
    assert_eq!(json["Aliases"][0], "alias/x");
    assert_eq!(json["PrimaryKeyVersion"], 1);
    assert_eq!(json["KeySpec"], "Aliyun_AES_256");
    assert_eq!(json["Usage"]["GenerateDataKey"], 0);
    assert!(json["CreationDate"].as_str().unwrap().ends_with('Z'));
    assert!(json.get("DeleteDate").is_none());
    kms.schedule_key_deletion(&meta.key_id, 7).unwrap();
    let json = serde_json::to_value(kms.describe_key(&meta.key_id).unwrap()).unwrap();
    assert_eq!(json["KeyState"], "PendingDeletion");
    assert!(json["DeleteDate"].is_string());
}

#[test]
fn audit_log_records_uses_and_admin_ops_without_key_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("logs").join("kms-audit.jsonl");
    let clock = Arc::new(ManualClock::starting_now());
    let kms = open_with_clock(&dir.path().join("kms"), &clock, Some(&audit));
    let id = kms.create_key("audited").unwrap().key_id;
    kms.create_alias("alias/audited", &id).unwrap();
    let c = ctx("photos", "2024/cat.jpg");
    let g = kms
        .generate_data_key(&named("alias/audited"), &c, "alice")
        .unwrap();
    kms.decrypt_data_key(&g.wrapped, &c, "bob").unwrap();
    let s = kms.generate_service_data_key(&c, "carol").unwrap();
    kms.decrypt_service_data_key(&s.wrapped, &c, "carol")
        .unwrap();
    let d = kms
        .generate_data_key(&KeySelector::Default, &c, "dave")
        .unwrap();
    kms.rotate_key(&id).unwrap();
    kms.disable_key(&id).unwrap();
    kms.decrypt_data_key(&g.wrapped, &c, "mallory").unwrap_err();
    kms.schedule_key_deletion(&id, 3).unwrap_err();
    clock.advance(31 * DAY);
    kms.rotate_service_key_if_due().unwrap();
    drop(kms);

    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ops: Vec<&str> = lines
        .iter()
        .map(|l| l["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "CreateServiceKey",
            "CreateKey",
            "CreateAlias",
            "GenerateDataKey",
            "Decrypt",
            "GenerateServiceDataKey",
            "DecryptServiceDataKey",
            "CreateKey", // the default CMK, created on first use
            "GenerateDataKey",
            "RotateKey",
            "DisableKey",
            "Decrypt",
            "ScheduleKeyDeletion",
            "RotateServiceKey",
        ]
    );
    let gen_line = &lines[3];
    assert_eq!(gen_line["caller"], "alice");
    assert_eq!(
        gen_line["key_id"],
        id.as_str(),
        "the resolved id, not the alias"
    );
    assert_eq!(gen_line["key_version"], 1);
    assert_eq!(gen_line["context"]["bucket"], "photos");
    assert_eq!(gen_line["context"]["object"], "2024/cat.jpg");
    assert_eq!(gen_line["outcome"], "ok");
    assert!(
        time::OffsetDateTime::parse(
            gen_line["time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    assert_eq!(lines[5]["key_id"], SERVICE_KEY_ID);
    assert_eq!(lines[7]["key_id"], d.wrapped.key_id.as_str());
    assert_eq!(lines[9]["key_version"], 2);
    assert_eq!(lines[11]["caller"], "mallory");
    assert_eq!(lines[11]["outcome"], "KeyDisabled");
    assert_eq!(lines[12]["outcome"], "InvalidParameter");
    assert_eq!(lines[12]["detail"]["pending_window_days"], "3");
    assert_eq!(lines[13]["key_version"], 2);

    let bytes = text.as_bytes();
    for key in [&g.plaintext, &s.plaintext, &d.plaintext] {
        assert_absent(bytes, key.as_bytes(), "a data key");
    }
    for (id, version, material) in
        unseal_all_material(&dir.path().join("kms").join(STATE_FILE_NAME))
    {
        assert_absent(bytes, &material, &format!("material of {id} v{version}"));
    }
    assert_absent(bytes, &ROOT, "the root key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&audit).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn concurrent_use_from_threads() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(open(dir.path()));
    let id = kms.create_key("").unwrap().key_id;
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let kms = kms.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let c = ctx("b", &format!("{t}/{i}"));
                    let g = kms.generate_data_key(&named(&id), &c, "t").unwrap();
                    assert_eq!(
                        kms.decrypt_data_key(&g.wrapped, &c, "t")
                            .unwrap()
                            .as_bytes(),
                        g.plaintext.as_bytes()
                    );
                    if i == 25 && t == 0 {
                        kms.rotate_key(&id).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        kms.describe_key(&id).unwrap().usage,
        KeyUsage {
            generate_data_key: 400,
            decrypt: 400
        }
    );
}

/// A use served from the caller's cache is audited like the call it saved, marked as
/// served from cache, without bumping the usage counters; a disabled CMK or a missing
/// right refuses it (and that refusal is audited too).
#[test]
fn cached_uses_are_audited_and_checked() {
    use coffer_kms::CachedOperation;
    struct OnlyAlice;
    impl coffer_kms::KeyAccess for OnlyAlice {
        fn allowed(&self, caller: &str, _action: &str, _key_id: &str) -> bool {
            caller == "alice"
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let clock = Arc::new(ManualClock::starting_now());
    let kms = open_with_clock(&dir.path().join("kms"), &clock, Some(&audit));
    let id = kms.create_key("cached").unwrap().key_id;
    kms.set_key_access(Arc::new(OnlyAlice));
    let c = EncryptionContext([("bucket".to_owned(), "photos".to_owned())].into());
    let use_as = |op, key: &str, caller: &str| kms.record_cached_use(op, key, 1, &c, caller);
    use_as(CachedOperation::Decrypt, &id, "alice").unwrap();
    use_as(CachedOperation::GenerateDataKey, &id, "alice").unwrap();
    use_as(
        CachedOperation::DecryptServiceDataKey,
        SERVICE_KEY_ID,
        "bob",
    )
    .unwrap();
    assert!(matches!(
        use_as(CachedOperation::Decrypt, &id, "bob"),
        Err(KmsError::AccessDenied)
    ));
    kms.disable_key(&id).unwrap();
    assert!(matches!(
        use_as(CachedOperation::Decrypt, &id, "alice"),
        Err(KmsError::KeyDisabled)
    ));
    assert_eq!(kms.describe_key(&id).unwrap().usage, KeyUsage::default());
    drop(kms);

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &serde_json::Value| l["detail"]["served_from"] == "cache")
        .collect();
    let seen: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["operation"].as_str().unwrap(),
                l["caller"].as_str().unwrap(),
                l["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("Decrypt", "alice", "ok"),
            ("GenerateDataKey", "alice", "ok"),
            ("DecryptServiceDataKey", "bob", "ok"),
            ("Decrypt", "bob", "AccessDenied"),
            ("Decrypt", "alice", "KeyDisabled"),
        ]
    );
    assert_eq!(lines[0]["key_id"], id.as_str());
    assert_eq!(lines[0]["context"]["bucket"], "photos");
}
