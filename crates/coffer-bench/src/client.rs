//! Builds signed requests for the two dialects and sends them through one pooled
//! hyper-util client. Bodies are slices of one shared buffer; responses are drained frame
//! by frame without being copied.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use clap::ValueEnum;
use coffer_oss::auth::signer::{Credentials, SignableRequest, encode_path, sign_v4_header};
use coffer_sigv4::{AWS, UNSIGNED_PAYLOAD};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Alibaba Cloud OSS, signature V4 (Coffer)
    Oss,
    /// Amazon S3, SigV4, path-style
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sse {
    /// No encryption header
    None,
    /// OSS: `x-oss-server-side-encryption: AES256`; S3: `x-amz-server-side-encryption: AES256`
    Aes256,
    /// OSS: `x-oss-server-side-encryption: SM4`
    Sm4,
    /// OSS: `x-oss-server-side-encryption: KMS`
    Kms,
    /// OSS: `KMS` with `x-oss-server-side-data-encryption: SM4`
    KmsSm4,
    /// S3: `x-amz-server-side-encryption: AES256` (SSE-S3)
    S3,
}

impl Sse {
    /// The headers a PUT carries for this setting in `dialect`.
    pub fn headers(self, dialect: Dialect) -> Result<Vec<(&'static str, &'static str)>, String> {
        const OSS: &str = "x-oss-server-side-encryption";
        const OSS_DATA: &str = "x-oss-server-side-data-encryption";
        const AMZ: &str = "x-amz-server-side-encryption";
        Ok(match (dialect, self) {
            (_, Sse::None) => vec![],
            (Dialect::Oss, Sse::Aes256) => vec![(OSS, "AES256")],
            (Dialect::Oss, Sse::Sm4) => vec![(OSS, "SM4")],
            (Dialect::Oss, Sse::Kms) => vec![(OSS, "KMS")],
            (Dialect::Oss, Sse::KmsSm4) => vec![(OSS, "KMS"), (OSS_DATA, "SM4")],
            (Dialect::S3, Sse::Aes256 | Sse::S3) => vec![(AMZ, "AES256")],
            (dialect, sse) => {
                return Err(format!(
                    "--sse {} is not available with --dialect {}",
                    sse.to_possible_value()
                        .expect("every variant has a name")
                        .get_name(),
                    dialect
                        .to_possible_value()
                        .expect("every variant has a name")
                        .get_name()
                ));
            }
        })
    }
}

/// Where requests go and how they are signed.
pub struct Target {
    pub dialect: Dialect,
    scheme: String,
    authority: String,
    host: HeaderValue,
    pub bucket: String,
    access_key: String,
    secret_key: String,
    region: String,
    put_headers: Vec<(&'static str, &'static str)>,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// What one request did.
pub struct Outcome {
    pub status: StatusCode,
    /// Response body bytes received.
    pub received: u64,
    /// The start of an error body, kept for non-2xx answers.
    pub error_body: Option<String>,
}

#[allow(clippy::too_many_arguments)]
impl Target {
    pub fn new(
        endpoint: &str,
        dialect: Dialect,
        bucket: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        sse: Sse,
        pool_size: usize,
        timeout: Duration,
    ) -> Result<Self, String> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|e| format!("invalid --endpoint {endpoint:?}: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or("http").to_owned();
        if scheme != "http" {
            return Err(format!(
                "--endpoint {endpoint:?}: only http:// is supported"
            ));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--endpoint {endpoint:?} has no host"))?
            .to_string();
        let host = HeaderValue::from_str(&authority).map_err(|e| e.to_string())?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool_size.max(1))
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Self {
            dialect,
            scheme,
            authority,
            host,
            bucket: bucket.to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            put_headers: sse.headers(dialect)?,
            client,
            timeout,
        })
    }

    /// Builds and signs a request. `sse` adds the encryption headers (object PUTs only).
    fn request(
        &self,
        method: Method,
        key: Option<&str>,
        body: Bytes,
        sse: bool,
    ) -> Result<Request<Full<Bytes>>, String> {
        let mut headers = HeaderMap::new();
        if sse {
            for (name, value) in &self.put_headers {
                headers.insert(*name, HeaderValue::from_static(value));
            }
        }
        let path = match self.dialect {
            Dialect::Oss => {
                let mut query = Vec::new();
                let mut req = SignableRequest::new(
                    method.as_str(),
                    Some(&self.bucket),
                    key,
                    &mut query,
                    &mut headers,
                );
                let creds = Credentials::new(&self.access_key, &self.secret_key);
                sign_v4_header(&mut req, &creds, &self.region, SystemTime::now(), &[])
                    .map_err(|e| e.to_string())?;
                encode_path(Some(&self.bucket), key)
            }
            Dialect::S3 => {
                let raw = match key {
                    Some(key) => format!("/{}/{key}", self.bucket),
                    None => format!("/{}", self.bucket),
                };
                headers.insert(http::header::HOST, self.host.clone());
                let creds = (self.access_key.as_str(), self.secret_key.as_str());
                sign_s3(method.as_str(), &raw, &mut headers, creds, &self.region)?;
                coffer_sigv4::encode_path(&raw)
            }
        };
        let uri = format!("{}://{}{path}", self.scheme, self.authority);
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// Sends a request and drains its response.
    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Outcome, String> {
        let work = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| error_chain(&e))?;
            let status = response.status();
            let mut body = response.into_body();
            let mut received = 0u64;
            let mut error_body = None::<Vec<u8>>;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
                if let Some(data) = frame.data_ref() {
                    received += data.len() as u64;
                    if !status.is_success() {
                        let kept = error_body.get_or_insert_with(Vec::new);
                        let room = 512usize.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
            }
            Ok(Outcome {
                status,
                received,
                error_body: error_body.map(|b| String::from_utf8_lossy(&b).into_owned()),
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| format!("timed out after {:?}", self.timeout))?
    }

    pub async fn put_object(&self, key: &str, body: Bytes) -> Result<Outcome, String> {
        let request = self.request(Method::PUT, Some(key), body, true)?;
        self.send(request).await
    }

    pub async fn get_object(&self, key: &str) -> Result<Outcome, String> {
        let request = self.request(Method::GET, Some(key), Bytes::new(), false)?;
        self.send(request).await
    }

    /// Creates the bucket; an existing bucket (409) is fine.
    pub async fn create_bucket(&self) -> Result<(), String> {
        let request = self.request(Method::PUT, None, Bytes::new(), false)?;
        let outcome = self.send(request).await?;
        if outcome.status.is_success() || outcome.status == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(describe("PUT bucket", &self.bucket, &outcome))
        }
    }
}

/// A one-line description of a failed answer.
/// Signs an S3 request in place with AWS SigV4 at the current time: sets `x-amz-date`,
/// `x-amz-content-sha256: UNSIGNED-PAYLOAD` (the body is never hashed) and `authorization`,
/// listing `host` (which `headers` must hold), `content-type`, `content-md5` and every
/// `x-amz-*` header. `path` is the decoded path-style path; `creds` is (access key, secret).
fn sign_s3(
    method: &str,
    path: &str,
    headers: &mut HeaderMap,
    (access_key, secret): (&str, &str),
    region: &str,
) -> Result<(), String> {
    let datetime = amz_date(SystemTime::now());
    headers.insert(
        AWS.date_header,
        HeaderValue::from_str(&datetime).map_err(|e| e.to_string())?,
    );
    headers.insert(
        AWS.content_sha256_header,
        HeaderValue::from_static(UNSIGNED_PAYLOAD),
    );
    let requested: Vec<&str> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| {
            name.starts_with(AWS.header_prefix) || matches!(*name, "content-type" | "content-md5")
        })
        .collect();
    let listed = AWS.headers_to_list(headers, &requested);
    let scope = AWS.scope(datetime.get(..8).unwrap_or_default(), region);
    let req = coffer_sigv4::Request {
        method,
        path,
        query: &[],
        headers,
    };
    let signature = AWS.sign_request(&req, &listed, UNSIGNED_PAYLOAD, &datetime, &scope, secret);
    let value = AWS.authorization(access_key, &AWS.scope_string(&scope), &listed, &signature);
    let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
    headers.insert(http::header::AUTHORIZATION, value);
    Ok(())
}

/// `20150830T123600Z`.
fn amz_date(time: SystemTime) -> String {
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

pub fn describe(op: &str, key: &str, outcome: &Outcome) -> String {
    let body = outcome
        .error_body
        .as_deref()
        .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!("{op} {key}: {} {body}", outcome.status)
        .trim_end()
        .to_owned()
}

/// An error and its sources on one line ("connection refused" hides under hyper's
/// "client error (Connect)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_headers_per_dialect() {
        assert_eq!(Sse::None.headers(Dialect::S3), Ok(vec![]));
        assert_eq!(
            Sse::KmsSm4.headers(Dialect::Oss),
            Ok(vec![
                ("x-oss-server-side-encryption", "KMS"),
                ("x-oss-server-side-data-encryption", "SM4")
            ])
        );
        assert_eq!(
            Sse::S3.headers(Dialect::S3),
            Ok(vec![("x-amz-server-side-encryption", "AES256")])
        );
        assert!(Sse::Sm4.headers(Dialect::S3).is_err());
        assert!(Sse::S3.headers(Dialect::Oss).is_err());
    }

    fn target(dialect: Dialect) -> Target {
        Target::new(
            "http://127.0.0.1:9",
            dialect,
            "bkt",
            "ak",
            "sk",
            "r1",
            Sse::Aes256,
            1,
            Duration::from_secs(1),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn oss_requests_are_path_style_and_signed_v4() {
        let t = target(Dialect::Oss);
        let req = t
            .request(Method::PUT, Some("a b"), Bytes::from_static(b"x"), true)
            .unwrap();
        assert_eq!(req.uri(), "http://127.0.0.1:9/bkt/a%20b");
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("OSS4-HMAC-SHA256 Credential=ak/"),
            "{auth}"
        );
        assert_eq!(req.headers()["x-oss-server-side-encryption"], "AES256");
        let get = t
            .request(Method::GET, Some("k"), Bytes::new(), false)
            .unwrap();
        assert!(!get.headers().contains_key("x-oss-server-side-encryption"));
    }

    #[tokio::test]
    async fn s3_requests_are_path_style_and_sign_host() {
        let t = target(Dialect::S3);
        let req = t
            .request(Method::PUT, Some("k/1"), Bytes::from_static(b"x"), true)
            .unwrap();
        assert_eq!(req.uri(), "http://127.0.0.1:9/bkt/k/1");
        assert_eq!(req.headers()["host"], "127.0.0.1:9");
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-server-side-encryption"
            ),
            "{auth}"
        );
        let bucket = t.request(Method::PUT, None, Bytes::new(), false).unwrap();
        assert_eq!(bucket.uri(), "http://127.0.0.1:9/bkt");
    }

    #[test]
    fn s3_signature_lists_host_and_amz_headers_and_encodes_the_path() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8333"));
        headers.insert(
            "x-amz-server-side-encryption",
            HeaderValue::from_static("AES256"),
        );
        headers.insert("content-length", HeaderValue::from_static("5"));
        sign_s3(
            "PUT",
            "/b/a b/ü~.txt",
            &mut headers,
            ("ak", "sk"),
            "us-east-1",
        )
        .unwrap();
        assert_eq!(headers["x-amz-content-sha256"], UNSIGNED_PAYLOAD);
        let auth = headers["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=ak/"),
            "{auth}"
        );
        assert!(
            auth.contains(
                "/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;\
                 x-amz-date;x-amz-server-side-encryption, Signature="
            ),
            "{auth}"
        );
        assert_eq!(
            coffer_sigv4::encode_path("/b/a b/ü~.txt"),
            "/b/a%20b/%C3%BC~.txt"
        );
    }

    #[test]
    fn amz_date_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(t), "20150830T123600Z");
    }

    #[test]
    fn only_plain_http_endpoints() {
        let err = Target::new(
            "https://127.0.0.1",
            Dialect::S3,
            "b",
            "a",
            "s",
            "r",
            Sse::None,
            1,
            Duration::from_secs(1),
        )
        .err()
        .unwrap();
        assert!(err.contains("only http://"));
    }
}
