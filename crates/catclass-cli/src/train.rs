//! `catclass train <FEATURES> <CLASS_A> <CLASS_B | None>`.

use crate::output::{Output, Written, out, outln, paths};
use crate::progress::StageBar;
use anyhow::{Context, Result};
use catclass_app::Solver;
use catclass_app::seed::{seed_title, task_from_args};
use catclass_app::train::{
    ModelTraining, MulticlassReport, TestRows, TrainConfig, TrainOutcome, TrainReport,
};
use catclass_svm::store::{FeatureFormat, StoreOptions};
use catclass_svm::{
    ClassWeight, Dcd, Executor, Loss, MiniBatchSampling, SgdParams, SvmSgd, Task, ThreadPool,
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
    /// Feature files: a folder, file://, s3://bucket/prefix.
    pub features: String,
    /// The positive class (label 1), matched exactly (not with --multiclass).
    #[arg(required_unless_present = "multiclass", conflicts_with = "multiclass")]
    pub class_a: Option<String>,
    /// The negative class, or `None` for one vs all (not with --multiclass).
    #[arg(required_unless_present = "multiclass")]
    pub class_b: Option<String>,
    /// One vs rest over every class of FEATURES (prediction by largest margin).
    #[arg(long)]
    pub multiclass: bool,
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
    /// Keep FEATURES' JSON files in this one file (a safetensors shard; a path or s3://) and
    /// read them from it next time, while the folder lists the same files (names, sizes,
    /// modification times); a stale or damaged cache is never read, but rewritten.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<String>,
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

/// Which solver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SolverKind {
    /// Spark MLlib's SVMWithSGD, bit for bit (the seed's model).
    MllibSgd,
    /// Dual coordinate descent (LIBLINEAR) on the same objective: converges.
    Dcd,
}

/// DCD loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    /// max(0, 1 - m), MLlib's.
    Hinge,
    /// max(0, 1 - m)^2.
    SquaredHinge,
}

/// DCD class weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClassWeightArg {
    /// Every row weighs the same.
    None,
    /// Each class weighs half (scikit-learn's `balanced`), for one vs all.
    Balanced,
}

/// Solver settings: MLlib `SVMWithSGD`'s (PySpark's defaults) and DCD's.
#[derive(Debug, Args, Clone)]
pub struct SolverArgs {
    /// Solver: MLlib's SGD (exact, default) or dual coordinate descent.
    #[arg(long, value_enum, default_value_t = SolverKind::MllibSgd)]
    pub solver: SolverKind,
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
    /// DCD loss.
    #[arg(long, value_enum, default_value_t = LossArg::Hinge)]
    pub loss: LossArg,
    /// DCD stopping tolerance on the projected gradient.
    #[arg(long, default_value_t = 1e-4)]
    pub dcd_tol: f64,
    /// DCD epoch limit.
    #[arg(long, default_value_t = 1000)]
    pub max_epochs: usize,
    /// DCD class weights.
    #[arg(long, value_enum, default_value_t = ClassWeightArg::None)]
    pub class_weight: ClassWeightArg,
}

impl SolverArgs {
    /// The chosen solver with checked parameters.
    pub fn solver(&self, seed: u64) -> Result<Solver> {
        Ok(match self.solver {
            SolverKind::MllibSgd => Solver::MllibSgd(self.params(seed)?),
            SolverKind::Dcd => Solver::Dcd(
                Dcd::params()
                    .reg_param(self.reg_param)
                    .loss(match self.loss {
                        LossArg::Hinge => Loss::Hinge,
                        LossArg::SquaredHinge => Loss::SquaredHinge,
                    })
                    .tol(self.dcd_tol)
                    .max_epochs(self.max_epochs)
                    .class_weight(match self.class_weight {
                        ClassWeightArg::None => ClassWeight::None,
                        ClassWeightArg::Balanced => ClassWeight::Balanced,
                    })
                    .intercept(self.intercept)
                    .seed(seed)
                    .check()?,
            ),
        })
    }

    /// Checked MLlib parameters.
    pub fn params(&self, seed: u64) -> Result<SgdParams> {
        let sampling = match self.mllib_partitions {
            Some(partitions) => MiniBatchSampling::Spark { partitions },
            None => MiniBatchSampling::ChaCha { seed },
        };
        Ok(SvmSgd::params()
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

/// `--feature-format`: the choices of [`FeatureFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeatureFormatArg {
    /// The shard when it holds exactly the folder's JSON files, else the JSON files.
    Auto,
    /// The seed's JSON files only.
    Json,
    /// The shard only.
    Shard,
}

impl From<FeatureFormatArg> for FeatureFormat {
    fn from(f: FeatureFormatArg) -> Self {
        match f {
            FeatureFormatArg::Auto => FeatureFormat::Auto,
            FeatureFormatArg::Json => FeatureFormat::Json,
            FeatureFormatArg::Shard => FeatureFormat::Shard,
        }
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
    /// Retries of a failed S3 request (throttling, 5xx, dropped connections, timeouts), with
    /// exponential backoff.
    #[arg(long, default_value_t = 8)]
    pub s3_retries: usize,
    /// Which features to read from a folder holding both JSON files and features.safetensors.
    #[arg(long, value_enum, default_value_t = FeatureFormatArg::Auto)]
    pub feature_format: FeatureFormatArg,
}

impl RunArgs {
    /// Store options from the flags.
    pub fn store(&self) -> StoreOptions {
        StoreOptions {
            s3_endpoint: self.s3_endpoint.clone(),
            concurrency: self.concurrency.max(1),
            s3: catclass_svm::store::S3Options {
                max_retries: self.s3_retries,
                ..Default::default()
            },
            feature_format: self.feature_format.into(),
        }
    }
}

/// The files of a binary run, as the human summary lists them.
pub const BINARY_FILES: [&str; 3] = ["resultat.txt", "report.json", "model.json"];

/// The files of a multiclass run, as the human summary lists them.
const MULTICLASS_FILES: [&str; 5] = [
    "report.txt",
    "report.json",
    "model.json",
    "confusion.svg",
    "confusion.png",
];

/// Runs `catclass train`.
pub fn run(args: TrainArgs, output: Output) -> Result<()> {
    if args.multiclass && args.executor != ExecutorKind::Threads {
        anyhow::bail!("--multiclass runs on --executor threads");
    }
    match args.executor {
        ExecutorKind::Threads => {
            let cfg = config(&args)?;
            let pool = ThreadPool::new(args.run.threads)?;
            run_on(&args, &cfg, &pool, output)
        }
        ExecutorKind::Mpi => run_mpi(&args, output),
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
    let task = match (&args.class_a, &args.class_b) {
        _ if args.multiclass => Task::Multiclass,
        (Some(class_a), Some(class_b)) => task_from_args(class_a, class_b),
        _ => anyhow::bail!("CLASS_A and CLASS_B are required without --multiclass"),
    };
    Ok(TrainConfig {
        features: args.features.clone(),
        task,
        test: match &args.test_features {
            Some(t) => TestRows::Location(t.clone()),
            None => TestRows::Split {
                train_fraction: args.train_fraction,
            },
        },
        seed: args.seed,
        solver: args.solver.solver(args.seed)?,
        store: args.run.store(),
        cache: args.cache.clone(),
    })
}

/// Trains on `exec`; only rank 0 shows progress, writes the outputs and prints the summary.
fn run_on<E: Executor>(
    args: &TrainArgs,
    cfg: &TrainConfig,
    exec: &E,
    output: Output,
) -> Result<()> {
    let lead = exec.rank() == 0;
    let out = if lead {
        Some(catclass_app::location::create(&args.out, &cfg.store)?)
    } else {
        None
    };
    let bar = (lead && output.human()).then(StageBar::new);
    let outcome = catclass_app::train::train(cfg, exec, &|s| {
        if let Some(bar) = &bar {
            bar.update(s);
        }
    })?;
    if let Some(out) = out {
        catclass_app::blocking::block_on(outcome.write(&out))
            .with_context(|| format!("writing results to {out}"))?;
        output.quiet_warnings(&outcome.run().warnings);
        match &outcome {
            TrainOutcome::Binary { report, .. } => {
                let summary = Written {
                    report,
                    written: paths(&out, &BINARY_FILES),
                };
                output.report(&summary, || print_summary(report, &summary.written))?;
            }
            TrainOutcome::Multiclass { report, .. } => {
                let summary = Written {
                    report,
                    written: paths(&out, &MULTICLASS_FILES),
                };
                output.report(&summary, || {
                    print_multiclass_summary(report, &summary.written)
                })?;
            }
        }
    }
    Ok(())
}

/// Runs `catclass train` as one MPI rank.
fn run_mpi(args: &TrainArgs, output: Output) -> Result<()> {
    with_mpi(args.run.threads, |exec| {
        let cfg = config(args)?;
        run_on(args, &cfg, exec, output)
    })
}

/// Runs `f` as one MPI rank (`threads` workers inside the rank).
///
/// Failures that every rank agreed on (a bad file or object on any rank) are printed once, by
/// rank 0, and every rank exits non-zero; so are the images some ranks failed to extract (every
/// rank finished). Any other failure (one only this rank saw, at a
/// point where the others may be waiting for it) and any panic are printed with the rank and
/// stop the whole job with `MPI_Abort`, so no rank hangs.
#[cfg(feature = "mpi")]
pub fn with_mpi(
    threads: usize,
    f: impl FnOnce(&catclass_svm::exec::MpiExecutor) -> Result<()>,
) -> Result<()> {
    use crate::output::{PartlyDone, ReportedElsewhere, Status};
    use catclass_app::AppError;
    use catclass_svm::SvmError;
    use catclass_svm::exec::{ExecError, MpiExecutor};
    use catclass_svm::sgd::TrainError;
    let exec = MpiExecutor::init(threads)?;
    // A panic on this rank (its message is printed by the panic hook) must not leave the
    // others waiting in a collective for ever: the whole job stops.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&exec)))
        .unwrap_or_else(|_| {
            eprintln!(
                "error: rank {} of {} panicked (above): stopping every rank",
                exec.rank(),
                exec.ranks()
            );
            exec.abort(101)
        });
    let Err(e) = result else { return Ok(()) };
    if e.downcast_ref::<ReportedElsewhere>().is_some() || e.downcast_ref::<PartlyDone>().is_some() {
        return Err(e);
    }
    let agreed_svm = |s: &SvmError| {
        matches!(
            s,
            SvmError::Exec(ExecError::Rank { .. }) | SvmError::Train(TrainError::Reduce(_))
        )
    };
    let agreed = match e.downcast_ref::<AppError>() {
        Some(AppError::Svm(s)) => agreed_svm(s),
        Some(AppError::Exec(ExecError::Rank { .. })) => true,
        _ => false,
    } || e.downcast_ref::<SvmError>().is_some_and(agreed_svm)
        || matches!(e.downcast_ref::<ExecError>(), Some(ExecError::Rank { .. }));
    if agreed {
        return if exec.rank() == 0 {
            Err(e)
        } else {
            Err(ReportedElsewhere(Status::Failed).into())
        };
    }
    eprintln!("error: rank {} of {}: {e:#}", exec.rank(), exec.ranks());
    exec.abort(1)
}

/// Without the `mpi` feature: a clear refusal (`f` is never called; its executor type only
/// keeps callers generic).
#[cfg(not(feature = "mpi"))]
pub fn with_mpi(_threads: usize, _f: impl FnOnce(&ThreadPool) -> Result<()>) -> Result<()> {
    anyhow::bail!(
        "--executor mpi: this catclass was built without MPI; rebuild it with \
         `cargo build --release -p catclass-cli --features mpi` (needs Open MPI and libclang) \
         and start it under `mpirun -np N catclass ... --executor mpi`"
    )
}

/// The short human summary of a run that wrote `written`.
pub fn print_summary(r: &TrainReport, written: &[String]) {
    let c = &r.confusion;
    outln!("{} ---> {:.4}", seed_title(&r.task), r.test_accuracy);
    outln!(
        "  accuracy {:.4}   majority baseline {:.4}   balanced accuracy {:.4}",
        r.test_accuracy,
        r.majority_baseline,
        r.balanced_accuracy
    );
    outln!(
        "  precision {:.4}   recall {:.4}   F1 {:.4}",
        r.precision,
        r.recall,
        r.f1
    );
    outln!(
        "  confusion: TP {}  FP {}  TN {}  FN {}",
        c.true_positive,
        c.false_positive,
        c.true_negative,
        c.false_negative
    );
    outln!(
        "  rows: {} train ({} positive), {} test ({} positive), {} features each",
        r.counts.train_rows,
        r.counts.train_positive,
        r.counts.test_rows,
        r.counts.test_positive,
        r.counts.feature_dim
    );
    let f = &r.fit;
    let objective = f.objective.unwrap_or(f64::NAN);
    match (f.epochs, f.duality_gap) {
        (Some(epochs), Some(gap)) => outln!(
            "  DCD: {epochs} epochs{}, duality gap {gap:.3e}, MLlib objective {objective:.6}; {} threads",
            if f.converged {
                ", converged"
            } else {
                ", NOT converged (raise --max-epochs)"
            },
            r.run.threads
        ),
        _ => outln!(
            "  MLlib SGD: {} updates, {} passes{}, objective {objective:.6}; {} threads",
            f.updates,
            f.passes,
            if f.converged { ", converged" } else { "" },
            r.run.threads
        ),
    }
    outln!(
        "  time: load {:.3} s, train {:.3} s, evaluate {:.3} s",
        r.run.timings.load_seconds,
        r.run.timings.train_seconds,
        r.run.timings.eval_seconds
    );
    for w in &r.run.warnings {
        outln!("  warning: {}", catclass_app::printable(w));
    }
    outln!("  wrote {}", written.join(", "));
}

/// The human summary of a multiclass run that wrote `written`.
pub fn print_multiclass_summary(r: &MulticlassReport, written: &[String]) {
    out!(
        "{}",
        catclass_app::printable(&TrainOutcome::multiclass_text(r))
    );
    let converged = r.models.iter().filter(|m| m.converged).count();
    // DCD makes no updates: what it did is its epochs (its passes).
    let (unit, work): (&str, fn(&ModelTraining) -> usize) = if r.run.params.dcd.is_some() {
        ("epochs", |m| m.passes)
    } else {
        ("updates", |m| m.updates)
    };
    let work = r.models.iter().map(work);
    outln!(
        "{}: {} models, {}..{} {unit} each, {} converged; {} threads",
        r.run.solver,
        r.models.len(),
        work.clone().min().unwrap_or(0),
        work.max().unwrap_or(0),
        converged,
        r.run.threads
    );
    outln!(
        "time: load {:.3} s, train {:.3} s, evaluate {:.3} s",
        r.run.timings.load_seconds,
        r.run.timings.train_seconds,
        r.run.timings.eval_seconds
    );
    outln!("wrote {}", written.join(", "));
}
