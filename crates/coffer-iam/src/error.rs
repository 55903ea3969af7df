//! Why a policy was refused.

use std::fmt;

/// A policy was refused. [`path`](Self::path) says where, [`kind`](Self::kind) what is wrong.
///
/// Displayed as `Statement[1].Condition.IpAddress.acs:SourceIp[0]: …`; a fault of the whole
/// document has an empty path and displays the reason alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Index of the statement at fault, if the fault is inside a statement.
    pub statement: Option<usize>,
    /// Where the fault is: `Version`, `Statement[2].Action[1]`,
    /// `Statement[0].Condition.StringLike.oss:Prefix[3]`; empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub kind: PolicyErrorKind,
}

impl PolicyError {
    pub(crate) fn new(
        statement: Option<usize>,
        path: impl Into<String>,
        kind: PolicyErrorKind,
    ) -> Self {
        PolicyError {
            statement,
            path: path.into(),
            kind,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

impl std::error::Error for PolicyError {}

/// What is wrong with a policy. Anything a policy names that Coffer does not support is refused
/// with one of these, never ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The text is not JSON, has trailing data, or repeats a member name inside one object.
    #[error("not a valid JSON policy document: {0}")]
    InvalidJson(String),
    /// A value of the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// A required element is absent.
    #[error("the required element `{0}` is missing")]
    MissingElement(&'static str),
    /// An element the policy language does not have (names are case-sensitive).
    #[error("unknown element `{0}`")]
    UnknownElement(String),
    /// Two elements that exclude each other (`Action` and `NotAction`, `Resource` and `NotResource`).
    #[error("`{0}` and `{1}` cannot both appear in one statement")]
    ConflictingElements(&'static str, &'static str),
    /// `Version` is not `"1"`.
    #[error("unsupported policy version `{0}`; the only version is \"1\"")]
    BadVersion(String),
    /// `Effect` is not `Allow` or `Deny`.
    #[error("Effect must be \"Allow\" or \"Deny\", not `{0}`")]
    BadEffect(String),
    /// An empty list, string or object where at least one entry is needed.
    #[error("must not be empty")]
    Empty,
    /// An action without the `<service>:<action>` form.
    #[error("`{0}` is not an action of the form `<service>:<action>`")]
    MalformedAction(String),
    /// An action name (or wildcard pattern) that matches no action Coffer knows.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// A KMS action (or another non-OSS action) in a bucket policy.
    #[error("action `{0}` cannot appear in a bucket policy, which governs OSS actions only")]
    ActionNotAllowedInBucketPolicy(String),
    /// A resource that is not a well-formed ARN Coffer supports.
    #[error("malformed resource `{resource}`: {reason}")]
    MalformedResource {
        resource: String,
        reason: &'static str,
    },
    /// A bucket policy resource that names something other than its own bucket and its objects.
    #[error("resource `{resource}` is outside bucket `{bucket}`")]
    ResourceOutsideBucket { resource: String, bucket: String },
    /// A `Principal` in a RAM (identity) policy.
    #[error("a RAM policy cannot have a Principal; only bucket policies name principals")]
    PrincipalNotAllowed,
    /// A principal entry Coffer cannot match (empty, a wildcard pattern, an ARN …).
    #[error("unsupported principal `{0}`: expected \"*\", an account id, or a RAM user id or name")]
    InvalidPrincipal(String),
    /// A condition operator outside the supported set.
    #[error("unsupported condition operator `{0}`")]
    UnsupportedOperator(String),
    /// A condition key outside [`SUPPORTED_CONDITION_KEYS`](crate::SUPPORTED_CONDITION_KEYS).
    #[error("unsupported condition key `{0}`")]
    UnsupportedConditionKey(String),
    /// An operator of the wrong type for its key, e.g. `IpAddress` on `oss:Prefix`.
    #[error("operator `{operator}` cannot test `{key}`, which is {key_type}")]
    OperatorNotApplicable {
        operator: String,
        key: String,
        key_type: &'static str,
    },
    /// A condition value the operator cannot use (not a number, date, boolean or IP range).
    #[error("`{value}` is not a valid value for `{operator}`: {reason}")]
    InvalidConditionValue {
        operator: String,
        value: String,
        reason: &'static str,
    },
}
