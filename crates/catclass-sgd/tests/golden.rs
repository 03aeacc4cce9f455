//! The six MLlib 3.5.3 golden cases in `testdata/mllib/golden/`: same weights bit for bit
//! (1e-12 relative for the general-doubles case), same updates, passes and test predictions.

use catclass_sgd::{Dataset, MiniBatchSampling, Sequential, SgdParams};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/mllib/golden")
}

fn class_of(file: &str) -> &str {
    file.rsplit_once('_').map(|(c, _)| c).unwrap_or(file)
}

/// (file name, class, features) for every file of `dir`, sorted by name.
fn load(dir: &Path) -> Vec<(String, String, Vec<f64>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let x: Vec<f64> = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let class = class_of(&name).to_string();
            (name, class, x)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

struct Case {
    expected: Value,
    train_x: Vec<f64>,
    train_y: Vec<f64>,
    test: Vec<(String, f64, Vec<f64>)>,
    dim: usize,
}

fn case(name: &str) -> Case {
    let dir = golden_dir().join(name);
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let pos = expected["positive"].as_str().unwrap().to_string();
    let neg = expected["negative"].as_str().unwrap().to_string();
    let wanted = |c: &str| neg == "None" || c == pos || c == neg;
    let mut train_x = Vec::new();
    let mut train_y = Vec::new();
    let mut dim = 0;
    for (_, c, x) in load(&dir.join("train"))
        .into_iter()
        .filter(|r| wanted(&r.1))
    {
        dim = x.len();
        train_x.extend(x);
        train_y.push(if c == pos { 1.0 } else { 0.0 });
    }
    let test = load(&dir.join("test"))
        .into_iter()
        .filter(|r| wanted(&r.1))
        .map(|(f, c, x)| (f, if c == pos { 1.0 } else { 0.0 }, x))
        .collect();
    Case {
        expected,
        train_x,
        train_y,
        test,
        dim,
    }
}

fn params(e: &Value) -> SgdParams {
    let call = &e["call"];
    SgdParams::builder()
        .iterations(call["iterations"].as_u64().unwrap() as usize)
        .step(call["step"].as_f64().unwrap())
        .reg_param(call["regParam"].as_f64().unwrap())
        .mini_batch_fraction(call["miniBatchFraction"].as_f64().unwrap())
        .convergence_tol(call["convergenceTol"].as_f64().unwrap())
        .intercept(call["intercept"].as_bool().unwrap())
        .sampling(MiniBatchSampling::Spark {
            partitions: e["partitions"].as_u64().unwrap() as usize,
        })
        .check()
        .unwrap()
}

fn check(name: &str, exact: bool) {
    let c = case(name);
    let e = &c.expected;
    assert_eq!(
        c.train_y.len() as u64,
        e["n_train"].as_u64().unwrap(),
        "{name}: n_train"
    );
    let data = Dataset::new(&c.train_x, &c.train_y, c.dim).unwrap();
    let fit = params(e).fit(&data, &Sequential).unwrap();
    let want: Vec<f64> = e["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(fit.model.weights.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut worst = 0.0f64;
    for (j, (a, b)) in fit.model.weights.iter().zip(&want).enumerate() {
        if exact {
            assert_eq!(a.to_bits(), b.to_bits(), "{name}: weight {j}: {a} != {b}");
        }
        worst = worst.max((a - b).abs() / scale);
    }
    assert!(
        worst < 1e-12,
        "{name}: max relative weight difference {worst:e}"
    );
    let b = e["intercept"].as_f64().unwrap();
    if exact {
        assert_eq!(
            fit.model.intercept.to_bits(),
            b.to_bits(),
            "{name}: intercept"
        );
    }
    assert_eq!(
        fit.updates as u64,
        e["updates"].as_u64().unwrap(),
        "{name}: updates"
    );
    assert_eq!(
        fit.passes as u64,
        e["passes"].as_u64().unwrap(),
        "{name}: passes"
    );
    let preds = e["test_predictions"].as_array().unwrap();
    assert_eq!(preds.len(), c.test.len(), "{name}: test rows");
    let mut correct = 0;
    for (p, (file, label, x)) in preds.iter().zip(&c.test) {
        assert_eq!(p["file"].as_str().unwrap(), file);
        assert_eq!(p["label"].as_f64().unwrap(), *label);
        let margin = fit.model.margin(x);
        let m = p["margin"].as_f64().unwrap();
        assert!(
            (margin - m).abs() <= 1e-12 * m.abs().max(1.0),
            "{name}: {file} margin {margin} vs {m}"
        );
        let pred = fit.model.predict(x);
        assert_eq!(
            pred as u64,
            p["prediction"].as_u64().unwrap(),
            "{name}: {file}"
        );
        correct += usize::from(f64::from(pred) == *label);
    }
    let acc = correct as f64 / c.test.len() as f64;
    assert_eq!(
        acc,
        e["test_accuracy"].as_f64().unwrap(),
        "{name}: accuracy"
    );

    if exact {
        // The same rows stored as f32 (they are float32 values) give the same bits.
        let x32: Vec<f32> = c.train_x.iter().map(|v| *v as f32).collect();
        let d32 = Dataset::new(&x32, &c.train_y, c.dim).unwrap();
        let fit32 = params(e).fit(&d32, &Sequential).unwrap();
        assert_eq!(fit32, fit, "{name}: f32 storage");
    }
}

#[test]
fn ovo_4096_defaults() {
    check("ovo-4096-defaults", true);
}

#[test]
fn ova_256_defaults() {
    check("ova-256-defaults", true);
}

#[test]
fn ovo_256_early_stop() {
    check("ovo-256-early-stop", true);
}

#[test]
fn ovo_256_intercept() {
    check("ovo-256-intercept", true);
}

#[test]
fn ovo_512_minibatch() {
    check("ovo-512-minibatch", true);
}

#[test]
fn ovo_128_doubles() {
    check("ovo-128-doubles", false);
}
