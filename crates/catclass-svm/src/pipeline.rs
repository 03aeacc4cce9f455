//! The training pipeline: features -> split -> solver on an executor -> model and report.

use crate::metrics::{BinaryMetrics, Confusion};
use crate::model_file::{MODEL_FORMAT, MODEL_VERSION, ModelFile, TrainingRecord};
use crate::solver::{FitSummary, Solver, SolverRecord, fit_matrix};
use crate::split::stratified_split;
use crate::task::Task;
use crate::{Executor, SvmError};
use catclass_sgd::LinearModel;
use catclass_sgd::ROWS_PER_BLOCK;
use catclass_sgd::reduce::block_count;
use catclass_store::documents::{write_json, write_text};
use catclass_store::{
    FeatureCatalog, FeatureEntry, FeatureMatrix, FeatureSet, Location, StoreOptions,
};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How the model is evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// A seeded stratified split of the features (see [`crate::split`]).
    Split {
        /// Share of each class used for training.
        train_fraction: f64,
    },
    /// Train on all the features, test on this other location.
    TestSet(String),
}

/// Everything `catclass train` needs.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Feature location (folder, `s3://`, `memory://`).
    pub features: String,
    /// One vs one or one vs all.
    pub task: Task,
    /// Split or separate test set.
    pub evaluation: Evaluation,
    /// Seed of the split (and of our mini-batch sampler).
    pub seed: u64,
    /// The solver and its checked parameters.
    pub solver: Solver,
    /// Store options (S3 endpoint, read concurrency).
    pub store: StoreOptions,
}

/// Stages reported to a progress callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Listing done: this many files will be read.
    Listed {
        /// Files to read.
        files: usize,
    },
    /// Files read so far.
    Read {
        /// Done.
        done: usize,
    },
    /// Training started.
    Training,
    /// Evaluating.
    Evaluating,
}

/// Row counts of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Training rows.
    pub train_rows: usize,
    /// Positive training rows.
    pub train_positive: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Positive test rows.
    pub test_positive: usize,
    /// Feature files read.
    pub files_read: usize,
    /// Values per row.
    pub feature_dim: usize,
}

/// Wall-clock seconds per stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Listing and reading the features.
    pub load_seconds: f64,
    /// The solver.
    pub train_seconds: f64,
    /// Predicting the test rows.
    pub eval_seconds: f64,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// What was learned.
    pub task: Task,
    /// Accuracy on the test rows.
    pub test_accuracy: f64,
    /// Accuracy of always answering the larger test class.
    pub majority_baseline: f64,
    /// Mean per-class recall.
    pub balanced_accuracy: f64,
    /// Precision of the positive class.
    pub precision: f64,
    /// Recall of the positive class.
    pub recall: f64,
    /// F1 of the positive class.
    pub f1: f64,
    /// Test confusion counts.
    pub confusion: Confusion,
    /// Row counts.
    pub counts: Counts,
    /// What the solver did: updates, passes, convergence, MLlib's objective of the model,
    /// and for DCD its epochs, primal and dual objectives and duality gap.
    #[serde(flatten)]
    pub fit: FitSummary,
    /// What the run used and how it ran.
    #[serde(flatten)]
    pub run: RunRecord,
}

/// What a training run used and how it ran: the fields `report.json` of a binary and of a
/// one-vs-rest run share (flattened into both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Feature location.
    pub features: String,
    /// Separate test location, if any.
    pub test_features: Option<String>,
    /// `mllib-sgd` or `dcd`.
    pub solver: String,
    /// Solver settings.
    pub params: SolverRecord,
    /// Split seed.
    pub seed: u64,
    /// Share of each class used for training, when split.
    pub train_fraction: Option<f64>,
    /// Worker threads used.
    pub threads: usize,
    /// Processes used.
    pub ranks: usize,
    /// Stage times.
    pub timings: Timings,
    /// Warnings a reader must see (e.g. accuracy at the baseline).
    pub warnings: Vec<String>,
    /// catclass-svm version.
    pub catclass_version: String,
}

/// A trained model with its report.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// `model.json`.
    pub model: ModelFile,
    /// `report.json`.
    pub report: TrainReport,
}

impl TrainOutcome {
    /// The seed's `resultat.txt`: `A - B ---> accuracy`, then the accuracy alone.
    pub fn resultat_txt(&self) -> String {
        let acc = self.report.test_accuracy;
        format!("{} ---> {acc}\n{acc}\n", self.report.task.title())
    }

    /// Writes `resultat.txt`, `report.json` and `model.json` into `out` (each atomically).
    pub async fn write(&self, out: &Location) -> Result<(), SvmError> {
        out.put("model.json", self.model.to_json()).await?;
        write_json(out, "report.json", &self.report).await?;
        write_text(out, "resultat.txt", &self.resultat_txt()).await?;
        Ok(())
    }
}

/// What a run will read, decided from file names alone (no feature file read yet).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Catalog of the training location.
    pub train_catalog: FeatureCatalog,
    /// Training files, in file-name order (the order MLlib was fed in the golden cases).
    pub train: Vec<FeatureEntry>,
    /// Catalog of the test location (the training one when split).
    pub test_catalog: FeatureCatalog,
    /// Test files, in file-name order.
    pub test: Vec<FeatureEntry>,
}

async fn task_entries(
    spec: &str,
    task: &Task,
    store: &StoreOptions,
    require: bool,
) -> Result<(FeatureCatalog, Vec<FeatureEntry>), SvmError> {
    let loc = Location::open(spec, store)?;
    let catalog = FeatureCatalog::list_as(&loc, store.feature_format).await?;
    if require {
        catalog.require_class(task.positive())?;
        if let Task::OneVsOne { negative, .. } = task {
            catalog.require_class(negative)?;
        }
    }
    let entries: Vec<FeatureEntry> = catalog
        .entries()
        .iter()
        .filter(|e| task.includes(&e.class))
        .cloned()
        .collect();
    if entries.is_empty() {
        return Err(SvmError::NoRows {
            location: loc.to_string(),
            task: task.title(),
        });
    }
    Ok((catalog, entries))
}

/// Lists the locations of `cfg` and splits the files (by name and class only).
pub async fn plan(cfg: &TrainConfig) -> Result<Plan, SvmError> {
    let (train_catalog, entries) = task_entries(&cfg.features, &cfg.task, &cfg.store, true).await?;
    Ok(match &cfg.evaluation {
        Evaluation::Split { train_fraction } => {
            let classes: Vec<String> = entries.iter().map(|e| e.class.clone()).collect();
            let split = stratified_split(&classes, *train_fraction, cfg.seed);
            Plan {
                test_catalog: train_catalog.clone(),
                train_catalog,
                train: split.train.iter().map(|r| entries[*r].clone()).collect(),
                test: split.test.iter().map(|r| entries[*r].clone()).collect(),
            }
        }
        Evaluation::TestSet(spec) => {
            let (test_catalog, test) = task_entries(spec, &cfg.task, &cfg.store, false).await?;
            Plan {
                train_catalog,
                train: entries,
                test_catalog,
                test,
            }
        }
    })
}

/// Reads `entries` of `catalog`, checking their length against `reference` (dimension, file).
pub(crate) async fn read_checked(
    catalog: &FeatureCatalog,
    entries: &[FeatureEntry],
    reference: &(usize, String),
    store: &StoreOptions,
    progress: &(dyn Fn(Stage) + Sync),
    offset: usize,
) -> Result<FeatureSet, SvmError> {
    let set = catalog
        .read(entries, store.concurrency, &|done| {
            progress(Stage::Read {
                done: offset + done,
            })
        })
        .await?;
    if !entries.is_empty() && set.dim != reference.0 {
        return Err(catclass_store::StoreError::DimensionMismatch {
            file: catalog.location().describe(&entries[0].name),
            found: set.dim,
            expected: reference.0,
            reference: reference.1.clone(),
        }
        .into());
    }
    Ok(set)
}

/// Trains and evaluates per `cfg` on `exec`.
///
/// Each process reads only the training files of the blocks it holds
/// ([`Executor::local_blocks`]); the test files are read and scored by rank 0 only (other ranks
/// return an outcome with an empty evaluation).
pub fn train<E: Executor>(
    cfg: &TrainConfig,
    exec: &E,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<TrainOutcome, SvmError> {
    if let Task::OneVsOne { positive, negative } = &cfg.task
        && positive == negative
    {
        return Err(SvmError::SameClass(positive.clone()));
    }
    let t0 = Instant::now();
    // Every rank lists; all of them must succeed before any waits on another.
    let planned = catclass_store::block_on(plan(cfg));
    exec.agree(planned.as_ref().err().map(ToString::to_string))?;
    let plan = planned?;
    let total = plan.train.len();
    if total == 0 {
        return Err(SvmError::NoRows {
            location: cfg.features.clone(),
            task: cfg.task.title(),
        });
    }
    let blocks = exec.local_blocks(block_count(total));
    let first_row = (blocks.start * ROWS_PER_BLOCK).min(total);
    let end_row = (blocks.end * ROWS_PER_BLOCK).min(total);
    let local = &plan.train[first_row..end_row];
    let evaluates = exec.rank() == 0;
    let test_entries: &[FeatureEntry] = if evaluates { &plan.test } else { &[] };
    let loaded = catclass_store::block_on(async {
        // The first training file is every rank's reference for the feature length.
        let first = plan
            .train_catalog
            .read(&plan.train[..1], 1, &|_| {})
            .await?;
        let reference = (
            first.dim,
            plan.train_catalog.location().describe(&plan.train[0].name),
        );
        progress(Stage::Listed {
            files: local.len() + test_entries.len(),
        });
        let train_set = read_checked(
            &plan.train_catalog,
            local,
            &reference,
            &cfg.store,
            progress,
            0,
        )
        .await?;
        let test_set = read_checked(
            &plan.test_catalog,
            test_entries,
            &reference,
            &cfg.store,
            progress,
            local.len(),
        )
        .await?;
        Ok::<_, SvmError>((train_set, test_set.with_dim(reference.0)))
    });
    // A bad file on one rank stops every rank here, before the first pass.
    exec.agree(loaded.as_ref().err().map(ToString::to_string))?;
    let (train_set, test_set) = loaded?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let dim = test_set.dim;
    let labels: Vec<f64> = train_set
        .classes
        .iter()
        .map(|c| cfg.task.label(c))
        .collect();

    progress(Stage::Training);
    let t1 = Instant::now();
    let (fitted, summary) = fit_matrix(
        &cfg.solver,
        &train_set.values,
        &labels,
        dim,
        first_row,
        total,
        exec,
    )?;
    let train_seconds = t1.elapsed().as_secs_f64();

    progress(Stage::Evaluating);
    let t2 = Instant::now();
    let test_rows: Vec<usize> = (0..test_set.rows()).collect();
    let predictions = predict_rows(&fitted, &test_set.values, &test_rows, dim, exec);
    let test_labels: Vec<bool> = test_set
        .classes
        .iter()
        .map(|c| cfg.task.label(c) == 1.0)
        .collect();
    let confusion = Confusion::from_pairs(
        test_labels
            .iter()
            .copied()
            .zip(predictions.iter().map(|(p, _)| *p)),
    );
    let metrics = BinaryMetrics::from_confusion(confusion);
    let eval_seconds = t2.elapsed().as_secs_f64();

    let mut warnings = Vec::new();
    if plan.test.is_empty() {
        warnings.push("no test rows: accuracy is not measured".to_string());
    } else if matches!(cfg.task, Task::OneVsAll { .. }) && metrics.near_baseline(1.0) {
        warnings.push(format!(
            "accuracy {:.4} is within 1 point of the majority baseline {:.4}: the model barely beats \
             always answering \"not {}\" (see balanced_accuracy and f1)",
            metrics.accuracy,
            metrics.majority_baseline,
            cfg.task.positive()
        ));
    }
    let (test_features, train_fraction) = match &cfg.evaluation {
        Evaluation::Split { train_fraction } => (None, Some(*train_fraction)),
        Evaluation::TestSet(s) => (Some(s.clone()), None),
    };
    let params = cfg.solver.record();
    let (feature_source, feature_model) = crate::extract::feature_provenance(&plan.train_catalog);
    let version = env!("CARGO_PKG_VERSION").to_string();
    let model = ModelFile {
        format: MODEL_FORMAT.to_string(),
        version: MODEL_VERSION,
        task: cfg.task.clone(),
        feature_dim: dim,
        weights: fitted.weights.clone(),
        intercept: fitted.intercept,
        threshold: fitted.threshold,
        solver: cfg.solver.name().to_string(),
        params: params.clone(),
        training: TrainingRecord {
            features: cfg.features.clone(),
            test_features: test_features.clone(),
            train_fraction,
            seed: cfg.seed,
            train_rows: total,
            catclass_version: version.clone(),
            feature_source,
            feature_model,
        },
    };
    let report = TrainReport {
        task: cfg.task.clone(),
        test_accuracy: metrics.accuracy,
        majority_baseline: metrics.majority_baseline,
        balanced_accuracy: metrics.balanced_accuracy,
        precision: metrics.precision,
        recall: metrics.recall,
        f1: metrics.f1,
        confusion: metrics.confusion,
        counts: Counts {
            train_rows: total,
            train_positive: plan
                .train
                .iter()
                .filter(|e| cfg.task.label(&e.class) == 1.0)
                .count(),
            test_rows: plan.test.len(),
            test_positive: plan
                .test
                .iter()
                .filter(|e| cfg.task.label(&e.class) == 1.0)
                .count(),
            files_read: train_set.rows() + test_set.rows(),
            feature_dim: dim,
        },
        fit: summary,
        run: RunRecord {
            features: cfg.features.clone(),
            test_features,
            solver: cfg.solver.name().to_string(),
            params,
            seed: cfg.seed,
            train_fraction,
            threads: exec.threads(),
            ranks: exec.ranks(),
            timings: Timings {
                load_seconds,
                train_seconds,
                eval_seconds,
            },
            warnings,
            catclass_version: version,
        },
    };
    Ok(TrainOutcome { model, report })
}

/// `(prediction, margin)` for rows `rows` of `values`, computed on `exec`, in row order.
pub fn predict_rows<E: Executor>(
    model: &LinearModel,
    values: &FeatureMatrix,
    rows: &[usize],
    dim: usize,
    exec: &E,
) -> Vec<(bool, f64)> {
    exec.map(rows.len(), |k| {
        let r = rows[k];
        let margin = match values {
            FeatureMatrix::F32(v) => model.margin(&v[r * dim..(r + 1) * dim]),
            FeatureMatrix::F64(v) => model.margin(&v[r * dim..(r + 1) * dim]),
        };
        (margin > model.threshold, margin)
    })
}
