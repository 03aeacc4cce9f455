//! A training run: features at a location -> split -> fit on an executor -> model and report.
//!
//! One path for every task: the files are listed once, split by name and class (the split of
//! [`catclass_svm::Dataset::split_stratified`] on rows sorted by file name), each process reads
//! only the training rows of the blocks it holds ([`Executor::local_blocks`]), the rows become
//! a [`Dataset`] (a part of the whole set under MPI) and the solver [`Fit`]s a
//! [`Classifier`]; rank 0 reads and scores the test rows. [`train::evaluate`](evaluate) scores
//! a saved model on another location.

use crate::extract::feature_provenance;
use crate::seed::seed_title;
use crate::solver::Solver;
use crate::{AppError, Executor};
use catclass_sgd::ROWS_PER_BLOCK;
use catclass_sgd::reduce::block_count;
use catclass_store::documents::{write_json, write_text};
use catclass_store::{
    FeatureCache, FeatureCatalog, FeatureEntry, FeatureSet, Location, StoreOptions,
};
use catclass_svm::metrics::{BinaryMetrics, Confusion, MulticlassMetrics};
use catclass_svm::model_file::{
    ClassModel, MODEL_FORMAT, MODEL_VERSION, ModelFile, MulticlassModelFile, MulticlassTask,
    SavedModel, SolverRecord, TrainingRecord,
};
use catclass_svm::split::stratified_split;
use catclass_svm::{Classifier, Dataset, Fit, FitSummary, Metrics, Predict, Task};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How the model is tested.
#[derive(Debug, Clone, PartialEq)]
pub enum TestRows {
    /// A seeded stratified split of the features.
    Split {
        /// Share of each class used for training.
        train_fraction: f64,
    },
    /// Train on all the features, test on this other location.
    Location(String),
}

/// Everything `catclass train` needs.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Feature location (folder, `file://`, `s3://`).
    pub features: String,
    /// What is learned.
    pub task: Task,
    /// Split or separate test set.
    pub test: TestRows,
    /// Seed of the split (and of the solver's sampler).
    pub seed: u64,
    /// The solver and its checked parameters.
    pub solver: Solver,
    /// Store options (S3 endpoint, read concurrency, feature format).
    pub store: StoreOptions,
    /// A file (local path or `s3://`) that caches the training features' JSON files as one
    /// shard, used while the folder lists the same files ([`FeatureCatalog::cached`]).
    pub cache: Option<String>,
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

/// Row counts of a binary run.
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

/// `report.json` of a binary run.
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

/// How one of the `K` models of a multiclass run trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelTraining {
    /// The class.
    pub class: String,
    /// Weight updates made (MLlib; 0 for DCD).
    pub updates: usize,
    /// Data passes it took part in (DCD: epochs).
    pub passes: usize,
    /// Whether the solver's stopping rule fired.
    pub converged: bool,
    /// Training rows of this class.
    pub train_rows: usize,
}

/// Row counts of a multiclass run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassCounts {
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Test rows left out because their class was not trained.
    pub test_rows_unknown_class: usize,
    /// Feature files read.
    pub files_read: usize,
    /// Values per row.
    pub feature_dim: usize,
}

/// `report.json` of a multiclass run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassReport {
    /// Always `one-vs-rest`.
    pub task: MulticlassTask,
    /// Test metrics (accuracy, baseline, balanced accuracy, per class, confusion).
    pub metrics: MulticlassMetrics,
    /// Row counts.
    pub counts: MulticlassCounts,
    /// Per model.
    pub models: Vec<ModelTraining>,
    /// What the run used and how it ran (the fields a binary report has too).
    #[serde(flatten)]
    pub run: RunRecord,
}

/// A trained model with its report: one binary model, or one per class.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainOutcome {
    /// A one-vs-one or one-vs-all run.
    Binary {
        /// `model.json`.
        model: ModelFile,
        /// `report.json`.
        report: TrainReport,
    },
    /// A one-vs-rest run over every class.
    Multiclass {
        /// `model.json`.
        model: MulticlassModelFile,
        /// `report.json`.
        report: MulticlassReport,
    },
}

impl TrainOutcome {
    /// What the run used and how it ran.
    pub fn run(&self) -> &RunRecord {
        match self {
            TrainOutcome::Binary { report, .. } => &report.run,
            TrainOutcome::Multiclass { report, .. } => &report.run,
        }
    }

    /// The seed's `resultat.txt` of a binary run: `A - B ---> accuracy`, then the accuracy
    /// alone.
    pub fn result_text(report: &TrainReport) -> String {
        let acc = report.test_accuracy;
        format!("{} ---> {acc}\n{acc}\n", seed_title(&report.task))
    }

    /// The text report of a multiclass run: summary, per-class table, confusion matrix,
    /// warnings.
    pub fn multiclass_text(r: &MulticlassReport) -> String {
        let mut s = format!(
            "one vs rest over {} classes ({} train rows, {} test rows, {} features)\n",
            r.metrics.per_class.len(),
            r.counts.train_rows,
            r.counts.test_rows,
            r.counts.feature_dim
        );
        s.push_str(&r.metrics.to_text());
        for w in &r.run.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }

    /// The files of the run, each written atomically, the model last (so that a model file
    /// always has its report beside it): `report.json` and `resultat.txt` then `model.json`
    /// for a binary run; `report.json`, `report.txt`, the confusion heat map
    /// (`confusion.svg`, `confusion.png`; cargo feature `plots`) then `model.json` for a
    /// multiclass one.
    pub async fn write(&self, out: &Location) -> Result<(), AppError> {
        match self {
            TrainOutcome::Binary { model, report } => {
                write_json(out, "report.json", report).await?;
                write_text(out, "resultat.txt", &Self::result_text(report)).await?;
                out.put("model.json", model.to_json()).await?;
            }
            TrainOutcome::Multiclass { model, report } => {
                write_json(out, "report.json", report).await?;
                write_text(out, "report.txt", &Self::multiclass_text(report)).await?;
                #[cfg(feature = "plots")]
                if let Some(chart) = crate::plot::metrics_confusion_chart(
                    &report.metrics,
                    &format!(
                        "confusion matrix: one vs rest, {} classes, {} test rows",
                        report.metrics.per_class.len(),
                        report.counts.test_rows
                    ),
                )? {
                    write_text(out, "confusion.svg", &chart.svg).await?;
                    out.put("confusion.png", chart.png).await?;
                }
                out.put("model.json", model.to_json()).await?;
            }
        }
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
    /// Test files of classes the model will know, in file-name order.
    pub test: Vec<FeatureEntry>,
    /// Test files left out: their class is not trained.
    pub test_unknown: usize,
    /// The classes trained on (sorted).
    pub classes: Vec<String>,
}

async fn catalog(spec: &str, store: &StoreOptions) -> Result<FeatureCatalog, AppError> {
    let loc = crate::location::open(spec, store)?;
    Ok(FeatureCatalog::list_as(&loc, store.feature_format).await?)
}

fn distinct_classes(entries: &[FeatureEntry]) -> Vec<String> {
    let mut v: Vec<String> = entries.iter().map(|e| e.class.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Lists the locations of `cfg` and splits the files (by name and class only).
pub async fn plan(cfg: &TrainConfig) -> Result<Plan, AppError> {
    let train_catalog = catalog(&cfg.features, &cfg.store).await?;
    for class in cfg.task.named_classes() {
        train_catalog.require_class(class)?;
    }
    let entries: Vec<FeatureEntry> = train_catalog
        .entries()
        .iter()
        .filter(|e| cfg.task.includes(&e.class))
        .cloned()
        .collect();
    if entries.is_empty() {
        return Err(AppError::NoRows {
            location: train_catalog.location().to_string(),
            task: seed_title(&cfg.task),
        });
    }
    let classes = distinct_classes(&entries);
    if cfg.task == Task::Multiclass && classes.len() < 2 {
        return Err(AppError::TooFewClasses {
            location: cfg.features.clone(),
            found: classes,
        });
    }
    let (train, test_catalog, test) = match &cfg.test {
        TestRows::Split { train_fraction } => {
            let names: Vec<&str> = entries.iter().map(|e| e.class.as_str()).collect();
            let split = stratified_split(&names, *train_fraction, cfg.seed);
            let pick = |rows: &[usize]| rows.iter().map(|r| entries[*r].clone()).collect();
            (pick(&split.train), train_catalog.clone(), pick(&split.test))
        }
        TestRows::Location(spec) => {
            let test_catalog = catalog(spec, &cfg.store).await?;
            let test = test_catalog.entries().to_vec();
            (entries, test_catalog, test)
        }
    };
    // A binary model scores every row of its task; a multiclass one the classes it trained.
    let known = |c: &str| match cfg.task {
        Task::Multiclass => classes.binary_search_by(|k| k.as_str().cmp(c)).is_ok(),
        _ => cfg.task.includes(c),
    };
    let test_unknown = test.iter().filter(|e| !known(&e.class)).count();
    let test = test.into_iter().filter(|e| known(&e.class)).collect();
    Ok(Plan {
        train_catalog,
        train,
        test_catalog,
        test,
        test_unknown,
        classes,
    })
}

/// `catalog` reading through the cache `file` (written when missing or stale, with progress).
async fn through_cache(
    catalog: FeatureCatalog,
    file: &str,
    store: &StoreOptions,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<FeatureCatalog, AppError> {
    let (folder, name) = catclass_store::documents::split_file(file);
    let cache = FeatureCache::new(crate::location::create(&folder, store)?, name);
    // A bar only when the files are read (a fresh cache reads none of them).
    let files = catalog.entries().len();
    let shown = std::sync::atomic::AtomicBool::new(false);
    let (catalog, _) = catalog
        .cached(&cache, store.concurrency, &|done| {
            if !shown.swap(true, std::sync::atomic::Ordering::Relaxed) {
                progress(Stage::Listed { files });
            }
            progress(Stage::Read { done });
        })
        .await?;
    Ok(catalog)
}

/// Reads `entries` of `catalog`, checking their length against `reference` (dimension, file).
async fn read_checked(
    catalog: &FeatureCatalog,
    entries: &[FeatureEntry],
    reference: &(usize, String),
    store: &StoreOptions,
    progress: &(dyn Fn(Stage) + Sync),
    offset: usize,
) -> Result<FeatureSet, AppError> {
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

/// Rows read from files as a data set indexed into `classes`.
fn dataset(set: FeatureSet, classes: &[String]) -> Result<Dataset, AppError> {
    Ok(Dataset::with_classes(
        set.values,
        set.dim,
        &set.classes,
        classes.iter().cloned(),
    )?)
}

/// Whether the accuracy is within 1 point of the majority baseline.
fn near_baseline(metrics: &Metrics) -> bool {
    match metrics {
        Metrics::Binary(m) => m.near_baseline(1.0),
        Metrics::Multiclass(m) => m.near_baseline(1.0),
    }
}

fn near_baseline_warning(metrics: &Metrics, task: &Task) -> Option<String> {
    if !near_baseline(metrics) {
        return None;
    }
    let (acc, base) = (metrics.accuracy(), metrics.majority_baseline());
    Some(match task {
        Task::OneVsRest(a) => format!(
            "accuracy {acc:.4} is within 1 point of the majority baseline {base:.4}: the model \
             barely beats always answering \"not {a}\" (see balanced_accuracy and f1)"
        ),
        Task::Multiclass => {
            format!("accuracy {acc:.4} is within 1 point of the majority baseline {base:.4}")
        }
        Task::OneVsOne(..) => return None,
    })
}

/// Trains and evaluates per `cfg` on `exec`.
///
/// Each process reads only the training files of the blocks it holds; the test files are read
/// and scored by rank 0 only (other ranks return an outcome with an empty evaluation).
pub fn train<E: Executor>(
    cfg: &TrainConfig,
    exec: &E,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<TrainOutcome, AppError> {
    if let Task::OneVsOne(a, b) = &cfg.task
        && a == b
    {
        return Err(catclass_svm::SvmError::SameClass(a.clone()).into());
    }
    let t0 = Instant::now();
    // Every rank lists; all of them must succeed before any waits on another.
    let planned = crate::blocking::block_on(plan(cfg));
    exec.agree(planned.as_ref().err().map(ToString::to_string))?;
    let mut plan = planned?;
    if let Some(file) = &cfg.cache {
        if exec.ranks() > 1 {
            return Err(AppError::CacheInCluster {
                cache: file.clone(),
                ranks: exec.ranks(),
            });
        }
        let catalog = plan.train_catalog.clone();
        let cached = crate::blocking::block_on(through_cache(catalog, file, &cfg.store, progress))?;
        if matches!(cfg.test, TestRows::Split { .. }) {
            plan.test_catalog = cached.clone();
        }
        plan.train_catalog = cached;
    }
    let files =
        |entries: &[FeatureEntry]| entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    exec.same_plan(
        "settings, training and test files",
        crate::plan_digest(
            std::iter::once(format!("{cfg:?}"))
                .chain(files(&plan.train))
                .chain(std::iter::once("test".to_string()))
                .chain(files(&plan.test))
                .chain(plan.classes.iter().cloned()),
        ),
    )?;
    let total = plan.train.len();
    if total == 0 {
        return Err(AppError::NoRows {
            location: cfg.features.clone(),
            task: seed_title(&cfg.task),
        });
    }
    let blocks = exec.local_blocks(block_count(total));
    let first_row = (blocks.start * ROWS_PER_BLOCK).min(total);
    let end_row = (blocks.end * ROWS_PER_BLOCK).min(total);
    let local = &plan.train[first_row..end_row];
    let test_entries: &[FeatureEntry] = if exec.rank() == 0 { &plan.test } else { &[] };
    let loaded = crate::blocking::block_on(async {
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
        Ok::<_, AppError>((train_set, test_set.with_dim(reference.0)))
    });
    // A bad file on one rank stops every rank here, before the first pass.
    exec.agree(loaded.as_ref().err().map(ToString::to_string))?;
    let (train_set, test_set) = loaded?;
    let files_read = train_set.rows() + test_set.rows();
    let dim = test_set.dim;
    let train = dataset(train_set.with_dim(dim), &plan.classes)?.part_of(first_row, total)?;
    let test = dataset(test_set, &plan.classes)?;
    let load_seconds = t0.elapsed().as_secs_f64();

    progress(Stage::Training);
    let t1 = Instant::now();
    let model = cfg.solver.fit(&train, &cfg.task, exec)?;
    let train_seconds = t1.elapsed().as_secs_f64();

    progress(Stage::Evaluating);
    let t2 = Instant::now();
    let evaluation = model.evaluate_on(&test, exec)?;
    let eval_seconds = t2.elapsed().as_secs_f64();

    let mut warnings = Vec::new();
    if plan.test.is_empty() {
        warnings.push("no test rows: accuracy is not measured".to_string());
    } else if let Some(w) = near_baseline_warning(&evaluation.metrics, &cfg.task) {
        warnings.push(w);
    }
    let mut skipped: Vec<&String> = plan
        .train_catalog
        .skipped()
        .iter()
        .chain(plan.test_catalog.skipped())
        .collect();
    skipped.dedup();
    for s in skipped {
        warnings.push(format!("left out, cannot be listed: {s}"));
    }
    if plan.test_unknown > 0 && cfg.task == Task::Multiclass {
        warnings.push(format!(
            "{} test row(s) of classes absent from training were left out",
            plan.test_unknown
        ));
    }
    let (test_features, train_fraction) = match &cfg.test {
        TestRows::Split { train_fraction } => (None, Some(*train_fraction)),
        TestRows::Location(s) => (Some(s.clone()), None),
    };
    let params = cfg.solver.record();
    let (feature_source, feature_model) = feature_provenance(&plan.train_catalog);
    let version = env!("CARGO_PKG_VERSION").to_string();
    let training = TrainingRecord {
        features: cfg.features.clone(),
        test_features: test_features.clone(),
        train_fraction,
        seed: cfg.seed,
        train_rows: total,
        catclass_version: version.clone(),
        feature_source,
        feature_model,
    };
    let run = RunRecord {
        features: cfg.features.clone(),
        test_features,
        solver: cfg.solver.name().to_string(),
        params: params.clone(),
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
    };
    let count =
        |entries: &[FeatureEntry], class: &str| entries.iter().filter(|e| e.class == class).count();
    Ok(match evaluation.metrics {
        Metrics::Binary(metrics) => {
            let positive = cfg.task.positive().unwrap_or_default();
            let fitted = &model.models()[0];
            TrainOutcome::Binary {
                model: ModelFile {
                    format: MODEL_FORMAT.to_string(),
                    version: MODEL_VERSION,
                    task: cfg.task.clone(),
                    feature_dim: dim,
                    weights: fitted.weights.clone(),
                    intercept: fitted.intercept,
                    threshold: fitted.threshold,
                    solver: cfg.solver.name().to_string(),
                    params,
                    training,
                },
                report: binary_report(
                    &cfg.task,
                    metrics,
                    model.fits()[0].clone(),
                    run,
                    Counts {
                        train_rows: total,
                        train_positive: count(&plan.train, positive),
                        test_rows: plan.test.len(),
                        test_positive: count(&plan.test, positive),
                        files_read,
                        feature_dim: dim,
                    },
                ),
            }
        }
        Metrics::Multiclass(metrics) => TrainOutcome::Multiclass {
            model: multiclass_file(&model, cfg.solver.name(), params, training),
            report: MulticlassReport {
                task: MulticlassTask::OneVsRest,
                counts: MulticlassCounts {
                    train_rows: total,
                    test_rows: plan.test.len(),
                    test_rows_unknown_class: plan.test_unknown,
                    files_read,
                    feature_dim: dim,
                },
                models: model
                    .classes()
                    .iter()
                    .zip(model.fits())
                    .map(|(c, f)| ModelTraining {
                        class: c.clone(),
                        updates: f.updates,
                        passes: f.passes,
                        converged: f.converged,
                        train_rows: count(&plan.train, c),
                    })
                    .collect(),
                metrics,
                run,
            },
        },
    })
}

fn binary_report(
    task: &Task,
    m: BinaryMetrics,
    fit: FitSummary,
    run: RunRecord,
    counts: Counts,
) -> TrainReport {
    TrainReport {
        task: task.clone(),
        test_accuracy: m.accuracy,
        majority_baseline: m.majority_baseline,
        balanced_accuracy: m.balanced_accuracy,
        precision: m.precision,
        recall: m.recall,
        f1: m.f1,
        confusion: m.confusion,
        counts,
        fit,
        run,
    }
}

fn multiclass_file(
    model: &Classifier,
    solver: &str,
    params: SolverRecord,
    training: TrainingRecord,
) -> MulticlassModelFile {
    MulticlassModelFile {
        format: MODEL_FORMAT.to_string(),
        version: MODEL_VERSION,
        task: MulticlassTask::OneVsRest,
        classes: model.classes().to_vec(),
        feature_dim: model.dim(),
        models: model
            .classes()
            .iter()
            .zip(model.models())
            .map(|(c, m)| ClassModel {
                class: c.clone(),
                weights: m.weights.clone(),
                intercept: m.intercept,
            })
            .collect(),
        solver: solver.to_string(),
        params,
        training,
    }
}

/// `eval.json`: a saved model scored on the rows of a location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The model file.
    pub model: String,
    /// The feature location scored.
    pub features: String,
    /// The model's training provenance.
    pub training: TrainingRecord,
    /// Test rows scored.
    pub rows: usize,
    /// Rows left out (classes the model does not know, or outside a one-vs-one task).
    pub rows_left_out: usize,
    /// The metrics.
    pub metrics: Metrics,
    /// Warnings a reader must see.
    pub warnings: Vec<String>,
    /// catclass-svm version.
    pub catclass_version: String,
}

impl EvalReport {
    /// The text report.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} on {}: {} rows ({} left out)\n",
            self.model, self.features, self.rows, self.rows_left_out
        );
        match &self.metrics {
            Metrics::Binary(m) => {
                s.push_str(&format!(
                    "accuracy {:.4}   majority baseline {:.4}   balanced accuracy {:.4}\n\
                     precision {:.4}   recall {:.4}   F1 {:.4}\n\
                     confusion: TP {}  FP {}  TN {}  FN {}\n",
                    m.accuracy,
                    m.majority_baseline,
                    m.balanced_accuracy,
                    m.precision,
                    m.recall,
                    m.f1,
                    m.confusion.true_positive,
                    m.confusion.false_positive,
                    m.confusion.true_negative,
                    m.confusion.false_negative
                ));
            }
            Metrics::Multiclass(m) => s.push_str(&m.to_text()),
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }
}

/// Reads and checks a model file at `spec` (a file path or URL).
pub fn load_model(spec: &str, store: &StoreOptions) -> Result<SavedModel, AppError> {
    let (dir, name) = catclass_store::documents::split_file(spec);
    let loc = crate::location::open(&dir, store)?;
    let bytes = crate::blocking::block_on(loc.get_at_most(
        &name,
        catclass_svm::model_file::MAX_MODEL_FILE_BYTES,
        "a model file",
    ))?;
    SavedModel::from_json(&bytes).map_err(|source| AppError::Model {
        file: spec.to_string(),
        source,
    })
}

/// Scores `model` on every row of `features` it applies to.
pub fn evaluate<E: Executor>(
    model_name: &str,
    model: &SavedModel,
    features: &str,
    store: &StoreOptions,
    exec: &E,
) -> Result<EvalReport, AppError> {
    let classifier = model
        .classifier()
        .map_err(|source| AppError::ModelContent {
            file: model_name.to_string(),
            source,
        })?;
    let cat = crate::blocking::block_on(catalog(features, store))?;
    let applies = |c: &str| match classifier.task() {
        Task::Multiclass => classifier.classes().iter().any(|k| k == c),
        task => task.includes(c),
    };
    let entries: Vec<FeatureEntry> = cat
        .entries()
        .iter()
        .filter(|e| applies(&e.class))
        .cloned()
        .collect();
    let left_out = cat.entries().len() - entries.len();
    if entries.is_empty() {
        return Err(AppError::NoKnownClass {
            location: features.to_string(),
        });
    }
    let reference = (model.feature_dim(), model_name.to_string());
    let set =
        crate::blocking::block_on(read_checked(&cat, &entries, &reference, store, &|_| {}, 0))?;
    let data = dataset(set, &distinct_classes(&entries))?;
    let evaluation = classifier.evaluate_on(&data, exec)?;
    let mut warnings = Vec::new();
    if near_baseline(&evaluation.metrics) {
        warnings.push(format!(
            "accuracy {:.4} is within 1 point of the majority baseline {:.4}",
            evaluation.metrics.accuracy(),
            evaluation.metrics.majority_baseline()
        ));
    }
    if left_out > 0 {
        warnings.push(format!(
            "{left_out} row(s) of classes outside the model were left out"
        ));
    }
    let training = match model {
        SavedModel::Binary(m) => m.training.clone(),
        SavedModel::Multiclass(m) => m.training.clone(),
    };
    Ok(EvalReport {
        model: model_name.to_string(),
        features: features.to_string(),
        training,
        rows: evaluation.rows,
        rows_left_out: left_out + evaluation.rows_left_out,
        metrics: evaluation.metrics,
        warnings,
        catclass_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::pets_like;
    use catclass_svm::model_file::MulticlassModelFile;
    use catclass_svm::{SvmSgd, ThreadPool};

    fn features(dir: &std::path::Path) -> String {
        let spec = dir.join("features").to_string_lossy().into_owned();
        let loc = crate::location::create(&spec, &StoreOptions::default()).unwrap();
        let data = pets_like(5, 4, 25, 24);
        crate::blocking::block_on(data.write_json_files(&loc, 8)).unwrap();
        spec
    }

    fn config(spec: &str, task: Task, solver: &Solver) -> TrainConfig {
        TrainConfig {
            features: spec.to_string(),
            task,
            test: TestRows::Split {
                train_fraction: 0.6,
            },
            seed: 9,
            solver: solver.clone(),
            store: StoreOptions::default(),
            cache: None,
        }
    }

    #[test]
    fn each_class_model_equals_the_one_vs_all_run_and_reloads() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = features(tmp.path());
        let solver = Solver::MllibSgd(
            SvmSgd::params()
                .iterations(30)
                .mini_batch_fraction(0.5)
                .check()
                .unwrap(),
        );
        let pool = ThreadPool::new(2).unwrap();
        let out = train(&config(&spec, Task::Multiclass, &solver), &pool, &|_| {}).unwrap();
        let TrainOutcome::Multiclass { model, report } = &out else {
            panic!("a multiclass run gave a binary outcome");
        };
        assert_eq!(model.classes.len(), 4);
        assert_eq!(report.counts.train_rows, 60);
        assert_eq!(report.counts.test_rows, 40);
        let m = &report.metrics;
        assert_eq!(m.confusion.iter().flatten().sum::<u64>(), 40);
        assert_eq!(m.majority_baseline, 0.25);
        for (k, class) in model.classes.iter().enumerate() {
            let cfg = config(&spec, Task::OneVsRest(class.clone()), &solver);
            let TrainOutcome::Binary {
                model: binary,
                report: br,
            } = train(&cfg, &pool, &|_| {}).unwrap()
            else {
                panic!("a binary run gave a multiclass outcome");
            };
            assert_eq!(model.models[k].weights, binary.weights, "{class}");
            assert_eq!(report.models[k].updates, br.fit.updates);
        }
        let back = MulticlassModelFile::from_json(&model.to_json()).unwrap();
        assert_eq!(&back, model);
        assert!(TrainOutcome::multiclass_text(report).contains("confusion"));

        let dir = tmp.path().join("run").to_string_lossy().into_owned();
        let loc = crate::location::create(&dir, &StoreOptions::default()).unwrap();
        crate::blocking::block_on(out.write(&loc)).unwrap();
        let model_path = format!("{dir}/model.json");
        let saved = load_model(&model_path, &StoreOptions::default()).unwrap();
        let eval = evaluate(&model_path, &saved, &spec, &StoreOptions::default(), &pool).unwrap();
        assert_eq!(eval.rows, 100);
        assert_eq!(eval.rows_left_out, 0);
        let Metrics::Multiclass(em) = &eval.metrics else {
            panic!("multiclass model evaluated as binary");
        };
        assert_eq!(em.confusion.iter().flatten().sum::<u64>(), 100);
        assert!(eval.to_text().contains("macro-F1"));
    }

    #[test]
    fn evaluating_refuses_features_of_another_length() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = features(tmp.path());
        let model = SavedModel::Multiclass(MulticlassModelFile {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            task: MulticlassTask::OneVsRest,
            classes: vec!["Abyssinian".into(), "Bengal".into()],
            feature_dim: 7,
            models: ["Abyssinian", "Bengal"]
                .iter()
                .map(|c| ClassModel {
                    class: c.to_string(),
                    weights: vec![0.0; 7],
                    intercept: 0.0,
                })
                .collect(),
            solver: "mllib-sgd".into(),
            params: Solver::MllibSgd(SvmSgd::params().check().unwrap()).record(),
            training: TrainingRecord {
                features: spec.clone(),
                test_features: None,
                train_fraction: None,
                seed: 0,
                train_rows: 0,
                catclass_version: "0".into(),
                feature_source: None,
                feature_model: None,
            },
        });
        let pool = ThreadPool::new(1).unwrap();
        let err = evaluate("m.json", &model, &spec, &StoreOptions::default(), &pool).unwrap_err();
        assert!(err.to_string().contains('7'), "{err}");
    }
}
