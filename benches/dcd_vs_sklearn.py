#!/usr/bin/env python3
"""Our dual coordinate descent (catclass-sgd `dcd`) against scikit-learn's LinearSVC.

    pip install scikit-learn numpy
    python3 benches/dcd_vs_sklearn.py [--tol 1e-4] [--dir target/dcd_export] [--runs 5] [--no-build]

The Rust side (`DCD_EXPORT=DIR cargo bench -p catclass-sgd --bench dcd`, run by this script
unless --no-build) generates the synthetic pets-like data set (37 classes x 140 train + 60 test
rows x 4096 non-negative sparse f32 values), fits it, and writes DIR/data.bin, DIR/ours.json and
our weights. This script fits the SAME rows with LinearSVC(dual=True, loss='hinge',
fit_intercept=False, same C, tol, max_iter and class weights), times it, and scores both weight
vectors with one numpy implementation of the primal objective

    P(w) = 0.5 ||w||^2 + sum_i C_i max(0, 1 - y_i w.x_i)

Scenarios: one vs one (class 0 vs 1), one vs all (class 0 vs the rest, plain and balanced) and
37-class one vs rest (LinearSVC's own multi_class='ovr': 37 binary problems; the table sums the
objectives, the largest per-class difference is printed too).
Timings are the median of --runs fits (ours: 5), wall-clock and CPU time of the fitting thread
(both solvers are single-threaded; CPU time is the steadier figure on a shared machine).
LinearSVC is given float64 C-contiguous rows (its conversion to LIBLINEAR's sparse rows is part
of its fit). The objectives of two converged solvers agree to about the tolerance: use
--tol 1e-8 to compare objectives to 1e-6.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.svm import LinearSVC

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(d):
    raw = open(os.path.join(d, "data.bin"), "rb").read()
    head = np.frombuffer(raw, dtype="<u4", count=5)
    assert head[0] == 0x31444344, "not a DCD1 file"
    n_train, n_test, dim, _classes = (int(v) for v in head[1:])
    off = 20

    def take(dtype, count):
        nonlocal off
        a = np.frombuffer(raw, dtype=dtype, count=count, offset=off)
        off += a.nbytes
        return a

    tx = take("<f4", n_train * dim).reshape(n_train, dim)
    tc = take("<u4", n_train)
    vx = take("<f4", n_test * dim).reshape(n_test, dim)
    vc = take("<u4", n_test)
    assert off == len(raw)
    return tx, tc, vx, vc, dim


def primal(X, s, w, c_row):
    """P(w) in float64; s in {-1, +1}, c_row the per-row cost C_i."""
    m = X @ w
    return 0.5 * float(w @ w) + float(c_row @ np.maximum(0.0, 1.0 - s * m))


def costs(s, c, weight):
    if weight == "balanced":
        n = len(s)
        n_pos = int((s > 0).sum())
        n_neg = n - n_pos
        return np.where(s > 0, c * n / (2 * n_pos), c * n / (2 * n_neg))
    return np.full(len(s), c)


def fit_sklearn(X, y, c, tol, max_iter, weight, runs):
    """The last model, wall times and thread CPU times (LIBLINEAR runs on the calling thread)."""
    times, cpu, model = [], [], None
    for _ in range(runs):
        model = LinearSVC(C=c, loss="hinge", dual=True, fit_intercept=False, tol=tol,
                          max_iter=max_iter, class_weight=weight, random_state=0)
        c0, t = time.thread_time(), time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c0)
    return model, times, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=os.path.join(ROOT, "target", "dcd_export"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="stopping tolerance of both solvers (LinearSVC's tol, DCD_TOL)")
    ap.add_argument("--no-build", action="store_true",
                    help="reuse DIR as written by an earlier export (its tolerance)")
    a = ap.parse_args()
    if not a.no_build:
        env = dict(os.environ, DCD_EXPORT=os.path.abspath(a.dir), DCD_TOL=repr(a.tol))
        subprocess.run(["cargo", "bench", "-p", "catclass-sgd", "--bench", "dcd"],
                       cwd=ROOT, env=env, check=True)
    tx, tc, vx, vc, dim = load(a.dir)
    ours = json.load(open(os.path.join(a.dir, "ours.json")))
    X64 = np.ascontiguousarray(tx, dtype=np.float64)
    V64 = vx.astype(np.float64)
    rows = []
    for sc in ours["scenarios"]:
        name, c, tol, max_iter = sc["name"], sc["c"], sc["tol"], sc["max_epochs"]
        weight = None if sc["class_weight"] == "none" else sc["class_weight"]
        w_ours = np.fromfile(os.path.join(a.dir, sc["weights"]), dtype="<f8")
        if name == "ovr37":
            k = int(tc.max()) + 1
            W = w_ours.reshape(k, dim)
            model, times, cpu = fit_sklearn(X64, tc, c, tol, max_iter, weight, a.runs)
            p_ours = p_skl = 0.0
            worst_class = 0.0
            for j in range(k):
                s = np.where(tc == j, 1.0, -1.0)
                cr = costs(s, c, sc["class_weight"])
                po, ps = primal(X64, s, W[j], cr), primal(X64, s, model.coef_[j], cr)
                p_ours += po
                p_skl += ps
                worst_class = max(worst_class, abs(po - ps) / abs(ps))
            print(f"ovr37: largest per-class |relative objective difference| {worst_class:.2e}")
            acc_ours = float((np.argmax(V64 @ W.T, axis=1) == vc).mean())
            acc_skl = float((model.predict(V64) == vc).mean())
            epochs_ours = max(sc["epochs"])
            epochs_skl = int(np.max(model.n_iter_))
        else:
            pos, neg = sc["pos"], sc["neg"]
            keep = np.ones(len(tc), bool) if neg is None else np.isin(tc, [pos, neg])
            keep_v = np.ones(len(vc), bool) if neg is None else np.isin(vc, [pos, neg])
            X = np.ascontiguousarray(X64[keep])
            y = (tc[keep] == pos).astype(np.float64)
            V, vy = V64[keep_v], (vc[keep_v] == pos).astype(np.float64)
            s = 2.0 * y - 1.0
            cr = costs(s, c, sc["class_weight"])
            model, times, cpu = fit_sklearn(X, y, c, tol, max_iter, weight, a.runs)
            w_skl = model.coef_.ravel()
            # LinearSVC orders the classes [0, 1], so coef_ is the positive class's direction.
            p_ours, p_skl = primal(X, s, w_ours, cr), primal(X, s, w_skl, cr)
            acc_ours = float(((V @ w_ours > 0) == (vy == 1)).mean())
            acc_skl = float(((V @ w_skl > 0) == (vy == 1)).mean())
            epochs_ours, epochs_skl = sc["epochs"], int(np.max(model.n_iter_))
        t_ours, t_skl = statistics.median(sc["times_s"]), statistics.median(times)
        c_ours, c_skl = statistics.median(sc["cpu_s"]), statistics.median(cpu)
        rows.append(dict(name=name, rows=sc["rows"], c=c, p_ours=p_ours, p_skl=p_skl,
                         rel=(p_ours - p_skl) / abs(p_skl), acc_ours=acc_ours, acc_skl=acc_skl,
                         t_ours=t_ours, t_skl=t_skl, speedup=t_skl / t_ours,
                         c_ours=c_ours, c_skl=c_skl, cpu_speedup=c_skl / c_ours,
                         epochs_ours=epochs_ours, epochs_skl=epochs_skl,
                         sgd=sc.get("mllib_sgd")))
    hdr = (f"{'scenario':<13} {'rows':>5} {'C':>9} {'P(ours)':>15} {'P(sklearn)':>15} "
           f"{'rel diff':>10} {'acc ours':>8} {'acc skl':>8} {'t ours s':>9} {'t skl s':>9} "
           f"{'speedup':>7} {'cpu ours':>8} {'cpu skl':>8} {'speedup':>7} {'ep ours':>7} "
           f"{'ep skl':>6}")
    print(hdr)
    for r in rows:
        print(f"{r['name']:<13} {r['rows']:>5} {r['c']:>9.3e} {r['p_ours']:>15.9e} "
              f"{r['p_skl']:>15.9e} {r['rel']:>10.2e} {r['acc_ours']:>8.4f} "
              f"{r['acc_skl']:>8.4f} {r['t_ours']:>9.4f} {r['t_skl']:>9.4f} "
              f"{r['speedup']:>7.2f} {r['c_ours']:>8.4f} {r['c_skl']:>8.4f} "
              f"{r['cpu_speedup']:>7.2f} {r['epochs_ours']:>7} {r['epochs_skl']:>6}")
    print("\nMLlib SGD (100 iterations, regParam 0.01) on the same objective:")
    for r in rows:
        if r["sgd"]:
            g = r["sgd"]
            print(f"  {r['name']:<13} P = {g['primal']:.6e} (DCD {r['p_ours']:.6e}), "
                  f"MLlib objective {g['mllib_objective']:.6e}, accuracy {g['accuracy']:.4f}, "
                  f"test positives {g['test_positives']}, {g['times_s'][0]:.3f} s")
    worst = max(abs(r["rel"]) for r in rows)
    tol = ours["scenarios"][0]["tol"]
    print(f"\ntol {tol:g}: largest |relative objective difference| {worst:.2e}")
    json.dump(rows, open(os.path.join(a.dir, "comparison.json"), "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
