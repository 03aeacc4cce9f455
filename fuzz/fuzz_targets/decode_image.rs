//! Arbitrary bytes through decoding and every preprocessing preset: errors are fine, panics,
//! overflows and runaway allocations are not.
#![no_main]

use std::path::Path;

use catclass_features::{DecodeLimits, Layout, Preset, decode_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small enough for libFuzzer's memory limit, large enough for real photos.
    let limits = DecodeLimits {
        max_pixels: 4_000_000,
        max_side: 16_384,
    };
    if let Ok(img) = decode_image(data, Path::new("fuzz-input"), &limits) {
        for preset in Preset::ALL {
            let pre = preset.preprocess();
            let t = pre.apply(&img, Layout::Nchw);
            assert_eq!(t.len(), pre.output_len());
            assert!(t.iter().all(|v| v.is_finite()));
        }
    }
});
