//! AES-256-GCM sealing of AccessKey secrets (ring), and the random ids and secrets.
//!
//! A sealed blob is `nonce (12 bytes) || ciphertext || tag (16 bytes)` with a random nonce.
//! The additional authenticated data binds a secret to its key id and user:
//!
//! ```text
//! secret:     "coffer-identity/v1/access-key-secret" || field(access key id) || field(user name)
//! seal check: "coffer-identity/v1/seal-check"
//! field(x) = len(x) (u32 BE) || x
//! ```
//!
//! so a sealed secret copied onto another key (or user) in the file does not open.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::IdentityError;

const TAG_LEN: usize = 16;
pub(crate) const SEAL_CHECK_AAD: &[u8] = b"coffer-identity/v1/seal-check";
pub(crate) const SEAL_CHECK_PLAINTEXT: &[u8] = b"coffer identity seal key";

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(crate) fn secret_aad(access_key_id: &str, user_name: &str) -> Vec<u8> {
    let mut aad = b"coffer-identity/v1/access-key-secret".to_vec();
    for field in [access_key_id, user_name] {
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

fn rng_failed() -> IdentityError {
    IdentityError::Storage("the system random number generator failed".into())
}

/// Seals and opens under the 32-byte seal key; also the source of randomness.
pub(crate) struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    pub(crate) fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            key: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, key).expect("AES-256 keys are 32 bytes"),
            ),
            rng: SystemRandom::new(),
        }
    }

    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, IdentityError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| rng_failed())?;
        // Sized for the tag up front, so sealing in place never reallocates and leaves an
        // unzeroized copy of the plaintext behind.
        let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        body.extend_from_slice(plaintext);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut *body,
            )
            .map_err(|_| IdentityError::Storage("AES-GCM seal failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// `None` when the blob was not sealed under this key with this AAD (or is damaged).
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf[..])
            .ok()?
            .len();
        buf.truncate(len);
        Some(buf)
    }

    /// `len` characters drawn uniformly from `[A-Za-z0-9]`.
    pub(crate) fn alnum(&self, len: usize) -> Result<Zeroizing<String>, IdentityError> {
        self.draw(len, ALNUM)
    }

    /// A 16-digit number without a leading zero, as RAM's user ids.
    pub(crate) fn user_id(&self) -> Result<String, IdentityError> {
        let first = self.draw(1, b"123456789")?;
        let rest = self.draw(15, b"0123456789")?;
        Ok(format!("{}{}", first.as_str(), rest.as_str()))
    }

    /// Uniform by rejection sampling: bytes at or above the largest multiple of the alphabet
    /// size are drawn again.
    fn draw(&self, len: usize, alphabet: &[u8]) -> Result<Zeroizing<String>, IdentityError> {
        let limit = 256 - 256 % alphabet.len();
        let mut out = Zeroizing::new(String::with_capacity(len));
        let mut buf = Zeroizing::new([0u8; 64]);
        while out.len() < len {
            self.rng.fill(&mut buf[..]).map_err(|_| rng_failed())?;
            for &b in buf.iter() {
                if out.len() == len {
                    break;
                }
                if usize::from(b) < limit {
                    out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_the_aad() {
        let sealer = Sealer::new(&[1; 32]);
        let aad = secret_aad("LTAIx", "alice");
        let sealed = sealer.seal(&aad, b"secret").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 6 + TAG_LEN);
        assert_eq!(&sealer.open(&aad, &sealed).unwrap()[..], b"secret");
        assert!(
            sealer
                .open(&secret_aad("LTAIy", "alice"), &sealed)
                .is_none()
        );
        assert!(sealer.open(&secret_aad("LTAIx", "bob"), &sealed).is_none());
        assert!(Sealer::new(&[2; 32]).open(&aad, &sealed).is_none());
        assert!(sealer.open(&aad, &sealed[..10]).is_none());
        // Two seals of the same plaintext differ (random nonces).
        assert_ne!(sealer.seal(&aad, b"secret").unwrap(), sealed);
    }

    #[test]
    fn aad_fields_are_length_prefixed() {
        assert_ne!(secret_aad("ab", "c"), secret_aad("a", "bc"));
    }

    #[test]
    fn random_strings_have_the_right_shape() {
        let sealer = Sealer::new(&[0; 32]);
        let s = sealer.alnum(30).unwrap();
        assert_eq!(s.len(), 30);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(*s, *sealer.alnum(30).unwrap());
        for _ in 0..50 {
            let id = sealer.user_id().unwrap();
            assert_eq!(id.len(), 16);
            assert!(id.bytes().all(|b| b.is_ascii_digit()));
            assert_ne!(id.as_bytes()[0], b'0');
        }
    }
}
