//! CopyObject. The bytes are copied, never shared: each object owns its blobs, so deleting
//! either side can never damage the other, and a copy can be stored differently from its
//! source (the destination's own encryption, once that exists).

use coffer_storage::{ObjectKind, ObjectRecord};
use futures_util::StreamExt;

use crate::conditions::Preconditions;
use crate::error::ServiceResult;
use crate::ingest::{Body, BodyError, ingest};
use crate::names::validate_object_key;
use crate::object::{ObjectAttributes, sealer};
use crate::range::ResolvedRange;
use crate::sse::{SseRequest, resolve_encryption};
use crate::{MAX_OBJECT_SIZE, Service};

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

    /// The source's bytes (or a range of them), decrypted, as a body for the write path.
    pub(crate) async fn body_of(
        &self,
        bucket: &str,
        object: &ObjectRecord,
        range: Option<ResolvedRange>,
        caller: &str,
    ) -> ServiceResult<Body> {
        let stream = self.open_object(bucket, object, range, caller).await?;
        Ok(Box::pin(stream.map(|frame| {
            frame.map_err(|e| BodyError(format!("reading copy source: {e}")))
        })))
    }

    /// CopyObject. The destination's encryption is decided like any upload's (the
    /// request's SSE, else the destination bucket's default), never inherited from the
    /// source, whose bytes are decrypted and sealed again under a fresh key.
    pub async fn copy_object(
        &self,
        source: &CopySource,
        bucket: &str,
        key: &str,
        options: CopyOptions,
    ) -> ServiceResult<ObjectRecord> {
        validate_object_key(key)?;
        let src = self.copy_source(source).await?;
        let bucket_record = self.require_bucket(bucket).await?;
        let condition = self
            .write_condition(bucket, key, options.forbid_overwrite)
            .await?;
        let plan = resolve_encryption(options.sse.as_ref(), bucket_record.encryption.as_ref());
        let object_key = match &plan {
            Some(plan) => Some(self.new_object_key(plan, bucket, key, &options.caller)?),
            None => None,
        };
        let body = self
            .body_of(&source.bucket, &src, None, &options.caller)
            .await?;
        let data = ingest(
            &*self.blobs,
            body,
            MAX_OBJECT_SIZE,
            None,
            sealer(&object_key, 0)?,
        )
        .await?;
        let acl = options.acl;
        let attributes = match options.directive {
            MetadataDirective::Copy => ObjectAttributes {
                content_type: Some(src.content_type),
                headers: src.headers,
                user_meta: src.user_meta,
                acl,
                storage_class: Some(src.storage_class),
            },
            MetadataDirective::Replace(a) => ObjectAttributes { acl, ..a },
        };
        let mut record = attributes.into_record(key, &data, ObjectKind::Normal);
        record.encryption = object_key.map(|k| k.envelope);
        self.install(bucket, record, condition, &[data.blob]).await
    }
}

/// How a copy writes its destination.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub directive: MetadataDirective,
    pub acl: coffer_storage::ObjectAcl,
    pub forbid_overwrite: bool,
    pub sse: Option<SseRequest>,
    pub caller: String,
}
