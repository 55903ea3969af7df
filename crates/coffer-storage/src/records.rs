//! The records a [`crate::MetaStore`] keeps. They are serialized as JSON so that a store's
//! contents stay readable with ordinary tools; new fields must carry `#[serde(default)]`.

use serde::{Deserialize, Serialize};

use crate::blob::BlobId;

pub use crate::encryption_rule::EncryptionRule;
pub use coffer_crypto::Envelope;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BucketAcl {
    Private,
    PublicRead,
    PublicReadWrite,
}

/// An object's own ACL; `Default` defers to the bucket's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ObjectAcl {
    #[default]
    Default,
    Private,
    PublicRead,
    PublicReadWrite,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    /// Account that owns the bucket (the root AccessKey id's account).
    pub owner: String,
    pub created_ms: i64,
    pub acl: BucketAcl,
    pub storage_class: String,
    pub data_redundancy_type: String,
    /// Default server-side encryption for uploads that choose none.
    #[serde(default)]
    pub encryption: Option<EncryptionRule>,
    /// The bucket policy document, as the owner stored it (validated on the way in).
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectKind {
    Normal,
    Appendable,
    Multipart,
}

/// A contiguous run of an object's bytes held in one blob. Multipart objects and appendable
/// objects are several segments, so completing or appending never rewrites earlier data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub blob: BlobId,
    /// Length of the object bytes this segment contributes.
    pub len: u64,
    /// For encrypted objects, which derived key seals this segment: 0 for a single PUT,
    /// the part number for multipart, the append index for appendable objects.
    #[serde(default)]
    pub key_index: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub key: String,
    /// Changes on every write of the key; conditional writes compare it.
    pub generation: u64,
    pub size: u64,
    /// Upper-case hex, without quotes; `<hex>-<parts>` for multipart objects.
    pub etag: String,
    /// CRC-64/XZ of the whole object, when known.
    pub crc64: Option<u64>,
    /// Base64 MD5 of the body, for single PUTs (returned as `Content-MD5`).
    pub content_md5: Option<String>,
    pub last_modified_ms: i64,
    pub kind: ObjectKind,
    pub acl: ObjectAcl,
    pub storage_class: String,
    pub content_type: String,
    /// Standard headers stored with the object (`Content-Disposition`, `Cache-Control`, ...),
    /// lower-case names.
    pub headers: Vec<(String, String)>,
    /// User metadata, lower-case names without the dialect prefix (`x-oss-meta-`).
    pub user_meta: Vec<(String, String)>,
    pub segments: Vec<Segment>,
    /// How the object is encrypted; `None` for plaintext objects.
    #[serde(default)]
    pub encryption: Option<Envelope>,
}

/// An in-progress multipart upload and the object attributes fixed at initiation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: i64,
    pub acl: ObjectAcl,
    pub storage_class: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub user_meta: Vec<(String, String)>,
    /// Fixed at initiation for every part; parts seal under derived keys.
    #[serde(default)]
    pub encryption: Option<Envelope>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part_number: u32,
    pub etag: String,
    pub size: u64,
    pub crc64: Option<u64>,
    pub last_modified_ms: i64,
    pub blob: BlobId,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bucket records as the store held them before the rule's fields were typed: JSON
    /// produced by serde_json from `EncryptionRule { algorithm: String, kms_key_id:
    /// Option<String>, kms_data_encryption: Option<String> }` (every value the API could
    /// store, and values it could not, which a store may still hold).
    const STORED: [&str; 6] = [
        r#"{"algorithm":"AES256","kms_key_id":null,"kms_data_encryption":null}"#,
        r#"{"algorithm":"SM4","kms_key_id":null,"kms_data_encryption":null}"#,
        r#"{"algorithm":"KMS","kms_key_id":null,"kms_data_encryption":null}"#,
        r#"{"algorithm":"KMS","kms_key_id":"alias/acs/oss","kms_data_encryption":"SM4"}"#,
        r#"{"algorithm":"AES128","kms_key_id":null,"kms_data_encryption":null}"#,
        r#"{"algorithm":"KMS","kms_key_id":"k-1","kms_data_encryption":"SM3"}"#,
    ];

    fn rules() -> [EncryptionRule; 6] {
        use crate::{KmsDataEncryption as Data, SseAlgorithm as Alg};
        let rule = |algorithm, key: Option<&str>, data| EncryptionRule {
            algorithm,
            kms_key_id: key.map(Into::into),
            kms_data_encryption: data,
        };
        [
            rule(Alg::Aes256, None, None),
            rule(Alg::Sm4, None, None),
            rule(Alg::Kms, None, None),
            rule(Alg::Kms, Some("alias/acs/oss"), Some(Data::Sm4)),
            rule(Alg::Unknown("AES128".into()), None, None),
            rule(Alg::Kms, Some("k-1"), Some(Data::Unknown("SM3".into()))),
        ]
    }

    #[test]
    fn stored_rules_read_back_and_encode_to_the_same_bytes() {
        for (bytes, rule) in STORED.iter().zip(rules()) {
            let decoded: EncryptionRule = serde_json::from_str(bytes).unwrap();
            assert_eq!(decoded, rule, "{bytes}");
            assert_eq!(serde_json::to_string(&rule).unwrap(), *bytes);
        }
    }

    #[test]
    fn a_stored_bucket_record_reads_back_identically() {
        let stored = r#"{"name":"b","owner":"acct","created_ms":1,"acl":"Private","storage_class":"Standard","data_redundancy_type":"LRS","encryption":{"algorithm":"AES128","kms_key_id":null,"kms_data_encryption":null},"policy":null}"#;
        let record: BucketRecord = serde_json::from_str(stored).unwrap();
        assert_eq!(record.encryption, Some(rules()[4].clone()));
        assert_eq!(serde_json::to_string(&record).unwrap(), stored);
    }
}
