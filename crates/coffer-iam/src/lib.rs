//! The RAM / bucket policy language of Alibaba Cloud OSS, and its evaluation. A pure library:
//! no I/O, no clock; the server supplies the request and stores the documents.
//!
//! # Documents
//!
//! [`parse_policy`] reads a JSON policy as a RAM (identity) policy or as the bucket policy of
//! one bucket ([`PolicyKind`]) and validates it completely. Anything a policy names that Coffer
//! does not support — an unknown element, action, condition operator or key, a malformed ARN, a
//! value of the wrong type — is refused with a [`PolicyError`] naming the statement, the field
//! and the fault; nothing is silently ignored. [`Policy::source`] keeps the text as given;
//! [`Policy::to_json`] gives a canonical form.
//!
//! * `Version` must be `"1"`; `Statement` a non-empty list. Nothing else at the top level.
//! * Statement elements: `Effect` (`Allow`/`Deny`), `Action` or `NotAction`, `Resource` or
//!   `NotResource` (each a string or a non-empty list), optional `Condition`, optional `Sid`
//!   (a label), and `Principal` — optional in bucket policies (a statement without it
//!   applies to everyone, as `"*"`, as on OSS), refused in RAM policies.
//! * Actions: `<service>:<name>` from [`OSS_ACTIONS`] and [`KMS_ACTIONS`], with `*` / `?`
//!   wildcards, case-insensitive; `*` alone is every action. A pattern that matches no known
//!   action is refused (`oss:Foo`, `ecs:*`). Bucket policies take OSS actions only.
//! * Resources: `*` (RAM policies only) or `acs:<service>:<region>:<account>:<relative>` with
//!   service `oss` or `kms`, region `*`, account `*` or an account id. OSS relatives are
//!   `<bucket>` or `<bucket>/<object-pattern>` (`*` for everything); KMS relatives are `*`,
//!   `key/<id>` or `alias/<name>`. The relative part matches case-sensitively with `*` and `?`.
//!   A policy account `*` matches every account; a policy account id matches requests whose
//!   resource names that account ([`oss_resource_in`], what the server uses: the bucket
//!   owner's id) and requests that do not state one (`*`, which [`oss_resource`] gives), but
//!   never a resource of another account. Bucket policy resources must be the bucket itself
//!   or `<bucket>/…`.
//! * `NotAction` / `NotResource`: the statement applies to every action / resource *except*
//!   those listed. A bucket policy never applies outside its bucket, whatever `NotResource` says.
//!
//! # Principals (bucket policies)
//!
//! `Principal` is `"*"`, `["*"]`, `[]` or absent (all the same as `"*"`), or a list of account ids and RAM
//! user ids or names. Entries are matched exactly:
//!
//! * `*` matches every caller, anonymous ones included — except that a statement whose
//!   principal is `*` and which has **no** `Condition` does not apply to the bucket owner (the
//!   root principal of the owning account). With a condition, it applies to everyone, the owner
//!   included.
//! * An account id matches that account's **root** principal only, not its RAM users.
//! * Any other entry matches a RAM user whose id or name equals it. Names are only as unique as
//!   the server makes them; prefer ids where names could collide.
//!
//! # Conditions
//!
//! `"Condition": { "<operator>": { "<key>": value | [values] } }`. All operator/key pairs must
//! hold (AND); the values listed for one key are alternatives (OR). Operators
//! ([`SUPPORTED_CONDITION_OPERATORS`]), each also with the suffix `IfExists`:
//!
//! | operator | holds when the request value … |
//! |---|---|
//! | `StringEquals` / `StringNotEquals` | equals / equals none of the values (case-sensitive) |
//! | `StringEqualsIgnoreCase` / `StringNotEqualsIgnoreCase` | the same, ignoring case |
//! | `StringLike` / `StringNotLike` | matches / matches none of the patterns (`*`, `?`; case-sensitive) |
//! | `NumericEquals`, `NumericNotEquals`, `NumericLessThan`, `NumericLessThanEquals`, `NumericGreaterThan`, `NumericGreaterThanEquals` | compares so with a value (decimal numbers; a request value that is not a number matches no value) |
//! | `DateEquals`, `DateNotEquals`, `DateLessThan`, `DateLessThanEquals`, `DateGreaterThan`, `DateGreaterThanEquals` | compares so with a value (ISO 8601 / RFC 3339 date-times such as `2019-08-12T17:00:00+08:00`, or dates `2019-08-12` = midnight UTC; whole seconds) |
//! | `Bool` | equals the value (`true` / `false`, any case, or JSON booleans) |
//! | `IpAddress` / `NotIpAddress` | lies in / lies in none of the ranges (IPv4 or IPv6 addresses and CIDR blocks; an IPv4-mapped IPv6 client counts as IPv4) |
//!
//! Request side: "request value" is the value the request offers for the key; the comparison is
//! `request <op> policy` (`DateLessThan` with `acs:CurrentTime` holds before the date).
//!
//! **Missing keys.** A key the request does not offer (no `User-Agent`, no `oss:Prefix` on a
//! GET, no SSE header on a PUT):
//! * positive operators (`StringEquals`, `StringLike`, `Numeric…` other than `NotEquals`,
//!   `Date…` other than `NotEquals`, `Bool`, `IpAddress`) do **not** hold;
//! * negated operators (`StringNotEquals`, `StringNotEqualsIgnoreCase`, `StringNotLike`,
//!   `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`) **do** hold;
//! * any operator with `IfExists` holds.
//!
//! RAM has no `Null` operator and neither has Coffer: "deny uploads without SSE" is a Deny with
//! `StringNotEquals` on `oss:x-oss-server-side-encryption`, which holds when the header is
//! absent. Operators must suit the key's type: string keys take string and numeric operators,
//! `acs:CurrentTime` date operators, `acs:SecureTransport` `Bool`, `acs:SourceIp`
//! `IpAddress`/`NotIpAddress`. Keys ([`SUPPORTED_CONDITION_KEYS`]) match case-insensitively;
//! OSS keys not listed there (`acs:SourceVpc`, `acs:MFAPresent`, tag keys) are refused.
//!
//! # Decisions
//!
//! [`Policy::evaluate`] decides one policy: `Deny` if an applicable statement denies, else
//! `Allow` if one allows, else `NotApplicable`. [`combine`] decides a request from the
//! caller's RAM policies and the bucket policy: deny wins; the owning account's root is allowed;
//! an Allow counts (RAM policies only within the caller's own account); else `NotApplicable`.
//!
//! ```
//! use coffer_iam::{Decision, PolicyKind, PrincipalRef, RequestContext, combine, keys, oss_resource, parse_policy};
//!
//! // Deny uploads that do not ask for server-side encryption, for everyone (owner included:
//! // the statement has a condition).
//! let bucket_policy = parse_policy(
//!     r#"{"Version":"1","Statement":[{"Effect":"Deny","Principal":"*","Action":"oss:PutObject",
//!         "Resource":"acs:oss:*:*:photos/*",
//!         "Condition":{"StringNotEquals":{"oss:x-oss-server-side-encryption":["AES256","KMS","SM4"]}}}]}"#,
//!     &PolicyKind::Bucket { bucket: "photos".into() },
//! )?;
//! let mut ctx = RequestContext::new(PrincipalRef::Root { account: "1000" }, time::OffsetDateTime::now_utc());
//! ctx.resource_owner = Some("1000");
//! let target = oss_resource(Some("photos"), Some("cat.jpg"));
//! assert_eq!(combine(&[], Some(&bucket_policy), "oss:PutObject", &target, &ctx), Decision::Deny);
//! let sse = [(keys::SSE, "KMS".to_owned())];
//! ctx.values = &sse;
//! assert_eq!(combine(&[], Some(&bucket_policy), "oss:PutObject", &target, &ctx), Decision::Allow);
//! # Ok::<(), coffer_iam::PolicyError>(())
//! ```

mod actions;
mod combine;
mod condition;
mod context;
mod error;
mod json;
mod policy;
mod resource;
pub mod wildcard;

pub use actions::{KMS_ACTIONS, OSS_ACTIONS};
pub use combine::combine;
pub use condition::{SUPPORTED_CONDITION_KEYS, SUPPORTED_CONDITION_OPERATORS, keys};
pub use context::{PrincipalRef, RequestContext};
pub use error::{PolicyError, PolicyErrorKind};
pub use policy::{Decision, Policy, PolicyKind, parse_policy};
pub use resource::{kms_alias_resource, kms_resource, oss_resource, oss_resource_in};
