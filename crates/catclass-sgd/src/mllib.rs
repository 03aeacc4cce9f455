//! Spark MLlib 3.5.3 `SVMWithSGD`, reproduced bit for bit.
//!
//! Pass `i = 1 ..= iterations + 1` (while not converged): every row kept by the pass's sample
//! computes `margin = x · w` ([`crate::kernel::dot`], MLlib's order); if `1.0 > s * margin`
//! (strict, `s = 2y - 1`) it adds `-s * x` to the gradient sum and `1 - s * margin` to the loss
//! sum. With `m` rows counted: the loss history gets `loss / m + regVal`; the last pass stops
//! there; otherwise `g = grad / m`, `w = w * (1 - eta*reg)` then `w += (-eta) * g` with
//! `eta = step / sqrt(i)`, `regVal = 0.5 * reg * ||w||^2`, and from the second update on the
//! loop stops when `||w_prev - w|| < tol * max(||w||, 1)`. An empty sample skips the update but
//! still advances `i`. With an intercept every row gets a trailing 1.0 and the bias starts at 1.0.

use crate::TrainError;
use crate::data::{Dataset, DatasetError, Element, append_bias};
use crate::kernel::{add_signed, axpy_unfused, dot, dot4, norm2};
use crate::model::LinearModel;
use crate::params::{MiniBatchSampling, SgdParams, SgdParamsBuilder};
use crate::reduce::{BlockReducer, Partial, block_count, block_rows};
use crate::sampler::{ChaChaSampler, SparkSampler};
use alloc::vec;
use alloc::vec::Vec;

/// The MLlib-exact SVM-SGD solver. Start from [`SvmSgd::params`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SvmSgd;

impl SvmSgd {
    /// A parameter builder holding MLlib's defaults.
    pub fn params() -> SgdParamsBuilder {
        SgdParamsBuilder::default()
    }
}

/// The outcome of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdFit {
    /// The trained model (threshold 0.0).
    pub model: LinearModel,
    /// Weight updates done (`iterations` unless converged early or passes were empty).
    pub updates: usize,
    /// Data passes made (treeAggregate jobs in MLlib).
    pub passes: usize,
    /// MLlib's `stochasticLossHistory`: the loss of the weights each counted pass started with.
    pub loss_history: Vec<f64>,
    /// Whether the convergence test stopped the loop.
    pub converged: bool,
}

/// Checks MLlib's binary label rule over the rows held.
pub fn validate_labels(labels: &[f64]) -> Result<(), TrainError> {
    match crate::data::invalid_labels(labels) {
        Some((count, first_row, first_value)) => Err(TrainError::InvalidLabels {
            count,
            first_row,
            first_value,
        }),
        None => Ok(()),
    }
}

/// Adds one block's hinge subgradients and losses to `out`, rows in order.
/// `keep` (all rows of the set) selects the sampled rows; `None` keeps every row.
pub fn hinge_block<T: Element>(
    data: &Dataset<'_, T>,
    rows: core::ops::Range<usize>,
    keep: Option<&[bool]>,
    w: &[f64],
    out: &mut Partial,
) {
    let mut pending: [usize; 4] = [0; 4];
    let mut n_pending = 0;
    let flush = |idx: &[usize], out: &mut Partial| {
        let margins = if idx.len() == 4 {
            dot4(
                [
                    data.row(idx[0]),
                    data.row(idx[1]),
                    data.row(idx[2]),
                    data.row(idx[3]),
                ],
                w,
            )
        } else {
            let mut m = [0.0; 4];
            for (k, &r) in idx.iter().enumerate() {
                m[k] = dot(data.row(r), w);
            }
            m
        };
        for (k, &r) in idx.iter().enumerate() {
            let s = 2.0 * data.label(r) - 1.0;
            if let Some(loss) = hinge(s, margins[k]) {
                add_signed(&mut out.grad, data.row(r), -s);
                out.loss += loss;
            }
            out.count += 1;
        }
    };
    for r in rows {
        if keep.is_some_and(|k| !k[r]) {
            continue;
        }
        pending[n_pending] = r;
        n_pending += 1;
        if n_pending == 4 {
            flush(&pending, out);
            n_pending = 0;
        }
    }
    flush(&pending[..n_pending], out);
}

/// Runs `block` for each block of the held rows of `data`, refusing blocks not held here.
pub(crate) fn checked_block<T: Element>(
    data: &Dataset<'_, T>,
    b: usize,
) -> Result<core::ops::Range<usize>, DatasetError> {
    let rows = block_rows(b, data.total_rows());
    if !data.holds(rows.clone()) {
        return Err(DatasetError::BlockNotHeld {
            block: b,
            first: rows.start,
            end: rows.end,
            held_first: data.first_row(),
            held_end: data.first_row() + data.held_rows(),
        });
    }
    Ok(rows)
}

/// Fills `keep` for pass `i` per the sampling rule (no-op at fraction 1).
pub(crate) fn sample_pass(params: &SgdParams, keep: &mut [bool], i: usize) {
    let f = params.mini_batch_fraction();
    match params.sampling() {
        MiniBatchSampling::Spark { partitions } => {
            SparkSampler { partitions }.sample(keep, f, 42 + i as i64)
        }
        MiniBatchSampling::ChaCha { seed } => ChaChaSampler { seed }.sample(keep, f, i as u64),
    }
}

impl SgdParams {
    /// Trains on `data` (labels 0/1), running each pass through `reducer`.
    ///
    /// Bit-identical for any reducer that honours the [`BlockReducer`] contract.
    pub fn fit<T: Element, R: BlockReducer + ?Sized>(
        &self,
        data: &Dataset<'_, T>,
        reducer: &R,
    ) -> Result<SgdFit, TrainError> {
        validate_labels(data.labels())?;
        if self.intercept() {
            let mut fit = with_bias(data, |biased, w0| self.run(biased, w0, reducer))?;
            fit.model.intercept = fit.model.weights.pop().unwrap_or(0.0);
            return Ok(fit);
        }
        self.run(data, vec![0.0; data.dim()], reducer)
    }

    fn run<T: Element, R: BlockReducer + ?Sized>(
        &self,
        data: &Dataset<'_, T>,
        w: Vec<f64>,
        reducer: &R,
    ) -> Result<SgdFit, TrainError> {
        let n = data.total_rows();
        let dim = data.dim();
        let mut model = Descent::new(w, self.reg_param());
        if n == 0 {
            return Ok(model.finish());
        }
        let sampled = self.mini_batch_fraction() < 1.0;
        let mut keep = if sampled { vec![false; n] } else { Vec::new() };
        let blocks = block_count(n);
        let last = self.iterations() + 1;
        for i in 1..=last {
            if sampled {
                sample_pass(self, &mut keep, i);
            }
            let keep_ref = sampled.then_some(&keep[..]);
            let wr = &model.w;
            let pass = reducer.reduce(blocks, dim, &|b, out| {
                let rows = checked_block(data, b)?;
                hinge_block(data, rows, keep_ref, wr, out);
                Ok(())
            })?;
            model.fit.passes += 1;
            if pass.count == 0 {
                continue;
            }
            if model.after_pass(self, i, &pass.grad, pass.loss, pass.count) {
                break;
            }
        }
        Ok(model.finish())
    }
}

/// The hinge test of one row: with `s = ±1` the sign of its label and `margin = x · w`,
/// `Some(1 - s * margin)` (its loss; the row then adds `-s * x` to the gradient) when
/// `1.0 > s * margin` (MLlib's strict test), else `None`.
#[inline(always)]
pub(crate) fn hinge(s: f64, margin: f64) -> Option<f64> {
    let sm = s * margin;
    (1.0 > sm).then_some(1.0 - sm)
}

/// One model's state between passes of MLlib's loop: the weights, `regVal`, the previous
/// weights for the convergence test, and the fit so far. Shared by the binary and the
/// one-vs-rest loops so both update exactly alike.
pub(crate) struct Descent {
    /// Current weights.
    pub(crate) w: Vec<f64>,
    reg_val: f64,
    previous: Option<Vec<f64>>,
    /// The fit so far (passes are counted by the caller).
    pub(crate) fit: SgdFit,
}

impl Descent {
    /// Starts from `w` with regularisation `reg`.
    pub(crate) fn new(w: Vec<f64>, reg: f64) -> Self {
        let norm0 = norm2(&w);
        Descent {
            w,
            reg_val: 0.5 * reg * norm0 * norm0,
            previous: None,
            fit: SgdFit {
                model: LinearModel {
                    weights: Vec::new(),
                    intercept: 0.0,
                    threshold: 0.0,
                },
                updates: 0,
                passes: 0,
                loss_history: Vec::new(),
                converged: false,
            },
        }
    }

    /// Uses the sums of counted pass `i` (`count > 0` rows): records the loss, then, unless
    /// it is the last pass, updates the weights. Returns `true` when the loop must stop here
    /// (last pass, or converged).
    pub(crate) fn after_pass(
        &mut self,
        params: &SgdParams,
        i: usize,
        grad: &[f64],
        loss: f64,
        count: u64,
    ) -> bool {
        let m = count as f64;
        self.fit.loss_history.push(loss / m + self.reg_val);
        if i == params.iterations() + 1 {
            return true;
        }
        let reg = params.reg_param();
        let eta = params.step() / libm::sqrt(i as f64);
        let g: Vec<f64> = grad.iter().map(|v| v / m).collect();
        let shrink = 1.0 - eta * reg;
        self.w.iter_mut().for_each(|v| *v *= shrink);
        axpy_unfused(&mut self.w, -eta, &g);
        let norm = norm2(&self.w);
        self.reg_val = 0.5 * reg * norm * norm;
        self.fit.updates += 1;
        if let Some(prev) = self.previous.as_mut() {
            let diff: Vec<f64> = prev.iter().zip(&self.w).map(|(a, b)| a - b).collect();
            if norm2(&diff) < params.convergence_tol() * norm.max(1.0) {
                self.fit.converged = true;
                return true;
            }
            prev.copy_from_slice(&self.w);
        } else {
            self.previous = Some(self.w.clone());
        }
        false
    }

    /// The fit, with the final weights.
    pub(crate) fn finish(mut self) -> SgdFit {
        self.fit.model.weights = self.w;
        self.fit
    }
}

/// MLlib's objective of `model` over `data`: `(1/n) sum_k hinge(s_k (w.x_k + b))
/// + (reg / 2) (||w||^2 + b^2)` (MLlib regularises its bias feature like any weight), computed
/// through `reducer` (block order, like a training pass). The same yardstick for every solver.
pub fn objective<T: Element, R: BlockReducer + ?Sized>(
    data: &Dataset<'_, T>,
    model: &LinearModel,
    reg: f64,
    reducer: &R,
) -> Result<f64, TrainError> {
    let n = data.total_rows();
    if n == 0 {
        return Ok(0.0);
    }
    let pass = reducer.reduce(block_count(n), 0, &|b, out| {
        for r in checked_block(data, b)? {
            let s = 2.0 * data.label(r) - 1.0;
            let margin = model.margin(data.row(r));
            out.loss += (1.0 - s * margin).max(0.0);
            out.count += 1;
        }
        Ok(())
    })?;
    let norm = norm2(&model.weights);
    let b = model.intercept;
    Ok(pass.loss / n as f64 + 0.5 * reg * (norm * norm + b * b))
}

/// Runs `run` on `data` with MLlib's intercept column (a 1.0 appended to every row) and its
/// starting weights (zeros, 1.0 for the intercept).
pub(crate) fn with_bias<T: Element, O>(
    data: &Dataset<'_, T>,
    run: impl FnOnce(&Dataset<'_, T>, Vec<f64>) -> Result<O, TrainError>,
) -> Result<O, TrainError> {
    let biased = append_bias(data.features(), data.dim());
    let with_bias = Dataset::shard(
        &biased,
        data.labels(),
        data.dim() + 1,
        data.first_row(),
        data.total_rows(),
    )?;
    let mut w0 = vec![0.0; data.dim() + 1];
    w0[data.dim()] = 1.0;
    run(&with_bias, w0)
}
