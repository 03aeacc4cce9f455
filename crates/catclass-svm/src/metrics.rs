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

/// Precision, recall and F1 of one class in a multiclass evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The class.
    pub class: String,
    /// Test rows of this class.
    pub support: u64,
    /// Of the rows predicted this class, the share that are (0 when none is predicted).
    pub precision: f64,
    /// Of the rows of this class, the share found.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
}

/// The metrics of a `K`-class evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MulticlassMetrics {
    /// Share of rows predicted right.
    pub accuracy: f64,
    /// Accuracy of always predicting the most frequent test class.
    pub majority_baseline: f64,
    /// Mean recall over the classes present in the test rows.
    pub balanced_accuracy: f64,
    /// Mean F1 over the classes present in the test rows.
    pub macro_f1: f64,
    /// Per class, in class order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[truth][prediction]` counts, in class order.
    pub confusion: Vec<Vec<u64>>,
}

impl MulticlassMetrics {
    /// Metrics of `(truth, prediction)` class-index pairs over `classes` (indices must be
    /// below `classes.len()`; others are ignored).
    pub fn from_pairs(classes: &[String], pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let k = classes.len();
        let mut confusion = vec![vec![0u64; k]; k];
        for (t, p) in pairs {
            if t < k && p < k {
                confusion[t][p] += 1;
            }
        }
        Self::from_confusion(classes, confusion)
    }

    /// Metrics from a `K x K` confusion matrix (`confusion[truth][prediction]`).
    pub fn from_confusion(classes: &[String], confusion: Vec<Vec<u64>>) -> Self {
        let k = classes.len();
        let total: u64 = confusion.iter().flatten().sum();
        let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
        let mut per_class = Vec::with_capacity(k);
        let (mut recall_sum, mut f1_sum, mut present, mut largest) = (0.0, 0.0, 0u64, 0u64);
        for (i, class) in classes.iter().enumerate() {
            let support: u64 = confusion[i].iter().sum();
            let predicted: u64 = (0..k).map(|t| confusion[t][i]).sum();
            let tp = confusion[i][i];
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            if support > 0 {
                present += 1;
                recall_sum += recall;
                f1_sum += f1;
            }
            largest = largest.max(support);
            per_class.push(ClassMetrics {
                class: class.clone(),
                support,
                precision,
                recall,
                f1,
            });
        }
        let mean = |s: f64| {
            if present == 0 {
                0.0
            } else {
                s / present as f64
            }
        };
        MulticlassMetrics {
            accuracy: ratio(correct, total),
            majority_baseline: ratio(largest, total),
            balanced_accuracy: mean(recall_sum),
            macro_f1: mean(f1_sum),
            per_class,
            confusion,
        }
    }

    /// Whether accuracy is within `points` percentage points of the majority baseline.
    pub fn near_baseline(&self, points: f64) -> bool {
        self.accuracy - self.majority_baseline < points / 100.0
    }

    /// The per-class table and the confusion matrix as text (rows: truth, columns: prediction,
    /// columns numbered as the rows).
    pub fn to_text(&self) -> String {
        use core::fmt::Write;
        let mut s = String::new();
        let width = self
            .per_class
            .iter()
            .map(|c| c.class.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            s,
            "accuracy {:.4}   majority baseline {:.4}   balanced accuracy {:.4}   macro-F1 {:.4}",
            self.accuracy, self.majority_baseline, self.balanced_accuracy, self.macro_f1
        );
        let _ = writeln!(
            s,
            "\n{:>3} {:<width$} {:>7} {:>9} {:>7} {:>7}",
            "#", "class", "support", "precision", "recall", "F1"
        );
        for (i, c) in self.per_class.iter().enumerate() {
            let _ = writeln!(
                s,
                "{:>3} {:<width$} {:>7} {:>9.4} {:>7.4} {:>7.4}",
                i, c.class, c.support, c.precision, c.recall, c.f1
            );
        }
        let cell = self
            .confusion
            .iter()
            .flatten()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(self.per_class.len().saturating_sub(1).to_string().len());
        let _ = writeln!(
            s,
            "\nconfusion (rows: true class #, columns: predicted class #)"
        );
        let _ = write!(s, "{:>3} ", "");
        for j in 0..self.confusion.len() {
            let _ = write!(s, " {j:>cell$}");
        }
        s.push('\n');
        for (i, row) in self.confusion.iter().enumerate() {
            let _ = write!(s, "{i:>3} ");
            for v in row {
                let _ = write!(s, " {v:>cell$}");
            }
            s.push('\n');
        }
        s
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
    #[test]
    fn multiclass_counts_per_class_and_macro_means() {
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // truth a: 4 rows (3 right, 1 predicted b); truth b: 3 rows (2 right, 1 predicted c);
        // no row of c.
        let pairs = [(0, 0), (0, 0), (0, 0), (0, 1), (1, 1), (1, 1), (1, 2)];
        let m = MulticlassMetrics::from_pairs(&classes, pairs);
        assert_eq!(
            m.confusion,
            vec![vec![3, 1, 0], vec![0, 2, 1], vec![0, 0, 0]]
        );
        assert_eq!(m.accuracy, 5.0 / 7.0);
        assert_eq!(m.majority_baseline, 4.0 / 7.0);
        assert_eq!(m.balanced_accuracy, (0.75 + 2.0 / 3.0) / 2.0);
        assert_eq!(m.per_class[1].recall, 2.0 / 3.0);
        assert_eq!(m.per_class[0].precision, 1.0);
        assert_eq!(m.per_class[1].precision, 2.0 / 3.0);
        assert_eq!((m.per_class[2].support, m.per_class[2].f1), (0, 0.0));
        let f1a = 2.0 * 0.75 / 1.75;
        let f1b = 2.0 / 3.0;
        assert!((m.macro_f1 - (f1a + f1b) / 2.0).abs() < 1e-15);
        assert!(!m.near_baseline(1.0));
        let text = m.to_text();
        assert!(text.contains("macro-F1"), "{text}");
        assert!(text.contains("  0  3 1 0\n"), "{text}");
    }
}
