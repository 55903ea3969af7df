//! Who is who on this server: the root AccessKey and the RAM users of the identity store,
//! as the OSS front end (authentication, policies) and the KMS (key permissions) ask.

use std::sync::Arc;

use coffer_iam::{Decision, PrincipalRef, RequestContext, kms_resource};
use coffer_identity::IdentityStore;
use coffer_oss::auth::{SecretKey, SecretLookup};
use coffer_oss::{CallerIdentity, Identities};

use crate::credentials::RootCredentials;

pub struct ServerIdentities {
    pub root: Arc<RootCredentials>,
    pub users: Arc<IdentityStore>,
    /// The single account every identity on this server belongs to.
    pub account: String,
}

impl SecretLookup for ServerIdentities {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.root
            .secret_for(access_key_id)
            .or_else(|| self.users.lookup(access_key_id).map(|(_, secret)| secret))
    }
}

impl Identities for ServerIdentities {
    fn caller(&self, access_key_id: &str) -> Option<CallerIdentity> {
        if self.root.secret_for(access_key_id).is_some() {
            return Some(CallerIdentity::Root);
        }
        self.users
            .lookup(access_key_id)
            .map(|(user, _)| CallerIdentity::User {
                name: user.user_name,
                id: user.user_id,
            })
    }

    fn user_policies(&self, user_name: &str) -> Vec<Arc<coffer_iam::Policy>> {
        self.users.policies_of(user_name)
    }
}

impl ServerIdentities {
    /// Whether RAM user `name` may perform `action` on `resource` by its policies.
    fn user_allowed(
        &self,
        access_key_id: &str,
        name: &str,
        id: &str,
        action: &str,
        resource: &str,
    ) -> bool {
        let policies = self.users.policies_of(name);
        let refs: Vec<&coffer_iam::Policy> = policies.iter().map(|p| &**p).collect();
        let principal = PrincipalRef::User {
            account: &self.account,
            id,
            name,
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
        match self.caller(access_key_id) {
            Some(CallerIdentity::User { name, id }) => {
                self.user_allowed(access_key_id, &name, &id, action, &resource)
            }
            _ => false,
        }
    }
}

impl coffer_kms::KeyAccess for ServerIdentities {
    /// Root may use every key; RAM users what their policies allow on
    /// `acs:kms:*:*:key/<id>`; anonymous callers no CMK at all, so an SSE-KMS object is
    /// never served to them, whatever the bucket ACL says.
    fn allowed(&self, caller: &str, action: &str, key_id: &str) -> bool {
        match self.caller(caller) {
            None => false,
            Some(CallerIdentity::Root) => true,
            Some(CallerIdentity::User { name, id }) => {
                let policies = self.users.policies_of(&name);
                let refs: Vec<&coffer_iam::Policy> = policies.iter().map(|p| &**p).collect();
                let principal = PrincipalRef::User {
                    account: &self.account,
                    id: &id,
                    name: &name,
                };
                let mut ctx = RequestContext::new(principal, time::OffsetDateTime::now_utc());
                ctx.access_key_id = Some(caller);
                coffer_iam::combine(&refs, None, action, &kms_resource(key_id), &ctx)
                    == Decision::Allow
            }
        }
    }
}
