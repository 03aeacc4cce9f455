//! One vs rest: `K` MLlib-exact binary fits trained together, one data pass per iteration.
//!
//! Model `k` learns "class `k`" (label 1) against every other class (label 0). Each pass reads
//! every kept row once and uses it for all the models still training: for a group of four rows
//! each model's four margins come from [`dot4`] (MLlib's exact order, the same call the binary
//! fit makes), and the hinge subgradients are added to that model's slice of a `K x d` gradient,
//! rows in order. The per-block sums are folded by the [`BlockReducer`] in block order, exactly
//! as in the binary fit, so model `k` here is bit-identical to
//! [`SgdParams::fit`] on the labels `class == k` (mini-batches and early stopping included: a
//! model that converged stops updating and leaves the pass; the others go on).
//!
//! The partial of a pass packs, for the `a` models still active, `a * d` gradient values
//! followed by their `a` loss sums; the row count is shared (every model sees the same sample).

use crate::TrainError;
use crate::data::{Dataset, Element, append_bias};
use crate::kernel::{add_signed, axpy_unfused, dot, dot4, norm2};
use crate::mllib::{SgdFit, checked_block, sample_pass};
use crate::model::LinearModel;
use crate::params::SgdParams;
use crate::reduce::{BlockReducer, Partial, block_count};
use alloc::vec;
use alloc::vec::Vec;

/// Checks that every label is a class index in `0 .. classes`.
pub fn validate_class_labels(labels: &[f64], classes: usize) -> Result<(), TrainError> {
    let ok = |y: f64| y >= 0.0 && y < classes as f64 && y == libm::floor(y);
    let mut bad = labels.iter().enumerate().filter(|(_, y)| !ok(**y));
    if let Some((first_row, first_value)) = bad.next() {
        return Err(TrainError::InvalidLabels {
            count: 1 + bad.count(),
            first_row,
            first_value: *first_value,
        });
    }
    Ok(())
}

/// Adds one block's hinge subgradients and losses for the `active` models to `out`.
///
/// `out.grad` holds `active.len() * d` gradient values then `active.len()` loss sums;
/// `out.count` counts the rows used. Model `active[j]` has weights `w[j]`.
pub fn hinge_block_multi<T: Element>(
    data: &Dataset<'_, T>,
    rows: core::ops::Range<usize>,
    keep: Option<&[bool]>,
    active: &[usize],
    w: &[&[f64]],
    out: &mut Partial,
) {
    let d = data.dim();
    let a = active.len();
    let mut pending: [usize; 4] = [0; 4];
    let mut n_pending = 0;
    let flush = |idx: &[usize], out: &mut Partial| {
        let (grads, losses) = out.grad.split_at_mut(a * d);
        for (j, &k) in active.iter().enumerate() {
            let wk = w[j];
            let margins = if idx.len() == 4 {
                dot4(
                    [
                        data.row(idx[0]),
                        data.row(idx[1]),
                        data.row(idx[2]),
                        data.row(idx[3]),
                    ],
                    wk,
                )
            } else {
                let mut m = [0.0; 4];
                for (q, &r) in idx.iter().enumerate() {
                    m[q] = dot(data.row(r), wk);
                }
                m
            };
            let g = &mut grads[j * d..(j + 1) * d];
            for (q, &r) in idx.iter().enumerate() {
                let s = if data.label(r) == k as f64 { 1.0 } else { -1.0 };
                let sm = s * margins[q];
                if 1.0 > sm {
                    add_signed(g, data.row(r), -s);
                    losses[j] += 1.0 - sm;
                }
            }
        }
        out.count += idx.len() as u64;
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

/// The training state of one of the `K` models.
struct ModelState {
    w: Vec<f64>,
    reg_val: f64,
    previous: Option<Vec<f64>>,
    fit: SgdFit,
    done: bool,
}

impl SgdParams {
    /// Trains `classes` one-vs-rest models on `data`, whose labels are class indices
    /// `0.0 .. classes`; model `k` separates class `k` from the rest.
    ///
    /// Fit `k` is bit-identical to [`SgdParams::fit`] on labels `(label == k) as 0/1`, for any
    /// reducer that honours the [`BlockReducer`] contract.
    pub fn fit_one_vs_rest<T: Element, R: BlockReducer + ?Sized>(
        &self,
        data: &Dataset<'_, T>,
        classes: usize,
        reducer: &R,
    ) -> Result<Vec<SgdFit>, TrainError> {
        validate_class_labels(data.labels(), classes)?;
        if self.intercept() {
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
            let mut fits = self.run_multi(&with_bias, classes, w0, reducer)?;
            for fit in &mut fits {
                fit.model.intercept = fit.model.weights.pop().unwrap_or(0.0);
            }
            return Ok(fits);
        }
        self.run_multi(data, classes, vec![0.0; data.dim()], reducer)
    }

    fn run_multi<T: Element, R: BlockReducer + ?Sized>(
        &self,
        data: &Dataset<'_, T>,
        classes: usize,
        w0: Vec<f64>,
        reducer: &R,
    ) -> Result<Vec<SgdFit>, TrainError> {
        let n = data.total_rows();
        let dim = data.dim();
        let reg = self.reg_param();
        let norm0 = norm2(&w0);
        let mut states: Vec<ModelState> = (0..classes)
            .map(|_| ModelState {
                w: w0.clone(),
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
                done: n == 0,
            })
            .collect();
        let sampled = self.mini_batch_fraction() < 1.0;
        let mut keep = if sampled { vec![false; n] } else { Vec::new() };
        let blocks = block_count(n);
        let last = self.iterations() + 1;
        for i in 1..=last {
            let active: Vec<usize> = (0..classes).filter(|&k| !states[k].done).collect();
            if active.is_empty() {
                break;
            }
            if sampled {
                sample_pass(self, &mut keep, i);
            }
            let keep_ref = sampled.then_some(&keep[..]);
            let ws: Vec<&[f64]> = active.iter().map(|&k| &states[k].w[..]).collect();
            let a = active.len();
            let pass = reducer.reduce(blocks, a * dim + a, &|b, out| {
                let rows = checked_block(data, b)?;
                hinge_block_multi(data, rows, keep_ref, &active, &ws, out);
                Ok(())
            })?;
            drop(ws);
            for &k in &active {
                states[k].fit.passes += 1;
            }
            if pass.count == 0 {
                continue;
            }
            let m = pass.count as f64;
            let eta = self.step() / libm::sqrt(i as f64);
            let shrink = 1.0 - eta * reg;
            for (j, &k) in active.iter().enumerate() {
                let st = &mut states[k];
                st.fit
                    .loss_history
                    .push(pass.grad[a * dim + j] / m + st.reg_val);
                if i == last {
                    st.done = true;
                    continue;
                }
                let g: Vec<f64> = pass.grad[j * dim..(j + 1) * dim]
                    .iter()
                    .map(|v| v / m)
                    .collect();
                st.w.iter_mut().for_each(|v| *v *= shrink);
                axpy_unfused(&mut st.w, -eta, &g);
                let norm = norm2(&st.w);
                st.reg_val = 0.5 * reg * norm * norm;
                st.fit.updates += 1;
                if let Some(prev) = st.previous.as_mut() {
                    let diff: Vec<f64> = prev.iter().zip(&st.w).map(|(x, y)| x - y).collect();
                    if norm2(&diff) < self.convergence_tol() * norm.max(1.0) {
                        st.fit.converged = true;
                        st.done = true;
                        continue;
                    }
                    prev.copy_from_slice(&st.w);
                } else {
                    st.previous = Some(st.w.clone());
                }
            }
        }
        Ok(states
            .into_iter()
            .map(|mut st| {
                st.fit.model.weights = st.w;
                st.fit
            })
            .collect())
    }
}

/// Index of the largest margin (the first on ties); `None` when `margins` is empty.
pub fn argmax(margins: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (k, m) in margins.iter().enumerate() {
        if best.is_none_or(|b| *m > margins[b]) {
            best = Some(k);
        }
    }
    best
}
