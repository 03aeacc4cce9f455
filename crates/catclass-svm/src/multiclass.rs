//! One vs rest over every class, and evaluating a saved model on other data.
//!
//! [`train_multiclass`] lists the classes of the feature location, splits each class with the
//! same seeded stratified split as the binary pipeline, trains the `K` one-vs-rest models in one
//! data pass per iteration ([`catclass_sgd::SgdParams::fit_one_vs_rest`], each model
//! bit-identical to its own binary fit) and predicts the class of largest margin.
//! [`evaluate`] scores a saved model (binary or multiclass) on the rows of a location.

use crate::metrics::{BinaryMetrics, Confusion, MulticlassMetrics};
use crate::model_file::{
    ClassModel, MODEL_FORMAT, MODEL_VERSION, MulticlassModelFile, MulticlassTask, SavedModel,
    TrainingRecord,
};
use crate::pipeline::{Evaluation, RunRecord, Stage, Timings, read_checked};
use crate::solver::Solver;
use crate::split::stratified_split;
use crate::{Executor, SvmError};
use catclass_sgd::multiclass::argmax;
use catclass_sgd::reduce::block_count;
use catclass_sgd::{Dataset, Element, LinearModel, ROWS_PER_BLOCK};
use catclass_store::documents::{write_json, write_text};
use catclass_store::{FeatureCatalog, FeatureEntry, FeatureMatrix, Location, StoreOptions};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Everything `catclass train --multiclass` needs.
#[derive(Debug, Clone)]
pub struct MulticlassConfig {
    /// Feature location (folder, `s3://`, `memory://`).
    pub features: String,
    /// Split or separate test set.
    pub evaluation: Evaluation,
    /// Seed of the split (and of our mini-batch sampler).
    pub seed: u64,
    /// The solver and its checked parameters (the same for every model).
    pub solver: Solver,
    /// Store options.
    pub store: StoreOptions,
}

/// How one of the `K` models trained.
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

/// A trained one-vs-rest model with its report.
#[derive(Debug, Clone, PartialEq)]
pub struct MulticlassOutcome {
    /// `model.json`.
    pub model: MulticlassModelFile,
    /// `report.json`.
    pub report: MulticlassReport,
}

impl MulticlassOutcome {
    /// The text report: summary, per-class table, confusion matrix, warnings.
    pub fn report_text(&self) -> String {
        let r = &self.report;
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

    /// Writes `model.json`, `report.json`, `report.txt` and the confusion heat map
    /// (`confusion.svg`, `confusion.png`) into `out` (each atomically).
    pub async fn write(&self, out: &Location) -> Result<(), SvmError> {
        out.put("model.json", self.model.to_json()).await?;
        write_json(out, "report.json", &self.report).await?;
        write_text(out, "report.txt", &self.report_text()).await?;
        let r = &self.report;
        let chart = r.metrics.confusion_chart(&format!(
            "confusion matrix: one vs rest, {} classes, {} test rows",
            r.metrics.per_class.len(),
            r.counts.test_rows
        ))?;
        write_text(out, "confusion.svg", &chart.svg).await?;
        out.put("confusion.png", chart.png).await?;
        Ok(())
    }
}

/// Lists `spec` and returns its catalog.
async fn catalog(spec: &str, store: &StoreOptions) -> Result<FeatureCatalog, SvmError> {
    let loc = Location::open(spec, store)?;
    Ok(FeatureCatalog::list_as(&loc, store.feature_format).await?)
}

/// Trains one vs rest over every class of `cfg.features` and evaluates it on `exec`.
pub fn train_multiclass<E: Executor>(
    cfg: &MulticlassConfig,
    exec: &E,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<MulticlassOutcome, SvmError> {
    let t0 = Instant::now();
    let (train_catalog, test_catalog) = catclass_store::block_on(async {
        let train = catalog(&cfg.features, &cfg.store).await?;
        let test = match &cfg.evaluation {
            Evaluation::TestSet(spec) => Some(catalog(spec, &cfg.store).await?),
            Evaluation::Split { .. } => None,
        };
        Ok::<_, SvmError>((train, test))
    })?;
    let classes = train_catalog.classes();
    if classes.len() < 2 {
        return Err(SvmError::Invalid(format!(
            "{}: one vs rest needs at least two classes, found {:?}",
            cfg.features, classes
        )));
    }
    let entries = train_catalog.entries();
    let (train, test_catalog, test): (Vec<FeatureEntry>, FeatureCatalog, Vec<FeatureEntry>) =
        match (&cfg.evaluation, test_catalog) {
            (Evaluation::Split { train_fraction }, _) => {
                let names: Vec<String> = entries.iter().map(|e| e.class.clone()).collect();
                let split = stratified_split(&names, *train_fraction, cfg.seed);
                (
                    split.train.iter().map(|r| entries[*r].clone()).collect(),
                    train_catalog.clone(),
                    split.test.iter().map(|r| entries[*r].clone()).collect(),
                )
            }
            (Evaluation::TestSet(_), Some(tc)) => {
                let t = tc.entries().to_vec();
                (entries.to_vec(), tc, t)
            }
            (Evaluation::TestSet(spec), None) => {
                return Err(SvmError::Invalid(format!("{spec}: not listed")));
            }
        };
    let unknown = test
        .iter()
        .filter(|e| classes.binary_search(&e.class).is_err())
        .count();
    let test: Vec<FeatureEntry> = test
        .into_iter()
        .filter(|e| classes.binary_search(&e.class).is_ok())
        .collect();
    let total = train.len();
    let blocks = exec.local_blocks(block_count(total));
    let first_row = (blocks.start * ROWS_PER_BLOCK).min(total);
    let end_row = (blocks.end * ROWS_PER_BLOCK).min(total);
    let local = &train[first_row..end_row];
    let evaluates = exec.rank() == 0;
    let test_entries: &[FeatureEntry] = if evaluates { &test } else { &[] };
    let (train_set, test_set) = catclass_store::block_on(async {
        let first = train_catalog.read(&train[..1], 1, &|_| {}).await?;
        let reference = (first.dim, train_catalog.location().describe(&train[0].name));
        progress(Stage::Listed {
            files: local.len() + test_entries.len(),
        });
        let train_set =
            read_checked(&train_catalog, local, &reference, &cfg.store, progress, 0).await?;
        let test_set = read_checked(
            &test_catalog,
            test_entries,
            &reference,
            &cfg.store,
            progress,
            local.len(),
        )
        .await?;
        Ok::<_, SvmError>((train_set, test_set.with_dim(reference.0)))
    })?;
    let load_seconds = t0.elapsed().as_secs_f64();
    let dim = test_set.dim;
    let index = |c: &str| classes.binary_search_by(|x| x.as_str().cmp(c)).unwrap_or(0);
    let labels: Vec<f64> = train_set.classes.iter().map(|c| index(c) as f64).collect();

    progress(Stage::Training);
    let t1 = Instant::now();
    let fits = fit_one_vs_rest_matrix(
        &cfg.solver,
        &train_set.values,
        &labels,
        dim,
        first_row,
        total,
        classes.len(),
        exec,
    )?;
    let train_seconds = t1.elapsed().as_secs_f64();

    progress(Stage::Evaluating);
    let t2 = Instant::now();
    let models: Vec<LinearModel> = fits.iter().map(|f| f.model.clone()).collect();
    let predicted = predict_classes(&models, &test_set.values, dim, exec);
    let truth: Vec<usize> = test_set.classes.iter().map(|c| index(c)).collect();
    let metrics = MulticlassMetrics::from_pairs(
        &classes,
        truth.iter().copied().zip(predicted.iter().map(|(k, _)| *k)),
    );
    let eval_seconds = t2.elapsed().as_secs_f64();

    let mut warnings = Vec::new();
    if test.is_empty() {
        warnings.push("no test rows: accuracy is not measured".to_string());
    } else if metrics.near_baseline(1.0) {
        warnings.push(format!(
            "accuracy {:.4} is within 1 point of the majority baseline {:.4}",
            metrics.accuracy, metrics.majority_baseline
        ));
    }
    if unknown > 0 {
        warnings.push(format!(
            "{unknown} test row(s) of classes absent from training were left out"
        ));
    }
    let (test_features, train_fraction) = match &cfg.evaluation {
        Evaluation::Split { train_fraction } => (None, Some(*train_fraction)),
        Evaluation::TestSet(s) => (Some(s.clone()), None),
    };
    let params = cfg.solver.record();
    let (feature_source, feature_model) = crate::extract::feature_provenance(&train_catalog);
    let version = env!("CARGO_PKG_VERSION").to_string();
    let model = MulticlassModelFile {
        format: MODEL_FORMAT.to_string(),
        version: MODEL_VERSION,
        task: MulticlassTask::OneVsRest,
        classes: classes.clone(),
        feature_dim: dim,
        models: classes
            .iter()
            .zip(&fits)
            .map(|(c, f)| ClassModel {
                class: c.clone(),
                weights: f.model.weights.clone(),
                intercept: f.model.intercept,
            })
            .collect(),
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
    let report = MulticlassReport {
        task: MulticlassTask::OneVsRest,
        counts: MulticlassCounts {
            train_rows: total,
            test_rows: test.len(),
            test_rows_unknown_class: unknown,
            files_read: train_set.rows() + test_set.rows(),
            feature_dim: dim,
        },
        models: classes
            .iter()
            .zip(&fits)
            .map(|(c, f)| ModelTraining {
                class: c.clone(),
                updates: f.updates,
                passes: f.passes,
                converged: f.converged,
                train_rows: train.iter().filter(|e| &e.class == c).count(),
            })
            .collect(),
        metrics,
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
    Ok(MulticlassOutcome { model, report })
}

/// One trained model of a one-vs-rest fit.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFit {
    /// The model (threshold 0).
    pub model: LinearModel,
    /// Weight updates (MLlib; 0 for DCD).
    pub updates: usize,
    /// Data passes (MLlib) or epochs (DCD).
    pub passes: usize,
    /// Whether the solver's stopping rule fired.
    pub converged: bool,
}

#[allow(clippy::too_many_arguments)]
fn fit_typed<T: Element, E: Executor>(
    solver: &Solver,
    x: &[T],
    labels: &[f64],
    dim: usize,
    first_row: usize,
    total_rows: usize,
    classes: usize,
    exec: &E,
) -> Result<Vec<ClassFit>, SvmError> {
    let data = Dataset::shard(x, labels, dim, first_row, total_rows)
        .map_err(catclass_sgd::TrainError::from)?;
    match solver {
        Solver::MllibSgd(p) => Ok(p
            .fit_one_vs_rest(&data, classes, exec)?
            .into_iter()
            .map(|f| ClassFit {
                model: f.model,
                updates: f.updates,
                passes: f.passes,
                converged: f.converged,
            })
            .collect()),
        Solver::Dcd(c) => {
            if exec.ranks() > 1 {
                return Err(SvmError::Invalid(
                    "the dcd solver runs in one process; use --executor threads (or --solver mllib-sgd on MPI)"
                        .into(),
                ));
            }
            catclass_sgd::multiclass::validate_class_labels(labels, classes)?;
            let params = c.params(total_rows)?;
            // The models are independent: one per worker.
            exec.map(classes, |k| {
                let yk: Vec<f64> = labels.iter().map(|y| f64::from(*y == k as f64)).collect();
                let data = Dataset::new(x, &yk, dim).map_err(catclass_sgd::TrainError::from)?;
                let fit = params
                    .fit(&data)
                    .map_err(|e| SvmError::Invalid(e.to_string()))?;
                Ok(ClassFit {
                    model: fit.model,
                    updates: 0,
                    passes: fit.epochs,
                    converged: fit.converged,
                })
            })
            .into_iter()
            .collect()
        }
    }
}

/// Fits `classes` one-vs-rest models (labels are class indices) on a feature matrix holding
/// rows `first_row .. first_row + labels.len()` of a training set of `total_rows` rows.
/// MLlib SGD trains all the models in one data pass per iteration; DCD trains them side by
/// side on the executor's workers.
#[allow(clippy::too_many_arguments)]
pub fn fit_one_vs_rest_matrix<E: Executor>(
    solver: &Solver,
    x: &FeatureMatrix,
    labels: &[f64],
    dim: usize,
    first_row: usize,
    total_rows: usize,
    classes: usize,
    exec: &E,
) -> Result<Vec<ClassFit>, SvmError> {
    match x {
        FeatureMatrix::F32(v) => {
            fit_typed(solver, v, labels, dim, first_row, total_rows, classes, exec)
        }
        FeatureMatrix::F64(v) => {
            fit_typed(solver, v, labels, dim, first_row, total_rows, classes, exec)
        }
    }
}

/// The margins of every model for row `r` of `values`.
pub fn margins(models: &[LinearModel], values: &FeatureMatrix, r: usize, dim: usize) -> Vec<f64> {
    models
        .iter()
        .map(|m| match values {
            FeatureMatrix::F32(v) => m.margin(&v[r * dim..(r + 1) * dim]),
            FeatureMatrix::F64(v) => m.margin(&v[r * dim..(r + 1) * dim]),
        })
        .collect()
}

/// `(class index of the largest margin, the margins)` for every row of `values`, on `exec`.
pub fn predict_classes<E: Executor>(
    models: &[LinearModel],
    values: &FeatureMatrix,
    dim: usize,
    exec: &E,
) -> Vec<(usize, Vec<f64>)> {
    let rows = values.len().checked_div(dim).unwrap_or(0);
    exec.map(rows, |r| {
        let m = margins(models, values, r, dim);
        (argmax(&m).unwrap_or(0), m)
    })
}

/// The metrics of [`evaluate`], binary or multiclass as the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EvalMetrics {
    /// A binary model.
    Binary(BinaryMetrics),
    /// A one-vs-rest model.
    Multiclass(MulticlassMetrics),
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
    pub metrics: EvalMetrics,
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
            EvalMetrics::Binary(m) => {
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
            EvalMetrics::Multiclass(m) => s.push_str(&m.to_text()),
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }
}

/// Reads and checks a model file at `spec` (a file path or URL).
pub fn load_model(spec: &str, store: &StoreOptions) -> Result<SavedModel, SvmError> {
    let (dir, name) = catclass_store::documents::split_file(spec);
    let loc = Location::open(&dir, store)?;
    let bytes = catclass_store::block_on(loc.get(&name))?;
    SavedModel::from_json(&bytes).map_err(|source| SvmError::Model {
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
) -> Result<EvalReport, SvmError> {
    let cat = catclass_store::block_on(catalog(features, store))?;
    let applies = |c: &str| match model {
        SavedModel::Binary(m) => m.task.includes(c),
        SavedModel::Multiclass(m) => m.classes.binary_search_by(|x| x.as_str().cmp(c)).is_ok(),
    };
    let entries: Vec<FeatureEntry> = cat
        .entries()
        .iter()
        .filter(|e| applies(&e.class))
        .cloned()
        .collect();
    let left_out = cat.entries().len() - entries.len();
    if entries.is_empty() {
        return Err(SvmError::Invalid(format!(
            "{features}: no feature file of a class the model knows"
        )));
    }
    let dim = model.feature_dim();
    let reference = (dim, model_name.to_string());
    let set =
        catclass_store::block_on(read_checked(&cat, &entries, &reference, store, &|_| {}, 0))?;
    let mut warnings = Vec::new();
    let (metrics, training) = match model {
        SavedModel::Binary(m) => {
            let lin = m.linear();
            let pairs = exec.map(set.rows(), |r| {
                let margin = margins(std::slice::from_ref(&lin), &set.values, r, dim)[0];
                (m.task.label(&set.classes[r]) == 1.0, margin > lin.threshold)
            });
            let bm = BinaryMetrics::from_confusion(Confusion::from_pairs(pairs));
            if bm.near_baseline(1.0) {
                warnings.push(format!(
                    "accuracy {:.4} is within 1 point of the majority baseline {:.4}",
                    bm.accuracy, bm.majority_baseline
                ));
            }
            (EvalMetrics::Binary(bm), m.training.clone())
        }
        SavedModel::Multiclass(m) => {
            let predicted = predict_classes(&m.linear(), &set.values, dim, exec);
            let index = |c: &str| {
                m.classes
                    .binary_search_by(|x| x.as_str().cmp(c))
                    .unwrap_or(0)
            };
            let mm = MulticlassMetrics::from_pairs(
                &m.classes,
                set.classes
                    .iter()
                    .map(|c| index(c))
                    .zip(predicted.iter().map(|(k, _)| *k)),
            );
            if mm.near_baseline(1.0) {
                warnings.push(format!(
                    "accuracy {:.4} is within 1 point of the majority baseline {:.4}",
                    mm.accuracy, mm.majority_baseline
                ));
            }
            (EvalMetrics::Multiclass(mm), m.training.clone())
        }
    };
    if left_out > 0 {
        warnings.push(format!(
            "{left_out} row(s) of classes outside the model were left out"
        ));
    }
    Ok(EvalReport {
        model: model_name.to_string(),
        features: features.to_string(),
        training,
        rows: set.rows(),
        rows_left_out: left_out,
        metrics,
        warnings,
        catclass_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::pets_like;
    use crate::{Task, ThreadPool, TrainConfig};

    fn features(dir: &std::path::Path) -> String {
        let spec = dir.join("features").to_string_lossy().into_owned();
        let loc = Location::create(&spec, &StoreOptions::default()).unwrap();
        let data = pets_like(5, 4, 25, 24);
        catclass_store::block_on(data.write_json_files(&loc, 8)).unwrap();
        spec
    }

    #[test]
    fn each_class_model_equals_the_one_vs_all_pipeline_and_reloads() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = features(tmp.path());
        let solver = Solver::MllibSgd(
            catclass_sgd::SgdParams::builder()
                .iterations(30)
                .mini_batch_fraction(0.5)
                .check()
                .unwrap(),
        );
        let cfg = MulticlassConfig {
            features: spec.clone(),
            evaluation: Evaluation::Split {
                train_fraction: 0.6,
            },
            seed: 9,
            solver: solver.clone(),
            store: StoreOptions::default(),
        };
        let pool = ThreadPool::new(2).unwrap();
        let out = train_multiclass(&cfg, &pool, &|_| {}).unwrap();
        assert_eq!(out.model.classes.len(), 4);
        assert_eq!(out.report.counts.train_rows, 60);
        assert_eq!(out.report.counts.test_rows, 40);
        let m = &out.report.metrics;
        assert_eq!(m.confusion.iter().flatten().sum::<u64>(), 40);
        assert_eq!(m.majority_baseline, 0.25);
        for (k, class) in out.model.classes.iter().enumerate() {
            let binary = crate::train(
                &TrainConfig {
                    features: spec.clone(),
                    task: Task::OneVsAll {
                        positive: class.clone(),
                    },
                    evaluation: cfg.evaluation.clone(),
                    seed: 9,
                    solver: solver.clone(),
                    store: StoreOptions::default(),
                },
                &pool,
                &|_| {},
            )
            .unwrap();
            assert_eq!(out.model.models[k].weights, binary.model.weights, "{class}");
            assert_eq!(out.report.models[k].updates, binary.report.fit.updates);
        }
        let back = MulticlassModelFile::from_json(&out.model.to_json()).unwrap();
        assert_eq!(back, out.model);
        assert!(out.report_text().contains("confusion"));

        let dir = tmp.path().join("run").to_string_lossy().into_owned();
        let loc = Location::create(&dir, &StoreOptions::default()).unwrap();
        catclass_store::block_on(out.write(&loc)).unwrap();
        let model_path = format!("{dir}/model.json");
        let saved = load_model(&model_path, &StoreOptions::default()).unwrap();
        let eval = evaluate(&model_path, &saved, &spec, &StoreOptions::default(), &pool).unwrap();
        assert_eq!(eval.rows, 100);
        assert_eq!(eval.rows_left_out, 0);
        let EvalMetrics::Multiclass(em) = &eval.metrics else {
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
            params: Solver::MllibSgd(catclass_sgd::SgdParams::builder().check().unwrap()).record(),
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
