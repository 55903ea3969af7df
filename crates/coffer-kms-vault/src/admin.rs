//! `coffer kms` against Transit: the [`KeyAdmin`] operations Transit has, and a clear
//! refusal for those it has not.
//!
//! | operation | Transit |
//! |---|---|
//! | create | `POST keys/:name` (`aes256-gcm96`, `derived=true`, as Coffer's own keys) |
//! | list | `LIST keys` (as `GET keys?list=true`) |
//! | describe | `GET keys/:name` |
//! | rotate | `POST keys/:name/rotate` |
//! | delete now | `POST keys/:name/config deletion_allowed=true`, then `DELETE keys/:name` |
//! | usage | Coffer's own counters of the data-key calls it made under the key |
//! | disable, enable, schedule and cancel deletion, aliases | refused: Transit has no key states and no aliases |
//!
//! Transit's `min_decryption_version` is not offered as "disable": it retires old versions
//! but leaves the newest one issuing and unwrapping, which is not what a disabled key does.

use coffer_service::{
    AliasEntry, KeyAdmin, KeyAdminError, KeyError, KeyInfo, KeyOperation, KeyState, KeyUsage,
    NewKey,
};
use http::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::{Answer, VaultKms, check_key_name, parse};

const BACKEND: &str = "vault";

/// What `GET keys/:name` answers (the fields Coffer reports).
#[derive(Deserialize)]
struct KeyDetails {
    #[serde(rename = "type", default)]
    key_type: String,
    #[serde(default)]
    derived: bool,
    #[serde(default)]
    latest_version: u32,
    #[serde(default)]
    min_decryption_version: u32,
    /// Version number → creation time (Unix seconds for symmetric keys, RFC 3339 text
    /// for others).
    #[serde(default)]
    keys: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct KeyList {
    #[serde(default)]
    keys: Vec<String>,
}

fn unsupported(operation: KeyOperation, reason: &str) -> KeyAdminError {
    KeyAdminError::unsupported(BACKEND, operation, reason)
}

const NO_STATES: &str = "Transit keys have no Disabled or PendingDeletion state. To stop \
     Coffer using a key, remove it from the policy of Coffer's Vault token; to destroy it, \
     `coffer kms delete-now <key>`";

const NO_ALIASES: &str = "Transit keys are addressed by their names and have no aliases: \
     create a key under the name you want (`coffer kms create --name <name>`)";

impl VaultKms {
    /// A refusal of Coffer's token becomes a message naming the capability to grant.
    fn denied(
        &self,
        operation: KeyOperation,
        e: KeyError,
        path: &str,
        capability: &str,
    ) -> KeyAdminError {
        match e {
            KeyError::AccessDenied => KeyAdminError::Denied {
                backend: BACKEND,
                operation,
                reason: format!(
                    "Coffer's Vault token may not {capability} {path}: grant the `{capability}` \
                     capability on that path in the token's policy, or manage the key in \
                     Vault itself"
                ),
            },
            other => KeyAdminError::Key(other),
        }
    }

    async fn details(&self, name: &str) -> Result<KeyDetails, KeyAdminError> {
        check_key_name(name)?;
        let path = self.path("keys", name);
        let body = self
            .call(Method::GET, &path, None)
            .await
            .map_err(|e| crate::name_missing(e, name))
            .map_err(|e| self.denied(KeyOperation::DescribeKey, e, &path, "read"))?;
        Ok(parse::<Answer<KeyDetails>>(&body)?.data)
    }

    async fn info(&self, name: &str) -> Result<KeyInfo, KeyAdminError> {
        let details = self.details(name).await?;
        Ok(self.key_info(name, &details))
    }

    fn key_info(&self, name: &str, d: &KeyDetails) -> KeyInfo {
        let created = |version: u32| {
            d.keys
                .get(&version.to_string())
                .map(timestamp)
                .unwrap_or_default()
        };
        let oldest = d.min_decryption_version.max(1);
        KeyInfo {
            key_id: name.to_owned(),
            aliases: Vec::new(),
            state: KeyState::Enabled,
            // Transit keys have no description; the one fact worth showing in its place
            // is why Coffer would refuse the key.
            description: if d.derived {
                String::new()
            } else {
                "not derived: Coffer cannot bind data keys to objects under it".to_owned()
            },
            creation_date: created(1),
            delete_date: None,
            last_rotation_date: created(d.latest_version),
            primary_key_version: d.latest_version,
            versions: (d.latest_version + 1).saturating_sub(oldest),
            key_spec: d.key_type.clone(),
            default_key: name == self.config.default_key,
            usage: self.usage_of(name),
        }
    }

    /// Creates a key that does not exist yet: Transit would accept the same POST for an
    /// existing key and change nothing, which must not pass for a creation.
    async fn create_named(&self, name: &str) -> Result<KeyInfo, KeyAdminError> {
        match self.details(name).await {
            Ok(_) => {
                return Err(KeyError::InvalidParameter(format!(
                    "transit key {name} already exists"
                ))
                .into());
            }
            Err(KeyAdminError::Key(KeyError::KeyNotFound(_))) => {}
            Err(e) => return Err(e),
        }
        let path = self.path("keys", name);
        self.create_transit_key(name)
            .await
            .map_err(|e| self.denied(KeyOperation::CreateKey, e, &path, "create"))?;
        self.info(name).await
    }
}

/// Transit's version timestamps in RFC 3339, to the second, as the built-in KMS reports.
fn timestamp(value: &Value) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    match value {
        Value::Number(n) => n
            .as_i64()
            .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_default(),
        Value::String(s) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&format).ok())
                .unwrap_or_else(|| s.clone())
        }
        _ => String::new(),
    }
}

#[async_trait::async_trait]
impl KeyAdmin for VaultKms {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn create_key(&self, key: NewKey) -> Result<KeyInfo, KeyAdminError> {
        let Some(name) = key.name else {
            return Err(KeyError::InvalidParameter(
                "a Transit key is its name: give one (`coffer kms create --name <name>`)".into(),
            )
            .into());
        };
        if !key.description.is_empty() {
            return Err(KeyError::InvalidParameter(
                "Transit keys carry no description: create the key without one".into(),
            )
            .into());
        }
        self.create_named(&name).await
    }

    async fn list_keys(&self) -> Result<Vec<KeyInfo>, KeyAdminError> {
        let path = format!("{}/keys?list=true", self.config.mount);
        let names = match self.call(Method::GET, &path, None).await {
            Ok(body) => parse::<Answer<KeyList>>(&body)?.data.keys,
            // Transit answers 404 to a listing with no keys.
            Err(KeyError::KeyNotFound(_)) => Vec::new(),
            Err(e) => return Err(self.denied(KeyOperation::ListKeys, e, &path, "list")),
        };
        let mut keys = Vec::with_capacity(names.len());
        // The SSE-OSS key is the service's, not a CMK: the built-in KMS does not list its
        // service key either.
        for name in names.iter().filter(|n| **n != self.config.sse_oss_key) {
            keys.push(self.info(name).await?);
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
        Err(unsupported(KeyOperation::ScheduleKeyDeletion, NO_STATES))
    }

    async fn cancel_key_deletion(&self, _key: &str) -> Result<KeyInfo, KeyAdminError> {
        Err(unsupported(KeyOperation::CancelKeyDeletion, NO_STATES))
    }

    async fn delete_key_now(&self, key: &str) -> Result<(), KeyAdminError> {
        if key == self.config.sse_oss_key {
            return Err(KeyError::InvalidParameter(format!(
                "{key} is the SSE-OSS key of this server, not a CMK: deleting it would make \
                 every SSE-OSS object unreadable"
            ))
            .into());
        }
        self.details(key).await?;
        let config = self.path("keys", &format!("{key}/config"));
        let body = br#"{"deletion_allowed":true}"#.to_vec();
        self.call(Method::POST, &config, Some(body))
            .await
            .map_err(|e| self.denied(KeyOperation::DeleteKeyNow, e, &config, "update"))?;
        let path = self.path("keys", key);
        self.call(Method::DELETE, &path, None)
            .await
            .map_err(|e| self.denied(KeyOperation::DeleteKeyNow, e, &path, "delete"))?;
        self.forget(key);
        tracing::warn!(
            key,
            "deleted transit key: data keys wrapped under it are unrecoverable"
        );
        Ok(())
    }

    async fn rotate_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError> {
        self.details(key).await?;
        let path = self.path("keys", &format!("{key}/rotate"));
        self.call(Method::POST, &path, None)
            .await
            .map_err(|e| self.denied(KeyOperation::RotateKey, e, &path, "update"))?;
        self.info(key).await
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
        self.details(key).await?;
        Ok((key.to_owned(), self.usage_of(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transit_timestamps_read_as_rfc3339() {
        assert_eq!(timestamp(&Value::from(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            timestamp(&Value::from("2026-12-07T20:01:02.123456+01:00")),
            "2026-12-07T19:01:02Z"
        );
        assert_eq!(timestamp(&Value::Null), "");
    }
}
