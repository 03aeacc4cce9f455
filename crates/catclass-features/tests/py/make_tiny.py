"""Builds tiny ONNX graphs (random weights) for the burn backend's error tests.

Usage: python3 make_tiny.py OUT.onnx KIND
  KIND = sigmoid:      Conv -> Sigmoid -> GlobalAveragePool -> Flatten (an operator burn refuses)
  KIND = bad-weights:  a Conv whose weights expect 5 input channels on a 3-channel image
                       (a broken model that must give an error, not a panic)
Input "input" [N, 3, 16, 16] NCHW; output "out".
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    out, kind = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(3)
    c_in = 5 if kind == "bad-weights" else 3
    w = numpy_helper.from_array(rng.standard_normal((4, c_in, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["input", "w"], ["conv"], name="conv", pads=[1, 1, 1, 1])]
    x = "conv"
    if kind == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", [x], ["act"], name="act"))
        x = "act"
    elif kind != "bad-weights":
        raise SystemExit("unknown kind " + kind)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["out"], name="flatten"))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 4])],
        [w])
    model = helper.make_model(graph, producer_name="catclass-tests",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if kind != "bad-weights":
        onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
