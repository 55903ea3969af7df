//! Bucket policies and their combination with RAM policies: principals, the owner rule,
//! deny-wins across policies, cross-account, SSE conditions.

use coffer_iam::{
    Decision, Policy, PolicyKind, PrincipalRef, RequestContext, combine, keys, kms_resource,
    oss_resource, oss_resource_in, parse_policy,
};
use time::macros::datetime;

const OWNER: &str = "1000";
const OTHER: &str = "2000";
const ROOT: PrincipalRef<'static> = PrincipalRef::Root { account: OWNER };
const OTHER_ROOT: PrincipalRef<'static> = PrincipalRef::Root { account: OTHER };
const ALICE: PrincipalRef<'static> = PrincipalRef::User {
    account: OWNER,
    id: "u-1",
    name: "alice",
};
const BOB_ELSEWHERE: PrincipalRef<'static> = PrincipalRef::User {
    account: OTHER,
    id: "u-9",
    name: "bob",
};
const ANON: PrincipalRef<'static> = PrincipalRef::Anonymous;

fn bucket_policy(statements: &str) -> Policy {
    parse_policy(
        &format!(r#"{{"Version":"1","Statement":[{statements}]}}"#),
        &PolicyKind::Bucket { bucket: "b".into() },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn ram(statements: &str) -> Policy {
    parse_policy(
        &format!(r#"{{"Version":"1","Statement":[{statements}]}}"#),
        &PolicyKind::Identity,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn ctx(principal: PrincipalRef<'static>) -> RequestContext<'static> {
    let mut c = RequestContext::new(principal, datetime!(2024-06-01 12:00:00 UTC));
    c.resource_owner = Some(OWNER);
    c
}

fn obj(key: &str) -> String {
    oss_resource(Some("b"), Some(key))
}

fn decide(
    identity: &[&Policy],
    bucket: Option<&Policy>,
    action: &str,
    resource: &str,
    c: &RequestContext,
) -> Decision {
    combine(identity, bucket, action, resource, c)
}

#[test]
fn root_owner_is_allowed_without_policies_other_roots_are_not() {
    assert_eq!(
        decide(
            &[],
            None,
            "oss:DeleteBucket",
            &oss_resource(Some("b"), None),
            &ctx(ROOT)
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(&[], None, "oss:GetObject", &obj("k"), &ctx(OTHER_ROOT)),
        Decision::NotApplicable
    );
    assert_eq!(
        decide(&[], None, "oss:GetObject", &obj("k"), &ctx(ANON)),
        Decision::NotApplicable
    );
    // Service level and KMS: no owner stated means the caller's own account.
    let mut c = ctx(ROOT);
    c.resource_owner = None;
    assert_eq!(
        decide(&[], None, "oss:ListBuckets", &oss_resource(None, None), &c),
        Decision::Allow
    );
    assert_eq!(
        decide(&[], None, "kms:Decrypt", &kms_resource("k"), &c),
        Decision::Allow
    );
}

#[test]
fn principal_star_without_condition_skips_the_owner() {
    let deny_all = bucket_policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"oss:*","Resource":"acs:oss:*:*:b/*"}"#,
    );
    assert_eq!(
        deny_all.evaluate("oss:GetObject", &obj("k"), &ctx(ROOT)),
        Decision::NotApplicable
    );
    assert_eq!(
        decide(&[], Some(&deny_all), "oss:GetObject", &obj("k"), &ctx(ROOT)),
        Decision::Allow
    );
    for who in [ALICE, BOB_ELSEWHERE, OTHER_ROOT, ANON] {
        assert_eq!(
            decide(&[], Some(&deny_all), "oss:GetObject", &obj("k"), &ctx(who)),
            Decision::Deny,
            "{who:?}"
        );
    }
    // `[]` and `["*"]` are the same as "*".
    for principal in ["[]", r#"["*"]"#, r#"["u-1","*"]"#] {
        let p = bucket_policy(&format!(
            r#"{{"Effect":"Deny","Principal":{principal},"Action":"oss:*","Resource":"acs:oss:*:*:b/*"}}"#
        ));
        assert_eq!(
            p.evaluate("oss:GetObject", &obj("k"), &ctx(ROOT)),
            Decision::NotApplicable,
            "{principal}"
        );
        assert_eq!(
            p.evaluate("oss:GetObject", &obj("k"), &ctx(ANON)),
            Decision::Deny,
            "{principal}"
        );
    }
}

#[test]
fn statement_without_principal_is_for_everyone() {
    // As on OSS: no `Principal` is the same as `"*"`, owner rule included.
    let read = bucket_policy(
        r#"{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:b/*"}"#,
    );
    for who in [ANON, OTHER_ROOT, BOB_ELSEWHERE, ALICE] {
        assert_eq!(
            decide(&[], Some(&read), "oss:GetObject", &obj("k"), &ctx(who)),
            Decision::Allow,
            "{who:?}"
        );
    }
    let deny = bucket_policy(r#"{"Effect":"Deny","Action":"oss:*","Resource":"acs:oss:*:*:b/*"}"#);
    assert_eq!(
        decide(&[], Some(&deny), "oss:GetObject", &obj("k"), &ctx(ROOT)),
        Decision::Allow
    );
    assert_eq!(
        decide(&[], Some(&deny), "oss:GetObject", &obj("k"), &ctx(ALICE)),
        Decision::Deny
    );
    let conditional = bucket_policy(
        r#"{"Effect":"Deny","Action":"oss:*","Resource":"acs:oss:*:*:b/*",
            "Condition":{"Bool":{"acs:SecureTransport":"false"}}}"#,
    );
    assert_eq!(
        decide(
            &[],
            Some(&conditional),
            "oss:GetObject",
            &obj("k"),
            &ctx(ROOT)
        ),
        Decision::Deny
    );
}

#[test]
fn resource_account_must_be_the_owner_or_star() {
    // The server names resources with the bucket owner's account id.
    let owned = |key: &str| oss_resource_in(OWNER, Some("b"), Some(key));
    for (resource, applies) in [
        ("acs:oss:*:*:b/*", true),
        ("acs:oss:*:1000:b/*", true),
        ("acs:oss:*:2000:b/*", false),
    ] {
        let p = bucket_policy(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"oss:GetObject","Resource":"{resource}"}}"#
        ));
        let want = if applies {
            Decision::Allow
        } else {
            Decision::NotApplicable
        };
        assert_eq!(
            decide(&[], Some(&p), "oss:GetObject", &owned("k"), &ctx(ANON)),
            want,
            "{resource}"
        );
        let r = ram(&format!(
            r#"{{"Effect":"Allow","Action":"oss:ListObjects","Resource":"{}"}}"#,
            resource.trim_end_matches("/*")
        ));
        assert_eq!(
            decide(
                &[&r],
                None,
                "oss:ListObjects",
                &oss_resource_in(OWNER, Some("b"), None),
                &ctx(ALICE)
            ),
            want,
            "{resource}"
        );
    }
}

#[test]
fn principal_star_with_condition_applies_to_the_owner_too() {
    let p = bucket_policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"oss:*","Resource":["acs:oss:*:*:b","acs:oss:*:*:b/*"],
            "Condition":{"Bool":{"acs:SecureTransport":"false"}}}"#,
    );
    let mut c = ctx(ROOT);
    assert_eq!(
        decide(&[], Some(&p), "oss:GetObject", &obj("k"), &c),
        Decision::Deny
    );
    c.secure_transport = true;
    assert_eq!(
        decide(&[], Some(&p), "oss:GetObject", &obj("k"), &c),
        Decision::Allow
    );
    let c = ctx(ANON);
    assert_eq!(
        decide(&[], Some(&p), "oss:GetObject", &obj("k"), &c),
        Decision::Deny
    );
}

#[test]
fn public_read_through_bucket_policy() {
    let p = bucket_policy(
        r#"{"Effect":"Allow","Principal":["*"],"Action":"oss:GetObject","Resource":"acs:oss:*:*:b/public/*"}"#,
    );
    for who in [ANON, OTHER_ROOT, BOB_ELSEWHERE, ALICE] {
        assert_eq!(
            decide(&[], Some(&p), "oss:GetObject", &obj("public/a"), &ctx(who)),
            Decision::Allow,
            "{who:?}"
        );
        assert_eq!(
            decide(&[], Some(&p), "oss:GetObject", &obj("private/a"), &ctx(who)),
            Decision::NotApplicable,
            "{who:?}"
        );
        assert_eq!(
            decide(&[], Some(&p), "oss:PutObject", &obj("public/a"), &ctx(who)),
            Decision::NotApplicable,
            "{who:?}"
        );
    }
}

#[test]
fn named_principals() {
    let p = bucket_policy(
        r#"{"Effect":"Allow","Principal":["2000","alice","u-9"],"Action":["oss:GetObject","oss:ListObjects"],
            "Resource":["acs:oss:*:*:b","acs:oss:*:*:b/*"]}"#,
    );
    let get = |who| p.evaluate("oss:GetObject", &obj("k"), &ctx(who));
    assert_eq!(
        get(OTHER_ROOT),
        Decision::Allow,
        "account id matches its root"
    );
    assert_eq!(get(ALICE), Decision::Allow, "user name");
    assert_eq!(get(BOB_ELSEWHERE), Decision::Allow, "user id");
    assert_eq!(get(ANON), Decision::NotApplicable);
    assert_eq!(get(ROOT), Decision::NotApplicable);
    // An account id does not match that account's RAM users.
    let q = bucket_policy(
        r#"{"Effect":"Allow","Principal":"2000","Action":"oss:GetObject","Resource":"acs:oss:*:*:b/*"}"#,
    );
    assert_eq!(
        q.evaluate("oss:GetObject", &obj("k"), &ctx(BOB_ELSEWHERE)),
        Decision::NotApplicable
    );
    assert_eq!(
        q.evaluate("oss:GetObject", &obj("k"), &ctx(OTHER_ROOT)),
        Decision::Allow
    );
}

#[test]
fn bucket_policy_never_reaches_outside_its_bucket() {
    let p = bucket_policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"*","NotResource":"acs:oss:*:*:b/keep/*"}"#,
    );
    let c = ctx(ALICE);
    assert_eq!(
        p.evaluate("oss:GetObject", &obj("other"), &c),
        Decision::Deny
    );
    assert_eq!(
        p.evaluate("oss:GetObject", &obj("keep/x"), &c),
        Decision::NotApplicable
    );
    assert_eq!(
        p.evaluate("oss:GetObject", &oss_resource(Some("c"), Some("x")), &c),
        Decision::NotApplicable
    );
    assert_eq!(
        p.evaluate("oss:ListBuckets", &oss_resource(None, None), &c),
        Decision::NotApplicable
    );
    assert_eq!(
        p.evaluate("kms:Decrypt", &kms_resource("b"), &c),
        Decision::NotApplicable
    );
    assert_eq!(
        p.evaluate("oss:GetObject", "acs:oss:*:*:bb/x", &c),
        Decision::NotApplicable
    );
}

#[test]
fn ram_policies_and_deny_wins_across_policies() {
    let ram_allow = ram(
        r#"{"Effect":"Allow","Action":["oss:GetObject","oss:PutObject"],"Resource":"acs:oss:*:*:b/*"}"#,
    );
    let ram_deny = ram(r#"{"Effect":"Deny","Action":"oss:PutObject","Resource":"*"}"#);
    let bucket_allow = bucket_policy(
        r#"{"Effect":"Allow","Principal":"u-1","Action":"oss:*","Resource":"acs:oss:*:*:b/*"}"#,
    );
    let bucket_deny = bucket_policy(
        r#"{"Effect":"Deny","Principal":"alice","Action":"oss:GetObject","Resource":"acs:oss:*:*:b/*"}"#,
    );
    let c = ctx(ALICE);
    assert_eq!(
        decide(&[&ram_allow], None, "oss:GetObject", &obj("k"), &c),
        Decision::Allow
    );
    assert_eq!(
        decide(&[&ram_allow], None, "oss:DeleteObject", &obj("k"), &c),
        Decision::NotApplicable
    );
    assert_eq!(
        decide(
            &[&ram_allow, &ram_deny],
            None,
            "oss:PutObject",
            &obj("k"),
            &c
        ),
        Decision::Deny
    );
    assert_eq!(
        decide(
            &[&ram_deny, &ram_allow],
            None,
            "oss:PutObject",
            &obj("k"),
            &c
        ),
        Decision::Deny
    );
    assert_eq!(
        decide(&[], Some(&bucket_allow), "oss:DeleteObject", &obj("k"), &c),
        Decision::Allow
    );
    assert_eq!(
        decide(
            &[&ram_deny],
            Some(&bucket_allow),
            "oss:PutObject",
            &obj("k"),
            &c
        ),
        Decision::Deny
    );
    assert_eq!(
        decide(
            &[&ram_allow],
            Some(&bucket_deny),
            "oss:GetObject",
            &obj("k"),
            &c
        ),
        Decision::Deny
    );
    assert_eq!(
        decide(&[], None, "oss:GetObject", &obj("k"), &c),
        Decision::NotApplicable
    );
}

#[test]
fn ram_allow_does_not_cross_accounts() {
    let ram_allow = ram(r#"{"Effect":"Allow","Action":"oss:*","Resource":"*"}"#);
    let ram_deny = ram(r#"{"Effect":"Deny","Action":"oss:DeleteObject","Resource":"*"}"#);
    let c = ctx(BOB_ELSEWHERE);
    assert_eq!(
        decide(&[&ram_allow], None, "oss:GetObject", &obj("k"), &c),
        Decision::NotApplicable
    );
    // The owner's bucket policy can grant it …
    let grant = bucket_policy(
        r#"{"Effect":"Allow","Principal":"u-9","Action":"oss:*","Resource":"acs:oss:*:*:b/*"}"#,
    );
    assert_eq!(
        decide(&[&ram_allow], Some(&grant), "oss:GetObject", &obj("k"), &c),
        Decision::Allow
    );
    // … and the caller's own account can still deny it.
    assert_eq!(
        decide(
            &[&ram_deny],
            Some(&grant),
            "oss:DeleteObject",
            &obj("k"),
            &c
        ),
        Decision::Deny
    );
}

#[test]
fn listing_with_prefix_condition() {
    let p = bucket_policy(
        r#"{"Effect":"Allow","Principal":["2000"],"Action":["oss:GetObject","oss:ListObjects"],
            "Resource":["acs:oss:*:1000:b/*","acs:oss:*:1000:b"],
            "Condition":{"StringLike":{"oss:Prefix":["hangzhou/2020/*"]}}}"#,
    );
    let mut c = ctx(OTHER_ROOT);
    let vals = [(keys::PREFIX, "hangzhou/2020/07/".to_owned())];
    c.values = &vals;
    assert_eq!(
        decide(
            &[],
            Some(&p),
            "oss:ListObjects",
            &oss_resource(Some("b"), None),
            &c
        ),
        Decision::Allow
    );
    let vals = [(keys::PREFIX, "beijing/".to_owned())];
    c.values = &vals;
    assert_eq!(
        decide(
            &[],
            Some(&p),
            "oss:ListObjects",
            &oss_resource(Some("b"), None),
            &c
        ),
        Decision::NotApplicable
    );
}

#[test]
fn deny_unencrypted_uploads() {
    // "Deny PutObject unless the request asks for SSE": StringNotEquals holds when the header
    // is absent, so the Deny applies to plain uploads.
    let p = bucket_policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"oss:PutObject","Resource":"acs:oss:*:*:b/*",
            "Condition":{"StringNotEquals":{"oss:x-oss-server-side-encryption":["AES256","KMS","SM4"]}}}"#,
    );
    let put = |vals: &[(&str, String)], who| {
        let mut c = ctx(who);
        c.values = vals;
        decide(&[], Some(&p), "oss:PutObject", &obj("k"), &c)
    };
    for who in [ROOT, ALICE, ANON] {
        assert_eq!(put(&[], who), Decision::Deny, "{who:?}: no header");
        assert_eq!(
            put(&[(keys::SSE, "aes256".to_owned())], who),
            Decision::Deny,
            "{who:?}: case matters"
        );
    }
    assert_eq!(put(&[(keys::SSE, "KMS".to_owned())], ROOT), Decision::Allow);
    assert_eq!(
        put(&[(keys::SSE, "AES256".to_owned())], ALICE),
        Decision::NotApplicable
    );
    assert_eq!(
        put(&[(keys::SSE, "SM4".to_owned())], ANON),
        Decision::NotApplicable
    );
    // Reads are untouched.
    assert_eq!(
        decide(&[], Some(&p), "oss:GetObject", &obj("k"), &ctx(ALICE)),
        Decision::NotApplicable
    );
}

#[test]
fn deny_uploads_not_under_a_given_cmk() {
    let cmk = "9468da86-3509-4f8d-a61e-6eab1eac0001";
    // The key id is sent only with `KMS`, so one negated condition covers "no SSE", "SSE-OSS",
    // "KMS under the default CMK" and "KMS under another CMK".
    let p = bucket_policy(&format!(
        r#"{{"Effect":"Deny","Principal":"*","Action":"oss:PutObject","Resource":"acs:oss:*:*:b/*",
            "Condition":{{"StringNotEquals":{{"oss:x-oss-server-side-encryption-key-id":"{cmk}"}}}}}}"#
    ));
    let put = |vals: Vec<(&str, String)>| {
        let mut c = ctx(ALICE);
        c.values = &vals;
        decide(&[], Some(&p), "oss:PutObject", &obj("k"), &c)
    };
    assert_eq!(put(vec![]), Decision::Deny, "no SSE");
    assert_eq!(
        put(vec![(keys::SSE, "AES256".into())]),
        Decision::Deny,
        "SSE-OSS"
    );
    assert_eq!(
        put(vec![(keys::SSE, "KMS".into())]),
        Decision::Deny,
        "default CMK"
    );
    assert_eq!(
        put(vec![
            (keys::SSE, "KMS".into()),
            (keys::SSE_KEY_ID, "other".into())
        ]),
        Decision::Deny
    );
    assert_eq!(
        put(vec![
            (keys::SSE, "KMS".into()),
            (keys::SSE_KEY_ID, cmk.into())
        ]),
        Decision::NotApplicable
    );
}

#[test]
fn require_sm4_data_encryption() {
    let p = ram(
        r#"{"Effect":"Allow","Action":"oss:PutObject","Resource":"acs:oss:*:*:b/*",
            "Condition":{"StringEquals":{"oss:x-oss-server-side-encryption":"KMS","oss:x-oss-server-side-data-encryption":"SM4"}}}"#,
    );
    let mut c = ctx(ALICE);
    let vals = [
        (keys::SSE, "KMS".to_owned()),
        (keys::SSE_DATA, "SM4".to_owned()),
    ];
    c.values = &vals;
    assert_eq!(
        decide(&[&p], None, "oss:PutObject", &obj("k"), &c),
        Decision::Allow
    );
    let vals = [(keys::SSE, "KMS".to_owned())];
    c.values = &vals;
    assert_eq!(
        decide(&[&p], None, "oss:PutObject", &obj("k"), &c),
        Decision::NotApplicable
    );
}

#[test]
fn kms_permissions_for_sse_kms() {
    let p = ram(
        r#"{"Effect":"Allow","Action":["oss:PutObject","oss:GetObject"],"Resource":["acs:oss:*:*:b/*"]},
           {"Effect":"Allow","Action":["kms:List*","kms:DescribeKey","kms:GenerateDataKey","kms:Decrypt"],
            "Resource":["acs:kms:*:1000:*"]}"#,
    );
    let mut c = ctx(ALICE);
    c.resource_owner = None;
    for action in [
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "kms:ListKeys",
        "kms:ListAliasesByKeyId",
        "kms:DescribeKey",
    ] {
        assert_eq!(
            decide(&[&p], None, action, &kms_resource("k1"), &c),
            Decision::Allow,
            "{action}"
        );
    }
    assert_eq!(
        decide(
            &[&p],
            None,
            "kms:ScheduleKeyDeletion",
            &kms_resource("k1"),
            &c
        ),
        Decision::NotApplicable
    );
}
