//! Test harness: runs the real `coffer` binary on free local ports and talks to it over
//! HTTP with requests signed by Coffer's own client-side signer.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]
// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use bytes::Bytes;
use coffer_oss::auth::signer::{
    Credentials, SignableRequest, encode_path, encode_query, presign_v1, presign_v4,
    sign_v1_header, sign_v4_header,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use md5::{Digest, Md5};

/// The OpenBao dev server harness of coffer-kms-vault's tests, shared rather than copied.
#[path = "../../../coffer-kms-vault/tests/bao/mod.rs"]
pub mod bao;

pub const AK: &str = "LTAI5tCofferTestKey0001";
pub const SK: &str = "CofferTestSecret0123456789abcdef";
pub const REGION: &str = "cn-hangzhou";

/// How long the server may take to start accepting connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How to start a test server beyond the defaults.
#[derive(Default, Clone)]
pub struct ServeOptions {
    /// An existing data directory (a fresh one when `None`).
    pub data_dir: Option<PathBuf>,
    /// Extra `coffer serve` arguments.
    pub args: Vec<String>,
    /// Extra environment for the server process.
    pub env: Vec<(String, String)>,
}

/// A running `coffer serve`; killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub data_dir: PathBuf,
    log_path: PathBuf,
    /// Holds the log file (and the data directory unless the caller supplied one).
    _dir: tempfile::TempDir,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    listener.local_addr().expect("local address").port()
}

impl TestServer {
    /// Starts a server with a fresh data directory.
    pub fn start() -> TestServer {
        Self::start_inner(None)
    }

    /// Starts a server with a fresh data directory and these further `serve` flags.
    pub fn start_with_args(args: &[&str]) -> TestServer {
        Self::start_with(&ServeOptions {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            ..ServeOptions::default()
        })
    }

    /// Starts a server on an existing data directory (e.g. to check what a previous run
    /// left behind).
    pub fn start_with_data_dir(data_dir: &Path) -> TestServer {
        Self::start_inner(Some(data_dir.to_owned()))
    }

    fn start_inner(data_dir: Option<PathBuf>) -> TestServer {
        Self::start_with(&ServeOptions {
            data_dir,
            ..ServeOptions::default()
        })
    }

    /// Starts a server with extra `serve` arguments and environment.
    pub fn start_with(options: &ServeOptions) -> TestServer {
        // Another process may grab a port between our probe and the server's bind, so
        // retry a few times with new ports when the child dies at start-up.
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::try_start(options) {
                Ok(server) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!("coffer did not start; last log:\n{last_log}");
    }

    /// Runs `coffer serve` that is expected to refuse to start: returns what it printed,
    /// and panics if it is still running after `START_TIMEOUT`.
    pub fn start_refused(options: &ServeOptions) -> String {
        match Self::try_start(options) {
            Ok(server) => panic!("coffer started; log:\n{}", server.log()),
            Err(log) => log,
        }
    }

    fn try_start(options: &ServeOptions) -> Result<TestServer, String> {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let data_dir = options
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("creating the log file");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        while admin == addr {
            admin.set_port(free_port());
        }
        let child = Command::new(env!("CARGO_BIN_EXE_coffer"))
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--admin-listen")
            .arg(admin.to_string())
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--region")
            .arg(REGION)
            .env("OSS_ACCESS_KEY_ID", AK)
            .env("OSS_ACCESS_KEY_SECRET", SK)
            .env_remove("COFFER_CONFIG")
            .env_remove("COFFER_DOMAINS")
            .env_remove("COFFER_ROOT_KEY")
            .env_remove("COFFER_ROOT_KEY_SOURCE")
            .env("COFFER_LOG", "info")
            .args(&options.args)
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .spawn()
            .expect("spawning the coffer binary");
        let mut server = TestServer {
            child: Some(child),
            addr,
            admin,
            data_dir,
            log_path,
            _dir: dir,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server.child_mut().try_wait().expect("polling the child") {
                let log = server.log();
                server.child = None;
                return Err(format!("exited with {status}\n{log}"));
            }
            let api_up = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
            let admin_up = TcpStream::connect_timeout(&admin, Duration::from_millis(200)).is_ok();
            if api_up && admin_up {
                return Ok(server);
            }
            if Instant::now() > deadline {
                panic!(
                    "coffer did not accept connections within {START_TIMEOUT:?}; log:\n{}",
                    server.log()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server process is gone")
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server process").id()
    }

    /// Sends SIGTERM (through `kill(1)`, so the tests need no libc binding).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits for the server to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("polling the child") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "coffer did not exit within {timeout:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A request to the API port, signed with V1 by default.
    pub fn req(&self, method: &str, bucket: Option<&str>, key: Option<&str>) -> Req<'_> {
        Req {
            server: self,
            method: Method::from_bytes(method.as_bytes()).expect("valid method"),
            bucket: bucket.map(str::to_owned),
            key: key.map(str::to_owned),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            sign: Sign::V1,
            ak: AK.to_owned(),
            sk: SK.to_owned(),
        }
    }

    /// A plain unsigned GET to the admin port.
    pub async fn admin_get(&self, path: &str) -> Resp {
        let uri = format!("http://{}{}", self.admin, path);
        let request = http::Request::get(uri)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = self.http.request(request).await.expect("admin request");
        Resp::collect(response).await
    }

    /// Sends an unsigned request to an exact URL (e.g. a presigned one).
    pub async fn send_url(&self, method: &str, url: &str, body: impl Into<Bytes>) -> Resp {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(body.into()))
            .unwrap();
        let response = self.http.request(request).await.expect("request");
        let resp = Resp::collect(response).await;
        resp.assert_oss_headers();
        resp
    }

    /// Creates a bucket and asserts it worked.
    pub async fn create_bucket(&self, bucket: &str) {
        let resp = self.req("PUT", Some(bucket), None).send().await;
        assert_eq!(resp.status, StatusCode::OK, "PutBucket: {}", resp.text());
    }

    /// Stores an object and asserts it worked.
    pub async fn put_object(&self, bucket: &str, key: &str, data: impl Into<Bytes>) -> Resp {
        let resp = self
            .req("PUT", Some(bucket), Some(key))
            .body(data)
            .send()
            .await;
        assert_eq!(resp.status, StatusCode::OK, "PutObject: {}", resp.text());
        resp
    }

    /// The path, query and headers of a signed request, for raw TCP tests.
    pub fn signed_parts(
        &self,
        method: &str,
        bucket: Option<&str>,
        key: Option<&str>,
        mut query: Vec<(String, String)>,
        mut headers: HeaderMap,
    ) -> (String, HeaderMap) {
        let mut req = SignableRequest::new(method, bucket, key, &mut query, &mut headers);
        sign_v1_header(&mut req, &Credentials::new(AK, SK), SystemTime::now()).expect("signing");
        (target(bucket, key, &query), headers)
    }

    /// Opens a raw TCP connection to the API port.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connecting to coffer");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- coffer log ----\n{}---- end of log ----", self.log());
        }
    }
}

/// `/bucket/key?query`, encoded the way the SDKs encode it.
pub fn target(bucket: Option<&str>, key: Option<&str>, query: &[(String, String)]) -> String {
    let mut target = encode_path(bucket, key);
    if !query.is_empty() {
        target.push('?');
        target.push_str(&encode_query(query));
    }
    target
}

/// How a request proves who sent it.
#[derive(Debug, Clone, Copy)]
pub enum Sign {
    Anonymous,
    V1,
    V4,
    /// V1 presigned URL expiring at the given time.
    PresignV1 {
        expires_at: SystemTime,
    },
    /// V4 presigned URL signed at `at`, valid for `expires_in`.
    PresignV4 {
        at: SystemTime,
        expires_in: Duration,
    },
}

/// A request being built.
pub struct Req<'s> {
    server: &'s TestServer,
    method: Method,
    bucket: Option<String>,
    key: Option<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
    sign: Sign,
    ak: String,
    sk: String,
}

impl Req<'_> {
    /// Adds a query parameter; an empty value gives a bare name (`?acl`).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
            HeaderValue::from_str(value).expect("valid header value"),
        );
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    pub fn sign(mut self, sign: Sign) -> Self {
        self.sign = sign;
        self
    }

    pub fn credentials(mut self, ak: &str, sk: &str) -> Self {
        self.ak = ak.to_owned();
        self.sk = sk.to_owned();
        self
    }

    /// Signs the request and returns its target (`/bucket/key?query`) and headers.
    fn signed(mut self) -> (Self, String) {
        let creds = Credentials::new(&self.ak, &self.sk);
        let now = SystemTime::now();
        let method = self.method.as_str().to_owned();
        let mut req = SignableRequest::new(
            &method,
            self.bucket.as_deref(),
            self.key.as_deref(),
            &mut self.query,
            &mut self.headers,
        );
        match self.sign {
            Sign::Anonymous => {}
            Sign::V1 => {
                sign_v1_header(&mut req, &creds, now).expect("V1 signing");
            }
            Sign::V4 => {
                sign_v4_header(&mut req, &creds, REGION, now, &[]).expect("V4 signing");
            }
            Sign::PresignV1 { expires_at } => {
                presign_v1(&mut req, &creds, expires_at).expect("V1 presigning");
            }
            Sign::PresignV4 { at, expires_in } => {
                presign_v4(&mut req, &creds, REGION, at, expires_in, &[]).expect("V4 presigning");
            }
        }
        let target = target(self.bucket.as_deref(), self.key.as_deref(), &self.query);
        (self, target)
    }

    /// The URL a presigned request would be shared as.
    pub fn url(self) -> String {
        let (req, target) = self.signed();
        format!("http://{}{}", req.server.addr, target)
    }

    /// Sends the request and checks the headers every OSS response carries.
    pub async fn send(self) -> Resp {
        let (req, target) = self.signed();
        let uri = format!("http://{}{}", req.server.addr, target);
        let mut builder = http::Request::builder().method(req.method.clone()).uri(uri);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(req.body.clone())).unwrap();
        let response = req
            .server
            .http
            .request(request)
            .await
            .unwrap_or_else(|e| panic!("{} {target}: {e:?}", req.method));
        let resp = Resp::collect(response).await;
        resp.assert_oss_headers();
        resp
    }

    /// Like [`Req::send`], but a connection cut mid-body is an `Err`, not a panic.
    #[allow(dead_code)]
    pub async fn send_lenient(self) -> Result<Resp, String> {
        let (req, target) = self.signed();
        let uri = format!("http://{}{}", req.server.addr, target);
        let mut builder = http::Request::builder().method(req.method.clone()).uri(uri);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(req.body.clone())).unwrap();
        let response = req
            .server
            .http
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A complete response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    async fn collect(response: http::Response<hyper::body::Incoming>) -> Resp {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("reading the body").to_bytes();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }

    /// `x-oss-request-id` (24 upper-case hex) and `Server: AliyunOSS`.
    pub fn assert_oss_headers(&self) {
        let id = self
            .header("x-oss-request-id")
            .unwrap_or_else(|| panic!("no x-oss-request-id on {self:?}"));
        assert!(is_request_id(id), "bad x-oss-request-id {id:?}");
        assert_eq!(self.header("server"), Some("AliyunOSS"), "{self:?}");
    }

    /// Asserts an OSS error response: status, XML body with `<Code>`, `x-oss-ec` header.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {code}, got {} {}",
            self.status,
            self.text()
        );
        let body = self.text();
        assert!(
            body.contains("<Error>") && body.contains(&format!("<Code>{code}</Code>")),
            "expected error code {code}, got {body}"
        );
        assert_eq!(self.header("content-type"), Some("application/xml"));
        let request_id = self.header("x-oss-request-id").unwrap_or_default();
        assert!(
            body.contains(&format!("<RequestId>{request_id}</RequestId>")),
            "error body does not name the request id: {body}"
        );
        assert!(self.header("x-oss-ec").is_some(), "no x-oss-ec header");
    }

    /// The text of the first `<name>` element.
    pub fn xml_value(&self, name: &str) -> Option<String> {
        xml_value(&self.text(), name)
    }
}

pub fn is_request_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
}

/// The text of the first `<name>` element in `xml`.
pub fn xml_value(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml[start..end].to_owned())
}

/// `"UPPERHEXMD5"`, the ETag of a simple upload.
pub fn etag_of(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("\"{hex}\"")
}

/// Base64 of the binary MD5, as sent in `Content-MD5`.
pub fn content_md5(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

/// CRC-64/XZ, the checksum OSS calls crc64ecma.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, data)
}

/// Deterministic non-repeating-looking test data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(seed);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes the request head: request line, `Host`, the given headers, blank line.
pub fn write_head(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &HeaderMap,
) -> std::io::Result<()> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\n",
        stream.peer_addr()?
    );
    for (name, value) in headers {
        head.push_str(name.as_str());
        head.push_str(": ");
        head.push_str(value.to_str().expect("ASCII header"));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

/// Reads one response: head, then a body of `Content-Length` bytes (or until EOF).
pub fn read_response(stream: &mut TcpStream) -> std::io::Result<RawResponse> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "connection closed before a full response head: {:?}",
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    match length {
        Some(length) => {
            while body.len() < length {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(length);
        }
        None if status == 204 || status == 304 => {}
        None => {
            stream.read_to_end(&mut body)?;
        }
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}
