//! A trained classifier: one linear model for a binary task, one per class otherwise; and the
//! [`Predict`] trait every trained model implements.

use crate::dataset::{Dataset, Row};
use crate::metrics::{BinaryMetrics, Confusion, MulticlassMetrics};
use crate::{Executor, SvmError, Task};
use catclass_sgd::multiclass::argmax;
use catclass_sgd::{Element, LinearModel};
use serde::{Deserialize, Serialize};

/// What a trained model answers for rows of features.
///
/// ```
/// use catclass_svm::prelude::*;
/// let train = Dataset::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 0.9, 0.1, 0.1, 0.9], 2, ["cat", "dog", "cat", "dog"])?;
/// let model = SvmSgd::params().check()?.fit(&train, &Task::Multiclass, &ThreadPool::new(1)?)?;
/// assert_eq!(model.predict(&[0.8f32, 0.0]), Some("cat"));
/// let report = model.evaluate(&train)?;
/// assert_eq!(report.rows, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Predict {
    /// Values per row.
    fn dim(&self) -> usize;

    /// The decision value of a row: the margin of a binary model (positive class above its
    /// threshold), the largest margin of a multiclass one. Panics when `row.len() != dim()`.
    fn decision<T: Element>(&self, row: &[T]) -> f64;

    /// The predicted class of a row; `None` is "not the class" of a one-vs-rest model.
    /// Panics when `row.len() != dim()`.
    fn predict<T: Element>(&self, row: &[T]) -> Option<&str>;

    /// Scores the model on labelled rows (rows outside the model's classes are left out and
    /// counted), predicting on `exec`.
    fn evaluate_on<E: Executor>(&self, data: &Dataset, exec: &E) -> Result<Evaluation, SvmError>;

    /// [`Predict::evaluate_on`] in this thread.
    fn evaluate(&self, data: &Dataset) -> Result<Evaluation, SvmError> {
        self.evaluate_on(data, &catclass_sgd::Sequential)
    }
}

/// Metrics of a binary or a multiclass model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Metrics {
    /// A binary model: accuracy, majority baseline, balanced accuracy, P/R/F1, confusion.
    Binary(BinaryMetrics),
    /// A multiclass model: the same per class, macro averages and the confusion matrix.
    Multiclass(MulticlassMetrics),
}

impl Metrics {
    /// Share of rows predicted right.
    pub fn accuracy(&self) -> f64 {
        match self {
            Metrics::Binary(m) => m.accuracy,
            Metrics::Multiclass(m) => m.accuracy,
        }
    }

    /// Accuracy of always answering the larger class.
    pub fn majority_baseline(&self) -> f64 {
        match self {
            Metrics::Binary(m) => m.majority_baseline,
            Metrics::Multiclass(m) => m.majority_baseline,
        }
    }
}

/// A model scored on labelled rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The metrics.
    pub metrics: Metrics,
    /// Rows scored.
    pub rows: usize,
    /// Rows left out: classes the model does not know, or outside a one-vs-one task.
    pub rows_left_out: usize,
    /// The decision value of every row scored, in row order.
    #[serde(skip)]
    pub decisions: Vec<f64>,
}

/// What a solver did while training one model, beside the model.
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
    /// MLlib's objective of the final model, the same yardstick for both solvers (computed
    /// for binary tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    /// DCD epochs.
    pub epochs: Option<usize>,
    /// DCD's primal objective `0.5||w||^2 + C sum loss`.
    pub primal_objective: Option<f64>,
    /// DCD's dual objective.
    pub dual_objective: Option<f64>,
    /// Primal minus dual: how far from the optimum at most.
    pub duality_gap: Option<f64>,
}

/// A trained linear classifier for a [`Task`]: one [`LinearModel`] for a binary task, one per
/// class for [`Task::Multiclass`] (the largest margin wins), with what its solver did.
///
/// ```
/// use catclass_svm::{Classifier, Predict, Task, sgd::LinearModel};
/// let m = LinearModel { weights: vec![1.0, -1.0], intercept: 0.0, threshold: 0.0 };
/// let c = Classifier::new(Task::OneVsOne("cat".into(), "dog".into()), vec![m])?;
/// assert_eq!(c.decision(&[3.0f32, 1.0]), 2.0);
/// assert_eq!(c.predict(&[0.0f32, 1.0]), Some("dog"));
/// # Ok::<(), catclass_svm::SvmError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    task: Task,
    classes: Vec<String>,
    models: Vec<LinearModel>,
    fits: Vec<FitSummary>,
    dim: usize,
}

impl Classifier {
    pub(crate) fn trained(
        task: Task,
        classes: Vec<String>,
        models: Vec<LinearModel>,
        fits: Vec<FitSummary>,
        dim: usize,
    ) -> Self {
        Classifier {
            task,
            classes,
            models,
            fits,
            dim,
        }
    }

    /// A classifier from models trained elsewhere: one model for a binary task, or one per
    /// class of `classes` (see [`Classifier::multiclass`]). Every model must have the same
    /// number of weights.
    pub fn new(task: Task, models: Vec<LinearModel>) -> Result<Self, SvmError> {
        let classes = match &task {
            Task::OneVsOne(a, b) if a == b => return Err(SvmError::SameClass(a.clone())),
            Task::OneVsOne(a, b) => vec![a.clone(), b.clone()],
            Task::OneVsRest(a) => vec![a.clone()],
            Task::Multiclass => return Err(SvmError::MulticlassWithoutClasses),
        };
        Self::checked(task, classes, models)
    }

    /// A one-vs-rest classifier over `classes` (sorted, distinct), model `k` for class `k`.
    pub fn multiclass(classes: Vec<String>, models: Vec<LinearModel>) -> Result<Self, SvmError> {
        if classes.len() < 2 {
            return Err(SvmError::TooFewClasses { found: classes });
        }
        Self::checked(Task::Multiclass, classes, models)
    }

    fn checked(
        task: Task,
        classes: Vec<String>,
        models: Vec<LinearModel>,
    ) -> Result<Self, SvmError> {
        let want = if task.is_binary() { 1 } else { classes.len() };
        if models.len() != want {
            return Err(SvmError::ModelCount {
                models: models.len(),
                expected: want,
            });
        }
        let dim = models.first().map_or(0, LinearModel::dim);
        if dim == 0 {
            return Err(SvmError::ZeroDimension);
        }
        if let Some(m) = models.iter().find(|m| m.dim() != dim) {
            return Err(SvmError::RowLength {
                expected: dim,
                found: m.dim(),
            });
        }
        Ok(Classifier {
            task,
            classes,
            models,
            fits: Vec::new(),
            dim,
        })
    }

    /// The task.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// The classes answered: both of one vs one (positive first), the positive of one vs
    /// rest, every class (sorted) of a multiclass model.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The linear models: one, or one per class.
    pub fn models(&self) -> &[LinearModel] {
        &self.models
    }

    /// What the solver did for each model (empty for a classifier built with
    /// [`Classifier::new`]).
    pub fn fits(&self) -> &[FitSummary] {
        &self.fits
    }

    /// The margin of every model for a row. Panics when `row.len() != dim()`.
    pub fn decisions<T: Element>(&self, row: &[T]) -> Vec<f64> {
        assert_eq!(row.len(), self.dim, "row of {} values", row.len());
        self.models.iter().map(|m| m.margin(row)).collect()
    }

    fn answer(&self, margins: &[f64]) -> (Option<usize>, f64) {
        if self.task.is_binary() {
            let positive = margins[0] > self.models[0].threshold;
            let class = match (positive, self.classes.len()) {
                (true, _) => Some(0),
                (false, 2) => Some(1),
                (false, _) => None,
            };
            (class, margins[0])
        } else {
            let k = argmax(margins).unwrap_or(0);
            (Some(k), margins[k])
        }
    }

    fn answer_row(&self, row: Row<'_>) -> (Option<usize>, f64) {
        match row {
            Row::F32(r) => self.answer(&self.decisions(r)),
            Row::F64(r) => self.answer(&self.decisions(r)),
        }
    }
}

impl Predict for Classifier {
    fn dim(&self) -> usize {
        self.dim
    }

    fn decision<T: Element>(&self, row: &[T]) -> f64 {
        self.answer(&self.decisions(row)).1
    }

    fn predict<T: Element>(&self, row: &[T]) -> Option<&str> {
        let (class, _) = self.answer(&self.decisions(row));
        class.map(|k| self.classes[k].as_str())
    }

    fn evaluate_on<E: Executor>(&self, data: &Dataset, exec: &E) -> Result<Evaluation, SvmError> {
        if data.dim() != self.dim {
            return Err(SvmError::RowLength {
                expected: self.dim,
                found: data.dim(),
            });
        }
        // The class of each row as the model knows it: a class index, or `None` to leave the
        // row out.
        let known: Vec<Option<usize>> = data
            .classes()
            .iter()
            .map(|c| match &self.task {
                Task::OneVsRest(a) => Some(usize::from(c != a)),
                _ => self.classes.iter().position(|k| k == c),
            })
            .collect();
        let rows: Vec<(usize, usize)> = (0..data.rows())
            .filter_map(|r| known[data.targets()[r]].map(|k| (r, k)))
            .collect();
        let answers = exec.map(rows.len(), |i| self.answer_row(data.row(rows[i].0)));
        let truth = rows.iter().map(|(_, k)| *k);
        let metrics = if self.task.is_binary() {
            let pairs = truth
                .zip(&answers)
                .map(|(t, (p, _))| (t == 0, *p == Some(0)));
            Metrics::Binary(BinaryMetrics::from_confusion(Confusion::from_pairs(pairs)))
        } else {
            let pairs = truth.zip(&answers).map(|(t, (p, _))| (t, p.unwrap_or(0)));
            Metrics::Multiclass(MulticlassMetrics::from_pairs(&self.classes, pairs))
        };
        Ok(Evaluation {
            metrics,
            rows: rows.len(),
            rows_left_out: data.rows() - rows.len(),
            decisions: answers.into_iter().map(|(_, m)| m).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(w: &[f64], b: f64) -> LinearModel {
        LinearModel {
            weights: w.to_vec(),
            intercept: b,
            threshold: 0.0,
        }
    }

    #[test]
    fn refuses_models_that_do_not_fit_the_task() {
        let one = || vec![linear(&[1.0, 0.0], 0.0)];
        assert!(matches!(
            Classifier::new(Task::Multiclass, one()),
            Err(SvmError::MulticlassWithoutClasses)
        ));
        assert!(matches!(
            Classifier::new(Task::OneVsRest("a".into()), vec![]),
            Err(SvmError::ModelCount {
                models: 0,
                expected: 1
            })
        ));
        assert!(matches!(
            Classifier::multiclass(vec!["a".into(), "b".into()], one()),
            Err(SvmError::ModelCount {
                models: 1,
                expected: 2
            })
        ));
        assert!(matches!(
            Classifier::multiclass(
                vec!["a".into(), "b".into()],
                vec![linear(&[1.0], 0.0), linear(&[1.0, 2.0], 0.0)]
            ),
            Err(SvmError::RowLength {
                expected: 1,
                found: 2
            })
        ));
    }

    #[test]
    fn answers_per_task() {
        let m = || vec![linear(&[1.0, -1.0], 0.0)];
        let rest = Classifier::new(Task::OneVsRest("cat".into()), m()).unwrap();
        assert_eq!(rest.predict(&[2.0f32, 1.0]), Some("cat"));
        assert_eq!(
            rest.predict(&[1.0f32, 1.0]),
            None,
            "margin 0 is not above the threshold"
        );
        let multi = Classifier::multiclass(
            vec!["a".into(), "b".into(), "c".into()],
            vec![
                linear(&[1.0, 0.0], 0.0),
                linear(&[0.0, 1.0], 0.0),
                linear(&[0.0, 1.0], 0.0),
            ],
        )
        .unwrap();
        // Ties go to the first class, as in `catclass eval`.
        assert_eq!(multi.predict(&[0.0f64, 3.0]), Some("b"));
        assert_eq!(multi.decision(&[0.0f64, 3.0]), 3.0);
        assert_eq!(multi.decisions(&[1.0f64, 3.0]), [1.0, 3.0, 3.0]);
        let data =
            Dataset::from_slice(&[5.0f32, 0.0, 0.0, 5.0, 1.0, 1.0], 2, ["a", "b", "z"]).unwrap();
        let e = multi.evaluate(&data).unwrap();
        assert_eq!(
            (e.rows, e.rows_left_out),
            (2, 1),
            "class z is not the model's"
        );
        assert_eq!(e.metrics.accuracy(), 1.0);
    }
}
