//! `If-*` preconditions, evaluated against an object record. The same rules serve GET and
//! HEAD, and the copy-source conditions of CopyObject and UploadPartCopy.

use time::OffsetDateTime;

use crate::error::{FailedCondition, ServiceError, ServiceResult};
use coffer_storage::ObjectRecord;

#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    /// ETags without quotes; `*` matches any.
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<OffsetDateTime>,
    pub if_unmodified_since: Option<OffsetDateTime>,
}

fn etag_matches(condition: &str, etag: &str) -> bool {
    condition
        .split(',')
        .map(|t| t.trim().trim_matches('"'))
        .any(|t| t == "*" || t.eq_ignore_ascii_case(etag))
}

impl Preconditions {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// RFC 7232 order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since.
    /// Timestamps compare at whole-second precision, as HTTP dates carry.
    pub fn check(&self, object: &ObjectRecord) -> ServiceResult<()> {
        let modified_s = object.last_modified_ms.div_euclid(1000);
        let failed = match (&self.if_match, self.if_unmodified_since) {
            (Some(tag), _) => {
                (!etag_matches(tag, &object.etag)).then_some(FailedCondition::IfMatch)
            }
            (None, Some(t)) => {
                (modified_s > t.unix_timestamp()).then_some(FailedCondition::IfUnmodifiedSince)
            }
            (None, None) => None,
        };
        if let Some(condition) = failed {
            return Err(ServiceError::PreconditionFailed(Some(condition)));
        }
        let unchanged = match (&self.if_none_match, self.if_modified_since) {
            (Some(tag), _) => etag_matches(tag, &object.etag),
            (None, Some(t)) => modified_s <= t.unix_timestamp(),
            (None, None) => false,
        };
        if unchanged {
            return Err(ServiceError::NotModified);
        }
        Ok(())
    }
}
