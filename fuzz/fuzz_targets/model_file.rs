//! Arbitrary bytes as a `model.json` (what `predict` and `eval` load, from anywhere): never a
//! panic; whatever is accepted gives a classifier (or a typed refusal) and writes back to a
//! file that reads the same.
#![no_main]

use catclass_svm::Predict;
use catclass_svm::model_file::SavedModel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = SavedModel::from_json(data) {
        let again = match &model {
            SavedModel::Binary(m) => m.to_json(),
            SavedModel::Multiclass(m) => m.to_json(),
        };
        assert_eq!(SavedModel::from_json(&again).expect("our own file reads"), model);
        if let Ok(classifier) = model.classifier() {
            let row = vec![0.5f32; model.feature_dim()];
            let _ = classifier.predict(&row);
        }
    }
});
