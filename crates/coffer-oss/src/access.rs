//! Who may do what: RAM policies of the caller, the bucket policy, and ACLs, combined as
//! OSS combines them.
//!
//! 1. An explicit Deny in any policy that applies wins.
//! 2. The root account is allowed everything else on its own resources.
//! 3. An Allow from the caller's RAM policies or from the bucket policy allows.
//! 4. Otherwise the ACLs decide: object reads (and, under `public-read-write`, writes)
//!    and listings can be public; everything else is denied.
//!
//! KMS permissions are enforced by the KMS itself, after it resolves the key (see
//! `coffer_kms::KeyAccess`), so that refusals are audited with the key they concern.

use std::sync::Arc;

use coffer_api::identity::CallerIdentity;
use coffer_iam::{Decision, Policy, PolicyKind, PrincipalRef, keys, oss_resource_in};
use coffer_service::{BucketAcl, BucketRecord, ObjectAcl, ServiceError};

use crate::auth::Principal;
use crate::encryption::{SSE, SSE_DATA, SSE_KEY_ID};
use crate::error::{ErrorCode, OssError, OssResult};
use crate::headers::header_str;
use crate::operation::Operation;
use crate::{OssApi, RequestContext};

/// The OSS action an operation needs (§6.2 of the reference; published in
/// docs/access-control.md), from its row in the operation table. CopyObject and
/// UploadPartCopy also need `oss:GetObject` on their source.
pub fn action_of(op: Operation) -> &'static str {
    crate::operation::spec(op).action
}

/// Whether the operation addresses an object (resource `bucket/key`) rather than the bucket.
/// PostObject names its key in the form, so its handler authorizes the object itself.
fn addresses_object(op: Operation) -> bool {
    crate::operation::spec(op).target == crate::operation::TargetKind::Object
}

fn denied_by_policy() -> OssError {
    OssError::access_denied("You are forbidden to access this resource by a policy.")
}

fn denied_by_acl() -> OssError {
    OssError::access_denied("You have no right to access this object because of bucket acl.")
}

/// A parsed bucket policy, cached against the exact text it came from.
pub(crate) type PolicyCache =
    std::sync::Mutex<std::collections::HashMap<String, (String, Arc<Policy>)>>;

impl OssApi {
    fn bucket_policy(&self, bucket: &BucketRecord) -> Option<Arc<Policy>> {
        let text = bucket.policy.as_ref()?;
        let mut cache = self.policies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached_text, policy)) = cache.get(&bucket.name)
            && cached_text == text
        {
            return Some(policy.clone());
        }
        let kind = PolicyKind::Bucket {
            bucket: bucket.name.clone(),
        };
        // Stored policies were validated when they were put; one that no longer parses
        // (a newer server wrote it) must not silently grant or deny.
        match coffer_iam::parse_policy(text, &kind) {
            Ok(policy) => {
                let policy = Arc::new(policy);
                cache.insert(bucket.name.clone(), (text.clone(), policy.clone()));
                Some(policy)
            }
            Err(e) => {
                tracing::error!(bucket = %bucket.name, error = %e, "stored bucket policy does not parse; denying");
                Some(Arc::new(
                    coffer_iam::parse_policy(
                        r#"{"Version":"1","Statement":[{"Effect":"Deny","Principal":["*"],"Action":["oss:*"],"Resource":["*"]}]}"#,
                        &PolicyKind::Identity,
                    )
                    .ok()?,
                ))
            }
        }
    }
}

/// The request's own condition values: the encryption it asks for, listing parameters.
fn condition_values(ctx: &RequestContext, op: Operation) -> Vec<(&'static str, String)> {
    let mut values = Vec::new();
    if action_of(op) == "oss:PutObject" {
        for (key, header) in [
            (keys::SSE, SSE),
            (keys::SSE_DATA, SSE_DATA),
            (keys::SSE_KEY_ID, SSE_KEY_ID),
        ] {
            if let Some(v) = header_str(&ctx.headers, header) {
                values.push((key, v.to_owned()));
            }
        }
        // PostObject carries them as form fields, which its handler copies into headers
        // before asking; nothing else to add here.
    }
    if matches!(
        op,
        Operation::ListObjects | Operation::ListObjectsV2 | Operation::ListMultipartUploads
    ) {
        for (key, param) in [(keys::PREFIX, "prefix"), (keys::DELIMITER, "delimiter")] {
            if let Some(v) = ctx.query.get(param) {
                values.push((key, v.to_owned()));
            }
        }
    }
    values
}

/// DeleteMultipleObjects needs `oss:DeleteObject` on every key it names, each under the
/// object's own policies and ACL; the handler asks for each before deleting any.
pub(crate) async fn authorize_delete_of(
    api: &OssApi,
    ctx: &RequestContext,
    key: &str,
) -> OssResult<()> {
    let object_ctx = RequestContext {
        target: crate::router::Target {
            bucket: ctx.target.bucket.clone(),
            key: Some(key.to_owned()),
        },
        query: Default::default(),
        headers: ctx.headers.clone(),
        principal: ctx.principal.clone(),
        host: ctx.host.clone(),
        remote: ctx.remote,
        secure: ctx.secure,
    };
    authorize(api, &object_ctx, Operation::DeleteObject).await
}

pub(crate) async fn authorize(api: &OssApi, ctx: &RequestContext, op: Operation) -> OssResult<()> {
    if op == Operation::DeleteMultipleObjects {
        // Decided per key by the handler (`authorize_delete_of`); here only that the
        // caller is a live identity, so a refused request learns nothing of the keys.
        if let Principal::AccessKey { access_key_id } = &ctx.principal
            && api.identities.caller(access_key_id).await.is_none()
        {
            return Err(OssError::access_denied(
                "The AccessKey was disabled or deleted.",
            ));
        }
        return Ok(());
    }
    let caller = match &ctx.principal {
        Principal::AccessKey { access_key_id } => Some((
            access_key_id.as_str(),
            api.identities
                .caller(access_key_id)
                .await
                .ok_or_else(|| OssError::access_denied("The AccessKey was disabled or deleted."))?,
        )),
        Principal::Anonymous => None,
    };
    let account = api.config.owner_id.as_str();
    let principal = match &caller {
        None => PrincipalRef::Anonymous,
        Some((_, CallerIdentity::Root)) => PrincipalRef::Root { account },
        Some((_, CallerIdentity::User { name, id })) => PrincipalRef::User { account, id, name },
    };
    let identity: Vec<Arc<Policy>> = match &caller {
        Some((_, CallerIdentity::User { name, .. })) => api.identities.user_policies(name).await,
        _ => Vec::new(),
    };
    let identity_refs: Vec<&Policy> = identity.iter().map(|p| &**p).collect();
    let values = condition_values(ctx, op);
    let values_ref: Vec<(&str, String)> = values.iter().map(|(k, v)| (*k, v.clone())).collect();
    let mut request = coffer_iam::RequestContext::new(principal, time::OffsetDateTime::now_utc());
    request.source_ip = ctx.remote;
    request.secure_transport = ctx.secure;
    request.user_agent = header_str(&ctx.headers, "user-agent");
    request.access_key_id = caller.as_ref().map(|(id, _)| *id);
    request.values = &values_ref;

    if op == Operation::ListBuckets {
        return match coffer_iam::combine(
            &identity_refs,
            None,
            action_of(op),
            &oss_resource_in(account, None, None),
            &request,
        ) {
            Decision::Allow => Ok(()),
            _ => Err(denied_by_policy()),
        };
    }

    let bucket = match api.service.get_bucket(ctx.bucket()).await {
        Ok(bucket) => Some(bucket),
        Err(ServiceError::NoSuchBucket) => None,
        Err(e) => return Err(e.into()),
    };
    let owner = bucket.as_ref().map_or(account, |b| b.owner.as_str());
    request.resource_owner = Some(owner);
    let key = addresses_object(op).then(|| ctx.key());
    // The resource names its owner's account, so that a policy resource naming another
    // account (`acs:oss:*:<other>:bucket/*`) does not match.
    let resource = oss_resource_in(owner, Some(ctx.bucket()), key);
    let bucket_policy = bucket.as_ref().and_then(|b| api.bucket_policy(b));
    let decision = coffer_iam::combine(
        &identity_refs,
        bucket_policy.as_deref(),
        action_of(op),
        &resource,
        &request,
    );
    match decision {
        Decision::Deny => return Err(denied_by_policy()),
        Decision::Allow => {}
        Decision::NotApplicable => {
            // A missing bucket is reported as missing, as OSS does (bucket names are
            // global and public); creating one needs an Allow, or root.
            let Some(bucket) = &bucket else {
                return if op == Operation::PutBucket {
                    Err(denied_by_policy())
                } else {
                    Err(ServiceError::NoSuchBucket.into())
                };
            };
            acl_allows(api, ctx, op, bucket).await?;
        }
    }
    if matches!(op, Operation::CopyObject | Operation::UploadPartCopy) {
        authorize_copy_source(api, ctx, &identity_refs, &mut request).await?;
    }
    Ok(())
}

/// Copies read their source: `oss:GetObject` on it, under its own bucket's policy and ACL.
async fn authorize_copy_source<'a>(
    api: &'a OssApi,
    ctx: &RequestContext,
    identity: &[&Policy],
    request: &mut coffer_iam::RequestContext<'a>,
) -> OssResult<()> {
    let source = crate::copy::copy_source(ctx)?;
    let bucket = match api.service.get_bucket(&source.bucket).await {
        Ok(bucket) => bucket,
        // The copy itself reports a missing source bucket.
        Err(ServiceError::NoSuchBucket) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    request.resource_owner = Some(&api.config.owner_id);
    request.values = &[];
    let resource = oss_resource_in(&bucket.owner, Some(&source.bucket), Some(&source.key));
    let policy = api.bucket_policy(&bucket);
    match coffer_iam::combine(
        identity,
        policy.as_deref(),
        "oss:GetObject",
        &resource,
        request,
    ) {
        Decision::Deny => Err(denied_by_policy()),
        Decision::Allow => Ok(()),
        Decision::NotApplicable => {
            let acl = effective_acl(api, &bucket, &source.key).await;
            if matches!(acl, ObjectAcl::PublicRead | ObjectAcl::PublicReadWrite) {
                Ok(())
            } else {
                Err(denied_by_acl())
            }
        }
    }
}

/// The ACL that governs `key`: its own, unless `default`, then the bucket's.
async fn effective_acl(api: &OssApi, bucket: &BucketRecord, key: &str) -> ObjectAcl {
    if !key.is_empty()
        && let Ok(object) = api.service.head_object(&bucket.name, key).await
        && object.acl != ObjectAcl::Default
    {
        return object.acl;
    }
    match bucket.acl {
        BucketAcl::Private => ObjectAcl::Private,
        BucketAcl::PublicRead => ObjectAcl::PublicRead,
        BucketAcl::PublicReadWrite => ObjectAcl::PublicReadWrite,
    }
}

/// ACL fallback when no policy decides: object data and listings can be public;
/// configuration never is.
async fn acl_allows(
    api: &OssApi,
    ctx: &RequestContext,
    op: Operation,
    bucket: &BucketRecord,
) -> OssResult<()> {
    use Operation::*;
    // The operation table marks what public-read opens to anonymous callers.
    let reads = op.is_read();
    let writes = matches!(op, PutObject | PostObject | AppendObject | DeleteObject);
    if !(reads || writes) {
        return Err(denied_by_acl());
    }
    let key = if matches!(op, ListObjects | ListObjectsV2) {
        ""
    } else {
        ctx.key()
    };
    let allowed = match effective_acl(api, bucket, key).await {
        ObjectAcl::PublicReadWrite => true,
        ObjectAcl::PublicRead => reads,
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(denied_by_acl())
    }
}

/// Validates a bucket policy document for `bucket`, naming the fault when it is refused.
pub(crate) fn validate_bucket_policy(bucket: &str, text: &str) -> OssResult<()> {
    coffer_iam::parse_policy(
        text,
        &PolicyKind::Bucket {
            bucket: bucket.to_owned(),
        },
    )
    .map(|_| ())
    .map_err(|e| {
        OssError::of(
            ErrorCode::PolicyInvalid,
            format!("Invalid policy document: {e}"),
        )
    })
}
