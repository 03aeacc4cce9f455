"""Builds a VGG16-shaped ONNX graph with random weights, named like a Keras VGG16 exported by
tf2onnx (NHWC input, node names vgg16/block1_conv1/..., vgg16/fc1/..., vgg16/fc2/...,
graph output "predictions").

Usage: python3 make_vgg16_like.py OUT.onnx [--full] [--seed N]
  default: narrow layers (4-8 channels, 64 in blocks 4-5 so that tract's Winograd rewrites run
           on them; fc1 64, fc2 32, 10 classes): small and fast, for tests
  --full:  the real VGG16 sizes (64..512 channels, fc 4096, 1000 classes, ~528 MB), for benches
Weights are random (He-scaled, fixed seed): the graph has VGG16's shape, not its knowledge.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(full, seed):
    rng = np.random.default_rng(seed)
    if full:
        chans, fc1, fc2, classes = [64, 128, 256, 512, 512], 4096, 4096, 1000
    else:
        chans, fc1, fc2, classes = [4, 8, 8, 64, 64], 64, 32, 10
    convs = [2, 2, 3, 3, 3]
    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    def he(shape, fan_in):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))

    x = "input_1"
    nodes.append(helper.make_node("Transpose", [x], ["vgg16/to_nchw:0"], name="vgg16/to_nchw", perm=[0, 3, 1, 2]))
    x, c_in = "vgg16/to_nchw:0", 3
    # Inputs are caffe-normalised pixels (about +-128): scale the first layer down.
    first = True
    for b, (c, n) in enumerate(zip(chans, convs), start=1):
        for i in range(1, n + 1):
            s = "vgg16/block%d_conv%d" % (b, i)
            w = he((c, c_in, 3, 3), c_in * 9) * (np.float32(1 / 64) if first else np.float32(1))
            first = False
            nodes.append(helper.make_node(
                "Conv", [x, init(s + "/kernel", w), init(s + "/bias", rng.standard_normal(c) * 0.01)],
                [s + "/BiasAdd:0"], name=s + "/BiasAdd", pads=[1, 1, 1, 1], kernel_shape=[3, 3]))
            nodes.append(helper.make_node("Relu", [s + "/BiasAdd:0"], [s + "/Relu:0"], name=s + "/Relu"))
            x, c_in = s + "/Relu:0", c
        s = "vgg16/block%d_pool" % b
        nodes.append(helper.make_node("MaxPool", [x], [s + "/MaxPool:0"], name=s + "/MaxPool",
                                      kernel_shape=[2, 2], strides=[2, 2]))
        x = s + "/MaxPool:0"
    # Keras flattens NHWC.
    nodes.append(helper.make_node("Transpose", [x], ["vgg16/to_nhwc:0"], name="vgg16/to_nhwc", perm=[0, 2, 3, 1]))
    nodes.append(helper.make_node("Reshape", ["vgg16/to_nhwc:0", init("vgg16/flatten/shape", np.array([-1, 7 * 7 * c_in]))],
                                  ["vgg16/flatten/Reshape:0"], name="vgg16/flatten/Reshape"))
    inits[-1] = numpy_helper.from_array(np.array([-1, 7 * 7 * c_in], dtype=np.int64), "vgg16/flatten/shape")
    x, d = "vgg16/flatten/Reshape:0", 7 * 7 * c_in
    for name, width, act in [("fc1", fc1, "Relu"), ("fc2", fc2, "Relu"), ("predictions", classes, "Softmax")]:
        s = "vgg16/" + name
        nodes.append(helper.make_node("MatMul", [x, init(s + "/kernel", he((d, width), d))], [s + "/MatMul:0"], name=s + "/MatMul"))
        nodes.append(helper.make_node("Add", [s + "/MatMul:0", init(s + "/bias", rng.standard_normal(width) * 0.01)],
                                      [s + "/BiasAdd:0"], name=s + "/BiasAdd"))
        out = "predictions" if act == "Softmax" else s + "/" + act + ":0"
        nodes.append(helper.make_node(act, [s + "/BiasAdd:0"], [out], name=s + "/" + act))
        x, d = out, width
    graph = helper.make_graph(
        nodes, "vgg16",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["unk__0", 224, 224, 3])],
        [helper.make_tensor_value_info("predictions", TensorProto.FLOAT, ["unk__0", classes])],
        inits)
    model = helper.make_model(graph, producer_name="catclass-tests", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    args = sys.argv[1:]
    full = "--full" in args
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 16
    out = [a for a in args if not a.startswith("--") and not a.isdigit()][0]
    onnx.save(build(full, seed), out)


if __name__ == "__main__":
    main()
