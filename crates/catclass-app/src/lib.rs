//! The catclass pipeline over files and object stores, built on the `catclass-svm` library:
//! what the `catclass` command runs.
//!
//! * [`train`]: a feature location -> the seeded split (or a separate test location) -> a
//!   fit on an executor -> `model.json`, `report.json` and the seed's `resultat.txt` (or, over
//!   every class, `report.txt` and the confusion heat map); [`train::evaluate`] scores a saved
//!   model on another location.
//! * [`sweep`]: accuracy against the training share, with [`plot`]s.
//! * [`extract`] and [`predict`]: image folders (local or S3) to feature files, and saved
//!   models applied to new images.
//! * [`synthetic`] and [`photos`]: the demo's generated features and photo variants.
//! * [`network`]: installs the default network (`catclass model install`).
//!
//! Locations are strings here ([`location`]: `path`, `file://`, `s3://bucket/prefix`) and
//! [`blocking`] runs the `async` store API; the library underneath takes rows and stores.
//!
//! ```
//! use catclass_app::seed::task_from_args;
//! use catclass_svm::Task;
//! // The original program's arguments: a class against another, or against all with `None`.
//! assert_eq!(task_from_args("cat", "dog"), Task::OneVsOne("cat".into(), "dog".into()));
//! assert_eq!(task_from_args("cat", "None"), Task::OneVsRest("cat".into()));
//! ```
#![deny(missing_docs)]

pub mod blocking;
pub mod extract;
pub mod location;
pub mod network;
pub mod photos;
#[cfg(feature = "plots")]
pub mod plot;
pub mod predict;
pub mod seed;
pub mod solver;
pub mod sweep;
pub mod synthetic;
pub mod train;

pub use catclass_exec::Executor;
pub use catclass_svm as svm;
pub use solver::Solver;

use catclass_svm::model_file::ModelFileError;

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Storage or file format.
    #[error(transparent)]
    Store(#[from] catclass_store::StoreError),
    /// The library refused the data, the task or the parameters.
    #[error(transparent)]
    Svm(#[from] catclass_svm::SvmError),
    /// The executor failed (on some rank).
    #[error(transparent)]
    Exec(#[from] catclass_exec::ExecError),
    /// A model file refused.
    #[error("{file}: {source}")]
    Model {
        /// The file.
        file: String,
        /// Why.
        source: ModelFileError,
    },
    /// A model file whose content the library refused (e.g. two models of different lengths).
    #[error("{file}: {source}")]
    ModelContent {
        /// The file.
        file: String,
        /// Why.
        source: catclass_svm::SvmError,
    },
    /// No row for the task at a location.
    #[error("{location}: no feature file for {task}")]
    NoRows {
        /// Where.
        location: String,
        /// The task.
        task: String,
    },
    /// A location without two classes for a multiclass run.
    #[error("{location}: one vs rest needs at least two classes, found {found:?}")]
    TooFewClasses {
        /// Where.
        location: String,
        /// The classes found.
        found: Vec<String>,
    },
    /// A location holds no row of a class a model knows.
    #[error("{location}: no feature file of a class the model knows")]
    NoKnownClass {
        /// Where.
        location: String,
    },
    /// A feature cache asked of a run spread over several processes (each reads only its
    /// own rows).
    #[error("{cache}: a feature cache is kept by one process, not by {ranks}")]
    CacheInCluster {
        /// The cache.
        cache: String,
        /// Processes of the run.
        ranks: usize,
    },
    /// Sweep settings refused.
    #[error("sweep: {0}")]
    Sweep(#[from] sweep::SweepError),
    /// Extraction or prediction refused its input.
    #[error(transparent)]
    Extract(#[from] extract::ExtractFailure),
    /// A chart could not be drawn.
    #[cfg(feature = "plots")]
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

/// `text` safe to print on a terminal: control characters (which could move the cursor or
/// retitle the window when a file or class name carries them) are shown as `\u{..}` escapes;
/// tabs and line breaks are kept.
///
/// ```
/// use catclass_app::printable;
/// assert_eq!(printable("cat_1.jpg"), "cat_1.jpg");
/// assert_eq!(printable("a\x1b]0;owned\x07b"), "a\\u{1b}]0;owned\\u{7}b");
/// ```
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl From<catclass_sgd::TrainError> for AppError {
    fn from(e: catclass_sgd::TrainError) -> Self {
        AppError::Svm(e.into())
    }
}

/// A 64-bit digest of `parts` (the first 8 bytes of the SHA-256 of each part, length-prefixed),
/// to check that every process of a run planned the same work ([`catclass_exec::Executor::same_plan`]).
pub(crate) fn plan_digest<S: AsRef<str>>(parts: impl IntoIterator<Item = S>) -> u64 {
    let mut text = String::new();
    for p in parts {
        let p = p.as_ref();
        text.push_str(&format!("{}:{p}\n", p.len()));
    }
    let hex = catclass_features::sha256_hex(text.as_bytes());
    u64::from_str_radix(&hex[..16], 16).expect("hex digits")
}
