//! Request bodies: well-formedness and root checks, then the documents Coffer parses.

use super::*;

// ---------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------

fn check_attributes(e: &BytesStart<'_>) -> Result<(), XmlError> {
    for attr in e.attributes() {
        attr.map_err(|err| XmlError::new(format!("bad attribute: {err}")))?;
    }
    Ok(())
}

/// Checks that `s` is one well-formed element named `root` (local name;
/// any namespace), optionally preceded by a declaration and surrounded by
/// whitespace, comments and processing instructions. DTDs are refused.
fn check_document(s: &str, root: &str) -> Result<(), XmlError> {
    let mut reader = quick_xml::Reader::from_str(s);
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut check_top = |e: &BytesStart<'_>, depth: usize| -> Result<(), XmlError> {
        if depth == 0 {
            if seen_root {
                return Err(XmlError::new("more than one root element"));
            }
            seen_root = true;
            if e.local_name().as_ref() != root {
                return Err(XmlError::new(format!(
                    "root element is <{}>, expected <{root}>",
                    e.name().as_ref()
                )));
            }
        }
        Ok(())
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|err| XmlError::new(err.to_string()))?;
        match event {
            Event::Start(e) => {
                check_attributes(&e)?;
                check_top(&e, depth)?;
                depth += 1;
            }
            Event::Empty(e) => {
                check_attributes(&e)?;
                check_top(&e, depth)?;
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| XmlError::new("unmatched end tag"))?;
            }
            Event::Text(t) => {
                if depth == 0 && !t.bytes().all(|b| b.is_ascii_whitespace()) {
                    return Err(XmlError::new("text outside the root element"));
                }
            }
            Event::CData(_) | Event::GeneralRef(_) => {
                if depth == 0 {
                    return Err(XmlError::new("content outside the root element"));
                }
            }
            Event::DocType(_) => return Err(XmlError::new("DTDs are not allowed")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(XmlError::new("unexpected end of document"));
    }
    if !seen_root {
        return Err(XmlError::new("no root element"));
    }
    Ok(())
}

/// UTF-8 check, BOM strip, well-formedness and root check, then serde.
pub(super) fn parse_document<T: DeserializeOwned>(body: &[u8], root: &str) -> Result<T, XmlError> {
    let s = std::str::from_utf8(body).map_err(|err| XmlError::new(err.to_string()))?;
    let s = s.strip_prefix('\u{FEFF}').unwrap_or(s);
    check_document(s, root)?;
    quick_xml::de::from_str(s).map_err(|err| XmlError::new(err.to_string()))
}

/// PutBucket body. The caller handles an empty body (no configuration)
/// before calling [`CreateBucketConfiguration::parse`], which rejects it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct CreateBucketConfiguration {
    /// Trimmed; not validated here. `None` when absent or empty.
    #[serde(rename = "StorageClass", default)]
    pub storage_class: Option<String>,
    /// Trimmed; not validated here. `None` when absent or empty.
    #[serde(rename = "DataRedundancyType", default)]
    pub data_redundancy_type: Option<String>,
}

impl CreateBucketConfiguration {
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let raw: Self = parse_document(body, "CreateBucketConfiguration")?;
        Ok(Self {
            storage_class: non_empty(raw.storage_class),
            data_redundancy_type: non_empty(raw.data_redundancy_type),
        })
    }
}

/// One `Part` of a CompleteMultipartUpload request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompletePart {
    pub part_number: u32,
    /// Without surrounding quotes or whitespace, case preserved.
    pub etag: String,
}

/// CompleteMultipartUpload request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompleteMultipartUpload {
    /// In document order. Ordering, duplicates, range (1..=10000) and count
    /// are the caller's checks (InvalidPartOrder / InvalidPart).
    pub parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
struct RawComplete {
    #[serde(rename = "Part", default)]
    parts: Vec<RawPart>,
}

#[derive(Deserialize)]
struct RawPart {
    #[serde(rename = "PartNumber")]
    part_number: String,
    #[serde(rename = "ETag")]
    etag: String,
}

impl CompleteMultipartUpload {
    /// Parses the body. Every `Part` needs a decimal `PartNumber` (fits u32)
    /// and an `ETag`; a document without any `Part` is rejected.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let raw: RawComplete = parse_document(body, "CompleteMultipartUpload")?;
        if raw.parts.is_empty() {
            return Err(XmlError::new("CompleteMultipartUpload without Part"));
        }
        let parts = raw
            .parts
            .into_iter()
            .map(|p| {
                let n = p.part_number.trim();
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(XmlError::new(format!("bad PartNumber {n:?}")));
                }
                let part_number = n
                    .parse::<u32>()
                    .map_err(|_| XmlError::new(format!("bad PartNumber {n:?}")))?;
                Ok(CompletePart {
                    part_number,
                    etag: p.etag.trim().trim_matches('"').to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { parts })
    }
}

/// One `Object` of a DeleteMultipleObjects request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteObject {
    /// XML-unescaped, otherwise exactly as sent (no trimming). Note that a
    /// conforming parser normalises a literal CR or CRLF to LF; clients must
    /// send `&#13;` to keep a carriage return.
    pub key: String,
    /// `None` when absent or empty.
    pub version_id: Option<String>,
}

/// DeleteMultipleObjects (`POST /?delete`) request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delete {
    /// `Quiet`, case-insensitive `true`/`false`; `false` when absent.
    pub quiet: bool,
    /// In document order; the 1000-key limit is the caller's check.
    pub objects: Vec<DeleteObject>,
}

#[derive(Deserialize)]
struct RawDelete {
    #[serde(rename = "Quiet", default)]
    quiet: Option<String>,
    #[serde(rename = "Object", default)]
    objects: Vec<RawDeleteObject>,
}

#[derive(Deserialize)]
struct RawDeleteObject {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "VersionId", default)]
    version_id: Option<String>,
}

impl Delete {
    /// Parses the body. Every `Object` needs a `Key`; a document without any
    /// `Object`, or with a `Quiet` other than true/false, is rejected.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let raw: RawDelete = parse_document(body, "Delete")?;
        let quiet = match raw.quiet.as_deref().map(str::trim) {
            None => false,
            Some(q) if q.eq_ignore_ascii_case("true") => true,
            Some(q) if q.eq_ignore_ascii_case("false") => false,
            Some(q) => return Err(XmlError::new(format!("bad Quiet value {q:?}"))),
        };
        if raw.objects.is_empty() {
            return Err(XmlError::new("Delete without Object"));
        }
        let objects = raw
            .objects
            .into_iter()
            .map(|o| DeleteObject {
                key: o.key,
                version_id: o.version_id.filter(|v| !v.is_empty()),
            })
            .collect();
        Ok(Self { quiet, objects })
    }
}
