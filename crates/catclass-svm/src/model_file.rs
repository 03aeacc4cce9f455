//! `model.json`: a trained model as a versioned, documented file.
//!
//! ```json
//! { "format": "catclass-svm-model", "version": 1,
//!   "task": {"kind": "one-vs-one", "positive": "wheaten_terrier", "negative": "yorkshire_terrier"},
//!   "feature_dim": 4096, "weights": [..], "intercept": 0.0, "threshold": 0.0,
//!   "solver": "mllib-sgd", "params": {..}, "training": {..} }
//! ```
//! A one-vs-rest multiclass model ([`MulticlassModelFile`], same format and version) has
//! `"task": {"kind": "one-vs-rest"}`, a `classes` list and one `{"class", "weights",
//! "intercept"}` entry per class under `models`; it predicts the class of largest margin.
//! [`SavedModel::from_json`] reads either kind.
//! Weights are written as the shortest decimal that reads back to the same `f64`.
//! Loading checks the format name and version first, then every field's type.

use crate::fit::{DcdParams, Regularisation, SgdParams};
use crate::{Classifier, SvmError, Task};
use catclass_sgd::dcd::{ClassWeight, Loss};
use catclass_sgd::{LinearModel, MiniBatchSampling};
use serde::{Deserialize, Serialize};

/// The largest model file a program should read (1 GiB of JSON: tens of millions of weights);
/// `catclass` refuses larger ones before reading them.
pub const MAX_MODEL_FILE_BYTES: u64 = 1 << 30;

/// The format name in every model file.
pub const MODEL_FORMAT: &str = "catclass-svm-model";
/// The format version this build writes and reads.
pub const MODEL_VERSION: u32 = 1;

/// Where and how the training rows were chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// Feature location.
    pub features: String,
    /// Separate test location, if any.
    pub test_features: Option<String>,
    /// Share of each class used for training (when split).
    pub train_fraction: Option<f64>,
    /// Seed of the split and the sampler.
    pub seed: u64,
    /// Training rows.
    pub train_rows: usize,
    /// catclass-svm version that trained it.
    pub catclass_version: String,
    /// Where the rows were read from (`json` or `shard <file>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_source: Option<String>,
    /// The network, layer and preprocessing that produced the features, when the features
    /// record it (`catclass predict` extracts new images the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_model: Option<catclass_features::FeatureModel>,
}

/// The content of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Always [`MODEL_VERSION`].
    pub version: u32,
    /// What the model separates.
    pub task: Task,
    /// Length of a feature vector.
    pub feature_dim: usize,
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// Class 1 iff `w.x + intercept > threshold`.
    pub threshold: f64,
    /// Which solver trained it (`mllib-sgd` or `dcd`).
    pub solver: String,
    /// Solver settings.
    pub params: SolverRecord,
    /// Training provenance.
    pub training: TrainingRecord,
}

/// DCD settings as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcdRecord {
    /// `hinge` or `squared-hinge`.
    pub loss: String,
    /// Stopping tolerance.
    pub tol: f64,
    /// Epoch limit.
    pub max_epochs: usize,
    /// `none`, `balanced` or `pos=..,neg=..`.
    pub class_weight: String,
    /// Permutation seed.
    pub seed: u64,
    /// The cost `C`, when it was given as such (`reg_param` is then 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<f64>,
}

/// Solver settings recorded with a model (enough to retrain it). MLlib's fields keep their
/// meaning; for DCD `iterations`, `step` and `convergence_tol` are 0 and `dcd` holds its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverRecord {
    /// Updates asked for (MLlib).
    pub iterations: usize,
    /// Initial step (MLlib).
    pub step: f64,
    /// L2 strength (both solvers).
    pub reg_param: f64,
    /// Mini-batch fraction (MLlib).
    pub mini_batch_fraction: f64,
    /// Convergence tolerance (MLlib).
    pub convergence_tol: f64,
    /// Whether an intercept was fitted.
    pub intercept: bool,
    /// Spark partitions used for sampling, if MLlib's sampler was asked for.
    pub mllib_partitions: Option<usize>,
    /// DCD settings, when DCD trained the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcd: Option<DcdRecord>,
}

impl From<&SgdParams> for SolverRecord {
    fn from(p: &SgdParams) -> Self {
        SolverRecord {
            iterations: p.iterations(),
            step: p.step(),
            reg_param: p.reg_param(),
            mini_batch_fraction: p.mini_batch_fraction(),
            convergence_tol: p.convergence_tol(),
            intercept: p.intercept(),
            mllib_partitions: match p.sampling() {
                MiniBatchSampling::Spark { partitions } => Some(partitions),
                MiniBatchSampling::ChaCha { .. } => None,
            },
            dcd: None,
        }
    }
}

impl From<&DcdParams> for SolverRecord {
    fn from(p: &DcdParams) -> Self {
        let (reg_param, c) = match p.regularisation() {
            Regularisation::RegParam(reg) => (reg, None),
            Regularisation::C(c) => (0.0, Some(c)),
        };
        SolverRecord {
            iterations: 0,
            step: 0.0,
            reg_param,
            mini_batch_fraction: 1.0,
            convergence_tol: 0.0,
            intercept: p.intercept(),
            mllib_partitions: None,
            dcd: Some(DcdRecord {
                loss: match p.loss() {
                    Loss::Hinge => "hinge".into(),
                    Loss::SquaredHinge => "squared-hinge".into(),
                },
                tol: p.tol(),
                max_epochs: p.max_epochs(),
                class_weight: match p.class_weight() {
                    ClassWeight::None => "none".into(),
                    ClassWeight::Balanced => "balanced".into(),
                    ClassWeight::Custom { pos, neg } => format!("pos={pos},neg={neg}"),
                },
                seed: p.seed(),
                c,
            }),
        }
    }
}

/// Why a model file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Not JSON, or a field missing, unknown or of the wrong type (serde's message).
    #[error("not a valid model file: {0}")]
    Json(String),
    /// A one-vs-rest task in a file without `classes` and `models`.
    #[error("a one-vs-rest task needs \"classes\" and \"models\"")]
    MulticlassWithoutModels,
    /// Not one model per class.
    #[error("{models} models for {classes} classes")]
    ModelCount {
        /// Models in the file.
        models: usize,
        /// Classes in the file.
        classes: usize,
    },
    /// `classes` not sorted, or a class twice.
    #[error("\"classes\" must be sorted and distinct")]
    UnsortedClasses,
    /// A model under another class than its place says.
    #[error("model for {found:?} where class {expected:?} was expected")]
    ModelClass {
        /// The model's class.
        found: String,
        /// The class at its place.
        expected: String,
    },
    /// No `version`, or not an integer.
    #[error("missing or non-integer \"version\"")]
    MissingVersion,
    /// Another file format.
    #[error("not a catclass-svm model (format {0:?})")]
    Format(String),
    /// A version this build does not read.
    #[error(
        "model format version {found} is not supported (this build reads version {MODEL_VERSION})"
    )]
    Version {
        /// The file's version.
        found: u64,
    },
    /// The number of weights disagrees with `feature_dim`.
    #[error("{weights} weights for feature_dim {dim}")]
    Dimension {
        /// Weights in the file.
        weights: usize,
        /// Declared dimension.
        dim: usize,
    },
}

/// One class's model inside a [`MulticlassModelFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassModel {
    /// The class (label 1 of this binary model; every other class is label 0).
    pub class: String,
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

/// The task of a multiclass model file: always `{"kind": "one-vs-rest"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MulticlassTask {
    /// One model per class against all the others; prediction by largest margin.
    OneVsRest,
}

/// The content of a one-vs-rest `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MulticlassModelFile {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// Always [`MODEL_VERSION`].
    pub version: u32,
    /// Always one vs rest.
    pub task: MulticlassTask,
    /// The classes, sorted; prediction `k` means `classes[k]`.
    pub classes: Vec<String>,
    /// Length of a feature vector.
    pub feature_dim: usize,
    /// One model per class, in the order of `classes`.
    pub models: Vec<ClassModel>,
    /// Which solver trained the models.
    pub solver: String,
    /// Solver settings (the same for every model).
    pub params: SolverRecord,
    /// Training provenance.
    pub training: TrainingRecord,
}

/// Either kind of model file.
#[derive(Debug, Clone, PartialEq)]
pub enum SavedModel {
    /// One binary model.
    Binary(ModelFile),
    /// One vs rest over several classes.
    Multiclass(MulticlassModelFile),
}

impl SavedModel {
    /// Parses and checks a model file of either kind (told apart by `"models"`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelFileError> {
        let value = check_header(bytes)?;
        if value.get("models").is_some() {
            MulticlassModelFile::from_value(value).map(SavedModel::Multiclass)
        } else {
            ModelFile::from_value(value).map(SavedModel::Binary)
        }
    }

    /// Length of a feature vector.
    pub fn feature_dim(&self) -> usize {
        match self {
            SavedModel::Binary(m) => m.feature_dim,
            SavedModel::Multiclass(m) => m.feature_dim,
        }
    }

    /// The classifier the file holds.
    ///
    /// ```
    /// use catclass_svm::Predict;
    /// use catclass_svm::model_file::SavedModel;
    /// let json = br#"{"format": "catclass-svm-model", "version": 1,
    ///   "task": {"kind": "one-vs-one", "positive": "cat", "negative": "dog"},
    ///   "feature_dim": 2, "weights": [1.0, -1.0], "intercept": 0.0, "threshold": 0.0,
    ///   "solver": "mllib-sgd", "params": {"iterations": 100, "step": 1.0, "reg_param": 0.01,
    ///     "mini_batch_fraction": 1.0, "convergence_tol": 0.001, "intercept": false,
    ///     "mllib_partitions": null},
    ///   "training": {"features": "f", "test_features": null, "train_fraction": 0.7, "seed": 20,
    ///     "train_rows": 10, "catclass_version": "0.1.0"}}"#;
    /// let model = SavedModel::from_json(json)?.classifier()?;
    /// assert_eq!(model.predict(&[1.0f32, 0.0]), Some("cat"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn classifier(&self) -> Result<Classifier, SvmError> {
        match self {
            SavedModel::Binary(m) => Classifier::new(m.task.clone(), vec![m.linear()]),
            SavedModel::Multiclass(m) => Classifier::multiclass(m.classes.clone(), m.linear()),
        }
    }
}

impl MulticlassModelFile {
    /// Parses and checks a one-vs-rest model file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelFileError> {
        Self::from_value(check_header(bytes)?)
    }

    fn from_value(value: serde_json::Value) -> Result<Self, ModelFileError> {
        let model: MulticlassModelFile =
            serde_json::from_value(value).map_err(|e| ModelFileError::Json(e.to_string()))?;
        if model.classes.is_empty() || model.models.len() != model.classes.len() {
            return Err(ModelFileError::ModelCount {
                models: model.models.len(),
                classes: model.classes.len(),
            });
        }
        if model.classes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ModelFileError::UnsortedClasses);
        }
        for (m, c) in model.models.iter().zip(&model.classes) {
            if &m.class != c {
                return Err(ModelFileError::ModelClass {
                    found: m.class.clone(),
                    expected: c.clone(),
                });
            }
            if m.weights.len() != model.feature_dim {
                return Err(ModelFileError::Dimension {
                    weights: m.weights.len(),
                    dim: model.feature_dim,
                });
            }
        }
        Ok(model)
    }

    /// The linear models, in class order (threshold 0).
    pub fn linear(&self) -> Vec<LinearModel> {
        self.models
            .iter()
            .map(|m| LinearModel {
                weights: m.weights.clone(),
                intercept: m.intercept,
                threshold: 0.0,
            })
            .collect()
    }

    /// Serialises to pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// Parses JSON and checks the format name and version.
fn check_header(bytes: &[u8]) -> Result<serde_json::Value, ModelFileError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ModelFileError::Json(e.to_string()))?;
    let format = value
        .get("format")
        .and_then(|f| f.as_str())
        .unwrap_or_default();
    if format != MODEL_FORMAT {
        return Err(ModelFileError::Format(format.to_string()));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(MODEL_VERSION) => Ok(value),
        Some(found) => Err(ModelFileError::Version { found }),
        None => Err(ModelFileError::MissingVersion),
    }
}

impl ModelFile {
    /// The linear model.
    pub fn linear(&self) -> LinearModel {
        LinearModel {
            weights: self.weights.clone(),
            intercept: self.intercept,
            threshold: self.threshold,
        }
    }

    /// Parses and checks a binary model file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelFileError> {
        Self::from_value(check_header(bytes)?)
    }

    fn from_value(value: serde_json::Value) -> Result<Self, ModelFileError> {
        let model: ModelFile =
            serde_json::from_value(value).map_err(|e| ModelFileError::Json(e.to_string()))?;
        if !model.task.is_binary() {
            return Err(ModelFileError::MulticlassWithoutModels);
        }
        if model.weights.len() != model.feature_dim {
            return Err(ModelFileError::Dimension {
                weights: model.weights.len(),
                dim: model.feature_dim,
            });
        }
        Ok(model)
    }

    /// Serialises to pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn multiclass(weights: Vec<Vec<f64>>, intercepts: Vec<f64>) -> MulticlassModelFile {
        let dim = weights.first().map_or(0, Vec::len);
        let classes: Vec<String> = (0..weights.len()).map(|k| format!("c{k:02}")).collect();
        MulticlassModelFile {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            task: MulticlassTask::OneVsRest,
            classes: classes.clone(),
            feature_dim: dim,
            models: classes
                .iter()
                .zip(weights)
                .zip(intercepts)
                .map(|((c, w), b)| ClassModel {
                    class: c.clone(),
                    weights: w,
                    intercept: b,
                })
                .collect(),
            solver: "mllib-sgd".into(),
            params: SolverRecord::from(&crate::SvmSgd::params().check().unwrap()),
            training: TrainingRecord {
                features: "f".into(),
                test_features: None,
                train_fraction: Some(0.7),
                seed: 20,
                train_rows: 3,
                catclass_version: "0.1.0".into(),
                feature_source: None,
                feature_model: None,
            },
        }
    }

    proptest! {
        #[test]
        fn written_and_read_back_predicts_identically(
            k in 1usize..5,
            dim in 1usize..10,
            seed in any::<u64>(),
            x in prop::collection::vec(-1e3f64..1e3, 10),
        ) {
            let mut s = seed;
            let mut next = || {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                f64::from_bits((s >> 2) | 0x3000_0000_0000_0000) * if s & 1 == 0 { 1.0 } else { -1.0 }
            };
            let weights: Vec<Vec<f64>> = (0..k).map(|_| (0..dim).map(|_| next()).collect()).collect();
            let intercepts: Vec<f64> = (0..k).map(|_| next()).collect();
            let m = multiclass(weights, intercepts);
            let back = match SavedModel::from_json(&m.to_json()).unwrap() {
                SavedModel::Multiclass(b) => b,
                SavedModel::Binary(_) => panic!("read back as binary"),
            };
            prop_assert_eq!(&back, &m);
            let row = &x[..dim];
            for (a, b) in m.linear().iter().zip(back.linear()) {
                prop_assert_eq!(a.margin(row).to_bits(), b.margin(row).to_bits());
            }
        }
    }

    fn edited(f: impl FnOnce(&mut serde_json::Value)) -> Result<SavedModel, ModelFileError> {
        let m = multiclass(vec![vec![0.5, -0.25]; 2], vec![0.0; 2]);
        let mut v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        f(&mut v);
        SavedModel::from_json(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn bad_files_are_refused_with_a_clear_error() {
        assert!(edited(|_| {}).is_ok());
        assert_eq!(
            edited(|v| v["version"] = 2.into()).unwrap_err(),
            ModelFileError::Version { found: 2 }
        );
        assert_eq!(
            edited(|v| v["format"] = "other".into()).unwrap_err(),
            ModelFileError::Format("other".into())
        );
        assert_eq!(
            edited(|v| v["feature_dim"] = 3.into()).unwrap_err(),
            ModelFileError::Dimension { weights: 2, dim: 3 }
        );
        let e = edited(|v| v["models"][0]["weights"] = "heavy".into()).unwrap_err();
        assert!(
            matches!(&e, ModelFileError::Json(m) if m.contains("invalid type")),
            "{e}"
        );
        let e = edited(|v| v["surprise"] = 1.into()).unwrap_err();
        assert!(
            matches!(&e, ModelFileError::Json(m) if m.contains("unknown field")),
            "{e}"
        );
        let e = edited(|v| v["classes"] = serde_json::json!(["c01", "c00"])).unwrap_err();
        assert!(matches!(&e, ModelFileError::UnsortedClasses), "{e}");
        let e = edited(|v| v["models"][1]["class"] = "c07".into()).unwrap_err();
        assert!(
            matches!(&e, ModelFileError::ModelClass { found, .. } if found == "c07"),
            "{e}"
        );
    }
}
