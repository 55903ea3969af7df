//! Copy, multipart and multi-delete response documents.

use super::*;

/// CopyObject response: `ETag`, then `LastModified`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyObjectResult {
    /// With or without quotes; rendered quoted.
    pub etag: String,
    pub last_modified: String,
}

impl CopyObjectResult {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("CopyObjectResult");
        d.etag(&self.etag);
        d.text("LastModified", &self.last_modified);
        d.finish("CopyObjectResult")
    }
}

/// UploadPartCopy response: `LastModified`, then `ETag`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyPartResult {
    pub last_modified: String,
    /// With or without quotes; rendered quoted.
    pub etag: String,
}

impl CopyPartResult {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("CopyPartResult");
        d.text("LastModified", &self.last_modified);
        d.etag(&self.etag);
        d.finish("CopyPartResult")
    }
}

/// InitiateMultipartUpload response. With `encode_url` the `Key` is
/// percent-encoded and `EncodingType` is appended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitiateMultipartUploadResult {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub encode_url: bool,
}

impl InitiateMultipartUploadResult {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("InitiateMultipartUploadResult");
        d.text("Bucket", &self.bucket);
        d.key("Key", &self.key, self.encode_url);
        d.text("UploadId", &self.upload_id);
        d.encoding_type(self.encode_url);
        d.finish("InitiateMultipartUploadResult")
    }
}

/// CompleteMultipartUpload response. With `encode_url` the `Key` is
/// percent-encoded and `EncodingType` comes first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompleteMultipartUploadResult {
    pub encode_url: bool,
    /// Full URL of the object, e.g. `http://bucket.endpoint/key`.
    pub location: String,
    pub bucket: String,
    pub key: String,
    /// With or without quotes; rendered quoted.
    pub etag: String,
}

impl CompleteMultipartUploadResult {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("CompleteMultipartUploadResult");
        d.encoding_type(self.encode_url);
        d.text("Location", &self.location);
        d.text("Bucket", &self.bucket);
        d.key("Key", &self.key, self.encode_url);
        d.etag(&self.etag);
        d.finish("CompleteMultipartUploadResult")
    }
}

/// One `Part` of ListParts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartSummary {
    pub part_number: u32,
    pub last_modified: String,
    /// With or without quotes; rendered quoted.
    pub etag: String,
    pub size: u64,
}

/// ListParts response. With `encode_url` the `Key` is percent-encoded and
/// `EncodingType` follows `Bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPartsResult {
    pub bucket: String,
    pub encode_url: bool,
    pub key: String,
    pub upload_id: String,
    pub part_number_marker: u32,
    /// Always rendered (oss2 requires it).
    pub next_part_number_marker: u32,
    pub max_parts: u32,
    pub is_truncated: bool,
    /// The upload's client-side-encryption settings, when it has them.
    pub client_encryption: Option<ClientEncryption>,
    pub parts: Vec<PartSummary>,
}

impl ListPartsResult {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("ListPartsResult");
        d.text("Bucket", &self.bucket);
        d.encoding_type(self.encode_url);
        d.key("Key", &self.key, self.encode_url);
        d.text("UploadId", &self.upload_id);
        d.num("PartNumberMarker", self.part_number_marker);
        d.num("NextPartNumberMarker", self.next_part_number_marker);
        d.num("MaxParts", self.max_parts);
        d.num("IsTruncated", self.is_truncated);
        if let Some(cse) = &self.client_encryption {
            cse.render(&mut d);
        }
        for p in &self.parts {
            d.open("Part");
            d.num("PartNumber", p.part_number);
            d.text("LastModified", &p.last_modified);
            d.etag(&p.etag);
            d.num("Size", p.size);
            d.close("Part");
        }
        d.finish("ListPartsResult")
    }
}

/// One `Upload` of ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadSummary {
    pub key: String,
    pub upload_id: String,
    /// ISO 8601 with milliseconds.
    pub initiated: String,
}

/// ListMultipartUploads response. With `encode_url`, `KeyMarker`,
/// `NextKeyMarker`, `Delimiter`, `Prefix`, every `Key` and every common
/// prefix are percent-encoded, and `EncodingType` follows `Bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListMultipartUploadsResult {
    pub bucket: String,
    pub encode_url: bool,
    pub key_marker: String,
    pub upload_id_marker: String,
    /// Always rendered (oss2 requires it); empty when not truncated.
    pub next_key_marker: String,
    /// Always rendered (oss2 requires it); empty when not truncated.
    pub next_upload_id_marker: String,
    pub delimiter: String,
    pub prefix: String,
    pub max_uploads: u32,
    pub is_truncated: bool,
    pub uploads: Vec<UploadSummary>,
    pub common_prefixes: Vec<String>,
}

impl ListMultipartUploadsResult {
    pub fn to_xml(&self) -> String {
        let enc = self.encode_url;
        let mut d = Doc::new("ListMultipartUploadsResult");
        d.text("Bucket", &self.bucket);
        d.encoding_type(enc);
        d.key("KeyMarker", &self.key_marker, enc);
        d.text("UploadIdMarker", &self.upload_id_marker);
        d.key("NextKeyMarker", &self.next_key_marker, enc);
        d.text("NextUploadIdMarker", &self.next_upload_id_marker);
        d.key("Delimiter", &self.delimiter, enc);
        d.key("Prefix", &self.prefix, enc);
        d.num("MaxUploads", self.max_uploads);
        d.num("IsTruncated", self.is_truncated);
        for u in &self.uploads {
            d.open("Upload");
            d.key("Key", &u.key, enc);
            d.text("UploadId", &u.upload_id);
            d.text("Initiated", &u.initiated);
            d.close("Upload");
        }
        d.common_prefixes(&self.common_prefixes, enc);
        d.finish("ListMultipartUploadsResult")
    }
}

/// One `Deleted` entry of DeleteMultipleObjects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeletedObject {
    pub key: String,
    pub version_id: Option<String>,
    /// Renders `<DeleteMarker>true</DeleteMarker>` when set.
    pub delete_marker: bool,
    pub delete_marker_version_id: Option<String>,
}

/// DeleteMultipleObjects response in verbose mode (in quiet mode the caller
/// sends an empty body). With `encode_url` every `Key` is percent-encoded and
/// `EncodingType` comes first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteResult {
    pub encode_url: bool,
    pub deleted: Vec<DeletedObject>,
}

impl DeleteResult {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("DeleteResult");
        d.encoding_type(self.encode_url);
        for o in &self.deleted {
            d.open("Deleted");
            d.key("Key", &o.key, self.encode_url);
            d.text_opt("VersionId", o.version_id.as_deref());
            if o.delete_marker {
                d.num("DeleteMarker", true);
            }
            d.text_opt(
                "DeleteMarkerVersionId",
                o.delete_marker_version_id.as_deref(),
            );
            d.close("Deleted");
        }
        d.finish("DeleteResult")
    }
}
