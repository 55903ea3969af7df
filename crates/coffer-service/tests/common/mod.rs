//! What the service tests share.

/// The limits the OSS dialect passes in (the service has no defaults of its own).
pub const LIMITS: coffer_service::Limits = coffer_service::Limits {
    max_object_size: 5 * 1024 * 1024 * 1024,
    max_part_size: 5 * 1024 * 1024 * 1024,
    min_part_size: 100 * 1024,
    max_part_number: 10_000,
    default_storage_class: "Standard",
    default_data_redundancy: "LRS",
    // Objects under 64 KB of the infrequent-access and archive classes count as 64 KB
    // (GetBucketStat's *Storage figures; its *RealStorage ones are actual sizes).
    billing_minimums: &[
        ("IA", 64 * 1024),
        ("Archive", 64 * 1024),
        ("ColdArchive", 64 * 1024),
        ("DeepColdArchive", 64 * 1024),
    ],
};

/// A key provider for tests: issues random data keys "wrapped" as themselves, and counts
/// its calls. What these tests check is which writes happen and who is asked for keys,
/// not key secrecy.
#[derive(Default)]
// Each test crate includes this module; not every one uses the provider.
#[allow(dead_code)]
pub struct SelfWrappingKeys {
    calls: std::sync::atomic::AtomicUsize,
}

#[allow(dead_code)]
impl SelfWrappingKeys {
    /// Calls to `issue` and `unwrap` so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl coffer_service::KeyProvider for SelfWrappingKeys {
    async fn issue(
        &self,
        _method: coffer_service::SseMethod,
        kms_key_id: Option<&str>,
        _context: &coffer_service::KeyContext,
        _caller: &str,
    ) -> Result<coffer_service::IssuedKey, coffer_service::KeyError> {
        self.count();
        let key: [u8; 32] = rand::random();
        Ok(coffer_service::IssuedKey {
            plaintext: coffer_service::DataKey::from_bytes(key),
            key_id: kms_key_id.unwrap_or("test-key").to_owned(),
            key_version: 1,
            wrapped: key.to_vec(),
        })
    }

    async fn unwrap(
        &self,
        envelope: &coffer_service::Envelope,
        _context: &coffer_service::KeyContext,
        _caller: &str,
    ) -> Result<coffer_service::DataKey, coffer_service::KeyError> {
        self.count();
        let key: [u8; 32] = envelope
            .wrapped_key
            .as_slice()
            .try_into()
            .map_err(|_| coffer_service::KeyError::InvalidCiphertext)?;
        Ok(coffer_service::DataKey::from_bytes(key))
    }
}
