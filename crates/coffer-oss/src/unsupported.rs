//! Request headers that ask for something Coffer does not do.
//!
//! A header an operation ignores must not be taken as done: an upload that asked for a
//! bandwidth limit, a callback or tags and got 200 would let the client believe it had
//! them. Each such header is refused with `NotImplemented`, after authentication and before
//! anything is read or written. Object tags are checked the way OSS checks them first, so a
//! malformed `x-oss-tagging` gets OSS's own 400 rather than a NotImplemented that would hide
//! the fault.

use http::{HeaderMap, HeaderName};
use percent_encoding::percent_decode_str;

use crate::error::{ErrorCode, OssError, OssResult};
use crate::operation::Operation;

/// Headers refused on every operation, with what they would have asked for. The names are
/// prebuilt: a lookup by `&str` validates the name's every byte first, which made these
/// checks cost six times the routing itself on a small GET.
const REFUSED: [(HeaderName, &str); 3] = [
    (
        HeaderName::from_static("x-oss-traffic-limit"),
        "Bandwidth limits (x-oss-traffic-limit)",
    ),
    (
        HeaderName::from_static("x-oss-callback"),
        "Upload callbacks (x-oss-callback)",
    ),
    (
        HeaderName::from_static("x-oss-callback-var"),
        "Upload callbacks (x-oss-callback-var)",
    ),
];

pub const TAGGING: &str = "x-oss-tagging";
const TAGGING_HEADER: HeaderName = HeaderName::from_static(TAGGING);
/// OSS's limits on object tags.
const MAX_TAGS: usize = 10;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// Refuses the headers of `headers` that `op` would otherwise ignore.
pub fn check(op: Operation, headers: &HeaderMap) -> OssResult<()> {
    for (name, what) in &REFUSED {
        if headers.contains_key(name) {
            return Err(OssError::not_implemented(what));
        }
    }
    if sets_tags(op)
        && let Some(value) = headers.get(&TAGGING_HEADER)
    {
        let value = value
            .to_str()
            .map_err(|_| tag_format_error("(not ASCII)"))?;
        parse_tagging(value)?;
        return Err(OssError::not_implemented("Object tagging (x-oss-tagging)"));
    }
    Ok(())
}

/// The operations on which `x-oss-tagging` sets the new object's tags.
fn sets_tags(op: Operation) -> bool {
    matches!(
        op,
        Operation::PutObject
            | Operation::AppendObject
            | Operation::CopyObject
            | Operation::InitiateMultipartUpload
            | Operation::PostObject
    )
}

/// Parses `k1=v1&k2=v2` (each part URL-encoded, `=v` optional) as OSS does.
pub fn parse_tagging(value: &str) -> OssResult<Vec<(String, String)>> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for pair in value.split('&').filter(|p| !p.is_empty()) {
        let mut parts = pair.split('=');
        let key = decode(parts.next().unwrap_or_default(), value)?;
        let tag_value = decode(parts.next().unwrap_or_default(), value)?;
        if parts.next().is_some() || key.is_empty() {
            return Err(tag_format_error(value));
        }
        if key.chars().count() > MAX_TAG_KEY
            || tag_value.chars().count() > MAX_TAG_VALUE
            || !key.chars().chain(tag_value.chars()).all(allowed_tag_char)
        {
            return Err(invalid_tag(
                value,
                "Tag keys are at most 128 characters and values at most 256, of letters, digits, spaces and + - = . _ : /.",
            ));
        }
        if tags.iter().any(|(k, _)| *k == key) {
            return Err(invalid_tag(value, "Tag keys must be unique."));
        }
        tags.push((key, tag_value));
    }
    if tags.len() > MAX_TAGS {
        return Err(invalid_tag(value, "An object can have at most 10 tags."));
    }
    Ok(tags)
}

fn allowed_tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '+' | '-' | '=' | '.' | '_' | ':' | '/')
}

fn decode(part: &str, whole: &str) -> OssResult<String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| tag_format_error(whole))
}

fn tag_format_error(value: &str) -> OssError {
    OssError::of(
        ErrorCode::TaggingFormat,
        "The x-oss-tagging header must be in the form key1=value1&key2=value2.",
    )
    .with_extra("ArgumentName", TAGGING)
    .with_extra("ArgumentValue", value)
}

fn invalid_tag(value: &str, message: &str) -> OssError {
    OssError::of(ErrorCode::InvalidTag, message)
        .with_extra("ArgumentName", TAGGING)
        .with_extra("ArgumentValue", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn tags_parse_as_oss_reads_them() {
        let tags = parse_tagging("a=1&b%20c=x%2Fy&flag").unwrap();
        assert_eq!(
            tags,
            vec![
                ("a".into(), "1".into()),
                ("b c".into(), "x/y".into()),
                ("flag".into(), String::new())
            ]
        );
    }

    #[test]
    fn malformed_tags_get_oss_errors() {
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        let long_key = format!("{}=v", "k".repeat(129));
        for (value, ec) in [
            ("aa=bb=cc", "0010-00000219"),
            ("=v", "0010-00000219"),
            (eleven.join("&").as_str(), "0010-00000217"),
            ("a=1&a=2", "0010-00000217"),
            ("a=%3C", "0010-00000217"),
            (long_key.as_str(), "0010-00000217"),
        ] {
            let err = parse_tagging(value).expect_err(value);
            assert_eq!(
                (err.status().as_u16(), err.code.as_str(), err.ec()),
                (400, "InvalidArgument", ec)
            );
        }
    }

    #[test]
    fn ignored_headers_are_refused() {
        for name in ["x-oss-traffic-limit", "x-oss-callback"] {
            let err = check(Operation::GetObject, &headers(&[(name, "1")])).unwrap_err();
            assert_eq!(err.code.as_str(), "NotImplemented");
        }
        let err = check(Operation::PutObject, &headers(&[(TAGGING, "a=1")])).unwrap_err();
        assert_eq!(err.code.as_str(), "NotImplemented");
        let err = check(Operation::PutObject, &headers(&[(TAGGING, "a=1=2")])).unwrap_err();
        assert_eq!(err.code.as_str(), "InvalidArgument");
        // GetObject does not set tags; OSS ignores the header there.
        assert!(check(Operation::GetObject, &headers(&[(TAGGING, "a=1")])).is_ok());
    }
}
