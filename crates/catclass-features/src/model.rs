//! Where the network comes from: the embedded default or a user's ONNX file.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::backend::BackendError;
use crate::preprocess::Preset;

/// EfficientNet-Lite0 (ImageNet-1k, Apache-2.0, see `models/efficientnet-lite0.LICENSE`) as
/// ONNX: input `input` `[N, 3, 224, 224]` RGB NCHW, outputs `features` `[N, 1280]` and
/// `logits` `[N, 1000]`. Shipped inside the binary so that a fresh clone works offline.
pub static DEFAULT_MODEL_ONNX: &[u8] = include_bytes!("../../../models/efficientnet-lite0.onnx");

/// The embedded model's name, as recorded in model files.
pub const DEFAULT_MODEL_NAME: &str = "efficientnet-lite0";

/// The embedded model's default layer: the 1280 pooled features.
pub const DEFAULT_LAYER: &str = "features";

/// The embedded model's preprocessing.
pub const DEFAULT_PRESET: Preset = Preset::EfficientNetLite;

/// The layer of a Keras VGG16 export the original program read (the ReLU output of `fc2`).
pub const VGG16_LAYER: &str = "fc2";

/// A network to load.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ModelSource {
    /// [`DEFAULT_MODEL_ONNX`].
    Embedded,
    /// An ONNX file.
    Path(PathBuf),
}

impl ModelSource {
    /// The ONNX bytes.
    pub fn bytes(&self) -> Result<std::borrow::Cow<'static, [u8]>, BackendError> {
        match self {
            ModelSource::Embedded => Ok(std::borrow::Cow::Borrowed(DEFAULT_MODEL_ONNX)),
            ModelSource::Path(p) => {
                std::fs::read(p)
                    .map(std::borrow::Cow::Owned)
                    .map_err(|source| BackendError::Io {
                        path: p.display().to_string(),
                        source,
                    })
            }
        }
    }

    /// The file's path, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ModelSource::Embedded => None,
            ModelSource::Path(p) => Some(p),
        }
    }
}

impl fmt::Display for ModelSource {
    /// `embedded:efficientnet-lite0` or the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::Embedded => write!(f, "embedded:{DEFAULT_MODEL_NAME}"),
            ModelSource::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Lower-case hex SHA-256 of `bytes` (recorded with features and models, to detect a model
/// that changed under the same path).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_is_the_shared_one() {
        assert_eq!(
            sha256_hex(DEFAULT_MODEL_ONNX),
            "a781b690142d579790c3a9e1310e8c849db8b9b7272ba444d85890d823c58617"
        );
        assert_eq!(
            ModelSource::Embedded.to_string(),
            "embedded:efficientnet-lite0"
        );
    }
}
