//! Storage and file formats of catclass-svm.
//!
//! * [`Location`]: a prefix inside any [`object_store::ObjectStore`] the caller built
//!   ([`Location::in_store`]), or a local folder or S3 bucket built here (one code path for
//!   every store).
//! * [`feature_json`]: the original program's feature files (one bare JSON array per image).
//! * [`FeatureCatalog`]: a folder of feature files listed once, classes derived from names,
//!   read with bounded concurrency and parsed as they arrive.
//! * [`shard`]: many feature vectors in one `safetensors` file, read with ranged GETs.
//! * [`documents`]: JSON and text documents (model, report) written atomically.
//!
//! The API is `async` and runs on the caller's tokio runtime (reads are spawned on it).
#![deny(missing_docs)]

/// The README's example, compiled and run as a test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod documents;
pub mod error;
pub mod feature_json;
pub mod features;
pub mod location;
pub mod options;
pub mod s3;
pub mod shard;

pub use error::{Result, StoreError};
pub use features::{
    FeatureCatalog, FeatureEntry, FeatureFormat, FeatureSet, FeatureSource, Values, class_of,
};
pub use location::{Location, LocationKind};
pub use options::StoreOptions;
pub use s3::{S3Credentials, S3Failure, S3FailureKind, S3Options};
pub use shard::{FeatureModel, SHARD_FILE, ShardHeader};
