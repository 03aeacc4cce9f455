//! What is learned: one class against another, or against all the others.

use serde::{Deserialize, Serialize};

/// A binary task over class names (matched exactly, never as substrings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Task {
    /// `positive` (label 1) against `negative` (label 0); other classes are left out.
    OneVsOne {
        /// Class labelled 1.
        positive: String,
        /// Class labelled 0.
        negative: String,
    },
    /// `positive` (label 1) against every other class (label 0).
    OneVsAll {
        /// Class labelled 1.
        positive: String,
    },
}

impl Task {
    /// The seed's arguments: `<CLASS_A> <CLASS_B | None>`.
    pub fn from_args(a: &str, b: &str) -> Self {
        if b == "None" {
            Task::OneVsAll {
                positive: a.to_string(),
            }
        } else {
            Task::OneVsOne {
                positive: a.to_string(),
                negative: b.to_string(),
            }
        }
    }

    /// The positive class.
    pub fn positive(&self) -> &str {
        match self {
            Task::OneVsOne { positive, .. } | Task::OneVsAll { positive } => positive,
        }
    }

    /// The negative class, or `"None"` for one vs all (the seed's word).
    pub fn negative_name(&self) -> &str {
        match self {
            Task::OneVsOne { negative, .. } => negative,
            Task::OneVsAll { .. } => "None",
        }
    }

    /// Whether rows of `class` take part.
    pub fn includes(&self, class: &str) -> bool {
        match self {
            Task::OneVsOne { positive, negative } => class == positive || class == negative,
            Task::OneVsAll { .. } => true,
        }
    }

    /// Label of a row of `class` (1.0 positive, 0.0 otherwise).
    pub fn label(&self, class: &str) -> f64 {
        if class == self.positive() { 1.0 } else { 0.0 }
    }

    /// `A - B` as the seed's result file names it.
    pub fn title(&self) -> String {
        format!("{} - {}", self.positive(), self.negative_name())
    }

    /// `one-vs-one` or `one-vs-all`.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::OneVsOne { .. } => "one-vs-one",
            Task::OneVsAll { .. } => "one-vs-all",
        }
    }
}
