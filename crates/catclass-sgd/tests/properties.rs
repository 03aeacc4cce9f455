//! Properties of the MLlib solver, each able to fail.
// The restatement below is written as plain index loops on purpose, like the spec.
#![allow(clippy::needless_range_loop)]

use catclass_sgd::kernel::dot_portable;
use catclass_sgd::{Dataset, MiniBatchSampling, Sequential, SgdParams, TrainError};
use proptest::prelude::*;

/// The algorithm of SPEC.md restated plainly: full batch, rows in order, no blocks, no SIMD.
fn restated(
    x: &[f64],
    y: &[f64],
    dim: usize,
    iters: usize,
    step: f64,
    reg: f64,
    tol: f64,
) -> (Vec<f64>, usize) {
    let n = y.len();
    let mut w = vec![0.0; dim];
    let mut prev: Option<Vec<f64>> = None;
    let mut updates = 0;
    for i in 1..=iters {
        let mut grad = vec![0.0; dim];
        for r in 0..n {
            let row = &x[r * dim..(r + 1) * dim];
            let s = 2.0 * y[r] - 1.0;
            if 1.0 > s * dot_portable(row, &w) {
                for j in 0..dim {
                    grad[j] += -s * row[j];
                }
            }
        }
        let eta = step / (i as f64).sqrt();
        for v in w.iter_mut() {
            *v *= 1.0 - eta * reg;
        }
        for j in 0..dim {
            w[j] += -eta * (grad[j] / n as f64);
        }
        updates += 1;
        let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
        if let Some(p) = &prev {
            let d = p
                .iter()
                .zip(&w)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            if d < tol * norm.max(1.0) {
                break;
            }
        }
        prev = Some(w.clone());
    }
    (w, updates)
}

/// Rows of small dyadic values (exact sums in any order) and labels.
fn dyadic_data() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, usize)> {
    (1usize..9, 1usize..600).prop_flat_map(|(dim, rows)| {
        (
            prop::collection::vec((0i32..64).prop_map(|k| f64::from(k) / 16.0), rows * dim),
            prop::collection::vec(prop::bool::ANY.prop_map(|b| f64::from(u8::from(b))), rows),
            Just(dim),
        )
    })
}

fn norm(w: &[f64]) -> f64 {
    w.iter().map(|v| v * v).sum::<f64>().sqrt()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn equals_a_plain_sequential_restatement((x, y, dim) in dyadic_data(), iters in 0usize..30, reg in 0.0f64..0.2, tol in 0.0f64..0.1) {
        let p = SgdParams::builder().iterations(iters).reg_param(reg).convergence_tol(tol).check().unwrap();
        let fit = p.fit(&Dataset::new(&x, &y, dim).unwrap(), &Sequential).unwrap();
        let (w, updates) = restated(&x, &y, dim, iters, 1.0, reg, tol);
        prop_assert_eq!(fit.model.weights, w);
        prop_assert_eq!(fit.updates, updates);
    }

    #[test]
    fn zero_iterations_return_the_start_vector((x, y, dim) in dyadic_data(), intercept in prop::bool::ANY) {
        let p = SgdParams::builder().iterations(0).intercept(intercept).check().unwrap();
        let fit = p.fit(&Dataset::new(&x, &y, dim).unwrap(), &Sequential).unwrap();
        prop_assert!(fit.model.weights.iter().all(|w| *w == 0.0));
        prop_assert_eq!(fit.model.intercept, if intercept { 1.0 } else { 0.0 });
        prop_assert_eq!(fit.updates, 0);
        prop_assert_eq!(fit.passes, 1);
    }

    #[test]
    fn labels_outside_zero_one_are_refused((x, mut y, dim) in dyadic_data(), bad in prop_oneof![Just(-1.0), Just(2.0), Just(0.5), Just(f64::NAN)], at in any::<prop::sample::Index>()) {
        let k = at.index(y.len());
        y[k] = bad;
        let err = SgdParams::default().fit(&Dataset::new(&x, &y, dim).unwrap(), &Sequential).unwrap_err();
        match err {
            TrainError::InvalidLabels { count, first_row, .. } => {
                prop_assert_eq!(count, 1);
                prop_assert_eq!(first_row, k);
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    /// More regularisation never loosens the cap on the weights: with `step * reg <= 1`,
    /// every iterate obeys `||w|| <= max_k ||x_k|| / reg` (induction on the shrink-then-step
    /// update from w = 0). Per-iterate monotonicity of `||w||` in `reg` is *not* a property of
    /// subgradient descent: proptest finds counter-examples (0.61 > 0.54 on 5 rows).
    #[test]
    fn regularisation_caps_the_weights((x, y, dim) in dyadic_data(), reg in 0.01f64..1.0, iters in 1usize..80) {
        let data = Dataset::new(&x, &y, dim).unwrap();
        let fit = SgdParams::builder().iterations(iters).reg_param(reg).convergence_tol(0.0).check().unwrap().fit(&data, &Sequential).unwrap();
        let max_row = x.chunks(dim).map(norm).fold(0.0, f64::max);
        let cap = max_row / reg;
        prop_assert!(norm(&fit.model.weights) <= cap * (1.0 + 1e-12), "{} > {}", norm(&fit.model.weights), cap);
    }

    #[test]
    fn separable_data_is_separated(rows in 4usize..300, dim in 2usize..16, gap in 0.5f64..3.0, seed in any::<u64>()) {
        let mut s = seed | 1;
        let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; (s >> 11) as f64 / (1u64 << 53) as f64 };
        let mut x = Vec::new();
        let mut y = Vec::new();
        for r in 0..rows {
            let positive = r % 2 == 0;
            for j in 0..dim {
                let centre = if j == 0 { if positive { gap } else { -gap } } else { 0.0 };
                x.push(centre + (next() - 0.5) * 0.5);
            }
            y.push(f64::from(u8::from(positive)));
        }
        let p = SgdParams::builder().reg_param(0.0).check().unwrap();
        let fit = p.fit(&Dataset::new(&x, &y, dim).unwrap(), &Sequential).unwrap();
        for r in 0..rows {
            prop_assert_eq!(f64::from(fit.model.predict(&x[r * dim..(r + 1) * dim])), y[r], "row {}", r);
        }
    }

    #[test]
    fn mini_batches_are_reproducible_and_seed_dependent((x, y, dim) in dyadic_data(), seed in any::<u64>()) {
        prop_assume!(y.len() >= 50);
        let data = Dataset::new(&x, &y, dim).unwrap();
        let fit = |s: u64| SgdParams::builder().iterations(10).mini_batch_fraction(0.3).sampling(MiniBatchSampling::ChaCha { seed: s }).check().unwrap().fit(&data, &Sequential).unwrap();
        prop_assert_eq!(fit(seed), fit(seed));
    }
}

#[test]
fn bad_parameters_are_refused_with_their_value() {
    let b = SgdParams::builder;
    assert_eq!(
        b().step(0.0).check().unwrap_err().to_string(),
        "step must be a finite number > 0, got 0"
    );
    assert!(b().step(f64::NAN).check().is_err());
    assert!(b().mini_batch_fraction(0.0).check().is_err());
    assert!(b().mini_batch_fraction(1.5).check().is_err());
    assert!(b().reg_param(-0.1).check().is_err());
    assert!(b().convergence_tol(1.5).check().is_err());
    assert!(
        b().sampling(MiniBatchSampling::Spark { partitions: 0 })
            .check()
            .is_err()
    );
    assert!(
        b().mini_batch_fraction(1.0)
            .convergence_tol(0.0)
            .check()
            .is_ok()
    );
}

/// Rows kept by the shared pure-Python statement of Spark's sampler (`check_sampler.py`,
/// verified against the JVM's own `RDD.sample`).
fn python_reference(n: usize, parts: usize, fraction: f64, seed: i64) -> Vec<usize> {
    let script = format!(
        "import sys; sys.path.insert(0, '{}'); from check_sampler import sample_indices; print(sample_indices({n}, {parts}, {fraction}, {seed}))",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/mllib")
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 is required for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim()
        .trim_matches(['[', ']'])
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

#[test]
fn spark_sampler_matches_python_across_fractions_and_partitions() {
    for (n, parts, fraction, seed) in [
        (280, 1, 0.05, 43),
        (280, 3, 0.3, 44),
        (1000, 2, 0.5, 142),
        (1000, 3, 0.9, 43),
        (37, 3, 0.4, 99),
    ] {
        assert_eq!(
            catclass_sgd::sampler::spark_sample_indices(n, parts, fraction, seed),
            python_reference(n, parts, fraction, seed),
            "n={n} P={parts} f={fraction} seed={seed}"
        );
    }
}
