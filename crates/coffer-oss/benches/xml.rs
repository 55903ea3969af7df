//! Rendering a ListObjects (V1) page of 1,000 keys, plain and with `encoding-type=url`
//! (every key, the prefix and the marker percent-encoded): the CPU cost of a full listing
//! page besides the metadata scan.
//!
//! cargo bench -p coffer-oss --bench xml -- --warm-up-time 1 --measurement-time 2

use std::hint::black_box;

use coffer_oss::xml::{ListBucketResultV1, ObjectSummary, Owner};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: usize = 1_000;

/// A truncated page of path-like keys; one in ten has a space and a non-ASCII letter.
fn page(encode_url: bool) -> ListBucketResultV1 {
    let owner = Owner {
        id: "1234567890123456".to_owned(),
        display_name: "1234567890123456".to_owned(),
    };
    let contents: Vec<ObjectSummary> = (0..KEYS)
        .map(|i| ObjectSummary {
            key: if i % 10 == 9 {
                format!("photos/2023/11/Ausflug Zürich {i:04}.jpg")
            } else {
                format!("photos/2023/11/IMG_{i:04}.jpg")
            },
            last_modified: format!("2023-11-14T22:{:02}:{:02}.000Z", i / 60 % 60, i % 60),
            etag: format!(
                "\"{:032X}\"",
                (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ),
            object_type: "Normal".to_owned(),
            size: 1_000_000 + i as u64 * 37,
            storage_class: "Standard".to_owned(),
            owner: Some(owner.clone()),
        })
        .collect();
    ListBucketResultV1 {
        name: "examplebucket".to_owned(),
        prefix: "photos/2023/".to_owned(),
        marker: String::new(),
        max_keys: KEYS as u32,
        delimiter: String::new(),
        encode_url,
        is_truncated: true,
        next_marker: contents.last().map(|c| c.key.clone()),
        contents,
        common_prefixes: Vec::new(),
    }
}

fn list_objects(c: &mut Criterion) {
    let mut group = c.benchmark_group("list-objects-v1-1000-keys");
    group.throughput(Throughput::Elements(KEYS as u64));
    for (name, encode_url) in [("plain", false), ("encoding-type=url", true)] {
        let page = page(encode_url);
        group.bench_function(name, |b| b.iter(|| black_box(&page).to_xml()));
    }
    group.finish();
}

criterion_group!(benches, list_objects);
criterion_main!(benches);
