//! Bucket configuration documents: encryption rules, GetBucketInfo, location, ACL, stat.

use super::*;

/// A bucket's default encryption rule.
///
/// Used three ways: parsed from a PutBucketEncryption body
/// ([`ServerSideEncryptionRule::parse`]), rendered for GetBucketEncryption
/// ([`ServerSideEncryptionRule::to_xml`]), and embedded flat in
/// [`BucketInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerSideEncryptionRule {
    /// `AES256`, `SM4` or `KMS` (not validated here).
    pub sse_algorithm: String,
    /// `None` when absent or empty.
    pub kms_master_key_id: Option<String>,
    /// `None` when absent or empty; only `SM4` is valid (not validated here).
    pub kms_data_encryption: Option<String>,
}

#[derive(Deserialize)]
struct RawSseRule {
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    apply: RawSseDefault,
}

#[derive(Deserialize)]
struct RawSseDefault {
    #[serde(rename = "SSEAlgorithm")]
    sse_algorithm: String,
    #[serde(rename = "KMSMasterKeyID", default)]
    kms_master_key_id: Option<String>,
    #[serde(rename = "KMSDataEncryption", default)]
    kms_data_encryption: Option<String>,
}

pub(super) fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl ServerSideEncryptionRule {
    /// Parses a PutBucketEncryption body. `ApplyServerSideEncryptionByDefault`
    /// and `SSEAlgorithm` are required; element order is free. Values are
    /// trimmed; the algorithm's validity is the caller's business.
    pub fn parse(body: &[u8]) -> Result<Self, XmlError> {
        let raw: RawSseRule = parse_document(body, "ServerSideEncryptionRule")?;
        Ok(Self {
            sse_algorithm: raw.apply.sse_algorithm.trim().to_owned(),
            kms_master_key_id: non_empty(raw.apply.kms_master_key_id),
            kms_data_encryption: non_empty(raw.apply.kms_data_encryption),
        })
    }

    /// GetBucketEncryption body: `SSEAlgorithm`, `KMSDataEncryption`,
    /// `KMSMasterKeyID` under `ApplyServerSideEncryptionByDefault`; absent
    /// values are omitted.
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("ServerSideEncryptionRule");
        d.open("ApplyServerSideEncryptionByDefault");
        d.text("SSEAlgorithm", &self.sse_algorithm);
        d.text_opt("KMSDataEncryption", self.kms_data_encryption.as_deref());
        d.text_opt("KMSMasterKeyID", self.kms_master_key_id.as_deref());
        d.close("ApplyServerSideEncryptionByDefault");
        d.finish("ServerSideEncryptionRule")
    }
}

/// GetBucketInfo (`GET /?bucketInfo`) response (§1.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketInfo {
    /// `Enabled` / `Disabled`; omitted when `None`.
    pub access_monitor: Option<String>,
    pub creation_date: String,
    pub extranet_endpoint: String,
    pub intranet_endpoint: String,
    pub location: String,
    pub storage_class: String,
    /// `Enabled` / `Disabled`; omitted when `None`.
    pub transfer_acceleration: Option<String>,
    /// `Enabled` / `Disabled`; omitted when `None`.
    pub cross_region_replication: Option<String>,
    /// `LRS` / `ZRS`; omitted when `None`.
    pub data_redundancy_type: Option<String>,
    pub name: String,
    /// Always rendered, empty when the bucket is in no resource group.
    pub resource_group_id: String,
    pub owner: Owner,
    /// `private`, `public-read` or `public-read-write`.
    pub acl: String,
    /// Rendered flat under `ServerSideEncryptionRule`; `None` renders
    /// `<SSEAlgorithm>None</SSEAlgorithm>` (the element is always present).
    pub server_side_encryption: Option<ServerSideEncryptionRule>,
    /// Access logging target, `BucketPolicy/LogBucket` and `LogPrefix`: always rendered,
    /// empty when logging is off.
    pub log_bucket: String,
    pub log_prefix: String,
    /// Always rendered, empty when unset.
    pub comment: String,
    /// `BlockPublicAccess`, always rendered.
    pub block_public_access: bool,
    /// `Enabled` / `Suspended`; omitted when `None` (never enabled).
    pub versioning: Option<String>,
}

impl BucketInfo {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("BucketInfo");
        d.open("Bucket");
        d.text_opt("AccessMonitor", self.access_monitor.as_deref());
        d.text("CreationDate", &self.creation_date);
        d.text("ExtranetEndpoint", &self.extranet_endpoint);
        d.text("IntranetEndpoint", &self.intranet_endpoint);
        d.text("Location", &self.location);
        d.text("StorageClass", &self.storage_class);
        d.text_opt(
            "TransferAcceleration",
            self.transfer_acceleration.as_deref(),
        );
        d.text_opt(
            "CrossRegionReplication",
            self.cross_region_replication.as_deref(),
        );
        d.text_opt("DataRedundancyType", self.data_redundancy_type.as_deref());
        d.text("Name", &self.name);
        d.text("ResourceGroupId", &self.resource_group_id);
        d.owner_name_first(&self.owner);
        d.open("AccessControlList");
        d.text("Grant", &self.acl);
        d.close("AccessControlList");
        d.open("ServerSideEncryptionRule");
        match &self.server_side_encryption {
            Some(rule) => {
                d.text("SSEAlgorithm", &rule.sse_algorithm);
                d.text_opt("KMSMasterKeyID", rule.kms_master_key_id.as_deref());
                d.text_opt("KMSDataEncryption", rule.kms_data_encryption.as_deref());
            }
            None => d.text("SSEAlgorithm", "None"),
        }
        d.close("ServerSideEncryptionRule");
        d.open("BucketPolicy");
        d.text("LogBucket", &self.log_bucket);
        d.text("LogPrefix", &self.log_prefix);
        d.close("BucketPolicy");
        d.text("Comment", &self.comment);
        d.num("BlockPublicAccess", self.block_public_access);
        d.text_opt("Versioning", self.versioning.as_deref());
        d.close("Bucket");
        d.finish("BucketInfo")
    }
}

/// GetBucketLocation response: `<LocationConstraint>oss-cn-hangzhou</LocationConstraint>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocationConstraint {
    pub location: String,
}

impl LocationConstraint {
    pub fn to_xml(&self) -> String {
        let mut out = String::from(XML_DECLARATION);
        out.push_str("<LocationConstraint>");
        out.push_str(&escape_text(&self.location));
        out.push_str("</LocationConstraint>");
        out
    }
}

/// GetBucketAcl / GetObjectAcl response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessControlPolicy {
    pub owner: Owner,
    /// `private`, `public-read`, `public-read-write` (and `default` for
    /// objects).
    pub grant: String,
}

impl AccessControlPolicy {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("AccessControlPolicy");
        d.owner_id_first(&self.owner);
        d.open("AccessControlList");
        d.text("Grant", &self.grant);
        d.close("AccessControlList");
        d.finish("AccessControlPolicy")
    }
}

/// GetBucketStat (`GET /?stat`) response. All sizes in bytes;
/// `last_modified_time` is a UNIX timestamp in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketStat {
    pub storage: u64,
    pub object_count: u64,
    pub multipart_upload_count: u64,
    pub live_channel_count: u64,
    pub multipart_part_count: u64,
    pub multipart_part_storage: u64,
    pub last_modified_time: u64,
    pub standard_storage: u64,
    pub standard_object_count: u64,
    pub infrequent_access_storage: u64,
    pub infrequent_access_real_storage: u64,
    pub infrequent_access_object_count: u64,
    pub archive_storage: u64,
    pub archive_real_storage: u64,
    pub archive_object_count: u64,
    pub cold_archive_storage: u64,
    pub cold_archive_real_storage: u64,
    pub cold_archive_object_count: u64,
    pub deep_cold_archive_storage: u64,
    pub deep_cold_archive_real_storage: u64,
    pub deep_cold_archive_object_count: u64,
    pub delete_marker_count: u64,
}

impl BucketStat {
    pub fn to_xml(&self) -> String {
        let mut d = Doc::new("BucketStat");
        d.num("Storage", self.storage);
        d.num("ObjectCount", self.object_count);
        d.num("MultipartUploadCount", self.multipart_upload_count);
        d.num("LiveChannelCount", self.live_channel_count);
        d.num("MultipartPartCount", self.multipart_part_count);
        d.num("MultipartPartStorage", self.multipart_part_storage);
        d.num("LastModifiedTime", self.last_modified_time);
        d.num("StandardStorage", self.standard_storage);
        d.num("StandardObjectCount", self.standard_object_count);
        d.num("InfrequentAccessStorage", self.infrequent_access_storage);
        d.num(
            "InfrequentAccessRealStorage",
            self.infrequent_access_real_storage,
        );
        d.num(
            "InfrequentAccessObjectCount",
            self.infrequent_access_object_count,
        );
        d.num("ArchiveStorage", self.archive_storage);
        d.num("ArchiveRealStorage", self.archive_real_storage);
        d.num("ArchiveObjectCount", self.archive_object_count);
        d.num("ColdArchiveStorage", self.cold_archive_storage);
        d.num("ColdArchiveRealStorage", self.cold_archive_real_storage);
        d.num("ColdArchiveObjectCount", self.cold_archive_object_count);
        d.num("DeepColdArchiveStorage", self.deep_cold_archive_storage);
        d.num(
            "DeepColdArchiveRealStorage",
            self.deep_cold_archive_real_storage,
        );
        d.num(
            "DeepColdArchiveObjectCount",
            self.deep_cold_archive_object_count,
        );
        d.num("DeleteMarkerCount", self.delete_marker_count);
        d.finish("BucketStat")
    }
}
