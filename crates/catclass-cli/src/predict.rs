//! `catclass predict <model.json> <IMAGES>...`: the class and margin of new images.

use crate::extract::FeatureArgs;
use crate::output::{Output, PartlyDone, outln};
use crate::train::RunArgs;
use anyhow::Result;
use catclass_app::predict::{PredictConfig, predict};
use catclass_app::printable;
use clap::Args;

/// Arguments of `catclass predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The model file written by `catclass train` (path or URL).
    pub model_file: String,
    /// Image files or folders (local, file://, s3://bucket/prefix).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Classes listed per image for a one-vs-rest model.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Network flags: by default the network, layer and preprocessing recorded in the model
    /// file; give them to override (or when the model records none).
    #[command(flatten)]
    pub features: FeatureArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `catclass predict`: one line per image, text or (`--json`) a JSON object.
pub fn run(args: PredictArgs, output: Output) -> Result<()> {
    let cfg = PredictConfig {
        model: args.model_file.clone(),
        images: args.images.clone(),
        features: if args.features.given() {
            Some(args.features.spec())
        } else {
            None
        },
        top: args.top,
        batch: args.features.batch.max(1),
        threads: args.run.threads,
        memory: args.features.image_memory_bytes(),
        store: args.run.store(),
    };
    let (predictions, used) = predict(&cfg)?;
    let mut failed = 0;
    for p in &predictions {
        if output.json {
            outln!("{}", serde_json::to_string(p)?);
            failed += usize::from(p.error.is_some());
            continue;
        }
        match (&p.class, p.margin, &p.error) {
            (_, _, Some(e)) => {
                failed += 1;
                eprintln!("error: {}", printable(e));
            }
            (Some(class), Some(margin), None) if p.top.is_empty() => {
                outln!(
                    "{}\t{}\tmargin {margin:+.6}",
                    printable(&p.image),
                    printable(class)
                );
            }
            (Some(_), Some(_), None) => {
                let top: Vec<String> = p
                    .top
                    .iter()
                    .map(|c| format!("{} ({:+.4})", printable(&c.class), c.margin))
                    .collect();
                outln!("{}\t{}", printable(&p.image), top.join("  "));
            }
            _ => {}
        }
    }
    if output.human() {
        eprintln!(
            "features: {} layer {} ({}), preset {}, {}",
            used.model, used.layer, used.dim, used.preset, used.backend
        );
    }
    if failed > 0 {
        return Err(PartlyDone(format!(
            "{failed} of {} images could not be scored",
            predictions.len()
        ))
        .into());
    }
    Ok(())
}
