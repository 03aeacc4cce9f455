#!/usr/bin/env python3
"""Images/s of catclass-features (tract, optionally burn) against onnxruntime, same ONNX file, threads, batch.

Usage: python3 benches/extract_vs_onnxruntime.py [--threads T] [--batch B] [--images N]
                                                [--models effnet,vgg16] [--vgg16 PATH]
                                                [--backends tract,burn] [--repeat R]
Needs: pip install pillow numpy onnx onnxruntime; run from the repository root.

- Images: N JPEGs derived from the shipped photos of crates/catclass-cli/photos (random crops, flips,
  scales; generated here, not real new photos), written to a temporary folder.
- Models: the embedded EfficientNet-Lite0 (layer `features`, preset efficientnet-lite) and a
  full-size VGG16 graph with random weights built by
  crates/catclass-features/tests/py/make_vgg16_like.py --full (layer fc2, preset keras-vgg16;
  about 528 MB, built in the temporary folder, never committed) unless --vgg16 gives one.
- onnxruntime: one session, intra_op_num_threads = T, batches of B; Pillow decode and numpy
  preprocessing (same rules) timed apart from the model.
- tract: `cargo run --release -p catclass-features --example extract_bench`, T workers each
  running its own batches of B (decode, preprocess and inference overlap across workers);
  TractBackend runs each batch as single-image plans (its default `with_plan_batch(1)`, about
  twice the throughput of one batched plan on this model; the example's --plan-batch changes it),
  with catclass's rewrites of the plan (catclass_features::tract_tuning: direct depthwise and
  stem convolutions, Winograd F(4x4, 3x3) / F(2x2, 3x3) for VGG's 3x3 convolutions, im2col
  for other thick ones);
  `tract-untuned` runs tract's own plan, for comparison.
- burn (with --backends ...,burn): the same example built with `--features burn`,
  `--backend burn` (burn's `flex` CPU backend, weights read from the same ONNX file).
Prints one JSON line per engine and model, then a summary table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")
MAKE_VGG = os.path.join(ROOT, "crates/catclass-features/tests/py/make_vgg16_like.py")


def derive_images(out, n, seed=7):
    rng = np.random.default_rng(seed)
    srcs = [Image.open(os.path.join(TESTDATA, "images", f)).convert("RGB")
            for f in ["chelsea.png", "coffee.png", "darknet-dog.jpg"]]
    for i in range(n):
        img = srcs[i % len(srcs)]
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = img.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        s = rng.uniform(0.8, 1.6)
        im = im.resize((int(cw * s), int(ch * s)), Image.BILINEAR)
        im.save(os.path.join(out, "derived_%04d.jpg" % i), quality=90)


def pre_effnet(img):
    w, h = img.size
    nw, nh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize((nw, nh), Image.BILINEAR)
    l, t = int(round((nw - 224) / 2.0)), int(round((nh - 224) / 2.0))
    x = np.asarray(img.crop((l, t, l + 224, t + 224)), dtype=np.float32).transpose(2, 0, 1)
    return (x - np.float32(127)) / np.float32(128)


def pre_vgg(img):
    x = np.asarray(img.resize((224, 224), Image.NEAREST), dtype=np.float32)[..., ::-1]
    return x - np.array([103.939, 116.779, 123.68], dtype=np.float32)


def run_ort(model_path, tensor, pre, files, batch, threads, repeat):
    model = onnx.load(model_path)
    if tensor not in [o.name for o in model.graph.output]:
        model.graph.output.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    t = time.perf_counter()
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t
    name = sess.get_inputs()[0].name
    dec = prep = mod = 0.0
    t0 = time.perf_counter()
    for i in range(0, len(files), batch):
        xs = []
        for f in files[i:i + batch]:
            t = time.perf_counter()
            img = Image.open(f).convert("RGB")
            img.load()
            dec += time.perf_counter() - t
            t = time.perf_counter()
            xs.append(pre(img))
            prep += time.perf_counter() - t
        t = time.perf_counter()
        sess.run([tensor], {name: np.stack(xs)})
        mod += time.perf_counter() - t
    wall = time.perf_counter() - t0
    x = np.full((batch,) + xs[0].shape, 0.5, dtype=np.float32)
    t = time.perf_counter()
    for _ in range(repeat):
        sess.run([tensor], {name: x})
    model_only = repeat * batch / (time.perf_counter() - t)
    return {"engine": "onnxruntime " + ort.__version__, "images": len(files), "batch": batch,
            "threads": threads, "load_s": round(load_s, 3), "wall_s": round(wall, 3),
            "images_per_s": round(len(files) / wall, 2), "decode_s": round(dec, 3),
            "preprocess_s": round(prep, 3), "model_s": round(mod, 3),
            "model_only_images_per_s": round(model_only, 2)}


def run_rust(engine, img_dir, model_path, layer, preset, batch, threads, repeat):
    profile = [] if os.environ.get("BENCH_PROFILE") == "dev" else ["--release"]
    features = ["--features", "burn"] if engine == "burn" else []
    extra = ["--untuned"] if engine == "tract-untuned" else []
    backend = "tract" if engine == "tract-untuned" else engine
    cmd = (["cargo", "run", "--quiet"] + profile + ["-p", "catclass-features"] + features +
           ["--example", "extract_bench", "--", img_dir, "--layer", layer, "--preset", preset,
            "--batch", str(batch), "--threads", str(threads), "--repeat", str(repeat),
            "--backend", backend] + extra)
    if model_path:
        cmd += ["--model", model_path]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--models", default="effnet,vgg16")
    ap.add_argument("--vgg16", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backends", default="tract",
                    help="Rust engines, comma-separated: tract, burn, tract-untuned (tract's own plans, "
                         "without catclass's rewrites)")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        img_dir = os.path.join(tmp, "images")
        os.mkdir(img_dir)
        derive_images(img_dir, a.images)
        files = sorted(os.path.join(img_dir, f) for f in os.listdir(img_dir))
        for m in a.models.split(","):
            if m == "effnet":
                path, tensor, layer, preset, pre = (os.path.join(ROOT, "models/efficientnet-lite0.onnx"),
                                                    "features", "features", "efficientnet-lite", pre_effnet)
                tract_model = None
            else:
                path = a.vgg16 or os.path.join(tmp, "vgg16-full.onnx")
                if not a.vgg16:
                    subprocess.run([sys.executable, MAKE_VGG, path, "--full"], check=True)
                tensor, layer, preset, pre, tract_model = "vgg16/fc2/Relu:0", "fc2", "keras-vgg16", pre_vgg, path
            r = run_ort(path, tensor, pre, files, a.batch, a.threads, a.repeat)
            r["model"] = m
            print(json.dumps(r), flush=True)
            rows.append(r)
            for engine in a.backends.split(","):
                t = run_rust(engine, img_dir, tract_model, layer, preset, a.batch, a.threads, a.repeat)
                t["model"] = m
                print(json.dumps(t), flush=True)
                rows.append(t)
    print("\n%-8s %-26s %9s %12s %9s %9s %9s" % ("model", "engine", "images/s", "model-only/s", "decode_s", "prep_s", "model_s"))
    for r in rows:
        print("%-8s %-26s %9.2f %12.2f %9.3f %9.3f %9.3f" % (r["model"], r["engine"], r["images_per_s"],
              r["model_only_images_per_s"], r["decode_s"], r["preprocess_s"], r["model_s"]))


if __name__ == "__main__":
    main()
