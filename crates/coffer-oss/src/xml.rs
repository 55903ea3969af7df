//! OSS XML bodies: request parsers and response renderers.
//!
//! This module is deliberately independent from the rest of the server: the
//! response types are plain data (owned strings, integers, booleans; times are
//! strings the handler formats, normally with [`iso8601_millis`]) and every
//! renderer returns a complete document starting with [`XML_DECLARATION`].
//!
//! Element names and their order follow the OSS API reference (the SDK
//! samples and the official documentation). Output is compact: no whitespace
//! between elements.
//!
//! # Escaping
//!
//! All character data goes through [`escape_text`]: `&`, `<` and `>` become
//! entities, a carriage return becomes `&#13;` (so that a conforming parser
//! does not normalise it away), and double quotes are left alone (ETags are
//! rendered as `<ETag>"…"</ETag>`, as OSS does). Characters XML 1.0 forbids
//! entirely (C0 controls other than tab/newline/carriage return, U+FFFE and
//! U+FFFF) cannot be represented in an XML 1.0 document at all; they are
//! written as numeric character references (`&#x1;`), which is the best effort
//! possible and is readable by lenient parsers. Strict parsers will reject such
//! a document: that is exactly why OSS clients ask for `encoding-type=url`, in
//! which case the affected fields are percent-encoded with [`url_encode_key`]
//! and contain only ASCII.
//!
//! # Request parsing
//!
//! Request bodies are first checked for well-formedness and for the expected
//! root element (namespaces are ignored, DTDs are refused), then deserialised
//! with quick-xml's serde support. Every failure is an [`XmlError`], which the
//! caller maps to `400 MalformedXML`. Unknown elements are ignored.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::events::{BytesStart, Event};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::{OffsetDateTime, UtcOffset};

mod bucket;
mod client_encryption;
mod listing;
mod object;
mod request;

pub use bucket::*;
pub use listing::*;
pub use object::*;
pub use request::*;
// Shared with the other document modules (and the tests below).
use bucket::non_empty;
pub use client_encryption::ClientEncryption;
use request::parse_document;

/// The declaration every rendered document starts with.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Prefix of the `RecommendDoc` URL in error bodies; the EC is appended.
pub const RECOMMEND_DOC_BASE: &str = "https://api.aliyun.com/troubleshoot?q=";

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A request body that is not well-formed XML or does not have the expected
/// shape. Callers answer it with `400 MalformedXML`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    message: String,
}

impl XmlError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// A human-readable description of what was wrong (for logs, not for
    /// the client: the client gets the standard MalformedXML message).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed XML: {}", self.message)
    }
}

impl std::error::Error for XmlError {}

// ---------------------------------------------------------------------------
// Helpers: escaping, url encoding, time formatting
// ---------------------------------------------------------------------------

/// Bytes that `encoding-type=url` leaves alone: the RFC 3986 unreserved set
/// `A-Z a-z 0-9 - _ . ~`. Everything else, including `/`, `+`, space and
/// every byte of a multi-byte UTF-8 sequence, becomes `%XX` (upper-case hex).
const URL_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a key (or prefix, marker, delimiter…) the way OSS does for
/// `encoding-type=url`, e.g. `fun/movie/007.avi` → `fun%2Fmovie%2F007.avi`.
///
/// SDKs decode with `unquote` (Python), `url.QueryUnescape` (Go) or
/// `URLDecoder` (Java); the latter two turn `+` into a space, so `+` must be
/// (and is) encoded as `%2B`, and a space as `%20`.
pub fn url_encode_key(s: &str) -> String {
    utf8_percent_encode(s, URL_ENCODE_SET).to_string()
}

/// Formats a time as OSS does in XML bodies: UTC with milliseconds,
/// `2012-02-24T08:42:32.000Z`.
pub fn iso8601_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Whether XML 1.0 forbids the character outright (even as a reference).
fn forbidden_in_xml10(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '\r') || forbidden_in_xml10(c)
}

/// Escapes character data for use between tags. See the module
/// documentation for the treatment of characters XML 1.0 forbids.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if forbidden_in_xml10(c) => {
                // Best effort: not valid XML 1.0, see the module docs.
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Returns the ETag wrapped in double quotes, unless it already is.
fn quoted_etag(etag: &str) -> Cow<'_, str> {
    if etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"') {
        Cow::Borrowed(etag)
    } else {
        Cow::Owned(format!("\"{etag}\""))
    }
}

// ---------------------------------------------------------------------------
// A tiny compact writer
// ---------------------------------------------------------------------------

struct Doc {
    out: String,
}

impl Doc {
    fn new(root: &str) -> Self {
        let mut out = String::with_capacity(512);
        out.push_str(XML_DECLARATION);
        let mut doc = Self { out };
        doc.open(root);
        doc
    }

    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>escaped text</name>`
    fn text(&mut self, name: &str, value: &str) {
        self.open(name);
        self.out.push_str(&escape_text(value));
        self.close(name);
    }

    fn text_opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.text(name, v);
        }
    }

    /// A field that is percent-encoded when `encode` (encoding-type=url).
    fn key(&mut self, name: &str, value: &str, encode: bool) {
        if encode {
            self.text(name, &url_encode_key(value));
        } else {
            self.text(name, value);
        }
    }

    fn key_opt(&mut self, name: &str, value: Option<&str>, encode: bool) {
        if let Some(v) = value {
            self.key(name, v, encode);
        }
    }

    /// Numbers and booleans (never need escaping).
    fn num(&mut self, name: &str, value: impl fmt::Display) {
        self.open(name);
        let _ = write!(self.out, "{value}");
        self.close(name);
    }

    fn etag(&mut self, etag: &str) {
        self.text("ETag", &quoted_etag(etag));
    }

    fn encoding_type(&mut self, encode: bool) {
        if encode {
            self.text("EncodingType", "url");
        }
    }

    /// `<Owner><ID>…</ID><DisplayName>…</DisplayName></Owner>` (listings, ACL).
    fn owner_id_first(&mut self, owner: &Owner) {
        self.open("Owner");
        self.text("ID", &owner.id);
        self.text("DisplayName", &owner.display_name);
        self.close("Owner");
    }

    /// `<Owner><DisplayName>…</DisplayName><ID>…</ID></Owner>` (BucketInfo).
    fn owner_name_first(&mut self, owner: &Owner) {
        self.open("Owner");
        self.text("DisplayName", &owner.display_name);
        self.text("ID", &owner.id);
        self.close("Owner");
    }

    fn common_prefixes(&mut self, prefixes: &[String], encode: bool) {
        for p in prefixes {
            self.open("CommonPrefixes");
            self.key("Prefix", p, encode);
            self.close("CommonPrefixes");
        }
    }

    fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.out
    }
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// A bucket or object owner.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Owner {
    pub id: String,
    pub display_name: String,
}

/// The `Error` body (§4.2). Also what the caller base64-encodes into the
/// `x-oss-err` header for HEAD and other bodiless error responses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorXml {
    pub code: String,
    pub message: String,
    pub request_id: String,
    /// The endpoint or host the client used.
    pub host_id: String,
    /// Operation-specific extras, rendered in order between `HostId` and
    /// `EC`, e.g. `("OSSAccessKeyId", ak)`, `("StringToSign", …)`,
    /// `("ArgumentName", …)`. Names must be valid XML names.
    pub extra: Vec<(&'static str, String)>,
    /// Fine-grained error code `NNNN-NNNNNNNN`. When set, `EC` and
    /// `RecommendDoc` are emitted.
    pub ec: Option<String>,
}

impl ErrorXml {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("Error");
        d.text("Code", &self.code);
        d.text("Message", &self.message);
        d.text("RequestId", &self.request_id);
        d.text("HostId", &self.host_id);
        for (name, value) in &self.extra {
            d.text(name, value);
        }
        if let Some(ec) = &self.ec {
            d.text("EC", ec);
            d.text("RecommendDoc", &format!("{RECOMMEND_DOC_BASE}{ec}"));
        }
        d.finish("Error")
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Turns an indented sample into the compact form the renderers produce:
    /// every line trimmed, lines joined, XML comments removed.
    fn compact(sample: &str) -> String {
        let mut joined = String::new();
        for line in sample.lines() {
            let mut line = line.to_owned();
            while let Some(start) = line.find("<!--") {
                let end = line[start..].find("-->").expect("closed comment") + start + 3;
                line.replace_range(start..end, "");
            }
            joined.push_str(line.trim());
        }
        format!("{XML_DECLARATION}{joined}")
    }

    fn owner(id: &str, name: &str) -> Owner {
        Owner {
            id: id.into(),
            display_name: name.into(),
        }
    }

    /// Every rendered document must be readable by quick-xml again.
    fn assert_well_formed(xml: &str) {
        let mut r = quick_xml::Reader::from_str(xml);
        loop {
            match r.read_event() {
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}\n{xml}"),
            }
        }
    }

    // ----- helpers -------------------------------------------------------

    #[test]
    fn url_encoding_matches_oss_samples() {
        assert_eq!(url_encode_key("fun/movie/007.avi"), "fun%2Fmovie%2F007.avi");
        assert_eq!(url_encode_key("fun/test.jpg"), "fun%2Ftest.jpg");
        assert_eq!(url_encode_key("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(url_encode_key("AZaz09"), "AZaz09");
        assert_eq!(url_encode_key("a b+c"), "a%20b%2Bc");
        assert_eq!(url_encode_key("&<>\"'%*"), "%26%3C%3E%22%27%25%2A");
        assert_eq!(url_encode_key("\u{1}\r\n"), "%01%0D%0A");
        assert_eq!(url_encode_key("中文"), "%E4%B8%AD%E6%96%87");
        assert_eq!(url_encode_key(""), "");
    }

    #[test]
    fn iso8601_has_millis_and_utc() {
        let t = time::macros::datetime!(2012-02-24 08:42:32 UTC);
        assert_eq!(iso8601_millis(t), "2012-02-24T08:42:32.000Z");
        let t = time::macros::datetime!(2019-04-09 11:45:32.123_456 +08:00);
        assert_eq!(iso8601_millis(t), "2019-04-09T03:45:32.123Z");
    }

    #[test]
    fn escaping() {
        assert!(matches!(escape_text("plain/key.txt"), Cow::Borrowed(_)));
        assert_eq!(escape_text("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d\"e'f");
        assert_eq!(escape_text("tab\tnl\ncr\r"), "tab\tnl\ncr&#13;");
        assert_eq!(
            escape_text("x\u{1}y\u{1F}z\u{FFFF}"),
            "x&#x1;y&#x1F;z&#xFFFF;"
        );
        assert_eq!(escape_text("中文 é"), "中文 é");
    }

    #[test]
    fn etag_quoting() {
        assert_eq!(quoted_etag("ABC"), "\"ABC\"");
        assert_eq!(quoted_etag("\"ABC\""), "\"ABC\"");
        assert_eq!(quoted_etag("\""), "\"\"\"");
    }

    // ----- responses -----------------------------------------------------

    #[test]
    fn error_golden() {
        let e = ErrorXml {
            code: "InvalidAccessKeyId".into(),
            message: "The OSS Access Key Id you provided does not exist in our records.".into(),
            request_id: "5C06A3B67B8B5A3DA422299D".into(),
            host_id: "oss-cn-hangzhou.aliyuncs.com".into(),
            extra: vec![("OSSAccessKeyId", "ak".into())],
            ec: Some("0002-00000902".into()),
        };
        let expected = compact(
            r#"<Error>
  <Code>InvalidAccessKeyId</Code>
  <Message>The OSS Access Key Id you provided does not exist in our records.</Message>
  <RequestId>5C06A3B67B8B5A3DA422299D</RequestId>
  <HostId>oss-cn-hangzhou.aliyuncs.com</HostId>
  <OSSAccessKeyId>ak</OSSAccessKeyId>
  <EC>0002-00000902</EC>
  <RecommendDoc>https://api.aliyun.com/troubleshoot?q=0002-00000902</RecommendDoc>
</Error>"#,
        );
        assert_eq!(e.to_xml(), expected);
    }

    #[test]
    fn error_without_ec_and_escaped() {
        let e = ErrorXml {
            code: "SignatureDoesNotMatch".into(),
            message: "a <b> & c".into(),
            request_id: "R".into(),
            host_id: "h".into(),
            extra: vec![("StringToSign", "PUT\n\n\n/b/k&1".into())],
            ec: None,
        };
        let xml = e.to_xml();
        assert_eq!(
            xml,
            format!(
                "{XML_DECLARATION}<Error><Code>SignatureDoesNotMatch</Code>\
                 <Message>a &lt;b&gt; &amp; c</Message><RequestId>R</RequestId>\
                 <HostId>h</HostId><StringToSign>PUT\n\n\n/b/k&amp;1</StringToSign></Error>"
            )
        );
        assert_well_formed(&xml);
    }

    #[test]
    fn list_buckets_golden_paginated() {
        let r = ListAllMyBucketsResult {
            page: Some(ListBucketsPage {
                prefix: "my".into(),
                marker: String::new(),
                max_keys: 10,
                is_truncated: true,
                next_marker: Some("mybucket10".into()),
            }),
            owner: owner("512**", "51264"),
            buckets: vec![BucketSummary {
                creation_date: "2014-02-07T18:12:43.000Z".into(),
                extranet_endpoint: "oss-cn-shanghai.aliyuncs.com".into(),
                intranet_endpoint: "oss-cn-shanghai-internal.aliyuncs.com".into(),
                location: "oss-cn-shanghai".into(),
                name: "test-bucket-1".into(),
                region: "cn-shanghai".into(),
                storage_class: "IA".into(),
                resource_group_id: Some("rg-acfmxmt3***".into()),
            }],
        };
        let expected = compact(
            r#"<ListAllMyBucketsResult>
  <Prefix>my</Prefix><Marker></Marker><MaxKeys>10</MaxKeys>
  <IsTruncated>true</IsTruncated><NextMarker>mybucket10</NextMarker>
  <Owner><ID>512**</ID><DisplayName>51264</DisplayName></Owner>
  <Buckets>
    <Bucket>
      <CreationDate>2014-02-07T18:12:43.000Z</CreationDate>
      <ExtranetEndpoint>oss-cn-shanghai.aliyuncs.com</ExtranetEndpoint>
      <IntranetEndpoint>oss-cn-shanghai-internal.aliyuncs.com</IntranetEndpoint>
      <Location>oss-cn-shanghai</Location>
      <Name>test-bucket-1</Name>
      <Region>cn-shanghai</Region>
      <StorageClass>IA</StorageClass>
      <ResourceGroupId>rg-acfmxmt3***</ResourceGroupId>
    </Bucket>
  </Buckets>
</ListAllMyBucketsResult>"#,
        );
        assert_eq!(r.to_xml(), expected);
    }

    #[test]
    fn list_buckets_unpaginated_and_empty() {
        let r = ListAllMyBucketsResult {
            page: None,
            owner: owner("1", "1"),
            buckets: vec![],
        };
        assert_eq!(
            r.to_xml(),
            format!(
                "{XML_DECLARATION}<ListAllMyBucketsResult><Owner><ID>1</ID>\
                 <DisplayName>1</DisplayName></Owner><Buckets></Buckets>\
                 </ListAllMyBucketsResult>"
            )
        );
    }

    fn sample_object(key: &str, owner_: Option<Owner>) -> ObjectSummary {
        ObjectSummary {
            key: key.into(),
            last_modified: "2012-02-24T08:42:32.000Z".into(),
            etag: "5B3C1A2E053D763E1B002CC607C5A0FE".into(),
            object_type: "Normal".into(),
            size: 344606,
            storage_class: "Standard".into(),
            owner: owner_,
        }
    }

    #[test]
    fn list_objects_v1_golden_url_encoded() {
        let r = ListBucketResultV1 {
            name: "examplebucket".into(),
            prefix: String::new(),
            marker: String::new(),
            max_keys: 100,
            delimiter: "/".into(),
            encode_url: true,
            is_truncated: true,
            next_marker: Some("fun/movie/007.avi".into()),
            contents: vec![sample_object(
                "fun/test.jpg",
                Some(owner("0022012****", "user-example")),
            )],
            common_prefixes: vec!["fun/movie/".into()],
        };
        let expected = compact(
            r#"<ListBucketResult>
  <Name>examplebucket</Name><Prefix></Prefix><Marker></Marker><MaxKeys>100</MaxKeys>
  <Delimiter>%2F</Delimiter><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <NextMarker>fun%2Fmovie%2F007.avi</NextMarker>
  <Contents>
    <Key>fun%2Ftest.jpg</Key>
    <LastModified>2012-02-24T08:42:32.000Z</LastModified>
    <ETag>"5B3C1A2E053D763E1B002CC607C5A0FE"</ETag>
    <Type>Normal</Type>
    <Size>344606</Size>
    <StorageClass>Standard</StorageClass>
    <Owner><ID>0022012****</ID><DisplayName>user-example</DisplayName></Owner>
  </Contents>
  <CommonPrefixes><Prefix>fun%2Fmovie%2F</Prefix></CommonPrefixes>
</ListBucketResult>"#,
        );
        assert_eq!(r.to_xml(), expected);
    }

    #[test]
    fn list_objects_v1_plain_escapes_keys() {
        let r = ListBucketResultV1 {
            name: "b".into(),
            prefix: "a&b".into(),
            marker: "<m>".into(),
            max_keys: 1,
            delimiter: String::new(),
            encode_url: false,
            is_truncated: false,
            next_marker: None,
            contents: vec![sample_object("a&b/<c>\"d'\r", None)],
            common_prefixes: vec!["a&b/x/".into()],
        };
        let xml = r.to_xml();
        assert!(!xml.contains("EncodingType"));
        assert!(!xml.contains("NextMarker"));
        assert!(!xml.contains("<Owner>"));
        assert!(xml.contains("<Prefix>a&amp;b</Prefix><Marker>&lt;m&gt;</Marker>"));
        assert!(xml.contains("<Delimiter></Delimiter>"));
        assert!(xml.contains("<Key>a&amp;b/&lt;c&gt;\"d'&#13;</Key>"));
        assert!(xml.contains("<CommonPrefixes><Prefix>a&amp;b/x/</Prefix></CommonPrefixes>"));
        assert_well_formed(&xml);

        // And the key survives a parse by a conforming reader.
        #[derive(Deserialize)]
        struct Listing {
            #[serde(rename = "Contents")]
            contents: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "Key")]
            key: String,
        }
        let listing: Listing = quick_xml::de::from_str(&xml).unwrap();
        assert_eq!(listing.contents[0].key, "a&b/<c>\"d'\r");
    }

    #[test]
    fn list_objects_control_chars_do_not_panic() {
        let mut r = ListBucketResultV1 {
            name: "b".into(),
            contents: vec![sample_object("bad\u{1}key\u{0}", None)],
            ..Default::default()
        };
        assert!(r.to_xml().contains("<Key>bad&#x1;key&#x0;</Key>"));
        r.encode_url = true;
        assert!(r.to_xml().contains("<Key>bad%01key%00</Key>"));
    }

    #[test]
    fn list_objects_v2_golden() {
        let r = ListBucketResultV2 {
            name: "examplebucket".into(),
            prefix: "aaa".into(),
            continuation_token: Some("CgJiYw--".into()),
            max_keys: 100,
            delimiter: Some("/".into()),
            start_after: Some("b".into()),
            encode_url: true,
            is_truncated: true,
            next_continuation_token: Some("NextChR1c2VyL2VyaWMvZGVtbzMuanNvbhAA".into()),
            contents: vec![ObjectSummary {
                last_modified: "2020-06-22T11:42:32.000Z".into(),
                ..sample_object("exampleobject11.txt", None)
            }],
            common_prefixes: vec!["a/b/".into()],
        };
        // Same as the reference sample, except that Delimiter and the common
        // prefix are url-encoded as the reference's encoding list requires.
        let expected = compact(
            r#"<ListBucketResult>
  <Name>examplebucket</Name><Prefix>aaa</Prefix><ContinuationToken>CgJiYw--</ContinuationToken>
  <MaxKeys>100</MaxKeys><Delimiter>%2F</Delimiter><StartAfter>b</StartAfter>
  <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <NextContinuationToken>NextChR1c2VyL2VyaWMvZGVtbzMuanNvbhAA</NextContinuationToken>
  <Contents>
    <Key>exampleobject11.txt</Key><LastModified>2020-06-22T11:42:32.000Z</LastModified>
    <ETag>"5B3C1A2E053D763E1B002CC607C5A0FE"</ETag><Type>Normal</Type><Size>344606</Size>
    <StorageClass>Standard</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>a%2Fb%2F</Prefix></CommonPrefixes>
  <KeyCount>2</KeyCount>
</ListBucketResult>"#,
        );
        assert_eq!(r.to_xml(), expected);
    }

    #[test]
    fn list_objects_v2_minimal_with_owner() {
        let r = ListBucketResultV2 {
            name: "b".into(),
            max_keys: 100,
            contents: vec![sample_object("k", Some(owner("1", "n")))],
            ..Default::default()
        };
        let xml = r.to_xml();
        assert_eq!(
            xml,
            format!(
                "{XML_DECLARATION}<ListBucketResult><Name>b</Name><Prefix></Prefix>\
                 <MaxKeys>100</MaxKeys><IsTruncated>false</IsTruncated><Contents>\
                 <Key>k</Key><LastModified>2012-02-24T08:42:32.000Z</LastModified>\
                 <ETag>\"5B3C1A2E053D763E1B002CC607C5A0FE\"</ETag><Type>Normal</Type>\
                 <Size>344606</Size><StorageClass>Standard</StorageClass><Owner><ID>1</ID>\
                 <DisplayName>n</DisplayName></Owner></Contents><KeyCount>1</KeyCount>\
                 </ListBucketResult>"
            )
        );
    }

    fn bucket_info_sample() -> BucketInfo {
        BucketInfo {
            access_monitor: Some("Enabled".into()),
            creation_date: "2013-07-31T10:56:21.000Z".into(),
            extranet_endpoint: "oss-cn-hangzhou.aliyuncs.com".into(),
            intranet_endpoint: "oss-cn-hangzhou-internal.aliyuncs.com".into(),
            location: "oss-cn-hangzhou".into(),
            storage_class: "Standard".into(),
            transfer_acceleration: Some("Disabled".into()),
            cross_region_replication: Some("Disabled".into()),
            data_redundancy_type: Some("LRS".into()),
            name: "oss-example".into(),
            resource_group_id: "rg-aek27tc********".into(),
            owner: owner("27183473914****", "username"),
            acl: "private".into(),
            server_side_encryption: Some(ServerSideEncryptionRule {
                sse_algorithm: "KMS".into(),
                kms_master_key_id: Some("shUhih687675***32edghadg".into()),
                kms_data_encryption: Some("SM4".into()),
            }),
            log_bucket: "oss-example".into(),
            log_prefix: "oss-accesslog/".into(),
            comment: "test".into(),
            block_public_access: true,
            versioning: Some("Enabled".into()),
        }
    }

    #[test]
    fn bucket_info_golden() {
        let expected = compact(
            r#"<BucketInfo>
  <Bucket>
    <AccessMonitor>Enabled</AccessMonitor>
    <CreationDate>2013-07-31T10:56:21.000Z</CreationDate>
    <ExtranetEndpoint>oss-cn-hangzhou.aliyuncs.com</ExtranetEndpoint>
    <IntranetEndpoint>oss-cn-hangzhou-internal.aliyuncs.com</IntranetEndpoint>
    <Location>oss-cn-hangzhou</Location>
    <StorageClass>Standard</StorageClass>
    <TransferAcceleration>Disabled</TransferAcceleration>
    <CrossRegionReplication>Disabled</CrossRegionReplication>
    <DataRedundancyType>LRS</DataRedundancyType>
    <Name>oss-example</Name>
    <ResourceGroupId>rg-aek27tc********</ResourceGroupId>
    <Owner><DisplayName>username</DisplayName><ID>27183473914****</ID></Owner>
    <AccessControlList><Grant>private</Grant></AccessControlList>
    <ServerSideEncryptionRule>
      <SSEAlgorithm>KMS</SSEAlgorithm>
      <KMSMasterKeyID>shUhih687675***32edghadg</KMSMasterKeyID>
      <KMSDataEncryption>SM4</KMSDataEncryption>
    </ServerSideEncryptionRule>
    <BucketPolicy><LogBucket>oss-example</LogBucket><LogPrefix>oss-accesslog/</LogPrefix></BucketPolicy>
    <Comment>test</Comment>
    <BlockPublicAccess>true</BlockPublicAccess>
    <Versioning>Enabled</Versioning>
  </Bucket>
</BucketInfo>"#,
        );
        assert_eq!(bucket_info_sample().to_xml(), expected);
    }

    #[test]
    fn bucket_info_without_encryption_says_none() {
        let info = BucketInfo {
            server_side_encryption: None,
            access_monitor: None,
            transfer_acceleration: None,
            cross_region_replication: None,
            resource_group_id: String::new(),
            log_bucket: String::new(),
            log_prefix: String::new(),
            comment: String::new(),
            block_public_access: false,
            versioning: None,
            ..bucket_info_sample()
        };
        let xml = info.to_xml();
        assert!(xml.contains(
            "<ServerSideEncryptionRule><SSEAlgorithm>None</SSEAlgorithm></ServerSideEncryptionRule>"
        ));
        assert!(!xml.contains("KMSMasterKeyID"));
        assert!(!xml.contains("AccessMonitor"));
        assert!(!xml.contains("Versioning"));
        // What OSS always sends is present even when empty.
        assert!(xml.contains("<ResourceGroupId></ResourceGroupId>"));
        assert!(xml.contains(
            "<BucketPolicy><LogBucket></LogBucket><LogPrefix></LogPrefix></BucketPolicy>"
        ));
        assert!(xml.contains("<Comment></Comment><BlockPublicAccess>false</BlockPublicAccess>"));
        assert!(
            xml.contains("<DataRedundancyType>LRS</DataRedundancyType><Name>oss-example</Name>")
        );
    }

    #[test]
    fn bucket_info_aes256_only() {
        let info = BucketInfo {
            server_side_encryption: Some(ServerSideEncryptionRule {
                sse_algorithm: "AES256".into(),
                ..Default::default()
            }),
            ..bucket_info_sample()
        };
        assert!(info.to_xml().contains(
            "<ServerSideEncryptionRule><SSEAlgorithm>AES256</SSEAlgorithm></ServerSideEncryptionRule>"
        ));
    }

    #[test]
    fn get_bucket_encryption_golden() {
        let rule = ServerSideEncryptionRule {
            sse_algorithm: "KMS".into(),
            kms_master_key_id: Some("9468da86-3509-4f8d-a61e-6eab1eac****".into()),
            kms_data_encryption: Some("SM4".into()),
        };
        let expected = compact(
            r#"<ServerSideEncryptionRule>
  <ApplyServerSideEncryptionByDefault>
    <SSEAlgorithm>KMS</SSEAlgorithm>
    <KMSDataEncryption>SM4</KMSDataEncryption>
    <KMSMasterKeyID>9468da86-3509-4f8d-a61e-6eab1eac****</KMSMasterKeyID>
  </ApplyServerSideEncryptionByDefault>
</ServerSideEncryptionRule>"#,
        );
        assert_eq!(rule.to_xml(), expected);

        let bare = ServerSideEncryptionRule {
            sse_algorithm: "AES256".into(),
            ..Default::default()
        };
        assert_eq!(
            bare.to_xml(),
            format!(
                "{XML_DECLARATION}<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
                 <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>\
                 </ServerSideEncryptionRule>"
            )
        );
    }

    #[test]
    fn location_and_acl_golden() {
        let loc = LocationConstraint {
            location: "oss-cn-hangzhou".into(),
        };
        assert_eq!(
            loc.to_xml(),
            format!("{XML_DECLARATION}<LocationConstraint>oss-cn-hangzhou</LocationConstraint>")
        );
        let acl = AccessControlPolicy {
            owner: owner("0022012****", "user_example"),
            grant: "public-read".into(),
        };
        assert_eq!(
            acl.to_xml(),
            compact(
                r#"<AccessControlPolicy>
  <Owner><ID>0022012****</ID><DisplayName>user_example</DisplayName></Owner>
  <AccessControlList><Grant>public-read</Grant></AccessControlList>
</AccessControlPolicy>"#
            )
        );
    }

    #[test]
    fn bucket_stat_golden() {
        let s = BucketStat {
            storage: 1600,
            object_count: 230,
            multipart_upload_count: 40,
            live_channel_count: 4,
            multipart_part_count: 128,
            multipart_part_storage: 524288000,
            last_modified_time: 1643341269,
            standard_storage: 430,
            standard_object_count: 66,
            infrequent_access_storage: 2359296,
            infrequent_access_real_storage: 360,
            infrequent_access_object_count: 54,
            archive_storage: 2949120,
            archive_real_storage: 450,
            archive_object_count: 74,
            cold_archive_storage: 2359296,
            cold_archive_real_storage: 360,
            cold_archive_object_count: 36,
            deep_cold_archive_storage: 50,
            deep_cold_archive_real_storage: 45,
            deep_cold_archive_object_count: 5,
            delete_marker_count: 12,
        };
        let expected = compact(
            r#"<BucketStat>
  <Storage>1600</Storage>
  <ObjectCount>230</ObjectCount>
  <MultipartUploadCount>40</MultipartUploadCount>
  <LiveChannelCount>4</LiveChannelCount>
  <MultipartPartCount>128</MultipartPartCount>
  <MultipartPartStorage>524288000</MultipartPartStorage>
  <LastModifiedTime>1643341269</LastModifiedTime>
  <StandardStorage>430</StandardStorage>
  <StandardObjectCount>66</StandardObjectCount>
  <InfrequentAccessStorage>2359296</InfrequentAccessStorage>
  <InfrequentAccessRealStorage>360</InfrequentAccessRealStorage>
  <InfrequentAccessObjectCount>54</InfrequentAccessObjectCount>
  <ArchiveStorage>2949120</ArchiveStorage>
  <ArchiveRealStorage>450</ArchiveRealStorage>
  <ArchiveObjectCount>74</ArchiveObjectCount>
  <ColdArchiveStorage>2359296</ColdArchiveStorage>
  <ColdArchiveRealStorage>360</ColdArchiveRealStorage>
  <ColdArchiveObjectCount>36</ColdArchiveObjectCount>
  <DeepColdArchiveStorage>50</DeepColdArchiveStorage>
  <DeepColdArchiveRealStorage>45</DeepColdArchiveRealStorage>
  <DeepColdArchiveObjectCount>5</DeepColdArchiveObjectCount>
  <DeleteMarkerCount>12</DeleteMarkerCount>
</BucketStat>"#,
        );
        assert_eq!(s.to_xml(), expected);
    }

    #[test]
    fn copy_results_golden() {
        let c = CopyObjectResult {
            etag: "C4CA4238A0B923820DCC509A6F75849B".into(),
            last_modified: "2019-04-09T03:45:32.000Z".into(),
        };
        assert_eq!(
            c.to_xml(),
            compact(
                r#"<CopyObjectResult><ETag>"C4CA4238A0B923820DCC509A6F75849B"</ETag><LastModified>2019-04-09T03:45:32.000Z</LastModified></CopyObjectResult>"#
            )
        );
        let p = CopyPartResult {
            last_modified: "2015-12-12T00:36:26.000Z".into(),
            // Already quoted: must not be double-quoted.
            etag: "\"4DE8075FB607DF4D13FBC480EA488EFA\"".into(),
        };
        assert_eq!(
            p.to_xml(),
            compact(
                r#"<CopyPartResult><LastModified>2015-12-12T00:36:26.000Z</LastModified><ETag>"4DE8075FB607DF4D13FBC480EA488EFA"</ETag></CopyPartResult>"#
            )
        );
    }

    #[test]
    fn initiate_golden() {
        let mut r = InitiateMultipartUploadResult {
            bucket: "oss-example".into(),
            key: "multipart.data".into(),
            upload_id: "0004B9894A22E5B1888A1E29F823****".into(),
            encode_url: false,
        };
        assert_eq!(
            r.to_xml(),
            compact(
                r#"<InitiateMultipartUploadResult><Bucket>oss-example</Bucket><Key>multipart.data</Key><UploadId>0004B9894A22E5B1888A1E29F823****</UploadId></InitiateMultipartUploadResult>"#
            )
        );
        r.key = "dir/a b".into();
        r.encode_url = true;
        assert!(r.to_xml().contains(
            "<Key>dir%2Fa%20b</Key><UploadId>0004B9894A22E5B1888A1E29F823****</UploadId>\
             <EncodingType>url</EncodingType>"
        ));
    }

    #[test]
    fn complete_result_golden() {
        let mut r = CompleteMultipartUploadResult {
            encode_url: true,
            location: "http://oss-example.oss-cn-hangzhou.aliyuncs.com/multipart.data".into(),
            bucket: "oss-example".into(),
            key: "multipart.data".into(),
            etag: "B864DB6A936D376F9F8D3ED3BBE540DD-3".into(),
        };
        let expected = compact(
            r#"<CompleteMultipartUploadResult>
  <EncodingType>url</EncodingType>
  <Location>http://oss-example.oss-cn-hangzhou.aliyuncs.com/multipart.data</Location>
  <Bucket>oss-example</Bucket><Key>multipart.data</Key>
  <ETag>"B864DB6A936D376F9F8D3ED3BBE540DD-3"</ETag>
</CompleteMultipartUploadResult>"#,
        );
        assert_eq!(r.to_xml(), expected);
        r.key = "a/b&c".into();
        assert!(r.to_xml().contains("<Key>a%2Fb%26c</Key>"));
        r.encode_url = false;
        let xml = r.to_xml();
        assert!(xml.contains("<Key>a/b&amp;c</Key>"));
        assert!(!xml.contains("EncodingType"));
    }

    #[test]
    fn list_parts_golden() {
        let r = ListPartsResult {
            bucket: "multipart_upload".into(),
            encode_url: false,
            key: "multipart.data".into(),
            upload_id: "0004B999EF5A239BB9138C6227D6****".into(),
            part_number_marker: 0,
            next_part_number_marker: 5,
            max_parts: 1000,
            is_truncated: false,
            client_encryption: None,
            parts: vec![PartSummary {
                part_number: 1,
                last_modified: "2012-02-23T07:01:34.000Z".into(),
                etag: "3349DC700140D7F86A0784842780****".into(),
                size: 6291456,
            }],
        };
        let expected = compact(
            r#"<ListPartsResult>
  <Bucket>multipart_upload</Bucket><Key>multipart.data</Key><UploadId>0004B999EF5A239BB9138C6227D6****</UploadId>
  <PartNumberMarker>0</PartNumberMarker>  <!-- documented element, absent from the SDK sample -->
  <NextPartNumberMarker>5</NextPartNumberMarker><MaxParts>1000</MaxParts>
  <IsTruncated>false</IsTruncated>
  <Part><PartNumber>1</PartNumber><LastModified>2012-02-23T07:01:34.000Z</LastModified><ETag>"3349DC700140D7F86A0784842780****"</ETag><Size>6291456</Size></Part>
</ListPartsResult>"#,
        );
        assert_eq!(r.to_xml(), expected);
        let enc = ListPartsResult {
            encode_url: true,
            key: "a/b".into(),
            ..r
        };
        assert!(enc.to_xml().contains(
            "<Bucket>multipart_upload</Bucket><EncodingType>url</EncodingType><Key>a%2Fb</Key>"
        ));
    }

    #[test]
    fn list_uploads_golden() {
        let r = ListMultipartUploadsResult {
            bucket: "oss-example".into(),
            encode_url: false,
            key_marker: String::new(),
            upload_id_marker: String::new(),
            next_key_marker: "oss.avi".into(),
            next_upload_id_marker: "0004B99B8E707874FC2D692FA5D77D3F".into(),
            delimiter: String::new(),
            prefix: String::new(),
            max_uploads: 1000,
            is_truncated: false,
            uploads: vec![UploadSummary {
                key: "multipart1.data".into(),
                upload_id: "0004B999EF518A1FE585B0C9360DC4C8".into(),
                initiated: "2011-02-23T04:18:23.000Z".into(),
            }],
            common_prefixes: vec!["dir/".into()],
        };
        let expected = compact(
            r#"<ListMultipartUploadsResult>
  <Bucket>oss-example</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>oss.avi</NextKeyMarker><NextUploadIdMarker>0004B99B8E707874FC2D692FA5D77D3F</NextUploadIdMarker>
  <Delimiter></Delimiter><Prefix></Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>
  <Upload><Key>multipart1.data</Key><UploadId>0004B999EF518A1FE585B0C9360DC4C8</UploadId><Initiated>2011-02-23T04:18:23.000Z</Initiated></Upload>
  <CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>
</ListMultipartUploadsResult>"#,
        );
        assert_eq!(r.to_xml(), expected);

        let enc = ListMultipartUploadsResult {
            encode_url: true,
            key_marker: "k m".into(),
            next_key_marker: "n/k".into(),
            delimiter: "/".into(),
            prefix: "p/".into(),
            ..r
        };
        let xml = enc.to_xml();
        assert!(xml.contains(
            "<Bucket>oss-example</Bucket><EncodingType>url</EncodingType>\
             <KeyMarker>k%20m</KeyMarker><UploadIdMarker></UploadIdMarker>\
             <NextKeyMarker>n%2Fk</NextKeyMarker>"
        ));
        assert!(xml.contains("<Delimiter>%2F</Delimiter><Prefix>p%2F</Prefix>"));
        assert!(xml.contains("<CommonPrefixes><Prefix>dir%2F</Prefix></CommonPrefixes>"));
    }

    #[test]
    fn delete_result_golden() {
        let r = DeleteResult {
            encode_url: true,
            deleted: vec![
                DeletedObject {
                    key: "a.txt".into(),
                    ..Default::default()
                },
                DeletedObject {
                    key: "b.txt".into(),
                    version_id: Some("v1".into()),
                    delete_marker: true,
                    delete_marker_version_id: Some("v2".into()),
                },
            ],
        };
        let expected = compact(
            r#"<DeleteResult>
  <EncodingType>url</EncodingType>
  <Deleted><Key>a.txt</Key></Deleted>
  <Deleted><Key>b.txt</Key><VersionId>v1</VersionId><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>v2</DeleteMarkerVersionId></Deleted>
</DeleteResult>"#,
        );
        assert_eq!(r.to_xml(), expected);

        let plain = DeleteResult {
            encode_url: false,
            deleted: vec![DeletedObject {
                key: "x/<y>".into(),
                ..Default::default()
            }],
        };
        assert_eq!(
            plain.to_xml(),
            format!(
                "{XML_DECLARATION}<DeleteResult><Deleted><Key>x/&lt;y&gt;</Key></Deleted></DeleteResult>"
            )
        );
    }

    #[test]
    fn all_renderers_are_well_formed() {
        for xml in [
            bucket_info_sample().to_xml(),
            BucketStat::default().to_xml(),
            ListMultipartUploadsResult::default().to_xml(),
            ListPartsResult::default().to_xml(),
            ListBucketResultV2::default().to_xml(),
            ErrorXml::default().to_xml(),
        ] {
            assert!(xml.starts_with(XML_DECLARATION));
            assert_well_formed(&xml);
        }
    }

    // ----- requests ------------------------------------------------------

    #[test]
    fn parse_create_bucket_configuration() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<CreateBucketConfiguration>
  <StorageClass>Standard</StorageClass>
  <DataRedundancyType>LRS</DataRedundancyType>
</CreateBucketConfiguration>"#;
        let c = CreateBucketConfiguration::parse(body).unwrap();
        assert_eq!(c.storage_class.as_deref(), Some("Standard"));
        assert_eq!(c.data_redundancy_type.as_deref(), Some("LRS"));

        let c = CreateBucketConfiguration::parse(
            b"<CreateBucketConfiguration><StorageClass>IA</StorageClass></CreateBucketConfiguration>",
        )
        .unwrap();
        assert_eq!(c.storage_class.as_deref(), Some("IA"));
        assert_eq!(c.data_redundancy_type, None);

        let c = CreateBucketConfiguration::parse(b"<CreateBucketConfiguration/>").unwrap();
        assert_eq!(c, CreateBucketConfiguration::default());

        let c = CreateBucketConfiguration::parse(
            b"<CreateBucketConfiguration xmlns=\"http://doc.oss-cn-hangzhou.aliyuncs.com\">\
              <StorageClass> Archive </StorageClass><Unknown>1</Unknown>\
              <DataRedundancyType></DataRedundancyType></CreateBucketConfiguration>",
        )
        .unwrap();
        assert_eq!(c.storage_class.as_deref(), Some("Archive"));
        assert_eq!(c.data_redundancy_type, None);

        for bad in [
            &b""[..],
            b"   ",
            b"<CreateBucketConfiguration>",
            b"<CreateBucketConfiguration><StorageClass>IA</StorageClass>",
            b"<Other><StorageClass>IA</StorageClass></Other>",
            b"<CreateBucketConfiguration></CreateBucketConfiguration><x/>",
            b"<CreateBucketConfiguration></CreateBucketConfiguration>junk",
            b"<CreateBucketConfiguration><StorageClass>IA</StorageClass><StorageClass>IA</StorageClass></CreateBucketConfiguration>",
            b"\xff\xfe<CreateBucketConfiguration/>",
            b"<!DOCTYPE x [<!ENTITY e \"IA\">]><CreateBucketConfiguration><StorageClass>&e;</StorageClass></CreateBucketConfiguration>",
        ] {
            assert!(
                CreateBucketConfiguration::parse(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn parse_bom_is_tolerated() {
        let mut body = "\u{FEFF}".as_bytes().to_vec();
        body.extend_from_slice(b"<CreateBucketConfiguration/>");
        assert!(CreateBucketConfiguration::parse(&body).is_ok());
    }

    /// What oss2 sends: ETags with quotes, ascending numbers with gaps.
    const OSS2_COMPLETE: &str = r#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"3349DC700140D7F86A0784842780****"</ETag></Part><Part><PartNumber>5</PartNumber><ETag>"7265F4D211B56873A381D321F586****"</ETag></Part></CompleteMultipartUpload>"#;

    #[test]
    fn parse_complete_multipart_upload() {
        let c = CompleteMultipartUpload::parse(OSS2_COMPLETE.as_bytes()).unwrap();
        assert_eq!(
            c.parts,
            vec![
                CompletePart {
                    part_number: 1,
                    etag: "3349DC700140D7F86A0784842780****".into()
                },
                CompletePart {
                    part_number: 5,
                    etag: "7265F4D211B56873A381D321F586****".into()
                },
            ]
        );

        // Pretty-printed, unquoted, entity-quoted ETags and whitespace.
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload>
  <Part>
    <PartNumber> 2 </PartNumber>
    <ETag>abc</ETag>
  </Part>
  <Part>
    <ETag>&quot;DEF&quot;</ETag>
    <PartNumber>3</PartNumber>
  </Part>
</CompleteMultipartUpload>
"#;
        let c = CompleteMultipartUpload::parse(body).unwrap();
        assert_eq!(c.parts[0].part_number, 2);
        assert_eq!(c.parts[0].etag, "abc");
        assert_eq!(c.parts[1].part_number, 3);
        assert_eq!(c.parts[1].etag, "DEF");
    }

    #[test]
    fn complete_multipart_round_trip() {
        // Render ListParts the way the server would, read it back as oss2
        // does (PartNumber + ETag), send it as a Complete body, parse it.
        let listed = ListPartsResult {
            parts: (1..=3)
                .map(|n| PartSummary {
                    part_number: n,
                    last_modified: "2012-02-23T07:01:34.000Z".into(),
                    etag: format!("{n:032X}"),
                    size: 102400,
                })
                .collect(),
            ..Default::default()
        };
        let mut body = String::from("<CompleteMultipartUpload>");
        for p in &listed.parts {
            body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                p.part_number,
                quoted_etag(&p.etag)
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let parsed = CompleteMultipartUpload::parse(body.as_bytes()).unwrap();
        let got: Vec<(u32, String)> = parsed
            .parts
            .into_iter()
            .map(|p| (p.part_number, p.etag))
            .collect();
        let want: Vec<(u32, String)> = listed
            .parts
            .iter()
            .map(|p| (p.part_number, p.etag.clone()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn parse_complete_malformed() {
        for bad in [
            // truncated
            &OSS2_COMPLETE.as_bytes()[..OSS2_COMPLETE.len() - 5],
            &OSS2_COMPLETE.as_bytes()[..40],
            // wrong root
            b"<CompleteMultipartUploadResult><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUploadResult>",
            // non-numeric, negative, overflowing, empty part numbers
            b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>+1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>99999999999</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber></PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            // missing children
            b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
            // no parts at all
            b"<CompleteMultipartUpload></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload/>",
            // mismatched tags, mixed content, bad entity
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</Etag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1<x/></PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&bogus;</ETag></Part></CompleteMultipartUpload>",
            b"not xml at all",
        ] {
            assert!(
                CompleteMultipartUpload::parse(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn parse_delete() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete><Quiet>false</Quiet><Object><Key>a.txt</Key></Object><Object><Key>b.txt</Key><VersionId>CAEQ</VersionId></Object></Delete>"#;
        let d = Delete::parse(body).unwrap();
        assert!(!d.quiet);
        assert_eq!(
            d.objects,
            vec![
                DeleteObject {
                    key: "a.txt".into(),
                    version_id: None
                },
                DeleteObject {
                    key: "b.txt".into(),
                    version_id: Some("CAEQ".into())
                },
            ]
        );

        // Escaped keys, whitespace kept, character references, CDATA, quiet.
        let body = "<Delete><Quiet>True</Quiet>\
            <Object><Key>  a &amp; b &lt;c&gt; \"d\" 'e'  </Key></Object>\
            <Object><Key>x&#13;y&#x1;z</Key><VersionId></VersionId></Object>\
            <Object><Key><![CDATA[<raw>&]]></Key></Object>\
            <Object><Key>中文/键</Key></Object></Delete>";
        let d = Delete::parse(body.as_bytes()).unwrap();
        assert!(d.quiet);
        let keys: Vec<&str> = d.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            ["  a & b <c> \"d\" 'e'  ", "x\ry\u{1}z", "<raw>&", "中文/键"]
        );
        assert_eq!(d.objects[1].version_id, None);

        let d = Delete::parse(b"<Delete><Object><Key>k</Key></Object></Delete>").unwrap();
        assert!(!d.quiet);
    }

    #[test]
    fn delete_round_trips_escaped_keys_like_oss2() {
        // oss2 XML-escapes raw keys in the request; parse must return them
        // exactly, and a verbose DeleteResult with encoding-type=url must
        // percent-encode them.
        let keys = ["a&b", "<x>", "q\"uote's", "sp ace/+plus", "tab\tnl\n"];
        let mut body = String::from("<Delete><Quiet>false</Quiet>");
        for k in keys {
            body.push_str("<Object><Key>");
            body.push_str(&escape_text(k));
            body.push_str("</Key></Object>");
        }
        body.push_str("</Delete>");
        let d = Delete::parse(body.as_bytes()).unwrap();
        let parsed: Vec<&str> = d.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(parsed, keys);

        let result = DeleteResult {
            encode_url: true,
            deleted: d
                .objects
                .iter()
                .map(|o| DeletedObject {
                    key: o.key.clone(),
                    ..Default::default()
                })
                .collect(),
        };
        let xml = result.to_xml();
        assert!(xml.contains("<Key>sp%20ace%2F%2Bplus</Key>"));
        assert!(xml.contains("<Key>tab%09nl%0A</Key>"));
    }

    #[test]
    fn parse_delete_malformed() {
        for bad in [
            &b"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>"[..],
            b"<Delete><Object><Key>a</Key></Object>",
            b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",
            b"<Delete><Quiet>true</Quiet></Delete>",
            b"<Delete></Delete>",
            b"<Remove><Object><Key>a</Key></Object></Remove>",
            b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            b"<Delete attr><Object><Key>a</Key></Object></Delete>",
            b"<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
        ] {
            assert!(
                Delete::parse(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn parse_put_bucket_encryption() {
        // oss2 order.
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ServerSideEncryptionRule>
  <ApplyServerSideEncryptionByDefault>
    <SSEAlgorithm>KMS</SSEAlgorithm>
    <KMSMasterKeyID>9468da86-3509-4f8d-a61e-6eab1eac****</KMSMasterKeyID>
    <KMSDataEncryption>SM4</KMSDataEncryption>
  </ApplyServerSideEncryptionByDefault>
</ServerSideEncryptionRule>"#;
        let r = ServerSideEncryptionRule::parse(body).unwrap();
        assert_eq!(r.sse_algorithm, "KMS");
        assert_eq!(
            r.kms_master_key_id.as_deref(),
            Some("9468da86-3509-4f8d-a61e-6eab1eac****")
        );
        assert_eq!(r.kms_data_encryption.as_deref(), Some("SM4"));

        // v2 SDK order, empty key id.
        let body = b"<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
            <KMSMasterKeyID></KMSMasterKeyID><KMSDataEncryption/>\
            <SSEAlgorithm>AES256</SSEAlgorithm>\
            </ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
        let r = ServerSideEncryptionRule::parse(body).unwrap();
        assert_eq!(
            r,
            ServerSideEncryptionRule {
                sse_algorithm: "AES256".into(),
                kms_master_key_id: None,
                kms_data_encryption: None,
            }
        );

        // Unknown algorithm parses; validating it is the caller's job.
        let body = b"<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
            <SSEAlgorithm>random</SSEAlgorithm>\
            </ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>";
        assert_eq!(
            ServerSideEncryptionRule::parse(body).unwrap().sse_algorithm,
            "random"
        );

        // Round trip through the GetBucketEncryption renderer.
        let rule = ServerSideEncryptionRule {
            sse_algorithm: "KMS".into(),
            kms_master_key_id: Some("key&id".into()),
            kms_data_encryption: Some("SM4".into()),
        };
        assert_eq!(
            ServerSideEncryptionRule::parse(rule.to_xml().as_bytes()).unwrap(),
            rule
        );

        for bad in [
            &b"<ServerSideEncryptionRule></ServerSideEncryptionRule>"[..],
            b"<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>",
            b"<ServerSideEncryptionRule><SSEAlgorithm>KMS</SSEAlgorithm></ServerSideEncryptionRule>",
            b"<ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm></ApplyServerSideEncryptionByDefault>",
            b"<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm>",
        ] {
            assert!(
                ServerSideEncryptionRule::parse(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn xml_error_display() {
        let e = CompleteMultipartUpload::parse(b"<x/>").unwrap_err();
        assert!(e.to_string().starts_with("malformed XML: "));
        assert!(e.message().contains("expected <CompleteMultipartUpload>"));
    }
}
