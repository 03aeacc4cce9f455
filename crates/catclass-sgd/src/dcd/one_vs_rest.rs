//! One vs rest by dual coordinate descent: the binary problems "class `k` against the rest" of
//! a range of classes solved together, each row read once per epoch for all of them.
//!
//! Every model keeps the state of a binary fit of its own (dual variables, active set, the
//! projected-gradient bounds of shrinking, epoch count, stopping rule, class weights from its
//! own 0/1 labels) and follows the binary algorithm step for step. What is shared is the row
//! order and the reading of the rows: each epoch shuffles all the rows (ChaCha12 from the seed,
//! whatever the models' active sets), and each model visits its active rows in that order. A
//! row that some model still has active is read once; the margins of every such model are
//! computed together (each with the bits of [`kernels::dot`]), then each model takes its
//! coordinate step, and the models that moved are updated together (each with the bits of
//! [`kernels::axpy`]). A row no model has active is not read; a model that stopped leaves
//! every row. `||x_i||^2` is computed once, in the first epoch, for all models.
//!
//! So a model's bits depend on the data, the parameters and its class only: fitting the
//! classes in one group or split into any ranges gives the same models. They are not those of
//! [`DcdParams::fit`] on the same labels (whose epochs shuffle only its active rows), but both
//! solve the same problem to the same stopping rule.

use super::{DcdError, DcdFit, DcdParams, Loss, below, check_whole, kernels};
use crate::data::{Dataset, Element};
use crate::model::LinearModel;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;
use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::SeedableRng;

/// One binary model's solver state (the per-row values live in the shared `rows x models`
/// arrays of [`DcdParams::solve_one_vs_rest`]).
struct Model {
    /// Upper bound `U` and diagonal `D` of negative rows (`[0]`) and positive rows (`[1]`).
    upper: [f64; 2],
    diag: [f64; 2],
    /// `C * c_neg`, `C * c_pos`.
    cost: [f64; 2],
    wb: f64,
    pg_max_old: f64,
    pg_min_old: f64,
    pg_max_new: f64,
    pg_min_new: f64,
    /// Rows in the active set.
    active: usize,
    epochs: usize,
    converged: bool,
    /// Still iterating.
    running: bool,
    /// Running sum of `|d| * ||x_j||` over the model's updates (see `DcdParams::solve`).
    moved: f64,
    updates: u64,
}

/// Checks that every label is a class index in `0 .. classes`.
fn check_classes(labels: &[f64], classes: usize) -> Result<(), DcdError> {
    let ok = |y: f64| y >= 0.0 && y < classes as f64 && y == libm::floor(y);
    let mut bad = labels.iter().enumerate().filter(|(_, y)| !ok(**y));
    if let Some((first_row, first_value)) = bad.next() {
        return Err(DcdError::InvalidClasses {
            count: 1 + bad.count(),
            first_row,
            first_value: *first_value,
            classes,
        });
    }
    Ok(())
}

impl DcdParams {
    /// Trains `classes` one-vs-rest models on all rows of `data`, whose labels are class
    /// indices `0.0 .. classes`: model `k` separates class `k` (label 1) from the rest (label
    /// 0), with that binary problem's class weights. All the models are fitted in one pass
    /// over the rows per epoch (module [`crate::dcd`]); each stops on its own rule, as
    /// [`DcdParams::fit`] does, and the fits come back in class order.
    ///
    /// ```
    /// use catclass_sgd::{Dataset, DcdParams};
    /// // Three classes on the three axes.
    /// let x = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    /// let data = Dataset::new(&x, &[0.0, 1.0, 2.0], 3)?;
    /// let fits = DcdParams::builder().c(10.0).check()?.fit_one_vs_rest(&data, 3)?;
    /// for (k, fit) in fits.iter().enumerate() {
    ///     assert!(fit.converged);
    ///     assert_eq!(fit.model.predict(&x[3 * k..3 * k + 3]), 1);
    /// }
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn fit_one_vs_rest<T: Element>(
        &self,
        data: &Dataset<'_, T>,
        classes: usize,
    ) -> Result<Vec<DcdFit>, DcdError> {
        self.fit_one_vs_rest_models(data, classes, 0..classes)
    }

    /// The models `models` (a range of `0 .. classes`) of [`DcdParams::fit_one_vs_rest`], with
    /// the same bits as there: a caller can split the classes into ranges, fit each range on
    /// its own thread (each still reads every row once per epoch) and get the models of a
    /// single fit.
    ///
    /// ```
    /// use catclass_sgd::{Dataset, DcdParams};
    /// let x = [1.0f32, 0.0, 0.0, 1.0, -1.0, -1.0];
    /// let data = Dataset::new(&x, &[0.0, 1.0, 2.0], 2)?;
    /// let p = DcdParams::builder().check()?;
    /// let all = p.fit_one_vs_rest(&data, 3)?;
    /// let mut parts = p.fit_one_vs_rest_models(&data, 3, 0..1)?;
    /// parts.extend(p.fit_one_vs_rest_models(&data, 3, 1..3)?);
    /// assert_eq!(all, parts);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn fit_one_vs_rest_models<T: Element>(
        &self,
        data: &Dataset<'_, T>,
        classes: usize,
        models: Range<usize>,
    ) -> Result<Vec<DcdFit>, DcdError> {
        check_whole(data)?;
        check_classes(data.labels(), classes)?;
        if models.start > models.end || models.end > classes {
            return Err(DcdError::Models {
                start: models.start,
                end: models.end,
                classes,
            });
        }
        self.solve_one_vs_rest(data, models)
    }

    fn solve_one_vs_rest<T: Element>(
        &self,
        data: &Dataset<'_, T>,
        models: Range<usize>,
    ) -> Result<Vec<DcdFit>, DcdError> {
        let n = data.held_rows();
        let dim = data.dim();
        let g = models.len();
        if g == 0 {
            return Ok(Vec::new());
        }
        // The model a row is positive for (`g`: none of this range). Labels are checked.
        let positive_of: Vec<usize> = data
            .labels()
            .iter()
            .map(|&y| {
                let class = y as usize;
                if models.contains(&class) {
                    class - models.start
                } else {
                    g
                }
            })
            .collect();
        let mut positives = vec![0usize; g];
        for &m in &positive_of {
            if m < g {
                positives[m] += 1;
            }
        }
        let bias = if self.b.intercept {
            self.b.bias_scale
        } else {
            0.0
        };
        let hinge = self.b.loss == Loss::Hinge;
        let bound_diag = |ci: f64| {
            if hinge {
                (ci, 0.0)
            } else {
                (f64::INFINITY, 0.5 / ci)
            }
        };
        let mut state: Vec<Model> = positives
            .iter()
            .map(|&p| {
                let (cp, cn) = self.multipliers_of_counts(n, p);
                let cost = [self.c * cn, self.c * cp];
                let (u_neg, d_neg) = bound_diag(cost[0]);
                let (u_pos, d_pos) = bound_diag(cost[1]);
                Model {
                    upper: [u_neg, u_pos],
                    diag: [d_neg, d_pos],
                    cost,
                    wb: 0.0,
                    pg_max_old: f64::INFINITY,
                    pg_min_old: f64::NEG_INFINITY,
                    pg_max_new: f64::NEG_INFINITY,
                    pg_min_new: f64::INFINITY,
                    active: n,
                    epochs: 0,
                    converged: n == 0,
                    running: n > 0,
                    moved: 0.0,
                    updates: 0,
                }
            })
            .collect();

        // Per row: `||x_i||^2 + bias^2`, filled in the first epoch (which reads every row);
        // how many models have it active. Per (row, model), row-major: the dual variable,
        // whether the row is in the model's active set, and the margin and `moved` when the
        // model last saw the row (for the primal objective, as in `DcdParams::solve`).
        let mut sq = vec![0.0f64; n];
        let mut row_models = vec![if n > 0 { g } else { 0 }; n];
        let mut alpha = vec![0.0f64; n * g];
        let mut on = vec![true; n * g];
        let mut seen_margin = vec![0.0f64; n * g];
        let mut seen_moved = vec![0.0f64; n * g];
        // The models' weights end to end.
        let mut w = vec![0.0f64; g * dim];
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha12Rng::seed_from_u64(self.b.seed);
        let mut running = if n > 0 { g } else { 0 };
        let mut first_epoch = true;
        let mut listed: Vec<usize> = Vec::with_capacity(g);
        let mut margins = vec![0.0f64; g];
        let mut steps: Vec<(usize, f64)> = Vec::with_capacity(g);

        while running > 0 {
            for j in 0..n {
                let k = j + below(&mut rng, (n - j) as u64) as usize;
                order.swap(j, k);
            }
            for st in state.iter_mut().filter(|st| st.running) {
                st.pg_max_new = f64::NEG_INFINITY;
                st.pg_min_new = f64::INFINITY;
            }
            for &i in &order {
                if row_models[i] == 0 {
                    continue;
                }
                let x = data.row(i);
                if first_epoch {
                    let q = kernels::sq_norm(x) + bias * bias;
                    if !q.is_finite() {
                        return Err(DcdError::NonFinite { row: i });
                    }
                    sq[i] = q;
                }
                let pairs = i * g..(i + 1) * g;
                listed.clear();
                listed.extend(
                    on[pairs.clone()]
                        .iter()
                        .enumerate()
                        .filter(|(_, o)| **o)
                        .map(|(m, _)| m),
                );
                kernels::dots(x, &w, &listed, &mut margins);
                steps.clear();
                for (&m, &wx) in listed.iter().zip(&margins) {
                    let st = &mut state[m];
                    let p = pairs.start + m;
                    let side = usize::from(positive_of[i] == m);
                    let (y, upper, diag) = if side == 1 {
                        (1.0, st.upper[1], st.diag[1])
                    } else {
                        (-1.0, st.upper[0], st.diag[0])
                    };
                    let margin = wx + st.wb * bias;
                    seen_margin[p] = margin;
                    seen_moved[p] = st.moved;
                    let a = alpha[p];
                    let grad = y * margin - 1.0 + diag * a;
                    let mut pg = 0.0;
                    if a == 0.0 {
                        if self.b.shrinking && grad > st.pg_max_old {
                            on[p] = false;
                            row_models[i] -= 1;
                            st.active -= 1;
                            continue;
                        }
                        if grad < 0.0 {
                            pg = grad;
                        }
                    } else if a == upper {
                        if self.b.shrinking && grad < st.pg_min_old {
                            on[p] = false;
                            row_models[i] -= 1;
                            st.active -= 1;
                            continue;
                        }
                        if grad > 0.0 {
                            pg = grad;
                        }
                    } else {
                        pg = grad;
                    }
                    st.pg_max_new = st.pg_max_new.max(pg);
                    st.pg_min_new = st.pg_min_new.min(pg);
                    if libm::fabs(pg) > 1e-12 {
                        let a_new = (a - grad / (sq[i] + diag)).max(0.0).min(upper);
                        alpha[p] = a_new;
                        let d = (a_new - a) * y;
                        steps.push((m, d));
                        st.wb += d * bias;
                        st.moved += libm::fabs(d) * libm::sqrt(sq[i]);
                        st.updates += 1;
                    }
                }
                kernels::axpys(&mut w, &steps, x);
            }
            first_epoch = false;
            for (m, st) in state.iter_mut().enumerate().filter(|(_, st)| st.running) {
                st.epochs += 1;
                let mut stop = false;
                // The spread of the projected gradient, 0 included (see `DcdParams::solve`).
                if st.pg_max_new.max(0.0) - st.pg_min_new.min(0.0) <= self.b.tol {
                    if st.active == n {
                        st.converged = true;
                        stop = true;
                    } else {
                        for (count, o) in row_models.iter_mut().zip(on[m..].iter_mut().step_by(g)) {
                            if !*o {
                                *o = true;
                                *count += 1;
                            }
                        }
                        st.active = n;
                        st.pg_max_old = f64::INFINITY;
                        st.pg_min_old = f64::NEG_INFINITY;
                    }
                } else {
                    st.pg_max_old = if st.pg_max_new <= 0.0 {
                        f64::INFINITY
                    } else {
                        st.pg_max_new
                    };
                    st.pg_min_old = if st.pg_min_new >= 0.0 {
                        f64::NEG_INFINITY
                    } else {
                        st.pg_min_new
                    };
                }
                if stop || st.epochs >= self.b.max_epochs {
                    st.running = false;
                    running -= 1;
                    for (count, o) in row_models.iter_mut().zip(on[m..].iter_mut().step_by(g)) {
                        if *o {
                            *o = false;
                            *count -= 1;
                        }
                    }
                }
            }
        }

        // The primal objectives, with the bits of a pass over every row (see
        // `DcdParams::solve`): a (row, model) pair whose margin is surely beyond 1 is skipped;
        // a row is read once for every model that needs its margin afresh.
        let w_sq: Vec<f64> = state
            .iter()
            .enumerate()
            .map(|(m, st)| kernels::sq_norm(&w[m * dim..(m + 1) * dim]) + st.wb * st.wb)
            .collect();
        let slack_of: Vec<(f64, f64)> = state
            .iter()
            .zip(&w_sq)
            .map(|(st, wsq)| {
                let w_bound = libm::sqrt(*wsq) + st.moved;
                let rel = 4.0 * f64::EPSILON * ((dim + 2) as f64 + st.updates as f64) + 1e-12;
                (w_bound, rel)
            })
            .collect();
        let mut loss = vec![[0.0f64; 2]; g];
        for i in 0..n {
            let x_norm = libm::sqrt(sq[i]);
            listed.clear();
            for (m, st) in state.iter().enumerate() {
                let p = i * g + m;
                let y = if positive_of[i] == m { 1.0 } else { -1.0 };
                let (w_bound, rel) = slack_of[m];
                let drift = x_norm * (st.moved - seen_moved[p]);
                let slack = rel * (x_norm * w_bound + libm::fabs(seen_margin[p]) + drift + 1.0);
                if y * seen_margin[p] - drift - slack <= 1.0 {
                    listed.push(m);
                }
            }
            if listed.is_empty() {
                continue;
            }
            kernels::dots(data.row(i), &w, &listed, &mut margins);
            for (&m, &wx) in listed.iter().zip(&margins) {
                let side = usize::from(positive_of[i] == m);
                let y = if side == 1 { 1.0 } else { -1.0 };
                let h = 1.0 - y * (wx + state[m].wb * bias);
                if h > 0.0 {
                    loss[m][side] += if hinge { h } else { h * h };
                }
            }
        }

        let mut fits = Vec::with_capacity(g);
        let mut weights = w.chunks_exact(dim.max(1));
        for (m, st) in state.iter().enumerate() {
            let primal = 0.5 * w_sq[m] + (st.cost[1] * loss[m][1] + st.cost[0] * loss[m][0]);
            let mut sum_alpha = 0.0;
            let mut sum_diag = 0.0;
            let mut support_vectors = 0;
            for i in 0..n {
                let a = alpha[i * g + m];
                if a > 0.0 {
                    support_vectors += 1;
                }
                sum_alpha += a;
                sum_diag += st.diag[usize::from(positive_of[i] == m)] * a * a;
            }
            let dual = sum_alpha - 0.5 * w_sq[m] - 0.5 * sum_diag;
            fits.push(DcdFit {
                model: LinearModel {
                    weights: weights.next().map_or_else(Vec::new, <[f64]>::to_vec),
                    intercept: st.wb * bias,
                    threshold: 0.0,
                },
                epochs: st.epochs,
                primal_objective: primal,
                dual_objective: dual,
                duality_gap: primal - dual,
                converged: st.converged,
                support_vectors,
                c: self.c,
                rows: n,
            });
        }
        Ok(fits)
    }
}
