//! CopyObject. The bytes are copied, never shared: each object owns its blobs, so deleting
//! either side can never damage the other, and a copy can be stored differently from its
//! source (the destination's own encryption, once that exists).

use coffer_storage::{ObjectKind, ObjectRecord, PutCondition, Segment};
use futures_util::StreamExt;

use crate::conditions::Preconditions;
use crate::error::{ServiceError, ServiceResult};
use crate::ingest::{Body, BodyError, hex_upper, ingest};
use crate::names::validate_object_key;
use crate::object::{
    DEFAULT_CONTENT_TYPE, DEFAULT_STORAGE_CLASS, ObjectAttributes, new_generation,
};
use crate::range::ResolvedRange;
use crate::{MAX_OBJECT_SIZE, Service, now_ms};

#[derive(Debug, Clone)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub conditions: Preconditions,
}

#[derive(Debug, Clone)]
pub enum MetadataDirective {
    /// Keep the source's content type, headers and user metadata.
    Copy,
    /// Take them from the request instead.
    Replace(ObjectAttributes),
}

impl Service {
    /// Looks up a copy source and checks its `x-*-copy-source-if-*` conditions.
    pub async fn copy_source(&self, source: &CopySource) -> ServiceResult<ObjectRecord> {
        let object = self.head_object(&source.bucket, &source.key).await?;
        source.conditions.check(&object)?;
        Ok(object)
    }

    /// The source's bytes (or a range of them) as a body for the write path.
    pub(crate) fn body_of(&self, object: &ObjectRecord, range: Option<ResolvedRange>) -> Body {
        Box::pin(
            self.read_object(object, range)
                .map(|frame| frame.map_err(|e| BodyError(format!("reading copy source: {e}")))),
        )
    }

    pub async fn copy_object(
        &self,
        source: &CopySource,
        bucket: &str,
        key: &str,
        directive: MetadataDirective,
        acl: coffer_storage::ObjectAcl,
        forbid_overwrite: bool,
    ) -> ServiceResult<ObjectRecord> {
        validate_object_key(key)?;
        let src = self.copy_source(source).await?;
        self.require_bucket(bucket).await?;
        let condition = if forbid_overwrite {
            if self.meta.get_object(bucket, key).await?.is_some() {
                return Err(ServiceError::ObjectAlreadyExists);
            }
            PutCondition::Absent
        } else {
            PutCondition::Any
        };
        let data = ingest(
            &*self.blobs,
            self.body_of(&src, None),
            MAX_OBJECT_SIZE,
            None,
        )
        .await?;
        let (content_type, headers, user_meta, storage_class) = match directive {
            MetadataDirective::Copy => (
                src.content_type,
                src.headers,
                src.user_meta,
                src.storage_class,
            ),
            MetadataDirective::Replace(a) => (
                a.content_type
                    .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
                a.headers,
                a.user_meta,
                a.storage_class
                    .unwrap_or_else(|| DEFAULT_STORAGE_CLASS.into()),
            ),
        };
        let record = ObjectRecord {
            key: key.to_owned(),
            generation: new_generation(),
            size: data.size,
            etag: hex_upper(&data.md5),
            crc64: Some(data.crc64),
            content_md5: None,
            last_modified_ms: now_ms(),
            kind: ObjectKind::Normal,
            acl,
            storage_class,
            content_type,
            headers,
            user_meta,
            segments: vec![Segment {
                blob: data.blob.clone(),
                len: data.size,
            }],
        };
        self.install(bucket, record, condition, &[data.blob]).await
    }
}
