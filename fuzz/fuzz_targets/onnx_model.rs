//! Arbitrary bytes as the network file given to `--model` (ONNX, read by tract): never a panic
//! or an abort through `TractBackend::from_bytes`, only a network or a typed error.
#![no_main]

use catclass_features::TractBackend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // tract's own panics are turned into errors by `from_bytes`; the hook would print each.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if let Ok(backend) = TractBackend::from_bytes(data, "fuzz.onnx", None) {
        use catclass_features::FeatureBackend;
        assert!(backend.output().dim > 0);
    }
});
