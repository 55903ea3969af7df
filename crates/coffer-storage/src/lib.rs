//! Coffer's persistence layer.
//!
//! Two traits split what a store keeps: [`MetaStore`] holds buckets, object records and
//! multipart state transactionally; [`BlobStore`] holds the bytes. Object records point at
//! blobs, never the other way round, so the write protocol is always "blob first, durable,
//! then the record commits" and a crash can leave at worst an unreferenced blob, which
//! [`sweep_orphans`] removes at start-up.
//!
//! The embedded implementations are [`RedbMetaStore`] and, for bytes, a
//! [`TieredBlobStore`] that keeps small blobs in the metadata database ([`RedbBlobStore`])
//! and the rest as files ([`FsBlobStore`]); a PostgreSQL
//! metadata store or a shared blob backend plugs in by implementing the same traits.

mod blob;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
mod encryption_rule;
mod error;
mod fs_blob;
mod group_commit;
mod meta;
mod record_format;
mod records;
mod redb_blob;
mod redb_meta;
mod sweep;
mod tiered_blob;

pub use blob::{BlobId, BlobRead, BlobReader, BlobStore, BlobWriter};
pub use encryption_rule::{KmsDataEncryption, SseAlgorithm};
pub use error::{BackendError, StorageError, StorageResult};
pub use fs_blob::FsBlobStore;
pub use meta::{BucketDeletion, CompletedUpload, MetaStore, ObjectListing, PutCondition};
pub use records::{
    BucketAcl, BucketRecord, EncryptionRule, Envelope, ObjectAcl, ObjectKind, ObjectRecord,
    PartRecord, Segment, UploadRecord,
};
pub use redb_blob::RedbBlobStore;
pub use redb_meta::RedbMetaStore;
pub use sweep::{OrphanSweeper, sweep_orphans};
pub use tiered_blob::TieredBlobStore;
