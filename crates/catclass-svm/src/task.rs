//! What is learned: one class against another, one class against the rest, or every class.

use serde::{Deserialize, Serialize};

/// A classification task over class names (matched exactly, never as substrings).
///
/// ```
/// use catclass_svm::Task;
/// let t = Task::OneVsOne("wheaten_terrier".into(), "yorkshire_terrier".into());
/// assert!(t.includes("wheaten_terrier") && !t.includes("pug"));
/// assert_eq!(t.to_string(), "wheaten_terrier vs yorkshire_terrier");
/// assert!(Task::OneVsRest("pug".into()).includes("boxer"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "TaskRecord", into = "TaskRecord")]
pub enum Task {
    /// The first class (positive, label 1) against the second (label 0); rows of other
    /// classes are left out.
    OneVsOne(String, String),
    /// One class (positive) against every other class.
    OneVsRest(String),
    /// Every class against the rest: one model per class, the largest margin wins.
    Multiclass,
}

impl Task {
    /// Whether rows of `class` take part.
    pub fn includes(&self, class: &str) -> bool {
        match self {
            Task::OneVsOne(a, b) => class == a || class == b,
            Task::OneVsRest(_) | Task::Multiclass => true,
        }
    }

    /// The positive class of a binary task (`None` for [`Task::Multiclass`]).
    pub fn positive(&self) -> Option<&str> {
        match self {
            Task::OneVsOne(a, _) | Task::OneVsRest(a) => Some(a),
            Task::Multiclass => None,
        }
    }

    /// Whether the task trains a single binary model.
    pub fn is_binary(&self) -> bool {
        !matches!(self, Task::Multiclass)
    }

    /// The classes a task names (both of one vs one, the positive of one vs rest).
    pub fn named_classes(&self) -> Vec<&str> {
        match self {
            Task::OneVsOne(a, b) => vec![a, b],
            Task::OneVsRest(a) => vec![a],
            Task::Multiclass => Vec::new(),
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Task::OneVsOne(a, b) => write!(f, "{a} vs {b}"),
            Task::OneVsRest(a) => write!(f, "{a} vs rest"),
            Task::Multiclass => f.write_str("every class vs rest"),
        }
    }
}

/// How a task is written in model and report files (`{"kind": "one-vs-one", ...}`).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[allow(clippy::enum_variant_names)] // the names are the file format's
enum TaskRecord {
    OneVsOne { positive: String, negative: String },
    OneVsAll { positive: String },
    OneVsRest,
}

impl From<TaskRecord> for Task {
    fn from(r: TaskRecord) -> Self {
        match r {
            TaskRecord::OneVsOne { positive, negative } => Task::OneVsOne(positive, negative),
            TaskRecord::OneVsAll { positive } => Task::OneVsRest(positive),
            TaskRecord::OneVsRest => Task::Multiclass,
        }
    }
}

impl From<Task> for TaskRecord {
    fn from(t: Task) -> Self {
        match t {
            Task::OneVsOne(positive, negative) => TaskRecord::OneVsOne { positive, negative },
            Task::OneVsRest(positive) => TaskRecord::OneVsAll { positive },
            Task::Multiclass => TaskRecord::OneVsRest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_the_model_files_write_it() {
        let t = Task::OneVsOne("a".into(), "b".into());
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(s, r#"{"kind":"one-vs-one","positive":"a","negative":"b"}"#);
        assert_eq!(serde_json::from_str::<Task>(&s).unwrap(), t);
        let t = Task::OneVsRest("a".into());
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(s, r#"{"kind":"one-vs-all","positive":"a"}"#);
        assert_eq!(serde_json::from_str::<Task>(&s).unwrap(), t);
        let s = serde_json::to_string(&Task::Multiclass).unwrap();
        assert_eq!(s, r#"{"kind":"one-vs-rest"}"#);
        assert!(serde_json::from_str::<Task>(r#"{"kind":"one-vs-all"}"#).is_err());
    }
}
