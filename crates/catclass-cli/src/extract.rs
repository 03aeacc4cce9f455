//! `catclass extract <IMAGES>... --out <FEATURES>`: images to the seed's feature files and a
//! shard, resumable, on threads or MPI ranks.

use crate::output::{Output, PartlyDone, ReportedElsewhere, Status, outln};
use crate::train::{ExecutorKind, RunArgs};
use anyhow::Result;
use catclass_app::extract::{
    BackendKind, ExtractConfig, ExtractProgress, ExtractReport, FeatureSpec,
};
use catclass_svm::features::{ModelSource, Preset};
use catclass_svm::{Executor, ThreadPool};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Mutex;

/// `--preset`: the preprocessing presets of [`Preset`], by their names there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// Keras VGG16 (224x224 nearest, BGR, caffe means): the seed's.
    KerasVgg16,
    /// EfficientNet-Lite (shorter side 256, crop 224, (x - 127) / 128).
    #[value(name = "efficientnet-lite")]
    EfficientNetLite,
    /// torchvision ImageNet (shorter side 256, crop 224, mean/std).
    Torchvision,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::KerasVgg16 => Preset::KerasVgg16,
            PresetArg::EfficientNetLite => Preset::EfficientNetLite,
            PresetArg::Torchvision => Preset::Torchvision,
        }
    }
}

/// `--backend`: the inference engines of [`BackendKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// tract (pure Rust, CPU).
    Tract,
    /// burn (binary built with `--features burn`).
    Burn,
    /// onnxruntime (binary built with `--features ort`; the library from `ORT_DYLIB_PATH`).
    Ort,
}

impl From<BackendArg> for BackendKind {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Tract => BackendKind::Tract,
            BackendArg::Burn => BackendKind::Burn,
            BackendArg::Ort => BackendKind::Ort,
        }
    }
}

/// Which network, layer, preprocessing and engine (shared by `extract` and `predict`).
#[derive(Debug, Args, Clone)]
pub struct FeatureArgs {
    /// An ONNX network file (default: EfficientNet-Lite0, 1280 features, see `catclass model`).
    /// For the seed's VGG16: a Keras VGG16 export with `--layer fc2 --preset keras-vgg16`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The layer or tensor whose output are the features (default: `features` for the default
    /// network, the network's first output otherwise).
    #[arg(long)]
    pub layer: Option<String>,
    /// Preprocessing (default for the default network: efficientnet-lite; required with
    /// --model).
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// Inference engine.
    #[arg(long, value_enum, default_value_t = BackendArg::Tract)]
    pub backend: BackendArg,
    /// Images per network call (1 to 256: each holds one preprocessed image per worker).
    #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
        .range(1..=catclass_svm::features::extract::MAX_BATCH as u64))]
    pub batch: usize,
    /// Memory in MiB that images may take at once: a quarter for files fetched ahead, the
    /// rest for images being decoded (a larger image is processed alone).
    #[arg(long, value_name = "MIB", default_value_t = catclass_app::extract::DEFAULT_IMAGE_MEMORY >> 20,
        value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(16..=1 << 30))]
    pub image_memory: u64,
}

impl FeatureArgs {
    /// `--image-memory` in bytes.
    pub fn image_memory_bytes(&self) -> u64 {
        self.image_memory << 20
    }
}

impl FeatureArgs {
    /// The feature spec from the flags.
    pub fn spec(&self) -> FeatureSpec {
        FeatureSpec {
            model: match &self.model {
                Some(p) => ModelSource::Path(p.clone()),
                None => ModelSource::Default,
            },
            layer: self.layer.clone(),
            preset: self.preset.map(Preset::from),
            backend: self.backend.into(),
        }
    }

    /// Whether any of the network flags was given.
    pub fn given(&self) -> bool {
        self.model.is_some() || self.layer.is_some() || self.preset.is_some()
    }
}

/// Arguments of `catclass extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Image files or folders (local, file://, s3://bucket/prefix); folders give their *.jpg,
    /// *.jpeg and *.png.
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Output folder: one `<image file name>.json` per image (the seed's format) and
    /// features.safetensors (all rows, read much faster by `train`).
    #[arg(long)]
    pub out: String,
    #[command(flatten)]
    pub features: FeatureArgs,
    /// Stop at the first image that cannot be read or decoded.
    #[arg(long)]
    pub fail_fast: bool,
    /// Do not write features.safetensors.
    #[arg(long)]
    pub no_shard: bool,
    #[command(flatten)]
    pub run: RunArgs,
    /// `threads` (one process) or `mpi` (ranks started by mpirun split the images).
    #[arg(long, value_enum, default_value_t = ExecutorKind::Threads)]
    pub executor: ExecutorKind,
}

/// Runs `catclass extract`.
pub fn run(args: ExtractArgs, output: Output) -> Result<()> {
    match args.executor {
        ExecutorKind::Threads => {
            // One network call per worker at a time: the pool is the extraction workers.
            let pool = ThreadPool::new(args.run.threads)?;
            run_on(&args, &pool, output)
        }
        ExecutorKind::Mpi => {
            crate::train::with_mpi(args.run.threads, |exec| run_on(&args, exec, output))
        }
    }
}

fn config(args: &ExtractArgs) -> Result<ExtractConfig> {
    Ok(ExtractConfig {
        images: args.images.clone(),
        out: args.out.clone(),
        features: args.features.spec(),
        batch: args.features.batch.max(1),
        threads: args.run.threads,
        fail_fast: args.fail_fast,
        shard: !args.no_shard,
        memory: args.features.image_memory_bytes(),
        store: args.run.store(),
    })
}

fn run_on<E: Executor>(args: &ExtractArgs, exec: &E, output: Output) -> Result<()> {
    let cfg = config(args)?;
    let lead = exec.rank() == 0;
    let shown = lead && output.human();
    let ranks = exec.ranks();
    let rank = exec.rank();
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let report = catclass_app::extract::extract(&cfg, exec, &|p| {
        let mut guard = bar.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            ExtractProgress::Planned {
                images,
                already_done,
                local_todo,
            } => {
                if shown {
                    eprintln!(
                        "{images} images, {already_done} already extracted, {} to extract{}",
                        images - already_done,
                        if ranks > 1 {
                            format!(" over {ranks} ranks")
                        } else {
                            String::new()
                        }
                    );
                }
                let b = if shown {
                    ProgressBar::new(local_todo as u64)
                } else {
                    ProgressBar::hidden()
                };
                b.set_style(
                    ProgressStyle::with_template(
                        "extracting [{bar:30}] {pos}/{len} images  {per_sec}  eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                *guard = Some(b);
            }
            ExtractProgress::Image { image, error } => {
                if let Some(b) = guard.as_ref() {
                    b.inc(1);
                    if let Some(e) = error {
                        let prefix = if ranks > 1 {
                            format!("rank {rank}: ")
                        } else {
                            String::new()
                        };
                        b.suspend(|| {
                            eprintln!("error: {prefix}{}", catclass_app::printable(&e.to_string()))
                        });
                        let _ = image;
                    }
                }
            }
            ExtractProgress::WritingShard => {
                if let Some(b) = guard.take() {
                    b.finish_and_clear();
                }
            }
        }
    })?;
    if let Some(b) = bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
        b.finish_and_clear();
    }
    if lead {
        output.report(&report, || print_report(&report))?;
    }
    if report.failed > 0 {
        let summary = format!(
            "{} of {} images failed (listed above){}",
            report.failed,
            report.images,
            if report.not_attempted > 0 {
                format!("; {} not attempted (--fail-fast)", report.not_attempted)
            } else {
                String::new()
            }
        );
        if ranks == 1 {
            return Err(PartlyDone(summary).into());
        }
        // Rank 0 says it before any rank ends: the first process to end with a non-zero
        // status makes mpirun stop the others, rank 0 included.
        if lead {
            eprintln!("error: {summary}");
        }
        exec.agree(None)?;
        return Err(ReportedElsewhere(Status::Partial).into());
    }
    Ok(())
}

fn print_report(r: &ExtractReport) {
    let m = &r.feature_model;
    outln!(
        "{} images: {} extracted, {} already there, {} failed -> {}",
        r.images,
        r.extracted,
        r.already_done,
        r.failed,
        r.out
    );
    outln!(
        "  network {} layer {} ({} features), preset {}, {}",
        m.model,
        m.layer,
        m.dim,
        m.preset,
        m.backend
    );
    let s = |k: &str| r.stage_seconds.get(k).copied().unwrap_or(0.0);
    if r.extracted > 0 {
        outln!(
            "  {:.1} images/s; thread time: read {:.2} s, decode {:.2} s, preprocess {:.2} s, \
             network {:.2} s (rank 0)",
            r.extracted as f64 / s("wall").max(1e-9),
            s("read"),
            s("decode"),
            s("preprocess"),
            s("model")
        );
    }
    match (&r.shard, &r.shard_skipped) {
        (Some((file, rows)), _) => outln!("  shard {file}: {rows} rows"),
        (None, Some(why)) => outln!("  warning: no shard written: {why}"),
        _ => {}
    }
}
