//! Uses catclass-svm as a stranger would, from its packaged crate: trains on rows held in
//! memory, predicts, and extracts features from a PNG with the tract backend given the model
//! file. Usage: package-user <efficientnet-lite0.onnx> <image.png>
use catclass_svm::features::{DEFAULT_LAYER, Extractor, ModelSource, Preset, TractBackend};
use catclass_svm::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, png] = &args[..] else {
        return Err("usage: package-user <model.onnx> <image.png>".into());
    };
    let rows = [0.0f32, 1.0, 0.1, 0.9, 1.0, 0.0, 0.9, 0.1];
    let data = Dataset::from_slice(&rows, 2, ["cat", "cat", "dog", "dog"])?;
    let task = Task::OneVsOne("dog".into(), "cat".into());
    let svm = SvmSgd::params().iterations(100).check()?.fit(&data, &task, &ThreadPool::new(2)?)?;
    assert_eq!(svm.predict(&[1.0f32, 0.0]), Some("dog"));
    assert_eq!(svm.predict(&[0.0f32, 1.0]), Some("cat"));

    let backend = TractBackend::load(&ModelSource::Path(model.into()), Some(DEFAULT_LAYER))?;
    let extractor = Extractor::new(backend, Preset::EfficientNetLite.preprocess())?;
    let image = catclass_svm::features::load_image(png.as_ref(), &Default::default())?;
    let features = extractor.extract(&[image])?;
    assert_eq!(features.dim(), (1, 1280));
    assert!(features.iter().all(|v| v.is_finite()) && features.iter().any(|&v| v > 0.0));
    println!("packaged catclass-svm: trained, predicted, extracted {:?} features", features.dim());
    Ok(())
}
