//! Images to CNN feature vectors: the first half of the original program, rebuilt.
//!
//! - [`image`]: JPEG/PNG decoding to 8-bit RGB, typed errors naming the file, size limits.
//! - [`preprocess`]: preprocessing as a value ([`Preprocess`]) with named [`Preset`]s that
//!   reproduce Keras (`keras-vgg16`) and torchvision-style pipelines exactly, Pillow's resize
//!   included ([`resize`]).
//! - [`backend`]: the [`FeatureBackend`] trait (describe input and output, extract a batch).
//! - [`TractBackend`] (cargo feature `tract`, default): any ONNX CNN, output at a named layer.
//! - `BurnBackend` (cargo feature `burn`): the same networks run natively in burn, weights read
//!   from the ONNX file at run time.
//! - `OrtBackend` (cargo feature `ort`): the same networks run by onnxruntime, its shared
//!   library loaded at run time (`ORT_DYLIB_PATH`).
//! - [`model`]: the default network (EfficientNet-Lite0, found at run time and checked by
//!   SHA-256: [`DefaultModel`]) and model files.
//! - [`extract`]: [`Extractor`], which runs a backend over many files on all cores and hands
//!   each result to a callback as it completes.
//!
//! ```no_run
//! use catclass_features::{Extractor, ModelSource, Preset, TractBackend, DEFAULT_LAYER};
//!
//! let backend = TractBackend::load(&ModelSource::Default, Some(DEFAULT_LAYER))?;
//! let ex = Extractor::new(backend, Preset::EfficientNetLite.preprocess())?.with_batch(8);
//! let paths = vec!["cat.jpg".into()];
//! ex.run(&paths, |o| {
//!     match o.result {
//!         Ok(f) => println!("{}: {} floats", o.path.display(), f.len()),
//!         Err(e) => eprintln!("{e}"),
//!     }
//!     std::ops::ControlFlow::Continue(())
//! });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod backend;
#[cfg(feature = "burn")]
mod burn_backend;
mod caught;
#[cfg(feature = "images")]
mod decode;
#[cfg(feature = "images")]
pub mod extract;
pub mod image;
#[cfg(any(feature = "tract", feature = "burn", feature = "ort"))]
mod layer;
pub mod memory;
pub mod model;
#[cfg(feature = "ort")]
mod onnx_proto;
#[cfg(feature = "ort")]
mod ort_backend;
pub mod preprocess;
pub mod resize;
#[cfg(feature = "tract")]
mod tract_backend;

pub use backend::{BackendError, FeatureBackend, InputSpec, OutputSpec, checked_extract};
#[cfg(feature = "burn")]
pub use burn_backend::BurnBackend;
pub use caught::panic_is_caught;
#[cfg(feature = "images")]
pub use extract::{
    EncodedImage, ExtractError, Extractor, Outcome, RunSummary, SizeMismatch, ToRgb8,
};
pub use image::{DecodeLimits, Rgb8Image};
#[cfg(feature = "images")]
pub use image::{ImageError, decode_image, load_image};
pub use memory::{MemoryBudget, MemoryReservation};
pub use model::{
    DEFAULT_LAYER, DEFAULT_MODEL_FILE, DEFAULT_MODEL_NAME, DEFAULT_MODEL_SHA256, DEFAULT_PRESET,
    DefaultModel, FeatureModel, ModelSource, VGG16_LAYER, sha256_hex,
};
#[cfg(feature = "ort")]
pub use ort_backend::{ORT_DYLIB_VAR, OrtBackend, OrtBuilder};
pub use preprocess::{ChannelOrder, Layout, Preprocess, Preset, Resize};
pub use resize::Filter;
#[cfg(feature = "tract")]
pub use tract_backend::TractBackend;
