//! The record's rules with file and embedded sources (the token is exercised end to end by
//! the server's tests, against SoftHSM2).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn open_ok(dir: &Path, source: &RootKeySource, state: bool) -> OpenedRootKey {
    open(dir, source, Unlock::default(), state).unwrap()
}

fn refusal(dir: &Path, source: &RootKeySource, state: bool) -> String {
    match open(dir, source, Unlock::default(), state) {
        Ok(_) => panic!("{source} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn embedded_default_is_generated_recorded_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let opened = open_ok(dir.path(), &RootKeySource::Embedded, false);
    opened.pending.commit().unwrap();
    assert!(dir.path().join(EMBEDDED_FILE).exists());
    let record = record::load(dir.path()).unwrap().unwrap();
    assert_eq!(record.kind, "embedded");
    assert!(record.matches(&opened.key));
    assert!(opened.status.beside_data());
    let warning = opened.status.warning().unwrap();
    assert!(warning.contains("--root-key file:"), "{warning}");
    // The same key again on the next start.
    let again = open_ok(dir.path(), &RootKeySource::Embedded, true);
    assert_eq!(
        again.key.expose_for_sealing(),
        opened.key.expose_for_sealing()
    );
}

#[test]
fn moving_root_key_out_keeps_the_key_and_then_the_data_dir_alone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let first = open_ok(dir.path(), &RootKeySource::Embedded, false);
    let outside = secrets.path().join("root.key");
    fs::rename(dir.path().join(EMBEDDED_FILE), &outside).unwrap();

    let file = RootKeySource::File(outside.clone());
    let moved = open_ok(dir.path(), &file, true);
    assert_eq!(
        moved.key.expose_for_sealing(),
        first.key.expose_for_sealing()
    );
    assert!(!moved.status.beside_data());
    assert_eq!(moved.status.warning(), None);
    assert_eq!(record::load(dir.path()).unwrap().unwrap().kind, "file");

    // A copy of the data directory started without the source: refused, naming it, and
    // no new root.key is made up.
    let err = refusal(dir.path(), &RootKeySource::Embedded, true);
    assert!(
        err.contains(&format!("file:{}", outside.display())),
        "{err}"
    );
    assert!(!dir.path().join(EMBEDDED_FILE).exists());
}

#[test]
fn a_different_key_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let right = secrets.path().join("right.key");
    let wrong = secrets.path().join("wrong.key");
    generate_file(&right).unwrap();
    generate_file(&wrong).unwrap();
    open_ok(dir.path(), &RootKeySource::File(right.clone()), false);
    let err = refusal(dir.path(), &RootKeySource::File(wrong), true);
    assert!(err.contains("not the one"), "{err}");
    assert!(err.contains(&format!("file:{}", right.display())), "{err}");
}

#[test]
fn a_data_dir_sealed_before_records_existed_is_recorded_only_once_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    // KMS state but neither root.key nor a record: sealed under COFFER_ROOT_KEY, say.
    let err = refusal(dir.path(), &RootKeySource::Embedded, true);
    assert!(err.contains("no --root-key was given"), "{err}");
    assert!(!dir.path().join(EMBEDDED_FILE).exists());

    let path = secrets.path().join("root.key");
    generate_file(&path).unwrap();
    let opened = open_ok(dir.path(), &RootKeySource::File(path), true);
    assert!(
        record::load(dir.path()).unwrap().is_none(),
        "not before commit"
    );
    opened.pending.commit().unwrap();
    assert!(
        record::load(dir.path())
            .unwrap()
            .unwrap()
            .matches(&opened.key)
    );
}

#[test]
fn a_token_source_on_an_embedded_data_dir_that_lost_root_key_is_refused_before_the_token() {
    let dir = tempfile::tempdir().unwrap();
    open_ok(dir.path(), &RootKeySource::Embedded, false);
    fs::remove_file(dir.path().join(EMBEDDED_FILE)).unwrap();
    let token = RootKeySource::parse("pkcs11:module=/nonexistent.so;token=t;key=k").unwrap();
    let err = refusal(dir.path(), &token, true);
    assert!(err.contains("which is missing"), "{err}");
}

#[test]
fn a_shared_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let path = secrets.path().join("root.key");
    generate_file(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = refusal(dir.path(), &RootKeySource::File(path.clone()), false);
    assert!(
        err.contains(&format!("chmod 600 {}", path.display())),
        "{err}"
    );
    assert!(record::load(dir.path()).unwrap().is_none());
}

#[test]
fn a_vault_source_without_a_key_manager_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let source = RootKeySource::parse("vault:key=coffer-root").unwrap();
    let err = refusal(dir.path(), &source, false);
    assert!(err.contains("--vault-addr"), "{err}");
    assert!(
        record::load(dir.path()).unwrap().is_none(),
        "nothing recorded"
    );
}
