//! The whole `catclass train` process, one vs all, on 7 400 seed JSON feature files of 4 096
//! numbers (generated once under target/bench-data/pets-json), and the feature loading alone;
//! the same rows as one shard (target/bench-data/pets-shard/features.safetensors).
//!
//! `cargo bench -p catclass-cli --bench train_process`

use catclass_app::blocking::block_on;
use catclass_app::synthetic::pets_like;
use catclass_svm::store::shard::{self, SHARD_FILE};
use catclass_svm::store::{FeatureCatalog, StoreOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn dataset() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data/pets-json");
    let marker = dir.join("complete");
    if !marker.exists() {
        let loc = catclass_app::location::create(
            dir.to_str().expect("utf-8 path"),
            &StoreOptions::default(),
        )
        .expect("folder");
        block_on(pets_like(20, 37, 200, 4096).write_json_files(&loc, 64)).expect("write features");
        std::fs::write(&marker, "7400").expect("marker");
    }
    dir
}

/// The same rows as [`dataset`], as a shard alone in its folder.
fn shard_dataset() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data/pets-shard");
    if !dir.join(SHARD_FILE).exists() {
        let loc = catclass_app::location::create(
            dir.to_str().expect("utf-8 path"),
            &StoreOptions::default(),
        )
        .expect("folder");
        let pets = pets_like(20, 37, 200, 4096);
        block_on(shard::write(
            &loc,
            SHARD_FILE,
            &pets.names,
            pets.dim,
            &pets.values,
            None,
        ))
        .expect("write shard");
    }
    dir
}

fn bench(c: &mut Criterion) {
    let dir = dataset();
    let shard_spec = shard_dataset().to_str().expect("utf-8 path").to_string();
    let spec = dir.to_str().expect("utf-8 path").to_string();
    let out = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("catclass_train_process");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    for (name, folder) in [
        ("load_7400_json_files", &spec),
        ("load_7400_rows_shard", &shard_spec),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                block_on(async {
                    let loc = catclass_app::location::open(folder, &StoreOptions::default())?;
                    let cat = FeatureCatalog::list(&loc).await?;
                    cat.read(cat.entries(), 64, &|_| {}).await
                })
                .expect("load")
            })
        });
    }
    for (name, b_class, folder) in [
        ("one_vs_all_7400_files", "None", &spec),
        ("one_vs_all_7400_rows_shard", "None", &shard_spec),
        ("one_vs_one_7400_files", "yorkshire_terrier", &spec),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let status = Command::new(env!("CARGO_BIN_EXE_catclass"))
                    .args(["train", folder, "wheaten_terrier", b_class, "--out"])
                    .arg(out.path())
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("run catclass");
                assert!(status.success());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
