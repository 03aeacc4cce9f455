//! The tract backend: any ONNX CNN, features read at a node chosen by name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::backend::{BackendError, FeatureBackend, InputSpec, OutputSpec, checked_extract};
use crate::layer::in_scope;
use crate::model::ModelSource;
use crate::preprocess::Layout;
use catclass_tract_kernels::{TuneOptions, Tuning, tune_with};

type Plan = Arc<TypedRunnableModel>;

/// One optimised plan and what the rewrites changed in it (`None`: untuned).
type Built = (Plan, Option<Tuning>);

/// An ONNX network run by tract (pure Rust, CPU, one thread per call).
///
/// A batch is run as chunks of at most [`Self::plan_batch`] images (1 by default: on
/// EfficientNet-Lite0 tract runs 8 single images about twice as fast as one batch of 8, see
/// `benches/stages.rs`). One optimised plan is built per chunk size on first use and cached;
/// calls from several threads run concurrently.
///
/// Before tract optimises a plan, catclass's rewrites (crate `catclass-tract-kernels`) replace
/// some of its convolutions by faster kernels: see [`Self::with_tuning`] and
/// [`Self::with_tuning_options`].
pub struct TractBackend {
    model_name: String,
    model: InferenceModel,
    input: InputSpec,
    output: OutputSpec,
    plans: Mutex<HashMap<usize, Built>>,
    plan_batch: usize,
    tuning: Option<TuneOptions>,
}

impl std::fmt::Debug for TractBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractBackend")
            .field("model", &self.model_name)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

fn model_err(model: &str) -> impl Fn(TractError) -> BackendError + '_ {
    move |e| BackendError::Model {
        model: model.to_owned(),
        message: format!("{e:#}"),
    }
}

impl TractBackend {
    /// Loads `source` and takes its features at `layer` (the model's first output when `None`).
    ///
    /// `layer` is, in this order of preference: an ONNX tensor name (`logits`,
    /// `vgg16/fc2/Relu:0`); or a layer name (`fc2`), meaning the last node whose name is that
    /// name or has it as a `/`-separated part (for a Keras export, the layer's activation).
    pub fn load(source: &ModelSource, layer: Option<&str>) -> Result<Self, BackendError> {
        let bytes = source.bytes()?;
        Self::from_bytes(&bytes, &source.to_string(), layer)
    }

    /// Like [`Self::load`], from ONNX bytes; `model_name` names the model in errors.
    pub fn from_bytes(
        bytes: &[u8],
        model_name: &str,
        layer: Option<&str>,
    ) -> Result<Self, BackendError> {
        // A network file is data from elsewhere: whatever tract makes of a damaged or hostile
        // one (its parser and analyses assume well-formed graphs in places) is an error
        // naming the file, never a panic through this API.
        crate::caught::catch(|| Self::from_bytes_unguarded(bytes, model_name, layer))
            .unwrap_or_else(|why| {
                Err(BackendError::Model {
                    model: model_name.to_owned(),
                    message: format!("not a network tract can read (it failed: {why})"),
                })
            })
    }

    fn from_bytes_unguarded(
        bytes: &[u8],
        model_name: &str,
        layer: Option<&str>,
    ) -> Result<Self, BackendError> {
        let err = model_err(model_name);
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut &*bytes)
            .map_err(&err)?;
        if model.inputs.len() != 1 {
            return Err(BackendError::Model {
                model: model_name.to_owned(),
                message: format!("expected one input, found {}", model.inputs.len()),
            });
        }
        let input = read_input(&model, model_name)?;
        let output_name = match layer {
            Some(layer) => {
                let outlet =
                    resolve_layer(&model, layer).ok_or_else(|| BackendError::UnknownLayer {
                        model: model_name.to_owned(),
                        layer: layer.to_owned(),
                        candidates: candidates(&model),
                    })?;
                model.select_output_outlets(&[outlet]).map_err(&err)?;
                layer.to_owned()
            }
            None => {
                let outlet = *model
                    .output_outlets()
                    .map_err(&err)?
                    .first()
                    .ok_or_else(|| BackendError::Model {
                        model: model_name.to_owned(),
                        message: "the model has no output".into(),
                    })?;
                model.select_output_outlets(&[outlet]).map_err(&err)?;
                outlet_name(&model, outlet)
            }
        };
        // Shape analysis at batch 1 gives the feature length.
        let typed = model
            .clone()
            .with_input_fact(0, input_fact(&input, 1))
            .and_then(|m| m.into_typed())
            .map_err(&err)?;
        let fact = typed.output_fact(0).map_err(&err)?;
        let shape = fact
            .shape
            .as_concrete()
            .ok_or_else(|| BackendError::Model {
                model: model_name.to_owned(),
                message: format!("output {output_name} has no fixed shape ({:?})", fact.shape),
            })?;
        if fact.datum_type != f32::datum_type() || shape.first() != Some(&1) {
            return Err(BackendError::Model {
                model: model_name.to_owned(),
                message: format!(
                    "output {output_name} is {:?} {shape:?}, expected f32 [1, ...] at batch 1",
                    fact.datum_type
                ),
            });
        }
        let dim = shape[1..].iter().product();
        Ok(Self {
            model_name: model_name.to_owned(),
            model,
            input,
            output: OutputSpec {
                name: output_name,
                dim,
            },
            plans: Mutex::new(HashMap::new()),
            plan_batch: 1,
            tuning: Some(TuneOptions::default()),
        })
    }

    fn plan(&self, batch: usize) -> Result<Plan, BackendError> {
        self.built(batch).map(|(plan, _)| plan)
    }

    /// The plan for `batch` images, built on first use, and its tuning report.
    fn built(&self, batch: usize) -> Result<Built, BackendError> {
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = plans.get(&batch) {
            return Ok(b.clone());
        }
        let mut report = None;
        let plan = self
            .model
            .clone()
            .with_input_fact(0, input_fact(&self.input, batch))
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_decluttered())
            .and_then(|mut m| {
                if let Some(options) = &self.tuning {
                    report = Some(tune_with(&mut m, options)?);
                }
                m.into_optimized()
            })
            .and_then(|m| m.into_runnable())
            .map_err(model_err(&self.model_name))?;
        plans.insert(batch, (plan.clone(), report));
        Ok((plan, report))
    }

    /// Runs batches as chunks of at most `images` images through one plan each (at least 1;
    /// the default is 1). Larger chunks trade tract's per-image speed for fewer calls.
    pub fn with_plan_batch(mut self, images: usize) -> Self {
        self.plan_batch = images.max(1);
        self
    }

    /// Whether plans get catclass's rewrites ([`catclass_tract_kernels::tune`]: a faster
    /// depthwise and few-channel convolution, Winograd for 3x3 convolutions, im2col for thick
    /// convolutions), the default, or are tract's own. Features are equal within float rounding
    /// either way. `true` means the default [`TuneOptions`]. Plans already built are dropped.
    pub fn with_tuning(self, on: bool) -> Self {
        self.set_tuning(on.then(TuneOptions::default))
    }

    /// Plans get the rewrites that `options` selects ([`catclass_tract_kernels::tune_with`]):
    /// for example
    /// `TuneOptions { winograd: WinogradChoice::Off, ..TuneOptions::default() }` keeps tract's
    /// own 3x3 convolutions. [`Self::with_tuning`]`(true)` is
    /// `with_tuning_options(TuneOptions::default())`. Features are equal within float rounding
    /// whatever the options. Plans already built are dropped.
    ///
    /// The options type is [`catclass_tract_kernels::TuneOptions`] (depend on
    /// `catclass-tract-kernels` beside `catclass-features` to name it).
    pub fn with_tuning_options(self, options: TuneOptions) -> Self {
        self.set_tuning(Some(options))
    }

    fn set_tuning(mut self, tuning: Option<TuneOptions>) -> Self {
        self.tuning = tuning;
        self.plans = Mutex::new(HashMap::new());
        self
    }

    /// The rewrites plans get (`None`: tract's own plans; see [`Self::with_tuning_options`]).
    pub fn tuning_options(&self) -> Option<TuneOptions> {
        self.tuning
    }

    /// What the rewrites changed in the plan that runs `images` images at once (built now if it
    /// was not yet): how many convolutions each rewrite took; `None` when plans are untuned.
    pub fn tuning_report(&self, images: usize) -> Result<Option<Tuning>, BackendError> {
        self.built(images.max(1)).map(|(_, report)| report)
    }

    /// The most images one plan runs at once (see [`Self::with_plan_batch`]).
    pub fn plan_batch(&self) -> usize {
        self.plan_batch
    }

    /// Builds the optimised plans that a batch of `batch` images uses now rather than on
    /// first use (so that a first batch's timing does not include them).
    pub fn prepare(&self, batch: usize) -> Result<(), BackendError> {
        if batch == 0 {
            return Ok(());
        }
        self.plan(batch.min(self.plan_batch))?;
        match batch % self.plan_batch {
            0 => Ok(()),
            rest => self.plan(rest).map(|_| ()),
        }
    }

    /// Runs `images` images (at most [`Self::plan_batch`]) through one plan.
    fn run_chunk(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        let plan = self.plan(images)?;
        let shape = match self.input.layout {
            Layout::Nchw => [images, 3, self.input.height, self.input.width],
            Layout::Nhwc => [images, self.input.height, self.input.width, 3],
        };
        let run = |e: TractError| BackendError::Run(format!("{e:#}"));
        let tensor = Tensor::from_shape(&shape, batch).map_err(run)?;
        let out = plan.run(tvec![tensor.into()]).map_err(run)?;
        let view = out[0].to_plain_array_view::<f32>().map_err(run)?;
        Ok(view.iter().copied().collect())
    }
}

fn input_fact(input: &InputSpec, batch: usize) -> InferenceFact {
    let shape = match input.layout {
        Layout::Nchw => tvec![batch, input.channels, input.height, input.width],
        Layout::Nhwc => tvec![batch, input.height, input.width, input.channels],
    };
    InferenceFact::dt_shape(f32::datum_type(), shape)
}

fn read_input(model: &InferenceModel, model_name: &str) -> Result<InputSpec, BackendError> {
    let fact = model.input_fact(0).map_err(model_err(model_name))?;
    let dims: Vec<Option<usize>> = fact
        .shape
        .dims()
        .map(|d| {
            d.concretize()
                .and_then(|d| d.to_i64().ok())
                .and_then(|v| usize::try_from(v).ok())
        })
        .collect();
    let bad = |why: &str| BackendError::Model {
        model: model_name.to_owned(),
        message: format!("input {why}: shape {dims:?} (need [N, 3, H, W] or [N, H, W, 3])"),
    };
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
    let name = model.node(model.inputs[0].node).name.clone();
    Ok(InputSpec {
        name,
        layout,
        height,
        width,
        channels: 3,
    })
}

fn outlet_name(model: &InferenceModel, outlet: OutletId) -> String {
    model
        .outlet_label(outlet)
        .map(str::to_owned)
        .unwrap_or_else(|| model.node(outlet.node).name.clone())
}

fn resolve_layer(model: &InferenceModel, layer: &str) -> Option<OutletId> {
    // 1. An exact tensor name.
    let mut exact: Vec<OutletId> = model
        .outlet_labels
        .iter()
        .filter(|(_, l)| l.as_str() == layer)
        .map(|(o, _)| *o)
        .collect();
    exact.sort();
    if let Some(o) = exact.first() {
        return Some(*o);
    }
    // 2. A layer scope: the last node (in graph order) in it.
    model
        .nodes()
        .iter()
        .filter(|n| !n.outputs.is_empty())
        .filter(|n| {
            in_scope(&n.name, layer)
                || (0..n.outputs.len()).any(|ix| {
                    model
                        .outlet_label(OutletId::new(n.id, ix))
                        .is_some_and(|l| in_scope(l, layer))
                })
        })
        .map(|n| n.id)
        .max()
        .map(|id| OutletId::new(id, 0))
}

fn candidates(model: &InferenceModel) -> String {
    let mut names: Vec<String> = model
        .output_outlets()
        .map(|o| o.iter().map(|&o| outlet_name(model, o)).collect())
        .unwrap_or_default();
    for n in model.nodes().iter().rev() {
        if names.len() >= 12 {
            break;
        }
        if !n.name.is_empty() && !names.contains(&n.name) && !n.outputs.is_empty() {
            names.push(n.name.clone());
        }
    }
    names.join(", ")
}

impl FeatureBackend for TractBackend {
    fn name(&self) -> &'static str {
        "tract"
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
            let mut v = Vec::with_capacity(images * self.output.dim);
            for chunk in batch.chunks(self.plan_batch * per) {
                v.extend(self.run_chunk(chunk, chunk.len() / per)?);
            }
            Ok(v)
        })
    }
}
