//! `catclass`: the whole pipeline from the command line.

mod demo;
mod demo_photos;
mod eval;
mod extract;
mod model;
mod output;
mod predict;
mod progress;
mod sweep;
mod train;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use output::{Output, ReportedElsewhere, Status};
use std::io::Write;
use std::process::ExitCode;

/// Classify pet breeds from CNN features with an MLlib-exact linear SVM.
#[derive(Debug, Parser)]
#[command(name = "catclass", version, about, long_about = None, after_help = output::STATUS_HELP)]
struct Cli {
    #[command(flatten)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Images to feature files (the seed's JSON + a shard): resumable, all cores, local or S3.
    Extract(extract::ExtractArgs),
    /// Train one class against another (or against all with `None`) and report on test rows.
    Train(train::TrainArgs),
    /// Score a saved model.json on the feature files of a location.
    Eval(eval::EvalArgs),
    /// Classify new images with a saved model (features extracted as for its training).
    Predict(predict::PredictArgs),
    /// Train and score at several training shares and seeds: sweep.csv (and plots).
    Sweep(sweep::SweepArgs),
    /// Run the main job offline on generated data shaped like Oxford-IIIT Pet features.
    Demo(demo::DemoArgs),
    /// Install the default network, or show where it is.
    Model(model::ModelArgs),
    /// Print a shell completion script, e.g. `catclass completions bash > catclass.bash`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // A damaged network file can make tract panic; the backend turns that panic into an error
    // naming the file, which is reported below: the default hook's panic message would only
    // make it look like a crash. Every other panic is printed as usual.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !catclass_svm::features::panic_is_caught() {
            previous(info)
        }
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" on stdout; the others are usage errors.
            let _ = e.print();
            return if e.use_stderr() {
                Status::Usage
            } else {
                Status::Ok
            }
            .into();
        }
    };
    let output = cli.output;
    let result = match cli.command {
        Command::Extract(args) => extract::run(args, output),
        Command::Predict(args) => predict::run(args, output),
        Command::Train(args) => train::run(args, output),
        Command::Demo(args) => demo::run(args, output),
        Command::Eval(args) => eval::run(args, output),
        Command::Sweep(args) => sweep::run(args, output),
        Command::Completions { shell } => completions(shell),
        Command::Model(args) => model::run(args, output),
    };
    match result {
        Ok(()) => Status::Ok.into(),
        Err(e) => {
            if e.downcast_ref::<ReportedElsewhere>().is_none() {
                eprintln!("error: {}", catclass_app::printable(&format!("{e:#}")));
            }
            Status::of(&e).into()
        }
    }
}

/// Prints the completion script for `shell` (an error, not a panic, when stdout is closed).
fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "catclass", &mut script);
    std::io::stdout()
        .write_all(&script)
        .context("writing the completion script")
}
