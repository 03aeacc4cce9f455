//! `catclass extract` and `catclass predict` on the shipped photos and on variants generated
//! from them (random crops, mirrors, colour shifts; generated, not new photos): the seed's
//! feature files and a shard, resumed runs, bad images named, then train and predict.

mod common;

use catclass_app::photos::photo_variants;
use common::catclass;
use std::path::{Path, PathBuf};
use std::process::Output;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn ok(what: &str, out: &Output) -> String {
    common::assert_success(what, out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// 5 cat variants (from chelsea.jpg) and 5 dog variants (from darknet-dog.jpg).
fn variants(dir: &Path) {
    let cat = testdata("images/chelsea.jpg");
    let dog = testdata("images/darknet-dog.jpg");
    photo_variants(&[(&cat, "cat"), (&dog, "dog")], 5, 3, dir).unwrap();
}

fn json_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    v.sort();
    v
}

#[test]
fn extract_train_predict_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    let feats = tmp.path().join("features");
    variants(&photos);
    let out = ok(
        "extract",
        &catclass(&["extract", p(&photos), "--out", p(&feats), "--batch", "3"]),
    );
    assert!(out.contains("10 extracted"), "{out}");
    let names = json_files(&feats);
    assert_eq!(names.len(), 10);
    assert_eq!(names[0], "cat_1.png.json");
    // The seed's format: a bare JSON array of 1280 numbers, each an exact float32.
    let first: Vec<f64> =
        serde_json::from_slice(&std::fs::read(feats.join(&names[0])).unwrap()).unwrap();
    assert_eq!(first.len(), 1280);
    assert!(
        first
            .iter()
            .all(|v| (*v as f32) as f64 == *v && v.is_finite())
    );
    let shard = std::fs::read(feats.join("features.safetensors")).unwrap();

    // Resume: a missing output and a corrupt one are redone, the rest skipped; results equal.
    let before = std::fs::read(feats.join("dog_2.png.json")).unwrap();
    std::fs::remove_file(feats.join("dog_2.png.json")).unwrap();
    std::fs::write(feats.join("cat_3.png.json"), "[1.0, 2.0").unwrap();
    let out = ok(
        "resumed extract",
        &catclass(&["extract", p(&photos), "--out", p(&feats), "--batch", "1"]),
    );
    assert!(out.contains("2 extracted, 8 already there"), "{out}");
    assert_eq!(std::fs::read(feats.join("dog_2.png.json")).unwrap(), before);
    assert_eq!(
        std::fs::read(feats.join("features.safetensors")).unwrap(),
        shard,
        "the shard of a resumed run is byte-identical"
    );

    // Another preprocessing into the same folder is refused rather than mixed.
    let out = catclass(&[
        "extract",
        p(&photos),
        "--out",
        p(&feats),
        "--preset",
        "torchvision",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another network") && err.contains("torchvision"),
        "{err}"
    );

    // Train from the shard and from the JSON files: the same model, bit for bit.
    let mut models = Vec::new();
    for format in ["shard", "json"] {
        let res = tmp.path().join(format!("res-{format}"));
        let out = ok(
            "train",
            &catclass(&[
                "train",
                p(&feats),
                "cat",
                "dog",
                "--out",
                p(&res),
                "--feature-format",
                format,
            ]),
        );
        assert!(out.contains("cat - dog"), "{out}");
        let model: serde_json::Value =
            serde_json::from_slice(&std::fs::read(res.join("model.json")).unwrap()).unwrap();
        let training = &model["training"];
        assert_eq!(training["feature_model"]["layer"], "features");
        assert_eq!(training["feature_model"]["dim"], 1280);
        models.push(model["weights"].clone());
    }
    assert_eq!(models[0], models[1]);

    // Predict the original photos with the network recorded in the model.
    let model = tmp.path().join("res-shard/model.json");
    let out = ok(
        "predict",
        &catclass(&[
            "predict",
            p(&model),
            p(&testdata("images/chelsea.png")),
            p(&testdata("images/darknet-dog.jpg")),
            "--json",
        ]),
    );
    let preds: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(preds.len(), 2);
    assert!(preds[0]["image"].as_str().unwrap().ends_with("chelsea.png"));
    assert_eq!(preds[0]["class"], "cat", "{out}");
    assert!(preds[0]["margin"].as_f64().unwrap() > 0.0);
    assert_eq!(preds[1]["class"], "dog", "{out}");
    assert!(preds[1]["margin"].as_f64().unwrap() < 0.0);
}

#[test]
fn bad_images_are_named_the_rest_is_extracted_and_the_exit_is_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let imgs = tmp.path().join("imgs");
    let feats = tmp.path().join("features");
    std::fs::create_dir_all(&imgs).unwrap();
    let good = std::fs::read(testdata("images/chelsea.jpg")).unwrap();
    std::fs::write(imgs.join("cat_1.jpg"), &good).unwrap();
    std::fs::write(imgs.join("cat_2.jpg"), &good[..good.len() / 2]).unwrap();
    std::fs::write(imgs.join("cat_3.jpg"), b"").unwrap();
    std::fs::write(imgs.join("cat_4.png"), b"this is not a picture").unwrap();
    std::fs::write(imgs.join("notes.txt"), b"ignored: not an image name").unwrap();
    let out = catclass(&["extract", p(&imgs), "--out", p(&feats)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for (file, problem) in [
        ("cat_2.jpg", "truncated"),
        ("cat_3.jpg", "empty"),
        ("cat_4.png", "not a JPEG or PNG"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(file) && l.contains(problem)),
            "{file}: {problem} not reported in:\n{err}"
        );
    }
    assert!(err.contains("3 of 4 images failed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(json_files(&feats), ["cat_1.jpg.json"]);

    // --fail-fast stops at the first failure.
    let feats2 = tmp.path().join("features2");
    let out = catclass(&[
        "extract",
        p(&imgs),
        "--out",
        p(&feats2),
        "--fail-fast",
        "--threads",
        "1",
        "--batch",
        "1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not attempted"), "{err}");

    // Nothing to extract and a missing folder are errors too.
    let out = catclass(&["extract", p(&tmp.path().join("nope")), "--out", p(&feats)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

#[test]
fn a_user_network_needs_its_preprocessing_and_a_wrong_layer_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("copy.onnx");
    std::fs::copy(testdata("models/efficientnet-lite0.onnx"), &onnx).unwrap();
    let img = testdata("images/coffee.png");
    let out = catclass(&[
        "extract",
        p(&img),
        "--out",
        p(&tmp.path().join("f")),
        "--model",
        p(&onnx),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--preset") && err.contains("copy.onnx"),
        "{err}"
    );
    let out = catclass(&[
        "extract",
        p(&img),
        "--out",
        p(&tmp.path().join("f")),
        "--model",
        p(&onnx),
        "--preset",
        "efficientnet-lite",
        "--layer",
        "no_such_layer",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no_such_layer"), "{err}");
    // The logits of the same file, chosen by name, are 1000 wide.
    let out = ok(
        "extract logits",
        &catclass(&[
            "extract",
            p(&img),
            "--out",
            p(&tmp.path().join("logits")),
            "--model",
            p(&onnx),
            "--preset",
            "efficientnet-lite",
            "--layer",
            "logits",
        ]),
    );
    assert!(out.contains("(1000 features)"), "{out}");
}

#[test]
fn a_network_that_makes_tract_panic_is_an_error_not_a_panic_message() {
    // EfficientNet-Lite0 with its last node's output renamed: the graph's output `logits`
    // names no node's, and tract's parser panics on that ("no entry found for key").
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(testdata("models/efficientnet-lite0.onnx")).unwrap();
    let (from, to) = (b"\x12\x06logits", b"\x12\x06logit#");
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut damaged = bytes.clone();
    damaged[at..at + to.len()].copy_from_slice(to);
    let onnx = tmp.path().join("dangling.onnx");
    std::fs::write(&onnx, damaged).unwrap();
    let out = catclass(&[
        "extract",
        p(&testdata("images/coffee.png")),
        "--out",
        p(&tmp.path().join("f")),
        "--model",
        p(&onnx),
        "--preset",
        "efficientnet-lite",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dangling.onnx") && err.contains("not a network tract can read"),
        "{err}"
    );
    // The panic was caught and reported as that error: no panic message besides.
    assert!(!err.contains("panicked"), "{err}");
}

/// `--backend burn` gives tract's features within 1e-4 (relative to the largest value), and the
/// folder records the engine, so mixing engines in one folder is refused.
#[cfg(feature = "burn")]
#[test]
fn burn_extracts_what_tract_extracts() {
    let tmp = tempfile::tempdir().unwrap();
    let imgs = [
        testdata("images/chelsea.jpg"),
        testdata("images/coffee.png"),
    ];
    let mut outputs = Vec::new();
    for backend in ["tract", "burn"] {
        let out = tmp.path().join(backend);
        ok(
            backend,
            &catclass(&[
                "extract",
                p(&imgs[0]),
                p(&imgs[1]),
                "--out",
                p(&out),
                "--backend",
                backend,
                "--batch",
                "2",
            ]),
        );
        outputs.push(out);
    }
    for name in ["chelsea.jpg.json", "coffee.png.json"] {
        let read = |dir: &Path| -> Vec<f64> {
            serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
        };
        let (t, b) = (read(&outputs[0]), read(&outputs[1]));
        assert_eq!(t.len(), b.len());
        let scale = t.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = t
            .iter()
            .zip(&b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff <= 1e-4 * scale, "{name}: {diff} vs scale {scale}");
    }
    let mixed = catclass(&[
        "extract",
        p(&imgs[0]),
        "--out",
        p(&outputs[0]),
        "--backend",
        "burn",
    ]);
    assert!(!mixed.status.success());
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("another network"));
}

/// `--backend ort` gives tract's features within 1e-4 (relative to the largest value). The
/// onnxruntime library is `$ORT_DYLIB_PATH`, else the Python package's (never skipped).
#[cfg(feature = "ort")]
#[test]
fn ort_extracts_what_tract_extracts() {
    let library = std::env::var_os("ORT_DYLIB_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let ask = "import onnxruntime, os, glob; \
                       d = os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'); \
                       print(sorted(glob.glob(os.path.join(d, '*onnxruntime.*')), key=len)[0])";
            let o = std::process::Command::new("python3")
                .args(["-c", ask])
                .output()
                .expect("this test needs ORT_DYLIB_PATH or python3 with onnxruntime");
            assert!(
                o.status.success(),
                "this test needs ORT_DYLIB_PATH or `pip install onnxruntime`: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
        });
    let tmp = tempfile::tempdir().unwrap();
    let imgs = [
        testdata("images/chelsea.jpg"),
        testdata("images/coffee.png"),
    ];
    let mut outputs = Vec::new();
    for backend in ["tract", "ort"] {
        let out = tmp.path().join(backend);
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_catclass"))
            .args(["extract", p(&imgs[0]), p(&imgs[1]), "--out", p(&out)])
            .args(["--backend", backend, "--batch", "2"])
            .env("ORT_DYLIB_PATH", &library)
            .output()
            .unwrap();
        ok(backend, &run);
        outputs.push(out);
    }
    for name in ["chelsea.jpg.json", "coffee.png.json"] {
        let read = |dir: &Path| -> Vec<f64> {
            serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
        };
        let (t, o) = (read(&outputs[0]), read(&outputs[1]));
        assert_eq!(t.len(), o.len());
        let scale = t.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = t
            .iter()
            .zip(&o)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff <= 1e-4 * scale, "{name}: {diff} vs scale {scale}");
    }
    let manifest = std::fs::read_to_string(outputs[1].join("extract.manifest")).unwrap();
    assert!(manifest.contains("\"ort\""), "{manifest}");
    // Without a library named, the error says how to get one.
    let unset = std::process::Command::new(env!("CARGO_BIN_EXE_catclass"))
        .args([
            "extract",
            p(&imgs[0]),
            "--out",
            p(&tmp.path().join("unset")),
        ])
        .args(["--backend", "ort"])
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&unset.stderr);
    assert_eq!(unset.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ORT_DYLIB_PATH") && stderr.contains("pip install onnxruntime"),
        "{stderr}"
    );
}

/// Without the cargo feature `ort`, `--backend ort` says how to get it.
#[cfg(not(feature = "ort"))]
#[test]
fn ort_backend_not_built_is_said() {
    let tmp = tempfile::tempdir().unwrap();
    let o = catclass(&[
        "extract",
        p(&testdata("images/chelsea.jpg")),
        "--out",
        p(&tmp.path().join("f")),
        "--backend",
        "ort",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cargo feature `ort`"), "{stderr}");
}

/// Feature files already in the output folder with no manifest saying what made them are not
/// adopted as this run's: the run refuses, naming the folder, and changes nothing.
#[test]
fn unrecorded_feature_files_are_not_adopted() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f");
    std::fs::create_dir(&out).unwrap();
    let planted = out.join("chelsea.jpg.json");
    let values = vec![0.5f64; 1280];
    std::fs::write(
        &planted,
        catclass_svm::store::feature_json::to_json(&values),
    )
    .unwrap();
    let o = catclass(&[
        "extract",
        p(&testdata("images/chelsea.jpg")),
        "--out",
        p(&out),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no extract.manifest"), "{stderr}");
    assert!(!out.join("extract.manifest").exists());
    assert_eq!(
        std::fs::read_to_string(&planted).unwrap(),
        catclass_svm::store::feature_json::to_json(&values)
    );
}

/// A folder entry that cannot be listed (a name that is not UTF-8) is one failed image, named:
/// the others are extracted, the exit is 3; with `--fail-fast` the run stops before any work.
#[test]
fn an_unlistable_image_fails_alone() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::copy(testdata("images/chelsea.jpg"), images.join("cat_1.jpg")).unwrap();
    std::fs::copy(testdata("images/darknet-dog.jpg"), images.join("dog_1.jpg")).unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"cat_\xff.jpg");
    std::fs::copy(testdata("images/chelsea.jpg"), images.join(bad)).unwrap();
    let out = tmp.path().join("out");
    let o = catclass(&["extract", p(&images), "--out", p(&out)]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("not UTF-8") && stderr.contains("left out"),
        "{stderr}"
    );
    assert!(out.join("cat_1.jpg.json").is_file() && out.join("dog_1.jpg.json").is_file());
    let strict = tmp.path().join("strict");
    let o = catclass(&["extract", p(&images), "--out", p(&strict), "--fail-fast"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!strict.join("cat_1.jpg.json").exists());
}

/// A black `side` x `side` RGB PNG: a few hundred KB that decode to `3 side^2` bytes.
fn black_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, side, side);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; side as usize * 3];
    for _ in 0..side {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
    drop(writer);
    out
}

/// Peak resident memory of an `extract --json` run, from its report.
fn peak_of(images: &Path, out: &Path, flags: &[&str]) -> u64 {
    let mut args = vec![
        "--json",
        "extract",
        p(images),
        "--out",
        p(out),
        "--no-shard",
    ];
    args.extend(flags);
    let run = catclass(&args);
    let report: serde_json::Value = serde_json::from_str(&ok("extract", &run)).unwrap();
    report["peak_memory_bytes"]
        .as_u64()
        .expect("peak memory reported")
}

#[test]
fn images_that_decode_to_huge_buffers_stay_within_the_image_memory() {
    let dir = tempfile::tempdir().unwrap();
    // The process without images worth counting: one small photo.
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    std::fs::copy(testdata("images/chelsea.jpg"), small.join("cat_1.jpg")).unwrap();
    let flags = ["--threads", "4", "--batch", "2", "--image-memory", "400"];
    let base = peak_of(&small, &dir.path().join("out-small"), &flags);
    // Six PNGs of 8000 x 8000 (about 200 KB each): 192 MB each once decoded, four workers.
    let huge = dir.path().join("huge");
    std::fs::create_dir(&huge).unwrap();
    let png = black_png(8000);
    assert!(png.len() < 1 << 20, "{} bytes", png.len());
    for i in 0..6 {
        std::fs::write(huge.join(format!("black_{i}.png")), &png).unwrap();
    }
    let peak = peak_of(&huge, &dir.path().join("out-huge"), &flags);
    // The stated bound: what the process takes without images, plus --image-memory, plus
    // the batch inputs (4 workers x 2 x 0.6 MB) and each worker's resize buffers.
    let bound = base + (400 << 20) + (64 << 20);
    assert!(
        peak <= bound,
        "peak {} MiB over {} MiB (base {} MiB)",
        peak >> 20,
        bound >> 20,
        base >> 20
    );
    // Without the budget four workers would hold four decoded images (768 MB) at once.
    assert!(base + ((3 * 192) << 20) > bound);
}
