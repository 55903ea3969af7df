//! SM4-GCM throughput: Coffer's SM4 (fastest backend for this CPU) against
//! RustCrypto `sm4` in the same `aes_gcm::AesGcm` construction.
//!
//! cargo bench -p coffer-crypto --bench sm4 -- --warm-up-time 1 --measurement-time 3

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use coffer_crypto::sm4::Sm4Gcm;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const LEN: usize = 64 * 1024;
const KEY: [u8; 16] = [0x2b; 16];
const NONCE: [u8; 12] = [0x5c; 12];
const AAD: &[u8] = b"coffer-bench";

fn bench(c: &mut Criterion) {
    let plaintext: Vec<u8> = (0..LEN).map(|i| (i * 31 + 7) as u8).collect();
    let coffer = Sm4Gcm::new(&KEY);
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
