//! Progress bars (on stderr, hidden when it is not a terminal).

use catclass_app::train::Stage;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;

/// A progress display for the stages of a training run.
pub struct StageBar {
    bar: Mutex<Option<ProgressBar>>,
}

impl StageBar {
    /// No bar until the listing is known.
    pub fn new() -> Self {
        StageBar {
            bar: Mutex::new(None),
        }
    }

    /// Reacts to a stage of the pipeline.
    pub fn update(&self, stage: Stage) {
        let mut guard = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        match stage {
            Stage::Listed { files } => {
                if let Some(old) = guard.take() {
                    old.finish_and_clear();
                }
                let bar = ProgressBar::new(files as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg:>9} [{bar:30}] {pos}/{len} files  {per_sec}  eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message("reading");
                *guard = Some(bar);
            }
            Stage::Read { done } => {
                if let Some(bar) = guard.as_ref() {
                    bar.set_position(done as u64);
                }
            }
            Stage::Training | Stage::Evaluating => {
                if let Some(bar) = guard.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
