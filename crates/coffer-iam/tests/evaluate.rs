//! Evaluating one RAM policy: actions, resources, Not*, deny-wins, and every condition operator.

use std::net::IpAddr;

use coffer_iam::{
    Decision, Policy, PolicyKind, PrincipalRef, RequestContext, kms_alias_resource, kms_resource,
    oss_resource, parse_policy,
};
use time::macros::datetime;

const USER: PrincipalRef<'static> = PrincipalRef::User {
    account: "100",
    id: "200",
    name: "alice",
};

fn ram(statements: &str) -> Policy {
    parse_policy(
        &format!(r#"{{"Version":"1","Statement":[{statements}]}}"#),
        &PolicyKind::Identity,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn ctx() -> RequestContext<'static> {
    RequestContext::new(USER, datetime!(2024-06-01 12:00:00 UTC))
}

fn obj(key: &str) -> String {
    oss_resource(Some("b"), Some(key))
}

/// A policy allowing everything under one condition.
fn allow_if(condition: &str) -> Policy {
    ram(&format!(
        r#"{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}}}"#
    ))
}

fn allowed(p: &Policy, ctx: &RequestContext<'_>) -> bool {
    match p.evaluate("oss:GetObject", &obj("k"), ctx) {
        Decision::Allow => true,
        Decision::NotApplicable => false,
        Decision::Deny => panic!("unexpected Deny"),
    }
}

#[test]
fn actions_match_case_insensitively_with_wildcards() {
    let p = ram(
        r#"{"Effect":"Allow","Action":["oss:Get*","OSS:putobject","oss:List?bjects"],"Resource":"*"}"#,
    );
    let c = ctx();
    for a in [
        "oss:GetObject",
        "oss:getobjectacl",
        "OSS:GETBUCKETINFO",
        "oss:PutObject",
        "oss:ListObjects",
    ] {
        assert_eq!(p.evaluate(a, &obj("k"), &c), Decision::Allow, "{a}");
    }
    for a in [
        "oss:DeleteObject",
        "oss:PutObjectAcl",
        "oss:ListObjectVersions",
        "kms:GetObject",
        "GetObject",
    ] {
        assert_eq!(p.evaluate(a, &obj("k"), &c), Decision::NotApplicable, "{a}");
    }
    let all = ram(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
    assert_eq!(
        all.evaluate("kms:Decrypt", &kms_resource("k1"), &c),
        Decision::Allow
    );
}

#[test]
fn resources_match_case_sensitively_with_wildcards() {
    let p = ram(
        r#"{"Effect":"Allow","Action":"oss:*","Resource":["acs:oss:*:*:b/photos/*.jpg","acs:oss:*:*:b/doc-?","acs:oss:*:*:b"]}"#,
    );
    let c = ctx();
    let ok = |r: &str| p.evaluate("oss:GetObject", r, &c) == Decision::Allow;
    assert!(ok(&obj("photos/2020/cat.jpg")));
    assert!(ok(&obj("photos/.jpg")));
    assert!(!ok(&obj("photos/cat.JPG")));
    assert!(!ok(&obj("Photos/cat.jpg")));
    assert!(ok(&obj("doc-1")));
    assert!(!ok(&obj("doc-12")));
    assert!(ok(&oss_resource(Some("b"), None)));
    assert!(!ok(&oss_resource(Some("c"), None)));
    assert!(!ok(&oss_resource(None, None)));
    // Object keys may hold ':' and wildcard characters; they are plain text on the request side.
    assert!(ok(&obj("photos/a:b*?.jpg")));
}

#[test]
fn service_level_and_kms_resources() {
    let p = ram(
        r#"{"Effect":"Allow","Action":"oss:ListBuckets","Resource":"acs:oss:*:*:*"},
           {"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"acs:kms:*:*:key/k-1"},
           {"Effect":"Allow","Action":"kms:DescribeKey","Resource":"acs:kms:*:*:alias/*"}"#,
    );
    let c = ctx();
    assert_eq!(
        p.evaluate("oss:ListBuckets", &oss_resource(None, None), &c),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate("kms:Decrypt", &kms_resource("k-1"), &c),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate("kms:Decrypt", &kms_resource("k-2"), &c),
        Decision::NotApplicable
    );
    assert_eq!(
        p.evaluate("kms:DescribeKey", &kms_alias_resource("alias/acs/oss"), &c),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate("kms:DescribeKey", &kms_resource("k-1"), &c),
        Decision::NotApplicable
    );
}

#[test]
fn account_field() {
    let p = ram(r#"{"Effect":"Allow","Action":"oss:*","Resource":"acs:oss:*:100:b/*"}"#);
    let c = ctx();
    assert_eq!(
        p.evaluate("oss:GetObject", "acs:oss:*:*:b/k", &c),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate("oss:GetObject", "acs:oss:*:100:b/k", &c),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate("oss:GetObject", "acs:oss:*:999:b/k", &c),
        Decision::NotApplicable
    );
}

#[test]
fn deny_wins_whatever_the_order() {
    let c = ctx();
    for p in [
        ram(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"oss:DeleteObject","Resource":"*"}"#,
        ),
        ram(
            r#"{"Effect":"Deny","Action":"oss:DeleteObject","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}"#,
        ),
    ] {
        assert_eq!(
            p.evaluate("oss:DeleteObject", &obj("k"), &c),
            Decision::Deny
        );
        assert_eq!(p.evaluate("oss:GetObject", &obj("k"), &c), Decision::Allow);
    }
}

#[test]
fn not_action_and_not_resource() {
    let c = ctx();
    let p = ram(r#"{"Effect":"Allow","NotAction":["oss:Delete*","kms:*"],"Resource":"*"}"#);
    assert_eq!(p.evaluate("oss:GetObject", &obj("k"), &c), Decision::Allow);
    assert_eq!(
        p.evaluate("oss:DeleteObject", &obj("k"), &c),
        Decision::NotApplicable
    );
    assert_eq!(
        p.evaluate("kms:Decrypt", &kms_resource("x"), &c),
        Decision::NotApplicable
    );

    let p = ram(r#"{"Effect":"Allow","Action":"oss:*","Resource":"*"},
           {"Effect":"Deny","Action":"oss:*","NotResource":["acs:oss:*:*:b","acs:oss:*:*:b/public/*"]}"#);
    assert_eq!(
        p.evaluate("oss:GetObject", &obj("public/x"), &c),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate("oss:ListObjects", &oss_resource(Some("b"), None), &c),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate("oss:GetObject", &obj("private/x"), &c),
        Decision::Deny
    );
    assert_eq!(
        p.evaluate("oss:GetObject", &oss_resource(Some("c"), Some("x")), &c),
        Decision::Deny
    );
}

#[test]
fn multiple_values_or_multiple_keys_and() {
    let p = allow_if(r#"{"StringEquals":{"acs:UserAgent":["a","b"],"acs:AccessId":"AK1"}}"#);
    let mut c = ctx();
    c.access_key_id = Some("AK1");
    for (ua, want) in [
        (Some("a"), true),
        (Some("b"), true),
        (Some("c"), false),
        (None, false),
    ] {
        c.user_agent = ua;
        assert_eq!(allowed(&p, &c), want, "{ua:?}");
    }
    c.user_agent = Some("a");
    c.access_key_id = Some("AK2");
    assert!(!allowed(&p, &c));

    // Two operators: both must hold.
    let p = allow_if(
        r#"{"StringLike":{"acs:UserAgent":"aliyun-sdk-*"},"Bool":{"acs:SecureTransport":"true"}}"#,
    );
    let mut c = ctx();
    c.user_agent = Some("aliyun-sdk-python/2.18");
    assert!(!allowed(&p, &c));
    c.secure_transport = true;
    assert!(allowed(&p, &c));
}

#[test]
fn string_operators() {
    let mut c = ctx();
    let check =
        |cond: &str, ua: Option<&'static str>, want: bool, c: &mut RequestContext<'static>| {
            c.user_agent = ua;
            assert_eq!(allowed(&allow_if(cond), c), want, "{cond} with {ua:?}");
        };
    let eq = r#"{"StringEquals":{"acs:UserAgent":["Curl","wget"]}}"#;
    check(eq, Some("Curl"), true, &mut c);
    check(eq, Some("curl"), false, &mut c);
    check(eq, None, false, &mut c);
    let ne = r#"{"StringNotEquals":{"acs:UserAgent":["Curl","wget"]}}"#;
    check(ne, Some("Curl"), false, &mut c);
    check(ne, Some("wget"), false, &mut c);
    check(ne, Some("curl"), true, &mut c);
    check(ne, None, true, &mut c);
    let eqi = r#"{"StringEqualsIgnoreCase":{"acs:UserAgent":"CURL"}}"#;
    check(eqi, Some("curl"), true, &mut c);
    check(eqi, Some("cUrL"), true, &mut c);
    check(eqi, Some("curl2"), false, &mut c);
    check(eqi, None, false, &mut c);
    let nei = r#"{"StringNotEqualsIgnoreCase":{"acs:UserAgent":"CURL"}}"#;
    check(nei, Some("curl"), false, &mut c);
    check(nei, Some("wget"), true, &mut c);
    check(nei, None, true, &mut c);
    let like = r#"{"StringLike":{"acs:UserAgent":["aliyun-sdk-*","ossutil?"]}}"#;
    check(like, Some("aliyun-sdk-java"), true, &mut c);
    check(like, Some("ossutil1"), true, &mut c);
    check(like, Some("ossutil12"), false, &mut c);
    check(like, Some("Aliyun-sdk-java"), false, &mut c);
    check(like, None, false, &mut c);
    let nlike = r#"{"StringNotLike":{"acs:UserAgent":["aliyun-sdk-*","ossutil?"]}}"#;
    check(nlike, Some("aliyun-sdk-java"), false, &mut c);
    check(nlike, Some("ossutil12"), true, &mut c);
    check(nlike, None, true, &mut c);
}

#[test]
fn listing_keys_come_from_values() {
    let p = ram(
        r#"{"Effect":"Allow","Action":"oss:ListObjects","Resource":"acs:oss:*:*:b",
            "Condition":{"StringLike":{"oss:Prefix":"hangzhou/2015/*"},"StringEquals":{"oss:Delimiter":"/"}}}"#,
    );
    let bucket = oss_resource(Some("b"), None);
    let mut c = ctx();
    let vals = [
        ("oss:Prefix", "hangzhou/2015/a".to_owned()),
        ("OSS:delimiter", "/".to_owned()),
    ];
    c.values = &vals;
    assert_eq!(p.evaluate("oss:ListObjects", &bucket, &c), Decision::Allow);
    let vals = [
        ("oss:Prefix", "hangzhou/2016/".to_owned()),
        ("oss:Delimiter", "/".to_owned()),
    ];
    c.values = &vals;
    assert_eq!(
        p.evaluate("oss:ListObjects", &bucket, &c),
        Decision::NotApplicable
    );
    let vals = [("oss:Delimiter", "/".to_owned())];
    c.values = &vals;
    assert_eq!(
        p.evaluate("oss:ListObjects", &bucket, &c),
        Decision::NotApplicable,
        "missing prefix"
    );
}

#[test]
fn repeated_request_values_form_a_set() {
    let vals = [
        ("oss:Prefix", "a".to_owned()),
        ("oss:Prefix", "b".to_owned()),
    ];
    let mut c = ctx();
    c.values = &vals;
    assert!(allowed(
        &allow_if(r#"{"StringEquals":{"oss:Prefix":"b"}}"#),
        &c
    ));
    assert!(!allowed(
        &allow_if(r#"{"StringNotEquals":{"oss:Prefix":"b"}}"#),
        &c
    ));
    assert!(allowed(
        &allow_if(r#"{"StringNotEquals":{"oss:Prefix":"c"}}"#),
        &c
    ));
}

#[test]
fn numeric_operators() {
    let cases: &[(&str, &str, &str, bool)] = &[
        ("NumericEquals", "10", "10", true),
        ("NumericEquals", "10", "10.0", true),
        ("NumericEquals", "10", "1e1", true),
        ("NumericEquals", "10", "11", false),
        ("NumericEquals", "10", "ten", false),
        ("NumericNotEquals", "10", "11", true),
        ("NumericNotEquals", "10", "10", false),
        ("NumericNotEquals", "10", "ten", true),
        ("NumericLessThan", "10", "9.5", true),
        ("NumericLessThan", "10", "10", false),
        ("NumericLessThan", "10", "-3", true),
        ("NumericLessThanEquals", "10", "10", true),
        ("NumericLessThanEquals", "10", "10.01", false),
        ("NumericGreaterThan", "10", "11", true),
        ("NumericGreaterThan", "10", "10", false),
        ("NumericGreaterThan", "10", "ten", false),
        ("NumericGreaterThanEquals", "10", "10", true),
        ("NumericGreaterThanEquals", "10", "9", false),
    ];
    for &(op, policy, request, want) in cases {
        let p = allow_if(&format!(r#"{{"{op}":{{"oss:Delimiter":"{policy}"}}}}"#));
        let vals = [("oss:Delimiter", request.to_owned())];
        let mut c = ctx();
        c.values = &vals;
        assert_eq!(allowed(&p, &c), want, "{op} {policy} vs {request}");
    }
    // Several values: any of them (OR); a JSON number works too.
    let p = allow_if(r#"{"NumericEquals":{"oss:Delimiter":[1, 2, 3]}}"#);
    let vals = [("oss:Delimiter", "2".to_owned())];
    let mut c = ctx();
    c.values = &vals;
    assert!(allowed(&p, &c));
    // Missing key.
    assert!(!allowed(
        &allow_if(r#"{"NumericLessThan":{"oss:Delimiter":5}}"#),
        &ctx()
    ));
    assert!(allowed(
        &allow_if(r#"{"NumericNotEquals":{"oss:Delimiter":5}}"#),
        &ctx()
    ));
}

#[test]
fn date_operators() {
    // ctx() is at 2024-06-01T12:00:00Z = 2024-06-01T20:00:00+08:00.
    let same = "2024-06-01T20:00:00+08:00";
    let earlier = "2024-06-01T11:59:59Z";
    let later = "2024-06-01T12:00:01Z";
    let cases: &[(&str, &str, bool)] = &[
        ("DateEquals", same, true),
        ("DateEquals", "2024-06-01T12:00:00.5Z", true),
        ("DateEquals", later, false),
        ("DateNotEquals", same, false),
        ("DateNotEquals", later, true),
        ("DateLessThan", later, true),
        ("DateLessThan", same, false),
        ("DateLessThanEquals", same, true),
        ("DateLessThanEquals", earlier, false),
        ("DateGreaterThan", earlier, true),
        ("DateGreaterThan", same, false),
        ("DateGreaterThanEquals", same, true),
        ("DateGreaterThanEquals", later, false),
        ("DateGreaterThan", "2024-06-01", true),
        ("DateLessThan", "2024-06-02", true),
    ];
    for &(op, value, want) in cases {
        let p = allow_if(&format!(r#"{{"{op}":{{"acs:CurrentTime":"{value}"}}}}"#));
        assert_eq!(allowed(&p, &ctx()), want, "{op} {value}");
    }
    // A window: both bounds (AND), key spelled in another case.
    let p = allow_if(
        r#"{"DateGreaterThanEquals":{"acs:currenttime":"2024-01-01T00:00:00Z"},
            "DateLessThan":{"ACS:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
    );
    assert!(allowed(&p, &ctx()));
    let mut c = ctx();
    c.current_time = datetime!(2025-01-01 00:00:00 UTC);
    assert!(!allowed(&p, &c));
}

#[test]
fn bool_operator() {
    let mut c = ctx();
    for (value, secure, want) in [
        (r#""true""#, true, true),
        (r#""TRUE""#, true, true),
        ("true", false, false),
        (r#""false""#, false, true),
        ("false", true, false),
        (r#"["true","false"]"#, false, true),
    ] {
        c.secure_transport = secure;
        let p = allow_if(&format!(r#"{{"Bool":{{"acs:SecureTransport":{value}}}}}"#));
        assert_eq!(allowed(&p, &c), want, "{value} {secure}");
    }
}

#[test]
fn ip_operators() {
    let ranges = r#"["192.168.0.0/16","10.1.2.3","2001:db8::/32","::1"]"#;
    let allow = allow_if(&format!(r#"{{"IpAddress":{{"acs:SourceIp":{ranges}}}}}"#));
    let not = allow_if(&format!(
        r#"{{"NotIpAddress":{{"acs:SourceIp":{ranges}}}}}"#
    ));
    let mut c = ctx();
    for (ip, inside) in [
        ("192.168.3.4", true),
        ("192.169.0.1", false),
        ("10.1.2.3", true),
        ("10.1.2.4", false),
        ("::ffff:192.168.9.9", true),
        ("2001:db8:1::5", true),
        ("2001:db9::5", false),
        ("::1", true),
        ("127.0.0.1", false),
    ] {
        c.source_ip = Some(ip.parse::<IpAddr>().unwrap());
        assert_eq!(allowed(&allow, &c), inside, "IpAddress {ip}");
        assert_eq!(allowed(&not, &c), !inside, "NotIpAddress {ip}");
    }
    c.source_ip = None;
    assert!(!allowed(&allow, &c), "missing address: IpAddress fails");
    assert!(allowed(&not, &c), "missing address: NotIpAddress holds");
    let any = allow_if(r#"{"IpAddress":{"acs:SourceIp":["0.0.0.0/0","::/0"]}}"#);
    c.source_ip = Some("203.0.113.7".parse().unwrap());
    assert!(allowed(&any, &c));
}

#[test]
fn if_exists_holds_on_missing_keys_only() {
    let p = allow_if(r#"{"StringEqualsIfExists":{"acs:UserAgent":"curl"}}"#);
    let mut c = ctx();
    assert!(allowed(&p, &c));
    c.user_agent = Some("curl");
    assert!(allowed(&p, &c));
    c.user_agent = Some("wget");
    assert!(!allowed(&p, &c));

    let p = allow_if(r#"{"IpAddressIfExists":{"acs:SourceIp":"10.0.0.0/8"}}"#);
    let mut c = ctx();
    assert!(allowed(&p, &c));
    c.source_ip = Some("11.0.0.1".parse().unwrap());
    assert!(!allowed(&p, &c));

    let p = allow_if(r#"{"StringNotLikeIfExists":{"oss:Prefix":"secret/*"}}"#);
    let mut c = ctx();
    assert!(allowed(&p, &c));
    let vals = [("oss:Prefix", "secret/x".to_owned())];
    c.values = &vals;
    assert!(!allowed(&p, &c));
}

#[test]
fn access_id_condition() {
    let p = ram(
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"acs:AccessId":"LTAIrevoked"}}}"#,
    );
    let mut c = ctx();
    assert_eq!(
        p.evaluate("oss:GetObject", &obj("k"), &c),
        Decision::NotApplicable
    );
    c.access_key_id = Some("LTAIrevoked");
    assert_eq!(p.evaluate("oss:GetObject", &obj("k"), &c), Decision::Deny);
}
