//! Data keys and the per-segment keys derived from them.
//!
//! Each object has one random 256-bit data key, wrapped by a master key (SSE-OSS) or a
//! CMK (SSE-KMS). Packages are never sealed with it directly: every segment (a PUT body, a
//! multipart part, one append) gets its own key,
//!
//! ```text
//! segment key = HKDF-SHA256(ikm = data key, salt = envelope salt,
//!                           info = "coffer/sse/v1/segment" || suite id || segment id (u32 BE))
//! ```
//!
//! truncated to the suite's key length. Distinct keys per segment make a package moved to
//! another segment, or another object, fail authentication, and keep each key's GCM nonce
//! space (the package sequence number) private to one segment.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::cipher::{CipherSuite, PackageAead, keyed};

/// An object's plaintext data key. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

const SEGMENT_INFO: &[u8] = b"coffer/sse/v1/segment";

/// The key one segment's packages are sealed under, already expanded for its cipher.
pub struct SegmentKey {
    pub(crate) suite: CipherSuite,
    pub(crate) cipher: Box<dyn PackageAead>,
}

impl SegmentKey {
    pub fn derive(data_key: &DataKey, salt: &[u8; 16], suite: CipherSuite, segment: u32) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(salt), data_key.as_bytes());
        let mut info = Vec::with_capacity(SEGMENT_INFO.len() + 5);
        info.extend_from_slice(SEGMENT_INFO);
        info.push(suite.id());
        info.extend_from_slice(&segment.to_be_bytes());
        let mut okm = Zeroizing::new([0u8; 32]);
        let okm = &mut okm[..suite.key_len()];
        hk.expand(&info, okm)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SegmentKey {
            suite,
            cipher: keyed(suite, okm),
        }
    }

    pub fn suite(&self) -> CipherSuite {
        self.suite
    }
}

/// Derives the raw segment key bytes, for the format's test vectors only.
#[doc(hidden)]
pub fn segment_key_bytes(
    data_key: &DataKey,
    salt: &[u8; 16],
    suite: CipherSuite,
    segment: u32,
) -> Vec<u8> {
    let hk = Hkdf::<Sha256>::new(Some(salt), data_key.as_bytes());
    let mut info = SEGMENT_INFO.to_vec();
    info.push(suite.id());
    info.extend_from_slice(&segment.to_be_bytes());
    let mut okm = vec![0u8; suite.key_len()];
    hk.expand(&info, &mut okm).expect("valid length");
    okm
}
