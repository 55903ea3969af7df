//! AWS Signature Version 4 in headers, for S3-compatible peers: path-style addressing and
//! `UNSIGNED-PAYLOAD`, so a body is never hashed. Signed headers are `host`, `content-type`,
//! `content-md5` and every `x-amz-*` header present.

use std::time::SystemTime;

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// RFC 3986 unreserved characters stay; everything else is escaped.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Encodes a path (`/bucket/key`) segment by segment, keeping `/`.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| utf8_percent_encode(seg, UNRESERVED).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical (and sendable) query string: encoded pairs sorted by name, then value.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| {
            (
                utf8_percent_encode(k, UNRESERVED).to_string(),
                utf8_percent_encode(v, UNRESERVED).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn is_signed(name: &str) -> bool {
    matches!(name, "host" | "content-type" | "content-md5") || name.starts_with("x-amz-")
}

/// The canonical request and the `SignedHeaders` list. `encoded_path` is already
/// URI-encoded (S3 does not encode it twice).
fn canonical_request(
    method: &str,
    encoded_path: &str,
    query: &[(&str, &str)],
    headers: &HeaderMap,
    payload_hash: &str,
) -> (String, String) {
    let mut names: Vec<&str> = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| is_signed(n))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut canonical = format!("{method}\n{encoded_path}\n{}\n", canonical_query(query));
    for name in &names {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&values.join(","));
        canonical.push('\n');
    }
    let signed = names.join(";");
    canonical.push('\n');
    canonical.push_str(&signed);
    canonical.push('\n');
    canonical.push_str(payload_hash);
    (canonical, signed)
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// `20150830T123600Z`.
pub fn amz_date(time: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(time);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Signs a request whose headers already hold `x-amz-date` (and whatever else is to be
/// signed); returns the `Authorization` value.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    method: &str,
    encoded_path: &str,
    query: &[(&str, &str)],
    headers: &HeaderMap,
    payload_hash: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
) -> Result<String, String> {
    let datetime = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("x-amz-date is missing")?;
    let date = datetime.get(..8).ok_or("x-amz-date is malformed")?;
    let (canonical, signed) = canonical_request(method, encoded_path, query, headers, payload_hash);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{datetime}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(secret, date, region, service);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    Ok(format!(
        "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    ))
}

/// Signs an S3 request in place: sets `x-amz-date`, `x-amz-content-sha256:
/// UNSIGNED-PAYLOAD` and `authorization`. `headers` must already hold `host`.
#[allow(clippy::too_many_arguments)]
pub fn sign_s3(
    method: &str,
    encoded_path: &str,
    query: &[(&str, &str)],
    headers: &mut HeaderMap,
    access_key: &str,
    secret: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), String> {
    let date = HeaderValue::from_str(&amz_date(time)).map_err(|e| e.to_string())?;
    headers.insert("x-amz-date", date);
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(UNSIGNED_PAYLOAD),
    );
    let auth = authorization(
        method,
        encoded_path,
        query,
        headers,
        UNSIGNED_PAYLOAD,
        access_key,
        secret,
        region,
        "s3",
    )?;
    headers.insert(
        "authorization",
        HeaderValue::from_str(&auth).map_err(|e| e.to_string())?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The worked example of the AWS SigV4 documentation (IAM ListUsers).
    #[test]
    fn documented_example() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        headers.insert("host", HeaderValue::from_static("iam.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let query = [("Version", "2010-05-08"), ("Action", "ListUsers")];
        let empty_hash = hex::encode(Sha256::digest(b""));
        let (canonical, signed) = canonical_request("GET", "/", &query, &headers, &empty_hash);
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            hex::encode(Sha256::digest(canonical.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            hex::encode(signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "20150830",
                "us-east-1",
                "iam"
            )),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let auth = authorization(
            "GET",
            "/",
            &query,
            &headers,
            &empty_hash,
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "iam",
        )
        .unwrap();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn s3_headers_and_encoding() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8333"));
        headers.insert(
            "x-amz-server-side-encryption",
            HeaderValue::from_static("AES256"),
        );
        headers.insert("content-length", HeaderValue::from_static("5"));
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        sign_s3(
            "PUT",
            &encode_path("/b/a b/ü~.txt"),
            &[],
            &mut headers,
            "ak",
            "sk",
            "us-east-1",
            time,
        )
        .unwrap();
        assert_eq!(headers["x-amz-date"], "20150830T123600Z");
        assert_eq!(headers["x-amz-content-sha256"], UNSIGNED_PAYLOAD);
        let auth = headers["authorization"].to_str().unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=ak/20150830/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-server-side-encryption, \
             Signature="
        ));
        assert_eq!(encode_path("/b/a b/ü~.txt"), "/b/a%20b/%C3%BC~.txt");
        assert_eq!(canonical_query(&[("b", "x y"), ("a", "")]), "a=&b=x%20y");
    }
}
