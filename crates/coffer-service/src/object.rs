//! Single-object writes: PUT, append, delete, ACL.

use coffer_crypto::PackageSealer;
use coffer_storage::{ObjectAcl, ObjectKind, ObjectRecord, PutCondition, Segment, StorageError};
use md5::{Digest, Md5};

use crate::customer_key::KeySource;
use crate::sse::{ObjectKey, SseRequest};

use crate::error::{ServiceError, ServiceResult};
use crate::ingest::{Body, Ingested, hex_upper, ingest};
use crate::names::validate_object_key;
use crate::{Service, now_ms};

/// What a client may set about an object when it writes it.
#[derive(Debug, Clone, Default)]
pub struct ObjectAttributes {
    pub content_type: Option<String>,
    /// Stored response headers (`content-disposition`, `cache-control`, ...), lower-case.
    pub headers: Vec<(String, String)>,
    /// User metadata, lower-case names without prefix.
    pub user_meta: Vec<(String, String)>,
    pub acl: ObjectAcl,
    pub storage_class: Option<String>,
}

pub(crate) const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Debug, Default)]
pub struct PutOptions {
    pub attributes: ObjectAttributes,
    /// The binary MD5 the client declared in `Content-MD5`.
    pub content_md5: Option<[u8; 16]>,
    /// Refuse to replace an existing object.
    pub forbid_overwrite: bool,
    /// Server-side encryption the request asked for; the bucket default applies without.
    pub sse: Option<SseRequest>,
    /// Where the object's key comes from. A customer key makes a new object SSE-C (and
    /// cannot be combined with `sse`); an append must present the key its object has.
    pub key_source: KeySource,
    /// Who is writing, for the key audit trail.
    pub caller: String,
}

/// The result of an append: the object after it.
#[derive(Debug)]
pub struct AppendOutcome {
    pub object: ObjectRecord,
}

pub(crate) fn new_generation() -> u64 {
    rand::random()
}

impl ObjectAttributes {
    /// A write that names no storage class takes its bucket's, as on OSS: an object
    /// uploaded into an IA bucket is IA.
    pub(crate) fn default_class_from(&mut self, bucket: &coffer_storage::BucketRecord) {
        if self.storage_class.is_none() {
            self.storage_class = Some(bucket.storage_class.clone());
        }
    }

    /// The record of a new object made of the one blob `data` describes.
    /// `default_class` applies when neither the request nor its bucket named a class.
    pub(crate) fn into_record(
        self,
        key: &str,
        data: &Ingested,
        kind: ObjectKind,
        default_class: &str,
    ) -> ObjectRecord {
        ObjectRecord {
            key: key.to_owned(),
            generation: new_generation(),
            size: data.size,
            etag: hex_upper(&data.md5),
            crc64: Some(data.crc64),
            content_md5: None,
            last_modified_ms: now_ms(),
            kind,
            acl: self.acl,
            storage_class: self.storage_class.unwrap_or_else(|| default_class.into()),
            content_type: self
                .content_type
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
            headers: self.headers,
            user_meta: self.user_meta,
            segments: vec![Segment {
                blob: data.blob.clone(),
                len: data.size,
                key_index: 0,
            }],
            encryption: None,
        }
    }
}

impl Service {
    pub(crate) async fn require_bucket(
        &self,
        bucket: &str,
    ) -> ServiceResult<coffer_storage::BucketRecord> {
        self.meta
            .get_bucket(bucket)
            .await?
            .ok_or(ServiceError::NoSuchBucket)
    }

    pub async fn head_object(&self, bucket: &str, key: &str) -> ServiceResult<ObjectRecord> {
        match self.meta.get_object(bucket, key).await? {
            Some(object) => Ok(object),
            None => {
                self.require_bucket(bucket).await?;
                Err(ServiceError::NoSuchKey)
            }
        }
    }

    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Body,
        mut options: PutOptions,
    ) -> ServiceResult<ObjectRecord> {
        validate_object_key(key)?;
        let bucket_record = self.require_bucket(bucket).await?;
        options.attributes.default_class_from(&bucket_record);
        let condition = self
            .write_condition(bucket, key, options.forbid_overwrite)
            .await?;
        let object_key = self
            .key_for_write(
                options.sse.as_ref(),
                &options.key_source,
                &bucket_record,
                key,
                &options.caller,
            )
            .await?;
        let data = ingest(
            &*self.blobs,
            body,
            self.limits.max_object_size,
            options.content_md5,
            sealer(&object_key, 0)?,
        )
        .await?;
        let mut record = options.attributes.into_record(
            key,
            &data,
            ObjectKind::Normal,
            self.limits.default_storage_class,
        );
        record.content_md5 = Some(base64_md5(&data.md5));
        record.encryption = object_key.map(|k| k.envelope);
        self.install(bucket, record, condition, &[data.blob]).await
    }

    /// The condition a write must commit under. With overwrites forbidden, an existing key
    /// fails early, before any body is read; the commit re-checks it atomically.
    pub(crate) async fn write_condition(
        &self,
        bucket: &str,
        key: &str,
        forbid_overwrite: bool,
    ) -> ServiceResult<PutCondition> {
        if !forbid_overwrite {
            return Ok(PutCondition::Any);
        }
        if self.meta.get_object(bucket, key).await?.is_some() {
            return Err(ServiceError::ObjectAlreadyExists);
        }
        Ok(PutCondition::Absent)
    }

    /// Commits a record whose blobs are already durable, then frees what it replaced. If
    /// the commit fails, the new blobs are freed instead.
    pub(crate) async fn install(
        &self,
        bucket: &str,
        record: ObjectRecord,
        condition: PutCondition,
        new_blobs: &[coffer_storage::BlobId],
    ) -> ServiceResult<ObjectRecord> {
        match self
            .meta
            .put_object(bucket, record.clone(), condition)
            .await
        {
            Ok(replaced) => {
                if let Some(old) = replaced {
                    let unused = old
                        .segments
                        .into_iter()
                        .map(|s| s.blob)
                        .filter(|b| !record.segments.iter().any(|s| &s.blob == b))
                        .collect();
                    self.release_blobs(unused).await;
                }
                Ok(record)
            }
            Err(e) => {
                self.release_blobs(new_blobs.to_vec()).await;
                Err(match e {
                    StorageError::ConditionFailed { .. } if condition == PutCondition::Absent => {
                        ServiceError::ObjectAlreadyExists
                    }
                    other => other.into(),
                })
            }
        }
    }

    /// Appends `body` at `position`, which must equal the current length. The first append
    /// (position 0, no object) creates an appendable object with `options`' attributes;
    /// later appends keep the attributes fixed at creation.
    pub async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
        body: Body,
        mut options: PutOptions,
    ) -> ServiceResult<AppendOutcome> {
        validate_object_key(key)?;
        let bucket_record = self.require_bucket(bucket).await?;
        let current = self.meta.get_object(bucket, key).await?;
        if current.is_none() {
            options.attributes.default_class_from(&bucket_record);
        }
        check_appendable_class(options.attributes.storage_class.as_deref())?;
        let length = match &current {
            Some(object) if object.kind != ObjectKind::Appendable => {
                return Err(ServiceError::ObjectNotAppendable);
            }
            Some(object) => object.size,
            None => 0,
        };
        if position != length {
            return Err(ServiceError::PositionNotEqualToLength { position, length });
        }
        let room = self.limits.max_object_size.saturating_sub(length);
        // The first append fixes the encryption; later appends ignore the managed
        // encryption they ask for and seal their segment under the object's own key, which
        // for an SSE-C object each append must present.
        let object_key = match &current {
            Some(object) => {
                self.existing_key(
                    object.encryption.as_ref(),
                    &options.key_source,
                    &options.caller,
                )
                .await?
            }
            None => {
                self.key_for_write(
                    options.sse.as_ref(),
                    &options.key_source,
                    &bucket_record,
                    key,
                    &options.caller,
                )
                .await?
            }
        };
        let key_index = current.as_ref().map_or(0, |o| o.segments.len() as u32);
        let data = ingest(
            &*self.blobs,
            body,
            room,
            options.content_md5,
            sealer(&object_key, key_index)?,
        )
        .await?;
        let now = now_ms();
        let (record, condition) = match current {
            Some(mut object) => {
                let condition = PutCondition::Generation(object.generation);
                object.crc64 = object
                    .crc64
                    .map(|c| crate::ingest::crc64_combine(c, data.crc64, data.size));
                object.size += data.size;
                object.generation = new_generation();
                object.last_modified_ms = now;
                object.etag = append_etag(&object.etag, &data.md5);
                object.segments.push(Segment {
                    blob: data.blob.clone(),
                    len: data.size,
                    key_index,
                });
                (object, condition)
            }
            None => {
                let mut record = options.attributes.into_record(
                    key,
                    &data,
                    ObjectKind::Appendable,
                    self.limits.default_storage_class,
                );
                record.etag = append_etag("", &data.md5);
                record.encryption = object_key.map(|k| k.envelope);
                (record, PutCondition::Absent)
            }
        };
        match self
            .install(bucket, record, condition, std::slice::from_ref(&data.blob))
            .await
        {
            Ok(object) => Ok(AppendOutcome { object }),
            // Another append won the race: report the length it left behind.
            Err(ServiceError::PreconditionFailed(_) | ServiceError::ObjectAlreadyExists) => {
                let length = self
                    .meta
                    .get_object(bucket, key)
                    .await?
                    .map_or(0, |o| o.size);
                Err(ServiceError::PositionNotEqualToLength { position, length })
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the object; deleting a missing key succeeds, as on OSS.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> ServiceResult<()> {
        match self.meta.delete_object(bucket, key).await? {
            Some(old) => {
                self.release_blobs(old.segments.into_iter().map(|s| s.blob).collect())
                    .await
            }
            None => {
                self.require_bucket(bucket).await?;
            }
        }
        Ok(())
    }

    pub async fn set_object_acl(
        &self,
        bucket: &str,
        key: &str,
        acl: ObjectAcl,
    ) -> ServiceResult<()> {
        let mut object = self.head_object(bucket, key).await?;
        let condition = PutCondition::Generation(object.generation);
        object.acl = acl;
        // Keep the generation: an ACL change is not a new version of the data, and a
        // concurrent write that wins makes this one fail, not resurrect old data.
        self.meta.put_object(bucket, object, condition).await?;
        Ok(())
    }
}

/// Appendable objects can be Standard, IA or Archive, never ColdArchive or DeepColdArchive
/// (OSS error 0016-00000503), whether the request names the class or the bucket's is taken.
fn check_appendable_class(class: Option<&str>) -> ServiceResult<()> {
    match class {
        Some(c @ ("ColdArchive" | "DeepColdArchive")) => {
            Err(ServiceError::AppendableStorageClass(c.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Appendable objects have no content MD5 that stays cheap to maintain, so their ETag is
/// an opaque value chained over each append's MD5 (the real service calls it a UUID).
fn append_etag(previous: &str, chunk_md5: &[u8; 16]) -> String {
    let mut h = Md5::new();
    h.update(previous.as_bytes());
    h.update(chunk_md5);
    hex_upper(&h.finalize())
}

/// The package sealer for segment `index` of an encrypted object, or `None` for plaintext.
pub(crate) fn sealer(key: &Option<ObjectKey>, index: u32) -> ServiceResult<Option<PackageSealer>> {
    key.as_ref()
        .map(|k| k.segment(index).map(PackageSealer::new))
        .transpose()
}

fn base64_md5(md5: &[u8; 16]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(md5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_md5() {
        let md5: [u8; 16] = Md5::digest(b"0123456789").into();
        assert_eq!(base64_md5(&md5), "eB5eJF1ptWaXm4bijSPyxw==");
    }
}
