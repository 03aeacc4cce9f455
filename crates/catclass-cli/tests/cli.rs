//! `catclass` as a user runs it: golden cases end to end, the seed's result file, reports,
//! reproducibility, and clear refusals with a non-zero exit.

mod common;

use common::{assert_success, catclass, fails, features, golden, json, ok};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Every golden case through the command line: same weights bit for bit (the weights are
/// written as shortest round-trip decimals), same updates and passes, same test accuracy.
#[test]
fn golden_cases_through_the_cli() {
    for (case, exact) in [
        ("ovo-4096-defaults", true),
        ("ova-256-defaults", true),
        ("ovo-256-early-stop", true),
        ("ovo-256-intercept", true),
        ("ovo-512-minibatch", true),
        ("ovo-128-doubles", false),
    ] {
        let dir = golden(case);
        let e = json(&dir.join("expected.json"));
        let call = &e["call"];
        let out = tempfile::tempdir().unwrap();
        let f = |k: &str| call[k].as_f64().unwrap().to_string();
        let mut args: Vec<String> = vec![
            "train".into(),
            dir.join("train").to_str().unwrap().into(),
            e["positive"].as_str().unwrap().into(),
            e["negative"].as_str().unwrap().into(),
            "--test-features".into(),
            dir.join("test").to_str().unwrap().into(),
            "--iterations".into(),
            call["iterations"].as_u64().unwrap().to_string(),
            "--step".into(),
            f("step"),
            "--reg-param".into(),
            f("regParam"),
            "--mini-batch-fraction".into(),
            f("miniBatchFraction"),
            "--convergence-tol".into(),
            f("convergenceTol"),
            "--mllib-partitions".into(),
            e["partitions"].as_u64().unwrap().to_string(),
            "--out".into(),
            out.path().to_str().unwrap().into(),
        ];
        if call["intercept"].as_bool().unwrap() {
            args.push("--intercept".into());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&argv);
        let model = json(&out.path().join("model.json"));
        let got: Vec<f64> = model["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let want: Vec<f64> = e["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in got.iter().zip(&want) {
            if exact {
                assert_eq!(a.to_bits(), b.to_bits(), "{case}");
            } else {
                assert!((a - b).abs() <= 1e-12 * scale, "{case}");
            }
        }
        assert_eq!(got.len(), want.len());
        assert_eq!(
            model["intercept"].as_f64(),
            e["intercept"].as_f64(),
            "{case}"
        );
        let report = json(&out.path().join("report.json"));
        assert_eq!(report["updates"], e["updates"], "{case}");
        assert_eq!(report["passes"], e["passes"], "{case}");
        assert_eq!(
            report["test_accuracy"].as_f64(),
            e["test_accuracy"].as_f64(),
            "{case}"
        );
        let resultat = std::fs::read_to_string(out.path().join("resultat.txt")).unwrap();
        let acc = e["test_accuracy"].as_f64().unwrap();
        assert_eq!(
            resultat,
            format!(
                "{} - {} ---> {acc}\n{acc}\n",
                e["positive"].as_str().unwrap(),
                e["negative"].as_str().unwrap()
            ),
            "{case}"
        );
    }
}

#[test]
fn report_has_the_honest_metrics_and_warns_at_the_baseline() {
    let dir = golden("ova-256-defaults");
    let out = tempfile::tempdir().unwrap();
    let stdout = ok(&[
        "train",
        dir.join("train").to_str().unwrap(),
        "Abyssinian",
        "None",
        "--test-features",
        dir.join("test").to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(stdout.contains("warning: accuracy"), "{stdout}");
    let r = json(&out.path().join("report.json"));
    for key in [
        "test_accuracy",
        "updates",
        "passes",
        "majority_baseline",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "confusion",
        "counts",
        "params",
        "timings",
    ] {
        assert!(!r[key].is_null(), "report.json lacks {key}");
    }
    assert!(r["timings"]["load_seconds"].as_f64().unwrap() >= 0.0);
    assert!(r["timings"]["train_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(r["test_accuracy"], r["majority_baseline"]);
    assert_eq!(r["balanced_accuracy"].as_f64(), Some(0.5));
    let model = json(&out.path().join("model.json"));
    assert_eq!(model["format"], "catclass-svm-model");
    assert_eq!(model["version"], 1);
    assert_eq!(model["feature_dim"], 256);
    assert_eq!(model["threshold"].as_f64(), Some(0.0));
}

/// Same seed: same split and model for 1, 2 and 3 threads; another seed: another split.
#[test]
fn split_and_model_depend_on_the_seed_not_the_threads() {
    let dir = golden("ova-256-defaults").join("train");
    let dir = dir.to_str().unwrap();
    let run = |seed: &str, threads: &str| {
        let out = tempfile::tempdir().unwrap();
        ok(&[
            "train",
            dir,
            "Bengal",
            "None",
            "--seed",
            seed,
            "--threads",
            threads,
            "--mini-batch-fraction",
            "0.5",
            "--out",
            out.path().to_str().unwrap(),
        ]);
        std::fs::read(out.path().join("model.json")).unwrap()
    };
    let one = run("7", "1");
    assert_eq!(one, run("7", "2"));
    assert_eq!(one, run("7", "3"));
    assert_ne!(one, run("8", "2"));
}

#[test]
fn bad_input_is_refused_clearly() {
    let train = golden("ovo-256-early-stop").join("train");
    let train = train.to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();

    let e = fails(&[
        "train",
        "/nonexistent/features",
        "beagle",
        "None",
        "--out",
        o,
    ]);
    assert!(
        e.contains("/nonexistent/features") && e.contains("not found"),
        "{e}"
    );

    let e = fails(&["train", train, "beagl", "None", "--out", o]);
    assert!(
        e.contains("unknown class \"beagl\"") && e.contains("basset_hound, beagle"),
        "{e}"
    );

    let e = fails(&["train", train, "beagle", "beagle", "--out", o]);
    assert!(e.contains("two different classes"), "{e}");

    let e = fails(&["train", train, "beagle", "None", "--step", "0", "--out", o]);
    assert!(e.contains("step"), "{e}");

    let e = fails(&[
        "train",
        train,
        "beagle",
        "None",
        "--train-fraction",
        "1.5",
        "--out",
        o,
    ]);
    assert!(e.contains("--train-fraction"), "{e}");

    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("beagle_1.jpg.json"), "[1.0, 2.0]").unwrap();
    std::fs::write(bad.path().join("beagle_2.jpg.json"), "[1.0, NaN]").unwrap();
    std::fs::write(bad.path().join("boxer_1.jpg.json"), "[1.0, 2.0]").unwrap();
    let e = fails(&[
        "train",
        bad.path().to_str().unwrap(),
        "beagle",
        "None",
        "--out",
        o,
    ]);
    assert!(e.contains("beagle_2.jpg.json") && e.contains("NaN"), "{e}");

    let empty = tempfile::tempdir().unwrap();
    let e = fails(&[
        "train",
        empty.path().to_str().unwrap(),
        "beagle",
        "None",
        "--out",
        o,
    ]);
    assert!(e.contains("no feature files"), "{e}");
    // Nothing was written by the failed runs.
    assert!(!out.path().join("model.json").exists());
}

/// `--solver dcd` reaches a far lower MLlib objective than MLlib's 100 SGD iterations on the
/// same rows, reports its epochs and duality gap, and is the same for any thread count.
#[test]
fn dcd_solver_beats_sgd_on_the_same_objective() {
    let train = golden("ova-256-defaults").join("train");
    let train = train.to_str().unwrap();
    let run = |solver: &str, threads: &str| {
        let out = tempfile::tempdir().unwrap();
        let stdout = ok(&[
            "train",
            train,
            "Abyssinian",
            "None",
            "--solver",
            solver,
            "--dcd-tol",
            "1e-6",
            "--class-weight",
            "none",
            "--threads",
            threads,
            "--out",
            out.path().to_str().unwrap(),
        ]);
        (
            json(&out.path().join("report.json")),
            std::fs::read(out.path().join("model.json")).unwrap(),
            stdout,
        )
    };
    let (sgd, _, _) = run("mllib-sgd", "2");
    let (dcd, model1, stdout) = run("dcd", "1");
    let (_, model3, _) = run("dcd", "3");
    assert_eq!(model1, model3);
    assert!(
        stdout.contains("DCD:") && stdout.contains("duality gap"),
        "{stdout}"
    );
    assert_eq!(dcd["solver"], "dcd");
    assert_eq!(sgd["solver"], "mllib-sgd");
    let (o_sgd, o_dcd) = (
        sgd["objective"].as_f64().unwrap(),
        dcd["objective"].as_f64().unwrap(),
    );
    assert!(o_dcd < 0.5 * o_sgd, "dcd objective {o_dcd} vs sgd {o_sgd}");
    assert!(dcd["epochs"].as_u64().unwrap() > 0);
    let gap = dcd["duality_gap"].as_f64().unwrap();
    let primal = dcd["primal_objective"].as_f64().unwrap();
    assert!(
        gap >= 0.0 && gap <= 1e-3 * primal,
        "gap {gap}, primal {primal}"
    );
    assert_eq!(dcd["converged"], true);
    let model: Value = serde_json::from_slice(&model1).unwrap();
    assert_eq!(model["solver"], "dcd");
    assert_eq!(model["params"]["dcd"]["loss"], "hinge");
}

/// A file name carrying terminal control sequences is printed escaped, never raw: a hostile
/// name cannot retitle the window or move the cursor of the user reading the output.
#[test]
fn control_characters_in_names_are_printed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features");
    std::fs::create_dir(&features).unwrap();
    std::fs::write(features.join("cat_1.jpg.json"), "[1.0, 0.0]").unwrap();
    std::fs::write(features.join("dog_1.jpg.json"), "[0.0, 1.0]").unwrap();
    std::fs::write(
        features.join("dog_2\u{1b}]0;owned\u{7}.jpg.json"),
        "[0.0, oops]",
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = [
        "train",
        features.to_str().unwrap(),
        "cat",
        "dog",
        "--out",
        out.to_str().unwrap(),
    ];
    // A name an object store cannot hold is left out of the listing, with a warning.
    let said = ok(&args);
    assert!(
        !said.contains('\u{1b}') && !said.contains('\u{7}'),
        "{said:?}"
    );
    assert!(
        said.contains("cannot be listed") && said.contains("dog_2\\u{1b}]0;owned\\u{7}.jpg.json"),
        "{said}"
    );
}

#[test]
fn the_default_network_is_installed_checked_and_found() {
    let tmp = tempfile::tempdir().unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models");
    let dir = tmp.path().join("models");
    let dir_s = dir.to_str().unwrap();
    let junk = tmp.path().join("efficientnet-lite0.onnx");
    std::fs::write(&junk, b"not a network").unwrap();
    let out = catclass(&["model", "install", junk.to_str().unwrap(), "--dir", dir_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the 18536779"));
    assert!(!dir.join("efficientnet-lite0.onnx").exists());
    let out = catclass(&["model", "install", models.to_str().unwrap(), "--dir", dir_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_catclass"))
        .args(["model", "path"])
        .env("CATCLASS_MODEL_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.join("efficientnet-lite0.onnx").display().to_string()
    );
}

/// `--json`: the whole stdout is one JSON document, the written report's fields and the files
/// written; the same for eval and sweep.
#[test]
fn json_summaries_are_the_written_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 3, 16);
    let run = tmp.path().join("run");
    let document = |stdout: String| -> (Value, Value) {
        let mut summary: Value = serde_json::from_str(&stdout).expect("one JSON document");
        let written = summary.as_object_mut().unwrap().remove("written").unwrap();
        (summary, written)
    };
    let (summary, written) = document(ok(&[
        "train",
        &f,
        "Abyssinian",
        "Bengal",
        "--iterations",
        "20",
        "--out",
        run.to_str().unwrap(),
        "--json",
    ]));
    let report = json(&run.join("report.json"));
    assert_eq!(summary, report);
    assert_eq!(summary["task"]["kind"], "one-vs-one", "{summary}");
    assert_eq!(summary["counts"]["test_rows"], 12, "{summary}");
    let file = |dir: &Path, name: &str| Value::from(dir.join(name).to_str().unwrap());
    assert_eq!(
        written,
        Value::from(vec![
            file(&run, "resultat.txt"),
            file(&run, "report.json"),
            file(&run, "model.json"),
        ])
    );

    let ev = tmp.path().join("eval");
    let (summary, written) = document(ok(&[
        "--json",
        "eval",
        run.join("model.json").to_str().unwrap(),
        &f,
        "--out",
        ev.to_str().unwrap(),
    ]));
    assert_eq!(summary, json(&ev.join("eval.json")));
    assert_eq!(summary["rows"], 40);
    assert_eq!(summary["metrics"]["kind"], "binary");
    assert_eq!(
        written,
        Value::from(vec![file(&ev, "eval.json"), file(&ev, "eval.txt")])
    );

    let sw = tmp.path().join("sweep");
    let (summary, written) = document(ok(&[
        "sweep",
        &f,
        "Abyssinian",
        "None",
        "--fractions",
        "0.5,0.7",
        "--repeats",
        "2",
        "--iterations",
        "5",
        "--out",
        sw.to_str().unwrap(),
        "--json",
    ]));
    let points = summary["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(points[3]["share"].as_f64(), Some(0.7));
    let csv = std::fs::read_to_string(sw.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + points.len());
    assert_eq!(written[0], file(&sw, "sweep.csv"));
}

/// `--quiet`: nothing on stdout, the files are written all the same.
#[test]
fn quiet_train_prints_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 3, 16);
    let run = tmp.path().join("run");
    let out = catclass(&[
        "train",
        &f,
        "Abyssinian",
        "None",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_success("quiet train", &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert!(run.join("model.json").is_file());
    // Without --quiet the same run prints its summary.
    assert!(
        ok(&[
            "train",
            &f,
            "Abyssinian",
            "None",
            "--out",
            run.to_str().unwrap()
        ])
        .contains("Abyssinian - None --->")
    );
}

/// A reader that goes away (`catclass train ... | head -1`) ends the output, not the run: no
/// panic, the run's exit status, its files written; `--json` the same.
#[test]
fn closed_stdout_ends_the_output_not_the_run() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 3, 16);
    for json in [false, true] {
        let run = tmp.path().join(format!("run-{json}"));
        let mut args = vec![
            "train",
            &f,
            "Abyssinian",
            "None",
            "--out",
            run.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_catclass"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The read end closed before the first line is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.status.success(), "{:?}: {stderr}", out.status);
        assert!(run.join("model.json").is_file() && run.join("report.json").is_file());
    }
}

#[test]
fn completions_and_help() {
    let bash = ok(&["completions", "bash"]);
    assert!(
        bash.contains("_catclass()") && bash.contains("--feature-format"),
        "{bash}"
    );
    let help = ok(&["--help"]);
    assert!(
        help.contains("Exit status:") && help.contains("3  some images"),
        "{help}"
    );
    // `-h` lists the choices of each value enum on one line.
    let help = ok(&["train", "-h"]);
    for line in [
        "[possible values: mllib-sgd, dcd]",
        "[possible values: hinge, squared-hinge]",
        "[possible values: auto, json, shard]",
        "[possible values: threads, mpi]",
        "--json",
        "--quiet",
    ] {
        assert!(help.contains(line), "train -h lacks {line}:\n{help}");
    }
    let help = ok(&["extract", "-h"]);
    for line in [
        "[possible values: keras-vgg16, efficientnet-lite, torchvision]",
        "[possible values: tract, burn, ort]",
    ] {
        assert!(help.contains(line), "extract -h lacks {line}:\n{help}");
    }
}

/// 2 for a usage error (clap's), 1 for bad input, 0 for help.
#[test]
fn exit_statuses() {
    let code = |args: &[&str]| catclass(args).status.code();
    assert_eq!(code(&["train", "--no-such-flag"]), Some(2));
    assert_eq!(code(&["no-such-command"]), Some(2));
    let e = fails(&["train", "f", "a", "b", "--solver", "sgd"]);
    assert!(e.contains("mllib-sgd") && e.contains("dcd"), "{e}");
    assert_eq!(
        code(&["extract", "x", "--out", "o", "--preset", "vgg"]),
        Some(2)
    );
    // A batch that would preallocate gigabytes is a usage error, not an allocation.
    for batch in ["0", "257", "100000000"] {
        assert_eq!(
            code(&["predict", "m.json", "x.png", "--batch", batch]),
            Some(2)
        );
    }
    assert_eq!(code(&["--help"]), Some(0));
    let out = tempfile::tempdir().unwrap();
    let run = catclass(&[
        "train",
        "/nonexistent/features",
        "a",
        "None",
        "--json",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(run.stdout.is_empty());
    assert!(String::from_utf8_lossy(&run.stderr).contains("/nonexistent/features"));
}

/// 3 when some images failed: each is named, the summary counts them.
#[test]
fn failed_images_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let imgs = tmp.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    std::fs::write(imgs.join("cat_1.png"), b"not a png").unwrap();
    let feats = tmp.path().join("features");
    let run = catclass(&[
        "extract",
        imgs.to_str().unwrap(),
        "--out",
        feats.to_str().unwrap(),
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cat_1.png"), "{stderr}");
    let summary: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(summary["images"], 1);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["extracted"], 0);
}

/// DCD reports what it did, epochs (it makes no updates); MLlib's SGD its updates.
#[test]
fn dcd_summaries_count_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 3, 16);
    let run = tmp.path().join("run");
    let train = |extra: &[&str]| {
        let args = [&["train", &f, "--out", run.to_str().unwrap()], extra].concat();
        (ok(&args), json(&run.join("report.json")))
    };
    // The smallest and largest `key` of the models of a multiclass report.
    let range = |report: &Value, key: &str| {
        let v: Vec<u64> = report["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[key].as_u64().unwrap())
            .collect();
        (*v.iter().min().unwrap(), *v.iter().max().unwrap())
    };
    let (text, report) = train(&["--multiclass", "--solver", "dcd"]);
    let (lo, hi) = range(&report, "passes");
    assert!(lo > 0);
    assert!(
        text.contains(&format!("dcd: 3 models, {lo}..{hi} epochs each")),
        "{text}"
    );
    let (text, report) = train(&["--multiclass", "--iterations", "7"]);
    let (lo, hi) = range(&report, "updates");
    assert!(lo > 0);
    assert!(
        text.contains(&format!("mllib-sgd: 3 models, {lo}..{hi} updates each")),
        "{text}"
    );
    let (text, report) = train(&["Abyssinian", "None", "--solver", "dcd"]);
    let epochs = report["epochs"].as_u64().unwrap();
    assert!(text.contains(&format!("DCD: {epochs} epochs")), "{text}");
}

#[test]
fn a_feature_cache_gives_the_same_model_and_follows_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = features(dir.path(), 3, 16);
    let cache = dir.path().join("cache").join("pets.safetensors");
    let train = |cache_flag: bool| {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec![
            "train",
            &data,
            "--multiclass",
            "--out",
            out.path().to_str().unwrap(),
        ];
        if cache_flag {
            args.extend(["--cache", cache.to_str().unwrap()]);
        }
        ok(&args);
        let mut model = json(&out.path().join("model.json"));
        let source = model["training"]["feature_source"].take();
        (model, source)
    };
    let (plain, source) = train(false);
    assert_eq!(source, "json");
    // First run: the files are read and the cache written; then it is read instead.
    let (first, source) = train(true);
    assert_eq!((&first, source.as_str()), (&plain, Some("json")));
    assert!(cache.is_file());
    let (second, source) = train(true);
    assert_eq!(second, plain);
    assert!(source.as_str().unwrap().starts_with("cache "), "{source}");
    // A file removed: the cache is stale, the folder is read again.
    let removed = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    std::fs::remove_file(removed).unwrap();
    let (after, source) = train(true);
    assert_eq!(source, "json");
    assert_ne!(after, plain);
    assert_eq!(train(false).0, after);
    assert!(train(true).1.as_str().unwrap().starts_with("cache "));
}

#[test]
fn temporaries_left_by_killed_writes_are_swept_from_the_output_folder() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let data = features(dir.path(), 2, 8);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let age = |name: &str, secs: u64| {
        let path = out.join(name);
        std::fs::write(&path, b"partial").unwrap();
        let when = SystemTime::now() - Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    };
    // A killed run of a process that no longer exists, an older version's staging file, and
    // two that may belong to writes in progress (recent, or of a live process).
    age(".model.json.4194305.0.tmp", 7200);
    age("model.json#2", 7200);
    age(".report.json.4194305.1.tmp", 10);
    age(&format!(".resultat.txt.{}.0.tmp", std::process::id()), 7200);
    let classes: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|n| n.rsplit_once('_').unwrap().0.to_string())
        .collect();
    ok(&[
        "train",
        &data,
        &classes[0],
        "None",
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".report.json.4194305.1.tmp".to_string(),
            format!(".resultat.txt.{}.0.tmp", std::process::id()),
            "model.json".to_string(),
            "report.json".to_string(),
            "resultat.txt".to_string(),
        ]
    );
}
