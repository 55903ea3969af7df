//! Sealing and opening 64 KiB packages with each cipher suite: the per-byte cost that
//! encryption adds to every PUT and GET.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use coffer_crypto::package::PACKAGE_PLAINTEXT;
use coffer_crypto::{CipherSuite, DataKey, PackageOpener, PackageSealer, SegmentKey};

fn key(suite: CipherSuite) -> SegmentKey {
    SegmentKey::derive(&DataKey::from_bytes([7; 32]), &[9; 16], suite, 0)
}

fn packages(c: &mut Criterion) {
    let plaintext = vec![0x5au8; PACKAGE_PLAINTEXT];
    let mut group = c.benchmark_group("package");
    group.throughput(Throughput::Bytes(PACKAGE_PLAINTEXT as u64));
    for (name, suite) in [
        ("aes256gcm", CipherSuite::Aes256Gcm),
        ("sm4gcm", CipherSuite::Sm4Gcm),
    ] {
        let mut out = Vec::with_capacity(PACKAGE_PLAINTEXT + 64);
        group.bench_function(format!("seal/{name}"), |b| {
            b.iter(|| {
                // A fresh sealer per package: the FINAL package ends a sealer.
                let mut sealer = PackageSealer::new(key(suite));
                out.clear();
                sealer.seal_into(black_box(&plaintext), true, &mut out);
            })
        });
        let mut sealed = Vec::new();
        PackageSealer::new(key(suite)).seal_into(&plaintext, true, &mut sealed);
        let mut buf = sealed.clone();
        group.bench_function(format!("open/{name}"), |b| {
            b.iter(|| {
                buf.copy_from_slice(&sealed);
                let mut opener = PackageOpener::new(key(suite), 0);
                black_box(opener.open(&mut buf).expect("authentic"));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, packages);
criterion_main!(benches);
