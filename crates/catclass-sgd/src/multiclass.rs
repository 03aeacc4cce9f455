//! One vs rest: `K` MLlib-exact binary fits trained together, one data pass per iteration.
//!
//! Model `k` learns "class `k`" (label 1) against every other class (label 0). Each pass reads
//! every kept row once and uses it for all the models still training: for a group of rows
//! every (row, model) margin is computed in MLlib's exact order (a register-blocked kernel, the
//! same sums as the binary fit's `dot`), and the hinge subgradients are added to each model's
//! slice of a `K x d` gradient, rows in order. The per-block sums are folded by the [`BlockReducer`] in block order, exactly
//! as in the binary fit, so model `k` here is bit-identical to
//! [`SgdParams::fit`] on the labels `class == k` (mini-batches and early stopping included: a
//! model that converged stops updating and leaves the pass; the others go on).
//!
//! The partial of a pass packs, for the `a` models still active, `a * d` gradient values
//! followed by their `a` loss sums; the row count is shared (every model sees the same sample).

use crate::TrainError;
use crate::data::{Dataset, Element};
use crate::mllib::{Descent, SgdFit, checked_block, hinge, sample_pass, with_bias};
use crate::multikernel::{GROUP, Scratch, add_gradients, margins};
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
/// `out.count` counts the rows used. Model `active[j]` has weights `w[j]`. Rows are taken in
/// groups: every margin of a group is computed first (each in MLlib's order), then the hinge
/// test and the gradient of every (row, model) pair, rows in order, so each model's sums are
/// those of [`crate::mllib::hinge_block`] on its binary labels.
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
    let mut scratch = Scratch::new(a);
    let mut margin = vec![0.0; GROUP * a];
    let mut coef = vec![0.0; GROUP * a];
    let mut group: Vec<&[T]> = Vec::with_capacity(GROUP);
    let mut labels: Vec<f64> = Vec::with_capacity(GROUP);
    let (grads, losses) = out.grad.split_at_mut(a * d);
    let mut flush = |group: &mut Vec<&[T]>, labels: &mut Vec<f64>| {
        if group.is_empty() {
            return;
        }
        margins(group, w, &mut scratch, &mut margin);
        for (q, y) in labels.iter().enumerate() {
            for (j, &k) in active.iter().enumerate() {
                let s = if *y == k as f64 { 1.0 } else { -1.0 };
                coef[q * a + j] = match hinge(s, margin[q * a + j]) {
                    Some(loss) => {
                        losses[j] += loss;
                        -s
                    }
                    None => 0.0,
                };
            }
        }
        add_gradients(group, &coef[..group.len() * a], a, grads, &mut scratch);
        group.clear();
        labels.clear();
    };
    let mut count = 0u64;
    for r in rows {
        if keep.is_some_and(|k| !k[r]) {
            continue;
        }
        group.push(data.row(r));
        labels.push(data.label(r));
        count += 1;
        if group.len() == GROUP {
            flush(&mut group, &mut labels);
        }
    }
    flush(&mut group, &mut labels);
    out.count += count;
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
            let mut fits = with_bias(data, |biased, w0| {
                self.run_multi(biased, classes, w0, reducer)
            })?;
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
        let mut models: Vec<Descent> = (0..classes)
            .map(|_| Descent::new(w0.clone(), self.reg_param()))
            .collect();
        let mut done = vec![n == 0; classes];
        let sampled = self.mini_batch_fraction() < 1.0;
        let mut keep = if sampled { vec![false; n] } else { Vec::new() };
        let blocks = block_count(n);
        let last = self.iterations() + 1;
        for i in 1..=last {
            let active: Vec<usize> = (0..classes).filter(|&k| !done[k]).collect();
            if active.is_empty() {
                break;
            }
            if sampled {
                sample_pass(self, &mut keep, i);
            }
            let keep_ref = sampled.then_some(&keep[..]);
            let ws: Vec<&[f64]> = active.iter().map(|&k| &models[k].w[..]).collect();
            let a = active.len();
            let pass = reducer.reduce(blocks, a * dim + a, &|b, out| {
                let rows = checked_block(data, b)?;
                hinge_block_multi(data, rows, keep_ref, &active, &ws, out);
                Ok(())
            })?;
            drop(ws);
            for &k in &active {
                models[k].fit.passes += 1;
            }
            if pass.count == 0 {
                continue;
            }
            for (j, &k) in active.iter().enumerate() {
                let grad = &pass.grad[j * dim..(j + 1) * dim];
                let loss = pass.grad[a * dim + j];
                done[k] = models[k].after_pass(self, i, grad, loss, pass.count);
            }
        }
        Ok(models.into_iter().map(Descent::finish).collect())
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
