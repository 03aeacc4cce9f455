//! Resizing 8-bit RGB images the way Pillow does, to the bit.
//!
//! Keras' `load_img` and torchvision's `Resize` both hand the work to Pillow, so the features a
//! user got from the original program depend on Pillow's exact arithmetic:
//! - [`Filter::Nearest`]: `Image.resize(size, NEAREST)`, an affine scale whose source coordinate is
//!   accumulated in `f64` (`x = a/2; x += a` per output pixel), truncated.
//! - [`Filter::Bilinear`]: `Image.resize(size, BILINEAR)`, Pillow's separable convolution with the
//!   triangle filter widened by the scale when shrinking (antialiasing), coefficients rounded to
//!   22-bit fixed point, horizontal pass first, each pass rounded and clamped to 8 bits.
//!
//! Both are checked against Pillow itself by the crate's tests.

use crate::image::Rgb8Image;

/// Resampling filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Pillow's `NEAREST` (Keras' default `interpolation="nearest"`).
    Nearest,
    /// Pillow's `BILINEAR` (torchvision's default), antialiased when shrinking.
    Bilinear,
}

impl Filter {
    /// The name used in presets and model files (`nearest`, `bilinear`).
    pub fn name(self) -> &'static str {
        match self {
            Filter::Nearest => "nearest",
            Filter::Bilinear => "bilinear",
        }
    }
}

/// A window `(left, top, width, height)` of a resized image, in output pixels.
pub type Window = (u32, u32, u32, u32);

/// Resizes `img` to `width` x `height` with `filter` (a copy when the size is unchanged).
///
/// Zero target sizes give an empty image.
pub fn resize(img: &Rgb8Image, width: u32, height: u32, filter: Filter) -> Rgb8Image {
    resize_window(img, width, height, (0, 0, width, height), filter)
}

/// The `window` of `img` resized to `width` x `height`: the same pixels as cropping the full
/// resize, without computing (or allocating) the rest. The window is clipped to the image.
pub fn resize_window(
    img: &Rgb8Image,
    width: u32,
    height: u32,
    window: Window,
    filter: Filter,
) -> Rgb8Image {
    let (left, top) = (window.0.min(width), window.1.min(height));
    let cw = window.2.min(width - left);
    let ch = window.3.min(height - top);
    if img.width() == width && img.height() == height {
        return img
            .crop(left, top, cw, ch)
            .expect("window clipped to the image");
    }
    if cw == 0 || ch == 0 || img.width() == 0 || img.height() == 0 {
        return Rgb8Image::new_filled(cw, ch, 0);
    }
    match filter {
        Filter::Nearest => nearest(img, width, height, (left, top, cw, ch)),
        Filter::Bilinear => bilinear(img, width, height, (left, top, cw, ch)),
    }
}

/// Source index of output indices `start..start + len`, Pillow's `ImagingScaleAffine` rule.
fn nearest_table(in_size: u32, out_size: u32, start: u32, len: u32) -> Vec<usize> {
    let step = f64::from(in_size) / f64::from(out_size);
    let mut pos = step * 0.5;
    let mut table = Vec::with_capacity(len as usize);
    for i in 0..start + len {
        if i >= start {
            // Truncation toward zero; `pos` is never negative here and never reaches
            // `in_size` (the clamp only guards against a rounding surprise).
            table.push((pos as usize).min(in_size as usize - 1));
        }
        pos += step;
    }
    table
}

fn nearest(img: &Rgb8Image, width: u32, height: u32, w: Window) -> Rgb8Image {
    let xs = nearest_table(img.width(), width, w.0, w.2);
    let ys = nearest_table(img.height(), height, w.1, w.3);
    let src = img.as_raw();
    let src_stride = img.width() as usize * 3;
    let mut out = Vec::with_capacity(xs.len() * ys.len() * 3);
    for &y in &ys {
        let row = &src[y * src_stride..(y + 1) * src_stride];
        for &x in &xs {
            out.extend_from_slice(&row[x * 3..x * 3 + 3]);
        }
    }
    Rgb8Image::from_raw(w.2, w.3, out).expect("sizes match by construction")
}

/// Fixed-point precision of Pillow's 8-bit convolution coefficients.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Convolution coefficients for one axis: for each output index of the window, the first
/// source index, the number of taps and `ksize` fixed-point weights.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter,
/// for output indices `start..start + len` of an `in_size` -> `out_size` resize.
fn coeffs(in_size: u32, out_size: u32, start: u32, len: u32) -> Coeffs {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filterscale = scale.max(1.0);
    let support = filterscale; // the triangle's support is 1
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(len as usize);
    let mut weights = vec![0i32; len as usize * ksize];
    let mut k = vec![0f64; ksize];
    let inv = 1.0 / filterscale;
    for (j, row) in weights.chunks_exact_mut(ksize).enumerate() {
        let xx = f64::from(start) + j as f64;
        let center = (xx + 0.5) * scale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) as usize;
        let taps = xmax.saturating_sub(xmin).min(ksize);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(taps) {
            let w = triangle((x as f64 + xmin as f64 - center + 0.5) * inv);
            *kx = w;
            ww += w;
        }
        for (dst, &w) in row.iter_mut().zip(&k[..taps]) {
            let w = if ww != 0.0 { w / ww } else { w };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            *dst = if w < 0.0 {
                (fixed - 0.5) as i32
            } else {
                (fixed + 0.5) as i32
            };
        }
        bounds.push((xmin, taps));
    }
    Coeffs {
        ksize,
        bounds,
        weights,
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

fn bilinear(img: &Rgb8Image, width: u32, height: u32, win: Window) -> Rgb8Image {
    let need_h = width != img.width();
    let need_v = height != img.height();
    let (w_out, h_out) = (win.2 as usize, win.3 as usize);
    let src = img.as_raw();
    let src_stride = img.width() as usize * 3;
    // Vertical coefficients (or the identity rows when there is no vertical pass).
    let vert = need_v.then(|| coeffs(img.height(), height, win.1, win.3));
    // Source rows the output needs.
    let (first_row, last_row) = match &vert {
        Some(v) => {
            let first = v.bounds.iter().map(|b| b.0).min().unwrap_or(0);
            let last = v.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
            (first, last.max(first))
        }
        None => (win.1 as usize, (win.1 + win.3) as usize),
    };
    // Horizontal pass over the needed rows (or a copy of the window's columns).
    let stride = w_out * 3;
    let mut tmp = vec![0u8; (last_row - first_row) * stride];
    if need_h {
        let c = coeffs(img.width(), width, win.0, win.2);
        for (yy, out_row) in tmp.chunks_exact_mut(stride).enumerate() {
            let row = &src[(yy + first_row) * src_stride..(yy + first_row + 1) * src_stride];
            for ((px, &(xmin, taps)), k) in out_row
                .chunks_exact_mut(3)
                .zip(&c.bounds)
                .zip(c.weights.chunks_exact(c.ksize))
            {
                let mut s = [1i32 << (PRECISION_BITS - 1); 3];
                for (p, &w) in row[xmin * 3..(xmin + taps) * 3]
                    .chunks_exact(3)
                    .zip(&k[..taps])
                {
                    s[0] += i32::from(p[0]) * w;
                    s[1] += i32::from(p[1]) * w;
                    s[2] += i32::from(p[2]) * w;
                }
                px[0] = clip8(s[0]);
                px[1] = clip8(s[1]);
                px[2] = clip8(s[2]);
            }
        }
    } else {
        let x0 = win.0 as usize * 3;
        for (yy, out_row) in tmp.chunks_exact_mut(stride).enumerate() {
            let start = (yy + first_row) * src_stride + x0;
            out_row.copy_from_slice(&src[start..start + stride]);
        }
    }
    let data = match vert {
        Some(v) => {
            let mut out = vec![0u8; h_out * stride];
            let mut acc = vec![0i32; stride];
            for ((out_row, &(ymin, taps)), k) in out
                .chunks_exact_mut(stride)
                .zip(&v.bounds)
                .zip(v.weights.chunks_exact(v.ksize))
            {
                // Row by row over the taps (the same sums, in the same order, as pixel by
                // pixel), so that the inner loop runs over contiguous bytes.
                acc.fill(1i32 << (PRECISION_BITS - 1));
                let rows = tmp[(ymin - first_row) * stride..].chunks_exact(stride);
                for (src, &w) in rows.zip(&k[..taps]) {
                    for (a, &p) in acc.iter_mut().zip(src) {
                        *a += i32::from(p) * w;
                    }
                }
                for (dst, &a) in out_row.iter_mut().zip(&acc) {
                    *dst = clip8(a);
                }
            }
            out
        }
        None => tmp,
    };
    Rgb8Image::from_raw(win.2, win.3, data).expect("sizes match by construction")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Rgb8Image {
        let mut v = Vec::new();
        for y in 0..h {
            for x in 0..w {
                v.extend_from_slice(&[
                    (x * 7 % 256) as u8,
                    (y * 5 % 256) as u8,
                    ((x + y) % 256) as u8,
                ]);
            }
        }
        Rgb8Image::from_raw(w, h, v).unwrap()
    }

    #[test]
    fn nearest_integer_downscale_takes_centres() {
        let img = gradient(8, 4);
        let out = resize(&img, 4, 2, Filter::Nearest);
        // step 2: source x = 1, 3, 5, 7 and y = 1, 3.
        assert_eq!(out.pixel(0, 0), img.pixel(1, 1));
        assert_eq!(out.pixel(3, 1), img.pixel(7, 3));
    }

    #[test]
    fn bilinear_constant_image_stays_constant() {
        let img = Rgb8Image::new_filled(37, 23, 200);
        for (w, h) in [(10, 10), (100, 7), (37, 50)] {
            let out = resize(&img, w, h, Filter::Bilinear);
            assert!(out.as_raw().iter().all(|&v| v == 200), "{w}x{h}");
        }
    }

    #[test]
    fn coefficients_sum_to_one_in_fixed_point() {
        for (i, o) in [(451, 256), (300, 224), (10, 300), (1, 5)] {
            let c = coeffs(i, o, 0, o);
            for xx in 0..o as usize {
                assert!(c.bounds[xx].1 > 0);
                let s: i32 = c.weights[xx * c.ksize..(xx + 1) * c.ksize].iter().sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= c.ksize as i32,
                    "{i}->{o} at {xx}: {s}"
                );
            }
        }
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn window_equals_crop_of_full_resize() {
        let mut v = Vec::new();
        for i in 0..(53 * 31 * 3) {
            v.push((i * 37 % 251) as u8);
        }
        let img = Rgb8Image::from_raw(53, 31, v).unwrap();
        for filter in [Filter::Nearest, Filter::Bilinear] {
            for (w, h) in [(40, 20), (80, 31), (53, 60), (17, 9)] {
                let full = resize(&img, w, h, filter);
                let win = (w / 4, h / 3, w / 2, h / 2);
                let part = resize_window(&img, w, h, win, filter);
                assert_eq!(
                    part,
                    full.crop(win.0, win.1, win.2, win.3).unwrap(),
                    "{filter:?} {w}x{h}"
                );
            }
        }
    }
}
