//! A trained binary linear model and its MLlib prediction rule.

use crate::data::Element;
use crate::kernel;
use alloc::vec::Vec;

/// `margin = w · x + intercept`; class 1 iff `margin > threshold` (strict, as MLlib's `SVMModel`).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// Weights, one per feature.
    pub weights: Vec<f64>,
    /// Intercept (0.0 when none was fitted).
    pub intercept: f64,
    /// Decision threshold on the margin (MLlib's default 0.0).
    pub threshold: f64,
}

impl LinearModel {
    /// The margin of one row, with MLlib's dot product order.
    pub fn margin<T: Element>(&self, x: &[T]) -> f64 {
        kernel::dot(x, &self.weights) + self.intercept
    }

    /// 1 if the margin is strictly above the threshold, else 0.
    pub fn predict<T: Element>(&self, x: &[T]) -> u8 {
        u8::from(self.margin(x) > self.threshold)
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.weights.len()
    }
}
