//! The tract backend on the embedded EfficientNet-Lite0 and on a VGG16-shaped graph.
//!
//! onnxruntime is the reference (`pip install onnxruntime onnx numpy`); the VGG16-shaped graph
//! is built by `tests/py/make_vgg16_like.py` (random weights, Keras-export names; 64 channels
//! in blocks 4-5, so that the Winograd rewrites run on it). Both fail, never skip, when Python
//! or a module is missing.
#![cfg(feature = "tract")]

mod common;

use std::sync::Arc;

use catclass_features::{
    BackendError, DecodeLimits, Extractor, FeatureBackend, Layout, ModelSource, Preset, Rgb8Image,
    TractBackend, load_image,
};
use catclass_tract_kernels::{Isa, TuneOptions, Variant, WinogradChoice, isa};
use common::{onnxruntime, rel_diff, testdata, vgg16_like};

fn photo(name: &str) -> Rgb8Image {
    load_image(
        &testdata(&format!("images/{name}")),
        &DecodeLimits::default(),
    )
    .unwrap()
}

fn labels() -> Vec<String> {
    let text = std::fs::read_to_string(testdata("models/imagenet-labels.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b })
        .0
}

#[test]
fn embedded_model_sees_a_cat_and_a_dog() {
    let backend = TractBackend::load(&ModelSource::Default, Some("logits")).unwrap();
    assert_eq!(backend.output().dim, 1000);
    let ex = Extractor::new(Arc::new(backend), Preset::EfficientNetLite.preprocess()).unwrap();
    let labels = labels();
    let logits = ex
        .extract_images(&[
            photo("chelsea.png"),
            photo("darknet-dog.jpg"),
            photo("coffee.png"),
        ])
        .unwrap();
    let (cat, dog, cup) = (argmax(&logits[0]), argmax(&logits[1]), argmax(&logits[2]));
    println!(
        "chelsea: {}, darknet-dog: {}, coffee: {}",
        labels[cat], labels[dog], labels[cup]
    );
    // ImageNet-1k: 281..=285 are domestic cats, 151..=268 dogs.
    assert!(
        (281..=285).contains(&cat),
        "chelsea came out as {} ({cat})",
        labels[cat]
    );
    assert!(
        (151..=268).contains(&dog),
        "darknet-dog came out as {} ({dog})",
        labels[dog]
    );
    assert!(
        !(151..=285).contains(&cup),
        "coffee came out as {} ({cup})",
        labels[cup]
    );
}

#[test]
fn embedded_features_match_onnxruntime_and_batches() {
    let backend = Arc::new(TractBackend::load(&ModelSource::Default, None).unwrap());
    assert_eq!(backend.output().name, "features");
    assert_eq!(backend.output().dim, 1280);
    assert_eq!(backend.input().layout, Layout::Nchw);
    let pre = Preset::EfficientNetLite.preprocess();
    let imgs = [
        photo("chelsea.jpg"),
        photo("darknet-dog.jpg"),
        photo("coffee.png"),
    ];
    assert_eq!(backend.plan_batch(), 1);
    let one = Extractor::new(backend.clone(), pre).unwrap();
    // A batch of 3 run as plans of 2 images, then 1.
    let two = TractBackend::load(&ModelSource::Default, None)
        .unwrap()
        .with_plan_batch(2);
    assert_eq!(two.plan_batch(), 2);
    let three = Extractor::new(Arc::new(two), pre).unwrap().with_batch(3);
    let a = one.extract_images(&imgs).unwrap();
    let b = three.extract_images(&imgs).unwrap();
    assert_eq!((a.len(), b.len()), (3, 3));
    for (x, y) in a.iter().zip(&b) {
        // ReLU6 then average pooling: within [0, 6], and not all zero.
        assert!(x.iter().all(|&v| (0.0..=6.0).contains(&v)));
        assert!(x.iter().any(|&v| v > 0.0));
        let d = rel_diff(x, y);
        assert!(d <= 1e-5, "plans of 2 vs 1: relative difference {d}");
    }
    // Same tensor through onnxruntime.
    let dir = tempfile::tempdir().unwrap();
    let tensor: Vec<f32> = imgs
        .iter()
        .flat_map(|i| pre.apply(i, Layout::Nchw))
        .collect();
    let model = testdata("models/efficientnet-lite0.onnx");
    let ort = onnxruntime(dir.path(), &model, "features", &tensor, [3, 3, 224, 224]);
    let ours: Vec<f32> = b.concat();
    let d = rel_diff(&ours, &ort);
    println!(
        "efficientnet-lite0 features, tract vs onnxruntime: max difference relative to the largest value {d:e}"
    );
    assert!(d <= 1e-4, "tract vs onnxruntime: {d}");
}

#[test]
fn tuned_plans_give_tracts_features() {
    // EfficientNet-Lite0's 16 depthwise convolutions and its stem (3 input channels) run
    // direct, each with the ReLU6 that follows it (batch 1 leaves them CHW, batch 2 NCHW).
    let tuned = TractBackend::load(&ModelSource::Default, Some("logits")).unwrap();
    assert_eq!(tuned.tuning_options(), Some(TuneOptions::default()));
    for images in [1, 2] {
        let tuning = tuned.tuning_report(images).unwrap().unwrap();
        assert_eq!(
            (tuning.direct.convs, tuning.direct.clamps),
            (17, 17),
            "{images} images"
        );
        assert_eq!((tuning.winograd, tuning.im2col), (0, 0));
        // Its 32 1x1 convolutions (16 followed by a ReLU6, 9 by a residual add) run as
        // `PointwiseConv` where the CPU has AVX-512; elsewhere tract's products stay.
        let p = tuning.pointwise;
        let want = if isa() >= Isa::Avx512 {
            (32, 16, 9)
        } else {
            (0, 0, 0)
        };
        assert_eq!((p.convs, p.clamps, p.residuals), want, "{images} images");
    }
    let untuned = tuned.with_tuning(false);
    assert_eq!(untuned.tuning_options(), None);
    assert_eq!(untuned.tuning_report(1).unwrap(), None);
    let pre = Preset::EfficientNetLite.preprocess();
    let imgs = [
        photo("chelsea.jpg"),
        photo("darknet-dog.jpg"),
        photo("coffee.png"),
    ];
    let run = |tuning: Option<TuneOptions>, plan_batch: usize| {
        let b = TractBackend::load(&ModelSource::Default, Some("logits")).unwrap();
        let b = match tuning {
            Some(options) => b.with_tuning_options(options),
            None => b.with_tuning(false),
        }
        .with_plan_batch(plan_batch);
        Extractor::new(Arc::new(b), pre)
            .unwrap()
            .with_batch(3)
            .extract_images(&imgs)
            .unwrap()
    };
    let tract_own = run(None, 1);
    for plan_batch in [1, 2] {
        let fast = run(Some(TuneOptions::default()), plan_batch);
        for (x, y) in fast.iter().zip(&tract_own) {
            let d = rel_diff(x, y);
            println!("logits, tuned vs tract's own plan, plans of {plan_batch}: {d:e}");
            assert!(d <= 1e-5, "plans of {plan_batch}: relative difference {d}");
        }
    }
    // Without the direct and 1x1 convolutions: tract's own plan, the same bits.
    let no_direct = TuneOptions {
        direct_convs: false,
        pointwise_convs: false,
        ..TuneOptions::default()
    };
    let b = TractBackend::load(&ModelSource::Default, Some("logits"))
        .unwrap()
        .with_tuning_options(no_direct);
    assert_eq!(b.tuning_report(1).unwrap(), Some(Default::default()));
    assert_eq!(run(Some(no_direct), 1), tract_own);
}

#[test]
fn vgg16_shaped_graph_by_path_at_fc2() {
    let dir = tempfile::tempdir().unwrap();
    let path = vgg16_like(dir.path());
    let src = ModelSource::Path(path.clone());
    let fc2 = Arc::new(TractBackend::load(&src, Some("fc2")).unwrap());
    // Blocks 4 and 5 have 64 channels: the 3x3 convolutions reading 64 run as Winograd (which
    // variant where: the catclass-tract-kernels tests); none when the options say so.
    assert_eq!(fc2.tuning_report(1).unwrap().unwrap().winograd, 5);
    // Keras exports are NHWC: the layout is read from the model.
    assert_eq!(fc2.input().layout, Layout::Nhwc);
    assert_eq!((fc2.input().height, fc2.input().width), (224, 224));
    assert_eq!(fc2.output().dim, 32);
    let pre = Preset::KerasVgg16.preprocess();
    let imgs = [
        photo("chelsea.png"),
        photo("darknet-dog.jpg"),
        photo("coffee.png"),
    ];
    let feats = Extractor::new(fc2.clone(), pre)
        .unwrap()
        .with_batch(2)
        .extract_images(&imgs)
        .unwrap();
    let single = Extractor::new(fc2.clone(), pre)
        .unwrap()
        .extract_images(&imgs)
        .unwrap();
    for (f, s) in feats.iter().zip(&single) {
        assert!(f.iter().all(|&v| v >= 0.0), "fc2 is taken after its ReLU");
        assert!(f.iter().any(|&v| v > 0.0));
        let d = rel_diff(f, s);
        assert!(d <= 1e-5, "batch 2 vs batch 1: {d}");
    }
    // Winograd off, or F(2x2, 3x3) on every map: the same features within rounding.
    for (winograd, replaced) in [
        (WinogradChoice::Off, 0),
        (WinogradChoice::Always(Variant::F2), 5),
    ] {
        let options = TuneOptions {
            winograd,
            ..TuneOptions::default()
        };
        let b = TractBackend::load(&src, Some("fc2"))
            .unwrap()
            .with_tuning_options(options);
        assert_eq!(b.tuning_options(), Some(options));
        let tuning = b.tuning_report(1).unwrap().unwrap();
        assert_eq!(tuning.winograd, replaced, "{winograd:?}");
        let other = Extractor::new(Arc::new(b), pre)
            .unwrap()
            .extract_images(&imgs)
            .unwrap();
        for (o, s) in other.iter().zip(&single) {
            let d = rel_diff(o, s);
            assert!(d <= 1e-5, "{winograd:?} vs the default: {d}");
        }
    }
    // "fc2" is the layer's last node: the ReLU, i.e. relu(BiasAdd).
    let pre_act = TractBackend::load(&src, Some("vgg16/fc2/BiasAdd:0")).unwrap();
    let z = Extractor::new(Arc::new(pre_act), pre)
        .unwrap()
        .extract_images(&imgs)
        .unwrap();
    assert!(
        z.iter().flatten().any(|&v| v < 0.0),
        "the pre-activation has negative values"
    );
    for (f, z) in feats.iter().zip(&z) {
        let relu: Vec<f32> = z.iter().map(|&v| v.max(0.0)).collect();
        assert!(rel_diff(f, &relu) <= 1e-5);
    }
    // And the same numbers as onnxruntime on the tensor itself.
    let tensor: Vec<f32> = imgs
        .iter()
        .flat_map(|i| pre.apply(i, Layout::Nhwc))
        .collect();
    let ort = onnxruntime(
        dir.path(),
        &path,
        "vgg16/fc2/Relu:0",
        &tensor,
        [3, 224, 224, 3],
    );
    let d = rel_diff(&feats.concat(), &ort);
    println!(
        "vgg16-shaped fc2, tract vs onnxruntime: max difference relative to the largest value {d:e}"
    );
    assert!(d <= 1e-4, "tract vs onnxruntime: {d}");
    // Default output: the graph's own (the softmax), which sums to 1.
    let top = TractBackend::load(&src, None).unwrap();
    assert_eq!(top.output().name, "predictions");
    let p = Extractor::new(Arc::new(top), pre)
        .unwrap()
        .extract_images(&imgs[..1])
        .unwrap();
    assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn unknown_layer_and_wrong_size_are_typed_errors() {
    match TractBackend::load(&ModelSource::Default, Some("fc7")) {
        Err(BackendError::UnknownLayer {
            layer, candidates, ..
        }) => {
            assert_eq!(layer, "fc7");
            assert!(candidates.contains("features"), "{candidates}");
        }
        other => panic!("expected UnknownLayer, got {other:?}"),
    }
    let backend = TractBackend::load(&ModelSource::Default, None).unwrap();
    let mut pre = Preset::Torchvision.preprocess();
    pre.crop = Some((200, 200));
    let err = Extractor::new(Arc::new(backend), pre).unwrap_err();
    assert_eq!((err.got_w, err.want_w), (200, 224));
    let missing = ModelSource::Path("/nonexistent/model.onnx".into());
    let err = TractBackend::load(&missing, None).unwrap_err();
    assert!(matches!(err, BackendError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/model.onnx"));
    let garbage = TractBackend::from_bytes(b"not an onnx file", "garbage.onnx", None).unwrap_err();
    assert!(matches!(garbage, BackendError::Model { .. }), "{garbage}");
}
