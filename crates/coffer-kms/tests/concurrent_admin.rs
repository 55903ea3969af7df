//! Concurrent admin operations: none loses another's change, in memory or on disk.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use coffer_kms::{
    EncryptionContext, KeySelector, KeyState, Kms, KmsConfig, RootKey, STATE_FILE_NAME,
};

const THREADS: usize = 4;
const KEYS_PER_THREAD: usize = 6;

fn open(dir: &Path) -> Kms {
    Kms::open(dir, RootKey::from_bytes([9; 32]), KmsConfig::default()).unwrap()
}

/// Each thread creates keys and changes them (alias, disable, rotate), racing the others.
fn churn(kms: &Kms, thread: usize) {
    for i in 0..KEYS_PER_THREAD {
        let id = kms.create_key(&format!("t{thread}-{i}")).unwrap().key_id;
        kms.create_alias(&format!("alias/t{thread}-{i}"), &id)
            .unwrap();
        if i.is_multiple_of(2) {
            kms.disable_key(&id).unwrap();
        } else {
            kms.rotate_key(&id).unwrap();
        }
    }
}

#[test]
fn concurrent_admin_ops_keep_every_change_and_reopen_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(open(dir.path()));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let kms = kms.clone();
            std::thread::spawn(move || churn(&kms, t))
        })
        .collect();
    // A first-use default CMK races the admin writers too.
    let default = kms
        .generate_data_key(&KeySelector::Default, &EncryptionContext::new(), "t")
        .unwrap()
        .wrapped
        .key_id;
    for worker in workers {
        worker.join().unwrap();
    }

    let keys = kms.list_keys();
    assert_eq!(keys.len(), THREADS * KEYS_PER_THREAD + 1);
    for key in keys.iter().filter(|k| k.key_id != default) {
        let (thread_and_index, i) = key.description.rsplit_once('-').unwrap();
        let i: usize = i.parse().unwrap();
        assert_eq!(key.aliases, [format!("alias/{thread_and_index}-{i}")]);
        let (state, versions) = if i.is_multiple_of(2) {
            (KeyState::Disabled, 1)
        } else {
            (KeyState::Enabled, 2)
        };
        assert_eq!((key.state, key.versions), (state, versions), "{key:?}");
    }
    let aliases = kms.list_aliases();
    assert_eq!(aliases.len(), THREADS * KEYS_PER_THREAD + 1);

    let on_disk = std::fs::read(dir.path().join(STATE_FILE_NAME)).unwrap();
    drop(Arc::into_inner(kms).unwrap());
    let reopened = open(dir.path());
    // Only the data-key call counted usage, and counters live in memory only.
    let without_usage = |mut keys: Vec<coffer_kms::KeyMetadata>| {
        keys.iter_mut().for_each(|k| k.usage = Default::default());
        keys
    };
    assert_eq!(without_usage(reopened.list_keys()), without_usage(keys));
    assert_eq!(reopened.list_aliases(), aliases);
    assert_eq!(reopened.default_key_id().as_deref(), Some(default.as_str()));
    assert_eq!(
        std::fs::read(dir.path().join(STATE_FILE_NAME)).unwrap(),
        on_disk,
        "reopening rewrites nothing"
    );
}
