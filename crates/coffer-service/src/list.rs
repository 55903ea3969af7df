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
        let mut cursor = query.start_after.clone();
        // A marker that is itself a rolled-up prefix resumes after everything under it.
        if !query.delimiter.is_empty()
            && let Some(group) = common_prefix(&cursor, &query.prefix, &query.delimiter)
            && group == cursor
        {
            cursor = past_prefix(&group);
        }
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
                match (!query.delimiter.is_empty())
                    .then(|| common_prefix(&object.key, &query.prefix, &query.delimiter))
                    .flatten()
                {
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

/// The common prefix `key` rolls up into: `prefix` plus everything up to and including
/// the first delimiter after it.
fn common_prefix(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
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
}
