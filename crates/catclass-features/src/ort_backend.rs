//! The onnxruntime backend: the same ONNX networks run by Microsoft's onnxruntime through the
//! `ort` crate, the shared library loaded at run time.
//!
//! Nothing of onnxruntime is linked or downloaded at build time. The library (`libonnxruntime.so`,
//! `libonnxruntime.dylib`, `onnxruntime.dll`; version 1.22 or later) is opened when the first
//! backend is loaded: the path given with [`OrtBuilder::with_library`], else the one in
//! [`ORT_DYLIB_VAR`] (`ORT_DYLIB_PATH`). `pip install onnxruntime` ships one as
//! `onnxruntime/capi/libonnxruntime.so.<version>` in its site-packages folder.
//!
//! Process-wide state: ort allows one loaded library and one environment per process. The
//! first backend loaded opens the library and creates the environment (telemetry off); both
//! are kept (in a private static of this module) until the process exits and shared by every
//! later backend. A later backend naming another library file is refused with
//! [`BackendError::OrtLibrary`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::PrepackedWeights;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::backend::{BackendError, FeatureBackend, InputSpec, OutputSpec, checked_extract};
use crate::model::ModelSource;
use crate::onnx_proto;
use crate::preprocess::Layout;

/// The environment variable naming the onnxruntime library when no path is given
/// ([`OrtBuilder::with_library`]).
pub const ORT_DYLIB_VAR: &str = "ORT_DYLIB_PATH";

/// The library loaded in this process and ort's environment.
struct Runtime {
    library: PathBuf,
    environment: Environment,
}

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

fn same_file(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    a == b || canonical(a) == canonical(b)
}

/// The environment of the library at `library`, loading it (once per process) if needed.
fn runtime(library: &Path) -> Result<Environment, BackendError> {
    let refused = |reason: String| BackendError::OrtLibrary {
        path: library.display().to_string(),
        reason,
    };
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = slot.as_ref() {
        return if same_file(&rt.library, library) {
            Ok(rt.environment.clone())
        } else {
            Err(refused(format!(
                "onnxruntime is already loaded from {} in this process (one library per process)",
                rt.library.display()
            )))
        };
    }
    // A bare file name is searched for by the system's loader; a path must exist.
    if library.components().count() > 1 {
        match std::fs::metadata(library) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(refused("not a file".into())),
            Err(e) => return Err(refused(e.to_string())),
        }
    }
    let environment = ort::init_from(library)
        .map_err(|e| refused(e.to_string()))?
        .with_name("catclass")
        .with_telemetry(false)
        .build()
        .map_err(|e| refused(e.to_string()))?;
    *slot = Some(Runtime {
        library: library.to_path_buf(),
        environment: environment.clone(),
    });
    Ok(environment)
}

/// How an [`OrtBackend`] is loaded: which onnxruntime library, how many threads.
///
/// ```no_run
/// use catclass_features::{ModelSource, OrtBackend, DEFAULT_LAYER};
/// let backend = OrtBackend::builder()
///     .with_library("/opt/onnxruntime/lib/libonnxruntime.so.1.22.0")
///     .with_threads(2)
///     .load(&ModelSource::Default, Some(DEFAULT_LAYER))?;
/// # Ok::<(), catclass_features::BackendError>(())
/// ```
#[derive(Clone, Debug)]
pub struct OrtBuilder {
    library: Option<PathBuf>,
    threads: usize,
}

impl Default for OrtBuilder {
    fn default() -> Self {
        OrtBuilder {
            library: None,
            threads: 1,
        }
    }
}

impl OrtBuilder {
    /// The onnxruntime library file to load (by default the path in [`ORT_DYLIB_VAR`]).
    pub fn with_library(mut self, path: impl Into<PathBuf>) -> Self {
        self.library = Some(path.into());
        self
    }

    /// Threads one network call uses (onnxruntime's intra-op threads; at least 1, the
    /// default, like `TractBackend`: [`crate::Extractor`] runs one call per worker).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The library to load: the one given, else `$ORT_DYLIB_PATH`.
    fn library(&self) -> Result<PathBuf, BackendError> {
        if let Some(p) = &self.library {
            return Ok(p.clone());
        }
        std::env::var_os(ORT_DYLIB_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or(BackendError::OrtLibraryUnset)
    }

    /// Loads `source` and takes its features at `layer` (the model's first output when
    /// `None`), with the rules of `TractBackend::load`.
    pub fn load(
        &self,
        source: &ModelSource,
        layer: Option<&str>,
    ) -> Result<OrtBackend, BackendError> {
        let bytes = source.bytes()?;
        self.from_bytes(&bytes, &source.to_string(), layer)
    }

    /// Like [`Self::load`], from ONNX bytes; `model_name` names the model in errors.
    pub fn from_bytes(
        &self,
        bytes: &[u8],
        model_name: &str,
        layer: Option<&str>,
    ) -> Result<OrtBackend, BackendError> {
        let model_err = |message: String| BackendError::Model {
            model: model_name.to_owned(),
            message,
        };
        let not_onnx = |why: String| model_err(format!("not an ONNX network ({why})"));
        // The output is chosen on the graph before onnxruntime sees it, so that it computes
        // only what the features need.
        let names = onnx_proto::graph_names(bytes).map_err(not_onnx)?;
        let tensor = match layer {
            Some(layer) => crate::layer::resolve_layer(&names.nodes, layer).ok_or_else(|| {
                BackendError::UnknownLayer {
                    model: model_name.to_owned(),
                    layer: layer.to_owned(),
                    candidates: candidates(&names),
                }
            })?,
            None => names
                .outputs
                .first()
                .map(|o| (*o).to_owned())
                .ok_or_else(|| model_err("the model has no output".into()))?,
        };
        let onnx = onnx_proto::with_only_output(bytes, &tensor).map_err(not_onnx)?;
        let library = self.library()?;
        let environment = runtime(&library)?;
        let mut backend = OrtBackend {
            model_name: model_name.to_owned(),
            library,
            environment,
            prepacked: PrepackedWeights::new(),
            onnx,
            threads: self.threads,
            input: InputSpec {
                name: String::new(),
                layout: Layout::Nchw,
                height: 0,
                width: 0,
                channels: 3,
            },
            output: OutputSpec {
                name: layer.map_or_else(|| tensor.clone(), str::to_owned),
                dim: 0,
            },
            chunk: usize::MAX,
            sessions: Mutex::new(Vec::new()),
        };
        let mut session = backend.session()?;
        let (input, chunk) = read_input(&session, model_name)?;
        backend.input = input;
        backend.chunk = chunk;
        backend.output.dim = match output_dim(&session, model_name, &tensor)? {
            Some(dim) => dim,
            // The shape depends on the input: one image of zeros says it.
            None => {
                let zeros = vec![0f32; backend.input.len()];
                backend.run(&mut session, &zeros, 1)?.len()
            }
        };
        backend.put_back(session);
        Ok(backend)
    }
}

/// An ONNX network run by onnxruntime (cargo feature `ort`): the same input, layer rules and
/// features as `TractBackend` on the same file (equal within float rounding), on
/// onnxruntime's CPU kernels.
///
/// onnxruntime is loaded at run time (see [`OrtBuilder`] and the module docs). Each call runs on
/// [`Self::threads`] threads; calls from several threads run concurrently, each on its own
/// onnxruntime session (created on first need and kept; the weights' prepacked forms are
/// shared between them).
///
/// ```no_run
/// use catclass_features::{FeatureBackend, ModelSource, OrtBackend, DEFAULT_LAYER};
///
/// // The library comes from $ORT_DYLIB_PATH, e.g. `.../site-packages/onnxruntime/capi/
/// // libonnxruntime.so.1.22.0` after `pip install onnxruntime`.
/// let backend = OrtBackend::load(&ModelSource::Default, Some(DEFAULT_LAYER))?;
/// assert_eq!(backend.output().dim, 1280);
/// let two_images = vec![0.0; 2 * backend.input().len()];
/// assert_eq!(backend.extract(&two_images, 2)?.len(), 2 * 1280);
/// # Ok::<(), catclass_features::BackendError>(())
/// ```
pub struct OrtBackend {
    model_name: String,
    library: PathBuf,
    environment: Environment,
    prepacked: PrepackedWeights,
    /// The network, its graph's only output the features.
    onnx: Vec<u8>,
    threads: usize,
    input: InputSpec,
    output: OutputSpec,
    /// The most images one call takes (1 for a network whose batch axis is fixed at 1).
    chunk: usize,
    /// Sessions not in use.
    sessions: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for OrtBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtBackend")
            .field("model", &self.model_name)
            .field("library", &self.library)
            .field("threads", &self.threads)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl OrtBackend {
    /// The options, to set the library or the threads before loading.
    pub fn builder() -> OrtBuilder {
        OrtBuilder::default()
    }

    /// Loads `source` with the default options (the library in `$ORT_DYLIB_PATH`, one thread):
    /// see [`OrtBuilder::load`].
    pub fn load(source: &ModelSource, layer: Option<&str>) -> Result<Self, BackendError> {
        OrtBuilder::default().load(source, layer)
    }

    /// Like [`Self::load`], from ONNX bytes; `model_name` names the model in errors.
    pub fn from_bytes(
        bytes: &[u8],
        model_name: &str,
        layer: Option<&str>,
    ) -> Result<Self, BackendError> {
        OrtBuilder::default().from_bytes(bytes, model_name, layer)
    }

    /// The onnxruntime library file this backend runs on.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Threads one network call uses.
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn session(&self) -> Result<Session, BackendError> {
        let err = |e: &dyn std::fmt::Display| BackendError::Model {
            model: self.model_name.clone(),
            message: e.to_string(),
        };
        Session::builder(&self.environment)
            .map_err(|e| err(&e))?
            .with_intra_threads(self.threads)
            .map_err(|e| err(&e))?
            .with_prepacked_weights(&self.prepacked)
            .map_err(|e| err(&e))?
            .commit_from_memory(&self.onnx)
            .map_err(|e| err(&e))
    }

    /// A session not in use, created if there is none.
    fn take(&self) -> Result<Session, BackendError> {
        let idle = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match idle {
            Some(s) => Ok(s),
            None => self.session(),
        }
    }

    fn put_back(&self, session: Session) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
    }

    /// Creates the sessions that `workers` concurrent calls use now rather than on first use
    /// (so that a first batch's timing does not include them).
    pub fn prepare(&self, workers: usize) -> Result<(), BackendError> {
        let mut sessions = Vec::new();
        for _ in 0..workers {
            sessions.push(self.take()?);
        }
        for s in sessions {
            self.put_back(s);
        }
        Ok(())
    }

    /// Runs `images` images (at most [`Self::chunk`]) through `session`.
    fn run(
        &self,
        session: &mut Session,
        batch: &[f32],
        images: usize,
    ) -> Result<Vec<f32>, BackendError> {
        let (h, w, c) = (self.input.height, self.input.width, self.input.channels);
        let shape = match self.input.layout {
            Layout::Nchw => [images, c, h, w],
            Layout::Nhwc => [images, h, w, c],
        };
        let run = |e: ort::Error| BackendError::Run(e.to_string());
        let tensor = TensorRef::from_array_view((shape, batch)).map_err(run)?;
        let outputs = session
            .run(ort::inputs![self.input.name.as_str() => tensor])
            .map_err(run)?;
        let (_, features) = outputs[0].try_extract_tensor::<f32>().map_err(run)?;
        Ok(features.to_vec())
    }
}

/// The input of `session`, and the most images one call takes.
fn read_input(session: &Session, model_name: &str) -> Result<(InputSpec, usize), BackendError> {
    let inputs = session.inputs();
    if inputs.len() != 1 {
        return Err(BackendError::Model {
            model: model_name.to_owned(),
            message: format!("expected one input, found {}", inputs.len()),
        });
    }
    let input = &inputs[0];
    let dims: Vec<Option<usize>> = input
        .dtype()
        .tensor_shape()
        .map(|s| s.iter().map(|&d| usize::try_from(d).ok()).collect())
        .unwrap_or_default();
    let bad = |why: &str| BackendError::Model {
        model: model_name.to_owned(),
        message: format!("input {why}: shape {dims:?} (need [N, 3, H, W] or [N, H, W, 3])"),
    };
    if input.dtype().tensor_type() != Some(TensorElementType::Float32) {
        return Err(bad("is not float32"));
    }
    if dims.len() != 4 {
        return Err(bad("is not an image batch"));
    }
    let (layout, h, w) = match (dims[1], dims[3]) {
        (Some(3), _) => (Layout::Nchw, dims[2], dims[3]),
        (_, Some(3)) => (Layout::Nhwc, dims[1], dims[2]),
        _ => return Err(bad("has no 3-channel axis")),
    };
    let (Some(height), Some(width)) = (h, w) else {
        return Err(bad("has no fixed height and width"));
    };
    let chunk = match dims[0] {
        None => usize::MAX,
        Some(1) => 1,
        Some(_) => return Err(bad("has a fixed batch size other than 1")),
    };
    let spec = InputSpec {
        name: input.name().to_owned(),
        layout,
        height,
        width,
        channels: 3,
    };
    Ok((spec, chunk))
}

/// Floats per image of the session's output, when its shape says it.
fn output_dim(
    session: &Session,
    model_name: &str,
    tensor: &str,
) -> Result<Option<usize>, BackendError> {
    let bad = |message: String| BackendError::Model {
        model: model_name.to_owned(),
        message,
    };
    let output = session
        .outputs()
        .first()
        .ok_or_else(|| bad("the model has no output".into()))?;
    match output.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            if *ty != TensorElementType::Float32 {
                return Err(bad(format!("output {tensor} is {ty:?}, expected f32")));
            }
            let rest: Option<Vec<usize>> = shape
                .iter()
                .skip(1)
                .map(|&d| usize::try_from(d).ok())
                .collect();
            Ok(rest
                .filter(|_| !shape.is_empty())
                .map(|r| r.iter().product()))
        }
        other => Err(bad(format!(
            "output {tensor} is {other:?}, expected a tensor"
        ))),
    }
}

/// A few tensor names of the graph, to help with an unknown layer.
fn candidates(names: &onnx_proto::GraphNames<'_>) -> String {
    let mut out: Vec<&str> = names.outputs.clone();
    for n in names.nodes.iter().rev() {
        if out.len() >= 12 {
            break;
        }
        let name = if n.name.is_empty() {
            n.outputs.first().copied().unwrap_or_default()
        } else {
            n.name
        };
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out.join(", ")
}

impl FeatureBackend for OrtBackend {
    fn name(&self) -> &'static str {
        "ort"
    }

    fn input(&self) -> &InputSpec {
        &self.input
    }

    fn output(&self) -> &OutputSpec {
        &self.output
    }

    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        let per = self.input.len();
        checked_extract(&self.input, &self.output, batch, images, || {
            let mut session = self.take()?;
            let mut v = Vec::with_capacity(images * self.output.dim);
            let result = batch
                .chunks(self.chunk.saturating_mul(per).max(per))
                .try_for_each(|chunk| {
                    v.extend(self.run(&mut session, chunk, chunk.len() / per)?);
                    Ok(())
                });
            self.put_back(session);
            result.map(|()| v)
        })
    }
}
