//! `catclass demo`: the seed's two classifications on generated data, offline.

use crate::demo_photos::PhotoRun;
use crate::output::{Output, paths, say};
use crate::sweep::SweepSummary;
use crate::train::{RunArgs, SolverArgs, print_summary};
use anyhow::{Context, Result};
use catclass_app::seed::task_from_args;
use catclass_app::sweep::SweepConfig;
use catclass_app::synthetic::pets_like;
use catclass_app::train::{TestRows, TrainConfig, TrainOutcome, TrainReport};
use catclass_svm::ThreadPool;
use clap::Args;
use serde::Serialize;
use std::time::Instant;

/// Breeds of the generated data (as in Oxford-IIIT Pet).
const BREEDS: usize = 37;

/// Arguments of `catclass demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Working folder (generated features and results go under it).
    #[arg(long, default_value = "target/catclass-demo")]
    pub dir: String,
    /// Seed of the generated data and of the split.
    #[arg(long, default_value_t = 20)]
    pub seed: u64,
    /// Images per breed.
    #[arg(long, default_value_t = 200)]
    pub per_class: usize,
    /// Features per image (VGG16 fc2 has 4096).
    #[arg(long, default_value_t = 4096)]
    pub dim: usize,
    /// A folder with `chelsea.jpg`, `darknet-dog.jpg`, `coffee.png` and `chelsea.png` for the
    /// real-image path (default: the copies built into `catclass`).
    #[arg(long)]
    pub photos: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// What `catclass demo` did: its `--json` summary.
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    /// The generated features.
    pub data: DemoData,
    /// The one-vs-one and one-vs-all runs.
    pub runs: Vec<DemoRun>,
    /// The one-vs-one sweep.
    pub sweep: SweepSummary,
    /// The real-image path.
    pub photos: PhotoRun,
}

/// The generated features of the demo.
#[derive(Debug, Serialize)]
pub struct DemoData {
    /// Where they are.
    pub features: String,
    /// Breeds.
    pub breeds: usize,
    /// Images per breed.
    pub per_class: usize,
    /// Features per image.
    pub dim: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Whether this run generated them (else an earlier run's were reused).
    pub generated: bool,
}

/// One training run of the demo.
#[derive(Debug, Serialize)]
pub struct DemoRun {
    /// `one-vs-one` or `one-vs-all`.
    pub name: &'static str,
    /// Its report.json.
    pub report: TrainReport,
    /// The files written.
    pub written: Vec<String>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// Runs the demo.
pub fn run(args: DemoArgs, output: Output) -> Result<()> {
    let store = args.run.store();
    let features_spec = format!("{}/features", args.dir.trim_end_matches('/'));
    let features = catclass_app::location::create(&features_spec, &store)?;
    let stamp = format!(
        "synthetic-pets v1 seed={} per_class={} dim={}\n",
        args.seed, args.per_class, args.dim
    );
    let marker = ".catclass-demo";
    let cached = catclass_app::blocking::block_on(async {
        Ok::<_, anyhow::Error>(
            features.exists(marker).await? && features.get(marker).await? == stamp.as_bytes(),
        )
    })?;
    say!(
        output,
        "catclass demo: the seed's classifications on GENERATED data (no real photos, no real CNN)"
    );
    say!(
        output,
        "  data: {BREEDS} breeds x {} images x {} features, non-negative and sparse like VGG16 fc2, seed {}",
        args.per_class,
        args.dim,
        args.seed
    );
    if cached {
        say!(output, "  reusing {}", features);
    } else {
        let t = Instant::now();
        let data = pets_like(args.seed, BREEDS, args.per_class, args.dim);
        let files = data.names.len();
        catclass_app::blocking::block_on(async {
            data.write_json_files(&features, store.concurrency).await?;
            features.put(marker, stamp.clone()).await
        })
        .context("writing the generated feature files")?;
        say!(
            output,
            "  generated {files} feature files in {} ({:.2} s)",
            features,
            t.elapsed().as_secs_f64()
        );
    }
    let pool = ThreadPool::new(args.run.threads)?;
    let mut runs = Vec::new();
    for (a, b, name, seed_time) in [
        (
            "wheaten_terrier",
            "yorkshire_terrier",
            "one-vs-one",
            "2 min 20 s",
        ),
        ("wheaten_terrier", "None", "one-vs-all", "2 min 30 s"),
    ] {
        let cfg = TrainConfig {
            features: features_spec.clone(),
            task: task_from_args(a, b),
            test: TestRows::Split {
                train_fraction: 0.7,
            },
            seed: args.seed,
            solver: args.solver.solver(args.seed)?,
            store: store.clone(),
            cache: None,
        };
        say!(output);
        say!(
            output,
            "$ catclass train {features_spec} {a} {b} --out {}/results/{name}",
            args.dir
        );
        let t = Instant::now();
        let outcome = catclass_app::train::train(&cfg, &pool, &|_| {})?;
        let out = catclass_app::location::create(&format!("{}/results/{name}", args.dir), &store)?;
        catclass_app::blocking::block_on(outcome.write(&out))?;
        let seconds = t.elapsed().as_secs_f64();
        if let TrainOutcome::Binary { report, .. } = outcome {
            let written = paths(&out, &["resultat.txt", "report.json", "model.json"]);
            if output.human() {
                print_summary(&report, &written);
            }
            runs.push(DemoRun {
                name,
                report,
                written,
                seconds,
            });
        }
        say!(
            output,
            "  whole run {seconds:.3} s (the original PySpark program on real features: about {seed_time})"
        );
    }
    let sweep = demo_sweep(&args, &features_spec, &store, &pool, output)?;
    let photos = crate::demo_photos::run(
        &args.dir,
        args.photos.as_deref(),
        args.seed,
        &pool,
        &store,
        output,
    )?;
    let summary = DemoSummary {
        data: DemoData {
            features: features_spec,
            breeds: BREEDS,
            per_class: args.per_class,
            dim: args.dim,
            seed: args.seed,
            generated: !cached,
        },
        runs,
        sweep,
        photos,
    };
    output.report(&summary, || {})
}

/// The demo's sweep: one vs one, 9 training shares x 5 repeats, with its plots.
fn demo_sweep(
    args: &DemoArgs,
    features: &str,
    store: &catclass_svm::store::StoreOptions,
    pool: &ThreadPool,
    output: Output,
) -> Result<SweepSummary> {
    let out = format!("{}/results/sweep", args.dir);
    let cfg = SweepConfig {
        features: features.to_string(),
        task: task_from_args("wheaten_terrier", "yorkshire_terrier"),
        fractions: (1..=9).map(|i| i as f64 / 10.0).collect(),
        repeats: 5,
        seed: args.seed,
        solver: args.solver.solver(args.seed)?,
        store: store.clone(),
    };
    say!(output);
    say!(
        output,
        "$ catclass sweep {features} wheaten_terrier yorkshire_terrier --repeats 5 --out {out}"
    );
    let summary = crate::sweep::execute(&cfg, pool, &out)?;
    if output.human() {
        crate::sweep::print_summary(&summary, &cfg.fractions);
    }
    Ok(summary)
}
