//! CopyObject. The bytes are copied, never shared: each object owns its blobs, so deleting
//! either side can never damage the other, and a copy can be stored differently from its
//! source: the destination's encryption is its own, and its key source (managed or a
//! customer key) is independent of the source's.

use coffer_storage::{ObjectKind, ObjectRecord};
use futures_util::StreamExt;

use crate::Service;
use crate::conditions::Preconditions;
use crate::customer_key::KeySource;
use crate::error::ServiceResult;
use crate::ingest::{Body, BodyError, ingest};
use crate::names::validate_object_key;
use crate::object::{ObjectAttributes, sealer};
use crate::range::ResolvedRange;
use crate::sse::SseRequest;

#[derive(Debug, Clone)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub conditions: Preconditions,
    /// The source object's key: a customer key for an SSE-C source, else managed.
    pub key_source: KeySource,
}

#[derive(Debug, Clone)]
pub enum MetadataDirective {
    /// Keep the source's content type, headers and user metadata.
    Copy,
    /// Take them from the request instead, as OSS does: the request's standard headers
    /// and user metadata replace the source's (those it does not give are dropped), but
    /// without a content type the source's is kept, and the source's client-side
    /// encryption metadata always follows the bytes it describes.
    Replace(ObjectAttributes),
}

/// User metadata (names without `x-oss-meta-`) that describes client-side encryption of the
/// object's bytes: the wrapped key, IV, algorithms. It is the bytes' own, so it is copied
/// whatever the metadata directive says.
const CLIENT_SIDE_ENCRYPTION_META: &str = "client-side-encryption-";

fn is_client_side_encryption(name: &str) -> bool {
    name.get(..CLIENT_SIDE_ENCRYPTION_META.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CLIENT_SIDE_ENCRYPTION_META))
}

impl MetadataDirective {
    /// The destination's attributes, from the source's record and the directive.
    fn attributes(self, src: &ObjectRecord) -> ObjectAttributes {
        match self {
            MetadataDirective::Copy => ObjectAttributes {
                content_type: Some(src.content_type.clone()),
                headers: src.headers.clone(),
                user_meta: src.user_meta.clone(),
                ..ObjectAttributes::default()
            },
            MetadataDirective::Replace(a) => {
                let mut user_meta: Vec<(String, String)> = a
                    .user_meta
                    .into_iter()
                    .filter(|(name, _)| !is_client_side_encryption(name))
                    .chain(
                        src.user_meta
                            .iter()
                            .filter(|(name, _)| is_client_side_encryption(name))
                            .cloned(),
                    )
                    .collect();
                user_meta.sort();
                ObjectAttributes {
                    content_type: a.content_type.or_else(|| Some(src.content_type.clone())),
                    headers: a.headers,
                    user_meta,
                    ..ObjectAttributes::default()
                }
            }
        }
    }
}

impl Service {
    /// Looks up a copy source and checks its `x-*-copy-source-if-*` conditions and its
    /// key source, before the destination is touched.
    pub async fn copy_source(&self, source: &CopySource) -> ServiceResult<ObjectRecord> {
        let object = self.head_object(&source.bucket, &source.key).await?;
        source.conditions.check(&object)?;
        source.key_source.admits(object.encryption.as_ref())?;
        Ok(object)
    }

    /// The source's bytes (or a range of them), decrypted, as a body for the write path.
    pub(crate) async fn body_of(
        &self,
        source: &CopySource,
        object: &ObjectRecord,
        range: Option<ResolvedRange>,
        caller: &str,
    ) -> ServiceResult<Body> {
        let stream = self
            .open_object(&source.bucket, object, range, &source.key_source, caller)
            .await?;
        Ok(Box::pin(stream.map(|frame| {
            frame.map_err(|e| BodyError(format!("reading copy source: {e}")))
        })))
    }

    /// CopyObject. The destination's encryption is decided like any upload's (its
    /// customer key, else the request's SSE, else the destination bucket's default), never
    /// inherited from the source, whose bytes are decrypted (under the source's key
    /// source) and sealed again under a fresh key.
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
        let object_key = self
            .key_for_write(
                options.sse.as_ref(),
                &options.key_source,
                &bucket_record,
                key,
                &options.caller,
            )
            .await?;
        let body = self.body_of(source, &src, None, &options.caller).await?;
        let data = ingest(
            &*self.blobs,
            body,
            self.limits.max_object_size,
            None,
            sealer(&object_key, 0)?,
        )
        .await?;
        let attributes = ObjectAttributes {
            acl: options.acl,
            // The class the request names, whatever the directive (copying an object onto
            // itself is how OSS changes its class), else the destination bucket's.
            storage_class: Some(
                options
                    .storage_class
                    .unwrap_or_else(|| bucket_record.storage_class.clone()),
            ),
            ..options.directive.attributes(&src)
        };
        let mut record = attributes.into_record(
            key,
            &data,
            ObjectKind::Normal,
            self.limits.default_storage_class,
        );
        record.encryption = object_key.map(|k| k.envelope);
        self.install(bucket, record, condition, &[data.blob]).await
    }
}

/// How a copy writes its destination.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub directive: MetadataDirective,
    pub acl: coffer_storage::ObjectAcl,
    /// The storage class the request names; `None` takes the destination bucket's.
    pub storage_class: Option<String>,
    pub forbid_overwrite: bool,
    pub sse: Option<SseRequest>,
    /// Where the destination's key comes from; the source's is in [`CopySource`].
    pub key_source: KeySource,
    pub caller: String,
}

#[cfg(test)]
mod tests {
    use coffer_storage::ObjectAcl;

    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn source() -> ObjectRecord {
        ObjectRecord {
            key: "src".into(),
            generation: 1,
            size: 0,
            etag: String::new(),
            crc64: None,
            content_md5: None,
            last_modified_ms: 0,
            kind: ObjectKind::Normal,
            acl: ObjectAcl::Default,
            storage_class: "IA".into(),
            content_type: "text/x-source".into(),
            headers: pairs(&[("cache-control", "max-age=60")]),
            user_meta: pairs(&[
                ("client-side-encryption-key", "k"),
                ("Client-Side-Encryption-Start", "s"),
                ("origin", "source"),
            ]),
            segments: Vec::new(),
            encryption: None,
        }
    }

    #[test]
    fn replace_keeps_content_type_and_client_side_encryption() {
        let request = ObjectAttributes {
            headers: pairs(&[("content-encoding", "gzip")]),
            user_meta: pairs(&[("fresh", "yes"), ("client-side-encryption-key", "forged")]),
            ..ObjectAttributes::default()
        };
        let a = MetadataDirective::Replace(request).attributes(&source());
        assert_eq!(a.content_type.as_deref(), Some("text/x-source"));
        assert_eq!(a.headers, pairs(&[("content-encoding", "gzip")]));
        assert_eq!(
            a.user_meta,
            pairs(&[
                ("Client-Side-Encryption-Start", "s"),
                ("client-side-encryption-key", "k"),
                ("fresh", "yes"),
            ])
        );
        let typed = ObjectAttributes {
            content_type: Some("text/x-new".into()),
            ..ObjectAttributes::default()
        };
        let a = MetadataDirective::Replace(typed).attributes(&source());
        assert_eq!(a.content_type.as_deref(), Some("text/x-new"));
        assert!(a.headers.is_empty());
    }

    #[test]
    fn copy_keeps_everything() {
        let a = MetadataDirective::Copy.attributes(&source());
        assert_eq!(a.content_type.as_deref(), Some("text/x-source"));
        assert_eq!(a.headers, source().headers);
        assert_eq!(a.user_meta, source().user_meta);
    }
}
