//! CopyObject. The bytes are copied, never shared: each object owns its blobs, so deleting
//! either side can never damage the other, and a copy can be stored differently from its
//! source (the destination's own encryption, once that exists).

use coffer_storage::{ObjectKind, ObjectRecord};
use futures_util::StreamExt;

use crate::conditions::Preconditions;
use crate::error::ServiceResult;
use crate::ingest::{Body, BodyError, ingest};
use crate::names::validate_object_key;
use crate::object::ObjectAttributes;
use crate::range::ResolvedRange;
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
        let condition = self.write_condition(bucket, key, forbid_overwrite).await?;
        let data = ingest(
            &*self.blobs,
            self.body_of(&src, None),
            MAX_OBJECT_SIZE,
            None,
        )
        .await?;
        let attributes = match directive {
            MetadataDirective::Copy => ObjectAttributes {
                content_type: Some(src.content_type),
                headers: src.headers,
                user_meta: src.user_meta,
                acl,
                storage_class: Some(src.storage_class),
            },
            MetadataDirective::Replace(a) => ObjectAttributes { acl, ..a },
        };
        let record = attributes.into_record(key, &data, ObjectKind::Normal);
        self.install(bucket, record, condition, &[data.blob]).await
    }
}
