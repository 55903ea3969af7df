//! The fixed workload of the instruction-count regression guard (`bench/guard/run.sh`).
//!
//! It runs in-process, without network, files, threads, randomness or clock reads, so that
//! callgrind counts the same instructions on every run:
//!
//! 0. setup: builds the 4 MiB plaintext, signs 50 distinct V4 PUT requests (the client side)
//!    and builds a 1,000-key listing page, plain and with `encode_url`;
//! 1. seals 64 packages of 64 KiB (one 4 MiB segment) with AES-256-GCM and opens them again;
//! 2. the same with SM4-GCM;
//! 3. verifies 1,000 V4 signatures (each of the 50 requests 20 times) with
//!    `coffer_oss::auth::authenticate` (async; its in-memory key lookup is ready at the
//!    first poll, so each future is polled once, with no executor to count);
//! 4. renders the 1,000-key ListObjects (V1) document without encoding;
//! 5. renders it again with `encoding-type=url`;
//! 6. routes 1,000 small requests (the usual object, part and listing calls) through the
//!    operation allow-list, `coffer_oss::operation::route`.
//!
//! Each step is a `guard_*` function that is never inlined. `run.sh` has callgrind dump its
//! counters when each one returns (`--dump-after`), which gives every step its own exact
//! instruction count next to the total.
//!
//! The SM4 backend is chosen by CPU detection, as in the server. Under valgrind the CPU is
//! valgrind's model (a Haswell-class CPU with AVX2 and AES-NI on any AVX2 host), which
//! reports no AVX-512, GFNI, VAES or SHA extensions, so detection picks `Avx2` there (and ring
//! its AES-NI + PCLMULQDQ path, sha2 its portable SHA-256), and no VPCLMULQDQ, so SM4-GCM's
//! GHASH falls back to RustCrypto `ghash`; the program prints the SM4 and GHASH backends so
//! that the guard can tell when a count was taken with different ones.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use coffer_api::identity::{SecretKey, SecretLookup};
use coffer_crypto::ghash::GhashBackend;
use coffer_crypto::package::{HEADER_LEN, PACKAGE_PLAINTEXT};
use coffer_crypto::sm4::Sm4Backend;
use coffer_crypto::{CipherSuite, DataKey, PackageOpener, PackageSealer, SegmentKey};
use coffer_oss::Operation;
use coffer_oss::auth::signer::{Credentials, SignableRequest, sign_v4_header};
use coffer_oss::auth::{AuthContext, Principal, RequestParts};
use coffer_oss::operation::route;
use coffer_oss::router::{Query, Target};
use coffer_oss::xml::{ListBucketResultV1, ObjectSummary, Owner};
use futures_util::FutureExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// Packages per segment: 64 × 64 KiB = 4 MiB per cipher suite.
const PACKAGES: usize = 64;
/// Distinct signed requests, and how often each is verified (1,000 verifications).
const SIGNED_REQUESTS: usize = 50;
const VERIFICATIONS_EACH: usize = 20;
/// Rounds over the ten routing cases (1,000 routed requests).
const ROUTE_ROUNDS: usize = 100;
/// Keys in the rendered listing.
const LISTING_KEYS: usize = 1_000;

const ACCESS_KEY_ID: &str = "LTAI5tGuardAccessKey01";
const SECRET: &str = "GuardSecretKeyForInstructionCounts0001";
const REGION: &str = "cn-hangzhou";
const BUCKET: &str = "guard-bucket";
/// 2023-11-14T22:13:20Z: the signing time; the verifier's "now" is 42 s later.
const SIGN_TIME_SECS: u64 = 1_700_000_000;

fn main() {
    let input = guard_setup();
    let aes = guard_seal_open_aes(&input.plaintext);
    let sm4 = guard_seal_open_sm4(&input.plaintext);
    let verified = guard_v4_verify(&input.requests);
    let plain = guard_xml_plain(&input.listing);
    let encoded = guard_xml_url(&input.listing_url);
    let routed = guard_route(&input.routes);

    println!("sm4_backend {:?}", Sm4Backend::detect());
    println!("ghash_backend {:?}", GhashBackend::detect());
    println!("sealed_bytes aes={aes} sm4={sm4}");
    println!("v4_verified {verified}");
    println!("xml_bytes plain={plain} url={encoded}");
    println!("routed {routed}");
}

/// The fixed inputs of every step.
struct Input {
    plaintext: Vec<u8>,
    requests: Vec<SignedRequest>,
    listing: ListBucketResultV1,
    /// The same page with `encoding-type=url`.
    listing_url: ListBucketResultV1,
    routes: Vec<RouteCase>,
}

/// One request as the router sees it, and the operation it must reach.
struct RouteCase {
    method: Method,
    target: Target,
    query: Query,
    copy_source: bool,
    want: Operation,
}

/// One signed request: what the verifier sees.
struct SignedRequest {
    key: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
}

#[inline(never)]
fn guard_setup() -> Input {
    let plaintext = (0..PACKAGES * PACKAGE_PLAINTEXT)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 11)) as u8)
        .collect();
    let listing = listing();
    Input {
        plaintext,
        requests: signed_requests(),
        routes: route_cases(),
        listing_url: ListBucketResultV1 {
            encode_url: true,
            ..listing.clone()
        },
        listing,
    }
}

#[inline(never)]
fn guard_seal_open_aes(plaintext: &[u8]) -> usize {
    seal_open(CipherSuite::Aes256Gcm, plaintext)
}

#[inline(never)]
fn guard_seal_open_sm4(plaintext: &[u8]) -> usize {
    seal_open(CipherSuite::Sm4Gcm, plaintext)
}

/// Seals `plaintext` as one segment, package by package, then opens every package and
/// checks it. Returns the stored size.
fn seal_open(suite: CipherSuite, plaintext: &[u8]) -> usize {
    let key = || SegmentKey::derive(&DataKey::from_bytes([0x42; 32]), &[0x17; 16], suite, 3);

    let mut sealer = PackageSealer::new(key());
    let mut stored = Vec::with_capacity(PACKAGES * (PACKAGE_PLAINTEXT + 64));
    let packages = plaintext.len().div_ceil(PACKAGE_PLAINTEXT);
    for (i, chunk) in plaintext.chunks(PACKAGE_PLAINTEXT).enumerate() {
        sealer.seal_into(black_box(chunk), i + 1 == packages, &mut stored);
    }
    assert!(sealer.is_finished());
    let stored_len = stored.len();

    let mut opener = PackageOpener::new(key(), 0);
    let mut rest = stored.as_mut_slice();
    let mut offset = 0;
    while !rest.is_empty() {
        let header: [u8; HEADER_LEN] = rest[..HEADER_LEN].try_into().expect("header");
        let len = opener.package_len(&header).expect("well-formed header");
        let (package, tail) = rest.split_at_mut(len);
        let opened = opener.open(package).expect("authentic package");
        assert_eq!(opened, &plaintext[offset..offset + opened.len()]);
        offset += opened.len();
        rest = tail;
    }
    assert!(opener.is_finished() && offset == plaintext.len());
    stored_len
}

/// Verifies every signed request 20 times; returns how many verifications accepted it
/// (all of them).
#[inline(never)]
fn guard_v4_verify(requests: &[SignedRequest]) -> usize {
    let ctx = AuthContext {
        region: REGION.to_owned(),
        now: sign_time() + Duration::from_secs(42),
    };
    let mut accepted = 0;
    for _ in 0..VERIFICATIONS_EACH {
        for r in requests {
            let parts = RequestParts {
                method: "PUT",
                bucket: Some(BUCKET),
                key: Some(&r.key),
                query: &r.query,
                headers: &r.headers,
            };
            let verified = coffer_oss::auth::authenticate(black_box(&parts), &Keys, &ctx)
                .now_or_never()
                .expect("an in-memory lookup is ready at once");
            match verified {
                Ok(Principal::AccessKey { access_key_id }) if access_key_id == ACCESS_KEY_ID => {
                    accepted += 1;
                }
                other => panic!("signature of {} not accepted: {other:?}", r.key),
            }
        }
    }
    accepted
}

#[inline(never)]
fn guard_xml_plain(listing: &ListBucketResultV1) -> usize {
    assert!(!listing.encode_url);
    black_box(listing).to_xml().len()
}

#[inline(never)]
fn guard_xml_url(listing: &ListBucketResultV1) -> usize {
    assert!(listing.encode_url);
    black_box(listing).to_xml().len()
}

/// Routes every case `ROUTE_ROUNDS` times; returns how many reached their operation (all).
#[inline(never)]
fn guard_route(cases: &[RouteCase]) -> usize {
    let mut reached = 0;
    for _ in 0..ROUTE_ROUNDS {
        for c in cases {
            let got = route(&c.method, black_box(&c.target), &c.query, c.copy_source);
            assert_eq!(got.ok(), Some(c.want), "{} {:?}", c.method, c.query);
            reached += 1;
        }
    }
    reached
}

/// Ten requests as the SDKs send them, V1-signed presigned queries included.
fn route_cases() -> Vec<RouteCase> {
    let object = || Target {
        bucket: Some(BUCKET.to_owned()),
        key: Some("logs/2023/11/14/part-00001.json.gz".to_owned()),
    };
    let bucket = || Target {
        bucket: Some(BUCKET.to_owned()),
        key: None,
    };
    let case = |method, target, query: &str, copy_source, want| RouteCase {
        method,
        target,
        query: Query::parse(Some(query)).expect("query"),
        copy_source,
        want,
    };
    vec![
        case(Method::GET, object(), "", false, Operation::GetObject),
        case(Method::HEAD, object(), "", false, Operation::HeadObject),
        case(Method::PUT, object(), "", false, Operation::PutObject),
        case(Method::DELETE, object(), "", false, Operation::DeleteObject),
        case(Method::PUT, object(), "", true, Operation::CopyObject),
        case(
            Method::GET,
            object(),
            "OSSAccessKeyId=LTAI5t&Expires=1700000000&Signature=abc%3D&response-content-type=text%2Fplain",
            false,
            Operation::GetObject,
        ),
        case(
            Method::PUT,
            object(),
            "partNumber=3&uploadId=0004B9894A22E5B1888A1E29F823",
            false,
            Operation::UploadPart,
        ),
        case(
            Method::POST,
            object(),
            "append&position=4096",
            false,
            Operation::AppendObject,
        ),
        case(
            Method::GET,
            bucket(),
            "list-type=2&prefix=logs%2F&delimiter=%2F&max-keys=100&continuation-token=abc",
            false,
            Operation::ListObjectsV2,
        ),
        case(Method::GET, bucket(), "acl", false, Operation::GetBucketAcl),
    ]
}

/// PUTs of distinct keys signed with V4, `host` as an additional signed header, as the
/// SDKs send them.
fn signed_requests() -> Vec<SignedRequest> {
    let creds = Credentials::new(ACCESS_KEY_ID, SECRET);
    (0..SIGNED_REQUESTS)
        .map(|i| {
            let key = format!("logs/2023/11/14/host-{:02}/part-{i:05}.json.gz", i % 17);
            let mut query = Vec::new();
            let mut headers = HeaderMap::new();
            for (name, value) in [
                ("host", format!("{BUCKET}.oss-{REGION}.aliyuncs.com")),
                ("content-type", "application/gzip".to_owned()),
                ("content-length", (4096 + i).to_string()),
                ("x-oss-meta-source", format!("collector-{}", i % 7)),
                ("x-oss-server-side-encryption", "SM4".to_owned()),
            ] {
                headers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value).expect("header value"),
                );
            }
            let mut req =
                SignableRequest::new("PUT", Some(BUCKET), Some(&key), &mut query, &mut headers);
            sign_v4_header(&mut req, &creds, REGION, sign_time(), &["host"]).expect("signed");
            SignedRequest {
                key,
                query,
                headers,
            }
        })
        .collect()
}

/// A truncated 1,000-key page: path-like keys, one in ten with a space and non-ASCII.
fn listing() -> ListBucketResultV1 {
    let owner = Owner {
        id: "1234567890123456".to_owned(),
        display_name: "1234567890123456".to_owned(),
    };
    let contents: Vec<ObjectSummary> = (0..LISTING_KEYS)
        .map(|i| ObjectSummary {
            key: if i % 10 == 9 {
                format!("photos/2023/11/Ausflug Zürich {i:04}.jpg")
            } else {
                format!("photos/2023/11/IMG_{i:04}.jpg")
            },
            last_modified: format!("2023-11-14T22:{:02}:{:02}.000Z", i / 60 % 60, i % 60),
            etag: format!(
                "\"{:032X}\"",
                (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ),
            object_type: "Normal".to_owned(),
            size: 1_000_000 + i as u64 * 37,
            storage_class: "Standard".to_owned(),
            owner: Some(owner.clone()),
        })
        .collect();
    ListBucketResultV1 {
        name: BUCKET.to_owned(),
        prefix: "photos/2023/".to_owned(),
        marker: String::new(),
        max_keys: LISTING_KEYS as u32,
        delimiter: String::new(),
        encode_url: false,
        is_truncated: true,
        next_marker: contents.last().map(|c| c.key.clone()),
        contents,
        common_prefixes: Vec::new(),
    }
}

fn sign_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(SIGN_TIME_SECS)
}

/// The guard's one access key.
struct Keys;

#[async_trait::async_trait]
impl SecretLookup for Keys {
    async fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        (access_key_id == ACCESS_KEY_ID).then(|| SecretKey::new(SECRET.to_owned()))
    }
}
