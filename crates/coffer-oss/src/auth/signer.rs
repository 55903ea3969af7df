//! Client-side signing that produces what the official SDKs produce, for Coffer's own tests and
//! load tool. It builds its strings to sign with the verifier's canonicalisation code.
//!
//! ```
//! use std::time::SystemTime;
//! use coffer_oss::auth::signer::{Credentials, SignableRequest, encode_path, encode_query, sign_v4_header};
//!
//! let mut query = vec![("acl".to_owned(), String::new())];
//! let mut headers = http::HeaderMap::new();
//! let mut req = SignableRequest::new("GET", Some("bucket"), Some("key"), &mut query, &mut headers);
//! let creds = Credentials::new("ak", "sk");
//! sign_v4_header(&mut req, &creds, "cn-hangzhou", SystemTime::now(), &[]).unwrap();
//! let url = format!("http://127.0.0.1{}?{}", encode_path(Some("bucket"), Some("key")), encode_query(&query));
//! assert_eq!(url, "http://127.0.0.1/bucket/key?acl");
//! assert!(headers.contains_key("authorization"));
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use coffer_sigv4::OSS;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{RequestParts, dates, v1, v4};

/// The key a client signs with, and its STS token if it has one.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    /// Sent as `x-oss-security-token` (headers, V4 URLs) or `security-token` (V1 URLs).
    pub security_token: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    pub fn new(access_key_id: &'a str, secret: &'a str) -> Self {
        Self {
            access_key_id,
            secret,
            security_token: None,
        }
    }

    pub fn with_security_token(self, token: &'a str) -> Self {
        Self {
            security_token: Some(token),
            ..self
        }
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"..")
            .field("security_token", &self.security_token.map(|_| ".."))
            .finish()
    }
}

/// An outgoing request: signing reads it and adds headers or query parameters.
#[derive(Debug)]
pub struct SignableRequest<'a> {
    pub method: &'a str,
    pub bucket: Option<&'a str>,
    /// The decoded object key.
    pub key: Option<&'a str>,
    /// Decoded query pairs; presigning appends its parameters here.
    pub query: &'a mut Vec<(String, String)>,
    pub headers: &'a mut HeaderMap,
}

impl<'a> SignableRequest<'a> {
    pub fn new(
        method: &'a str,
        bucket: Option<&'a str>,
        key: Option<&'a str>,
        query: &'a mut Vec<(String, String)>,
        headers: &'a mut HeaderMap,
    ) -> Self {
        Self {
            method,
            bucket,
            key,
            query,
            headers,
        }
    }

    /// The view the verifier sees of this request.
    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: self.method,
            bucket: self.bucket,
            key: self.key,
            query: self.query,
            headers: self.headers,
        }
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    /// The value for this header cannot be sent in HTTP (e.g. it contains a newline).
    InvalidHeaderValue(&'static str),
    /// The time cannot be written as an HTTP or ISO 8601 date (before 1970 or after 9999).
    TimeOutOfRange,
    /// V4 presigned URLs last from 1 second to 7 days.
    InvalidExpiration,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHeaderValue(name) => write!(f, "invalid value for header {name}"),
            Self::TimeOutOfRange => f.write_str("time out of range for an HTTP date"),
            Self::InvalidExpiration => f.write_str("expiration must be 1 second to 7 days"),
        }
    }
}

impl std::error::Error for SignError {}

/// Signs with V1: sets `Date` (and `x-oss-security-token`) and `Authorization: OSS ak:sig`.
/// An `x-oss-date` header already present is used as the date line, as the SDKs do.
/// Returns the signature.
pub fn sign_v1_header(
    req: &mut SignableRequest<'_>,
    creds: &Credentials<'_>,
    time: SystemTime,
) -> Result<String, SignError> {
    if let Some(token) = creds.security_token {
        set_header(req.headers, "x-oss-security-token", token)?;
    }
    let date = dates::format_http_date(dates::unix_secs(time)).ok_or(SignError::TimeOutOfRange)?;
    set_header(req.headers, "date", &date)?;
    let date_line = v1::date_header(req.headers).map_or(Vec::new(), |v| v.as_bytes().to_vec());
    let signature = v1::sign(creds.secret, &v1::string_to_sign(&req.parts(), &date_line));
    let value = format!("OSS {}:{signature}", creds.access_key_id);
    set_header(req.headers, "authorization", &value)?;
    Ok(signature)
}

/// Presigns with V1: appends `[security-token,] OSSAccessKeyId, Expires, Signature` to the
/// query. `expires_at` is the absolute expiry. Returns the signature.
pub fn presign_v1(
    req: &mut SignableRequest<'_>,
    creds: &Credentials<'_>,
    expires_at: SystemTime,
) -> Result<String, SignError> {
    remove_params(
        req.query,
        &[
            v1::PARAM_ACCESS_KEY_ID,
            v1::PARAM_EXPIRES,
            v1::PARAM_SIGNATURE,
            v1::PARAM_SECURITY_TOKEN,
        ],
    );
    if let Some(token) = creds.security_token {
        push(req.query, v1::PARAM_SECURITY_TOKEN, token);
    }
    let expires = u64::try_from(dates::unix_secs(expires_at))
        .map_err(|_| SignError::TimeOutOfRange)?
        .to_string();
    let signature = v1::sign(
        creds.secret,
        &v1::string_to_sign(&req.parts(), expires.as_bytes()),
    );
    push(req.query, v1::PARAM_ACCESS_KEY_ID, creds.access_key_id);
    push(req.query, v1::PARAM_EXPIRES, &expires);
    push(req.query, v1::PARAM_SIGNATURE, &signature);
    Ok(signature)
}

/// Signs with V4: sets `x-oss-date`, `x-oss-content-sha256: UNSIGNED-PAYLOAD`, `Date`
/// (unsigned, as the SDKs send it), `x-oss-security-token` if any, and `Authorization`.
/// `additional_headers` are extra headers to sign (e.g. `host`); like the SDKs, names that
/// are absent or signed anyway are dropped. Returns the signature.
pub fn sign_v4_header(
    req: &mut SignableRequest<'_>,
    creds: &Credentials<'_>,
    region: &str,
    time: SystemTime,
    additional_headers: &[&str],
) -> Result<String, SignError> {
    if let Some(token) = creds.security_token {
        set_header(req.headers, v4::PARAM_SECURITY_TOKEN, token)?;
    }
    let secs = dates::unix_secs(time);
    let datetime = dates::format_iso_basic(secs).ok_or(SignError::TimeOutOfRange)?;
    let http_date = dates::format_http_date(secs).ok_or(SignError::TimeOutOfRange)?;
    set_header(req.headers, OSS.date_header, &datetime)?;
    set_header(req.headers, v4::CONTENT_SHA256, v4::UNSIGNED_PAYLOAD)?;
    set_header(req.headers, "date", &http_date)?;

    let additional = OSS.headers_to_list(req.headers, additional_headers);
    let signed = sign_v4(&req.parts(), creds, region, &datetime, &additional)?;
    let value = OSS.authorization(
        creds.access_key_id,
        &signed.scope,
        &additional,
        &signed.signature,
    );
    set_header(req.headers, "authorization", &value)?;
    Ok(signed.signature)
}

/// Presigns with V4: appends `x-oss-signature-version`, `x-oss-date`, `x-oss-expires`
/// (relative, 1 s to 7 days), `x-oss-credential`, `[x-oss-additional-headers]`,
/// `[x-oss-security-token]` and finally `x-oss-signature`. Returns the signature.
pub fn presign_v4(
    req: &mut SignableRequest<'_>,
    creds: &Credentials<'_>,
    region: &str,
    time: SystemTime,
    expires_in: Duration,
    additional_headers: &[&str],
) -> Result<String, SignError> {
    let expires = expires_in.as_secs();
    if !(1..=v4::MAX_EXPIRES_SECS).contains(&expires) {
        return Err(SignError::InvalidExpiration);
    }
    remove_params(
        req.query,
        &[
            v4::PARAM_VERSION,
            v4::PARAM_DATE,
            v4::PARAM_EXPIRES,
            v4::PARAM_CREDENTIAL,
            v4::PARAM_ADDITIONAL_HEADERS,
            v4::PARAM_SECURITY_TOKEN,
            v4::PARAM_SIGNATURE,
        ],
    );
    let datetime =
        dates::format_iso_basic(dates::unix_secs(time)).ok_or(SignError::TimeOutOfRange)?;
    let date = datetime.get(..8).ok_or(SignError::TimeOutOfRange)?;
    let additional = OSS.headers_to_list(req.headers, additional_headers);

    push(req.query, v4::PARAM_VERSION, v4::ALGORITHM);
    push(req.query, v4::PARAM_DATE, &datetime);
    push(req.query, v4::PARAM_EXPIRES, &expires.to_string());
    let credential = format!("{}/{}", creds.access_key_id, v4::scope(date, region));
    push(req.query, v4::PARAM_CREDENTIAL, &credential);
    if !additional.is_empty() {
        push(
            req.query,
            v4::PARAM_ADDITIONAL_HEADERS,
            &additional.join(";"),
        );
    }
    if let Some(token) = creds.security_token {
        push(req.query, v4::PARAM_SECURITY_TOKEN, token);
    }
    let signed = sign_v4(&req.parts(), creds, region, &datetime, &additional)?;
    push(req.query, v4::PARAM_SIGNATURE, &signed.signature);
    Ok(signed.signature)
}

/// Percent-encodes query pairs for a URL: `k=v&k2` (bare name when the value is empty), with
/// everything but RFC 3986 unreserved characters escaped.
pub fn encode_query(query: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&v4::encode_query_component(k));
        if !v.is_empty() {
            out.push('=');
            out.push_str(&v4::encode_query_component(v));
        }
    }
    out
}

/// The path-style request path `/bucket/key`, percent-encoded with `/` kept.
pub fn encode_path(bucket: Option<&str>, key: Option<&str>) -> String {
    v4::canonical_uri(bucket, key)
}

struct V4Signature {
    scope: String,
    signature: String,
}

fn sign_v4(
    parts: &RequestParts<'_>,
    creds: &Credentials<'_>,
    region: &str,
    datetime: &str,
    additional: &[String],
) -> Result<V4Signature, SignError> {
    let date = datetime.get(..8).ok_or(SignError::TimeOutOfRange)?;
    let scope = v4::scope(date, region);
    let canonical = v4::canonical_request(parts, additional);
    let sts = v4::string_to_sign(datetime, &scope, &canonical);
    let signature = v4::sign(creds.secret, date, region, &sts);
    Ok(V4Signature { scope, signature })
}

fn set_header(headers: &mut HeaderMap, name: &'static str, value: &str) -> Result<(), SignError> {
    let value = HeaderValue::from_str(value).map_err(|_| SignError::InvalidHeaderValue(name))?;
    headers.insert(HeaderName::from_static(name), value);
    Ok(())
}

fn push(query: &mut Vec<(String, String)>, name: &str, value: &str) {
    query.push((name.to_owned(), value.to_owned()));
}

/// Drops earlier signing parameters so a request can be signed again.
fn remove_params(query: &mut Vec<(String, String)>, names: &[&str]) {
    query.retain(|(k, _)| !names.contains(&k.as_str()));
}

#[cfg(test)]
mod tests {
    //! The [VECTOR]s of oss-api.md §3: each is reproduced by the signer and accepted by the
    //! verifier at the vector's time.

    use super::super::Principal;
    use super::super::test_support::authenticate;
    use super::super::test_support::*;
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// Runs the verifier on a signed request at `now`.
    fn verify(req: &SignableRequest<'_>, now: u64) -> Result<Principal, super::super::AuthError> {
        authenticate(&req.parts(), &Keys, &ctx(now))
    }

    fn accepted(ak: &str) -> Result<Principal, super::super::AuthError> {
        Ok(Principal::AccessKey {
            access_key_id: ak.to_owned(),
        })
    }

    fn authorization(h: &HeaderMap) -> &str {
        h.get("authorization").unwrap().to_str().unwrap()
    }

    // --- V1 header vectors (§3.1), secret `sk` -------------------------------------------

    const V1_TIME: u64 = 1_672_223_261;
    const V1_DATE: &str = "Wed, 28 Dec 2022 10:27:41 GMT";

    fn v1_put_headers() -> HeaderMap {
        headers(&[
            ("content-md5", "eB5eJF1ptWaXm4bijSPyxw=="),
            ("content-type", "text/html"),
            ("x-oss-meta-author", "alice"),
            ("x-oss-meta-magic", "abracadabra"),
            ("x-oss-date", V1_DATE),
        ])
    }

    #[test]
    fn v1_vector_put_object_with_metadata() {
        let (mut q, mut h) = (Vec::new(), v1_put_headers());
        let mut req =
            SignableRequest::new("PUT", Some("examplebucket"), Some("nelson"), &mut q, &mut h);
        let expected_sts = "PUT\neB5eJF1ptWaXm4bijSPyxw==\ntext/html\nWed, 28 Dec 2022 10:27:41 GMT\n\
             x-oss-date:Wed, 28 Dec 2022 10:27:41 GMT\nx-oss-meta-author:alice\n\
             x-oss-meta-magic:abracadabra\n/examplebucket/nelson";
        assert_eq!(
            v1::string_to_sign(&req.parts(), V1_DATE.as_bytes()),
            expected_sts.as_bytes()
        );
        let sig = sign_v1_header(&mut req, &Credentials::new("ak", "sk"), at(V1_TIME)).unwrap();
        assert_eq!(sig, "kSHKmLxlyEAKtZPkJhG9bZb5k7M=");
        assert_eq!(
            authorization(req.headers),
            "OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M="
        );
        assert_eq!(verify(&req, V1_TIME), accepted("ak"));
    }

    #[test]
    fn v1_vector_put_object_acl() {
        let (mut q, mut h) = (query(&[("acl", "")]), v1_put_headers());
        let mut req =
            SignableRequest::new("PUT", Some("examplebucket"), Some("nelson"), &mut q, &mut h);
        let sig = sign_v1_header(&mut req, &Credentials::new("ak", "sk"), at(V1_TIME)).unwrap();
        assert_eq!(sig, "/afkugFbmWDQ967j1vr6zygBLQk=");
        assert_eq!(verify(&req, V1_TIME), accepted("ak"));
    }

    #[test]
    fn v1_vector_bucket_subresources() {
        for (pairs, resource, expected) in [
            (
                &[("resourceGroup", ""), ("non-resousce", "null")][..],
                "/examplebucket/?resourceGroup",
                "vkQmfuUDyi1uDi3bKt67oemssIs=",
            ),
            (
                &[("resourceGroup", ""), ("acl", "")][..],
                "/examplebucket/?acl&resourceGroup",
                "x3E5TgOvl/i7PN618s5mEvpJDYk=",
            ),
        ] {
            let (mut q, mut h) = (query(pairs), headers(&[("x-oss-date", V1_DATE)]));
            let mut req = SignableRequest::new("GET", Some("examplebucket"), None, &mut q, &mut h);
            let sts = format!("GET\n\n\n{V1_DATE}\nx-oss-date:{V1_DATE}\n{resource}");
            assert_eq!(
                v1::string_to_sign(&req.parts(), V1_DATE.as_bytes()),
                sts.as_bytes()
            );
            let sig = sign_v1_header(&mut req, &Credentials::new("ak", "sk"), at(V1_TIME)).unwrap();
            assert_eq!(sig, expected);
            assert_eq!(verify(&req, V1_TIME), accepted("ak"));
        }
    }

    #[test]
    fn v1_vector_documentation_example() {
        let time = 1_132_253_398; // Thu, 17 Nov 2005 18:49:58 GMT
        let mut h = headers(&[
            (
                "content-md5",
                "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=",
            ),
            ("content-type", "text/html"),
            ("x-oss-magic", "abracadabra"),
            ("x-oss-meta-author", "foo@bar.com"),
        ]);
        let mut q = Vec::new();
        let mut req =
            SignableRequest::new("PUT", Some("oss-example"), Some("nelson"), &mut q, &mut h);
        let sig = sign_v1_header(&mut req, &Credentials::new(DOC_AK, DOC_SK), at(time)).unwrap();
        assert_eq!(
            req.headers.get("date").unwrap(),
            "Thu, 17 Nov 2005 18:49:58 GMT"
        );
        assert_eq!(sig, "26NBxoKdsyly4EDv6inkoDft/yA=");
        assert_eq!(verify(&req, time), accepted(DOC_AK));
    }

    #[test]
    fn v1_header_with_security_token_signs_it() {
        let (mut q, mut h) = (Vec::new(), HeaderMap::new());
        let mut req = SignableRequest::new("GET", Some("b"), Some("k"), &mut q, &mut h);
        let creds = Credentials::new("ak", "sk").with_security_token("token");
        sign_v1_header(&mut req, &creds, at(V1_TIME)).unwrap();
        assert_eq!(req.headers.get("x-oss-security-token").unwrap(), "token");
        assert_eq!(verify(&req, V1_TIME), accepted("ak"));
        // The token is covered by the signature.
        req.headers
            .insert("x-oss-security-token", "other".parse().unwrap());
        assert_eq!(
            verify(&req, V1_TIME).unwrap_err().code,
            "SignatureDoesNotMatch"
        );
    }

    // --- V1 presigned URL vectors (§3.2) -------------------------------------------------

    #[test]
    fn v1_vector_presigned_url() {
        let expires = 1_699_807_420;
        let (mut q, mut h) = (query(&[("versionId", "versionId")]), HeaderMap::new());
        let mut req = SignableRequest::new("GET", Some("bucket"), Some("key"), &mut q, &mut h);
        assert_eq!(
            v1::string_to_sign(&req.parts(), b"1699807420"),
            b"GET\n\n\n1699807420\n/bucket/key?versionId=versionId"
        );
        let sig = presign_v1(&mut req, &Credentials::new("ak", "sk"), at(expires)).unwrap();
        assert_eq!(sig, "dcLTea+Yh9ApirQ8o8dOPqtvJXQ=");
        assert_eq!(
            encode_query(req.query),
            "versionId=versionId&OSSAccessKeyId=ak&Expires=1699807420&Signature=dcLTea%2BYh9ApirQ8o8dOPqtvJXQ%3D"
        );
        assert_eq!(verify(&req, expires), accepted("ak"));
        assert_eq!(
            verify(&req, expires + 1).unwrap_err().message,
            "Request has expired."
        );
    }

    #[test]
    fn v1_vector_presigned_url_with_security_token() {
        let expires = 1_699_808_204;
        let (mut q, mut h) = (query(&[("versionId", "versionId")]), HeaderMap::new());
        let mut req = SignableRequest::new("GET", Some("bucket"), Some("key+123"), &mut q, &mut h);
        let creds = Credentials::new("ak", "sk").with_security_token("token");
        let sig = presign_v1(&mut req, &creds, at(expires)).unwrap();
        assert_eq!(
            v1::string_to_sign(&req.parts(), b"1699808204"),
            b"GET\n\n\n1699808204\n/bucket/key+123?security-token=token&versionId=versionId"
        );
        assert_eq!(sig, "jzKYRrM5y6Br0dRFPaTGOsbrDhY=");
        assert_eq!(verify(&req, expires), accepted("ak"));
    }

    #[test]
    fn v1_presign_can_be_repeated() {
        let (mut q, mut h) = (Vec::new(), HeaderMap::new());
        let mut req = SignableRequest::new("GET", Some("b"), Some("k"), &mut q, &mut h);
        presign_v1(
            &mut req,
            &Credentials::new("ak", "sk").with_security_token("t"),
            at(10),
        )
        .unwrap();
        presign_v1(&mut req, &Credentials::new("ak", "sk"), at(V1_TIME)).unwrap();
        assert_eq!(req.query.len(), 3);
        assert_eq!(verify(&req, V1_TIME), accepted("ak"));
    }

    // --- V4 header vectors (§3.4), ak/sk, region cn-hangzhou -------------------------------

    fn v4_query() -> Vec<(String, String)> {
        query(&[
            ("param1", "value1"),
            ("+param1", "value3"),
            ("|param1", "value4"),
            ("+param2", ""),
            ("|param2", ""),
            ("param2", ""),
        ])
    }

    fn v4_headers(content_type: &str) -> HeaderMap {
        headers(&[
            ("x-oss-head1", "value"),
            ("abc", "value"),
            ("ZAbc", "value"),
            ("XYZ", "value"),
            ("content-type", content_type),
        ])
    }

    const V4_KEY: &str = "1234+-/123/1.txt";

    #[test]
    fn v4_vector_header() {
        let time = 1_702_743_657;
        let (mut q, mut h) = (v4_query(), v4_headers("text/plain"));
        let mut req = SignableRequest::new("PUT", Some("bucket"), Some(V4_KEY), &mut q, &mut h);
        let sig = sign_v4_header(
            &mut req,
            &Credentials::new("ak", "sk"),
            "cn-hangzhou",
            at(time),
            &[],
        )
        .unwrap();

        let canonical = v4::canonical_request(&req.parts(), &[]);
        let expected_canonical = "PUT\n/bucket/1234%2B-/123/1.txt\n\
             %2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2\n\
             content-type:text/plain\nx-oss-content-sha256:UNSIGNED-PAYLOAD\n\
             x-oss-date:20231216T162057Z\nx-oss-head1:value\n\n\nUNSIGNED-PAYLOAD";
        assert_eq!(
            String::from_utf8(canonical.clone()).unwrap(),
            expected_canonical
        );
        let scope = v4::scope("20231216", "cn-hangzhou");
        assert_eq!(
            v4::string_to_sign("20231216T162057Z", &scope, &canonical),
            "OSS4-HMAC-SHA256\n20231216T162057Z\n20231216/cn-hangzhou/oss/aliyun_v4_request\n\
             f4613657f1b108998e8dbd10a1aa5da621dc2c6e02c9ddec0f163664848704c4"
        );
        assert_eq!(
            sig,
            "e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );
        assert_eq!(
            authorization(req.headers),
            "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,\
             Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe"
        );
        assert_eq!(verify(&req, time), accepted("ak"));
    }

    #[test]
    fn v4_vector_header_with_additional_headers() {
        let time = 1_702_747_512;
        let (mut q, mut h) = (v4_query(), v4_headers("text/plain"));
        let mut req = SignableRequest::new("PUT", Some("bucket"), Some(V4_KEY), &mut q, &mut h);
        // Mixed case, a default-signed name and an absent name are normalised away.
        let additional = ["ZAbc", "abc", "content-type", "range"];
        let sig = sign_v4_header(
            &mut req,
            &Credentials::new("ak", "sk"),
            "cn-hangzhou",
            at(time),
            &additional,
        )
        .unwrap();
        assert_eq!(
            sig,
            "4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"
        );
        assert_eq!(
            authorization(req.headers),
            "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,\
             AdditionalHeaders=abc;zabc,\
             Signature=4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f"
        );
        assert_eq!(verify(&req, time), accepted("ak"));
        // The additional headers are covered.
        req.headers.insert("abc", "changed".parse().unwrap());
        assert_eq!(
            verify(&req, time).unwrap_err().code,
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn v4_vector_header_with_security_token() {
        let time = 1_702_784_856;
        let (mut q, mut h) = (v4_query(), v4_headers("text/plain"));
        let mut req = SignableRequest::new("PUT", Some("bucket"), Some(V4_KEY), &mut q, &mut h);
        let creds = Credentials::new("ak", "sk").with_security_token("token");
        let sig = sign_v4_header(&mut req, &creds, "cn-hangzhou", at(time), &[]).unwrap();
        let canonical = String::from_utf8(v4::canonical_request(&req.parts(), &[])).unwrap();
        assert!(canonical.contains("\nx-oss-security-token:token\n"));
        assert_eq!(
            sig,
            "b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea"
        );
        assert_eq!(verify(&req, time), accepted("ak"));
    }

    #[test]
    fn v4_header_field_order_and_spacing_do_not_matter() {
        let time = 1_702_747_512;
        let (mut q, mut h) = (v4_query(), v4_headers("text/plain"));
        let mut req = SignableRequest::new("PUT", Some("bucket"), Some(V4_KEY), &mut q, &mut h);
        sign_v4_header(
            &mut req,
            &Credentials::new("ak", "sk"),
            "cn-hangzhou",
            at(time),
            &["abc", "zabc"],
        )
        .unwrap();
        // The oss2 layout: comma + space, AdditionalHeaders last.
        let oss2_style = "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request, \
             Signature=4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f, \
             AdditionalHeaders=abc;zabc";
        req.headers
            .insert("authorization", oss2_style.parse().unwrap());
        assert_eq!(verify(&req, time), accepted("ak"));
    }

    // --- V4 presigned URL vector (§3.5) --------------------------------------------------

    #[test]
    fn v4_vector_presigned_url() {
        let time = 1_702_781_677;
        let (mut q, mut h) = (v4_query(), v4_headers("application/octet-stream"));
        let mut req = SignableRequest::new("PUT", Some("bucket"), Some(V4_KEY), &mut q, &mut h);
        let sig = presign_v4(
            &mut req,
            &Credentials::new("ak", "sk"),
            "cn-hangzhou",
            at(time),
            Duration::from_secs(599),
            &[],
        )
        .unwrap();
        // The canonical request leaves the signature parameter out.
        let canonical = v4::canonical_request(&req.parts(), &[]);
        let expected_canonical = "PUT\n/bucket/1234%2B-/123/1.txt\n\
             %2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2&\
             x-oss-credential=ak%2F20231217%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&\
             x-oss-date=20231217T025437Z&x-oss-expires=599&x-oss-signature-version=OSS4-HMAC-SHA256\n\
             content-type:application/octet-stream\nx-oss-head1:value\n\n\nUNSIGNED-PAYLOAD";
        assert_eq!(
            String::from_utf8(canonical.clone()).unwrap(),
            expected_canonical
        );
        let sts = v4::string_to_sign(
            "20231217T025437Z",
            &v4::scope("20231217", "cn-hangzhou"),
            &canonical,
        );
        assert!(
            sts.ends_with("\n48814c11f278d51662015bf2f896b66ca10b6de0187ed8d952e341bbce0aa336")
        );
        assert_eq!(
            sig,
            "a39966c61718be0d5b14e668088b3fa07601033f6518ac7b523100014269c0fe"
        );
        assert_eq!(
            req.query.last().unwrap(),
            &("x-oss-signature".to_owned(), sig)
        );

        assert_eq!(verify(&req, time), accepted("ak"));
        assert_eq!(verify(&req, time + 599), accepted("ak"));
        let err = verify(&req, time + 600).unwrap_err();
        assert_eq!(
            (err.status, err.code, err.message.as_str()),
            (403, "AccessDenied", "Request has expired.")
        );
    }

    #[test]
    fn v4_presign_with_token_and_additional_headers() {
        let time = 1_702_781_677;
        let mut h = headers(&[("host", "bucket.example.com"), ("range", "bytes=0-9")]);
        let mut q = Vec::new();
        let mut req =
            SignableRequest::new("GET", Some("bucket"), Some("a b/ü.txt"), &mut q, &mut h);
        let creds = Credentials::new("ak", "sk").with_security_token("tok/en+");
        presign_v4(
            &mut req,
            &creds,
            "cn-hangzhou",
            at(time),
            Duration::from_secs(3600),
            &["Host", "range"],
        )
        .unwrap();
        assert!(
            req.query
                .contains(&("x-oss-additional-headers".into(), "host;range".into()))
        );
        assert!(
            req.query
                .contains(&("x-oss-security-token".into(), "tok/en+".into()))
        );
        assert_eq!(verify(&req, time + 10), accepted("ak"));
        req.headers.insert("range", "bytes=0-99".parse().unwrap());
        assert_eq!(
            verify(&req, time + 10).unwrap_err().code,
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn v4_presign_rejects_bad_expiration() {
        let (mut q, mut h) = (Vec::new(), HeaderMap::new());
        let mut req = SignableRequest::new("GET", Some("b"), Some("k"), &mut q, &mut h);
        let creds = Credentials::new("ak", "sk");
        for secs in [0, 604_801] {
            assert_eq!(
                presign_v4(
                    &mut req,
                    &creds,
                    "cn-hangzhou",
                    at(1),
                    Duration::from_secs(secs),
                    &[]
                ),
                Err(SignError::InvalidExpiration)
            );
        }
        assert!(
            presign_v4(
                &mut req,
                &creds,
                "cn-hangzhou",
                at(1),
                Duration::from_secs(604_800),
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn signer_reports_unsendable_values_and_times() {
        let (mut q, mut h) = (Vec::new(), HeaderMap::new());
        let mut req = SignableRequest::new("GET", Some("b"), None, &mut q, &mut h);
        let bad_token = Credentials::new("ak", "sk").with_security_token("a\nb");
        assert_eq!(
            sign_v1_header(&mut req, &bad_token, at(1)),
            Err(SignError::InvalidHeaderValue("x-oss-security-token"))
        );
        let creds = Credentials::new("ak", "sk");
        let too_late = at(253_402_300_800);
        assert_eq!(
            sign_v4_header(&mut req, &creds, "r", too_late, &[]),
            Err(SignError::TimeOutOfRange)
        );
        let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            presign_v1(&mut req, &creds, before_epoch),
            Err(SignError::TimeOutOfRange)
        );
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let text = format!(
            "{:?}",
            Credentials::new("ak", "sk-value").with_security_token("tok-value")
        );
        assert!(text.contains("ak") && !text.contains("sk-value") && !text.contains("tok-value"));
    }

    #[test]
    fn url_helpers_encode_like_the_sdks() {
        assert_eq!(
            encode_path(Some("b"), Some("a b/ü+.txt")),
            "/b/a%20b/%C3%BC%2B.txt"
        );
        assert_eq!(encode_path(None, None), "/");
        assert_eq!(
            encode_query(&query(&[("acl", ""), ("a/b", "c d~")])),
            "acl&a%2Fb=c%20d~"
        );
    }
}
