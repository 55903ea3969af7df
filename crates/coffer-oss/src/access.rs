//! Who may do what. Today: the root account may do everything; anonymous callers get what
//! the bucket and object ACLs grant, as on OSS. RAM users and policies extend this module.

use coffer_service::{BucketAcl, ObjectAcl, ServiceError};

use crate::auth::Principal;
use crate::error::{OssError, OssResult};
use crate::router::Operation;
use crate::{OssApi, RequestContext};

fn denied() -> OssError {
    OssError::access_denied("You have no right to access this object because of bucket acl.")
}

pub(crate) async fn authorize(api: &OssApi, ctx: &RequestContext, op: Operation) -> OssResult<()> {
    if matches!(ctx.principal, Principal::AccessKey { .. }) {
        return Ok(());
    }
    use Operation::*;
    // Only object data and listings can ever be public; configuration never is. Copies
    // are refused too: they would need read access to a second, unchecked object.
    let object_op = matches!(
        op,
        GetObject | HeadObject | GetObjectMeta | PutObject | AppendObject | DeleteObject
    );
    if !(object_op || matches!(op, ListObjects | ListObjectsV2)) {
        return Err(OssError::access_denied(
            "AccessDenied: anonymous access is not allowed for this operation.",
        ));
    }
    let bucket = match api.service.get_bucket(ctx.bucket()).await {
        Ok(bucket) => bucket,
        Err(ServiceError::NoSuchBucket) => return Err(ServiceError::NoSuchBucket.into()),
        Err(e) => return Err(e.into()),
    };
    let mut effective = match bucket.acl {
        BucketAcl::Private => ObjectAcl::Private,
        BucketAcl::PublicRead => ObjectAcl::PublicRead,
        BucketAcl::PublicReadWrite => ObjectAcl::PublicReadWrite,
    };
    // An object's own ACL overrides the bucket's for reads of that object.
    if object_op
        && let Ok(object) = api.service.head_object(ctx.bucket(), ctx.key()).await
        && object.acl != ObjectAcl::Default
    {
        effective = object.acl;
    }
    let allowed = match effective {
        ObjectAcl::PublicReadWrite => true,
        ObjectAcl::PublicRead => op.is_read(),
        _ => false,
    };
    if allowed { Ok(()) } else { Err(denied()) }
}
