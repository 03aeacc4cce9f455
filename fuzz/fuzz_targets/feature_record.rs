//! Arbitrary bytes as the record of what made a set of features (the `extract.manifest`
//! payload, also inside shards and model files), then its network as `predict` resolves it:
//! never a panic; a default network is only ever the published one by name.
#![no_main]

use catclass_features::{FeatureModel, ModelSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = serde_json::from_slice::<FeatureModel>(data) {
        let back: FeatureModel =
            serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(back, record);
        match record.model.parse::<ModelSource>() {
            Ok(ModelSource::Default) => assert!(record.model.ends_with(":efficientnet-lite0")),
            Ok(ModelSource::Path(p)) => assert_eq!(p.to_str(), Some(record.model.as_str())),
            Err(_) => {}
        }
    }
});
