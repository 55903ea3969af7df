//! SM4 constants and the affine decomposition of the SM4 S-box.
//!
//! # Where the S-box decomposition comes from
//!
//! The SM4 S-box (GB/T 32907-2016) is known to have the algebraic form
//! `S(x) = A · inv(A · x + C) + C`, with `inv` the multiplicative inverse in
//! GF(2^8) modulo `f(z) = z^8 + z^7 + z^6 + z^5 + z^4 + z^2 + 1` (0x1F5),
//! `A` the 8×8 circulant bit matrix whose row `i` is `0xA7` rotated left by
//! `i`, and `C = 0xD3` (bit `i` of a byte is the coefficient of `z^i`).
//!
//! `β = 0x23` is a root of `f` in the AES field GF(2^8)/0x11B, so
//! `T: z^i ↦ β^i` is a field isomorphism from GF(2^8)/0x1F5 onto the AES
//! field. Writing the AES S-box as `AES_S(w) = M_aes · inv_aes(w) + 0x63`
//! gives
//!
//! ```text
//! SM4_S(x) = A2(AES_S(A1(x)))
//! A1(x) = T·A·x + T·C                                 (= M1·x + C1)
//! A2(y) = A·T⁻¹·M_aes⁻¹·(y + 0x63) + C                (= M2·y + C2)
//! ```
//!
//! The matrices below were derived that way for this module (not taken from
//! any other implementation); `tests::affine_maps_match_derivation`
//! recomputes them from `A`, `C` and `β`, and `tests::sbox_*` check the
//! composition against the standard S-box table over all 256 inputs.

/// System parameter FK from GB/T 32907-2016.
pub(crate) const FK: [u32; 4] = [0xa3b1_bac6, 0x56aa_3350, 0x677d_9197, 0xb270_22dc];

/// Key-schedule constants CK: byte `j` of `CK[i]` is `(4i + j) · 7 mod 256`.
pub(crate) const CK: [u32; 32] = {
    let mut ck = [0u32; 32];
    let mut i = 0;
    while i < 32 {
        let mut w = 0u32;
        let mut j = 0;
        while j < 4 {
            w = (w << 8) | (((4 * i + j) * 7) & 0xff) as u32;
            j += 1;
        }
        ck[i] = w;
        i += 1;
    }
    ck
};

/// Columns of `M1` (the image of bit `i` is `M1_COLS[i]`).
pub(crate) const M1_COLS: [u8; 8] = [0x8c, 0x30, 0x85, 0x9f, 0xdc, 0x2e, 0xc5, 0x08];
/// Additive constant of `A1`.
pub(crate) const C1: u8 = 0x3e;
/// Columns of `M2`.
pub(crate) const M2_COLS: [u8; 8] = [0xb8, 0xca, 0x3e, 0x67, 0xe0, 0x50, 0x9d, 0xc0];
/// Additive constant of `A2`.
pub(crate) const C2: u8 = 0x6c;

/// Applies the linear map given by its columns to `x`.
pub(crate) const fn apply_linear(cols: &[u8; 8], x: u8) -> u8 {
    let mut r = 0u8;
    let mut i = 0;
    while i < 8 {
        // Branch-free: mask is 0xff when bit i of x is set.
        let mask = 0u8.wrapping_sub((x >> i) & 1);
        r ^= cols[i] & mask;
        i += 1;
    }
    r
}

/// `A1(x) = M1·x + C1`.
pub(crate) const fn a1(x: u8) -> u8 {
    apply_linear(&M1_COLS, x) ^ C1
}

/// `A2(y) = M2·y + C2`.
pub(crate) const fn a2(y: u8) -> u8 {
    apply_linear(&M2_COLS, y) ^ C2
}

/// Nibble lookup tables for an affine map `x ↦ M·x + c`, in the form used by
/// `PSHUFB`: `M·x + c = lo[x & 15] ^ hi[x >> 4]` (the constant goes in `lo`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn nibble_tables(cols: &[u8; 8], c: u8) -> ([u8; 16], [u8; 16]) {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        lo[i] = apply_linear(cols, i as u8) ^ c;
        hi[i] = apply_linear(cols, (i as u8) << 4);
        i += 1;
    }
    (lo, hi)
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const A1_TABLES: ([u8; 16], [u8; 16]) = nibble_tables(&M1_COLS, C1);
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const A2_TABLES: ([u8; 16], [u8; 16]) = nibble_tables(&M2_COLS, C2);
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const A1_LO: [u8; 16] = A1_TABLES.0;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const A1_HI: [u8; 16] = A1_TABLES.1;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const A2_LO: [u8; 16] = A2_TABLES.0;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const A2_HI: [u8; 16] = A2_TABLES.1;

/// Multiplication in the AES field GF(2^8)/0x11B (compile-time use only).
pub(crate) const fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut r = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            r ^= a;
        }
        let carry = a & 0x80;
        a <<= 1;
        if carry != 0 {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    r
}

/// Inverse in the AES field (`0 ↦ 0`), as `a^254` (compile-time use only).
pub(crate) const fn gf_inv(a: u8) -> u8 {
    let mut r = 1u8;
    let mut i = 0;
    while i < 254 {
        r = gf_mul(r, a);
        i += 1;
    }
    r
}

/// The linear part `M_aes` of the AES S-box's affine map.
pub(crate) const fn m_aes(b: u8) -> u8 {
    b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4)
}

/// The AES S-box, `M_aes · inv(w) + 0x63` (compile-time use only).
pub(crate) const fn aes_sbox(w: u8) -> u8 {
    m_aes(gf_inv(w)) ^ 0x63
}

/// Columns of `G2 = M2 · M_aes`: with a plain AES-field inversion (as GFNI's
/// `GF2P8AFFINEINVQB` computes it), `SM4_S(x) = G2 · inv(A1(x)) + G2_CONST`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const G2_COLS: [u8; 8] = {
    let mut cols = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        cols[i] = apply_linear(&M2_COLS, m_aes(1 << i));
        i += 1;
    }
    cols
};
/// `A2(M_aes·y + 0x63) = G2·y + G2_CONST` (equals the `C = 0xD3` of the
/// algebraic description).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const G2_CONST: u8 = C2 ^ apply_linear(&M2_COLS, 0x63);

/// Encodes a linear map (given by its columns) as the 64-bit bit matrix of
/// the GFNI affine instructions: output bit `i` is the parity of
/// `x & matrix.byte[7 - i]`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const fn gfni_matrix(cols: &[u8; 8]) -> u64 {
    let mut q = 0u64;
    let mut i = 0;
    while i < 8 {
        let mut row = 0u8;
        let mut j = 0;
        while j < 8 {
            row |= ((cols[j] >> i) & 1) << j;
            j += 1;
        }
        q |= (row as u64) << (8 * (7 - i));
        i += 1;
    }
    q
}

/// `M1` as a GFNI matrix.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const GFNI_M1: u64 = gfni_matrix(&M1_COLS);
/// `G2` as a GFNI matrix.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const GFNI_G2: u64 = gfni_matrix(&G2_COLS);

/// Columns of the composition `f ∘ g` of two linear maps given by columns.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn compose(f: &[u8; 8], g: &[u8; 8]) -> [u8; 8] {
    let mut cols = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        cols[i] = apply_linear(f, g[i]);
        i += 1;
    }
    cols
}

/// Columns of the inverse of an invertible linear map (by search).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn invert(cols: &[u8; 8]) -> [u8; 8] {
    let mut inv = [0u8; 8];
    let mut x = 0;
    while x < 256 {
        let y = apply_linear(cols, x as u8);
        if y.is_power_of_two() {
            inv[y.trailing_zeros() as usize] = x as u8;
        }
        x += 1;
    }
    inv
}

// SM4's linear transform folded into GFNI (the AVX-512 kernel).
//
// On a little-endian 32-bit word, `rol2` moves bits 0..=5 of each byte up by
// two within the byte (`SHL2`) and bits 6, 7 into the next byte (`SHR6`,
// then the byte rotation `z = rol8`). So, with `I` the identity,
// `L(y) = y ^ rol2 ^ rol10 ^ rol18 ^ rol24 = L0·y ^ z·L1·y ^ z²·L1·y ^ z³·L3·y`
// with the bytewise maps `L0 = I+SHL2`, `L1 = SHL2+SHR6`, `L3 = I+SHR6`.
// Since `L0 = L1 + L3` and `z⁴ = 1`, with `u1 = L1·y`, `u3 = L3·y` and
// `w = u3 ^ z²·u1`:
//
// `L(y) = u1 ^ w ^ z³·w`
//
// (expand: `u1 ^ u3 ^ z²u1 ^ z³u3 ^ z⁵u1`). `L1` and `L3` fold into the
// S-box's final GFNI matrix, so a round is two `GF2P8AFFINEINVQB`, two byte
// shuffles and the XORs. The kernel also keeps its state as `M1·x`
// (bytewise, so it commutes with byte rotations), which moves the S-box's
// first affine map into the round keys and the load and store.

/// `x ↦ x << 2` within a byte.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const SHL2_COLS: [u8; 8] = [0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0, 0];
/// `x ↦ x >> 6` within a byte.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const SHR6_COLS: [u8; 8] = [0, 0, 0, 0, 0, 0, 0x01, 0x02];
/// `L1 = SHL2 + SHR6` (a rotation of the byte by two).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const L1_COLS: [u8; 8] = {
    let mut c = SHL2_COLS;
    let mut i = 0;
    while i < 8 {
        c[i] ^= SHR6_COLS[i];
        i += 1;
    }
    c
};
/// `L3 = I + SHR6`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const L3_COLS: [u8; 8] = {
    let mut c = SHR6_COLS;
    let mut i = 0;
    while i < 8 {
        c[i] ^= 1 << i;
        i += 1;
    }
    c
};
/// Columns of `M1⁻¹`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const M1_INV_COLS: [u8; 8] = invert(&M1_COLS);
/// `M1·L1·G2`: with `t = A1(x)`, `GF2P8AFFINEINVQB(t)` with this matrix and
/// [`FOLD1_CONST`] gives `M1·L1·SM4_S(x)`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const FOLD1_COLS: [u8; 8] = compose(&M1_COLS, &compose(&L1_COLS, &G2_COLS));
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const FOLD1_CONST: u8 = apply_linear(&M1_COLS, apply_linear(&L1_COLS, G2_CONST));
/// `M1·L3·G2`, likewise.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const FOLD3_COLS: [u8; 8] = compose(&M1_COLS, &compose(&L3_COLS, &G2_COLS));
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const FOLD3_CONST: u8 = apply_linear(&M1_COLS, apply_linear(&L3_COLS, G2_CONST));
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const GFNI_M1_INV: u64 = gfni_matrix(&M1_INV_COLS);
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const GFNI_FOLD1: u64 = gfni_matrix(&FOLD1_COLS);
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const GFNI_FOLD3: u64 = gfni_matrix(&FOLD3_COLS);

/// The SM4 S-box table, computed at compile time as `A2(AES_S(A1(x)))`.
///
/// Used only by the portable fallback and the key schedule on CPUs without
/// AES-NI: a table lookup indexed by secret data is **not** constant time
/// (cache timing).
pub(crate) const SBOX: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        t[x] = a2(aes_sbox(a1(x as u8)));
        x += 1;
    }
    t
};
