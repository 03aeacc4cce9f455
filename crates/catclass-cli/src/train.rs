//! `catclass train <FEATURES> <CLASS_A> <CLASS_B | None>`.

use crate::progress::StageBar;
use anyhow::{Context, Result};
use catclass_svm::{
    Evaluation, Executor, Location, MiniBatchSampling, SgdParams, StoreOptions, Task, ThreadPool,
    TrainConfig, TrainOutcome,
};
use clap::{Args, ValueEnum};

/// Where the passes of `catclass train` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorKind {
    /// One process, a thread pool.
    Threads,
    /// MPI ranks under `mpirun`, each reading its own shard (binary built with `--features mpi`).
    Mpi,
}

/// Arguments of `catclass train` (the seed's three, then MLlib's settings).
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Feature files: a folder, file://, s3://bucket/prefix or memory://name.
    pub features: String,
    /// The positive class (label 1), matched exactly.
    pub class_a: String,
    /// The negative class, or `None` for one vs all.
    pub class_b: String,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Share of each class used for training (the rest is the test set).
    #[arg(long, default_value_t = 0.7)]
    pub train_fraction: f64,
    /// Seed of the split and of the mini-batch sampler.
    #[arg(long, default_value_t = 20)]
    pub seed: u64,
    /// Train on all of FEATURES and test on this location instead of splitting.
    #[arg(long)]
    pub test_features: Option<String>,
    /// Where to write resultat.txt, report.json and model.json.
    #[arg(long, default_value = ".")]
    pub out: String,
    #[command(flatten)]
    pub run: RunArgs,
    /// `threads` (one process) or `mpi` (every rank started by mpirun reads its own shard; the
    /// model is the same bit for bit for any number of ranks).
    #[arg(long, value_enum, default_value_t = ExecutorKind::Threads)]
    pub executor: ExecutorKind,
}

/// MLlib `SVMWithSGD` settings (PySpark's defaults).
#[derive(Debug, Args, Clone)]
pub struct SolverArgs {
    /// Weight updates (numIterations).
    #[arg(long, default_value_t = 100)]
    pub iterations: usize,
    /// Initial step size (stepSize); pass i uses step / sqrt(i).
    #[arg(long, default_value_t = 1.0)]
    pub step: f64,
    /// L2 regularisation (regParam).
    #[arg(long, default_value_t = 0.01)]
    pub reg_param: f64,
    /// Share of rows per pass (miniBatchFraction).
    #[arg(long, default_value_t = 1.0)]
    pub mini_batch_fraction: f64,
    /// Stop when the weights move less than this, relatively (convergenceTol).
    #[arg(long, default_value_t = 0.001)]
    pub convergence_tol: f64,
    /// Fit an intercept (MLlib's bias feature, starting at 1.0).
    #[arg(long)]
    pub intercept: bool,
    /// Sample mini-batches exactly as Spark does over P contiguous partitions of the training
    /// files sorted by name (default: our own seeded sampler).
    #[arg(long, value_name = "P")]
    pub mllib_partitions: Option<usize>,
}

impl SolverArgs {
    /// Checked solver parameters.
    pub fn params(&self, seed: u64) -> Result<SgdParams> {
        let sampling = match self.mllib_partitions {
            Some(partitions) => MiniBatchSampling::Spark { partitions },
            None => MiniBatchSampling::ChaCha { seed },
        };
        Ok(SgdParams::builder()
            .iterations(self.iterations)
            .step(self.step)
            .reg_param(self.reg_param)
            .mini_batch_fraction(self.mini_batch_fraction)
            .convergence_tol(self.convergence_tol)
            .intercept(self.intercept)
            .sampling(sampling)
            .check()?)
    }
}

/// Where the work runs and how data is reached.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Worker threads (0 = one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// S3 endpoint URL (overrides AWS_ENDPOINT_URL), e.g. http://127.0.0.1:9000.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// Maximum reads in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

impl RunArgs {
    /// Store options from the flags.
    pub fn store(&self) -> StoreOptions {
        StoreOptions {
            s3_endpoint: self.s3_endpoint.clone(),
            concurrency: self.concurrency.max(1),
        }
    }
}

/// Runs `catclass train`.
pub fn run(args: TrainArgs) -> Result<()> {
    match args.executor {
        ExecutorKind::Threads => {
            let cfg = config(&args)?;
            let pool = ThreadPool::new(args.run.threads)?;
            run_on(&args, &cfg, &pool)
        }
        ExecutorKind::Mpi => run_mpi(&args),
    }
}

/// The run's configuration from the arguments.
fn config(args: &TrainArgs) -> Result<TrainConfig> {
    if !(args.train_fraction > 0.0 && args.train_fraction < 1.0) && args.test_features.is_none() {
        anyhow::bail!(
            "--train-fraction must be in (0, 1), got {}",
            args.train_fraction
        );
    }
    Ok(TrainConfig {
        features: args.features.clone(),
        task: Task::from_args(&args.class_a, &args.class_b),
        evaluation: match &args.test_features {
            Some(t) => Evaluation::TestSet(t.clone()),
            None => Evaluation::Split {
                train_fraction: args.train_fraction,
            },
        },
        seed: args.seed,
        params: args.solver.params(args.seed)?,
        store: args.run.store(),
    })
}

/// Trains on `exec`; only rank 0 shows progress, writes the outputs and prints the summary.
fn run_on<E: Executor>(args: &TrainArgs, cfg: &TrainConfig, exec: &E) -> Result<()> {
    let lead = exec.rank() == 0;
    let out = if lead {
        Some(Location::create(&args.out, &cfg.store)?)
    } else {
        None
    };
    let bar = lead.then(StageBar::new);
    let outcome = catclass_svm::train(cfg, exec, &|s| {
        if let Some(bar) = &bar {
            bar.update(s);
        }
    })?;
    if let Some(out) = out {
        catclass_svm::store::block_on(outcome.write(&out))
            .with_context(|| format!("writing results to {out}"))?;
        print_summary(&outcome, &out);
    }
    Ok(())
}

/// An error already printed by another rank: exit non-zero without printing it again.
#[derive(Debug, thiserror::Error)]
#[error("reported by rank 0")]
pub struct ReportedElsewhere;

/// Runs `catclass train` as one MPI rank.
///
/// Failures that every rank agreed on (a bad file or object on any rank, found before or
/// during training) are printed once, by rank 0, and every rank exits non-zero. Any other
/// failure (one only this rank saw, at a point where the others may be waiting for it) is
/// printed with the rank and stops the whole job with `MPI_Abort`, so no rank hangs.
#[cfg(feature = "mpi")]
fn run_mpi(args: &TrainArgs) -> Result<()> {
    use catclass_svm::SvmError;
    use catclass_svm::exec::{ExecError, MpiExecutor};
    use catclass_svm::sgd::TrainError;
    let exec = MpiExecutor::init(args.run.threads)?;
    let result = config(args).and_then(|cfg| run_on(args, &cfg, &exec));
    let Err(e) = result else { return Ok(()) };
    let agreed = matches!(
        e.downcast_ref::<SvmError>(),
        Some(SvmError::Exec(ExecError::Rank { .. }) | SvmError::Train(TrainError::Reduce(_)))
    );
    if agreed {
        return if exec.rank() == 0 {
            Err(e)
        } else {
            Err(ReportedElsewhere.into())
        };
    }
    eprintln!("error: rank {} of {}: {e:#}", exec.rank(), exec.ranks());
    exec.abort(1)
}

/// Without the `mpi` feature: a clear refusal.
#[cfg(not(feature = "mpi"))]
fn run_mpi(_args: &TrainArgs) -> Result<()> {
    anyhow::bail!(
        "--executor mpi: this catclass was built without MPI; rebuild it with \
         `cargo build --release -p catclass-cli --features mpi` (needs Open MPI and libclang) \
         and start it with `mpirun -np N catclass train ... --executor mpi`"
    )
}

/// The short human summary of a run.
pub fn print_summary(o: &TrainOutcome, out: &Location) {
    let r = &o.report;
    let c = &r.confusion;
    println!("{} ---> {:.4}", r.task.title(), r.test_accuracy);
    println!(
        "  accuracy {:.4}   majority baseline {:.4}   balanced accuracy {:.4}",
        r.test_accuracy, r.majority_baseline, r.balanced_accuracy
    );
    println!(
        "  precision {:.4}   recall {:.4}   F1 {:.4}",
        r.precision, r.recall, r.f1
    );
    println!(
        "  confusion: TP {}  FP {}  TN {}  FN {}",
        c.true_positive, c.false_positive, c.true_negative, c.false_negative
    );
    println!(
        "  rows: {} train ({} positive), {} test ({} positive), {} features each",
        r.counts.train_rows,
        r.counts.train_positive,
        r.counts.test_rows,
        r.counts.test_positive,
        r.counts.feature_dim
    );
    println!(
        "  MLlib SGD: {} updates, {} passes{}; {} threads",
        r.updates,
        r.passes,
        if r.converged { ", converged" } else { "" },
        r.threads
    );
    println!(
        "  time: load {:.3} s, train {:.3} s, evaluate {:.3} s",
        r.timings.load_seconds, r.timings.train_seconds, r.timings.eval_seconds
    );
    for w in &r.warnings {
        println!("  warning: {w}");
    }
    println!(
        "  wrote {}, {}, {}",
        out.describe("resultat.txt"),
        out.describe("report.json"),
        out.describe("model.json")
    );
}
