//! Object-store semantics shared by every protocol dialect.
//!
//! A dialect (OSS today, S3 later) parses requests into the types here, calls one
//! [`Service`] method per operation, and renders the result or [`ServiceError`] in its own
//! vocabulary. Nothing in this crate knows header names, XML or signatures.

mod bucket;
mod conditions;
#[cfg(feature = "testing")]
pub mod contract;
mod copy;
mod customer_key;
mod error;
mod ingest;
mod key_admin;
mod key_cache;
mod list;
mod multipart;
mod names;
mod object;
mod range;
mod read;
mod resilience;
mod sse;
mod unwrap_cache;

use std::sync::Arc;

use coffer_storage::{BlobStore, MetaStore};

pub use bucket::{BucketListing, BucketStat, ClassUsage, NewBucket};
pub use coffer_crypto::{
    CipherSuite, CustomerKey, DataKey, Envelope, InvalidCustomerKey, KeyVerifier, SseMethod,
};
pub use conditions::Preconditions;
pub use copy::{CopyOptions, CopySource, MetadataDirective};
pub use customer_key::KeySource;
pub use error::{FailedCondition, ServiceError, ServiceResult};
pub use ingest::{Body, BodyError};
pub use key_admin::{
    AliasEntry, KeyAdmin, KeyAdminError, KeyInfo, KeyOperation, KeyState, KeyUsage, NewKey,
};
pub use key_cache::MAX_TTL as MAX_KEY_CACHE_TTL;
pub use list::{ListPage, ListQuery, common_prefix, resume_point};
pub use multipart::{CompleteOptions, CompletePart, PartCopyResult, PartTarget};
pub use names::{validate_bucket_name, validate_object_key};
pub use object::{AppendOutcome, ObjectAttributes, PutOptions};
pub use range::{ByteRange, RangeMode, ResolvedRange};
pub use read::ObjectBody;
pub use resilience::{MAX_BACKOFF, Resilience, ResilientKeys};
pub use sse::{
    CachedUse, IssuedKey, KeyContext, KeyError, KeyProvider, KeyUse, SseRequest, resolve_encryption,
};

/// What a wire dialect fixes about objects. The dialect passes them in (coffer-oss's
/// `OSS_LIMITS`), so the neutral core holds no dialect's numbers: S3's smallest part is
/// 5 MiB where OSS's is 100 KiB, and its default storage class is spelled `STANDARD`.
/// ETags are stored in one form (upper-case hex MD5) and each dialect renders its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest object a single PUT, POST, copy or append series may create.
    pub max_object_size: u64,
    /// Largest single part.
    pub max_part_size: u64,
    /// Smallest part other than the last, checked at completion.
    pub min_part_size: u64,
    /// Part numbers run from 1 to this.
    pub max_part_number: u32,
    /// The storage class of a bucket created without one.
    pub default_storage_class: &'static str,
    /// The data redundancy type of a bucket created without one.
    pub default_data_redundancy: &'static str,
    /// Storage classes whose objects are billed (and reported in bucket statistics) at
    /// no less than a minimum size, with that size; other classes have none.
    pub billing_minimums: &'static [(&'static str, u64)],
}

impl Limits {
    /// The minimum billable object size of `storage_class` (0 if it has none).
    pub fn billing_minimum(&self, storage_class: &str) -> u64 {
        self.billing_minimums
            .iter()
            .find(|(class, _)| *class == storage_class)
            .map_or(0, |(_, size)| *size)
    }
}

pub use coffer_storage::{
    BucketAcl, BucketRecord, EncryptionRule, KmsDataEncryption, ObjectAcl, ObjectKind,
    ObjectRecord, PartRecord, SseAlgorithm, UploadRecord,
};

/// The object store: metadata and blobs, and the rules that keep them consistent.
#[derive(Clone)]
pub struct Service {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    keys: Option<Arc<dyn KeyProvider>>,
    key_cache: Option<Arc<key_cache::KeyCache>>,
    /// On exactly when `key_cache` is, with the same TTL.
    unwrap_cache: Option<Arc<unwrap_cache::UnwrapCache>>,
    limits: Limits,
}

impl Service {
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, limits: Limits) -> Self {
        Service {
            meta,
            blobs,
            keys: None,
            key_cache: None,
            unwrap_cache: None,
            limits,
        }
    }

    /// The dialect's limits this service enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Enables server-side encryption with keys from `keys`.
    pub fn with_key_provider(mut self, keys: Arc<dyn KeyProvider>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Enables the per-bucket SSE-KMS data-key cache with the given TTL (at most
    /// [`MAX_KEY_CACHE_TTL`]), and with it the cache of unwrapped data keys (same TTL), so
    /// both writes and reads under a bucket key cost one key-manager call per TTL.
    pub fn with_data_key_cache(mut self, ttl: std::time::Duration) -> Self {
        self.key_cache = Some(Arc::new(key_cache::KeyCache::new(ttl)));
        self.unwrap_cache = Some(Arc::new(unwrap_cache::UnwrapCache::new(ttl)));
        self
    }

    /// Frees the blobs of records that are no longer reachable. Failures only leave
    /// orphans, which the start-up sweep removes, so they are logged, not returned.
    /// Takes owned ids: an iterator borrowing records, held across the awaits, would make
    /// every caller's future fail the `Send` check.
    async fn release_blobs(&self, blobs: Vec<coffer_storage::BlobId>) {
        for id in &blobs {
            if let Err(e) = self.blobs.delete(id).await {
                tracing::warn!(blob = %id, error = %e, "could not delete unreferenced blob");
            }
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
