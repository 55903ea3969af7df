//! The value types of the KMS API: data keys, the root key, wrapped keys, encryption contexts.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::KmsError;

/// Environment variable that, when set (64 hex characters), supplies the root key instead of the file.
pub const ROOT_KEY_ENV: &str = "COFFER_ROOT_KEY";

/// A plaintext 256-bit data key. Kept on the heap so moves do not leave copies on the stack;
/// zeroized on drop; its `Debug` output never shows the bytes.
#[derive(Clone)]
pub struct DataKey(Box<[u8; 32]>);

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(Box::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Copies 32 bytes straight into the heap buffer (no intermediate copy on the stack).
    pub(crate) fn from_slice(bytes: &[u8]) -> DataKey {
        let mut key = DataKey(Box::new([0u8; 32]));
        key.0.copy_from_slice(bytes);
        key
    }

    pub(crate) fn random(rng: &SystemRandom) -> Result<DataKey, KmsError> {
        let mut key = DataKey(Box::new([0u8; 32]));
        rng.fill(&mut key.0[..])
            .map_err(|_| KmsError::Storage("system random number generator failed".into()))?;
        Ok(key)
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for DataKey {}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// The root key: wraps every CMK version and service master key version in the state file.
/// Zeroized on drop; never printed.
pub struct RootKey(Box<[u8; 32]>);

impl RootKey {
    pub fn from_bytes(bytes: [u8; 32]) -> RootKey {
        RootKey(Box::new(bytes))
    }

    /// Parses 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<RootKey, KmsError> {
        let text = text.trim();
        let mut key = RootKey(Box::new([0u8; 32]));
        if text.len() != 64 || hex::decode_to_slice(text, &mut key.0[..]).is_err() {
            return Err(KmsError::InvalidParameter(
                "a root key must be 64 hex characters".into(),
            ));
        }
        Ok(key)
    }

    /// The root key from the environment variable `COFFER_ROOT_KEY` (64 hex characters) if it is
    /// set and not empty; otherwise from the file at `path`, which is created (mode 0600, 32
    /// random bytes hex encoded) on first start.
    pub fn load_or_create(path: &Path) -> Result<RootKey, KmsError> {
        let env = std::env::var(ROOT_KEY_ENV).ok().map(Zeroizing::new);
        load_or_create_with(path, env.as_deref().map(String::as_str))
    }

    /// The root key from the file at `path`, created (mode 0600, 32 random bytes hex encoded) if
    /// it does not exist. Ignores `COFFER_ROOT_KEY`.
    pub fn load_or_create_file(path: &Path) -> Result<RootKey, KmsError> {
        load_or_create_with(path, None)
    }

    /// Copies 32 bytes straight into the heap buffer; `None` unless `bytes` is 32 long.
    pub fn from_slice(bytes: &[u8]) -> Option<RootKey> {
        if bytes.len() != 32 {
            return None;
        }
        let mut key = RootKey(Box::new([0u8; 32]));
        key.0.copy_from_slice(bytes);
        Some(key)
    }

    /// A fresh random root key, for a data directory whose root key is sealed elsewhere
    /// (a PKCS#11 token) rather than written to a file.
    pub fn generate() -> Result<RootKey, KmsError> {
        let mut key = RootKey(Box::new([0u8; 32]));
        SystemRandom::new()
            .fill(&mut key.0[..])
            .map_err(|_| KmsError::Storage("system random number generator failed".into()))?;
        Ok(key)
    }

    /// The raw bytes, for one purpose only: sealing the root key under a key that lives
    /// elsewhere (a token). Never log or store them in the clear.
    pub fn expose_for_sealing(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A 32-byte key for another component, derived from the root key with HKDF-SHA256
    /// (empty salt, info = `"coffer/root/" + purpose`). Distinct purposes give independent
    /// keys, and none reveals the root key or the keys it seals in the KMS state.
    pub fn derive_subkey(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        struct Len32;
        impl ring::hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &[]).extract(&self.0[..]);
        let info = [b"coffer/root/".as_slice(), purpose.as_bytes()];
        let mut out = Zeroizing::new([0u8; 32]);
        prk.expand(&info, Len32)
            .and_then(|okm| okm.fill(&mut out[..]))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }
}

impl Drop for RootKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for RootKey {}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

/// `RootKey::load_or_create` with the environment variable's value passed in (testable without
/// touching the process environment).
pub(crate) fn load_or_create_with(path: &Path, env: Option<&str>) -> Result<RootKey, KmsError> {
    if let Some(value) = env.filter(|v| !v.trim().is_empty()) {
        return RootKey::from_hex(value).map_err(|_| {
            KmsError::InvalidParameter(format!("{ROOT_KEY_ENV} must be 64 hex characters"))
        });
    }
    match fs::File::open(path) {
        Ok(mut file) => {
            warn_if_readable_by_others(&file, path);
            let mut text = Zeroizing::new(String::new());
            file.read_to_string(&mut text)
                .map_err(|e| KmsError::io("reading the root key file", e))?;
            RootKey::from_hex(&text).map_err(|_| {
                KmsError::Storage(format!(
                    "root key file {} does not hold 64 hex characters",
                    path.display()
                ))
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => create_root_key_file(path),
        Err(e) => Err(KmsError::io("opening the root key file", e)),
    }
}

fn create_root_key_file(path: &Path) -> Result<RootKey, KmsError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        fs::create_dir_all(parent)
            .map_err(|e| KmsError::io("creating the root key directory", e))?;
    }
    let key = RootKey::generate()?;
    let mut text = Zeroizing::new(hex::encode(&key.0[..]));
    text.push('\n');

    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another process created it between our open and create: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return load_or_create_with(path, None),
        Err(e) => return Err(KmsError::io("creating the root key file", e)),
    };
    file.write_all(text.as_bytes())
        .map_err(|e| KmsError::io("writing the root key file", e))?;
    file.sync_all()
        .map_err(|e| KmsError::io("syncing the root key file", e))?;
    if let Some(parent) = parent {
        crate::store::sync_dir(parent)?;
    }
    tracing::info!(path = %path.display(), "created a new KMS root key file");
    Ok(key)
}

fn warn_if_readable_by_others(file: &fs::File, path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = file.metadata()
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the KMS root key file is accessible to group or others; it should be mode 0600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path);
}

/// A data key wrapped (encrypted) under a CMK version or a service master key version.
/// This is what the object's metadata stores; it is useless without the KMS.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// The resolved CMK id (never an alias), or [`SERVICE_KEY_ID`](crate::SERVICE_KEY_ID) for SSE-OSS.
    pub key_id: String,
    pub key_version: u32,
    /// nonce (12 bytes) || ciphertext (32 bytes) || GCM tag (16 bytes); base64 in JSON.
    #[serde(with = "crate::store::b64")]
    pub ciphertext: Vec<u8>,
}

/// A fresh data key: use `plaintext` to encrypt, store `wrapped`, drop `plaintext`.
#[derive(Debug)]
pub struct GeneratedKey {
    pub plaintext: DataKey,
    pub wrapped: WrappedKey,
}

/// Which CMK to use for SSE-KMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySelector {
    /// The OSS default CMK (alias `alias/acs/oss`), created on first use.
    Default,
    /// A CMK id or an alias (`alias/...`).
    Named(String),
}

impl KeySelector {
    /// `Default` for `None` or an empty string (no `x-oss-server-side-encryption-key-id`), else `Named`.
    pub fn from_header(value: Option<&str>) -> KeySelector {
        match value.map(str::trim) {
            None | Some("") => KeySelector::Default,
            Some(v) => KeySelector::Named(v.to_owned()),
        }
    }
}

/// Bound to a wrapped key as additional authenticated data: unwrapping needs the exact same
/// context. Written to the audit log too, so it must not hold secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncryptionContext(pub BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new() -> EncryptionContext {
        EncryptionContext::default()
    }

    /// The context Coffer uses for an object's data key: `{"bucket": bucket, "object": key}`.
    pub fn for_object(bucket: &str, object: &str) -> EncryptionContext {
        let mut map = BTreeMap::new();
        map.insert("bucket".to_owned(), bucket.to_owned());
        map.insert("object".to_owned(), object.to_owned());
        EncryptionContext(map)
    }

    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> EncryptionContext {
        self.0.insert(name.into(), value.into());
        self
    }

    /// Length-prefixed, sorted by name: one byte string per context, no ambiguity.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.0.len() as u32).to_be_bytes());
        for (name, value) in &self.0 {
            crate::crypto::put_field(out, name.as_bytes());
            crate::crypto::put_field(out, value.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_value_wins_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let hex_key = "11".repeat(32);
        let key = load_or_create_with(&path, Some(&hex_key)).unwrap();
        assert_eq!(key.bytes(), &[0x11; 32]);
        assert!(
            !path.exists(),
            "the file is not created when the environment supplies the key"
        );
    }

    #[test]
    fn bad_env_value_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let err = load_or_create_with(&path, Some("abcd")).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter");
        let err = load_or_create_with(&path, Some(&"zz".repeat(32))).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter");
    }

    #[test]
    fn empty_env_value_falls_back_to_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("root.key");
        let a = load_or_create_with(&path, Some("")).unwrap();
        let b = load_or_create_with(&path, None).unwrap();
        assert_eq!(a.bytes(), b.bytes());
    }

    #[test]
    fn corrupt_root_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        fs::write(&path, "not hex").unwrap();
        assert_eq!(
            load_or_create_with(&path, None).unwrap_err().code(),
            "Storage"
        );
    }

    #[test]
    fn debug_output_hides_bytes() {
        let key = DataKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "DataKey(..)");
        let root = RootKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{root:?}"), "RootKey(..)");
    }

    #[test]
    fn subkeys_are_hkdf_sha256_and_separated_by_purpose() {
        let root = RootKey::from_bytes([0x0b; 32]);
        let a = root.derive_subkey("identity-seal");
        assert_eq!(*a, *root.derive_subkey("identity-seal"), "deterministic");
        assert_ne!(*a, *root.derive_subkey("identity-seal2"));
        assert_ne!(*a, *root.derive_subkey(""));
        assert_ne!(&*a, root.bytes());
        assert_ne!(
            *a,
            *RootKey::from_bytes([0x0c; 32]).derive_subkey("identity-seal")
        );
        // HKDF-SHA256 with an empty salt, computed independently with ring's HMAC:
        // PRK = HMAC(zeros(32), IKM); OKM = HMAC(PRK, info || 0x01) (one block is 32 bytes).
        use ring::hmac;
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[0u8; 32]), &[0x0b; 32]);
        let mut msg = b"coffer/root/identity-seal".to_vec();
        msg.push(1);
        let okm = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()), &msg);
        assert_eq!(&a[..], okm.as_ref());
    }

    #[test]
    fn wrapped_key_json_uses_base64() {
        let w = WrappedKey {
            key_id: "service".into(),
            key_version: 3,
            ciphertext: vec![0, 1, 2, 255],
        };
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(
            json,
            r#"{"key_id":"service","key_version":3,"ciphertext":"AAEC/w=="}"#
        );
        assert_eq!(serde_json::from_str::<WrappedKey>(&json).unwrap(), w);
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        let enc = |c: &EncryptionContext| {
            let mut v = Vec::new();
            c.encode_into(&mut v);
            v
        };
        let a = EncryptionContext::new().with("ab", "c");
        let b = EncryptionContext::new().with("a", "bc");
        assert_ne!(enc(&a), enc(&b));
        assert_ne!(
            enc(&EncryptionContext::new()),
            enc(&EncryptionContext::new().with("", ""))
        );
    }
}
