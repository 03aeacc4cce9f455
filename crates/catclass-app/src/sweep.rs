//! Accuracy against the training share: the seed's `performance.pdf`, as data.
//!
//! The features are read once; for every training share and repeat (seed `seed + r`) the rows
//! are split with the same stratified split as `catclass train --train-fraction f --seed s`
//! (so each point is reproducible with that command), a model is trained and scored. The
//! settings run in parallel on the executor's workers, each fit sequentially (results do not
//! depend on the number of workers).

use crate::seed::seed_title;
use crate::solver::Solver;
use crate::{AppError, Executor};
use catclass_sgd::Sequential;
use catclass_store::{FeatureCatalog, FeatureEntry, StoreOptions};
use catclass_svm::{Dataset, Fit, Metrics, Predict, Task};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Sweep settings refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A training share outside (0, 1).
    #[error("training shares must be in (0, 1), got {0}")]
    Share(f64),
    /// No share or no repeat.
    #[error("a sweep needs at least one share and one repeat")]
    Empty,
}

/// What a sweep trains.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Feature location.
    pub features: String,
    /// What is learned at every point.
    pub task: Task,
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
}

/// Runs the sweep of `cfg` on `exec` (settings in parallel, each fit on one thread).
pub fn sweep<E: Executor>(cfg: &SweepConfig, exec: &E) -> Result<Sweep, AppError> {
    if let Some(bad) = cfg.fractions.iter().find(|f| !(**f > 0.0 && **f < 1.0)) {
        return Err(SweepError::Share(*bad).into());
    }
    if cfg.fractions.is_empty() || cfg.repeats == 0 {
        return Err(SweepError::Empty.into());
    }
    if let Task::OneVsOne(a, b) = &cfg.task
        && a == b
    {
        return Err(catclass_svm::SvmError::SameClass(a.clone()).into());
    }
    let (entries, set) = crate::blocking::block_on(async {
        let loc = crate::location::open(&cfg.features, &cfg.store)?;
        let catalog = FeatureCatalog::list_as(&loc, cfg.store.feature_format).await?;
        for class in cfg.task.named_classes() {
            catalog.require_class(class)?;
        }
        let entries: Vec<FeatureEntry> = catalog
            .entries()
            .iter()
            .filter(|e| cfg.task.includes(&e.class))
            .cloned()
            .collect();
        let set = catalog
            .read(&entries, cfg.store.concurrency, &|_| {})
            .await?;
        Ok::<_, AppError>((entries, set))
    })?;
    let classes: Vec<&str> = entries.iter().map(|e| e.class.as_str()).collect();
    let data = Dataset::from_values(set.values, set.dim, classes)?;
    if cfg.task == Task::Multiclass && data.classes().len() < 2 {
        return Err(AppError::TooFewClasses {
            location: cfg.features.clone(),
            found: data.classes().to_vec(),
        });
    }
    let settings: Vec<(f64, u64)> = cfg
        .fractions
        .iter()
        .flat_map(|f| (0..cfg.repeats as u64).map(move |r| (*f, r)))
        .collect();
    let points = exec.map(settings.len(), |i| {
        let (share, r) = settings[i];
        // Wrapping: `catclass train --seed` with the same wrapped seed reproduces the point.
        let seed = cfg.seed.wrapping_add(r);
        let (train, test) = data.split_stratified(share, seed);
        let solver = cfg.solver.reseeded(seed)?;
        let t = Instant::now();
        let model = solver.fit(&train, &cfg.task, &Sequential)?;
        let train_seconds = t.elapsed().as_secs_f64();
        let (accuracy, balanced_accuracy, f1, majority_baseline) =
            match model.evaluate(&test)?.metrics {
                Metrics::Binary(m) => (m.accuracy, m.balanced_accuracy, m.f1, m.majority_baseline),
                Metrics::Multiclass(m) => (
                    m.accuracy,
                    m.balanced_accuracy,
                    m.macro_f1,
                    m.majority_baseline,
                ),
            };
        Ok::<_, AppError>(SweepPoint {
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
        Task::Multiclass => format!("one vs rest, {} classes", data.classes().len()),
        t => seed_title(t),
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
    use crate::train::{TestRows, TrainConfig, TrainOutcome};
    use catclass_svm::{SvmSgd, ThreadPool};

    #[test]
    fn each_point_equals_a_train_run_and_threads_do_not_matter() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = tmp.path().join("f").to_string_lossy().into_owned();
        let loc = crate::location::create(&spec, &StoreOptions::default()).unwrap();
        crate::blocking::block_on(pets_like(2, 3, 20, 16).write_json_files(&loc, 8)).unwrap();
        let solver = Solver::MllibSgd(
            SvmSgd::params()
                .iterations(15)
                .mini_batch_fraction(0.5)
                .check()
                .unwrap(),
        );
        let task = Task::OneVsRest("Bengal".into());
        let cfg = SweepConfig {
            features: spec.clone(),
            task: task.clone(),
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
        let train = crate::train::train(
            &TrainConfig {
                features: spec.clone(),
                task,
                test: TestRows::Split {
                    train_fraction: 0.7,
                },
                seed: 5,
                solver: solver.reseeded(5).unwrap(),
                store: StoreOptions::default(),
                cache: None,
            },
            &ThreadPool::new(2).unwrap(),
            &|_| {},
        )
        .unwrap();
        let TrainOutcome::Binary { report, .. } = train else {
            panic!("binary run gave a multiclass outcome");
        };
        assert_eq!(two.points[3].accuracy, report.test_accuracy);
        assert_eq!(two.points[3].f1, report.f1);
        let csv = two.to_csv();
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.starts_with("share,seed,accuracy"));
        assert_eq!(two.shares(), vec![0.3, 0.7]);
        #[cfg(feature = "plots")]
        {
            let chart = crate::plot::sweep_chart(&two).unwrap();
            assert!(chart.svg.contains("<svg") && chart.svg.trim_end().ends_with("</svg>"));
            assert_eq!(
                chart.svg.matches("<polygon").count(),
                3,
                "one band per metric"
            );
            assert!(chart.svg.contains("Bengal"));
            assert!(chart.png.starts_with(b"\x89PNG"));
        }

        let multi = sweep(
            &SweepConfig {
                task: Task::Multiclass,
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

    #[test]
    fn seeds_near_the_top_wrap_instead_of_overflowing() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = tmp.path().join("f").to_string_lossy().into_owned();
        let loc = crate::location::create(&spec, &StoreOptions::default()).unwrap();
        crate::blocking::block_on(pets_like(2, 2, 10, 8).write_json_files(&loc, 8)).unwrap();
        let cfg = SweepConfig {
            features: spec,
            task: Task::Multiclass,
            fractions: vec![0.5],
            repeats: 2,
            seed: u64::MAX,
            solver: Solver::MllibSgd(SvmSgd::params().iterations(5).check().unwrap()),
            store: StoreOptions::default(),
        };
        let s = sweep(&cfg, &ThreadPool::new(1).unwrap()).unwrap();
        let seeds: Vec<u64> = s.points.iter().map(|p| p.seed).collect();
        assert_eq!(seeds, [u64::MAX, 0]);
    }
}
