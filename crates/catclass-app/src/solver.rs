//! The solver a run was asked for: either built-in solver, chosen at run time.

use catclass_svm::model_file::SolverRecord;
use catclass_svm::{
    Classifier, DcdParams, Executor, Fit, MiniBatchSampling, Regularisation, SgdParams, SvmError,
    SvmSgd, Task,
};

/// The solver of a run (the CLI's `--solver`); it fits like either.
#[derive(Debug, Clone, PartialEq)]
pub enum Solver {
    /// MLlib's `SVMWithSGD`, exactly.
    MllibSgd(SgdParams),
    /// Dual coordinate descent on the same objective.
    Dcd(DcdParams),
}

impl Solver {
    /// `mllib-sgd` or `dcd`.
    pub fn name(&self) -> &'static str {
        match self {
            Solver::MllibSgd(_) => "mllib-sgd",
            Solver::Dcd(_) => "dcd",
        }
    }

    /// Settings as recorded in model and report files.
    pub fn record(&self) -> SolverRecord {
        match self {
            Solver::MllibSgd(p) => SolverRecord::from(p),
            Solver::Dcd(p) => SolverRecord::from(p),
        }
    }

    /// The same solver with its seeds set to `seed` (our mini-batch sampler, DCD's row
    /// orders), as `catclass train --seed seed` sets them; MLlib's own sampler is kept.
    pub fn reseeded(&self, seed: u64) -> Result<Solver, SvmError> {
        Ok(match self {
            Solver::MllibSgd(p) => {
                let sampling = match p.sampling() {
                    MiniBatchSampling::ChaCha { .. } => MiniBatchSampling::ChaCha { seed },
                    spark => spark,
                };
                Solver::MllibSgd(
                    SvmSgd::params()
                        .iterations(p.iterations())
                        .step(p.step())
                        .reg_param(p.reg_param())
                        .mini_batch_fraction(p.mini_batch_fraction())
                        .convergence_tol(p.convergence_tol())
                        .intercept(p.intercept())
                        .sampling(sampling)
                        .check()?,
                )
            }
            Solver::Dcd(p) => {
                let b = catclass_svm::Dcd::params()
                    .loss(p.loss())
                    .tol(p.tol())
                    .max_epochs(p.max_epochs())
                    .seed(seed)
                    .intercept(p.intercept())
                    .class_weight(p.class_weight());
                Solver::Dcd(
                    match p.regularisation() {
                        Regularisation::C(c) => b.c(c),
                        Regularisation::RegParam(r) => b.reg_param(r),
                    }
                    .check()?,
                )
            }
        })
    }
}

impl Fit for Solver {
    type Model = Classifier;

    fn fit<E: Executor>(
        &self,
        train: &catclass_svm::Dataset,
        task: &Task,
        exec: &E,
    ) -> Result<Classifier, SvmError> {
        match self {
            Solver::MllibSgd(p) => p.fit(train, task, exec),
            Solver::Dcd(p) => p.fit(train, task, exec),
        }
    }
}
