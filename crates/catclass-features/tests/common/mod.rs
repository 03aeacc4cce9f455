//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's `testdata/` (photos, MLlib goldens, models).
pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// A script of `tests/py/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// Runs `python3 SCRIPT ARGS...` and returns its stdout. Fails the test loudly (never skips)
/// when Python or a module is missing: CI installs them
/// (`pip install pillow numpy onnx onnxruntime keras`).
pub fn python(script_name: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script(script_name))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs python3 (pip install pillow numpy onnx onnxruntime): {e}")
        });
    assert!(
        out.status.success(),
        "python3 {script_name} failed (this test needs `pip install pillow numpy onnx onnxruntime`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads little-endian f32s.
pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Writes little-endian f32s.
pub fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// Largest `|a - b|` over the largest `|b|`: the difference relative to the vector's scale
/// (sparse ReLU features make element-wise relative differences meaningless near zero).
pub fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b
        .iter()
        .fold(0f32, |m, x| m.max(x.abs()))
        .max(f32::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / scale
}

/// Builds the narrow VGG16-shaped graph (random weights, Keras-export names) in `dir`.
pub fn vgg16_like(dir: &Path) -> PathBuf {
    let p = dir.join("vgg16-like.onnx");
    python("make_vgg16_like.py", &[p.to_str().unwrap()]);
    p
}

/// Runs `model` with onnxruntime on `input` (shape `shape`) and returns tensor `name`.
pub fn onnxruntime(
    dir: &Path,
    model: &Path,
    name: &str,
    input: &[f32],
    shape: [usize; 4],
) -> Vec<f32> {
    let inp = dir.join("ort-in.f32");
    let out = dir.join("ort-out.f32");
    write_f32(&inp, input);
    let shape = shape.map(|s| s.to_string()).join(",");
    python(
        "ort_ref.py",
        &[
            model.to_str().unwrap(),
            name,
            inp.to_str().unwrap(),
            &shape,
            out.to_str().unwrap(),
        ],
    );
    read_f32(&out)
}
