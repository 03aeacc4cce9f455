//! Metrics that do not flatter: accuracy beside the majority baseline, balanced accuracy,
//! precision, recall, F1 and the confusion matrix.

use serde::{Deserialize, Serialize};

/// Counts of a binary classifier's outcomes (positive = label 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Positives predicted positive.
    pub true_positive: u64,
    /// Negatives predicted positive.
    pub false_positive: u64,
    /// Negatives predicted negative.
    pub true_negative: u64,
    /// Positives predicted negative.
    pub false_negative: u64,
}

impl Confusion {
    /// Counts `(label, prediction)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (bool, bool)>) -> Self {
        let mut c = Confusion::default();
        for (label, pred) in pairs {
            match (label, pred) {
                (true, true) => c.true_positive += 1,
                (false, true) => c.false_positive += 1,
                (false, false) => c.true_negative += 1,
                (true, false) => c.false_negative += 1,
            }
        }
        c
    }

    /// Rows counted.
    pub fn total(&self) -> u64 {
        self.true_positive + self.false_positive + self.true_negative + self.false_negative
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The binary metrics of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Share of rows predicted right.
    pub accuracy: f64,
    /// Accuracy of always predicting the larger class.
    pub majority_baseline: f64,
    /// Mean of the recall of each class.
    pub balanced_accuracy: f64,
    /// Of the rows predicted positive, the share that are (0 when none is predicted).
    pub precision: f64,
    /// Of the positive rows, the share found.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// The counts.
    pub confusion: Confusion,
}

impl BinaryMetrics {
    /// Metrics from the counts.
    pub fn from_confusion(c: Confusion) -> Self {
        let pos = c.true_positive + c.false_negative;
        let neg = c.true_negative + c.false_positive;
        let precision = ratio(c.true_positive, c.true_positive + c.false_positive);
        let recall = ratio(c.true_positive, pos);
        let specificity = ratio(c.true_negative, neg);
        let classes_present = u64::from(pos > 0) + u64::from(neg > 0);
        let balanced_accuracy = if classes_present == 0 {
            0.0
        } else {
            (if pos > 0 { recall } else { 0.0 } + if neg > 0 { specificity } else { 0.0 })
                / classes_present as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        BinaryMetrics {
            accuracy: ratio(c.true_positive + c.true_negative, c.total()),
            majority_baseline: ratio(pos.max(neg), c.total()),
            balanced_accuracy,
            precision,
            recall,
            f1,
            confusion: c,
        }
    }

    /// Whether accuracy is within `points` percentage points of the majority baseline.
    pub fn near_baseline(&self, points: f64) -> bool {
        self.accuracy - self.majority_baseline < points / 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_negative_predictions_score_the_baseline_and_zero_f1() {
        // 3 positives, 97 negatives, nothing predicted positive: the seed's one-vs-all trap.
        let pairs = (0..100).map(|i| (i < 3, false));
        let m = BinaryMetrics::from_confusion(Confusion::from_pairs(pairs));
        assert_eq!(m.accuracy, 0.97);
        assert_eq!(m.majority_baseline, 0.97);
        assert_eq!(m.balanced_accuracy, 0.5);
        assert_eq!((m.precision, m.recall, m.f1), (0.0, 0.0, 0.0));
        assert!(m.near_baseline(1.0));
    }

    #[test]
    fn textbook_values() {
        let c = Confusion {
            true_positive: 8,
            false_positive: 2,
            true_negative: 85,
            false_negative: 5,
        };
        let m = BinaryMetrics::from_confusion(c);
        assert_eq!(m.accuracy, 0.93);
        assert_eq!(m.precision, 0.8);
        assert!((m.recall - 8.0 / 13.0).abs() < 1e-15);
        assert!((m.f1 - 2.0 * 0.8 * (8.0 / 13.0) / (0.8 + 8.0 / 13.0)).abs() < 1e-15);
        assert!((m.balanced_accuracy - (8.0 / 13.0 + 85.0 / 87.0) / 2.0).abs() < 1e-15);
        assert!(!m.near_baseline(1.0));
    }
}
