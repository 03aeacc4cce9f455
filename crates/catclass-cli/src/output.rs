//! What a command prints (human text, nothing with `--quiet`, one JSON document with `--json`)
//! and the exit statuses of `catclass`.

use anyhow::Result;
use catclass_svm::store::Location;
use clap::Args;
use serde::Serialize;
use std::process::ExitCode;

/// How a command reports: the global `--quiet` and `--json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
pub struct Output {
    /// No progress bars and no text on stdout (predict still prints its predictions); errors
    /// and warnings on stderr.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// A summary of the run as one JSON document on stdout, and no other stdout text (predict:
    /// one JSON object per image, one per line).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Output {
    /// Whether progress bars and human text are shown.
    pub fn human(self) -> bool {
        !self.quiet && !self.json
    }

    /// Reports a command's result: `summary` as one JSON line with `--json`, `text()` without
    /// `--quiet`, nothing with `--quiet` alone.
    pub fn report<T: Serialize>(self, summary: &T, text: impl FnOnce()) -> Result<()> {
        if self.json {
            outln!("{}", serde_json::to_string(summary)?);
        } else if !self.quiet {
            text();
        }
        Ok(())
    }

    /// With `--quiet` alone, the warnings a reader must see, on stderr (the human summary and
    /// the JSON document carry them otherwise).
    pub fn quiet_warnings(self, warnings: &[String]) {
        if self.quiet && !self.json {
            for w in warnings {
                eprintln!("warning: {}", catclass_app::printable(w));
            }
        }
    }
}

/// Writes to standard output. A reader that went away (a broken pipe: `catclass ... | head`)
/// ends the output, not the run: the files are still written and the exit status is the run's.
/// Any other write error is reported on stderr.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args)
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        let _ = writeln!(
            std::io::stderr(),
            "warning: cannot write to standard output: {e}"
        );
    }
}

/// `print!` through [`write_stdout`]: no panic when stdout is closed.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// `println!` through [`write_stdout`]: no panic when stdout is closed.
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// [`outln!`] for human text: nothing with `--quiet` or `--json`.
macro_rules! say {
    ($output:expr) => {
        if $output.human() {
            $crate::output::outln!();
        }
    };
    ($output:expr, $($arg:tt)*) => {
        if $output.human() {
            $crate::output::outln!($($arg)*);
        }
    };
}
pub(crate) use say;

/// A report with the files written beside it: the `--json` summary of train and eval.
#[derive(Debug, Serialize)]
pub struct Written<'a, R: Serialize> {
    /// The report (the fields of its JSON file).
    #[serde(flatten)]
    pub report: &'a R,
    /// The files written.
    pub written: Vec<String>,
}

/// Where `names` are in `out`, as printed.
pub fn paths(out: &Location, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| out.describe(n)).collect()
}

/// The exit statuses of `catclass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Ok = 0,
    /// Bad input or a runtime error (the message is on stderr).
    Failed = 1,
    /// Usage error: unknown subcommand or flag, missing or malformed argument.
    Usage = 2,
    /// Some images could not be extracted or scored (each named on stderr); the others were
    /// written (extract) or printed (predict).
    Partial = 3,
}

/// The exit statuses as `catclass --help` lists them.
pub const STATUS_HELP: &str = "\
Exit status:
  0  done
  1  bad input or a runtime error (message on stderr)
  2  usage error: unknown subcommand or flag, missing or malformed argument
  3  some images could not be extracted (extract) or scored (predict), each named on stderr;
     the others were written or printed";

impl Status {
    /// The status of a command that failed with `e`.
    pub fn of(e: &anyhow::Error) -> Status {
        if let Some(ReportedElsewhere(status)) = e.downcast_ref() {
            *status
        } else if e.downcast_ref::<PartlyDone>().is_some() {
            Status::Partial
        } else {
            Status::Failed
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s as u8)
    }
}

/// Some images failed, the others were done: [`Status::Partial`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PartlyDone(pub String);

/// A failure already printed by another MPI rank: exit with its status without printing it.
#[derive(Debug, thiserror::Error)]
#[error("reported by rank 0")]
pub struct ReportedElsewhere(pub Status);
