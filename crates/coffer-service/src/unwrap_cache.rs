//! The GET-side half of the bucket-key cache: unwrapped data keys, kept for the data-key
//! cache's TTL, so reading objects written under one cached bucket key costs one key
//! manager call per TTL instead of one per GET.
//!
//! It is on only with the data-key cache (`Service::with_data_key_cache`), with the same
//! TTL. An entry is keyed by everything the unwrap depends on (method, key id, key version,
//! wrapped bytes, context), so a hit returns exactly what the key manager would. Errors are
//! never cached, and an entry expires at the TTL: a key disabled or destroyed in the key
//! manager stops decryption after at most the TTL. Every hit is reported to the provider
//! ([`KeyProvider::cached_use`]), which audits it and may refuse the caller.
//!
//! Concurrency is `key_cache`'s: a std mutex held only to find a slot, each slot a
//! `tokio::sync::OnceCell` that the first caller fills while the others await it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use coffer_crypto::{DataKey, Envelope, SseMethod};
use tokio::sync::OnceCell;
// tokio's clock (the same as std's outside tests), so tests can step over a TTL.
use tokio::time::Instant;

use crate::sse::{KeyContext, KeyError, KeyProvider};

/// Entries kept at most. Past it, expired entries are swept; if all are live, the unwrap
/// goes to the provider uncached rather than grow the map (objects written without the
/// PUT-side cache each have their own wrapped key, so a large bucket read once would
/// otherwise fill memory with keys read once).
const MAX_ENTRIES: usize = 10_000;

/// What a cached key was used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// A new object's data key, from the PUT-side (bucket key) cache.
    Issue,
    /// An existing object's data key, from the unwrap cache.
    Unwrap,
}

/// A data-key use the service served from a cache instead of asking the key manager.
#[derive(Debug, Clone, Copy)]
pub struct CachedUse<'a> {
    pub operation: KeyUse,
    pub method: SseMethod,
    /// The resolved key id and version that wrapped the data key.
    pub key_id: &'a str,
    pub key_version: u32,
    /// The context the data key is bound to, as a key-manager call would have been given
    /// (for a bucket key, the bucket alone).
    pub context: &'a KeyContext,
    pub caller: &'a str,
}

/// Method (as [`method_tag`]), key id, key version, wrapped bytes, context.
type CacheKey = (u8, String, u32, Vec<u8>, KeyContext);

/// `SseMethod` as a hashable tag, without making the crypto crate's type `Hash` for this.
fn method_tag(method: SseMethod) -> u8 {
    match method {
        SseMethod::ServiceManaged => 0,
        SseMethod::Kms => 1,
        SseMethod::CustomerProvided => 2,
    }
}

/// One unwrapped key and when it expires; empty until its first unwrap succeeds.
type Slot = Arc<OnceCell<(DataKey, Instant)>>;

pub(crate) struct UnwrapCache {
    ttl: Duration,
    entries: Mutex<HashMap<CacheKey, Slot>>,
}

/// A cache lookup's outcome: the key, and whether this caller's own provider call made it.
pub(crate) struct Unwrapped {
    pub key: DataKey,
    pub from_cache: bool,
}

impl UnwrapCache {
    pub fn new(ttl: Duration) -> Self {
        UnwrapCache {
            ttl: ttl.min(crate::key_cache::MAX_TTL),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The data key of `envelope`, from the cache or from `keys` (which then fills it).
    pub async fn unwrap(
        &self,
        keys: &dyn KeyProvider,
        envelope: &Envelope,
        context: &KeyContext,
        caller: &str,
    ) -> Result<Unwrapped, KeyError> {
        let key = (
            method_tag(envelope.method),
            envelope.key_id.clone(),
            envelope.key_version,
            envelope.wrapped_key.clone(),
            context.clone(),
        );
        let Some(slot) = self.slot(key) else {
            let key = keys.unwrap(envelope, context, caller).await?;
            return Ok(Unwrapped {
                key,
                from_cache: false,
            });
        };
        let asked = AtomicBool::new(false);
        let ttl = self.ttl;
        let (key, _) = slot
            .get_or_try_init(|| async {
                asked.store(true, Ordering::Relaxed);
                let key = keys.unwrap(envelope, context, caller).await?;
                Ok::<_, KeyError>((key, Instant::now() + ttl))
            })
            .await?;
        Ok(Unwrapped {
            key: key.clone(),
            from_cache: !asked.load(Ordering::Relaxed),
        })
    }

    /// The live slot for `key` (a fresh one if it expired), or `None` when the map is
    /// full of live entries.
    fn slot(&self, key: CacheKey) -> Option<Slot> {
        let mut entries = self.lock();
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            // Empty slots are fills in flight: kept, their callers are waiting on them.
            entries.retain(|_, slot| slot.get().is_none_or(|(_, expires)| now < *expires));
            if entries.len() >= MAX_ENTRIES {
                return None;
            }
        }
        let slot = entries.entry(key).or_default();
        if slot.get().is_some_and(|(_, expires)| now >= *expires) {
            *slot = Slot::default();
        }
        Some(slot.clone())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<CacheKey, Slot>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl crate::Service {
    /// An existing object's data key through the unwrap cache; a hit is reported to the
    /// provider, which may refuse it.
    pub(crate) async fn cached_unwrap(
        &self,
        cache: &UnwrapCache,
        keys: &dyn KeyProvider,
        envelope: &Envelope,
        caller: &str,
    ) -> Result<DataKey, KeyError> {
        let context = crate::sse::envelope_context(envelope);
        let got = cache.unwrap(keys, envelope, &context, caller).await?;
        if got.from_cache {
            let used = CachedUse {
                operation: KeyUse::Unwrap,
                method: envelope.method,
                key_id: &envelope.key_id,
                key_version: envelope.key_version,
                context: &context,
                caller,
            };
            keys.cached_use(&used).await?;
        }
        Ok(got.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::IssuedKey;
    use coffer_crypto::CipherSuite;
    use std::sync::atomic::AtomicU32;

    /// Counts unwraps; each yields to the runtime first so concurrent callers overlap.
    #[derive(Default)]
    struct CountingKeys {
        unwraps: AtomicU32,
        fail: AtomicBool,
    }

    #[async_trait::async_trait]
    impl KeyProvider for CountingKeys {
        async fn issue(
            &self,
            _: SseMethod,
            _: Option<&str>,
            _: &KeyContext,
            _: &str,
        ) -> Result<IssuedKey, KeyError> {
            Err(KeyError::InvalidParameter("unused".into()))
        }

        async fn unwrap(&self, e: &Envelope, _: &KeyContext, _: &str) -> Result<DataKey, KeyError> {
            self.unwraps.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(KeyError::Unavailable("down".into()));
            }
            Ok(DataKey::from_bytes([e.wrapped_key[0]; 32]))
        }
    }

    fn envelope(wrapped: u8) -> Envelope {
        Envelope {
            format: Envelope::FORMAT,
            method: SseMethod::Kms,
            suite: CipherSuite::Aes256Gcm,
            key_id: "cmk".into(),
            key_version: 1,
            wrapped_key: vec![wrapped],
            salt: vec![0; 16],
            bucket: "b".into(),
            object: String::new(),
            key_verifier: None,
        }
    }

    async fn get(cache: &UnwrapCache, keys: &CountingKeys, wrapped: u8) -> Result<bool, KeyError> {
        let e = envelope(wrapped);
        let context = crate::sse::envelope_context(&e);
        let got = cache.unwrap(keys, &e, &context, "caller").await?;
        assert_eq!(got.key.as_bytes(), &[wrapped; 32]);
        Ok(got.from_cache)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_misses_share_one_unwrap_and_later_reads_hit() {
        let cache = UnwrapCache::new(Duration::from_secs(60));
        let keys = CountingKeys::default();
        let all = futures_util::future::join_all((0..10).map(|_| get(&cache, &keys, 1))).await;
        assert_eq!(keys.unwraps.load(Ordering::SeqCst), 1);
        let hits = all.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(
            hits, 9,
            "all but the caller that asked are served from the cache"
        );
        assert!(get(&cache, &keys, 1).await.unwrap());
        assert!(!get(&cache, &keys, 2).await.unwrap(), "another wrapped key");
        assert_eq!(keys.unwraps.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn errors_are_not_cached() {
        let cache = UnwrapCache::new(Duration::from_secs(60));
        let keys = CountingKeys::default();
        keys.fail.store(true, Ordering::SeqCst);
        assert!(get(&cache, &keys, 1).await.is_err());
        keys.fail.store(false, Ordering::SeqCst);
        assert!(!get(&cache, &keys, 1).await.unwrap());
        assert!(get(&cache, &keys, 1).await.unwrap());
        assert_eq!(keys.unwraps.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn entries_expire_at_the_ttl() {
        let cache = UnwrapCache::new(Duration::from_millis(1));
        let keys = CountingKeys::default();
        assert!(!get(&cache, &keys, 1).await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            !get(&cache, &keys, 1).await.unwrap(),
            "expired: asked again"
        );
        assert_eq!(keys.unwraps.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_cache_sweeps_expired_entries_then_stops_growing() {
        let cache = UnwrapCache::new(Duration::from_secs(60));
        {
            let mut entries = cache.lock();
            for i in 0..MAX_ENTRIES {
                let expired = Arc::new(OnceCell::new_with(Some((
                    DataKey::from_bytes([0; 32]),
                    Instant::now(),
                ))));
                entries.insert((1, i.to_string(), 1, vec![], KeyContext::new()), expired);
            }
        }
        assert!(!get(&cache, &CountingKeys::default(), 1).await.unwrap());
        assert_eq!(cache.len(), 1, "the expired entries were swept");
        {
            let mut entries = cache.lock();
            for i in 0..MAX_ENTRIES {
                entries.insert(
                    (1, i.to_string(), 1, vec![], KeyContext::new()),
                    Slot::default(),
                );
            }
        }
        let keys = CountingKeys::default();
        assert!(!get(&cache, &keys, 2).await.unwrap());
        assert!(
            !get(&cache, &keys, 2).await.unwrap(),
            "not cached when full"
        );
        assert_eq!(cache.len(), MAX_ENTRIES + 1);
    }
}
