//! Keys a client supplies with every request (SSE-C), and what an envelope keeps of them.
//!
//! The customer's 256-bit key is the object's data key: segment keys are derived from it
//! exactly as from a managed data key (see [`crate::keys`]), with the envelope's random
//! per-object salt, so two objects under one customer key still have distinct segment
//! keys. A random data key wrapped under the customer key would add a second secret whose
//! only protection is the customer key itself, and buy nothing: changing an SSE-C
//! object's key is always a copy, which re-seals the bytes anyway.
//!
//! The key is never stored. The envelope keeps a [`KeyVerifier`] instead,
//!
//! ```text
//! verifier = HMAC-SHA256(key = customer key, "coffer/sse-c/v1/verifier" || salt)
//! ```
//!
//! with its own random 16-byte salt. Without the key the verifier cannot be computed, and
//! the salt makes it differ between objects, so equal keys do not show as equal
//! verifiers (a bare hash of the key, like the MD5 clients send, would).

use ring::hmac;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::envelope::hex_bytes;
use crate::keys::DataKey;

/// A key the client supplied with the request: exactly 256 bits, zeroized on drop, never
/// printed. It has no accessor for its bytes: it can only become a data key or be checked
/// against a verifier.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CustomerKey([u8; 32]);

/// A supplied key that is not 256 bits long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a customer-provided key must be 256 bits, not {bits}")]
pub struct InvalidCustomerKey {
    pub bits: usize,
}

impl CustomerKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CustomerKey(bytes)
    }

    /// The key from decoded request bytes, which must be exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidCustomerKey> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| InvalidCustomerKey {
            bits: bytes.len() * 8,
        })?;
        Ok(CustomerKey(array))
    }

    /// The object's data key, from which its segment keys derive.
    pub fn data_key(&self) -> DataKey {
        DataKey::from_bytes(self.0)
    }

    fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.0)
    }
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerKey(..)")
    }
}

const VERIFIER_LABEL: &[u8] = b"coffer/sse-c/v1/verifier";

/// What an envelope keeps of a customer key: enough to tell the right key from a wrong
/// one, nothing that reveals it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVerifier {
    #[serde(with = "hex_bytes")]
    salt: Vec<u8>,
    #[serde(with = "hex_bytes")]
    mac: Vec<u8>,
}

impl KeyVerifier {
    /// The verifier of `key` under `salt`, which must be random per object.
    pub fn new(key: &CustomerKey, salt: [u8; 16]) -> Self {
        let mac = hmac::sign(&key.hmac_key(), &message(&salt));
        KeyVerifier {
            salt: salt.to_vec(),
            mac: mac.as_ref().to_vec(),
        }
    }

    /// Whether `key` is the key this verifier was made from. The comparison takes the same
    /// time wherever the MACs differ.
    pub fn verifies(&self, key: &CustomerKey) -> bool {
        hmac::verify(&key.hmac_key(), &message(&self.salt), &self.mac).is_ok()
    }
}

fn message(salt: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(VERIFIER_LABEL.len() + salt.len());
    m.extend_from_slice(VERIFIER_LABEL);
    m.extend_from_slice(salt);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_256_bit_keys_are_accepted() {
        assert!(CustomerKey::from_slice(&[7; 32]).is_ok());
        assert_eq!(
            CustomerKey::from_slice(&[7; 16]).unwrap_err(),
            InvalidCustomerKey { bits: 128 }
        );
        assert_eq!(
            CustomerKey::from_slice(&[]).unwrap_err(),
            InvalidCustomerKey { bits: 0 }
        );
        assert!(CustomerKey::from_slice(&[7; 33]).is_err());
    }

    #[test]
    fn the_verifier_tells_the_right_key_from_a_wrong_one() {
        let key = CustomerKey::from_bytes([1; 32]);
        let verifier = KeyVerifier::new(&key, [9; 16]);
        assert!(verifier.verifies(&key));
        assert!(!verifier.verifies(&CustomerKey::from_bytes([2; 32])));
        let mut flipped = [1; 32];
        flipped[31] ^= 1;
        assert!(!verifier.verifies(&CustomerKey::from_bytes(flipped)));
    }

    #[test]
    fn the_salt_makes_verifiers_of_one_key_differ() {
        let key = CustomerKey::from_bytes([1; 32]);
        let a = KeyVerifier::new(&key, [1; 16]);
        let b = KeyVerifier::new(&key, [2; 16]);
        assert_ne!(a.mac, b.mac);
        assert!(a.verifies(&key) && b.verifies(&key));
    }

    #[test]
    fn neither_debug_nor_the_stored_form_shows_the_key() {
        let key = CustomerKey::from_bytes([0xAB; 32]);
        assert_eq!(format!("{key:?}"), "CustomerKey(..)");
        let stored = serde_json::to_string(&KeyVerifier::new(&key, [0; 16])).unwrap();
        assert!(!stored.contains(&hex::encode([0xAB; 32])));
    }

    #[test]
    fn a_tampered_verifier_verifies_nothing() {
        let key = CustomerKey::from_bytes([1; 32]);
        let mut verifier = KeyVerifier::new(&key, [3; 16]);
        verifier.salt[0] ^= 1;
        assert!(!verifier.verifies(&key));
        verifier.salt[0] ^= 1;
        verifier.mac.truncate(16);
        assert!(!verifier.verifies(&key));
    }
}
