//! `coffer-bench md5`: how fast one core computes MD5, the ETag every PUT must produce.
//!
//! MD5 cannot be split across cores (each block depends on the previous one) and is the
//! slowest per-byte stage of a PUT, so its single-core rate bounds one upload stream.
//! Measuring it in the same run as the server makes "PUT ÷ MD5 bound" a ratio that holds
//! up on a noisy machine. It uses the `md-5` crate, as the server does.

use std::time::{Duration, Instant};

use md5::{Digest, Md5};

pub fn run(size: u64, duration: Duration, json: bool) {
    // Not all zeros, though MD5's speed does not depend on the data.
    let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 + 7) as u8).collect();
    let mut hashed: u64 = 0;
    let mut digests = 0u64;
    let started = Instant::now();
    while digests == 0 || started.elapsed() < duration {
        let mut hasher = Md5::new();
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            hasher.update(&chunk[..n]);
            left -= n as u64;
        }
        std::hint::black_box(hasher.finalize());
        hashed += size;
        digests += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mb_per_sec = hashed as f64 / seconds / 1e6;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "op": "md5",
                "object_size": size,
                "digests": digests,
                "seconds": seconds,
                "mb_per_sec": mb_per_sec,
            })
        );
    } else {
        println!(
            "MD5, one core: {mb_per_sec:.1} MB/s ({digests} digests of {size} bytes in {seconds:.2} s)"
        );
    }
}
