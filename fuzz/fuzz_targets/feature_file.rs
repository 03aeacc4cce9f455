//! Arbitrary bytes through the seed's feature-file parser: it must never panic, and whatever
//! it accepts must be finite and survive a write/read round trip unchanged.
#![no_main]

use catclass_store::feature_json::{parse, to_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = parse(data) {
        assert!(!values.is_empty());
        assert!(values.iter().all(|v| v.is_finite()));
        let again = parse(to_json(&values).as_bytes()).expect("our own output must parse");
        assert_eq!(again.len(), values.len());
        assert!(again.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
});
