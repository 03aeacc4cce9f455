//! Linear SVMs on feature vectors, with Spark MLlib's `SVMWithSGD` reproduced bit for bit and
//! metrics that do not flatter.
//!
//! Rows you hold in memory become a [`Dataset`] (from an `ndarray` view or a slice), split
//! with the documented seeded [`Dataset::split_stratified`]; a solver's checked parameters
//! [`Fit`] a [`Classifier`] for a [`Task`] on an [`Executor`] (a [`ThreadPool`], MPI ranks, or
//! yours); the classifier [`Predict`]s rows and evaluates itself on labelled ones.
//!
//! ```
//! use catclass_svm::prelude::*;
//! // Two well-separated classes of 2-value rows.
//! let x = ndarray::Array2::from_shape_fn((40, 2), |(i, j)| {
//!     let class = (i % 2) as f32;
//!     if j == 0 { class + 0.05 * (i as f32 / 40.0) } else { 1.0 - class }
//! });
//! let labels: Vec<&str> = (0..40).map(|i| if i % 2 == 0 { "cat" } else { "dog" }).collect();
//! let data = Dataset::from_rows(x.view(), labels)?;
//! let (train, test) = data.split_stratified(0.7, 20);
//! let task = Task::OneVsOne("dog".into(), "cat".into());
//! let model = SvmSgd::params().iterations(100).check()?.fit(&train, &task, &ThreadPool::new(2)?)?;
//! assert_eq!(model.predict(&[1.0f32, 0.0]), Some("dog"));
//! assert!(model.decision(&[0.0f32, 1.0]) < 0.0);
//! let report = model.evaluate(&test)?;
//! assert_eq!(report.metrics.accuracy(), 1.0);
//! // The same traits, another solver.
//! let dcd = Dcd::params().c(1.0).check()?.fit(&train, &task, &ThreadPool::new(1)?)?;
//! assert_eq!(dcd.evaluate(&test)?.metrics.accuracy(), 1.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The parts, each its own crate and re-exported here: [`sgd`] (the solvers' math, `no_std`),
//! [`exec`] (executors: threads, MPI), [`store`] (feature files over any
//! `object_store::ObjectStore`), [`features`] (images to feature vectors).
#![deny(missing_docs)]

/// The README's example, compiled and run as a test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod classifier;
mod dataset;
mod error;
mod fit;
pub mod metrics;
pub mod model_file;
pub mod split;
mod task;

pub use catclass_exec as exec;
pub use catclass_features as features;
pub use catclass_sgd as sgd;
#[cfg(feature = "store")]
pub use catclass_store as store;

pub use catclass_exec::{Executor, ThreadPool};
pub use catclass_sgd::dcd::{ClassWeight, Loss};
pub use catclass_sgd::{MiniBatchSampling, Values};
pub use classifier::{Classifier, Evaluation, FitSummary, Metrics, Predict};
pub use dataset::{ClassLabel, Dataset, Row, Value};
pub use error::SvmError;
pub use fit::{
    Dcd, DcdParams, DcdParamsBuilder, Fit, Regularisation, SgdParams, SgdParamsBuilder, SvmSgd,
};
pub use metrics::{BinaryMetrics, ClassMetrics, Confusion, MulticlassMetrics};
pub use task::Task;

/// The names most programs need: `use catclass_svm::prelude::*;`.
///
/// ```
/// use catclass_svm::prelude::*;
/// let _ = (Task::Multiclass, SvmSgd::params(), Dcd::params());
/// ```
pub mod prelude {
    pub use crate::{
        Classifier, Dataset, Dcd, Evaluation, Executor, Fit, Metrics, Predict, SvmError, SvmSgd,
        Task, ThreadPool,
    };
}
