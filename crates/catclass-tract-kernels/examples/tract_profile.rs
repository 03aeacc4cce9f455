//! Time per operator of the tract plan that `catclass_features::TractBackend` runs, batch 1
//! (or `--batch B`: then every time is the batch's).
//!
//! cargo run --release -p catclass-tract-kernels --example tract_profile -- \
//!     MODEL.onnx LAYER [--runs N] [--batch B] [--untuned] [--no-direct] [--no-pointwise] [--no-winograd] [--winograd f2|f4]
//!     [--no-im2col] [--knob TRACT_KNOB=VALUE]...
//!
//! Runs the plan N times (default 30) on a constant image and prints, per operator kind and
//! for the 25 slowest nodes, the fastest of the N timings (the minimum is what a shared,
//! noisy machine measures most steadily), with their sum and the mean and fastest wall
//! time per image.
//! `--untuned` leaves out catclass's rewrites (`catclass_tract_kernels::tune`); `--no-direct`,
//! `--no-pointwise`, `--no-winograd`, `--winograd f2|f4` (one variant on every map) and `--no-im2col` change one
//! of its `TuneOptions`; `--knob` sets one of tract's scopable knobs while the plan is
//! optimised.

use std::collections::HashMap;
use std::time::Instant;

use catclass_tract_kernels::{TuneOptions, Variant, WinogradChoice, tune_with};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{bail, format_err};
use tract_onnx::tract_core::knobs::KnobScope;
use tract_onnx::tract_core::plan::{SimpleState, eval};
use tract_onnx::tract_hir::infer::Factoid;

fn main() -> TractResult<()> {
    let mut args = std::env::args().skip(1);
    let (mut positional, mut runs, mut tuned, mut batch) = (Vec::new(), 30usize, true, 1usize);
    let mut options = TuneOptions::default();
    let mut knobs: Vec<(String, String)> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().unwrap_or_default().parse()?,
            "--batch" => batch = args.next().unwrap_or_default().parse()?,
            "--untuned" => tuned = false,
            "--no-direct" => options.direct_convs = false,
            "--no-pointwise" => options.pointwise_convs = false,
            "--no-winograd" => options.winograd = WinogradChoice::Off,
            "--winograd" => {
                let variant = match args.next().unwrap_or_default().as_str() {
                    "f2" => Variant::F2,
                    "f4" => Variant::F4,
                    _ => bail!("--winograd f2|f4"),
                };
                options.winograd = WinogradChoice::Always(variant);
            }
            "--no-im2col" => options.im2col_for_thick_convs = false,
            "--knob" => {
                let kv = args.next().unwrap_or_default();
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format_err!("--knob NAME=VALUE"))?;
                knobs.push((k.to_owned(), v.to_owned()));
            }
            _ => positional.push(a),
        }
    }
    let [path, layer] = positional.as_slice() else {
        bail!(
            "usage: tract_profile MODEL.onnx LAYER [--runs N] [--batch B] [--untuned] [--no-direct] ..."
        );
    };
    let runs = runs.max(2);
    let mut model = tract_onnx::onnx().model_for_path(path)?;
    let outlet = model
        .outlet_labels
        .iter()
        .find(|(_, l)| l.as_str() == layer.as_str())
        .map(|(o, _)| *o)
        .ok_or_else(|| format_err!("no tensor named {layer}"))?;
    model.select_output_outlets(&[outlet])?;
    let mut shape: Vec<usize> = model
        .input_fact(0)?
        .shape
        .dims()
        .map(|d| d.concretize().and_then(|d| d.to_i64().ok()).unwrap_or(1) as usize)
        .collect();
    shape[0] = batch.max(1);
    let mut typed = model
        .with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), shape.clone()))?
        .into_typed()?
        .into_decluttered()?;
    if tuned {
        println!("{:?}", tune_with(&mut typed, &options)?);
    }
    let scope = KnobScope::new(knobs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let plan = scope.enter(|| typed.into_optimized())?.into_runnable()?;
    let input = Tensor::from_shape(&shape, &vec![0.5f32; shape.iter().product()])?;
    let mut fastest: HashMap<usize, f64> = HashMap::new();
    let (mut wall, mut fastest_wall) = (0.0, f64::MAX);
    for run in 0..runs {
        let mut state = SimpleState::new(&plan)?;
        let t0 = Instant::now();
        state.run_plan_with_eval(tvec![input.clone().into()], |ctx, st, node, inputs| {
            let t = Instant::now();
            let out = eval(ctx, st, node, inputs);
            let e = fastest.entry(node.id).or_insert(f64::MAX);
            *e = e.min(t.elapsed().as_secs_f64());
            out
        })?;
        if run > 0 {
            wall += t0.elapsed().as_secs_f64();
            fastest_wall = fastest_wall.min(t0.elapsed().as_secs_f64());
        }
    }
    let ms = |s: f64| s * 1e3;
    println!(
        "sum of per-node minima {:.2} ms, wall per image {:.2} ms mean, {:.2} ms fastest \
         ({runs} runs)",
        ms(fastest.values().sum()),
        ms(wall / (runs - 1) as f64),
        ms(fastest_wall)
    );
    let mut by_op: HashMap<String, f64> = HashMap::new();
    for (&id, &t) in &fastest {
        *by_op
            .entry(plan.model().node(id).op().name().to_string())
            .or_default() += t;
    }
    let mut by_op: Vec<_> = by_op.into_iter().collect();
    by_op.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (op, t) in by_op {
        println!("{:>8.2} ms  {op}", ms(t));
    }
    let mut nodes: Vec<_> = fastest.into_iter().collect();
    nodes.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (id, t) in nodes.into_iter().take(
        std::env::var("TOP")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(25),
    ) {
        let node = plan.model().node(id);
        let out = &node.outputs[0].fact.shape;
        println!(
            "{:>8.2} ms  {} {} {out:?}",
            ms(t),
            node.op().name(),
            node.name
        );
    }
    Ok(())
}
