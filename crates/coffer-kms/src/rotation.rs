//! Service-key rotation without an fsync on a request thread.
//!
//! A request that finds the service key due for rotation does not rotate inline: it
//! wraps its data key under the current version and hands a new version to a saver
//! thread, which saves the state file with it and only then makes it live.
//!
//! Durability argument. A data key may only be wrapped under a version that is already
//! durable, or a kill -9 after the object's record commits would leave an acknowledged
//! object whose key version is lost. Every version a request can see is durable: the
//! saver commits it through a [`Writer`](crate::state::Writer), which makes it live
//! strictly after the save (with fsync) returned. Until then requests keep using the
//! previous version, which is durable and merely a little past its rotation date.
//! Ordering with other writers (admin operations) is the writer lock's job (see `state`).

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::KmsError;
use crate::audit::{AuditEvent, SYSTEM_CALLER};
use crate::kms::SERVICE_KEY_ID;
use crate::state::Shared;
use crate::store::VersionRecord;

/// How long an on-demand rotation whose save failed waits before requests try again
/// (the server's maintenance task retries on its own schedule meanwhile).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// A new service-key version, made (or not: the RNG can fail) but not yet saved: no
/// request can see it.
pub(crate) struct NextVersion {
    pub version: u32,
    pub now: OffsetDateTime,
    pub made: Result<(VersionRecord, Zeroizing<Vec<u8>>), KmsError>,
}

/// Saves the state file with `record` added as `version`, then makes it live. `Ok(false)`
/// if the service key already has that version (another rotation got there first).
fn install(
    shared: &Shared,
    version: u32,
    (record, material): (VersionRecord, Zeroizing<Vec<u8>>),
) -> Result<bool, KmsError> {
    let writer = shared.begin_write();
    let mut file = writer.snapshot();
    if file.service_key.last().map(|v| v.version + 1) != Some(version) {
        return Ok(false);
    }
    file.service_key.push(record);
    writer.commit(file, vec![((SERVICE_KEY_ID.to_owned(), version), material)])?;
    Ok(true)
}

/// [`install`]s `next` and audits the rotation. Returns whether it rotated.
pub(crate) fn rotate(shared: &Shared, next: NextVersion) -> Result<bool, KmsError> {
    let NextVersion { version, now, made } = next;
    let result = made.and_then(|made| install(shared, version, made));
    if matches!(result, Ok(false)) {
        return result;
    }
    shared.audit(vec![
        AuditEvent::new(now, SYSTEM_CALLER, "RotateServiceKey")
            .key(SERVICE_KEY_ID)
            .version(version)
            .outcome(&result),
    ]);
    match &result {
        Ok(_) => tracing::info!(version, "rotated the SSE-OSS service master key"),
        Err(e) => tracing::error!(error = %e, "rotating the SSE-OSS service master key failed"),
    }
    result
}

/// Runs on-demand rotations on a thread of their own, one at a time.
#[derive(Default)]
pub(crate) struct Saver {
    running: Mutex<Option<JoinHandle<()>>>,
    /// After a failed save: when requests may start another.
    retry_at: Arc<Mutex<Option<Instant>>>,
}

impl Saver {
    /// Starts a rotation to the version `make` returns, unless one is running or a failed
    /// one is backing off. `make` runs on the caller's thread (it seals 32 bytes); the save
    /// runs on the saver's.
    pub fn start(&self, shared: &Shared, make: impl FnOnce() -> NextVersion) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.as_ref().is_some_and(|h| !h.is_finished()) || self.backing_off() {
            return;
        }
        if let Some(done) = running.take() {
            let _ = done.join();
        }
        let (shared, next, retry_at) = (shared.clone(), make(), self.retry_at.clone());
        let job = move || {
            if rotate(&shared, next).is_err() {
                *retry_at.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(Instant::now() + RETRY_AFTER);
            }
        };
        match std::thread::Builder::new()
            .name("kms-rotation".into())
            .spawn(job)
        {
            Ok(handle) => *running = Some(handle),
            Err(e) => tracing::error!(error = %e, "could not start the service key rotation"),
        }
    }

    fn backing_off(&self) -> bool {
        let retry_at = self.retry_at.lock().unwrap_or_else(PoisonError::into_inner);
        retry_at.is_some_and(|at| Instant::now() < at)
    }

    /// Waits for a running rotation to finish (saved and live, or failed).
    pub fn wait(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = running {
            let _ = handle.join();
        }
    }
}
