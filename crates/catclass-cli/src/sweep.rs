//! `catclass sweep <FEATURES> <A> <B|None> | --multiclass`: metrics against the training share.

use crate::output::{Output, outln, paths};
use crate::train::{RunArgs, SolverArgs};
use anyhow::{Context, Result};
use catclass_app::seed::task_from_args;
use catclass_app::sweep::{SweepConfig, SweepPoint, band, sweep};
use catclass_svm::store::documents::write_text;
use catclass_svm::{Executor, Task, ThreadPool};
use clap::Args;
use serde::Serialize;
use std::time::Instant;

/// Arguments of `catclass sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Feature files: a folder, file://, s3://bucket/prefix.
    pub features: String,
    /// The positive class (not with --multiclass).
    #[arg(required_unless_present = "multiclass", conflicts_with = "multiclass")]
    pub class_a: Option<String>,
    /// The negative class, or `None` for one vs all (not with --multiclass).
    #[arg(required_unless_present = "multiclass")]
    pub class_b: Option<String>,
    /// One vs rest over every class.
    #[arg(long)]
    pub multiclass: bool,
    /// Training shares.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"
    )]
    pub fractions: Vec<f64>,
    /// Repeats per share (seeds SEED, SEED+1, ...).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// First seed.
    #[arg(long, default_value_t = 20)]
    pub seed: u64,
    /// Where to write sweep.csv (and the plots).
    #[arg(long, default_value = ".")]
    pub out: String,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `catclass sweep`.
pub fn run(args: SweepArgs, output: Output) -> Result<()> {
    let task = match (&args.class_a, &args.class_b, args.multiclass) {
        (_, _, true) => Task::Multiclass,
        (Some(a), Some(b), false) => task_from_args(a, b),
        _ => anyhow::bail!("CLASS_A and CLASS_B are required without --multiclass"),
    };
    let store = args.run.store();
    let cfg = SweepConfig {
        features: args.features.clone(),
        task,
        fractions: args.fractions.clone(),
        repeats: args.repeats,
        seed: args.seed,
        solver: args.solver.solver(args.seed)?,
        store: store.clone(),
    };
    let pool = ThreadPool::new(args.run.threads)?;
    let summary = execute(&cfg, &pool, &args.out)?;
    output.report(&summary, || print_summary(&summary, &cfg.fractions))
}

/// What `catclass sweep` did: its `--json` summary.
#[derive(Debug, Serialize)]
pub struct SweepSummary {
    /// The classes and settings.
    pub title: String,
    /// One per run, in (share, seed) order: the rows of sweep.csv.
    pub points: Vec<SweepPoint>,
    /// Wall-clock seconds of the runs.
    pub seconds: f64,
    /// Worker threads.
    pub threads: usize,
    /// The files written.
    pub written: Vec<String>,
}

/// Runs the sweep of `cfg` on `pool` and writes `sweep.csv`, `sweep.svg` and `sweep.png` into
/// `out`.
pub fn execute(cfg: &SweepConfig, pool: &ThreadPool, out: &str) -> Result<SweepSummary> {
    let t = Instant::now();
    let result = sweep(cfg, pool)?;
    let seconds = t.elapsed().as_secs_f64();
    let out = catclass_app::location::create(out, &cfg.store)?;
    let chart = catclass_app::plot::sweep_chart(&result)?;
    catclass_app::blocking::block_on(async {
        write_text(&out, "sweep.csv", &result.to_csv()).await?;
        write_text(&out, "sweep.svg", &chart.svg).await?;
        out.put("sweep.png", chart.png).await
    })
    .with_context(|| format!("writing results to {out}"))?;
    Ok(SweepSummary {
        title: result.title,
        points: result.points,
        seconds,
        threads: pool.threads(),
        written: paths(&out, &["sweep.csv", "sweep.svg", "sweep.png"]),
    })
}

/// The table of a sweep at `shares` and where its files are.
pub fn print_summary(s: &SweepSummary, shares: &[f64]) {
    outln!("{}", s.title);
    outln!("share  accuracy (mean, min..max)   balanced accuracy   F1   baseline");
    for share in shares {
        let stat = |f: fn(&SweepPoint) -> f64| band(&s.points, *share, f);
        let (a, alo, ahi) = stat(|p| p.accuracy);
        let (b, _, _) = stat(|p| p.balanced_accuracy);
        let (f, _, _) = stat(|p| p.f1);
        let (base, _, _) = stat(|p| p.majority_baseline);
        outln!("{share:>5}  {a:.4} ({alo:.4}..{ahi:.4})       {b:.4}            {f:.4}  {base:.4}");
    }
    outln!(
        "{} runs in {:.3} s on {} threads; wrote {}",
        s.points.len(),
        s.seconds,
        s.threads,
        s.written.join(", ")
    );
}
