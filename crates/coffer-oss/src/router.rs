//! From an HTTP request line and Host header to a bucket, a key and the decoded query; the
//! operation they name is chosen in [`crate::operation`].

use percent_encoding::percent_decode_str;

use crate::error::{ErrorCode, OssError, OssResult};

/// Where a request points. OSS addresses a bucket by virtual host (`bucket.<domain>`) or
/// by the first path segment; both end up here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

impl Target {
    pub fn new(bucket: Option<&str>, key: Option<&str>) -> Target {
        Target {
            bucket: bucket.map(str::to_owned),
            key: key.map(str::to_owned),
        }
    }
}

/// Decoded query parameters in request order. `?acl` is `("acl", "")`.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> OssResult<Query> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Query(pairs))
    }

    /// The first value of `name`; repeated parameters keep their first value, as OSS does.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Like [`Query::get`], but an empty value counts as absent: oss2 sends paging
    /// parameters such as `part-number-marker=` even when it has no value for them.
    pub fn get_nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// Form-style decoding: the SDKs send a space in a query value as `+` (and a literal `+`
/// as `%2B`), and sign the decoded value.
fn decode(s: &str) -> OssResult<String> {
    let s = s.replace('+', " ");
    percent_decode_str(&s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            OssError::invalid_argument("query", &s, "The query string is not valid UTF-8.")
        })
}

/// Resolves the bucket and key. `domains` are the names the server answers to, so that
/// `bucket.<domain>` selects a bucket; any other host (an IP, `localhost`) means path
/// style.
pub fn resolve_target(host: Option<&str>, path: &str, domains: &[String]) -> OssResult<Target> {
    let host = host.map(|h| strip_port(h).to_ascii_lowercase());
    let vhost_bucket = host.as_deref().and_then(|h| {
        domains.iter().find_map(|d| {
            let bucket = h.strip_suffix(d.as_str())?.strip_suffix('.')?;
            (!bucket.is_empty() && !bucket.contains('.')).then(|| bucket.to_owned())
        })
    });
    let path = path.strip_prefix('/').unwrap_or(path);
    let invalid_key = || {
        OssError::of(
            ErrorCode::InvalidObjectName,
            "The object name is not valid UTF-8.",
        )
    };
    let decode_key = |raw: &str| -> OssResult<Option<String>> {
        if raw.is_empty() {
            return Ok(None);
        }
        percent_decode_str(raw)
            .decode_utf8()
            .map(|k| Some(k.into_owned()))
            .map_err(|_| invalid_key())
    };
    match vhost_bucket {
        Some(bucket) => Ok(Target {
            bucket: Some(bucket),
            key: decode_key(path)?,
        }),
        None => {
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            let bucket = percent_decode_str(bucket)
                .decode_utf8()
                .map_err(|_| invalid_key())?;
            if bucket.is_empty() {
                return Ok(Target {
                    bucket: None,
                    key: None,
                });
            }
            Ok(Target {
                bucket: Some(bucket.into_owned()),
                key: decode_key(key)?,
            })
        }
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(b: Option<&str>, k: Option<&str>) -> Target {
        Target::new(b, k)
    }

    #[test]
    fn path_and_virtual_host_addressing() {
        let domains = vec!["oss.local".to_string()];
        assert_eq!(
            resolve_target(Some("127.0.0.1:7070"), "/", &domains).unwrap(),
            t(None, None)
        );
        assert_eq!(
            resolve_target(Some("127.0.0.1"), "/b", &domains).unwrap(),
            t(Some("b"), None)
        );
        assert_eq!(
            resolve_target(Some("127.0.0.1"), "/b/", &domains).unwrap(),
            t(Some("b"), None)
        );
        assert_eq!(
            resolve_target(Some("127.0.0.1"), "/b/a%2Fc/d%20e", &domains).unwrap(),
            t(Some("b"), Some("a/c/d e"))
        );
        assert_eq!(
            resolve_target(Some("bkt.oss.local:7070"), "/x/y", &domains).unwrap(),
            t(Some("bkt"), Some("x/y"))
        );
        assert_eq!(
            resolve_target(Some("oss.local"), "/bkt/k", &domains).unwrap(),
            t(Some("bkt"), Some("k"))
        );
        assert!(resolve_target(None, "/b/%FF", &domains).is_err());
    }

    #[test]
    fn query_keeps_bare_names_and_first_values() {
        let q = Query::parse(Some("acl&uploadId=A%2BB&x=1&x=2&prefix=a+b")).unwrap();
        assert_eq!(q.get("prefix"), Some("a b"));
        assert!(q.has("acl"));
        assert_eq!(q.get("uploadId"), Some("A+B"));
        assert_eq!(q.get("x"), Some("1"));
    }
}
