//! The canonical request: method, encoded path, canonical query, canonical headers, the list
//! of listed headers and the payload hash, one per line. The [`Vocabulary`] decides which
//! headers are signed, how empty query values and header values are written, and which query
//! parameter (the signature) is left out.

use std::collections::BTreeMap;

use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::vocabulary::{EmptyQueryValue, HeaderValueRule, Vocabulary};

/// RFC 3986 unreserved characters stay; everything else is `%XX` with upper-case hex.
const ENCODE_QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same for the path, where `/` also stays.
const ENCODE_PATH: &AsciiSet = &ENCODE_QUERY.remove(b'/');

/// Percent-encodes a query name or value the way the canonical query (and URLs) want it.
pub fn encode_query_component(s: &str) -> String {
    utf8_percent_encode(s, ENCODE_QUERY).to_string()
}

/// Percent-encodes a decoded path once, keeping `/`. OSS always signs `/bucket/key`; S3 signs
/// the path as sent. (AWS services other than S3 also normalise the path and encode it
/// twice; that is not modelled here.)
pub fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, ENCODE_PATH).to_string()
}

/// What of a request the canonical request covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'a str,
    /// The decoded path, starting with `/`.
    pub path: &'a str,
    /// Decoded query pairs, in any order.
    pub query: &'a [(String, String)],
    /// Header names are lower-case, as `http` keeps them.
    pub headers: &'a HeaderMap,
}

impl Vocabulary {
    /// All query parameters but the signature, encoded and sorted by name then value, joined
    /// with `&`; an empty value as [`EmptyQueryValue`] says.
    pub fn canonical_query(&self, query: &[(String, String)]) -> String {
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k != self.query.signature)
            .map(|(k, v)| (encode_query_component(k), encode_query_component(v)))
            .collect();
        pairs.sort();
        let mut out = String::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            if !v.is_empty() || self.empty_query_value == EmptyQueryValue::NameAndEquals {
                out.push('=');
                out.push_str(v);
            }
        }
        out
    }

    /// `name:value\n` for every default-signed header present and every listed one, sorted
    /// by name; repeated headers are joined with `,`.
    pub fn canonical_headers(&self, headers: &HeaderMap, listed: &[String]) -> Vec<u8> {
        header_block(
            headers,
            |name| self.is_default_signed(name) || listed.iter().any(|l| l == name),
            self.header_values,
        )
    }

    /// The canonical request. `listed` (the AdditionalHeaders or SignedHeaders) must already
    /// be lower-case, sorted and de-duplicated; `payload_hash` is the hex SHA-256 of the body
    /// or `UNSIGNED-PAYLOAD`.
    pub fn canonical_request(
        &self,
        req: &Request<'_>,
        listed: &[String],
        payload_hash: &str,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        for line in [
            req.method,
            &encode_path(req.path),
            &self.canonical_query(req.query),
        ] {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.extend(self.canonical_headers(req.headers, listed));
        out.push(b'\n');
        out.extend_from_slice(listed.join(";").as_bytes());
        out.push(b'\n');
        out.extend_from_slice(payload_hash.as_bytes());
        out
    }
}

/// Appends `value` with each run of spaces and tabs replaced by one space.
fn push_collapsed(out: &mut Vec<u8>, value: &[u8]) {
    let mut in_run = false;
    for &b in value {
        if b == b' ' || b == b'\t' {
            if !in_run {
                out.push(b' ');
            }
            in_run = true;
        } else {
            out.push(b);
            in_run = false;
        }
    }
}

/// `name:value\n` for every header `include` selects, sorted by (already lower-case) name,
/// repeated headers joined with `,` and each value normalised by `rule`. SigV4's canonical
/// headers, and OSS V1's `CanonicalizedOSSHeaders` (its `x-oss-` headers, trimmed).
pub fn header_block(
    headers: &HeaderMap,
    include: impl Fn(&str) -> bool,
    rule: HeaderValueRule,
) -> Vec<u8> {
    let selected: BTreeMap<&str, Vec<u8>> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| include(name))
        .map(|name| (name, joined_value(headers, name, rule)))
        .collect();
    let mut out = Vec::new();
    for (name, value) in selected {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&value);
        out.push(b'\n');
    }
    out
}

fn joined_value(headers: &HeaderMap, name: &str, rule: HeaderValueRule) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, v) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let trimmed = v.as_bytes().trim_ascii();
        match rule {
            HeaderValueRule::Trim => out.extend_from_slice(trimmed),
            HeaderValueRule::TrimAndCollapse => push_collapsed(&mut out, trimmed),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{AWS, OSS};

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn empty_query_values_follow_the_vocabulary() {
        let q = pairs(&[("b", "x/y z"), ("a", ""), ("a", "1")]);
        assert_eq!(OSS.canonical_query(&q), "a&a=1&b=x%2Fy%20z");
        assert_eq!(AWS.canonical_query(&q), "a=&a=1&b=x%2Fy%20z");
    }

    #[test]
    fn only_the_vocabularys_signature_parameter_is_left_out() {
        let q = pairs(&[
            ("x-oss-signature", "s"),
            ("X-Amz-Signature", "t"),
            ("k", "v"),
        ]);
        assert_eq!(OSS.canonical_query(&q), "X-Amz-Signature=t&k=v");
        assert_eq!(AWS.canonical_query(&q), "k=v&x-oss-signature=s");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed_per_vocabulary() {
        let mut h = HeaderMap::new();
        h.append("x-oss-b", " a   b\t c ".parse().unwrap());
        h.append("x-oss-b", "d".parse().unwrap());
        let listed = ["x-oss-b".to_owned()];
        assert_eq!(OSS.canonical_headers(&h, &[]), b"x-oss-b:a   b\t c,d\n");
        assert_eq!(AWS.canonical_headers(&h, &listed), b"x-oss-b:a b c,d\n");
        // AWS signs nothing it was not told to.
        assert_eq!(AWS.canonical_headers(&h, &[]), b"");
    }

    #[test]
    fn path_keeps_slashes_and_unreserved_characters() {
        assert_eq!(
            encode_path("/b/a b/c~d.e_f-g+h/ü"),
            "/b/a%20b/c~d.e_f-g%2Bh/%C3%BC"
        );
    }
}
