//! The server side: authenticates admin requests and runs them against the key manager
//! (through the [`KeyAdmin`] seam, whichever backend serves the keys) or the identity store.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine;
use bytes::Bytes;
use coffer_identity::{IdentityError, IdentityStore, KeyOwner, Keyring, RootAccessKey};
use coffer_oss::auth::{AuthContext, AuthError, Principal, RequestParts};
use coffer_service::{KeyAdmin, KeyAdminError, KeyError, KeyInfo, KeyOperation, NewKey};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use md5::{Digest, Md5};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::ram::RamAction;
use crate::{ADMIN_BUCKET, MAX_BODY_BYTES};

/// Path (without the leading `/`) under which the KMS actions live.
const KMS_KEY_PREFIX: &str = "admin/kms/";
/// Path (without the leading `/`) under which the RAM actions live.
const RAM_KEY_PREFIX: &str = "admin/ram/";

/// Decides whether a RAM user may call a KMS admin action. Root may always; without an
/// authorizer ([`AdminApi::with_kms_authorizer`]) RAM users may call none.
pub trait KmsActionAuthorizer: Send + Sync {
    /// `access_key_id` signed the request (a RAM user's Active key); `action` is
    /// `kms:<Action>` (`kms:CreateKey`); `key_id` is the key the call names, as given: the
    /// `KeyId` parameter (an id or an `alias/…` name), for `DeleteAlias` the `AliasName`, and
    /// `None` for `CreateKey`, `ListKeys` and `ListAliases`.
    fn allowed(&self, access_key_id: &str, action: &str, key_id: Option<&str>) -> bool;
}

/// Serves the admin API. Cheap to clone; share one per server.
#[derive(Clone)]
pub struct AdminApi {
    keys: Arc<dyn KeyAdmin>,
    /// The root AccessKey, and the RAM users once [`AdminApi::with_identities`] supplied a
    /// store.
    keyring: Keyring,
    kms_authorizer: Option<Arc<dyn KmsActionAuthorizer>>,
    region: String,
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    Root,
    /// A RAM user's Active AccessKey.
    User {
        access_key_id: String,
    },
}

impl fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminApi")
            .field("keys", &self.keys.backend())
            .field("identities", &self.keyring.identities().is_some())
            .field("kms_authorizer", &self.kms_authorizer.is_some())
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl AdminApi {
    /// `keys` serves the KMS actions (the built-in KMS is [`crate::BuiltinKeyAdmin`]);
    /// `root` is the root AccessKey, allowed every action; `region` is the region V4
    /// signatures must name. Without [`with_identities`](Self::with_identities) the RAM
    /// actions are absent and only the root key authenticates.
    pub fn new(
        keys: Arc<dyn KeyAdmin>,
        root: Arc<RootAccessKey>,
        region: impl Into<String>,
    ) -> AdminApi {
        AdminApi {
            keys,
            keyring: Keyring::root_only(root),
            kms_authorizer: None,
            region: region.into(),
        }
    }

    /// Serves the RAM actions (`/admin/ram/…`, root only) from `identities`, and lets its
    /// users' Active keys authenticate (for KMS actions their authorizer allows).
    pub fn with_identities(mut self, identities: Arc<IdentityStore>) -> AdminApi {
        self.keyring = Keyring::new(self.keyring.root().clone(), identities);
        self
    }

    /// Lets RAM users call the KMS actions `authorizer` allows them.
    pub fn with_kms_authorizer(mut self, authorizer: Arc<dyn KmsActionAuthorizer>) -> AdminApi {
        self.kms_authorizer = Some(authorizer);
        self
    }

    /// Serves one request. Never fails: every error becomes a JSON error response.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        let result = self.handle_inner(req).await;
        match &result {
            Ok(_) => tracing::debug!(%path, "admin request served"),
            Err(e) => {
                tracing::info!(%path, code = e.code, status = e.status.as_u16(), "admin request failed")
            }
        }
        match result {
            Ok(value) => json_response(StatusCode::OK, &value),
            Err(e) => e.into_response(),
        }
    }

    async fn handle_inner<B>(&self, req: Request<B>) -> Result<Value, ApiError>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let key = object_key(parts.uri.path())?;
        let query = parse_query(parts.uri.query())?;

        // Authentication first, from the head alone: unauthenticated callers learn nothing
        // about the actions and cannot make the server buffer a body.
        let request_parts = RequestParts {
            method: parts.method.as_str(),
            bucket: Some(ADMIN_BUCKET),
            key: Some(&key),
            query: &query,
            headers: &parts.headers,
        };
        let ctx = AuthContext {
            region: self.region.clone(),
            now: SystemTime::now(),
        };
        let signed = coffer_oss::auth::authenticate(&request_parts, &self.keyring, &ctx).await;
        let caller = match signed {
            // The keyring that verified the signature says whose key it is.
            Ok(Principal::AccessKey { access_key_id }) => {
                match self.keyring.owner(&access_key_id) {
                    Some(KeyOwner::Root) => Caller::Root,
                    _ => Caller::User { access_key_id },
                }
            }
            Ok(Principal::Anonymous) => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    "The admin API requires a signed request.",
                ));
            }
            Err(e) => return Err(ApiError::from_auth(e)),
        };

        if parts.method != Method::POST {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The admin API only accepts POST.",
            ));
        }
        let no_action = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "InvalidAction",
                format!("No admin action at {}.", parts.uri.path()),
            )
        };
        if let Some(name) = key.strip_prefix(RAM_KEY_PREFIX) {
            // Identities are root's business alone; a RAM user learns nothing more here.
            if let Caller::User { access_key_id } = &caller {
                tracing::info!(%access_key_id, "RAM user refused a RAM admin action");
                return Err(access_denied(
                    "Only the root AccessKey may manage RAM users, AccessKeys and policies.",
                ));
            }
            let Some(identities) = self.keyring.identities().cloned() else {
                return Err(no_action());
            };
            let action = RamAction::from_name(name).ok_or_else(no_action)?;
            let body = read_body(&parts.headers, body).await?;
            check_content_md5(&parts.headers, &body)?;
            let call = action.parse(&body)?;
            return tokio::task::spawn_blocking(move || call.run(&identities))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "admin RAM call panicked");
                    ApiError::internal("the RAM call did not complete")
                })?;
        }

        let action = key
            .strip_prefix(KMS_KEY_PREFIX)
            .and_then(KeyOperation::from_name)
            .ok_or_else(no_action)?;
        if matches!(caller, Caller::User { .. }) && self.kms_authorizer.is_none() {
            return Err(kms_denied(action));
        }

        let body = read_body(&parts.headers, body).await?;
        check_content_md5(&parts.headers, &body)?;
        let call = parse_call(action, &body)?;
        if let Caller::User { access_key_id } = &caller {
            let allowed = self.kms_authorizer.as_ref().is_some_and(|a| {
                a.allowed(access_key_id, &format!("kms:{action}"), call.key_param())
            });
            if !allowed {
                tracing::info!(%access_key_id, action = ?action, "RAM user refused a KMS admin action");
                return Err(kms_denied(action));
            }
        }

        call.run(self.keys.as_ref())
            .await
            .map_err(|e| ApiError::from_key_admin(e, self.keys.backend()))
    }
}

fn access_denied(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "AccessDenied", message)
}

fn kms_denied(action: KeyOperation) -> ApiError {
    access_denied(format!("You are not authorized to perform kms:{action}."))
}

/// The object key a request is signed for: the decoded path without its leading `/`.
fn object_key(path: &str) -> Result<String, ApiError> {
    let raw = path.strip_prefix('/').unwrap_or(path);
    percent_decode_str(raw)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                "The request path is not valid UTF-8.",
            )
        })
}

/// Decoded query pairs in order, as the OSS front end decodes them (`+` is a space).
fn parse_query(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "The query string is not valid UTF-8.",
                )
            })
    };
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Bytes, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            format!("The request body could not be read: {e}"),
        )),
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "EntityTooLarge",
        format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
    )
}

/// The signature does not cover the body, but it covers `Content-MD5`: a body must come with
/// one, and must match it.
fn check_content_md5(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let invalid = |message: &str| ApiError::new(StatusCode::BAD_REQUEST, "InvalidDigest", message);
    let Some(value) = headers.get("content-md5") else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(invalid(
                "A request with a body must carry a Content-MD5 header (it is what the signature covers).",
            ))
        };
    };
    let provided = value
        .to_str()
        .ok()
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        })
        .ok_or_else(|| invalid("The Content-MD5 you specified is not valid."))?;
    if provided.as_slice() != Md5::digest(body).as_slice() {
        return Err(invalid(
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    Ok(())
}

/// An error response: `{"Code", "Message", …}` with an HTTP status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    pub(crate) code: &'static str,
    message: String,
    /// Further fields of the JSON body (authentication diagnostics).
    extra: Vec<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    pub(crate) fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    fn from_auth(e: AuthError) -> ApiError {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::FORBIDDEN);
        let extra = e
            .extra
            .into_iter()
            // The hex dump only repeats StringToSign.
            .filter(|(name, _)| *name != "StringToSignBytes")
            .collect();
        ApiError {
            status,
            code: e.code,
            message: e.message,
            extra,
        }
    }

    /// The key manager's answer, in the codes the built-in KMS has always used; a
    /// backend without the operation answers 501 `UnsupportedOperation`, naming itself.
    fn from_key_admin(e: KeyAdminError, backend: &str) -> ApiError {
        match e {
            KeyAdminError::Key(e) => ApiError::from_key(e, backend),
            e @ KeyAdminError::Unsupported { .. } => ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "UnsupportedOperation",
                e.to_string(),
            ),
            e @ KeyAdminError::Denied { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "KmsAccessDenied", e.to_string())
            }
            KeyAdminError::Internal(detail) => {
                tracing::error!(error = %detail, "admin KMS call failed");
                ApiError::internal(format!("the {backend} key manager failed: {detail}"))
            }
        }
    }

    fn from_key(e: KeyError, backend: &str) -> ApiError {
        let (status, code, message) = match e {
            KeyError::KeyNotFound(id) => (
                StatusCode::NOT_FOUND,
                "KeyNotFound",
                format!("the specified KMS key {id} is not found"),
            ),
            KeyError::AliasNotFound(alias) => (
                StatusCode::NOT_FOUND,
                "AliasNotFound",
                format!("the specified alias {alias} is not found"),
            ),
            KeyError::Deleted(_) => (
                StatusCode::NOT_FOUND,
                "KeyDeleted",
                "the key material was destroyed; data encrypted under this key is unrecoverable"
                    .to_owned(),
            ),
            KeyError::Disabled => (
                StatusCode::CONFLICT,
                "KeyDisabled",
                "the request was rejected because the key state is Disabled".to_owned(),
            ),
            KeyError::PendingDeletion => (
                StatusCode::CONFLICT,
                "KeyPendingDeletion",
                "the request was rejected because the key state is PendingDeletion".to_owned(),
            ),
            KeyError::InvalidParameter(p) => (
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                format!("invalid parameter: {p}"),
            ),
            KeyError::AccessDenied => (
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "This request is forbidden by kms".to_owned(),
            ),
            e @ (KeyError::Unavailable(_) | KeyError::Timeout(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "KmsUnavailable",
                format!("the {backend} key manager did not answer: {e}; try again later"),
            ),
            KeyError::InvalidCiphertext => {
                tracing::error!("admin KMS call met a stored key that does not open");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InvalidCiphertext",
                    KeyError::InvalidCiphertext.to_string(),
                )
            }
        };
        ApiError::new(status, code, message)
    }

    pub(crate) fn from_identity(e: IdentityError) -> ApiError {
        let status = match &e {
            IdentityError::NoSuchUser(_)
            | IdentityError::NoSuchAccessKey(_)
            | IdentityError::NoSuchPolicy(_)
            | IdentityError::NotAttached { .. } => StatusCode::NOT_FOUND,
            IdentityError::UserAlreadyExists(_)
            | IdentityError::PolicyAlreadyExists(_)
            | IdentityError::AlreadyAttached { .. }
            | IdentityError::DeleteConflict(_)
            | IdentityError::LimitExceeded(_) => StatusCode::CONFLICT,
            IdentityError::MalformedPolicy(_) | IdentityError::InvalidParameter(_) => {
                StatusCode::BAD_REQUEST
            }
            IdentityError::Storage(_) => {
                tracing::error!(error = %e, "admin RAM call failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.code(), e.to_string())
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut body = Map::new();
        body.insert("Code".into(), Value::from(self.code));
        body.insert("Message".into(), Value::from(self.message));
        for (name, value) in self.extra {
            body.insert(name.into(), Value::from(value));
        }
        json_response(self.status, &Value::Object(body))
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// Parses an action's parameters; an empty body means `{}`.
fn parse_call(action: KeyOperation, body: &[u8]) -> Result<Call, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    Ok(match action {
        KeyOperation::CreateKey => {
            let p: CreateKeyParams = params(body)?;
            Call::CreateKey(NewKey {
                name: p.name,
                description: p.description.unwrap_or_default(),
            })
        }
        KeyOperation::ListKeys => {
            params::<NoParams>(body)?;
            Call::ListKeys
        }
        KeyOperation::ListAliases => {
            params::<NoParams>(body)?;
            Call::ListAliases
        }
        KeyOperation::DescribeKey => Call::DescribeKey(key_id(body)?),
        KeyOperation::EnableKey => Call::EnableKey(key_id(body)?),
        KeyOperation::DisableKey => Call::DisableKey(key_id(body)?),
        KeyOperation::CancelKeyDeletion => Call::CancelKeyDeletion(key_id(body)?),
        KeyOperation::DeleteKeyNow => Call::DeleteKeyNow(key_id(body)?),
        KeyOperation::RotateKey => Call::RotateKey(key_id(body)?),
        KeyOperation::GetKeyUsage => Call::GetKeyUsage(key_id(body)?),
        KeyOperation::ScheduleKeyDeletion => {
            let p: ScheduleParams = params(body)?;
            Call::ScheduleKeyDeletion(p.key_id, p.pending_window_in_days)
        }
        KeyOperation::CreateAlias => {
            let p: CreateAliasParams = params(body)?;
            Call::CreateAlias(p.alias_name, p.key_id)
        }
        KeyOperation::DeleteAlias => {
            let p: AliasParams = params(body)?;
            Call::DeleteAlias(p.alias_name)
        }
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct NoParams {}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateKeyParams {
    /// For backends whose keys are named by their creator (a Transit key name).
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct KeyIdParams {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ScheduleParams {
    key_id: String,
    pending_window_in_days: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateAliasParams {
    alias_name: String,
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AliasParams {
    alias_name: String,
}

/// Syntax errors are `MalformedJSON`; valid JSON of the wrong shape (not an object, unknown or
/// missing parameters, wrong types) is `InvalidParameter`.
pub(crate) fn params<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "MalformedJSON",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid_parameter(
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::invalid_parameter(format!("Invalid parameters: {e}")))
}

fn key_id(body: &[u8]) -> Result<String, ApiError> {
    params::<KeyIdParams>(body).map(|p| p.key_id)
}

/// A parsed call, ready to run.
#[derive(Debug)]
enum Call {
    CreateKey(NewKey),
    ListKeys,
    DescribeKey(String),
    EnableKey(String),
    DisableKey(String),
    ScheduleKeyDeletion(String, u32),
    CancelKeyDeletion(String),
    DeleteKeyNow(String),
    RotateKey(String),
    CreateAlias(String, String),
    DeleteAlias(String),
    ListAliases,
    GetKeyUsage(String),
}

impl Call {
    /// The key (or alias) the call names, for authorization.
    fn key_param(&self) -> Option<&str> {
        match self {
            Call::CreateKey(_) | Call::ListKeys | Call::ListAliases => None,
            Call::DescribeKey(key)
            | Call::EnableKey(key)
            | Call::DisableKey(key)
            | Call::ScheduleKeyDeletion(key, _)
            | Call::CancelKeyDeletion(key)
            | Call::DeleteKeyNow(key)
            | Call::RotateKey(key)
            | Call::CreateAlias(_, key)
            | Call::DeleteAlias(key)
            | Call::GetKeyUsage(key) => Some(key),
        }
    }

    async fn run(self, keys: &dyn KeyAdmin) -> Result<Value, KeyAdminError> {
        let meta = |info: KeyInfo| serde_json::to_value(info).map_err(internal);
        match self {
            Call::CreateKey(key) => meta(keys.create_key(key).await?),
            Call::ListKeys => {
                let list = serde_json::to_value(keys.list_keys().await?).map_err(internal)?;
                Ok(json!({ "Keys": list }))
            }
            Call::DescribeKey(key) => meta(keys.describe_key(&key).await?),
            Call::EnableKey(key) => meta(keys.enable_key(&key).await?),
            Call::DisableKey(key) => meta(keys.disable_key(&key).await?),
            Call::ScheduleKeyDeletion(key, days) => {
                meta(keys.schedule_key_deletion(&key, days).await?)
            }
            Call::CancelKeyDeletion(key) => meta(keys.cancel_key_deletion(&key).await?),
            Call::DeleteKeyNow(key) => keys.delete_key_now(&key).await.map(|()| json!({})),
            Call::RotateKey(key) => meta(keys.rotate_key(&key).await?),
            Call::CreateAlias(alias, key) => {
                keys.create_alias(&alias, &key).await.map(|()| json!({}))
            }
            Call::DeleteAlias(alias) => keys.delete_alias(&alias).await.map(|()| json!({})),
            Call::ListAliases => {
                let aliases = serde_json::to_value(keys.list_aliases().await?).map_err(internal)?;
                Ok(json!({ "Aliases": aliases }))
            }
            Call::GetKeyUsage(key) => {
                let (key_id, usage) = keys.key_usage(&key).await?;
                Ok(json!({ "KeyId": key_id, "Usage": usage }))
            }
        }
    }
}

fn internal(e: serde_json::Error) -> KeyAdminError {
    KeyAdminError::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_their_names() {
        for name in crate::KMS_ACTIONS {
            let action = KeyOperation::from_name(name).expect(name);
            assert_eq!(action.as_str(), name);
        }
        assert_eq!(KeyOperation::from_name("createkey"), None);
        assert_eq!(KeyOperation::from_name(""), None);
    }

    #[test]
    fn query_is_decoded_like_the_oss_front_end() {
        let q = parse_query(Some("a=b%20c&d&e=f+g&&x%2Fy=")).unwrap();
        let expected: Vec<(String, String)> = [("a", "b c"), ("d", ""), ("e", "f g"), ("x/y", "")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(q, expected);
        assert!(parse_query(None).unwrap().is_empty());
        assert!(parse_query(Some("a=%FF")).is_err());
    }

    #[test]
    fn object_key_strips_the_slash_and_decodes() {
        assert_eq!(
            object_key("/admin/kms/CreateKey").unwrap(),
            "admin/kms/CreateKey"
        );
        assert_eq!(
            object_key("/admin/kms/Create%4Bey").unwrap(),
            "admin/kms/CreateKey"
        );
        assert!(object_key("/%FF").is_err());
    }

    #[test]
    fn parameters_are_strict() {
        assert!(matches!(
            parse_call(KeyOperation::DescribeKey, br#"{"KeyId":"k"}"#),
            Ok(Call::DescribeKey(k)) if k == "k"
        ));
        let err = parse_call(KeyOperation::DescribeKey, br#"{"KeyID":"k"}"#).unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        let err = parse_call(KeyOperation::DescribeKey, b"").unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        let err = parse_call(KeyOperation::ListKeys, b"{").unwrap_err();
        assert_eq!(err.code, "MalformedJSON");
        let err = parse_call(KeyOperation::ListKeys, b"[]").unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        assert!(matches!(
            parse_call(KeyOperation::ListKeys, b" \n"),
            Ok(Call::ListKeys)
        ));
        assert!(matches!(
            parse_call(KeyOperation::CreateKey, b"{}"),
            Ok(Call::CreateKey(d)) if d == NewKey::default()
        ));
        let body = br#"{"KeyId":"k","PendingWindowInDays":-1}"#;
        let err = parse_call(KeyOperation::ScheduleKeyDeletion, body).unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
    }

    /// A backend's refusal reaches the operator as a status, a code and the backend's own
    /// reason; the data-path answers keep the codes the built-in KMS always used.
    #[test]
    fn key_manager_answers_render_as_statuses_and_codes() {
        let render = |e: KeyAdminError| ApiError::from_key_admin(e, "vault");
        let refused = render(KeyAdminError::unsupported(
            "vault",
            KeyOperation::DisableKey,
            "Transit keys have no Disabled state",
        ));
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::NOT_IMPLEMENTED, "UnsupportedOperation")
        );
        assert!(
            refused.message.contains("DisableKey") && refused.message.contains("vault"),
            "{}",
            refused.message
        );
        let denied = render(KeyAdminError::Denied {
            backend: "vault",
            operation: KeyOperation::CreateKey,
            reason: "grant `create`".into(),
        });
        assert_eq!(
            (denied.status, denied.code),
            (StatusCode::FORBIDDEN, "KmsAccessDenied")
        );
        let cases = [
            (KeyError::KeyNotFound("k".into()), 404, "KeyNotFound"),
            (KeyError::Deleted("k".into()), 404, "KeyDeleted"),
            (KeyError::Disabled, 409, "KeyDisabled"),
            (KeyError::PendingDeletion, 409, "KeyPendingDeletion"),
            (
                KeyError::InvalidParameter("p".into()),
                400,
                "InvalidParameter",
            ),
            (KeyError::Unavailable("down".into()), 503, "KmsUnavailable"),
            (
                KeyError::Timeout(std::time::Duration::from_secs(1)),
                503,
                "KmsUnavailable",
            ),
        ];
        for (e, status, code) in cases {
            let r = render(KeyAdminError::Key(e));
            assert_eq!((r.status.as_u16(), r.code), (status, code));
        }
    }

    #[test]
    fn content_md5_is_required_with_a_body_and_checked() {
        let mut headers = HeaderMap::new();
        assert!(check_content_md5(&headers, b"").is_ok());
        assert_eq!(
            check_content_md5(&headers, b"{}").unwrap_err().code,
            "InvalidDigest"
        );
        let good = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"{}"));
        headers.insert("content-md5", good.parse().unwrap());
        assert!(check_content_md5(&headers, b"{}").is_ok());
        assert!(check_content_md5(&headers, b"{ }").is_err());
        headers.insert("content-md5", "not base64!".parse().unwrap());
        assert!(check_content_md5(&headers, b"{}").is_err());
    }
}
