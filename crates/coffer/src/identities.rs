//! What the KMS and the admin API ask about RAM users' KMS permissions, answered from the
//! server's [`Keyring`]: it decides whose key an id is (root first, then the RAM users),
//! here only the users' policies are evaluated. The OSS front end asks the same keyring
//! through `coffer_api::identity::Identities`.

use coffer_iam::{Decision, PrincipalRef, RequestContext, kms_resource};
use coffer_identity::{KeyOwner, Keyring, UserInfo};

pub struct ServerIdentities {
    pub keyring: Keyring,
    /// The single account every identity on this server belongs to.
    pub account: String,
}

impl ServerIdentities {
    /// Whether RAM user `user`, signing with `access_key_id`, may perform `action` on
    /// `resource` by its policies.
    fn user_allowed(
        &self,
        access_key_id: &str,
        user: &UserInfo,
        action: &str,
        resource: &str,
    ) -> bool {
        let policies = self.keyring.policies_of(&user.user_name);
        let refs: Vec<&coffer_iam::Policy> = policies.iter().map(|p| &**p).collect();
        let principal = PrincipalRef::User {
            account: &self.account,
            id: &user.user_id,
            name: &user.user_name,
        };
        let mut ctx = RequestContext::new(principal, time::OffsetDateTime::now_utc());
        ctx.access_key_id = Some(access_key_id);
        coffer_iam::combine(&refs, None, action, resource, &ctx) == Decision::Allow
    }
}

impl coffer_admin::KmsActionAuthorizer for ServerIdentities {
    /// RAM users may administer keys as their policies allow (`kms:CreateKey` on `*`,
    /// `kms:DisableKey` on `key/<id>`, ...). Root is authorized by the admin API itself.
    fn allowed(&self, access_key_id: &str, action: &str, key_id: Option<&str>) -> bool {
        let resource = match key_id {
            None => "acs:kms:*:*:*".to_owned(),
            Some(alias) if alias.starts_with("alias/") => coffer_iam::kms_alias_resource(alias),
            Some(id) => kms_resource(id),
        };
        match self.keyring.owner(access_key_id) {
            Some(KeyOwner::User(user)) => {
                self.user_allowed(access_key_id, &user, action, &resource)
            }
            _ => false,
        }
    }
}

/// The same rule for CMKs held in Vault Transit: a Transit key name is the CMK id.
impl coffer_kms_vault::KeyAccess for ServerIdentities {
    fn allowed(&self, caller: &str, action: &str, key_name: &str) -> bool {
        coffer_kms::KeyAccess::allowed(self, caller, action, key_name)
    }
}

/// And for CMKs held by a KMIP server: a KMIP unique identifier is the CMK id.
impl coffer_kms_kmip::KeyAccess for ServerIdentities {
    fn allowed(&self, caller: &str, action: &str, key_id: &str) -> bool {
        coffer_kms::KeyAccess::allowed(self, caller, action, key_id)
    }
}

impl coffer_kms::KeyAccess for ServerIdentities {
    /// Root may use every key; RAM users what their policies allow on
    /// `acs:kms:*:*:key/<id>`; anonymous callers no CMK at all, so an SSE-KMS object is
    /// never served to them, whatever the bucket ACL says.
    fn allowed(&self, caller: &str, action: &str, key_id: &str) -> bool {
        match self.keyring.owner(caller) {
            None => false,
            Some(KeyOwner::Root) => true,
            Some(KeyOwner::User(user)) => {
                self.user_allowed(caller, &user, action, &kms_resource(key_id))
            }
        }
    }
}
