//! `catclass eval <model.json> <FEATURES>`: the report of a saved model on other data.

use crate::output::{Output, Written, out, outln, paths};
use crate::train::RunArgs;
use anyhow::{Context, Result};
use catclass_app::train::{evaluate, load_model};
use catclass_svm::store::documents::{write_json, write_text};
use catclass_svm::{Metrics, ThreadPool};
use clap::Args;

/// Arguments of `catclass eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model file (a path or URL), as written by `catclass train`.
    pub model: String,
    /// Feature files to score: a folder, file://, s3://bucket/prefix.
    pub features: String,
    /// Where to write eval.json and eval.txt.
    #[arg(long, default_value = ".")]
    pub out: String,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `catclass eval`.
pub fn run(args: EvalArgs, output: Output) -> Result<()> {
    let store = args.run.store();
    let model = load_model(&args.model, &store)?;
    let pool = ThreadPool::new(args.run.threads)?;
    let report = evaluate(&args.model, &model, &args.features, &store, &pool)?;
    let out = catclass_app::location::create(&args.out, &store)?;
    let text = report.to_text();
    let chart = match &report.metrics {
        Metrics::Multiclass(m) => catclass_app::plot::metrics_confusion_chart(
            m,
            &format!(
                "confusion matrix: {} on {} ({} rows)",
                args.model, args.features, report.rows
            ),
        )?,
        Metrics::Binary(_) => None,
    };
    catclass_app::blocking::block_on(async {
        write_json(&out, "eval.json", &report).await?;
        write_text(&out, "eval.txt", &text).await?;
        if let Some(chart) = chart.clone() {
            write_text(&out, "confusion.svg", &chart.svg).await?;
            out.put("confusion.png", chart.png).await?;
        }
        Ok::<_, catclass_svm::store::StoreError>(())
    })
    .with_context(|| format!("writing results to {out}"))?;
    let names: &[&str] = match chart {
        Some(_) => &["eval.json", "eval.txt", "confusion.svg", "confusion.png"],
        None => &["eval.json", "eval.txt"],
    };
    let summary = Written {
        report: &report,
        written: paths(&out, names),
    };
    output.quiet_warnings(&report.warnings);
    output.report(&summary, || {
        out!("{}", catclass_app::printable(&text));
        outln!("wrote {}", summary.written.join(", "));
    })
}
