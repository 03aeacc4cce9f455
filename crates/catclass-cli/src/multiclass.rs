//! `catclass train <FEATURES> --multiclass`: one vs rest over every class.

use crate::progress::StageBar;
use crate::train::TrainArgs;
use anyhow::{Context, Result};
use catclass_svm::{Evaluation, Location, MulticlassConfig, MulticlassOutcome, ThreadPool};

/// Runs `catclass train --multiclass` (the arguments were checked by `train::run`).
pub fn run(args: &TrainArgs) -> Result<()> {
    let cfg = MulticlassConfig {
        features: args.features.clone(),
        evaluation: match &args.test_features {
            Some(t) => Evaluation::TestSet(t.clone()),
            None => Evaluation::Split {
                train_fraction: args.train_fraction,
            },
        },
        seed: args.seed,
        solver: args.solver.solver(args.seed)?,
        store: args.run.store(),
    };
    let pool = ThreadPool::new(args.run.threads)?;
    let out = Location::create(&args.out, &cfg.store)?;
    let bar = StageBar::new();
    let outcome = catclass_svm::train_multiclass(&cfg, &pool, &|s| bar.update(s))?;
    catclass_svm::store::block_on(outcome.write(&out))
        .with_context(|| format!("writing results to {out}"))?;
    print_summary(&outcome, &out);
    Ok(())
}

/// The human summary of a multiclass run.
pub fn print_summary(o: &MulticlassOutcome, out: &Location) {
    let r = &o.report;
    print!("{}", o.report_text());
    let converged = r.models.iter().filter(|m| m.converged).count();
    let updates = r.models.iter().map(|m| m.updates);
    println!(
        "{}: {} models, {}..{} updates each, {} converged; {} threads",
        r.run.solver,
        r.models.len(),
        updates.clone().min().unwrap_or(0),
        updates.max().unwrap_or(0),
        converged,
        r.run.threads
    );
    println!(
        "time: load {:.3} s, train {:.3} s, evaluate {:.3} s",
        r.run.timings.load_seconds, r.run.timings.train_seconds, r.run.timings.eval_seconds
    );
    println!(
        "wrote {}, {}, {}; confusion matrix plots {}, {}",
        out.describe("report.txt"),
        out.describe("report.json"),
        out.describe("model.json"),
        out.describe("confusion.svg"),
        out.describe("confusion.png")
    );
}
