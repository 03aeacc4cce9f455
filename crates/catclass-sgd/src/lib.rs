//! The math of catclass-svm: linear SVM solvers with no I/O and no threads.
//!
//! * [`mllib`]: Spark MLlib 3.5.3 `SVMWithSGD`, reproduced bit for bit (see the repository's
//!   `testdata/mllib/SPEC.md`): zero start, strict hinge test, `step / sqrt(i)`, shrink-then-axpy
//!   L2 update, convergence test from the second update, the loss history, strict `> threshold`
//!   prediction, and Spark's own mini-batch sampler.
//! * [`dcd`]: dual coordinate descent (LIBLINEAR's algorithm) for the L2-regularised hinge and
//!   squared hinge losses, which solves the problem to a stated tolerance and reports the
//!   primal and dual objectives; `C = 1 / (regParam * n)` gives MLlib's objective. Its one vs
//!   rest fits every class's model in one read of each row per epoch.
//! * [`multiclass`]: one vs rest, `K` MLlib-exact fits in one data pass per iteration.
//! * [`sampler`]: Spark's `XORShiftRandom` + Bernoulli/gap sampling, and a ChaCha-seeded sampler.
//! * [`reduce`]: how a pass's per-block partial sums are combined. The crate never spawns a
//!   thread: callers hand it a [`BlockReducer`] (a thread pool, MPI ranks, or [`Sequential`]).
//!   Rows are cut into fixed blocks of [`ROWS_PER_BLOCK`] and the partial sums are folded in block
//!   order, so results are bit-identical whatever the number of threads or ranks.
//!
//! The crate is `#![no_std]` + `alloc`.
//!
//! ```
//! use catclass_sgd::{Dataset, SgdParams, Sequential};
//! // Two rows of two features, labels 1 and 0: MLlib's SVMWithSGD with its defaults.
//! let data = Dataset::new(&[1.0f32, 0.0, 0.0, 1.0], &[1.0, 0.0], 2)?;
//! let fit = SgdParams::builder().iterations(10).check()?.fit(&data, &Sequential)?;
//! assert!(fit.model.weights[0] > 0.0 && fit.model.weights[1] < 0.0);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

mod cpu;
pub mod data;
pub mod dcd;
pub mod kernel;
pub mod mllib;
pub mod model;
pub mod multiclass;
mod multikernel;
pub mod params;
pub mod reduce;
pub mod sampler;

pub use data::{Dataset, DatasetError, Element, Values};
pub use dcd::{ClassWeight, DcdError, DcdFit, DcdParamError, DcdParams, DcdParamsBuilder, Loss};
pub use mllib::{SgdFit, SvmSgd};
pub use model::LinearModel;
pub use params::{MiniBatchSampling, ParamError, SgdParams, SgdParamsBuilder};
pub use reduce::{BlockReducer, Partial, ROWS_PER_BLOCK, Sequential};

/// Errors from training.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The parameters were refused (see [`ParamError`]).
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The data were refused (see [`DatasetError`]).
    #[error(transparent)]
    Data(#[from] DatasetError),
    /// Some labels are neither 0.0 nor 1.0 (MLlib's `binaryLabelValidator`).
    #[error("{count} label(s) are neither 0 nor 1 (first at row {first_row}: {first_value})")]
    InvalidLabels {
        /// How many rows have a bad label.
        count: usize,
        /// Index of the first such row.
        first_row: usize,
        /// Its label.
        first_value: f64,
    },
    /// The reducer did not return a result (for example an MPI rank failed).
    #[error("combining partial sums failed: {0}")]
    Reduce(alloc::string::String),
}
