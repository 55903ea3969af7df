use crate::error::{ServiceError, ServiceResult};

/// OSS bucket names: 3–63 characters of `a-z`, `0-9` and `-`, starting and ending with a
/// letter or digit.
pub fn validate_bucket_name(name: &str) -> ServiceResult<()> {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let ok = (3..=63).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(ServiceError::InvalidBucketName)
    }
}

/// Longest object key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1023;

/// Object keys: 1–1023 bytes of UTF-8 (the caller has already decoded them), not starting
/// with `/` or `\`.
pub fn validate_object_key(key: &str) -> ServiceResult<()> {
    if key.is_empty() {
        return Err(ServiceError::InvalidObjectName(
            "The Length of Object name must be greater than 0",
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ServiceError::InvalidObjectName(
            "The Length of Object name must be less than 1024",
        ));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err(ServiceError::InvalidObjectName(
            "Object name must not start with '/' or '\\'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "a-b", "0bucket9", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "-ab", "ab-", "aBc", "a_b", "a.b", &"a".repeat(64), ""] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_keys() {
        assert!(validate_object_key("a/b").is_ok());
        assert!(validate_object_key(&"k".repeat(1023)).is_ok());
        assert!(validate_object_key(&"k".repeat(1024)).is_err());
        assert!(validate_object_key("").is_err());
        assert!(validate_object_key("/a").is_err());
        assert!(validate_object_key("\\a").is_err());
    }
}
