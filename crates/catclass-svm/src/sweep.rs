//! Accuracy against the training share: the seed's `performance.pdf`, as data.
//!
//! The features are read once; for every training share and repeat (seed `seed + r`) the rows
//! are split with the same stratified split as `catclass train --train-fraction f --seed s`
//! (so each point is reproducible with that command), a model is trained and scored. The
//! settings run in parallel on the executor's workers, each fit sequentially (results do not
//! depend on the number of workers).

use crate::metrics::{BinaryMetrics, Confusion, MulticlassMetrics};
use crate::multiclass::{fit_one_vs_rest_matrix, predict_classes};
use crate::solver::{Solver, fit_matrix};
use crate::split::stratified_split;
use crate::task::Task;
use crate::{Executor, SvmError};
use catclass_sgd::reduce::{BlockFn, BlockReducer, Partial, Sequential};
use catclass_sgd::{MiniBatchSampling, SgdParams};
use catclass_store::{FeatureCatalog, FeatureEntry, Location, StoreOptions};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What a sweep trains.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Feature location.
    pub features: String,
    /// A binary task, or `None` for one vs rest over every class.
    pub task: Option<Task>,
    /// Training shares, each in (0, 1).
    pub fractions: Vec<f64>,
    /// Repeats per share; repeat `r` uses seed `seed + r`.
    pub repeats: usize,
    /// First seed.
    pub seed: u64,
    /// The solver (the same for every point).
    pub solver: Solver,
    /// Store options.
    pub store: StoreOptions,
}

/// One point of a sweep (a row of `sweep.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Training share.
    pub share: f64,
    /// Split (and sampler) seed.
    pub seed: u64,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test balanced accuracy.
    pub balanced_accuracy: f64,
    /// F1 of the positive class (binary) or macro-F1 (multiclass).
    pub f1: f64,
    /// Majority-class baseline of the test rows.
    pub majority_baseline: f64,
    /// Seconds spent in the solver.
    pub train_seconds: f64,
}

/// The outcome of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Title: the classes and settings.
    pub title: String,
    /// Points in (share, seed) order.
    pub points: Vec<SweepPoint>,
}

impl Sweep {
    /// `sweep.csv`: a header, then one line per point.
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "share,seed,accuracy,balanced_accuracy,f1,majority_baseline,train_seconds\n",
        );
        for p in &self.points {
            s.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                p.share,
                p.seed,
                p.accuracy,
                p.balanced_accuracy,
                p.f1,
                p.majority_baseline,
                p.train_seconds
            ));
        }
        s
    }
}

/// One metric of a point.
pub type Metric = fn(&SweepPoint) -> f64;

/// Mean, min and max of one metric over the points at one share.
pub fn band(points: &[SweepPoint], share: f64, metric: Metric) -> (f64, f64, f64) {
    let v: Vec<f64> = points
        .iter()
        .filter(|p| p.share == share)
        .map(metric)
        .collect();
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, lo, hi)
}

impl Sweep {
    /// The distinct shares, ascending.
    pub fn shares(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.points.iter().map(|p| p.share).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    }

    /// `sweep.svg` and `sweep.png`: per metric the mean line and the min-max band against the
    /// training share, the majority baseline dashed, titled with the classes and settings.
    pub fn chart(&self) -> Result<crate::plot::Chart, crate::plot::PlotError> {
        crate::plot::sweep_chart(self)
    }
}

/// One worker's executor: blocks and maps on the calling thread.
struct Serial;

impl BlockReducer for Serial {
    fn reduce(
        &self,
        n_blocks: usize,
        len: usize,
        block: &BlockFn<'_>,
    ) -> Result<Partial, catclass_sgd::TrainError> {
        Sequential.reduce(n_blocks, len, block)
    }
}

impl Executor for Serial {
    fn map<T: Send, F: Fn(usize) -> T + Sync + Send>(&self, n: usize, f: F) -> Vec<T> {
        (0..n).map(f).collect()
    }

    fn threads(&self) -> usize {
        1
    }
}

/// `p` with our sampler seeded `seed` (as `catclass train --seed seed` does); MLlib's sampler
/// is kept as is.
fn reseeded(p: &SgdParams, seed: u64) -> Result<SgdParams, SvmError> {
    let sampling = match p.sampling() {
        MiniBatchSampling::ChaCha { .. } => MiniBatchSampling::ChaCha { seed },
        spark => spark,
    };
    Ok(SgdParams::builder()
        .iterations(p.iterations())
        .step(p.step())
        .reg_param(p.reg_param())
        .mini_batch_fraction(p.mini_batch_fraction())
        .convergence_tol(p.convergence_tol())
        .intercept(p.intercept())
        .sampling(sampling)
        .check()?)
}

/// Runs the sweep of `cfg` on `exec` (settings in parallel).
pub fn sweep<E: Executor>(cfg: &SweepConfig, exec: &E) -> Result<Sweep, SvmError> {
    if let Some(bad) = cfg.fractions.iter().find(|f| !(**f > 0.0 && **f < 1.0)) {
        return Err(SvmError::Invalid(format!(
            "training shares must be in (0, 1), got {bad}"
        )));
    }
    if cfg.fractions.is_empty() || cfg.repeats == 0 {
        return Err(SvmError::Invalid(
            "a sweep needs at least one share and one repeat".into(),
        ));
    }
    if let Some(Task::OneVsOne { positive, negative }) = &cfg.task
        && positive == negative
    {
        return Err(SvmError::SameClass(positive.clone()));
    }
    let (entries, set) = catclass_store::block_on(async {
        let loc = Location::open(&cfg.features, &cfg.store)?;
        let catalog = FeatureCatalog::list_as(&loc, cfg.store.feature_format).await?;
        if let Some(task) = &cfg.task {
            catalog.require_class(task.positive())?;
            if let Task::OneVsOne { negative, .. } = task {
                catalog.require_class(negative)?;
            }
        }
        let entries: Vec<FeatureEntry> = catalog
            .entries()
            .iter()
            .filter(|e| cfg.task.as_ref().is_none_or(|t| t.includes(&e.class)))
            .cloned()
            .collect();
        let set = catalog
            .read(&entries, cfg.store.concurrency, &|_| {})
            .await?;
        Ok::<_, SvmError>((entries, set))
    })?;
    let classes: Vec<String> = entries.iter().map(|e| e.class.clone()).collect();
    let mut class_list = classes.clone();
    class_list.sort();
    class_list.dedup();
    if cfg.task.is_none() && class_list.len() < 2 {
        return Err(SvmError::Invalid(format!(
            "{}: one vs rest needs at least two classes",
            cfg.features
        )));
    }
    let dim = set.dim;
    let settings: Vec<(f64, u64)> = cfg
        .fractions
        .iter()
        .flat_map(|f| (0..cfg.repeats as u64).map(move |r| (*f, r)))
        .collect();
    let points = exec.map(settings.len(), |i| {
        let (share, r) = settings[i];
        let seed = cfg.seed + r;
        let split = stratified_split(&classes, share, seed);
        let x = set.values.select_rows(&split.train, dim);
        let test_x = set.values.select_rows(&split.test, dim);
        let solver = match &cfg.solver {
            Solver::MllibSgd(p) => Solver::MllibSgd(reseeded(p, seed)?),
            Solver::Dcd(c) => Solver::Dcd(crate::solver::DcdConfig { seed, ..*c }),
        };
        let t = Instant::now();
        let (accuracy, balanced_accuracy, f1, majority_baseline, train_seconds) = match &cfg.task {
            Some(task) => {
                let labels: Vec<f64> = split
                    .train
                    .iter()
                    .map(|&r| task.label(&classes[r]))
                    .collect();
                let (model, _) = fit_matrix(&solver, &x, &labels, dim, 0, labels.len(), &Serial)?;
                let secs = t.elapsed().as_secs_f64();
                let pairs = predict_classes(std::slice::from_ref(&model), &test_x, dim, &Serial)
                    .into_iter()
                    .zip(&split.test)
                    .map(|((_, m), &r)| (task.label(&classes[r]) == 1.0, m[0] > model.threshold));
                let m = BinaryMetrics::from_confusion(Confusion::from_pairs(pairs));
                (
                    m.accuracy,
                    m.balanced_accuracy,
                    m.f1,
                    m.majority_baseline,
                    secs,
                )
            }
            None => {
                let index = |c: &str| {
                    class_list
                        .binary_search_by(|x| x.as_str().cmp(c))
                        .unwrap_or(0)
                };
                let labels: Vec<f64> = split
                    .train
                    .iter()
                    .map(|&r| index(&classes[r]) as f64)
                    .collect();
                let fits = fit_one_vs_rest_matrix(
                    &solver,
                    &x,
                    &labels,
                    dim,
                    0,
                    labels.len(),
                    class_list.len(),
                    &Serial,
                )?;
                let secs = t.elapsed().as_secs_f64();
                let models: Vec<_> = fits.into_iter().map(|f| f.model).collect();
                let predicted = predict_classes(&models, &test_x, dim, &Serial);
                let m = MulticlassMetrics::from_pairs(
                    &class_list,
                    split
                        .test
                        .iter()
                        .map(|&r| index(&classes[r]))
                        .zip(predicted.iter().map(|(k, _)| *k)),
                );
                (
                    m.accuracy,
                    m.balanced_accuracy,
                    m.macro_f1,
                    m.majority_baseline,
                    secs,
                )
            }
        };
        Ok::<_, SvmError>(SweepPoint {
            share,
            seed,
            accuracy,
            balanced_accuracy,
            f1,
            majority_baseline,
            train_seconds,
        })
    });
    let points = points.into_iter().collect::<Result<Vec<_>, _>>()?;
    let what = match &cfg.task {
        Some(t) => t.title(),
        None => format!("one vs rest, {} classes", class_list.len()),
    };
    Ok(Sweep {
        title: format!(
            "{what} ({}, {} repeats, seed {})",
            cfg.solver.name(),
            cfg.repeats,
            cfg.seed
        ),
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::pets_like;
    use crate::{Evaluation, ThreadPool, TrainConfig};

    #[test]
    fn each_point_equals_a_train_run_and_threads_do_not_matter() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = tmp.path().join("f").to_string_lossy().into_owned();
        let loc = Location::create(&spec, &StoreOptions::default()).unwrap();
        catclass_store::block_on(pets_like(2, 3, 20, 16).write_json_files(&loc, 8)).unwrap();
        let solver = Solver::MllibSgd(
            SgdParams::builder()
                .iterations(15)
                .mini_batch_fraction(0.5)
                .check()
                .unwrap(),
        );
        let task = Task::OneVsAll {
            positive: "Bengal".into(),
        };
        let cfg = SweepConfig {
            features: spec.clone(),
            task: Some(task.clone()),
            fractions: vec![0.3, 0.7],
            repeats: 2,
            seed: 4,
            solver: solver.clone(),
            store: StoreOptions::default(),
        };
        let two = sweep(&cfg, &ThreadPool::new(2).unwrap()).unwrap();
        let one = sweep(&cfg, &ThreadPool::new(1).unwrap()).unwrap();
        let strip = |s: &Sweep| {
            s.points
                .iter()
                .map(|p| (p.share, p.seed, p.accuracy, p.balanced_accuracy, p.f1))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&two), strip(&one));
        assert_eq!(two.points.len(), 4);
        assert_eq!((two.points[3].share, two.points[3].seed), (0.7, 5));
        let train = crate::train(
            &TrainConfig {
                features: spec.clone(),
                task,
                evaluation: Evaluation::Split {
                    train_fraction: 0.7,
                },
                seed: 5,
                solver: Solver::MllibSgd(
                    reseeded(
                        &SgdParams::builder()
                            .iterations(15)
                            .mini_batch_fraction(0.5)
                            .check()
                            .unwrap(),
                        5,
                    )
                    .unwrap(),
                ),
                store: StoreOptions::default(),
            },
            &ThreadPool::new(2).unwrap(),
            &|_| {},
        )
        .unwrap();
        assert_eq!(two.points[3].accuracy, train.report.test_accuracy);
        assert_eq!(two.points[3].f1, train.report.f1);
        let csv = two.to_csv();
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.starts_with("share,seed,accuracy"));
        assert_eq!(two.shares(), vec![0.3, 0.7]);
        let chart = two.chart().unwrap();
        assert!(chart.svg.contains("<svg") && chart.svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            chart.svg.matches("<polygon").count(),
            3,
            "one band per metric"
        );
        assert!(chart.svg.contains("Bengal"));
        assert!(chart.png.starts_with(b"\x89PNG"));

        let multi = sweep(
            &SweepConfig {
                task: None,
                ..cfg.clone()
            },
            &ThreadPool::new(2).unwrap(),
        )
        .unwrap();
        assert!(multi.title.contains("3 classes"), "{}", multi.title);
        assert!(
            multi
                .points
                .iter()
                .all(|p| (p.majority_baseline - 1.0 / 3.0).abs() < 0.1)
        );
        assert!(
            sweep(
                &SweepConfig {
                    fractions: vec![1.0],
                    ..cfg
                },
                &ThreadPool::new(1).unwrap()
            )
            .is_err()
        );
    }
}
