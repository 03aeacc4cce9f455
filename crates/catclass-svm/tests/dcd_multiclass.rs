//! Multiclass DCD: the same models, bit for bit, for every number of threads, and the models of
//! the solver's joint one-vs-rest fit.

use catclass_svm::prelude::*;
use catclass_svm::sgd::Sequential;
use catclass_svm::{ClassWeight, Loss};

const CLASSES: usize = 7;
const DIM: usize = 12;

/// `rows` rows of `DIM` non-negative values around a mean per class; row `r` is of class
/// `r % CLASSES`, named `c0 .. c6` (sorted as their indices).
fn data(rows: usize, seed: u64) -> (Vec<f32>, Vec<String>) {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let means: Vec<f64> = (0..CLASSES * DIM).map(|_| next()).collect();
    let mut x = Vec::with_capacity(rows * DIM);
    let mut labels = Vec::with_capacity(rows);
    for r in 0..rows {
        let class = r % CLASSES;
        for j in 0..DIM {
            x.push((means[class * DIM + j] + 0.8 * (next() - 0.5)).max(0.0) as f32);
        }
        labels.push(format!("c{class}"));
    }
    (x, labels)
}

fn weight_bits(model: &Classifier) -> Vec<Vec<u64>> {
    model
        .models()
        .iter()
        .map(|m| {
            let mut v: Vec<u64> = m.weights.iter().map(|w| w.to_bits()).collect();
            v.push(m.intercept.to_bits());
            v
        })
        .collect()
}

#[test]
fn multiclass_dcd_is_the_same_for_every_thread_count() {
    let (x, labels) = data(210, 31);
    let train = Dataset::from_slice(&x, DIM, labels).unwrap();
    for (loss, intercept, weight) in [
        (Loss::Hinge, false, ClassWeight::None),
        (Loss::SquaredHinge, true, ClassWeight::Balanced),
    ] {
        let params = Dcd::params()
            .reg_param(0.01)
            .loss(loss)
            .intercept(intercept)
            .class_weight(weight)
            .check()
            .unwrap();
        let reference = params.fit(&train, &Task::Multiclass, &Sequential).unwrap();
        assert_eq!(reference.models().len(), CLASSES);
        for threads in [1, 2, 3, 8] {
            let pool = ThreadPool::new(threads).unwrap();
            let model = params.fit(&train, &Task::Multiclass, &pool).unwrap();
            assert_eq!(
                weight_bits(&model),
                weight_bits(&reference),
                "{loss:?} {threads} threads"
            );
            assert_eq!(model.fits(), reference.fits(), "{loss:?} {threads} threads");
        }
        // The models of the solver's one-vs-rest fit over every class at once.
        let classes: Vec<f64> = train.targets().iter().map(|&t| t as f64).collect();
        let rows = catclass_svm::sgd::Dataset::new(&x, &classes, DIM).unwrap();
        let fits = params
            .solver_params(train.rows())
            .unwrap()
            .fit_one_vs_rest(&rows, CLASSES)
            .unwrap();
        for (fit, model) in fits.iter().zip(reference.models()) {
            assert_eq!(&fit.model, model);
        }
        for (fit, summary) in fits.iter().zip(reference.fits()) {
            assert_eq!(Some(fit.primal_objective), summary.primal_objective);
            assert_eq!(Some(fit.epochs), summary.epochs);
            assert_eq!(fit.converged, summary.converged);
        }
    }
}

#[test]
fn multiclass_dcd_separates_the_classes() {
    let (x, labels) = data(280, 5);
    let data = Dataset::from_slice(&x, DIM, labels).unwrap();
    let (train, test) = data.split_stratified(0.75, 3);
    let model = Dcd::params()
        .c(1.0)
        .intercept(true)
        .check()
        .unwrap()
        .fit(&train, &Task::Multiclass, &ThreadPool::new(2).unwrap())
        .unwrap();
    assert!(model.fits().iter().all(|f| f.converged));
    let accuracy = model.evaluate(&test).unwrap().metrics.accuracy();
    assert!(accuracy > 0.9, "accuracy {accuracy}");
}
