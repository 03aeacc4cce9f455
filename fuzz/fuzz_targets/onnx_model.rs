//! Arbitrary bytes as the network file given to `--model` (ONNX, read by tract): never a panic
//! or an abort through `TractBackend::from_bytes`, only a network or a typed error.
#![no_main]

use catclass_features::TractBackend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // tract's own panics are turned into errors by `from_bytes`: the hook stays quiet for
    // those, and any other panic goes to libFuzzer's hook (a crash).
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !catclass_features::panic_is_caught() {
                previous(info)
            }
        }));
    });
    if let Ok(backend) = TractBackend::from_bytes(data, "fuzz.onnx", None) {
        use catclass_features::FeatureBackend;
        assert!(backend.output().dim > 0);
    }
});
