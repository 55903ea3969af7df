//! `coffer kms` against a KMIP server: the [`KeyAdmin`] operations KMIP has, and a clear
//! refusal for those it has not.
//!
//! | operation | KMIP |
//! |---|---|
//! | create | Locate (the name must be free), Create (AES-256, Encrypt and Decrypt, Named), Activate |
//! | list | Locate every symmetric key, then Get Attributes of each |
//! | describe | Get Attributes (State, Name, Initial Date) |
//! | delete now | Revoke (if still active), then Destroy |
//! | usage | Coffer's own counters of the data-key calls it made under the key |
//! | disable, enable, schedule and cancel deletion, rotate, aliases | refused, with the reason |
//!
//! KMIP's Revoke is not offered as "disable": a revoked key cannot be activated again, so
//! it is not a state that Enable can undo.

use coffer_service::{
    AliasEntry, KeyAdmin, KeyAdminError, KeyError, KeyInfo, KeyOperation, KeyState, KeyUsage,
    NewKey,
};

use crate::protocol::{self, Operation, state, tag};
use crate::ttlv::Value;
use crate::{KmipKms, check_id};

const BACKEND: &str = "kmip";

const NO_STATES: &str = "KMIP's Revoke deactivates a key for good (it cannot be activated \
     again), so KMIP keys have no Disabled state that Enable could undo. To stop a key for \
     good, `coffer kms delete-now <key>`; to revoke it only, use the KMIP server's own tools";

const NO_SCHEDULE: &str = "KMIP has no scheduled deletion: `coffer kms delete-now <key>` \
     revokes and destroys a key at once";

const NO_ROTATION: &str = "a KMIP key has one version: a re-key is a new object with a new \
     unique identifier, which objects written under the old one would not follow. Create a \
     new key (`coffer kms create --name <name>`) and name its identifier in new requests";

const NO_ALIASES: &str = "KMIP keys are addressed by their unique identifiers and have no \
     aliases; a key's Name (`coffer kms create --name <name>`) is how to find one";

fn unsupported(operation: KeyOperation, reason: &str) -> KeyAdminError {
    KeyAdminError::unsupported(BACKEND, operation, reason)
}

/// What describing a key reads: the states, names and dates Coffer reports.
const DESCRIBED: [&str; 3] = ["State", "Name", "Initial Date"];

impl KmipKms {
    async fn info(&self, uid: &str) -> Result<KeyInfo, KeyAdminError> {
        check_id(uid)?;
        let payload = self
            .call(
                Operation::GetAttributes,
                protocol::get_attributes(uid, &DESCRIBED),
                true,
            )
            .await
            .map_err(|e| crate::name_missing(e, uid))?;
        let state = match protocol::attribute_value(&payload, "State").map(|v| &v.value) {
            Some(Value::Enumeration(s)) => *s,
            _ => return Err(KeyError::Unavailable("kmip: a key without a State".into()).into()),
        };
        let key_state = match state {
            state::ACTIVE => KeyState::Enabled,
            // Pre-active, deactivated, compromised: nothing is issued under it.
            s if s < state::DESTROYED => KeyState::Disabled,
            // A server that keeps destroyed objects: gone all the same.
            _ => return Err(KeyError::KeyNotFound(uid.to_owned()).into()),
        };
        let created = match protocol::attribute_value(&payload, "Initial Date").map(|v| &v.value) {
            Some(Value::DateTime(t)) => timestamp(*t),
            _ => String::new(),
        };
        Ok(KeyInfo {
            key_id: uid.to_owned(),
            aliases: Vec::new(),
            state: key_state,
            // KMIP 1.x has no description; the key's Name is what an operator knows it by.
            description: protocol::attribute_value(&payload, "Name")
                .and_then(|v| protocol::text_of(v, tag::NAME_VALUE))
                .unwrap_or_default(),
            last_rotation_date: created.clone(),
            creation_date: created,
            delete_date: None,
            primary_key_version: 1,
            versions: 1,
            key_spec: "AES_256".into(),
            default_key: self.service.get().is_some_and(|k| k.default == uid),
            usage: self.usage_of(uid),
        })
    }

    /// Coffer's own keys are not deleted from under a running server.
    fn refuse_service_key(&self, uid: &str) -> Result<(), KeyAdminError> {
        match self.service.get() {
            Some(k) if k.default == uid || k.sse_oss == uid => Err(KeyError::InvalidParameter(
                format!("{uid} is this server's default or SSE-OSS key: Coffer will not delete it"),
            )
            .into()),
            _ => Ok(()),
        }
    }
}

/// KMIP's Date-Time (seconds since the epoch) in RFC 3339, to the second, as the built-in
/// KMS reports its dates.
fn timestamp(seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl KeyAdmin for KmipKms {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn create_key(&self, key: NewKey) -> Result<KeyInfo, KeyAdminError> {
        let Some(name) = key.name else {
            return Err(KeyError::InvalidParameter(
                "Coffer names its KMIP keys: give a name (`coffer kms create --name <name>`)"
                    .into(),
            )
            .into());
        };
        if !key.description.is_empty() {
            return Err(KeyError::InvalidParameter(
                "KMIP keys carry no description: create the key without one".into(),
            )
            .into());
        }
        // Names stay unique, so that a configured name (--kmip-default-key) finds one key.
        if !self.locate(&name).await?.is_empty() {
            return Err(
                KeyError::InvalidParameter(format!("a KMIP key named {name} exists")).into(),
            );
        }
        let uid = self.create_key(&name).await?;
        self.info(&uid).await
    }

    async fn list_keys(&self) -> Result<Vec<KeyInfo>, KeyAdminError> {
        let payload = self
            .call(Operation::Locate, protocol::locate_symmetric_keys(), true)
            .await?;
        let mut keys = Vec::new();
        for uid in protocol::unique_identifiers(&payload) {
            match self.info(&uid).await {
                Ok(info) => keys.push(info),
                // Destroyed between the Locate and the Get Attributes.
                Err(KeyAdminError::Key(KeyError::KeyNotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(keys)
    }

    async fn describe_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError> {
        self.info(key).await
    }

    async fn enable_key(&self, _key: &str) -> Result<KeyInfo, KeyAdminError> {
        Err(unsupported(KeyOperation::EnableKey, NO_STATES))
    }

    async fn disable_key(&self, _key: &str) -> Result<KeyInfo, KeyAdminError> {
        Err(unsupported(KeyOperation::DisableKey, NO_STATES))
    }

    async fn schedule_key_deletion(
        &self,
        _key: &str,
        _days: u32,
    ) -> Result<KeyInfo, KeyAdminError> {
        Err(unsupported(KeyOperation::ScheduleKeyDeletion, NO_SCHEDULE))
    }

    async fn cancel_key_deletion(&self, _key: &str) -> Result<KeyInfo, KeyAdminError> {
        Err(unsupported(KeyOperation::CancelKeyDeletion, NO_SCHEDULE))
    }

    async fn delete_key_now(&self, key: &str) -> Result<(), KeyAdminError> {
        self.refuse_service_key(key)?;
        let info = self.info(key).await?;
        if info.state == KeyState::Enabled {
            self.revoke(key).await?;
        }
        self.destroy(key).await?;
        if let Ok(mut usage) = self.usage.lock() {
            usage.remove(key);
        }
        Ok(())
    }

    async fn rotate_key(&self, _key: &str) -> Result<KeyInfo, KeyAdminError> {
        Err(unsupported(KeyOperation::RotateKey, NO_ROTATION))
    }

    async fn create_alias(&self, _alias: &str, _key: &str) -> Result<(), KeyAdminError> {
        Err(unsupported(KeyOperation::CreateAlias, NO_ALIASES))
    }

    async fn delete_alias(&self, _alias: &str) -> Result<(), KeyAdminError> {
        Err(unsupported(KeyOperation::DeleteAlias, NO_ALIASES))
    }

    async fn list_aliases(&self) -> Result<Vec<AliasEntry>, KeyAdminError> {
        Err(unsupported(KeyOperation::ListAliases, NO_ALIASES))
    }

    async fn key_usage(&self, key: &str) -> Result<(String, KeyUsage), KeyAdminError> {
        let info = self.info(key).await?;
        Ok((info.key_id, info.usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttlv::Item;

    #[test]
    fn dates_are_rfc_3339_to_the_second() {
        // The KMIP specification's Date-Time example: 2008-03-14 11:56:40 UTC.
        assert_eq!(timestamp(0x47DA_67F8), "2008-03-14T11:56:40Z");
    }

    #[test]
    fn attributes_are_read_by_name() {
        let attr = |name: &str, value: Value| {
            Item::structure(
                tag::ATTRIBUTE,
                vec![
                    Item::new(tag::ATTRIBUTE_NAME, Value::TextString(name.into())),
                    Item::new(tag::ATTRIBUTE_VALUE, value),
                ],
            )
        };
        let payload = Item::structure(
            tag::RESPONSE_PAYLOAD,
            vec![
                attr("State", Value::Enumeration(state::ACTIVE)),
                attr(
                    "Name",
                    Value::Structure(vec![Item::new(
                        tag::NAME_VALUE,
                        Value::TextString("tenant".into()),
                    )]),
                ),
            ],
        );
        assert_eq!(
            protocol::attribute_value(&payload, "State").map(|v| &v.value),
            Some(&Value::Enumeration(state::ACTIVE))
        );
        let name = protocol::attribute_value(&payload, "Name").unwrap();
        assert_eq!(
            protocol::text_of(name, tag::NAME_VALUE).as_deref(),
            Some("tenant")
        );
        assert!(protocol::attribute_value(&payload, "Initial Date").is_none());
    }
}
