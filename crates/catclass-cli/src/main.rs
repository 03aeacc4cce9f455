//! `catclass`: the whole pipeline from the command line.

mod demo;
mod demo_photos;
mod eval;
mod extract;
mod model;
mod predict;
mod progress;
mod sweep;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Classify pet breeds from CNN features with an MLlib-exact linear SVM.
#[derive(Debug, Parser)]
#[command(name = "catclass", version, about, long_about = None)]
struct Cli {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Extract(args) => extract::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Train(args) => train::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Model(args) => model::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<train::ReportedElsewhere>().is_some() => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", catclass_app::printable(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
