//! The per-bucket data-key cache, in the spirit of S3 Bucket Keys: one SSE-KMS data key
//! serves a bucket's uploads for a bounded time, so a burst of PUTs costs one KMS call
//! instead of one each. Objects still get distinct segment keys, because every envelope
//! has its own random salt.
//!
//! The trade-off is the TTL: a CMK disabled in a key manager that is not asked keeps
//! protecting new uploads until the entry expires (each hit is reported through
//! `KeyProvider::cached_use`, where a provider that can check the key's state from memory,
//! as the built-in KMS does, refuses at once). Reads have their own cache with the same
//! TTL: `crate::unwrap_cache`.
//!
//! Concurrent misses for one entry single-flight: the map's std mutex is held only to
//! find or replace an entry (never across an await), and each entry is a
//! `tokio::sync::OnceCell` that the first caller fills while the others await it without
//! blocking their thread. A failed issue leaves the cell empty, so the next waiter asks
//! the provider itself: errors are never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use coffer_crypto::CipherSuite;
use tokio::sync::OnceCell;

use crate::error::ServiceResult;
use crate::sse::{IssuedKey, KeyError, SseRequest};

/// Longest TTL accepted, so a cached key never outlives a key-state change by long.
pub const MAX_TTL: Duration = Duration::from_secs(15 * 60);

type CacheKey = (String, CipherSuite, Option<String>);

/// One cached key and when it expires; empty until its first issue succeeds.
type Slot = Arc<OnceCell<(IssuedKey, Instant)>>;

pub(crate) struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<CacheKey, Slot>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl: ttl.min(MAX_TTL),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the bucket's cached key for `plan`, issuing (and caching) one if there is
    /// none or it expired. Callers that miss together share one `issue` call.
    pub async fn get_or_issue<F, Fut>(
        &self,
        bucket: &str,
        plan: &SseRequest,
        issue: F,
    ) -> ServiceResult<IssuedKey>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<IssuedKey, KeyError>>,
    {
        let slot = self.slot((bucket.to_owned(), plan.suite, plan.kms_key_id.clone()));
        let ttl = self.ttl;
        let (issued, _) = slot
            .get_or_try_init(|| async move {
                let issued = issue().await?;
                Ok::<_, KeyError>((issued, Instant::now() + ttl))
            })
            .await?;
        Ok(issued.clone())
    }

    /// The live slot for `key`: the current one unless it holds an expired key, in which
    /// case a fresh empty slot replaces it (callers already holding the old one finish
    /// with its key, which was valid when they looked).
    fn slot(&self, key: CacheKey) -> Slot {
        let mut entries = self.lock();
        let now = Instant::now();
        let slot = entries.entry(key).or_default();
        if slot.get().is_some_and(|(_, expires)| now >= *expires) {
            *slot = Slot::default();
        }
        slot.clone()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<CacheKey, Slot>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{KeyContext, KeyProvider};
    use coffer_crypto::{DataKey, Envelope, SseMethod};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Counts `issue` calls; each one yields to the runtime for a while, so concurrent
    /// callers really overlap, and fails while `fail` is set.
    #[derive(Default)]
    struct CountingKeys {
        issued: AtomicU32,
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl KeyProvider for CountingKeys {
        async fn issue(
            &self,
            _method: SseMethod,
            _kms_key_id: Option<&str>,
            _context: &KeyContext,
            _caller: &str,
        ) -> Result<IssuedKey, KeyError> {
            let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(KeyError::Unavailable("down".into()));
            }
            Ok(IssuedKey {
                plaintext: DataKey::from_bytes([n as u8; 32]),
                key_id: "cmk".into(),
                key_version: n,
                wrapped: vec![n as u8],
            })
        }

        async fn unwrap(
            &self,
            _envelope: &Envelope,
            _context: &KeyContext,
            _caller: &str,
        ) -> Result<DataKey, KeyError> {
            Err(KeyError::InvalidCiphertext)
        }
    }

    fn plan() -> SseRequest {
        SseRequest {
            method: SseMethod::Kms,
            suite: CipherSuite::Aes256Gcm,
            kms_key_id: None,
        }
    }

    async fn get(cache: &KeyCache, keys: &CountingKeys, bucket: &str) -> ServiceResult<u32> {
        let context = KeyContext::new();
        let issue = || keys.issue(SseMethod::Kms, None, &context, "caller");
        let issued = cache.get_or_issue(bucket, &plan(), issue).await?;
        Ok(issued.key_version)
    }

    // A current-thread runtime: a waiter that blocked its thread instead of awaiting
    // would stall the one thread the issuing call needs, and the timeout would fire.
    #[tokio::test(flavor = "current_thread")]
    async fn ten_concurrent_misses_make_one_issue_call() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let keys = CountingKeys::default();
        let all = futures_util::future::join_all((0..10).map(|_| get(&cache, &keys, "b")));
        let results = tokio::time::timeout(Duration::from_secs(5), all)
            .await
            .expect("the waiters did not block the runtime");
        assert_eq!(keys.issued.load(Ordering::SeqCst), 1);
        for r in results {
            assert_eq!(r.unwrap(), 1, "every caller got the one issued key");
        }
        assert_eq!(get(&cache, &keys, "b").await.unwrap(), 1, "a hit");
        assert_eq!(get(&cache, &keys, "other").await.unwrap(), 2, "own entry");
        assert_eq!(keys.issued.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_issue_is_not_cached() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let keys = CountingKeys::default();
        keys.fail.store(true, Ordering::SeqCst);
        let err = get(&cache, &keys, "b").await.unwrap_err();
        assert!(matches!(
            err,
            crate::ServiceError::Key(KeyError::Unavailable(_))
        ));
        keys.fail.store(false, Ordering::SeqCst);
        assert_eq!(get(&cache, &keys, "b").await.unwrap(), 2);
        assert_eq!(get(&cache, &keys, "b").await.unwrap(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_expired_key_is_issued_again() {
        let cache = KeyCache::new(Duration::from_millis(1));
        let keys = CountingKeys::default();
        assert_eq!(get(&cache, &keys, "b").await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(get(&cache, &keys, "b").await.unwrap(), 2);
    }
}
