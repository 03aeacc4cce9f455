"""Runs an ONNX model with onnxruntime, the reference the Rust tests compare tract with.

Usage: python3 ort_ref.py MODEL.onnx TENSOR_NAME INPUT.f32 N,C,H,W OUT.f32
INPUT.f32 holds little-endian float32 in the model's input layout; TENSOR_NAME may be any
tensor of the graph (it is made a graph output if it is not one). Writes float32 to OUT.f32.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def main():
    model_path, name, inp, shape, out = sys.argv[1:6]
    model = onnx.load(model_path)
    if name not in [o.name for o in model.graph.output]:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = np.fromfile(inp, dtype="<f4").reshape([int(s) for s in shape.split(",")])
    y = sess.run([name], {sess.get_inputs()[0].name: x})[0]
    y.astype("<f4").tofile(out)


if __name__ == "__main__":
    main()
