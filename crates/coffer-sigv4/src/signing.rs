//! Scope, string to sign, key derivation, signature and the `Authorization` value.
//!
//! ```text
//! StringToSign = Algorithm \n yyyymmddThhmmssZ \n Scope \n HexLower(SHA256(CanonicalRequest))
//! Scope        = yyyymmdd/region/service/terminator
//! kSigning     = HMAC(HMAC(HMAC(HMAC(KeyPrefix + Secret, yyyymmdd), region), service), terminator)
//! Signature    = HexLower(HMAC(kSigning, StringToSign))
//! ```

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::canonical::Request;
use crate::vocabulary::Vocabulary;

/// The credential scope: date, region and service. The terminator comes from the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// `yyyymmdd`
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl<'a> Scope<'a> {
    pub fn new(date: &'a str, region: &'a str, service: &'a str) -> Self {
        Self {
            date,
            region,
            service,
        }
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

impl Vocabulary {
    /// A scope with the vocabulary's default service.
    pub fn scope<'a>(&self, date: &'a str, region: &'a str) -> Scope<'a> {
        Scope::new(date, region, self.service)
    }

    /// `yyyymmdd/region/service/terminator`.
    pub fn scope_string(&self, scope: &Scope<'_>) -> String {
        format!(
            "{}/{}/{}/{}",
            scope.date, scope.region, scope.service, self.terminator
        )
    }

    /// `Algorithm\n<datetime>\n<scope>\n<hex sha256(canonical request)>`.
    pub fn string_to_sign(&self, datetime: &str, scope: &str, canonical_request: &[u8]) -> String {
        let hash = hex::encode(Sha256::digest(canonical_request));
        format!("{}\n{datetime}\n{scope}\n{hash}", self.algorithm)
    }

    /// kSigning, derived from the secret through date, region, service and terminator.
    pub fn signing_key(&self, secret: &str, scope: &Scope<'_>) -> Zeroizing<[u8; 32]> {
        let mut seed = Zeroizing::new(Vec::with_capacity(self.key_prefix.len() + secret.len()));
        seed.extend_from_slice(self.key_prefix.as_bytes());
        seed.extend_from_slice(secret.as_bytes());
        let k_date = hmac_sha256(&seed, scope.date.as_bytes());
        let k_region = hmac_sha256(&*k_date, scope.region.as_bytes());
        let k_service = hmac_sha256(&*k_region, scope.service.as_bytes());
        hmac_sha256(&*k_service, self.terminator.as_bytes())
    }

    /// HexLower(HMAC-SHA256(kSigning, string_to_sign)).
    pub fn signature(&self, secret: &str, scope: &Scope<'_>, string_to_sign: &str) -> String {
        let key = self.signing_key(secret, scope);
        hex::encode(*hmac_sha256(&*key, string_to_sign.as_bytes()))
    }

    /// The signature of a request: canonical request, string to sign and HMAC in one go.
    /// `listed` and `payload_hash` are as for [`canonical_request`](Self::canonical_request);
    /// `datetime` is `yyyymmddThhmmssZ` and its date must be the scope's.
    pub fn sign_request(
        &self,
        req: &Request<'_>,
        listed: &[String],
        payload_hash: &str,
        datetime: &str,
        scope: &Scope<'_>,
        secret: &str,
    ) -> String {
        let canonical = self.canonical_request(req, listed, payload_hash);
        let sts = self.string_to_sign(datetime, &self.scope_string(scope), &canonical);
        self.signature(secret, scope, &sts)
    }

    /// `Algorithm Credential=<ak>/<scope>,<Listed>=<h1;h2>,Signature=<sig>` with the
    /// vocabulary's field separator; the listed-headers field is left out when the list is
    /// empty (OSS's AdditionalHeaders is optional; AWS always lists `host`).
    pub fn authorization(
        &self,
        access_key_id: &str,
        scope: &str,
        listed: &[String],
        signature: &str,
    ) -> String {
        let sep = self.field_separator;
        let mut value = format!("{} Credential={access_key_id}/{scope}", self.algorithm);
        if !listed.is_empty() {
            value.push_str(&format!(
                "{sep}{}={}",
                self.listed_headers_field,
                listed.join(";")
            ));
        }
        value.push_str(&format!("{sep}Signature={signature}"));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{AWS, OSS};

    /// The derived key of the AWS SigV4 documentation's worked example (IAM ListUsers,
    /// "Calculate the signature": kSigning for 20150830/us-east-1/iam).
    #[test]
    fn aws_documented_signing_key() {
        let scope = Scope::new("20150830", "us-east-1", "iam");
        let key = AWS.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        assert_eq!(
            hex::encode(*key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn scopes_and_authorization_values_use_the_vocabulary() {
        let scope = OSS.scope_string(&OSS.scope("20231216", "cn-hangzhou"));
        assert_eq!(scope, "20231216/cn-hangzhou/oss/aliyun_v4_request");
        assert_eq!(
            OSS.authorization("ak", &scope, &[], "sig"),
            "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,Signature=sig"
        );
        let scope = AWS.scope_string(&AWS.scope("20130524", "us-east-1"));
        assert_eq!(scope, "20130524/us-east-1/s3/aws4_request");
        let listed = ["host".to_owned(), "x-amz-date".to_owned()];
        assert_eq!(
            AWS.authorization("AK", &scope, &listed, "sig"),
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=sig"
        );
    }
}
