//! Coffer's admin API: manages the key manager's keys and the RAM identities over HTTP, in the RPC
//! style of Alibaba Cloud KMS's and RAM's APIs.
//!
//! # Protocol
//!
//! `POST /admin/kms/<Action>` with a JSON object as the body (an empty body means `{}`); the
//! response is JSON too. Parameter and field names are PascalCase, as in Alibaba's API:
//!
//! | Action | Parameters | Result |
//! |---|---|---|
//! | `CreateKey` | `Name?` (backends whose keys are named by their creator: Transit), `Description?` | the new key's metadata |
//! | `ListKeys` | — | `{"Keys": [metadata, …]}` |
//! | `DescribeKey` | `KeyId` (id or alias) | metadata |
//! | `EnableKey`, `DisableKey`, `CancelKeyDeletion`, `RotateKey` | `KeyId` | metadata |
//! | `ScheduleKeyDeletion` | `KeyId`, `PendingWindowInDays` (7–30) | metadata |
//! | `DeleteKeyNow` | `KeyId` | `{}` |
//! | `CreateAlias` | `AliasName`, `KeyId` | `{}` |
//! | `DeleteAlias` | `AliasName` | `{}` |
//! | `ListAliases` | — | `{"Aliases": [{"AliasName", "KeyId"}, …]}` |
//! | `GetKeyUsage` | `KeyId` | `{"KeyId", "Usage": {"GenerateDataKey", "Decrypt"}}` |
//!
//! "metadata" is [`coffer_service::KeyInfo`] as JSON (`KeyId`, `KeyState`, `Aliases`,
//! `PrimaryKeyVersion`, `Usage`, …). Unknown parameters are rejected. The actions run on
//! the server's [`coffer_service::KeyAdmin`], whichever key manager that is; one that has
//! no such operation (Vault Transit has no Disabled state) answers 501
//! `UnsupportedOperation` with a message naming the backend and what to do instead.
//!
//! `POST /admin/ram/<Action>` manages RAM users, their AccessKeys and identity policies
//! ([`coffer_identity::IdentityStore`]); these actions exist only on a server that gave the
//! API an identity store ([`AdminApi::with_identities`]), and only root may call them:
//!
//! | Action | Parameters | Result |
//! |---|---|---|
//! | `CreateUser` | `UserName`, `DisplayName?` | `{"User": user}` |
//! | `GetUser` | `UserName` | `{"User": user}` |
//! | `ListUsers` | — | `{"Users": [user, …]}` |
//! | `DeleteUser` (with its keys and attachments) | `UserName` | `{}` |
//! | `CreateAccessKey` | `UserName` | `{"AccessKey": {"AccessKeyId", "AccessKeySecret", "Status", "CreateDate"}}` — the only time the secret is shown |
//! | `ListAccessKeys` | `UserName` | `{"AccessKeys": [{"AccessKeyId", "Status", "CreateDate"}, …]}` |
//! | `UpdateAccessKey` | `UserName`, `UserAccessKeyId`, `Status` (`Active`/`Inactive`) | `{}` |
//! | `DeleteAccessKey` | `UserName`, `UserAccessKeyId` | `{}` |
//! | `CreatePolicy` | `PolicyName`, `PolicyDocument` (the JSON text), `Description?` | `{"Policy": policy}` |
//! | `GetPolicy` | `PolicyName`, `PolicyType?` | `{"Policy": policy}` (with `PolicyDocument`) |
//! | `ListPolicies` | — | `{"Policies": [policy, …]}` (without documents) |
//! | `DeletePolicy` (refused while attached) | `PolicyName`, `PolicyType?` | `{}` |
//! | `AttachPolicyToUser`, `DetachPolicyFromUser` | `PolicyName`, `UserName`, `PolicyType?` | `{}` |
//! | `ListPoliciesForUser` | `UserName` | `{"Policies": [{"PolicyName", "PolicyType", "Description", "AttachDate"}, …]}` |
//!
//! "user" is `{"UserId", "UserName", "DisplayName", "CreateDate", "UpdateDate"}`; "policy" is
//! `{"PolicyName", "PolicyType": "Custom", "Description", "CreateDate", "UpdateDate",
//! "AttachmentCount"}`. `PolicyType`, where accepted, must be `Custom`. RAM errors use RAM's
//! codes: `EntityNotExist.User`, `EntityNotExist.AccessKey`, `EntityNotExist.Policy`,
//! `EntityNotExist.User.Policy` 404; `EntityAlreadyExists.User`,
//! `EntityAlreadyExists.Policy`, `EntityAlreadyExists.User.Policy`, `DeleteConflict.Policy.User`,
//! `LimitExceeded.AccessKey` 409; `MalformedPolicyDocument` (the message names the fault),
//! `InvalidParameter` 400.
//!
//! Errors are `{"Code": "…", "Message": "…"}` with these statuses: `KeyNotFound`,
//! `AliasNotFound`, `KeyDeleted` 404; `KeyDisabled`, `KeyPendingDeletion` 409;
//! `UnsupportedOperation` 501; `KmsAccessDenied` 403 (the key manager refused the server's
//! own credentials); `KmsUnavailable` 503;
//! `InvalidParameter` 400 (also for a body that is JSON of the wrong shape); `MalformedJSON`
//! 400; `InvalidDigest` 400; `InvalidAction` 404; `MethodNotAllowed` 405; `EntityTooLarge` 413
//! (bodies are limited to [`MAX_BODY_BYTES`]); `InternalError` 500. Authentication
//! failures keep the OSS verifier's status and code: `AccessDenied`, `InvalidAccessKeyId`,
//! `SignatureDoesNotMatch`, `RequestTimeTooSkewed` (403) or `InvalidArgument` (400, a
//! malformed `Authorization`); `SignatureDoesNotMatch` also carries `StringToSign` and, for
//! V4, `CanonicalRequest`, as OSS does.
//!
//! # Authentication
//!
//! Every request must carry an OSS V4 or V1 signature (header or presigned URL) by an access
//! key the server knows: the root AccessKey, or (with an identity store) a RAM user's Active
//! AccessKey. Root may call every action. A RAM user gets `AccessDenied` (403) for every
//! `/admin/ram/` action, and for a KMS action unless the server's [`KmsActionAuthorizer`]
//! allows the user `kms:<Action>` (without an authorizer, never). The signature is computed as if the request
//! addressed bucket [`ADMIN_BUCKET`] and the object named by the path without its leading `/`
//! (`admin/kms/CreateKey`), so it covers the action. The body is not part of an OSS
//! signature (V4 signs `UNSIGNED-PAYLOAD`), so a request with a body must carry a
//! `Content-MD5` header, which both signature versions sign, and the server checks the body
//! against it. Signatures are valid for 15 minutes, so a captured request can be replayed
//! within that window: keep the admin listener on a trusted network.

mod api;
mod builtin;
mod client;
mod ram;

pub use api::{AdminApi, KmsActionAuthorizer};
pub use builtin::BuiltinKeyAdmin;
pub use client::{AdminClient, AdminError};

/// The bucket name requests are signed for.
pub const ADMIN_BUCKET: &str = "coffer-admin";
/// The path prefix of the KMS actions.
pub const KMS_PATH_PREFIX: &str = "/admin/kms/";
/// The path prefix of the RAM actions.
pub const RAM_PATH_PREFIX: &str = "/admin/ram/";
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The actions under [`KMS_PATH_PREFIX`].
pub const KMS_ACTIONS: [&str; 13] = [
    "CreateKey",
    "ListKeys",
    "DescribeKey",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DeleteKeyNow",
    "RotateKey",
    "CreateAlias",
    "DeleteAlias",
    "ListAliases",
    "GetKeyUsage",
];

/// The actions under [`RAM_PATH_PREFIX`].
pub const RAM_ACTIONS: [&str; 15] = [
    "CreateUser",
    "DeleteUser",
    "ListUsers",
    "GetUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "CreatePolicy",
    "DeletePolicy",
    "ListPolicies",
    "GetPolicy",
    "AttachPolicyToUser",
    "DetachPolicyFromUser",
    "ListPoliciesForUser",
];
