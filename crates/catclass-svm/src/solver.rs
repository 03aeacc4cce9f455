//! Which solver trains a binary model, and what it reports.
//!
//! * [`Solver::MllibSgd`]: Spark MLlib's `SVMWithSGD`, bit for bit (the default, for
//!   compatibility).
//! * [`Solver::Dcd`]: dual coordinate descent (LIBLINEAR) on the same objective, with
//!   `C = 1 / (reg_param * n)`: it actually reaches the optimum. It runs in one process (rows
//!   are visited in a seeded random order, which a shard cannot do).
//!
//! Every fit reports MLlib's objective of its final model, `(1/n) sum hinge + (reg/2)||w||^2`,
//! so the two solvers can be compared on one yardstick.

use crate::SvmError;
use catclass_exec::Executor;
use catclass_sgd::dcd::{ClassWeight, DcdParams, Loss};
use catclass_sgd::{Dataset, Element, LinearModel, MiniBatchSampling, SgdParams};
use catclass_store::FeatureMatrix;
use serde::{Deserialize, Serialize};

/// Settings of the dual coordinate descent solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcdConfig {
    /// MLlib's `regParam`; `C = 1 / (reg_param * n)`.
    pub reg_param: f64,
    /// Hinge (MLlib's) or squared hinge.
    pub loss: Loss,
    /// Stopping tolerance on the projected gradient.
    pub tol: f64,
    /// Epoch limit.
    pub max_epochs: usize,
    /// Class weights (`Balanced` for one vs all).
    pub class_weight: ClassWeight,
    /// Fit a (regularised) bias feature of value 1, like MLlib's intercept.
    pub intercept: bool,
    /// Seed of the per-epoch permutations.
    pub seed: u64,
}

impl DcdConfig {
    /// Checked DCD parameters for `rows` training rows.
    pub fn params(&self, rows: usize) -> Result<DcdParams, SvmError> {
        DcdParams::builder()
            .reg_param(self.reg_param, rows.max(1))
            .loss(self.loss)
            .tol(self.tol)
            .max_epochs(self.max_epochs)
            .class_weight(self.class_weight)
            .intercept(self.intercept)
            .seed(self.seed)
            .check()
            .map_err(|e| SvmError::Invalid(e.to_string()))
    }
}

/// The solver of a binary model.
#[derive(Debug, Clone, PartialEq)]
pub enum Solver {
    /// MLlib's `SVMWithSGD`, exactly.
    MllibSgd(SgdParams),
    /// Dual coordinate descent on the same objective.
    Dcd(DcdConfig),
}

impl Solver {
    /// `mllib-sgd` or `dcd`.
    pub fn name(&self) -> &'static str {
        match self {
            Solver::MllibSgd(_) => "mllib-sgd",
            Solver::Dcd(_) => "dcd",
        }
    }

    /// The L2 strength, the same meaning for both solvers.
    pub fn reg_param(&self) -> f64 {
        match self {
            Solver::MllibSgd(p) => p.reg_param(),
            Solver::Dcd(c) => c.reg_param,
        }
    }

    /// Settings as recorded in model and report files.
    pub fn record(&self) -> SolverRecord {
        match self {
            Solver::MllibSgd(p) => SolverRecord {
                iterations: p.iterations(),
                step: p.step(),
                reg_param: p.reg_param(),
                mini_batch_fraction: p.mini_batch_fraction(),
                convergence_tol: p.convergence_tol(),
                intercept: p.intercept(),
                mllib_partitions: match p.sampling() {
                    MiniBatchSampling::Spark { partitions } => Some(partitions),
                    MiniBatchSampling::ChaCha { .. } => None,
                },
                dcd: None,
            },
            Solver::Dcd(c) => SolverRecord {
                iterations: 0,
                step: 0.0,
                reg_param: c.reg_param,
                mini_batch_fraction: 1.0,
                convergence_tol: 0.0,
                intercept: c.intercept,
                mllib_partitions: None,
                dcd: Some(DcdRecord {
                    loss: match c.loss {
                        Loss::Hinge => "hinge".into(),
                        Loss::SquaredHinge => "squared-hinge".into(),
                    },
                    tol: c.tol,
                    max_epochs: c.max_epochs,
                    class_weight: match c.class_weight {
                        ClassWeight::None => "none".into(),
                        ClassWeight::Balanced => "balanced".into(),
                        ClassWeight::Custom { pos, neg } => format!("pos={pos},neg={neg}"),
                    },
                    seed: c.seed,
                }),
            },
        }
    }
}

/// DCD settings as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcdRecord {
    /// `hinge` or `squared-hinge`.
    pub loss: String,
    /// Stopping tolerance.
    pub tol: f64,
    /// Epoch limit.
    pub max_epochs: usize,
    /// `none`, `balanced` or `pos=..,neg=..`.
    pub class_weight: String,
    /// Permutation seed.
    pub seed: u64,
}

/// Solver settings recorded with a model (enough to retrain it). MLlib's fields keep their
/// meaning; for DCD `iterations`, `step` and `convergence_tol` are 0 and `dcd` holds its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverRecord {
    /// Updates asked for (MLlib).
    pub iterations: usize,
    /// Initial step (MLlib).
    pub step: f64,
    /// L2 strength (both solvers).
    pub reg_param: f64,
    /// Mini-batch fraction (MLlib).
    pub mini_batch_fraction: f64,
    /// Convergence tolerance (MLlib).
    pub convergence_tol: f64,
    /// Whether an intercept was fitted.
    pub intercept: bool,
    /// Spark partitions used for sampling, if MLlib's sampler was asked for.
    pub mllib_partitions: Option<usize>,
    /// DCD settings, when DCD trained the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcd: Option<DcdRecord>,
}

/// What a solver did, beyond the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// Weight updates (MLlib; 0 for DCD).
    pub updates: usize,
    /// Passes over the data (MLlib's treeAggregate jobs, or DCD's epochs).
    pub passes: usize,
    /// Whether the solver's stopping rule fired (MLlib's convergence test, DCD's tolerance).
    pub converged: bool,
    /// MLlib's loss history (empty for DCD).
    pub loss_history: Vec<f64>,
    /// MLlib's objective of the final model (the same yardstick for both solvers).
    pub objective: f64,
    /// DCD epochs.
    pub epochs: Option<usize>,
    /// DCD's primal objective `0.5||w||^2 + C sum loss`.
    pub primal_objective: Option<f64>,
    /// DCD's dual objective.
    pub dual_objective: Option<f64>,
    /// Primal minus dual: how far from the optimum at most.
    pub duality_gap: Option<f64>,
}

fn fit_typed<T: Element, E: Executor>(
    solver: &Solver,
    data: &Dataset<'_, T>,
    exec: &E,
) -> Result<(LinearModel, FitSummary), SvmError> {
    let (model, mut summary) = match solver {
        Solver::MllibSgd(p) => {
            let fit = p.fit(data, exec)?;
            let summary = FitSummary {
                updates: fit.updates,
                passes: fit.passes,
                converged: fit.converged,
                loss_history: fit.loss_history,
                objective: 0.0,
                epochs: None,
                primal_objective: None,
                dual_objective: None,
                duality_gap: None,
            };
            (fit.model, summary)
        }
        Solver::Dcd(c) => {
            if exec.ranks() > 1 {
                return Err(SvmError::Invalid(
                    "the dcd solver runs in one process; use --executor threads (or --solver mllib-sgd on MPI)"
                        .into(),
                ));
            }
            let fit = c
                .params(data.total_rows())?
                .fit(data)
                .map_err(|e| SvmError::Invalid(e.to_string()))?;
            let summary = FitSummary {
                updates: 0,
                passes: fit.epochs,
                converged: fit.converged,
                loss_history: Vec::new(),
                objective: 0.0,
                epochs: Some(fit.epochs),
                primal_objective: Some(fit.primal_objective),
                dual_objective: Some(fit.dual_objective),
                duality_gap: Some(fit.duality_gap),
            };
            (fit.model, summary)
        }
    };
    summary.objective = catclass_sgd::mllib::objective(data, &model, solver.reg_param(), exec)?;
    Ok((model, summary))
}

/// Fits `solver` on rows `first_row .. first_row + labels.len()` of a training set of
/// `total_rows` rows, held in a matrix of either element type.
pub fn fit_matrix<E: Executor>(
    solver: &Solver,
    x: &FeatureMatrix,
    labels: &[f64],
    dim: usize,
    first_row: usize,
    total_rows: usize,
    exec: &E,
) -> Result<(LinearModel, FitSummary), SvmError> {
    let shard = |e| SvmError::Train(catclass_sgd::TrainError::Data(e));
    match x {
        FeatureMatrix::F32(v) => fit_typed(
            solver,
            &Dataset::shard(v, labels, dim, first_row, total_rows).map_err(shard)?,
            exec,
        ),
        FeatureMatrix::F64(v) => fit_typed(
            solver,
            &Dataset::shard(v, labels, dim, first_row, total_rows).map_err(shard)?,
            exec,
        ),
    }
}
