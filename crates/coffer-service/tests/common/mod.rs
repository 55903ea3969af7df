//! What the service tests share.

/// The limits the OSS dialect passes in (the service has no defaults of its own).
pub const LIMITS: coffer_service::Limits = coffer_service::Limits {
    max_object_size: 5 * 1024 * 1024 * 1024,
    max_part_size: 5 * 1024 * 1024 * 1024,
    min_part_size: 100 * 1024,
    max_part_number: 10_000,
    default_storage_class: "Standard",
    default_data_redundancy: "LRS",
    // Objects under 64 KB of the infrequent-access and archive classes count as 64 KB
    // (GetBucketStat's *Storage figures; its *RealStorage ones are actual sizes).
    billing_minimums: &[
        ("IA", 64 * 1024),
        ("Archive", 64 * 1024),
        ("ColdArchive", 64 * 1024),
        ("DeepColdArchive", 64 * 1024),
    ],
};
