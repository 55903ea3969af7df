//! Verifying V1 (HMAC-SHA1) and V4 (HMAC-SHA256, derived signing key) signatures: the
//! per-request cost of authentication. Each request is signed once with
//! `coffer_oss::auth::signer`, then `coffer_oss::auth::authenticate` runs on it.
//!
//! cargo bench -p coffer-oss --bench signatures -- --warm-up-time 1 --measurement-time 2

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use coffer_api::identity::{SecretKey, SecretLookup};
use coffer_oss::auth::signer::{
    Credentials, SignableRequest, presign_v1, presign_v4, sign_v1_header, sign_v4_header,
};
use coffer_oss::auth::{AuthContext, AuthError, Principal, RequestParts};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};

const ACCESS_KEY_ID: &str = "LTAI5tBenchAccessKey0001";
const SECRET: &str = "BenchSecretKeyForSignatureVerification01";
const REGION: &str = "cn-hangzhou";
const BUCKET: &str = "examplebucket";
const KEY: &str = "photos/2023/11/14/IMG_0042.jpg";
/// 2023-11-14T22:13:20Z.
const SIGN_TIME_SECS: u64 = 1_700_000_000;

/// The server's one access key.
struct Keys;

#[async_trait::async_trait]
impl SecretLookup for Keys {
    async fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        (access_key_id == ACCESS_KEY_ID).then(|| SecretKey::new(SECRET.to_owned()))
    }
}

/// Runs the verification: [`Keys`] answers from memory, so the future is ready at its first
/// poll and no executor is needed (nor measured).
fn authenticate(
    parts: &RequestParts<'_>,
    keys: &Keys,
    ctx: &AuthContext,
) -> Result<Principal, AuthError> {
    futures_util::FutureExt::now_or_never(coffer_oss::auth::authenticate(parts, keys, ctx))
        .expect("an in-memory lookup is ready at once")
}

/// A request as the verifier sees it.
struct Signed {
    query: Vec<(String, String)>,
    headers: HeaderMap,
}

impl Signed {
    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: "PUT",
            bucket: Some(BUCKET),
            key: Some(KEY),
            query: &self.query,
            headers: &self.headers,
        }
    }
}

/// The headers an SDK sends with a PUT of a 1 MiB JPEG with user metadata.
fn put_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "examplebucket.oss-cn-hangzhou.aliyuncs.com"),
        ("content-type", "image/jpeg"),
        ("content-length", "1048576"),
        ("content-md5", "eB5eJF1ptWaXm4bijSPyxw=="),
        (
            "user-agent",
            "aliyun-sdk-python/2.18.4(Linux/6.1/x86_64;3.11.2)",
        ),
        ("x-oss-meta-camera", "X-T5"),
        ("x-oss-meta-album", "Zurich trip"),
        ("x-oss-server-side-encryption", "AES256"),
        ("x-oss-storage-class", "Standard"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers
}

fn signed(sign: impl FnOnce(&mut SignableRequest<'_>, &Credentials<'_>)) -> Signed {
    let mut query = Vec::new();
    let mut headers = put_headers();
    let mut req = SignableRequest::new("PUT", Some(BUCKET), Some(KEY), &mut query, &mut headers);
    sign(&mut req, &Credentials::new(ACCESS_KEY_ID, SECRET));
    Signed { query, headers }
}

fn sign_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(SIGN_TIME_SECS)
}

fn signatures(c: &mut Criterion) {
    let ctx = AuthContext {
        region: REGION.to_owned(),
        now: sign_time() + Duration::from_secs(1),
    };
    let cases = [
        (
            "v1-header",
            signed(|req, creds| {
                sign_v1_header(req, creds, sign_time()).expect("signed");
            }),
        ),
        (
            "v4-header",
            signed(|req, creds| {
                sign_v4_header(req, creds, REGION, sign_time(), &["host"]).expect("signed");
            }),
        ),
        (
            "v1-presigned",
            signed(|req, creds| {
                presign_v1(req, creds, sign_time() + Duration::from_secs(3600)).expect("signed");
            }),
        ),
        (
            "v4-presigned",
            signed(|req, creds| {
                presign_v4(
                    req,
                    creds,
                    REGION,
                    sign_time(),
                    Duration::from_secs(3600),
                    &["host"],
                )
                .expect("signed");
            }),
        ),
    ];

    let mut group = c.benchmark_group("verify");
    for (name, request) in &cases {
        let parts = request.parts();
        assert_eq!(
            authenticate(&parts, &Keys, &ctx),
            Ok(Principal::AccessKey {
                access_key_id: ACCESS_KEY_ID.to_owned()
            }),
            "{name} must verify"
        );
        group.bench_function(*name, |b| {
            b.iter(|| authenticate(black_box(&parts), &Keys, &ctx))
        });
    }
    group.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
