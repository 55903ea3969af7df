//! Differential tests of every available GHASH backend against RustCrypto
//! `ghash`.

use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use proptest::prelude::*;

use super::{GhashBackend, GhashKey};

fn available_backends() -> Vec<GhashBackend> {
    GhashBackend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// RustCrypto's GHASH over `parts`, each zero-padded.
fn reference(h: &[u8; 16], parts: &[&[u8]]) -> [u8; 16] {
    let mut g = GHash::new(h.into());
    for p in parts {
        g.update_padded(p);
    }
    g.finalize().into()
}

fn ours(key: &GhashKey, parts: &[&[u8]]) -> [u8; 16] {
    let mut g = key.hasher();
    for p in parts {
        g.update_padded(p);
    }
    g.finalize()
}

fn key16(seed: u64) -> [u8; 16] {
    bytes(seed, 16).try_into().unwrap()
}

fn keys() -> Vec<[u8; 16]> {
    let mut keys = vec![[0; 16], [0xff; 16], [0x80; 16], {
        let mut k = [0; 16];
        k[15] = 1;
        k
    }];
    keys.extend((1..5).map(key16));
    keys
}

const LENGTHS: [usize; 23] = [
    0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 240, 255, 256, 257, 511, 512, 513, 1024, 4095, 4096,
    65535, 65536,
];

#[test]
fn detect_picks_an_available_backend() {
    let b = GhashBackend::detect();
    assert!(b.is_available());
    assert_eq!(GhashKey::new(&[1; 16]).backend(), b);
    assert!(GhashBackend::RustCrypto.is_available());
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("vpclmulqdq") {
        assert_ne!(
            b,
            GhashBackend::RustCrypto,
            "a VPCLMULQDQ CPU must use a SIMD kernel"
        );
    }
}

#[test]
fn unavailable_backend_is_refused() {
    for b in GhashBackend::ALL {
        assert_eq!(
            GhashKey::with_backend(&[1; 16], b).is_some(),
            b.is_available()
        );
    }
}

#[test]
fn every_length_matches_rustcrypto() {
    for backend in available_backends() {
        for h in keys() {
            let key = GhashKey::with_backend(&h, backend).unwrap();
            assert_eq!(key.backend(), backend);
            for len in LENGTHS {
                let data = bytes(len as u64 + 7, len);
                assert_eq!(
                    ours(&key, &[&data]),
                    reference(&h, &[&data]),
                    "{backend:?}, len {len}, key {h:02x?}"
                );
            }
        }
    }
}

#[test]
fn every_length_up_to_three_strides_matches_rustcrypto() {
    // A stride is 32 blocks (512 bytes).
    let h = key16(99);
    for backend in available_backends() {
        let key = GhashKey::with_backend(&h, backend).unwrap();
        for len in 0..=3 * 512 + 17 {
            let data = bytes(len as u64, len);
            let aad = bytes(len as u64 + 1000, len % 37);
            assert_eq!(
                ours(&key, &[&aad, &data, &[0x5a; 16]]),
                reference(&h, &[&aad, &data, &[0x5a; 16]]),
                "{backend:?}, len {len}"
            );
        }
    }
}

#[test]
fn block_aligned_updates_equal_one_update() {
    let h = key16(5);
    let data = bytes(6, 5000);
    for backend in available_backends() {
        let key = GhashKey::with_backend(&h, backend).unwrap();
        let whole = ours(&key, &[&data]);
        for split in [16, 48, 256, 1008, 1024, 4096] {
            let (a, b) = data.split_at(split);
            assert_eq!(ours(&key, &[a, b]), whole, "{backend:?}, split {split}");
        }
    }
}

#[test]
fn cloned_key_hashes_the_same() {
    let h = key16(8);
    let data = bytes(9, 777);
    for backend in available_backends() {
        let key = GhashKey::with_backend(&h, backend).unwrap();
        let copy = key.clone();
        drop(key);
        assert_eq!(ours(&copy, &[&data]), reference(&h, &[&data]));
    }
}

#[test]
fn debug_output_hides_key_material() {
    let key = GhashKey::new(&[0xab; 16]);
    let s = format!("{key:?} {:?}", key.hasher());
    assert!(
        !s.contains("171") && !s.to_lowercase().contains("ab"),
        "{s}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_match_rustcrypto(
        h in any::<[u8; 16]>(),
        parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 0..4),
    ) {
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let expected = reference(&h, &parts);
        for backend in available_backends() {
            let key = GhashKey::with_backend(&h, backend).unwrap();
            prop_assert_eq!(ours(&key, &parts), expected, "{:?}", backend);
        }
    }

    #[test]
    fn random_long_inputs_match_rustcrypto(
        h in any::<[u8; 16]>(),
        seed in any::<u64>(),
        len in 0usize..20_000,
    ) {
        let data = bytes(seed, len);
        let expected = reference(&h, &[&data]);
        for backend in available_backends() {
            let key = GhashKey::with_backend(&h, backend).unwrap();
            prop_assert_eq!(ours(&key, &[&data]), expected, "{:?}", backend);
        }
    }
}
