//! The RAM actions of the admin API over HTTP: every action's result and errors, root-only
//! access, RAM users' keys on the KMS actions (with and without an authorizer), and a server
//! without an identity store.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use coffer_admin::{
    AdminApi, AdminClient, AdminError, BuiltinKeyAdmin, KmsActionAuthorizer, RAM_ACTIONS,
};
use coffer_api::identity::SecretKey;
use coffer_identity::{IdentityStore, RootAccessKey};
use coffer_kms::{Kms, KmsConfig, RootKey};
use serde_json::{Value, json};
use zeroize::Zeroizing;

const AK: &str = "LTAI5tAdminRamRootKey";
const SK: &str = "AdminRamRootSecret0123456789";
const REGION: &str = "cn-hangzhou";

const READ_ONLY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:photos/*"}]}"#;

/// The root AccessKey the servers under test know.
fn root_only() -> Arc<RootAccessKey> {
    Arc::new(RootAccessKey::new(AK.into(), SecretKey::new(SK.into())))
}

/// Records what it was asked and allows `kms:ListKeys` and `kms:DescribeKey` on `alias/ok`.
#[derive(Default)]
struct Recorder {
    asked: Mutex<Vec<(String, String, Option<String>)>>,
}

impl KmsActionAuthorizer for Recorder {
    fn allowed(&self, access_key_id: &str, action: &str, key_id: Option<&str>) -> bool {
        self.asked.lock().unwrap().push((
            access_key_id.to_owned(),
            action.to_owned(),
            key_id.map(str::to_owned),
        ));
        action == "kms:ListKeys" || (action == "kms:DescribeKey" && key_id == Some("alias/ok"))
    }
}

struct Fixture {
    endpoint: String,
    root: AdminClient,
    store: Arc<IdentityStore>,
    kms: Arc<Kms>,
    _dir: tempfile::TempDir,
}

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

/// `configure` gets the API with the store already attached.
async fn fixture_with(configure: impl FnOnce(AdminApi) -> AdminApi) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root_key = RootKey::from_bytes([7; 32]);
    let seal_key = root_key.derive_subkey(coffer_identity::SEAL_KEY_PURPOSE);
    let store = Arc::new(IdentityStore::open(dir.path(), seal_key).unwrap());
    let kms_dir = dir.path().join("kms");
    std::fs::create_dir(&kms_dir).unwrap();
    let kms = Arc::new(Kms::open(&kms_dir, root_key, KmsConfig::default()).unwrap());
    let api = configure(
        AdminApi::new(
            Arc::new(BuiltinKeyAdmin::new(kms.clone())),
            root_only(),
            REGION,
        )
        .with_identities(store.clone()),
    );
    let endpoint = format!("http://{}", serve(api).await);
    Fixture {
        root: AdminClient::new(&endpoint, AK, SK, REGION).unwrap(),
        endpoint,
        store,
        kms,
        _dir: dir,
    }
}

async fn fixture() -> Fixture {
    fixture_with(|api| api).await
}

impl Fixture {
    async fn ok(&self, action: &str, params: Value) -> Value {
        self.root
            .call_ram(action, params)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"))
    }

    async fn err(&self, action: &str, params: Value, status: u16, code: &str) -> String {
        let err = self.root.call_ram(action, params).await.unwrap_err();
        match &err {
            AdminError::Api {
                status: s,
                code: c,
                message,
            } if *s == status && c == code => {
                assert!(!message.is_empty());
                message.clone()
            }
            _ => panic!("{action}: expected {status} {code}, got {err:?}"),
        }
    }

    fn client(&self, id: &str, secret: &str) -> AdminClient {
        AdminClient::new(&self.endpoint, id, secret, REGION).unwrap()
    }

    /// A user `name` with one key; returns (id, secret).
    async fn user_with_key(&self, name: &str) -> (String, String) {
        self.ok("CreateUser", json!({"UserName": name})).await;
        let key = self.ok("CreateAccessKey", json!({"UserName": name})).await;
        (
            key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
            key["AccessKey"]["AccessKeySecret"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }
}

fn assert_api_err(result: Result<Value, AdminError>, status: u16, code: &str) {
    match &result {
        Err(AdminError::Api {
            status: s, code: c, ..
        }) if *s == status && c == code => {}
        _ => panic!("expected {status} {code}, got {result:?}"),
    }
}

#[tokio::test]
async fn users_through_every_user_action() {
    let f = fixture().await;
    let created = f
        .ok(
            "CreateUser",
            json!({"UserName": "alice", "DisplayName": "Alice"}),
        )
        .await;
    let user = &created["User"];
    assert_eq!(user["UserName"], "alice");
    assert_eq!(user["DisplayName"], "Alice");
    assert_eq!(user["UserId"].as_str().unwrap().len(), 16);
    assert!(user["CreateDate"].as_str().unwrap().ends_with('Z'));
    assert_eq!(f.ok("GetUser", json!({"UserName": "alice"})).await, created);
    f.ok("CreateUser", json!({"UserName": "bob"})).await;
    let users = f.ok("ListUsers", json!({})).await;
    let names: Vec<&str> = users["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    f.err(
        "CreateUser",
        json!({"UserName": "alice"}),
        409,
        "EntityAlreadyExists.User",
    )
    .await;
    f.err(
        "CreateUser",
        json!({"UserName": "not valid"}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err("CreateUser", json!({}), 400, "InvalidParameter")
        .await;
    f.err(
        "CreateUser",
        json!({"UserName": "x", "Extra": 1}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err(
        "GetUser",
        json!({"UserName": "nobody"}),
        404,
        "EntityNotExist.User",
    )
    .await;

    assert_eq!(
        f.ok("DeleteUser", json!({"UserName": "alice"})).await,
        json!({})
    );
    f.err(
        "DeleteUser",
        json!({"UserName": "alice"}),
        404,
        "EntityNotExist.User",
    )
    .await;
    assert_eq!(f.store.list_users().len(), 1);
}

#[tokio::test]
async fn access_keys_through_every_key_action() {
    let f = fixture().await;
    f.ok("CreateUser", json!({"UserName": "alice"})).await;
    let created = f.ok("CreateAccessKey", json!({"UserName": "alice"})).await;
    let key = &created["AccessKey"];
    let id = key["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = key["AccessKeySecret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("LTAI") && id.len() == 24, "{id}");
    assert_eq!(secret.len(), 30);
    assert_eq!(key["Status"], "Active");
    assert!(key["CreateDate"].is_string());

    // The secret is never shown again.
    let listed = f.ok("ListAccessKeys", json!({"UserName": "alice"})).await;
    assert_eq!(
        listed,
        json!({"AccessKeys": [{"AccessKeyId": id, "Status": "Active", "CreateDate": key["CreateDate"]}]})
    );
    assert!(!listed.to_string().contains(&secret));

    f.ok("CreateAccessKey", json!({"UserName": "alice"})).await;
    let msg = f
        .err(
            "CreateAccessKey",
            json!({"UserName": "alice"}),
            409,
            "LimitExceeded.AccessKey",
        )
        .await;
    assert!(msg.contains('2'), "{msg}");
    f.err(
        "CreateAccessKey",
        json!({"UserName": "nobody"}),
        404,
        "EntityNotExist.User",
    )
    .await;

    let update =
        |status: &str| json!({"UserName": "alice", "UserAccessKeyId": id, "Status": status});
    assert_eq!(f.ok("UpdateAccessKey", update("Inactive")).await, json!({}));
    let listed = f.ok("ListAccessKeys", json!({"UserName": "alice"})).await;
    let status = |listed: &Value| {
        listed["AccessKeys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["AccessKeyId"] == id.as_str())
            .unwrap()["Status"]
            .clone()
    };
    assert_eq!(status(&listed), "Inactive");
    assert!(f.store.lookup(&id).is_none());
    f.ok("UpdateAccessKey", update("Active")).await;
    assert!(f.store.lookup(&id).is_some());
    f.err(
        "UpdateAccessKey",
        update("Disabled"),
        400,
        "InvalidParameter",
    )
    .await;
    f.err(
        "UpdateAccessKey",
        json!({"UserName": "alice", "UserAccessKeyId": "LTAInope", "Status": "Active"}),
        404,
        "EntityNotExist.AccessKey",
    )
    .await;

    f.ok("CreateUser", json!({"UserName": "bob"})).await;
    f.err(
        "DeleteAccessKey",
        json!({"UserName": "bob", "UserAccessKeyId": id}),
        404,
        "EntityNotExist.AccessKey",
    )
    .await;
    assert_eq!(
        f.ok(
            "DeleteAccessKey",
            json!({"UserName": "alice", "UserAccessKeyId": id})
        )
        .await,
        json!({})
    );
    f.err(
        "DeleteAccessKey",
        json!({"UserName": "alice", "UserAccessKeyId": id}),
        404,
        "EntityNotExist.AccessKey",
    )
    .await;
    f.err(
        "ListAccessKeys",
        json!({"UserName": "nobody"}),
        404,
        "EntityNotExist.User",
    )
    .await;
}

#[tokio::test]
async fn policies_through_every_policy_action() {
    let f = fixture().await;
    f.ok("CreateUser", json!({"UserName": "alice"})).await;
    let created = f
        .ok(
            "CreatePolicy",
            json!({"PolicyName": "ReadPhotos", "PolicyDocument": READ_ONLY, "Description": "photos"}),
        )
        .await;
    let policy = &created["Policy"];
    assert_eq!(policy["PolicyName"], "ReadPhotos");
    assert_eq!(policy["PolicyType"], "Custom");
    assert_eq!(policy["Description"], "photos");
    assert_eq!(policy["AttachmentCount"], 0);

    let got = f.ok("GetPolicy", json!({"PolicyName": "ReadPhotos"})).await;
    assert_eq!(got["Policy"]["PolicyDocument"], READ_ONLY);
    let got = f
        .ok(
            "GetPolicy",
            json!({"PolicyName": "ReadPhotos", "PolicyType": "Custom"}),
        )
        .await;
    assert_eq!(got["Policy"]["PolicyName"], "ReadPhotos");
    let listed = f.ok("ListPolicies", json!({})).await;
    assert_eq!(listed["Policies"].as_array().unwrap().len(), 1);
    assert!(listed["Policies"][0].get("PolicyDocument").is_none());

    f.err(
        "CreatePolicy",
        json!({"PolicyName": "ReadPhotos", "PolicyDocument": READ_ONLY}),
        409,
        "EntityAlreadyExists.Policy",
    )
    .await;
    let msg = f
        .err(
            "CreatePolicy",
            json!({"PolicyName": "Bad", "PolicyDocument":
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*","Principal":"*"}]}"#}),
            400,
            "MalformedPolicyDocument",
        )
        .await;
    assert!(msg.contains("Principal"), "{msg}");
    let msg = f
        .err(
            "CreatePolicy",
            json!({"PolicyName": "Bad", "PolicyDocument":
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:NoSuchThing","Resource":"*"}]}"#}),
            400,
            "MalformedPolicyDocument",
        )
        .await;
    assert!(msg.contains("oss:NoSuchThing"), "{msg}");
    f.err(
        "CreatePolicy",
        json!({"PolicyName": "bad_name", "PolicyDocument": READ_ONLY}),
        400,
        "InvalidParameter",
    )
    .await;
    f.err(
        "GetPolicy",
        json!({"PolicyName": "Nope"}),
        404,
        "EntityNotExist.Policy",
    )
    .await;
    f.err(
        "GetPolicy",
        json!({"PolicyName": "ReadPhotos", "PolicyType": "System"}),
        400,
        "InvalidParameter",
    )
    .await;

    let attach = json!({"PolicyName": "ReadPhotos", "UserName": "alice"});
    assert_eq!(f.ok("AttachPolicyToUser", attach.clone()).await, json!({}));
    f.err(
        "AttachPolicyToUser",
        attach.clone(),
        409,
        "EntityAlreadyExists.User.Policy",
    )
    .await;
    f.err(
        "AttachPolicyToUser",
        json!({"PolicyName": "ReadPhotos", "UserName": "nobody"}),
        404,
        "EntityNotExist.User",
    )
    .await;
    let for_user = f
        .ok("ListPoliciesForUser", json!({"UserName": "alice"}))
        .await;
    let attached = for_user["Policies"].as_array().unwrap();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0]["PolicyName"], "ReadPhotos");
    assert_eq!(attached[0]["PolicyType"], "Custom");
    assert!(attached[0]["AttachDate"].is_string());
    assert_eq!(f.store.policies_of("alice").len(), 1);
    let got = f.ok("GetPolicy", json!({"PolicyName": "ReadPhotos"})).await;
    assert_eq!(got["Policy"]["AttachmentCount"], 1);

    let msg = f
        .err(
            "DeletePolicy",
            json!({"PolicyName": "ReadPhotos"}),
            409,
            "DeleteConflict.Policy.User",
        )
        .await;
    assert!(msg.contains("alice"), "{msg}");

    assert_eq!(
        f.ok("DetachPolicyFromUser", attach.clone()).await,
        json!({})
    );
    f.err(
        "DetachPolicyFromUser",
        attach,
        404,
        "EntityNotExist.User.Policy",
    )
    .await;
    assert_eq!(
        f.ok("ListPoliciesForUser", json!({"UserName": "alice"}))
            .await,
        json!({"Policies": []})
    );
    assert_eq!(
        f.ok("DeletePolicy", json!({"PolicyName": "ReadPhotos"}))
            .await,
        json!({})
    );
    f.err(
        "DeletePolicy",
        json!({"PolicyName": "ReadPhotos"}),
        404,
        "EntityNotExist.Policy",
    )
    .await;
    assert_eq!(
        f.ok("ListPolicies", json!({})).await,
        json!({"Policies": []})
    );
}

#[tokio::test]
async fn only_root_may_call_ram_actions() {
    let f = fixture().await;
    let (id, secret) = f.user_with_key("alice").await;
    // The policy would not matter: RAM actions are root's alone.
    f.ok(
        "CreatePolicy",
        json!({"PolicyName": "All", "PolicyDocument": r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#}),
    )
    .await;
    f.ok(
        "AttachPolicyToUser",
        json!({"PolicyName": "All", "UserName": "alice"}),
    )
    .await;

    let alice = f.client(&id, &secret);
    for action in RAM_ACTIONS {
        assert_api_err(alice.call_ram(action, json!({})).await, 403, "AccessDenied");
    }
    // Unknown RAM actions too: a RAM user learns nothing about them.
    assert_api_err(
        alice.call_ram("NoSuchAction", json!({})).await,
        403,
        "AccessDenied",
    );
    assert_api_err(
        alice
            .call_ram("CreateUser", json!({"UserName": "mallory"}))
            .await,
        403,
        "AccessDenied",
    );
    assert!(f.store.get_user("mallory").is_err());
    // Without an authorizer, no KMS action either.
    assert_api_err(alice.call("ListKeys", json!({})).await, 403, "AccessDenied");
    assert_api_err(
        alice.call("CreateKey", json!({})).await,
        403,
        "AccessDenied",
    );
    assert!(f.kms.list_keys().is_empty());

    // A wrong secret for the user's key fails the signature.
    let wrong = f.client(&id, "not-the-secret");
    assert_api_err(
        wrong.call_ram("ListUsers", json!({})).await,
        403,
        "SignatureDoesNotMatch",
    );
    // An Inactive key, then a deleted one, is unknown.
    f.ok(
        "UpdateAccessKey",
        json!({"UserName": "alice", "UserAccessKeyId": id, "Status": "Inactive"}),
    )
    .await;
    assert_api_err(
        alice.call("ListKeys", json!({})).await,
        403,
        "InvalidAccessKeyId",
    );
    f.ok("DeleteUser", json!({"UserName": "alice"})).await;
    assert_api_err(
        alice.call("ListKeys", json!({})).await,
        403,
        "InvalidAccessKeyId",
    );
    // Root is unaffected.
    f.ok("ListUsers", json!({})).await;
    f.root.call("ListKeys", json!({})).await.unwrap();
}

#[tokio::test]
async fn the_authorizer_decides_kms_actions_for_users() {
    let recorder = Arc::new(Recorder::default());
    let f = {
        let recorder = recorder.clone();
        fixture_with(move |api| api.with_kms_authorizer(recorder)).await
    };
    let meta = f.root.call("CreateKey", json!({})).await.unwrap();
    let key_id = meta["KeyId"].as_str().unwrap().to_owned();
    f.root
        .call(
            "CreateAlias",
            json!({"AliasName": "alias/ok", "KeyId": key_id}),
        )
        .await
        .unwrap();
    // Root never asks the authorizer.
    assert!(recorder.asked.lock().unwrap().is_empty());

    let (id, secret) = f.user_with_key("alice").await;
    let alice = f.client(&id, &secret);
    let keys = alice.call("ListKeys", json!({})).await.unwrap();
    assert_eq!(keys["Keys"][0]["KeyId"], key_id.as_str());
    let meta = alice
        .call("DescribeKey", json!({"KeyId": "alias/ok"}))
        .await
        .unwrap();
    assert_eq!(meta["KeyId"], key_id.as_str());
    assert_api_err(
        alice.call("DescribeKey", json!({"KeyId": key_id})).await,
        403,
        "AccessDenied",
    );
    assert_api_err(
        alice.call("DisableKey", json!({"KeyId": "alias/ok"})).await,
        403,
        "AccessDenied",
    );
    assert_api_err(
        alice
            .call("DeleteAlias", json!({"AliasName": "alias/ok"}))
            .await,
        403,
        "AccessDenied",
    );
    assert_api_err(
        alice.call("CreateKey", json!({})).await,
        403,
        "AccessDenied",
    );
    assert_eq!(f.kms.list_keys().len(), 1);
    assert_eq!(
        f.kms.describe_key(&key_id).unwrap().state.as_str(),
        "Enabled"
    );
    // RAM actions stay root-only whatever the authorizer says.
    assert_api_err(
        alice.call_ram("ListUsers", json!({})).await,
        403,
        "AccessDenied",
    );

    let asked = recorder.asked.lock().unwrap().clone();
    let expected: Vec<(String, String, Option<String>)> = [
        ("kms:ListKeys", None),
        ("kms:DescribeKey", Some("alias/ok")),
        ("kms:DescribeKey", Some(key_id.as_str())),
        ("kms:DisableKey", Some("alias/ok")),
        ("kms:DeleteAlias", Some("alias/ok")),
        ("kms:CreateKey", None),
    ]
    .into_iter()
    .map(|(a, k)| (id.clone(), a.to_owned(), k.map(str::to_owned)))
    .collect();
    assert_eq!(asked, expected);
}

#[tokio::test]
async fn without_an_identity_store_there_are_no_ram_actions() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(
        Kms::open(
            dir.path(),
            RootKey::from_bytes([7; 32]),
            KmsConfig::default(),
        )
        .unwrap(),
    );
    let api = AdminApi::new(Arc::new(BuiltinKeyAdmin::new(kms)), root_only(), REGION);
    let endpoint = format!("http://{}", serve(api).await);
    let root = AdminClient::new(&endpoint, AK, SK, REGION).unwrap();
    assert_api_err(
        root.call_ram("ListUsers", json!({})).await,
        404,
        "InvalidAction",
    );
    root.call("ListKeys", json!({})).await.unwrap();

    // And a store on disk is not consulted: its keys are unknown here.
    let store = IdentityStore::open(&dir.path().join("ids"), Zeroizing::new([1; 32])).unwrap();
    store.create_user("alice", None).unwrap();
    let (info, secret) = store.create_access_key("alice").unwrap();
    let alice = AdminClient::new(&endpoint, info.access_key_id, secret.as_str(), REGION).unwrap();
    assert_api_err(
        alice.call("ListKeys", json!({})).await,
        403,
        "InvalidAccessKeyId",
    );
}

#[tokio::test]
async fn ram_requests_follow_the_body_rules() {
    let f = fixture().await;
    f.err("NoSuchAction", json!({}), 404, "InvalidAction").await;
    f.err("createuser", json!({}), 404, "InvalidAction").await;
    f.err("ListUsers", json!([]), 400, "InvalidParameter").await;
    f.err(
        "CreatePolicy",
        json!({"PolicyName": "P", "PolicyDocument": {"Version": "1"}}),
        400,
        "InvalidParameter",
    )
    .await;
    // The API and the store share one state.
    f.ok("CreateUser", json!({"UserName": "kept"})).await;
    assert_eq!(f.store.get_user("kept").unwrap().user_name, "kept");
}
