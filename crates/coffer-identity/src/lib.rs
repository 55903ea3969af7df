//! Coffer's identities, in the style of Alibaba Cloud RAM: users, their AccessKey pairs, and
//! custom identity policies attached to users.
//!
//! * **Users**: a name (1–64 characters of `A-Z a-z 0-9 . _ @ -`), a display name and a
//!   16-digit user id.
//! * **AccessKeys**: `LTAI` + 20 letters and digits, with a 30-character secret; at most
//!   [`MAX_ACCESS_KEYS_PER_USER`] per user; Active or Inactive. The secret is returned once,
//!   by [`IdentityStore::create_access_key`].
//! * **Policies**: identity policy documents validated by [`coffer_iam::parse_policy`]; kept
//!   parsed in memory for [`IdentityStore::policies_of`]. A policy cannot be deleted while it
//!   is attached.
//!
//! Everything lives in one JSON file, `<dir>/identities.json` (mode 0600, replaced atomically
//! on every change). AccessKey secrets are in it only sealed with AES-256-GCM under a key
//! derived from the root key ([`SEAL_KEY_PURPOSE`]), bound to their key id and user.
//!
//! The per-request path ([`IdentityStore::lookup`], [`IdentityStore::policies_of`]) reads an
//! in-memory snapshot and never touches the disk; an Inactive or deleted key stops
//! authenticating with the next request.
//!
//! [`Keyring`] puts the root AccessKey ([`RootAccessKey`]) in front of the store: it is the
//! server's implementation of the identity seam of `coffer_api::identity`, and the one place
//! where root wins over a user key with the same id.

mod error;
mod file;
mod keyring;
mod reseal;
mod seal;
mod store;

pub use error::IdentityError;
pub use keyring::{KeyOwner, Keyring, RootAccessKey};
pub use reseal::{Resealed, reseal, sealed_by};
pub use store::{
    AccessKeyInfo, AccessKeyStatus, AttachedPolicyInfo, IdentityStore, PolicyInfo, UserInfo,
};

/// The purpose to give `coffer_kms::RootKey::derive_subkey` for the key that seals AccessKey
/// secrets. Never change it: stores sealed under the old key would no longer open.
pub const SEAL_KEY_PURPOSE: &str = "identities";
/// The identity file's name inside the directory given to [`IdentityStore::open`].
pub const FILE_NAME: &str = file::FILE_NAME;

/// AccessKeys a user may have (Active and Inactive together), as in RAM.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
/// Longest user name.
pub const MAX_USER_NAME_CHARS: usize = 64;
/// Longest display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 128;
/// Longest policy name.
pub const MAX_POLICY_NAME_CHARS: usize = 128;
/// Longest policy or user description.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Largest policy document, as in RAM.
pub const MAX_POLICY_DOCUMENT_BYTES: usize = 6144;
