//! `model.json`: a trained model as a versioned, documented file.
//!
//! ```json
//! { "format": "catclass-svm-model", "version": 1,
//!   "task": {"kind": "one-vs-one", "positive": "wheaten_terrier", "negative": "yorkshire_terrier"},
//!   "feature_dim": 4096, "weights": [..], "intercept": 0.0, "threshold": 0.0,
//!   "solver": "mllib-sgd", "params": {..}, "training": {..} }
//! ```
//! Weights are written as the shortest decimal that reads back to the same `f64`.
//! Loading checks the format name and version first, then every field's type.

use crate::solver::SolverRecord;
use crate::task::Task;
use catclass_sgd::LinearModel;
use serde::{Deserialize, Serialize};

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

/// Why a model file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelFileError {
    /// Not JSON, or a field of the wrong type.
    #[error("not a valid model file: {0}")]
    Invalid(String),
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

impl ModelFile {
    /// The linear model.
    pub fn linear(&self) -> LinearModel {
        LinearModel {
            weights: self.weights.clone(),
            intercept: self.intercept,
            threshold: self.threshold,
        }
    }

    /// Parses and checks a model file.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelFileError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ModelFileError::Invalid(e.to_string()))?;
        let format = value
            .get("format")
            .and_then(|f| f.as_str())
            .unwrap_or_default();
        if format != MODEL_FORMAT {
            return Err(ModelFileError::Format(format.to_string()));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(MODEL_VERSION) => {}
            Some(found) => return Err(ModelFileError::Version { found }),
            None => {
                return Err(ModelFileError::Invalid(
                    "missing or non-integer \"version\"".into(),
                ));
            }
        }
        let model: ModelFile =
            serde_json::from_value(value).map_err(|e| ModelFileError::Invalid(e.to_string()))?;
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
