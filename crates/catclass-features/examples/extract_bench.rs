//! Throughput of extraction over a folder of images, for `benches/extract_vs_onnxruntime.py`.
//!
//! cargo run --release -p catclass-features --example extract_bench -- \
//!     DIR [--model PATH] [--layer NAME] [--preset NAME] [--batch N] [--threads N] [--repeat N]
//!     [--backend tract|burn]   (burn needs `--features burn`)
//!     [--plan-batch N]         (tract: images per plan run, default 1)
//!     [--untuned]              (tract: its own plans, without catclass's rewrites)
//!
//! Prints one JSON line: images, seconds, images/s, and the summed thread time per stage
//! (decode, preprocess, model), then a model-only figure (the same preprocessed batch run
//! `repeat` times per thread).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use catclass_features::{
    DEFAULT_LAYER, DEFAULT_PRESET, Extractor, FeatureBackend, ModelSource, Preset, TractBackend,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut model, mut layer, mut preset) = (None, None, None);
    let (mut batch, mut threads, mut repeat) = (1usize, 1usize, 3usize);
    let mut engine = String::from("tract");
    let mut plan_batch = 1usize;
    let mut tuned = true;
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--model" => model = Some(PathBuf::from(val()?)),
            "--layer" => layer = Some(val()?),
            "--preset" => preset = Some(val()?.parse::<Preset>()?),
            "--batch" => batch = val()?.parse()?,
            "--threads" => threads = val()?.parse()?,
            "--repeat" => repeat = val()?.parse()?,
            "--backend" => engine = val()?,
            "--plan-batch" => plan_batch = val()?.parse()?,
            "--untuned" => tuned = false,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.ok_or("usage: extract_bench DIR [options]")?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let (source, layer, preset) = match model {
        None => (
            ModelSource::Default,
            layer.unwrap_or_else(|| DEFAULT_LAYER.into()),
            preset.unwrap_or(DEFAULT_PRESET),
        ),
        Some(p) => (
            ModelSource::Path(p),
            layer.unwrap_or_else(|| "fc2".into()),
            preset.unwrap_or(Preset::KerasVgg16),
        ),
    };
    let t = Instant::now();
    let backend: Arc<dyn FeatureBackend> = match engine.as_str() {
        "tract" => {
            let b = TractBackend::load(&source, Some(&layer))?
                .with_plan_batch(plan_batch)
                .with_tuning(tuned);
            if !tuned {
                engine = "tract (untuned)".into();
            }
            b.prepare(batch)?;
            if !paths.len().is_multiple_of(batch) {
                b.prepare(paths.len() % batch)?;
            }
            Arc::new(b)
        }
        #[cfg(feature = "burn")]
        "burn" => Arc::new(catclass_features::BurnBackend::load(&source, Some(&layer))?),
        other => return Err(format!("unknown or not built backend {other:?}").into()),
    };
    let load_s = t.elapsed().as_secs_f64();
    let ex = Extractor::new(backend.clone(), preset.preprocess())?
        .with_batch(batch)
        .with_threads(threads);
    let s = ex.run(&paths, |o| {
        if let Err(e) = o.result {
            eprintln!("{e}");
        }
        ControlFlow::Continue(())
    });
    let wall = s.wall.as_secs_f64();
    // Model only: each thread runs the same preprocessed batch `repeat` times.
    let per = backend.input().len();
    let input = vec![0.5f32; per * batch];
    let t = Instant::now();
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| {
                for _ in 0..repeat {
                    backend.extract(&input, batch).expect("model run");
                }
            });
        }
    });
    let model_only = (threads * repeat * batch) as f64 / t.elapsed().as_secs_f64();
    println!(
        "{{\"engine\": \"{engine}\", \"images\": {}, \"failed\": {}, \"batch\": {batch}, \"threads\": {threads}, \
         \"load_s\": {load_s:.3}, \"wall_s\": {wall:.3}, \"images_per_s\": {:.2}, \
         \"decode_s\": {:.3}, \"preprocess_s\": {:.3}, \"model_s\": {:.3}, \"model_only_images_per_s\": {model_only:.2}}}",
        s.ok,
        s.failed,
        s.ok as f64 / wall,
        s.decode.as_secs_f64(),
        s.preprocess.as_secs_f64(),
        s.model.as_secs_f64(),
    );
    Ok(())
}
