//! Parsing the original program's feature files (`json.dumps` of a list of floats) with the
//! project's strict scanner, beside `serde_json` and `simd-json` on the same bytes, then reading
//! a whole folder of them (listing, reads and parses in parallel) through `FeatureSet::read`.
//!
//! `cargo bench -p catclass-store --bench feature_json` (criterion prints MB/s; the parse
//! group is one core). `CATCLASS_JSON_BENCH_FILES` (default 2000) sizes the folder.
//!
//! The values are VGG16-`fc2`-like: 4 096 per file, about half of them ReLU zeros (`0.0`),
//! the others `float32` numbers widened to `float64` and written as Python writes them (the
//! shortest decimal that reads back: 15 to 17 digits).

use catclass_store::{FeatureSet, Values, feature_json};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;

const DIM: usize = 4096;

fn row(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..DIM)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            if u < 0.5 {
                0.0
            } else {
                ((u - 0.5) * 8.0) as f32
            }
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let text = feature_json::to_json(&row(1)).into_bytes();
    let mut group = c.benchmark_group("one feature file (4096 values, one core)");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("catclass strict scanner", |b| {
        let mut out = Vec::with_capacity(DIM);
        b.iter(|| {
            feature_json::parse_into(black_box(&text), &mut out).unwrap();
            out.len()
        })
    });
    group.bench_function("serde_json Vec<f64> (float_roundtrip)", |b| {
        b.iter(|| {
            serde_json::from_slice::<Vec<f64>>(black_box(&text))
                .unwrap()
                .len()
        })
    });
    group.bench_function("simd-json Vec<f64>", |b| {
        let mut scratch = text.clone();
        b.iter(|| {
            // simd-json parses in place: every run starts from the file's bytes.
            scratch.copy_from_slice(&text);
            simd_json::serde::from_slice::<Vec<f64>>(black_box(&mut scratch))
                .unwrap()
                .len()
        })
    });
    group.finish();
}

fn folder(c: &mut Criterion) {
    let files: usize = std::env::var("CATCLASS_JSON_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut bytes = 0;
    for i in 0..files {
        let text = feature_json::to_json(&row(i as u64 + 1));
        bytes += text.len();
        let name = format!("breed{}_{}.jpg.json", i % 37, i + 1);
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group(format!("a folder of {files} feature files"));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("FeatureSet::read (all cores)", |b| {
        b.iter(|| {
            let set = runtime
                .block_on(FeatureSet::read(store.clone(), ""))
                .expect("read");
            assert!(matches!(set.values, Values::F32(_)));
            set.rows()
        })
    });
    group.finish();
}

criterion_group!(benches, parse, folder);
criterion_main!(benches);
