//! Images to feature files: list images (local or S3), skip the outputs already there and
//! valid, extract the rest on all cores (or all ranks), write each `<image>.json` atomically,
//! then one shard of the whole folder.
//!
//! Resumable: a run stopped at any point leaves only whole files; the next run with the same
//! arguments extracts only what is missing or invalid. The folder's feature model is recorded
//! in [`MANIFEST_FILE`] by the first run: a later run with another network, layer or
//! preprocessing into the same folder is refused rather than mixing features.

use crate::{AppError, Executor};
use catclass_features::{
    EncodedImage, Extractor, FeatureBackend, ImageError, ModelSource, Preprocess, Preset,
    RunSummary, sha256_hex,
};
use catclass_store::documents::{split_file, write_json};
use catclass_store::shard::{self, FeatureModel, SHARD_FILE};
use catclass_store::{Location, StoreOptions, feature_json};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

/// The file recording which network produced a feature folder (JSON content; not named
/// `*.json` so that the original program, which reads every `*.json`, ignores it).
pub const MANIFEST_FILE: &str = "extract.manifest";

/// The largest image file read (256 MiB; the decoder's pixel limit, Pillow's 89.5 Mpx,
/// bounds what a file may decode to).
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;

/// Why extraction (or prediction of images) could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractFailure {
    /// A recorded preprocessing preset this build does not know.
    #[error(transparent)]
    UnknownPreset(#[from] catclass_features::preprocess::UnknownPreset),
    /// An engine name this build does not know.
    #[error("unknown backend {name:?} (tract, burn or ort)")]
    UnknownBackend {
        /// The name.
        name: String,
    },
    /// A network given by path needs its preprocessing named.
    #[error(
        "{model}: say how images are preprocessed for this network with --preset (keras-vgg16 \
         for a Keras VGG16 export; {presets})"
    )]
    PresetRequired {
        /// The network file.
        model: PathBuf,
        /// The presets known.
        presets: String,
    },
    /// The network could not be read or loaded.
    #[error(transparent)]
    Backend(#[from] catclass_features::BackendError),
    /// The preprocessing does not give the network's input size.
    #[error(transparent)]
    InputSize(#[from] catclass_features::SizeMismatch),
    /// The burn engine was asked for in a build without it.
    #[error("this catclass was built without the burn backend (cargo feature `burn`)")]
    BurnNotBuilt,
    /// The onnxruntime engine was asked for in a build without it.
    #[error("this catclass was built without the onnxruntime backend (cargo feature `ort`)")]
    OrtNotBuilt,
    /// A folder without images.
    #[error("{location}: no images (*.jpg, *.jpeg, *.png) found")]
    NoImages {
        /// The folder.
        location: String,
    },
    /// Two images that would write the same feature file.
    #[error("{first} and {second} have the same file name and would write the same feature file")]
    SameFileName {
        /// One image.
        first: String,
        /// The other.
        second: String,
    },
    /// No image at all.
    #[error("no images given")]
    NothingGiven,
    /// The output folder holds features of another network.
    #[error(
        "{folder} holds features of another network ({} layer {} preset {} via {}, sha256 {}); \
         this run uses {} layer {} preset {} via {} (sha256 {}): choose another output folder",
        found.model, found.layer, found.preset, found.backend, short(&found.model_sha256),
        ours.model, ours.layer, ours.preset, ours.backend, short(&ours.model_sha256)
    )]
    ForeignFeatures {
        /// The output folder.
        folder: String,
        /// What made its features.
        found: Box<FeatureModel>,
        /// What this run uses.
        ours: Box<FeatureModel>,
    },
    /// An output folder holding feature files but no manifest: what made them is unknown, so
    /// they are not taken as this run's.
    #[error(
        "{folder}: {files} feature files but no {MANIFEST_FILE} saying which network made them; \
         extract into an empty folder (or remove them)"
    )]
    UnrecordedFeatures {
        /// The output folder.
        folder: String,
        /// Feature files found.
        files: usize,
    },
    /// A background write task died.
    #[error("a write task failed: {reason}")]
    WriteTask {
        /// Why.
        reason: String,
    },
    /// A model file that does not say how its features were made, with no network given.
    #[error(
        "{model}: the model does not record how its features were extracted (they were not \
         made by `catclass extract`); give the network with --model, --layer and --preset"
    )]
    NoFeatureRecord {
        /// The model file.
        model: String,
    },
    /// The network file changed since the training features were made.
    #[error(
        "{network}: the network changed since the training features were extracted (sha256 \
         {now} now, {then} then)"
    )]
    NetworkChanged {
        /// The network.
        network: String,
        /// Its hash now.
        now: String,
        /// Its hash at training.
        then: String,
    },
    /// The network's layer does not give the model's number of features.
    #[error("{model}: {network} layer {layer} gives {found} features, the model takes {expected}")]
    LayerDimension {
        /// The model file.
        model: String,
        /// The network.
        network: String,
        /// The layer.
        layer: String,
        /// Values the layer gives.
        found: usize,
        /// Values the model takes.
        expected: usize,
    },
}

/// The first 12 characters of a hash, for messages.
fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}

/// The inference engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// tract (pure Rust, CPU): the default.
    Tract,
    /// burn (cargo feature `burn`).
    Burn,
    /// onnxruntime (cargo feature `ort`; the library is loaded at run time from
    /// `ORT_DYLIB_PATH`).
    Ort,
}

impl BackendKind {
    /// `tract`, `burn` or `ort`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
            BackendKind::Burn => "burn",
            BackendKind::Ort => "ort",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = ExtractFailure;
    fn from_str(s: &str) -> Result<Self, ExtractFailure> {
        match s {
            "tract" => Ok(BackendKind::Tract),
            "burn" => Ok(BackendKind::Burn),
            "ort" => Ok(BackendKind::Ort),
            _ => Err(ExtractFailure::UnknownBackend {
                name: s.to_string(),
            }),
        }
    }
}

/// The network, layer and preprocessing to extract with.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    /// The network.
    pub model: ModelSource,
    /// The layer or tensor read (`None`: `features` for the default network, else the model's
    /// first output).
    pub layer: Option<String>,
    /// The preprocessing (`None` is only allowed for the default network).
    pub preset: Option<Preset>,
    /// The engine.
    pub backend: BackendKind,
}

impl Default for FeatureSpec {
    /// The default EfficientNet-Lite0, `features` layer, its preset, tract.
    fn default() -> Self {
        FeatureSpec {
            model: ModelSource::Default,
            layer: None,
            preset: None,
            backend: BackendKind::Tract,
        }
    }
}

/// A loaded backend with its preprocessing and the record of what it is. Any
/// [`FeatureBackend`] can be wrapped in one (it is a [`FeatureSource`] itself), so `extract`
/// and `predict` run engines of the caller's too.
#[derive(Clone)]
pub struct LoadedFeatures {
    /// The engine, ready to run.
    pub backend: Arc<dyn FeatureBackend>,
    /// The preprocessing images get before the engine.
    pub preprocess: Preprocess,
    /// What produced the features (recorded in the folder's manifest, shards and model files).
    pub record: FeatureModel,
}

/// Where `extract` and `predict` get their feature engine: [`FeatureSpec`] (a built-in engine
/// by name, and a network) or a [`LoadedFeatures`] the caller built around any backend.
pub trait FeatureSource: Send + Sync {
    /// The engine, its preprocessing and its record.
    fn load(&self) -> Result<LoadedFeatures, AppError>;
}

impl FeatureSource for LoadedFeatures {
    fn load(&self) -> Result<LoadedFeatures, AppError> {
        Ok(self.clone())
    }
}

impl FeatureSource for FeatureSpec {
    fn load(&self) -> Result<LoadedFeatures, AppError> {
        FeatureSpec::load(self)
    }
}

impl std::fmt::Debug for LoadedFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedFeatures")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl FeatureSpec {
    /// The spec that `record` describes (to extract new images as a model's features were).
    pub fn from_record(record: &FeatureModel) -> Result<Self, AppError> {
        let model = record.model.parse().map_err(feature_err)?;
        Ok(FeatureSpec {
            model,
            layer: Some(record.layer.clone()),
            preset: Some(record.preset.parse().map_err(ExtractFailure::from)?),
            backend: record.backend.parse()?,
        })
    }

    /// Loads the network and resolves the defaults.
    pub fn load(&self) -> Result<LoadedFeatures, AppError> {
        self.load_expecting(None)
    }

    /// Like [`FeatureSpec::load`], refusing a network whose SHA-256 is not `sha256` before it
    /// is parsed: a network named by a model file or a manifest (data from elsewhere) is used
    /// only if it is the very file recorded there (and a regular file of bounded size, as any
    /// network).
    pub fn load_expecting(&self, sha256: Option<&str>) -> Result<LoadedFeatures, AppError> {
        let preset = match (self.preset, &self.model) {
            (Some(p), _) => p,
            (None, ModelSource::Default) => catclass_features::DEFAULT_PRESET,
            (None, ModelSource::Path(p)) => {
                return Err(ExtractFailure::PresetRequired {
                    model: p.clone(),
                    presets: Preset::ALL.map(Preset::name).join(", "),
                }
                .into());
            }
        };
        let layer = match (&self.layer, &self.model) {
            (Some(l), _) => Some(l.as_str()),
            (None, ModelSource::Default) => Some(catclass_features::DEFAULT_LAYER),
            (None, ModelSource::Path(_)) => None,
        };
        let bytes = self.model.bytes().map_err(feature_err)?;
        let name = self.model.to_string();
        // The default network's bytes were checked against its published SHA-256 as they were
        // read: not hashed a second time.
        let digest = match self.model {
            ModelSource::Default => catclass_features::DEFAULT_MODEL_SHA256.to_string(),
            ModelSource::Path(_) => sha256_hex(&bytes),
        };
        if let Some(then) = sha256
            && then != digest
        {
            return Err(ExtractFailure::NetworkChanged {
                network: name,
                now: digest,
                then: then.to_string(),
            }
            .into());
        }
        let backend: Arc<dyn FeatureBackend> = match self.backend {
            BackendKind::Tract => Arc::new(
                catclass_features::TractBackend::from_bytes(&bytes, &name, layer)
                    .map_err(feature_err)?,
            ),
            #[cfg(feature = "burn")]
            BackendKind::Burn => Arc::new(
                catclass_features::BurnBackend::from_onnx(&bytes, &name, layer)
                    .map_err(feature_err)?,
            ),
            #[cfg(not(feature = "burn"))]
            BackendKind::Burn => {
                return Err(ExtractFailure::BurnNotBuilt.into());
            }
            #[cfg(feature = "ort")]
            BackendKind::Ort => Arc::new(
                catclass_features::OrtBackend::from_bytes(&bytes, &name, layer)
                    .map_err(feature_err)?,
            ),
            #[cfg(not(feature = "ort"))]
            BackendKind::Ort => {
                return Err(ExtractFailure::OrtNotBuilt.into());
            }
        };
        let record = FeatureModel {
            backend: self.backend.name().to_string(),
            model: name,
            model_sha256: digest,
            layer: backend.output().name.clone(),
            preset: preset.name().to_string(),
            dim: backend.output().dim,
        };
        Ok(LoadedFeatures {
            backend,
            preprocess: preset.preprocess(),
            record,
        })
    }
}

fn feature_err(e: catclass_features::BackendError) -> AppError {
    ExtractFailure::Backend(e).into()
}

/// Everything `catclass extract` needs; `F` is where the feature engine comes from.
#[derive(Debug, Clone)]
pub struct ExtractConfig<F: FeatureSource = FeatureSpec> {
    /// Image files or folders (local paths, `file://`, `s3://`); folders give their
    /// `*.jpg`, `*.jpeg` and `*.png` (any case), not those of sub-folders.
    pub images: Vec<String>,
    /// Output folder.
    pub out: String,
    /// Network, layer, preprocessing, engine.
    pub features: F,
    /// Images per network call.
    pub batch: usize,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Stop at the first bad image.
    pub fail_fast: bool,
    /// Also write the shard [`SHARD_FILE`] of the whole output folder.
    pub shard: bool,
    /// Bytes the images may take at once ([`ImageMemory`]).
    pub memory: u64,
    /// Store options.
    pub store: StoreOptions,
}

/// What images fetched ahead and images being decoded may take together, by default
/// ([`ImageMemory`]): 1 GiB.
pub const DEFAULT_IMAGE_MEMORY: u64 = 1 << 30;

/// The memory of a run's images, `total` bytes: a quarter for encoded images fetched ahead of
/// the workers (each held from before its read until it is decoded; its size is the listed
/// one), the rest for decoded pixels (each worker holds what an image's decoding needs from
/// before it allocates it until the image is preprocessed). One image larger than its share
/// is still processed, alone.
///
/// ```
/// use catclass_app::extract::ImageMemory;
/// let m = ImageMemory::new(1 << 30);
/// assert_eq!(m.encoded.total() + m.decoded.total(), 1 << 30);
/// ```
#[derive(Debug, Clone)]
pub struct ImageMemory {
    /// For encoded images fetched ahead.
    pub encoded: std::sync::Arc<catclass_features::MemoryBudget>,
    /// For decoded pixels.
    pub decoded: std::sync::Arc<catclass_features::MemoryBudget>,
}

impl ImageMemory {
    /// `total` bytes, split as the type's docs say.
    pub fn new(total: u64) -> Self {
        let encoded = total / 4;
        ImageMemory {
            encoded: catclass_features::MemoryBudget::new(encoded),
            decoded: catclass_features::MemoryBudget::new(total - encoded),
        }
    }
}

/// The peak resident memory of this process so far (`VmHWM`, Linux), if known.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One image to extract: where it is and the feature file it gives.
#[derive(Debug, Clone)]
pub struct ImageRef {
    /// Its folder.
    pub location: Location,
    /// Its object name in the folder.
    pub name: String,
    /// Its size in bytes when listed (asked of the store when `None`).
    pub size: Option<u64>,
}

impl ImageRef {
    /// The feature file name: `<image file name>.json`, as the seed named it.
    pub fn output_name(&self) -> String {
        format!("{}.json", self.name)
    }

    /// The image's full location, for messages.
    pub fn describe(&self) -> String {
        self.location.describe(&self.name)
    }

    /// Reads the image's bytes for the extractor, as image number `index` of a run (a read
    /// failure becomes that image's error, naming it).
    pub async fn fetch(&self, index: usize) -> EncodedImage {
        let path = PathBuf::from(self.describe());
        let bytes = self
            .location
            .get_at_most(&self.name, MAX_IMAGE_FILE_BYTES, "an image file")
            .await
            .map(|b| b.to_vec())
            .map_err(|e| ImageError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            });
        EncodedImage {
            index,
            path,
            bytes,
            held: None,
        }
    }
}

/// Whether a name is a JPEG or PNG file name.
pub fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e))
}

/// Lists the images of `specs` (each a file or a folder), sorted by name; two images with the
/// same file name (they would write the same feature file) are refused, and so is a folder
/// entry that cannot be listed ([`list_images_reporting`] goes on past those).
pub async fn list_images(
    specs: &[String],
    store: &StoreOptions,
) -> Result<Vec<ImageRef>, AppError> {
    let (images, unlisted) = list_images_reporting(specs, store).await?;
    match unlisted.into_iter().next() {
        Some(entry) => Err(catclass_store::StoreError::InvalidLocation {
            location: specs.join(" "),
            reason: format!("an entry cannot be listed: {entry}"),
        }
        .into()),
        None => Ok(images),
    }
}

/// Like [`list_images`], going on past folder entries that cannot be listed (a file name that
/// is not UTF-8, or that an object store cannot hold): returned apart, each with why.
pub async fn list_images_reporting(
    specs: &[String],
    store: &StoreOptions,
) -> Result<(Vec<ImageRef>, Vec<String>), AppError> {
    let mut unlisted = Vec::new();
    let mut images = Vec::new();
    for spec in specs {
        let local_dir = !spec.contains("://") && std::path::Path::new(spec).is_dir();
        if is_image_name(spec) && !local_dir {
            let (dir, name) = split_file(spec);
            let location = crate::location::open(&dir, store)?;
            images.push(ImageRef {
                location,
                name,
                size: None,
            });
        } else {
            let location = crate::location::open(spec, store)?;
            let before = images.len();
            let listing = location.list_skipping().await?;
            unlisted.extend(listing.skipped);
            for meta in &listing.objects {
                let name = location.name_of(meta);
                if is_image_name(&name) {
                    images.push(ImageRef {
                        location: location.clone(),
                        name,
                        size: Some(meta.size),
                    });
                }
            }
            if images.len() == before {
                return Err(ExtractFailure::NoImages {
                    location: location.to_string(),
                }
                .into());
            }
        }
    }
    images.sort_by(|a, b| a.name.cmp(&b.name));
    // The same file given twice (a file and its folder) is one image.
    images.dedup_by(|a, b| a.describe() == b.describe());
    if let Some(w) = images.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(ExtractFailure::SameFileName {
            first: w[0].describe(),
            second: w[1].describe(),
        }
        .into());
    }
    if images.is_empty() {
        return Err(ExtractFailure::NothingGiven.into());
    }
    Ok((images, unlisted))
}

/// The content of [`MANIFEST_FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// What produced the folder's features.
    pub feature_model: FeatureModel,
    /// catclass-svm version of the first run.
    pub catclass_version: String,
}

/// Progress of an extraction, for a progress bar.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtractProgress {
    /// Listing done.
    Planned {
        /// Images given.
        images: usize,
        /// Images whose valid output was already there.
        already_done: usize,
        /// Images this process extracts.
        local_todo: usize,
    },
    /// One image done (features written, or failed).
    Image {
        /// The image.
        image: String,
        /// Its error, if it failed.
        error: Option<String>,
    },
    /// Writing the shard.
    WritingShard,
}

/// What an extraction did (over every rank).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtractReport {
    /// Output folder.
    pub out: String,
    /// What produced the features.
    pub feature_model: FeatureModel,
    /// Images given.
    pub images: usize,
    /// Images whose valid output was already there (skipped).
    pub already_done: usize,
    /// Images extracted now.
    pub extracted: usize,
    /// Images that failed (messages were reported as they happened, on their rank).
    pub failed: usize,
    /// Images not attempted (after a failure with fail-fast).
    pub not_attempted: usize,
    /// The shard written, with its row count, if any.
    pub shard: Option<(String, usize)>,
    /// Why no shard was written although asked, if so.
    pub shard_skipped: Option<String>,
    /// Seconds, summed over worker threads (this process): waiting for images, decoding,
    /// preprocessing, running the network; and the wall-clock time of the extraction.
    pub stage_seconds: BTreeMap<String, f64>,
    /// Processes used.
    pub ranks: usize,
    /// Peak resident memory of this process (Linux), bytes.
    pub peak_memory_bytes: Option<u64>,
}

/// Reads and checks the feature files of `out` not already in `known`: the valid ones (`dim`
/// exact float32 values) by name, and the names of the others, sorted.
async fn existing_outputs(
    out: &Location,
    dim: usize,
    concurrency: usize,
    known: &HashMap<String, Vec<f32>>,
) -> Result<(HashMap<String, Vec<f32>>, Vec<String>), AppError> {
    let names: Vec<String> = out
        .list()
        .await?
        .iter()
        .map(|m| out.name_of(m))
        .filter(|n| !known.contains_key(n))
        .filter(|n| n.ends_with(".json"))
        .collect();
    let results: Vec<(String, Option<Vec<f32>>)> = futures::stream::iter(names)
        .map(|name| {
            let out = out.clone();
            async move {
                let parsed = match out
                    .get_at_most(
                        &name,
                        feature_json::MAX_FEATURE_FILE_BYTES,
                        "a feature file",
                    )
                    .await
                {
                    Ok(bytes) => feature_json::parse(&bytes).ok(),
                    Err(_) => None,
                };
                let valid = parsed.filter(|v| v.len() == dim).and_then(|v| {
                    v.iter()
                        .map(|&x| {
                            let f = x as f32;
                            (f as f64 == x).then_some(f)
                        })
                        .collect::<Option<Vec<f32>>>()
                });
                (name, valid)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut valid = HashMap::new();
    let mut invalid = Vec::new();
    for (name, v) in results {
        match v {
            Some(v) => {
                valid.insert(name, v);
            }
            None => invalid.push(name),
        }
    }
    invalid.sort();
    Ok((valid, invalid))
}

/// Whether two records describe the same features (a folder of an older version recorded the
/// default network as `embedded:efficientnet-lite0`).
fn same_record(found: &FeatureModel, ours: &FeatureModel) -> bool {
    let source = |r: &FeatureModel| r.model.parse::<ModelSource>().ok();
    found == ours
        || (source(found) == source(ours)
            && FeatureModel {
                model: ours.model.clone(),
                ..found.clone()
            } == *ours)
}

/// Checks (or writes, on rank 0 of a first run) the folder's manifest; says whether there
/// was one.
async fn check_manifest(
    out: &Location,
    record: &FeatureModel,
    write: bool,
) -> Result<bool, AppError> {
    let found = out.exists(MANIFEST_FILE).await?;
    if found {
        let m: Manifest = catclass_store::documents::read_json(out, MANIFEST_FILE).await?;
        if !same_record(&m.feature_model, record) {
            return Err(ExtractFailure::ForeignFeatures {
                folder: out.to_string(),
                found: Box::new(m.feature_model),
                ours: Box::new(record.clone()),
            }
            .into());
        }
    } else if write {
        let m = Manifest {
            feature_model: record.clone(),
            catclass_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        write_json(out, MANIFEST_FILE, &m).await?;
    }
    Ok(found)
}

/// Extracts the images of `cfg` into its output folder on `exec` (threads, or MPI ranks that
/// split the images), reporting progress to `progress`.
pub fn extract<E: Executor, F: FeatureSource>(
    cfg: &ExtractConfig<F>,
    exec: &E,
    progress: &(dyn Fn(ExtractProgress) + Sync),
) -> Result<ExtractReport, AppError> {
    let rank = exec.rank();
    let loaded = cfg.features.load();
    exec.agree(loaded.as_ref().err().map(ToString::to_string))?;
    let loaded = loaded?;
    let dim = loaded.record.dim;

    // Every rank lists and checks the same things; nobody writes a feature file before all
    // have (the agreement below is the barrier), so all ranks see the same work.
    let planned = crate::blocking::block_on(async {
        // With fail-fast an entry that cannot be listed stops the run like a bad image;
        // otherwise it counts as a failed image, named once (by rank 0).
        let (images, unlisted) = if cfg.fail_fast {
            (list_images(&cfg.images, &cfg.store).await?, Vec::new())
        } else {
            list_images_reporting(&cfg.images, &cfg.store).await?
        };
        let out = crate::location::create(&cfg.out, &cfg.store)?;
        let recorded = check_manifest(&out, &loaded.record, false).await?;
        // Invalid outputs of this run's images are redone; others are the shard's concern.
        let (existing, _) =
            existing_outputs(&out, dim, cfg.store.concurrency, &HashMap::new()).await?;
        // Feature files with no record of what made them are not adopted.
        if !recorded && !existing.is_empty() {
            return Err(ExtractFailure::UnrecordedFeatures {
                folder: out.to_string(),
                files: existing.len(),
            }
            .into());
        }
        Ok::<_, AppError>((images, unlisted, out, existing))
    });
    exec.agree(planned.as_ref().err().map(ToString::to_string))?;
    let (images, unlisted, out, mut existing) = planned?;
    if rank == 0 {
        let written = crate::blocking::block_on(check_manifest(&out, &loaded.record, true));
        exec.agree(written.as_ref().err().map(ToString::to_string))?;
        written?;
    } else {
        exec.agree(None)?;
    }
    let todo: Vec<&ImageRef> = images
        .iter()
        .filter(|i| !existing.contains_key(&i.output_name()))
        .collect();
    exec.same_plan(
        "settings and images",
        crate::plan_digest(
            [format!("{:?}", loaded.record), cfg.out.clone()]
                .into_iter()
                .chain(images.iter().map(ImageRef::describe))
                .chain(std::iter::once("todo".to_string()))
                .chain(todo.iter().map(|i| i.describe())),
        ),
    )?;
    let already_done = images.len() - todo.len();
    let mine = exec.local_blocks(todo.len());
    let mine = &todo[mine];
    progress(ExtractProgress::Planned {
        images: images.len() + unlisted.len(),
        already_done,
        local_todo: mine.len(),
    });

    let threads = if cfg.threads == 0 {
        exec.threads()
    } else {
        cfg.threads
    };
    let extractor = Extractor::shared(loaded.backend.clone(), loaded.preprocess)
        .map_err(ExtractFailure::from)?
        .with_batch(cfg.batch)
        .with_threads(threads);
    let memory = ImageMemory::new(cfg.memory);
    let extractor = extractor.with_memory_budget(memory.decoded.clone());
    let (summary, written, write_error) = run_local(cfg, &extractor, &out, mine, &memory, progress);
    // Every rank listed the same entries: rank 0 alone names and counts them.
    let unlisted_here: &[String] = if rank == 0 { &unlisted } else { &[] };
    for entry in unlisted_here {
        progress(ExtractProgress::Image {
            image: entry.clone(),
            error: Some(format!(
                "{entry} (left out: this folder entry cannot be listed)"
            )),
        });
    }
    let local = [
        summary.ok as u64,
        (summary.failed + unlisted_here.len()) as u64,
        summary.skipped as u64,
    ];
    exec.agree(write_error.as_ref().map(ToString::to_string))?;
    if let Some(e) = write_error {
        return Err(e);
    }
    let totals = exec.sum_counts(&local)?;
    let (extracted, failed, not_attempted) =
        (totals[0] as usize, totals[1] as usize, totals[2] as usize);

    let mut shard_written = None;
    let mut shard_skipped = None;
    if cfg.shard && rank == 0 {
        progress(ExtractProgress::WritingShard);
        for (name, values) in written {
            existing.insert(name, values);
        }
        let result = crate::blocking::block_on(async {
            // Only what this process does not hold yet: other ranks' features, anything else
            // now in the folder.
            let (others, invalid_now) =
                existing_outputs(&out, dim, cfg.store.concurrency, &existing).await?;
            existing.extend(others);
            if let Some(bad) = invalid_now.first() {
                return Ok(Err(format!(
                    "{} is not a valid feature file of {dim} float32 values",
                    out.describe(bad)
                )));
            }
            let mut names: Vec<String> = existing.keys().cloned().collect();
            names.sort();
            let mut values = Vec::with_capacity(names.len() * dim);
            for n in &names {
                values.extend_from_slice(&existing[n]);
            }
            shard::write(&out, SHARD_FILE, &names, dim, &values, Some(&loaded.record)).await?;
            Ok::<_, AppError>(Ok(names.len()))
        });
        match result {
            Ok(Ok(rows)) => shard_written = Some((out.describe(SHARD_FILE), rows)),
            Ok(Err(why)) => shard_skipped = Some(why),
            Err(e) => {
                exec.agree(Some(e.to_string()))?;
                return Err(e);
            }
        }
        exec.agree(None)?;
    } else if cfg.shard {
        exec.agree(None)?;
    }

    let mut stage_seconds = BTreeMap::new();
    stage_seconds.insert("read".to_string(), summary.read.as_secs_f64());
    stage_seconds.insert("decode".to_string(), summary.decode.as_secs_f64());
    stage_seconds.insert("preprocess".to_string(), summary.preprocess.as_secs_f64());
    stage_seconds.insert("model".to_string(), summary.model.as_secs_f64());
    stage_seconds.insert("wall".to_string(), summary.wall.as_secs_f64());
    Ok(ExtractReport {
        out: out.to_string(),
        feature_model: loaded.record,
        images: images.len() + unlisted.len(),
        already_done,
        extracted,
        failed,
        not_attempted,
        shard: shard_written,
        shard_skipped,
        stage_seconds,
        ranks: exec.ranks(),
        peak_memory_bytes: peak_memory_bytes(),
    })
}

/// Fetches `images` in order on the runtime, `concurrency` reads in flight, into a bounded
/// channel (room for two batches per worker of `extractor`, or the reads in flight): at most
/// that many encoded images are held at once, however many images there are.
pub(crate) fn fetch_ahead(
    images: Vec<ImageRef>,
    extractor: &Extractor,
    concurrency: usize,
    budget: std::sync::Arc<catclass_features::MemoryBudget>,
) -> (
    std::sync::mpsc::Receiver<EncodedImage>,
    tokio::task::JoinHandle<()>,
) {
    let ahead = (extractor.threads() * extractor.batch() * 2).max(concurrency.min(64));
    let (tx, rx) = std::sync::mpsc::sync_channel::<EncodedImage>(ahead);
    let fetcher = crate::blocking::runtime().spawn(async move {
        // Memory is held in the images' order (a later image never takes what an earlier one
        // waits for), before each read; the worker that decodes the image releases it.
        let fetches = futures::stream::iter(images.into_iter().enumerate())
            .then(move |(index, img)| {
                let budget = budget.clone();
                async move {
                    let size = match img.size {
                        Some(size) => size,
                        None => img.location.size(&img.name).await.unwrap_or(0),
                    };
                    let held = tokio::task::spawn_blocking(move || budget.reserve(size))
                        .await
                        .ok();
                    (index, img, held)
                }
            })
            .map(|(index, img, held)| async move {
                let mut encoded = img.fetch(index).await;
                encoded.held = held;
                encoded
            })
            .buffered(concurrency.max(1));
        let mut fetches = std::pin::pin!(fetches);
        while let Some(item) = fetches.next().await {
            let tx = tx.clone();
            // The channel is bounded: wait on a blocking thread, not on the runtime.
            let sent = tokio::task::spawn_blocking(move || tx.send(item).is_ok())
                .await
                .unwrap_or(false);
            if !sent {
                break;
            }
        }
    });
    (rx, fetcher)
}

/// Extracts `mine` on this process: objects fetched ahead (bounded), features written as
/// they come (bounded puts in flight). Returns the run summary, the features written (by
/// output name) and the first write error, if any.
fn run_local<F: FeatureSource>(
    cfg: &ExtractConfig<F>,
    extractor: &Extractor,
    out: &Location,
    mine: &[&ImageRef],
    memory: &ImageMemory,
    progress: &(dyn Fn(ExtractProgress) + Sync),
) -> (RunSummary, HashMap<String, Vec<f32>>, Option<AppError>) {
    let runtime = crate::blocking::runtime();
    let owned: Vec<ImageRef> = mine.iter().map(|i| (*i).clone()).collect();
    let concurrency = cfg.store.concurrency.max(1);
    let (rx, fetcher) = fetch_ahead(owned, extractor, concurrency, memory.encoded.clone());
    let mut written = HashMap::new();
    let mut pending = std::collections::VecDeque::new();
    let mut write_error: Option<AppError> = None;
    let summary = extractor.run_source(mine.len(), rx.into_iter(), |outcome| {
        let image = &mine[outcome.index];
        match outcome.result {
            Ok(features) => {
                let name = image.output_name();
                let body = feature_json::to_json(&features);
                let out = out.clone();
                let n = name.clone();
                pending.push_back(runtime.spawn(async move { out.put(&n, body).await }));
                written.insert(name, features);
                while pending.len() > concurrency {
                    let first = pending.pop_front().expect("non-empty");
                    if let Err(e) = flatten(crate::blocking::block_on(first)) {
                        write_error.get_or_insert(e);
                    }
                }
                progress(ExtractProgress::Image {
                    image: image.describe(),
                    error: None,
                });
            }
            Err(e) => {
                progress(ExtractProgress::Image {
                    image: image.describe(),
                    error: Some(e.to_string()),
                });
                if cfg.fail_fast {
                    return ControlFlow::Break(());
                }
            }
        }
        if write_error.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    fetcher.abort();
    for p in pending {
        if let Err(e) = flatten(crate::blocking::block_on(p)) {
            write_error.get_or_insert(e);
        }
    }
    (summary, written, write_error)
}

fn flatten(
    joined: Result<Result<(), catclass_store::StoreError>, tokio::task::JoinError>,
) -> Result<(), AppError> {
    match joined {
        Ok(r) => r.map_err(AppError::from),
        Err(e) => Err(ExtractFailure::WriteTask {
            reason: e.to_string(),
        }
        .into()),
    }
}

/// Where a catalog's rows come from (`json` or `shard <file>`) and what produced them: the
/// shard's record, else the folder's [`MANIFEST_FILE`] (when readable), else unknown.
pub fn feature_provenance(
    catalog: &catclass_store::FeatureCatalog,
) -> (Option<String>, Option<FeatureModel>) {
    let model = catalog.feature_model().cloned().or_else(|| {
        crate::blocking::block_on(catclass_store::documents::read_json::<Manifest>(
            catalog.location(),
            MANIFEST_FILE,
        ))
        .ok()
        .map(|m| m.feature_model)
    });
    (Some(catalog.source_name()), model)
}
