//! The per-bucket data-key cache, in the spirit of S3 Bucket Keys: one SSE-KMS data key
//! serves a bucket's uploads for a bounded time, so a burst of PUTs costs one KMS call
//! instead of one each. Objects still get distinct segment keys, because every envelope
//! has its own random salt.
//!
//! The trade-off is the TTL: a CMK disabled while a key is cached keeps protecting new
//! uploads until the entry expires. Reads always go to the KMS.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coffer_crypto::CipherSuite;

use crate::error::ServiceResult;
use crate::sse::{IssuedKey, KeyError, SseRequest};

/// Longest TTL accepted, so a cached key never outlives a key-state change by long.
pub const MAX_TTL: Duration = Duration::from_secs(15 * 60);

type CacheKey = (String, CipherSuite, Option<String>);

pub(crate) struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<CacheKey, (IssuedKey, Instant)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl: ttl.min(MAX_TTL),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the bucket's cached key for `plan`, issuing (and caching) one if there is
    /// none or it expired. The lock is never held across the provider call.
    pub async fn get_or_issue<F>(
        &self,
        bucket: &str,
        plan: &SseRequest,
        issue: F,
    ) -> ServiceResult<IssuedKey>
    where
        F: Future<Output = Result<IssuedKey, KeyError>>,
    {
        let key = (bucket.to_owned(), plan.suite, plan.kms_key_id.clone());
        if let Some((issued, expires)) = self.lock().get(&key)
            && Instant::now() < *expires
        {
            return Ok(issued.clone());
        }
        let issued = issue.await?;
        self.lock()
            .insert(key, (issued.clone(), Instant::now() + self.ttl));
        Ok(issued)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, (IssuedKey, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
