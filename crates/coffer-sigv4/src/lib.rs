//! One SigV4 canonicaliser for every dialect Coffer speaks.
//!
//! OSS V4 (`OSS4-HMAC-SHA256`, oss-api.md §3.4–3.5) and AWS Signature Version 4
//! (`AWS4-HMAC-SHA256`) are the same algorithm in different words: a canonical request, a
//! string to sign over its hash, and an HMAC chain from the secret through date, region,
//! service and a terminator. The words, and the few rules that differ (which headers are
//! signed without being listed, how an empty query value is written, how header values are
//! normalised), are facts of a [`Vocabulary`]: [`OSS`] or [`AWS`]. Nothing here branches on
//! the dialect.
//!
//! The crate is pure: no I/O, no clock, no key store. Verifiers compare signatures themselves
//! (in constant time); signers decide which headers to list and set the date headers.
//!
//! ```
//! use coffer_sigv4::{OSS, Request};
//!
//! let headers = http::HeaderMap::new();
//! let req = Request { method: "GET", path: "/bucket/key", query: &[], headers: &headers };
//! let canonical = OSS.canonical_request(&req, &[], "UNSIGNED-PAYLOAD");
//! let scope = OSS.scope("20231216", "cn-hangzhou");
//! let sts = OSS.string_to_sign("20231216T162057Z", &OSS.scope_string(&scope), &canonical);
//! assert_eq!(OSS.signature("sk", &scope, &sts).len(), 64);
//! ```

mod canonical;
mod signing;
mod vocabulary;

pub use canonical::{Request, encode_path, encode_query_component, header_block};
pub use signing::Scope;
pub use vocabulary::{
    AWS, EmptyQueryValue, HeaderValueRule, OSS, QueryNames, Vocabulary, normalize_header_names,
};

/// The payload hash of a request whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
