//! Time per stage of extraction on the shipped photos: decode, preprocess (each preset), model
//! (EfficientNet-Lite0, layer `features`, batch 1 and 8, one calling thread) with tract and,
//! with the cargo feature `burn`, with burn (`flex` CPU backend), and with the cargo feature
//! `ort`, with onnxruntime on one thread (the library from `ORT_DYLIB_PATH`).
//!
//! cargo bench -p catclass-features --bench stages [--features burn] [--features ort]

use std::path::Path;
use std::sync::Arc;

use catclass_features::{
    DEFAULT_LAYER, DecodeLimits, FeatureBackend, Layout, ModelSource, Preset, TractBackend,
    decode_image,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn testdata(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn stages(c: &mut Criterion) {
    let jpeg = std::fs::read(testdata("images/darknet-dog.jpg")).unwrap();
    let png = std::fs::read(testdata("images/chelsea.png")).unwrap();
    let limits = DecodeLimits::default();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("jpeg 768x576", |b| {
        b.iter(|| decode_image(&jpeg, Path::new("dog.jpg"), &limits).unwrap())
    });
    g.bench_function("png 451x300", |b| {
        b.iter(|| decode_image(&png, Path::new("chelsea.png"), &limits).unwrap())
    });
    g.finish();

    let img = decode_image(&jpeg, Path::new("dog.jpg"), &limits).unwrap();
    let mut g = c.benchmark_group("preprocess 768x576");
    g.throughput(Throughput::Elements(1));
    for p in Preset::ALL {
        let pre = p.preprocess();
        g.bench_function(p.name(), |b| b.iter(|| pre.apply(&img, Layout::Nchw)));
    }
    g.finish();

    let input = Preset::EfficientNetLite
        .preprocess()
        .apply(&img, Layout::Nchw);
    let tract = |plan_batch: usize, tuned: bool| {
        let t = TractBackend::load(&ModelSource::Default, Some(DEFAULT_LAYER))
            .unwrap()
            .with_plan_batch(plan_batch)
            .with_tuning(tuned);
        for batch in [1usize, 8] {
            t.prepare(batch).unwrap();
        }
        Arc::new(t)
    };
    // tract runs a batch as single images by default; "one plan of 8" is one batched run;
    // "untuned" is tract's own plan, without catclass's rewrites (`catclass-tract-kernels`).
    let backends: Vec<(&str, Arc<dyn FeatureBackend>)> = vec![
        ("tract", tract(1, true)),
        ("tract untuned", tract(1, false)),
        ("tract one plan of 8", tract(8, true)),
        #[cfg(feature = "burn")]
        (
            "burn",
            Arc::new(
                catclass_features::BurnBackend::load(&ModelSource::Default, Some(DEFAULT_LAYER))
                    .unwrap(),
            ),
        ),
        #[cfg(feature = "ort")]
        ("ort", {
            let o = catclass_features::OrtBackend::builder()
                .with_threads(1)
                .load(&ModelSource::Default, Some(DEFAULT_LAYER))
                .unwrap_or_else(|e| panic!("{e}"));
            o.prepare(1).unwrap();
            Arc::new(o)
        }),
    ];
    for (label, backend) in backends {
        let mut g = c.benchmark_group(format!("model efficientnet-lite0 {label}"));
        g.sample_size(10);
        for batch in [1usize, 8] {
            let x: Vec<f32> = std::iter::repeat_n(&input, batch)
                .flatten()
                .copied()
                .collect();
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_function(format!("batch {batch}"), |b| {
                b.iter(|| backend.extract(&x, batch).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
