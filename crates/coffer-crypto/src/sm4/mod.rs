//! SM4 block cipher (GB/T 32907-2016) and SM4-GCM.
//!
//! [`Sm4`] implements the RustCrypto `cipher` 0.5 encryption traits, so it
//! drops into generic modes such as `ctr::Ctr32BE` and
//! `aes_gcm::AesGcm<Sm4, U12>`. [`Sm4Gcm`] is SM4-GCM with a byte-slice API;
//! its output equals `AesGcm<Sm4, U12>`, but it batches the CTR tail (see
//! `gcm.rs`). Decryption of single blocks is not provided (CTR and GCM only
//! use the forward direction).
//!
//! # Backends
//!
//! The implementation is chosen at run time, once per process
//! ([`Sm4Backend::detect`]):
//!
//! | backend | CPU features | blocks per call | constant time |
//! |---|---|---|---|
//! | [`Sm4Backend::Avx512Gfni`] | AVX-512F/BW, GFNI | 64 | yes |
//! | [`Sm4Backend::Avx2Gfni`] | AVX2, GFNI | 32 | yes |
//! | [`Sm4Backend::Vaes`] | AVX2, AES-NI, VAES | 32 | yes |
//! | [`Sm4Backend::Avx2`] | AVX2, AES-NI | 32 | yes |
//! | [`Sm4Backend::AesNi`] | SSSE3, AES-NI | 16 | yes |
//! | [`Sm4Backend::Portable`] | none | 1 | **no** (table S-box) |
//!
//! The x86 backends use the fact that the SM4 S-box is affine-equivalent to
//! inversion in GF(2^8). The AES-NI backends compute it as `A2(AES_S(A1(x)))`
//! with `AESENCLAST` and `PSHUFB` nibble lookups (the technique of
//! Markku-Juhani Saarinen's MIT-licensed *sm4ni*); the GFNI backends use
//! `GF2P8AFFINEQB` + `GF2P8AFFINEINVQB`. The affine maps were re-derived
//! here, see `consts.rs`. The portable fallback uses a 256-byte
//! S-box table, which leaks through cache timing; it is only selected on
//! non-x86_64 targets and on x86_64 CPUs without AES-NI or SSSE3.

use core::fmt;
#[cfg(target_arch = "x86_64")]
use core::marker::PhantomData;
use std::sync::OnceLock;

use aes_gcm::aes::cipher::consts::{U1, U16};
use aes_gcm::aes::cipher::{
    AlgorithmName, Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt,
    BlockSizeUser, InOut, Key, KeyInit, KeySizeUser, ParBlocksSizeUser,
};
#[cfg(target_arch = "x86_64")]
use aes_gcm::aes::cipher::{
    ParBlocks,
    array::ArraySize,
    consts::{U32, U64},
    inout::InOutBuf,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use gcm::{Sm4Gcm, Sm4GcmError};

mod consts;
mod gcm;
mod soft;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

/// An SM4 implementation strategy. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sm4Backend {
    /// x86_64 with AVX-512F, AVX-512BW and GFNI: 512-bit registers, GFNI
    /// S-box with the linear transform folded into its matrices.
    Avx512Gfni,
    /// x86_64 with AVX2 and GFNI: 256-bit registers, GFNI S-box.
    Avx2Gfni,
    /// x86_64 with AVX2, AES-NI and VAES: 256-bit `VAESENCLAST` S-box.
    Vaes,
    /// x86_64 with AVX2 and AES-NI: 256-bit registers, 128-bit `AESENCLAST`.
    Avx2,
    /// x86_64 with SSSE3 and AES-NI: 128-bit registers.
    AesNi,
    /// Portable scalar code with a table S-box. **Not constant time.**
    Portable,
}

impl Sm4Backend {
    /// All backends, fastest first.
    pub const ALL: [Sm4Backend; 6] = [
        Self::Avx512Gfni,
        Self::Avx2Gfni,
        Self::Vaes,
        Self::Avx2,
        Self::AesNi,
        Self::Portable,
    ];

    /// The fastest backend this CPU supports (detected once, then cached).
    pub fn detect() -> Self {
        static DETECTED: OnceLock<Sm4Backend> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            Self::ALL
                .into_iter()
                .find(|b| b.is_available())
                .unwrap_or(Self::Portable)
        })
    }

    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Gfni => {
                std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("gfni")
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx2Gfni => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("gfni")
            }
            #[cfg(target_arch = "x86_64")]
            Self::Vaes => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("aes")
                    && std::is_x86_feature_detected!("vaes")
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("aes")
            }
            #[cfg(target_arch = "x86_64")]
            Self::AesNi => aesni_available(),
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx512Gfni | Self::Avx2Gfni | Self::Vaes | Self::Avx2 | Self::AesNi => false,
            Self::Portable => true,
        }
    }

    /// Whether the backend runs in time independent of keys and data.
    pub fn is_constant_time(self) -> bool {
        self != Self::Portable
    }
}

#[cfg(target_arch = "x86_64")]
fn aesni_available() -> bool {
    std::is_x86_feature_detected!("ssse3") && std::is_x86_feature_detected!("aes")
}

/// The SM4 block cipher with a 128-bit key (encryption direction).
///
/// The round keys are zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Sm4 {
    rk: [u32; 32],
    /// Invariant: `backend.is_available()`.
    #[zeroize(skip)]
    backend: Sm4Backend,
}

impl Sm4 {
    /// Expands `key` for the fastest available backend.
    pub fn from_key(key: &[u8; 16]) -> Self {
        Self::with_backend(key, Sm4Backend::detect()).expect("detected backend is available")
    }

    /// Expands `key` for a specific backend; `None` if this CPU cannot run it.
    pub fn with_backend(key: &[u8; 16], backend: Sm4Backend) -> Option<Self> {
        if !backend.is_available() {
            return None;
        }
        let mut rk = [0u32; 32];
        expand_key(key, &mut rk);
        Some(Self { rk, backend })
    }

    /// The backend this instance uses.
    pub fn backend(&self) -> Sm4Backend {
        self.backend
    }

    /// CTR mode with GCM's 32-bit counter: XORs the keystream
    /// `E(nonce || be32(ctr)), E(nonce || be32(ctr + 1)), …` (the counter
    /// wrapping modulo 2^32, GCM's `inc32`) into `data`.
    ///
    /// The SIMD backends build the counter blocks in registers and XOR the
    /// keystream straight into `data`, with no keystream buffer.
    pub(crate) fn ctr32_xor(&self, nonce: &[u8; 12], ctr: u32, data: &mut [u8]) {
        // In every x86 arm, `ctr32_simd`'s requirement (the CPU has the
        // kernel's features) holds because `self.backend` is always
        // available: `Sm4::with_backend` checks it and nothing changes it.
        match self.backend {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512F/BW + GFNI available (invariant of `Sm4`).
            Sm4Backend::Avx512Gfni => unsafe {
                ctr32_simd::<Avx512GfniKernel>(&self.rk, nonce, ctr, data)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 + GFNI available (invariant of `Sm4`).
            Sm4Backend::Avx2Gfni => unsafe {
                ctr32_simd::<Avx2GfniKernel>(&self.rk, nonce, ctr, data)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 + AES-NI + VAES available (invariant of `Sm4`).
            Sm4Backend::Vaes => unsafe { ctr32_simd::<VaesKernel>(&self.rk, nonce, ctr, data) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 + AES-NI available (invariant of `Sm4`).
            Sm4Backend::Avx2 => unsafe { ctr32_simd::<Avx2Kernel>(&self.rk, nonce, ctr, data) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSSE3 + AES-NI available (invariant of `Sm4`).
            Sm4Backend::AesNi => unsafe { ctr32_simd::<AesNiKernel>(&self.rk, nonce, ctr, data) },
            _ => self.ctr32_xor_blocks(nonce, ctr, data),
        }
    }

    /// [`Self::ctr32_xor`] through a keystream buffer and `encrypt_blocks`.
    fn ctr32_xor_blocks(&self, nonce: &[u8; 12], mut ctr: u32, data: &mut [u8]) {
        let mut ks = [Block::<Self>::default(); 64];
        for chunk in data.chunks_mut(16 * ks.len()) {
            let n = chunk.len().div_ceil(16);
            for b in &mut ks[..n] {
                b[..12].copy_from_slice(nonce);
                b[12..].copy_from_slice(&ctr.to_be_bytes());
                ctr = ctr.wrapping_add(1);
            }
            self.encrypt_blocks(&mut ks[..n]);
            for (d, k) in chunk.iter_mut().zip(Block::<Self>::slice_as_flattened(&ks)) {
                *d ^= k;
            }
        }
        Block::<Self>::slice_as_flattened_mut(&mut ks).zeroize();
    }
}

/// [`Sm4::ctr32_xor`] on kernel `K`: four register groups per call, the
/// last partial group through a zero-padded buffer.
///
/// # Safety
/// The CPU must support `K`'s target features.
#[cfg(target_arch = "x86_64")]
unsafe fn ctr32_simd<K: Kernel>(rk: &[u32; 32], nonce: &[u8; 12], mut ctr: u32, data: &mut [u8]) {
    let words = [0, 4, 8].map(|i| u32::from_be_bytes(nonce[i..i + 4].try_into().expect("4 bytes")));
    let group = 16 * K::GROUP_BLOCKS;
    let mut calls = data.chunks_exact_mut(4 * group);
    for c in &mut calls {
        // SAFETY: forwarded from this function's contract; `c` is 4 groups.
        unsafe { K::ctr_xor(rk, &words, ctr, c) };
        ctr = ctr.wrapping_add(4 * K::GROUP_BLOCKS as u32);
    }
    let rest = calls.into_remainder();
    let (groups, tail) = rest.split_at_mut(rest.len() / group * group);
    if !groups.is_empty() {
        // SAFETY: as above; `groups` is 1 to 3 whole groups.
        unsafe { K::ctr_xor(rk, &words, ctr, groups) };
        ctr = ctr.wrapping_add((groups.len() / 16) as u32);
    }
    if !tail.is_empty() {
        let mut buf = [0u8; 256];
        let buf = &mut buf[..group];
        buf[..tail.len()].copy_from_slice(tail);
        // SAFETY: as above; `buf` is one group.
        unsafe { K::ctr_xor(rk, &words, ctr, buf) };
        tail.copy_from_slice(&buf[..tail.len()]);
        buf.zeroize();
    }
}

/// Key schedule, constant time where AES-NI is available.
fn expand_key(key: &[u8; 16], rk: &mut [u32; 32]) {
    #[cfg(target_arch = "x86_64")]
    if aesni_available() {
        // SAFETY: `tau_aesni` needs SSSE3 and AES-NI, checked just above.
        soft::expand_key_with(key, rk, |a| unsafe { x86::tau_aesni(a) });
        return;
    }
    soft::expand_key(key, rk);
}

impl fmt::Debug for Sm4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sm4")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl AlgorithmName for Sm4 {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sm4")
    }
}

impl KeySizeUser for Sm4 {
    type KeySize = U16;
}

impl KeyInit for Sm4 {
    fn new(key: &Key<Self>) -> Self {
        Self::from_key(key.into())
    }
}

impl BlockSizeUser for Sm4 {
    type BlockSize = U16;
}

impl BlockCipherEncrypt for Sm4 {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U16>) {
        // In every x86 arm, the `unsafe` constructor's requirement (the CPU
        // has the kernel's features) holds because `self.backend` is always
        // available: `Sm4::with_backend` checks it and nothing changes it.
        match self.backend {
            #[cfg(target_arch = "x86_64")]
            Sm4Backend::Avx512Gfni => {
                // SAFETY: AVX-512F/BW + GFNI available (invariant of `Sm4`).
                let backend = unsafe { SimdBackend::<Avx512GfniKernel>::new(&self.rk) };
                f.call(&backend)
            }
            #[cfg(target_arch = "x86_64")]
            Sm4Backend::Avx2Gfni => {
                // SAFETY: AVX2 + GFNI available (invariant of `Sm4`).
                let backend = unsafe { SimdBackend::<Avx2GfniKernel>::new(&self.rk) };
                f.call(&backend)
            }
            #[cfg(target_arch = "x86_64")]
            Sm4Backend::Vaes => {
                // SAFETY: AVX2 + AES-NI + VAES available (invariant of `Sm4`).
                let backend = unsafe { SimdBackend::<VaesKernel>::new(&self.rk) };
                f.call(&backend)
            }
            #[cfg(target_arch = "x86_64")]
            Sm4Backend::Avx2 => {
                // SAFETY: AVX2 + AES-NI available (invariant of `Sm4`).
                let backend = unsafe { SimdBackend::<Avx2Kernel>::new(&self.rk) };
                f.call(&backend)
            }
            #[cfg(target_arch = "x86_64")]
            Sm4Backend::AesNi => {
                // SAFETY: SSSE3 + AES-NI available (invariant of `Sm4`).
                let backend = unsafe { SimdBackend::<AesNiKernel>::new(&self.rk) };
                f.call(&backend)
            }
            _ => f.call(&SoftBackend(&self.rk)),
        }
    }
}

/// One block at a time, table S-box.
struct SoftBackend<'a>(&'a [u32; 32]);

impl BlockSizeUser for SoftBackend<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for SoftBackend<'_> {
    type ParBlocksSize = U1;
}

impl BlockCipherEncBackend for SoftBackend<'_> {
    #[inline]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut b: [u8; 16] = (*block.get_in()).into();
        soft::encrypt_block(self.0, &mut b);
        *block.get_out() = b.into();
    }
}

/// A SIMD kernel from `x86`.
///
/// # Safety
/// `encrypt` may only be called on a CPU with the kernel's target features.
#[cfg(target_arch = "x86_64")]
trait Kernel {
    /// Blocks per `encrypt_par_blocks` call; at most `4 * GROUP_BLOCKS`.
    type ParBlocks: ArraySize;
    /// Blocks per register group (the kernel granularity).
    const GROUP_BLOCKS: usize;
    /// Encrypts `buf` in place; `buf.len()` is `16 * GROUP_BLOCKS * g`, `g` in `1..=4`.
    ///
    /// # Safety
    /// The CPU must support the kernel's target features.
    unsafe fn encrypt(rk: &[u32; 32], buf: &mut [u8]);
    /// XORs the CTR keystream for counters `ctr..` (nonce as big-endian
    /// words) into `buf`; `buf.len()` is `16 * GROUP_BLOCKS * g`, `g` in `1..=4`.
    ///
    /// # Safety
    /// The CPU must support the kernel's target features.
    unsafe fn ctr_xor(rk: &[u32; 32], nonce: &[u32; 3], ctr: u32, buf: &mut [u8]);
}

#[cfg(target_arch = "x86_64")]
struct Avx512GfniKernel;
#[cfg(target_arch = "x86_64")]
impl Kernel for Avx512GfniKernel {
    type ParBlocks = U64;
    const GROUP_BLOCKS: usize = x86::avx512_gfni::GROUP_BLOCKS;
    unsafe fn encrypt(rk: &[u32; 32], buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX-512F/BW+GFNI).
        unsafe { x86::avx512_gfni::encrypt(rk, buf) }
    }
    unsafe fn ctr_xor(rk: &[u32; 32], nonce: &[u32; 3], ctr: u32, buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX-512F/BW+GFNI).
        unsafe { x86::avx512_gfni::ctr_xor(rk, nonce, ctr, buf) }
    }
}

#[cfg(target_arch = "x86_64")]
struct Avx2GfniKernel;
#[cfg(target_arch = "x86_64")]
impl Kernel for Avx2GfniKernel {
    type ParBlocks = U32;
    const GROUP_BLOCKS: usize = x86::avx2_gfni::GROUP_BLOCKS;
    unsafe fn encrypt(rk: &[u32; 32], buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX2+GFNI).
        unsafe { x86::avx2_gfni::encrypt(rk, buf) }
    }
    unsafe fn ctr_xor(rk: &[u32; 32], nonce: &[u32; 3], ctr: u32, buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX2+GFNI).
        unsafe { x86::avx2_gfni::ctr_xor(rk, nonce, ctr, buf) }
    }
}

#[cfg(target_arch = "x86_64")]
struct VaesKernel;
#[cfg(target_arch = "x86_64")]
impl Kernel for VaesKernel {
    type ParBlocks = U32;
    const GROUP_BLOCKS: usize = x86::vaes::GROUP_BLOCKS;
    unsafe fn encrypt(rk: &[u32; 32], buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX2+AES+VAES).
        unsafe { x86::vaes::encrypt(rk, buf) }
    }
    unsafe fn ctr_xor(rk: &[u32; 32], nonce: &[u32; 3], ctr: u32, buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX2+AES+VAES).
        unsafe { x86::vaes::ctr_xor(rk, nonce, ctr, buf) }
    }
}

#[cfg(target_arch = "x86_64")]
struct Avx2Kernel;
#[cfg(target_arch = "x86_64")]
impl Kernel for Avx2Kernel {
    type ParBlocks = U32;
    const GROUP_BLOCKS: usize = x86::avx2::GROUP_BLOCKS;
    unsafe fn encrypt(rk: &[u32; 32], buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX2+AES).
        unsafe { x86::avx2::encrypt(rk, buf) }
    }
    unsafe fn ctr_xor(rk: &[u32; 32], nonce: &[u32; 3], ctr: u32, buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (AVX2+AES).
        unsafe { x86::avx2::ctr_xor(rk, nonce, ctr, buf) }
    }
}

#[cfg(target_arch = "x86_64")]
struct AesNiKernel;
#[cfg(target_arch = "x86_64")]
impl Kernel for AesNiKernel {
    type ParBlocks = U16;
    const GROUP_BLOCKS: usize = x86::aesni::GROUP_BLOCKS;
    unsafe fn encrypt(rk: &[u32; 32], buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (SSSE3+AES).
        unsafe { x86::aesni::encrypt(rk, buf) }
    }
    unsafe fn ctr_xor(rk: &[u32; 32], nonce: &[u32; 3], ctr: u32, buf: &mut [u8]) {
        // SAFETY: forwarded from this function's contract (SSSE3+AES).
        unsafe { x86::aesni::ctr_xor(rk, nonce, ctr, buf) }
    }
}

/// `cipher` backend over a SIMD kernel. Only constructed (see `new`) once
/// the kernel's CPU features are known to be present.
#[cfg(target_arch = "x86_64")]
struct SimdBackend<'a, K: Kernel> {
    rk: &'a [u32; 32],
    _kernel: PhantomData<K>,
}

#[cfg(target_arch = "x86_64")]
impl<'a, K: Kernel> SimdBackend<'a, K> {
    /// # Safety
    /// The CPU must support `K`'s target features.
    unsafe fn new(rk: &'a [u32; 32]) -> Self {
        Self {
            rk,
            _kernel: PhantomData,
        }
    }

    fn run(&self, buf: &mut [u8]) {
        // SAFETY: `SimdBackend::new` required the CPU features of `K`.
        unsafe { K::encrypt(self.rk, buf) }
    }
}

#[cfg(target_arch = "x86_64")]
impl<K: Kernel> BlockSizeUser for SimdBackend<'_, K> {
    type BlockSize = U16;
}

#[cfg(target_arch = "x86_64")]
impl<K: Kernel> ParBlocksSizeUser for SimdBackend<'_, K> {
    type ParBlocksSize = K::ParBlocks;
}

#[cfg(target_arch = "x86_64")]
impl<K: Kernel> BlockCipherEncBackend for SimdBackend<'_, K> {
    #[inline]
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut buf = [0u8; 256];
        let buf = &mut buf[..16 * K::GROUP_BLOCKS];
        buf[..16].copy_from_slice(block.get_in());
        self.run(buf);
        block.get_out().copy_from_slice(&buf[..16]);
    }

    #[inline]
    fn encrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let mut buf = blocks.clone_in();
        self.run(buf.as_flattened_mut());
        *blocks.get_out() = buf;
    }

    #[inline]
    fn encrypt_tail_blocks(&self, mut blocks: InOutBuf<'_, '_, Block<Self>>) {
        let n = blocks.len();
        if n == 0 {
            return;
        }
        let mut buf = ParBlocks::<Self>::default();
        buf[..n].copy_from_slice(blocks.get_in());
        let used = n.div_ceil(K::GROUP_BLOCKS) * K::GROUP_BLOCKS;
        self.run(&mut buf.as_flattened_mut()[..16 * used]);
        blocks.get_out().copy_from_slice(&buf[..n]);
    }
}
