//! Parameters of [`crate::SvmSgd`]: a builder checked once into [`SgdParams`].

/// How mini-batches are drawn when `mini_batch_fraction < 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MiniBatchSampling {
    /// Spark's own sampler over this many contiguous partitions of the training rows, seeded
    /// `42 + i` for pass `i`, exactly as MLlib samples (see [`crate::sampler::SparkSampler`]).
    Spark {
        /// Number of partitions (MLlib's `numPartitions` of the training RDD).
        partitions: usize,
    },
    /// Our own ChaCha12 sampler keyed by the seed (independent of any partitioning).
    ChaCha {
        /// Seed.
        seed: u64,
    },
}

/// A parameter that was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// `step` must be finite and > 0.
    #[error("step must be a finite number > 0, got {0}")]
    Step(f64),
    /// `mini_batch_fraction` must lie in (0, 1].
    #[error("mini-batch fraction must be in (0, 1], got {0}")]
    MiniBatchFraction(f64),
    /// `reg_param` must be finite and >= 0.
    #[error("regularisation parameter must be a finite number >= 0, got {0}")]
    RegParam(f64),
    /// `convergence_tol` must lie in [0, 1].
    #[error("convergence tolerance must be in [0, 1], got {0}")]
    ConvergenceTol(f64),
    /// Spark sampling needs at least one partition.
    #[error("the number of MLlib partitions must be at least 1")]
    Partitions,
}

/// Unchecked parameters, MLlib's defaults to start with (`SVMWithSGD.train` in PySpark):
/// 100 iterations, step 1.0, regParam 0.01, miniBatchFraction 1.0, convergenceTol 0.001,
/// no intercept, ChaCha sampling with seed 20.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdParamsBuilder {
    iterations: usize,
    step: f64,
    reg_param: f64,
    mini_batch_fraction: f64,
    convergence_tol: f64,
    intercept: bool,
    sampling: MiniBatchSampling,
}

impl Default for SgdParamsBuilder {
    fn default() -> Self {
        SgdParamsBuilder {
            iterations: 100,
            step: 1.0,
            reg_param: 0.01,
            mini_batch_fraction: 1.0,
            convergence_tol: 0.001,
            intercept: false,
            sampling: MiniBatchSampling::ChaCha { seed: 20 },
        }
    }
}

impl SgdParamsBuilder {
    /// Number of updates (`numIterations`); the loop makes one more, loss-only, data pass.
    pub fn iterations(mut self, n: usize) -> Self {
        self.iterations = n;
        self
    }
    /// Initial step size (`stepSize`); pass `i` uses `step / sqrt(i)`.
    pub fn step(mut self, step: f64) -> Self {
        self.step = step;
        self
    }
    /// L2 regularisation strength (`regParam`).
    pub fn reg_param(mut self, reg: f64) -> Self {
        self.reg_param = reg;
        self
    }
    /// Share of the rows used per pass (`miniBatchFraction`).
    pub fn mini_batch_fraction(mut self, f: f64) -> Self {
        self.mini_batch_fraction = f;
        self
    }
    /// Relative change of the weights below which training stops (`convergenceTol`).
    pub fn convergence_tol(mut self, tol: f64) -> Self {
        self.convergence_tol = tol;
        self
    }
    /// Whether to fit an intercept (MLlib's `addIntercept`: a bias feature starting at 1.0).
    pub fn intercept(mut self, yes: bool) -> Self {
        self.intercept = yes;
        self
    }
    /// How mini-batches are drawn.
    pub fn sampling(mut self, sampling: MiniBatchSampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Checks every parameter once; the result can be used without further checks.
    pub fn check(self) -> Result<SgdParams, ParamError> {
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(ParamError::Step(self.step));
        }
        if !(self.mini_batch_fraction > 0.0 && self.mini_batch_fraction <= 1.0) {
            return Err(ParamError::MiniBatchFraction(self.mini_batch_fraction));
        }
        if !(self.reg_param.is_finite() && self.reg_param >= 0.0) {
            return Err(ParamError::RegParam(self.reg_param));
        }
        if !(0.0..=1.0).contains(&self.convergence_tol) {
            return Err(ParamError::ConvergenceTol(self.convergence_tol));
        }
        if let MiniBatchSampling::Spark { partitions: 0 } = self.sampling {
            return Err(ParamError::Partitions);
        }
        Ok(SgdParams(self))
    }
}

/// Checked parameters of [`crate::SvmSgd`]; build with [`SgdParams::builder`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SgdParams(SgdParamsBuilder);

impl SgdParams {
    /// A builder holding MLlib's defaults.
    pub fn builder() -> SgdParamsBuilder {
        SgdParamsBuilder::default()
    }
    /// Number of updates.
    pub fn iterations(&self) -> usize {
        self.0.iterations
    }
    /// Initial step size.
    pub fn step(&self) -> f64 {
        self.0.step
    }
    /// L2 regularisation strength.
    pub fn reg_param(&self) -> f64 {
        self.0.reg_param
    }
    /// Mini-batch fraction.
    pub fn mini_batch_fraction(&self) -> f64 {
        self.0.mini_batch_fraction
    }
    /// Convergence tolerance.
    pub fn convergence_tol(&self) -> f64 {
        self.0.convergence_tol
    }
    /// Whether an intercept is fitted.
    pub fn intercept(&self) -> bool {
        self.0.intercept
    }
    /// Mini-batch sampling.
    pub fn sampling(&self) -> MiniBatchSampling {
        self.0.sampling
    }
}
