//! SM4-GCM throughput: Coffer's SM4 (fastest backends for this CPU) against
//! RustCrypto `sm4` in the same `aes_gcm::AesGcm` construction, and against
//! itself with RustCrypto's `ghash` (the GHASH it used before `coffer_crypto::ghash`);
//! GHASH alone, each available backend against RustCrypto `ghash`; and the
//! SM4 block function alone.
//!
//! cargo bench -p coffer-crypto --bench sm4 -- --warm-up-time 1 --measurement-time 3

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::cipher::BlockCipherEncrypt;
use aes_gcm::aes::cipher::array::Array;
use coffer_crypto::ghash::{GhashBackend, GhashKey};
use coffer_crypto::sm4::{Sm4, Sm4Backend, Sm4Gcm};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ghash::universal_hash::UniversalHash;
use std::hint::black_box;

const LEN: usize = 64 * 1024;
const KEY: [u8; 16] = [0x2b; 16];
const NONCE: [u8; 12] = [0x5c; 12];
const AAD: &[u8] = b"coffer-bench";

fn bench(c: &mut Criterion) {
    let plaintext: Vec<u8> = (0..LEN).map(|i| (i * 31 + 7) as u8).collect();
    let coffer = Sm4Gcm::new(&KEY);
    let coffer_rc_ghash =
        Sm4Gcm::with_backends(&KEY, Sm4Backend::detect(), GhashBackend::RustCrypto).unwrap();
    let rustcrypto = AesGcm::<sm4::Sm4, U12>::new(&KEY.into());

    let mut ct = plaintext.clone();
    let tag = coffer.seal_in_place_detached(&NONCE, AAD, &mut ct);
    let mut check = plaintext.clone();
    let reference_tag = rustcrypto
        .encrypt_inout_detached(&NONCE.into(), AAD, check.as_mut_slice().into())
        .unwrap();
    assert_eq!(check, ct, "ciphertexts differ");
    assert_eq!(<[u8; 16]>::from(reference_tag), tag, "tags differ");

    let mut g = c.benchmark_group("sm4-gcm-64KiB");
    g.throughput(Throughput::Bytes(LEN as u64));

    let mut buf = plaintext.clone();
    g.bench_function("seal/coffer", |b| {
        b.iter(|| black_box(coffer.seal_in_place_detached(&NONCE, AAD, black_box(&mut buf))))
    });
    g.bench_function("seal/coffer-rustcrypto-ghash", |b| {
        b.iter(|| {
            black_box(coffer_rc_ghash.seal_in_place_detached(&NONCE, AAD, black_box(&mut buf)))
        })
    });
    g.bench_function("seal/rustcrypto-sm4", |b| {
        b.iter(|| {
            black_box(
                rustcrypto
                    .encrypt_inout_detached(
                        &NONCE.into(),
                        AAD,
                        black_box(buf.as_mut_slice()).into(),
                    )
                    .unwrap(),
            )
        })
    });

    // Opening decrypts in place, so every iteration starts from a fresh copy
    // of the ciphertext (the copy is not timed).
    g.bench_function("open/coffer", |b| {
        b.iter_batched_ref(
            || ct.clone(),
            |buf| {
                coffer
                    .open_in_place_detached(&NONCE, AAD, buf, &tag)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("open/coffer-rustcrypto-ghash", |b| {
        b.iter_batched_ref(
            || ct.clone(),
            |buf| {
                coffer_rc_ghash
                    .open_in_place_detached(&NONCE, AAD, buf, &tag)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("open/rustcrypto-sm4", |b| {
        b.iter_batched_ref(
            || ct.clone(),
            |buf| {
                rustcrypto
                    .decrypt_inout_detached(
                        &NONCE.into(),
                        AAD,
                        buf.as_mut_slice().into(),
                        &tag.into(),
                    )
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // A short message: the CTR tail and per-message costs dominate.
    let mut g = c.benchmark_group("sm4-gcm-1000B");
    g.throughput(Throughput::Bytes(1000));
    let mut small = vec![0x42u8; 1000];
    g.bench_function("seal/coffer", |b| {
        b.iter(|| black_box(coffer.seal_in_place_detached(&NONCE, AAD, black_box(&mut small))))
    });
    g.bench_function("seal/coffer-rustcrypto-ghash", |b| {
        b.iter(|| {
            black_box(coffer_rc_ghash.seal_in_place_detached(&NONCE, AAD, black_box(&mut small)))
        })
    });
    g.bench_function("seal/rustcrypto-sm4", |b| {
        b.iter(|| {
            black_box(
                rustcrypto
                    .encrypt_inout_detached(
                        &NONCE.into(),
                        AAD,
                        black_box(small.as_mut_slice()).into(),
                    )
                    .unwrap(),
            )
        })
    });
    g.finish();

    // The two halves of SM4-GCM on their own.
    let mut g = c.benchmark_group("ghash-64KiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    let h = [0x3au8; 16];
    for backend in GhashBackend::ALL.into_iter().filter(|b| b.is_available()) {
        let key = GhashKey::with_backend(&h, backend).unwrap();
        g.bench_function(format!("coffer/{backend:?}"), |b| {
            b.iter(|| {
                let mut x = key.hasher();
                x.update_padded(black_box(&plaintext));
                black_box(x.finalize())
            })
        });
    }
    let reference = ghash::GHash::new(&h.into());
    g.bench_function("rustcrypto-ghash", |b| {
        b.iter(|| {
            let mut x = reference.clone();
            x.update_padded(black_box(&plaintext));
            black_box(x.finalize())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sm4-blocks-64KiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    let cipher = Sm4::from_key(&KEY);
    let mut blocks = vec![Array::<u8, _>::default(); LEN / 16];
    g.bench_function("coffer", |b| {
        b.iter(|| cipher.encrypt_blocks(black_box(&mut blocks)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
