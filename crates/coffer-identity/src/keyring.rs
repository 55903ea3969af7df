//! The one place that says who holds an AccessKey: the root key first, then the RAM users'
//! Active keys. The OSS front end (through [`Identities`]), the admin API and the KMS
//! permission checks all ask a [`Keyring`], so they cannot disagree about an id.

use std::fmt;
use std::sync::Arc;

use coffer_api::identity::{CallerIdentity, Identities, SecretKey, SecretLookup};
use coffer_iam::Policy;
use subtle::ConstantTimeEq;

use crate::{IdentityStore, UserInfo};

/// The account's root AccessKey pair: may do everything.
pub struct RootAccessKey {
    access_key_id: String,
    secret: SecretKey,
}

impl fmt::Debug for RootAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootAccessKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl RootAccessKey {
    pub fn new(access_key_id: String, secret: SecretKey) -> RootAccessKey {
        RootAccessKey {
            access_key_id,
            secret,
        }
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// Whether `access_key_id` is this key's id. Constant-time, so that timing does not
    /// reveal how much of a guessed id was right.
    pub fn is(&self, access_key_id: &str) -> bool {
        access_key_id
            .as_bytes()
            .ct_eq(self.access_key_id.as_bytes())
            .into()
    }
}

/// Whose AccessKey an id is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The root AccessKey: may do everything.
    Root,
    /// An Active key of this RAM user: may do what the user's policies allow.
    User(UserInfo),
}

/// Knows the root key (first) and, when given a store, the RAM users' Active keys. It is
/// the [`SecretLookup`] and [`Identities`] of a front end; [`owner`](Keyring::owner) answers
/// the same question synchronously, for callers that cannot await (the KMS).
#[derive(Clone)]
pub struct Keyring {
    root: Arc<RootAccessKey>,
    users: Option<Arc<IdentityStore>>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("root", &self.root)
            .field("users", &self.users)
            .finish()
    }
}

impl Keyring {
    /// The root key, then the Active keys of `users`.
    pub fn new(root: Arc<RootAccessKey>, users: Arc<IdentityStore>) -> Keyring {
        Keyring {
            root,
            users: Some(users),
        }
    }

    /// The root key alone: for a server without an identity store.
    pub fn root_only(root: Arc<RootAccessKey>) -> Keyring {
        Keyring { root, users: None }
    }

    /// Who holds `access_key_id` and its secret: root if the id is root's (even should a
    /// user key have the same id), else the user with that Active key; `None` for an
    /// unknown, Inactive or deleted key. Every other question is answered from this one.
    pub fn resolve(&self, access_key_id: &str) -> Option<(KeyOwner, SecretKey)> {
        if self.root.is(access_key_id) {
            return Some((KeyOwner::Root, self.root.secret.clone()));
        }
        let (user, secret) = self.users.as_ref()?.lookup(access_key_id)?;
        Some((KeyOwner::User(user), secret))
    }

    /// Who holds `access_key_id` (see [`resolve`](Keyring::resolve)).
    pub fn owner(&self, access_key_id: &str) -> Option<KeyOwner> {
        self.resolve(access_key_id).map(|(owner, _)| owner)
    }

    /// The identity policies attached to `user_name`; none without a store.
    pub fn policies_of(&self, user_name: &str) -> Vec<Arc<Policy>> {
        self.users
            .as_ref()
            .map(|users| users.policies_of(user_name))
            .unwrap_or_default()
    }

    /// The identity store behind the users, if any.
    pub fn identities(&self) -> Option<&Arc<IdentityStore>> {
        self.users.as_ref()
    }

    pub fn root(&self) -> &Arc<RootAccessKey> {
        &self.root
    }
}

#[async_trait::async_trait]
impl SecretLookup for Keyring {
    async fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.resolve(access_key_id).map(|(_, secret)| secret)
    }
}

#[async_trait::async_trait]
impl Identities for Keyring {
    async fn caller(&self, access_key_id: &str) -> Option<CallerIdentity> {
        self.owner(access_key_id).map(|owner| match owner {
            KeyOwner::Root => CallerIdentity::Root,
            KeyOwner::User(user) => CallerIdentity::User {
                name: user.user_name,
                id: user.user_id,
            },
        })
    }

    async fn user_policies(&self, user_name: &str) -> Vec<Arc<Policy>> {
        self.policies_of(user_name)
    }
}
