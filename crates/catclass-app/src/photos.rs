//! Labelled photos derived from a few real ones (random crops, mirror images, colour shifts),
//! for demos and tests of the image path where no labelled photo set can be had. They are
//! generated: they check that the path works end to end, not how well a breed is recognised.

use catclass_features::{DecodeLimits, load_image};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::path::{Path, PathBuf};

/// Why photo variants could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    /// A source photo could not be read.
    #[error(transparent)]
    Source(#[from] catclass_features::ImageError),
    /// The output folder could not be made.
    #[error("{path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A variant could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
}

/// A uniform draw in `[lo, hi)`.
fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * (rng.next_u32() as f64 / (u32::MAX as f64 + 1.0))
}

/// Writes `per_source` variants of each `(photo, class)` into `out` as
/// `<class>_<n>.png` (`n` counting from 1 per class) and returns their paths, sorted.
///
/// Each variant is a random crop keeping 60 to 100% of each side, mirrored with probability
/// 1/2, with each colour channel scaled by 0.8 to 1.2; the same `seed` gives the same files.
pub fn photo_variants(
    sources: &[(&Path, &str)],
    per_source: usize,
    seed: u64,
    out: &Path,
) -> Result<Vec<PathBuf>, PhotoError> {
    std::fs::create_dir_all(out).map_err(|source| PhotoError::Folder {
        path: out.to_path_buf(),
        source,
    })?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    let mut written = Vec::new();
    for (path, class) in sources {
        let img = load_image(path, &DecodeLimits::default())?;
        let (w, h) = (img.width(), img.height());
        for _ in 0..per_source {
            let cw = ((w as f64) * uniform(&mut rng, 0.6, 1.0)).max(1.0) as u32;
            let ch = ((h as f64) * uniform(&mut rng, 0.6, 1.0)).max(1.0) as u32;
            let left = (uniform(&mut rng, 0.0, 1.0) * f64::from(w - cw + 1)) as u32;
            let top = (uniform(&mut rng, 0.0, 1.0) * f64::from(h - ch + 1)) as u32;
            // In bounds by construction: cw <= w, ch <= h and the corner clamped.
            let Some(crop) = img.crop(left.min(w - cw), top.min(h - ch), cw, ch) else {
                continue;
            };
            let mirror = rng.next_u32() & 1 == 1;
            let gains = [0; 3].map(|_| uniform(&mut rng, 0.8, 1.2));
            let src = crop.as_raw();
            let mut data = vec![0u8; src.len()];
            for y in 0..ch as usize {
                for x in 0..cw as usize {
                    let sx = if mirror { cw as usize - 1 - x } else { x };
                    for c in 0..3 {
                        let v = f64::from(src[(y * cw as usize + sx) * 3 + c]) * gains[c];
                        data[(y * cw as usize + x) * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
                    }
                }
            }
            let n = counts.entry(class).or_insert(0);
            *n += 1;
            let file = out.join(format!("{class}_{n}.png"));
            let variant = image::RgbImage::from_vec(cw, ch, data)
                .unwrap_or_else(|| image::RgbImage::new(cw, ch));
            variant.save(&file).map_err(|source| PhotoError::Write {
                path: file.clone(),
                source,
            })?;
            written.push(file);
        }
    }
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_named_by_class_deterministic_and_differ() {
        let src = Path::new("../../testdata/images/chelsea.jpg");
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let files = photo_variants(&[(src, "cat")], 3, 7, a.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["cat_1.png", "cat_2.png", "cat_3.png"]);
        photo_variants(&[(src, "cat")], 3, 7, b.path()).unwrap();
        let bytes = |d: &Path, n: &str| std::fs::read(d.join(n)).unwrap();
        assert_eq!(bytes(a.path(), "cat_2.png"), bytes(b.path(), "cat_2.png"));
        assert_ne!(bytes(a.path(), "cat_1.png"), bytes(a.path(), "cat_2.png"));
    }
}
