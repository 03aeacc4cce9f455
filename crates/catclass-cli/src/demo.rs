//! `catclass demo`: the seed's two classifications on generated data, offline.

use crate::train::{RunArgs, SolverArgs, print_summary};
use anyhow::{Context, Result};
use catclass_app::seed::task_from_args;
use catclass_app::sweep::SweepConfig;
use catclass_app::synthetic::pets_like;
use catclass_app::train::{TestRows, TrainConfig, TrainOutcome};
use catclass_svm::ThreadPool;
use clap::Args;
use std::time::Instant;

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

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<()> {
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
    println!(
        "catclass demo: the seed's classifications on GENERATED data (no real photos, no real CNN)"
    );
    println!(
        "  data: 37 breeds x {} images x {} features, non-negative and sparse like VGG16 fc2, seed {}",
        args.per_class, args.dim, args.seed
    );
    if cached {
        println!("  reusing {}", features);
    } else {
        let t = Instant::now();
        let data = pets_like(args.seed, 37, args.per_class, args.dim);
        let files = data.names.len();
        catclass_app::blocking::block_on(async {
            data.write_json_files(&features, store.concurrency).await?;
            features.put(marker, stamp.clone()).await
        })
        .context("writing the generated feature files")?;
        println!(
            "  generated {files} feature files in {} ({:.2} s)",
            features,
            t.elapsed().as_secs_f64()
        );
    }
    let pool = ThreadPool::new(args.run.threads)?;
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
        };
        println!();
        println!(
            "$ catclass train {features_spec} {a} {b} --out {}/results/{name}",
            args.dir
        );
        let t = Instant::now();
        let outcome = catclass_app::train::train(&cfg, &pool, &|_| {})?;
        let out = catclass_app::location::create(&format!("{}/results/{name}", args.dir), &store)?;
        catclass_app::blocking::block_on(outcome.write(&out))?;
        if let TrainOutcome::Binary { report, .. } = &outcome {
            print_summary(report, &out);
        }
        println!(
            "  whole run {:.3} s (the original PySpark program on real features: about {seed_time})",
            t.elapsed().as_secs_f64()
        );
    }
    demo_sweep(&args, &features_spec, &store, &pool)?;
    crate::demo_photos::run(&args.dir, args.photos.as_deref(), args.seed, &pool, &store)?;
    Ok(())
}

/// The demo's sweep: one vs one, 9 training shares x 5 repeats, with its plots.
fn demo_sweep(
    args: &DemoArgs,
    features: &str,
    store: &catclass_svm::store::StoreOptions,
    pool: &ThreadPool,
) -> Result<()> {
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
    println!();
    println!(
        "$ catclass sweep {features} wheaten_terrier yorkshire_terrier --repeats 5 --out {out}"
    );
    crate::sweep::execute(&cfg, pool, &out)
}
