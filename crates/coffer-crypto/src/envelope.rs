//! The envelope: everything needed to decrypt an object, stored in its metadata record.

use serde::{Deserialize, Serialize};

use crate::cipher::CipherSuite;

/// How the data key is protected, which is also what the OSS API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseMethod {
    /// SSE-OSS: the data key is sealed under Coffer's rotating service master key.
    ServiceManaged,
    /// SSE-KMS: the data key is sealed under a customer master key.
    Kms,
}

/// Self-describing encryption metadata of one object (or multipart upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Format version of packages and key derivation; 1 today.
    pub format: u8,
    pub method: SseMethod,
    pub suite: CipherSuite,
    /// The CMK (SSE-KMS) or `service` (SSE-OSS) that wraps the data key.
    pub key_id: String,
    pub key_version: u32,
    /// The wrapped data key, opaque to everything but the KMS.
    #[serde(with = "hex_bytes")]
    pub wrapped_key: Vec<u8>,
    /// HKDF salt for segment keys, random per object.
    #[serde(with = "hex_bytes")]
    pub salt: Vec<u8>,
    /// The bucket and key the data key was wrapped for; the KMS binds the wrap to them.
    pub bucket: String,
    pub object: String,
}

impl Envelope {
    pub const FORMAT: u8 = 1;

    pub fn salt_array(&self) -> Option<[u8; 16]> {
        self.salt.as_slice().try_into().ok()
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}
