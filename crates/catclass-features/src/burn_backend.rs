//! The burn backend: the same ONNX CNNs run natively in burn, weights read at run time.
//!
//! The network is rebuilt from the ONNX graph as a list of burn operations over the operator
//! set that the supported architectures use (the EfficientNet-Lite family, VGG-style Keras
//! exports): `Conv`, `Clip`, `Relu`, `Add`, `GlobalAveragePool`, `Flatten`, `Gemm`, `MatMul`,
//! `Transpose`, `Reshape`, `MaxPool`, `Softmax`. Weights are the ONNX initializers, loaded when
//! the model is. Another operator (or an unsupported attribute value) is refused at load time
//! with [`BackendError::UnsupportedOperator`], naming the node and the operator.
//!
//! Only the nodes that the chosen layer depends on are kept. The layer is resolved with the
//! same rules as [`crate::TractBackend`]. Runs on burn's pure-Rust CPU backend (`flex`, SIMD
//! and rayon on); [`BurnBackend::with_device`] takes any burn device (GPU ones need the cargo
//! features `burn-wgpu` or `burn-cuda`).

use std::collections::{HashMap, HashSet};

use burn_tensor::activation::{relu, softmax};
use burn_tensor::module::{conv2d, max_pool2d};
use burn_tensor::ops::{ConvOptions, MaxPoolOptions};
use burn_tensor::{Device, Tensor, TensorData};
use tract_onnx::data_resolver::FopenDataResolver;
use tract_onnx::pb::{self, NodeProto};
use tract_onnx::prelude::{Framework, TractError};

use crate::backend::{BackendError, FeatureBackend, InputSpec, OutputSpec, checked_extract};
use crate::layer::NodeNames;
use crate::model::ModelSource;
use crate::preprocess::Layout;

/// The operators [`BurnBackend`] runs.
const SUPPORTED: &[&str] = &[
    "Conv",
    "Clip",
    "Relu",
    "Add",
    "GlobalAveragePool",
    "Flatten",
    "Gemm",
    "MatMul",
    "Transpose",
    "Reshape",
    "MaxPool",
    "Softmax",
];

/// An activation during a run.
#[derive(Clone)]
enum Value {
    D4(Tensor<4>),
    D2(Tensor<2>),
}

/// A second operand of `Add`: another activation or a constant.
enum Operand {
    Activation(String),
    Const4(Tensor<4>),
    Const2(Tensor<2>),
}

enum Op {
    Conv {
        w: Tensor<4>,
        b: Option<Tensor<1>>,
        opts: ConvOptions<2>,
    },
    Clip(f32, f32),
    Relu,
    Add(Operand),
    GlobalAveragePool,
    Flatten,
    /// `x @ w + b` (Gemm with alpha, beta and transB folded into `w` and `b`; MatMul).
    Dense {
        w: Tensor<2>,
        b: Option<Tensor<2>>,
    },
    Transpose4([usize; 4]),
    Transpose2,
    Reshape2(Vec<i64>),
    MaxPool(MaxPoolOptions<2>),
    Softmax(usize),
}

/// One node of the rebuilt graph.
struct Step {
    /// The ONNX node's name (or its first output when it has none), for errors.
    name: String,
    /// The activation it reads.
    input: String,
    /// The activation it writes.
    output: String,
    op: Op,
    /// Activations read for the last time by this step: dropped after it, so that memory
    /// stays bounded and burn can work in place.
    last_uses: Vec<String>,
}

/// An ONNX CNN run natively in burn (see the module docs): the same inputs and features as
/// [`crate::TractBackend`] on the same file, computed by burn's kernels.
pub struct BurnBackend {
    device: Device,
    input_name: String,
    steps: Vec<Step>,
    target: String,
    input: InputSpec,
    output: OutputSpec,
}

impl std::fmt::Debug for BurnBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BurnBackend")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("steps", &self.steps.len())
            .finish_non_exhaustive()
    }
}

/// A constant of the graph (initializer or `Constant` node), as floats and ints.
struct Const {
    shape: Vec<usize>,
    f: Vec<f32>,
    i: Vec<i64>,
}

fn load_const(t: &pb::TensorProto) -> Result<Const, TractError> {
    let t = tract_onnx::tensor::load_tensor(&FopenDataResolver, t, None)?;
    let shape = t.shape().to_vec();
    let f: Vec<f32> = t
        .cast_to::<f32>()?
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect();
    let i: Vec<i64> = t
        .cast_to::<i64>()
        .ok()
        .and_then(|c| {
            c.to_plain_array_view::<i64>()
                .ok()
                .map(|v| v.iter().copied().collect())
        })
        .unwrap_or_default();
    Ok(Const { shape, f, i })
}

/// The tensor `layer` names (the rule of [`crate::layer`]).
fn resolve_layer(graph: &pb::GraphProto, layer: &str) -> Option<String> {
    let nodes: Vec<NodeNames<'_>> = graph
        .node
        .iter()
        .map(|n| NodeNames {
            name: &n.name,
            outputs: n.output.iter().map(String::as_str).collect(),
        })
        .collect();
    crate::layer::resolve_layer(&nodes, layer)
}

/// A failure to rebuild one node.
enum BuildError {
    /// An attribute value or input form this backend does not run.
    Unsupported(String),
    /// A malformed node.
    Bad(String),
}

impl From<String> for BuildError {
    fn from(m: String) -> Self {
        BuildError::Bad(m)
    }
}

impl From<&str> for BuildError {
    fn from(m: &str) -> Self {
        BuildError::Bad(m.to_owned())
    }
}

fn node_name(n: &NodeProto) -> String {
    if n.name.is_empty() {
        n.output.first().cloned().unwrap_or_default()
    } else {
        n.name.clone()
    }
}

impl BurnBackend {
    /// Loads `source` on burn's CPU backend (`flex`) and takes its features at `layer` (the
    /// first graph output when `None`), resolved as [`crate::TractBackend::load`] does.
    ///
    /// Errors: [`BackendError::UnsupportedOperator`] for an operator outside the supported set
    /// (see the module docs), [`BackendError::UnknownLayer`] for a layer the graph lacks,
    /// [`BackendError::Model`] for a malformed graph (checked by running one blank image).
    pub fn load(source: &ModelSource, layer: Option<&str>) -> Result<Self, BackendError> {
        Self::with_device(source, layer, Device::flex())
    }

    /// Like [`Self::load`], from ONNX bytes already read (and checked) by the caller;
    /// `model_name` names the model in errors.
    pub fn from_onnx(
        bytes: &[u8],
        model_name: &str,
        layer: Option<&str>,
    ) -> Result<Self, BackendError> {
        Self::from_bytes(bytes, model_name, layer, Device::flex())
    }

    /// Like [`Self::load`], on `device` (any burn device, a GPU one included when burn is
    /// built with its backend).
    pub fn with_device(
        source: &ModelSource,
        layer: Option<&str>,
        device: Device,
    ) -> Result<Self, BackendError> {
        let bytes = source.bytes()?;
        Self::from_bytes(&bytes, &source.to_string(), layer, device)
    }

    /// Like [`Self::with_device`], from ONNX bytes; `model_name` names the model in errors.
    pub fn from_bytes(
        bytes: &[u8],
        model_name: &str,
        layer: Option<&str>,
        device: Device,
    ) -> Result<Self, BackendError> {
        let name = model_name.to_owned();
        let bad = |message: String| BackendError::Model {
            model: name.clone(),
            message,
        };
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &*bytes)
            .map_err(|e| bad(format!("{e:#}")))?;
        let graph = proto.graph.as_ref().ok_or_else(|| bad("no graph".into()))?;
        let mut consts: HashMap<String, Const> = HashMap::new();
        for t in &graph.initializer {
            let c = load_const(t).map_err(|e| bad(format!("initializer {:?}: {e:#}", t.name)))?;
            consts.insert(t.name.clone(), c);
        }
        for n in graph.node.iter().filter(|n| n.op_type == "Constant") {
            if let (Some(out), Some(t)) = (
                n.output.first(),
                n.attribute.iter().find_map(|a| a.t.as_ref()),
            ) {
                let c = load_const(t).map_err(|e| bad(format!("constant {out:?}: {e:#}")))?;
                consts.insert(out.clone(), c);
            }
        }
        let inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !consts.contains_key(&i.name))
            .collect();
        if inputs.len() != 1 {
            return Err(bad(format!("expected one input, found {}", inputs.len())));
        }
        let input = input_spec(inputs[0]).map_err(&bad)?;
        let target = match layer {
            Some(l) => resolve_layer(graph, l).ok_or_else(|| BackendError::UnknownLayer {
                model: name.clone(),
                layer: l.to_owned(),
                candidates: graph
                    .output
                    .iter()
                    .map(|o| o.name.clone())
                    .chain(
                        graph
                            .node
                            .iter()
                            .rev()
                            .filter(|n| !n.name.is_empty())
                            .take(10)
                            .map(|n| n.name.clone()),
                    )
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
            None => graph
                .output
                .first()
                .map(|o| o.name.clone())
                .ok_or_else(|| bad("the model has no output".into()))?,
        };
        // Keep only the nodes the target depends on.
        let producer: HashMap<&str, &NodeProto> = graph
            .node
            .iter()
            .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
            .collect();
        let mut needed: HashSet<&str> = HashSet::new();
        let mut stack = vec![target.as_str()];
        while let Some(t) = stack.pop() {
            if let Some(n) = producer.get(t)
                && let Some(first) = n.output.first()
                && needed.insert(first.as_str())
            {
                stack.extend(n.input.iter().map(String::as_str).filter(|i| !i.is_empty()));
            }
        }
        let mut steps = Vec::new();
        for n in &graph.node {
            let Some(out) = n.output.first() else {
                continue;
            };
            if n.op_type == "Constant" || !needed.contains(out.as_str()) {
                continue;
            }
            let unsupported = |detail: String| BackendError::UnsupportedOperator {
                model: name.clone(),
                backend: "burn",
                node: node_name(n),
                op: n.op_type.clone(),
                detail,
            };
            if !n.domain.is_empty() && n.domain != "ai.onnx" {
                return Err(unsupported(format!(": operator domain {:?}", n.domain)));
            }
            if !SUPPORTED.contains(&n.op_type.as_str()) {
                return Err(unsupported(format!(
                    " (supported: {}); use the tract backend",
                    SUPPORTED.join(", ")
                )));
            }
            let (x, op) = build_op(n, &consts, &device).map_err(|e| match e {
                BuildError::Unsupported(m) => unsupported(format!(": {m}")),
                BuildError::Bad(m) => bad(format!("node {:?} ({}): {m}", node_name(n), n.op_type)),
            })?;
            steps.push(Step {
                name: node_name(n),
                input: x,
                output: out.clone(),
                op,
                last_uses: Vec::new(),
            });
        }
        // Every activation read must be computed before (graph inputs aside).
        let mut known: HashSet<&str> = HashSet::from([inputs[0].name.as_str()]);
        for s in &steps {
            for r in reads(s) {
                if !known.contains(r) {
                    return Err(bad(format!(
                        "node {:?} reads {r:?}, which no earlier node computes",
                        s.name
                    )));
                }
            }
            known.insert(&s.output);
        }
        if !known.contains(target.as_str()) {
            return Err(bad(format!("{target:?} is not computed by any node")));
        }
        // Drop each activation after its last reader (never the target).
        let mut last: HashMap<String, usize> = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            for r in reads(s) {
                last.insert(r.to_owned(), i);
            }
        }
        for (v, i) in last {
            if v != target {
                steps[i].last_uses.push(v);
            }
        }
        let mut me = Self {
            device,
            input_name: inputs[0].name.clone(),
            steps,
            output: OutputSpec {
                name: layer.map_or_else(|| target.clone(), str::to_owned),
                dim: 0,
            },
            target,
            input,
        };
        // One blank image gives the feature length (and checks that the graph runs).
        let probe = me
            .run(&vec![0.0; me.input.len()], 1)
            .map_err(|e| bad(e.to_string()))?;
        me.output.dim = probe.len();
        Ok(me)
    }

    /// Runs the steps on `n` images; burn's shape checks panic, and a panic becomes an error.
    fn run(&self, batch: &[f32], n: usize) -> Result<Vec<f32>, BackendError> {
        crate::caught::catch(|| self.run_steps(batch, n))
            .unwrap_or_else(|why| Err(BackendError::Run(format!("burn failed: {why}"))))
    }

    fn run_steps(&self, batch: &[f32], n: usize) -> Result<Vec<f32>, BackendError> {
        let i = &self.input;
        let shape = match i.layout {
            Layout::Nchw => [n, 3, i.height, i.width],
            Layout::Nhwc => [n, i.height, i.width, 3],
        };
        let x = Tensor::<4>::from_data(TensorData::new(batch.to_vec(), shape), &self.device);
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(&self.input_name, Value::D4(x));
        for s in &self.steps {
            let x = if s.last_uses.contains(&s.input)
                && !matches!(&s.op, Op::Add(Operand::Activation(o)) if *o == s.input)
            {
                values.remove(s.input.as_str())
            } else {
                values.get(s.input.as_str()).cloned()
            }
            .ok_or_else(|| {
                BackendError::Run(format!("{}: input {} not computed", s.name, s.input))
            })?;
            let y = apply(&s.op, x, &values)
                .map_err(|m| BackendError::Run(format!("{}: {m}", s.name)))?;
            for v in &s.last_uses {
                values.remove(v.as_str());
            }
            values.insert(&s.output, y);
        }
        let out = values
            .remove(self.target.as_str())
            .ok_or_else(|| BackendError::Run(format!("{} not computed", self.target)))?;
        let data = match out {
            Value::D4(t) => t.try_into_data(),
            Value::D2(t) => t.try_into_data(),
        }
        .map_err(|e| BackendError::Run(format!("reading the output: {e:?}")))?;
        data.try_into_vec::<f32>()
            .map_err(|e| BackendError::Run(format!("reading the output: {e:?}")))
    }
}

/// The activations a step reads.
fn reads(s: &Step) -> impl Iterator<Item = &str> {
    let other = match &s.op {
        Op::Add(Operand::Activation(o)) => Some(o.as_str()),
        _ => None,
    };
    std::iter::once(s.input.as_str()).chain(other)
}

fn input_spec(v: &pb::ValueInfoProto) -> Result<InputSpec, String> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    let dims: Vec<Option<usize>> = v
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .and_then(|pb::type_proto::Value::TensorType(t)| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(Dim::DimValue(v)) if v > 0 => usize::try_from(v).ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if dims.len() != 4 {
        return Err(format!(
            "input {:?} is not an image batch: {dims:?}",
            v.name
        ));
    }
    let (layout, h, w) = match (dims[1], dims[3]) {
        (Some(3), _) => (Layout::Nchw, dims[2], dims[3]),
        (_, Some(3)) => (Layout::Nhwc, dims[1], dims[2]),
        _ => return Err(format!("input has no 3-channel axis: {dims:?}")),
    };
    match (h, w) {
        (Some(height), Some(width)) => Ok(InputSpec {
            name: v.name.clone(),
            layout,
            height,
            width,
            channels: 3,
        }),
        _ => Err(format!("input has no fixed height and width: {dims:?}")),
    }
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

fn ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

fn int(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).map(|a| a.i)
}

fn float(n: &NodeProto, name: &str) -> Option<f32> {
    attr(n, name).map(|a| a.f)
}

/// A 2-D attribute of positive values (`strides`, `dilations`, `kernel_shape`).
fn pair(n: &NodeProto, name: &str, default: usize) -> Result<[usize; 2], BuildError> {
    match ints(n, name).as_deref() {
        None => Ok([default; 2]),
        Some(&[a, b]) if a > 0 && b > 0 => Ok([a as usize, b as usize]),
        Some(other) => Err(BuildError::Unsupported(format!("{name} {other:?}"))),
    }
}

fn pads(n: &NodeProto) -> Result<[(usize, usize); 2], BuildError> {
    if let Some(p) = attr(n, "auto_pad")
        && !p.s.is_empty()
        && p.s != b"NOTSET"
        && p.s != b"VALID"
    {
        return Err(BuildError::Unsupported(format!(
            "auto_pad {}",
            String::from_utf8_lossy(&p.s)
        )));
    }
    match ints(n, "pads").as_deref() {
        None => Ok([(0, 0); 2]),
        Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|&v| v >= 0) => {
            Ok([(t as usize, b as usize), (l as usize, r as usize)])
        }
        Some(other) => Err(BuildError::Unsupported(format!("pads {other:?}"))),
    }
}

fn tensor4(c: &Const, device: &Device) -> Result<Tensor<4>, BuildError> {
    let s: [usize; 4] = c
        .shape
        .clone()
        .try_into()
        .map_err(|_| format!("expected a 4-D constant, got shape {:?}", c.shape))?;
    Ok(Tensor::from_data(TensorData::new(c.f.clone(), s), device))
}

fn row(v: Vec<f32>, device: &Device) -> Tensor<2> {
    let len = v.len();
    Tensor::from_data(TensorData::new(v, [1, len]), device)
}

/// Rebuilds node `n`: the activation it reads and its operation.
fn build_op(
    n: &NodeProto,
    consts: &HashMap<String, Const>,
    device: &Device,
) -> Result<(String, Op), BuildError> {
    let c = |i: usize| -> Result<&Const, BuildError> {
        n.input
            .get(i)
            .and_then(|name| consts.get(name))
            .ok_or_else(|| BuildError::Unsupported(format!("input {i} must be a constant")))
    };
    let present = |i: usize| n.input.get(i).is_some_and(|s| !s.is_empty());
    let mut x = n
        .input
        .first()
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or("the node has no input")?;
    let op = match n.op_type.as_str() {
        "Conv" => {
            let w = tensor4(c(1)?, device)?;
            let b = if present(2) {
                let b = &c(2)?.f;
                Some(Tensor::<1>::from_data(
                    TensorData::new(b.clone(), [b.len()]),
                    device,
                ))
            } else {
                None
            };
            let groups = int(n, "group").unwrap_or(1);
            if groups < 1 {
                return Err(format!("group {groups}").into());
            }
            let opts = ConvOptions {
                stride: pair(n, "strides", 1)?,
                padding: pads(n)?,
                dilation: pair(n, "dilations", 1)?,
                groups: groups as usize,
            };
            Op::Conv { w, b, opts }
        }
        "Clip" => {
            let bound = |i: usize, name: &str, default: f32| -> Result<f32, BuildError> {
                if present(i) {
                    Ok(c(i)?.f.first().copied().ok_or("empty Clip bound")?)
                } else {
                    Ok(float(n, name).unwrap_or(default))
                }
            };
            Op::Clip(bound(1, "min", f32::MIN)?, bound(2, "max", f32::MAX)?)
        }
        "Relu" => Op::Relu,
        "Add" => {
            let mut other = n.input.get(1).cloned().ok_or("Add needs two inputs")?;
            // A constant first operand: add is commutative.
            if consts.contains_key(&x) && !consts.contains_key(&other) {
                std::mem::swap(&mut x, &mut other);
            }
            match consts.get(&other) {
                None => Op::Add(Operand::Activation(other)),
                Some(k) if k.shape.len() <= 1 || (k.shape.len() == 2 && k.shape[0] == 1) => {
                    Op::Add(Operand::Const2(row(k.f.clone(), device)))
                }
                Some(k) if k.shape.len() == 4 => Op::Add(Operand::Const4(tensor4(k, device)?)),
                Some(k) => {
                    return Err(BuildError::Unsupported(format!(
                        "a constant operand of shape {:?}",
                        k.shape
                    )));
                }
            }
        }
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "Flatten" => match int(n, "axis").unwrap_or(1) {
            1 => Op::Flatten,
            a => return Err(BuildError::Unsupported(format!("axis {a}"))),
        },
        "Gemm" | "MatMul" => {
            let k = c(1)?;
            let [rows, cols]: [usize; 2] = k.shape.clone().try_into().map_err(|_| {
                BuildError::Unsupported(format!("weights of shape {:?} (need 2-D)", k.shape))
            })?;
            let gemm = n.op_type == "Gemm";
            if gemm && int(n, "transA").unwrap_or(0) != 0 {
                return Err(BuildError::Unsupported("transA 1".into()));
            }
            let (alpha, beta) = if gemm {
                (
                    float(n, "alpha").unwrap_or(1.0),
                    float(n, "beta").unwrap_or(1.0),
                )
            } else {
                (1.0, 1.0)
            };
            let scaled: Vec<f32> = k.f.iter().map(|v| v * alpha).collect();
            let mut w = Tensor::<2>::from_data(TensorData::new(scaled, [rows, cols]), device);
            if gemm && int(n, "transB").unwrap_or(0) != 0 {
                w = w.transpose();
            }
            let b = if gemm && present(2) {
                let bias = c(2)?;
                if bias.shape.len() > 1
                    && bias.shape[..bias.shape.len() - 1].iter().any(|&d| d != 1)
                {
                    return Err(BuildError::Unsupported(format!(
                        "a bias of shape {:?}",
                        bias.shape
                    )));
                }
                Some(row(bias.f.iter().map(|v| v * beta).collect(), device))
            } else {
                None
            };
            Op::Dense { w, b }
        }
        "Transpose" => match ints(n, "perm").as_deref() {
            Some(&[a, b, c, d]) => {
                let p = [a, b, c, d];
                let mut seen = [false; 4];
                for &v in &p {
                    match usize::try_from(v).ok().filter(|&v| v < 4) {
                        Some(v) if !seen[v] => seen[v] = true,
                        _ => return Err(format!("perm {p:?} is not a permutation").into()),
                    }
                }
                Op::Transpose4(p.map(|v| v as usize))
            }
            Some(&[1, 0]) => Op::Transpose2,
            other => return Err(BuildError::Unsupported(format!("perm {other:?}"))),
        },
        "Reshape" => {
            let shape = c(1)?.i.clone();
            if shape.len() != 2 {
                return Err(BuildError::Unsupported(format!(
                    "a reshape to {shape:?} (only to 2-D)"
                )));
            }
            Op::Reshape2(shape)
        }
        "MaxPool" => {
            if int(n, "ceil_mode").unwrap_or(0) != 0 {
                return Err(BuildError::Unsupported("ceil_mode 1".into()));
            }
            if n.output.len() > 1 && n.output[1..].iter().any(|o| !o.is_empty()) {
                return Err(BuildError::Unsupported("the Indices output".into()));
            }
            Op::MaxPool(MaxPoolOptions {
                kernel_size: pair(n, "kernel_shape", 1)?,
                stride: pair(n, "strides", 1)?,
                padding: pads(n)?,
                dilation: pair(n, "dilations", 1)?,
                ceil_mode: false,
            })
        }
        "Softmax" => match int(n, "axis").unwrap_or(-1) {
            -1 | 1 => Op::Softmax(1),
            a => return Err(BuildError::Unsupported(format!("axis {a}"))),
        },
        other => return Err(BuildError::Unsupported(format!("operator {other}"))),
    };
    Ok((x, op))
}

fn apply(op: &Op, x: Value, values: &HashMap<&str, Value>) -> Result<Value, String> {
    use Value::{D2, D4};
    Ok(match (op, x) {
        (Op::Conv { w, b, opts }, D4(x)) => D4(conv2d(x, w.clone(), b.clone(), opts.clone())),
        (Op::Clip(lo, hi), D4(x)) => D4(x.clamp(*lo, *hi)),
        (Op::Clip(lo, hi), D2(x)) => D2(x.clamp(*lo, *hi)),
        (Op::Relu, D4(x)) => D4(relu(x)),
        (Op::Relu, D2(x)) => D2(relu(x)),
        (Op::Add(Operand::Activation(o)), x) => match (x, values.get(o.as_str())) {
            (D4(x), Some(D4(y))) if x.dims() == y.dims() => D4(x + y.clone()),
            (D2(x), Some(D2(y))) if x.dims() == y.dims() => D2(x + y.clone()),
            _ => return Err(format!("cannot add {o}: missing, or of another shape")),
        },
        (Op::Add(Operand::Const4(k)), D4(x)) => D4(x + k.clone()),
        (Op::Add(Operand::Const2(k)), D2(x)) if k.dims()[1] == x.dims()[1] => D2(x + k.clone()),
        (Op::GlobalAveragePool, D4(x)) => D4(x.mean_dim(3).mean_dim(2)),
        (Op::Flatten, D4(x)) => {
            let [n, c, h, w] = x.dims();
            D2(x.reshape([n, c * h * w]))
        }
        (Op::Flatten, D2(x)) => D2(x),
        (Op::Dense { w, b }, D2(x)) => {
            if x.dims()[1] != w.dims()[0] {
                return Err(format!(
                    "{} features do not fit weights of shape {:?}",
                    x.dims()[1],
                    w.dims()
                ));
            }
            let y = x.matmul(w.clone());
            D2(match b {
                Some(b) => y + b.clone(),
                None => y,
            })
        }
        (Op::Transpose4(p), D4(x)) => D4(x.permute(*p)),
        (Op::Transpose2, D2(x)) => D2(x.transpose()),
        (Op::Reshape2(shape), D4(x)) => {
            let dims = x.dims();
            let total: usize = dims.iter().product();
            let mut s = [0usize; 2];
            let mut infer = None;
            for (i, &v) in shape.iter().enumerate() {
                s[i] = match v {
                    -1 if infer.is_none() => {
                        infer = Some(i);
                        1
                    }
                    0 => dims[i],
                    v if v > 0 => v as usize,
                    v => return Err(format!("bad reshape dimension {v}")),
                };
            }
            if let Some(i) = infer {
                let known: usize = s.iter().product();
                s[i] = total / known.max(1);
            }
            if s[0] * s[1] != total {
                return Err(format!("cannot reshape {dims:?} to {shape:?}"));
            }
            D2(x.reshape(s))
        }
        (Op::MaxPool(opts), D4(x)) => D4(max_pool2d(x, opts.clone())),
        (Op::Softmax(axis), D2(x)) => D2(softmax(x, *axis)),
        (_, D4(_)) => return Err("operator applied to a 4-D tensor it does not take".into()),
        (_, D2(_)) => return Err("operator applied to a 2-D tensor it does not take".into()),
    })
}

impl FeatureBackend for BurnBackend {
    fn name(&self) -> &'static str {
        "burn"
    }

    fn input(&self) -> &InputSpec {
        &self.input
    }

    fn output(&self) -> &OutputSpec {
        &self.output
    }

    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        checked_extract(&self.input, &self.output, batch, images, || {
            self.run(batch, images)
        })
    }
}
