//! One-vs-rest dual coordinate descent ([`DcdParams::fit_one_vs_rest`]): the optimum of the
//! binary fits, the same bits for any grouping of the classes and for the same seed, what the
//! duality gap guarantees, and refusals.

use catclass_sgd::{ClassWeight, Dataset, DcdError, DcdFit, DcdParams, Loss};
use proptest::prelude::*;
use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// ReLU-like rows in `classes` clusters (row `r` is of class `r % classes`): non-negative,
/// partly zero values around a shared base shifted per class. Labels are class indices.
fn relu_classes(seed: u64, rows: usize, dim: usize, classes: usize) -> (Vec<f32>, Vec<f64>) {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut normal = move || {
        let u = unit().max(1e-300);
        let v = unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let base: Vec<f64> = (0..dim).map(|_| -0.3 + 0.6 * normal()).collect();
    let shifts: Vec<Vec<f64>> = (0..classes)
        .map(|_| (0..dim).map(|_| 0.6 * normal()).collect())
        .collect();
    let mut x = Vec::with_capacity(rows * dim);
    let mut y = Vec::with_capacity(rows);
    for r in 0..rows {
        let class = r % classes.max(1);
        for j in 0..dim {
            let shift = shifts.get(class).map_or(0.0, |s| s[j]);
            x.push((base[j] + shift + normal()).max(0.0) as f32);
        }
        y.push(class as f64);
    }
    (x, y)
}

/// The 0/1 labels of model `k`.
fn binary_labels(classes: &[f64], k: usize) -> Vec<f64> {
    classes.iter().map(|&c| f64::from(c == k as f64)).collect()
}

fn bits(f: &DcdFit) -> Vec<u64> {
    let mut v: Vec<u64> = f.model.weights.iter().map(|w| w.to_bits()).collect();
    v.extend(
        [
            f.model.intercept,
            f.primal_objective,
            f.dual_objective,
            f.duality_gap,
        ]
        .map(f64::to_bits),
    );
    v.extend([
        f.epochs as u64,
        f.support_vectors as u64,
        u64::from(f.converged),
    ]);
    v
}

fn same_bits(a: &[DcdFit], b: &[DcdFit]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| bits(x) == bits(y))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn each_model_reaches_the_optimum_of_its_binary_fit() {
    let (rows, dim, classes) = (150, 24, 4);
    let (x, y) = relu_classes(5, rows, dim, classes);
    let data = Dataset::new(&x, &y, dim).unwrap();
    for loss in [Loss::Hinge, Loss::SquaredHinge] {
        for intercept in [false, true] {
            for weight in [ClassWeight::None, ClassWeight::Balanced] {
                let p = DcdParams::builder()
                    .c(0.5)
                    .loss(loss)
                    .intercept(intercept)
                    .class_weight(weight)
                    .tol(1e-10)
                    .max_epochs(1_000_000)
                    .check()
                    .unwrap();
                let joint = p.fit_one_vs_rest(&data, classes).unwrap();
                assert_eq!(joint.len(), classes);
                for (k, f) in joint.iter().enumerate() {
                    let yk = binary_labels(&y, k);
                    let set = Dataset::new(&x, &yk, dim).unwrap();
                    let reference = p.fit(&set).unwrap();
                    let case = format!("{loss:?} intercept {intercept} {weight:?} class {k}");
                    assert!(f.converged && reference.converged, "{case}");
                    assert!(
                        close(f.primal_objective, reference.primal_objective, 1e-6),
                        "{case}: joint {} binary {}",
                        f.primal_objective,
                        reference.primal_objective
                    );
                    assert!(
                        close(f.dual_objective, reference.dual_objective, 1e-6),
                        "{case}"
                    );
                    // The reported primal has the bits of a full pass over the rows.
                    let full = p.primal_objective(&set, &f.model).unwrap();
                    assert_eq!(f.primal_objective.to_bits(), full.to_bits(), "{case}");
                    assert_eq!((f.rows, f.c), (rows, p.c()));
                }
            }
        }
    }
}

#[test]
fn any_grouping_of_the_classes_gives_the_same_bits() {
    let (rows, dim, classes) = (200, 37, 7);
    let (x, y) = relu_classes(8, rows, dim, classes);
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let p = DcdParams::builder()
        .c(2.0)
        .intercept(true)
        .class_weight(ClassWeight::Balanced)
        .check()
        .unwrap();
    let data = Dataset::new(&x, &y, dim).unwrap();
    let all = p.fit_one_vs_rest(&data, classes).unwrap();
    for cuts in [
        vec![0, 7],
        vec![0, 1, 7],
        vec![0, 3, 4, 7],
        (0..=7).collect(),
    ] {
        let mut parts = Vec::new();
        for pair in cuts.windows(2) {
            parts.extend(
                p.fit_one_vs_rest_models(&data, classes, pair[0]..pair[1])
                    .unwrap(),
            );
        }
        assert!(same_bits(&all, &parts), "cuts {cuts:?}");
    }
    // f64 rows of the same values: the same bits too.
    let wide = p
        .fit_one_vs_rest(&Dataset::new(&x64, &y, dim).unwrap(), classes)
        .unwrap();
    assert!(same_bits(&all, &wide));
}

#[test]
fn same_seed_same_bits_on_threads() {
    let (x, y) = relu_classes(13, 120, 20, 5);
    let p = DcdParams::builder()
        .c(0.3)
        .seed(77)
        .loss(Loss::SquaredHinge)
        .check()
        .unwrap();
    let data = Dataset::new(&x, &y, 20).unwrap();
    let reference = p.fit_one_vs_rest(&data, 5).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| p.fit_one_vs_rest(&data, 5).unwrap()))
            .collect();
        for h in handles {
            assert!(same_bits(&h.join().unwrap(), &reference));
        }
    });
}

#[test]
fn a_model_with_no_positive_row_still_fits() {
    // Class 2 has no row: its model learns "never", as the binary fit of all-zero labels.
    let (x, y) = relu_classes(2, 60, 6, 2);
    let fits = DcdParams::default()
        .fit_one_vs_rest(&Dataset::new(&x, &y, 6).unwrap(), 3)
        .unwrap();
    assert_eq!(fits.len(), 3);
    assert!(fits[2].converged);
    assert!(x.chunks_exact(6).all(|r| fits[2].model.predict(r) == 0));
}

#[test]
fn empty_sets_and_empty_ranges() {
    let p = DcdParams::default();
    let empty: [f32; 0] = [];
    let fits = p
        .fit_one_vs_rest(&Dataset::new(&empty, &[], 3).unwrap(), 2)
        .unwrap();
    assert_eq!(fits.len(), 2);
    for f in &fits {
        assert_eq!(f.model.weights, vec![0.0; 3]);
        assert_eq!((f.epochs, f.converged, f.primal_objective), (0, true, 0.0));
    }
    let (x, y) = relu_classes(1, 10, 3, 2);
    let data = Dataset::new(&x, &y, 3).unwrap();
    assert_eq!(p.fit_one_vs_rest_models(&data, 2, 1..1), Ok(Vec::new()));
}

#[test]
fn bad_input_is_refused() {
    let p = DcdParams::default();
    let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    for (labels, count, first_row, classes) in [
        ([0.0, 3.0, 1.0], 1, 1, 3),
        ([-1.0, 0.0, 0.5], 2, 0, 3),
        ([f64::NAN, 0.0, 1.0], 1, 0, 3),
        ([0.0, 1.0, 1.0], 3, 0, 0),
        ([0.0, 1.0, 2.0], 1, 2, 2),
    ] {
        match p.fit_one_vs_rest(&Dataset::new(&x, &labels, 2).unwrap(), classes) {
            Err(DcdError::InvalidClasses {
                count: c,
                first_row: r,
                classes: k,
                ..
            }) => assert_eq!((c, r, k), (count, first_row, classes)),
            other => panic!("{labels:?}: {other:?}"),
        }
    }
    let data = Dataset::new(&x, &[0.0, 1.0, 2.0], 2).unwrap();
    for (start, end) in [(0, 4), (2, 1), (3, 4)] {
        assert_eq!(
            p.fit_one_vs_rest_models(&data, 3, start..end),
            Err(DcdError::Models {
                start,
                end,
                classes: 3
            })
        );
    }
    let shard = Dataset::shard(&x[2..], &[1.0, 0.0], 2, 1, 3).unwrap();
    assert_eq!(
        p.fit_one_vs_rest(&shard, 2),
        Err(DcdError::Shard {
            first: 1,
            end: 3,
            total: 3
        })
    );
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = x;
        x[3] = bad;
        for models in [0..3, 1..2] {
            assert_eq!(
                p.fit_one_vs_rest_models(
                    &Dataset::new(&x, &[0.0, 1.0, 2.0], 2).unwrap(),
                    3,
                    models
                ),
                Err(DcdError::NonFinite { row: 1 })
            );
        }
    }
    let e = DcdError::InvalidClasses {
        count: 1,
        first_row: 4,
        first_value: 2.5,
        classes: 2,
    };
    assert!(e.to_string().contains("0..2"), "{e}");
}

// ---------------------------------------------------------------- properties

/// Small random problems: rows, dim, classes, seed.
fn problem() -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (1usize..70, 1usize..30, 1usize..6, any::<u64>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn groupings_seeds_and_reruns_give_the_same_bits(
        (rows, dim, classes, seed) in problem(), fit_seed in any::<u64>(),
        cut in 0usize..6, squared in any::<bool>(), intercept in any::<bool>(),
        balanced in any::<bool>(), shrinking in any::<bool>(), epochs in 1usize..40,
    ) {
        let (x, y) = relu_classes(seed, rows, dim, classes);
        let data = Dataset::new(&x, &y, dim).unwrap();
        let p = DcdParams::builder()
            .c(0.8)
            .seed(fit_seed)
            .loss(if squared { Loss::SquaredHinge } else { Loss::Hinge })
            .intercept(intercept)
            .class_weight(if balanced { ClassWeight::Balanced } else { ClassWeight::None })
            .shrinking(shrinking)
            .max_epochs(epochs)
            .check()
            .unwrap();
        let all = p.fit_one_vs_rest(&data, classes).unwrap();
        prop_assert!(same_bits(&all, &p.fit_one_vs_rest(&data, classes).unwrap()));
        let cut = cut.min(classes);
        let mut parts = p.fit_one_vs_rest_models(&data, classes, 0..cut).unwrap();
        parts.extend(p.fit_one_vs_rest_models(&data, classes, cut..classes).unwrap());
        prop_assert!(same_bits(&all, &parts));
        for k in 0..classes {
            let one = p.fit_one_vs_rest_models(&data, classes, k..k + 1).unwrap();
            prop_assert!(same_bits(&all[k..k + 1], &one));
        }
    }

    #[test]
    fn weak_duality_and_the_certified_gap(
        (rows, dim, classes, seed) in problem(), c in 0.001f64..100.0, tol in 1e-9f64..1.0,
        epochs in 1usize..60, squared in any::<bool>(), intercept in any::<bool>(),
        balanced in any::<bool>(), shrinking in any::<bool>(),
    ) {
        let (x, y) = relu_classes(seed, rows, dim, classes);
        let data = Dataset::new(&x, &y, dim).unwrap();
        let p = DcdParams::builder()
            .c(c)
            .tol(tol)
            .max_epochs(epochs)
            .loss(if squared { Loss::SquaredHinge } else { Loss::Hinge })
            .intercept(intercept)
            .class_weight(if balanced { ClassWeight::Balanced } else { ClassWeight::None })
            .shrinking(shrinking)
            .check()
            .unwrap();
        let fits = p.fit_one_vs_rest(&data, classes).unwrap();
        prop_assert_eq!(fits.len(), classes);
        for (k, f) in fits.iter().enumerate() {
            // Weak duality, up to the rounding of the two sums.
            prop_assert!(f.primal_objective >= f.dual_objective - 1e-12 * f.primal_objective.abs(),
                         "class {}: P {} < D {}", k, f.primal_objective, f.dual_objective);
            prop_assert!(f.dual_objective >= -1e-12, "class {}: D {} < 0", k, f.dual_objective);
            prop_assert!(f.epochs <= epochs);
            prop_assert!(f.converged || f.epochs == epochs);
            // Hinge: the stopping rule bounds each projected gradient by tol, so each row adds
            // at most 2 C_i tol to the gap, and sum_i C_i <= C n for both weightings.
            let bound = 2.0 * p.c() * rows as f64 * p.tol();
            prop_assert!(squared || !f.converged || f.duality_gap <= bound * (1.0 + 1e-9),
                         "class {}: gap {} over {}", k, f.duality_gap, bound);
            // The reported primal is that of a full pass over the rows.
            let yk = binary_labels(&y, k);
            let full = p.primal_objective(&Dataset::new(&x, &yk, dim).unwrap(), &f.model).unwrap();
            prop_assert_eq!(f.primal_objective.to_bits(), full.to_bits());
        }
    }
}
