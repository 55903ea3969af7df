//! The AEADs packages are sealed with, behind one small interface so a backend can change
//! (ring to aws-lc-rs, a faster SM4) without touching the format.

use std::mem::MaybeUninit;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::sm4::Sm4Gcm;

/// Which AEAD a package uses. The discriminant is the byte stored in package headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CipherSuite {
    /// AES-256-GCM (ring).
    Aes256Gcm = 1,
    /// SM4-GCM with a 128-bit key (Coffer's own AES-NI SM4).
    Sm4Gcm = 2,
}

impl CipherSuite {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(CipherSuite::Aes256Gcm),
            2 => Some(CipherSuite::Sm4Gcm),
            _ => None,
        }
    }

    /// Key length the cipher takes, in bytes.
    pub fn key_len(self) -> usize {
        match self {
            CipherSuite::Aes256Gcm => 32,
            CipherSuite::Sm4Gcm => 16,
        }
    }
}

/// Authentication failed: the data, its header or its position is not what was sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored data failed authentication")]
pub struct Tampered;

/// The one interface packages need from an AEAD: seal and open in place with a detached
/// 16-byte tag. Backends (ring's AES-256-GCM, Coffer's SM4-GCM; aws-lc-rs would be a third)
/// plug in here without the format noticing. Keys are expanded once per segment.
pub(crate) trait PackageAead: Send + Sync {
    fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16];
    fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Tampered>;
}

/// ring's AES-256-GCM key, wiped when dropped. ring's own type holds the expanded round
/// keys and GHASH powers in plain memory and does not clear them, so a freed segment or
/// KMS key would otherwise leave them in the allocator's hands. (Moves before the drop can
/// still leave copies in stack frames, which later calls overwrite.)
pub struct Aes256GcmKey(MaybeUninit<LessSafeKey>);

impl Aes256GcmKey {
    pub fn new(key: &[u8; 32]) -> Self {
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("AES-256 takes 32-byte keys");
        Aes256GcmKey(MaybeUninit::new(LessSafeKey::new(unbound)))
    }

    pub fn get(&self) -> &LessSafeKey {
        // SAFETY: initialised in `new`, and de-initialised only in `drop`.
        unsafe { self.0.assume_init_ref() }
    }
}

impl Drop for Aes256GcmKey {
    fn drop(&mut self) {
        // SAFETY: initialised in `new` and not used after this. ring's key is plain bytes
        // and a static reference, so dropping it frees nothing; the bytes are then wiped
        // as `MaybeUninit`, which any bit pattern, zeroes included, may occupy.
        unsafe { self.0.assume_init_drop() };
        self.0.zeroize();
    }
}

/// `key` must be `suite.key_len()` bytes (guaranteed by the key derivation).
pub(crate) fn keyed(suite: CipherSuite, key: &[u8]) -> Box<dyn PackageAead> {
    match suite {
        CipherSuite::Aes256Gcm => {
            let key: &[u8; 32] = key.try_into().expect("derived AES key is 32 bytes");
            Box::new(RingAes256Gcm(Aes256GcmKey::new(key)))
        }
        CipherSuite::Sm4Gcm => {
            let key: &[u8; 16] = key.try_into().expect("derived SM4 key is 16 bytes");
            Box::new(Sm4Gcm::new(key))
        }
    }
}

/// AES-256-GCM from ring, which ships the VAES/AVX2 stitched implementation (the fastest
/// measured here; see shared/reference/crates.md).
struct RingAes256Gcm(Aes256GcmKey);

impl PackageAead for RingAes256Gcm {
    fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let tag = self
            .0
            .get()
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
            .expect("package sizes are far below GCM's limit");
        tag.as_ref().try_into().expect("GCM tags are 16 bytes")
    }

    fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Tampered> {
        self.0
            .get()
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                Tag::from(*tag),
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| Tampered)
    }
}

impl PackageAead for Sm4Gcm {
    fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        self.seal_in_place_detached(&nonce, aad, buf)
    }

    fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Tampered> {
        self.open_in_place_detached(&nonce, aad, buf, tag)
            .map_err(|_| Tampered)
    }
}

#[cfg(test)]
mod tests {
    use std::mem::ManuallyDrop;

    use super::*;

    #[test]
    fn an_aes_key_is_wiped_when_dropped() {
        let mut key = ManuallyDrop::new(Aes256GcmKey::new(&[0x5a; 32]));
        let tag = RingAes256Gcm(Aes256GcmKey::new(&[0x5a; 32])).seal([0; 12], b"", &mut []);
        assert_eq!(
            key.get()
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key([0; 12]),
                    Aad::empty(),
                    &mut []
                )
                .unwrap()
                .as_ref(),
            tag
        );
        // SAFETY: dropped once; `ManuallyDrop` keeps the storage, whose bytes are then
        // read as bytes only (a `MaybeUninit` is valid with any contents).
        let bytes = unsafe {
            ManuallyDrop::drop(&mut key);
            std::slice::from_raw_parts(
                (&*key as *const Aes256GcmKey).cast::<u8>(),
                size_of::<Aes256GcmKey>(),
            )
        };
        assert!(bytes.iter().all(|&b| b == 0), "key bytes left behind");
    }
}
