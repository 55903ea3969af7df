//! Tests: GB/T 32907 known answers, the S-box construction, differential
//! tests against RustCrypto `sm4` on every backend, and SM4-GCM against
//! `AesGcm<sm4::Sm4, U12>`.

use aes_gcm::aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::aes::cipher::{array::Array, consts::U12};
use aes_gcm::{AeadInOut, AesGcm};
use proptest::prelude::*;

use super::consts::{self, SBOX};
use super::{Sm4, Sm4Backend, Sm4Gcm, Sm4GcmError};
use crate::ghash::GhashBackend;

/// The S-box table as printed in GB/T 32907-2016 (test oracle only).
const STANDARD_SBOX: [u8; 256] = [
    0xd6, 0x90, 0xe9, 0xfe, 0xcc, 0xe1, 0x3d, 0xb7, 0x16, 0xb6, 0x14, 0xc2, 0x28, 0xfb, 0x2c, 0x05,
    0x2b, 0x67, 0x9a, 0x76, 0x2a, 0xbe, 0x04, 0xc3, 0xaa, 0x44, 0x13, 0x26, 0x49, 0x86, 0x06, 0x99,
    0x9c, 0x42, 0x50, 0xf4, 0x91, 0xef, 0x98, 0x7a, 0x33, 0x54, 0x0b, 0x43, 0xed, 0xcf, 0xac, 0x62,
    0xe4, 0xb3, 0x1c, 0xa9, 0xc9, 0x08, 0xe8, 0x95, 0x80, 0xdf, 0x94, 0xfa, 0x75, 0x8f, 0x3f, 0xa6,
    0x47, 0x07, 0xa7, 0xfc, 0xf3, 0x73, 0x17, 0xba, 0x83, 0x59, 0x3c, 0x19, 0xe6, 0x85, 0x4f, 0xa8,
    0x68, 0x6b, 0x81, 0xb2, 0x71, 0x64, 0xda, 0x8b, 0xf8, 0xeb, 0x0f, 0x4b, 0x70, 0x56, 0x9d, 0x35,
    0x1e, 0x24, 0x0e, 0x5e, 0x63, 0x58, 0xd1, 0xa2, 0x25, 0x22, 0x7c, 0x3b, 0x01, 0x21, 0x78, 0x87,
    0xd4, 0x00, 0x46, 0x57, 0x9f, 0xd3, 0x27, 0x52, 0x4c, 0x36, 0x02, 0xe7, 0xa0, 0xc4, 0xc8, 0x9e,
    0xea, 0xbf, 0x8a, 0xd2, 0x40, 0xc7, 0x38, 0xb5, 0xa3, 0xf7, 0xf2, 0xce, 0xf9, 0x61, 0x15, 0xa1,
    0xe0, 0xae, 0x5d, 0xa4, 0x9b, 0x34, 0x1a, 0x55, 0xad, 0x93, 0x32, 0x30, 0xf5, 0x8c, 0xb1, 0xe3,
    0x1d, 0xf6, 0xe2, 0x2e, 0x82, 0x66, 0xca, 0x60, 0xc0, 0x29, 0x23, 0xab, 0x0d, 0x53, 0x4e, 0x6f,
    0xd5, 0xdb, 0x37, 0x45, 0xde, 0xfd, 0x8e, 0x2f, 0x03, 0xff, 0x6a, 0x72, 0x6d, 0x6c, 0x5b, 0x51,
    0x8d, 0x1b, 0xaf, 0x92, 0xbb, 0xdd, 0xbc, 0x7f, 0x11, 0xd9, 0x5c, 0x41, 0x1f, 0x10, 0x5a, 0xd8,
    0x0a, 0xc1, 0x31, 0x88, 0xa5, 0xcd, 0x7b, 0xbd, 0x2d, 0x74, 0xd0, 0x12, 0xb8, 0xe5, 0xb4, 0xb0,
    0x89, 0x69, 0x97, 0x4a, 0x0c, 0x96, 0x77, 0x7e, 0x65, 0xb9, 0xf1, 0x09, 0xc5, 0x6e, 0xc6, 0x84,
    0x18, 0xf0, 0x7d, 0xec, 0x3a, 0xdc, 0x4d, 0x20, 0x79, 0xee, 0x5f, 0x3e, 0xd7, 0xcb, 0x39, 0x48,
];

fn available_backends() -> Vec<Sm4Backend> {
    Sm4Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

/// SM4-GCM on every SM4 backend (with the detected GHASH backend) and on
/// every GHASH backend (with the detected SM4 backend).
fn gcm_variants(key: &[u8; 16]) -> Vec<(String, Sm4Gcm)> {
    let mut v: Vec<(String, Sm4Gcm)> = available_backends()
        .into_iter()
        .map(|b| (format!("{b:?}"), Sm4Gcm::with_backend(key, b).unwrap()))
        .collect();
    for gb in GhashBackend::ALL {
        if gb.is_available() && gb != GhashBackend::detect() {
            let g = Sm4Gcm::with_backends(key, Sm4Backend::detect(), gb).unwrap();
            assert_eq!(g.ghash_backend(), gb);
            v.push((format!("ghash {gb:?}"), g));
        }
    }
    v
}

fn h16(s: &str) -> [u8; 16] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn reference_blocks(key: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let c = sm4::Sm4::new(key.into());
    let mut out = data.to_vec();
    for b in out.chunks_exact_mut(16) {
        c.encrypt_block(<&mut Array<u8, _>>::try_from(b).unwrap());
    }
    out
}

fn our_blocks(c: &Sm4, data: &[u8]) -> Vec<u8> {
    let mut blocks: Vec<Array<u8, _>> = data
        .chunks_exact(16)
        .map(|b| Array::try_from(b).unwrap())
        .collect();
    c.encrypt_blocks(&mut blocks);
    blocks.iter().flat_map(|b| b.iter().copied()).collect()
}

#[test]
fn detect_picks_an_available_backend() {
    let b = Sm4Backend::detect();
    assert!(b.is_available());
    assert_eq!(Sm4::from_key(&[0; 16]).backend(), b);
    assert!(Sm4Backend::Portable.is_available());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("aes") && std::is_x86_feature_detected!("ssse3") {
        assert!(
            b.is_constant_time(),
            "an AES-NI CPU must not use the table S-box"
        );
    }
}

#[test]
fn sbox_table_matches_standard() {
    assert_eq!(SBOX, STANDARD_SBOX);
}

#[test]
fn sbox_composition_matches_standard_for_all_inputs() {
    for x in 0..=255u8 {
        let via_aes = consts::a2(consts::aes_sbox(consts::a1(x)));
        assert_eq!(via_aes, STANDARD_SBOX[x as usize], "x = {x:#04x}");
    }
    // Sanity check of the AES S-box used above (FIPS-197 values).
    assert_eq!(consts::aes_sbox(0x00), 0x63);
    assert_eq!(consts::aes_sbox(0x53), 0xed);
    assert_eq!(consts::aes_sbox(0xff), 0x16);
}

/// Evaluates the vector S-box of each x86 backend on all 256 byte values.
#[cfg(target_arch = "x86_64")]
#[test]
fn simd_sbox_matches_standard_for_all_inputs() {
    use super::x86;
    let inputs: Vec<u8> = (0..=255u8).collect();
    let run = |chunk: usize, f: &dyn Fn(&mut [u8])| {
        let mut out = inputs.clone();
        for c in out.chunks_mut(chunk) {
            f(c);
        }
        assert_eq!(out, STANDARD_SBOX);
    };
    if Sm4Backend::Avx512Gfni.is_available() {
        // SAFETY: AVX-512F/BW and GFNI were detected.
        run(256, &|c| unsafe {
            x86::avx512_gfni::sbox_bytes(c.try_into().unwrap())
        });
    }
    if Sm4Backend::Avx2Gfni.is_available() {
        // SAFETY: AVX2 and GFNI were detected.
        run(128, &|c| unsafe {
            x86::avx2_gfni::sbox_bytes(c.try_into().unwrap())
        });
    }
    if Sm4Backend::Vaes.is_available() {
        // SAFETY: AVX2, AES-NI and VAES were detected.
        run(128, &|c| unsafe {
            x86::vaes::sbox_bytes(c.try_into().unwrap())
        });
    }
    if Sm4Backend::Avx2.is_available() {
        // SAFETY: AVX2 and AES-NI were detected.
        run(128, &|c| unsafe {
            x86::avx2::sbox_bytes(c.try_into().unwrap())
        });
    }
    if Sm4Backend::AesNi.is_available() {
        // SAFETY: SSSE3 and AES-NI were detected.
        run(64, &|c| unsafe {
            x86::aesni::sbox_bytes(c.try_into().unwrap())
        });
        for x in 0..=255u8 {
            let w = u32::from_be_bytes([x, x ^ 0x5a, x.wrapping_add(1), !x]);
            let want = u32::from_be_bytes(w.to_be_bytes().map(|b| STANDARD_SBOX[b as usize]));
            // SAFETY: SSSE3 and AES-NI were detected.
            assert_eq!(unsafe { x86::tau_aesni(w) }, want);
        }
    }
}

/// The AVX-512 kernel's round, `M1·L(τ(x))` as `u1 ^ w ^ rol24(w)` with
/// `w = u3 ^ rol16(u1)` from two folded GFNI matrices (see `consts.rs`),
/// evaluated with scalar code against the definition.
#[test]
fn folded_linear_transform_matches_definition() {
    use consts::{
        FOLD1_COLS, FOLD1_CONST, FOLD3_COLS, FOLD3_CONST, M1_COLS, M1_INV_COLS, a1, apply_linear,
        gf_inv,
    };
    let bytewise = |w: u32, f: &dyn Fn(u8) -> u8| u32::from_le_bytes(w.to_le_bytes().map(f));
    for i in 0..4096u32 {
        let x = i.wrapping_mul(0x9e37_79b9) ^ (i << 20);
        let t = bytewise(x, &|b| STANDARD_SBOX[b as usize]);
        let l = t ^ t.rotate_left(2) ^ t.rotate_left(10) ^ t.rotate_left(18) ^ t.rotate_left(24);
        let want = bytewise(l, &|b| apply_linear(&M1_COLS, b));
        let inv = bytewise(x, &|b| gf_inv(a1(b)));
        let u1 = bytewise(inv, &|b| apply_linear(&FOLD1_COLS, b) ^ FOLD1_CONST);
        let u3 = bytewise(inv, &|b| apply_linear(&FOLD3_COLS, b) ^ FOLD3_CONST);
        let w = u3 ^ u1.rotate_left(16);
        assert_eq!(u1 ^ w ^ w.rotate_left(24), want, "word {x:#010x}");
    }
    for b in 0..=255u8 {
        assert_eq!(apply_linear(&M1_INV_COLS, apply_linear(&M1_COLS, b)), b);
    }
}

/// Recomputes `A1` and `A2` from the algebraic description of the SM4
/// S-box (see `consts.rs`) and checks the hard-coded matrices.
#[test]
fn affine_maps_match_derivation() {
    fn mul_1f5_root_powers(beta: u8) -> [u8; 8] {
        let mut p = [1u8; 8];
        for i in 1..8 {
            p[i] = consts::gf_mul(p[i - 1], beta);
        }
        p
    }
    let apply = |cols: &[u8; 8], x: u8| consts::apply_linear(cols, x);
    let invert = |f: &dyn Fn(u8) -> u8| {
        let mut inv = [0u8; 256];
        let mut seen = [false; 256];
        for x in 0..=255u8 {
            let y = f(x);
            assert!(!seen[y as usize], "not invertible");
            seen[y as usize] = true;
            inv[y as usize] = x;
        }
        inv
    };
    // A: row i (output bit i) is 0xA7 rotated left by i.
    let a = |x: u8| -> u8 {
        (0..8).fold(0u8, |acc, i| {
            acc | ((((0xa7u8.rotate_left(i) & x).count_ones() & 1) as u8) << i)
        })
    };
    let c = 0xd3u8;
    // beta = 0x23 is a root of z^8+z^7+z^6+z^5+z^4+z^2+1 in GF(2^8)/0x11B.
    let beta = 0x23u8;
    let pw = {
        let mut p = [1u8; 9];
        for i in 1..9 {
            p[i] = consts::gf_mul(p[i - 1], beta);
        }
        p
    };
    assert_eq!(pw[8] ^ pw[7] ^ pw[6] ^ pw[5] ^ pw[4] ^ pw[2] ^ pw[0], 0);
    let t_cols = mul_1f5_root_powers(beta);
    let t = |x: u8| apply(&t_cols, x);
    let t_inv = invert(&t);
    let m_aes =
        |b: u8| b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4);
    let m_aes_inv = invert(&m_aes);
    for i in 0..8 {
        let e = 1u8 << i;
        assert_eq!(consts::M1_COLS[i], t(a(e)), "M1 column {i}");
        assert_eq!(
            consts::M2_COLS[i],
            a(t_inv[m_aes_inv[e as usize] as usize]),
            "M2 column {i}"
        );
    }
    assert_eq!(consts::C1, t(c));
    assert_eq!(consts::C2, a(t_inv[m_aes_inv[0x63] as usize]) ^ c);
}

#[test]
fn known_answer_gbt32907() {
    let key = h16("0123456789abcdeffedcba9876543210");
    let want = h16("681edf34d206965e86b3e94f536e4246");
    for backend in available_backends() {
        let c = Sm4::with_backend(&key, backend).unwrap();
        let mut block = Array::from(key);
        c.encrypt_block(&mut block);
        assert_eq!(<[u8; 16]>::from(block), want, "{backend:?}");
        // The same block at every position of a full batch and of a tail.
        for n in [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100] {
            let data: Vec<u8> = key.iter().copied().cycle().take(16 * n).collect();
            let out = our_blocks(&c, &data);
            assert!(out.chunks(16).all(|b| b == want), "{backend:?}, {n} blocks");
        }
    }
}

/// GB/T 32907 example 2: the plaintext encrypted 1,000,000 times. Slow
/// without optimisation, so it only runs in optimised test builds.
#[test]
#[cfg_attr(debug_assertions, ignore = "slow in unoptimised builds")]
fn known_answer_gbt32907_million_iterations() {
    let key = h16("0123456789abcdeffedcba9876543210");
    let want = h16("595298c7c6fd271f0402f804c33d3f66");
    for backend in available_backends() {
        let c = Sm4::with_backend(&key, backend).unwrap();
        let mut block = Array::from(key);
        for _ in 0..1_000_000 {
            c.encrypt_block(&mut block);
        }
        assert_eq!(<[u8; 16]>::from(block), want, "{backend:?}");
    }
}

/// Every batch/tail split of every backend (up to two full batches of the
/// widest kernel plus a tail) against RustCrypto `sm4`.
#[test]
fn every_block_count_matches_rustcrypto() {
    let key = h16("00112233445566778899aabbccddeeff");
    let data: Vec<u8> = (0..16 * 130).map(|i| (i * 131 + 17) as u8).collect();
    let want = reference_blocks(&key, &data);
    for backend in available_backends() {
        let c = Sm4::with_backend(&key, backend).unwrap();
        for n in 1..=130 {
            assert_eq!(
                our_blocks(&c, &data[..16 * n]),
                want[..16 * n],
                "{backend:?}, {n} blocks"
            );
        }
    }
}

#[test]
fn key_schedule_agrees_across_sbox_implementations() {
    let mut k = [0u8; 16];
    for i in 0..64u8 {
        k.iter_mut()
            .enumerate()
            .for_each(|(j, b)| *b = i.wrapping_mul(37) ^ (j as u8 * 11));
        let mut table = [0u32; 32];
        super::soft::expand_key(&k, &mut table);
        let mut dispatched = [0u32; 32];
        super::expand_key(&k, &mut dispatched);
        assert_eq!(table, dispatched);
    }
}

#[test]
fn unavailable_backend_is_refused() {
    for backend in Sm4Backend::ALL {
        assert_eq!(
            Sm4::with_backend(&[7; 16], backend).is_some(),
            backend.is_available()
        );
        assert_eq!(
            Sm4Gcm::with_backend(&[7; 16], backend).is_some(),
            backend.is_available()
        );
    }
}

/// `Sm4::ctr32_xor` against a reference CTR built from RustCrypto `sm4`,
/// across the 2^32 counter wrap, for lengths that hit every path: whole
/// four-group calls, one to three groups, and a partial group.
#[test]
fn ctr32_matches_reference_and_wraps() {
    let key = h16("0123456789abcdeffedcba9876543210");
    let nonce: [u8; 12] = core::array::from_fn(|i| (i * 17 + 5) as u8);
    for start in [0u32, 2, u32::MAX - 70, u32::MAX] {
        for len in [
            0usize, 1, 15, 16, 17, 63, 64, 65, 255, 256, 300, 1023, 1024, 1025, 2100,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
            let mut counters = Vec::with_capacity(len.div_ceil(16) * 16);
            for i in 0..len.div_ceil(16) {
                counters.extend_from_slice(&nonce);
                counters.extend_from_slice(&start.wrapping_add(i as u32).to_be_bytes());
            }
            let ks = reference_blocks(&key, &counters);
            let want: Vec<u8> = data.iter().zip(&ks).map(|(d, k)| d ^ k).collect();
            for backend in available_backends() {
                let c = Sm4::with_backend(&key, backend).unwrap();
                let mut got = data.clone();
                c.ctr32_xor(&nonce, start, &mut got);
                assert_eq!(got, want, "{backend:?}, start {start}, len {len}");
            }
        }
    }
}

#[test]
fn debug_output_hides_key_material() {
    let c = Sm4::from_key(&[0x42; 16]);
    let s = format!("{c:?} {:?}", Sm4Gcm::new(&[0x42; 16]));
    assert!(s.contains("backend") && !s.contains("rk"), "{s}");
}

#[test]
fn gcm_known_answer_against_reference_empty_and_short() {
    // Fixed inputs, cross-checked against RustCrypto sm4 inside AesGcm.
    let key = h16("0123456789abcdeffedcba9876543210");
    let nonce = [0x11u8; 12];
    let reference = AesGcm::<sm4::Sm4, U12>::new(&key.into());
    for len in [
        0usize, 1, 15, 16, 17, 255, 256, 511, 512, 513, 1007, 1008, 1009, 1024, 2032, 2033, 4096,
        65536, 65551,
    ] {
        let pt: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut want = pt.clone();
        let want_tag = reference
            .encrypt_inout_detached(&nonce.into(), b"aad", want.as_mut_slice().into())
            .unwrap();
        for (backend, g) in gcm_variants(&key) {
            let mut buf = pt.clone();
            let tag = g.seal_in_place_detached(&nonce, b"aad", &mut buf);
            assert_eq!(buf, want, "{backend} len {len}");
            assert_eq!(tag, <[u8; 16]>::from(want_tag), "{backend} len {len}");
            g.open_in_place_detached(&nonce, b"aad", &mut buf, &tag)
                .unwrap();
            assert_eq!(buf, pt);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every backend agrees with RustCrypto `sm4` for 1..64 blocks (every
    /// full-batch/tail split) through `encrypt_blocks`, `encrypt_block` and
    /// the buffer-to-buffer API.
    #[test]
    fn blocks_match_rustcrypto(
        key in any::<[u8; 16]>(),
        data in (1usize..130).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), 16 * n)),
    ) {
        let want = reference_blocks(&key, &data);
        for backend in available_backends() {
            let c = Sm4::with_backend(&key, backend).unwrap();
            prop_assert_eq!(&our_blocks(&c, &data), &want, "{:?}", backend);

            let inp: Vec<Array<u8, _>> =
                data.chunks_exact(16).map(|b| Array::try_from(b).unwrap()).collect();
            let mut out = vec![Array::default(); inp.len()];
            c.encrypt_blocks_b2b(&inp, &mut out).unwrap();
            let flat: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
            prop_assert_eq!(&flat, &want, "{:?} b2b", backend);

            let mut one = inp[0];
            c.encrypt_block(&mut one);
            prop_assert_eq!(&one[..], &want[..16], "{:?} single", backend);
        }
    }

    /// SM4-GCM equals `AesGcm<sm4::Sm4, U12>`; tampering is rejected.
    #[test]
    fn gcm_matches_rustcrypto_and_rejects_tampering(
        key in any::<[u8; 16]>(),
        nonce in any::<[u8; 12]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..48),
        pt in proptest::collection::vec(any::<u8>(), 0..2500),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let reference = AesGcm::<sm4::Sm4, U12>::new(&key.into());
        let mut want = pt.clone();
        let want_tag: [u8; 16] = reference
            .encrypt_inout_detached(&nonce.into(), &aad, want.as_mut_slice().into())
            .unwrap()
            .into();
        for backend in available_backends() {
            // Our `Sm4` inside RustCrypto's `AesGcm` (the `cipher` traits,
            // including `ctr`'s single-block tail path) gives the same.
            let generic = AesGcm::<Sm4, U12>::from(Sm4::with_backend(&key, backend).unwrap());
            let mut ct2 = pt.clone();
            let tag2: [u8; 16] = generic
                .encrypt_inout_detached(&nonce.into(), &aad, ct2.as_mut_slice().into())
                .unwrap()
                .into();
            prop_assert_eq!(&ct2, &want, "{:?} in AesGcm", backend);
            prop_assert_eq!(tag2, want_tag, "{:?} in AesGcm", backend);
        }
        for (backend, g) in gcm_variants(&key) {
            let mut ct = pt.clone();
            let tag = g.seal_in_place_detached(&nonce, &aad, &mut ct);
            prop_assert_eq!(&ct, &want, "{}", backend);
            prop_assert_eq!(tag, want_tag, "{}", backend);

            // Tampered tag.
            let mut bad_tag = tag;
            bad_tag[flip.index(16)] ^= 1 << bit;
            let mut buf = ct.clone();
            prop_assert_eq!(g.open_in_place_detached(&nonce, &aad, &mut buf, &bad_tag), Err(Sm4GcmError));
            prop_assert_eq!(&buf, &ct, "buffer must be untouched on failure");

            // Tampered ciphertext.
            if !ct.is_empty() {
                let mut buf = ct.clone();
                buf[flip.index(ct.len())] ^= 1 << bit;
                prop_assert_eq!(g.open_in_place_detached(&nonce, &aad, &mut buf, &tag), Err(Sm4GcmError));
            }

            // Tampered or extended AAD.
            let mut bad_aad = aad.clone();
            if bad_aad.is_empty() {
                bad_aad.push(0);
            } else {
                let i = flip.index(bad_aad.len());
                bad_aad[i] ^= 1 << bit;
            }
            let mut buf = ct.clone();
            prop_assert_eq!(g.open_in_place_detached(&nonce, &bad_aad, &mut buf, &tag), Err(Sm4GcmError));

            // Wrong nonce.
            let mut bad_nonce = nonce;
            bad_nonce[flip.index(12)] ^= 1 << bit;
            let mut buf = ct.clone();
            prop_assert_eq!(g.open_in_place_detached(&bad_nonce, &aad, &mut buf, &tag), Err(Sm4GcmError));

            // And the genuine one opens.
            let mut buf = ct.clone();
            g.open_in_place_detached(&nonce, &aad, &mut buf, &tag).unwrap();
            prop_assert_eq!(&buf, &pt);
        }
    }
}
