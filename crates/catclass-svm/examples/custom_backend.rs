//! Your own feature backend, your own object store, the built-in solvers: a colour histogram
//! "network" turns generated photos into features, which are put into object_store's
//! in-memory store as the seed's feature files, read back as labelled rows, and classified.
//! No files, no URL strings.
//!
//! `cargo run --release -p catclass-svm --example custom_backend`

use catclass_svm::features::{
    BackendError, ChannelOrder, Extractor, FeatureBackend, Filter, InputSpec, Layout, OutputSpec,
    Preprocess, Resize,
};
use catclass_svm::prelude::*;
use catclass_svm::store::{FeatureSet, Location, Values};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use std::sync::Arc;

/// `BINS` bins per colour channel of pixel values in [0, 1]: `3 * BINS` features, each the
/// share of the image's pixels in that bin.
const BINS: usize = 8;
const SIDE: usize = 32;

struct ColourHistogram {
    input: InputSpec,
    output: OutputSpec,
}

impl ColourHistogram {
    fn new() -> Self {
        ColourHistogram {
            input: InputSpec {
                name: "pixels".into(),
                layout: Layout::Nchw,
                height: SIDE,
                width: SIDE,
                channels: 3,
            },
            output: OutputSpec {
                name: "histogram".into(),
                dim: 3 * BINS,
            },
        }
    }

    /// Pixels scaled to [0, 1], 32 x 32, channel planes (what `extract` receives).
    fn preprocess() -> Preprocess {
        Preprocess {
            resize: Resize::Exact {
                width: SIDE as u32,
                height: SIDE as u32,
                filter: Filter::Bilinear,
            },
            crop: None,
            channels: ChannelOrder::Rgb,
            scale: 255.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }
}

impl FeatureBackend for ColourHistogram {
    fn name(&self) -> &'static str {
        "colour-histogram"
    }

    fn input(&self) -> &InputSpec {
        &self.input
    }

    fn output(&self) -> &OutputSpec {
        &self.output
    }

    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        let plane = SIDE * SIDE;
        let mut out = vec![0.0f32; images * 3 * BINS];
        for (i, image) in batch.chunks_exact(3 * plane).enumerate().take(images) {
            for (c, channel) in image.chunks_exact(plane).enumerate() {
                for v in channel {
                    let bin = ((v * BINS as f32) as usize).min(BINS - 1);
                    out[i * 3 * BINS + c * BINS + bin] += 1.0 / plane as f32;
                }
            }
        }
        Ok(out)
    }
}

/// `n` generated photos of a scene: `base` colour, random brightness and per-pixel noise.
fn photos(base: [f32; 3], n: usize, seed: u64) -> Vec<image::RgbImage> {
    let mut state = seed;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..n)
        .map(|_| {
            let light = 0.6 + 0.6 * uniform();
            image::RgbImage::from_fn(48, 40, |_, _| {
                image::Rgb(
                    base.map(|b| ((b * light + 60.0 * (uniform() - 0.5)).clamp(0.0, 255.0)) as u8),
                )
            })
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Images -> features with the user's backend.
    let extractor = Extractor::new(ColourHistogram::new(), ColourHistogram::preprocess())?;
    let sunsets = photos([220.0, 120.0, 60.0], 30, 1);
    let forests = photos([70.0, 150.0, 80.0], 30, 2);
    let mut values = extractor.extract(&sunsets)?.into_raw_vec_and_offset().0;
    values.extend(extractor.extract(&forests)?.into_raw_vec_and_offset().0);
    let classes = ["sunset"; 30].into_iter().chain(["forest"; 30]);
    let names = classes
        .clone()
        .enumerate()
        .map(|(i, c)| format!("{c}_{}.png.json", i % 30 + 1))
        .collect();
    let rows = FeatureSet {
        names,
        classes: classes.map(str::to_string).collect(),
        dim: 3 * BINS,
        values: Values::F32(values),
    };

    // Features -> the caller's object store (any object_store backend) and back.
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let runtime = tokio::runtime::Runtime::new()?;
    let read = runtime.block_on(async {
        rows.write_json_files(&Location::in_store(store.clone(), "memory", "scenes"), 16)
            .await?;
        FeatureSet::read(store.clone(), "scenes").await
    })?;
    println!(
        "{} feature files of {} values in the in-memory store",
        read.rows(),
        read.dim
    );

    // Rows -> the built-in solvers.
    let Values::F32(x) = &read.values else {
        unreachable!("histograms are single precision")
    };
    let data = Dataset::from_slice(x, read.dim, &read.classes)?;
    let (train, test) = data.split_stratified(0.7, 20);
    let task = Task::OneVsOne("sunset".into(), "forest".into());
    let pool = ThreadPool::new(0)?;
    for (name, model) in [
        (
            "mllib-sgd",
            SvmSgd::params().check()?.fit(&train, &task, &pool)?,
        ),
        (
            "dcd",
            Dcd::params().c(10.0).check()?.fit(&train, &task, &pool)?,
        ),
    ] {
        let report = model.evaluate(&test)?;
        println!(
            "{name}: {task}, accuracy {:.4} on {} test rows (majority baseline {:.4})",
            report.metrics.accuracy(),
            report.rows,
            report.metrics.majority_baseline()
        );
    }
    let sunset = extractor.extract(&photos([230.0, 110.0, 50.0], 1, 99))?;
    let row = sunset.row(0).to_vec();
    println!(
        "a new sunset photo: {:?}",
        SvmSgd::params()
            .check()?
            .fit(&data, &task, &pool)?
            .predict(&row)
    );
    Ok(())
}
