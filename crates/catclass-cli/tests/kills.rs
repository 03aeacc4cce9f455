//! Every command that writes (`extract`, `train`, `eval`, `sweep`, `model install`) killed
//! (SIGKILL) at many points while writing into the same folder: every file there is always
//! whole, and the run that finishes writes what a run never interrupted writes.

mod common;

use catclass_app::photos::photo_variants;
use common::{assert_success, features};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn catclass(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catclass"));
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Starts `cmd`, kills it after `after` (if still running); says whether it was killed.
fn kill_after(mut cmd: Command, after: Duration) -> bool {
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(after);
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    killed
}

/// Every file in `dir` (not the hidden temporary ones): name -> bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(n, _)| !n.starts_with('.'))
        .collect()
}

/// Each JSON file of `dir` parses whole (a feature file, a report, a model, the manifest).
fn all_whole(dir: &Path) {
    for (name, bytes) in files(dir) {
        if name.ends_with(".json") || name.ends_with(".manifest") {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("{name} is not whole after a kill: {e}"));
        }
    }
}

/// Kills at 0, 10, 20, ... ms into each run (`points` of them), checking the folder after each.
fn kill_at_many_points(args: &[&str], out: &Path, points: u64) -> usize {
    let mut killed = 0;
    for i in 0..points {
        if kill_after(catclass(args), Duration::from_millis(i * 10)) {
            killed += 1;
        }
        all_whole(out);
    }
    killed
}

#[test]
fn extract_killed_anywhere_leaves_whole_files_and_resumes_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/images");
    let (cat, dog) = (
        testdata.join("chelsea.jpg"),
        testdata.join("darknet-dog.jpg"),
    );
    photo_variants(&[(&cat, "cat"), (&dog, "dog")], 8, 5, &images).unwrap();
    let (clean, killed_dir): (PathBuf, PathBuf) =
        (tmp.path().join("clean"), tmp.path().join("killed"));
    let args = |out: &Path| {
        vec![
            "extract".to_string(),
            images.to_string_lossy().into_owned(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--threads".into(),
            "1".into(),
        ]
    };
    let clean_args = args(&clean);
    let clean_args: Vec<&str> = clean_args.iter().map(String::as_str).collect();
    assert_success(
        "clean extract",
        &catclass(&clean_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap(),
    );
    let kill_args = args(&killed_dir);
    let kill_args: Vec<&str> = kill_args.iter().map(String::as_str).collect();
    let killed = kill_at_many_points(&kill_args, &killed_dir, 30);
    assert!(
        killed >= 5,
        "only {killed} runs were still going when killed"
    );
    assert_success(
        "the run after the kills",
        &catclass(&kill_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap(),
    );
    assert_eq!(
        files(&killed_dir),
        files(&clean),
        "resumed output differs from a clean run's"
    );
}

#[test]
fn train_killed_anywhere_leaves_whole_files_and_reruns_to_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 5, 512);
    let (clean, killed_dir) = (tmp.path().join("clean"), tmp.path().join("killed"));
    let args = |out: &Path| -> Vec<String> {
        ["train", &f, "--multiclass", "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.to_string_lossy().into_owned()])
            .collect()
    };
    let run = |a: &[String]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        catclass(&a)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    assert_success("clean train", &run(&args(&clean)));
    let kill_args = args(&killed_dir);
    let kill_args: Vec<&str> = kill_args.iter().map(String::as_str).collect();
    kill_at_many_points(&kill_args, &killed_dir, 20);
    assert_success("the run after the kills", &run(&args(&killed_dir)));
    let (a, b) = (files(&clean), files(&killed_dir));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert_eq!(a["model.json"], b["model.json"], "the model differs");
}

/// Runs `args` to the end, which must succeed.
fn finish(what: &str, args: &[String]) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = catclass(&a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_success(what, &out);
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn eval_and_sweep_killed_anywhere_leave_whole_files_and_rerun_to_the_same_results() {
    // Compared byte for byte with a clean run's files, a sweep's `train_seconds` aside.
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 4, 256);
    let model_dir = tmp.path().join("model");
    let m = model_dir.to_string_lossy().into_owned();
    finish(
        "train",
        &strings(&["train", &f, "--multiclass", "--out", &m]),
    );
    let model = model_dir.join("model.json").to_string_lossy().into_owned();
    for (what, tail) in [
        ("eval", vec!["eval", model.as_str(), f.as_str()]),
        (
            "sweep",
            vec![
                "sweep",
                f.as_str(),
                "--multiclass",
                "--fractions",
                "0.3,0.6",
                "--repeats",
                "2",
            ],
        ),
    ] {
        let (clean, killed_dir) = (
            tmp.path().join(format!("{what}-clean")),
            tmp.path().join(format!("{what}-killed")),
        );
        let args = |out: &Path| {
            let mut a = strings(&tail);
            a.extend(["--out".to_string(), out.to_string_lossy().into_owned()]);
            a
        };
        finish(what, &args(&clean));
        let kill_args = args(&killed_dir);
        let kill_args: Vec<&str> = kill_args.iter().map(String::as_str).collect();
        let killed = kill_at_many_points(&kill_args, &killed_dir, 15);
        assert!(
            killed >= 2,
            "{what}: only {killed} runs were still going when killed"
        );
        finish(what, &args(&killed_dir));
        let (a, b) = (files(&clean), files(&killed_dir));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{what}"
        );
        assert!(!a.is_empty(), "{what} wrote nothing");
        // The same bytes as the clean run's, but for the fits' wall times.
        for (name, clean) in &a {
            let resumed = &b[name];
            let (clean, resumed) = if name.ends_with(".csv") {
                (without_column(clean, TIMES), without_column(resumed, TIMES))
            } else {
                (clean.clone(), resumed.clone())
            };
            assert!(
                clean == resumed,
                "{what}: {name} differs from a clean run's"
            );
        }
    }
}

/// The column of a sweep's CSV file that holds wall times.
const TIMES: &str = "train_seconds";

/// A CSV file's bytes without the column named `column` (when it has one).
fn without_column(csv: &[u8], column: &str) -> Vec<u8> {
    let text = String::from_utf8(csv.to_vec()).expect("a CSV file is UTF-8");
    let header = text.lines().next().unwrap_or_default();
    let Some(drop) = header.split(',').position(|c| c == column) else {
        return csv.to_vec();
    };
    let kept: Vec<String> = text
        .lines()
        .map(|line| {
            let cells = line.split(',').enumerate();
            let kept: Vec<&str> = cells.filter(|(i, _)| *i != drop).map(|(_, c)| c).collect();
            kept.join(",")
        })
        .collect();
    kept.join("\n").into_bytes()
}

#[test]
fn model_install_killed_anywhere_leaves_no_partial_network() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("models");
    let network = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models/efficientnet-lite0.onnx")
        .to_string_lossy()
        .into_owned();
    let dir = cache.to_string_lossy().into_owned();
    let install = |cmd: &mut Command| {
        cmd.args(["model", "install", &network, "--dir", &dir]);
    };
    let want = std::fs::read(&network).unwrap();
    let mut killed = 0;
    for i in 0..20 {
        let mut cmd = catclass(&[]);
        install(&mut cmd);
        if kill_after(cmd, Duration::from_millis(i * 5)) {
            killed += 1;
        }
        // The network is there whole, or not at all.
        if let Some(bytes) = files(&cache).get("efficientnet-lite0.onnx") {
            assert!(
                bytes == &want,
                "a partial network after a kill at {} ms",
                i * 5
            );
        }
        std::fs::remove_dir_all(&cache).ok();
    }
    assert!(
        killed >= 3,
        "only {killed} installs were still going when killed"
    );
    let mut cmd = catclass(&[]);
    install(&mut cmd);
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_success("install after the kills", &out);
    assert_eq!(files(&cache)["efficientnet-lite0.onnx"], want);
}
