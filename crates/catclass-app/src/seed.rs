//! The original program's conventions, kept where its users meet them: its command-line
//! arguments (`<CLASS_A> <CLASS_B | None>`) and its result line (`A - B ---> accuracy`).

use catclass_svm::Task;

/// The seed's words for a binary task: `A - B`, `A - None` for one vs all.
pub fn seed_title(task: &Task) -> String {
    match task {
        Task::OneVsOne(a, b) => format!("{a} - {b}"),
        Task::OneVsRest(a) => format!("{a} - None"),
        Task::Multiclass => "one vs rest".to_string(),
    }
}

/// The seed's arguments `<CLASS_A> <CLASS_B | None>` as a task.
pub fn task_from_args(a: &str, b: &str) -> Task {
    if b == "None" {
        Task::OneVsRest(a.to_string())
    } else {
        Task::OneVsOne(a.to_string(), b.to_string())
    }
}
