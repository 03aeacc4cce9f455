//! Errors of the store: each names the location, file or key it is about.

use crate::feature_json::FeatureFileError;
use crate::s3::{S3Failure, S3FailureKind};

/// A storage or format error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The location string could not be understood.
    #[error("invalid location {location:?}: {reason}")]
    InvalidLocation {
        /// What was given.
        location: String,
        /// Why it is refused.
        reason: String,
    },
    /// An object larger than what its kind may be (checked before and while reading).
    #[error("{location}: {size} bytes or more, over the {max} allowed for {what}")]
    TooLarge {
        /// Full location of the object.
        location: String,
        /// Its size (or the bytes read when the reading stopped).
        size: u64,
        /// The limit.
        max: u64,
        /// What kind of object (e.g. "a feature file").
        what: &'static str,
    },
    /// A folder, prefix or object that does not exist.
    #[error("{location}: not found")]
    NotFound {
        /// Full location of what is missing.
        location: String,
    },
    /// A folder or prefix with no feature file in it.
    #[error("{location}: no feature files (*.json) found")]
    NoFeatureFiles {
        /// The folder or prefix.
        location: String,
    },
    /// A feature file that could not be parsed.
    #[error("{file}: {source}")]
    FeatureFile {
        /// Full location of the file.
        file: String,
        /// What is wrong with it.
        source: FeatureFileError,
    },
    /// A feature file whose length differs from the others.
    #[error("{file}: {found} values, but {reference} has {expected}")]
    DimensionMismatch {
        /// The odd file.
        file: String,
        /// Its length.
        found: usize,
        /// The length of the reference file.
        expected: usize,
        /// The reference file (the first one read).
        reference: String,
    },
    /// A file name from which no class can be derived.
    #[error("{file}: cannot derive a class from the file name (expected <class>_<id>...json)")]
    BadFileName {
        /// Full location of the file.
        file: String,
    },
    /// A class asked for that is not in the data.
    #[error("unknown class {class:?} in {location}; known classes: {}", known.join(", "))]
    UnknownClass {
        /// The class asked for.
        class: String,
        /// Where the features are.
        location: String,
        /// Classes found there.
        known: Vec<String>,
    },
    /// A feature shard that is not valid.
    #[error("{file}: not a valid feature shard: {problem}")]
    BadShard {
        /// Full location of the shard.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// Features asked in a format the location does not hold.
    #[error("{location}: {problem}")]
    FeatureFormat {
        /// The folder or prefix.
        location: String,
        /// What is missing or inconsistent.
        problem: String,
    },
    /// A JSON document (model, report) that could not be read.
    #[error("{file}: {reason}")]
    Document {
        /// Full location of the file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// An error from the object store, with the location it concerns.
    #[error("{location}: {source}")]
    Object {
        /// Full location (path or URL with key).
        location: String,
        /// The underlying error.
        source: object_store::Error,
    },
    /// An S3 bucket that does not exist.
    #[error("{location}: bucket {bucket:?} does not exist")]
    NoSuchBucket {
        /// What was asked for (`s3://bucket/key`).
        location: String,
        /// The missing bucket.
        bucket: String,
    },
    /// An S3 request that failed (credentials, access, server unreachable after the retries),
    /// explained on one line.
    #[error("{location}: {reason}")]
    S3 {
        /// What was asked for (`s3://bucket/key`).
        location: String,
        /// What kind of failure.
        kind: S3FailureKind,
        /// The explanation.
        reason: String,
    },
    /// An object read whose number of bytes is not the one expected (its listed size, or the
    /// length of the range asked): a response cut short or garbled on the way, or an object
    /// changed while being read. Never taken for the object.
    #[error(
        "{location}: {received} bytes received, but {expected} expected ({expected_from}): \
         the response was cut short or the object changed while being read"
    )]
    LengthMismatch {
        /// Full location of the object.
        location: String,
        /// Bytes received.
        received: u64,
        /// Bytes expected.
        expected: u64,
        /// Where the expected number comes from ("its listed size", "the range asked").
        expected_from: &'static str,
    },
    /// A local I/O error.
    #[error("{location}: {source}")]
    Io {
        /// The path.
        location: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Wraps an object store error for `location`, turning "not found" into [`StoreError::NotFound`].
    pub fn object(location: impl Into<String>, source: object_store::Error) -> Self {
        let location = location.into();
        match source {
            object_store::Error::NotFound { .. } => StoreError::NotFound { location },
            source => StoreError::Object { location, source },
        }
    }
}

impl StoreError {
    /// Explains an S3 error about `location` in `bucket` (see [`S3Failure::explain`]).
    pub fn s3(location: String, bucket: &str, source: &object_store::Error) -> Self {
        let failure = S3Failure::explain(source);
        match failure.kind {
            S3FailureKind::NoSuchKey => StoreError::NotFound { location },
            S3FailureKind::NoSuchBucket => StoreError::NoSuchBucket {
                location,
                bucket: bucket.to_string(),
            },
            kind => StoreError::S3 {
                location,
                kind,
                reason: failure.reason,
            },
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
