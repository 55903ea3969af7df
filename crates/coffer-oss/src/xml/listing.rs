//! ListBuckets and ListObjects (V1 and V2) response documents.

use super::*;

/// One bucket in `ListAllMyBucketsResult`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketSummary {
    /// ISO 8601 with milliseconds ([`iso8601_millis`]).
    pub creation_date: String,
    pub extranet_endpoint: String,
    pub intranet_endpoint: String,
    /// e.g. `oss-cn-hangzhou`.
    pub location: String,
    pub name: String,
    /// e.g. `cn-hangzhou`.
    pub region: String,
    pub storage_class: String,
    pub resource_group_id: Option<String>,
}

/// The paging block of ListBuckets. Per the reference it appears only when
/// the listing is paginated (prefix/marker/max-keys given) or truncated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListBucketsPage {
    pub prefix: String,
    pub marker: String,
    pub max_keys: u32,
    pub is_truncated: bool,
    /// Rendered when `Some`; set it only when truncated.
    pub next_marker: Option<String>,
}

/// ListBuckets (GetService) response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListAllMyBucketsResult {
    /// `None` when everything is returned in one go: then Prefix, Marker,
    /// MaxKeys, IsTruncated and NextMarker are all omitted.
    pub page: Option<ListBucketsPage>,
    pub owner: Owner,
    pub buckets: Vec<BucketSummary>,
}

impl ListAllMyBucketsResult {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("ListAllMyBucketsResult");
        if let Some(p) = &self.page {
            d.text("Prefix", &p.prefix);
            d.text("Marker", &p.marker);
            d.num("MaxKeys", p.max_keys);
            d.num("IsTruncated", p.is_truncated);
            d.text_opt("NextMarker", p.next_marker.as_deref());
        }
        d.owner_id_first(&self.owner);
        d.open("Buckets");
        for b in &self.buckets {
            d.open("Bucket");
            d.text("CreationDate", &b.creation_date);
            d.text("ExtranetEndpoint", &b.extranet_endpoint);
            d.text("IntranetEndpoint", &b.intranet_endpoint);
            d.text("Location", &b.location);
            d.text("Name", &b.name);
            d.text("Region", &b.region);
            d.text("StorageClass", &b.storage_class);
            d.text_opt("ResourceGroupId", b.resource_group_id.as_deref());
            d.close("Bucket");
        }
        d.close("Buckets");
        d.finish("ListAllMyBucketsResult")
    }
}

/// One `Contents` entry of ListObjects (V1 and V2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectSummary {
    pub key: String,
    /// ISO 8601 with milliseconds ([`iso8601_millis`]).
    pub last_modified: String,
    /// With or without surrounding quotes; rendered quoted.
    pub etag: String,
    /// `Normal`, `Appendable`, `Multipart` or `Symlink`.
    pub object_type: String,
    pub size: u64,
    pub storage_class: String,
    /// Rendered when `Some`: always set it for V1; for V2 only with
    /// `fetch-owner=true`.
    pub owner: Option<Owner>,
}

impl ObjectSummary {
    fn render(&self, d: &mut Doc, encode: bool) {
        d.open("Contents");
        d.key("Key", &self.key, encode);
        d.text("LastModified", &self.last_modified);
        d.etag(&self.etag);
        d.text("Type", &self.object_type);
        d.num("Size", self.size);
        d.text("StorageClass", &self.storage_class);
        if let Some(o) = &self.owner {
            d.owner_id_first(o);
        }
        d.close("Contents");
    }
}

/// ListObjects (V1) response.
///
/// With `encode_url` (`encoding-type=url`), `Prefix`, `Marker`, `Delimiter`,
/// `NextMarker`, every `Key` and every common prefix are percent-encoded and
/// `<EncodingType>url</EncodingType>` is emitted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListBucketResultV1 {
    pub name: String,
    pub prefix: String,
    pub marker: String,
    pub max_keys: u32,
    /// Always rendered (empty when none was given).
    pub delimiter: String,
    pub encode_url: bool,
    pub is_truncated: bool,
    /// Rendered when `Some`; set it only when truncated.
    pub next_marker: Option<String>,
    pub contents: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
}

impl ListBucketResultV1 {
    pub fn to_xml(&self) -> String {
        let enc = self.encode_url;
        let mut d = Doc::new("ListBucketResult");
        d.text("Name", &self.name);
        d.key("Prefix", &self.prefix, enc);
        d.key("Marker", &self.marker, enc);
        d.num("MaxKeys", self.max_keys);
        d.key("Delimiter", &self.delimiter, enc);
        d.encoding_type(enc);
        d.num("IsTruncated", self.is_truncated);
        d.key_opt("NextMarker", self.next_marker.as_deref(), enc);
        for c in &self.contents {
            c.render(&mut d, enc);
        }
        d.common_prefixes(&self.common_prefixes, enc);
        d.finish("ListBucketResult")
    }
}

/// ListObjectsV2 (`list-type=2`) response.
///
/// With `encode_url`, `Prefix`, `Delimiter`, `StartAfter`,
/// `NextContinuationToken`, every `Key` and every common prefix are
/// percent-encoded (the echoed `ContinuationToken` is not).
/// `KeyCount` is computed as contents + common prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListBucketResultV2 {
    pub name: String,
    pub prefix: String,
    /// Echoed when the request carried one.
    pub continuation_token: Option<String>,
    pub max_keys: u32,
    /// Rendered when `Some`.
    pub delimiter: Option<String>,
    /// Echoed when the request carried one.
    pub start_after: Option<String>,
    pub encode_url: bool,
    pub is_truncated: bool,
    /// Rendered when `Some`; set it only when truncated.
    pub next_continuation_token: Option<String>,
    pub contents: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
}

impl ListBucketResultV2 {
    pub fn to_xml(&self) -> String {
        let enc = self.encode_url;
        let mut d = Doc::new("ListBucketResult");
        d.text("Name", &self.name);
        d.key("Prefix", &self.prefix, enc);
        d.text_opt("ContinuationToken", self.continuation_token.as_deref());
        d.num("MaxKeys", self.max_keys);
        d.key_opt("Delimiter", self.delimiter.as_deref(), enc);
        d.key_opt("StartAfter", self.start_after.as_deref(), enc);
        d.encoding_type(enc);
        d.num("IsTruncated", self.is_truncated);
        d.key_opt(
            "NextContinuationToken",
            self.next_continuation_token.as_deref(),
            enc,
        );
        for c in &self.contents {
            c.render(&mut d, enc);
        }
        d.common_prefixes(&self.common_prefixes, enc);
        d.num("KeyCount", self.contents.len() + self.common_prefixes.len());
        d.finish("ListBucketResult")
    }
}
