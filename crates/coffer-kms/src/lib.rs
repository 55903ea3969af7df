//! Coffer's built-in KMS: an embedded, synchronous key management service.
//!
//! * **CMKs** (customer master keys) for SSE-KMS: UUID ids, `alias/…` aliases, the states
//!   Enabled / Disabled / PendingDeletion of Alibaba Cloud KMS, and versions: [`Kms::rotate_key`]
//!   adds a primary version, older versions keep decrypting. The OSS default CMK
//!   (`alias/acs/oss`) is created on first use.
//! * The **service master key** for SSE-OSS: internal, never listed among CMKs, rotated every
//!   [`KmsConfig::service_key_rotation`]; old versions keep decrypting.
//! * **Envelope encryption**: [`Kms::generate_data_key`] returns a fresh 256-bit data key and the
//!   same key wrapped with AES-256-GCM under the key version; the wrapping binds the key id, the
//!   version and the [`EncryptionContext`] (bucket and object), so a wrapped key copied to
//!   another object does not unwrap.
//! * **Persistence**: one JSON state file, replaced atomically on every change; all key material
//!   in it is sealed under the [`RootKey`]. A change is visible only once it is durable, and it
//!   is saved (with fsync) without holding the mutex data-key calls take, so they never wait
//!   for a save (`state` has the protocol). Data-key calls never write the file, with one
//!   exception: [`Kms::generate_data_key`] creating the default CMK on first use;
//!   [`Kms::generate_data_key_from_memory`] leaves that save to the caller's choice of thread.
//!   A service-key rotation they find due is saved by a thread of its own, and goes live
//!   after the save ([`Kms::wait_for_rotation`]). Deleting a key destroys its material
//!   (crypto-shredding) and keeps a tombstone so errors stay precise ([`KmsError::KeyDeleted`]).
//! * **Audit**: one JSON line per key use and admin operation (see [`KmsConfig::audit_log`]).
//!
//! Deleted keys: every admin operation on a deleted key (describe, enable, disable, schedule or
//! cancel deletion, delete, rotate, create an alias for it) fails with `KeyDeleted`; ids that
//! never existed fail with `KeyNotFound`.

mod audit;
mod clock;
mod crypto;
mod error;
mod keys;
mod kms;
mod reseal;
mod rotation;
mod state;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::KmsError;
pub use keys::{
    DataKey, EncryptionContext, GeneratedKey, KeySelector, ROOT_KEY_ENV, RootKey, WrappedKey,
};
pub use kms::{
    CachedOperation, DEFAULT_KEY_ALIAS, KeyAccess, KeyMetadata, KeyState, KeyUsage, Kms, KmsConfig,
    RESERVED_ALIAS_PREFIX, SERVICE_KEY_ID, ServiceKeyInfo,
};
pub use reseal::{Resealed, reseal_state, state_sealed_by};

/// The state file's name inside the directory given to [`Kms::open`].
pub const STATE_FILE_NAME: &str = store::STATE_FILE;
