//! One vs rest trains each model exactly as its own binary fit would.

use catclass_sgd::reduce::{BlockFn, BlockReducer, Partial};
use catclass_sgd::{Dataset, Element, MiniBatchSampling, Sequential, SgdParams, TrainError};
use proptest::prelude::*;

/// Computes the blocks last to first, then folds them in block order (the contract).
struct Backwards;

impl BlockReducer for Backwards {
    fn reduce(&self, n: usize, len: usize, block: &BlockFn<'_>) -> Result<Partial, TrainError> {
        let mut parts = Vec::new();
        for b in (0..n).rev() {
            let mut p = Partial::zeros(len);
            block(b, &mut p)?;
            parts.push(p);
        }
        let mut acc = Partial::zeros(len);
        for p in parts.iter().rev() {
            acc.add(p);
        }
        Ok(acc)
    }
}

/// Class-dependent clusters with noise: rows, class labels.
fn data(rows: usize, dim: usize, classes: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let mut x = Vec::with_capacity(rows * dim);
    let mut y = Vec::with_capacity(rows);
    for r in 0..rows {
        let c = (r * 7 + (seed as usize % 5)) % classes;
        y.push(c as f64);
        for j in 0..dim {
            let centre = if j % classes == c { 1.5 } else { 0.0 };
            x.push(centre + next());
        }
    }
    (x, y)
}

fn check<T: Element>(
    x: &[T],
    y: &[f64],
    dim: usize,
    classes: usize,
    params: &SgdParams,
) -> Result<(), TestCaseError> {
    let data = Dataset::new(x, y, dim).unwrap();
    let multi = params.fit_one_vs_rest(&data, classes, &Sequential).unwrap();
    let backwards = params.fit_one_vs_rest(&data, classes, &Backwards).unwrap();
    prop_assert_eq!(&multi, &backwards);
    prop_assert_eq!(multi.len(), classes);
    for (k, fit) in multi.iter().enumerate() {
        let yk: Vec<f64> = y.iter().map(|c| f64::from(*c == k as f64)).collect();
        let binary = params
            .fit(&Dataset::new(x, &yk, dim).unwrap(), &Sequential)
            .unwrap();
        // Compare bit patterns (NaN-safe, -0.0 distinct).
        let bits = |w: &[f64]| w.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(
            bits(&fit.model.weights),
            bits(&binary.model.weights),
            "class {}",
            k
        );
        prop_assert_eq!(
            fit.model.intercept.to_bits(),
            binary.model.intercept.to_bits()
        );
        prop_assert_eq!(fit.updates, binary.updates);
        prop_assert_eq!(fit.passes, binary.passes);
        prop_assert_eq!(fit.converged, binary.converged);
        prop_assert_eq!(bits(&fit.loss_history), bits(&binary.loss_history));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn each_model_equals_its_binary_fit(
        rows in 0usize..700,
        dim in 1usize..14,
        classes in 1usize..6,
        seed in any::<u64>(),
        iters in 0usize..25,
        tol in prop_oneof![Just(0.0), Just(0.001), Just(0.05)],
        fraction in prop_oneof![Just(1.0), Just(0.4)],
        spark in any::<bool>(),
        intercept in any::<bool>(),
        single in any::<bool>(),
    ) {
        let (x, y) = data(rows, dim, classes, seed);
        let params = SgdParams::builder()
            .iterations(iters)
            .convergence_tol(tol)
            .mini_batch_fraction(fraction)
            .intercept(intercept)
            .sampling(if spark {
                MiniBatchSampling::Spark { partitions: 3 }
            } else {
                MiniBatchSampling::ChaCha { seed }
            })
            .check()
            .unwrap();
        if single {
            let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
            check(&x32, &y, dim, classes, &params)?;
        } else {
            check(&x, &y, dim, classes, &params)?;
        }
    }
}

#[test]
fn early_stop_of_one_model_leaves_the_others_training() {
    let (x, y) = data(600, 9, 4, 3);
    let params = SgdParams::builder()
        .iterations(60)
        .convergence_tol(0.02)
        .check()
        .unwrap();
    let fits = params
        .fit_one_vs_rest(&Dataset::new(&x, &y, 9).unwrap(), 4, &Sequential)
        .unwrap();
    let updates: Vec<usize> = fits.iter().map(|f| f.updates).collect();
    assert!(fits.iter().any(|f| f.converged), "{updates:?}");
    assert!(
        updates.iter().min() != updates.iter().max(),
        "models should stop at different passes: {updates:?}"
    );
    check(&x, &y, 9, 4, &params).unwrap();
}

#[test]
fn labels_that_are_not_class_indices_are_refused() {
    let x = vec![0.0; 6];
    for bad in [-1.0, 3.0, 0.5, f64::NAN] {
        let y = vec![0.0, bad, 2.0];
        let err = SgdParams::builder()
            .check()
            .unwrap()
            .fit_one_vs_rest(&Dataset::new(&x, &y, 2).unwrap(), 3, &Sequential)
            .unwrap_err();
        assert!(
            matches!(
                err,
                TrainError::InvalidLabels {
                    first_row: 1,
                    count: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn argmax_takes_the_first_largest() {
    use catclass_sgd::multiclass::argmax;
    assert_eq!(argmax(&[]), None);
    assert_eq!(argmax(&[-1.0, 2.0, 2.0, 0.5]), Some(1));
    assert_eq!(argmax(&[-3.0]), Some(0));
}

#[test]
fn wide_rows_cross_column_tiles_and_keep_every_order() {
    // 1 030 columns: four full 256-column tiles, a partial one, and a 2-column tail; 7 classes:
    // two 3-model register tiles and a lone model; 299 rows: partial row groups at block ends.
    let (x, y) = data(299, 1030, 7, 11);
    let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
    for (intercept, fraction) in [(false, 1.0), (true, 0.6)] {
        let params = SgdParams::builder()
            .iterations(6)
            .step(0.5)
            .mini_batch_fraction(fraction)
            .intercept(intercept)
            .check()
            .unwrap();
        check(&x32, &y, 1030, 7, &params).unwrap();
        check(&x, &y, 1030, 7, &params).unwrap();
    }
}

#[test]
fn non_finite_features_still_match_the_binary_fits() {
    let (mut x, y) = data(40, 21, 3, 5);
    x[3 * 21 + 4] = f64::INFINITY;
    x[17 * 21 + 20] = f64::NAN;
    let params = SgdParams::builder().iterations(3).check().unwrap();
    check(&x, &y, 21, 3, &params).unwrap();
}
