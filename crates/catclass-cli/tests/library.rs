//! The library and the command line agree: rows held in memory, trained through
//! `Dataset::from_rows`, give the weights `catclass train` writes for the same rows, bit for
//! bit, for every task and both solvers.

mod common;

use catclass_app::synthetic::pets_like;
use catclass_svm::prelude::*;
use catclass_svm::{MiniBatchSampling, Values};
use common::{json, ok};

fn weights(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap().to_bits())
        .collect()
}

fn bits(w: &[f64]) -> Vec<u64> {
    w.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn rows_in_memory_train_the_model_the_cli_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let pets = pets_like(5, 4, 30, 48);
    let spec = common::features_of(tmp.path(), &pets);

    // The same rows in memory, in the order the CLI reads them (file names sorted).
    let mut order: Vec<usize> = (0..pets.names.len()).collect();
    order.sort_by_key(|&i| format!("{}.json", pets.names[i]));
    let x = ndarray::Array2::from_shape_fn((order.len(), pets.dim), |(r, c)| pets.row(order[r])[c]);
    let labels: Vec<&str> = order.iter().map(|&i| pets.classes[i].as_str()).collect();
    let data = Dataset::from_rows(x.view(), labels).unwrap();
    assert!(matches!(data.values(), Values::F32(_)));
    let (train, _) = data.split_stratified(0.7, 9);
    let pool = ThreadPool::new(2).unwrap();
    let sgd = SvmSgd::params()
        .iterations(40)
        .mini_batch_fraction(0.6)
        .sampling(MiniBatchSampling::ChaCha { seed: 9 })
        .check()
        .unwrap();
    let dcd = Dcd::params().reg_param(0.01).seed(9).check().unwrap();

    let tasks = [
        (
            vec!["Bengal", "Birman"],
            Task::OneVsOne("Bengal".into(), "Birman".into()),
        ),
        (vec!["Birman", "None"], Task::OneVsRest("Birman".into())),
        (vec!["--multiclass"], Task::Multiclass),
    ];
    for (n, (args, task)) in tasks.iter().enumerate() {
        for (solver, flags) in [
            ("sgd", ["--solver", "mllib-sgd"]),
            ("dcd", ["--solver", "dcd"]),
        ] {
            let out = tmp.path().join(format!("run-{n}-{solver}"));
            let out_s = out.to_string_lossy().into_owned();
            let mut cli = vec!["train", spec.as_str()];
            cli.extend(args.iter().copied());
            cli.extend(flags);
            cli.extend([
                "--iterations",
                "40",
                "--mini-batch-fraction",
                "0.6",
                "--seed",
                "9",
                "--threads",
                "1",
                "--out",
                &out_s,
            ]);
            ok(&cli);
            let file = json(&out.join("model.json"));
            let model = match solver {
                "sgd" => sgd.fit(&train, task, &pool).unwrap(),
                _ => dcd.fit(&train, task, &pool).unwrap(),
            };
            match task {
                Task::Multiclass => {
                    let models = file["models"].as_array().unwrap();
                    assert_eq!(models.len(), model.models().len());
                    for (m, lib) in models.iter().zip(model.models()) {
                        assert_eq!(
                            weights(&m["weights"]),
                            bits(&lib.weights),
                            "{task} {solver}"
                        );
                    }
                }
                _ => assert_eq!(
                    weights(&file["weights"]),
                    bits(&model.models()[0].weights),
                    "{task} {solver}"
                ),
            }
        }
    }
}
