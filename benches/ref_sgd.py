#!/usr/bin/env python3
"""Times the numpy restatement of MLlib's loop (ref_sgd in testdata/mllib/make_golden.py) on
the rows the Rust bench wrote, and checks its weights equal ours bit for bit.

    python3 benches/ref_sgd.py target/bench-data/one_vs_all 4096
"""
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testdata", "mllib"))
from make_golden import ref_sgd  # noqa: E402

stem, dim = sys.argv[1], int(sys.argv[2])
X = np.fromfile(stem + ".x.f32", dtype="<f4").astype(np.float64).reshape(-1, dim)
y = np.fromfile(stem + ".y.f64", dtype="<f8")
ours = np.fromfile(stem + ".w.f64", dtype="<f8")
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    w, updates, passes, _ = ref_sgd(X, y, np.zeros(dim), 100, 1.0, 0.01, 0.001, None)
    best = min(best, time.perf_counter() - t0)
same = bool(np.array_equal(w, ours))
print(f"numpy ref_sgd {os.path.basename(stem)} {X.shape[0]}x{dim}: best of 3 {best:.3f} s, "
      f"{updates} updates, weights equal to catclass bit for bit: {same}"
      + ("" if same else f" (max |dw| {np.abs(w - ours).max():.3e})"))

# What only reading the matrix costs: one float32 matrix-vector product per pass (OpenBLAS
# gemv), as many passes as the loop makes (100 iterations + the final margins), best of 3.
X32 = X.astype(np.float32)
w32 = np.ones(dim, dtype=np.float32)
reads = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    for _ in range(101):
        X32 @ w32
    reads = min(reads, time.perf_counter() - t0)
print(f"numpy float32 X @ w, 101 passes over {X.shape[0]}x{dim}: best of 3 {reads:.3f} s "
      f"({101 * X32.nbytes / reads / 1e9:.1f} GB/s)")
