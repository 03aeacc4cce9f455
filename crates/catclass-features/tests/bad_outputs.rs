//! What a backend answers is checked before anyone uses it: NaN or infinite features are
//! refused naming the image, a backend of 0 features or an answer of the wrong length is an
//! error, never a panic, a short row or a silently dropped image.

use catclass_features::{
    BackendError, ChannelOrder, EncodedImage, ExtractError, Extractor, FeatureBackend, Filter,
    InputSpec, Layout, OutputSpec, Preprocess, Resize,
};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// Answers the mean of the image, except: NaN for images whose mean is above `nan_above`,
/// `dim` values per image, `extra` values more than asked.
struct Faulty {
    input: InputSpec,
    output: OutputSpec,
    nan_above: f32,
    extra: usize,
}

impl FeatureBackend for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn input(&self) -> &InputSpec {
        &self.input
    }
    fn output(&self) -> &OutputSpec {
        &self.output
    }
    fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
        let mut out = Vec::new();
        for img in batch.chunks(self.input.len()).take(images) {
            let mean = img.iter().sum::<f32>() / img.len() as f32;
            let v = if mean > self.nan_above {
                f32::NAN
            } else {
                mean
            };
            out.extend(std::iter::repeat_n(v, self.output.dim));
        }
        out.extend(std::iter::repeat_n(0.0, self.extra));
        Ok(out)
    }
}

fn extractor(dim: usize, nan_above: f32, extra: usize) -> Extractor<Faulty> {
    let backend = Faulty {
        input: InputSpec {
            name: "x".into(),
            layout: Layout::Nchw,
            height: 2,
            width: 2,
            channels: 3,
        },
        output: OutputSpec {
            name: "y".into(),
            dim,
        },
        nan_above,
        extra,
    };
    let preprocess = Preprocess {
        resize: Resize::Exact {
            width: 2,
            height: 2,
            filter: Filter::Bilinear,
        },
        crop: None,
        channels: ChannelOrder::Rgb,
        scale: 255.0,
        mean: [0.0; 3],
        std: [1.0; 3],
    };
    Extractor::new(backend, preprocess).unwrap().with_batch(3)
}

fn grey(level: u8) -> image::RgbImage {
    image::RgbImage::from_pixel(5, 4, image::Rgb([level; 3]))
}

fn png(level: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    grey(level)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

#[test]
fn nan_features_are_refused_naming_the_image() {
    let ex = extractor(2, 0.5, 0);
    let err = ex.extract(&[grey(10), grey(20), grey(250)]).unwrap_err();
    assert!(
        matches!(err, BackendError::NonFinite { image: 2, position: 0, value } if value.is_nan()),
        "{err}"
    );
    // Over files: the bright image alone fails, by name; the others are extracted.
    let files: Vec<EncodedImage> = [10u8, 250, 30]
        .iter()
        .enumerate()
        .map(|(index, level)| EncodedImage {
            held: None,
            index,
            path: PathBuf::from(format!("grey_{level}.png")),
            bytes: Ok(png(*level)),
        })
        .collect();
    let mut seen = Vec::new();
    ex.run_source(files.len(), files.into_iter(), |o| {
        seen.push((o.index, o.result.map_err(|e| e.to_string())));
        ControlFlow::Continue(())
    });
    seen.sort_by_key(|(i, _)| *i);
    assert_eq!(seen.len(), 3, "no image dropped");
    assert!(seen[0].1.is_ok() && seen[2].1.is_ok());
    let err = seen[1].1.as_ref().unwrap_err();
    assert!(err.contains("grey_250.png") && err.contains("NaN"), "{err}");
}

#[test]
fn a_backend_of_zero_features_or_the_wrong_length_is_an_error() {
    let err = extractor(0, 2.0, 0).extract(&[grey(10)]).unwrap_err();
    assert!(
        matches!(
            err,
            BackendError::NoFeatures {
                backend: "faulty",
                ..
            }
        ),
        "{err}"
    );
    let err = extractor(2, 2.0, 1)
        .extract(&[grey(10), grey(20)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            BackendError::OutputShape {
                got: 5,
                images: 2,
                dim: 2
            }
        ),
        "{err}"
    );
    // Over files, every image of the batch gets the error.
    let files = (0..2).map(|index| EncodedImage {
        held: None,
        index,
        path: PathBuf::from(format!("g{index}.png")),
        bytes: Ok(png(10)),
    });
    let mut errors = 0;
    extractor(0, 2.0, 0).run_source(2, files, |o| {
        assert!(matches!(o.result, Err(ExtractError::Inference { .. })));
        errors += 1;
        ControlFlow::Continue(())
    });
    assert_eq!(errors, 2);
}
