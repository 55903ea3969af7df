//! GHASH (NIST SP 800-38D), the universal hash of GCM, for SM4-GCM.
//!
//! [`GhashKey`] holds the hash key `H` (and, for the SIMD backends, its
//! powers); [`GhashKey::hasher`] starts a [`Ghash`] computation over it:
//!
//! ```
//! use coffer_crypto::ghash::GhashKey;
//! let key = GhashKey::new(&[0x42; 16]);
//! let mut g = key.hasher();
//! g.update_padded(b"associated data");
//! g.update_padded(b"ciphertext");
//! let _digest: [u8; 16] = g.finalize();
//! ```
//!
//! # Backends
//!
//! Chosen at run time, once per process ([`GhashBackend::detect`]):
//!
//! | backend | CPU features | blocks per register |
//! |---|---|---|
//! | [`GhashBackend::Avx512Vpclmul`] | AVX-512F/BW, VPCLMULQDQ | 4 |
//! | [`GhashBackend::Avx2Vpclmul`] | AVX2, VPCLMULQDQ | 2 |
//! | [`GhashBackend::RustCrypto`] | none (RustCrypto `ghash`) | — |
//!
//! The SIMD backends hash 32 blocks per iteration against precomputed
//! powers `H^1..H^32` with a single reduction (see `x86.rs`). RustCrypto's
//! `ghash` (PCLMULQDQ on CPUs without VPCLMULQDQ, constant-time software
//! otherwise) is the fallback; it is also what runs under valgrind, whose
//! virtual CPU has no VPCLMULQDQ. All backends are constant time.

use core::fmt;
use core::marker::PhantomData;
use std::sync::OnceLock;

use ghash::GHash;
use ghash::universal_hash::UniversalHash;
#[cfg(target_arch = "x86_64")]
use zeroize::Zeroize;

#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

/// A GHASH implementation strategy. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GhashBackend {
    /// x86_64 with AVX-512F/BW and VPCLMULQDQ: 4 blocks per 512-bit register.
    Avx512Vpclmul,
    /// x86_64 with AVX2 and VPCLMULQDQ: 2 blocks per 256-bit register.
    Avx2Vpclmul,
    /// RustCrypto `ghash` (PCLMULQDQ where available, else software).
    RustCrypto,
}

impl GhashBackend {
    /// All backends, fastest first.
    pub const ALL: [GhashBackend; 3] = [Self::Avx512Vpclmul, Self::Avx2Vpclmul, Self::RustCrypto];

    /// The fastest backend this CPU supports (detected once, then cached).
    pub fn detect() -> Self {
        static DETECTED: OnceLock<GhashBackend> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            Self::ALL
                .into_iter()
                .find(|b| b.is_available())
                .unwrap_or(Self::RustCrypto)
        })
    }

    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Vpclmul => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("vpclmulqdq")
                    && std::is_x86_feature_detected!("pclmulqdq")
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx2Vpclmul => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("vpclmulqdq")
                    && std::is_x86_feature_detected!("pclmulqdq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx512Vpclmul | Self::Avx2Vpclmul => false,
            Self::RustCrypto => true,
        }
    }
}

/// The SIMD kernels of `x86.rs`.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Simd {
    Avx512,
    Avx2,
}

/// A GHASH key: `H`, in the form its backend uses. Zeroized on drop.
#[derive(Clone)]
pub struct GhashKey(KeyInner);

#[derive(Clone)]
enum KeyInner {
    /// Invariant: the CPU supports the kernel's target features.
    #[cfg(target_arch = "x86_64")]
    /// Boxed: the powers take 1 KiB.
    Simd(Simd, Box<x86::Powers>),
    /// Zeroizes itself on drop (`ghash`'s `zeroize` feature).
    RustCrypto(GHash),
}

impl GhashKey {
    /// A key for the fastest available backend.
    pub fn new(h: &[u8; 16]) -> Self {
        Self::with_backend(h, GhashBackend::detect()).expect("detected backend is available")
    }

    /// A key for a specific backend; `None` if this CPU cannot run it.
    pub fn with_backend(h: &[u8; 16], backend: GhashBackend) -> Option<Self> {
        if !backend.is_available() {
            return None;
        }
        let inner = match backend {
            // SAFETY: `backend.is_available()` was checked above.
            #[cfg(target_arch = "x86_64")]
            GhashBackend::Avx512Vpclmul => unsafe { simd_key(h, Simd::Avx512) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            GhashBackend::Avx2Vpclmul => unsafe { simd_key(h, Simd::Avx2) },
            _ => KeyInner::RustCrypto(GHash::new(h.into())),
        };
        Some(Self(inner))
    }

    /// The backend this key uses.
    pub fn backend(&self) -> GhashBackend {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            KeyInner::Simd(Simd::Avx512, _) => GhashBackend::Avx512Vpclmul,
            #[cfg(target_arch = "x86_64")]
            KeyInner::Simd(Simd::Avx2, _) => GhashBackend::Avx2Vpclmul,
            KeyInner::RustCrypto(_) => GhashBackend::RustCrypto,
        }
    }

    /// Starts hashing with this key.
    pub fn hasher(&self) -> Ghash<'_> {
        Ghash(match &self.0 {
            #[cfg(target_arch = "x86_64")]
            KeyInner::Simd(simd, powers) => State::Simd {
                simd: *simd,
                powers,
                acc: Acc(0),
            },
            KeyInner::RustCrypto(g) => State::RustCrypto(g.clone(), PhantomData),
        })
    }
}

/// The SIMD key: the powers of `K = mulX_POLYVAL(bswap(H))` (see `x86.rs`).
///
/// # Safety
/// The CPU must support the kernel `simd` (its `GhashBackend` is available).
#[cfg(target_arch = "x86_64")]
unsafe fn simd_key(h: &[u8; 16], simd: Simd) -> KeyInner {
    let mut k = u128::from_be_bytes(*h);
    // mulX_POLYVAL: k·x mod x^128 + x^127 + x^126 + x^121 + 1, without a
    // key-dependent branch.
    k = (k << 1) ^ ((k >> 127).wrapping_neg() & 0xc200_0000_0000_0000_0000_0000_0000_0001);
    let mut powers = Box::new(x86::Powers {
        k: [0; x86::STRIDE],
        kk: [0; x86::STRIDE],
    });
    // SAFETY: `powers` needs PCLMULQDQ, which `GhashBackend::is_available`
    // checks for both SIMD backends (this function's contract).
    unsafe { x86::powers(k, &mut powers) };
    k.zeroize();
    KeyInner::Simd(simd, powers)
}

impl Drop for GhashKey {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let KeyInner::Simd(_, powers) = &mut self.0 {
            powers.k.zeroize();
            powers.kk.zeroize();
        }
    }
}

impl fmt::Debug for GhashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GhashKey")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// A GHASH computation in progress (see [`GhashKey::hasher`]). The running
/// hash is zeroized on drop.
pub struct Ghash<'k>(State<'k>);

enum State<'k> {
    /// `acc` is the running hash in POLYVAL form.
    #[cfg(target_arch = "x86_64")]
    Simd {
        simd: Simd,
        powers: &'k x86::Powers,
        acc: Acc,
    },
    /// The marker keeps `'k` used where there is no SIMD variant.
    RustCrypto(GHash, PhantomData<&'k ()>),
}

impl Ghash<'_> {
    /// Hashes `data` followed by zeros up to a multiple of 16 bytes, as GCM
    /// does with the associated data and the ciphertext. Consecutive calls
    /// whose data are multiples of 16 bytes hash like one call over their
    /// concatenation.
    pub fn update_padded(&mut self, data: &[u8]) {
        match &mut self.0 {
            #[cfg(target_arch = "x86_64")]
            State::Simd { simd, powers, acc } => {
                let (strides, rest) = data.as_chunks::<{ x86::STRIDE_BYTES }>();
                acc.0 = simd_update(*simd, powers, acc.0, strides);
                if !rest.is_empty() {
                    acc.0 = simd_update_tail(*simd, powers, acc.0, rest);
                }
            }
            State::RustCrypto(g, _) => g.update_padded(data),
        }
    }

    /// Finishes the computation and returns the hash.
    pub fn finalize(self) -> [u8; 16] {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            State::Simd { acc, .. } => acc.0.to_be_bytes(),
            State::RustCrypto(g, _) => g.finalize().into(),
        }
    }
}

/// The running hash of a SIMD computation, zeroized on drop.
#[cfg(target_arch = "x86_64")]
struct Acc(u128);

#[cfg(target_arch = "x86_64")]
impl Drop for Acc {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Ghash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ghash").finish_non_exhaustive()
    }
}

/// Hashes whole strides.
#[cfg(target_arch = "x86_64")]
fn simd_update(
    simd: Simd,
    powers: &x86::Powers,
    acc: u128,
    strides: &[[u8; x86::STRIDE_BYTES]],
) -> u128 {
    if strides.is_empty() {
        return acc;
    }
    match simd {
        // SAFETY: a `Simd` only exists in a key made by `GhashKey::with_backend`
        // after `is_available` confirmed the kernel's CPU features.
        Simd::Avx512 => unsafe { x86::avx512::update(powers, acc, strides) },
        // SAFETY: as above.
        Simd::Avx2 => unsafe { x86::avx2::update(powers, acc, strides) },
    }
}

/// Hashes the last `rest` bytes (less than a stride), zero-padded to whole
/// blocks, as the end of a stride: the `n` blocks go at the end of a zeroed
/// stride, where they meet the powers `H^n..H^1`, and the running hash is
/// added to the first of them instead of being passed in. The kernel skips
/// the registers that hold only zero blocks.
#[cfg(target_arch = "x86_64")]
fn simd_update_tail(simd: Simd, powers: &x86::Powers, acc: u128, rest: &[u8]) -> u128 {
    let mut buf = [0u8; x86::STRIDE_BYTES];
    let blocks = rest.len().div_ceil(16);
    let start = x86::STRIDE_BYTES - 16 * blocks;
    buf[start..start + rest.len()].copy_from_slice(rest);
    for (b, a) in buf[start..start + 16].iter_mut().zip(acc.to_be_bytes()) {
        *b ^= a;
    }
    let acc = match simd {
        // SAFETY: a `Simd` only exists in a key made by `GhashKey::with_backend`
        // after `is_available` confirmed the kernel's CPU features.
        Simd::Avx512 => unsafe { x86::avx512::update_last(powers, &buf, blocks) },
        // SAFETY: as above.
        Simd::Avx2 => unsafe { x86::avx2::update_last(powers, &buf, blocks) },
    };
    // As a slice: `zeroize` on an array writes it byte by byte (volatile).
    buf[start..].zeroize();
    acc
}
