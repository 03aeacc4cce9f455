//! The onnxruntime backend gives tract's features (cargo feature `ort`:
//! `cargo test -p catclass-features --features ort --test ort_backend`).
//!
//! The library is `$ORT_DYLIB_PATH`, else the one the Python package `onnxruntime` ships
//! (`pip install onnxruntime`); without either the tests fail, they never skip.
#![cfg(all(feature = "ort", feature = "tract"))]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use catclass_features::{
    BackendError, DecodeLimits, Extractor, FeatureBackend, Layout, ModelSource, ORT_DYLIB_VAR,
    OrtBackend, Preset, Rgb8Image, TractBackend, load_image,
};
use common::{rel_diff, testdata, vgg16_like};

/// The onnxruntime library: `$ORT_DYLIB_PATH`, else the Python package's.
fn library() -> PathBuf {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            if let Some(p) = std::env::var_os(ORT_DYLIB_VAR).filter(|p| !p.is_empty()) {
                return PathBuf::from(p);
            }
            let ask = "import onnxruntime, os, glob; \
                       d = os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'); \
                       print(sorted(glob.glob(os.path.join(d, '*onnxruntime.*')), key=len)[0])";
            let out = Command::new("python3").args(["-c", ask]).output();
            match out {
                Ok(o) if o.status.success() => {
                    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                }
                other => panic!(
                    "these tests need the onnxruntime library: set {ORT_DYLIB_VAR} to \
                     libonnxruntime's path, or `pip install onnxruntime` (it ships \
                     onnxruntime/capi/libonnxruntime.so.*); asking python3 gave {other:?}"
                ),
            }
        })
        .clone()
}

fn ort(source: &ModelSource, layer: Option<&str>) -> OrtBackend {
    OrtBackend::builder()
        .with_library(library())
        .load(source, layer)
        .unwrap()
}

fn photos() -> Vec<Rgb8Image> {
    ["chelsea.jpg", "darknet-dog.jpg", "coffee.png"]
        .iter()
        .map(|n| load_image(&testdata(&format!("images/{n}")), &DecodeLimits::default()).unwrap())
        .collect()
}

fn efficientnet() -> ModelSource {
    ModelSource::Path(testdata("models/efficientnet-lite0.onnx"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn features(backend: Arc<dyn FeatureBackend>, preset: Preset, batch: usize) -> Vec<Vec<f32>> {
    Extractor::new(backend, preset.preprocess())
        .unwrap()
        .with_batch(batch)
        .extract_images(&photos())
        .unwrap()
}

#[test]
fn ort_equals_tract_on_efficientnet_lite0_batches_of_1_and_3() {
    let src = efficientnet();
    let tract: Arc<dyn FeatureBackend> = Arc::new(TractBackend::load(&src, None).unwrap());
    let ort = ort(&src, None);
    assert_eq!(ort.name(), "ort");
    assert_eq!(ort.library(), library());
    assert_eq!(ort.threads(), 1);
    assert_eq!(ort.input(), tract.input());
    assert_eq!(ort.output(), tract.output());
    assert_eq!(ort.output().name, "features");
    assert_eq!(ort.output().dim, 1280);
    let ort: Arc<dyn FeatureBackend> = Arc::new(ort);
    let want = features(tract, Preset::EfficientNetLite, 3);
    for batch in [1, 3] {
        let got = features(ort.clone(), Preset::EfficientNetLite, batch);
        let d = got
            .iter()
            .zip(&want)
            .map(|(a, b)| max_abs_diff(a, b))
            .fold(0.0, f32::max);
        println!("efficientnet-lite0 features, ort (batch {batch}) vs tract: max |diff| {d:e}");
        assert!(got[0].iter().any(|&v| v > 0.0));
        assert!(d <= 1e-4, "batch {batch}: ort vs tract max |diff| {d}");
    }
    // Two threads per call, and calls from three threads at once: the same features.
    let two = Arc::new(
        OrtBackend::builder()
            .with_library(library())
            .with_threads(2)
            .load(&src, Some("features"))
            .unwrap(),
    );
    assert_eq!(two.threads(), 2);
    let pre = Preset::EfficientNetLite.preprocess();
    let imgs = photos();
    std::thread::scope(|s| {
        let runs: Vec<_> = imgs
            .iter()
            .zip(&want)
            .map(|(img, want)| {
                let two = two.clone();
                s.spawn(move || {
                    let x = pre.apply(img, Layout::Nchw);
                    let got = two.extract(&x, 1).unwrap();
                    max_abs_diff(&got, want)
                })
            })
            .collect();
        for r in runs {
            let d = r.join().unwrap();
            assert!(d <= 1e-4, "concurrent calls, 2 threads: max |diff| {d}");
        }
    });
}

#[test]
fn ort_equals_tract_at_a_layer_inside_the_graph() {
    // fc2 is no output of the graph: it becomes its only one, and NHWC is read from it.
    let dir = tempfile::tempdir().unwrap();
    let src = ModelSource::Path(vgg16_like(dir.path()));
    let tract: Arc<dyn FeatureBackend> = Arc::new(TractBackend::load(&src, Some("fc2")).unwrap());
    let ort = ort(&src, Some("fc2"));
    assert_eq!(ort.input().layout, Layout::Nhwc);
    assert_eq!(ort.input(), tract.input());
    assert_eq!(ort.output(), tract.output());
    let got = features(Arc::new(ort), Preset::KerasVgg16, 3);
    let want = features(tract, Preset::KerasVgg16, 3);
    for (a, b) in got.iter().zip(&want) {
        let d = rel_diff(a, b);
        println!("vgg16-shaped fc2, ort vs tract: relative difference {d:e}");
        assert!(d <= 1e-4, "ort vs tract at fc2: {d}");
    }
    // The logits (the graph's output) too, and an unknown layer is named with candidates.
    assert_eq!(ort_logits_dim(&src), 10);
    let err = OrtBackend::builder()
        .with_library(library())
        .load(&src, Some("fc9"))
        .unwrap_err();
    assert!(
        matches!(&err, BackendError::UnknownLayer { layer, .. } if layer == "fc9"),
        "{err}"
    );
}

fn ort_logits_dim(src: &ModelSource) -> usize {
    ort(src, None).output().dim
}

#[test]
fn a_library_that_cannot_be_loaded_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libonnxruntime.so.1.99.0");
    let not_a_library = testdata("images/chelsea.png");
    for path in [missing, not_a_library] {
        let err = OrtBackend::builder()
            .with_library(&path)
            .load(&efficientnet(), None)
            .unwrap_err();
        let text = err.to_string();
        println!("{text}");
        assert!(
            matches!(&err, BackendError::OrtLibrary { path: p, .. } if *p == path.display().to_string()),
            "{err:?}"
        );
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("pip install onnxruntime"), "{text}");
    }
}

#[test]
fn a_network_file_that_is_not_onnx_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.onnx");
    let bytes = std::fs::read(testdata("models/efficientnet-lite0.onnx")).unwrap();
    std::fs::write(&truncated, &bytes[..100_000]).unwrap();
    for path in [testdata("images/chelsea.jpg"), truncated] {
        let err = OrtBackend::builder()
            .with_library(library())
            .load(&ModelSource::Path(path.clone()), None)
            .unwrap_err();
        println!("{err}");
        assert!(
            matches!(&err, BackendError::Model { model, message }
                if *model == path.display().to_string() && message.contains("not an ONNX network")),
            "{err:?}"
        );
    }
}
