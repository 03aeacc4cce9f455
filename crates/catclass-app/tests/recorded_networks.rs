//! A network named by a model file or a manifest is data from elsewhere: it is followed only if
//! it is a regular file of bounded size whose SHA-256 is the one recorded, checked before the
//! file is parsed.

use catclass_app::AppError;
use catclass_app::extract::{ExtractFailure, FeatureSpec};
use catclass_features::{DEFAULT_MODEL_SHA256, FeatureModel};
use std::path::Path;

fn record(model: &str, sha: &str) -> FeatureModel {
    FeatureModel {
        backend: "tract".into(),
        model: model.into(),
        model_sha256: sha.into(),
        layer: "features".into(),
        preset: "efficientnet-lite".into(),
        dim: 1280,
    }
}

fn load(r: &FeatureModel) -> Result<catclass_app::extract::LoadedFeatures, AppError> {
    FeatureSpec::from_record(r)?.load_expecting(Some(&r.model_sha256))
}

#[test]
fn a_device_is_not_read_as_a_network() {
    let err = load(&record("/dev/zero", DEFAULT_MODEL_SHA256)).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_file_that_is_not_the_recorded_one_is_refused_before_parsing() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let err = load(&record(readme.to_str().unwrap(), &"0".repeat(64))).unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Extract(ExtractFailure::NetworkChanged { .. })
        ),
        "{err}"
    );
}

#[test]
fn the_recorded_file_is_loaded() {
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/efficientnet-lite0.onnx");
    let loaded = load(&record(onnx.to_str().unwrap(), DEFAULT_MODEL_SHA256)).unwrap();
    assert_eq!(loaded.record.dim, 1280);
    assert_eq!(loaded.record.model_sha256, DEFAULT_MODEL_SHA256);
    let default = load(&record("default:efficientnet-lite0", DEFAULT_MODEL_SHA256)).unwrap();
    assert_eq!(default.record.model, "default:efficientnet-lite0");
}
