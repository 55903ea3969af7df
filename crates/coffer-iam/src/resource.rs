//! Resource ARNs: `acs:<service>:<region>:<account>:<relative-id>`.

use crate::error::PolicyErrorKind;
use crate::wildcard;

/// The ARN of an OSS resource as the server names a request's target:
/// `acs:oss:*:*:*` for a service-level request (no bucket), `acs:oss:*:*:<bucket>` for a bucket,
/// `acs:oss:*:*:<bucket>/<key>` for an object. The account field is `*`: bucket names are unique
/// across the server, so the bucket names the resource. Use [`oss_resource_in`] to state the
/// owner.
///
/// A key without a bucket is meaningless and gives the service-level ARN.
pub fn oss_resource(bucket: Option<&str>, key: Option<&str>) -> String {
    oss_resource_in("*", bucket, key)
}

/// Like [`oss_resource`], with the owning account id in the account field, so that a policy
/// resource naming another account does not match.
pub fn oss_resource_in(account: &str, bucket: Option<&str>, key: Option<&str>) -> String {
    match (bucket, key) {
        (Some(b), Some(k)) => format!("acs:oss:*:{account}:{b}/{k}"),
        (Some(b), None) => format!("acs:oss:*:{account}:{b}"),
        (None, _) => format!("acs:oss:*:{account}:*"),
    }
}

/// The ARN of a KMS key: `acs:kms:*:*:key/<id>`.
pub fn kms_resource(key_id: &str) -> String {
    format!("acs:kms:*:*:key/{key_id}")
}

/// The ARN of a KMS alias: `acs:kms:*:*:alias/<name>`. Takes `alias/name` or bare `name`.
pub fn kms_alias_resource(alias: &str) -> String {
    let name = alias.strip_prefix("alias/").unwrap_or(alias);
    format!("acs:kms:*:*:alias/{name}")
}

/// A request resource split into its fields. Lenient: anything with five fields after `acs`.
pub(crate) struct RequestArn<'a> {
    pub service: &'a str,
    pub account: &'a str,
    pub relative: &'a str,
}

pub(crate) fn split_arn(arn: &str) -> Option<RequestArn<'_>> {
    let mut it = arn.splitn(5, ':');
    let (acs, service, _region, account, relative) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    (acs == "acs").then_some(RequestArn {
        service,
        account,
        relative,
    })
}

/// Whether a request resource is the bucket `bucket` or one of its objects.
pub(crate) fn within_bucket(arn: &str, bucket: &str) -> bool {
    match split_arn(arn) {
        Some(r) if r.service == "oss" => relative_within_bucket(r.relative, bucket),
        _ => false,
    }
}

fn relative_within_bucket(relative: &str, bucket: &str) -> bool {
    match relative.strip_prefix(bucket) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// A validated Resource / NotResource entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePattern {
    /// As written, for [`Policy::to_json`](crate::Policy::to_json).
    pub raw: String,
    kind: PatternKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternKind {
    /// `*`: every resource.
    Any,
    Arn {
        service: &'static str,
        /// `None` for `*`.
        account: Option<String>,
        relative: String,
    },
}

impl ResourcePattern {
    /// Validates a policy resource. `bucket` is the bucket of a bucket policy: its resources
    /// must be that bucket or objects in it.
    pub(crate) fn parse(
        raw: &str,
        bucket: Option<&str>,
    ) -> Result<ResourcePattern, PolicyErrorKind> {
        let malformed = |reason| PolicyErrorKind::MalformedResource {
            resource: raw.to_owned(),
            reason,
        };
        if raw == "*" {
            if let Some(b) = bucket {
                return Err(PolicyErrorKind::ResourceOutsideBucket {
                    resource: raw.to_owned(),
                    bucket: b.to_owned(),
                });
            }
            return Ok(ResourcePattern {
                raw: raw.to_owned(),
                kind: PatternKind::Any,
            });
        }
        let fields: Vec<&str> = raw.splitn(5, ':').collect();
        let [acs, service, region, account, relative] = fields[..] else {
            return Err(malformed(
                "expected acs:<service>:<region>:<account>:<resource>",
            ));
        };
        if acs != "acs" {
            return Err(malformed("an ARN starts with `acs:`"));
        }
        let service = match service {
            "oss" => "oss",
            "kms" => "kms",
            _ => return Err(malformed("the service must be `oss` or `kms`")),
        };
        if region != "*" {
            return Err(malformed("the region field must be `*`"));
        }
        let account = match account {
            "*" => None,
            a if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
            {
                Some(a.to_owned())
            }
            _ => return Err(malformed("the account field must be `*` or an account id")),
        };
        if relative.is_empty() {
            return Err(malformed("the resource field is empty"));
        }
        match service {
            "oss" => {
                let bucket_part = relative.split('/').next().unwrap_or_default();
                if bucket_part.is_empty() {
                    return Err(malformed("the bucket name is empty"));
                }
                if !bucket_part.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '*' | '?')
                }) {
                    return Err(malformed(
                        "a bucket name has only lower-case letters, digits and `-` (and the wildcards `*`, `?`)",
                    ));
                }
            }
            _ => {
                let ok = relative == "*"
                    || relative.strip_prefix("key/").is_some_and(|r| !r.is_empty())
                    || relative
                        .strip_prefix("alias/")
                        .is_some_and(|r| !r.is_empty());
                if !ok {
                    return Err(malformed(
                        "a KMS resource is `*`, `key/<id>` or `alias/<name>`",
                    ));
                }
            }
        }
        if let Some(b) = bucket
            && (service != "oss" || !relative_within_bucket(relative, b))
        {
            return Err(PolicyErrorKind::ResourceOutsideBucket {
                resource: raw.to_owned(),
                bucket: b.to_owned(),
            });
        }
        Ok(ResourcePattern {
            raw: raw.to_owned(),
            kind: PatternKind::Arn {
                service,
                account,
                relative: relative.to_owned(),
            },
        })
    }

    /// Whether the request resource `arn` matches. The relative part matches case-sensitively
    /// with `*` and `?`; the account matches when either side is `*` or both are equal.
    pub(crate) fn matches(&self, arn: &str) -> bool {
        match &self.kind {
            PatternKind::Any => true,
            PatternKind::Arn {
                service,
                account,
                relative,
            } => {
                let Some(r) = split_arn(arn) else {
                    return false;
                };
                r.service == *service
                    && match account {
                        None => true,
                        Some(a) => r.account == "*" || r.account == a,
                    }
                    && wildcard::matches(relative, r.relative)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ResourcePattern {
        ResourcePattern::parse(s, None).unwrap()
    }

    #[test]
    fn builders() {
        assert_eq!(oss_resource(None, None), "acs:oss:*:*:*");
        assert_eq!(oss_resource(Some("b"), None), "acs:oss:*:*:b");
        assert_eq!(
            oss_resource(Some("b"), Some("a/b:c")),
            "acs:oss:*:*:b/a/b:c"
        );
        assert_eq!(oss_resource_in("123", Some("b"), None), "acs:oss:*:123:b");
        assert_eq!(kms_resource("k-1"), "acs:kms:*:*:key/k-1");
        assert_eq!(
            kms_alias_resource("alias/acs/oss"),
            "acs:kms:*:*:alias/acs/oss"
        );
        assert_eq!(kms_alias_resource("x"), "acs:kms:*:*:alias/x");
    }

    #[test]
    fn matching() {
        assert!(p("*").matches("acs:kms:*:*:key/1"));
        assert!(p("*").matches("garbage"));
        assert!(p("acs:oss:*:*:b").matches("acs:oss:*:*:b"));
        assert!(!p("acs:oss:*:*:b").matches("acs:oss:*:*:b/x"));
        assert!(p("acs:oss:*:*:b/*").matches("acs:oss:*:*:b/x/y:z"));
        assert!(!p("acs:oss:*:*:b/*").matches("acs:oss:*:*:b"));
        assert!(!p("acs:oss:*:*:b/*").matches("acs:oss:*:*:bb/x"));
        assert!(p("acs:oss:*:*:*").matches("acs:oss:*:*:*"));
        assert!(p("acs:oss:*:*:*").matches("acs:oss:*:*:b/k"));
        assert!(!p("acs:oss:*:*:*").matches("acs:kms:*:*:key/1"));
        assert!(p("acs:oss:*:123:b/*").matches("acs:oss:*:*:b/k"));
        assert!(p("acs:oss:*:123:b/*").matches("acs:oss:*:123:b/k"));
        assert!(!p("acs:oss:*:123:b/*").matches("acs:oss:*:456:b/k"));
        assert!(p("acs:oss:*:*:b/*").matches("acs:oss:*:456:b/k"));
        assert!(p("acs:oss:*:*:b/A?c").matches("acs:oss:*:*:b/Abc"));
        assert!(!p("acs:oss:*:*:b/A?c").matches("acs:oss:*:*:b/abc"));
        assert!(p("acs:kms:*:*:key/*").matches(&kms_resource("abc")));
        assert!(!p("acs:kms:*:*:key/*").matches(&kms_alias_resource("abc")));
        assert!(!p("acs:oss:*:*:b").matches("acs:oss:*:*"));
    }

    #[test]
    fn bucket_scope() {
        assert!(within_bucket("acs:oss:*:*:b", "b"));
        assert!(within_bucket("acs:oss:*:*:b/", "b"));
        assert!(within_bucket("acs:oss:*:*:b/k", "b"));
        assert!(!within_bucket("acs:oss:*:*:bb/k", "b"));
        assert!(!within_bucket("acs:oss:*:*:*", "b"));
        assert!(!within_bucket("acs:kms:*:*:b", "b"));
        let b = Some("b");
        assert!(ResourcePattern::parse("acs:oss:*:*:b", b).is_ok());
        assert!(ResourcePattern::parse("acs:oss:*:1:b/x*", b).is_ok());
        for bad in [
            "*",
            "acs:oss:*:*:*",
            "acs:oss:*:*:b*",
            "acs:oss:*:*:bb",
            "acs:oss:*:*:c/b",
            "acs:kms:*:*:*",
        ] {
            assert!(
                matches!(
                    ResourcePattern::parse(bad, b),
                    Err(PolicyErrorKind::ResourceOutsideBucket { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "acs:oss",
            "acs:oss:*:*",
            "arn:oss:*:*:b",
            "acs:ecs:*:*:b",
            "acs:OSS:*:*:b",
            "acs:oss:cn-hangzhou:*:b",
            "acs:oss:*::b",
            "acs:oss:*:1 2:b",
            "acs:oss:*:*:",
            "acs:oss:*:*:/k",
            "acs:oss:*:*:MyBucket",
            "acs:kms:*:*:key/",
            "acs:kms:*:*:keys/1",
            "acs:kms:*:*:alias/",
        ] {
            assert!(
                matches!(
                    ResourcePattern::parse(bad, None),
                    Err(PolicyErrorKind::MalformedResource { .. })
                ),
                "{bad}"
            );
        }
    }
}
