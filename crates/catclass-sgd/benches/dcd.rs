//! Dual coordinate descent on synthetic pets-like CNN features: 37 classes x 200 rows x 4096
//! non-negative sparse ReLU-like values (the generator of `testdata/mllib/make_golden.py`'s
//! `gen()`, re-stated with ChaCha12 draws), the first 140 rows of each class for training and
//! the last 60 for testing. MLlib's default `regParam = 0.01` gives `C = 1 / (0.01 n)`.
//!
//! * `cargo bench -p catclass-sgd --bench dcd`: criterion timings of one vs one (280 rows),
//!   one vs all (5180 rows, plain and balanced) and 37-class one vs rest, as 37 separate fits
//!   and as one joint fit ([`DcdParams::fit_one_vs_rest`]), also split over two threads; the
//!   test accuracy of both is printed first.
//! * `DCD_EXPORT=DIR cargo bench -p catclass-sgd --bench dcd`: instead writes the data set
//!   (`DIR/data.bin`), our fits (`DIR/ours.json`, weights in `DIR/<scenario>.f64`) and MLlib
//!   SGD's, for `benches/dcd_vs_sklearn.py` (repo root) to compare with scikit-learn.

use catclass_sgd::{
    ClassWeight, Dataset, DcdFit, DcdParams, LinearModel, Loss, Sequential, SgdParams,
};
use criterion::{Criterion, criterion_group};
use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Instant;

const CLASSES: usize = 37;
const PER_CLASS: usize = 200;
const TRAIN_PER_CLASS: usize = 140;
const DIM: usize = 4096;
const SEED: u64 = 2024;
const REG: f64 = 0.01;
const MAX_EPOCHS: usize = 1000;

struct Normal(ChaCha12Rng);

impl Normal {
    fn uniform(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }
    fn sample(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Rows and class indices: train set, then test set.
struct Data {
    train_x: Vec<f32>,
    train_c: Vec<u32>,
    test_x: Vec<f32>,
    test_c: Vec<u32>,
}

fn generate() -> Data {
    let mut g = Normal(ChaCha12Rng::seed_from_u64(SEED));
    let base: Vec<f64> = (0..DIM).map(|_| -0.35 + 0.6 * g.sample()).collect();
    let mut d = Data {
        train_x: Vec::with_capacity(CLASSES * TRAIN_PER_CLASS * DIM),
        train_c: Vec::new(),
        test_x: Vec::new(),
        test_c: Vec::new(),
    };
    for c in 0..CLASSES {
        let mean: Vec<f64> = base
            .iter()
            .map(|b| {
                let on = g.uniform() < 0.3;
                let shift = 0.45 * g.sample();
                if on { b + shift } else { *b }
            })
            .collect();
        for r in 0..PER_CLASS {
            let scale = (0.25 * g.sample()).exp() * 1.6;
            let (xs, cs) = if r < TRAIN_PER_CLASS {
                (&mut d.train_x, &mut d.train_c)
            } else {
                (&mut d.test_x, &mut d.test_c)
            };
            for m in &mean {
                xs.push(((m + g.sample()).max(0.0) * scale) as f32);
            }
            cs.push(c as u32);
        }
    }
    d
}

/// A binary problem: the rows of the wanted classes (all rows when `neg` is `None`), label 1
/// for `pos`.
fn binary(x: &[f32], cls: &[u32], pos: u32, neg: Option<u32>) -> (Vec<f32>, Vec<f64>) {
    let mut fx = Vec::new();
    let mut fy = Vec::new();
    for (r, &c) in cls.iter().enumerate() {
        if neg.is_none_or(|n| c == pos || c == n) {
            fx.extend_from_slice(&x[r * DIM..(r + 1) * DIM]);
            fy.push(if c == pos { 1.0 } else { 0.0 });
        }
    }
    (fx, fy)
}

/// The stopping tolerance: `DCD_TOL` if set, else 1e-4 (LinearSVC's default).
fn tol() -> f64 {
    std::env::var("DCD_TOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1e-4)
}

fn params(n: usize, weight: ClassWeight) -> DcdParams {
    DcdParams::builder()
        .reg_param(REG, n)
        .loss(Loss::Hinge)
        .tol(tol())
        .max_epochs(MAX_EPOCHS)
        .class_weight(weight)
        .check()
        .expect("valid parameters")
}

fn accuracy(model: &LinearModel, x: &[f32], y: &[f64]) -> (f64, usize) {
    let mut right = 0;
    let mut positives = 0;
    for (row, &label) in x.chunks_exact(DIM).zip(y) {
        let p = model.predict(row);
        positives += p as usize;
        right += usize::from(f64::from(p) == label);
    }
    (right as f64 / y.len() as f64, positives)
}

fn bench(c: &mut Criterion) {
    let d = generate();
    let mut group = c.benchmark_group("dcd");
    group.sample_size(10);
    let (ovo_x, ovo_y) = binary(&d.train_x, &d.train_c, 0, Some(1));
    let ovo = Dataset::new(&ovo_x, &ovo_y, DIM).unwrap();
    let p = params(ovo_y.len(), ClassWeight::None);
    group.bench_function("ovo_280x4096", |b| {
        b.iter(|| p.fit(black_box(&ovo)).unwrap())
    });
    let (ova_x, ova_y) = binary(&d.train_x, &d.train_c, 0, None);
    let ova = Dataset::new(&ova_x, &ova_y, DIM).unwrap();
    let p = params(ova_y.len(), ClassWeight::None);
    group.bench_function("ova_5180x4096", |b| {
        b.iter(|| p.fit(black_box(&ova)).unwrap())
    });
    let p = params(ova_y.len(), ClassWeight::Balanced);
    group.bench_function("ova_balanced_5180x4096", |b| {
        b.iter(|| p.fit(black_box(&ova)).unwrap())
    });
    let labels: Vec<Vec<f64>> = (0..CLASSES as u32)
        .map(|k| d.train_c.iter().map(|&c| f64::from(c == k)).collect())
        .collect();
    let p = params(d.train_c.len(), ClassWeight::None);
    let separate = || {
        labels
            .iter()
            .map(|y| p.fit(&Dataset::new(&d.train_x, y, DIM).unwrap()).unwrap())
            .collect::<Vec<_>>()
    };
    let classes: Vec<f64> = d.train_c.iter().map(|&c| f64::from(c)).collect();
    let all = Dataset::new(&d.train_x, &classes, DIM).unwrap();
    let joint = || p.fit_one_vs_rest(&all, CLASSES).unwrap();
    for (name, fits) in [("separate", separate()), ("joint", joint())] {
        eprintln!(
            "ovr37 {name}: test accuracy {:.4}, epochs {}..{}, all converged {}",
            ovr_accuracy(&fits, &d),
            fits.iter().map(|f| f.epochs).min().unwrap_or(0),
            fits.iter().map(|f| f.epochs).max().unwrap_or(0),
            fits.iter().all(|f| f.converged)
        );
    }
    group.bench_function("ovr37_5180x4096", |b| b.iter(|| black_box(separate())));
    group.bench_function("ovr37_joint_5180x4096", |b| b.iter(|| black_box(joint())));
    // Two threads, each one joint fit over a contiguous range of the classes (as catclass-svm
    // runs it on a pool of two).
    let halves = || {
        std::thread::scope(|s| {
            let parts: Vec<_> = [0..CLASSES / 2, CLASSES / 2..CLASSES]
                .map(|r| s.spawn(|| p.fit_one_vs_rest_models(&all, CLASSES, r).unwrap()))
                .into_iter()
                .collect();
            parts
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        halves(),
        joint(),
        "a split of the classes gives the same models"
    );
    group.bench_function("ovr37_joint_2threads_5180x4096", |b| {
        b.iter(|| black_box(halves()))
    });
    group.finish();
}

/// Test accuracy of one-vs-rest fits: each row goes to the class of the largest margin.
fn ovr_accuracy(fits: &[DcdFit], d: &Data) -> f64 {
    let mut right = 0;
    for (row, &c) in d.test_x.chunks_exact(DIM).zip(&d.test_c) {
        let best = fits
            .iter()
            .enumerate()
            .map(|(k, f)| (k, f.model.margin(row)))
            .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
        right += usize::from(best.0 as u32 == c);
    }
    right as f64 / d.test_c.len() as f64
}

criterion_group!(benches, bench);

fn write_f32(out: &mut Vec<u8>, v: &[f32]) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn write_u32(out: &mut Vec<u8>, v: &[u32]) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn write_weights(path: &std::path::Path, models: &[&LinearModel]) {
    let mut bytes = Vec::new();
    for m in models {
        for w in &m.weights {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).expect("write weights");
}

/// CPU time of this thread in seconds (Linux `schedstat`; NaN where unreadable). The machine
/// may be shared, so wall time alone can mislead.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 * 1e-9)
}

/// Times `f` `runs` times; returns its last result, every wall time and every thread CPU
/// time, in seconds.
fn timed<R>(runs: usize, mut f: impl FnMut() -> R) -> (R, Vec<f64>, Vec<f64>) {
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let c = thread_cpu_s();
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed().as_secs_f64());
        cpu.push(thread_cpu_s() - c);
        last = Some(r);
    }
    (last.expect("at least one run"), times, cpu)
}

fn export(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("create export dir");
    let d = generate();
    let mut bytes = Vec::new();
    for v in [
        0x3144_4344u32, // "DCD1"
        d.train_c.len() as u32,
        d.test_c.len() as u32,
        DIM as u32,
        CLASSES as u32,
    ] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_f32(&mut bytes, &d.train_x);
    write_u32(&mut bytes, &d.train_c);
    write_f32(&mut bytes, &d.test_x);
    write_u32(&mut bytes, &d.test_c);
    std::fs::write(dir.join("data.bin"), bytes).expect("write data");
    let runs = 5;
    let mut scenarios: Vec<Value> = Vec::new();
    let binary_cases: [(&str, Option<u32>, ClassWeight, &str); 3] = [
        ("ovo", Some(1), ClassWeight::None, "none"),
        ("ova", None, ClassWeight::None, "none"),
        ("ova_balanced", None, ClassWeight::Balanced, "balanced"),
    ];
    for (name, neg, weight, weight_name) in binary_cases {
        let (x, y) = binary(&d.train_x, &d.train_c, 0, neg);
        let (tx, ty) = binary(&d.test_x, &d.test_c, 0, neg);
        let set = Dataset::new(&x, &y, DIM).unwrap();
        let p = params(y.len(), weight);
        let (fit, times, cpu) = timed(runs, || p.fit(&set).unwrap());
        let again = p.fit(&set).unwrap();
        assert_eq!(fit, again, "a fit must repeat bit for bit");
        let (acc, positives) = accuracy(&fit.model, &tx, &ty);
        write_weights(&dir.join(format!("{name}.f64")), &[&fit.model]);
        let sgd = SgdParams::builder().reg_param(REG).check().unwrap();
        let (sgd_fit, sgd_times, _) = timed(1, || sgd.fit(&set, &Sequential).unwrap());
        let (sgd_acc, sgd_pos) = accuracy(&sgd_fit.model, &tx, &ty);
        let sgd_obj = p.primal_objective(&set, &sgd_fit.model).unwrap();
        scenarios.push(json!({
            "name": name, "pos": 0, "neg": neg, "class_weight": weight_name,
            "rows": y.len(), "c": p.c(), "tol": tol(), "max_epochs": MAX_EPOCHS,
            "times_s": times, "cpu_s": cpu, "epochs": fit.epochs, "converged": fit.converged,
            "primal": fit.primal_objective, "dual": fit.dual_objective,
            "gap": fit.duality_gap, "mllib_objective": fit.mllib_objective(),
            "support_vectors": fit.support_vectors,
            "accuracy": acc, "test_positives": positives, "test_rows": ty.len(),
            "weights": format!("{name}.f64"),
            "mllib_sgd": {
                "times_s": sgd_times, "primal": sgd_obj, "mllib_objective": sgd_obj * REG,
                "accuracy": sgd_acc, "test_positives": sgd_pos, "updates": sgd_fit.updates,
            },
        }));
        eprintln!(
            "{name}: {} epochs, primal {:.9e}, gap {:.3e}, accuracy {acc:.4}, times {times:?}",
            fit.epochs, fit.primal_objective, fit.duality_gap
        );
    }
    // 37-class one vs rest: 37 fits, prediction = the class of the largest margin.
    let labels: Vec<Vec<f64>> = (0..CLASSES as u32)
        .map(|k| d.train_c.iter().map(|&c| f64::from(c == k)).collect())
        .collect();
    let p = params(d.train_c.len(), ClassWeight::None);
    let (fits, times, cpu) = timed(runs, || {
        labels
            .iter()
            .map(|y| p.fit(&Dataset::new(&d.train_x, y, DIM).unwrap()).unwrap())
            .collect::<Vec<_>>()
    });
    let acc = ovr_accuracy(&fits, &d);
    write_weights(
        &dir.join("ovr37.f64"),
        &fits.iter().map(|f| &f.model).collect::<Vec<_>>(),
    );
    let primal: Vec<f64> = fits.iter().map(|f| f.primal_objective).collect();
    scenarios.push(json!({
        "name": "ovr37", "class_weight": "none", "rows": d.train_c.len(), "c": p.c(),
        "tol": tol(), "max_epochs": MAX_EPOCHS, "times_s": times, "cpu_s": cpu,
        "epochs": fits.iter().map(|f| f.epochs).collect::<Vec<_>>(),
        "converged": fits.iter().all(|f| f.converged),
        "primal": primal,
        "gap": fits.iter().map(|f| f.duality_gap).collect::<Vec<_>>(),
        "accuracy": acc, "test_rows": d.test_c.len(), "weights": "ovr37.f64",
    }));
    eprintln!("ovr37: accuracy {acc:.4}, times {times:?}");
    let out = json!({ "dim": DIM, "seed": SEED, "reg": REG, "scenarios": scenarios });
    std::fs::write(
        dir.join("ours.json"),
        serde_json::to_vec_pretty(&out).unwrap(),
    )
    .expect("write ours.json");
}

fn main() {
    if let Some(dir) = std::env::var_os("DCD_EXPORT") {
        export(std::path::Path::new(&dir));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
