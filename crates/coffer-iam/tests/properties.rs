//! Property tests: parsing never panics on any text; evaluation never panics on any accepted
//! policy and any request; the canonical form is stable; an unconditional Deny always wins.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use coffer_iam::{
    Decision, KMS_ACTIONS, OSS_ACTIONS, PolicyKind, PrincipalRef, RequestContext, combine,
    parse_policy, wildcard,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::OffsetDateTime;

fn pick<T: Clone + std::fmt::Debug + 'static>(
    items: &'static [T],
) -> impl Strategy<Value = T> + Clone {
    proptest::sample::select(items)
}

const GOOD_ACTIONS: &[&str] = &[
    "*",
    "oss:*",
    "oss:Get*",
    "oss:PutObject",
    "OSS:getobject",
    "oss:?etObject",
    "oss:List*",
];
const KMS_AND_BAD_ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:List*",
    "kms:*",
    "oss:Foo",
    "ecs:*",
    "GetObject",
];

const GOOD_RESOURCES: &[&str] = &[
    "acs:oss:*:*:b",
    "acs:oss:*:*:b/*",
    "acs:oss:*:*:b/a?c*",
    "acs:oss:*:1000:b/x/*",
];
const OTHER_RESOURCES: &[&str] = &[
    "*",
    "acs:oss:*:*:*",
    "acs:oss:*:*:c/*",
    "acs:kms:*:*:key/*",
    "acs:kms:*:*:alias/acs/oss",
    "acs:kms:*:*:*",
    "acs:oss:cn-hangzhou:*:b",
    "acs:oss:*:*",
    "bad",
];

const KEYS: &[&str] = &[
    "acs:SourceIp",
    "acs:UserAgent",
    "acs:CurrentTime",
    "acs:SecureTransport",
    "acs:AccessId",
    "oss:Prefix",
    "OSS:DELIMITER",
    "oss:x-oss-server-side-encryption",
    "oss:x-oss-server-side-data-encryption",
    "oss:x-oss-server-side-encryption-key-id",
    "acs:SourceVpc",
];
const STRING_KEYS: &[&str] = &[
    "acs:UserAgent",
    "acs:AccessId",
    "oss:Prefix",
    "OSS:DELIMITER",
    "oss:x-oss-server-side-encryption",
    "oss:x-oss-server-side-data-encryption",
    "oss:x-oss-server-side-encryption-key-id",
];

const STRING_OPS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLikeIfExists",
];
const NUMERIC_OPS: &[&str] = &[
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericGreaterThanEqualsIfExists",
];
const DATE_OPS: &[&str] = &[
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateGreaterThan",
    "DateLessThanEqualsIfExists",
];
const ALL_OPS: &[&str] = &[
    "StringEquals",
    "NumericEquals",
    "DateEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "Null",
];

const STRINGS: &[&str] = &[
    "a*",
    "?",
    "",
    "KMS",
    "SM4",
    "é*ü",
    "hangzhou/2020/*",
    "curl",
];
const NUMBERS: &[&str] = &["5", "-1.5e2", "0", "10.25"];
const DATES: &[&str] = &[
    "2024-01-01",
    "2024-06-01T12:00:00Z",
    "2019-08-12T17:00:00+08:00",
];
const BOOLS: &[&str] = &["true", "FALSE"];
const IPS: &[&str] = &[
    "10.0.0.0/8",
    "192.168.1.1",
    "::1/128",
    "2001:db8::/32",
    "::ffff:10.0.0.0/100",
    "0.0.0.0/0",
];
const VALUES: &[&str] = &[
    "10.0.0.0/8",
    "2024-01-01",
    "true",
    "5",
    "a*",
    "",
    "KMS",
    "é*ü",
];

fn values_of(items: &'static [&'static str]) -> impl Strategy<Value = Value> + Clone {
    one_or_many(pick(items).prop_map(Value::from))
}

fn scalar() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        4 => pick(VALUES).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

fn one_or_many<S: Strategy<Value = Value> + Clone + 'static>(
    s: S,
) -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        6 => s.clone(),
        6 => prop::collection::vec(s, 1..4).prop_map(Value::from),
        1 => Just(json!([])),
    ]
}

/// One operator with one key: well-typed most of the time, anything some of the time.
fn clause() -> impl Strategy<Value = (&'static str, &'static str, Value)> {
    prop_oneof![
        3 => (pick(STRING_OPS), pick(STRING_KEYS), values_of(STRINGS)),
        2 => (pick(NUMERIC_OPS), pick(STRING_KEYS), values_of(NUMBERS)),
        2 => (pick(DATE_OPS), Just("acs:CurrentTime"), values_of(DATES)),
        1 => (pick(&["Bool", "BoolIfExists"]), Just("acs:SecureTransport"), values_of(BOOLS)),
        2 => (pick(&["IpAddress", "NotIpAddress", "IpAddressIfExists"]), Just("acs:SourceIp"), values_of(IPS)),
        1 => (pick(ALL_OPS), pick(KEYS), one_or_many(scalar())),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    prop::collection::vec(clause(), 1..4).prop_map(|clauses| {
        let mut m = serde_json::Map::new();
        for (op, key, values) in clauses {
            let entry = m.entry(op.to_owned()).or_insert_with(|| json!({}));
            if let Value::Object(km) = entry {
                km.insert(key.to_owned(), values);
            }
        }
        Value::Object(m)
    })
}

fn principal() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(json!("*")),
        2 => Just(json!([])),
        2 => Just(json!(["*"])),
        2 => Just(json!(["1000"])),
        2 => Just(json!(["2000", "alice", "u-9"])),
        1 => Just(json!({"RAM": "x"})),
        1 => Just(json!("acs:ram::1:root")),
    ]
}

fn statement(bucket: bool) -> impl Strategy<Value = Value> {
    (
        prop_oneof![10 => Just(json!("Allow")), 10 => Just(json!("Deny")), 1 => Just(json!("allow"))],
        prop::bool::weighted(0.2),
        one_or_many(prop_oneof![
            8 => pick(GOOD_ACTIONS).prop_map(Value::from),
            1 => pick(KMS_AND_BAD_ACTIONS).prop_map(Value::from),
        ]),
        prop::bool::weighted(0.2),
        one_or_many(prop_oneof![
            8 => pick(GOOD_RESOURCES).prop_map(Value::from),
            1 => pick(OTHER_RESOURCES).prop_map(Value::from),
        ]),
        // A principal in bucket policies, none in RAM policies, with some noise either way.
        prop::bool::weighted(if bucket { 0.97 } else { 0.03 }),
        principal(),
        prop::option::weighted(0.6, condition()),
    )
        .prop_map(|(effect, not_action, actions, not_resource, resources, has_principal, principal, condition)| {
            let mut m = serde_json::Map::new();
            m.insert("Effect".into(), effect);
            m.insert(if not_action { "NotAction" } else { "Action" }.into(), actions);
            m.insert(if not_resource { "NotResource" } else { "Resource" }.into(), resources);
            if has_principal {
                m.insert("Principal".into(), principal);
            }
            if let Some(c) = condition {
                m.insert("Condition".into(), c);
            }
            Value::Object(m)
        })
}

fn policy_text() -> impl Strategy<Value = String> {
    any::<bool>()
        .prop_flat_map(|bucket| prop::collection::vec(statement(bucket), 1..4))
        .prop_map(|st| json!({"Version": "1", "Statement": st}).to_string())
}

fn kinds() -> [PolicyKind; 2] {
    [
        PolicyKind::Identity,
        PolicyKind::Bucket { bucket: "b".into() },
    ]
}

#[derive(Debug, Clone)]
struct Req {
    principal: u8,
    owner: Option<&'static str>,
    ip: Option<IpAddr>,
    secure: bool,
    time: i64,
    user_agent: Option<String>,
    access_key: Option<String>,
    values: Vec<(&'static str, String)>,
    action: String,
    resource: String,
}

fn request() -> impl Strategy<Value = Req> {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        any::<[u8; 4]>().prop_map(|b| IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())),
    ];
    let text = || prop_oneof![pick(VALUES).prop_map(String::from), any::<String>()];
    let action = prop_oneof![
        pick(OSS_ACTIONS).prop_map(String::from),
        pick(KMS_ACTIONS).prop_map(String::from),
        any::<String>(),
    ];
    let resource = prop_oneof![
        pick(GOOD_RESOURCES).prop_map(String::from),
        pick(OTHER_RESOURCES).prop_map(String::from),
        "[a-z]{0,3}/[a-zA-Z?*:/]{0,8}".prop_map(|k| format!("acs:oss:*:*:b{k}")),
        any::<String>(),
    ];
    (
        (
            0u8..4,
            prop::option::of(pick(&["1000", "2000"])),
            prop::option::of(ip),
            any::<bool>(),
        ),
        // Years 1900..2100, in seconds.
        -2_208_988_800i64..4_102_444_800i64,
        (prop::option::of(text()), prop::option::of(text())),
        prop::collection::vec((pick(KEYS), text()), 0..4),
        action,
        resource,
    )
        .prop_map(
            |(
                (principal, owner, ip, secure),
                time,
                (user_agent, access_key),
                values,
                action,
                resource,
            )| Req {
                principal,
                owner,
                ip,
                secure,
                time,
                user_agent,
                access_key,
                values,
                action,
                resource,
            },
        )
}

fn context(r: &Req) -> RequestContext<'_> {
    let principal = match r.principal {
        0 => PrincipalRef::Anonymous,
        1 => PrincipalRef::Root { account: "1000" },
        2 => PrincipalRef::User {
            account: "1000",
            id: "u-1",
            name: "alice",
        },
        _ => PrincipalRef::User {
            account: "2000",
            id: "u-9",
            name: "bob",
        },
    };
    let mut c = RequestContext::new(
        principal,
        OffsetDateTime::from_unix_timestamp(r.time).unwrap(),
    );
    c.resource_owner = r.owner;
    c.source_ip = r.ip;
    c.secure_transport = r.secure;
    c.user_agent = r.user_agent.as_deref();
    c.access_key_id = r.access_key.as_deref();
    c.values = &r.values;
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        for kind in kinds() {
            let _ = parse_policy(&text, &kind);
        }
    }

    #[test]
    fn parsing_json_like_text_never_panics(text in r#"[\{\}\[\]":,0-9a-zA-Z\* ]{0,80}"#) {
        for kind in kinds() {
            let _ = parse_policy(&text, &kind);
        }
    }

    #[test]
    fn evaluation_never_panics_and_canonical_form_is_stable(text in policy_text(), req in request()) {
        let ctx = context(&req);
        for kind in kinds() {
            let Ok(policy) = parse_policy(&text, &kind) else { continue };
            let _ = policy.evaluate(&req.action, &req.resource, &ctx);
            let (identity, bucket) = match kind {
                PolicyKind::Identity => (vec![&policy], None),
                PolicyKind::Bucket { .. } => (vec![], Some(&policy)),
            };
            let _ = combine(&identity, bucket, &req.action, &req.resource, &ctx);

            let canon = policy.to_json();
            let again = parse_policy(&canon, &kind).expect("canonical form parses");
            prop_assert_eq!(again.to_json(), canon.clone());
            prop_assert_eq!(
                again.evaluate(&req.action, &req.resource, &ctx),
                policy.evaluate(&req.action, &req.resource, &ctx)
            );
        }
    }

    #[test]
    fn an_unconditional_deny_always_wins(text in policy_text(), req in request()) {
        let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(&text) else { unreachable!() };
        if let Some(Value::Array(st)) = doc.get_mut("Statement") {
            st.push(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
        }
        let with_deny = Value::Object(doc).to_string();
        if let Ok(p) = parse_policy(&with_deny, &PolicyKind::Identity) {
            let ctx = context(&req);
            prop_assert_eq!(p.evaluate(&req.action, &req.resource, &ctx), Decision::Deny);
            prop_assert_eq!(combine(&[&p], None, &req.action, &req.resource, &ctx), Decision::Deny);
        }
    }

    #[test]
    fn wildcard_star_matches_everything_and_literals_match_themselves(text in any::<String>()) {
        prop_assert!(wildcard::matches("*", &text));
        let literal: String = text.chars().filter(|c| *c != '*' && *c != '?').collect();
        prop_assert!(wildcard::matches(&literal, &literal));
        let qs: String = literal.chars().map(|_| '?').collect();
        prop_assert!(wildcard::matches(&qs, &literal));
    }
}

#[test]
fn generated_policies_are_often_valid() {
    // Guard against a generator that only ever produces refused documents.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut valid = [0usize; 2];
    for _ in 0..400 {
        let text = policy_text().new_tree(&mut runner).unwrap().current();
        for (i, kind) in kinds().iter().enumerate() {
            if parse_policy(&text, kind).is_ok() {
                valid[i] += 1;
            }
        }
    }
    assert!(
        valid[0] >= 25 && valid[1] >= 25,
        "valid identity/bucket policies: {valid:?}"
    );
}
