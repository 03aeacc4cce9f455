//! [`tune`] on whole networks: the embedded EfficientNet-Lite0 (`models/` at the repository
//! root) and the VGG16-shaped graph that `catclass-features/tests/py/make_vgg16_like.py` builds
//! (random weights, Keras-export names; 64 channels in blocks 4-5, so that the Winograd
//! rewrites run on it). The VGG16-shaped test needs `python3` with `numpy` and `onnx`; it fails,
//! never skips, when one is missing.
//!
//! That the tuned plans give tract's own numbers is tested through
//! `catclass_features::TractBackend` (its `tract_models` tests); the kernels' own arithmetic by
//! the unit tests of this crate.

use std::path::{Path, PathBuf};
use std::process::Command;

use catclass_tract_kernels::{
    DirectConv2d, Isa, PointwiseConv, TuneOptions, Variant, WinogradChoice, WinogradConv,
    WinogradOutput, isa, tune, tune_with, use_direct_convs, use_pointwise_convs_on_any_cpu,
};
use tract_onnx::prelude::*;

/// The repository root.
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// EfficientNet-Lite0, decluttered, on a batch of `batch` 224x224 images.
fn efficientnet_lite0(batch: usize) -> TypedModel {
    tract_onnx::onnx()
        .model_for_path(root().join("models/efficientnet-lite0.onnx"))
        .unwrap()
        .with_input_fact(
            0,
            InferenceFact::dt_shape(f32::datum_type(), [batch, 3, 224, 224]),
        )
        .unwrap()
        .into_typed()
        .unwrap()
        .into_decluttered()
        .unwrap()
}

/// Builds the narrow VGG16-shaped graph in `dir` with `python3 make_vgg16_like.py` (the
/// script the catclass-features tests use too).
fn vgg16_like(dir: &Path) -> PathBuf {
    let script = root().join("crates/catclass-features/tests/py/make_vgg16_like.py");
    let p = dir.join("vgg16-like.onnx");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&p)
        .output()
        .unwrap_or_else(|e| panic!("this test needs python3 (pip install numpy onnx): {e}"));
    assert!(
        out.status.success(),
        "python3 {} failed (this test needs `pip install numpy onnx`):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

/// The VGG16-shaped graph, decluttered, batch 1 (NHWC, as Keras exports it).
fn vgg16_like_model(path: &Path) -> TypedModel {
    tract_onnx::onnx()
        .model_for_path(path)
        .unwrap()
        .with_input_fact(0, f32::fact([1, 224, 224, 3]).into())
        .unwrap()
        .into_typed()
        .unwrap()
        .into_decluttered()
        .unwrap()
}

/// The Winograd variants in `model`, fewest outputs per tile first.
fn winograd_variants(model: &TypedModel) -> Vec<Variant> {
    let mut variants: Vec<Variant> = model
        .nodes()
        .iter()
        .filter_map(|n| {
            // The three steps, or the fused op (AVX-512, where it pays).
            let steps = n.op_as::<WinogradOutput>().map(|o| o.tiles.variant);
            steps.or_else(|| n.op_as::<WinogradConv>().map(|c| c.tiles.variant))
        })
        .collect();
    variants.sort_by_key(|v| v.outputs());
    variants
}

#[test]
fn efficientnet_lite0_depthwise_and_stem_convolutions_run_direct() {
    // EfficientNet-Lite0's 16 depthwise convolutions and its stem (3 input channels) run
    // direct, each with the ReLU6 that follows it (batch 1 leaves them CHW, batch 2 NCHW).
    for batch in [1, 2] {
        let mut typed = efficientnet_lite0(batch);
        let tuning = tune(&mut typed).unwrap();
        assert_eq!(
            (tuning.direct.convs, tuning.direct.clamps),
            (17, 17),
            "batch {batch}"
        );
        assert_eq!((tuning.winograd, tuning.im2col), (0, 0));
        // The 32 1x1 convolutions, where the CPU has AVX-512.
        let p = tuning.pointwise;
        let want = if isa() >= Isa::Avx512 {
            (32, 16, 9)
        } else {
            (0, 0, 0)
        };
        assert_eq!((p.convs, p.clamps, p.residuals), want, "batch {batch}");
    }
    // Without the direct and 1x1 convolutions nothing else takes them: tract's plan.
    let mut typed = efficientnet_lite0(1);
    let opts = TuneOptions {
        direct_convs: false,
        pointwise_convs: false,
        ..TuneOptions::default()
    };
    assert_eq!(tune_with(&mut typed, &opts).unwrap(), Default::default());
    assert!(!typed.nodes().iter().any(|n| n.op_is::<DirectConv2d>()));
    assert!(!typed.nodes().iter().any(|n| n.op_is::<PointwiseConv>()));
}

/// Runs `model` on one reproducible 224x224 image: its single output.
fn run_image(model: TypedModel) -> Vec<f32> {
    let n = 3 * 224 * 224;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let x = Tensor::from_shape(&[1, 3, 224, 224], &x).unwrap();
    let plan = model.into_optimized().unwrap().into_runnable().unwrap();
    let y = plan.run(tvec![x.into()]).unwrap();
    y[0].try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

#[test]
fn efficientnet_lite0_with_every_1x1_convolution_rewritten_gives_tracts_logits() {
    // On any CPU (the portable path where there is no AVX-512): the whole network, direct
    // depthwise and 1x1 convolutions, against tract's own plan.
    let mut typed = efficientnet_lite0(1);
    assert_eq!(use_direct_convs(&mut typed).unwrap().convs, 17);
    let p = use_pointwise_convs_on_any_cpu(&mut typed).unwrap();
    assert_eq!((p.convs, p.clamps, p.residuals), (32, 16, 9));
    let fast = run_image(typed);
    let own = run_image(efficientnet_lite0(1));
    assert_eq!(fast.len(), own.len());
    let scale = own.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = fast
        .iter()
        .zip(&own)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    println!("largest difference {worst:e} of logits up to {scale}");
    assert!(scale > 1.0 && worst <= 1e-5 * scale, "{worst} vs {scale}");
}

#[test]
fn vgg16_shaped_graph_runs_its_64_channel_convolutions_as_winograd() {
    let dir = tempfile::tempdir().unwrap();
    let path = vgg16_like(dir.path());
    // Blocks 4 and 5 have 64 channels: the 3x3 convolutions reading 64 run as Winograd
    // F(4x4, 3x3) on 28x28 (block 4's second and third) and F(2x2, 3x3) on 14x14 (block 5).
    let mut typed = vgg16_like_model(&path);
    assert_eq!(tune(&mut typed).unwrap().winograd, 5);
    assert_eq!(
        winograd_variants(&typed),
        [Variant::F2; 3]
            .into_iter()
            .chain([Variant::F4; 2])
            .collect::<Vec<_>>()
    );
    // One variant everywhere, or none.
    let mut typed = vgg16_like_model(&path);
    let f4 = TuneOptions {
        winograd: WinogradChoice::Always(Variant::F4),
        ..TuneOptions::default()
    };
    assert_eq!(tune_with(&mut typed, &f4).unwrap().winograd, 5);
    assert_eq!(winograd_variants(&typed), [Variant::F4; 5]);
    let mut typed = vgg16_like_model(&path);
    let off = TuneOptions {
        winograd: WinogradChoice::Off,
        ..TuneOptions::default()
    };
    assert_eq!(tune_with(&mut typed, &off).unwrap().winograd, 0);
    assert!(winograd_variants(&typed).is_empty());
}
