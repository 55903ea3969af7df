//! Portable scalar SM4 (one block at a time, table S-box).
//!
//! **Not constant time**: the S-box is a 256-byte table indexed by secret
//! data. It is only selected on non-x86_64 targets and on x86_64 CPUs without
//! AES-NI + SSSE3, where no constant-time vector S-box is available here.

use super::consts::{CK, FK, SBOX};

#[inline(always)]
fn tau(a: u32) -> u32 {
    let b = a.to_be_bytes();
    u32::from_be_bytes([
        SBOX[b[0] as usize],
        SBOX[b[1] as usize],
        SBOX[b[2] as usize],
        SBOX[b[3] as usize],
    ])
}

/// The round function's linear transform `L`.
#[inline(always)]
pub(crate) fn l(b: u32) -> u32 {
    b ^ b.rotate_left(2) ^ b.rotate_left(10) ^ b.rotate_left(18) ^ b.rotate_left(24)
}

/// The key schedule's linear transform `L'`.
#[inline(always)]
pub(crate) fn l_key(b: u32) -> u32 {
    b ^ b.rotate_left(13) ^ b.rotate_left(23)
}

/// Expands a 128-bit key into the 32 encryption round keys, using `tau` for
/// the S-box layer.
#[inline(always)]
pub(crate) fn expand_key_with(key: &[u8; 16], rk: &mut [u32; 32], tau: impl Fn(u32) -> u32) {
    let mut k = [0u32; 4];
    for (i, w) in k.iter_mut().enumerate() {
        *w = u32::from_be_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]])
            ^ FK[i];
    }
    for i in 0..32 {
        let t = k[(i + 1) % 4] ^ k[(i + 2) % 4] ^ k[(i + 3) % 4] ^ CK[i];
        k[i % 4] ^= l_key(tau(t));
        rk[i] = k[i % 4];
    }
    // Do not leave key-derived words in this frame longer than needed.
    zeroize::Zeroize::zeroize(&mut k);
}

/// Key schedule with the table S-box (not constant time).
pub(crate) fn expand_key(key: &[u8; 16], rk: &mut [u32; 32]) {
    expand_key_with(key, rk, tau);
}

/// Encrypts one block in place.
pub(crate) fn encrypt_block(rk: &[u32; 32], block: &mut [u8; 16]) {
    let mut x = [0u32; 4];
    for (i, w) in x.iter_mut().enumerate() {
        *w = u32::from_be_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ]);
    }
    for (i, &k) in rk.iter().enumerate() {
        let t = x[(i + 1) % 4] ^ x[(i + 2) % 4] ^ x[(i + 3) % 4] ^ k;
        x[i % 4] ^= l(tau(t));
    }
    for i in 0..4 {
        block[4 * i..4 * i + 4].copy_from_slice(&x[3 - i].to_be_bytes());
    }
}
