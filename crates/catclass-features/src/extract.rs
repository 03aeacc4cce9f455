//! Driving a backend over many files: decode, preprocess and inference on all cores, results
//! handed back one by one, in completion order, on the calling thread.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::backend::{BackendError, FeatureBackend, check_output_shape, first_non_finite};
use crate::decode::decode_image_within;
use crate::image::{DecodeLimits, ImageError, Rgb8Image};
use crate::memory::{MemoryBudget, MemoryReservation};
use crate::preprocess::Preprocess;

/// Why one image gave no features. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The file could not be read or decoded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The network gave this image a NaN or infinite feature.
    #[error("{}: feature {position} is {value}", path.display())]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The feature's position in the vector.
        position: usize,
        /// The value.
        value: f32,
    },
    /// The network failed on the batch holding this image.
    #[error("{}: {source}", path.display())]
    Inference {
        /// The file.
        path: PathBuf,
        /// The backend's error (shared by the batch's images).
        source: Arc<BackendError>,
    },
}

impl ExtractError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ExtractError::Image(e) => e.path(),
            ExtractError::NonFinite { path, .. } | ExtractError::Inference { path, .. } => path,
        }
    }
}

/// A preprocessing that does not produce the backend's input size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("preprocessing gives {got_w}x{got_h} images, the model takes {want_w}x{want_h}")]
pub struct SizeMismatch {
    /// Width the preprocessing produces.
    pub got_w: usize,
    /// Height the preprocessing produces.
    pub got_h: usize,
    /// Width the model takes.
    pub want_w: usize,
    /// Height the model takes.
    pub want_h: usize,
}

/// One image's result, as [`Extractor::run`] hands it to its sink.
#[derive(Debug)]
pub struct Outcome {
    /// Position of the file in the list given to [`Extractor::run`].
    pub index: usize,
    /// The file.
    pub path: PathBuf,
    /// Its feature vector ([`crate::OutputSpec::dim`] floats) or what went wrong.
    pub result: Result<Vec<f32>, ExtractError>,
}

/// One image's encoded bytes (or why they could not be read), as a source hands them to
/// [`Extractor::run_source`].
#[derive(Debug)]
pub struct EncodedImage {
    /// Position of the image in the run (reported back in its [`Outcome`]).
    pub index: usize,
    /// The file or object, for messages.
    pub path: PathBuf,
    /// The JPEG or PNG bytes.
    pub bytes: Result<Vec<u8>, ImageError>,
    /// Memory held for these bytes (e.g. from the budget of images fetched ahead), released
    /// once the image is decoded.
    pub held: Option<MemoryReservation>,
}

/// Counts and times of a [`Extractor::run`].
///
/// Stage times are summed over worker threads (thread time, not wall time): their ratios say
/// where the work goes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Images that gave features.
    pub ok: usize,
    /// Images that failed.
    pub failed: usize,
    /// Images not attempted because the sink asked to stop.
    pub skipped: usize,
    /// Waiting for the source (reading files, or objects not yet fetched).
    pub read: Duration,
    /// Decoding images.
    pub decode: Duration,
    /// Resizing, cropping, normalising.
    pub preprocess: Duration,
    /// Running the network.
    pub model: Duration,
    /// Wall-clock time of the run.
    pub wall: Duration,
}

/// The largest batch [`Extractor::with_batch`] takes: 256 images (about 150 MB of
/// preprocessed 224x224 input per worker).
pub const MAX_BATCH: usize = 256;

/// Drives a [`FeatureBackend`] with a [`Preprocess`] over files or decoded images.
///
/// Generic over the backend (`B`: tract, burn or yours), which is shared by the worker
/// threads; `Extractor<dyn FeatureBackend>` (the default) holds one chosen at run time.
///
/// ```
/// use catclass_features::{BackendError, Extractor, FeatureBackend, InputSpec, Layout, OutputSpec, Preset};
/// /// The mean of each colour channel: a "network" of three features.
/// struct MeanColour { input: InputSpec, output: OutputSpec }
/// impl FeatureBackend for MeanColour {
///     fn name(&self) -> &'static str { "mean-colour" }
///     fn input(&self) -> &InputSpec { &self.input }
///     fn output(&self) -> &OutputSpec { &self.output }
///     fn extract(&self, batch: &[f32], images: usize) -> Result<Vec<f32>, BackendError> {
///         let plane = self.input.height * self.input.width;
///         Ok(batch.chunks(plane).take(images * 3).map(|c| c.iter().sum::<f32>() / plane as f32).collect())
///     }
/// }
/// let preprocess = Preset::EfficientNetLite.preprocess();
/// let (w, h) = preprocess.output_size();
/// let backend = MeanColour {
///     input: InputSpec { name: "x".into(), layout: Layout::Nchw, height: h as usize, width: w as usize, channels: 3 },
///     output: OutputSpec { name: "mean".into(), dim: 3 },
/// };
/// let ex = Extractor::new(backend, preprocess)?;
/// let red = image::RgbImage::from_pixel(40, 30, image::Rgb([255, 0, 0]));
/// let features = ex.extract(&[red])?;
/// assert_eq!(features.dim(), (1, 3));
/// assert!(features[[0, 0]] > features[[0, 1]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Extractor<B: FeatureBackend + ?Sized = dyn FeatureBackend> {
    backend: Arc<B>,
    preprocess: Preprocess,
    batch: usize,
    threads: usize,
    limits: DecodeLimits,
    memory: Option<Arc<MemoryBudget>>,
}

impl<B: FeatureBackend + ?Sized> std::fmt::Debug for Extractor<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("backend", &self.backend.name())
            .field("preprocess", &self.preprocess)
            .field("batch", &self.batch)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl<B: FeatureBackend> Extractor<B> {
    /// An extractor of `backend` with batch size 1 and one worker per available core.
    ///
    /// Fails when `preprocess` does not produce the backend's input size.
    pub fn new(backend: B, preprocess: Preprocess) -> Result<Self, SizeMismatch> {
        Self::shared(Arc::new(backend), preprocess)
    }
}

/// An image the extractor takes: decoded 8-bit RGB (other pixel formats are converted).
pub trait ToRgb8 {
    /// The image as 8-bit RGB.
    fn to_rgb8_image(&self) -> Rgb8Image;
}

impl ToRgb8 for Rgb8Image {
    fn to_rgb8_image(&self) -> Rgb8Image {
        self.clone()
    }
}

impl ToRgb8 for image::RgbImage {
    fn to_rgb8_image(&self) -> Rgb8Image {
        Rgb8Image::from_raw(self.width(), self.height(), self.as_raw().clone())
            .unwrap_or_else(|| Rgb8Image::new_filled(self.width(), self.height(), 0))
    }
}

impl ToRgb8 for image::DynamicImage {
    fn to_rgb8_image(&self) -> Rgb8Image {
        self.to_rgb8().to_rgb8_image()
    }
}

impl<B: FeatureBackend + ?Sized> Extractor<B> {
    /// An extractor of a backend shared with others (e.g. an `Arc<dyn FeatureBackend>`
    /// chosen at run time), batch size 1, one worker per available core.
    ///
    /// Fails when `preprocess` does not produce the backend's input size.
    pub fn shared(backend: Arc<B>, preprocess: Preprocess) -> Result<Self, SizeMismatch> {
        let (w, h) = preprocess.output_size();
        let input = backend.input();
        if (w as usize, h as usize) != (input.width, input.height) {
            return Err(SizeMismatch {
                got_w: w as usize,
                got_h: h as usize,
                want_w: input.width,
                want_h: input.height,
            });
        }
        Ok(Self {
            backend,
            preprocess,
            batch: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: DecodeLimits::default(),
            memory: None,
        })
    }

    /// Images per network call, 1 to [`MAX_BATCH`] (values outside are brought to the nearest
    /// end): each worker holds one preprocessed image per batch slot.
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.clamp(1, MAX_BATCH);
        self
    }

    /// Worker threads (at least 1); each decodes, preprocesses and runs its own batches.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Decoding limits.
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Bounds the memory the workers' decoded images take together: each worker holds the
    /// bytes an image's decoding needs (known from its header) from `budget` before it
    /// allocates them, and waits while they do not fit. Without a budget each worker may
    /// hold one image of up to [`DecodeLimits::max_pixels`].
    ///
    /// ```
    /// # use catclass_features::{Extractor, MemoryBudget, Preprocess};
    /// # fn with(e: Extractor) -> Extractor {
    /// e.with_memory_budget(MemoryBudget::new(512 << 20))
    /// # }
    /// ```
    pub fn with_memory_budget(mut self, budget: Arc<MemoryBudget>) -> Self {
        self.memory = Some(budget);
        self
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<B> {
        &self.backend
    }

    /// The preprocessing.
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    /// Images per network call.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Features of decoded images (any [`ToRgb8`]: `image::DynamicImage`, `image::RgbImage`,
    /// [`Rgb8Image`]), one row per image, run on the calling thread in batches of
    /// [`Self::batch`].
    pub fn extract<I: ToRgb8>(&self, images: &[I]) -> Result<ndarray::Array2<f32>, BackendError> {
        let dim = self.backend.output().dim;
        let rgb: Vec<Rgb8Image> = images.iter().map(ToRgb8::to_rgb8_image).collect();
        let rows = self.extract_images(&rgb)?;
        let values: Vec<f32> = rows.into_iter().flatten().collect();
        ndarray::Array2::from_shape_vec((images.len(), dim), values)
            .map_err(|e| BackendError::Run(format!("the backend returned a ragged batch: {e}")))
    }

    /// Features of decoded images, in order, run on the calling thread in batches of
    /// [`Self::batch`]. A backend answer of the wrong length, a backend of 0 features, or a
    /// NaN or infinite feature (naming the image) is an error, never a panic or a bad row.
    pub fn extract_images(&self, images: &[Rgb8Image]) -> Result<Vec<Vec<f32>>, BackendError> {
        let per = self.backend.input().len();
        let layout = self.backend.input().layout;
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(self.batch) {
            let mut buf = vec![0f32; chunk.len() * per];
            for (img, slot) in chunk.iter().zip(buf.chunks_exact_mut(per)) {
                self.preprocess.apply_into(img, layout, slot);
            }
            let feats = self.backend.extract(&buf, chunk.len())?;
            let dim = check_output_shape(
                self.backend.name(),
                self.backend.output(),
                feats.len(),
                chunk.len(),
            )?;
            for (k, row) in feats.chunks_exact(dim).enumerate() {
                if let Some((position, value)) = first_non_finite(row) {
                    return Err(BackendError::NonFinite {
                        image: out.len() + k,
                        position,
                        value,
                    });
                }
            }
            out.extend(feats.chunks_exact(dim).map(<[f32]>::to_vec));
        }
        Ok(out)
    }

    /// Extracts every file of `paths` on [`Self::threads`] workers and calls `sink` on the
    /// calling thread with each image's [`Outcome`], in completion order.
    ///
    /// A bad file gives an error outcome and the run goes on. When `sink` returns
    /// `ControlFlow::Break`, workers finish the batch they hold (its outcomes are dropped) and
    /// start no other; the summary counts the images never handed to `sink` as skipped.
    pub fn run<S>(&self, paths: &[PathBuf], sink: S) -> RunSummary
    where
        S: FnMut(Outcome) -> ControlFlow<()>,
    {
        let files = paths.iter().enumerate().map(|(index, path)| EncodedImage {
            index,
            held: None,
            bytes: std::fs::read(path).map_err(|source| ImageError::Io {
                path: path.clone(),
                source,
            }),
            path: path.clone(),
        });
        self.run_source(paths.len(), files, sink)
    }

    /// Like [`Self::run`], over `total` encoded images pulled from `source` (files, objects
    /// fetched ahead from a store, bytes in memory).
    ///
    /// Workers take a batch of images from `source` under a lock (so `source` should be cheap
    /// per item: a channel fed by a prefetcher, or a local read) and decode, preprocess and run
    /// it outside the lock. Time spent in `source` is [`RunSummary::read`].
    pub fn run_source<I, S>(&self, total: usize, source: I, mut sink: S) -> RunSummary
    where
        I: Iterator<Item = EncodedImage> + Send,
        S: FnMut(Outcome) -> ControlFlow<()>,
    {
        let start = Instant::now();
        let source = Mutex::new(source.fuse());
        let stop = AtomicBool::new(false);
        let times = [
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
            AtomicU64::new(0),
        ];
        let mut summary = RunSummary::default();
        let workers = self.threads.min(total.div_ceil(self.batch).max(1));
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<Vec<Outcome>>(workers * 2);
            for _ in 0..workers {
                let tx = tx.clone();
                let (source, stop, times) = (&source, &stop, &times);
                scope.spawn(move || {
                    // Images are taken one at a time and decoded at once, so what a source
                    // holds for an image (e.g. a memory reservation) is released before the
                    // worker waits for the next one.
                    let next = || {
                        let t = Instant::now();
                        let item = source.lock().unwrap_or_else(|e| e.into_inner()).next();
                        times[3].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                        item
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let Some(outcomes) = self.run_batch(next, times) else {
                            break;
                        };
                        if tx.send(outcomes).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut stopped = false;
            for batch in rx {
                for o in batch {
                    if stopped {
                        continue;
                    }
                    match &o.result {
                        Ok(_) => summary.ok += 1,
                        Err(_) => summary.failed += 1,
                    }
                    if sink(o).is_break() {
                        stopped = true;
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
        });
        summary.skipped = total.saturating_sub(summary.ok + summary.failed);
        let d = |i: usize| Duration::from_nanos(times[i].load(Ordering::Relaxed));
        summary.decode = d(0);
        summary.preprocess = d(1);
        summary.model = d(2);
        summary.read = d(3);
        summary.wall = start.elapsed();
        summary
    }

    /// Takes up to a batch of images from `next`, decoding and preprocessing each as it comes,
    /// then runs the network on them; `None` when `next` had none.
    fn run_batch(
        &self,
        mut next: impl FnMut() -> Option<EncodedImage>,
        times: &[AtomicU64; 4],
    ) -> Option<Vec<Outcome>> {
        let input = self.backend.input();
        let per = input.len();
        let mut buf = Vec::with_capacity(self.batch * per);
        let mut outcomes = Vec::with_capacity(self.batch);
        let mut good: Vec<(usize, PathBuf)> = Vec::with_capacity(self.batch);
        let add = |i: usize, t: Instant| {
            times[i].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        };
        let mut taken = 0;
        while taken < self.batch {
            let Some(EncodedImage {
                index,
                path,
                bytes,
                held,
            }) = next()
            else {
                break;
            };
            taken += 1;
            let t = Instant::now();
            let img = bytes
                .and_then(|b| decode_image_within(&b, &path, &self.limits, self.memory.as_ref()));
            drop(held);
            add(0, t);
            match img {
                Ok((img, _decoding)) => {
                    let t = Instant::now();
                    let at = buf.len();
                    buf.resize(at + per, 0.0);
                    self.preprocess
                        .apply_into(&img, input.layout, &mut buf[at..]);
                    add(1, t);
                    good.push((index, path));
                }
                Err(e) => outcomes.push(Outcome {
                    index,
                    path,
                    result: Err(e.into()),
                }),
            }
        }
        if taken == 0 {
            return None;
        }
        if good.is_empty() {
            return Some(outcomes);
        }
        let t = Instant::now();
        let result = self.backend.extract(&buf, good.len()).and_then(|feats| {
            check_output_shape(
                self.backend.name(),
                self.backend.output(),
                feats.len(),
                good.len(),
            )
            .map(|dim| (feats, dim))
        });
        add(2, t);
        match result {
            Ok((feats, dim)) => {
                for ((index, path), f) in good.into_iter().zip(feats.chunks_exact(dim)) {
                    let result = match first_non_finite(f) {
                        Some((position, value)) => Err(ExtractError::NonFinite {
                            path: path.clone(),
                            position,
                            value,
                        }),
                        None => Ok(f.to_vec()),
                    };
                    outcomes.push(Outcome {
                        index,
                        path,
                        result,
                    });
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                for (index, path) in good {
                    outcomes.push(Outcome {
                        index,
                        result: Err(ExtractError::Inference {
                            path: path.clone(),
                            source: e.clone(),
                        }),
                        path,
                    });
                }
            }
        }
        Some(outcomes)
    }
}
