//! One breed against another with the library API (no CLI): generated features are put in an
//! in-memory store, then `train` splits, fits MLlib's SVM-SGD and evaluates.
//!
//! `cargo run --release --example one_vs_one`

use catclass_svm::store::{Location, block_on};
use catclass_svm::synthetic::pets_like;
use catclass_svm::{Evaluation, SgdParams, Solver, StoreOptions, Task, ThreadPool, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 37 breeds x 60 images x 512 features, generated (not real photos).
    let data = pets_like(7, 37, 60, 512);
    let features = Location::create("memory://example/features", &StoreOptions::default())?;
    block_on(data.write_json_files(&features, 64))?;

    let cfg = TrainConfig {
        features: "memory://example/features".into(),
        task: Task::from_args("wheaten_terrier", "yorkshire_terrier"),
        evaluation: Evaluation::Split {
            train_fraction: 0.7,
        },
        seed: 20,
        solver: Solver::MllibSgd(SgdParams::builder().iterations(100).check()?),
        store: StoreOptions::default(),
    };
    let outcome = catclass_svm::train(&cfg, &ThreadPool::new(0)?, &|_| {})?;
    let r = &outcome.report;
    println!("{}", outcome.resultat_txt().trim_end());
    println!(
        "balanced accuracy {:.4}, F1 {:.4}, {} updates",
        r.balanced_accuracy, r.f1, r.fit.updates
    );
    Ok(())
}
