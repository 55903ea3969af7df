//! Combining the RAM policies of the caller with the bucket policy.

use crate::context::{PrincipalRef, RequestContext};
use crate::policy::{Decision, Policy};

/// Decides a request from every policy that bears on it.
///
/// `identity` are the RAM policies attached to the caller (none for the root principal and for
/// anonymous callers); `bucket` is the bucket policy of the bucket addressed, if any.
///
/// 1. **Deny wins**: if any statement of any of these policies that applies to the request
///    denies it, the answer is `Deny`. This holds for the root principal too: a bucket policy
///    can deny the bucket owner (e.g. a `Principal: "*"` Deny with a condition).
/// 2. **The root principal** of the account that owns the resource
///    ([`RequestContext::caller_is_owner`]) is allowed everything else.
/// 3. **An Allow** from a RAM policy counts only when the caller belongs to the account that owns
///    the resource ([`RequestContext::caller_in_owner_account`]): RAM policies govern their
///    own account's resources. An Allow from the bucket policy counts for whoever its
///    `Principal` names, other accounts and anonymous callers included.
/// 4. Otherwise `NotApplicable`: no policy decides; the caller falls back to ACLs (for
///    anonymous callers and other accounts) or refuses (implicit deny).
pub fn combine(
    identity: &[&Policy],
    bucket: Option<&Policy>,
    action: &str,
    resource: &str,
    ctx: &RequestContext<'_>,
) -> Decision {
    let mut allowed = false;
    let counts_identity_allow = ctx.caller_in_owner_account();
    for policy in identity {
        match policy.evaluate(action, resource, ctx) {
            Decision::Deny => return Decision::Deny,
            Decision::Allow if counts_identity_allow => allowed = true,
            _ => {}
        }
    }
    if let Some(policy) = bucket {
        match policy.evaluate(action, resource, ctx) {
            Decision::Deny => return Decision::Deny,
            Decision::Allow => allowed = true,
            Decision::NotApplicable => {}
        }
    }
    if allowed || (matches!(ctx.principal, PrincipalRef::Root { .. }) && ctx.caller_is_owner()) {
        Decision::Allow
    } else {
        Decision::NotApplicable
    }
}
