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
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use catclass_store::{FeatureSet, Location, Values};
//! // Any object store: here object_store's in-memory one.
//! let store = Arc::new(object_store::memory::InMemory::new());
//! let rows = FeatureSet {
//!     names: vec!["cat_1.jpg.json".into(), "dog_1.jpg.json".into()],
//!     classes: vec!["cat".into(), "dog".into()],
//!     dim: 2,
//!     values: Values::F32(vec![1.0, 0.0, 0.0, 1.0]),
//! };
//! rows.write_json_files(&Location::in_store(store.clone(), "mem", "features"), 8).await?;
//! assert_eq!(FeatureSet::read(store, "features").await?, rows);
//! # Ok::<(), catclass_store::StoreError>(()) }).unwrap();
//! ```
#![deny(missing_docs)]

/// The README's example, compiled and run as a test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod cache;
pub mod documents;
pub mod error;
pub mod feature_json;
pub mod features;
pub mod location;
pub mod options;
pub mod s3;
pub mod shard;

pub use cache::{CacheUse, FeatureCache};
pub use error::{Result, StoreError};
pub use features::{
    FeatureCatalog, FeatureEntry, FeatureFormat, FeatureSet, FeatureSource, Values, class_of,
};
pub use location::{Listing, Location, LocationKind};
pub use options::StoreOptions;
pub use s3::{S3Credentials, S3Failure, S3FailureKind, S3Options};
pub use shard::{FeatureModel, SHARD_FILE, ShardHeader};
