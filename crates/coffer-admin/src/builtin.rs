//! The built-in KMS behind the [`KeyAdmin`] seam. Its admin calls save the state file
//! with fsync before returning, so each runs on the blocking pool, never on a runtime
//! thread.

use std::sync::Arc;

use coffer_kms::{KeyMetadata, Kms, KmsError};
use coffer_service::{
    AliasEntry, KeyAdmin, KeyAdminError, KeyError, KeyInfo, KeyState, KeyUsage, NewKey,
};

/// `--kms-backend builtin`: the KMS whose state lives in the data directory.
#[derive(Clone)]
pub struct BuiltinKeyAdmin(Arc<Kms>);

impl BuiltinKeyAdmin {
    pub fn new(kms: Arc<Kms>) -> BuiltinKeyAdmin {
        BuiltinKeyAdmin(kms)
    }

    /// Runs `f` on the blocking pool and translates its error.
    async fn run<T, F>(&self, key: &str, f: F) -> Result<T, KeyAdminError>
    where
        T: Send + 'static,
        F: FnOnce(&Kms) -> Result<T, KmsError> + Send + 'static,
    {
        let kms = self.0.clone();
        tokio::task::spawn_blocking(move || f(&kms))
            .await
            .map_err(|e| KeyAdminError::Internal(format!("the KMS call did not complete: {e}")))?
            .map_err(|e| admin_error(e, key))
    }

    async fn info<F>(&self, key: &str, f: F) -> Result<KeyInfo, KeyAdminError>
    where
        F: FnOnce(&Kms) -> Result<KeyMetadata, KmsError> + Send + 'static,
    {
        self.run(key, f).await.map(key_info)
    }
}

impl std::fmt::Debug for BuiltinKeyAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BuiltinKeyAdmin").field(&self.0).finish()
    }
}

fn admin_error(e: KmsError, key: &str) -> KeyAdminError {
    let key_error = match e {
        KmsError::KeyNotFound(id) => KeyError::KeyNotFound(id),
        KmsError::AliasNotFound(alias) => KeyError::AliasNotFound(alias),
        KmsError::KeyDisabled => KeyError::Disabled,
        KmsError::KeyPendingDeletion => KeyError::PendingDeletion,
        KmsError::KeyDeleted => KeyError::Deleted(key.to_owned()),
        KmsError::InvalidParameter(p) => KeyError::InvalidParameter(p),
        KmsError::AccessDenied => KeyError::AccessDenied,
        // The state file could not be written, or a stored key does not open: nothing
        // the operator's next call changes.
        e @ (KmsError::InvalidCiphertext | KmsError::Storage(_)) => {
            return KeyAdminError::Internal(e.to_string());
        }
    };
    KeyAdminError::Key(key_error)
}

pub(crate) fn key_info(m: KeyMetadata) -> KeyInfo {
    KeyInfo {
        key_id: m.key_id,
        aliases: m.aliases,
        state: match m.state {
            coffer_kms::KeyState::Enabled => KeyState::Enabled,
            coffer_kms::KeyState::Disabled => KeyState::Disabled,
            coffer_kms::KeyState::PendingDeletion => KeyState::PendingDeletion,
        },
        description: m.description,
        creation_date: m.creation_date,
        delete_date: m.delete_date,
        last_rotation_date: m.last_rotation_date,
        primary_key_version: m.primary_key_version,
        versions: m.versions,
        key_spec: m.key_spec,
        default_key: m.default_key,
        usage: KeyUsage {
            generate_data_key: m.usage.generate_data_key,
            decrypt: m.usage.decrypt,
        },
    }
}

#[async_trait::async_trait]
impl KeyAdmin for BuiltinKeyAdmin {
    fn backend(&self) -> &'static str {
        "builtin"
    }

    async fn create_key(&self, key: NewKey) -> Result<KeyInfo, KeyAdminError> {
        if key.name.is_some() {
            return Err(KeyError::InvalidParameter(
                "the built-in KMS gives each key an id of its own; name it with an alias \
                 (`coffer kms alias create alias/<name> <key id>`)"
                    .into(),
            )
            .into());
        }
        self.info("", move |kms| kms.create_key(&key.description))
            .await
    }

    async fn list_keys(&self) -> Result<Vec<KeyInfo>, KeyAdminError> {
        let keys = self.run("", |kms| Ok(kms.list_keys())).await?;
        Ok(keys.into_iter().map(key_info).collect())
    }

    async fn describe_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError> {
        let k = key.to_owned();
        self.info(key, move |kms| kms.describe_key(&k)).await
    }

    async fn enable_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError> {
        let k = key.to_owned();
        self.info(key, move |kms| kms.enable_key(&k)).await
    }

    async fn disable_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError> {
        let k = key.to_owned();
        self.info(key, move |kms| kms.disable_key(&k)).await
    }

    async fn schedule_key_deletion(&self, key: &str, days: u32) -> Result<KeyInfo, KeyAdminError> {
        let k = key.to_owned();
        self.info(key, move |kms| kms.schedule_key_deletion(&k, days))
            .await
    }

    async fn cancel_key_deletion(&self, key: &str) -> Result<KeyInfo, KeyAdminError> {
        let k = key.to_owned();
        self.info(key, move |kms| kms.cancel_key_deletion(&k)).await
    }

    async fn delete_key_now(&self, key: &str) -> Result<(), KeyAdminError> {
        let k = key.to_owned();
        self.run(key, move |kms| kms.delete_key_now(&k)).await
    }

    async fn rotate_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError> {
        let k = key.to_owned();
        self.info(key, move |kms| kms.rotate_key(&k)).await
    }

    async fn create_alias(&self, alias: &str, key: &str) -> Result<(), KeyAdminError> {
        let (a, k) = (alias.to_owned(), key.to_owned());
        self.run(key, move |kms| kms.create_alias(&a, &k)).await
    }

    async fn delete_alias(&self, alias: &str) -> Result<(), KeyAdminError> {
        let a = alias.to_owned();
        self.run(alias, move |kms| kms.delete_alias(&a)).await
    }

    async fn list_aliases(&self) -> Result<Vec<AliasEntry>, KeyAdminError> {
        let aliases = self.run("", |kms| Ok(kms.list_aliases())).await?;
        Ok(aliases
            .into_iter()
            .map(|(alias_name, key_id)| AliasEntry { alias_name, key_id })
            .collect())
    }

    async fn key_usage(&self, key: &str) -> Result<(String, KeyUsage), KeyAdminError> {
        let info = self.describe_key(key).await?;
        Ok((info.key_id, info.usage))
    }
}
