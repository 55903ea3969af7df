//! Parsing: the reference's policies are accepted; every malformed variant is refused with the
//! precise location and fault.

use coffer_iam::{PolicyError, PolicyErrorKind, PolicyKind, parse_policy};

fn bucket(name: &str) -> PolicyKind {
    PolicyKind::Bucket {
        bucket: name.to_owned(),
    }
}

fn ram_err(json: &str) -> PolicyError {
    parse_policy(json, &PolicyKind::Identity).expect_err(json)
}

fn bucket_err(json: &str) -> PolicyError {
    parse_policy(json, &bucket("examplebucket")).expect_err(json)
}

/// A one-statement identity policy around `statement`.
fn ram1(statement: &str) -> String {
    format!(r#"{{"Version":"1","Statement":[{statement}]}}"#)
}

#[test]
fn reference_ram_policy() {
    let p = parse_policy(
        r#"{
          "Version": "1",
          "Statement": [
            {
              "Effect": "Allow",
              "Action": ["oss:PutObject", "oss:GetObject"],
              "Resource": ["acs:oss:*:*:examplebucket/*"],
              "Condition": { "IpAddress": { "acs:SourceIp": ["192.168.0.0/16"] } }
            }
          ]
        }"#,
        &PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(p.kind(), &PolicyKind::Identity);
}

#[test]
fn reference_kms_policy() {
    parse_policy(
        r#"{
          "Version": "1",
          "Statement": [
            { "Effect": "Allow",
              "Action": ["oss:PutObject", "oss:GetObject"],
              "Resource": ["acs:oss:*:*:examplebucket/*"] },
            { "Effect": "Allow",
              "Action": ["kms:List*", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
              "Resource": ["acs:kms:*:1416614965936597:*"] }
          ]
        }"#,
        &PolicyKind::Identity,
    )
    .unwrap();
}

#[test]
fn reference_bucket_policy() {
    let text = r#"{
      "Version": "1",
      "Statement": [{
        "Effect": "Allow",
        "Action": ["oss:GetObject", "oss:ListObjects"],
        "Principal": ["27737962156157xxxx"],
        "Resource": ["acs:oss:*:174649585760xxxx:examplebucket/*", "acs:oss:*:174649585760xxxx:examplebucket"],
        "Condition": {"StringLike": {"oss:Prefix": ["hangzhou/2020/*"]}}
      }]
    }"#;
    let p = parse_policy(text, &bucket("examplebucket")).unwrap();
    assert_eq!(p.source(), text);
}

#[test]
fn documented_ram_examples() {
    // Time-of-day policy from the RAM docs (Statement before Version).
    parse_policy(
        r#"{"Statement":[{"Action":"oss:*","Effect":"Allow","Resource":"*",
            "Condition":{"DateLessThan":{"acs:CurrentTime":"2019-08-12T17:00:00+08:00"}}}],"Version":"1"}"#,
        &PolicyKind::Identity,
    )
    .unwrap();
    // The oss:Prefix listing example.
    parse_policy(
        r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Action":["oss:GetObject"],"Resource":["acs:oss:*:*:myphotos/hangzhou/2015/*"]},
            {"Effect":"Allow","Action":["oss:ListObjects"],"Resource":["acs:oss:*:*:myphotos"],
             "Condition":{"StringLike":{"oss:Prefix":"hangzhou/2015/*"}}}]}"#,
        &PolicyKind::Identity,
    )
    .unwrap();
    // NotAction, everything but KMS administration.
    parse_policy(
        &ram1(r#"{"Effect":"Allow","NotAction":["kms:Create*","kms:ScheduleKeyDeletion"],"Resource":"*"}"#),
        &PolicyKind::Identity,
    )
    .unwrap();
    // NotResource, a Sid, IfExists, every operator family.
    parse_policy(
        &ram1(
            r#"{"Sid":"x","Effect":"Deny","Action":"*","NotResource":["acs:oss:*:*:public/*","acs:kms:*:*:alias/acs/oss"],
               "Condition":{"StringEqualsIfExists":{"acs:UserAgent":"curl"},
                            "NumericLessThan":{"oss:Prefix":[1, "2.5"]},
                            "Bool":{"acs:SecureTransport":false},
                            "NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","2001:db8::/32","127.0.0.1"]},
                            "DateGreaterThanEquals":{"acs:CurrentTime":"2020-01-01"}}}"#,
        ),
        &PolicyKind::Identity,
    )
    .unwrap();
}

#[test]
fn bucket_policy_principal_forms() {
    for principal in [
        r#""*""#,
        r#"["*"]"#,
        "[]",
        r#"["1234", "alice", "user-01.x@corp"]"#,
    ] {
        let text = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"oss:GetObject","Resource":"acs:oss:*:*:examplebucket/*"}}]}}"#
        );
        parse_policy(&text, &bucket("examplebucket"))
            .unwrap_or_else(|e| panic!("{principal}: {e}"));
    }
}

#[test]
fn json_faults() {
    let e = ram_err("{");
    assert!(matches!(e.kind, PolicyErrorKind::InvalidJson(_)), "{e}");
    assert_eq!(e.statement, None);
    let e = ram_err(r#"{"Version":"1","Statement":[]} x"#);
    assert!(matches!(e.kind, PolicyErrorKind::InvalidJson(_)), "{e}");
    let e = ram_err(&ram1(
        r#"{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}"#,
    ));
    assert!(e.to_string().contains("duplicate member `Effect`"), "{e}");
    let e = ram_err(r#"["Version"]"#);
    assert_eq!(
        e.kind,
        PolicyErrorKind::WrongType {
            expected: "an object",
            found: "a list"
        }
    );
}

#[test]
fn document_faults() {
    let e = ram_err(r#"{"Statement":[]}"#);
    assert_eq!(e.kind, PolicyErrorKind::MissingElement("Version"));
    let e = ram_err(r#"{"Version":"1"}"#);
    assert_eq!(e.kind, PolicyErrorKind::MissingElement("Statement"));
    let e = ram_err(r#"{"Version":"2012-10-17","Statement":[]}"#);
    assert_eq!(
        (e.path.as_str(), e.kind),
        ("Version", PolicyErrorKind::BadVersion("2012-10-17".into()))
    );
    let e = ram_err(r#"{"Version":1,"Statement":[]}"#);
    assert_eq!(
        e.kind,
        PolicyErrorKind::WrongType {
            expected: "a string",
            found: "a number"
        }
    );
    let e = ram_err(r#"{"Version":"1","Statement":[]}"#);
    assert_eq!(
        (e.path.as_str(), e.kind),
        ("Statement", PolicyErrorKind::Empty)
    );
    let e = ram_err(r#"{"Version":"1","Statement":{"Effect":"Allow"}}"#);
    assert_eq!(
        e.kind,
        PolicyErrorKind::WrongType {
            expected: "a list",
            found: "an object"
        }
    );
    let e = ram_err(r#"{"Version":"1","Statement":[],"Id":"x"}"#);
    assert_eq!(e.kind, PolicyErrorKind::UnknownElement("Id".into()));
    assert_eq!(e.to_string(), "unknown element `Id`");
}

#[test]
fn statement_faults() {
    let ok = r#"{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}"#;
    let cases: Vec<(String, usize, &str, PolicyErrorKind)> = vec![
        (
            ram1(r#""x""#),
            0,
            "Statement[0]",
            PolicyErrorKind::WrongType {
                expected: "an object",
                found: "a string",
            },
        ),
        (
            ram1(&format!(
                r#"{ok},{{"Effect":"Allow","Action":"oss:GetObject","Resource":"*","effect":"Deny"}}"#
            )),
            1,
            "Statement[1]",
            PolicyErrorKind::UnknownElement("effect".into()),
        ),
        (
            ram1(r#"{"Action":"oss:GetObject","Resource":"*"}"#),
            0,
            "Statement[0]",
            PolicyErrorKind::MissingElement("Effect"),
        ),
        (
            ram1(r#"{"Effect":"allow","Action":"oss:GetObject","Resource":"*"}"#),
            0,
            "Statement[0].Effect",
            PolicyErrorKind::BadEffect("allow".into()),
        ),
        (
            ram1(r#"{"Effect":true,"Action":"oss:GetObject","Resource":"*"}"#),
            0,
            "Statement[0].Effect",
            PolicyErrorKind::WrongType {
                expected: "a string",
                found: "a boolean",
            },
        ),
        (
            ram1(r#"{"Effect":"Allow","Resource":"*"}"#),
            0,
            "Statement[0]",
            PolicyErrorKind::MissingElement("Action"),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"*","NotAction":"oss:GetObject","Resource":"*"}"#),
            0,
            "Statement[0]",
            PolicyErrorKind::ConflictingElements("Action", "NotAction"),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
            0,
            "Statement[0].Action",
            PolicyErrorKind::Empty,
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":{"oss":"GetObject"},"Resource":"*"}"#),
            0,
            "Statement[0].Action",
            PolicyErrorKind::WrongType {
                expected: "a string or a list of strings",
                found: "an object",
            },
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":["oss:GetObject",7],"Resource":"*"}"#),
            0,
            "Statement[0].Action[1]",
            PolicyErrorKind::WrongType {
                expected: "a string",
                found: "a number",
            },
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":["oss:GetObject","oss:Foo"],"Resource":"*"}"#),
            0,
            "Statement[0].Action[1]",
            PolicyErrorKind::UnknownAction("oss:Foo".into()),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"oss:Foo*","Resource":"*"}"#),
            0,
            "Statement[0].Action[0]",
            PolicyErrorKind::UnknownAction("oss:Foo*".into()),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*"}"#),
            0,
            "Statement[0].Action[0]",
            PolicyErrorKind::UnknownAction("ecs:*".into()),
        ),
        (
            ram1(r#"{"Effect":"Allow","NotAction":"GetObject","Resource":"*"}"#),
            0,
            "Statement[0].NotAction[0]",
            PolicyErrorKind::MalformedAction("GetObject".into()),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"oss:","Resource":"*"}"#),
            0,
            "Statement[0].Action[0]",
            PolicyErrorKind::MalformedAction("oss:".into()),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"*"}"#),
            0,
            "Statement[0]",
            PolicyErrorKind::MissingElement("Resource"),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#),
            0,
            "Statement[0]",
            PolicyErrorKind::ConflictingElements("Resource", "NotResource"),
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"*","Resource":["*","acs:oss:cn-hangzhou:*:b"]}"#),
            0,
            "Statement[0].Resource[1]",
            PolicyErrorKind::MalformedResource {
                resource: "acs:oss:cn-hangzhou:*:b".into(),
                reason: "the region field must be `*`",
            },
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"*","NotResource":"acs:oss:*:*"}"#),
            0,
            "Statement[0].NotResource[0]",
            PolicyErrorKind::MalformedResource {
                resource: "acs:oss:*:*".into(),
                reason: "expected acs:<service>:<region>:<account>:<resource>",
            },
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}"#),
            0,
            "Statement[0].Principal",
            PolicyErrorKind::PrincipalNotAllowed,
        ),
        (
            ram1(r#"{"Effect":"Allow","Action":"*","Resource":"*","Sid":1}"#),
            0,
            "Statement[0].Sid",
            PolicyErrorKind::WrongType {
                expected: "a string",
                found: "a number",
            },
        ),
    ];
    for (text, statement, path, kind) in cases {
        let e = ram_err(&text);
        assert_eq!(e.statement, Some(statement), "{text}: {e}");
        assert_eq!(e.path, path, "{text}: {e}");
        assert_eq!(e.kind, kind, "{text}: {e}");
    }
}

#[test]
fn display_names_place_and_fault() {
    let e = ram_err(&ram1(
        r#"{"Effect":"Allow","Action":["oss:GetObject","oss:Foo"],"Resource":"*"}"#,
    ));
    assert_eq!(
        e.to_string(),
        "Statement[0].Action[1]: unknown action `oss:Foo`"
    );
    let e = ram_err(&ram1(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","10.0.0.0/40"]}}}"#,
    ));
    assert_eq!(
        e.to_string(),
        "Statement[0].Condition.IpAddress.acs:SourceIp[1]: `10.0.0.0/40` is not a valid value for `IpAddress`: \
         not an IPv4 or IPv6 address or CIDR block"
    );
}

#[test]
fn condition_faults() {
    let with = |cond: &str| {
        ram1(&format!(
            r#"{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{cond}}}"#
        ))
    };
    let invalid = |operator: &str, value: &str, reason: &'static str| {
        PolicyErrorKind::InvalidConditionValue {
            operator: operator.into(),
            value: value.into(),
            reason,
        }
    };
    let cases: Vec<(&str, &str, PolicyErrorKind)> = vec![
        (
            "[]",
            "Statement[0].Condition",
            PolicyErrorKind::WrongType {
                expected: "an object",
                found: "a list",
            },
        ),
        ("{}", "Statement[0].Condition", PolicyErrorKind::Empty),
        (
            r#"{"Null":{"oss:x-oss-server-side-encryption":"true"}}"#,
            "Statement[0].Condition.Null",
            PolicyErrorKind::UnsupportedOperator("Null".into()),
        ),
        (
            r#"{"stringequals":{"acs:UserAgent":"x"}}"#,
            "Statement[0].Condition.stringequals",
            PolicyErrorKind::UnsupportedOperator("stringequals".into()),
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"acs:UserAgent":"x"}}"#,
            "Statement[0].Condition.ForAnyValue:StringEquals",
            PolicyErrorKind::UnsupportedOperator("ForAnyValue:StringEquals".into()),
        ),
        (
            r#"{"StringEquals":{}}"#,
            "Statement[0].Condition.StringEquals",
            PolicyErrorKind::Empty,
        ),
        (
            r#"{"StringEquals":"x"}"#,
            "Statement[0].Condition.StringEquals",
            PolicyErrorKind::WrongType {
                expected: "an object",
                found: "a string",
            },
        ),
        (
            r#"{"StringEquals":{"acs:SourceVpc":"vpc-1"}}"#,
            "Statement[0].Condition.StringEquals.acs:SourceVpc",
            PolicyErrorKind::UnsupportedConditionKey("acs:SourceVpc".into()),
        ),
        (
            r#"{"StringEquals":{"oss:ExistingObjectTag/a":"b"}}"#,
            "Statement[0].Condition.StringEquals.oss:ExistingObjectTag/a",
            PolicyErrorKind::UnsupportedConditionKey("oss:ExistingObjectTag/a".into()),
        ),
        (
            r#"{"IpAddress":{"oss:Prefix":"10.0.0.0/8"}}"#,
            "Statement[0].Condition.IpAddress.oss:Prefix",
            PolicyErrorKind::OperatorNotApplicable {
                operator: "IpAddress".into(),
                key: "oss:Prefix".into(),
                key_type: "a string key",
            },
        ),
        (
            r#"{"StringEquals":{"acs:SourceIp":"10.0.0.1"}}"#,
            "Statement[0].Condition.StringEquals.acs:SourceIp",
            PolicyErrorKind::OperatorNotApplicable {
                operator: "StringEquals".into(),
                key: "acs:SourceIp".into(),
                key_type: "an IP address key",
            },
        ),
        (
            r#"{"BoolIfExists":{"acs:CurrentTime":"true"}}"#,
            "Statement[0].Condition.BoolIfExists.acs:CurrentTime",
            PolicyErrorKind::OperatorNotApplicable {
                operator: "BoolIfExists".into(),
                key: "acs:CurrentTime".into(),
                key_type: "a date key",
            },
        ),
        (
            r#"{"StringEquals":{"acs:UserAgent":[]}}"#,
            "Statement[0].Condition.StringEquals.acs:UserAgent",
            PolicyErrorKind::Empty,
        ),
        (
            r#"{"StringEquals":{"acs:UserAgent":null}}"#,
            "Statement[0].Condition.StringEquals.acs:UserAgent",
            PolicyErrorKind::WrongType {
                expected: "a string, number, boolean or a list of them",
                found: "null",
            },
        ),
        (
            r#"{"StringEquals":{"acs:UserAgent":["a",["b"]]}}"#,
            "Statement[0].Condition.StringEquals.acs:UserAgent[1]",
            PolicyErrorKind::WrongType {
                expected: "a string, number, boolean or a list of them",
                found: "a list",
            },
        ),
        (
            r#"{"NumericLessThan":{"oss:Prefix":"ten"}}"#,
            "Statement[0].Condition.NumericLessThan.oss:Prefix",
            invalid("NumericLessThan", "ten", "not a decimal number"),
        ),
        (
            r#"{"DateLessThan":{"acs:CurrentTime":"12/08/2019"}}"#,
            "Statement[0].Condition.DateLessThan.acs:CurrentTime",
            invalid(
                "DateLessThan",
                "12/08/2019",
                "not an ISO 8601 date-time (e.g. 2019-08-12T17:00:00+08:00) or date (2019-08-12)",
            ),
        ),
        (
            r#"{"Bool":{"acs:SecureTransport":"yes"}}"#,
            "Statement[0].Condition.Bool.acs:SecureTransport",
            invalid("Bool", "yes", "not `true` or `false`"),
        ),
        (
            r#"{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","300.1.1.1"]}}"#,
            "Statement[0].Condition.NotIpAddress.acs:SourceIp[1]",
            invalid(
                "NotIpAddress",
                "300.1.1.1",
                "not an IPv4 or IPv6 address or CIDR block",
            ),
        ),
    ];
    for (cond, path, kind) in cases {
        let e = ram_err(&with(cond));
        assert_eq!(e.statement, Some(0), "{cond}: {e}");
        assert_eq!(e.path, path, "{cond}: {e}");
        assert_eq!(e.kind, kind, "{cond}: {e}");
    }
}

#[test]
fn bucket_policy_faults() {
    let st = |body: &str| format!(r#"{{"Version":"1","Statement":[{body}]}}"#);
    // No `Principal` is accepted (it means everyone, as on OSS); its canonical form says so.
    let p = parse_policy(
        &st(r#"{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:examplebucket/*"}"#),
        &bucket("examplebucket"),
    )
    .unwrap();
    assert!(
        p.to_json().contains(r#""Principal":["*"]"#),
        "{}",
        p.to_json()
    );

    let e = bucket_err(&st(
        r#"{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:root"]},"Action":"oss:GetObject","Resource":"acs:oss:*:*:examplebucket/*"}"#,
    ));
    assert_eq!(
        (e.path.as_str(), e.kind),
        (
            "Statement[0].Principal",
            PolicyErrorKind::WrongType {
                expected: "a string or a list of strings",
                found: "an object"
            }
        )
    );

    for (principal, path, bad) in [
        (r#""""#, "Statement[0].Principal", ""),
        (
            r#"["1","acs:ram::1:root"]"#,
            "Statement[0].Principal[1]",
            "acs:ram::1:root",
        ),
        (r#"["12*"]"#, "Statement[0].Principal[0]", "12*"),
    ] {
        let e = bucket_err(&st(&format!(
            r#"{{"Effect":"Allow","Principal":{principal},"Action":"oss:GetObject","Resource":"acs:oss:*:*:examplebucket/*"}}"#
        )));
        assert_eq!(
            (e.path.as_str(), e.kind),
            (path, PolicyErrorKind::InvalidPrincipal(bad.into())),
            "{principal}"
        );
    }

    let e = bucket_err(&st(
        r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"acs:oss:*:*:examplebucket/*"}"#,
    ));
    assert_eq!(
        (e.path.as_str(), e.kind),
        (
            "Statement[0].Action[0]",
            PolicyErrorKind::ActionNotAllowedInBucketPolicy("kms:Decrypt".into())
        )
    );

    for resource in [
        "*",
        "acs:oss:*:*:*",
        "acs:oss:*:*:otherbucket/*",
        "acs:oss:*:*:examplebucket*",
        "acs:kms:*:*:*",
    ] {
        let e = bucket_err(&st(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"oss:GetObject","Resource":["acs:oss:*:*:examplebucket","{resource}"]}}"#
        )));
        assert_eq!(e.path, "Statement[0].Resource[1]", "{resource}");
        assert_eq!(
            e.kind,
            PolicyErrorKind::ResourceOutsideBucket {
                resource: resource.into(),
                bucket: "examplebucket".into()
            }
        );
    }
}

#[test]
fn canonical_json_round_trips() {
    let texts = [
        r#"{"Statement":[{"Condition":{"StringLike":{"OSS:PREFIX":"a/*"},"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}},
            "Resource":"acs:oss:*:*:b/*","Action":"oss:getobject","Effect":"Allow","Sid":"s\"1"}],"Version":"1"}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Deny","NotAction":["kms:*"],"NotResource":"*",
            "Condition":{"NumericEquals":{"oss:Delimiter":[1,2.5,"3"]},"Bool":{"acs:SecureTransport":true}}}]}"#,
    ];
    for text in texts {
        let p = parse_policy(text, &PolicyKind::Identity).unwrap();
        let canon = p.to_json();
        let again = parse_policy(&canon, &PolicyKind::Identity).unwrap();
        assert_eq!(again.to_json(), canon);
        let _: serde_json::Value = serde_json::from_str(&canon).unwrap();
    }
    let p = parse_policy(texts[0], &PolicyKind::Identity).unwrap();
    assert_eq!(
        p.to_json(),
        r#"{"Version":"1","Statement":[{"Sid":"s\"1","Effect":"Allow","Action":["oss:getobject"],"Resource":["acs:oss:*:*:b/*"],"Condition":{"StringLike":{"oss:Prefix":["a/*"]},"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]}}}]}"#
    );
    let b = parse_policy(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Principal":[],"Action":"oss:GetObject","Resource":"acs:oss:*:*:b"}]}"#,
        &bucket("b"),
    )
    .unwrap();
    assert_eq!(
        b.to_json(),
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Principal":["*"],"Action":["oss:GetObject"],"Resource":["acs:oss:*:*:b"]}]}"#
    );
}
