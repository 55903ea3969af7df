//! AES-256-GCM sealing (ring) and the canonical additional-authenticated-data encodings.
//!
//! Every sealed blob is `nonce (12 bytes) || ciphertext || tag (16 bytes)` with a random nonce.
//! Each use has its own AAD, starting with a distinct domain label, so a blob sealed for one
//! purpose never opens for another:
//!
//! ```text
//! data key:      "coffer-kms/v1/data-key"     || field(key id) || version (u32 BE) || context
//! key material:  "coffer-kms/v1/key-material" || field(key id) || version (u32 BE)
//! root check:    "coffer-kms/v1/root-key-check"
//! field(x) = len(x) (u32 BE) || x
//! context  = number of entries (u32 BE) || (field(name) || field(value)) for each entry, sorted by name
//! ```

use coffer_crypto::Aes256GcmKey;
use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{EncryptionContext, KmsError};

pub(crate) const TAG_LEN: usize = 16;
/// Length of a sealed 32-byte key: nonce || ciphertext || tag.
pub(crate) const SEALED_KEY_LEN: usize = NONCE_LEN + 32 + TAG_LEN;

pub(crate) fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

pub(crate) fn data_key_aad(key_id: &str, version: u32, context: &EncryptionContext) -> Vec<u8> {
    let mut aad = b"coffer-kms/v1/data-key".to_vec();
    put_field(&mut aad, key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    context.encode_into(&mut aad);
    aad
}

pub(crate) fn material_aad(key_id: &str, version: u32) -> Vec<u8> {
    let mut aad = b"coffer-kms/v1/key-material".to_vec();
    put_field(&mut aad, key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

pub(crate) const ROOT_CHECK_AAD: &[u8] = b"coffer-kms/v1/root-key-check";

fn cipher(key: &[u8]) -> Aes256GcmKey {
    Aes256GcmKey::new(key.try_into().expect("KMS keys are 32 bytes"))
}

fn rng_failed() -> KmsError {
    KmsError::Storage("system random number generator failed".into())
}

/// Seals `plaintext` under `key` with a fresh random nonce.
pub(crate) fn seal(
    key: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &SystemRandom,
) -> Result<Vec<u8>, KmsError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| rng_failed())?;
    // The buffer holds plaintext until sealed in place; its capacity already fits the tag, so
    // no reallocation leaves an unzeroized copy behind.
    let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    body.extend_from_slice(plaintext);
    cipher(key)
        .get()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut *body,
        )
        .map_err(|_| KmsError::Storage("AES-GCM seal failed".into()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + body.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens a blob made by [`seal`]; `None` if it is malformed or does not authenticate.
pub(crate) fn open(key: &[u8], aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if blob.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&blob[..NONCE_LEN]).ok()?;
    let mut buf = Zeroizing::new(blob[NONCE_LEN..].to_vec());
    let len = cipher(key)
        .get()
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

/// Opens a sealed 32-byte key (returned on the heap, so moving it copies no key bytes).
pub(crate) fn open_key(key: &[u8], aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if blob.len() != SEALED_KEY_LEN {
        return None;
    }
    let plain = open(key, aad, blob)?;
    (plain.len() == 32).then_some(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let rng = SystemRandom::new();
        let key = [7u8; 32];
        let blob = seal(&key, b"aad", &[9u8; 32], &rng).unwrap();
        assert_eq!(blob.len(), SEALED_KEY_LEN);
        assert_eq!(&open_key(&key, b"aad", &blob).unwrap()[..], &[9u8; 32]);
        assert!(open_key(&key, b"aaD", &blob).is_none());
        assert!(open_key(&[8u8; 32], b"aad", &blob).is_none());
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            assert!(open_key(&key, b"aad", &bad).is_none(), "flip at {i}");
        }
        assert!(open_key(&key, b"aad", &blob[..blob.len() - 1]).is_none());
        let empty = seal(&key, ROOT_CHECK_AAD, &[], &rng).unwrap();
        assert!(open(&key, ROOT_CHECK_AAD, &empty).unwrap().is_empty());
    }

    #[test]
    fn nonces_are_fresh() {
        let rng = SystemRandom::new();
        let a = seal(&[1; 32], b"", &[0; 32], &rng).unwrap();
        let b = seal(&[1; 32], b"", &[0; 32], &rng).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn aads_are_domain_separated() {
        let ctx = EncryptionContext::new();
        assert_ne!(data_key_aad("k", 1, &ctx), material_aad("k", 1));
        assert_ne!(data_key_aad("k", 1, &ctx), data_key_aad("k", 2, &ctx));
        assert_ne!(material_aad("k", 1), material_aad("j", 1));
    }
}
