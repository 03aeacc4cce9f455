//! The seams take types defined outside the workspace: a feature backend and an executor
//! written here plug into the built-in extractor and solvers.

use catclass_svm::exec::ExecError;
use catclass_svm::features::{
    BackendError, ChannelOrder, Extractor, FeatureBackend, Filter, InputSpec, Layout, OutputSpec,
    Preprocess, Resize,
};
use catclass_svm::prelude::*;
use catclass_svm::sgd::reduce::BlockFn;
use catclass_svm::sgd::{BlockReducer, Partial, Sequential, TrainError};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The mean of each colour channel of an 8 x 8 image.
struct MeanColour {
    input: InputSpec,
    output: OutputSpec,
}

impl FeatureBackend for MeanColour {
    fn name(&self) -> &'static str {
        "mean-colour"
    }
    fn input(&self) -> &InputSpec {
        &self.input
    }
    fn output(&self) -> &OutputSpec {
        &self.output
    }
    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        Ok(batch
            .chunks(64)
            .take(images * 3)
            .map(|plane| plane.iter().sum::<f32>() / 64.0)
            .collect())
    }
}

fn extractor() -> Extractor<MeanColour> {
    let backend = MeanColour {
        input: InputSpec {
            name: "pixels".into(),
            layout: Layout::Nchw,
            height: 8,
            width: 8,
            channels: 3,
        },
        output: OutputSpec {
            name: "mean".into(),
            dim: 3,
        },
    };
    let preprocess = Preprocess {
        resize: Resize::Exact {
            width: 8,
            height: 8,
            filter: Filter::Bilinear,
        },
        crop: None,
        channels: ChannelOrder::Rgb,
        scale: 255.0,
        mean: [0.0; 3],
        std: [1.0; 3],
    };
    Extractor::new(backend, preprocess).unwrap()
}

fn image(rgb: [u8; 3], shade: u8) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(20, 10, |x, _| {
        image::Rgb(rgb.map(|c| c.saturating_sub(shade).saturating_add((x % 3) as u8)))
    }))
}

/// A sequential executor that counts the passes it runs.
#[derive(Default)]
struct Counting {
    passes: AtomicUsize,
}

impl BlockReducer for Counting {
    fn reduce(&self, n: usize, len: usize, block: &BlockFn<'_>) -> Result<Partial, TrainError> {
        self.passes.fetch_add(1, Ordering::Relaxed);
        Sequential.reduce(n, len, block)
    }
}

impl Executor for Counting {
    fn map<T: Send, F: Fn(usize) -> T + Sync + Send>(&self, n: usize, f: F) -> Vec<T> {
        (0..n).map(f).collect()
    }
    fn threads(&self) -> usize {
        1
    }
    fn sum_counts(&self, local: &[u64]) -> Result<Vec<u64>, ExecError> {
        Ok(local.to_vec())
    }
}

#[test]
fn a_backend_and_an_executor_from_outside_plug_in() {
    let ex = extractor();
    let reds: Vec<_> = (0..12).map(|i| image([200, 40, 30], i * 5)).collect();
    let blues: Vec<_> = (0..12).map(|i| image([30, 50, 210], i * 5)).collect();
    let x = ndarray::concatenate(
        ndarray::Axis(0),
        &[
            ex.extract(&reds).unwrap().view(),
            ex.extract(&blues).unwrap().view(),
        ],
    )
    .unwrap();
    assert_eq!(x.dim(), (24, 3));
    assert!(
        x[[0, 0]] > 0.7 && x[[0, 2]] < 0.2,
        "red image: {:?}",
        x.row(0)
    );
    let labels: Vec<&str> = (0..24)
        .map(|i| if i < 12 { "red" } else { "blue" })
        .collect();
    let data = Dataset::from_rows(x.view(), labels).unwrap();
    let (train, test) = data.split_stratified(0.75, 3);
    let task = Task::OneVsOne("red".into(), "blue".into());
    let params = SvmSgd::params().iterations(30).check().unwrap();

    let counting = Counting::default();
    let model = params.fit(&train, &task, &counting).unwrap();
    // Every data pass of the fit, and one more for MLlib's objective of the model.
    let passes = model.fits()[0].passes;
    assert!(passes >= 2, "{passes}");
    assert_eq!(counting.passes.load(Ordering::Relaxed), passes + 1);
    let pooled = params
        .fit(&train, &task, &ThreadPool::new(3).unwrap())
        .unwrap();
    assert_eq!(
        model.models(),
        pooled.models(),
        "the executor never changes the bits"
    );

    assert_eq!(model.evaluate(&test).unwrap().metrics.accuracy(), 1.0);
    let new = ex.extract(&[image([190, 60, 20], 0)]).unwrap();
    assert_eq!(model.predict(new.row(0).as_slice().unwrap()), Some("red"));
}
