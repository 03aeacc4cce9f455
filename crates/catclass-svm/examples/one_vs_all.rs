//! One breed against all the others, and every breed at once, on rows held in memory, with
//! the metrics beside the accuracy: in one vs all the majority baseline is already high.
//!
//! `cargo run --release -p catclass-svm --example one_vs_all`

use catclass_svm::prelude::*;

/// 8 breeds x 40 rows x 32 features, row-major in a plain `Vec` (no ndarray needed).
fn features() -> (Vec<f32>, usize, Vec<String>) {
    let (breeds, per_breed, dim) = (8, 40, 32);
    let mut state = 11u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut x = Vec::with_capacity(breeds * per_breed * dim);
    let mut labels = Vec::new();
    for b in 0..breeds {
        for _ in 0..per_breed {
            x.extend((0..dim).map(|c| {
                let mean = if c % breeds == b { 1.0 } else { 0.3 };
                (mean + noise() - 0.5).max(0.0)
            }));
            labels.push(format!("breed_{b}"));
        }
    }
    (x, dim, labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, dim, labels) = features();
    let data = Dataset::from_slice(&x, dim, &labels)?;
    let (train, test) = data.split_stratified(0.7, 20);
    let pool = ThreadPool::new(0)?;
    let params = SvmSgd::params().check()?;

    let task = Task::OneVsRest("breed_3".into());
    let model = params.fit(&train, &task, &pool)?;
    if let Metrics::Binary(m) = model.evaluate(&test)?.metrics {
        println!(
            "{task}: accuracy {:.4}, majority baseline {:.4}, balanced accuracy {:.4}, precision {:.4}, recall {:.4}",
            m.accuracy, m.majority_baseline, m.balanced_accuracy, m.precision, m.recall
        );
    }

    // Every breed against the rest: 8 models trained in one data pass per iteration.
    let model = params.fit(&train, &Task::Multiclass, &pool)?;
    if let Metrics::Multiclass(m) = model.evaluate_on(&test, &pool)?.metrics {
        println!(
            "{}: accuracy {:.4}, majority baseline {:.4}, macro-F1 {:.4} over {} classes",
            Task::Multiclass,
            m.accuracy,
            m.majority_baseline,
            m.macro_f1,
            model.classes().len()
        );
    }
    Ok(())
}
