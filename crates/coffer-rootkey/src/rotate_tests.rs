//! Rotation end to end on a real KMS state, interrupted at every step it can be.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use coffer_kms::{EncryptionContext, KeySelector, Kms, KmsConfig, WrappedKey};

use super::*;
use crate::open;

/// Another sealed state, standing in for the identity store: a file naming the check value
/// of the key it is sealed under. `fail` makes its next reseal fail, as a crash would.
struct Marker {
    path: PathBuf,
    fail: Cell<bool>,
}

impl SealedState for Marker {
    fn name(&self) -> String {
        "the marker".into()
    }

    fn sealed_by(&self, key: &RootKey) -> Result<Option<bool>, String> {
        Ok(std::fs::read_to_string(&self.path)
            .ok()
            .map(|c| c == check_value(key)))
    }

    fn reseal(&self, old: &RootKey, new: &RootKey) -> Result<(), String> {
        if self.fail.replace(false) {
            return Err("crashed".into());
        }
        match self.sealed_by(new)? {
            Some(true) => Ok(()),
            _ if self.sealed_by(old)? == Some(true) => {
                std::fs::write(&self.path, check_value(new)).map_err(|e| e.to_string())
            }
            _ => Err("sealed under neither key".into()),
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    wrapped: WrappedKey,
    plain: [u8; 32],
    marker: Marker,
}

const CONTEXT: (&str, &str) = ("b", "o");

/// A data directory under the embedded default with one CMK, one data key issued under
/// it, and a marker.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let opened = open(
        dir.path(),
        &RootKeySource::Embedded,
        Unlock::default(),
        false,
    )
    .unwrap();
    opened.pending.commit().unwrap();
    let kms = Kms::open(&kms_dir(dir.path()), opened.key, KmsConfig::default()).unwrap();
    let id = kms.create_key("t").unwrap().key_id;
    let context = EncryptionContext::for_object(CONTEXT.0, CONTEXT.1);
    let generated = kms
        .generate_data_key(&KeySelector::Named(id), &context, "t")
        .unwrap();
    let key = raw::from_file(&dir.path().join(EMBEDDED_FILE)).unwrap();
    let marker = Marker {
        path: dir.path().join("marker"),
        fail: Cell::new(false),
    };
    std::fs::write(&marker.path, check_value(&key)).unwrap();
    Fixture {
        wrapped: generated.wrapped.clone(),
        plain: *generated.plaintext.as_bytes(),
        dir,
        marker,
    }
}

fn kms_dir(data: &Path) -> PathBuf {
    data.join("kms")
}

impl Fixture {
    fn rotation<'a>(&'a self, current: &'a RootKeySource, new: &'a RootKeySource) -> Rotation<'a> {
        Rotation {
            data_dir: self.dir.path(),
            current,
            new,
            unlock: Unlock::default(),
        }
    }

    fn run(&self, current: &RootKeySource, new: &RootKeySource) -> Result<Rotated, RootKeyError> {
        let kms = KmsState(kms_dir(self.dir.path()));
        self.rotation(current, new).run(&[&kms, &self.marker])
    }

    /// The server's view: the root key opens, the KMS opens under it and decrypts the old
    /// data key, and the marker is under it too.
    fn assert_serves(&self, source: &RootKeySource) {
        let opened = open(self.dir.path(), source, Unlock::default(), true).unwrap();
        assert_eq!(self.marker.sealed_by(&opened.key).unwrap(), Some(true));
        let kms = Kms::open(&kms_dir(self.dir.path()), opened.key, KmsConfig::default()).unwrap();
        let context = EncryptionContext::for_object(CONTEXT.0, CONTEXT.1);
        let back = kms.decrypt_data_key(&self.wrapped, &context, "t").unwrap();
        assert_eq!(*back.as_bytes(), self.plain);
    }

    fn embedded_key(&self) -> RootKey {
        raw::from_file(&self.dir.path().join(EMBEDDED_FILE)).unwrap()
    }
}

#[test]
fn embedded_key_rotates_and_everything_opens_under_the_new_one() {
    let f = fixture();
    let old = f.embedded_key();
    let done = f
        .run(&RootKeySource::Embedded, &RootKeySource::Embedded)
        .unwrap();
    assert!(!done.resumed);
    assert!(!in_progress(f.dir.path()));
    let new = f.embedded_key();
    assert_ne!(check_value(&old), check_value(&new));
    f.assert_serves(&RootKeySource::Embedded);
    assert_eq!(
        coffer_kms::state_sealed_by(&kms_dir(f.dir.path()), &old).unwrap(),
        Some(false)
    );
}

/// A crash while re-sealing: the journal stays, the server refuses to start and says how to
/// finish, and the next run finishes.
#[test]
fn an_interrupted_rotation_blocks_start_up_and_resumes() {
    let f = fixture();
    let old = f.embedded_key();
    f.marker.fail.set(true);
    let err = f
        .run(&RootKeySource::Embedded, &RootKeySource::Embedded)
        .unwrap_err();
    assert!(err.to_string().contains("crashed"), "{err}");
    assert!(in_progress(f.dir.path()));
    // The KMS state is under the new key already, the marker still under the old one:
    // each readable by one of the two, both of which the journal and root.key hold.
    assert_eq!(f.marker.sealed_by(&old).unwrap(), Some(true));
    assert_eq!(
        coffer_kms::state_sealed_by(&kms_dir(f.dir.path()), &old).unwrap(),
        Some(false)
    );
    let refused = open(
        f.dir.path(),
        &RootKeySource::Embedded,
        Unlock::default(),
        true,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(refused.contains("coffer kms root rotate"), "{refused}");
    // Finishing needs the same new source.
    let other = RootKeySource::File("/nonexistent".into());
    let err = f.run(&RootKeySource::Embedded, &other).unwrap_err();
    assert!(err.to_string().contains("interrupted rotation"), "{err}");
    let done = f
        .run(&RootKeySource::Embedded, &RootKeySource::Embedded)
        .unwrap();
    assert!(done.resumed);
    f.assert_serves(&RootKeySource::Embedded);
}

/// A crash during the commit, after root.key was replaced but before the record was: the
/// next run sees the new key as current and only finishes the commit.
#[test]
fn a_crash_inside_the_commit_is_finished_by_the_next_run() {
    let f = fixture();
    f.marker.fail.set(true);
    f.run(&RootKeySource::Embedded, &RootKeySource::Embedded)
        .unwrap_err();
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dir.path().join(JOURNAL_FILE)).unwrap()).unwrap();
    let new = RootKey::from_hex(journal["new_embedded"].as_str().unwrap()).unwrap();
    let old = f.embedded_key();
    f.marker.reseal(&old, &new).unwrap();
    write_atomically(
        f.dir.path(),
        EMBEDDED_FILE,
        hex::encode(new.expose_for_sealing()).as_bytes(),
    )
    .unwrap();
    assert!(
        f.run(&RootKeySource::Embedded, &RootKeySource::Embedded)
            .unwrap()
            .resumed
    );
    f.assert_serves(&RootKeySource::Embedded);
}

#[test]
fn moves_from_the_embedded_default_to_a_key_file() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    let keys = tempfile::tempdir().unwrap();
    let path = keys.path().join("root.key");
    crate::generate_file(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = RootKeySource::File(path);
    let done = f.run(&RootKeySource::Embedded, &file).unwrap();
    assert_eq!(done.new_source, file.to_string());
    f.assert_serves(&file);
    assert!(
        !f.dir.path().join(EMBEDDED_FILE).exists(),
        "the old key is gone"
    );
    let err = f.run(&file, &file).unwrap_err();
    assert!(err.to_string().contains("is the current one"), "{err}");
    assert!(
        !in_progress(f.dir.path()),
        "a refused start leaves no journal"
    );
}

#[test]
fn a_wrong_current_key_changes_nothing() {
    let f = fixture();
    let keys = tempfile::tempdir().unwrap();
    let path = keys.path().join("other.key");
    crate::generate_file(&path).unwrap();
    let wrong = RootKeySource::File(path);
    let err = f.run(&wrong, &RootKeySource::Embedded).unwrap_err();
    assert!(err.to_string().contains("not the one"), "{err}");
    assert!(!in_progress(f.dir.path()));
    f.assert_serves(&RootKeySource::Embedded);
}
