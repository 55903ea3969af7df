//! Time handling for signatures. Everything is done in whole Unix seconds (`i64`) so that
//! client-supplied values can never overflow `SystemTime` arithmetic or make a formatter panic.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// Largest accepted distance between the request time and the server clock (15 minutes).
pub(crate) const MAX_SKEW_SECS: i64 = 15 * 60;

/// Upper bound of what RFC 1123 dates can express (year 9999); `httpdate` panics beyond it.
const MAX_HTTP_DATE_SECS: i64 = 253_402_300_799;

const ISO_BASIC: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const YYYYMMDD: &[BorrowedFormatItem<'static>] = format_description!("[year][month][day]");
const ISO_EXTENDED: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");

/// Whole seconds since the Unix epoch; times before it are negative.
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Parses an HTTP date (RFC 1123, and the obsolete forms `httpdate` also accepts).
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s).ok().map(unix_secs)
}

/// Formats an RFC 1123 date such as `Sun, 22 Nov 2015 08:16:38 GMT`.
pub(crate) fn format_http_date(secs: i64) -> Option<String> {
    let secs = u64::try_from(secs)
        .ok()
        .filter(|&s| s <= MAX_HTTP_DATE_SECS as u64)?;
    let t = UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))?;
    Some(httpdate::fmt_http_date(t))
}

/// Parses the ISO 8601 basic form `20231216T162057Z` used by `x-oss-date`, and nothing else.
pub(crate) fn parse_iso_basic(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // The `time` parser tolerates signs and other widths; insist on the exact 16-byte shape.
    let shape_ok = b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            15 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let dt = PrimitiveDateTime::parse(s, ISO_BASIC).ok()?;
    Some(dt.assume_utc().unix_timestamp())
}

/// Formats `20231216T162057Z`.
pub(crate) fn format_iso_basic(secs: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(ISO_BASIC)
        .ok()
}

/// True for an existing calendar day written as exactly eight digits (`20231216`).
pub(crate) fn is_yyyymmdd(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|c| c.is_ascii_digit()) && Date::parse(s, YYYYMMDD).is_ok()
}

/// Human-readable UTC time for error bodies (`2023-12-16T16:20:57.000Z`).
pub(crate) fn format_for_error(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(ISO_EXTENDED).ok())
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_basic_round_trip() {
        assert_eq!(parse_iso_basic("20231216T162057Z"), Some(1_702_743_657));
        assert_eq!(
            format_iso_basic(1_702_743_657).as_deref(),
            Some("20231216T162057Z")
        );
    }

    #[test]
    fn iso_basic_rejects_other_shapes() {
        for bad in [
            "",
            "20231216T162057",
            "2023-12-16T16:20:57Z",
            "+2023121T162057Z",
            "20231316T162057Z",
            "20231216T256057Z",
            "20231216t162057z",
            "２0231216T162057Z",
        ] {
            assert_eq!(parse_iso_basic(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_date_round_trip_and_bounds() {
        assert_eq!(
            parse_http_date("Wed, 28 Dec 2022 10:27:41 GMT"),
            Some(1_672_223_261)
        );
        assert_eq!(
            format_http_date(1_672_223_261).as_deref(),
            Some("Wed, 28 Dec 2022 10:27:41 GMT")
        );
        assert_eq!(format_http_date(-1), None);
        assert_eq!(format_http_date(MAX_HTTP_DATE_SECS + 1), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn calendar_days() {
        assert!(is_yyyymmdd("20240229"));
        assert!(!is_yyyymmdd("20230229"));
        assert!(!is_yyyymmdd("2023-12-16"));
        assert!(!is_yyyymmdd("+2023121"));
    }

    #[test]
    fn error_time_format() {
        assert_eq!(format_for_error(1_702_743_657), "2023-12-16T16:20:57.000Z");
        assert_eq!(format_for_error(i64::MAX), i64::MAX.to_string());
    }
}
