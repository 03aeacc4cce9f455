//! The one trait an inference engine implements, and what it describes.

use crate::preprocess::Layout;

/// The input tensor a backend expects, one image being `channels x height x width` floats in
/// `layout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    /// The model's input name.
    pub name: String,
    /// Memory layout, read from the model.
    pub layout: Layout,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Colour channels (3).
    pub channels: usize,
}

impl InputSpec {
    /// Floats in one image's tensor.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// `true` when an image has no floats (never for a valid model).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The feature vector a backend returns per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    /// The tensor (or layer) the features are read from.
    pub name: String,
    /// Floats per image.
    pub dim: usize,
}

/// How to get an onnxruntime library, said by the errors about it.
const ORT_LIBRARY_HINT: &str = "onnxruntime 1.22 or later is needed: `pip install onnxruntime` \
     ships it as onnxruntime/capi/libonnxruntime.so.* in its site-packages folder \
     (`python3 -c \"import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))\"`), \
     and https://github.com/microsoft/onnxruntime/releases has builds";

/// An inference failure, with the backend's message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The model file could not be read.
    #[error("{path}: cannot read the model: {source}")]
    Io {
        /// The model's path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A network path that is not a regular file (a device, a pipe, a folder).
    #[error("{path}: not a regular file, so not read as a network")]
    NotAFile {
        /// The path.
        path: String,
    },
    /// A network file over [`crate::model::MAX_MODEL_BYTES`].
    #[error("{path}: {size} bytes, more than the {max} a network file may have")]
    ModelTooLarge {
        /// The path.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The default network is in none of the folders searched.
    #[error(
        "the default network (efficientnet-lite0.onnx) is not installed; searched: {searched}. \
         Install it with `catclass model install <FILE or URL>` (a clone has it in models/), \
         or pass --model FILE"
    )]
    DefaultModelMissing {
        /// The folders searched, in order.
        searched: String,
    },
    /// A file (or bytes) offered as the default network is not the published file.
    #[error("{path}: not the published efficientnet-lite0.onnx ({found}; expected {expected})")]
    NotTheDefaultModel {
        /// The file (or what the bytes were).
        path: String,
        /// Its size and, when read, its SHA-256.
        found: String,
        /// The published file's size and SHA-256.
        expected: String,
    },
    /// A record names a default network this build does not know.
    #[error("features were made by the default network {name:?}, which this build does not know")]
    UnknownDefaultModel {
        /// The recorded name.
        name: String,
    },
    /// The model could not be parsed, or does not fit the expected shapes.
    #[error("model {model}: {message}")]
    Model {
        /// The model's name or path.
        model: String,
        /// What is wrong.
        message: String,
    },
    /// No node or tensor matches the requested layer.
    #[error("model {model}: no layer or tensor named {layer:?}; some names it has: {candidates}")]
    UnknownLayer {
        /// The model's name or path.
        model: String,
        /// The requested layer.
        layer: String,
        /// A few names that exist, to help.
        candidates: String,
    },
    /// The network uses an operator (or an operator setting) that this backend cannot run.
    #[error(
        "model {model}: node {node:?} uses operator {op}, which the {backend} backend does not support{detail}"
    )]
    UnsupportedOperator {
        /// The model's name or path.
        model: String,
        /// The backend's name.
        backend: &'static str,
        /// The node's name.
        node: String,
        /// The ONNX operator type (`Sigmoid`, ...).
        op: String,
        /// Empty, or `: ` and what exactly is not supported (an attribute value).
        detail: String,
    },
    /// The batch given to [`FeatureBackend::extract`] has the wrong size.
    #[error("batch of {got} floats is not {images} images of {per_image} floats")]
    BatchShape {
        /// Floats given.
        got: usize,
        /// Images announced.
        images: usize,
        /// Floats per image.
        per_image: usize,
    },
    /// Running the network failed.
    #[error("inference failed: {0}")]
    Run(String),
    /// The backend announces feature vectors of no value.
    #[error("the {backend} backend gives 0 features per image (layer {layer:?})")]
    NoFeatures {
        /// The backend's name.
        backend: &'static str,
        /// Its output layer.
        layer: String,
    },
    /// The backend returned another number of floats than `images * dim`.
    #[error("the backend returned {got} floats for {images} images of {dim} features")]
    OutputShape {
        /// Floats returned.
        got: usize,
        /// Images in the batch.
        images: usize,
        /// Features per image.
        dim: usize,
    },
    /// The onnxruntime library could not be loaded (cargo feature `ort`).
    #[error("onnxruntime library {path}: {reason}. {}", ORT_LIBRARY_HINT)]
    OrtLibrary {
        /// The library file tried.
        path: String,
        /// Why it was not loaded.
        reason: String,
    },
    /// No onnxruntime library was named: no path given and `ORT_DYLIB_PATH` unset or empty.
    #[error(
        "no onnxruntime library given: set ORT_DYLIB_PATH to its path. {}",
        ORT_LIBRARY_HINT
    )]
    OrtLibraryUnset,
    /// A feature that is NaN or infinite (it cannot be written as a number, nor trained on).
    #[error("image {image} of the batch: feature {position} is {value}")]
    NonFinite {
        /// The image, counted from 0 in the batch given.
        image: usize,
        /// The feature's position in the vector.
        position: usize,
        /// The value.
        value: f32,
    },
}

/// Checks a backend's answer for `images` images: `images * dim` floats with `dim > 0`;
/// returns `dim`.
#[cfg(feature = "images")]
pub(crate) fn check_output_shape(
    backend: &'static str,
    output: &OutputSpec,
    got: usize,
    images: usize,
) -> Result<usize, BackendError> {
    if output.dim == 0 {
        return Err(BackendError::NoFeatures {
            backend,
            layer: output.name.clone(),
        });
    }
    if got != images * output.dim {
        return Err(BackendError::OutputShape {
            got,
            images,
            dim: output.dim,
        });
    }
    Ok(output.dim)
}

/// The first NaN or infinite value of `features`, as `(position, value)`.
#[cfg(feature = "images")]
pub(crate) fn first_non_finite(features: &[f32]) -> Option<(usize, f32)> {
    features
        .iter()
        .position(|v| !v.is_finite())
        .map(|i| (i, features[i]))
}

/// An inference engine that turns a batch of preprocessed images into feature vectors.
///
/// Implementations are shared between worker threads: `extract` takes `&self` and may be
/// called concurrently.
pub trait FeatureBackend: Send + Sync {
    /// A short name of the engine (`tract`, `burn`).
    fn name(&self) -> &'static str;

    /// The input one image must be preprocessed to.
    fn input(&self) -> &InputSpec;

    /// The features returned per image.
    fn output(&self) -> &OutputSpec;

    /// Runs `images` images laid out back to back in `batch` (each [`InputSpec::len`] floats in
    /// [`InputSpec::layout`]) and returns `images * output().dim` floats, image after image.
    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError>;
}

/// A shared backend is a backend (so `Extractor::new(Arc::new(b), ..)` and an
/// `Arc<dyn FeatureBackend>` chosen at run time both work).
impl<T: FeatureBackend + ?Sized> FeatureBackend for std::sync::Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn input(&self) -> &InputSpec {
        (**self).input()
    }
    fn output(&self) -> &OutputSpec {
        (**self).output()
    }
    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        (**self).extract(batch, images)
    }
}

/// The checks every [`FeatureBackend::extract`] makes around its engine: `batch` must be
/// `images` images of `input`, no images give no features without running `run`, and `run`
/// must return `images * output.dim` floats. For backends of your own too.
///
/// ```
/// use catclass_features::{BackendError, InputSpec, Layout, OutputSpec, checked_extract};
/// let input = InputSpec { name: "x".into(), layout: Layout::Nchw, height: 2, width: 2, channels: 3 };
/// let output = OutputSpec { name: "y".into(), dim: 1 };
/// let ok = checked_extract(&input, &output, &[0.0; 12], 1, || Ok(vec![1.0]))?;
/// assert_eq!(ok, [1.0]);
/// let short = checked_extract(&input, &output, &[0.0; 5], 1, || Ok(vec![1.0]));
/// assert!(matches!(short, Err(BackendError::BatchShape { got: 5, .. })));
/// # Ok::<(), BackendError>(())
/// ```
pub fn checked_extract(
    input: &InputSpec,
    output: &OutputSpec,
    batch: &[f32],
    images: usize,
    run: impl FnOnce() -> Result<Vec<f32>, BackendError>,
) -> Result<Vec<f32>, BackendError> {
    let per = input.len();
    if batch.len() != images * per {
        return Err(BackendError::BatchShape {
            got: batch.len(),
            images,
            per_image: per,
        });
    }
    if images == 0 {
        return Ok(Vec::new());
    }
    let v = run()?;
    if v.len() != images * output.dim {
        return Err(BackendError::Run(format!(
            "output has {} floats, expected {images} x {}",
            v.len(),
            output.dim
        )));
    }
    Ok(v)
}
