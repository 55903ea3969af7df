//! The admin API against a temporary KMS: authentication, every action's results and error
//! mapping, and the client over a real HTTP connection.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use coffer_admin::{AdminApi, AdminClient, AdminError, BuiltinKeyAdmin, MAX_BODY_BYTES};
use coffer_api::identity::SecretKey;
use coffer_identity::RootAccessKey;
use coffer_kms::{EncryptionContext, KeySelector, Kms, KmsConfig, RootKey};
use coffer_oss::auth::signer::{
    Credentials, SignableRequest, presign_v4, sign_v1_header, sign_v4_header,
};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

const AK: &str = "LTAI5tAdminTestKey";
const SK: &str = "AdminTestSecret0123456789";
const REGION: &str = "cn-hangzhou";

/// The root AccessKey the servers under test know.
fn root_only() -> Arc<RootAccessKey> {
    Arc::new(RootAccessKey::new(AK.into(), SecretKey::new(SK.into())))
}

struct Fixture {
    api: AdminApi,
    kms: Arc<Kms>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(
        dir.path(),
        RootKey::from_bytes([7; 32]),
        KmsConfig::default(),
    )
    .unwrap();
    let kms = Arc::new(kms);
    Fixture {
        api: AdminApi::new(
            Arc::new(BuiltinKeyAdmin::new(kms.clone())),
            root_only(),
            REGION,
        ),
        kms,
        _dir: dir,
    }
}

#[derive(Clone, Copy)]
enum Sign {
    None,
    V1,
    V4,
    PresignV4,
}

fn md5_b64(body: &[u8]) -> String {
    use md5::{Digest, Md5};
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// A request to `path` with `body`, signed for `signed_path` (normally the same).
fn request_for(
    method: &str,
    path: &str,
    signed_path: &str,
    body: &[u8],
    sign: Sign,
    secret: &str,
) -> Request<Full<Bytes>> {
    let mut headers = HeaderMap::new();
    if !body.is_empty() {
        headers.insert("content-md5", md5_b64(body).parse().unwrap());
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    let mut query = Vec::new();
    let key = signed_path.trim_start_matches('/');
    let mut req = SignableRequest::new(
        method,
        Some("coffer-admin"),
        Some(key),
        &mut query,
        &mut headers,
    );
    let creds = Credentials::new(AK, secret);
    let now = SystemTime::now();
    match sign {
        Sign::None => {}
        Sign::V1 => {
            sign_v1_header(&mut req, &creds, now).unwrap();
        }
        Sign::V4 => {
            sign_v4_header(&mut req, &creds, REGION, now, &[]).unwrap();
        }
        Sign::PresignV4 => {
            presign_v4(&mut req, &creds, REGION, now, Duration::from_secs(60), &[]).unwrap();
        }
    }
    let mut uri = path.to_owned();
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&coffer_oss::auth::signer::encode_query(&query));
    }
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    *request.headers_mut() = headers;
    request
}

async fn send(api: &AdminApi, request: Request<Full<Bytes>>) -> (StatusCode, Value) {
    let response = api.handle(request).await;
    let status = response.status();
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    (status, value)
}

impl Fixture {
    async fn call_with(&self, action: &str, body: Value, sign: Sign) -> (StatusCode, Value) {
        let path = format!("/admin/kms/{action}");
        let body = serde_json::to_vec(&body).unwrap();
        send(
            &self.api,
            request_for("POST", &path, &path, &body, sign, SK),
        )
        .await
    }

    async fn call(&self, action: &str, body: Value) -> (StatusCode, Value) {
        self.call_with(action, body, Sign::V4).await
    }

    async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, value) = self.call(action, body).await;
        assert_eq!(status, StatusCode::OK, "{action}: {value}");
        value
    }

    async fn err(&self, action: &str, body: Value, status: u16, code: &str) -> Value {
        let (got, value) = self.call(action, body).await;
        assert_eq!(
            (got.as_u16(), value["Code"].as_str()),
            (status, Some(code)),
            "{action}: {value}"
        );
        assert!(value["Message"].as_str().is_some_and(|m| !m.is_empty()));
        value
    }

    async fn create(&self) -> String {
        let meta = self.ok("CreateKey", json!({"Description": "test"})).await;
        meta["KeyId"].as_str().unwrap().to_owned()
    }
}

fn assert_code(status: StatusCode, value: &Value, expected_status: u16, code: &str) {
    assert_eq!(
        (status.as_u16(), value["Code"].as_str()),
        (expected_status, Some(code)),
        "{value}"
    );
}

#[tokio::test]
async fn signed_calls_succeed_with_v4_v1_and_presigned_v4() {
    let f = fixture();
    for sign in [Sign::V4, Sign::V1, Sign::PresignV4] {
        let (status, meta) = f
            .call_with("CreateKey", json!({"Description": "signed"}), sign)
            .await;
        assert_eq!(status, StatusCode::OK, "{meta}");
        assert_eq!(meta["KeyState"], "Enabled");
        assert_eq!(meta["Description"], "signed");
        assert_eq!(meta["PrimaryKeyVersion"], 1);
    }
    let keys = f.ok("ListKeys", json!({})).await;
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn unsigned_and_badly_signed_calls_are_refused() {
    let f = fixture();
    let path = "/admin/kms/CreateKey";
    let body = br#"{"Description":"x"}"#;

    let (status, value) = send(
        &f.api,
        request_for("POST", path, path, body, Sign::None, SK),
    )
    .await;
    assert_code(status, &value, 403, "AccessDenied");

    for sign in [Sign::V4, Sign::V1, Sign::PresignV4] {
        let (status, value) = send(
            &f.api,
            request_for("POST", path, path, body, sign, "wrong-secret"),
        )
        .await;
        assert_code(status, &value, 403, "SignatureDoesNotMatch");
    }
    let (status, value) = send(
        &f.api,
        request_for("POST", path, path, body, Sign::V4, "wrong-secret"),
    )
    .await;
    assert_code(status, &value, 403, "SignatureDoesNotMatch");
    assert!(
        value["CanonicalRequest"]
            .as_str()
            .unwrap()
            .contains("/coffer-admin/admin/kms/CreateKey")
    );

    // An unknown AccessKey.
    let mut req = request_for("POST", path, path, body, Sign::None, SK);
    {
        let mut query = Vec::new();
        let mut headers = req.headers().clone();
        let mut s = SignableRequest::new(
            "POST",
            Some("coffer-admin"),
            Some("admin/kms/CreateKey"),
            &mut query,
            &mut headers,
        );
        sign_v4_header(
            &mut s,
            &Credentials::new("LTAIunknown", SK),
            REGION,
            SystemTime::now(),
            &[],
        )
        .unwrap();
        *req.headers_mut() = headers;
    }
    let (status, value) = send(&f.api, req).await;
    assert_code(status, &value, 403, "InvalidAccessKeyId");

    // Nothing was created by any of these.
    assert!(f.kms.list_keys().is_empty());
    // And before authentication nothing reveals whether an action exists.
    let (status, value) = send(
        &f.api,
        request_for(
            "POST",
            "/admin/kms/Nope",
            "/admin/kms/Nope",
            b"",
            Sign::None,
            SK,
        ),
    )
    .await;
    assert_code(status, &value, 403, "AccessDenied");
}

#[tokio::test]
async fn a_signature_does_not_transfer_to_another_action_or_body() {
    let f = fixture();
    let id = f.create().await;
    let body = serde_json::to_vec(&json!({"KeyId": id})).unwrap();

    // Signed for DescribeKey, sent to DisableKey.
    let req = request_for(
        "POST",
        "/admin/kms/DisableKey",
        "/admin/kms/DescribeKey",
        &body,
        Sign::V4,
        SK,
    );
    let (status, value) = send(&f.api, req).await;
    assert_code(status, &value, 403, "SignatureDoesNotMatch");
    let (status, value) = send(
        &f.api,
        request_for(
            "POST",
            "/admin/kms/DisableKey",
            "/admin/kms/DescribeKey",
            &body,
            Sign::V1,
            SK,
        ),
    )
    .await;
    assert_code(status, &value, 403, "SignatureDoesNotMatch");
    assert_eq!(f.kms.describe_key(&id).unwrap().state.as_str(), "Enabled");

    // The same signed head with another body: the Content-MD5 no longer matches...
    let path = "/admin/kms/DisableKey";
    let other = f.create().await;
    let other_body = serde_json::to_vec(&json!({"KeyId": other})).unwrap();
    let signed = request_for("POST", path, path, &body, Sign::V4, SK);
    let (parts, _) = signed.into_parts();
    let tampered = Request::from_parts(parts.clone(), Full::new(Bytes::from(other_body.clone())));
    let (status, value) = send(&f.api, tampered).await;
    assert_code(status, &value, 400, "InvalidDigest");
    // ...and fixing the Content-MD5 breaks the signature.
    let mut tampered = Request::from_parts(parts, Full::new(Bytes::from(other_body.clone())));
    tampered
        .headers_mut()
        .insert("content-md5", md5_b64(&other_body).parse().unwrap());
    let (status, value) = send(&f.api, tampered).await;
    assert_code(status, &value, 403, "SignatureDoesNotMatch");
    // A signed request with a body but no Content-MD5 is refused.
    let mut headers = HeaderMap::new();
    let mut query = Vec::new();
    let mut s = SignableRequest::new(
        "POST",
        Some("coffer-admin"),
        Some("admin/kms/DisableKey"),
        &mut query,
        &mut headers,
    );
    sign_v4_header(
        &mut s,
        &Credentials::new(AK, SK),
        REGION,
        SystemTime::now(),
        &[],
    )
    .unwrap();
    let mut req = Request::post(path)
        .body(Full::new(Bytes::from(other_body)))
        .unwrap();
    *req.headers_mut() = headers;
    let (status, value) = send(&f.api, req).await;
    assert_code(status, &value, 400, "InvalidDigest");

    assert_eq!(
        f.kms.describe_key(&other).unwrap().state.as_str(),
        "Enabled"
    );
}

#[tokio::test]
async fn key_lifecycle_through_every_action() {
    let f = fixture();
    let created = f.ok("CreateKey", json!({"Description": "lifecycle"})).await;
    let id = created["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(created["Aliases"], json!([]));
    assert_eq!(created["KeySpec"], "Aliyun_AES_256");
    assert_eq!(
        created["Usage"],
        json!({"GenerateDataKey": 0, "Decrypt": 0})
    );

    assert_eq!(
        f.ok(
            "CreateAlias",
            json!({"AliasName": "alias/app", "KeyId": id})
        )
        .await,
        json!({})
    );
    let meta = f.ok("DescribeKey", json!({"KeyId": "alias/app"})).await;
    assert_eq!(meta["KeyId"], id.as_str());
    assert_eq!(meta["Aliases"], json!(["alias/app"]));
    assert_eq!(
        f.ok("ListAliases", json!({})).await,
        json!({"Aliases": [{"AliasName": "alias/app", "KeyId": id}]})
    );

    let ctx = EncryptionContext::for_object("b", "o");
    let generated = f
        .kms
        .generate_data_key(&KeySelector::Named(id.clone()), &ctx, "test")
        .unwrap();
    f.kms
        .decrypt_data_key(&generated.wrapped, &ctx, "test")
        .unwrap();
    f.kms
        .decrypt_data_key(&generated.wrapped, &ctx, "test")
        .unwrap();
    assert_eq!(
        f.ok("GetKeyUsage", json!({"KeyId": "alias/app"})).await,
        json!({"KeyId": id, "Usage": {"GenerateDataKey": 1, "Decrypt": 2}})
    );

    let meta = f.ok("DisableKey", json!({"KeyId": id})).await;
    assert_eq!(meta["KeyState"], "Disabled");
    f.err("RotateKey", json!({"KeyId": id}), 409, "KeyDisabled")
        .await;
    let meta = f.ok("EnableKey", json!({"KeyId": id})).await;
    assert_eq!(meta["KeyState"], "Enabled");
    let meta = f.ok("RotateKey", json!({"KeyId": id})).await;
    assert_eq!(
        (
            meta["PrimaryKeyVersion"].as_u64(),
            meta["Versions"].as_u64()
        ),
        (Some(2), Some(2))
    );

    f.err(
        "CancelKeyDeletion",
        json!({"KeyId": id}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err(
        "DeleteKeyNow",
        json!({"KeyId": id}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 3}),
        400,
        "InvalidParameter",
    )
    .await;
    let meta = f
        .ok(
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 7}),
        )
        .await;
    assert_eq!(meta["KeyState"], "PendingDeletion");
    assert!(meta["DeleteDate"].is_string());
    f.err("EnableKey", json!({"KeyId": id}), 409, "KeyPendingDeletion")
        .await;
    f.err(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
        409,
        "KeyPendingDeletion",
    )
    .await;
    let meta = f.ok("CancelKeyDeletion", json!({"KeyId": id})).await;
    assert_eq!(meta["KeyState"], "Disabled");
    assert!(meta.get("DeleteDate").is_none());

    f.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 30}),
    )
    .await;
    assert_eq!(f.ok("DeleteKeyNow", json!({"KeyId": id})).await, json!({}));
    for action in [
        "DescribeKey",
        "EnableKey",
        "DisableKey",
        "RotateKey",
        "CancelKeyDeletion",
        "DeleteKeyNow",
        "GetKeyUsage",
    ] {
        f.err(action, json!({"KeyId": id}), 404, "KeyDeleted").await;
    }
    f.err(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
        404,
        "KeyDeleted",
    )
    .await;
    f.err(
        "CreateAlias",
        json!({"AliasName": "alias/again", "KeyId": id}),
        404,
        "KeyDeleted",
    )
    .await;
    // The alias went with the key.
    f.err(
        "DescribeKey",
        json!({"KeyId": "alias/app"}),
        404,
        "AliasNotFound",
    )
    .await;
    assert_eq!(f.ok("ListKeys", json!({})).await, json!({"Keys": []}));
}

#[tokio::test]
async fn errors_map_to_codes_and_statuses() {
    let f = fixture();
    let missing = "0b8f4c4e-0000-4000-8000-000000000000";
    for action in [
        "DescribeKey",
        "EnableKey",
        "DisableKey",
        "RotateKey",
        "CancelKeyDeletion",
        "DeleteKeyNow",
        "GetKeyUsage",
    ] {
        f.err(action, json!({"KeyId": missing}), 404, "KeyNotFound")
            .await;
        f.err(action, json!({"KeyId": "alias/none"}), 404, "AliasNotFound")
            .await;
        f.err(
            action,
            json!({"KeyId": "not-a-key-id"}),
            400,
            "InvalidParameter",
        )
        .await;
        f.err(action, json!({}), 400, "InvalidParameter").await;
        f.err(action, json!({"KeyId": 5}), 400, "InvalidParameter")
            .await;
    }
    f.err(
        "ScheduleKeyDeletion",
        json!({"KeyId": missing, "PendingWindowInDays": 7}),
        404,
        "KeyNotFound",
    )
    .await;
    f.err(
        "ScheduleKeyDeletion",
        json!({"KeyId": missing}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err(
        "CreateAlias",
        json!({"AliasName": "alias/x", "KeyId": missing}),
        404,
        "KeyNotFound",
    )
    .await;
    f.err(
        "DeleteAlias",
        json!({"AliasName": "alias/none"}),
        404,
        "AliasNotFound",
    )
    .await;
    f.err(
        "DeleteAlias",
        json!({"AliasName": "no-prefix"}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err("ListKeys", json!({"Extra": 1}), 400, "InvalidParameter")
        .await;
    f.err(
        "CreateKey",
        json!({"Description": "x".repeat(9000)}),
        400,
        "InvalidParameter",
    )
    .await;

    let id = f.create().await;
    f.ok(
        "CreateAlias",
        json!({"AliasName": "alias/dup", "KeyId": id}),
    )
    .await;
    f.err(
        "CreateAlias",
        json!({"AliasName": "alias/dup", "KeyId": id}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err(
        "CreateAlias",
        json!({"AliasName": "alias/acs/mine", "KeyId": id}),
        400,
        "InvalidParameter",
    )
    .await;
    assert_eq!(
        f.ok("DeleteAlias", json!({"AliasName": "alias/dup"})).await,
        json!({})
    );

    f.err("Unknown", json!({}), 404, "InvalidAction").await;
    f.err("createkey", json!({}), 404, "InvalidAction").await;
    let (status, value) = send(
        &f.api,
        request_for("POST", "/admin/other", "/admin/other", b"{}", Sign::V4, SK),
    )
    .await;
    assert_code(status, &value, 404, "InvalidAction");

    let path = "/admin/kms/ListKeys";
    let (status, value) = send(
        &f.api,
        request_for("POST", path, path, b"{\"a\":", Sign::V4, SK),
    )
    .await;
    assert_code(status, &value, 400, "MalformedJSON");
    let (status, value) = send(&f.api, request_for("GET", path, path, b"", Sign::V4, SK)).await;
    assert_code(status, &value, 405, "MethodNotAllowed");
    // An empty body means no parameters.
    let (status, value) = send(&f.api, request_for("POST", path, path, b"", Sign::V4, SK)).await;
    assert_eq!(status, StatusCode::OK, "{value}");

    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let (status, value) = send(&f.api, request_for("POST", path, path, &big, Sign::V4, SK)).await;
    assert_code(status, &value, 413, "EntityTooLarge");
    let fits = vec![b' '; MAX_BODY_BYTES];
    let (status, value) = send(&f.api, request_for("POST", path, path, &fits, Sign::V4, SK)).await;
    assert_eq!(status, StatusCode::OK, "{value}");
}

/// Serves `api` on an ephemeral port; returns its address.
async fn serve(api: AdminApi) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let api = api.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let api = api.clone();
                    async move { Ok::<_, Infallible>(api.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_client_calls_a_real_server() {
    let f = fixture();
    let addr = serve(f.api.clone()).await;
    let client = AdminClient::new(&format!("http://{addr}"), AK, SK, REGION).unwrap();

    let meta = client
        .call("CreateKey", json!({"Description": "over http"}))
        .await
        .unwrap();
    let id = meta["KeyId"].as_str().unwrap().to_owned();
    let meta = client
        .call("DescribeKey", json!({"KeyId": id}))
        .await
        .unwrap();
    assert_eq!(meta["Description"], "over http");
    let keys = client.call("ListKeys", json!({})).await.unwrap();
    assert_eq!(keys["Keys"][0]["KeyId"], id.as_str());

    assert_eq!(
        client
            .call("DescribeKey", json!({"KeyId": "alias/none"}))
            .await,
        Err(AdminError::Api {
            status: 404,
            code: "AliasNotFound".into(),
            message: "the specified alias alias/none is not found".into(),
        })
    );
    let err = client.call("NoSuchAction", json!({})).await.unwrap_err();
    assert_eq!(err.code(), "InvalidAction");

    let wrong = AdminClient::new(&format!("http://{addr}/"), AK, "wrong", REGION).unwrap();
    let err = wrong.call("ListKeys", json!({})).await.unwrap_err();
    assert!(
        matches!(&err, AdminError::Api { status: 403, code, .. } if code == "SignatureDoesNotMatch"),
        "{err}"
    );
    let other_region = AdminClient::new(&format!("http://{addr}"), AK, SK, "cn-beijing").unwrap();
    let err = other_region.call("ListKeys", json!({})).await.unwrap_err();
    assert!(
        matches!(&err, AdminError::Api { status: 400, code, .. } if code == "InvalidArgument"),
        "{err}"
    );

    // Nothing listens here.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dead = AdminClient::new(&format!("http://{closed}"), AK, SK, REGION).unwrap();
    let err = dead.call("ListKeys", json!({})).await.unwrap_err();
    assert_eq!(err.code(), "ConnectionError", "{err}");
}
