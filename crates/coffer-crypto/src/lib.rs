//! Coffer's encryption: the sealed-package format and the ciphers behind it.
//!
//! Pure computation, no I/O. An encrypted object is a list of segments (one per PUT, part
//! or append); each segment is stored as a run of fixed-size authenticated *packages*
//! (see [`package`]). Every segment has its own key, derived from the object's data key
//! (see [`keys`]), and the wrapped data key travels in the object's [`Envelope`]. A key
//! the client supplies (SSE-C, [`CustomerKey`]) is used as the data key and never stored:
//! the envelope keeps only a [`KeyVerifier`].
//! The format is specified, with test vectors, in `docs/encryption-format.md`.

mod cipher;
mod customer_key;
mod envelope;
pub mod ghash;
pub mod keys;
pub mod package;
pub mod sm4;

pub use cipher::{Aes256GcmKey, CipherSuite, Tampered};
pub use customer_key::{CustomerKey, InvalidCustomerKey, KeyVerifier};
pub use envelope::{Envelope, SseMethod};
pub use keys::{DataKey, SegmentKey};
pub use package::{PACKAGE_OVERHEAD, PACKAGE_PLAINTEXT, PackageOpener, PackageSealer};
