//! Multipart uploads. Each part is its own blob; completion writes one record whose
//! segments are the chosen parts, so no data is copied and a crash at any point leaves
//! either the upload or the finished object.
//!
//! The upload's key source is fixed at initiation. With a customer key (SSE-C), every
//! UploadPart and UploadPartCopy must present it again and is checked against the upload's
//! verifier. Completion seals and opens nothing (each part was checked as it was written),
//! so it needs no key.

use coffer_storage::{
    ObjectAcl, ObjectKind, ObjectRecord, PartRecord, PutCondition, Segment, UploadRecord,
};
use md5::{Digest, Md5};

use coffer_crypto::{Envelope, PackageSealer};

use crate::copy::CopySource;
use crate::customer_key::KeySource;
use crate::error::{ServiceError, ServiceResult};
use crate::ingest::{Body, Ingested, crc64_combine, hex_upper, ingest};
use crate::names::validate_object_key;
use crate::object::sealer;
use crate::object::{DEFAULT_CONTENT_TYPE, ObjectAttributes, new_generation};
use crate::range::ByteRange;
use crate::sse::SseRequest;
use crate::{Service, now_ms};

/// Which part of which upload a part write addresses.
#[derive(Debug, Clone, Copy)]
pub struct PartTarget<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub upload_id: &'a str,
    pub part_number: u32,
}

/// One entry of a CompleteMultipartUpload request.
#[derive(Debug, Clone)]
pub struct CompletePart {
    pub part_number: u32,
    /// Without quotes.
    pub etag: String,
}

/// Choices CompleteMultipartUpload makes about the object it creates.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompleteOptions {
    /// Fail with [`ServiceError::ObjectAlreadyExists`] if the key exists.
    pub forbid_overwrite: bool,
    /// The object's ACL, replacing the one given at initiation.
    pub acl: Option<ObjectAcl>,
}

#[derive(Debug, Clone)]
pub struct PartCopyResult {
    pub part: PartRecord,
    /// The source bytes copied: `first..=last` of `total`.
    pub first: u64,
    pub last: u64,
    pub total: u64,
    /// The upload's encryption, which the part was sealed under.
    pub encryption: Option<Envelope>,
}

fn check_part_number(part_number: u32, max: u32) -> ServiceResult<()> {
    if (1..=max).contains(&part_number) {
        Ok(())
    } else {
        Err(ServiceError::invalid_argument(
            "partNumber",
            part_number.to_string(),
            format!("Part number must be an integer between 1 and {max}, inclusive."),
        ))
    }
}

fn part_from(part_number: u32, data: Ingested) -> PartRecord {
    PartRecord {
        part_number,
        etag: hex_upper(&data.md5),
        size: data.size,
        crc64: Some(data.crc64),
        last_modified_ms: now_ms(),
        blob: data.blob,
    }
}

impl Service {
    pub async fn initiate_upload(
        &self,
        bucket: &str,
        key: &str,
        mut attributes: ObjectAttributes,
        sse: Option<&SseRequest>,
        key_source: &KeySource,
        caller: &str,
    ) -> ServiceResult<UploadRecord> {
        validate_object_key(key)?;
        let bucket_record = self.require_bucket(bucket).await?;
        attributes.default_class_from(&bucket_record);
        // The upload's encryption, and its data key, are fixed here for every part.
        let encryption = self
            .key_for_write(sse, key_source, &bucket_record, key, caller)
            .await?
            .map(|k| k.envelope);
        let upload = UploadRecord {
            key: key.to_owned(),
            upload_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            initiated_ms: now_ms(),
            acl: attributes.acl,
            storage_class: attributes
                .storage_class
                .unwrap_or_else(|| self.limits.default_storage_class.into()),
            content_type: attributes
                .content_type
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
            headers: attributes.headers,
            user_meta: attributes.user_meta,
            encryption,
        };
        self.meta.create_upload(bucket, upload.clone()).await?;
        Ok(upload)
    }

    pub async fn require_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ServiceResult<UploadRecord> {
        match self.meta.get_upload(bucket, key, upload_id).await? {
            Some(upload) => Ok(upload),
            None => {
                self.require_bucket(bucket).await?;
                Err(ServiceError::NoSuchUpload)
            }
        }
    }

    pub async fn upload_part(
        &self,
        target: &PartTarget<'_>,
        body: Body,
        content_md5: Option<[u8; 16]>,
        key_source: &KeySource,
        caller: &str,
    ) -> ServiceResult<(PartRecord, Option<Envelope>)> {
        let PartTarget {
            bucket,
            key,
            upload_id,
            part_number,
        } = *target;
        check_part_number(part_number, self.limits.max_part_number)?;
        let upload = self.require_upload(bucket, key, upload_id).await?;
        let sealer = self
            .part_sealer(&upload, part_number, key_source, caller)
            .await?;
        let data = ingest(
            &*self.blobs,
            body,
            self.limits.max_part_size,
            content_md5,
            sealer,
        )
        .await?;
        let part = self
            .record_part(bucket, key, upload_id, part_from(part_number, data))
            .await?;
        Ok((part, upload.encryption))
    }

    /// Parts of an encrypted upload seal under the upload's data key, derived per part
    /// number, so completion can order them freely. `key_source` must be the upload's.
    async fn part_sealer(
        &self,
        upload: &UploadRecord,
        part_number: u32,
        key_source: &KeySource,
        caller: &str,
    ) -> ServiceResult<Option<PackageSealer>> {
        let key = self
            .existing_key(upload.encryption.as_ref(), key_source, caller)
            .await?;
        sealer(&key, part_number)
    }

    async fn record_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> ServiceResult<PartRecord> {
        match self
            .meta
            .put_part(bucket, key, upload_id, part.clone())
            .await
        {
            Ok(replaced) => {
                if let Some(old) = replaced {
                    self.release_blobs(vec![old.blob]).await;
                }
                Ok(part)
            }
            Err(e) => {
                self.release_blobs(vec![part.blob]).await;
                Err(e.into())
            }
        }
    }

    /// UploadPartCopy: a part whose bytes come from an existing object, optionally a range.
    /// The source is opened under its own key source (in `source`), the part sealed under
    /// the upload's, which `key_source` must present.
    pub async fn upload_part_copy(
        &self,
        target: &PartTarget<'_>,
        source: &CopySource,
        range: Option<ByteRange>,
        key_source: &KeySource,
        caller: &str,
    ) -> ServiceResult<PartCopyResult> {
        let PartTarget {
            bucket,
            key,
            upload_id,
            part_number,
        } = *target;
        check_part_number(part_number, self.limits.max_part_number)?;
        let upload = self.require_upload(bucket, key, upload_id).await?;
        let src = self.copy_source(source).await?;
        let resolved = match range {
            Some(r) => r.resolve(src.size, crate::RangeMode::Standard)?,
            None => None,
        };
        let (first, last) = match resolved {
            Some(r) => (r.first, r.last),
            None => (0, src.size.saturating_sub(1)),
        };
        let sealer = self
            .part_sealer(&upload, part_number, key_source, caller)
            .await?;
        let body = self.body_of(source, &src, resolved, caller).await?;
        let data = ingest(&*self.blobs, body, self.limits.max_part_size, None, sealer).await?;
        let part = self
            .record_part(bucket, key, upload_id, part_from(part_number, data))
            .await?;
        Ok(PartCopyResult {
            part,
            first,
            last,
            total: src.size,
            encryption: upload.encryption,
        })
    }

    /// Completes the upload from `parts` (ascending part numbers, matching ETags), or from
    /// every uploaded part when `parts` is `None` (OSS's `x-oss-complete-all`).
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Option<Vec<CompletePart>>,
        options: CompleteOptions,
    ) -> ServiceResult<ObjectRecord> {
        let upload = self.require_upload(bucket, key, upload_id).await?;
        let uploaded = self.meta.list_parts(bucket, key, upload_id).await?;
        let chosen: Vec<PartRecord> = match parts {
            None => uploaded,
            Some(requested) => {
                if requested.is_empty() {
                    return Err(ServiceError::InvalidPart);
                }
                if requested
                    .windows(2)
                    .any(|w| w[0].part_number >= w[1].part_number)
                {
                    return Err(ServiceError::InvalidPartOrder);
                }
                let mut chosen = Vec::with_capacity(requested.len());
                for want in &requested {
                    check_part_number(want.part_number, self.limits.max_part_number)?;
                    let part = uploaded
                        .iter()
                        .find(|p| {
                            p.part_number == want.part_number
                                && p.etag.eq_ignore_ascii_case(&want.etag)
                        })
                        .ok_or(ServiceError::InvalidPart)?;
                    chosen.push(part.clone());
                }
                chosen
            }
        };
        if chosen.is_empty() {
            return Err(ServiceError::InvalidPart);
        }
        if chosen[..chosen.len() - 1]
            .iter()
            .any(|p| p.size < self.limits.min_part_size)
        {
            return Err(ServiceError::EntityTooSmall);
        }
        let mut md5s = Md5::new();
        let mut crc = Some(0u64);
        let mut size = 0u64;
        for part in &chosen {
            md5s.update(
                hex::decode(&part.etag)
                    .map_err(|_| ServiceError::Internal("stored part ETag is not hex".into()))?,
            );
            crc = match (crc, part.crc64) {
                (Some(acc), Some(c)) => Some(crc64_combine(acc, c, part.size)),
                _ => None,
            };
            size += part.size;
        }
        let record = ObjectRecord {
            key: key.to_owned(),
            generation: new_generation(),
            size,
            etag: format!("{}-{}", hex_upper(&md5s.finalize()), chosen.len()),
            crc64: crc,
            content_md5: None,
            last_modified_ms: now_ms(),
            kind: ObjectKind::Multipart,
            acl: options.acl.unwrap_or(upload.acl),
            storage_class: upload.storage_class,
            content_type: upload.content_type,
            headers: upload.headers,
            user_meta: upload.user_meta,
            encryption: upload.encryption,
            segments: chosen
                .iter()
                .map(|p| Segment {
                    key_index: p.part_number,
                    blob: p.blob.clone(),
                    len: p.size,
                })
                .collect(),
        };
        let condition = if options.forbid_overwrite {
            PutCondition::Absent
        } else {
            PutCondition::Any
        };
        let done = self
            .meta
            .complete_upload(bucket, upload_id, record.clone(), condition)
            .await
            .map_err(|e| match e {
                coffer_storage::StorageError::ConditionFailed { .. } => {
                    ServiceError::ObjectAlreadyExists
                }
                other => other.into(),
            })?;
        if let Some(old) = done.replaced {
            self.release_blobs(old.segments.into_iter().map(|s| s.blob).collect())
                .await;
        }
        self.release_blobs(done.unused_parts.into_iter().map(|p| p.blob).collect())
            .await;
        Ok(record)
    }

    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ServiceResult<()> {
        self.require_upload(bucket, key, upload_id).await?;
        let parts = self.meta.abort_upload(bucket, key, upload_id).await?;
        self.release_blobs(parts.into_iter().map(|p| p.blob).collect())
            .await;
        Ok(())
    }

    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ServiceResult<(UploadRecord, Vec<PartRecord>)> {
        let upload = self.require_upload(bucket, key, upload_id).await?;
        Ok((upload, self.meta.list_parts(bucket, key, upload_id).await?))
    }

    /// The bucket's in-progress uploads, ordered by key then upload id.
    pub async fn list_uploads(&self, bucket: &str) -> ServiceResult<Vec<UploadRecord>> {
        self.require_bucket(bucket).await?;
        Ok(self.meta.list_uploads(bucket).await?)
    }
}
