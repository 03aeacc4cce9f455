//! Our decoding + preprocessing against Pillow (and Keras itself when it is installed).
//!
//! Needs `python3` with `pillow`, `numpy`, `keras` and `jax` (Keras runs on its numpy backend):
//! it fails, never skips, when they are missing (`CATCLASS_KERAS=optional` waives Keras).

mod common;

use std::path::Path;

use catclass_features::resize::{Filter, resize};
use catclass_features::{DecodeLimits, Layout, Preset, Rgb8Image, load_image};
use common::{python, read_f32, testdata};

fn write_png(img: &Rgb8Image, path: &Path) {
    image::save_buffer(
        path,
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
}

/// Deterministic pseudo-random image (xorshift), with some smooth structure.
fn synthetic(w: u32, h: u32, seed: u64) -> Rgb8Image {
    let mut s = seed | 1;
    let mut v = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3u32 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let smooth = (x * (c + 1) * 3 + y * 2) % 256;
                v.push(((smooth + (s % 64) as u32) % 256) as u8);
            }
        }
    }
    Rgb8Image::from_raw(w, h, v).unwrap()
}

fn same_f32(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    let bad = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a.to_bits() != b.to_bits());
    if let Some(i) = bad {
        panic!(
            "{what}: first difference at {i}: ours {} vs reference {}",
            ours[i], theirs[i]
        );
    }
}

#[test]
fn preprocessing_is_pillow_and_keras_exact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cases: Vec<(String, Rgb8Image)> = Vec::new();
    for name in [
        "chelsea.png",
        "chelsea.jpg",
        "coffee.png",
        "darknet-dog.jpg",
    ] {
        let img = load_image(
            &testdata(&format!("images/{name}")),
            &DecodeLimits::default(),
        )
        .unwrap();
        cases.push((name.replace('.', "_"), img));
    }
    // Odd sizes, up- and downscaling, extreme aspect ratios, exact 224, tiny.
    for (i, (w, h)) in [
        (224, 224),
        (225, 223),
        (17, 300),
        (1000, 37),
        (100, 100),
        (3, 2),
        (513, 257),
        (256, 256),
    ]
    .into_iter()
    .enumerate()
    {
        cases.push((format!("synthetic_{w}x{h}"), synthetic(w, h, i as u64 + 7)));
    }
    let mut jobs = Vec::new();
    for (stem, img) in &cases {
        let png = d.join(format!("{stem}.png"));
        write_png(img, &png);
        jobs.push(serde_json::json!({"png": png, "out_dir": d, "stem": stem}));
    }
    let jobs_path = d.join("jobs.json");
    std::fs::write(&jobs_path, serde_json::to_vec(&jobs).unwrap()).unwrap();
    let said = python("pillow_ref.py", &[jobs_path.to_str().unwrap()]);
    eprintln!("reference: {}", said.trim());
    // Real Keras is required unless explicitly waived (then Keras' own numpy code is used).
    if std::env::var("CATCLASS_KERAS").as_deref() != Ok("optional") {
        assert!(
            said.contains("keras=real"),
            "Keras is not importable: `pip install keras jax` (KERAS_BACKEND=numpy), \
             or set CATCLASS_KERAS=optional to compare with Keras' numpy code instead"
        );
    }

    let keras = Preset::KerasVgg16.preprocess();
    let effnet = Preset::EfficientNetLite.preprocess();
    let tv = Preset::Torchvision.preprocess();
    for (stem, img) in &cases {
        let p = |ext: &str| d.join(format!("{stem}.{ext}"));
        let nearest = resize(img, 224, 224, Filter::Nearest);
        assert!(
            nearest.as_raw() == std::fs::read(p("nearest224.rgb")).unwrap().as_slice(),
            "{stem}: nearest resize differs from Pillow"
        );
        let geo = effnet.geometry(img);
        assert!(
            geo.as_raw() == std::fs::read(p("tv.rgb")).unwrap().as_slice(),
            "{stem}: bilinear shorter-side 256 + centre crop 224 differs from Pillow"
        );
        same_f32(
            &keras.apply(img, Layout::Nhwc),
            &read_f32(&p("keras.f32")),
            &format!("{stem} keras-vgg16"),
        );
        same_f32(
            &effnet.apply(img, Layout::Nchw),
            &read_f32(&p("effnet.f32")),
            &format!("{stem} efficientnet-lite"),
        );
        same_f32(
            &tv.apply(img, Layout::Nchw),
            &read_f32(&p("torchvision.f32")),
            &format!("{stem} torchvision"),
        );
    }
}

/// How far our JPEG decoder (zune-jpeg) is from Pillow's (libjpeg-turbo) on the shipped photos.
/// The figures are printed (run with `--nocapture`); the bounds only catch a gross error.
#[test]
fn jpeg_decoding_is_close_to_pillow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = ["chelsea.jpg", "darknet-dog.jpg"];
    let jobs: Vec<_> = names
        .iter()
        .map(|n| serde_json::json!({"decode": testdata(&format!("images/{n}")), "out": d.join(format!("{n}.rgb"))}))
        .collect();
    let jobs_path = d.join("jobs.json");
    std::fs::write(&jobs_path, serde_json::to_vec(&jobs).unwrap()).unwrap();
    python("pillow_ref.py", &[jobs_path.to_str().unwrap()]);
    for n in names {
        let ours = load_image(&testdata(&format!("images/{n}")), &DecodeLimits::default()).unwrap();
        let pil = std::fs::read(d.join(format!("{n}.rgb"))).unwrap();
        let dims = std::fs::read_to_string(d.join(format!("{n}.rgb.dims"))).unwrap();
        assert_eq!(
            dims,
            format!("{} {}", ours.width(), ours.height()),
            "{n}: size"
        );
        let diffs: Vec<u32> = ours
            .as_raw()
            .iter()
            .zip(&pil)
            .map(|(&a, &b)| u32::from(a.abs_diff(b)))
            .collect();
        let max = diffs.iter().copied().max().unwrap();
        let mean = diffs.iter().map(|&x| f64::from(x)).sum::<f64>() / diffs.len() as f64;
        let exact = diffs.iter().filter(|&&x| x == 0).count() as f64 / diffs.len() as f64;
        println!(
            "jpeg decode vs Pillow, {n}: max {max}, mean {mean:.4}, identical {:.2}%",
            exact * 100.0
        );
        // Measured: chelsea.jpg max 4 mean 0.18, darknet-dog.jpg max 3 mean 0.09.
        assert!(max <= 8 && mean < 0.5, "{n}: max {max} mean {mean}");
    }
}

#[test]
fn png_decoding_is_pillow_exact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = ["chelsea.png", "coffee.png"];
    let jobs: Vec<_> = names
        .iter()
        .map(|n| serde_json::json!({"decode": testdata(&format!("images/{n}")), "out": d.join(format!("{n}.rgb"))}))
        .collect();
    let jobs_path = d.join("jobs.json");
    std::fs::write(&jobs_path, serde_json::to_vec(&jobs).unwrap()).unwrap();
    python("pillow_ref.py", &[jobs_path.to_str().unwrap()]);
    for n in names {
        let ours = load_image(&testdata(&format!("images/{n}")), &DecodeLimits::default()).unwrap();
        let pil = std::fs::read(d.join(format!("{n}.rgb"))).unwrap();
        assert!(
            ours.as_raw() == pil.as_slice(),
            "{n}: PNG pixels differ from Pillow's"
        );
    }
}
