//! What a request offers to policy evaluation.

use std::net::IpAddr;

use time::OffsetDateTime;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalRef<'a> {
    /// An unsigned request.
    Anonymous,
    /// An account's root credentials.
    Root {
        /// The account id.
        account: &'a str,
    },
    /// A RAM user.
    User {
        /// The account the user belongs to.
        account: &'a str,
        /// The user's id (unique across the server).
        id: &'a str,
        /// The user's name (pass the id again if users have no separate name).
        name: &'a str,
    },
}

impl PrincipalRef<'_> {
    /// The account of the caller; `None` for anonymous callers.
    pub fn account(&self) -> Option<&str> {
        match *self {
            PrincipalRef::Anonymous => None,
            PrincipalRef::Root { account } | PrincipalRef::User { account, .. } => Some(account),
        }
    }
}

/// The request as conditions and principals see it.
#[derive(Debug, Clone)]
pub struct RequestContext<'a> {
    /// Who is asking.
    pub principal: PrincipalRef<'a>,
    /// The account that owns the resource addressed (the bucket owner, for OSS resources).
    /// `None` means the caller's own account, e.g. for ListBuckets or Coffer's KMS keys.
    ///
    /// It decides who "the bucket owner" is for bucket policies, whether the root principal is
    /// on its own resources, and whether RAM policies (which govern only their account's
    /// resources) can grant access.
    pub resource_owner: Option<&'a str>,
    /// `acs:SourceIp`: the client address. An IPv4-mapped IPv6 address counts as IPv4.
    pub source_ip: Option<IpAddr>,
    /// `acs:SecureTransport`: whether the request came over TLS.
    pub secure_transport: bool,
    /// `acs:CurrentTime`: when the request is evaluated.
    pub current_time: OffsetDateTime,
    /// `acs:UserAgent`: the `User-Agent` header, if any.
    pub user_agent: Option<&'a str>,
    /// `acs:AccessId`: the AccessKey id that signed the request, if any.
    pub access_key_id: Option<&'a str>,
    /// Request-specific condition keys, e.g. `("oss:Prefix", "photos/")`,
    /// `("oss:x-oss-server-side-encryption", "KMS")`. Names match case-insensitively. A key
    /// absent here is *missing* (see the crate docs). A key given more than once is a set of
    /// values: a positive operator needs one of them to match, a negated operator needs none to.
    /// Keys outside [`SUPPORTED_CONDITION_KEYS`](crate::SUPPORTED_CONDITION_KEYS) are never read.
    pub values: &'a [(&'a str, String)],
}

impl<'a> RequestContext<'a> {
    /// A context with only the principal and the time: no owner (the caller's own account), no
    /// address, plain HTTP, no user agent, no access key, no request keys.
    pub fn new(principal: PrincipalRef<'a>, current_time: OffsetDateTime) -> RequestContext<'a> {
        RequestContext {
            principal,
            resource_owner: None,
            source_ip: None,
            secure_transport: false,
            current_time,
            user_agent: None,
            access_key_id: None,
            values: &[],
        }
    }

    /// Whether the caller is the root principal of the account that owns the resource. Bucket
    /// policy statements for `Principal: "*"` without a condition do not apply to it.
    pub fn caller_is_owner(&self) -> bool {
        match self.principal {
            PrincipalRef::Root { account } => self.resource_owner.is_none_or(|o| o == account),
            _ => false,
        }
    }

    /// Whether the caller belongs to the account that owns the resource (root or RAM user).
    pub fn caller_in_owner_account(&self) -> bool {
        match self.principal.account() {
            Some(account) => self.resource_owner.is_none_or(|o| o == account),
            None => false,
        }
    }
}
