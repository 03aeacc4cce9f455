//! New images through a saved model: extract their features the way the model's training
//! features were extracted (network, layer, preprocessing recorded in `model.json`), then the
//! class and margin per image (the top classes for a one-vs-rest model).

use crate::AppError;
use crate::extract::ExtractFailure;
use crate::extract::{FeatureSpec, ImageRef, list_images};
use crate::train::load_model;
use catclass_features::Extractor;
use catclass_store::{FeatureModel, StoreOptions};
use catclass_svm::model_file::SavedModel;
use serde::Serialize;
use std::ops::ControlFlow;

/// Everything `catclass predict` needs.
#[derive(Debug, Clone)]
pub struct PredictConfig {
    /// The model file (path or URL).
    pub model: String,
    /// Image files or folders.
    pub images: Vec<String>,
    /// Extract with this instead of what the model records (needed when it records nothing).
    pub features: Option<FeatureSpec>,
    /// Classes listed per image for a one-vs-rest model.
    pub top: usize,
    /// Images per network call.
    pub batch: usize,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Bytes the images may take at once ([`crate::extract::ImageMemory`]).
    pub memory: u64,
    /// Store options.
    pub store: StoreOptions,
}

/// A class and its margin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMargin {
    /// The class.
    pub class: String,
    /// `w.x + b` of its model.
    pub margin: f64,
}

/// One image's prediction (or why there is none).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The image.
    pub image: String,
    /// The predicted class (for one vs all, `not <class>` when negative).
    pub class: Option<String>,
    /// Its margin (binary: `w.x + b`, positive side above the threshold).
    pub margin: Option<f64>,
    /// One vs rest: the `top` classes by margin, largest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<ClassMargin>,
    /// Why the image could not be scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The feature record of a model file.
fn recorded(model: &SavedModel) -> Option<&FeatureModel> {
    match model {
        SavedModel::Binary(m) => m.training.feature_model.as_ref(),
        SavedModel::Multiclass(m) => m.training.feature_model.as_ref(),
    }
}

/// Scores one feature vector.
fn score(model: &SavedModel, x: &[f32], top: usize) -> (String, f64, Vec<ClassMargin>) {
    match model {
        SavedModel::Binary(m) => {
            let margin = m.linear().margin(x);
            let positive = m.task.positive().unwrap_or_default();
            let class = if margin > m.threshold {
                positive.to_string()
            } else {
                match &m.task {
                    catclass_svm::Task::OneVsOne(_, negative) => negative.clone(),
                    _ => format!("not {positive}"),
                }
            };
            (class, margin, Vec::new())
        }
        SavedModel::Multiclass(m) => {
            let mut margins: Vec<ClassMargin> = m
                .linear()
                .iter()
                .zip(&m.classes)
                .map(|(l, c)| ClassMargin {
                    class: c.clone(),
                    margin: l.margin(x),
                })
                .collect();
            // Largest margin first; ties keep class order (the first class wins, as in eval).
            margins.sort_by(|a, b| b.margin.total_cmp(&a.margin));
            let best = margins[0].clone();
            margins.truncate(top.max(1));
            (best.class, best.margin, margins)
        }
    }
}

/// Predicts the images of `cfg`; returns one prediction per image (sorted by image name) and
/// the feature model used.
pub fn predict(cfg: &PredictConfig) -> Result<(Vec<Prediction>, FeatureModel), AppError> {
    let model = load_model(&cfg.model, &cfg.store)?;
    let spec = match (&cfg.features, recorded(&model)) {
        (Some(s), _) => s.clone(),
        (None, Some(r)) => FeatureSpec::from_record(r)?,
        (None, None) => {
            return Err(ExtractFailure::NoFeatureRecord {
                model: cfg.model.clone(),
            }
            .into());
        }
    };
    // The network a model file names is followed only if it is the file recorded there.
    let expected = match (&cfg.features, recorded(&model)) {
        (None, Some(r)) => Some(r.model_sha256.as_str()),
        _ => None,
    };
    let loaded = spec.load_expecting(expected)?;
    if loaded.record.dim != model.feature_dim() {
        return Err(ExtractFailure::LayerDimension {
            model: cfg.model.clone(),
            network: loaded.record.model.clone(),
            layer: loaded.record.layer.clone(),
            found: loaded.record.dim,
            expected: model.feature_dim(),
        }
        .into());
    }
    let images: Vec<ImageRef> = crate::blocking::block_on(list_images(&cfg.images, &cfg.store))?;
    let concurrency = cfg.store.concurrency.max(1);
    let mut extractor = Extractor::shared(loaded.backend.clone(), loaded.preprocess)
        .map_err(ExtractFailure::from)?
        .with_batch(cfg.batch);
    if cfg.threads > 0 {
        extractor = extractor.with_threads(cfg.threads);
    }
    let mut out: Vec<Prediction> = images
        .iter()
        .map(|i| Prediction {
            image: i.describe(),
            class: None,
            margin: None,
            top: Vec::new(),
            error: None,
        })
        .collect();
    // Images are fetched ahead into a bounded channel, not all held at once.
    let memory = crate::extract::ImageMemory::new(cfg.memory);
    let extractor = extractor.with_memory_budget(memory.decoded.clone());
    let (encoded, fetcher) =
        crate::extract::fetch_ahead(images.clone(), &extractor, concurrency, memory.encoded);
    extractor.run_source(images.len(), encoded.into_iter(), |o| {
        let p = &mut out[o.index];
        match o.result {
            Ok(x) => {
                let (class, margin, top) = score(&model, &x, cfg.top);
                p.class = Some(class);
                p.margin = Some(margin);
                p.top = top;
            }
            Err(e) => p.error = Some(e.to_string()),
        }
        ControlFlow::Continue(())
    });
    fetcher.abort();
    Ok((out, loaded.record))
}
