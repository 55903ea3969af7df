//! Policy documents: parsing, validation, evaluation, canonical JSON.

use crate::actions::{self, KMS_ACTIONS, OSS_ACTIONS};
use crate::condition::{self, Clause};
use crate::context::{PrincipalRef, RequestContext};
use crate::error::{PolicyError, PolicyErrorKind};
use crate::json::{self, Json};
use crate::resource::{self, ResourcePattern};
use crate::wildcard;

/// Which kind of policy a document is; decides what it may contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKind {
    /// A RAM policy attached to a user: no `Principal`; OSS and KMS actions; any resource.
    Identity,
    /// The bucket policy of `bucket`: a statement without `Principal` applies to everyone
    /// (as `"*"`); OSS actions only; every resource must be the bucket
    /// (`acs:oss:*:<account>:bucket`) or objects in it (`acs:oss:*:<account>:bucket/…`).
    Bucket {
        /// The bucket the policy belongs to.
        bucket: String,
    },
}

/// The outcome of evaluating policies for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows it and none denies it.
    Allow,
    /// Some statement explicitly denies it.
    Deny,
    /// No statement applies (an implicit deny, unless the caller falls back to ACLs).
    NotApplicable,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// The statement grants.
    Allow,
    /// The statement denies; a Deny wins over every Allow.
    Deny,
}

/// The principals of a bucket policy statement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Principals {
    /// As written (`"*"` becomes `["*"]`).
    entries: Vec<String>,
    /// `"*"`, a list containing `"*"`, or `[]`.
    everyone: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    principal: Option<Principals>,
    /// `NotAction` rather than `Action`.
    not_action: bool,
    /// As written.
    actions: Vec<String>,
    /// Lower-cased, for case-insensitive matching.
    actions_lc: Vec<String>,
    /// `NotResource` rather than `Resource`.
    not_resource: bool,
    resources: Vec<ResourcePattern>,
    conditions: Vec<Clause>,
}

/// A parsed and validated policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    kind: PolicyKind,
    statements: Vec<Statement>,
    source: String,
}

/// Parses and validates a policy document.
///
/// Grammar (RAM policy language, version 1):
///
/// ```text
/// { "Version": "1", "Statement": [ <statement>, ... ] }         both required, nothing else
/// <statement> = {
///   "Sid"?:       string                                         a label; no effect
///   "Effect":     "Allow" | "Deny"
///   "Principal"?: "*" | [string, ...]                            bucket policies only; absent = "*"
///   "Action" | "NotAction":     string | [string, ...]           exactly one of the two
///   "Resource" | "NotResource": string | [string, ...]           exactly one of the two
///   "Condition"?: { <operator>: { <key>: scalar | [scalar, ...], ... }, ... }
/// }
/// ```
///
/// Element names, `Effect` and operator names are case-sensitive; actions and condition keys
/// are not. Every list must be non-empty, except `Principal: []` (= `"*"`, as is a bucket
/// policy statement with no `Principal`). Every action must
/// name at least one action of [`OSS_ACTIONS`] or [`KMS_ACTIONS`] (a bucket policy: of
/// [`OSS_ACTIONS`]); `"*"` is allowed. A member name repeated inside one JSON object is refused.
pub fn parse_policy(json: &str, kind: &PolicyKind) -> Result<Policy, PolicyError> {
    let doc: Json = serde_json::from_str(json)
        .map_err(|e| PolicyError::new(None, "", PolicyErrorKind::InvalidJson(e.to_string())))?;
    let Json::Object(members) = &doc else {
        return Err(PolicyError::new(None, "", wrong_type("an object", &doc)));
    };
    let mut version = None;
    let mut statement = None;
    for (name, value) in members {
        match name.as_str() {
            "Version" => version = Some(value),
            "Statement" => statement = Some(value),
            other => {
                return Err(PolicyError::new(
                    None,
                    "",
                    PolicyErrorKind::UnknownElement(other.to_owned()),
                ));
            }
        }
    }
    match version {
        None => {
            return Err(PolicyError::new(
                None,
                "",
                PolicyErrorKind::MissingElement("Version"),
            ));
        }
        Some(Json::String(v)) if v == "1" => {}
        Some(Json::String(v)) => {
            return Err(PolicyError::new(
                None,
                "Version",
                PolicyErrorKind::BadVersion(v.clone()),
            ));
        }
        Some(other) => {
            return Err(PolicyError::new(
                None,
                "Version",
                wrong_type("a string", other),
            ));
        }
    }
    let items = match statement {
        None => {
            return Err(PolicyError::new(
                None,
                "",
                PolicyErrorKind::MissingElement("Statement"),
            ));
        }
        Some(Json::Array(items)) => items,
        Some(other) => {
            return Err(PolicyError::new(
                None,
                "Statement",
                wrong_type("a list", other),
            ));
        }
    };
    if items.is_empty() {
        return Err(PolicyError::new(None, "Statement", PolicyErrorKind::Empty));
    }
    let statements = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_statement(item, kind).map_err(|(path, k)| {
                let full = if path.is_empty() {
                    format!("Statement[{i}]")
                } else {
                    format!("Statement[{i}].{path}")
                };
                PolicyError::new(Some(i), full, k)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        kind: kind.clone(),
        statements,
        source: json.to_owned(),
    })
}

fn wrong_type(expected: &'static str, found: &Json) -> PolicyErrorKind {
    PolicyErrorKind::WrongType {
        expected,
        found: found.kind(),
    }
}

type StatementError = (String, PolicyErrorKind);

fn parse_statement(item: &Json, kind: &PolicyKind) -> Result<Statement, StatementError> {
    let Json::Object(members) = item else {
        return Err((String::new(), wrong_type("an object", item)));
    };
    let mut sid = None;
    let mut effect = None;
    let mut principal = None;
    let mut action = None;
    let mut not_action = None;
    let mut resource = None;
    let mut not_resource = None;
    let mut condition = None;
    for (name, value) in members {
        let slot = match name.as_str() {
            "Sid" => &mut sid,
            "Effect" => &mut effect,
            "Principal" => &mut principal,
            "Action" => &mut action,
            "NotAction" => &mut not_action,
            "Resource" => &mut resource,
            "NotResource" => &mut not_resource,
            "Condition" => &mut condition,
            other => {
                return Err((
                    String::new(),
                    PolicyErrorKind::UnknownElement(other.to_owned()),
                ));
            }
        };
        *slot = Some(value);
    }

    let sid = match sid {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => return Err(("Sid".into(), wrong_type("a string", other))),
    };

    let effect = match effect {
        None => return Err((String::new(), PolicyErrorKind::MissingElement("Effect"))),
        Some(Json::String(s)) if s == "Allow" => Effect::Allow,
        Some(Json::String(s)) if s == "Deny" => Effect::Deny,
        Some(Json::String(s)) => {
            return Err(("Effect".into(), PolicyErrorKind::BadEffect(s.clone())));
        }
        Some(other) => return Err(("Effect".into(), wrong_type("a string", other))),
    };

    let principal = match (kind, principal) {
        (PolicyKind::Identity, None) => None,
        (PolicyKind::Identity, Some(_)) => {
            return Err(("Principal".into(), PolicyErrorKind::PrincipalNotAllowed));
        }
        // OSS accepts a bucket policy statement without `Principal` and applies it to
        // everyone, exactly as `"Principal": "*"`.
        (PolicyKind::Bucket { .. }, None) => Some(Principals {
            entries: Vec::new(),
            everyone: true,
        }),
        (PolicyKind::Bucket { .. }, Some(p)) => Some(parse_principal(p)?),
    };

    let (action_name, not_action, action_value) = match (action, not_action) {
        (Some(_), Some(_)) => {
            return Err((
                String::new(),
                PolicyErrorKind::ConflictingElements("Action", "NotAction"),
            ));
        }
        (Some(v), None) => ("Action", false, v),
        (None, Some(v)) => ("NotAction", true, v),
        (None, None) => return Err((String::new(), PolicyErrorKind::MissingElement("Action"))),
    };
    let actions = string_list(action_value, action_name)?;
    let known: Vec<&str> = match kind {
        PolicyKind::Identity => OSS_ACTIONS.iter().chain(KMS_ACTIONS).copied().collect(),
        PolicyKind::Bucket { .. } => OSS_ACTIONS.to_vec(),
    };
    let mut actions_lc = Vec::with_capacity(actions.len());
    for (i, a) in actions.iter().enumerate() {
        let path = || format!("{action_name}[{i}]");
        let lc = a.to_ascii_lowercase();
        if a != "*" {
            let Some((service, name)) = a.split_once(':') else {
                return Err((path(), PolicyErrorKind::MalformedAction(a.clone())));
            };
            if service.is_empty() || name.is_empty() {
                return Err((path(), PolicyErrorKind::MalformedAction(a.clone())));
            }
            if !actions::matches_any(&lc, &known) {
                let in_bucket_policy = matches!(kind, PolicyKind::Bucket { .. });
                let kind = if in_bucket_policy && actions::matches_any(&lc, KMS_ACTIONS) {
                    PolicyErrorKind::ActionNotAllowedInBucketPolicy(a.clone())
                } else {
                    PolicyErrorKind::UnknownAction(a.clone())
                };
                return Err((path(), kind));
            }
        }
        actions_lc.push(lc);
    }

    let (resource_name, not_resource, resource_value) = match (resource, not_resource) {
        (Some(_), Some(_)) => {
            return Err((
                String::new(),
                PolicyErrorKind::ConflictingElements("Resource", "NotResource"),
            ));
        }
        (Some(v), None) => ("Resource", false, v),
        (None, Some(v)) => ("NotResource", true, v),
        (None, None) => return Err((String::new(), PolicyErrorKind::MissingElement("Resource"))),
    };
    let bucket = match kind {
        PolicyKind::Identity => None,
        PolicyKind::Bucket { bucket } => Some(bucket.as_str()),
    };
    let resources = string_list(resource_value, resource_name)?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            ResourcePattern::parse(r, bucket).map_err(|k| (format!("{resource_name}[{i}]"), k))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let conditions = match condition {
        None => Vec::new(),
        Some(c) => condition::parse_condition(c)?,
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        not_action,
        actions,
        actions_lc,
        not_resource,
        resources,
        conditions,
    })
}

/// A string or a non-empty list of strings.
fn string_list(v: &Json, name: &str) -> Result<Vec<String>, StatementError> {
    match v {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) => {
            if items.is_empty() {
                return Err((name.to_owned(), PolicyErrorKind::Empty));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Json::String(s) => Ok(s.clone()),
                    other => Err((format!("{name}[{i}]"), wrong_type("a string", other))),
                })
                .collect()
        }
        other => Err((
            name.to_owned(),
            wrong_type("a string or a list of strings", other),
        )),
    }
}

fn parse_principal(v: &Json) -> Result<Principals, StatementError> {
    let entries = match v {
        Json::Array(items) if items.is_empty() => {
            return Ok(Principals {
                entries: Vec::new(),
                everyone: true,
            });
        }
        _ => string_list(v, "Principal")?,
    };
    let single = entries.len() == 1;
    for (i, e) in entries.iter().enumerate() {
        let valid = e == "*"
            || (!e.is_empty()
                && e.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')));
        if !valid {
            let path = if single && matches!(v, Json::String(_)) {
                "Principal".to_owned()
            } else {
                format!("Principal[{i}]")
            };
            return Err((path, PolicyErrorKind::InvalidPrincipal(e.clone())));
        }
    }
    let everyone = entries.iter().any(|e| e == "*");
    Ok(Principals { entries, everyone })
}

impl Statement {
    fn principal_matches(&self, ctx: &RequestContext<'_>) -> bool {
        let Some(p) = &self.principal else {
            return true;
        };
        if p.everyone {
            // `Principal: "*"` without a condition does not apply to the bucket owner; with a
            // condition it applies to everyone, the owner and anonymous callers included.
            return !(self.conditions.is_empty() && ctx.caller_is_owner());
        }
        match ctx.principal {
            PrincipalRef::Anonymous => false,
            PrincipalRef::Root { account } => p.entries.iter().any(|e| e == account),
            PrincipalRef::User { id, name, .. } => p.entries.iter().any(|e| e == id || e == name),
        }
    }

    fn action_matches(&self, action_lc: &str) -> bool {
        let hit = self
            .actions_lc
            .iter()
            .any(|p| wildcard::matches(p, action_lc));
        hit != self.not_action
    }

    fn resource_matches(&self, resource: &str) -> bool {
        let hit = self.resources.iter().any(|p| p.matches(resource));
        hit != self.not_resource
    }

    fn applies(&self, action_lc: &str, resource: &str, ctx: &RequestContext<'_>) -> bool {
        self.principal_matches(ctx)
            && self.action_matches(action_lc)
            && self.resource_matches(resource)
            && self.conditions.iter().all(|c| c.holds(ctx))
    }
}

impl Policy {
    /// The kind the policy was parsed as.
    pub fn kind(&self) -> &PolicyKind {
        &self.kind
    }

    /// The document exactly as given to [`parse_policy`] (what GetBucketPolicy returns).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates this policy alone.
    ///
    /// A statement applies when its principal matches (bucket policies), the action matches
    /// `Action` (or none of `NotAction`), the resource matches `Resource` (or none of
    /// `NotResource`), and every condition holds. A bucket policy applies only to requests on
    /// its own bucket and its objects, whatever its `NotResource` says.
    ///
    /// `Deny` if some applicable statement denies, else `Allow` if some allows, else
    /// `NotApplicable`. `action` matches case-insensitively (`oss:PutObject`); `resource` is an
    /// ARN from [`oss_resource`](crate::oss_resource) or [`kms_resource`](crate::kms_resource).
    pub fn evaluate(&self, action: &str, resource: &str, ctx: &RequestContext<'_>) -> Decision {
        if let PolicyKind::Bucket { bucket } = &self.kind
            && !resource::within_bucket(resource, bucket)
        {
            return Decision::NotApplicable;
        }
        let action_lc = action.to_ascii_lowercase();
        let mut allowed = false;
        for st in &self.statements {
            if st.applies(&action_lc, resource, ctx) {
                match st.effect {
                    Effect::Deny => return Decision::Deny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }

    /// The policy in canonical JSON: members in the order `Version`, `Statement`; in each
    /// statement `Sid`, `Effect`, `Principal`, `Action`/`NotAction`, `Resource`/`NotResource`,
    /// `Condition`; every value list as a list of strings (`Principal: "*"` and `[]` become
    /// `["*"]`); condition keys in canonical spelling. Parsing the result gives the same policy.
    pub fn to_json(&self) -> String {
        let mut out = String::from(r#"{"Version":"1","Statement":["#);
        for (i, st) in self.statements.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('{');
            if let Some(sid) = &st.sid {
                out.push_str(r#""Sid":"#);
                json::write_str(&mut out, sid);
                out.push(',');
            }
            out.push_str(match st.effect {
                Effect::Allow => r#""Effect":"Allow""#,
                Effect::Deny => r#""Effect":"Deny""#,
            });
            if let Some(p) = &st.principal {
                out.push_str(r#","Principal":"#);
                if p.entries.is_empty() {
                    out.push_str(r#"["*"]"#);
                } else {
                    json::write_str_list(&mut out, p.entries.iter().map(String::as_str));
                }
            }
            out.push_str(if st.not_action {
                r#","NotAction":"#
            } else {
                r#","Action":"#
            });
            json::write_str_list(&mut out, st.actions.iter().map(String::as_str));
            out.push_str(if st.not_resource {
                r#","NotResource":"#
            } else {
                r#","Resource":"#
            });
            json::write_str_list(&mut out, st.resources.iter().map(|r| r.raw.as_str()));
            if !st.conditions.is_empty() {
                out.push_str(r#","Condition":"#);
                condition::write_condition(&mut out, &st.conditions);
            }
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}
