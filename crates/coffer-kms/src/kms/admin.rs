//! Admin operations: creating CMKs, changing their state, rotating them, deleting them,
//! aliases, and the read-only listings.
//!
//! Every change follows `crate::state`'s protocol: take the writer lock, edit a snapshot of
//! the state file, commit it (save with fsync, then make live). The state mutex that
//! data-key calls take is held only to copy the snapshot and to swap the result in, so a
//! data-key call never waits for an admin save; and an admin call returns only once its
//! change is on disk. These calls block on that save: async callers run them on a
//! blocking thread (the admin API does).

use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{ADMIN_CALLER, AuditEvent, SYSTEM_CALLER};
use crate::state::{NewMaterial, State, new_version};
use crate::store::{self, KeyRecord, StateFile, StoredState};
use crate::{KeyMetadata, KeyState, KmsError};

use super::{
    ALIAS_PREFIX, DEFAULT_KEY_ALIAS, Kms, RESERVED_ALIAS_PREFIX, live, primary_version, resolve,
    usable,
};

const MAX_ALIAS_LEN: usize = 255;
const MAX_DESCRIPTION_LEN: usize = 8192;

/// What an admin operation did to its snapshot of the state file.
enum Edit {
    /// Nothing to save (e.g. enabling an enabled key).
    Unchanged,
    /// The snapshot changed; save it, with the material of any new versions.
    Changed(NewMaterial),
}

impl Kms {
    /// Creates an Enabled CMK with one version.
    pub fn create_key(&self, description: &str) -> Result<KeyMetadata, KmsError> {
        let now = self.clock.now();
        let mut event =
            AuditEvent::new(now, ADMIN_CALLER, "CreateKey").detail("description", description);
        let result = (|| {
            if description.len() > MAX_DESCRIPTION_LEN {
                return Err(KmsError::InvalidParameter(format!(
                    "the description is longer than {MAX_DESCRIPTION_LEN} bytes"
                )));
            }
            let writer = self.shared.begin_write();
            let mut next = writer.snapshot();
            let (id, material) = self.add_key(&mut next, now, description, false)?;
            writer.commit(next, material)?;
            event.set_key(&id, Some(1));
            Ok(writer.read(|st| metadata(st, &id)))
        })();
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// Every CMK that is not deleted, oldest first.
    pub fn list_keys(&self) -> Vec<KeyMetadata> {
        let now = self.clock.now();
        let st = self.lock();
        let mut ids: Vec<(&OffsetDateTime, &String)> = st
            .file
            .keys
            .iter()
            .filter(|(_, k)| k.state != StoredState::Deleted)
            .map(|(id, k)| (&k.creation_date, id))
            .collect();
        ids.sort();
        let keys: Vec<KeyMetadata> = ids.into_iter().map(|(_, id)| metadata(&st, id)).collect();
        drop(st);
        self.audit(vec![AuditEvent::new(now, ADMIN_CALLER, "ListKeys")]);
        keys
    }

    /// A CMK by id or alias, in any state but deleted (`KeyDeleted`). Reads only: it does
    /// not wait for a save in progress, and reports the last durable state.
    pub fn describe_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let mut event = AuditEvent::new(self.clock.now(), ADMIN_CALLER, "DescribeKey");
        event.set_key(key, None);
        let st = self.lock();
        let result = (|| {
            let id = resolve(&st.file, key)?;
            event.set_key(&id, None);
            let record = &st.file.keys[&id];
            live(record)?;
            event.set_key(&id, Some(primary_version(record)));
            Ok(metadata(&st, &id))
        })();
        drop(st);
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// Disabled → Enabled; Enabled stays Enabled. A key pending deletion must be cancelled first
    /// (`KeyPendingDeletion`).
    pub fn enable_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        self.admin_op("EnableKey", key, |_, next, id| {
            set_state(next, id, StoredState::Enabled)
        })
    }

    /// Enabled → Disabled; Disabled stays Disabled. Data keys under a disabled CMK can be neither
    /// generated nor decrypted (`KeyDisabled`).
    pub fn disable_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        self.admin_op("DisableKey", key, |_, next, id| {
            set_state(next, id, StoredState::Disabled)
        })
    }

    /// Enabled or Disabled → PendingDeletion; the key material is destroyed `pending_window_days`
    /// (7 to 30) days from now by [`purge_expired`](Self::purge_expired), unless cancelled.
    pub fn schedule_key_deletion(
        &self,
        key: &str,
        pending_window_days: u32,
    ) -> Result<KeyMetadata, KmsError> {
        let now = self.clock.now();
        self.admin_op_with(
            "ScheduleKeyDeletion",
            key,
            &[("pending_window_days", pending_window_days.to_string())],
            |_, next, id| {
                if !(7..=30).contains(&pending_window_days) {
                    return Err(KmsError::InvalidParameter(format!(
                        "PendingWindowInDays must be between 7 and 30, not {pending_window_days}"
                    )));
                }
                let record = next.keys.get_mut(id).expect("resolved");
                match record.state {
                    StoredState::Enabled | StoredState::Disabled => {
                        record.state = StoredState::PendingDeletion;
                        record.delete_date =
                            Some(now + time::Duration::days(i64::from(pending_window_days)));
                        Ok(Edit::Changed(Vec::new()))
                    }
                    StoredState::PendingDeletion => Err(KmsError::KeyPendingDeletion),
                    StoredState::Deleted => Err(KmsError::KeyDeleted),
                }
            },
        )
        .map(expect_live)
    }

    /// PendingDeletion → Disabled (as Alibaba Cloud KMS does); enable it again explicitly.
    pub fn cancel_key_deletion(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        self.admin_op("CancelKeyDeletion", key, |_, next, id| {
            let record = next.keys.get_mut(id).expect("resolved");
            match record.state {
                StoredState::PendingDeletion => {
                    record.state = StoredState::Disabled;
                    record.delete_date = None;
                    Ok(Edit::Changed(Vec::new()))
                }
                StoredState::Deleted => Err(KmsError::KeyDeleted),
                StoredState::Enabled | StoredState::Disabled => Err(KmsError::InvalidParameter(
                    format!("key {id} is not pending deletion"),
                )),
            }
        })
    }

    /// Destroys, now, the material of a key in PendingDeletion (crypto-shredding): every data key
    /// wrapped under it becomes undecryptable (`KeyDeleted`). Its aliases are removed; a tombstone
    /// with its id remains. Keys in another state must be scheduled for deletion first.
    pub fn delete_key_now(&self, key: &str) -> Result<(), KmsError> {
        let now = self.clock.now();
        self.admin_op_with("DeleteKey", key, &[], |_, next, id| {
            match next.keys[id].state {
                StoredState::PendingDeletion => {
                    destroy(next, id, now);
                    Ok(Edit::Changed(Vec::new()))
                }
                StoredState::Deleted => Err(KmsError::KeyDeleted),
                StoredState::Enabled | StoredState::Disabled => Err(KmsError::InvalidParameter(
                    format!("key {id} is not pending deletion; schedule its deletion first"),
                )),
            }
        })
        .map(|_| ())
    }

    /// Destroys every key whose deletion window has ended; returns their ids.
    pub fn purge_expired(&self) -> Result<Vec<String>, KmsError> {
        let now = self.clock.now();
        let writer = self.shared.begin_write();
        let mut next = writer.snapshot();
        let due: Vec<String> = next
            .keys
            .iter()
            .filter(|(_, k)| {
                k.state == StoredState::PendingDeletion && k.delete_date.is_some_and(|d| d <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        if due.is_empty() {
            return Ok(due);
        }
        for id in &due {
            destroy(&mut next, id, now);
        }
        let result = writer.commit(next, Vec::new());
        drop(writer);
        let events = due
            .iter()
            .map(|id| {
                AuditEvent::new(now, SYSTEM_CALLER, "DeleteKey")
                    .key(id.clone())
                    .detail("reason", "deletion window ended")
                    .outcome(&result)
            })
            .collect();
        self.audit(events);
        result.map(|()| due)
    }

    /// Gives an Enabled CMK a new primary version; older versions stay usable for Decrypt.
    pub fn rotate_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let now = self.clock.now();
        self.admin_op("RotateKey", key, |kms, next, id| {
            let record = next.keys.get_mut(id).expect("resolved");
            usable(record)?;
            let version = primary_version(record) + 1;
            let (version_record, material) = new_version(&kms.root, &kms.rng, id, version, now)?;
            record.versions.push(version_record);
            Ok(Edit::Changed(vec![((id.to_owned(), version), material)]))
        })
    }

    /// Points a new alias (`alias/<name>`: letters, digits, `_`, `-`, `/`; at most 255 characters;
    /// not under `alias/acs/`) at a key given by id or alias.
    pub fn create_alias(&self, alias: &str, key: &str) -> Result<(), KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, ADMIN_CALLER, "CreateAlias").detail("alias", alias);
        event.set_key(key, None);
        let result = (|| {
            validate_alias(alias)?;
            let writer = self.shared.begin_write();
            let mut next = writer.snapshot();
            let id = resolve(&next, key)?;
            event.set_key(&id, None);
            live(&next.keys[&id])?;
            if next.aliases.contains_key(alias) {
                return Err(KmsError::InvalidParameter(format!(
                    "the alias {alias} already exists"
                )));
            }
            next.aliases.insert(alias.to_owned(), id);
            writer.commit(next, Vec::new())
        })();
        self.audit(vec![event.outcome(&result)]);
        result
    }

    pub fn delete_alias(&self, alias: &str) -> Result<(), KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, ADMIN_CALLER, "DeleteAlias").detail("alias", alias);
        let result = (|| {
            validate_alias(alias)?;
            let writer = self.shared.begin_write();
            let mut next = writer.snapshot();
            let id = next
                .aliases
                .remove(alias)
                .ok_or_else(|| KmsError::AliasNotFound(alias.to_owned()))?;
            event.set_key(&id, None);
            writer.commit(next, Vec::new())
        })();
        self.audit(vec![event.outcome(&result)]);
        result
    }

    /// `(alias, key id)` pairs, sorted by alias; includes `alias/acs/oss` once the default CMK exists.
    pub fn list_aliases(&self) -> Vec<(String, String)> {
        let now = self.clock.now();
        let st = self.lock();
        let aliases = st
            .file
            .aliases
            .iter()
            .map(|(a, id)| (a.clone(), id.clone()))
            .collect();
        drop(st);
        self.audit(vec![AuditEvent::new(now, ADMIN_CALLER, "ListAliases")]);
        aliases
    }

    /// Adds a new Enabled CMK with one version to `next`: its id and material.
    pub(super) fn add_key(
        &self,
        next: &mut StateFile,
        now: OffsetDateTime,
        description: &str,
        is_default: bool,
    ) -> Result<(String, NewMaterial), KmsError> {
        let id = Uuid::new_v4().hyphenated().to_string();
        let (version, material) = new_version(&self.root, &self.rng, &id, 1, now)?;
        next.keys.insert(
            id.clone(),
            KeyRecord {
                description: description.to_owned(),
                state: StoredState::Enabled,
                creation_date: now,
                delete_date: None,
                deleted_date: None,
                is_default,
                versions: vec![version],
            },
        );
        if is_default {
            next.default_key_id = Some(id.clone());
            next.aliases
                .insert(DEFAULT_KEY_ALIAS.to_owned(), id.clone());
        }
        Ok((id.clone(), vec![((id, 1), material)]))
    }

    /// Resolves `key`, runs `op` on a snapshot of the state file, commits what it changed,
    /// audits, and returns the key's metadata.
    fn admin_op(
        &self,
        operation: &'static str,
        key: &str,
        op: impl FnOnce(&Kms, &mut StateFile, &str) -> Result<Edit, KmsError>,
    ) -> Result<KeyMetadata, KmsError> {
        self.admin_op_with(operation, key, &[], op).map(expect_live)
    }

    /// [`admin_op`](Self::admin_op) with arguments for the audit log; `None` if the key is
    /// deleted afterwards.
    fn admin_op_with(
        &self,
        operation: &'static str,
        key: &str,
        detail: &[(&'static str, String)],
        op: impl FnOnce(&Kms, &mut StateFile, &str) -> Result<Edit, KmsError>,
    ) -> Result<Option<KeyMetadata>, KmsError> {
        let now = self.clock.now();
        let mut event = AuditEvent::new(now, ADMIN_CALLER, operation);
        for (name, value) in detail {
            event = event.detail(name, value.clone());
        }
        event.set_key(key, None);
        let writer = self.shared.begin_write();
        let result = (|| {
            let mut next = writer.snapshot();
            let id = resolve(&next, key)?;
            event.set_key(&id, None);
            if let Edit::Changed(material) = op(self, &mut next, &id)? {
                writer.commit(next, material)?;
            }
            writer.read(|st| {
                let record = &st.file.keys[&id];
                if record.state == StoredState::Deleted {
                    return Ok(None);
                }
                event.set_key(&id, Some(primary_version(record)));
                Ok(Some(metadata(st, &id)))
            })
        })();
        drop(writer);
        self.audit(vec![event.outcome(&result)]);
        result
    }
}

fn expect_live(meta: Option<KeyMetadata>) -> KeyMetadata {
    meta.expect("only delete_key_now leaves a deleted key behind")
}

/// Enabled ⇄ Disabled; refuses keys pending deletion or deleted.
fn set_state(next: &mut StateFile, id: &str, target: StoredState) -> Result<Edit, KmsError> {
    let record = next.keys.get_mut(id).expect("resolved");
    match record.state {
        StoredState::Deleted => Err(KmsError::KeyDeleted),
        StoredState::PendingDeletion => Err(KmsError::KeyPendingDeletion),
        current if current == target => Ok(Edit::Unchanged),
        _ => {
            record.state = target;
            Ok(Edit::Changed(Vec::new()))
        }
    }
}

/// Turns a key into a tombstone: no material, state Deleted, no aliases.
fn destroy(file: &mut StateFile, id: &str, now: OffsetDateTime) {
    let record = file.keys.get_mut(id).expect("resolved");
    record.state = StoredState::Deleted;
    record.versions.clear();
    record.delete_date = None;
    record.deleted_date = Some(now);
    file.aliases.retain(|_, target| target != id);
}

fn validate_alias(alias: &str) -> Result<(), KmsError> {
    let name = alias.strip_prefix(ALIAS_PREFIX).unwrap_or_default();
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'));
    if !alias.starts_with(ALIAS_PREFIX)
        || name.is_empty()
        || alias.len() > MAX_ALIAS_LEN
        || !valid_chars
    {
        return Err(KmsError::InvalidParameter(format!(
            "the alias {alias:?} is not valid: use alias/ followed by letters, digits, '_', '-' or '/' (at most {MAX_ALIAS_LEN} characters)"
        )));
    }
    if alias.starts_with(RESERVED_ALIAS_PREFIX) {
        return Err(KmsError::InvalidParameter(format!(
            "aliases under {RESERVED_ALIAS_PREFIX} are reserved"
        )));
    }
    Ok(())
}

fn metadata(st: &State, id: &str) -> KeyMetadata {
    let record = &st.file.keys[id];
    let state = match record.state {
        StoredState::Enabled => KeyState::Enabled,
        StoredState::Disabled => KeyState::Disabled,
        // Never called for a deleted key.
        StoredState::PendingDeletion | StoredState::Deleted => KeyState::PendingDeletion,
    };
    let primary = record.versions.last();
    KeyMetadata {
        key_id: id.to_owned(),
        aliases: st
            .file
            .aliases
            .iter()
            .filter(|(_, target)| *target == id)
            .map(|(a, _)| a.clone())
            .collect(),
        state,
        description: record.description.clone(),
        creation_date: store::format_time_seconds(record.creation_date),
        delete_date: record.delete_date.map(store::format_time_seconds),
        last_rotation_date: store::format_time_seconds(
            primary.map_or(record.creation_date, |v| v.created),
        ),
        primary_key_version: primary.map_or(0, |v| v.version),
        versions: record.versions.len() as u32,
        key_spec: "Aliyun_AES_256".to_owned(),
        default_key: record.is_default,
        usage: st.usage.get(id).copied().unwrap_or_default(),
    }
}
