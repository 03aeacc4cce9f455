//! Every format the store reads, damaged (one bit flipped anywhere, or cut short anywhere):
//! a clean error naming the file, or (a flip the format cannot see, e.g. in a float) the same
//! shape of result — never a panic, never rows of another shape.

use catclass_store::shard::{decode, encode};
use catclass_store::{FeatureModel, feature_json};
use proptest::prelude::*;

fn record() -> FeatureModel {
    FeatureModel {
        backend: "tract".into(),
        model: "default:efficientnet-lite0".into(),
        model_sha256: "a".repeat(64),
        layer: "features".into(),
        preset: "efficientnet-lite".into(),
        dim: 3,
    }
}

fn shard() -> Vec<u8> {
    let names: Vec<String> = (1..=4).map(|i| format!("cat_{i}.jpg.json")).collect();
    let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.25).collect();
    encode(&names, 3, &values, Some(&record())).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_shard_with_a_flipped_bit_is_refused_or_keeps_its_shape(byte in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = shard();
        let i = byte.index(bytes.len());
        bytes[i] ^= 1 << bit;
        match decode("f.safetensors", &bytes) {
            Ok((header, values)) => {
                prop_assert_eq!(values.len(), header.rows() * header.dim);
                prop_assert!(values.iter().all(|v| v.is_finite()));
            }
            Err(e) => prop_assert!(e.to_string().contains("f.safetensors"), "{}", e),
        }
    }

    #[test]
    fn a_shard_cut_short_is_refused(len in 0usize..400) {
        let bytes = shard();
        let len = len.min(bytes.len() - 1);
        let err = decode("f.safetensors", &bytes[..len]).unwrap_err();
        prop_assert!(err.to_string().contains("f.safetensors"), "{}", err);
    }

    #[test]
    fn a_feature_file_damaged_anywhere_is_refused_or_parses_to_finite_values(
        byte in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<prop::sample::Index>()
    ) {
        let good = feature_json::to_json(&[0.5, 1.25, 0.0, 3.0e-7]);
        let mut bytes = good.into_bytes();
        let i = byte.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(v) = feature_json::parse(&bytes) {
            prop_assert!(v.iter().all(|x| x.is_finite()));
        }
        let c = cut.index(bytes.len());
        if let Ok(v) = feature_json::parse(&bytes[..c]) {
            prop_assert!(v.iter().all(|x| x.is_finite()));
        }
    }
}
