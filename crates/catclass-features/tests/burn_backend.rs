//! The burn backend gives tract's features (cargo feature `burn`:
//! `cargo test -p catclass-features --features burn`).
#![cfg(feature = "burn")]

mod common;

use std::sync::Arc;

use catclass_features::{
    BackendError, BurnBackend, DecodeLimits, Extractor, FeatureBackend, Layout, ModelSource, Preset,
    TractBackend, load_image,
};
use common::{rel_diff, shared, vgg16_like};

fn photos() -> Vec<catclass_features::Rgb8Image> {
    ["chelsea.png", "darknet-dog.jpg", "coffee.png"]
        .iter()
        .map(|n| load_image(&shared(&format!("images/{n}")), &DecodeLimits::default()).unwrap())
        .collect()
}

fn compare(src: &ModelSource, layer: Option<&str>, preset: Preset) -> (usize, f32) {
    let tract: Arc<dyn FeatureBackend> = Arc::new(TractBackend::load(src, layer).unwrap());
    let burn: Arc<dyn FeatureBackend> = Arc::new(BurnBackend::load(src, layer).unwrap());
    assert_eq!(burn.input(), tract.input());
    assert_eq!(burn.output().dim, tract.output().dim);
    let imgs = photos();
    let a = Extractor::new(tract, preset.preprocess()).unwrap().with_batch(3).extract_images(&imgs).unwrap();
    let b = Extractor::new(burn, preset.preprocess()).unwrap().with_batch(3).extract_images(&imgs).unwrap();
    let d = a.iter().zip(&b).map(|(x, y)| rel_diff(y, x)).fold(0.0, f32::max);
    (a[0].len(), d)
}

#[test]
fn burn_equals_tract_on_efficientnet_lite0() {
    let (dim, d) = compare(&ModelSource::Embedded, None, Preset::EfficientNetLite);
    println!("efficientnet-lite0 features, burn vs tract: {d:e}");
    assert_eq!(dim, 1280);
    assert!(d <= 1e-4, "burn vs tract: {d}");
    let (dim, d) = compare(&ModelSource::Embedded, Some("logits"), Preset::EfficientNetLite);
    println!("efficientnet-lite0 logits, burn vs tract: {d:e}");
    assert_eq!(dim, 1000);
    assert!(d <= 1e-4, "burn vs tract: {d}");
}

#[test]
fn burn_equals_tract_on_the_vgg16_shaped_graph() {
    let dir = tempfile::tempdir().unwrap();
    let src = ModelSource::Path(vgg16_like(dir.path()));
    let burn = BurnBackend::load(&src, Some("fc2")).unwrap();
    assert_eq!(burn.input().layout, Layout::Nhwc);
    let (dim, d) = compare(&src, Some("fc2"), Preset::KerasVgg16);
    println!("vgg16-shaped fc2, burn vs tract: {d:e}");
    assert_eq!(dim, 32);
    assert!(d <= 1e-4, "burn vs tract: {d}");
    let (dim, d) = compare(&src, None, Preset::KerasVgg16);
    assert_eq!(dim, 10);
    assert!(d <= 1e-4, "burn vs tract (predictions): {d}");
}

#[test]
fn burn_refuses_unknown_layers_by_name() {
    match BurnBackend::load(&ModelSource::Embedded, Some("fc7")) {
        Err(BackendError::UnknownLayer { layer, .. }) => assert_eq!(layer, "fc7"),
        other => panic!("expected UnknownLayer, got {other:?}"),
    }
}
