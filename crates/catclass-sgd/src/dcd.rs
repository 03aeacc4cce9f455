//! Dual coordinate descent (DCD) for the L2-regularised linear SVM: the algorithm of LIBLINEAR
//! (Hsieh, Chang, Lin, Keerthi and Sundararajan, "A Dual Coordinate Descent Method for
//! Large-scale Linear SVM", ICML 2008), written from the paper.
//!
//! # Objective
//!
//! With labels `y_i = 2 * label_i - 1` (labels are MLlib's 0/1), per-row costs
//! `C_i = C * c_pos` (positive rows) or `C * c_neg` (negative rows) from the
//! [`ClassWeight`], and `x_i` the row (with a trailing `bias_scale` when an intercept is fitted,
//! LIBLINEAR style: the bias is an ordinary, regularised weight `w_b` and the model's intercept
//! is `w_b * bias_scale`), the primal problem is
//!
//! ```text
//! P(w) = 0.5 * ||w||^2 + sum_i C_i * loss(y_i * w.x_i)
//! loss(m) = max(0, 1 - m)        (Loss::Hinge)
//! loss(m) = max(0, 1 - m)^2      (Loss::SquaredHinge)
//! ```
//!
//! and its dual, with `w(alpha) = sum_i alpha_i y_i x_i`, `U_i = C_i` and `D_i = 0` for the hinge,
//! `U_i = +inf` and `D_i = 1 / (2 C_i)` for the squared hinge:
//!
//! ```text
//! D(alpha) = sum_i alpha_i - 0.5 * ||w(alpha)||^2 - 0.5 * sum_i D_i alpha_i^2,  0 <= alpha_i <= U_i
//! ```
//!
//! Weak duality gives `P(w) >= P(w*) = D(alpha*) >= D(alpha)` for any `w` and feasible `alpha`, so
//! the duality gap `P(w) - D(alpha)` bounds how far the model is from the optimum.
//!
//! # MLlib's scaling
//!
//! MLlib's `SVMWithSGD` minimises, over `n` rows, `F(w) = (1/n) sum_i hinge(y_i w.x_i)
//! + (regParam / 2) ||w||^2` (its intercept, when asked for, is a bias feature of value 1.0 that
//! is regularised too: `bias_scale = 1`). Dividing by `regParam` gives `P(w)` with
//! `C = 1 / (regParam * n)` and unit class weights, so the two problems have the same minimiser
//! and `F(w) = P(w) / (C * n) = regParam * P(w)` for every `w` ([`DcdFit::mllib_objective`]).
//! [`DcdParamsBuilder::reg_param`] makes that mapping. With class weights the same identity holds
//! for `F(w) = (1/n) sum_i c_i hinge(y_i w.x_i) + (regParam / 2) ||w||^2`.
//!
//! # Algorithm
//!
//! Each epoch visits the active rows in a random order (a Fisher-Yates shuffle drawn from
//! ChaCha12 seeded by [`DcdParamsBuilder::seed`]); for row `i` the gradient of the dual is
//! `G = y_i w.x_i - 1 + D_i alpha_i`, its projection `PG` onto the box is taken, and when
//! `|PG| > 1e-12` the coordinate moves to `clip(alpha_i - G / Q_ii, 0, U_i)` with
//! `Q_ii = ||x_i||^2 + D_i` (computed in the first epoch, which visits every row, in the same
//! read of the row as its margin) and `w += (alpha_new - alpha_old) y_i x_i`.
//! Shrinking (optional) drops from the active set the rows at a bound whose gradient points
//! outward by more than the previous epoch's largest violation; the loop stops when the spread of
//! the projected gradient over an epoch, `max(PGmax, 0) - min(PGmin, 0)`, is at most `tol` on the
//! whole set (a shrunk set that meets the rule is re-expanded and checked again), or after
//! `max_epochs` epochs. (LIBLINEAR's rule is `PGmax - PGmin <= tol`; counting 0 in makes no
//! difference as soon as one row has `PG = 0` or the signs differ, the usual case, and keeps
//! the rule from stopping when every `PG` of an epoch has the same value.)
//!
//! After the loop, [`DcdFit`] reports `P(w)` of the returned model, `D(alpha)` (with `w(alpha)`
//! the maintained `w`) and their gap. `P(w)` has the same bits as a pass over every row, but
//! rows whose last seen margin, less the most the updates since can have moved it, is still
//! beyond 1 are not read again.
//!
//! # One vs rest
//!
//! [`DcdParams::fit_one_vs_rest`] fits the binary problems "class `k` against the rest" of a
//! multiclass set together, each with the state and stopping rule of its own binary fit, reading
//! each row once per epoch for every model that still has it active; its epochs shuffle all the
//! rows, so a model's bits do not depend on the other models fitted with it
//! ([`DcdParams::fit_one_vs_rest_models`] fits a range of the classes with the same bits).
//!
//! # Reproducibility
//!
//! A fit is sequential: same data, same parameters and same seed give the same bits, on every
//! run and for any number of threads the caller uses around it. The dot products and updates
//! use a fixed 16-lane order with fused multiply-adds; the AVX2 path and the portable path give
//! identical bits.

use crate::data::{Dataset, DatasetError, Element};
use crate::model::LinearModel;
use alloc::vec;
use alloc::vec::Vec;
use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// The loss of the primal problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loss {
    /// `max(0, 1 - m)` (L1-loss SVM, MLlib's and LinearSVC's `loss='hinge'`).
    #[default]
    Hinge,
    /// `max(0, 1 - m)^2` (L2-loss SVM, LinearSVC's default `loss='squared_hinge'`).
    SquaredHinge,
}

/// Per-class multipliers of `C`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ClassWeight {
    /// Every row costs `C`.
    #[default]
    None,
    /// `n / (2 n_pos)` for positive rows and `n / (2 n_neg)` for negative rows (scikit-learn's
    /// `class_weight='balanced'`); a class with no rows gets weight 1 (it has no rows to weigh).
    Balanced,
    /// Explicit multipliers, both finite and > 0.
    Custom {
        /// Multiplier of `C` for rows labelled 1.
        pos: f64,
        /// Multiplier of `C` for rows labelled 0.
        neg: f64,
    },
}

/// How the cost `C` was given.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cost {
    C(f64),
    Reg { reg: f64, rows: usize },
}

/// A DCD parameter that was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DcdParamError {
    /// `C` must be finite and > 0.
    #[error("C must be a finite number > 0, got {0}")]
    C(f64),
    /// `reg_param` must be finite and > 0 (0 would be an infinite `C`).
    #[error("regularisation parameter must be a finite number > 0, got {0}")]
    RegParam(f64),
    /// `reg_param` needs the number of training rows, which must be at least 1.
    #[error("the number of rows behind reg_param must be at least 1")]
    Rows,
    /// `reg_param` and the number of rows give a `C` that is not finite and > 0.
    #[error("C = 1 / (reg_param * n) = {0} is not a finite number > 0")]
    DerivedC(f64),
    /// `tol` must be finite and > 0.
    #[error("tolerance must be a finite number > 0, got {0}")]
    Tol(f64),
    /// At least one epoch.
    #[error("max_epochs must be at least 1")]
    MaxEpochs,
    /// `bias_scale` must be finite and > 0.
    #[error("bias scale must be a finite number > 0, got {0}")]
    BiasScale(f64),
    /// Class weights must be finite and > 0.
    #[error("class weights must be finite numbers > 0, got pos {pos}, neg {neg}")]
    ClassWeight {
        /// Weight of the positive class.
        pos: f64,
        /// Weight of the negative class.
        neg: f64,
    },
}

/// Errors from a DCD fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DcdError {
    /// The parameters were refused.
    #[error(transparent)]
    Params(#[from] DcdParamError),
    /// The data were refused.
    #[error(transparent)]
    Data(#[from] DatasetError),
    /// Some labels are neither 0.0 nor 1.0.
    #[error("{count} label(s) are neither 0 nor 1 (first at row {first_row}: {first_value})")]
    InvalidLabels {
        /// How many rows have a bad label.
        count: usize,
        /// Index of the first such row (within the rows given).
        first_row: usize,
        /// Its label.
        first_value: f64,
    },
    /// Coordinate descent needs every row: the data set given is a shard.
    #[error("dual coordinate descent needs all {total} rows, got rows {first}..{end}")]
    Shard {
        /// First global row held.
        first: usize,
        /// One past the last global row held.
        end: usize,
        /// Rows of the whole data set.
        total: usize,
    },
    /// A row holds a value that is not finite (its squared norm is not finite).
    #[error("row {row} holds a non-finite value (or its squared norm overflows)")]
    NonFinite {
        /// Index of the row.
        row: usize,
    },
    /// Some labels of a one-vs-rest fit are not class indices `0 .. classes`.
    #[error(
        "{count} label(s) are not class indices 0..{classes} (first at row {first_row}: {first_value})"
    )]
    InvalidClasses {
        /// How many rows have a bad label.
        count: usize,
        /// Index of the first such row.
        first_row: usize,
        /// Its label.
        first_value: f64,
        /// Number of classes.
        classes: usize,
    },
    /// The models asked of a one-vs-rest fit are not a range of the classes.
    #[error("models {start}..{end} are not a range of the classes 0..{classes}")]
    Models {
        /// First model asked for.
        start: usize,
        /// One past the last model asked for.
        end: usize,
        /// Number of classes.
        classes: usize,
    },
    /// The model's dimension differs from the data's.
    #[error("model has {model} weights but the data have {data} features")]
    Dimension {
        /// Weights of the model.
        model: usize,
        /// Features of the data.
        data: usize,
    },
}

/// Unchecked DCD parameters. Defaults: `C = 1`, hinge loss, `tol = 1e-4` and `max_epochs = 1000`
/// (scikit-learn's `LinearSVC` defaults), seed 20, no intercept (`bias_scale = 1` when one is
/// asked for), no class weights, shrinking on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcdParamsBuilder {
    cost: Cost,
    loss: Loss,
    tol: f64,
    max_epochs: usize,
    seed: u64,
    intercept: bool,
    bias_scale: f64,
    class_weight: ClassWeight,
    shrinking: bool,
}

impl Default for DcdParamsBuilder {
    fn default() -> Self {
        DcdParamsBuilder {
            cost: Cost::C(1.0),
            loss: Loss::Hinge,
            tol: 1e-4,
            max_epochs: 1000,
            seed: 20,
            intercept: false,
            bias_scale: 1.0,
            class_weight: ClassWeight::None,
            shrinking: true,
        }
    }
}

impl DcdParamsBuilder {
    /// The cost `C` of the primal objective (see the module docs).
    pub fn c(mut self, c: f64) -> Self {
        self.cost = Cost::C(c);
        self
    }
    /// MLlib's `regParam` over `rows` training rows: `C = 1 / (reg * rows)`, the same minimiser
    /// as MLlib's objective (see the module docs).
    pub fn reg_param(mut self, reg: f64, rows: usize) -> Self {
        self.cost = Cost::Reg { reg, rows };
        self
    }
    /// The loss.
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// Stop when `max PG - min PG <= tol` over an epoch of the whole set (LIBLINEAR's `eps`,
    /// scikit-learn's `tol`).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    /// At most this many epochs (scikit-learn's `max_iter`).
    pub fn max_epochs(mut self, n: usize) -> Self {
        self.max_epochs = n;
        self
    }
    /// Seed of the ChaCha12 stream that orders each epoch.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Whether to fit an intercept, as a regularised extra feature of value `bias_scale`.
    pub fn intercept(mut self, yes: bool) -> Self {
        self.intercept = yes;
        self
    }
    /// Value of the bias feature (LIBLINEAR's `B`, scikit-learn's `intercept_scaling`).
    pub fn bias_scale(mut self, b: f64) -> Self {
        self.bias_scale = b;
        self
    }
    /// Per-class multipliers of `C`.
    pub fn class_weight(mut self, w: ClassWeight) -> Self {
        self.class_weight = w;
        self
    }
    /// Whether to shrink the active set.
    pub fn shrinking(mut self, yes: bool) -> Self {
        self.shrinking = yes;
        self
    }

    /// Checks every parameter once; the result can be used without further checks.
    pub fn check(self) -> Result<DcdParams, DcdParamError> {
        let c = match self.cost {
            Cost::C(c) => {
                if !(c.is_finite() && c > 0.0) {
                    return Err(DcdParamError::C(c));
                }
                c
            }
            Cost::Reg { reg, rows } => {
                if !(reg.is_finite() && reg > 0.0) {
                    return Err(DcdParamError::RegParam(reg));
                }
                if rows == 0 {
                    return Err(DcdParamError::Rows);
                }
                let c = 1.0 / (reg * rows as f64);
                if !(c.is_finite() && c > 0.0) {
                    return Err(DcdParamError::DerivedC(c));
                }
                c
            }
        };
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(DcdParamError::Tol(self.tol));
        }
        if self.max_epochs == 0 {
            return Err(DcdParamError::MaxEpochs);
        }
        if !(self.bias_scale.is_finite() && self.bias_scale > 0.0) {
            return Err(DcdParamError::BiasScale(self.bias_scale));
        }
        if let ClassWeight::Custom { pos, neg } = self.class_weight {
            let ok = |v: f64| v.is_finite() && v > 0.0;
            if !(ok(pos) && ok(neg)) {
                return Err(DcdParamError::ClassWeight { pos, neg });
            }
        }
        Ok(DcdParams { b: self, c })
    }
}

/// Checked DCD parameters; build with [`DcdParams::builder`], train with [`DcdParams::fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DcdParams {
    b: DcdParamsBuilder,
    c: f64,
}

impl Default for DcdParams {
    fn default() -> Self {
        DcdParams {
            b: DcdParamsBuilder::default(),
            c: 1.0,
        }
    }
}

/// The outcome of a DCD fit.
#[derive(Debug, Clone, PartialEq)]
pub struct DcdFit {
    /// The trained model (threshold 0.0; intercept `w_b * bias_scale`, 0.0 without intercept).
    pub model: LinearModel,
    /// Epochs run.
    pub epochs: usize,
    /// `P(w)` of the returned model (module docs).
    pub primal_objective: f64,
    /// `D(alpha)` of the final dual point (module docs).
    pub dual_objective: f64,
    /// `primal_objective - dual_objective` (>= 0 up to rounding).
    pub duality_gap: f64,
    /// Whether the projected-gradient rule stopped the loop (false: `max_epochs` reached).
    pub converged: bool,
    /// Rows with `alpha_i > 0`.
    pub support_vectors: usize,
    /// The cost `C` used.
    pub c: f64,
    /// Number of training rows.
    pub rows: usize,
}

impl DcdFit {
    /// MLlib's objective `(1/n) sum_i c_i hinge + (reg/2) ||w||^2` of the model, with
    /// `reg = 1 / (C n)`: `primal_objective / (C n)` (0 for an empty set).
    pub fn mllib_objective(&self) -> f64 {
        if self.rows == 0 {
            return 0.0;
        }
        self.primal_objective / (self.c * self.rows as f64)
    }
}

impl DcdParams {
    /// A builder holding the defaults.
    pub fn builder() -> DcdParamsBuilder {
        DcdParamsBuilder::default()
    }
    /// The cost `C` (resolved from `reg_param` if that was given).
    pub fn c(&self) -> f64 {
        self.c
    }
    /// The loss.
    pub fn loss(&self) -> Loss {
        self.b.loss
    }
    /// Stopping tolerance on the projected gradient.
    pub fn tol(&self) -> f64 {
        self.b.tol
    }
    /// Most epochs.
    pub fn max_epochs(&self) -> usize {
        self.b.max_epochs
    }
    /// Seed of the epoch order.
    pub fn seed(&self) -> u64 {
        self.b.seed
    }
    /// Whether an intercept is fitted.
    pub fn intercept(&self) -> bool {
        self.b.intercept
    }
    /// Value of the bias feature.
    pub fn bias_scale(&self) -> f64 {
        self.b.bias_scale
    }
    /// Class weights.
    pub fn class_weight(&self) -> ClassWeight {
        self.b.class_weight
    }
    /// Whether the active set is shrunk.
    pub fn shrinking(&self) -> bool {
        self.b.shrinking
    }

    /// `(c_pos, c_neg)`: the multipliers of `C` for positive and negative rows of `labels`.
    pub fn class_multipliers(&self, labels: &[f64]) -> (f64, f64) {
        match self.b.class_weight {
            ClassWeight::None => (1.0, 1.0),
            ClassWeight::Custom { pos, neg } => (pos, neg),
            ClassWeight::Balanced => {
                let n_pos = labels.iter().filter(|y| **y == 1.0).count();
                self.multipliers_of_counts(labels.len(), n_pos)
            }
        }
    }

    /// [`DcdParams::class_multipliers`] of `rows` rows of which `positives` are positive.
    fn multipliers_of_counts(&self, rows: usize, positives: usize) -> (f64, f64) {
        match self.b.class_weight {
            ClassWeight::None => (1.0, 1.0),
            ClassWeight::Custom { pos, neg } => (pos, neg),
            ClassWeight::Balanced => {
                let w = |k: usize| {
                    if k == 0 {
                        1.0
                    } else {
                        rows as f64 / (2.0 * k as f64)
                    }
                };
                (w(positives), w(rows - positives))
            }
        }
    }

    fn check_data<T: Element>(&self, data: &Dataset<'_, T>) -> Result<(), DcdError> {
        check_whole(data)?;
        check_labels(data.labels())
    }

    /// `P(w)` of `model` on `data` (module docs), e.g. to score another solver's model on this
    /// objective. The bias weight is `model.intercept / bias_scale` when an intercept is fitted;
    /// otherwise the intercept (normally 0) enters the margins but not the regulariser.
    pub fn primal_objective<T: Element>(
        &self,
        data: &Dataset<'_, T>,
        model: &LinearModel,
    ) -> Result<f64, DcdError> {
        self.check_data(data)?;
        if model.weights.len() != data.dim() {
            return Err(DcdError::Dimension {
                model: model.weights.len(),
                data: data.dim(),
            });
        }
        let (wb, bias) = if self.b.intercept {
            (model.intercept / self.b.bias_scale, self.b.bias_scale)
        } else {
            (0.0, 0.0)
        };
        let offset = if self.b.intercept {
            0.0
        } else {
            model.intercept
        };
        Ok(self.primal(data, &model.weights, wb, bias, offset))
    }

    /// `P(w, wb)`: margins `x.w + wb * bias + offset`, regulariser `0.5 (||w||^2 + wb^2)`.
    fn primal<T: Element>(
        &self,
        data: &Dataset<'_, T>,
        w: &[f64],
        wb: f64,
        bias: f64,
        offset: f64,
    ) -> f64 {
        let (cp, cn) = self.class_multipliers(data.labels());
        let (c_pos, c_neg) = (self.c * cp, self.c * cn);
        let mut loss_pos = 0.0;
        let mut loss_neg = 0.0;
        for (r, &label) in data.labels().iter().enumerate() {
            let m = kernels::dot(data.row(r), w) + wb * bias + offset;
            let (ym, acc) = if label == 1.0 {
                (m, &mut loss_pos)
            } else {
                (-m, &mut loss_neg)
            };
            let h = 1.0 - ym;
            if h > 0.0 {
                *acc += match self.b.loss {
                    Loss::Hinge => h,
                    Loss::SquaredHinge => h * h,
                };
            }
        }
        0.5 * (kernels::sq_norm(w) + wb * wb) + (c_pos * loss_pos + c_neg * loss_neg)
    }

    /// Trains on all rows of `data` (labels 0/1); sequential and deterministic (module docs).
    pub fn fit<T: Element>(&self, data: &Dataset<'_, T>) -> Result<DcdFit, DcdError> {
        self.check_data(data)?;
        self.solve(data)
    }

    fn solve<T: Element>(&self, data: &Dataset<'_, T>) -> Result<DcdFit, DcdError> {
        let labels = data.labels();
        let n = data.held_rows();
        let dim = data.dim();
        let bias = if self.b.intercept {
            self.b.bias_scale
        } else {
            0.0
        };
        let (cp, cn) = self.class_multipliers(labels);
        let hinge = self.b.loss == Loss::Hinge;
        // Per class: upper bound U and diagonal D.
        let bound_diag = |ci: f64| {
            if hinge {
                (ci, 0.0)
            } else {
                (f64::INFINITY, 0.5 / ci)
            }
        };
        let (u_pos, d_pos) = bound_diag(self.c * cp);
        let (u_neg, d_neg) = bound_diag(self.c * cn);

        // Q_ii = ||x_i||^2 + bias^2 + D_i, filled in the first epoch (which visits every row
        // once, before any shrinking) by the kernel that also computes the row's margin, so the
        // rows are read once for both.
        let mut qd = vec![0.0f64; n];
        // For the primal objective without a last pass over every row: the margin each row had
        // when last visited, and the running sum `moved` of |d| * ||x_j|| over all updates at
        // that time. Since then the margin moved by at most ||x_i|| * (moved_end - moved_i).
        let mut seen_margin = vec![0.0f64; n];
        let mut seen_moved = vec![0.0f64; n];
        let mut moved = 0.0f64;
        let mut updates: u64 = 0;
        let mut w = vec![0.0f64; dim];
        let mut wb = 0.0f64;
        let mut alpha = vec![0.0f64; n];
        let mut index: Vec<usize> = (0..n).collect();
        let mut active = n;
        let mut rng = ChaCha12Rng::seed_from_u64(self.b.seed);
        let mut pg_max_old = f64::INFINITY;
        let mut pg_min_old = f64::NEG_INFINITY;
        let mut epochs = 0;
        let mut converged = n == 0;

        while !converged && epochs < self.b.max_epochs {
            let mut pg_max_new = f64::NEG_INFINITY;
            let mut pg_min_new = f64::INFINITY;
            for j in 0..active {
                let k = j + below(&mut rng, (active - j) as u64) as usize;
                index.swap(j, k);
            }
            let mut s = 0;
            while s < active {
                let i = index[s];
                let pos = labels[i] == 1.0;
                let (y, upper, diag) = if pos {
                    (1.0, u_pos, d_pos)
                } else {
                    (-1.0, u_neg, d_neg)
                };
                let wx = if epochs == 0 {
                    let (wx, sq) = kernels::dot_and_sq_norm(data.row(i), &w);
                    let q = sq + bias * bias;
                    if !q.is_finite() {
                        return Err(DcdError::NonFinite { row: i });
                    }
                    qd[i] = q + diag;
                    wx
                } else {
                    kernels::dot(data.row(i), &w)
                };
                let margin = wx + wb * bias;
                seen_margin[i] = margin;
                seen_moved[i] = moved;
                let g = y * margin - 1.0 + diag * alpha[i];
                let a = alpha[i];
                let mut pg = 0.0;
                if a == 0.0 {
                    if self.b.shrinking && g > pg_max_old {
                        active -= 1;
                        index.swap(s, active);
                        continue;
                    }
                    if g < 0.0 {
                        pg = g;
                    }
                } else if a == upper {
                    if self.b.shrinking && g < pg_min_old {
                        active -= 1;
                        index.swap(s, active);
                        continue;
                    }
                    if g > 0.0 {
                        pg = g;
                    }
                } else {
                    pg = g;
                }
                pg_max_new = pg_max_new.max(pg);
                pg_min_new = pg_min_new.min(pg);
                if libm::fabs(pg) > 1e-12 {
                    let a_new = (a - g / qd[i]).max(0.0).min(upper);
                    alpha[i] = a_new;
                    let d = (a_new - a) * y;
                    kernels::axpy(&mut w, d, data.row(i));
                    wb += d * bias;
                    moved += libm::fabs(d) * libm::sqrt(qd[i] - diag);
                    updates += 1;
                }
                s += 1;
            }
            epochs += 1;
            // The spread of the projected gradient, 0 included: at least max |PG|, even when
            // every PG of the epoch has the same sign (LIBLINEAR's `PGmax - PGmin` would then
            // stop early, e.g. on two rows whose PGs are equal).
            if pg_max_new.max(0.0) - pg_min_new.min(0.0) <= self.b.tol {
                if active == n {
                    converged = true;
                } else {
                    active = n;
                    pg_max_old = f64::INFINITY;
                    pg_min_old = f64::NEG_INFINITY;
                }
                continue;
            }
            pg_max_old = if pg_max_new <= 0.0 {
                f64::INFINITY
            } else {
                pg_max_new
            };
            pg_min_old = if pg_min_new >= 0.0 {
                f64::NEG_INFINITY
            } else {
                pg_min_new
            };
        }

        let w_sq = kernels::sq_norm(&w) + wb * wb;
        // The primal objective, the same bits as a pass over every row: a row whose margin is
        // surely beyond 1 (hinge term 0, which the full pass would not add) is skipped; any
        // other row's margin is computed afresh. The slack covers the rounding of the dot
        // products (at most ~ (dim + 2) eps ||x|| ||w||) and of the updates (at most ~ eps ||w||
        // per update, whatever their number).
        let w_bound = libm::sqrt(w_sq) + moved;
        let rel = 4.0 * f64::EPSILON * ((dim + 2) as f64 + updates as f64) + 1e-12;
        let (c_pos, c_neg) = (self.c * cp, self.c * cn);
        let mut loss_pos = 0.0;
        let mut loss_neg = 0.0;
        for (i, &label) in labels.iter().enumerate() {
            let y = if label == 1.0 { 1.0 } else { -1.0 };
            let diag = if label == 1.0 { d_pos } else { d_neg };
            let x_norm = libm::sqrt(qd[i] - diag);
            let drift = x_norm * (moved - seen_moved[i]);
            let slack = rel * (x_norm * w_bound + libm::fabs(seen_margin[i]) + drift + 1.0);
            if y * seen_margin[i] - drift - slack > 1.0 {
                continue;
            }
            let m = kernels::dot(data.row(i), &w) + wb * bias;
            let h = 1.0 - y * m;
            if h > 0.0 {
                let term = if hinge { h } else { h * h };
                if label == 1.0 {
                    loss_pos += term;
                } else {
                    loss_neg += term;
                }
            }
        }
        let primal = 0.5 * w_sq + (c_pos * loss_pos + c_neg * loss_neg);
        let mut sum_alpha = 0.0;
        let mut sum_diag = 0.0;
        let mut support_vectors = 0;
        for (a, &label) in alpha.iter().zip(labels) {
            if *a > 0.0 {
                support_vectors += 1;
            }
            sum_alpha += a;
            let diag = if label == 1.0 { d_pos } else { d_neg };
            sum_diag += diag * a * a;
        }
        let dual = sum_alpha - 0.5 * w_sq - 0.5 * sum_diag;
        Ok(DcdFit {
            model: LinearModel {
                weights: w,
                intercept: wb * bias,
                threshold: 0.0,
            },
            epochs,
            primal_objective: primal,
            dual_objective: dual,
            duality_gap: primal - dual,
            converged,
            support_vectors,
            c: self.c,
            rows: n,
        })
    }
}

/// Coordinate descent needs every row of the data set.
fn check_whole<T: Element>(data: &Dataset<'_, T>) -> Result<(), DcdError> {
    if data.first_row() != 0 || data.held_rows() != data.total_rows() {
        return Err(DcdError::Shard {
            first: data.first_row(),
            end: data.first_row() + data.held_rows(),
            total: data.total_rows(),
        });
    }
    Ok(())
}

fn check_labels(labels: &[f64]) -> Result<(), DcdError> {
    match crate::data::invalid_labels(labels) {
        Some((count, first_row, first_value)) => Err(DcdError::InvalidLabels {
            count,
            first_row,
            first_value,
        }),
        None => Ok(()),
    }
}

/// A uniform integer in `0..m` (`m >= 1`), by Lemire's multiply-and-reject method.
fn below(rng: &mut ChaCha12Rng, m: u64) -> u64 {
    let threshold = m.wrapping_neg() % m;
    loop {
        let prod = rng.next_u64() as u128 * m as u128;
        if prod as u64 >= threshold {
            return (prod >> 64) as u64;
        }
    }
}

pub mod kernels;
mod one_vs_rest;
