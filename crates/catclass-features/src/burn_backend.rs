//! The burn backend: the same ONNX CNNs run natively in burn, weights read at run time.
//!
//! The network is rebuilt from the ONNX graph as a list of burn operations over the operator
//! set that the supported architectures use (the EfficientNet-Lite family, VGG-style Keras
//! exports): `Conv`, `Clip`, `Relu`, `Add`, `GlobalAveragePool`, `Flatten`, `Gemm`, `MatMul`,
//! `Transpose`, `Reshape`, `MaxPool`, `Softmax`. Weights are the ONNX initializers, loaded when
//! the model is. Another operator is refused at load time with its name.
//!
//! Only the nodes that the chosen layer depends on are kept. The layer is resolved with the
//! same rules as [`crate::TractBackend`]. Runs on burn's pure-Rust CPU backend (`flex`);
//! [`BurnBackend::with_device`] takes any burn device (GPU ones need burn's own features).

use std::collections::{HashMap, HashSet};

use burn_tensor::activation::{relu, softmax};
use burn_tensor::module::{conv2d, max_pool2d};
use burn_tensor::ops::{ConvOptions, MaxPoolOptions};
use burn_tensor::{Device, Tensor, TensorData};
use tract_onnx::data_resolver::FopenDataResolver;
use tract_onnx::pb::{self, NodeProto};
use tract_onnx::prelude::{Framework, TractError};

use crate::backend::{BackendError, FeatureBackend, InputSpec, OutputSpec};
use crate::model::ModelSource;
use crate::preprocess::Layout;

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

struct Step {
    name: String,
    input: String,
    output: String,
    op: Op,
}

/// An ONNX CNN run natively in burn (see the module docs).
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
        .and_then(|c| c.to_plain_array_view::<i64>().ok().map(|v| v.iter().copied().collect()))
        .unwrap_or_default();
    Ok(Const { shape, f, i })
}

/// `true` when `name` is `layer` or has it as a `/`-separated part (ignoring a `:N` suffix);
/// the rule of [`crate::TractBackend`].
fn in_scope(name: &str, layer: &str) -> bool {
    name == layer
        || name
            .split('/')
            .any(|seg| seg == layer || seg.split(':').next() == Some(layer))
}

fn resolve_layer(graph: &pb::GraphProto, layer: &str) -> Option<String> {
    if graph.node.iter().any(|n| n.output.iter().any(|o| o == layer)) {
        return Some(layer.to_owned());
    }
    graph
        .node
        .iter()
        .rev()
        .find(|n| in_scope(&n.name, layer) || n.output.iter().any(|o| in_scope(o, layer)))
        .and_then(|n| n.output.first().cloned())
}

impl BurnBackend {
    /// Loads `source` on burn's CPU backend and takes its features at `layer` (the first graph
    /// output when `None`), resolved as [`crate::TractBackend::load`] does.
    pub fn load(source: &ModelSource, layer: Option<&str>) -> Result<Self, BackendError> {
        Self::with_device(source, layer, Device::flex())
    }

    /// Like [`Self::load`], on `device`.
    pub fn with_device(
        source: &ModelSource,
        layer: Option<&str>,
        device: Device,
    ) -> Result<Self, BackendError> {
        let bytes = source.bytes()?;
        let name = source.to_string();
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
            consts.insert(t.name.clone(), load_const(t).map_err(|e| bad(format!("{e:#}")))?);
        }
        for n in graph.node.iter().filter(|n| n.op_type == "Constant") {
            if let (Some(out), Some(t)) = (n.output.first(), n.attribute.iter().find_map(|a| a.t.as_ref())) {
                consts.insert(out.clone(), load_const(t).map_err(|e| bad(format!("{e:#}")))?);
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
        let input = input_spec(inputs[0]).map_err(bad)?;
        let target = match layer {
            Some(l) => resolve_layer(graph, l).ok_or_else(|| BackendError::UnknownLayer {
                model: name.clone(),
                layer: l.to_owned(),
                candidates: graph
                    .output
                    .iter()
                    .map(|o| o.name.clone())
                    .chain(graph.node.iter().rev().take(10).map(|n| n.name.clone()))
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
                && needed.insert(n.output[0].as_str())
            {
                stack.extend(n.input.iter().map(String::as_str).filter(|i| !i.is_empty()));
            }
        }
        let mut steps = Vec::new();
        for n in &graph.node {
            if n.op_type == "Constant" || !needed.contains(n.output[0].as_str()) {
                continue;
            }
            let op = build_op(n, &consts, &device).map_err(|m| {
                bad(format!("node {:?} ({}): {m}", n.name, n.op_type))
            })?;
            let x = n
                .input
                .first()
                .cloned()
                .ok_or_else(|| bad(format!("node {:?} has no input", n.name)))?;
            steps.push(Step {
                name: n.name.clone(),
                input: x,
                output: n.output[0].clone(),
                op,
            });
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
        // One zero image gives the feature length (and checks that the graph runs).
        let probe = me
            .run(&vec![0.0; me.input.len()], 1)
            .map_err(|e| bad(e.to_string()))?;
        me.output.dim = probe.len();
        Ok(me)
    }

    fn run(&self, batch: &[f32], n: usize) -> Result<Vec<f32>, BackendError> {
        let i = &self.input;
        let shape = match i.layout {
            Layout::Nchw => [n, 3, i.height, i.width],
            Layout::Nhwc => [n, i.height, i.width, 3],
        };
        let x = Tensor::<4>::from_data(TensorData::new(batch.to_vec(), shape), &self.device);
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(&self.input_name, Value::D4(x));
        for s in &self.steps {
            let x = values
                .get(s.input.as_str())
                .cloned()
                .ok_or_else(|| BackendError::Run(format!("{}: input {} not computed", s.name, s.input)))?;
            let y = apply(&s.op, x, &values).map_err(|m| BackendError::Run(format!("{}: {m}", s.name)))?;
            values.insert(&s.output, y);
        }
        let out = values
            .remove(self.target.as_str())
            .ok_or_else(|| BackendError::Run(format!("{} not computed", self.target)))?;
        let data = match out {
            Value::D4(t) => t.into_data(),
            Value::D2(t) => t.into_data(),
        };
        data.as_slice::<f32>()
            .map(<[f32]>::to_vec)
            .map_err(|e| BackendError::Run(format!("{e:?}")))
    }
}

fn input_spec(v: &pb::ValueInfoProto) -> Result<InputSpec, String> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    let dims: Vec<Option<usize>> = v
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .and_then(|t| match t {
            pb::type_proto::Value::TensorType(t) => t.shape.as_ref(),
            _ => None,
        })
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(Dim::DimValue(v)) if v > 0 => Some(v as usize),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if dims.len() != 4 {
        return Err(format!("input is not an image batch: {dims:?}"));
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

fn ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.ints.clone())
}

fn int(n: &NodeProto, name: &str) -> Option<i64> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn float(n: &NodeProto, name: &str) -> Option<f32> {
    n.attribute.iter().find(|a| a.name == name).map(|a| a.f)
}

fn pair(v: &Option<Vec<i64>>, default: usize) -> Result<[usize; 2], String> {
    match v.as_deref() {
        None => Ok([default; 2]),
        Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
        Some(other) => Err(format!("unsupported 2-D attribute {other:?}")),
    }
}

fn pads(n: &NodeProto) -> Result<[(usize, usize); 2], String> {
    if let Some(p) = n.attribute.iter().find(|a| a.name == "auto_pad")
        && !p.s.is_empty()
        && p.s != b"NOTSET"
        && p.s != b"VALID"
    {
        return Err(format!("auto_pad {} is not supported", String::from_utf8_lossy(&p.s)));
    }
    match ints(n, "pads").as_deref() {
        None => Ok([(0, 0); 2]),
        Some([t, l, b, r]) if [*t, *l, *b, *r].iter().all(|&v| v >= 0) => {
            Ok([(*t as usize, *b as usize), (*l as usize, *r as usize)])
        }
        Some(other) => Err(format!("unsupported pads {other:?}")),
    }
}

fn tensor4(c: &Const, device: &Device) -> Result<Tensor<4>, String> {
    let s: [usize; 4] = c.shape.clone().try_into().map_err(|_| format!("expected a 4-D constant, got {:?}", c.shape))?;
    Ok(Tensor::from_data(TensorData::new(c.f.clone(), s), device))
}

fn build_op(n: &NodeProto, consts: &HashMap<String, Const>, device: &Device) -> Result<Op, String> {
    let c = |i: usize| -> Result<&Const, String> {
        n.input
            .get(i)
            .and_then(|name| consts.get(name))
            .ok_or_else(|| format!("input {i} must be a constant"))
    };
    Ok(match n.op_type.as_str() {
        "Conv" => {
            let w = tensor4(c(1)?, device)?;
            let b = match n.input.get(2).filter(|s| !s.is_empty()) {
                Some(_) => Some(Tensor::<1>::from_data(TensorData::new(c(2)?.f.clone(), [c(2)?.f.len()]), device)),
                None => None,
            };
            let opts = ConvOptions {
                stride: pair(&ints(n, "strides"), 1)?,
                padding: pads(n)?,
                dilation: pair(&ints(n, "dilations"), 1)?,
                groups: int(n, "group").unwrap_or(1).max(1) as usize,
            };
            Op::Conv { w, b, opts }
        }
        "Clip" => {
            let bound = |i: usize, attr: &str, default: f32| -> Result<f32, String> {
                match n.input.get(i).filter(|s| !s.is_empty()) {
                    Some(_) => c(i)?.f.first().copied().ok_or_else(|| "empty bound".to_string()),
                    None => Ok(float(n, attr).unwrap_or(default)),
                }
            };
            Op::Clip(bound(1, "min", f32::MIN)?, bound(2, "max", f32::MAX)?)
        }
        "Relu" => Op::Relu,
        "Add" => {
            let other = n.input.get(1).ok_or("Add needs two inputs")?;
            match consts.get(other) {
                None => Op::Add(Operand::Activation(other.clone())),
                Some(k) if k.shape.len() <= 1 => {
                    let len = k.f.len();
                    Op::Add(Operand::Const2(Tensor::from_data(TensorData::new(k.f.clone(), [1, len]), device)))
                }
                Some(k) if k.shape.len() == 4 => Op::Add(Operand::Const4(tensor4(k, device)?)),
                Some(k) => return Err(format!("constant of shape {:?} is not supported", k.shape)),
            }
        }
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "Flatten" => match int(n, "axis").unwrap_or(1) {
            1 => Op::Flatten,
            a => return Err(format!("axis {a} is not supported")),
        },
        "Gemm" | "MatMul" => {
            let k = c(1)?;
            let [rows, cols]: [usize; 2] = k.shape.clone().try_into().map_err(|_| "weights must be 2-D".to_string())?;
            let (alpha, beta) = if n.op_type == "Gemm" {
                if int(n, "transA").unwrap_or(0) != 0 {
                    return Err("transA is not supported".into());
                }
                (float(n, "alpha").unwrap_or(1.0), float(n, "beta").unwrap_or(1.0))
            } else {
                (1.0, 1.0)
            };
            let trans_b = n.op_type == "Gemm" && int(n, "transB").unwrap_or(0) != 0;
            let mut w = Tensor::<2>::from_data(TensorData::new(k.f.iter().map(|v| v * alpha).collect::<Vec<_>>(), [rows, cols]), device);
            if trans_b {
                w = w.transpose();
            }
            let b = match n.input.get(2).filter(|s| !s.is_empty() && n.op_type == "Gemm") {
                Some(_) => {
                    let bias = c(2)?;
                    let len = bias.f.len();
                    Some(Tensor::from_data(TensorData::new(bias.f.iter().map(|v| v * beta).collect::<Vec<_>>(), [1, len]), device))
                }
                None => None,
            };
            Op::Dense { w, b }
        }
        "Transpose" => match ints(n, "perm").as_deref() {
            Some([a, b, c, d]) => Op::Transpose4([*a as usize, *b as usize, *c as usize, *d as usize]),
            Some([1, 0]) => Op::Transpose2,
            other => return Err(format!("perm {other:?} is not supported")),
        },
        "Reshape" => {
            let shape = c(1)?.i.clone();
            if shape.len() != 2 {
                return Err(format!("only reshapes to 2-D are supported, not {shape:?}"));
            }
            Op::Reshape2(shape)
        }
        "MaxPool" => {
            if int(n, "ceil_mode").unwrap_or(0) != 0 {
                return Err("ceil_mode is not supported".into());
            }
            Op::MaxPool(MaxPoolOptions {
                kernel_size: pair(&ints(n, "kernel_shape"), 1)?,
                stride: pair(&ints(n, "strides"), 1)?,
                padding: pads(n)?,
                dilation: pair(&ints(n, "dilations"), 1)?,
                ceil_mode: false,
            })
        }
        "Softmax" => match int(n, "axis").unwrap_or(-1) {
            -1 | 1 => Op::Softmax(1),
            a => return Err(format!("axis {a} is not supported")),
        },
        other => {
            return Err(format!(
                "operator {other} is not supported by the burn backend (supported: Conv, Clip, \
                 Relu, Add, GlobalAveragePool, Flatten, Gemm, MatMul, Transpose, Reshape, \
                 MaxPool, Softmax); use the tract backend"
            ));
        }
    })
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
            (D4(x), Some(D4(y))) => D4(x + y.clone()),
            (D2(x), Some(D2(y))) => D2(x + y.clone()),
            _ => return Err(format!("cannot add {o}: missing or of another rank")),
        },
        (Op::Add(Operand::Const4(k)), D4(x)) => D4(x + k.clone()),
        (Op::Add(Operand::Const2(k)), D2(x)) => D2(x + k.clone()),
        (Op::GlobalAveragePool, D4(x)) => D4(x.mean_dim(3).mean_dim(2)),
        (Op::Flatten, D4(x)) => {
            let [n, c, h, w] = x.dims();
            D2(x.reshape([n, c * h * w]))
        }
        (Op::Flatten, D2(x)) => D2(x),
        (Op::Dense { w, b }, D2(x)) => {
            let y = x.matmul(w.clone());
            D2(match b {
                Some(b) => y + b.clone(),
                None => y,
            })
        }
        (Op::Transpose4(p), D4(x)) => D4(x.permute(p.map(|a| a as isize))),
        (Op::Transpose2, D2(x)) => D2(x.transpose()),
        (Op::Reshape2(shape), D4(x)) => {
            let [n, c, h, w] = x.dims();
            let total = n * c * h * w;
            let mut s = [0usize; 2];
            let mut infer = None;
            for (i, &v) in shape.iter().enumerate() {
                s[i] = match v {
                    -1 => {
                        infer = Some(i);
                        1
                    }
                    0 => x.dims()[i],
                    v if v > 0 => v as usize,
                    v => return Err(format!("bad reshape dimension {v}")),
                };
            }
            if let Some(i) = infer {
                let known: usize = s.iter().product();
                s[i] = total / known.max(1);
            }
            if s[0] * s[1] != total {
                return Err(format!("cannot reshape {:?} to {shape:?}", x.dims()));
            }
            D2(x.reshape(s))
        }
        (Op::MaxPool(opts), D4(x)) => D4(max_pool2d(x, opts.clone())),
        (Op::Softmax(axis), D2(x)) => D2(softmax(x, *axis)),
        (_, _) => return Err("operator applied to a tensor of unsupported rank".into()),
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
        let per = self.input.len();
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
        let v = self.run(batch, images)?;
        if v.len() != images * self.output.dim {
            return Err(BackendError::Run(format!(
                "output has {} floats, expected {images} x {}",
                v.len(),
                self.output.dim
            )));
        }
        Ok(v)
    }
}
