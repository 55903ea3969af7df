//! A bucket's default encryption rule (the OSS `ServerSideEncryptionRule`) with typed
//! values. A value this build does not know is kept verbatim as `Unknown`, so a record
//! holding one still reads (and writes back) byte for byte; whoever would apply the rule
//! must refuse it rather than guess.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which server-side encryption a bucket applies by default, exactly as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionRule {
    pub algorithm: SseAlgorithm,
    /// Only with `KMS`: the CMK; `None` means the default CMK.
    pub kms_key_id: Option<String>,
    /// Only with `KMS`: the data cipher; `None` means AES-256.
    pub kms_data_encryption: Option<KmsDataEncryption>,
}

impl EncryptionRule {
    /// The first value in the rule this build does not know, if any.
    pub fn unknown_value(&self) -> Option<&str> {
        match (&self.algorithm, &self.kms_data_encryption) {
            (SseAlgorithm::Unknown(name), _) => Some(name),
            (_, Some(KmsDataEncryption::Unknown(name))) => Some(name),
            _ => None,
        }
    }
}

/// The rule's `SSEAlgorithm`. Stored as its OSS name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum SseAlgorithm {
    /// `AES256`: SSE-OSS with AES-256.
    Aes256,
    /// `SM4`: SSE-OSS with SM4.
    Sm4,
    /// `KMS`: SSE-KMS.
    Kms,
    /// Any other name, as stored. Build values with `From<String>`, which never puts a
    /// known name here.
    Unknown(String),
}

impl SseAlgorithm {
    /// The known algorithm called `name` (case-sensitive, as OSS is).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "AES256" => Some(Self::Aes256),
            "SM4" => Some(Self::Sm4),
            "KMS" => Some(Self::Kms),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Aes256 => "AES256",
            Self::Sm4 => "SM4",
            Self::Kms => "KMS",
            Self::Unknown(name) => name,
        }
    }
}

impl From<String> for SseAlgorithm {
    fn from(name: String) -> Self {
        Self::parse(&name).unwrap_or(Self::Unknown(name))
    }
}

impl From<SseAlgorithm> for String {
    fn from(value: SseAlgorithm) -> Self {
        match value {
            SseAlgorithm::Unknown(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for SseAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule's `KMSDataEncryption`: the data cipher under SSE-KMS. Stored as its OSS name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum KmsDataEncryption {
    /// `SM4`.
    Sm4,
    /// Any other name, as stored. Build values with `From<String>`.
    Unknown(String),
}

impl KmsDataEncryption {
    /// The known data cipher called `name` (case-sensitive).
    pub fn parse(name: &str) -> Option<Self> {
        (name == "SM4").then_some(Self::Sm4)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Sm4 => "SM4",
            Self::Unknown(name) => name,
        }
    }
}

impl From<String> for KmsDataEncryption {
    fn from(name: String) -> Self {
        Self::parse(&name).unwrap_or(Self::Unknown(name))
    }
}

impl From<KmsDataEncryption> for String {
    fn from(value: KmsDataEncryption) -> Self {
        match value {
            KmsDataEncryption::Unknown(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for KmsDataEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_stay_unknown() {
        for name in ["AES256", "SM4", "KMS", "AES128", "aes256", ""] {
            let value = SseAlgorithm::from(name.to_owned());
            assert_eq!(value.as_str(), name);
            assert_eq!(String::from(value.clone()), name);
            assert_eq!(
                SseAlgorithm::parse(name).is_some(),
                !matches!(value, SseAlgorithm::Unknown(_))
            );
        }
        assert_eq!(SseAlgorithm::from("KMS".to_owned()), SseAlgorithm::Kms);
        assert_eq!(
            KmsDataEncryption::from("SM4".to_owned()),
            KmsDataEncryption::Sm4
        );
        assert_eq!(
            KmsDataEncryption::from("sm4".to_owned()),
            KmsDataEncryption::Unknown("sm4".into())
        );
    }

    #[test]
    fn unknown_value_names_the_first_unknown_field() {
        let rule = |a: &str, d: Option<&str>| EncryptionRule {
            algorithm: a.to_owned().into(),
            kms_key_id: None,
            kms_data_encryption: d.map(|d| d.to_owned().into()),
        };
        assert_eq!(rule("KMS", Some("SM4")).unknown_value(), None);
        assert_eq!(rule("AES128", Some("SM3")).unknown_value(), Some("AES128"));
        assert_eq!(rule("KMS", Some("SM3")).unknown_value(), Some("SM3"));
        // A data cipher the rule would not use is still not trusted.
        assert_eq!(rule("AES256", Some("SM3")).unknown_value(), Some("SM3"));
    }
}
