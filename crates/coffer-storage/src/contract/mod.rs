//! Behaviour suites for the storage traits, run against every implementation.
//!
//! A store is correct when it passes [`meta::meta_store_contract`] or
//! [`blob::blob_store_contract`]; the embedded stores run them in their own tests, and a
//! new store (PostgreSQL metadata, an S3-compatible blob backend) runs the same suites
//! from its crate with the `testing` feature. Store-specific facts (files on disk, crash
//! windows, reopening) stay in the store's own tests.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

pub mod blob;
pub mod meta;

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

/// Whatever must outlive a store under test (a temporary folder, a server process).
pub type Keep = Box<dyn Any + Send>;

/// A fresh, empty store and what keeps it alive.
pub type Fresh<S> = (Keep, Arc<S>);

/// Runs one named check, so that a failure says which part of the contract broke.
async fn check(name: &str, run: impl Future<Output = ()>) {
    struct Named<'a>(&'a str);
    impl Drop for Named<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("storage contract check failed: {}", self.0);
            }
        }
    }
    let _named = Named(name);
    run.await;
}
