//! Listing with prefixes, delimiters and markers, over the store's ordered key scans.

use coffer_storage::ObjectRecord;

use crate::Service;
use crate::error::ServiceResult;

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: String,
    /// Exclusive: list keys after this (V1 marker, V2 start-after or continuation token).
    pub start_after: String,
    pub max_keys: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<ObjectRecord>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// Where the next page starts (the last key or common prefix returned), when truncated.
    pub next_marker: Option<String>,
}

/// Sorts after every key that has `prefix` as a prefix (in UTF-8 byte order, `U+10FFFF`
/// is the greatest character), so a scan resumed after it skips the whole rolled-up group.
fn past_prefix(prefix: &str) -> String {
    let mut s = prefix.to_owned();
    s.push(char::MAX);
    s
}

/// Entries scanned per store call; a page of rolled-up prefixes may need several.
const SCAN_BATCH: usize = 1000;

impl Service {
    pub async fn list_objects(&self, bucket: &str, query: &ListQuery) -> ServiceResult<ListPage> {
        self.require_bucket(bucket).await?;
        let mut page = ListPage::default();
        let mut cursor = resume_point(&query.start_after, &query.prefix, &query.delimiter);
        if query.max_keys == 0 {
            return Ok(page);
        }
        let mut last_returned: Option<String> = None;
        loop {
            let batch = self
                .meta
                .list_objects(bucket, &query.prefix, &cursor, SCAN_BATCH)
                .await?;
            let mut skip_to: Option<String> = None;
            for object in batch.objects {
                if let Some(until) = &skip_to
                    && object.key.as_str() <= until.as_str()
                {
                    continue;
                }
                if page.objects.len() + page.common_prefixes.len() == query.max_keys {
                    page.truncated = true;
                    page.next_marker = last_returned;
                    return Ok(page);
                }
                cursor = object.key.clone();
                match common_prefix(&object.key, &query.prefix, &query.delimiter) {
                    Some(group) => {
                        skip_to = Some(past_prefix(&group));
                        last_returned = Some(group.clone());
                        page.common_prefixes.push(group);
                    }
                    None => {
                        last_returned = Some(object.key.clone());
                        page.objects.push(object);
                    }
                }
            }
            match skip_to {
                // Resume past the group so its other keys are never fetched again.
                Some(until) if batch.truncated || cursor < until => cursor = until,
                _ => {}
            }
            if !batch.truncated {
                return Ok(page);
            }
        }
    }
}

/// Where a listing resumes after `marker`: the marker itself, or, when the marker is a
/// rolled-up common prefix (the last entry of the previous page), past every key under
/// it, so the group is never listed twice. Listings of objects and of multipart uploads
/// share it.
pub fn resume_point(marker: &str, prefix: &str, delimiter: &str) -> String {
    match common_prefix(marker, prefix, delimiter) {
        Some(group) if group == marker => past_prefix(&group),
        _ => marker.to_owned(),
    }
}

/// The common prefix `key` rolls up into: `prefix` plus everything up to and including
/// the first delimiter after it; `None` when there is no delimiter, or none after `prefix`.
pub fn common_prefix(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    if delimiter.is_empty() {
        return None;
    }
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(format!("{prefix}{}", &rest[..at + delimiter.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix("a/b/c", "", "/").as_deref(), Some("a/"));
        assert_eq!(common_prefix("a/b/c", "a/", "/").as_deref(), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", "/"), None);
        assert_eq!(common_prefix("x", "a/", "/"), None);
        assert!(past_prefix("a/").as_str() > "a/\u{10FFFE}zzz");
    }

    #[test]
    fn resuming_after_a_common_prefix_skips_its_keys() {
        let after = resume_point("a/", "", "/");
        assert!(after.as_str() > "a/zzz/yyy");
        assert!(after.as_str() < "a0");
        assert_eq!(resume_point("a/b", "", "/"), "a/b");
        assert_eq!(resume_point("a/", "", ""), "a/");
        assert_eq!(resume_point("p/x", "p/", "/"), "p/x");
    }
}
