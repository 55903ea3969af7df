//! TEMPORARY stand-in for the fast SM4 module (`sm4/`), which is being written: the same
//! interface over RustCrypto's table-based SM4. Removed when `sm4/mod.rs` lands.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{AesGcm, Nonce, Tag};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sm4GcmError;

pub struct Sm4Gcm(AesGcm<sm4::Sm4, U12>);

impl Sm4Gcm {
    pub fn new(key: &[u8; 16]) -> Self {
        Sm4Gcm(AesGcm::new(key.into()))
    }

    pub fn seal_in_place_detached(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into())
            .expect("size");
        tag.into()
    }

    pub fn open_in_place_detached(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Sm4GcmError> {
        self.0
            .decrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into(), &Tag::from(*tag))
            .map_err(|_| Sm4GcmError)
    }
}
