//! One breed against all the others, with the library API, and the honest metrics beside the
//! accuracy: in one vs all the majority baseline is already about 97 %.
//!
//! `cargo run --release --example one_vs_all`

use catclass_svm::store::{Location, block_on};
use catclass_svm::synthetic::pets_like;
use catclass_svm::{Evaluation, SgdParams, Solver, StoreOptions, Task, ThreadPool, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = pets_like(11, 37, 40, 512);
    let features = Location::create("memory://example/all", &StoreOptions::default())?;
    block_on(data.write_json_files(&features, 64))?;

    let cfg = TrainConfig {
        features: "memory://example/all".into(),
        task: Task::from_args("wheaten_terrier", "None"),
        evaluation: Evaluation::Split {
            train_fraction: 0.7,
        },
        seed: 20,
        solver: Solver::MllibSgd(SgdParams::builder().check()?),
        store: StoreOptions::default(),
    };
    let outcome = catclass_svm::train(&cfg, &ThreadPool::new(0)?, &|_| {})?;
    let r = &outcome.report;
    println!("{}", outcome.resultat_txt().trim_end());
    println!(
        "majority baseline {:.4}, balanced accuracy {:.4}, precision {:.4}, recall {:.4}",
        r.majority_baseline, r.balanced_accuracy, r.precision, r.recall
    );
    for w in &r.run.warnings {
        println!("warning: {w}");
    }
    Ok(())
}
