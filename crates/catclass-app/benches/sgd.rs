//! MLlib-exact SVM-SGD, 100 iterations, on synthetic pets features (37 breeds x 200 x 4096,
//! split 70/30 per class): one vs all (5180 training rows) and one vs one (280 rows), beside
//! the numpy restatement of the same loop (`ref_sgd` in testdata/mllib/make_golden.py) timed
//! on the same rows in the same run by `benches/ref_sgd.py`, which also checks that numpy's
//! weights equal ours bit for bit.
//!
//!
//! Group `multiclass_100_iterations`: one vs rest over all 37 breeds on all 7400 x 4096 rows
//! (`multiclass_ova`, 37 models trained together) beside one binary one-vs-all fit on the same
//! rows (`binary_ova`), full batch, in the same run (within 3x is the target).
//!
//! `cargo bench -p catclass-svm --bench sgd`

use catclass_app::seed::task_from_args;
use catclass_app::synthetic::pets_like;
use catclass_svm::sgd::{Dataset, SgdParams};
use catclass_svm::split::stratified_split;
use catclass_svm::{Executor, ThreadPool};
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::PathBuf;
use std::time::Duration;

struct Problem {
    name: &'static str,
    x: Vec<f32>,
    y: Vec<f64>,
    dim: usize,
}

fn problems() -> Vec<Problem> {
    let data = pets_like(20, 37, 200, 4096);
    let split = stratified_split(&data.classes, 0.7, 20);
    let mut out = Vec::new();
    for (name, task) in [
        ("one_vs_all", task_from_args("wheaten_terrier", "None")),
        (
            "one_vs_one",
            task_from_args("wheaten_terrier", "yorkshire_terrier"),
        ),
    ] {
        let rows: Vec<usize> = split
            .train
            .iter()
            .copied()
            .filter(|r| task.includes(&data.classes[*r]))
            .collect();
        let x = rows
            .iter()
            .flat_map(|r| data.row(*r).iter().copied())
            .collect();
        let positive = task.positive().unwrap_or_default();
        let y = rows
            .iter()
            .map(|r| f64::from(u8::from(data.classes[*r] == positive)))
            .collect();
        out.push(Problem {
            name,
            x,
            y,
            dim: data.dim,
        });
    }
    out
}

fn numpy_reference(p: &Problem, weights: &[f64]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data folder");
    let stem = dir.join(p.name);
    let x: Vec<u8> = p.x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let y: Vec<u8> = p.y.iter().flat_map(|v| v.to_le_bytes()).collect();
    let w: Vec<u8> = weights.iter().flat_map(|v| v.to_le_bytes()).collect();
    for (ext, bytes) in [("x.f32", x), ("y.f64", y), ("w.f64", w)] {
        std::fs::write(stem.with_extension(ext), bytes).expect("bench data file");
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/ref_sgd.py");
    match std::process::Command::new("python3")
        .arg(script)
        .arg(&stem)
        .arg(p.dim.to_string())
        .output()
    {
        Ok(out) if out.status.success() => print!("{}", String::from_utf8_lossy(&out.stdout)),
        Ok(out) => println!(
            "numpy reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("numpy reference not run (python3: {e})"),
    }
}

fn bench(c: &mut Criterion) {
    let pool = ThreadPool::new(0).expect("thread pool");
    let params = SgdParams::builder()
        .iterations(100)
        .check()
        .expect("params");
    let mut group = c.benchmark_group("mllib_sgd_100_iterations");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for p in problems() {
        let data = Dataset::new(&p.x, &p.y, p.dim).expect("dataset");
        let fit = params.fit(&data, &pool).expect("fit");
        numpy_reference(&p, &fit.model.weights);
        let id = format!(
            "{}_{}x{}_{}threads",
            p.name,
            p.y.len(),
            p.dim,
            pool.threads()
        );
        group.bench_function(id, |b| b.iter(|| params.fit(&data, &pool).expect("fit")));
    }
    group.finish();
    multiclass(c, &pool, &params);
}

/// One vs rest (37 models) against one binary one-vs-all fit, same 7400 rows, same run.
fn multiclass(c: &mut Criterion, pool: &ThreadPool, params: &SgdParams) {
    let data = pets_like(20, 37, 200, 4096);
    let mut names = data.classes.clone();
    names.sort();
    names.dedup();
    let index = |c: &str| {
        names
            .binary_search_by(|n| n.as_str().cmp(c))
            .expect("class")
    };
    let classes: Vec<f64> = data.classes.iter().map(|c| index(c) as f64).collect();
    let positive = index("wheaten_terrier") as f64;
    let binary: Vec<f64> = classes.iter().map(|c| f64::from(*c == positive)).collect();
    let rows = classes.len();
    let mut group = c.benchmark_group("multiclass_100_iterations");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    let one = Dataset::new(&data.values, &binary, data.dim).expect("dataset");
    group.bench_function(
        format!("binary_ova_{rows}x{}_{}threads", data.dim, pool.threads()),
        |b| b.iter(|| params.fit(&one, pool).expect("fit")),
    );
    let all = Dataset::new(&data.values, &classes, data.dim).expect("dataset");
    group.bench_function(
        format!(
            "multiclass_ova_{}classes_{rows}x{}_{}threads",
            names.len(),
            data.dim,
            pool.threads()
        ),
        |b| {
            b.iter(|| {
                params
                    .fit_one_vs_rest(&all, names.len(), pool)
                    .expect("fit")
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
