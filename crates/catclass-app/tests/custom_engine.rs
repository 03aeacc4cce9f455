//! `extract` runs an engine of the caller's: a backend written here, wrapped in
//! `LoadedFeatures`, extracts a folder of images into feature files and a shard, resumably.

use catclass_app::extract::{ExtractConfig, LoadedFeatures, extract};
use catclass_store::{FeatureModel, StoreOptions};
use catclass_svm::ThreadPool;
use catclass_svm::features::{
    BackendError, ChannelOrder, FeatureBackend, Filter, InputSpec, Layout, OutputSpec, Preprocess,
    Resize,
};
use std::sync::Arc;

/// Brightest and darkest value of a 4 x 4 image, over all channels.
struct Extremes {
    input: InputSpec,
    output: OutputSpec,
}

impl FeatureBackend for Extremes {
    fn name(&self) -> &'static str {
        "extremes"
    }
    fn input(&self) -> &InputSpec {
        &self.input
    }
    fn output(&self) -> &OutputSpec {
        &self.output
    }
    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        Ok(batch
            .chunks(self.input.len())
            .take(images)
            .flat_map(|img| {
                let max = img.iter().copied().fold(f32::MIN, f32::max);
                let min = img.iter().copied().fold(f32::MAX, f32::min);
                [max, min]
            })
            .collect())
    }
}

#[test]
fn a_backend_of_the_callers_extracts_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for (name, level) in [
        ("dark_1.png", 20u8),
        ("dark_2.png", 30),
        ("light_1.png", 220),
    ] {
        image::RgbImage::from_pixel(9, 7, image::Rgb([level, level / 2, level]))
            .save(images.join(name))
            .unwrap();
    }
    let engine = LoadedFeatures {
        backend: Arc::new(Extremes {
            input: InputSpec {
                name: "pixels".into(),
                layout: Layout::Nchw,
                height: 4,
                width: 4,
                channels: 3,
            },
            output: OutputSpec {
                name: "extremes".into(),
                dim: 2,
            },
        }),
        preprocess: Preprocess {
            resize: Resize::Exact {
                width: 4,
                height: 4,
                filter: Filter::Bilinear,
            },
            crop: None,
            channels: ChannelOrder::Rgb,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        },
        record: FeatureModel {
            backend: "extremes".into(),
            model: "extremes-v1".into(),
            model_sha256: "0".repeat(64),
            layer: "extremes".into(),
            preset: "raw".into(),
            dim: 2,
        },
    };
    let out = tmp.path().join("features");
    let cfg = ExtractConfig {
        images: vec![images.display().to_string()],
        out: out.display().to_string(),
        features: engine,
        batch: 2,
        threads: 2,
        fail_fast: true,
        shard: true,
        memory: catclass_app::extract::DEFAULT_IMAGE_MEMORY,
        store: StoreOptions::default(),
    };
    let pool = ThreadPool::new(2).unwrap();
    let report = extract(&cfg, &pool, &|_| {}).unwrap();
    assert_eq!((report.images, report.extracted, report.failed), (3, 3, 0));
    assert_eq!(report.feature_model.backend, "extremes");
    let light: Vec<f64> =
        serde_json::from_slice(&std::fs::read(out.join("light_1.png.json")).unwrap()).unwrap();
    assert_eq!(light, [220.0, 110.0]);
    assert!(out.join("features.safetensors").is_file());
    // A second run finds everything done.
    let again = extract(&cfg, &pool, &|_| {}).unwrap();
    assert_eq!((again.already_done, again.extracted), (3, 0));
}
