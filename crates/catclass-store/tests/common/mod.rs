//! Test support: one tokio runtime for the test binary, and locations from short strings
//! (`s3://bucket/prefix` or a folder), as a caller would build them.
#![allow(dead_code)] // each test file uses some of them

use catclass_store::{Location, StoreError, StoreOptions};
use std::sync::OnceLock;

/// Runs `f` on the test binary's runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    })
    .block_on(f)
}

fn location(spec: &str, opts: &StoreOptions, create: bool) -> Result<Location, StoreError> {
    match spec.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            Location::s3(bucket, prefix, opts)
        }
        None => Location::local(spec, create),
    }
}

/// An existing location.
pub fn open(spec: &str, opts: &StoreOptions) -> Result<Location, StoreError> {
    location(spec, opts, false)
}

/// A location to write to (a folder is made).
pub fn create(spec: &str, opts: &StoreOptions) -> Result<Location, StoreError> {
    location(spec, opts, true)
}

/// Classes of the generated feature files.
pub const CLASSES: [&str; 3] = ["Abyssinian", "wheaten_terrier", "yorkshire_terrier"];

/// `n` feature files of `dim` float32 values, deterministic for `seed`, named like the seed's.
pub fn feature_files(n: usize, dim: usize, seed: u64) -> Vec<(String, String)> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            let values: Vec<f32> = (0..dim)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    ((state >> 40) as f32) / (1u64 << 24) as f32 * 4.0
                })
                .collect();
            let name = format!("{}_{}.jpg.json", CLASSES[i % CLASSES.len()], i + 1);
            (name, catclass_store::feature_json::to_json(&values))
        })
        .collect()
}

/// Every feature file at `spec`, read as a caller would.
pub async fn read_all(
    spec: &str,
    opts: &StoreOptions,
) -> Result<catclass_store::FeatureSet, StoreError> {
    let loc = open(spec, opts)?;
    let cat = catclass_store::FeatureCatalog::list(&loc).await?;
    cat.read(cat.entries(), opts.concurrency, &|_| {}).await
}

/// `files` read from a local folder: what every other store must give.
pub fn local_set(files: &[(String, String)]) -> catclass_store::FeatureSet {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    block_on(read_all(
        dir.path().to_str().unwrap(),
        &StoreOptions::default(),
    ))
    .unwrap()
}

/// `err` is shown on one line holding each of `must_contain`.
pub fn assert_one_line(err: &StoreError, must_contain: &[&str]) {
    let text = err.to_string();
    eprintln!("error as shown: {text}");
    assert!(!text.contains('\n'), "not one line: {text}");
    for s in must_contain {
        assert!(text.contains(s), "{text:?} lacks {s:?}");
    }
}
