//! The data path: generating and unwrapping data keys under CMKs (SSE-KMS) and under the
//! service master key (SSE-OSS), and the service key's rotation.
//!
//! These calls answer from memory under the state mutex, held for a lookup and one seal
//! or open. Two things write the state file, and neither does so under that mutex: a
//! service-key rotation found due (handed to the saver thread, see `crate::rotation`),
//! and creating the default CMK on first use, which only [`Kms::generate_data_key`] does;
//! [`Kms::generate_data_key_from_memory`] reports it instead, so an async caller can run
//! that one save on a thread that may block.

use crate::audit::AuditEvent;
use crate::state::State;
use crate::store::{self, StoredState};
use crate::{
    DataKey, EncryptionContext, GeneratedKey, KeySelector, KeyUsage, KmsError, ServiceKeyInfo,
    WrappedKey, crypto,
};

use super::{Kms, SERVICE_KEY_ID, live_default_key, primary_version, resolve, usable};

const DEFAULT_KEY_DESCRIPTION: &str =
    "Default CMK for OSS server-side encryption (alias/acs/oss), created on first use";

impl Kms {
    /// SSE-KMS: a fresh 256-bit data key wrapped under the CMK's primary version.
    /// `KeySelector::Default` uses the OSS default CMK (alias `alias/acs/oss`), which is created on
    /// first use, and created afresh if the previous one was deleted. Creating it saves the
    /// state file (with fsync) on the calling thread, before the data key is issued: call
    /// this where blocking is fine, or [`generate_data_key_from_memory`](Self::generate_data_key_from_memory) first.
    pub fn generate_data_key(
        &self,
        key: &KeySelector,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<GeneratedKey, KmsError> {
        if let Some(result) = self.generate_data_key_from_memory(key, context, caller) {
            return result;
        }
        let created = self.create_default_key(caller);
        let retried = created.and_then(|_| {
            self.generate_data_key_from_memory(key, context, caller)
                .ok_or_else(|| {
                    // Deleted again between its creation and now; rare, and retrying succeeds.
                    KmsError::Storage("the default key was deleted concurrently; retry".into())
                })
        });
        match retried {
            Ok(result) => result,
            Err(e) => {
                let event =
                    AuditEvent::new(self.clock.now(), caller, "GenerateDataKey").context(context);
                self.audit(vec![event.outcome::<()>(&Err(e.clone()))]);
                Err(e)
            }
        }
    }

    /// [`generate_data_key`](Self::generate_data_key) without ever writing the state file:
    /// `None` (and nothing audited) if `key` is `Default` and there is no default CMK yet,
    /// the one case that needs a save. Never blocks on I/O; an async caller uses it inline
    /// and runs `generate_data_key` on a blocking thread for `None`.
    pub fn generate_data_key_from_memory(
        &self,
        key: &KeySelector,
        context: &EncryptionContext,
        caller: &str,
    ) -> Option<Result<GeneratedKey, KmsError>> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "GenerateDataKey").context(context);
        let mut st = self.lock();
        let id = match key {
            KeySelector::Default => Ok(live_default_key(&st.file)?.clone()),
            KeySelector::Named(name) => {
                event.set_key(name, None);
                resolve(&st.file, name)
            }
        };
        let result = id.and_then(|id| self.issue_under(&mut st, id, context, caller, &mut event));
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        Some(result)
    }

    /// A fresh data key wrapped under CMK `id`'s primary version, if `caller` may use it.
    fn issue_under(
        &self,
        st: &mut State,
        id: String,
        context: &EncryptionContext,
        caller: &str,
        event: &mut AuditEvent,
    ) -> Result<GeneratedKey, KmsError> {
        let record = &st.file.keys[&id];
        let version = primary_version(record);
        event.set_key(&id, Some(version));
        self.permit(caller, "kms:GenerateDataKey", &id)?;
        usable(record)?;
        let plaintext = DataKey::random(&self.rng)?;
        let ciphertext = crypto::seal(
            &st.material[&(id.clone(), version)],
            &crypto::data_key_aad(&id, version, context),
            plaintext.as_bytes(),
            &self.rng,
        )?;
        st.usage.entry(id.clone()).or_default().generate_data_key += 1;
        Ok(GeneratedKey {
            plaintext,
            wrapped: WrappedKey {
                key_id: id,
                key_version: version,
                ciphertext,
            },
        })
    }

    /// Creates the default CMK unless a live one exists (another call may have just made
    /// it). Durable before it is live, like every change (see `crate::state`).
    fn create_default_key(&self, caller: &str) -> Result<(), KmsError> {
        let now = self.clock.now();
        let writer = self.shared.begin_write();
        let mut next = writer.snapshot();
        if live_default_key(&next).is_some() {
            return Ok(());
        }
        let result = self
            .add_key(&mut next, now, DEFAULT_KEY_DESCRIPTION, true)
            .and_then(|(id, material)| writer.commit(next, material).map(|()| id));
        drop(writer);
        let mut event =
            AuditEvent::new(now, caller, "CreateKey").detail("alias", super::DEFAULT_KEY_ALIAS);
        if let Ok(id) = &result {
            event.set_key(id, Some(1));
        }
        self.audit(vec![event.outcome(&result)]);
        result.map(|_| ())
    }

    /// SSE-KMS: unwraps a data key made by [`generate_data_key`](Self::generate_data_key) with the
    /// version it records. The CMK must be Enabled and `context` must equal the one it was made with.
    pub fn decrypt_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<DataKey, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "Decrypt").context(context);
        event.set_key(&wrapped.key_id, Some(wrapped.key_version));
        let mut st = self.lock();
        let result = (|| {
            if wrapped.key_id == SERVICE_KEY_ID {
                return Err(KmsError::InvalidParameter(
                    "this data key is wrapped by the service key (SSE-OSS), not a CMK".into(),
                ));
            }
            let id = resolve(&st.file, &wrapped.key_id)?;
            event.set_key(&id, None);
            self.permit(caller, "kms:Decrypt", &id)?;
            usable(&st.file.keys[&id])?;
            let material = st
                .material
                .get(&(id.clone(), wrapped.key_version))
                .ok_or(KmsError::InvalidCiphertext)?;
            let aad = crypto::data_key_aad(&id, wrapped.key_version, context);
            let plain = crypto::open_key(material, &aad, &wrapped.ciphertext)
                .ok_or(KmsError::InvalidCiphertext)?;
            st.usage.entry(id).or_default().decrypt += 1;
            Ok(DataKey::from_slice(&plain))
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// SSE-OSS: a fresh data key wrapped under the current service master key version. Rotates the
    /// service key first if its period has passed.
    pub fn generate_service_data_key(
        &self,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<GeneratedKey, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "GenerateServiceDataKey")
            .context(context)
            .key(SERVICE_KEY_ID);
        let mut st = self.lock();
        let mut due = None;
        let result = (|| {
            let current = st.current_service_version();
            let version = current.version;
            // Rotation due: this key still uses the current (durable) version; the next
            // one goes live once the saver thread has made it durable.
            if now >= self.service_rotation_due(current.created) {
                due = Some(version + 1);
            }
            event.set_key(SERVICE_KEY_ID, Some(version));
            let plaintext = DataKey::random(&self.rng)?;
            let ciphertext = crypto::seal(
                &st.material[&(SERVICE_KEY_ID.to_owned(), version)],
                &crypto::data_key_aad(SERVICE_KEY_ID, version, context),
                plaintext.as_bytes(),
                &self.rng,
            )?;
            st.usage
                .entry(SERVICE_KEY_ID.to_owned())
                .or_default()
                .generate_data_key += 1;
            let wrapped = WrappedKey {
                key_id: SERVICE_KEY_ID.to_owned(),
                key_version: version,
                ciphertext,
            };
            Ok(GeneratedKey { plaintext, wrapped })
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        if let Some(version) = due {
            self.saver
                .start(&self.shared, || self.next_service_version(version, now));
        }
        result
    }

    /// SSE-OSS: unwraps a data key made by [`generate_service_data_key`](Self::generate_service_data_key).
    pub fn decrypt_service_data_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        caller: &str,
    ) -> Result<DataKey, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, caller, "DecryptServiceDataKey").context(context);
        event.set_key(&wrapped.key_id, Some(wrapped.key_version));
        let mut st = self.lock();
        let result = (|| {
            if wrapped.key_id != SERVICE_KEY_ID {
                return Err(KmsError::InvalidParameter(
                    "this data key is wrapped by a CMK (SSE-KMS), not the service key".into(),
                ));
            }
            let material = st
                .material
                .get(&(SERVICE_KEY_ID.to_owned(), wrapped.key_version))
                .ok_or(KmsError::InvalidCiphertext)?;
            let aad = crypto::data_key_aad(SERVICE_KEY_ID, wrapped.key_version, context);
            let plain = crypto::open_key(material, &aad, &wrapped.ciphertext)
                .ok_or(KmsError::InvalidCiphertext)?;
            st.usage
                .entry(SERVICE_KEY_ID.to_owned())
                .or_default()
                .decrypt += 1;
            Ok(DataKey::from_slice(&plain))
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// Gives the service master key a new version if `service_key_rotation` has passed since the
    /// current one was made. Returns whether it rotated. Call it at start and periodically.
    /// The save runs on the calling thread, without holding the mutex data-key calls take.
    pub fn rotate_service_key_if_due(&self) -> Result<bool, KmsError> {
        let now = self.clock.now();
        let current = {
            let st = self.lock();
            let current = st.current_service_version();
            (now >= self.service_rotation_due(current.created)).then_some(current.version)
        };
        match current {
            Some(version) => {
                crate::rotation::rotate(&self.shared, self.next_service_version(version + 1, now))
            }
            None => Ok(false),
        }
    }

    /// Waits until a service-key rotation started by a data-key call has been saved and
    /// made live (or has failed). Dropping the KMS waits too.
    pub fn wait_for_rotation(&self) {
        self.saver.wait();
    }

    /// The service master key's versions and rotation dates.
    pub fn service_key_info(&self) -> ServiceKeyInfo {
        let st = self.lock();
        let current = st.current_service_version();
        ServiceKeyInfo {
            primary_key_version: current.version,
            versions: st.file.service_key.len() as u32,
            last_rotation_date: store::format_time_seconds(current.created),
            next_rotation_date: store::format_time_seconds(
                self.service_rotation_due(current.created),
            ),
            usage: st.usage.get(SERVICE_KEY_ID).copied().unwrap_or_default(),
        }
    }

    /// Per-key usage counters since start: every live CMK, then `"service"`.
    pub fn usage_snapshot(&self) -> Vec<(String, KeyUsage)> {
        let st = self.lock();
        let mut out: Vec<(String, KeyUsage)> = st
            .file
            .keys
            .iter()
            .filter(|(_, k)| k.state != StoredState::Deleted)
            .map(|(id, _)| (id.clone(), st.usage.get(id).copied().unwrap_or_default()))
            .collect();
        out.push((
            SERVICE_KEY_ID.to_owned(),
            st.usage.get(SERVICE_KEY_ID).copied().unwrap_or_default(),
        ));
        out
    }

    /// The id of the OSS default CMK, if it exists and is not deleted.
    pub fn default_key_id(&self) -> Option<String> {
        live_default_key(&self.lock().file).cloned()
    }
}
