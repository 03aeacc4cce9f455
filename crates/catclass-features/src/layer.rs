//! Which tensor a layer name means: the rule every backend applies to the ONNX graph.
//!
//! A layer is, in this order of preference: an ONNX tensor name (`logits`,
//! `vgg16/fc2/Relu:0`); or a layer name (`fc2`), meaning the first output of the last node (in
//! graph order) whose name, or one of whose outputs, is that name or has it as a
//! `/`-separated part (for a Keras export, the layer's activation).

// tract reads its own graph and uses only `in_scope`.
#![cfg_attr(not(any(feature = "burn", feature = "ort")), allow(dead_code))]

/// One node of a graph, by names only.
pub(crate) struct NodeNames<'a> {
    /// The node's name (may be empty).
    pub name: &'a str,
    /// The tensors it writes, in order.
    pub outputs: Vec<&'a str>,
}

/// `true` when `name` is `layer` or has it as a `/`-separated part (ignoring a `:N` suffix).
pub(crate) fn in_scope(name: &str, layer: &str) -> bool {
    name == layer
        || name
            .split('/')
            .any(|seg| seg == layer || seg.split(':').next() == Some(layer))
}

/// The tensor `layer` names among `nodes` (in graph order): a tensor name, else the first
/// output of the last node in the layer's scope.
pub(crate) fn resolve_layer(nodes: &[NodeNames<'_>], layer: &str) -> Option<String> {
    if nodes.iter().any(|n| n.outputs.contains(&layer)) {
        return Some(layer.to_owned());
    }
    nodes
        .iter()
        .rev()
        .find(|n| in_scope(n.name, layer) || n.outputs.iter().any(|o| in_scope(o, layer)))
        .and_then(|n| n.outputs.first().map(|o| (*o).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node<'a>(name: &'a str, outputs: &[&'a str]) -> NodeNames<'a> {
        NodeNames {
            name,
            outputs: outputs.to_vec(),
        }
    }

    #[test]
    fn tensor_names_come_first_then_the_last_node_of_a_scope() {
        let nodes = [
            node("vgg16/fc1/MatMul", &["vgg16/fc1/MatMul:0"]),
            node("vgg16/fc2/MatMul", &["vgg16/fc2/MatMul:0"]),
            node("vgg16/fc2/Relu", &["vgg16/fc2/Relu:0"]),
            node("", &["fc2"]),
            node("vgg16/predictions/Softmax", &["predictions"]),
        ];
        assert_eq!(resolve_layer(&nodes, "fc2").as_deref(), Some("fc2"));
        assert_eq!(
            resolve_layer(&nodes[..3], "fc2").as_deref(),
            Some("vgg16/fc2/Relu:0")
        );
        assert_eq!(
            resolve_layer(&nodes, "vgg16/fc1/MatMul:0").as_deref(),
            Some("vgg16/fc1/MatMul:0")
        );
        assert_eq!(resolve_layer(&nodes, "fc3"), None);
        assert!(in_scope("a/fc2:0", "fc2") && !in_scope("fc20", "fc2"));
    }
}
