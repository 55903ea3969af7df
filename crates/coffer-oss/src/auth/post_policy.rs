//! PostObject (browser form upload) authentication, oss-api.md §3.6: the `policy` form field,
//! its V1 or V4 signature, its expiration and its conditions.
//!
//! * V1: `OSSAccessKeyId`, `policy`, `Signature` = Base64(HMAC-SHA1(secret, policy)), where
//!   `policy` is the Base64 text exactly as sent.
//! * V4: `x-oss-signature-version` = `OSS4-HMAC-SHA256`, `x-oss-credential` =
//!   `<ak>/<yyyymmdd>/<region>/oss/aliyun_v4_request`, `x-oss-date`, `policy`,
//!   `x-oss-signature` = HexLower(HMAC-SHA256(kSigning, policy)).
//! * No signature field and no policy: an anonymous upload, which only a public-read-write
//!   bucket accepts (the caller checks that).
//!
//! Form field names are case-insensitive: [`FormFields`] keeps them lower-cased. Values are
//! case-sensitive. Error codes and messages follow the OSS PostObject error pages; EC values
//! marked "guess" below had no page of their own.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    AuthContext, AuthError, Check, Principal, SecretLookup, dates, v1, v4, valid_access_key_id,
};
use crate::error::ErrorCode;

/// EC values of PostObject policy errors.
pub(crate) mod post_ec {
    /// doc: the policy form field is missing while a signature is present.
    pub const POLICY_MISSING: &str = "0002-00000702";
    /// guess: the `Signature` form field is missing while other V1 fields are present.
    pub const SIGNATURE_MISSING: &str = "0002-00000703";
    /// doc: the AccessKey id form field is missing while a signature is present.
    pub const ACCESS_KEY_MISSING: &str = "0002-00000706";
    /// doc: `x-oss-credential` is not `<ak>/<date>/<region>/oss/aliyun_v4_request`.
    pub const CREDENTIAL_INVALID: &str = "0002-00000710";
    /// doc: the policy is not valid (here: not Base64 of UTF-8 text).
    pub const POLICY_INVALID: &str = "0006-00000201";
    /// doc: the decoded policy is not a JSON object.
    pub const POLICY_NOT_JSON: &str = "0006-00000204";
    /// doc: the policy form field is blank.
    pub const POLICY_EMPTY: &str = "0006-00000205";
    /// doc: the policy has a top-level field other than `expiration` and `conditions`.
    pub const POLICY_UNKNOWN_FIELD: &str = "0006-00000206";
    /// guess: `conditions` is missing.
    pub const CONDITIONS_MISSING: &str = "0006-00000207";
    /// doc: `expiration` is missing.
    pub const EXPIRATION_MISSING: &str = "0006-00000208";
    /// doc: both `expiration` and `conditions` are missing.
    pub const POLICY_FIELDS_MISSING: &str = "0006-00000209";
    /// doc: `expiration` is not a string.
    pub const EXPIRATION_NOT_STRING: &str = "0006-00000210";
    /// doc: `expiration` is an empty string.
    pub const EXPIRATION_EMPTY: &str = "0006-00000211";
    /// guess: `expiration` is not an ISO 8601 time.
    pub const EXPIRATION_INVALID: &str = "0006-00000212";
    /// doc: the policy has expired.
    pub const POLICY_EXPIRED: &str = "0006-00000213";
    /// guess: `conditions` is not a list.
    pub const CONDITIONS_NOT_LIST: &str = "0006-00000214";
    /// guess: a `{"field": "value"}` condition without exactly one property.
    pub const SIMPLE_CONDITION_INVALID: &str = "0006-00000215";
    /// doc: unsupported matching mode such as `ends-with`.
    pub const UNKNOWN_MATCHING_MODE: &str = "0006-00000217";
    /// doc: `content-length-range` with its maximum below its minimum.
    pub const RANGE_REVERSED: &str = "0006-00000219";
    /// doc: `content-length-range` bound that is not a non-negative integer.
    pub const RANGE_INVALID: &str = "0006-00000221";
    /// doc: a condition that is neither a map nor a list.
    pub const CONDITION_NOT_MAP_OR_LIST: &str = "0006-00000222";
    /// doc: a condition value of the wrong type (e.g. `in` without a list).
    pub const CONDITION_VALUE_TYPE: &str = "0006-00000224";
    /// doc: a field named by a condition is not in the form.
    pub const CONDITION_FIELD_MISSING: &str = "0006-00000226";
    /// doc: a form field does not satisfy its condition.
    pub const CONDITION_FAILED: &str = "0006-00000227";
}

/// The V4 form fields a V4 policy's conditions must also name.
const V4_SIGNED_FIELDS: [&str; 3] = ["x-oss-signature-version", "x-oss-credential", "x-oss-date"];
const V4_MARKERS: [&str; 4] = [
    "x-oss-signature-version",
    "x-oss-credential",
    "x-oss-date",
    "x-oss-signature",
];
const V1_MARKERS: [&str; 2] = ["ossaccesskeyid", "signature"];

/// The non-file form fields in request order, names lower-cased.
#[derive(Debug, Default, Clone)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field; the name is lower-cased.
    pub fn push(&mut self, name: &str, value: String) {
        self.0.push((name.to_ascii_lowercase(), value));
    }

    /// The first value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(lower-case name, value)` in request order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// A decoded, validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    /// Unix seconds after which the policy is void.
    pub expiration: i64,
    pub conditions: Vec<Condition>,
}

/// One entry of `conditions`. Field names are lower-cased without the `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "value"}` or `["eq", "$field", "value"]`.
    Eq { field: String, value: String },
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith { field: String, prefix: String },
    /// `["in", "$field", ["a", "b"]]`.
    In { field: String, values: Vec<String> },
    /// `["not-in", "$field", ["a", "b"]]`.
    NotIn { field: String, values: Vec<String> },
    /// `["content-length-range", min, max]`, inclusive, in bytes.
    ContentLengthRange { min: u64, max: u64 },
}

impl Condition {
    fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { field, .. }
            | Condition::StartsWith { field, .. }
            | Condition::In { field, .. }
            | Condition::NotIn { field, .. } => Some(field),
            Condition::ContentLengthRange { .. } => None,
        }
    }

    fn holds(&self, value: &str) -> bool {
        match self {
            Condition::Eq { value: want, .. } => value == want,
            Condition::StartsWith { prefix, .. } => value.starts_with(prefix.as_str()),
            Condition::In { values, .. } => values.iter().any(|v| v == value),
            Condition::NotIn { values, .. } => !values.iter().any(|v| v == value),
            Condition::ContentLengthRange { .. } => true,
        }
    }
}

/// The condition as the error message quotes it: `["eq", "$key", "a"]`.
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| Value::String(s.to_owned()).to_string();
        let list = |vs: &[String]| Value::from(vs.to_vec()).to_string();
        match self {
            Condition::Eq { field, value } => {
                write!(f, "[\"eq\", {}, {}]", q(&format!("${field}")), q(value))
            }
            Condition::StartsWith { field, prefix } => write!(
                f,
                "[\"starts-with\", {}, {}]",
                q(&format!("${field}")),
                q(prefix)
            ),
            Condition::In { field, values } => {
                write!(f, "[\"in\", {}, {}]", q(&format!("${field}")), list(values))
            }
            Condition::NotIn { field, values } => write!(
                f,
                "[\"not-in\", {}, {}]",
                q(&format!("${field}")),
                list(values)
            ),
            Condition::ContentLengthRange { min, max } => {
                write!(f, "[\"content-length-range\", {min}, {max}]")
            }
        }
    }
}

/// A policy that does not parse or validate (`kind` is one of the `InvalidPolicyDocument`
/// rows).
fn invalid_policy(message: impl fmt::Display, kind: ErrorCode) -> AuthError {
    AuthError::new(kind, format!("Invalid Policy: {message}"))
}

/// A form the policy does not allow (`kind` is one of the `AccessDenied` rows).
fn policy_denied(message: impl fmt::Display, kind: ErrorCode) -> AuthError {
    AuthError::new(kind, format!("Invalid according to Policy: {message}"))
}

fn missing_field(message: &str, kind: ErrorCode) -> AuthError {
    AuthError::new(kind, message)
}

impl PostPolicy {
    /// Decodes the `policy` form field: Base64 of UTF-8 JSON with exactly `expiration` and
    /// `conditions`.
    pub fn parse(encoded: &str) -> Result<PostPolicy, AuthError> {
        let bytes = BASE64.decode(encoded.trim().as_bytes()).map_err(|_| {
            invalid_policy(
                "The policy is not valid Base64.",
                ErrorCode::PostPolicyInvalid,
            )
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            invalid_policy(
                "The policy is not UTF-8 text.",
                ErrorCode::PostPolicyInvalid,
            )
        })?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|_| invalid_policy("Invalid JSON.", ErrorCode::PostPolicyNotJson))?;
        let Value::Object(map) = json else {
            return Err(invalid_policy(
                "The policy must be a JSON object.",
                ErrorCode::PostPolicyNotJson,
            ));
        };
        if let Some(name) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "expiration" | "conditions"))
        {
            return Err(invalid_policy(
                format!("Unexpected field {name:?}; a policy has only expiration and conditions."),
                ErrorCode::PostPolicyUnknownField,
            ));
        }
        let (expiration, conditions) = match (map.get("expiration"), map.get("conditions")) {
            (Some(e), Some(c)) => (e, c),
            (None, None) => {
                return Err(invalid_policy(
                    "The policy must contain expiration and conditions.",
                    ErrorCode::PostPolicyFieldsMissing,
                ));
            }
            (None, Some(_)) => {
                return Err(invalid_policy(
                    "Policy missing expiration.",
                    ErrorCode::PostExpirationMissing,
                ));
            }
            (Some(_), None) => {
                return Err(invalid_policy(
                    "Policy missing conditions.",
                    ErrorCode::PostConditionsMissing,
                ));
            }
        };
        let expiration = parse_expiration(expiration)?;
        let Value::Array(list) = conditions else {
            return Err(invalid_policy(
                "conditions must be a list.",
                ErrorCode::PostConditionsNotList,
            ));
        };
        let conditions = list
            .iter()
            .map(parse_condition)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PostPolicy {
            expiration,
            conditions,
        })
    }

    /// The allowed file size, the intersection of every `content-length-range`.
    pub fn content_length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().fold(None, |acc, c| match c {
            Condition::ContentLengthRange { min, max } => Some(match acc {
                None => (*min, *max),
                Some((lo, hi)) => (lo.max(*min), hi.min(*max)),
            }),
            _ => acc,
        })
    }

    /// Checks every condition but `content-length-range` (the caller checks that while the
    /// file streams). `bucket` answers conditions on `bucket`; `file_content_type` (the file
    /// part's own `Content-Type`) answers `content-type` when the form has no such field.
    /// `key` is checked before `${filename}` is substituted, as OSS does.
    pub fn check(
        &self,
        bucket: &str,
        form: &FormFields,
        file_content_type: Option<&str>,
    ) -> Result<(), AuthError> {
        for condition in &self.conditions {
            let Some(field) = condition.field() else {
                continue;
            };
            let value = match field {
                "bucket" => Some(bucket),
                "content-type" => form.get(field).or(file_content_type),
                _ => form.get(field),
            };
            let Some(value) = value else {
                return Err(policy_denied(
                    format!("Policy Condition failed: {condition} (the form has no {field} field)"),
                    ErrorCode::PostConditionFieldMissing,
                ));
            };
            if !condition.holds(value) {
                return Err(policy_denied(
                    format!("Policy Condition failed: {condition}"),
                    ErrorCode::PostConditionFailed,
                ));
            }
        }
        Ok(())
    }

    fn names_field(&self, name: &str) -> bool {
        self.conditions.iter().any(|c| c.field() == Some(name))
    }
}

fn parse_expiration(value: &Value) -> Result<i64, AuthError> {
    let Value::String(text) = value else {
        return Err(invalid_policy(
            "expiration must be an ISO 8601 GMT time string.",
            ErrorCode::PostExpirationNotString,
        ));
    };
    if text.is_empty() {
        return Err(invalid_policy(
            "expiration must not be empty.",
            ErrorCode::PostExpirationEmpty,
        ));
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| {
            invalid_policy(
                format!("Invalid expiration {text:?}; use ISO 8601 GMT such as 2014-12-01T12:00:00.000Z."),
                ErrorCode::PostExpirationInvalid,
            )
        })
}

/// `$key` or `key` → `key`; names are case-insensitive.
fn field_name(value: &Value) -> Result<String, AuthError> {
    let Some(name) = value.as_str() else {
        return Err(value_type("a field name must be a string"));
    };
    let name = name.strip_prefix('$').unwrap_or(name);
    if name.is_empty() {
        return Err(value_type("a field name must not be empty"));
    }
    Ok(name.to_ascii_lowercase())
}

fn value_type(what: &str) -> AuthError {
    invalid_policy(
        format!("Invalid condition: {what}."),
        ErrorCode::PostConditionValueType,
    )
}

fn string_list(value: &Value) -> Result<Vec<String>, AuthError> {
    let Value::Array(items) = value else {
        return Err(value_type("in and not-in take a list of strings"));
    };
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| value_type("in and not-in take a list of strings"))
        })
        .collect()
}

fn range_bound(value: &Value) -> Result<u64, AuthError> {
    value.as_u64().ok_or_else(|| {
        invalid_policy(
            "content-length-range bounds must be non-negative integers.",
            ErrorCode::PostRangeInvalid,
        )
    })
}

fn parse_condition(value: &Value) -> Result<Condition, AuthError> {
    match value {
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((name, value)), None) = (entries.next(), entries.next()) else {
                return Err(invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                    ErrorCode::PostSimpleConditionInvalid,
                ));
            };
            let Some(value) = value.as_str() else {
                return Err(value_type("an exact-match value must be a string"));
            };
            Ok(Condition::Eq {
                field: field_name(&Value::String(name.clone()))?,
                value: value.to_owned(),
            })
        }
        Value::Array(items) => {
            let Some(op) = items.first().and_then(Value::as_str) else {
                return Err(value_type("a condition list starts with its matching mode"));
            };
            let op = op.to_ascii_lowercase();
            let arity = |n: usize| {
                if items.len() == n {
                    Ok(())
                } else {
                    Err(value_type(&format!("{op} takes {} arguments", n - 1)))
                }
            };
            match op.as_str() {
                "eq" | "starts-with" => {
                    arity(3)?;
                    let field = field_name(&items[1])?;
                    let Some(text) = items[2].as_str() else {
                        return Err(value_type(&format!("the value of {op} must be a string")));
                    };
                    let text = text.to_owned();
                    Ok(if op == "eq" {
                        Condition::Eq { field, value: text }
                    } else {
                        Condition::StartsWith {
                            field,
                            prefix: text,
                        }
                    })
                }
                "in" | "not-in" => {
                    arity(3)?;
                    let field = field_name(&items[1])?;
                    let values = string_list(&items[2])?;
                    Ok(if op == "in" {
                        Condition::In { field, values }
                    } else {
                        Condition::NotIn { field, values }
                    })
                }
                "content-length-range" => {
                    if items.len() != 3 {
                        return Err(invalid_policy(
                            "content-length-range takes a minimum and a maximum.",
                            ErrorCode::PostRangeInvalid,
                        ));
                    }
                    let min = range_bound(&items[1])?;
                    let max = range_bound(&items[2])?;
                    if max < min {
                        return Err(invalid_policy(
                            "content-length-range maximum is below its minimum.",
                            ErrorCode::PostRangeReversed,
                        ));
                    }
                    Ok(Condition::ContentLengthRange { min, max })
                }
                _ => Err(invalid_policy(
                    format!(
                        "Unsupported matching mode {op:?}; use eq, starts-with, in, not-in or content-length-range."
                    ),
                    ErrorCode::PostUnknownMatchingMode,
                )),
            }
        }
        _ => Err(invalid_policy(
            "Invalid condition: each condition must be a map or a list.",
            ErrorCode::PostConditionNotMapOrList,
        )),
    }
}

/// Who signed the form, and the policy they signed (none for an anonymous form).
#[derive(Debug)]
pub struct PostAuth {
    pub principal: Principal,
    pub policy: Option<PostPolicy>,
}

/// Non-empty value of a form field.
fn present<'f>(form: &'f FormFields, name: &str) -> Option<&'f str> {
    form.get(name).filter(|v| !v.is_empty())
}

/// Verifies the form's signature and policy expiration and says who signed it.
///
/// Conditions are not checked here; see [`PostPolicy::check`].
pub async fn authenticate(
    form: &FormFields,
    keys: &dyn SecretLookup,
    ctx: &AuthContext,
) -> Result<PostAuth, AuthError> {
    let has = |names: &[&str]| names.iter().any(|n| form.get(n).is_some());
    let v4 = has(&V4_MARKERS);
    let v1 = has(&V1_MARKERS);
    let policy_field = form.get("policy");
    if v4 && v1 {
        return Err(AuthError::new(
            ErrorCode::BothSignatureKinds,
            "Only one signature version may be used: either OSSAccessKeyId and Signature, or the x-oss-signature fields.",
        ));
    }
    if !v4 && !v1 && policy_field.is_none() {
        return Ok(PostAuth {
            principal: Principal::Anonymous,
            policy: None,
        });
    }
    let encoded = match policy_field {
        None => {
            return Err(missing_field(
                "The policy form field is required when the form is signed.",
                ErrorCode::PostPolicyMissing,
            ));
        }
        Some("") => {
            return Err(missing_field(
                "The policy form field must not be empty.",
                ErrorCode::PostPolicyEmpty,
            ));
        }
        Some(p) => p,
    };
    let now = dates::unix_secs(ctx.now);
    let (principal, policy) = if v4 {
        verify_v4(form, encoded, keys, ctx).await?
    } else {
        verify_v1(form, encoded, keys).await?
    };
    if now > policy.expiration {
        return Err(policy_denied(
            "Policy expired.",
            ErrorCode::PostPolicyExpired,
        ));
    }
    if v4 && let Some(name) = V4_SIGNED_FIELDS.iter().find(|n| !policy.names_field(n)) {
        return Err(policy_denied(
            format!(
                "Policy Condition failed: a V4 policy must have conditions on x-oss-signature-version, x-oss-credential and x-oss-date; {name} has none."
            ),
            ErrorCode::PostConditionFieldMissing,
        ));
    }
    Ok(PostAuth {
        principal,
        policy: Some(policy),
    })
}

async fn verify_v1(
    form: &FormFields,
    encoded: &str,
    keys: &dyn SecretLookup,
) -> Result<(Principal, PostPolicy), AuthError> {
    const ALL_THREE: &str =
        "The OSSAccessKeyId, policy and Signature form fields must be given together.";
    let access_key_id = present(form, "ossaccesskeyid")
        .ok_or_else(|| missing_field(ALL_THREE, ErrorCode::PostAccessKeyMissing))?;
    let provided = present(form, "signature")
        .ok_or_else(|| missing_field(ALL_THREE, ErrorCode::PostSignatureMissing))?;
    if !valid_access_key_id(access_key_id) {
        return Err(AuthError::new(
            ErrorCode::V1AccessKeyInvalid,
            "The OSSAccessKeyId form field is invalid.",
        ));
    }
    let policy = PostPolicy::parse(encoded)?;
    let principal = Check {
        access_key_id,
        provided,
        string_to_sign: encoded.as_bytes(),
        canonical_request: None,
        mismatch: ErrorCode::V1SignatureMismatch,
    }
    .run(keys, |secret| v1::sign(secret.expose(), encoded.as_bytes()))
    .await?;
    Ok((principal, policy))
}

async fn verify_v4(
    form: &FormFields,
    encoded: &str,
    keys: &dyn SecretLookup,
    ctx: &AuthContext,
) -> Result<(Principal, PostPolicy), AuthError> {
    const ALL_FIELDS: &str = "A V4 signed form needs x-oss-signature-version, x-oss-credential, x-oss-date, policy and x-oss-signature.";
    let version = present(form, "x-oss-signature-version")
        .ok_or_else(|| missing_field(ALL_FIELDS, ErrorCode::PostV4VersionMissing))?;
    if version != v4::ALGORITHM {
        return Err(AuthError::new(
            ErrorCode::V1AuthMalformed,
            "Unsupported x-oss-signature-version; use OSS4-HMAC-SHA256.",
        ));
    }
    let credential = present(form, "x-oss-credential")
        .ok_or_else(|| missing_field(ALL_FIELDS, ErrorCode::PostV4CredentialMissing))?;
    let datetime = present(form, "x-oss-date")
        .ok_or_else(|| missing_field(ALL_FIELDS, ErrorCode::PostV4DateParamMissing))?;
    let provided = present(form, "x-oss-signature")
        .ok_or_else(|| missing_field(ALL_FIELDS, ErrorCode::PostV4SignatureMissing))?;

    let (access_key_id, date, region) = parse_credential(credential, ctx)?;
    if dates::parse_iso_basic(datetime).is_none() {
        return Err(AuthError::new(
            ErrorCode::PostDateInvalid,
            "x-oss-date must be an ISO 8601 basic time such as 20231203T121212Z.",
        ));
    }
    if datetime.get(..8) != Some(date) {
        return Err(AuthError::new(
            ErrorCode::V4CredentialDateMismatch,
            "The date in x-oss-credential does not match the date of x-oss-date.",
        ));
    }
    let policy = PostPolicy::parse(encoded)?;
    let principal = Check {
        access_key_id,
        provided,
        string_to_sign: encoded.as_bytes(),
        canonical_request: None,
        mismatch: ErrorCode::V4SignatureMismatch,
    }
    .run(keys, |secret| {
        v4::sign(secret.expose(), date, region, encoded)
    })
    .await?;
    Ok((principal, policy))
}

/// `<ak>/<yyyymmdd>/<region>/oss/aliyun_v4_request` → (ak, date, region).
fn parse_credential<'a>(
    credential: &'a str,
    ctx: &AuthContext,
) -> Result<(&'a str, &'a str, &'a str), AuthError> {
    let invalid = || {
        AuthError::new(
            ErrorCode::PostCredentialInvalid,
            "Invalid x-oss-credential; the format is <AccessKeyId>/<SignDate>/<Region>/oss/aliyun_v4_request.",
        )
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, "oss", "aliyun_v4_request"] = parts[..] else {
        return Err(invalid());
    };
    if !valid_access_key_id(access_key_id) || region.is_empty() {
        return Err(invalid());
    }
    if !dates::is_yyyymmdd(date) {
        return Err(AuthError::new(
            ErrorCode::V4CredentialDateInvalid,
            "The signing date in x-oss-credential must be yyyymmdd.",
        ));
    }
    if region != ctx.region {
        return Err(AuthError::new(
            ErrorCode::V4RegionInvalid,
            "Invalid signing region in x-oss-credential.",
        ));
    }
    Ok((access_key_id, date, region))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{DOC_AK, DOC_SK, Keys, ctx};
    use super::*;
    use crate::auth::ec;

    /// 2023-12-16T16:20:57Z.
    const NOW: u64 = 1_702_743_657;

    /// [`super::authenticate`] with the in-memory [`Keys`], whose future is ready at once.
    fn authenticate(
        form: &FormFields,
        keys: &dyn SecretLookup,
        ctx: &AuthContext,
    ) -> Result<PostAuth, AuthError> {
        futures_util::FutureExt::now_or_never(super::authenticate(form, keys, ctx))
            .expect("an in-memory lookup is ready at once")
    }

    fn b64(json: &str) -> String {
        BASE64.encode(json)
    }

    fn form(pairs: &[(&str, &str)]) -> FormFields {
        let mut f = FormFields::new();
        for (n, v) in pairs {
            f.push(n, (*v).to_owned());
        }
        f
    }

    fn expect(
        result: Result<impl fmt::Debug, AuthError>,
        status: u16,
        code: &str,
        ec: &str,
    ) -> AuthError {
        let err = result.expect_err("should fail");
        assert_eq!(
            (err.status, err.code, err.ec),
            (status, code, ec),
            "{err:?}"
        );
        err
    }

    #[test]
    fn documented_v1_example_policy() {
        // The policy of the PostObject reference's sample request (its sample signature was
        // made with a secret the documentation does not give).
        let policy = "eyJleHBpcmF0aW9uIjoiMjAxMy0xMi0wMVQxMjowMDowMFoiLCJjb25kaXRpb25zIjpbWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsIDAsIDEwNDg1NzYwXSx7ImJ1Y2tldCI6ImFoYWhhIn0sIHsiQSI6ICJhIn0seyJrZXkiOiAiQUJDIn1dfQ==";
        let signature = v1::sign(DOC_SK, policy.as_bytes());
        let parsed = PostPolicy::parse(policy).unwrap();
        assert_eq!(parsed.content_length_range(), Some((0, 10_485_760)));
        assert_eq!(
            parsed.conditions[1],
            Condition::Eq {
                field: "bucket".into(),
                value: "ahaha".into()
            }
        );
        // Signed correctly but long expired.
        let f = form(&[
            ("OSSAccessKeyId", DOC_AK),
            ("policy", policy),
            ("Signature", &signature),
        ]);
        let err = expect(
            authenticate(&f, &Keys, &ctx(NOW)),
            403,
            "AccessDenied",
            post_ec::POLICY_EXPIRED,
        );
        assert_eq!(err.message, "Invalid according to Policy: Policy expired.");
        // Before its expiration it is accepted.
        let early = ctx(1_385_000_000);
        let auth = authenticate(&f, &Keys, &early).unwrap();
        assert_eq!(
            auth.principal,
            Principal::AccessKey {
                access_key_id: DOC_AK.into()
            }
        );
    }

    #[test]
    fn v1_field_names_are_case_insensitive_and_bad_signature_is_reported() {
        let policy = b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[]}"#);
        let sig = v1::sign("sk", policy.as_bytes());
        let f = form(&[
            ("ossaccesskeyid", "ak"),
            ("POLICY", &policy),
            ("signature", &sig),
        ]);
        assert!(authenticate(&f, &Keys, &ctx(NOW)).is_ok());
        let f = form(&[
            ("OSSAccessKeyId", "ak"),
            ("policy", &policy),
            ("Signature", "AAAA"),
        ]);
        let err = expect(
            authenticate(&f, &Keys, &ctx(NOW)),
            403,
            "SignatureDoesNotMatch",
            ec::V1_SIGNATURE_MISMATCH,
        );
        assert!(err.extra.contains(&("StringToSign", policy.clone())));
        let f = form(&[
            ("OSSAccessKeyId", "nobody"),
            ("policy", &policy),
            ("Signature", &sig),
        ]);
        expect(
            authenticate(&f, &Keys, &ctx(NOW)),
            403,
            "InvalidAccessKeyId",
            ec::ACCESS_KEY_NOT_FOUND,
        );
    }

    #[test]
    fn partial_signature_fields_are_invalid_argument() {
        let policy = b64(r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[]}"#);
        expect(
            authenticate(&form(&[("policy", &policy)]), &Keys, &ctx(NOW)),
            400,
            "InvalidArgument",
            post_ec::ACCESS_KEY_MISSING,
        );
        expect(
            authenticate(
                &form(&[("OSSAccessKeyId", "ak"), ("policy", &policy)]),
                &Keys,
                &ctx(NOW),
            ),
            400,
            "InvalidArgument",
            post_ec::SIGNATURE_MISSING,
        );
        expect(
            authenticate(
                &form(&[("OSSAccessKeyId", "ak"), ("Signature", "x")]),
                &Keys,
                &ctx(NOW),
            ),
            400,
            "InvalidArgument",
            post_ec::POLICY_MISSING,
        );
        expect(
            authenticate(
                &form(&[("OSSAccessKeyId", "ak"), ("Signature", "x"), ("policy", "")]),
                &Keys,
                &ctx(NOW),
            ),
            400,
            "InvalidArgument",
            post_ec::POLICY_EMPTY,
        );
        let anonymous = authenticate(&form(&[("key", "k")]), &Keys, &ctx(NOW)).unwrap();
        assert_eq!(anonymous.principal, Principal::Anonymous);
        assert!(anonymous.policy.is_none());
    }

    fn v4_form(policy_json: &str, secret: &str) -> FormFields {
        let policy = b64(policy_json);
        let sig = v4::sign(secret, "20231216", "cn-hangzhou", &policy);
        form(&[
            ("x-oss-signature-version", "OSS4-HMAC-SHA256"),
            (
                "x-oss-credential",
                "ak/20231216/cn-hangzhou/oss/aliyun_v4_request",
            ),
            ("x-oss-date", "20231216T162057Z"),
            ("policy", &policy),
            ("x-oss-signature", &sig),
        ])
    }

    const V4_POLICY: &str = r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[
        {"x-oss-signature-version":"OSS4-HMAC-SHA256"},
        {"x-oss-credential":"ak/20231216/cn-hangzhou/oss/aliyun_v4_request"},
        {"x-oss-date":"20231216T162057Z"}]}"#;

    #[test]
    fn v4_signature() {
        let f = v4_form(V4_POLICY, "sk");
        let auth = authenticate(&f, &Keys, &ctx(NOW)).unwrap();
        assert_eq!(
            auth.principal,
            Principal::AccessKey {
                access_key_id: "ak".into()
            }
        );
        auth.policy.unwrap().check("b", &f, None).unwrap();
        expect(
            authenticate(&v4_form(V4_POLICY, "wrong"), &Keys, &ctx(NOW)),
            403,
            "SignatureDoesNotMatch",
            ec::V4_SIGNATURE_MISMATCH,
        );
        // The policy must name the V4 fields.
        let bare = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[]}"#;
        expect(
            authenticate(&v4_form(bare, "sk"), &Keys, &ctx(NOW)),
            403,
            "AccessDenied",
            post_ec::CONDITION_FIELD_MISSING,
        );
        // Wrong region, mismatched date.
        let mut f = v4_form(V4_POLICY, "sk");
        f.0[1].1 = "ak/20231216/cn-beijing/oss/aliyun_v4_request".into();
        expect(
            authenticate(&f, &Keys, &ctx(NOW)),
            400,
            "InvalidArgument",
            ec::V4_REGION_INVALID,
        );
        let mut f = v4_form(V4_POLICY, "sk");
        f.0[2].1 = "20231217T000000Z".into();
        expect(
            authenticate(&f, &Keys, &ctx(NOW)),
            400,
            "InvalidArgument",
            ec::V4_CREDENTIAL_DATE_MISMATCH,
        );
        let mut f = v4_form(V4_POLICY, "sk");
        f.0[1].1 = "ak/20231216/cn-hangzhou/s3/aws4_request".into();
        expect(
            authenticate(&f, &Keys, &ctx(NOW)),
            400,
            "InvalidArgument",
            post_ec::CREDENTIAL_INVALID,
        );
        let mut f = v4_form(V4_POLICY, "sk");
        f.push("OSSAccessKeyId", "ak".into());
        expect(
            authenticate(&f, &Keys, &ctx(NOW)),
            400,
            "InvalidArgument",
            ec::BOTH_SIGNATURE_KINDS,
        );
    }

    #[test]
    fn malformed_policies() {
        let cases: &[(&str, &str)] = &[
            ("not json", post_ec::POLICY_NOT_JSON),
            ("[1]", post_ec::POLICY_NOT_JSON),
            ("{}", post_ec::POLICY_FIELDS_MISSING),
            (r#"{"conditions":[]}"#, post_ec::EXPIRATION_MISSING),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z"}"#,
                post_ec::CONDITIONS_MISSING,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[],"test":1}"#,
                post_ec::POLICY_UNKNOWN_FIELD,
            ),
            (
                r#"{"expiration":123,"conditions":[]}"#,
                post_ec::EXPIRATION_NOT_STRING,
            ),
            (
                r#"{"expiration":"","conditions":[]}"#,
                post_ec::EXPIRATION_EMPTY,
            ),
            (
                r#"{"expiration":"tomorrow","conditions":[]}"#,
                post_ec::EXPIRATION_INVALID,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":{}}"#,
                post_ec::CONDITIONS_NOT_LIST,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[123]}"#,
                post_ec::CONDITION_NOT_MAP_OR_LIST,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[{"a":"1","b":"2"}]}"#,
                post_ec::SIMPLE_CONDITION_INVALID,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["ends-with","$key","x"]]}"#,
                post_ec::UNKNOWN_MATCHING_MODE,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["not-in","$cache-control","no-cache"]]}"#,
                post_ec::CONDITION_VALUE_TYPE,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$key"]]}"#,
                post_ec::CONDITION_VALUE_TYPE,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",10,"test"]]}"#,
                post_ec::RANGE_INVALID,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",-1,10]]}"#,
                post_ec::RANGE_INVALID,
            ),
            (
                r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",20,10]]}"#,
                post_ec::RANGE_REVERSED,
            ),
        ];
        for (json, ec) in cases {
            let err = expect(
                PostPolicy::parse(&b64(json)),
                400,
                "InvalidPolicyDocument",
                ec,
            );
            assert!(
                err.message.starts_with("Invalid Policy: "),
                "{json}: {}",
                err.message
            );
        }
        expect(
            PostPolicy::parse("%%%"),
            400,
            "InvalidPolicyDocument",
            post_ec::POLICY_INVALID,
        );
    }

    #[test]
    fn conditions() {
        let json = r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[
            {"bucket":"b"},
            ["starts-with","$key","user/"],
            ["eq","$success_action_status","201"],
            ["in","$Content-Type",["image/png","image/jpeg"]],
            ["not-in","$cache-control",["no-cache"]],
            ["content-length-range",1,10],
            ["content-length-range",0,5]]}"#;
        let policy = PostPolicy::parse(&b64(json)).unwrap();
        assert_eq!(policy.content_length_range(), Some((1, 5)));
        let ok = form(&[
            ("key", "user/${filename}"),
            ("success_action_status", "201"),
            ("cache-control", "max-age=1"),
        ]);
        policy.check("b", &ok, Some("image/png")).unwrap();
        // A Content-Type form field wins over the file part's.
        let mut typed = ok.clone();
        typed.push("Content-Type", "text/plain".into());
        let err = expect(
            policy.check("b", &typed, Some("image/png")),
            403,
            "AccessDenied",
            post_ec::CONDITION_FAILED,
        );
        assert_eq!(
            err.message,
            r#"Invalid according to Policy: Policy Condition failed: ["in", "$content-type", ["image/png","image/jpeg"]]"#
        );
        expect(
            policy.check("other", &ok, Some("image/png")),
            403,
            "AccessDenied",
            post_ec::CONDITION_FAILED,
        );
        let mut bad_key = ok.clone();
        bad_key.0[0].1 = "admin/x".into();
        let err = expect(
            policy.check("b", &bad_key, Some("image/png")),
            403,
            "AccessDenied",
            post_ec::CONDITION_FAILED,
        );
        assert!(
            err.message.contains(r#"["starts-with", "$key", "user/"]"#),
            "{}",
            err.message
        );
        let mut no_cache = ok.clone();
        no_cache.0[2].1 = "no-cache".into();
        expect(
            policy.check("b", &no_cache, Some("image/png")),
            403,
            "AccessDenied",
            post_ec::CONDITION_FAILED,
        );
        let missing = form(&[("key", "user/a")]);
        expect(
            policy.check("b", &missing, Some("image/png")),
            403,
            "AccessDenied",
            post_ec::CONDITION_FIELD_MISSING,
        );
    }
}
