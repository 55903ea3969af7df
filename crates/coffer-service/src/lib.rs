//! Object-store semantics shared by every protocol dialect.
//!
//! A dialect (OSS today, S3 later) parses requests into the types here, calls one
//! [`Service`] method per operation, and renders the result or [`ServiceError`] in its own
//! vocabulary. Nothing in this crate knows header names, XML or signatures.

mod bucket;
mod conditions;
mod copy;
mod error;
mod ingest;
mod key_cache;
mod list;
mod multipart;
mod names;
mod object;
mod range;
mod read;
mod sse;

use std::sync::Arc;

use coffer_storage::{BlobStore, MetaStore};

pub use bucket::{BucketListing, BucketStat, NewBucket};
pub use coffer_crypto::{CipherSuite, DataKey, Envelope, SseMethod};
pub use conditions::Preconditions;
pub use copy::{CopyOptions, CopySource, MetadataDirective};
pub use error::{FailedCondition, ServiceError, ServiceResult};
pub use ingest::{Body, BodyError};
pub use key_cache::MAX_TTL as MAX_KEY_CACHE_TTL;
pub use list::{ListPage, ListQuery, common_prefix, resume_point};
pub use multipart::{CompleteOptions, CompletePart, PartCopyResult, PartTarget};
pub use names::{validate_bucket_name, validate_object_key};
pub use object::{AppendOutcome, ObjectAttributes, PutOptions};
pub use range::{ByteRange, RangeMode, ResolvedRange};
pub use read::ObjectBody;
pub use sse::{IssuedKey, KeyContext, KeyError, KeyProvider, SseRequest, resolve_encryption};

/// Largest object a single PUT, POST or append series may create: 5 GiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest single part.
pub const MAX_PART_SIZE: u64 = MAX_OBJECT_SIZE;
/// Smallest part other than the last, checked at completion.
pub const MIN_PART_SIZE: u64 = 100 * 1024;
pub const MAX_PART_NUMBER: u32 = 10_000;

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
}

impl Service {
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Service {
            meta,
            blobs,
            keys: None,
            key_cache: None,
        }
    }

    /// Enables server-side encryption with keys from `keys`.
    pub fn with_key_provider(mut self, keys: Arc<dyn KeyProvider>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Enables the per-bucket SSE-KMS data-key cache with the given TTL (at most
    /// [`MAX_KEY_CACHE_TTL`]).
    pub fn with_data_key_cache(mut self, ttl: std::time::Duration) -> Self {
        self.key_cache = Some(Arc::new(key_cache::KeyCache::new(ttl)));
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
