//! Bucket lifecycle and bucket-level facts.

use std::collections::BTreeMap;

use coffer_storage::{BucketAcl, BucketDeletion, BucketRecord, EncryptionRule, ObjectKind};

use crate::error::{ServiceError, ServiceResult};
use crate::names::validate_bucket_name;
use crate::{Service, now_ms};

#[derive(Debug, Clone)]
pub struct NewBucket {
    pub name: String,
    pub owner: String,
    pub acl: Option<BucketAcl>,
    pub storage_class: Option<String>,
    pub data_redundancy_type: Option<String>,
    /// Default encryption given at creation (OSS accepts the SSE headers on PutBucket).
    pub encryption: Option<EncryptionRule>,
}

#[derive(Debug, Clone, Default)]
pub struct BucketListing {
    pub buckets: Vec<BucketRecord>,
    pub truncated: bool,
    pub next_marker: Option<String>,
}

/// Usage figures for GetBucketStat.
#[derive(Debug, Clone, Default)]
pub struct BucketStat {
    pub storage_bytes: u64,
    pub object_count: u64,
    pub multipart_upload_count: u64,
    /// Parts uploaded to uploads not yet completed or aborted, and their bytes.
    pub multipart_part_count: u64,
    pub multipart_part_storage: u64,
    pub last_modified_ms: i64,
    /// Objects by storage class, keyed as stored (the dialect's spelling).
    pub by_class: BTreeMap<String, ClassUsage>,
    pub appendable_object_count: u64,
    pub multipart_object_count: u64,
}

/// One storage class's share of a bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassUsage {
    pub objects: u64,
    pub bytes: u64,
    /// `bytes`, with each object smaller than the class's minimum billable size
    /// ([`Limits::billing_minimums`](crate::Limits::billing_minimums)) counted at that size.
    pub billable_bytes: u64,
}

impl Service {
    /// Creates a bucket. Re-creating one's own bucket updates its ACL, as OSS does; a name
    /// owned by someone else is taken.
    pub async fn create_bucket(&self, new: NewBucket) -> ServiceResult<BucketRecord> {
        validate_bucket_name(&new.name)?;
        let record = BucketRecord {
            name: new.name.clone(),
            owner: new.owner.clone(),
            created_ms: now_ms(),
            acl: new.acl.unwrap_or(BucketAcl::Private),
            storage_class: new
                .storage_class
                .unwrap_or_else(|| self.limits.default_storage_class.into()),
            data_redundancy_type: new
                .data_redundancy_type
                .unwrap_or_else(|| self.limits.default_data_redundancy.into()),
            encryption: new.encryption.clone(),
            policy: None,
        };
        match self.meta.create_bucket(record.clone()).await? {
            None => Ok(record),
            Some(existing) if existing.owner != new.owner => Err(ServiceError::BucketAlreadyExists),
            Some(mut existing) => {
                if let Some(acl) = new.acl {
                    existing.acl = acl;
                    self.meta.update_bucket(existing.clone()).await?;
                }
                Ok(existing)
            }
        }
    }

    pub async fn get_bucket(&self, name: &str) -> ServiceResult<BucketRecord> {
        self.require_bucket(name).await
    }

    pub async fn delete_bucket(&self, name: &str) -> ServiceResult<()> {
        match self.meta.delete_bucket(name).await? {
            BucketDeletion::Deleted => Ok(()),
            BucketDeletion::NotFound => Err(ServiceError::NoSuchBucket),
            BucketDeletion::NotEmpty => Err(ServiceError::BucketNotEmpty),
        }
    }

    /// Sets (`Some`) or removes (`None`) the bucket's default encryption. Existing objects
    /// keep the encryption they were written with.
    pub async fn set_bucket_encryption(
        &self,
        name: &str,
        rule: Option<EncryptionRule>,
    ) -> ServiceResult<()> {
        let mut bucket = self.require_bucket(name).await?;
        bucket.encryption = rule;
        Ok(self.meta.update_bucket(bucket).await?)
    }

    /// Sets (`Some`) or removes (`None`) the bucket policy. The dialect validates it.
    pub async fn set_bucket_policy(&self, name: &str, policy: Option<String>) -> ServiceResult<()> {
        let mut bucket = self.require_bucket(name).await?;
        bucket.policy = policy;
        Ok(self.meta.update_bucket(bucket).await?)
    }

    pub async fn set_bucket_acl(&self, name: &str, acl: BucketAcl) -> ServiceResult<()> {
        let mut bucket = self.require_bucket(name).await?;
        bucket.acl = acl;
        Ok(self.meta.update_bucket(bucket).await?)
    }

    /// The owner's buckets whose names start with `prefix` and sort after `marker`.
    pub async fn list_buckets(
        &self,
        owner: &str,
        prefix: &str,
        marker: &str,
        max: usize,
    ) -> ServiceResult<BucketListing> {
        let mut matching =
            self.meta.list_buckets().await?.into_iter().filter(|b| {
                b.owner == owner && b.name.starts_with(prefix) && b.name.as_str() > marker
            });
        let buckets: Vec<_> = matching.by_ref().take(max).collect();
        let truncated = matching.next().is_some();
        let next_marker = truncated
            .then(|| buckets.last().map(|b| b.name.clone()))
            .flatten();
        Ok(BucketListing {
            buckets,
            truncated,
            next_marker,
        })
    }

    /// Counts the bucket's objects by scanning it. Adequate for the embedded store; a
    /// store with counters can replace this without changing callers.
    pub async fn bucket_stat(&self, name: &str) -> ServiceResult<BucketStat> {
        self.require_bucket(name).await?;
        let mut stat = BucketStat::default();
        let mut cursor = String::new();
        loop {
            let page = self.meta.list_objects(name, "", &cursor, 1000).await?;
            for o in &page.objects {
                stat.object_count += 1;
                stat.storage_bytes += o.size;
                stat.last_modified_ms = stat.last_modified_ms.max(o.last_modified_ms);
                let minimum = self.limits.billing_minimum(&o.storage_class);
                let class = stat.by_class.entry(o.storage_class.clone()).or_default();
                class.objects += 1;
                class.bytes += o.size;
                class.billable_bytes += o.size.max(minimum);
                match o.kind {
                    ObjectKind::Appendable => stat.appendable_object_count += 1,
                    ObjectKind::Multipart => stat.multipart_object_count += 1,
                    ObjectKind::Normal => {}
                }
            }
            match page.objects.last() {
                Some(last) if page.truncated => cursor = last.key.clone(),
                _ => break,
            }
        }
        let uploads = self.meta.list_uploads(name).await?;
        stat.multipart_upload_count = uploads.len() as u64;
        for upload in &uploads {
            let parts = self
                .meta
                .list_parts(name, &upload.key, &upload.upload_id)
                .await?;
            stat.multipart_part_count += parts.len() as u64;
            stat.multipart_part_storage += parts.iter().map(|p| p.size).sum::<u64>();
        }
        Ok(stat)
    }
}
