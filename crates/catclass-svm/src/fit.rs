//! Fitting: the [`Fit`] trait and the two solvers that implement it.
//!
//! * [`SvmSgd`]: Spark MLlib's `SVMWithSGD`, bit for bit. Every model of a task is trained in
//!   one data pass per iteration, over any [`Executor`] (threads or MPI ranks), with the same
//!   bits whatever the number of threads or ranks.
//! * [`Dcd`]: dual coordinate descent (LIBLINEAR's algorithm) on the same objective; it reaches
//!   the optimum to a stated tolerance. It runs in one process.
//!
//! Both are configured the same way: a builder of unchecked settings, checked once by
//! `check()` into parameters that can no longer be wrong, then `fit(&train, &task, &exec)`.
//! A binary task trains one model, [`Task::Multiclass`] one per class; either way the result
//! is a [`Classifier`].

use crate::Values;
use crate::classifier::{Classifier, FitSummary};
use crate::dataset::Dataset;
use crate::{Executor, SvmError, Task};
use catclass_sgd::dcd::{ClassWeight, Loss};
use catclass_sgd::{Element, LinearModel, MiniBatchSampling};
use std::borrow::Cow;

/// Something that trains a [`Classifier`] for a [`Task`] on labelled rows, on an executor.
///
/// Implemented by [`SgdParams`] and [`DcdParams`]; implement it for your own solver to use it
/// wherever the built-in ones are taken.
///
/// ```
/// use catclass_svm::prelude::*;
/// let data = Dataset::from_slice(&[0.0f32, 1.0, 1.0, 0.0], 2, ["a", "b"])?;
/// let task = Task::OneVsOne("a".into(), "b".into());
/// let model = SvmSgd::params().check()?.fit(&data, &task, &ThreadPool::new(1)?)?;
/// assert_eq!(model.predict(&[0.0f32, 1.0]), Some("a"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Fit {
    /// What is trained.
    type Model;

    /// Trains on the rows of `train` that `task` takes, on `exec`.
    fn fit<E: Executor>(
        &self,
        train: &Dataset,
        task: &Task,
        exec: &E,
    ) -> Result<Self::Model, SvmError>;
}

/// The rows and labels a task trains on: `labels` are 0/1 for a binary task and class indices
/// for a multiclass one.
struct Prepared<'d> {
    data: Cow<'d, Dataset>,
    labels: Vec<f64>,
    /// The class of each model (binary: the positive class; multiclass: every class).
    model_classes: Vec<String>,
    /// The classes the classifier answers (one vs one: both; one vs rest: the positive).
    classes: Vec<String>,
}

impl Prepared<'_> {
    fn binary(&self) -> bool {
        self.model_classes.len() == 1
    }
}

fn require_class(data: &Dataset, class: &str) -> Result<usize, SvmError> {
    data.classes()
        .binary_search_by(|c| c.as_str().cmp(class))
        .map_err(|_| SvmError::UnknownClass {
            class: class.to_string(),
            known: data.classes().to_vec(),
        })
}

fn prepare<'d>(train: &'d Dataset, task: &Task) -> Result<Prepared<'d>, SvmError> {
    let prepared = match task {
        Task::OneVsOne(a, b) => {
            if a == b {
                return Err(SvmError::SameClass(a.clone()));
            }
            let (ka, kb) = (require_class(train, a)?, require_class(train, b)?);
            let rows: Vec<usize> = (0..train.rows())
                .filter(|&r| train.targets()[r] == ka || train.targets()[r] == kb)
                .collect();
            let data = if rows.len() == train.rows() {
                Cow::Borrowed(train)
            } else if train.is_whole() {
                Cow::Owned(train.select(&rows))
            } else {
                return Err(SvmError::ShardNeedsAllRows {
                    first: train.first_row(),
                    end: train.first_row() + train.rows(),
                    total: train.total_rows(),
                });
            };
            let labels = data
                .targets()
                .iter()
                .map(|&t| f64::from(u8::from(t == ka)))
                .collect();
            Prepared {
                data,
                labels,
                model_classes: vec![a.clone()],
                classes: vec![a.clone(), b.clone()],
            }
        }
        Task::OneVsRest(a) => {
            let ka = require_class(train, a)?;
            let labels = train
                .targets()
                .iter()
                .map(|&t| f64::from(u8::from(t == ka)))
                .collect();
            Prepared {
                data: Cow::Borrowed(train),
                labels,
                model_classes: vec![a.clone()],
                classes: vec![a.clone()],
            }
        }
        Task::Multiclass => {
            if train.classes().len() < 2 {
                return Err(SvmError::TooFewClasses {
                    found: train.classes().to_vec(),
                });
            }
            Prepared {
                data: Cow::Borrowed(train),
                labels: train.targets().iter().map(|&t| t as f64).collect(),
                model_classes: train.classes().to_vec(),
                classes: train.classes().to_vec(),
            }
        }
    };
    if prepared.data.total_rows() == 0 {
        return Err(SvmError::NoRows {
            task: task.to_string(),
        });
    }
    Ok(prepared)
}

/// Calls `$body` with `$x` bound to the rows of `$values` as `&[f32]` or `&[f64]`.
macro_rules! with_values {
    ($values:expr, |$x:ident| $body:expr) => {
        match $values {
            Values::F32($x) => $body,
            Values::F64($x) => $body,
        }
    };
}

fn rows_of<'a, T: Element>(
    x: &'a [T],
    labels: &'a [f64],
    data: &Dataset,
) -> Result<catclass_sgd::Dataset<'a, T>, SvmError> {
    catclass_sgd::Dataset::shard(x, labels, data.dim(), data.first_row(), data.total_rows())
        .map_err(|e| SvmError::Train(e.into()))
}

fn finish(task: &Task, p: Prepared<'_>, fitted: Vec<(LinearModel, FitSummary)>) -> Classifier {
    let (models, fits) = fitted.into_iter().unzip();
    Classifier::trained(task.clone(), p.classes, models, fits, p.data.dim())
}

/// Spark MLlib's `SVMWithSGD`, reproduced bit for bit. Start from [`SvmSgd::params`].
///
/// ```
/// use catclass_svm::SvmSgd;
/// let params = SvmSgd::params().iterations(50).reg_param(0.1).check()?;
/// assert_eq!(params.iterations(), 50);
/// assert!(SvmSgd::params().step(-1.0).check().is_err());
/// # Ok::<(), catclass_svm::SvmError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SvmSgd;

impl SvmSgd {
    /// A builder holding MLlib's defaults (PySpark's `SVMWithSGD.train`): 100 iterations,
    /// step 1.0, regParam 0.01, miniBatchFraction 1.0, convergenceTol 0.001, no intercept,
    /// mini-batches drawn by our ChaCha sampler with seed 20.
    pub fn params() -> SgdParamsBuilder {
        SgdParamsBuilder(catclass_sgd::SgdParams::builder())
    }
}

/// Unchecked settings of [`SvmSgd`]; [`SgdParamsBuilder::check`] makes them [`SgdParams`].
///
/// ```
/// use catclass_svm::{MiniBatchSampling, SvmSgd};
/// let p = SvmSgd::params()
///     .mini_batch_fraction(0.5)
///     .sampling(MiniBatchSampling::Spark { partitions: 4 })
///     .check()?;
/// assert_eq!(p.mini_batch_fraction(), 0.5);
/// # Ok::<(), catclass_svm::SvmError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdParamsBuilder(catclass_sgd::SgdParamsBuilder);

impl SgdParamsBuilder {
    /// Number of updates (`numIterations`).
    pub fn iterations(self, n: usize) -> Self {
        SgdParamsBuilder(self.0.iterations(n))
    }
    /// Initial step size (`stepSize`); pass `i` uses `step / sqrt(i)`.
    pub fn step(self, step: f64) -> Self {
        SgdParamsBuilder(self.0.step(step))
    }
    /// L2 regularisation strength (`regParam`).
    pub fn reg_param(self, reg: f64) -> Self {
        SgdParamsBuilder(self.0.reg_param(reg))
    }
    /// Share of the rows used per pass (`miniBatchFraction`).
    pub fn mini_batch_fraction(self, f: f64) -> Self {
        SgdParamsBuilder(self.0.mini_batch_fraction(f))
    }
    /// Relative change of the weights below which training stops (`convergenceTol`).
    pub fn convergence_tol(self, tol: f64) -> Self {
        SgdParamsBuilder(self.0.convergence_tol(tol))
    }
    /// Whether to fit an intercept (MLlib's bias feature, starting at 1.0).
    pub fn intercept(self, yes: bool) -> Self {
        SgdParamsBuilder(self.0.intercept(yes))
    }
    /// How mini-batches are drawn when the fraction is below 1.
    pub fn sampling(self, sampling: MiniBatchSampling) -> Self {
        SgdParamsBuilder(self.0.sampling(sampling))
    }
    /// Checks every setting once.
    pub fn check(self) -> Result<SgdParams, SvmError> {
        Ok(SgdParams(self.0.check()?))
    }
}

/// Checked settings of [`SvmSgd`]: call [`Fit::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SgdParams(catclass_sgd::SgdParams);

impl SgdParams {
    /// The solver's own parameters (for the `catclass_sgd` functions).
    pub fn solver_params(&self) -> &catclass_sgd::SgdParams {
        &self.0
    }
    /// Number of updates.
    pub fn iterations(&self) -> usize {
        self.0.iterations()
    }
    /// Initial step size.
    pub fn step(&self) -> f64 {
        self.0.step()
    }
    /// L2 regularisation strength.
    pub fn reg_param(&self) -> f64 {
        self.0.reg_param()
    }
    /// Mini-batch fraction.
    pub fn mini_batch_fraction(&self) -> f64 {
        self.0.mini_batch_fraction()
    }
    /// Convergence tolerance.
    pub fn convergence_tol(&self) -> f64 {
        self.0.convergence_tol()
    }
    /// Whether an intercept is fitted.
    pub fn intercept(&self) -> bool {
        self.0.intercept()
    }
    /// Mini-batch sampling.
    pub fn sampling(&self) -> MiniBatchSampling {
        self.0.sampling()
    }
}

fn sgd_summary(fit: catclass_sgd::SgdFit) -> (LinearModel, FitSummary) {
    let summary = FitSummary {
        updates: fit.updates,
        passes: fit.passes,
        converged: fit.converged,
        loss_history: fit.loss_history,
        objective: None,
        epochs: None,
        primal_objective: None,
        dual_objective: None,
        duality_gap: None,
    };
    (fit.model, summary)
}

/// MLlib's objective of a binary model on its training rows (the same yardstick for every
/// solver), filled into its summary.
fn with_objective<T: Element, E: Executor>(
    rows: &catclass_sgd::Dataset<'_, T>,
    reg: f64,
    exec: &E,
    (model, mut summary): (LinearModel, FitSummary),
) -> Result<(LinearModel, FitSummary), SvmError> {
    summary.objective = Some(catclass_sgd::mllib::objective(rows, &model, reg, exec)?);
    Ok((model, summary))
}

impl Fit for SgdParams {
    type Model = Classifier;

    /// All the models of the task in one data pass per iteration; model `k` of a multiclass
    /// task is bit-identical to the one-vs-rest fit of class `k` alone.
    fn fit<E: Executor>(
        &self,
        train: &Dataset,
        task: &Task,
        exec: &E,
    ) -> Result<Classifier, SvmError> {
        let p = prepare(train, task)?;
        let k = p.model_classes.len();
        let fitted = with_values!(p.data.values(), |x| {
            let rows = rows_of(x, &p.labels, &p.data)?;
            if p.binary() {
                let fit = sgd_summary(self.0.fit(&rows, exec)?);
                vec![with_objective(&rows, self.reg_param(), exec, fit)?]
            } else {
                self.0
                    .fit_one_vs_rest(&rows, k, exec)?
                    .into_iter()
                    .map(sgd_summary)
                    .collect()
            }
        });
        Ok(finish(task, p, fitted))
    }
}

/// How strongly [`Dcd`] regularises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Regularisation {
    /// LIBLINEAR's cost `C` of the primal `0.5||w||^2 + C sum loss`.
    C(f64),
    /// MLlib's `regParam`: `C = 1 / (reg_param * n)` over the `n` training rows, so that DCD
    /// minimises MLlib's objective.
    RegParam(f64),
}

/// Dual coordinate descent (LIBLINEAR) on the L2-regularised hinge or squared hinge loss.
/// Start from [`Dcd::params`].
///
/// ```
/// use catclass_svm::{Dcd, Regularisation};
/// let p = Dcd::params().c(0.5).tol(1e-6).check()?;
/// assert_eq!(p.regularisation(), Regularisation::C(0.5));
/// assert!(Dcd::params().c(0.0).check().is_err());
/// # Ok::<(), catclass_svm::SvmError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Dcd;

impl Dcd {
    /// A builder holding scikit-learn's `LinearSVC` defaults: `C = 1`, hinge loss,
    /// `tol = 1e-4`, 1000 epochs at most, seed 20, no intercept, no class weights.
    pub fn params() -> DcdParamsBuilder {
        DcdParamsBuilder {
            inner: catclass_sgd::DcdParams::builder(),
            cost: Regularisation::C(1.0),
        }
    }
}

/// Unchecked settings of [`Dcd`]; [`DcdParamsBuilder::check`] makes them [`DcdParams`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcdParamsBuilder {
    inner: catclass_sgd::DcdParamsBuilder,
    cost: Regularisation,
}

impl DcdParamsBuilder {
    /// The cost `C`.
    pub fn c(mut self, c: f64) -> Self {
        self.cost = Regularisation::C(c);
        self
    }
    /// MLlib's `regParam` (`C = 1 / (reg_param * n)` for `n` training rows, known at fit).
    pub fn reg_param(mut self, reg: f64) -> Self {
        self.cost = Regularisation::RegParam(reg);
        self
    }
    /// The loss.
    pub fn loss(mut self, loss: Loss) -> Self {
        self.inner = self.inner.loss(loss);
        self
    }
    /// Stopping tolerance on the projected gradient (scikit-learn's `tol`).
    pub fn tol(mut self, tol: f64) -> Self {
        self.inner = self.inner.tol(tol);
        self
    }
    /// Epoch limit.
    pub fn max_epochs(mut self, n: usize) -> Self {
        self.inner = self.inner.max_epochs(n);
        self
    }
    /// Seed of the per-epoch row orders.
    pub fn seed(mut self, seed: u64) -> Self {
        self.inner = self.inner.seed(seed);
        self
    }
    /// Whether to fit a (regularised) bias feature of value 1.
    pub fn intercept(mut self, yes: bool) -> Self {
        self.inner = self.inner.intercept(yes);
        self
    }
    /// Per-class multipliers of `C` (`Balanced` for one vs rest).
    pub fn class_weight(mut self, w: ClassWeight) -> Self {
        self.inner = self.inner.class_weight(w);
        self
    }
    /// Checks every setting once (a `reg_param` is checked as for one row; the cost it gives
    /// for the actual rows is checked at fit).
    pub fn check(self) -> Result<DcdParams, SvmError> {
        match self.cost {
            Regularisation::C(c) => self.inner.c(c).check()?,
            Regularisation::RegParam(reg) => self.inner.reg_param(reg, 1).check()?,
        };
        Ok(DcdParams(self))
    }
}

/// Checked settings of [`Dcd`]: call [`Fit::fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcdParams(DcdParamsBuilder);

impl DcdParams {
    /// How the cost is given.
    pub fn regularisation(&self) -> Regularisation {
        self.0.cost
    }
    /// The solver's own parameters for `rows` training rows (for the `catclass_sgd`
    /// functions).
    pub fn solver_params(&self, rows: usize) -> Result<catclass_sgd::DcdParams, SvmError> {
        let b = match self.0.cost {
            Regularisation::C(c) => self.0.inner.c(c),
            Regularisation::RegParam(reg) => self.0.inner.reg_param(reg, rows.max(1)),
        };
        Ok(b.check()?)
    }
    fn checked(&self) -> catclass_sgd::DcdParams {
        // Checked by `DcdParamsBuilder::check` with this very builder.
        self.solver_params(1).unwrap_or_default()
    }
    /// The loss.
    pub fn loss(&self) -> Loss {
        self.checked().loss()
    }
    /// Stopping tolerance.
    pub fn tol(&self) -> f64 {
        self.checked().tol()
    }
    /// Epoch limit.
    pub fn max_epochs(&self) -> usize {
        self.checked().max_epochs()
    }
    /// Seed of the row orders.
    pub fn seed(&self) -> u64 {
        self.checked().seed()
    }
    /// Whether a bias feature is fitted.
    pub fn intercept(&self) -> bool {
        self.checked().intercept()
    }
    /// Class weights.
    pub fn class_weight(&self) -> ClassWeight {
        self.checked().class_weight()
    }
}

fn dcd_summary(fit: catclass_sgd::DcdFit) -> (LinearModel, FitSummary) {
    let summary = FitSummary {
        updates: 0,
        passes: fit.epochs,
        converged: fit.converged,
        loss_history: Vec::new(),
        objective: None,
        epochs: Some(fit.epochs),
        primal_objective: Some(fit.primal_objective),
        dual_objective: Some(fit.dual_objective),
        duality_gap: Some(fit.duality_gap),
    };
    (fit.model, summary)
}

impl Fit for DcdParams {
    type Model = Classifier;

    /// One process only ([`SvmError::DcdNeedsOneProcess`] otherwise). The models of a
    /// multiclass task are cut into as many contiguous ranges of classes as the executor has
    /// workers, each range one joint fit ([`catclass_sgd::DcdParams::fit_one_vs_rest_models`])
    /// that reads each row once per epoch; the models have the same bits for every number of
    /// workers.
    fn fit<E: Executor>(
        &self,
        train: &Dataset,
        task: &Task,
        exec: &E,
    ) -> Result<Classifier, SvmError> {
        if exec.ranks() > 1 {
            return Err(SvmError::DcdNeedsOneProcess {
                ranks: exec.ranks(),
            });
        }
        let p = prepare(train, task)?;
        let params = self.solver_params(p.data.total_rows())?;
        let reg = match self.0.cost {
            Regularisation::RegParam(reg) => reg,
            Regularisation::C(c) => 1.0 / (c * p.data.total_rows() as f64),
        };
        let fitted = with_values!(p.data.values(), |x| {
            if p.binary() {
                let rows = rows_of(x, &p.labels, &p.data)?;
                let fit = dcd_summary(params.fit(&rows)?);
                vec![with_objective(&rows, reg, exec, fit)?]
            } else {
                let k = p.model_classes.len();
                let rows = rows_of(x, &p.labels, &p.data)?;
                let groups = exec.threads().min(k).max(1);
                let mut fitted = Vec::with_capacity(k);
                for group in exec.map(groups, |g| {
                    params.fit_one_vs_rest_models(&rows, k, g * k / groups..(g + 1) * k / groups)
                }) {
                    fitted.extend(group?.into_iter().map(dcd_summary));
                }
                fitted
            }
        });
        Ok(finish(task, p, fitted))
    }
}
