//! What every wire dialect of Coffer shares, and nothing any one of them says.
//!
//! A dialect (the OSS API in `coffer-oss`, the S3 API later) plugs in here; this crate
//! knows no header name, XML document, signature scheme or error code of any of them.

pub mod identity;
