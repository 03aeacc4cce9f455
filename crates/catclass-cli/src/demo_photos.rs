//! The demo's real-image path: shipped photos -> generated variants -> features -> SVM ->
//! report -> predictions on the original photos.

use crate::output::{Output, paths, say};
use crate::train::print_summary;
use anyhow::{Context, Result};
use catclass_app::Solver;
use catclass_app::blocking::block_on;
use catclass_app::extract::{ExtractConfig, ExtractReport, FeatureSpec};
use catclass_app::photos::photo_variants;
use catclass_app::predict::{PredictConfig, Prediction};
use catclass_app::seed::task_from_args;
use catclass_app::train::{TestRows, TrainConfig, TrainOutcome, TrainReport};
use catclass_svm::store::StoreOptions;
use catclass_svm::{SvmSgd, ThreadPool};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Variants generated per photo.
const VARIANTS: usize = 12;

/// The photos built into `catclass` (`photos/` of this crate, licences in its README.md): a cat
/// (CC0), a dog (MIT), a coffee cup (CC0), and the cat's original PNG.
const BUILT_IN: [(&str, &[u8]); 4] = [
    ("chelsea.jpg", include_bytes!("../photos/chelsea.jpg")),
    (
        "darknet-dog.jpg",
        include_bytes!("../photos/darknet-dog.jpg"),
    ),
    ("coffee.png", include_bytes!("../photos/coffee.png")),
    ("chelsea.png", include_bytes!("../photos/chelsea.png")),
];

/// Writes the built-in photos to `dir` (atomically, each) and returns it.
fn write_built_in(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in BUILT_IN {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            continue;
        }
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir.to_path_buf())
}

/// What the image path did: part of the demo's `--json` summary.
#[derive(Debug, Serialize)]
pub struct PhotoRun {
    /// Variants generated.
    pub variants: usize,
    /// The extraction.
    pub extract: ExtractReport,
    /// The cat-vs-dog run's report.json.
    pub train: Option<TrainReport>,
    /// The files it wrote.
    pub written: Vec<String>,
    /// The predictions of the original photos.
    pub predictions: Vec<Prediction>,
}

/// Runs the image path under `dir` with the photos of `photos` (`chelsea.jpg`,
/// `darknet-dog.jpg`, `coffee.png`, `chelsea.png`), or the built-in ones.
pub fn run(
    dir: &str,
    photos: Option<&Path>,
    seed: u64,
    pool: &ThreadPool,
    store: &StoreOptions,
    output: Output,
) -> Result<PhotoRun> {
    say!(output);
    say!(
        output,
        "catclass demo, image path: REAL photos, GENERATED variants, a REAL pretrained CNN"
    );
    let photos = match photos {
        Some(p) => p.to_path_buf(),
        None => write_built_in(&Path::new(dir).join("built-in-photos"))?,
    };
    let sources = [
        (photos.join("chelsea.jpg"), "cat"),
        (photos.join("darknet-dog.jpg"), "dog"),
        (photos.join("coffee.png"), "coffee"),
    ];
    if let Some((missing, _)) = sources.iter().find(|(p, _)| !p.is_file()) {
        anyhow::bail!(
            "{}: photo not found (--photos DIR needs chelsea.jpg, darknet-dog.jpg, coffee.png, chelsea.png)",
            missing.display()
        );
    }
    let t = Instant::now();
    let variants_dir = Path::new(dir).join("photos");
    let refs: Vec<(&Path, &str)> = sources.iter().map(|(p, c)| (p.as_path(), *c)).collect();
    let files = photo_variants(&refs, VARIANTS, seed, &variants_dir)?;
    say!(
        output,
        "  {} variants (random crops, mirrors, colour shifts) of 3 photos in {} ({:.2} s)",
        files.len(),
        variants_dir.display(),
        t.elapsed().as_secs_f64()
    );
    let features = format!("{dir}/photo-features");
    say!(
        output,
        "$ catclass extract {} --out {features}",
        variants_dir.display()
    );
    let t = Instant::now();
    let report = catclass_app::extract::extract(
        &ExtractConfig {
            images: vec![variants_dir.display().to_string()],
            out: features.clone(),
            features: FeatureSpec::default(),
            batch: 8,
            threads: 0,
            fail_fast: true,
            shard: true,
            memory: catclass_app::extract::DEFAULT_IMAGE_MEMORY,
            store: store.clone(),
        },
        pool,
        &|_| {},
    )?;
    let m = &report.feature_model;
    say!(
        output,
        "  {} images: {} extracted, {} already there; {} layer {} ({} features), preset {} ({:.2} s)",
        report.images,
        report.extracted,
        report.already_done,
        m.model,
        m.layer,
        m.dim,
        m.preset,
        t.elapsed().as_secs_f64()
    );
    let results = format!("{dir}/results/photos-cat-vs-dog");
    say!(
        output,
        "$ catclass train {features} cat dog --out {results}"
    );
    let outcome = catclass_app::train::train(
        &TrainConfig {
            features: features.clone(),
            task: task_from_args("cat", "dog"),
            test: TestRows::Split {
                train_fraction: 0.7,
            },
            seed,
            solver: Solver::MllibSgd(SvmSgd::params().iterations(100).check()?),
            store: store.clone(),
            cache: None,
        },
        pool,
        &|_| {},
    )?;
    let out = catclass_app::location::create(&results, store)?;
    block_on(outcome.write(&out)).with_context(|| format!("writing {out}"))?;
    let written = paths(&out, &["resultat.txt", "report.json", "model.json"]);
    let train = match outcome {
        TrainOutcome::Binary { report, .. } => Some(report),
        TrainOutcome::Multiclass { .. } => None,
    };
    if output.human()
        && let Some(report) = &train
    {
        print_summary(report, &written);
    }
    let originals =
        ["chelsea.png", "darknet-dog.jpg"].map(|n| photos.join(n).display().to_string());
    say!(
        output,
        "$ catclass predict {results}/model.json {}",
        originals.join(" ")
    );
    let (predictions, _) = catclass_app::predict::predict(&PredictConfig {
        model: format!("{results}/model.json"),
        images: originals.to_vec(),
        features: None,
        top: 1,
        batch: 2,
        threads: 0,
        memory: catclass_app::extract::DEFAULT_IMAGE_MEMORY,
        store: store.clone(),
    })?;
    for p in &predictions {
        say!(
            output,
            "  {}\t{}\tmargin {:+.4}",
            p.image,
            p.class.as_deref().unwrap_or_default(),
            p.margin.unwrap_or(f64::NAN)
        );
    }
    say!(
        output,
        "  (the variants came from these very photos (chelsea.png is the original of chelsea.jpg): \
         this checks the whole path, it does not measure how well breeds are told apart)"
    );
    Ok(PhotoRun {
        variants: files.len(),
        extract: report,
        train,
        written,
        predictions,
    })
}
