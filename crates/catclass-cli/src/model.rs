//! `catclass model`: where the default network is, and installing it.

use crate::output::{Output, outln};
use anyhow::Result;
use catclass_svm::features::DefaultModel;
use catclass_svm::store::StoreOptions;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Arguments of `catclass model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    action: ModelAction,
}

#[derive(Debug, Subcommand)]
enum ModelAction {
    /// Installs the default network (EfficientNet-Lite0) from a file, a folder holding
    /// efficientnet-lite0.onnx, s3://bucket/key or http(s)://...; only the published file
    /// (size and SHA-256 checked) is installed.
    Install {
        /// Where to read it from (a clone of the repository has it in models/).
        source: String,
        /// The folder to install into (default: the user's cache, ~/.cache/catclass/models).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// S3 endpoint URL (overrides AWS_ENDPOINT_URL) for an s3:// source.
        #[arg(long)]
        s3_endpoint: Option<String>,
    },
    /// Prints the path of the default network that extract, predict and demo would use, or
    /// the folders searched (exit 1 when it is not installed).
    Path,
}

/// What `catclass model` did with the network's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Action {
    /// Installed it.
    Installed,
    /// Found it (`model path`).
    Found,
}

/// The `--json` summary: the network's file.
#[derive(Debug, serde::Serialize)]
struct ModelFile {
    action: Action,
    /// Its path.
    path: PathBuf,
}

/// Runs `catclass model`.
pub fn run(args: ModelArgs, output: Output) -> Result<()> {
    let summary = match args.action {
        ModelAction::Install {
            source,
            dir,
            s3_endpoint,
        } => {
            let opts = StoreOptions {
                s3_endpoint,
                ..Default::default()
            };
            let path = catclass_app::network::install(&source, dir.as_deref(), &opts)?;
            ModelFile {
                action: Action::Installed,
                path,
            }
        }
        ModelAction::Path => {
            let search = DefaultModel::standard();
            let path = search.find()?;
            search.load()?;
            ModelFile {
                action: Action::Found,
                path,
            }
        }
    };
    output.report(&summary, || match summary.action {
        Action::Installed => outln!("installed {}", summary.path.display()),
        Action::Found => outln!("{}", summary.path.display()),
    })
}
