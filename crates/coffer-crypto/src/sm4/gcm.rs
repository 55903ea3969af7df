//! SM4-GCM: NIST SP 800-38D GCM with SM4 as the block cipher, 96-bit nonces
//! and 128-bit tags. The output is identical to `aes_gcm::AesGcm<Sm4, U12>`
//! (the tests check it against RustCrypto `sm4` in that construction).
//!
//! It is composed here rather than through `AesGcm` because `AesGcm`'s CTR
//! layer (`ctr` 0.10) encrypts every block that does not fill a whole
//! `ParBlocksSize` batch with a separate single-block call. With the wide SIMD
//! backends (32–64 blocks per batch) that made messages shorter than a few
//! KiB, and the tail of every message, run at single-block latency. Here the
//! tag mask `E(J0)` and the keystream of the first 63 blocks are generated
//! in one batch, and the rest of the message goes through
//! `Sm4::ctr32_xor`, which on the SIMD backends builds the counter blocks in
//! registers and XORs the keystream straight into the message (no keystream
//! buffer, no separate XOR pass), partial register group included. GHASH is
//! [`crate::ghash`] (VPCLMULQDQ where available, else RustCrypto's `ghash`).

use aes_gcm::aes::cipher::{BlockCipherEncrypt, array::Array, consts::U16};
use zeroize::Zeroize;

use super::{Sm4, Sm4Backend};
use crate::ghash::{GhashBackend, GhashKey};

type Block = Array<u8, U16>;

/// Blocks in the first batch: `J0` and the first keystream blocks (a
/// multiple of every backend's `ParBlocksSize`).
const BATCH: usize = 64;
/// Longest plaintext GCM allows: 2^39 − 256 bits.
const P_MAX: u64 = (1 << 36) - 32;
/// Longest associated data GCM allows: 2^64 − 1 bits.
const A_MAX: u64 = (1 << 61) - 1;

/// SM4-GCM authentication failure: the tag does not match the ciphertext,
/// nonce and associated data (or the input exceeds the GCM length limits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("SM4-GCM authentication failed")]
pub struct Sm4GcmError;

/// SM4-GCM with a 128-bit key, 96-bit nonces and 128-bit tags.
///
/// The SM4 round keys and the GHASH key are zeroized on drop.
#[derive(Clone)]
pub struct Sm4Gcm {
    cipher: Sm4,
    /// GHASH keyed with `H = E(0^128)`.
    ghash: GhashKey,
}

impl Sm4Gcm {
    /// A key for the fastest available SM4 backend.
    pub fn new(key: &[u8; 16]) -> Self {
        Self::with_backends(key, Sm4Backend::detect(), GhashBackend::detect())
            .expect("detected backends are available")
    }

    /// A key for a specific SM4 backend; `None` if this CPU cannot run it.
    pub fn with_backend(key: &[u8; 16], backend: Sm4Backend) -> Option<Self> {
        Self::with_backends(key, backend, GhashBackend::detect())
    }

    /// A key for specific SM4 and GHASH backends; `None` if this CPU cannot
    /// run one of them.
    pub fn with_backends(key: &[u8; 16], sm4: Sm4Backend, ghash: GhashBackend) -> Option<Self> {
        if !ghash.is_available() {
            return None;
        }
        let cipher = Sm4::with_backend(key, sm4)?;
        let mut h = Block::default();
        cipher.encrypt_block(&mut h);
        let ghash = GhashKey::with_backend(h.as_ref(), ghash);
        h.zeroize();
        Some(Self {
            cipher,
            ghash: ghash?,
        })
    }

    /// The SM4 backend in use.
    pub fn backend(&self) -> Sm4Backend {
        self.cipher.backend()
    }

    /// The GHASH backend in use.
    pub fn ghash_backend(&self) -> GhashBackend {
        self.ghash.backend()
    }

    /// Encrypts `buf` in place and returns the tag.
    ///
    /// # Panics
    /// If `buf` is longer than GCM allows (2^36 − 32 bytes) or `aad` longer
    /// than 2^61 − 1 bytes.
    pub fn seal_in_place_detached(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
        assert!(
            within_limits(aad, buf),
            "SM4-GCM input exceeds the GCM length limits"
        );
        let mut first = self.first_batch(nonce, buf.len());
        let covered = first_batch_bytes(buf.len());
        let (head, rest) = buf.split_at_mut(covered);
        xor_in_place(head, Block::slice_as_flattened(&first[1..]));
        self.apply_keystream(nonce, first_counter_after(covered), rest);
        let tag = self.tag(aad, buf, &first[0]);
        wipe(&mut first);
        tag
    }

    /// Verifies `tag` and decrypts `buf` in place. On failure `buf` is left
    /// unchanged: the tag is checked (in constant time) before decryption.
    pub fn open_in_place_detached(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), Sm4GcmError> {
        if !within_limits(aad, buf) {
            return Err(Sm4GcmError);
        }
        let mut first = self.first_batch(nonce, buf.len());
        let expected = self.tag(aad, buf, &first[0]);
        if !ct_eq(&expected, tag) {
            wipe(&mut first);
            return Err(Sm4GcmError);
        }
        let covered = first_batch_bytes(buf.len());
        let (head, rest) = buf.split_at_mut(covered);
        xor_in_place(head, Block::slice_as_flattened(&first[1..]));
        wipe(&mut first);
        self.apply_keystream(nonce, first_counter_after(covered), rest);
        Ok(())
    }

    /// The keystream for `J0 = nonce || 1` (the tag mask `E(J0)`) and for
    /// the counters `2..` covering up to `BATCH - 1` blocks of a message of
    /// `len` bytes, in one call. Block 0 is `E(J0)`.
    fn first_batch(&self, nonce: &[u8; 12], len: usize) -> [Block; BATCH] {
        let n = 1 + first_batch_bytes(len).div_ceil(16);
        let mut blocks = [Block::default(); BATCH];
        self.cipher
            .ctr32_xor(nonce, 1, Block::slice_as_flattened_mut(&mut blocks[..n]));
        blocks
    }

    /// XORs the keystream for counters `ctr, ctr + 1, …` into `data`.
    fn apply_keystream(&self, nonce: &[u8; 12], ctr: u32, data: &mut [u8]) {
        if !data.is_empty() {
            self.cipher.ctr32_xor(nonce, ctr, data);
        }
    }

    /// `GHASH_H(aad, ct) ^ mask`.
    fn tag(&self, aad: &[u8], ct: &[u8], mask: &Block) -> [u8; 16] {
        let mut ghash = self.ghash.hasher();
        ghash.update_padded(aad);
        ghash.update_padded(ct);
        let mut lengths = [0u8; 16];
        lengths[..8].copy_from_slice(&(aad.len() as u64 * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&(ct.len() as u64 * 8).to_be_bytes());
        ghash.update_padded(&lengths);
        let mut tag = ghash.finalize();
        xor_in_place(&mut tag, mask);
        tag
    }
}

impl core::fmt::Debug for Sm4Gcm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm4Gcm")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

fn within_limits(aad: &[u8], buf: &[u8]) -> bool {
    buf.len() as u64 <= P_MAX && aad.len() as u64 <= A_MAX
}

/// Bytes of a `len`-byte message covered by the first batch.
fn first_batch_bytes(len: usize) -> usize {
    len.min(16 * (BATCH - 1))
}

/// The counter following the first batch (`covered` is a multiple of 16
/// whenever anything is left after it).
fn first_counter_after(covered: usize) -> u32 {
    2 + (covered / 16) as u32
}

/// `data ^= ks[..data.len()]`.
fn xor_in_place(data: &mut [u8], ks: &[u8]) {
    for (d, k) in data.iter_mut().zip(ks) {
        *d ^= k;
    }
}

/// Zeroizes keystream blocks.
fn wipe(blocks: &mut [Block]) {
    Block::slice_as_flattened_mut(blocks).zeroize();
}

/// Constant-time equality of two tags.
fn ct_eq(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}
