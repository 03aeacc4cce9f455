//! Test support: one tokio runtime for the test binary, and locations from short strings
//! (`s3://bucket/prefix` or a folder), as a caller would build them.
#![allow(dead_code)] // each test file uses some of them

use catclass_store::{Location, StoreError, StoreOptions};
use std::sync::OnceLock;

/// Runs `f` on the test binary's runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    })
    .block_on(f)
}

fn location(spec: &str, opts: &StoreOptions, create: bool) -> Result<Location, StoreError> {
    match spec.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            Location::s3(bucket, prefix, opts)
        }
        None => Location::local(spec, create),
    }
}

/// An existing location.
pub fn open(spec: &str, opts: &StoreOptions) -> Result<Location, StoreError> {
    location(spec, opts, false)
}

/// A location to write to (a folder is made).
pub fn create(spec: &str, opts: &StoreOptions) -> Result<Location, StoreError> {
    location(spec, opts, true)
}
