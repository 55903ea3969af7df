//! The facts that tell OSS V4 and AWS SigV4 apart. The algorithm is the same; only these
//! words and a few canonicalisation rules differ, so code that signs or verifies takes a
//! [`Vocabulary`] instead of branching on the dialect.
//!
//! | fact | OSS V4 (oss-api.md §3.4, §3.5) | AWS SigV4 |
//! |---|---|---|
//! | algorithm | `OSS4-HMAC-SHA256` | `AWS4-HMAC-SHA256` |
//! | signing-key prefix | `aliyun_v4` | `AWS4` |
//! | scope terminator | `aliyun_v4_request` | `aws4_request` |
//! | service | `oss` | `s3` (the test suite uses `service`) |
//! | headers signed without being listed | `x-oss-*`, `content-type`, `content-md5` | none |
//! | headers that must be listed | none | `host` |
//! | list of signed headers | `AdditionalHeaders` (only the extra ones) | `SignedHeaders` (all of them) |
//! | empty query value | bare name (`acl`) | name and `=` (`acl=`) |
//! | header values | trimmed | trimmed, inner runs of spaces collapsed |

/// Names of the presigned-URL query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryNames {
    /// Carries the algorithm name.
    pub algorithm: &'static str,
    pub credential: &'static str,
    pub date: &'static str,
    /// Validity in seconds, counted from the date.
    pub expires: &'static str,
    /// The listed headers (`;`-joined).
    pub listed_headers: &'static str,
    pub security_token: &'static str,
    /// The one parameter the canonical query leaves out.
    pub signature: &'static str,
}

/// How a query parameter with an empty value is written in the canonical query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyQueryValue {
    /// `acl`
    BareName,
    /// `acl=`
    NameAndEquals,
}

/// How a header value is normalised in the canonical headers (repeats are always joined
/// with `,`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValueRule {
    /// Surrounding whitespace removed.
    Trim,
    /// Surrounding whitespace removed and each inner run of spaces and tabs made one space.
    TrimAndCollapse,
}

/// One dialect's words for SigV4. Use [`OSS`] or [`AWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vocabulary {
    /// First line of the string to sign and first word of the `Authorization` header.
    pub algorithm: &'static str,
    /// Prepended to the secret to make the first HMAC key.
    pub key_prefix: &'static str,
    /// Last element of the credential scope and last HMAC of the key derivation.
    pub terminator: &'static str,
    /// The service (product) element of the scope when the caller has no other.
    pub service: &'static str,
    /// Prefix of the dialect's own headers.
    pub header_prefix: &'static str,
    /// Carries the signing time `yyyymmddThhmmssZ` in header-signed requests.
    pub date_header: &'static str,
    /// Carries the payload hash (or `UNSIGNED-PAYLOAD`).
    pub content_sha256_header: &'static str,
    pub security_token_header: &'static str,
    /// Whether every header starting with [`header_prefix`](Self::header_prefix) is signed
    /// without being listed.
    pub signs_prefixed_headers: bool,
    /// Other headers signed, when present, without being listed.
    pub default_signed_headers: &'static [&'static str],
    /// Headers a signature must list.
    pub required_listed_headers: &'static [&'static str],
    /// Name of the `Authorization` field holding the listed headers.
    pub listed_headers_field: &'static str,
    /// Between the fields of the `Authorization` header a signer writes.
    pub field_separator: &'static str,
    pub empty_query_value: EmptyQueryValue,
    pub header_values: HeaderValueRule,
    pub query: QueryNames,
}

/// Alibaba Cloud OSS V4.
pub const OSS: Vocabulary = Vocabulary {
    algorithm: "OSS4-HMAC-SHA256",
    key_prefix: "aliyun_v4",
    terminator: "aliyun_v4_request",
    service: "oss",
    header_prefix: "x-oss-",
    date_header: "x-oss-date",
    content_sha256_header: "x-oss-content-sha256",
    security_token_header: "x-oss-security-token",
    signs_prefixed_headers: true,
    default_signed_headers: &["content-type", "content-md5"],
    required_listed_headers: &[],
    listed_headers_field: "AdditionalHeaders",
    field_separator: ",",
    empty_query_value: EmptyQueryValue::BareName,
    header_values: HeaderValueRule::Trim,
    query: QueryNames {
        algorithm: "x-oss-signature-version",
        credential: "x-oss-credential",
        date: "x-oss-date",
        expires: "x-oss-expires",
        listed_headers: "x-oss-additional-headers",
        security_token: "x-oss-security-token",
        signature: "x-oss-signature",
    },
};

/// AWS Signature Version 4, with S3 as the default service.
pub const AWS: Vocabulary = Vocabulary {
    algorithm: "AWS4-HMAC-SHA256",
    key_prefix: "AWS4",
    terminator: "aws4_request",
    service: "s3",
    header_prefix: "x-amz-",
    date_header: "x-amz-date",
    content_sha256_header: "x-amz-content-sha256",
    security_token_header: "x-amz-security-token",
    signs_prefixed_headers: false,
    default_signed_headers: &[],
    required_listed_headers: &["host"],
    listed_headers_field: "SignedHeaders",
    field_separator: ", ",
    empty_query_value: EmptyQueryValue::NameAndEquals,
    header_values: HeaderValueRule::TrimAndCollapse,
    query: QueryNames {
        algorithm: "X-Amz-Algorithm",
        credential: "X-Amz-Credential",
        date: "X-Amz-Date",
        expires: "X-Amz-Expires",
        listed_headers: "X-Amz-SignedHeaders",
        security_token: "X-Amz-Security-Token",
        signature: "X-Amz-Signature",
    },
};

impl Vocabulary {
    /// Whether a (lower-case) header is signed whether or not it is listed.
    pub fn is_default_signed(&self, name: &str) -> bool {
        (self.signs_prefixed_headers && name.starts_with(self.header_prefix))
            || self.default_signed_headers.contains(&name)
    }

    /// What a signer lists: the requested names and the required ones, lower-cased, sorted
    /// and de-duplicated, keeping only those present in `headers` and not signed anyway
    /// (which is what the OSS SDKs do with AdditionalHeaders).
    pub fn headers_to_list(&self, headers: &http::HeaderMap, requested: &[&str]) -> Vec<String> {
        let names = requested
            .iter()
            .chain(self.required_listed_headers)
            .copied();
        let mut names = normalize_header_names(names);
        names.retain(|n| !self.is_default_signed(n) && headers.contains_key(n.as_str()));
        names
    }
}

/// Lower-cases, sorts and de-duplicates header names.
pub fn normalize_header_names<'n>(names: impl IntoIterator<Item = &'n str>) -> Vec<String> {
    let mut out: Vec<String> = names.into_iter().map(str::to_ascii_lowercase).collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_signed_headers_are_a_vocabulary_fact() {
        for name in ["x-oss-date", "x-oss-meta-a", "content-type", "content-md5"] {
            assert!(OSS.is_default_signed(name), "{name}");
            assert!(!AWS.is_default_signed(name), "{name}");
        }
        assert!(!OSS.is_default_signed("host"));
        assert!(!OSS.is_default_signed("x-amz-date"));
    }

    #[test]
    fn listed_headers_follow_the_vocabulary() {
        let mut h = http::HeaderMap::new();
        for (k, v) in [
            ("host", "h"),
            ("range", "bytes=0-1"),
            ("content-type", "text/plain"),
            ("x-oss-date", "d"),
            ("x-amz-date", "d"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        let requested = [
            "Range",
            "content-type",
            "x-oss-date",
            "x-amz-date",
            "absent",
        ];
        assert_eq!(OSS.headers_to_list(&h, &requested), ["range", "x-amz-date"]);
        assert_eq!(
            AWS.headers_to_list(&h, &requested),
            ["content-type", "host", "range", "x-amz-date", "x-oss-date"]
        );
    }
}
