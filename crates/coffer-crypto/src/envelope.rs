//! The envelope: everything needed to decrypt an object, stored in its metadata record.

use serde::{Deserialize, Serialize};

use crate::cipher::CipherSuite;
use crate::customer_key::KeyVerifier;

/// How the data key is protected, which is also what the OSS API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseMethod {
    /// SSE-OSS: the data key is sealed under Coffer's rotating service master key.
    ServiceManaged,
    /// SSE-KMS: the data key is sealed under a customer master key.
    Kms,
    /// SSE-C: the client supplies the key with every request; it is never stored. The
    /// envelope has no wrapped key, and a [`KeyVerifier`] in its place.
    CustomerProvided,
}

/// Self-describing encryption metadata of one object (or multipart upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Format version of packages and key derivation; 1 today.
    pub format: u8,
    pub method: SseMethod,
    pub suite: CipherSuite,
    /// The CMK (SSE-KMS) or `service` (SSE-OSS) that wraps the data key; empty for SSE-C.
    pub key_id: String,
    pub key_version: u32,
    /// The wrapped data key, opaque to everything but the KMS; empty for SSE-C.
    #[serde(with = "hex_bytes")]
    pub wrapped_key: Vec<u8>,
    /// HKDF salt for segment keys, random per object.
    #[serde(with = "hex_bytes")]
    pub salt: Vec<u8>,
    /// The bucket and key the data key was wrapped for; the KMS binds the wrap to them.
    pub bucket: String,
    pub object: String,
    /// SSE-C only: what checks the key a request supplies. Absent from every envelope of
    /// a managed key, which is therefore stored exactly as before this field existed, and
    /// read back without it as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_verifier: Option<KeyVerifier>,
}

impl Envelope {
    pub const FORMAT: u8 = 1;

    pub fn salt_array(&self) -> Option<[u8; 16]> {
        self.salt.as_slice().try_into().ok()
    }
}

pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An envelope as stored before SSE-C existed, typed in rather than produced by
    /// today's code.
    const LEGACY: &str = r#"{"format":1,"method":"Kms","suite":"Aes256Gcm","key_id":"cmk-1","key_version":2,"wrapped_key":"0a0b","salt":"000102030405060708090a0b0c0d0e0f","bucket":"b","object":"o"}"#;

    #[test]
    fn envelopes_stored_before_customer_keys_still_read_and_write_the_same() {
        let envelope: Envelope = serde_json::from_str(LEGACY).unwrap();
        assert_eq!(envelope.method, SseMethod::Kms);
        assert_eq!(envelope.wrapped_key, [0x0a, 0x0b]);
        assert_eq!(envelope.key_verifier, None);
        // A managed envelope's stored form is unchanged: no new field appears in it.
        assert_eq!(serde_json::to_string(&envelope).unwrap(), LEGACY);
    }
}
