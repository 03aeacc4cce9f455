//! A `model.json` damaged anywhere (a bit flipped, or cut short): a typed refusal, or a model
//! that still reads back as itself and gives a classifier of the same shape — never a panic.

use catclass_svm::Predict;
use catclass_svm::model_file::SavedModel;
use proptest::prelude::*;

const MODEL: &str = r#"{"format": "catclass-svm-model", "version": 1,
  "task": {"kind": "one-vs-one", "positive": "cat", "negative": "dog"},
  "feature_dim": 3, "weights": [1.0, -1.0, 0.5], "intercept": 0.0, "threshold": 0.0,
  "solver": "mllib-sgd", "params": {"iterations": 100, "step": 1.0, "reg_param": 0.01,
    "mini_batch_fraction": 1.0, "convergence_tol": 0.001, "intercept": false,
    "mllib_partitions": null},
  "training": {"features": "f", "test_features": null, "train_fraction": 0.7, "seed": 20,
    "train_rows": 10, "catclass_version": "0.1.0"}}"#;

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(model) = SavedModel::from_json(bytes)
        && let Ok(c) = model.classifier()
    {
        let row = vec![0.25f32; model.feature_dim()];
        let _ = c.predict(&row);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_damaged_model_file_is_refused_or_usable(
        byte in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<prop::sample::Index>()
    ) {
        prop_assert!(SavedModel::from_json(MODEL.as_bytes()).is_ok());
        let mut bytes = MODEL.as_bytes().to_vec();
        let i = byte.index(bytes.len());
        bytes[i] ^= 1 << bit;
        check(&bytes)?;
        check(&MODEL.as_bytes()[..cut.index(MODEL.len())])?;
        prop_assert!(SavedModel::from_json(&MODEL.as_bytes()[..MODEL.len() - 1]).is_err());
    }
}
