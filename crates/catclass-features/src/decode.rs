//! Decoding JPEG and PNG files to 8-bit RGB, with errors that name the file.
//!
//! The colour conversion follows what Keras' `load_img` gets from Pillow's
//! `Image.convert("RGB")`: grey is copied to the three channels, alpha is dropped (not
//! composited), a palette is expanded, 16-bit samples keep their high byte. EXIF orientation is
//! ignored, as Pillow does unless asked.

use crate::image::{DecodeLimits, Rgb8Image};
use crate::memory::{MemoryBudget, MemoryReservation};
use image::codecs::jpeg::JpegDecoder;
use image::codecs::png::PngDecoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, Limits};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an image could not be turned into pixels. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file could not be read.
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{}: empty file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The bytes are not a JPEG or PNG image.
    #[error("{}: not a JPEG or PNG image ({found})", path.display())]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// What was recognised instead (a format name, or "unknown format").
        found: String,
    },
    /// The image is larger than [`DecodeLimits`] allows.
    #[error("{}: image of {width}x{height} pixels exceeds the limit ({max_pixels} pixels, {max_side} per side)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Width declared by the file.
        width: u32,
        /// Height declared by the file.
        height: u32,
        /// The pixel limit in force.
        max_pixels: u64,
        /// The side limit in force.
        max_side: u32,
    },
    /// The image has a zero width or height.
    #[error("{}: image has no pixels ({width}x{height})", path.display())]
    NoPixels {
        /// The file.
        path: PathBuf,
        /// Width declared by the file.
        width: u32,
        /// Height declared by the file.
        height: u32,
    },
    /// The colour type cannot be converted to RGB.
    #[error("{}: unsupported colour type {color}", path.display())]
    UnsupportedColor {
        /// The file.
        path: PathBuf,
        /// The colour type, as the decoder names it.
        color: String,
    },
    /// The data is corrupt or truncated.
    #[error("{}: corrupt or truncated {format} data: {source}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// `JPEG` or `PNG`.
        format: &'static str,
        /// The decoder's error.
        source: image::ImageError,
    },
}

impl ImageError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ImageError::Io { path, .. }
            | ImageError::Empty { path }
            | ImageError::NotAnImage { path, .. }
            | ImageError::TooLarge { path, .. }
            | ImageError::NoPixels { path, .. }
            | ImageError::UnsupportedColor { path, .. }
            | ImageError::Corrupt { path, .. } => path,
        }
    }
}

/// Reads and decodes the image file at `path`.
pub fn load_image(path: &Path, limits: &DecodeLimits) -> Result<Rgb8Image, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode_image(&bytes, path, limits)
}

/// Decodes JPEG or PNG `bytes` to RGB; `path` only names the source in errors.
///
/// Never panics, whatever the bytes (a fuzz target checks it).
pub fn decode_image(
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
) -> Result<Rgb8Image, ImageError> {
    decode_image_within(bytes, path, limits, None).map(|(img, _)| img)
}

/// [`decode_image`], holding from `budget` (when given) the bytes the decoding needs (the
/// decoder's buffer and the RGB copy), from when the header gives the size until the returned
/// reservation is dropped.
pub(crate) fn decode_image_within(
    bytes: &[u8],
    path: &Path,
    limits: &DecodeLimits,
    budget: Option<&Arc<MemoryBudget>>,
) -> Result<(Rgb8Image, Option<MemoryReservation>), ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty {
            path: path.to_owned(),
        });
    }
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => f,
        Ok(other) => {
            return Err(ImageError::NotAnImage {
                path: path.to_owned(),
                found: format!("{other:?}"),
            });
        }
        Err(_) => {
            return Err(ImageError::NotAnImage {
                path: path.to_owned(),
                found: "unknown format".into(),
            });
        }
    };
    let corrupt = |format: &'static str| {
        move |source: image::ImageError| ImageError::Corrupt {
            path: path.to_owned(),
            format,
            source,
        }
    };
    let mut held = None;
    let img = if format == ImageFormat::Jpeg {
        let dec = JpegDecoder::new(Cursor::new(bytes)).map_err(corrupt("JPEG"))?;
        check_jpeg_complete(bytes).map_err(corrupt("JPEG"))?;
        finish(dec, path, limits, "JPEG", budget, &mut held)?
    } else {
        let mut lim = Limits::default();
        lim.max_image_width = Some(limits.max_side);
        lim.max_image_height = Some(limits.max_side);
        // The PNG decoder enforces its own allocation bound as well.
        lim.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(1 << 20));
        let dec = PngDecoder::with_limits(Cursor::new(bytes), lim).map_err(|e| match e {
            image::ImageError::Limits(_) => too_large_png(bytes, path, limits),
            e => corrupt("PNG")(e),
        })?;
        finish(dec, path, limits, "PNG", budget, &mut held)?
    };
    Ok((to_rgb8(img, path)?, held))
}

/// A truncated baseline or progressive JPEG has no end-of-image marker; the decoder (in its
/// lenient mode) would fill the missing part with grey, Pillow refuses it: so do we.
fn check_jpeg_complete(bytes: &[u8]) -> Result<(), image::ImageError> {
    // Trailing bytes after EOI (padding, some cameras' extra data) are allowed: look for the
    // last marker in the final part of the file.
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    if tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
        Ok(())
    } else {
        Err(image::ImageError::IoError(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "no end-of-image marker: the file is truncated",
        )))
    }
}

fn too_large_png(bytes: &[u8], path: &Path, limits: &DecodeLimits) -> ImageError {
    // IHDR is always the first chunk: width and height are big-endian at bytes 16..24.
    let be = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    ImageError::TooLarge {
        path: path.to_owned(),
        width: be(16),
        height: be(20),
        max_pixels: limits.max_pixels,
        max_side: limits.max_side,
    }
}

fn finish(
    dec: impl ImageDecoder,
    path: &Path,
    limits: &DecodeLimits,
    format: &'static str,
    budget: Option<&Arc<MemoryBudget>>,
    held: &mut Option<MemoryReservation>,
) -> Result<DynamicImage, ImageError> {
    let (width, height) = dec.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::NoPixels {
            path: path.to_owned(),
            width,
            height,
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_side
        || height > limits.max_side
    {
        return Err(ImageError::TooLarge {
            path: path.to_owned(),
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    if let Some(budget) = budget {
        // The decoder's buffer, then the RGB copy (unless the decoder gives RGB already).
        let rgb = u64::from(width) * u64::from(height) * 3;
        let copy = if dec.color_type() == image::ColorType::Rgb8 {
            0
        } else {
            rgb
        };
        *held = Some(budget.reserve(dec.total_bytes().saturating_add(copy)));
    }
    DynamicImage::from_decoder(dec).map_err(|source| match source {
        image::ImageError::Unsupported(u) => ImageError::UnsupportedColor {
            path: path.to_owned(),
            color: u.to_string(),
        },
        source => ImageError::Corrupt {
            path: path.to_owned(),
            format,
            source,
        },
    })
}

fn to_rgb8(img: DynamicImage, path: &Path) -> Result<Rgb8Image, ImageError> {
    let (w, h) = (img.width(), img.height());
    let n = w as usize * h as usize;
    let mut out = Vec::with_capacity(n * 3);
    match img {
        DynamicImage::ImageRgb8(b) => out = b.into_raw(),
        DynamicImage::ImageRgba8(b) => {
            for p in b.as_raw().chunks_exact(4) {
                out.extend_from_slice(&p[..3]);
            }
        }
        DynamicImage::ImageLuma8(b) => {
            for &g in b.as_raw() {
                out.extend_from_slice(&[g, g, g]);
            }
        }
        DynamicImage::ImageLumaA8(b) => {
            for p in b.as_raw().chunks_exact(2) {
                out.extend_from_slice(&[p[0], p[0], p[0]]);
            }
        }
        DynamicImage::ImageRgb16(b) => out.extend(b.as_raw().iter().map(|&v| (v >> 8) as u8)),
        DynamicImage::ImageRgba16(b) => {
            for p in b.as_raw().chunks_exact(4) {
                out.extend(p[..3].iter().map(|&v| (v >> 8) as u8));
            }
        }
        DynamicImage::ImageLuma16(b) => {
            for &g in b.as_raw() {
                let g = (g >> 8) as u8;
                out.extend_from_slice(&[g, g, g]);
            }
        }
        DynamicImage::ImageLumaA16(b) => {
            for p in b.as_raw().chunks_exact(2) {
                let g = (p[0] >> 8) as u8;
                out.extend_from_slice(&[g, g, g]);
            }
        }
        other => {
            return Err(ImageError::UnsupportedColor {
                path: path.to_owned(),
                color: format!("{:?}", other.color()),
            });
        }
    }
    Rgb8Image::from_raw(w, h, out).ok_or_else(|| ImageError::UnsupportedColor {
        path: path.to_owned(),
        color: "pixel buffer of unexpected size".into(),
    })
}
