//! Helpers shared by the command-line tests: running `catclass`, checking its outcome, reading
//! its JSON files, the golden cases and generated features.
#![allow(dead_code)] // each test file uses some of them

use catclass_app::synthetic::pets_like;
use catclass_svm::store::StoreOptions;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder of golden case `case` in `testdata/mllib/golden`.
pub fn golden(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/mllib/golden")
        .join(case)
}

/// Runs `catclass <args>`.
pub fn catclass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_catclass"))
        .args(args)
        .output()
        .expect("run catclass")
}

/// Asserts that `out` (of `what`) succeeded, showing its output otherwise.
pub fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `catclass <args>`, which must succeed; returns its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = catclass(args);
    assert_success(&format!("catclass {args:?}"), &out);
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `catclass <args>`, which must fail without a panic; returns its standard error.
pub fn fails(args: &[&str]) -> String {
    let out = catclass(args);
    assert!(!out.status.success(), "catclass {args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Reads a JSON file.
pub fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Writes generated features (`breeds` classes of 20 rows of `dim` values) under
/// `dir/features`; returns that location.
pub fn features(dir: &Path, breeds: usize, dim: usize) -> String {
    features_of(dir, &pets_like(3, breeds, 20, dim))
}

/// Writes `pets` as feature files under `dir/features`; returns that location.
pub fn features_of(dir: &Path, pets: &catclass_app::synthetic::SyntheticPets) -> String {
    let spec = dir.join("features").to_string_lossy().into_owned();
    let loc = catclass_app::location::create(&spec, &StoreOptions::default()).unwrap();
    catclass_app::blocking::block_on(pets.write_json_files(&loc, 8)).unwrap();
    spec
}
