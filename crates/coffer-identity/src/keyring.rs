//! The root AccessKey and the RAM users' keys behind one [`SecretLookup`].

use std::fmt;
use std::sync::Arc;

use coffer_iam::Policy;
use coffer_oss::auth::{SecretKey, SecretLookup};
use coffer_oss::{CallerIdentity, Identities};

use crate::{IdentityStore, UserInfo};

/// Whose AccessKey an id is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The root AccessKey: may do everything.
    Root,
    /// An Active key of this RAM user: may do what the user's policies allow.
    User(UserInfo),
}

/// Knows the root key (first) and the RAM users' Active keys. Use it as the
/// [`SecretLookup`] of a front end that serves RAM users too, and
/// [`owner`](Keyring::owner) to learn who signed a request once it is authenticated. It is
/// the OSS front end's [`Identities`].
#[derive(Clone)]
pub struct Keyring {
    root: Arc<dyn SecretLookup + Send + Sync>,
    users: Arc<IdentityStore>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn new(root: Arc<dyn SecretLookup + Send + Sync>, users: Arc<IdentityStore>) -> Keyring {
        Keyring { root, users }
    }

    /// Root, a user (Active keys only), or `None` for an unknown, Inactive or deleted key.
    pub fn owner(&self, access_key_id: &str) -> Option<KeyOwner> {
        if self.root.secret_for(access_key_id).is_some() {
            return Some(KeyOwner::Root);
        }
        self.users
            .lookup(access_key_id)
            .map(|(user, _)| KeyOwner::User(user))
    }

    pub fn identities(&self) -> &Arc<IdentityStore> {
        &self.users
    }
}

impl SecretLookup for Keyring {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.root
            .secret_for(access_key_id)
            .or_else(|| self.users.secret_for(access_key_id))
    }
}

impl Identities for Keyring {
    fn caller(&self, access_key_id: &str) -> Option<CallerIdentity> {
        self.owner(access_key_id).map(|owner| match owner {
            KeyOwner::Root => CallerIdentity::Root,
            KeyOwner::User(user) => CallerIdentity::User {
                name: user.user_name,
                id: user.user_id,
            },
        })
    }

    fn user_policies(&self, user_name: &str) -> Vec<Arc<Policy>> {
        self.users.policies_of(user_name)
    }
}
