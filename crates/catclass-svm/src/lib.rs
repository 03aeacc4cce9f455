//! catclass-svm: classify pet breeds (or anything) from CNN feature vectors with a linear SVM
//! that reproduces Spark MLlib's `SVMWithSGD` bit for bit, fast, on data local or on S3.
//!
//! ```no_run
//! use catclass_svm::{Evaluation, SgdParams, Solver, StoreOptions, Task, ThreadPool, TrainConfig};
//! let cfg = TrainConfig {
//!     features: "features/".into(),
//!     task: Task::from_args("wheaten_terrier", "yorkshire_terrier"),
//!     evaluation: Evaluation::Split { train_fraction: 0.7 },
//!     seed: 20,
//!     solver: Solver::MllibSgd(SgdParams::builder().iterations(100).check()?),
//!     store: StoreOptions::default(),
//! };
//! let outcome = catclass_svm::train(&cfg, &ThreadPool::new(0)?, &|_| {})?;
//! println!("accuracy {}", outcome.report.test_accuracy);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The parts, each its own crate and re-exported here: [`sgd`] (the math, `no_std`),
//! [`store`] (locations and formats), [`exec`] (threads, MPI), [`features`] (images to
//! feature vectors).

pub mod extract;
pub mod metrics;
pub mod model_file;
pub mod multiclass;
pub mod photos;
pub mod pipeline;
pub mod plot;
pub mod predict;
pub mod solver;
pub mod split;
pub mod sweep;
pub mod synthetic;
pub mod task;

pub use catclass_exec as exec;
pub use catclass_features as features;
pub use catclass_sgd as sgd;
pub use catclass_store as store;

pub use catclass_exec::{Executor, ThreadPool};
pub use catclass_sgd::dcd::{ClassWeight, Loss};
pub use catclass_sgd::{LinearModel, MiniBatchSampling, SgdParams};
pub use catclass_store::{Location, StoreOptions};
pub use extract::{
    BackendKind, ExtractConfig, ExtractProgress, ExtractReport, FeatureSpec, extract,
};
pub use metrics::{BinaryMetrics, Confusion, MulticlassMetrics};
pub use model_file::{ModelFile, ModelFileError, MulticlassModelFile, SavedModel};
pub use multiclass::{
    EvalReport, MulticlassConfig, MulticlassOutcome, MulticlassReport, evaluate, load_model,
    train_multiclass,
};
pub use pipeline::{Evaluation, Stage, TrainConfig, TrainOutcome, TrainReport, train};
pub use predict::{ClassMargin, PredictConfig, Prediction, predict};
pub use solver::{DcdConfig, FitSummary, Solver};
pub use task::Task;

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum SvmError {
    /// Storage or file format.
    #[error(transparent)]
    Store(#[from] catclass_store::StoreError),
    /// The solver refused the data or parameters.
    #[error(transparent)]
    Train(#[from] catclass_sgd::TrainError),
    /// Parameters refused.
    #[error(transparent)]
    Params(#[from] catclass_sgd::ParamError),
    /// Executor could not start.
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
    /// One vs one with the same class twice.
    #[error("one vs one needs two different classes, got {0:?} twice")]
    SameClass(String),
    /// No row for the task at a location.
    #[error("{location}: no feature file for {task}")]
    NoRows {
        /// Where.
        location: String,
        /// The task title.
        task: String,
    },
    /// Test features of another length than the training ones.
    #[error("{location}: test features have {test} values, training features {train}")]
    TestDimension {
        /// Training dimension.
        train: usize,
        /// Test dimension.
        test: usize,
        /// Test location.
        location: String,
    },
    /// An argument refused.
    #[error("{0}")]
    Invalid(String),
    /// A chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}
