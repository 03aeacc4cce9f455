#!/usr/bin/env python3
"""Times loading a folder of feature files (one JSON array per file) with orjson and with the
standard json module, one thread, beside `catclass train`'s own load time on the same folder
in the same run.

    python3 benches/load_vs_orjson.py target/catclass-demo/features [path/to/catclass]

(`pip install orjson numpy`; the demo writes the folder: `catclass demo`.)
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import orjson

folder = sys.argv[1]
catclass = sys.argv[2] if len(sys.argv) > 2 else "target/release/catclass"
files = sorted(glob.glob(os.path.join(folder, "*.json")))
total = sum(os.path.getsize(f) for f in files)


def load(parse):
    rows = []
    for f in files:
        with open(f, "rb") as fh:
            rows.append(parse(fh.read()))
    return rows


def best(parse, runs=3):
    t = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = load(parse)
        t = min(t, time.perf_counter() - t0)
    return t, rows


t_orjson, rows = best(orjson.loads)
t_json, _ = best(json.loads, 1)
print(f"{len(files)} files, {total / 1e6:.0f} MB")
print(f"orjson, 1 thread: best of 3 {t_orjson:.2f} s ({total / t_orjson / 1e6:.0f} MB/s)")
print(f"json, 1 thread: {t_json:.2f} s ({total / t_json / 1e6:.0f} MB/s)")

loads = []
with tempfile.TemporaryDirectory() as out:
    for _ in range(3):
        run = subprocess.run([catclass, "train", folder, "--multiclass", "--solver", "dcd",
                              "--max-epochs", "1", "--out", out],
                             capture_output=True, text=True, check=True)
        loads.append(float(re.search(r"load ([0-9.]+) s", run.stdout).group(1)))
    values = np.array(rows, dtype=np.float32)
print(f"catclass train (all cores): load best of 3 {min(loads):.2f} s "
      f"({total / min(loads) / 1e6:.0f} MB/s)")
print(f"orjson's values as float32: {values.shape}, all finite: {bool(np.isfinite(values).all())}")
