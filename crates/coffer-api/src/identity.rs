//! The identity seam: who holds an AccessKey, its secret, and the policies a caller
//! brings, as every dialect's authentication and authorization ask.
//!
//! A dialect verifies signatures with [`SecretLookup`] and authorizes with [`Identities`];
//! neither knows where keys live. The server's source is `coffer_identity::Keyring` (the
//! root key, then the RAM users of the identity store); another source (an external
//! directory, a token service) plugs in by implementing these traits. They are async so
//! that such a source may ask over the network; the built-in one answers from memory.

use std::fmt;
use std::sync::Arc;

use coffer_iam::Policy;
use zeroize::Zeroizing;

/// An access key secret. Zeroized on drop; `Debug` never prints the value.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<String>);

impl SecretKey {
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Secrets of access keys: what signature verification needs.
#[async_trait::async_trait]
pub trait SecretLookup: Send + Sync {
    /// The secret of an active key; `None` for an unknown, Inactive or deleted one.
    async fn secret_for(&self, access_key_id: &str) -> Option<SecretKey>;
}

/// Who an access key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerIdentity {
    /// The account's root AccessKey pair.
    Root,
    /// A RAM user of the account.
    User { name: String, id: String },
}

/// The credential and identity store a front end authenticates and authorizes against.
#[async_trait::async_trait]
pub trait Identities: SecretLookup {
    /// Who owns `access_key_id`; `None` if no active key has that id.
    async fn caller(&self, access_key_id: &str) -> Option<CallerIdentity>;
    /// The identity policies attached to a user (none for an unknown user).
    async fn user_policies(&self, user_name: &str) -> Vec<Arc<Policy>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_debug_hides_value() {
        let k = SecretKey::new("very-secret".into());
        assert_eq!(format!("{k:?}"), "SecretKey(..)");
        assert_eq!(k.expose(), "very-secret");
    }
}
