//! `catclass train --multiclass` and `catclass eval` end to end on generated features.

mod common;

use common::{catclass, features, json, ok};

/// The heat map files of a multiclass run: a PNG, and an SVG naming the classes and axes.
fn assert_confusion_plots(dir: &std::path::Path) {
    let png = std::fs::read(dir.join("confusion.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000);
    let svg = std::fs::read_to_string(dir.join("confusion.svg")).unwrap();
    for text in ["Abyssinian", "Bengal", "predicted class", "true class"] {
        assert!(svg.contains(text), "confusion.svg lacks {text:?}");
    }
}

#[test]
fn multiclass_train_then_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 5, 32);
    let run = tmp.path().join("run");
    let run_s = run.to_string_lossy();
    let text = ok(&[
        "train",
        &f,
        "--multiclass",
        "--iterations",
        "20",
        "--out",
        &run_s,
    ]);
    assert!(text.contains("one vs rest over 5 classes"), "{text}");
    assert!(text.contains("confusion"), "{text}");
    let model = json(&run.join("model.json"));
    assert_eq!(model["task"]["kind"], "one-vs-rest");
    assert_eq!(model["models"].as_array().unwrap().len(), 5);
    assert_eq!(model["models"][0]["weights"].as_array().unwrap().len(), 32);
    let report = json(&run.join("report.json"));
    let m = &report["metrics"];
    assert_eq!(m["confusion"].as_array().unwrap().len(), 5);
    assert_eq!(m["per_class"].as_array().unwrap().len(), 5);
    assert_eq!(m["majority_baseline"], 0.2);
    assert!(m["macro_f1"].as_f64().unwrap() >= 0.0);
    assert_eq!(report["counts"]["train_rows"], 70);
    assert!(
        std::fs::read_to_string(run.join("report.txt"))
            .unwrap()
            .contains("macro-F1")
    );
    assert_confusion_plots(&run);

    let ev = tmp.path().join("eval");
    let model_s = run.join("model.json").to_string_lossy().into_owned();
    let text = ok(&["eval", &model_s, &f, "--out", &ev.to_string_lossy()]);
    assert!(text.contains("100 rows (0 left out)"), "{text}");
    let e = json(&ev.join("eval.json"));
    assert_eq!(e["metrics"]["kind"], "multiclass");
    assert_eq!(e["training"]["train_rows"], 70);
    assert!(text.contains("confusion.png"), "{text}");
    assert_confusion_plots(&ev);

    // A binary model evaluated on all the rows of its two classes.
    let bin = tmp.path().join("bin");
    ok(&[
        "train",
        &f,
        "Abyssinian",
        "Bengal",
        "--out",
        &bin.to_string_lossy(),
    ]);
    let text = ok(&[
        "eval",
        &bin.join("model.json").to_string_lossy(),
        &f,
        "--out",
        &ev.to_string_lossy(),
    ]);
    assert!(text.contains("40 rows (60 left out)"), "{text}");
    assert_eq!(json(&ev.join("eval.json"))["metrics"]["kind"], "binary");
}

#[test]
fn eval_refuses_bad_models_and_train_needs_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 2, 8);
    let bad = tmp.path().join("model.json");
    std::fs::write(&bad, r#"{"format": "catclass-svm-model", "version": 9}"#).unwrap();
    let out = catclass(&["eval", &bad.to_string_lossy(), &f]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("version 9 is not supported"), "{err}");
    let out = catclass(&["train", &f]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CLASS_A"));
}

#[test]
fn multiclass_with_dcd_trains_every_class() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 3, 16);
    let run = tmp.path().join("run");
    ok(&[
        "train",
        &f,
        "--multiclass",
        "--solver",
        "dcd",
        "--out",
        &run.to_string_lossy(),
    ]);
    let model = json(&run.join("model.json"));
    assert_eq!(model["solver"], "dcd");
    assert_eq!(model["models"].as_array().unwrap().len(), 3);
    let report = json(&run.join("report.json"));
    assert!(
        report["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["passes"].as_u64().unwrap() > 0)
    );
}

#[test]
fn sweep_writes_one_csv_line_per_share_and_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 3, 16);
    let out = tmp.path().join("sweep");
    let text = ok(&[
        "sweep",
        &f,
        "Abyssinian",
        "Bengal",
        "--fractions",
        "0.3,0.6",
        "--repeats",
        "3",
        "--iterations",
        "10",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(text.contains("Abyssinian"), "{text}");
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7, "{csv}");
    assert!(lines[0].starts_with("share,seed,accuracy,balanced_accuracy,f1"));
    assert!(lines[6].starts_with("0.6,22,"), "{csv}");
    let svg = std::fs::read_to_string(out.join("sweep.svg")).unwrap();
    assert!(
        svg.contains("<polyline") && svg.contains("training share"),
        "{svg}"
    );
    let png = std::fs::read(out.join("sweep.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000);
    ok(&[
        "sweep",
        &f,
        "--multiclass",
        "--fractions",
        "0.5",
        "--repeats",
        "1",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("sweep.csv"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}
