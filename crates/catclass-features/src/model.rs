//! Where the network comes from: the default EfficientNet-Lite0, found at run time, or a
//! user's ONNX file.
//!
//! The default network (18.5 MB) is not inside any crate: crates stay small enough to publish,
//! and the bytes are a file a user can see, replace and verify. [`DefaultModel`] looks for
//! `efficientnet-lite0.onnx` in a few folders (a user folder, a cache, the source tree of a
//! clone) and refuses any file whose size or SHA-256 is not the published one.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::backend::BackendError;
use crate::preprocess::Preset;

/// The default network's name, as recorded in feature manifests and model files
/// (`default:efficientnet-lite0`).
pub const DEFAULT_MODEL_NAME: &str = "efficientnet-lite0";

/// The default network's file name, in each folder [`DefaultModel`] searches.
pub const DEFAULT_MODEL_FILE: &str = "efficientnet-lite0.onnx";

/// Size in bytes of the default network's file.
pub const DEFAULT_MODEL_SIZE: u64 = 18_536_779;

/// Lower-case hex SHA-256 of the default network's file: EfficientNet-Lite0 (ImageNet-1k,
/// Apache-2.0) as ONNX, input `input` `[N, 3, 224, 224]` RGB NCHW, outputs `features`
/// `[N, 1280]` and `logits` `[N, 1000]`.
pub const DEFAULT_MODEL_SHA256: &str =
    "a781b690142d579790c3a9e1310e8c849db8b9b7272ba444d85890d823c58617";

/// The default network's licence, written beside it by [`DefaultModel::install`].
pub const DEFAULT_MODEL_LICENSE: &str = "Apache Software License 2.0\n\nCopyright (c) 2020, \
ML Illustrated\n\nLicensed under the Apache License, Version 2.0 (the \"License\");\nyou may not \
use this file except in compliance with the License.\nYou may obtain a copy of the License at\n\n\
http://www.apache.org/licenses/LICENSE-2.0\n\nUnless required by applicable law or agreed to in \
writing, software\ndistributed under the License is distributed on an \"AS IS\" BASIS,\nWITHOUT \
WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.\nSee the License for the \
specific language governing permissions and\nlimitations under the License.\n";

/// The default network's layer: the 1280 pooled features.
pub const DEFAULT_LAYER: &str = "features";

/// The default network's preprocessing.
pub const DEFAULT_PRESET: Preset = Preset::EfficientNetLite;

/// The layer of a Keras VGG16 export the original program read (the ReLU output of `fc2`).
pub const VGG16_LAYER: &str = "fc2";

/// The largest network file read (2 GiB): protobuf's own limit on one message, which an ONNX
/// file without external data cannot pass. Checked before reading.
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

/// The environment variable naming a folder searched first for the default network.
pub const MODEL_DIR_VAR: &str = "CATCLASS_MODEL_DIR";

/// Where the default network is looked for, and how it is installed.
///
/// [`DefaultModel::standard`] searches, in order: `$CATCLASS_MODEL_DIR`; the user's cache
/// (`$XDG_CACHE_HOME/catclass/models`, else `~/.cache/catclass/models`; on Windows
/// `%LOCALAPPDATA%\catclass\models`), where [`DefaultModel::install`] puts it; and `models/` of
/// the source tree this crate was built from (present in a clone of the repository). A file is
/// used only if its size and SHA-256 are [`DEFAULT_MODEL_SIZE`] and [`DEFAULT_MODEL_SHA256`].
///
/// ```
/// use catclass_features::model::DefaultModel;
/// let dir = tempfile::tempdir()?;
/// let search = DefaultModel::in_dirs(vec![dir.path().to_path_buf()]);
/// // Not installed there: the error names the folders searched.
/// assert!(search.find().unwrap_err().to_string().contains("catclass model install"));
/// // Only the published bytes are installed.
/// assert!(DefaultModel::install(b"not a network", dir.path()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultModel {
    dirs: Vec<PathBuf>,
}

impl DefaultModel {
    /// The standard search folders (see the type's documentation).
    pub fn standard() -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = std::env::var_os(MODEL_DIR_VAR).filter(|d| !d.is_empty()) {
            dirs.push(PathBuf::from(dir));
        }
        dirs.extend(Self::user_dir());
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"));
        DefaultModel { dirs }
    }

    /// Searches exactly `dirs`, in order.
    pub fn in_dirs(dirs: Vec<PathBuf>) -> Self {
        DefaultModel { dirs }
    }

    /// The folders searched, in order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The user's cache folder for the default network (`None` when neither
    /// `XDG_CACHE_HOME`, `HOME` nor `LOCALAPPDATA` is set).
    pub fn user_dir() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let cache = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))
            .or_else(|| var("LOCALAPPDATA").map(PathBuf::from))?;
        Some(cache.join("catclass").join("models"))
    }

    /// The first searched file of the published size (its bytes are checked by
    /// [`DefaultModel::load`]).
    pub fn find(&self) -> Result<PathBuf, BackendError> {
        self.dirs
            .iter()
            .map(|d| d.join(DEFAULT_MODEL_FILE))
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
            .ok_or_else(|| BackendError::DefaultModelMissing {
                searched: self
                    .dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The default network's bytes, checked: the first file found, of the published size
    /// (checked before reading, so a wrong file costs no memory) and SHA-256.
    pub fn load(&self) -> Result<Vec<u8>, BackendError> {
        let path = self.find()?;
        let io = |source| BackendError::Io {
            path: path.display().to_string(),
            source,
        };
        let size = std::fs::metadata(&path).map_err(io)?.len();
        if size != DEFAULT_MODEL_SIZE {
            return Err(BackendError::NotTheDefaultModel {
                path: path.display().to_string(),
                found: format!("{size} bytes"),
                expected: published(),
            });
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        verify(&bytes, &path.display().to_string())?;
        Ok(bytes)
    }

    /// Writes `bytes` as the default network into `dir` (created if needed), after checking
    /// they are the published file, with its licence beside it. The file appears whole or not
    /// at all (written under a temporary name, flushed to disk, then renamed). Returns its path.
    pub fn install(bytes: &[u8], dir: &Path) -> Result<PathBuf, BackendError> {
        verify(bytes, "the given bytes")?;
        let path = dir.join(DEFAULT_MODEL_FILE);
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |source| BackendError::Io { path: p, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_durably(
            &dir.join("efficientnet-lite0.LICENSE"),
            DEFAULT_MODEL_LICENSE.as_bytes(),
        )
        .map_err(io(dir))?;
        write_durably(&path, bytes).map_err(io(&path))?;
        Ok(path)
    }
}

/// Reads a network file: a regular file (not a device, a pipe or a folder) of at most
/// [`MAX_MODEL_BYTES`], both checked before reading, and never more than that read even if the
/// file grows meanwhile.
fn read_model_file(path: &Path) -> Result<Vec<u8>, BackendError> {
    use std::io::Read;
    let name = || path.display().to_string();
    let io = |source| BackendError::Io {
        path: name(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(BackendError::NotAFile { path: name() });
    }
    let too_large = |size| BackendError::ModelTooLarge {
        path: name(),
        size,
        max: MAX_MODEL_BYTES,
    };
    if meta.len() > MAX_MODEL_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The published default network's size and SHA-256, as an error names them.
fn published() -> String {
    format!("{DEFAULT_MODEL_SIZE} bytes, SHA-256 {DEFAULT_MODEL_SHA256}")
}

/// Refuses bytes that are not the published default network.
fn verify(bytes: &[u8], what: &str) -> Result<(), BackendError> {
    let sha = sha256_hex(bytes);
    if bytes.len() as u64 != DEFAULT_MODEL_SIZE || sha != DEFAULT_MODEL_SHA256 {
        return Err(BackendError::NotTheDefaultModel {
            path: what.to_string(),
            found: format!("{} bytes, SHA-256 {sha}", bytes.len()),
            expected: published(),
        });
    }
    Ok(())
}

/// Writes `path` through a temporary file in the same folder, synced, then renamed, then the
/// folder synced.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Makes the rename itself durable where folders can be opened (not on Windows).
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What produced a set of features: recorded in shards, in `extract.json` and in model files,
/// so that `predict` extracts new images the same way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureModel {
    /// Inference engine (`tract`, `burn`).
    pub backend: String,
    /// The network: a file path, or `default:<name>` for the default network
    /// ([`ModelSource`]'s text).
    pub model: String,
    /// Lower-case hex SHA-256 of the ONNX bytes.
    pub model_sha256: String,
    /// The layer (or tensor) the features are read from.
    pub layer: String,
    /// Preprocessing preset name.
    pub preset: String,
    /// Floats per image.
    pub dim: usize,
}

/// A network to load.
///
/// ```
/// use catclass_features::ModelSource;
/// assert_eq!(ModelSource::Default.to_string(), "default:efficientnet-lite0");
/// assert_eq!("embedded:efficientnet-lite0".parse::<ModelSource>()?, ModelSource::Default);
/// assert_eq!("vgg16.onnx".parse::<ModelSource>()?, ModelSource::Path("vgg16.onnx".into()));
/// # Ok::<(), catclass_features::BackendError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ModelSource {
    /// The default EfficientNet-Lite0, found by [`DefaultModel::standard`].
    Default,
    /// An ONNX file.
    Path(PathBuf),
}

impl ModelSource {
    /// The ONNX bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, BackendError> {
        match self {
            ModelSource::Default => DefaultModel::standard().load(),
            ModelSource::Path(p) => read_model_file(p),
        }
    }

    /// The file's path, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ModelSource::Default => None,
            ModelSource::Path(p) => Some(p),
        }
    }
}

impl fmt::Display for ModelSource {
    /// `default:efficientnet-lite0` or the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::Default => write!(f, "default:{DEFAULT_MODEL_NAME}"),
            ModelSource::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

impl std::str::FromStr for ModelSource {
    type Err = BackendError;

    /// Reads what [`fmt::Display`] writes; `embedded:efficientnet-lite0` (what older versions
    /// recorded when the network was inside the binary) is the default network too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .strip_prefix("default:")
            .or_else(|| s.strip_prefix("embedded:"))
        {
            Some(DEFAULT_MODEL_NAME) => Ok(ModelSource::Default),
            Some(name) => Err(BackendError::UnknownDefaultModel {
                name: name.to_string(),
            }),
            None => Ok(ModelSource::Path(PathBuf::from(s))),
        }
    }
}

/// Lower-case hex SHA-256 of `bytes` (recorded with features and models, to detect a model
/// that changed under the same path).
///
/// ```
/// assert_eq!(catclass_features::sha256_hex(b"").len(), 64);
/// ```
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

    fn repo_copy() -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../models")
                .join(DEFAULT_MODEL_FILE),
        )
        .unwrap()
    }

    #[test]
    fn the_repository_copy_is_the_published_file_and_is_found() {
        let bytes = repo_copy();
        assert_eq!(sha256_hex(&bytes), DEFAULT_MODEL_SHA256);
        assert_eq!(bytes.len() as u64, DEFAULT_MODEL_SIZE);
        let source_tree = DefaultModel::standard().dirs().last().unwrap().clone();
        assert_eq!(
            DefaultModel::in_dirs(vec![source_tree]).load().unwrap(),
            bytes
        );
    }

    #[test]
    fn install_verifies_writes_whole_and_is_found_first() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let search = DefaultModel::in_dirs(vec![a.path().into(), b.path().into()]);
        let missing = search.find().unwrap_err().to_string();
        assert!(
            missing.contains(&a.path().display().to_string()),
            "{missing}"
        );
        let mut bytes = repo_copy();
        let installed = DefaultModel::install(&bytes, b.path()).unwrap();
        assert_eq!(installed, b.path().join(DEFAULT_MODEL_FILE));
        assert_eq!(search.load().unwrap(), bytes);
        assert!(b.path().join("efficientnet-lite0.LICENSE").is_file());
        // Nothing but the two files is left behind.
        assert_eq!(std::fs::read_dir(b.path()).unwrap().count(), 2);
        // One flipped bit is refused, at install and at load.
        bytes[1000] ^= 1;
        assert!(matches!(
            DefaultModel::install(&bytes, a.path()),
            Err(BackendError::NotTheDefaultModel { .. })
        ));
        std::fs::write(a.path().join(DEFAULT_MODEL_FILE), &bytes).unwrap();
        let err = search.load().unwrap_err();
        assert!(
            matches!(err, BackendError::NotTheDefaultModel { .. }),
            "{err}"
        );
        // A file of another size is refused before it is read.
        std::fs::write(a.path().join(DEFAULT_MODEL_FILE), b"tiny").unwrap();
        assert!(search.load().unwrap_err().to_string().contains("4 bytes"));
    }

    #[test]
    fn only_regular_files_are_read_as_networks() {
        let dir = tempfile::tempdir().unwrap();
        for path in [Path::new("/dev/zero"), dir.path()] {
            let err = ModelSource::Path(path.into()).bytes().unwrap_err();
            assert!(matches!(err, BackendError::NotAFile { .. }), "{err}");
        }
        let small = dir.path().join("m.onnx");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(ModelSource::Path(small).bytes().unwrap(), b"abc");
    }

    #[test]
    fn records_round_trip() {
        for s in ["default:efficientnet-lite0", "/models/vgg16.onnx"] {
            assert_eq!(s.parse::<ModelSource>().unwrap().to_string(), s);
        }
        assert!(matches!(
            "embedded:resnet".parse::<ModelSource>(),
            Err(BackendError::UnknownDefaultModel { .. })
        ));
    }
}
