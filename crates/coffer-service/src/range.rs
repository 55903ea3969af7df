//! Byte ranges, as OSS interprets them: one range per request, and by default an
//! unsatisfiable one is ignored (the whole object is returned) unless the client asked for
//! standard behaviour.

use crate::error::{ServiceError, ServiceResult};

/// A parsed `bytes=` range, before the object size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b`
    Closed { first: u64, last: u64 },
    /// `bytes=a-`
    From { first: u64 },
    /// `bytes=-n`: the last n bytes.
    Suffix { len: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeMode {
    /// OSS's historical behaviour: an invalid range yields the whole object.
    Legacy,
    /// `x-oss-range-behavior: standard`: clamp the end, reject a start past the end.
    Standard,
}

/// The bytes to send: `first..=last` of an object of `total` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedRange {
    pub first: u64,
    pub last: u64,
    pub total: u64,
}

impl ResolvedRange {
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl ByteRange {
    /// Parses a `Range` header value. `None` means the header is not a single well-formed
    /// byte range, which OSS treats as no range at all.
    pub fn parse(value: &str) -> Option<ByteRange> {
        let spec = value.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        let num = |s: &str| -> Option<u64> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        match (a.trim().is_empty(), b.trim().is_empty()) {
            (true, true) => None,
            (true, false) => Some(ByteRange::Suffix { len: num(b)? }),
            (false, true) => Some(ByteRange::From { first: num(a)? }),
            (false, false) => Some(ByteRange::Closed {
                first: num(a)?,
                last: num(b)?,
            }),
        }
    }

    /// Applies the range to an object of `total` bytes. `Ok(None)` means "send the whole
    /// object with 200".
    pub fn resolve(self, total: u64, mode: RangeMode) -> ServiceResult<Option<ResolvedRange>> {
        let whole_or_416 = || match mode {
            RangeMode::Legacy => Ok(None),
            RangeMode::Standard => Err(ServiceError::InvalidRange),
        };
        let (first, last) = match self {
            ByteRange::Closed { first, last } => {
                if first > last {
                    return Ok(None);
                }
                if last >= total {
                    if mode == RangeMode::Legacy || first >= total {
                        return whole_or_416();
                    }
                    (first, total - 1)
                } else {
                    (first, last)
                }
            }
            ByteRange::From { first } => {
                if first >= total {
                    return whole_or_416();
                }
                (first, total - 1)
            }
            ByteRange::Suffix { len } => {
                if len == 0 || total == 0 {
                    return whole_or_416();
                }
                (total.saturating_sub(len), total - 1)
            }
        };
        Ok(Some(ResolvedRange { first, last, total }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str, total: u64, mode: RangeMode) -> ServiceResult<Option<(u64, u64)>> {
        match ByteRange::parse(s) {
            None => Ok(None),
            Some(range) => range
                .resolve(total, mode)
                .map(|o| o.map(|r| (r.first, r.last))),
        }
    }

    #[test]
    fn forms() {
        use RangeMode::*;
        assert_eq!(r("bytes=0-9", 100, Legacy).unwrap(), Some((0, 9)));
        assert_eq!(r("bytes=90-", 100, Legacy).unwrap(), Some((90, 99)));
        assert_eq!(r("bytes=-10", 100, Legacy).unwrap(), Some((90, 99)));
        assert_eq!(r("bytes=-1000", 100, Legacy).unwrap(), Some((0, 99)));
        assert_eq!(r("bytes=0-0", 1, Legacy).unwrap(), Some((0, 0)));
    }

    #[test]
    fn invalid_ranges_in_legacy_mode_mean_whole_object() {
        use RangeMode::*;
        for s in [
            "bytes=50-2000",
            "bytes=100-",
            "bytes=200-300",
            "bytes=9-3",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=-0",
        ] {
            assert_eq!(r(s, 100, Legacy).unwrap(), None, "{s}");
        }
    }

    #[test]
    fn standard_mode_clamps_or_rejects() {
        use RangeMode::*;
        assert_eq!(r("bytes=50-2000", 100, Standard).unwrap(), Some((50, 99)));
        assert!(matches!(
            r("bytes=100-200", 100, Standard),
            Err(ServiceError::InvalidRange)
        ));
        assert!(matches!(
            r("bytes=100-", 100, Standard),
            Err(ServiceError::InvalidRange)
        ));
        assert!(matches!(
            r("bytes=-5", 0, Standard),
            Err(ServiceError::InvalidRange)
        ));
    }
}
