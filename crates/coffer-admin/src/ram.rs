//! The RAM actions (`POST /admin/ram/<Action>`): users, AccessKeys and policies in the
//! identity store. Root only; [`crate::AdminApi`] checks that before anything here runs.

use coffer_identity::{IdentityError, IdentityStore};
use serde::Deserialize;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{ApiError, NoParams, params};

/// The RAM actions, before their parameters are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RamAction {
    CreateUser,
    DeleteUser,
    ListUsers,
    GetUser,
    CreateAccessKey,
    ListAccessKeys,
    UpdateAccessKey,
    DeleteAccessKey,
    CreatePolicy,
    DeletePolicy,
    ListPolicies,
    GetPolicy,
    AttachPolicyToUser,
    DetachPolicyFromUser,
    ListPoliciesForUser,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateUserParams {
    user_name: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct UserParams {
    user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct UpdateAccessKeyParams {
    user_name: String,
    user_access_key_id: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AccessKeyParams {
    user_name: String,
    user_access_key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreatePolicyParams {
    policy_name: String,
    policy_document: String,
    #[serde(default)]
    description: Option<String>,
}

/// `PolicyType` is accepted for RAM compatibility; only `Custom` policies exist.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PolicyParams {
    policy_name: String,
    #[serde(default)]
    policy_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AttachParams {
    policy_name: String,
    user_name: String,
    #[serde(default)]
    policy_type: Option<String>,
}

fn check_policy_type(policy_type: Option<&str>) -> Result<(), ApiError> {
    match policy_type {
        None | Some("Custom") => Ok(()),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "PolicyType {other:?} is not supported: Coffer has Custom policies only."
        ))),
    }
}

/// A parsed call, ready to run on a blocking thread.
#[derive(Debug)]
pub(crate) enum RamCall {
    CreateUser(String, Option<String>),
    DeleteUser(String),
    ListUsers,
    GetUser(String),
    CreateAccessKey(String),
    ListAccessKeys(String),
    UpdateAccessKey(String, String, bool),
    DeleteAccessKey(String, String),
    CreatePolicy(String, String, Option<String>),
    DeletePolicy(String),
    ListPolicies,
    GetPolicy(String),
    AttachPolicyToUser(String, String),
    DetachPolicyFromUser(String, String),
    ListPoliciesForUser(String),
}

impl RamAction {
    pub(crate) fn from_name(name: &str) -> Option<RamAction> {
        Some(match name {
            "CreateUser" => RamAction::CreateUser,
            "DeleteUser" => RamAction::DeleteUser,
            "ListUsers" => RamAction::ListUsers,
            "GetUser" => RamAction::GetUser,
            "CreateAccessKey" => RamAction::CreateAccessKey,
            "ListAccessKeys" => RamAction::ListAccessKeys,
            "UpdateAccessKey" => RamAction::UpdateAccessKey,
            "DeleteAccessKey" => RamAction::DeleteAccessKey,
            "CreatePolicy" => RamAction::CreatePolicy,
            "DeletePolicy" => RamAction::DeletePolicy,
            "ListPolicies" => RamAction::ListPolicies,
            "GetPolicy" => RamAction::GetPolicy,
            "AttachPolicyToUser" => RamAction::AttachPolicyToUser,
            "DetachPolicyFromUser" => RamAction::DetachPolicyFromUser,
            "ListPoliciesForUser" => RamAction::ListPoliciesForUser,
            _ => return None,
        })
    }

    /// Parses the parameters; an empty body means `{}`.
    pub(crate) fn parse(self, body: &[u8]) -> Result<RamCall, ApiError> {
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            body
        };
        let user = |body: &[u8]| params::<UserParams>(body).map(|p| p.user_name);
        Ok(match self {
            RamAction::CreateUser => {
                let p: CreateUserParams = params(body)?;
                RamCall::CreateUser(p.user_name, p.display_name)
            }
            RamAction::DeleteUser => RamCall::DeleteUser(user(body)?),
            RamAction::GetUser => RamCall::GetUser(user(body)?),
            RamAction::ListUsers => {
                params::<NoParams>(body)?;
                RamCall::ListUsers
            }
            RamAction::CreateAccessKey => RamCall::CreateAccessKey(user(body)?),
            RamAction::ListAccessKeys => RamCall::ListAccessKeys(user(body)?),
            RamAction::UpdateAccessKey => {
                let p: UpdateAccessKeyParams = params(body)?;
                let active = match p.status.as_str() {
                    "Active" => true,
                    "Inactive" => false,
                    other => {
                        return Err(ApiError::invalid_parameter(format!(
                            "Status must be \"Active\" or \"Inactive\", not {other:?}."
                        )));
                    }
                };
                RamCall::UpdateAccessKey(p.user_name, p.user_access_key_id, active)
            }
            RamAction::DeleteAccessKey => {
                let p: AccessKeyParams = params(body)?;
                RamCall::DeleteAccessKey(p.user_name, p.user_access_key_id)
            }
            RamAction::CreatePolicy => {
                let p: CreatePolicyParams = params(body)?;
                RamCall::CreatePolicy(p.policy_name, p.policy_document, p.description)
            }
            RamAction::DeletePolicy => {
                let p: PolicyParams = params(body)?;
                check_policy_type(p.policy_type.as_deref())?;
                RamCall::DeletePolicy(p.policy_name)
            }
            RamAction::GetPolicy => {
                let p: PolicyParams = params(body)?;
                check_policy_type(p.policy_type.as_deref())?;
                RamCall::GetPolicy(p.policy_name)
            }
            RamAction::ListPolicies => {
                params::<NoParams>(body)?;
                RamCall::ListPolicies
            }
            RamAction::AttachPolicyToUser => {
                let p: AttachParams = params(body)?;
                check_policy_type(p.policy_type.as_deref())?;
                RamCall::AttachPolicyToUser(p.policy_name, p.user_name)
            }
            RamAction::DetachPolicyFromUser => {
                let p: AttachParams = params(body)?;
                check_policy_type(p.policy_type.as_deref())?;
                RamCall::DetachPolicyFromUser(p.policy_name, p.user_name)
            }
            RamAction::ListPoliciesForUser => RamCall::ListPoliciesForUser(user(body)?),
        })
    }
}

fn to_value<T: Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(e.to_string()))
}

impl RamCall {
    pub(crate) fn run(self, store: &IdentityStore) -> Result<Value, ApiError> {
        let err = ApiError::from_identity;
        let empty = |r: Result<(), IdentityError>| r.map(|()| json!({})).map_err(err);
        match self {
            RamCall::CreateUser(name, display) => {
                let user = store.create_user(&name, display.as_deref()).map_err(err)?;
                Ok(json!({ "User": to_value(user)? }))
            }
            RamCall::DeleteUser(name) => empty(store.delete_user(&name)),
            RamCall::ListUsers => Ok(json!({ "Users": to_value(store.list_users())? })),
            RamCall::GetUser(name) => {
                let user = store.get_user(&name).map_err(err)?;
                Ok(json!({ "User": to_value(user)? }))
            }
            RamCall::CreateAccessKey(user) => {
                let (info, secret) = store.create_access_key(&user).map_err(err)?;
                // The only time the secret leaves the server.
                Ok(json!({
                    "AccessKey": {
                        "AccessKeyId": info.access_key_id,
                        "AccessKeySecret": secret.as_str(),
                        "Status": info.status,
                        "CreateDate": info.create_date,
                    }
                }))
            }
            RamCall::ListAccessKeys(user) => {
                let keys = store.list_access_keys(&user).map_err(err)?;
                Ok(json!({ "AccessKeys": to_value(keys)? }))
            }
            RamCall::UpdateAccessKey(user, key, active) => {
                empty(store.set_access_key_status(&user, &key, active))
            }
            RamCall::DeleteAccessKey(user, key) => empty(store.delete_access_key(&user, &key)),
            RamCall::CreatePolicy(name, document, description) => {
                let policy = store
                    .create_policy(&name, &document, description.as_deref())
                    .map_err(err)?;
                Ok(json!({ "Policy": to_value(policy)? }))
            }
            RamCall::DeletePolicy(name) => empty(store.delete_policy(&name)),
            RamCall::ListPolicies => Ok(json!({ "Policies": to_value(store.list_policies())? })),
            RamCall::GetPolicy(name) => {
                let policy = store.get_policy(&name).map_err(err)?;
                Ok(json!({ "Policy": to_value(policy)? }))
            }
            RamCall::AttachPolicyToUser(policy, user) => empty(store.attach_policy(&policy, &user)),
            RamCall::DetachPolicyFromUser(policy, user) => {
                empty(store.detach_policy(&policy, &user))
            }
            RamCall::ListPoliciesForUser(user) => {
                let policies = store.list_policies_for_user(&user).map_err(err)?;
                Ok(json!({ "Policies": to_value(policies)? }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_their_names() {
        for name in crate::RAM_ACTIONS {
            let action = RamAction::from_name(name).expect(name);
            assert_eq!(format!("{action:?}"), name);
        }
        assert_eq!(RamAction::from_name("createuser"), None);
        assert_eq!(RamAction::from_name("CreateKey"), None);
    }

    #[test]
    fn parameters_are_strict() {
        assert!(matches!(
            RamAction::CreateUser.parse(br#"{"UserName":"a"}"#),
            Ok(RamCall::CreateUser(n, None)) if n == "a"
        ));
        assert!(matches!(
            RamAction::ListUsers.parse(b""),
            Ok(RamCall::ListUsers)
        ));
        for (action, body) in [
            (RamAction::CreateUser, &br#"{"Username":"a"}"#[..]),
            (RamAction::CreateUser, br#"{}"#),
            (RamAction::ListUsers, br#"{"X":1}"#),
            (
                RamAction::UpdateAccessKey,
                br#"{"UserName":"a","UserAccessKeyId":"k","Status":"active"}"#,
            ),
            (
                RamAction::AttachPolicyToUser,
                br#"{"UserName":"a","PolicyName":"p","PolicyType":"System"}"#,
            ),
            (
                RamAction::CreatePolicy,
                br#"{"PolicyName":"p","PolicyDocument":{}}"#,
            ),
        ] {
            let err = action.parse(body).unwrap_err();
            assert_eq!(err.code, "InvalidParameter", "{action:?} {body:?}");
        }
        assert!(matches!(
            RamAction::UpdateAccessKey
                .parse(br#"{"UserName":"a","UserAccessKeyId":"k","Status":"Inactive"}"#),
            Ok(RamCall::UpdateAccessKey(_, _, false))
        ));
        assert!(matches!(
            RamAction::GetPolicy.parse(br#"{"PolicyName":"p","PolicyType":"Custom"}"#),
            Ok(RamCall::GetPolicy(p)) if p == "p"
        ));
        assert_eq!(
            RamAction::ListUsers.parse(b"{").unwrap_err().code,
            "MalformedJSON"
        );
    }
}
