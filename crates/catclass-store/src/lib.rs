//! Storage and file formats of catclass-svm.
//!
//! * [`Location`]: a local folder, `file://`, `s3://bucket/prefix` or `memory://name/prefix`,
//!   all through [`object_store`] (one code path for every store).
//! * [`feature_json`]: the original program's feature files (one bare JSON array per image).
//! * [`FeatureCatalog`]: a folder of feature files listed once, classes derived from names,
//!   read with bounded concurrency and parsed as they arrive.
//! * [`shard`]: many feature vectors in one `safetensors` file, read with ranged GETs.
//! * [`documents`]: JSON and text documents (model, report) written atomically.
//!
//! The API is `async`; [`block_on`] runs it from synchronous code on a shared runtime.

pub mod documents;
pub mod error;
pub mod feature_json;
pub mod features;
pub mod location;
pub mod s3;
pub mod shard;

pub use error::{Result, StoreError};
pub use features::{
    FeatureCatalog, FeatureEntry, FeatureFormat, FeatureMatrix, FeatureSet, FeatureSource, class_of,
};
pub use location::{Location, LocationKind, StoreOptions};
pub use s3::{S3Credentials, S3Failure, S3FailureKind, S3Options};
pub use shard::{FeatureModel, SHARD_FILE, ShardHeader};

use std::sync::OnceLock;

/// The runtime behind [`block_on`]: multi-threaded, one worker per core.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("catclass-io")
            .build()
            .expect("cannot start the I/O runtime")
    })
}

/// Runs a future of this crate to completion from synchronous code (not from inside an async
/// runtime: call the `async` API there).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
}
