//! The burn backend gives tract's features (cargo feature `burn`:
//! `cargo test -p catclass-features --features burn`).
#![cfg(feature = "burn")]

mod common;

use std::sync::Arc;

use catclass_features::{
    BackendError, BurnBackend, DecodeLimits, Extractor, FeatureBackend, Layout, ModelSource,
    Preset, TractBackend, load_image,
};
use common::{python, rel_diff, testdata, vgg16_like};

fn photos() -> Vec<catclass_features::Rgb8Image> {
    ["chelsea.png", "darknet-dog.jpg", "coffee.png"]
        .iter()
        .map(|n| load_image(&testdata(&format!("images/{n}")), &DecodeLimits::default()).unwrap())
        .collect()
}

fn compare(src: &ModelSource, layer: Option<&str>, preset: Preset) -> (usize, f32) {
    let tract: Arc<dyn FeatureBackend> = Arc::new(TractBackend::load(src, layer).unwrap());
    let burn: Arc<dyn FeatureBackend> = Arc::new(BurnBackend::load(src, layer).unwrap());
    assert_eq!(burn.input(), tract.input());
    assert_eq!(burn.output().dim, tract.output().dim);
    let imgs = photos();
    let a = Extractor::new(tract, preset.preprocess())
        .unwrap()
        .with_batch(3)
        .extract_images(&imgs)
        .unwrap();
    let b = Extractor::new(burn, preset.preprocess())
        .unwrap()
        .with_batch(3)
        .extract_images(&imgs)
        .unwrap();
    let d = a
        .iter()
        .zip(&b)
        .map(|(x, y)| rel_diff(y, x))
        .fold(0.0, f32::max);
    (a[0].len(), d)
}

#[test]
fn burn_equals_tract_on_efficientnet_lite0() {
    let (dim, d) = compare(&ModelSource::Default, None, Preset::EfficientNetLite);
    println!("efficientnet-lite0 features, burn vs tract: {d:e}");
    assert_eq!(dim, 1280);
    assert!(d <= 1e-4, "burn vs tract: {d}");
    let (dim, d) = compare(
        &ModelSource::Default,
        Some("logits"),
        Preset::EfficientNetLite,
    );
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
    match BurnBackend::load(&ModelSource::Default, Some("fc7")) {
        Err(e @ BackendError::UnknownLayer { .. }) => {
            assert!(e.to_string().contains("\"fc7\""), "{e}");
            let BackendError::UnknownLayer { layer, .. } = e else {
                unreachable!()
            };
            assert_eq!(layer, "fc7");
        }
        other => panic!("expected UnknownLayer, got {other:?}"),
    }
}

/// A tiny graph of `tests/py/make_tiny.py`.
fn tiny(dir: &std::path::Path, kind: &str) -> ModelSource {
    let p = dir.join(format!("{kind}.onnx"));
    python("make_tiny.py", &[p.to_str().unwrap(), kind]);
    ModelSource::Path(p)
}

#[test]
fn burn_refuses_unsupported_operators_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = tiny(dir.path(), "sigmoid");
    // tract runs it: the graph is valid.
    assert_eq!(TractBackend::load(&src, None).unwrap().output().dim, 4);
    match BurnBackend::load(&src, None) {
        Err(e @ BackendError::UnsupportedOperator { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("Sigmoid") && msg.contains("\"act\""), "{msg}");
            let BackendError::UnsupportedOperator { node, op, .. } = e else {
                unreachable!()
            };
            assert_eq!((node.as_str(), op.as_str()), ("act", "Sigmoid"));
        }
        other => panic!("expected UnsupportedOperator, got {other:?}"),
    }
    // A layer before the unsupported node does not need it.
    let conv = BurnBackend::load(&src, Some("conv")).unwrap();
    assert_eq!(conv.output().dim, 4 * 16 * 16);
}

#[test]
fn burn_gives_errors_not_panics_on_bad_models_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    // Conv weights for 5 channels on a 3-channel image: burn's shape check panics inside;
    // the backend turns it into an error.
    match BurnBackend::load(&tiny(dir.path(), "bad-weights"), None) {
        Err(BackendError::Model { message, .. }) => assert!(!message.is_empty()),
        other => panic!("expected a Model error, got {other:?}"),
    }
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not an onnx file").unwrap();
    assert!(matches!(
        BurnBackend::load(&ModelSource::Path(garbage), None),
        Err(BackendError::Model { .. })
    ));
    assert!(matches!(
        BurnBackend::load(&ModelSource::Path(dir.path().join("missing.onnx")), None),
        Err(BackendError::Io { .. })
    ));
    let burn = BurnBackend::load(&ModelSource::Default, None).unwrap();
    let per = burn.input().len();
    assert!(matches!(
        burn.extract(&vec![0.0; per + 1], 1),
        Err(BackendError::BatchShape { got, images: 1, per_image }) if got == per + 1 && per_image == per
    ));
    assert!(burn.extract(&[], 0).unwrap().is_empty());
    // NaN pixels are data, not a failure: they come out as floats.
    let v = burn.extract(&vec![f32::NAN; per], 1).unwrap();
    assert_eq!(v.len(), 1280);
}
