//! Key administration, the other half of a key manager: creating, describing, rotating,
//! disabling and deleting the CMKs that [`crate::KeyProvider`] issues data keys under.
//!
//! The admin API (`coffer kms …`) calls a [`KeyAdmin`] and never a particular key manager,
//! so every backend (the built-in KMS, Vault Transit, KMIP) serves the same operations. A
//! backend that has no such operation (Transit keys have no Disabled state) answers
//! [`KeyAdminError::Unsupported`] with a reason and what to do instead: a clear refusal,
//! never an approximation that would leave the operator believing a key is disabled when
//! it still decrypts.

use serde::{Deserialize, Serialize};

use crate::sse::KeyError;

/// Every operation of [`KeyAdmin`], named as the admin API's actions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOperation {
    CreateKey,
    ListKeys,
    DescribeKey,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    DeleteKeyNow,
    RotateKey,
    CreateAlias,
    DeleteAlias,
    ListAliases,
    GetKeyUsage,
}

impl KeyOperation {
    /// Every operation, in the admin API's order.
    pub const ALL: [KeyOperation; 13] = [
        KeyOperation::CreateKey,
        KeyOperation::ListKeys,
        KeyOperation::DescribeKey,
        KeyOperation::EnableKey,
        KeyOperation::DisableKey,
        KeyOperation::ScheduleKeyDeletion,
        KeyOperation::CancelKeyDeletion,
        KeyOperation::DeleteKeyNow,
        KeyOperation::RotateKey,
        KeyOperation::CreateAlias,
        KeyOperation::DeleteAlias,
        KeyOperation::ListAliases,
        KeyOperation::GetKeyUsage,
    ];

    /// The operation an admin action names (`RotateKey`), exactly as spelled.
    pub fn from_name(name: &str) -> Option<KeyOperation> {
        KeyOperation::ALL.into_iter().find(|op| op.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyOperation::CreateKey => "CreateKey",
            KeyOperation::ListKeys => "ListKeys",
            KeyOperation::DescribeKey => "DescribeKey",
            KeyOperation::EnableKey => "EnableKey",
            KeyOperation::DisableKey => "DisableKey",
            KeyOperation::ScheduleKeyDeletion => "ScheduleKeyDeletion",
            KeyOperation::CancelKeyDeletion => "CancelKeyDeletion",
            KeyOperation::DeleteKeyNow => "DeleteKeyNow",
            KeyOperation::RotateKey => "RotateKey",
            KeyOperation::CreateAlias => "CreateAlias",
            KeyOperation::DeleteAlias => "DeleteAlias",
            KeyOperation::ListAliases => "ListAliases",
            KeyOperation::GetKeyUsage => "GetKeyUsage",
        }
    }
}

impl std::fmt::Display for KeyOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key-administration call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyAdminError {
    /// The key manager's answer about a key (not found, disabled, a bad parameter, an
    /// operation its state does not allow) or its unavailability: as on the data path.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// This backend has no such operation. `reason` says why, and what to do instead;
    /// it is shown to the operator as it is.
    #[error("{operation} is not supported by the {backend} key manager: {reason}")]
    Unsupported {
        backend: &'static str,
        operation: KeyOperation,
        reason: String,
    },
    /// The key manager refused Coffer's own credentials for this operation (a Vault token
    /// whose policy does not allow creating keys). Unlike [`KeyError::AccessDenied`] on
    /// the data path, which is about the caller, the message names the permission the
    /// operator must grant.
    #[error("the {backend} key manager refused {operation}: {reason}")]
    Denied {
        backend: &'static str,
        operation: KeyOperation,
        reason: String,
    },
    /// The key manager failed in a way no retry or parameter change cures (its state file
    /// could not be written).
    #[error("key manager error: {0}")]
    Internal(String),
}

impl KeyAdminError {
    pub fn unsupported(
        backend: &'static str,
        operation: KeyOperation,
        reason: impl Into<String>,
    ) -> KeyAdminError {
        KeyAdminError::Unsupported {
            backend,
            operation,
            reason: reason.into(),
        }
    }
}

/// A CMK's state, as Alibaba Cloud KMS names them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Successful data-key calls under a key since the server started (in memory only;
/// failures are not counted).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyUsage {
    pub generate_data_key: u64,
    pub decrypt: u64,
}

/// What describing or listing a CMK reports (JSON names as in Alibaba's DescribeKey).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyInfo {
    /// The id a request names the key by (a UUID in the built-in KMS, a Transit key name).
    pub key_id: String,
    /// Sorted.
    pub aliases: Vec<String>,
    #[serde(rename = "KeyState")]
    pub state: KeyState,
    pub description: String,
    /// RFC 3339, to the second.
    pub creation_date: String,
    /// When a key in PendingDeletion will be destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_date: Option<String>,
    /// Creation date of the primary version.
    pub last_rotation_date: String,
    /// The newest version, used for new data keys. Versions are numbered from 1.
    pub primary_key_version: u32,
    /// How many versions still decrypt.
    pub versions: u32,
    /// The backend's name for the key type (`Aliyun_AES_256`, `aes256-gcm96`).
    pub key_spec: String,
    /// True for the key an SSE-KMS request without a key id uses.
    pub default_key: bool,
    pub usage: KeyUsage,
}

/// A key to create. Some backends name keys themselves (the built-in KMS gives each a
/// UUID), others are told the name (a Transit key is its name); each refuses the form it
/// cannot honour with [`KeyError::InvalidParameter`] saying which it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewKey {
    pub name: Option<String>,
    pub description: String,
}

/// An alias and the key it points at.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AliasEntry {
    pub alias_name: String,
    pub key_id: String,
}

/// Manages the CMKs of one key manager. Who may call what is decided before (the admin
/// API's RAM checks); an implementation acts for the operator. Like [`crate::KeyProvider`]
/// it never blocks the calling thread: a backend that saves state synchronously runs that
/// on the blocking pool, a network backend bounds each call with its deadline.
#[async_trait::async_trait]
pub trait KeyAdmin: Send + Sync + 'static {
    /// The backend's name as `--kms-backend` spells it, for messages.
    fn backend(&self) -> &'static str;
    /// Creates an enabled key with one version.
    async fn create_key(&self, key: NewKey) -> Result<KeyInfo, KeyAdminError>;
    /// Every key that is not deleted.
    async fn list_keys(&self) -> Result<Vec<KeyInfo>, KeyAdminError>;
    /// A key by id (or alias, where the backend has aliases).
    async fn describe_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError>;
    /// Disabled → Enabled.
    async fn enable_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError>;
    /// Enabled → Disabled: no data key is issued or unwrapped under it until enabled.
    async fn disable_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError>;
    /// Marks the key for destruction after `days`; it issues and unwraps nothing meanwhile.
    async fn schedule_key_deletion(&self, key: &str, days: u32) -> Result<KeyInfo, KeyAdminError>;
    /// PendingDeletion → Disabled.
    async fn cancel_key_deletion(&self, key: &str) -> Result<KeyInfo, KeyAdminError>;
    /// Destroys the key's material now: what it wrapped becomes unrecoverable.
    async fn delete_key_now(&self, key: &str) -> Result<(), KeyAdminError>;
    /// Adds a version that new data keys use; older versions keep unwrapping.
    async fn rotate_key(&self, key: &str) -> Result<KeyInfo, KeyAdminError>;
    async fn create_alias(&self, alias: &str, key: &str) -> Result<(), KeyAdminError>;
    async fn delete_alias(&self, alias: &str) -> Result<(), KeyAdminError>;
    async fn list_aliases(&self) -> Result<Vec<AliasEntry>, KeyAdminError>;
    /// The key's resolved id and how often data keys were issued and unwrapped under it.
    async fn key_usage(&self, key: &str) -> Result<(String, KeyUsage), KeyAdminError>;
}
