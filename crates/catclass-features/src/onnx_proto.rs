//! Just enough of the ONNX protobuf format to name a network's nodes and to make one tensor
//! its only output, without a protobuf library: the bytes are walked field by field and every
//! field but the graph's outputs is copied as it is.
//!
//! Fields used (from `onnx.proto`): `ModelProto.graph` = 7; `GraphProto.node` = 1,
//! `GraphProto.output` = 12; `NodeProto.output` = 2, `NodeProto.name` = 3;
//! `ValueInfoProto.name` = 1.

use crate::layer::NodeNames;

const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const GRAPH_OUTPUT: u32 = 12;
const NODE_OUTPUT: u32 = 2;
const NODE_NAME: u32 = 3;
const VALUE_INFO_NAME: u32 = 1;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One field: its number, its wire type, and all its bytes (`raw`, key included) or, for a
/// length-delimited field, its payload (`payload`).
struct Field<'a> {
    number: u32,
    wire: u8,
    raw: &'a [u8],
    payload: &'a [u8],
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

/// The fields of one message, in order.
fn fields(bytes: &[u8]) -> Result<Vec<Field<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        let key = varint(bytes, &mut pos)?;
        let number = u32::try_from(key >> 3).map_err(|_| "field number out of range")?;
        let wire = (key & 7) as u8;
        if number == 0 {
            return Err("field number 0".into());
        }
        let (from, to) = match wire {
            VARINT => {
                varint(bytes, &mut pos)?;
                (pos, pos)
            }
            FIXED64 => (pos, pos + 8),
            FIXED32 => (pos, pos + 4),
            LEN => {
                let len =
                    usize::try_from(varint(bytes, &mut pos)?).map_err(|_| "length out of range")?;
                (pos, pos.checked_add(len).ok_or("length out of range")?)
            }
            other => return Err(format!("wire type {other} (field {number})")),
        };
        if to > bytes.len() {
            return Err(format!("field {number} runs past the end"));
        }
        pos = to;
        out.push(Field {
            number,
            wire,
            raw: &bytes[start..to],
            payload: &bytes[from..to],
        });
    }
    Ok(out)
}

fn string<'a>(f: &Field<'a>, what: &str) -> Result<&'a str, String> {
    if f.wire != LEN {
        return Err(format!("{what} is not a string"));
    }
    std::str::from_utf8(f.payload).map_err(|_| format!("{what} is not UTF-8"))
}

/// The names in a network: its nodes in graph order, and its outputs.
pub(crate) struct GraphNames<'a> {
    /// The graph's nodes.
    pub nodes: Vec<NodeNames<'a>>,
    /// The graph's outputs.
    pub outputs: Vec<&'a str>,
}

/// The one graph of an ONNX model.
fn graph(model: &[u8]) -> Result<&[u8], String> {
    let mut graph = None;
    for f in fields(model)? {
        if f.number == MODEL_GRAPH {
            if f.wire != LEN || graph.is_some() {
                return Err("a malformed graph field".into());
            }
            graph = Some(f.payload);
        }
    }
    graph.ok_or_else(|| "no graph".into())
}

/// Reads the names of `model`'s graph (an error says why the bytes are not an ONNX model).
pub(crate) fn graph_names(model: &[u8]) -> Result<GraphNames<'_>, String> {
    let mut names = GraphNames {
        nodes: Vec::new(),
        outputs: Vec::new(),
    };
    for f in fields(graph(model)?)? {
        match f.number {
            GRAPH_NODE => {
                let mut node = NodeNames {
                    name: "",
                    outputs: Vec::new(),
                };
                if f.wire != LEN {
                    return Err("a node is not a message".into());
                }
                for g in fields(f.payload)? {
                    match g.number {
                        NODE_NAME => node.name = string(&g, "a node name")?,
                        NODE_OUTPUT => node.outputs.push(string(&g, "a node output")?),
                        _ => {}
                    }
                }
                names.nodes.push(node);
            }
            GRAPH_OUTPUT => names.outputs.push(value_info_name(&f)?),
            _ => {}
        }
    }
    if names.nodes.is_empty() {
        return Err("a graph without nodes".into());
    }
    Ok(names)
}

fn value_info_name<'a>(f: &Field<'a>) -> Result<&'a str, String> {
    if f.wire != LEN {
        return Err("a graph output is not a message".into());
    }
    let mut name = "";
    for g in fields(f.payload)? {
        if g.number == VALUE_INFO_NAME {
            name = string(&g, "an output name")?;
        }
    }
    Ok(name)
}

fn key(number: u32, wire: u8, out: &mut Vec<u8>) {
    put_varint(u64::from(number) << 3 | u64::from(wire), out);
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len(number: u32, payload: &[u8], out: &mut Vec<u8>) {
    key(number, LEN, out);
    put_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// `model` with `tensor` as its graph's only output: the graph's output of that name is kept
/// as it is (with its type); another tensor is declared by name only (onnxruntime infers its
/// type). Every other field is copied unchanged.
pub(crate) fn with_only_output(model: &[u8], tensor: &str) -> Result<Vec<u8>, String> {
    let graph_bytes = graph(model)?;
    let mut graph = Vec::with_capacity(graph_bytes.len() + tensor.len() + 8);
    let mut declared = None;
    for f in fields(graph_bytes)? {
        if f.number == GRAPH_OUTPUT {
            if value_info_name(&f)? == tensor && declared.is_none() {
                declared = Some(f.raw);
            }
        } else {
            graph.extend_from_slice(f.raw);
        }
    }
    match declared {
        Some(raw) => graph.extend_from_slice(raw),
        None => {
            let mut info = Vec::with_capacity(tensor.len() + 4);
            put_len(VALUE_INFO_NAME, tensor.as_bytes(), &mut info);
            put_len(GRAPH_OUTPUT, &info, &mut graph);
        }
    }
    let mut out = Vec::with_capacity(model.len() + tensor.len() + 16);
    for f in fields(model)? {
        if f.number == MODEL_GRAPH {
            put_len(MODEL_GRAPH, &graph, &mut out);
        } else {
            out.extend_from_slice(f.raw);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, outputs: &[&str]) -> Vec<u8> {
        let mut n = Vec::new();
        for o in outputs {
            put_len(NODE_OUTPUT, o.as_bytes(), &mut n);
        }
        put_len(NODE_NAME, name.as_bytes(), &mut n);
        put_len(4, b"Relu", &mut n);
        n
    }

    fn model() -> Vec<u8> {
        let mut g = Vec::new();
        put_len(GRAPH_NODE, &node("a", &["x1"]), &mut g);
        put_len(GRAPH_NODE, &node("b/fc2", &["x2"]), &mut g);
        put_len(2, b"net", &mut g);
        let mut out = Vec::new();
        put_len(VALUE_INFO_NAME, b"x2", &mut out);
        put_len(2, &[8, 1], &mut out);
        put_len(GRAPH_OUTPUT, &out, &mut g);
        let mut m = Vec::new();
        key(1, VARINT, &mut m);
        put_varint(8, &mut m);
        put_len(MODEL_GRAPH, &g, &mut m);
        key(8, FIXED32, &mut m);
        m.extend_from_slice(&[0; 4]);
        m
    }

    #[test]
    fn names_are_read_and_outputs_replaced() {
        let m = model();
        let names = graph_names(&m).unwrap();
        assert_eq!(names.outputs, ["x2"]);
        assert_eq!(names.nodes[1].name, "b/fc2");
        assert_eq!(names.nodes[0].outputs, ["x1"]);
        // The declared output is kept whole; the other fields are unchanged.
        assert_eq!(with_only_output(&m, "x2").unwrap(), m);
        let other = with_only_output(&m, "x1").unwrap();
        let names = graph_names(&other).unwrap();
        assert_eq!(names.outputs, ["x1"]);
        assert_eq!(names.nodes.len(), 2);
        assert_eq!(other.len(), m.len() - 4);
    }

    #[test]
    fn bytes_that_are_not_onnx_are_refused() {
        for bad in [
            &b"hello, world"[..],
            b"",
            b"\x3a\x05abc",
            b"\xff\xff\xff",
            b"\x08\x01",
        ] {
            assert!(graph_names(bad).is_err(), "{bad:?}");
        }
    }
}
