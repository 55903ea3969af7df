//! The live KMS state, and the one way it changes: [`Writer::commit`].
//!
//! Two locks guard it. The state mutex ([`Shared::lock`]) guards the in-memory state every
//! call reads; data-key calls hold it only for an in-memory lookup and a seal. The writer
//! lock ([`Shared::begin_write`]) serialises everything that changes the state file: admin
//! operations, creating the default CMK on first use, service-key rotation. A writer takes
//! the writer lock first, never while holding the state mutex, and then:
//!
//! 1. copies the live file ([`Writer::snapshot`]; the state mutex is held for the copy),
//! 2. edits the copy without any lock but its own,
//! 3. saves it, with fsync, still without the state mutex ([`Writer::commit`]),
//! 4. makes it live under the state mutex (`apply`).
//!
//! Why this is safe. Lost updates: the file only changes through a [`Writer`], and only one
//! exists at a time, so the snapshot of step 1 is still the live state at step 4; two
//! concurrent admin operations each see the other's change. Order on disk: saves happen
//! one at a time in commit order, so an older state never overwrites a newer one.
//! Durability: a change becomes visible (to data-key calls, to the admin API's answer)
//! only after its save returned, and a save fsyncs the file and its directory. Blocking:
//! the fsync runs with only the writer lock held, so data-key calls, which never take it
//! once the default CMK exists, do not wait for it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ring::rand::SystemRandom;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::{AuditEvent, AuditLog};
use crate::kms::{KeyUsage, SERVICE_KEY_ID};
use crate::store::{self, StateFile, StoredState, VersionRecord};
use crate::{KmsError, RootKey, crypto};

/// A key version's identity: key id (or `"service"`) and version number.
pub(crate) type MaterialId = (String, u32);

/// Unsealed material of new versions, made live together with the file that records them.
pub(crate) type NewMaterial = Vec<(MaterialId, Zeroizing<Vec<u8>>)>;

/// What every call reads: the state file as last saved, plus what only lives in memory.
pub(crate) struct State {
    pub(crate) file: StateFile,
    /// Unsealed material of every live CMK version and service key version.
    pub(crate) material: HashMap<MaterialId, Zeroizing<Vec<u8>>>,
    pub(crate) usage: HashMap<String, KeyUsage>,
}

impl State {
    /// The service master key's newest version, the one new data keys are wrapped under.
    pub(crate) fn current_service_version(&self) -> &VersionRecord {
        self.file
            .service_key
            .last()
            .expect("the service key has a version")
    }
}

/// Where committed state files go: the state directory in production. A seam so tests can
/// stall a save and watch what else still proceeds.
pub(crate) trait StateStore: Send + Sync {
    /// Replaces the stored state with `file`; durable when it returns `Ok`.
    fn save(&self, file: &StateFile) -> Result<(), KmsError>;
}

/// The state file in a directory (see [`store::save`]).
pub(crate) struct FileStore(pub PathBuf);

impl StateStore for FileStore {
    fn save(&self, file: &StateFile) -> Result<(), KmsError> {
        store::save(&self.0, file)
    }
}

/// What the KMS shares with its rotation saver thread.
#[derive(Clone)]
pub(crate) struct Shared {
    state: Arc<Mutex<State>>,
    /// Serialises writers of the state file; taken before `state`, never while holding it.
    writer: Arc<Mutex<()>>,
    store: Arc<dyn StateStore>,
    audit: Option<Arc<AuditLog>>,
}

impl Shared {
    pub fn new(state: State, store: Arc<dyn StateStore>, audit: Option<AuditLog>) -> Shared {
        Shared {
            state: Arc::new(Mutex::new(state)),
            writer: Arc::new(Mutex::new(())),
            store,
            audit: audit.map(Arc::new),
        }
    }

    /// The live state. Hold it briefly: data-key calls wait for it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // State only changes after the file write succeeds, so a panic never leaves it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The right to change the state file; waits for the writer before.
    pub fn begin_write(&self) -> Writer<'_> {
        Writer {
            shared: self,
            _guard: self.writer.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    pub fn audit(&self, events: Vec<AuditEvent>) {
        if let Some(log) = &self.audit {
            log.write(&events);
        }
    }
}

/// Holds the writer lock: the only way to change the state (see the module docs). Never
/// create one while holding the state mutex.
pub(crate) struct Writer<'a> {
    shared: &'a Shared,
    _guard: MutexGuard<'a, ()>,
}

impl Writer<'_> {
    /// A copy of the live state file to edit. It stays the live one while this writer
    /// lives, since nothing else can commit.
    pub fn snapshot(&self) -> StateFile {
        self.shared.lock().file.clone()
    }

    /// Reads the live state (briefly, under the state mutex).
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.shared.lock())
    }

    /// Saves `next` (durable on return) without holding the state mutex, then makes it and
    /// `material` the live state. On error nothing changes in memory.
    pub fn commit(&self, next: StateFile, material: NewMaterial) -> Result<(), KmsError> {
        self.shared.store.save(&next)?;
        apply(&mut self.shared.lock(), next, material);
        Ok(())
    }
}

/// Makes `next` (already saved) and `material` the live state; forgets the material and
/// usage counters of keys it no longer has alive.
fn apply(st: &mut State, next: StateFile, material: NewMaterial) {
    st.file = next;
    st.material.extend(material);
    let keys = &st.file.keys;
    let alive = |id: &str| {
        id == SERVICE_KEY_ID
            || keys
                .get(id)
                .is_some_and(|k| k.state != StoredState::Deleted)
    };
    st.material.retain(|(id, _), _| alive(id));
    st.usage.retain(|id, _| alive(id));
}

/// Makes a version's random material and its sealed record.
pub(crate) fn new_version(
    root: &RootKey,
    rng: &SystemRandom,
    key_id: &str,
    version: u32,
    now: OffsetDateTime,
) -> Result<(VersionRecord, Zeroizing<Vec<u8>>), KmsError> {
    let mut material = Zeroizing::new(vec![0u8; 32]);
    ring::rand::SecureRandom::fill(rng, &mut material[..])
        .map_err(|_| KmsError::Storage("system random number generator failed".into()))?;
    let sealed = crypto::seal(
        root.bytes(),
        &crypto::material_aad(key_id, version),
        &material[..],
        rng,
    )?;
    Ok((
        VersionRecord {
            version,
            created: now,
            material: sealed,
        },
        material,
    ))
}
