//! Arbitrary bytes as a feature shard (header JSON, sizes, offsets, row data): never a panic;
//! whatever is accepted has finite values of the announced shape and encodes back to a shard
//! that decodes to the same rows.
#![no_main]

use catclass_store::shard::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, values)) = decode("fuzz.safetensors", data) {
        assert_eq!(values.len(), header.rows() * header.dim);
        assert!(values.iter().all(|v| v.is_finite()));
        let again = encode(&header.names, header.dim, &values, header.feature_model.as_ref())
            .expect("accepted rows encode");
        let (h2, v2) = decode("again", &again).expect("our own shard decodes");
        assert_eq!((h2.names, h2.dim, h2.feature_model), (header.names, header.dim, header.feature_model));
        assert!(v2.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
});
