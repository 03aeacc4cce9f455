//! What the library refuses, one variant per refusal, carrying the values involved.

use catclass_exec::ExecError;
use catclass_sgd::{DcdError, DcdParamError, ParamError, TrainError};

/// Errors of `catclass-svm`: data, tasks, parameters and fits.
///
/// ```
/// use catclass_svm::{Dataset, SvmError};
/// let err = Dataset::from_slice(&[1.0f32, 2.0, 3.0], 2, ["a", "b"]).unwrap_err();
/// assert!(matches!(err, SvmError::RaggedRows { values: 3, dim: 2 }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SvmError {
    /// A row length of zero.
    #[error("rows of zero values")]
    ZeroDimension,
    /// The values are not a whole number of rows.
    #[error("{values} values are not a whole number of rows of {dim}")]
    RaggedRows {
        /// Number of values.
        values: usize,
        /// Row length.
        dim: usize,
    },
    /// Rows and labels differ in number.
    #[error("{rows} rows but {labels} labels")]
    LabelCount {
        /// Rows.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// An empty class name.
    #[error("row {row} has an empty class name")]
    EmptyClassName {
        /// The row.
        row: usize,
    },
    /// A row's class is not in the class list it was given with.
    #[error("row {row}: class {class:?} is not among the {known} classes given")]
    ClassNotListed {
        /// The row.
        row: usize,
        /// Its class.
        class: String,
        /// How many classes were listed.
        known: usize,
    },
    /// The rows held do not lie inside the whole data set.
    #[error("rows {first}..{end} lie outside the {total} rows of the data set")]
    ShardOutOfRange {
        /// First global row held.
        first: usize,
        /// One past the last global row held.
        end: usize,
        /// Rows of the whole set.
        total: usize,
    },
    /// One vs one with the same class twice.
    #[error("one vs one needs two different classes, got {0:?} twice")]
    SameClass(String),
    /// A task names a class the data does not have.
    #[error("class {class:?} is not in the data (classes: {known:?})")]
    UnknownClass {
        /// The class asked for.
        class: String,
        /// The classes of the data.
        known: Vec<String>,
    },
    /// Multiclass training needs two classes or more.
    #[error("one vs rest over every class needs at least two classes, found {found:?}")]
    TooFewClasses {
        /// The classes found.
        found: Vec<String>,
    },
    /// No training row for the task.
    #[error("no training row for {task}")]
    NoRows {
        /// The task.
        task: String,
    },
    /// A part of a data set (one MPI rank's rows) cannot leave rows out for a task; give each
    /// rank only the rows of the task.
    #[error(
        "this data set holds rows {first}..{end} of {total}: a one-vs-one task would leave some \
         out; keep only the two classes' rows before splitting the data over ranks"
    )]
    ShardNeedsAllRows {
        /// First global row held.
        first: usize,
        /// One past the last global row held.
        end: usize,
        /// Rows of the whole set.
        total: usize,
    },
    /// Not one model for a binary task, or one per class for a multiclass one.
    #[error("{models} models given where the task needs {expected}")]
    ModelCount {
        /// Models given.
        models: usize,
        /// Models the task needs.
        expected: usize,
    },
    /// [`crate::Classifier::new`] was given [`crate::Task::Multiclass`], which needs its
    /// class list: use [`crate::Classifier::multiclass`].
    #[error("a multiclass classifier needs its class list (Classifier::multiclass)")]
    MulticlassWithoutClasses,
    /// A row or data set of another length than the model's.
    #[error("rows of {found} values, the model takes {expected}")]
    RowLength {
        /// The model's dimension.
        expected: usize,
        /// The rows' dimension.
        found: usize,
    },
    /// The train fraction of a split must lie strictly between 0 and 1.
    #[error("train fraction must be in (0, 1), got {0}")]
    TrainFraction(f64),
    /// DCD visits rows in a random order over the whole set: it runs in one process.
    #[error(
        "the dcd solver runs in one process, not over {ranks} ranks; use a thread pool (or the \
         mllib-sgd solver on MPI)"
    )]
    DcdNeedsOneProcess {
        /// Processes of the executor.
        ranks: usize,
    },
    /// MLlib SGD parameters refused.
    #[error(transparent)]
    SgdParams(#[from] ParamError),
    /// DCD parameters refused.
    #[error(transparent)]
    DcdParams(#[from] DcdParamError),
    /// The SGD solver refused the data or failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The DCD solver refused the data or failed.
    #[error(transparent)]
    Dcd(#[from] DcdError),
    /// The executor failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
}
