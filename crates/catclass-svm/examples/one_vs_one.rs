//! One breed against another on rows held in memory: split, fit MLlib's SVM-SGD, evaluate,
//! predict one row. No files, no URLs.
//!
//! `cargo run --release -p catclass-svm --example one_vs_one`

use catclass_svm::prelude::*;
use ndarray::Array2;

/// 3 breeds x 60 rows x 64 non-negative features: each breed its own mean, plus noise (a
/// stand-in for the CNN features you hold).
fn features() -> (Array2<f32>, Vec<&'static str>) {
    let breeds = ["wheaten_terrier", "yorkshire_terrier", "pug"];
    let mut state = 7u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let x = Array2::from_shape_fn((breeds.len() * 60, 64), |(row, col)| {
        let breed = row / 60;
        let mean = if col % breeds.len() == breed {
            1.0
        } else {
            0.2
        };
        (mean + 0.8 * (noise() - 0.5)).max(0.0)
    });
    let labels = (0..x.nrows()).map(|row| breeds[row / 60]).collect();
    (x, labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, labels) = features();
    let data = Dataset::from_rows(x.view(), labels)?;
    let (train, test) = data.split_stratified(0.7, 20);
    let task = Task::OneVsOne("wheaten_terrier".into(), "yorkshire_terrier".into());
    let model =
        SvmSgd::params()
            .iterations(100)
            .check()?
            .fit(&train, &task, &ThreadPool::new(0)?)?;

    let report = model.evaluate(&test)?;
    let Metrics::Binary(m) = &report.metrics else {
        unreachable!("a one-vs-one task gives binary metrics")
    };
    println!(
        "{task}: accuracy {:.4} on {} test rows",
        m.accuracy, report.rows
    );
    println!(
        "  balanced accuracy {:.4}, F1 {:.4}, {} rows of other breeds left out, {} updates",
        m.balanced_accuracy,
        m.f1,
        report.rows_left_out,
        model.fits()[0].updates
    );
    let row = x.row(0);
    let row = row
        .as_slice()
        .expect("rows of a standard-layout array are contiguous");
    println!(
        "  first row: {:?}, margin {:+.4}",
        model.predict(row),
        model.decision(row)
    );
    Ok(())
}
