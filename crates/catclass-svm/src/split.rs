//! The train/test split: reproducible from a seed, stratified per class.
//!
//! For each class, its rows (sorted by file name) are shuffled with a ChaCha12 stream keyed by
//! the seed and by the class name (FNV-1a of its bytes), and the first
//! `round(fraction * n)` go to training (at least one row each side when the class has two
//! or more). A class's split therefore depends only on the seed, the fraction and its own
//! files, not on which other classes are loaded: one vs one and one vs all put the same images
//! of a class in the test set. Training and test rows are then sorted by file name.

use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::BTreeMap;

/// 64-bit FNV-1a of `bytes`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Row indices for training and for testing, each ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Splits rows by class (`classes[i]` is row `i`'s class; rows are in file-name order).
pub fn stratified_split<S: AsRef<str>>(classes: &[S], fraction: f64, seed: u64) -> Split {
    let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in classes.iter().enumerate() {
        by_class.entry(c.as_ref()).or_default().push(i);
    }
    let mut split = Split {
        train: Vec::new(),
        test: Vec::new(),
    };
    for (class, mut rows) in by_class {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        rng.set_stream(fnv1a(class.as_bytes()));
        for i in (1..rows.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            rows.swap(i, j);
        }
        let n = rows.len();
        let mut k = (fraction * n as f64).round() as usize;
        if n >= 2 {
            k = k.clamp(1, n - 1);
        }
        split.train.extend_from_slice(&rows[..k.min(n)]);
        split.test.extend_from_slice(&rows[k.min(n)..]);
    }
    split.train.sort_unstable();
    split.test.sort_unstable();
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &[(&str, usize)]) -> Vec<String> {
        spec.iter()
            .flat_map(|(c, n)| std::iter::repeat_n(c.to_string(), *n))
            .collect()
    }

    #[test]
    fn stratified_and_reproducible() {
        let classes = names(&[("a", 100), ("b", 50), ("c", 3)]);
        let s = stratified_split(&classes, 0.7, 20);
        assert_eq!(s, stratified_split(&classes, 0.7, 20));
        assert_ne!(s, stratified_split(&classes, 0.7, 21));
        let count = |rows: &[usize], c: &str| rows.iter().filter(|r| classes[**r] == c).count();
        assert_eq!((count(&s.train, "a"), count(&s.test, "a")), (70, 30));
        assert_eq!((count(&s.train, "b"), count(&s.test, "b")), (35, 15));
        assert_eq!((count(&s.train, "c"), count(&s.test, "c")), (2, 1));
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..classes.len()).collect::<Vec<_>>());
    }

    #[test]
    fn a_class_splits_the_same_whatever_else_is_loaded() {
        let alone = names(&[("b", 40)]);
        let with_others = names(&[("a", 30), ("b", 40), ("c", 7)]);
        let s1 = stratified_split(&alone, 0.7, 5);
        let s2 = stratified_split(&with_others, 0.7, 5);
        let b_test: Vec<usize> = s2
            .test
            .iter()
            .filter(|r| with_others[**r] == "b")
            .map(|r| r - 30)
            .collect();
        assert_eq!(s1.test, b_test);
    }
}
