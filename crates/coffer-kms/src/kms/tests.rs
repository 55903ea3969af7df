//! Saves off the data path: with a save held open by a test store, data-key calls still
//! answer, and the change being saved stays invisible until it is durable.

use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

use super::*;
use crate::{EncryptionContext, KeySelector, KeyState, ManualClock};

const PATIENCE: Duration = Duration::from_secs(20);

/// Holds saves while closed, so a test can look at the KMS in the middle of one.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    waiting: usize,
}

impl Gate {
    fn close(&self) {
        self.state.lock().unwrap().closed = true;
    }

    fn open(&self) {
        self.state.lock().unwrap().closed = false;
        self.changed.notify_all();
    }

    /// Waits until a save is held at the gate.
    fn wait_for_stalled_save(&self) {
        let state = self.state.lock().unwrap();
        let (state, timeout) = self
            .changed
            .wait_timeout_while(state, PATIENCE, |s| s.waiting == 0)
            .unwrap();
        assert!(
            !timeout.timed_out() && state.waiting == 1,
            "no save stalled"
        );
    }
}

struct GatedStore {
    inner: FileStore,
    gate: Arc<Gate>,
}

impl StateStore for GatedStore {
    fn save(&self, file: &StateFile) -> Result<(), KmsError> {
        let mut state = self.gate.state.lock().unwrap();
        if state.closed {
            state.waiting += 1;
            self.gate.changed.notify_all();
            state = self.gate.changed.wait_while(state, |s| s.closed).unwrap();
            state.waiting -= 1;
        }
        drop(state);
        self.inner.save(file)
    }
}

fn open_gated(dir: &Path) -> (Arc<Kms>, Arc<Gate>) {
    let gate = Arc::new(Gate::default());
    let store = Arc::new(GatedStore {
        inner: FileStore(dir.to_owned()),
        gate: gate.clone(),
    });
    let kms = Kms::open_with_store(
        dir,
        RootKey::from_bytes([7; 32]),
        KmsConfig::default(),
        Arc::new(ManualClock::starting_now()),
        store,
    )
    .unwrap();
    (Arc::new(kms), gate)
}

/// Runs `f` on another thread and fails the test if it does not finish in time (it would
/// be waiting for the stalled save).
fn promptly<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .expect("the call waited for a stalled save")
}

fn ctx() -> EncryptionContext {
    let mut ctx = EncryptionContext::new();
    ctx.0.insert("bucket".into(), "b".into());
    ctx
}

fn on_disk(dir: &Path) -> StateFile {
    store::load(dir).unwrap().unwrap()
}

#[test]
fn data_key_calls_proceed_while_an_admin_save_is_stalled() {
    let dir = tempfile::tempdir().unwrap();
    let (kms, gate) = open_gated(dir.path());
    let used = kms.create_key("used").unwrap().key_id;
    let changed = kms.create_key("changed").unwrap().key_id;
    let earlier = kms
        .generate_data_key(&KeySelector::Named(used.clone()), &ctx(), "t")
        .unwrap();

    gate.close();
    let admin = {
        let (kms, changed) = (kms.clone(), changed.clone());
        std::thread::spawn(move || kms.disable_key(&changed))
    };
    gate.wait_for_stalled_save();

    let during = {
        let (kms, used, changed) = (kms.clone(), used.clone(), changed.clone());
        promptly(move || {
            let generated = kms
                .generate_data_key(&KeySelector::Named(used), &ctx(), "t")
                .unwrap();
            let unwrapped = kms.decrypt_data_key(&earlier.wrapped, &ctx(), "t").unwrap();
            assert_eq!(unwrapped.as_bytes(), earlier.plaintext.as_bytes());
            kms.generate_service_data_key(&ctx(), "t").unwrap();
            // Not durable yet, so not visible yet.
            assert_eq!(kms.describe_key(&changed).unwrap().state, KeyState::Enabled);
            generated
        })
    };
    assert_eq!(
        on_disk(dir.path()).keys[&changed].state,
        StoredState::Enabled
    );

    gate.open();
    let meta = admin.join().unwrap().unwrap();
    assert_eq!(meta.state, KeyState::Disabled, "answered once durable");
    assert_eq!(
        on_disk(dir.path()).keys[&changed].state,
        StoredState::Disabled
    );
    assert_eq!(
        kms.describe_key(&changed).unwrap().state,
        KeyState::Disabled
    );
    let unwrapped = kms.decrypt_data_key(&during.wrapped, &ctx(), "t").unwrap();
    assert_eq!(unwrapped.as_bytes(), during.plaintext.as_bytes());
}

#[test]
fn the_default_cmk_is_used_only_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (kms, gate) = open_gated(dir.path());
    let other = kms.create_key("other").unwrap().key_id;
    assert!(
        kms.generate_data_key_from_memory(&KeySelector::Default, &ctx(), "t")
            .is_none(),
        "no default CMK yet: the in-memory call declines instead of saving"
    );
    assert_eq!(kms.default_key_id(), None);

    gate.close();
    let first_use = {
        let kms = kms.clone();
        std::thread::spawn(move || kms.generate_data_key(&KeySelector::Default, &ctx(), "t"))
    };
    gate.wait_for_stalled_save();
    {
        let kms = kms.clone();
        promptly(move || {
            assert!(
                kms.generate_data_key_from_memory(&KeySelector::Default, &ctx(), "t")
                    .is_none()
            );
            assert_eq!(kms.default_key_id(), None);
            kms.generate_data_key(&KeySelector::Named(other), &ctx(), "t")
                .unwrap();
        });
    }
    assert_eq!(on_disk(dir.path()).default_key_id, None);

    gate.open();
    let generated = first_use.join().unwrap().unwrap();
    let default_id = kms.default_key_id().unwrap();
    assert_eq!(generated.wrapped.key_id, default_id);
    assert_eq!(on_disk(dir.path()).default_key_id, Some(default_id));
    let again = kms
        .generate_data_key_from_memory(&KeySelector::Default, &ctx(), "t")
        .unwrap()
        .unwrap();
    assert_eq!(again.wrapped.key_id, generated.wrapped.key_id);
}
