//! Preprocessing as a value: resize rule, crop, channel order, normalisation, tensor layout.
//!
//! Each named [`Preset`] reproduces a reference implementation exactly, in `f32`:
//! - `keras-vgg16`: Keras `load_img(path, target_size=(224, 224))` (Pillow nearest, straight to
//!   224x224, no crop) then `preprocess_input` in caffe mode (RGB -> BGR, minus
//!   103.939 / 116.779 / 123.68, no scaling).
//! - `efficientnet-lite`: shorter side to 256 (Pillow bilinear), centre crop 224,
//!   `(x - 127) / 128`.
//! - `torchvision`: shorter side to 256 (Pillow bilinear), centre crop 224, `x / 255`, minus the
//!   ImageNet mean (0.485, 0.456, 0.406), over its std (0.229, 0.224, 0.225).

use std::fmt;
use std::str::FromStr;

use crate::image::Rgb8Image;
use crate::resize::{Filter, resize_window};

/// How the image is brought to the network's size before any crop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resize {
    /// Straight to `width` x `height`, aspect ratio not kept (Keras' `load_img`).
    Exact {
        /// Target width.
        width: u32,
        /// Target height.
        height: u32,
        /// Resampling filter.
        filter: Filter,
    },
    /// Shorter side to `size`, the longer one to `floor(size * long / short)` (torchvision's
    /// `Resize(size)`).
    ShorterSide {
        /// Target length of the shorter side.
        size: u32,
        /// Resampling filter.
        filter: Filter,
    },
}

/// Order of the three colour channels in the tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red (Caffe, Keras' VGG16).
    Bgr,
}

/// Memory layout of the input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `[N, C, H, W]` (PyTorch, most ONNX exports).
    Nchw,
    /// `[N, H, W, C]` (Keras / TensorFlow exports).
    Nhwc,
}

/// The named preprocessing presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Keras VGG16: `load_img(target_size=(224, 224))` + `preprocess_input` (caffe).
    KerasVgg16,
    /// EfficientNet-Lite: shorter side 256 bilinear, centre crop 224, `(x - 127) / 128`.
    EfficientNetLite,
    /// torchvision ImageNet: shorter side 256 bilinear, centre crop 224, mean/std.
    Torchvision,
}

impl Preset {
    /// Every preset, in a stable order.
    pub const ALL: [Preset; 3] = [
        Preset::KerasVgg16,
        Preset::EfficientNetLite,
        Preset::Torchvision,
    ];

    /// The preset's name on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Preset::KerasVgg16 => "keras-vgg16",
            Preset::EfficientNetLite => "efficientnet-lite",
            Preset::Torchvision => "torchvision",
        }
    }

    /// The preprocessing this preset stands for.
    pub fn preprocess(self) -> Preprocess {
        match self {
            Preset::KerasVgg16 => Preprocess {
                resize: Resize::Exact {
                    width: 224,
                    height: 224,
                    filter: Filter::Nearest,
                },
                crop: None,
                channels: ChannelOrder::Bgr,
                scale: 1.0,
                // Caffe means are given in BGR order; stored here in RGB order.
                mean: [123.68, 116.779, 103.939],
                std: [1.0, 1.0, 1.0],
            },
            Preset::EfficientNetLite => Preprocess {
                resize: Resize::ShorterSide {
                    size: 256,
                    filter: Filter::Bilinear,
                },
                crop: Some((224, 224)),
                channels: ChannelOrder::Rgb,
                scale: 1.0,
                mean: [127.0; 3],
                std: [128.0; 3],
            },
            Preset::Torchvision => Preprocess {
                resize: Resize::ShorterSide {
                    size: 256,
                    filter: Filter::Bilinear,
                },
                crop: Some((224, 224)),
                channels: ChannelOrder::Rgb,
                scale: 255.0,
                mean: [0.485, 0.456, 0.406],
                std: [0.229, 0.224, 0.225],
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A preset name that is not one of [`Preset::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preprocessing preset {0:?} (known: keras-vgg16, efficientnet-lite, torchvision)")]
pub struct UnknownPreset(pub String);

impl FromStr for Preset {
    type Err = UnknownPreset;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPreset(s.to_owned()))
    }
}

/// A preprocessing that cannot produce an image (a crop larger than the resized image, a zero
/// size, a zero std).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid preprocessing: {0}")]
pub struct InvalidPreprocess(pub String);

/// Everything between decoded RGB pixels and the network's input tensor.
///
/// Per channel `c` (in RGB order), the value is `((pixel / scale) - mean[c]) / std[c]`, computed
/// in `f32` in that order (division by 1 is exact, so the caffe mode is a plain subtraction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preprocess {
    /// Resize rule.
    pub resize: Resize,
    /// Centre crop `(width, height)` after the resize, torchvision's rounding
    /// (`round((size - crop) / 2)`, half to even).
    pub crop: Option<(u32, u32)>,
    /// Channel order in the tensor.
    pub channels: ChannelOrder,
    /// Pixel values are divided by this first (255 for torchvision, else 1).
    pub scale: f32,
    /// Per-channel mean, in RGB order, subtracted after scaling.
    pub mean: [f32; 3],
    /// Per-channel std, in RGB order, divided last.
    pub std: [f32; 3],
}

impl Preprocess {
    /// Checks that the preprocessing can produce an image: non-zero sizes, a crop that fits the
    /// resized image whatever its aspect ratio, finite non-zero scale and std.
    pub fn validate(&self) -> Result<(), InvalidPreprocess> {
        let (min_w, min_h) = match self.resize {
            Resize::Exact { width, height, .. } => (width, height),
            Resize::ShorterSide { size, .. } => (size, size),
        };
        if min_w == 0 || min_h == 0 {
            return Err(InvalidPreprocess("resize to a zero size".into()));
        }
        if let Some((cw, ch)) = self.crop
            && (cw == 0 || ch == 0 || cw > min_w || ch > min_h)
        {
            return Err(InvalidPreprocess(format!(
                "crop {cw}x{ch} does not fit the resized image ({min_w}x{min_h} at least)"
            )));
        }
        let ok = |v: f32| v.is_finite() && v != 0.0;
        if !ok(self.scale)
            || !self.std.iter().all(|&s| ok(s))
            || !self.mean.iter().all(|m| m.is_finite())
        {
            return Err(InvalidPreprocess(
                "scale and std must be finite and non-zero".into(),
            ));
        }
        Ok(())
    }

    /// `(width, height)` of the tensor this preprocessing produces.
    pub fn output_size(&self) -> (u32, u32) {
        match (self.crop, self.resize) {
            (Some(c), _) => c,
            (None, Resize::Exact { width, height, .. }) => (width, height),
            (None, Resize::ShorterSide { size, .. }) => (size, size),
        }
    }

    /// Number of floats in one image's tensor (`3 * width * height`).
    pub fn output_len(&self) -> usize {
        let (w, h) = self.output_size();
        3 * w as usize * h as usize
    }

    /// The resized and cropped image, before normalisation.
    ///
    /// For [`Resize::ShorterSide`] without a crop, the output is centre-cropped to a square
    /// `size` x `size` so that every image gives a tensor of the same shape.
    pub fn geometry(&self, img: &Rgb8Image) -> Rgb8Image {
        let (rw, rh, filter) = match self.resize {
            Resize::Exact {
                width,
                height,
                filter,
            } => (width, height, filter),
            Resize::ShorterSide { size, filter } => {
                let (w, h) = (u64::from(img.width()), u64::from(img.height()));
                let (nw, nh) = if w <= h {
                    (u64::from(size), u64::from(size) * h / w.max(1))
                } else {
                    (u64::from(size) * w / h.max(1), u64::from(size))
                };
                let clamp = |v: u64| v.clamp(1, u64::from(u32::MAX)) as u32;
                (clamp(nw), clamp(nh), filter)
            }
        };
        let (cw, ch) = self.output_size();
        // Only the centre window is computed: the same pixels as a full resize then a crop,
        // with bounded work and memory whatever the aspect ratio.
        let window = (centre_offset(rw, cw), centre_offset(rh, ch), cw, ch);
        let out = resize_window(img, rw, rh, window, filter);
        if (out.width(), out.height()) == (cw, ch) {
            out
        } else {
            // Only reachable with a preprocessing that fails `validate`.
            Rgb8Image::new_filled(cw, ch, 0)
        }
    }

    /// Writes the normalised tensor of `img` (one image, `layout`) into `out`, which must hold
    /// [`Self::output_len`] floats.
    pub fn apply_into(&self, img: &Rgb8Image, layout: Layout, out: &mut [f32]) {
        let g = self.geometry(img);
        self.normalize_into(&g, layout, out);
    }

    /// The normalised tensor of `img` in `layout`.
    pub fn apply(&self, img: &Rgb8Image, layout: Layout) -> Vec<f32> {
        let mut out = vec![0.0; self.output_len()];
        self.apply_into(img, layout, &mut out);
        out
    }

    /// Normalises an image already at [`Self::output_size`] into `out` (see the type's docs).
    pub fn normalize_into(&self, img: &Rgb8Image, layout: Layout, out: &mut [f32]) {
        let n = img.width() as usize * img.height() as usize;
        assert_eq!(out.len(), 3 * n, "output buffer length");
        assert_eq!(
            (img.width(), img.height()),
            self.output_size(),
            "image is not at the output size"
        );
        // Tensor channel t takes RGB channel src[t].
        let src = match self.channels {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                *slot = ((v as f32 / self.scale) - self.mean[c]) / self.std[c];
            }
        }
        let px = img.as_raw();
        match layout {
            Layout::Nchw => {
                for (t, plane) in out.chunks_exact_mut(n).enumerate() {
                    let c = src[t];
                    for (dst, p) in plane.iter_mut().zip(px.chunks_exact(3)) {
                        *dst = lut[c][p[c] as usize];
                    }
                }
            }
            Layout::Nhwc => {
                for (dst, p) in out.chunks_exact_mut(3).zip(px.chunks_exact(3)) {
                    for t in 0..3 {
                        let c = src[t];
                        dst[t] = lut[c][p[c] as usize];
                    }
                }
            }
        }
    }
}

/// torchvision's `int(round((size - crop) / 2.0))`, Python's round half to even.
fn centre_offset(size: u32, crop: u32) -> u32 {
    let d = size.saturating_sub(crop);
    let half = d / 2;
    if d.is_multiple_of(2) || half.is_multiple_of(2) {
        half
    } else {
        half + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_by_name_and_validate() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
            p.preprocess().validate().unwrap();
            assert_eq!(p.preprocess().output_size(), (224, 224));
        }
        assert!("vgg".parse::<Preset>().is_err());
    }

    #[test]
    fn centre_offset_rounds_half_to_even() {
        assert_eq!(centre_offset(384, 224), 80);
        assert_eq!(centre_offset(385, 224), 80); // 80.5 -> 80
        assert_eq!(centre_offset(387, 224), 82); // 81.5 -> 82
        assert_eq!(centre_offset(224, 224), 0);
    }

    #[test]
    fn caffe_mode_is_bgr_minus_means() {
        let pre = Preset::KerasVgg16.preprocess();
        let img = Rgb8Image::new_filled(224, 224, 0);
        let mut img = img.as_raw().to_vec();
        img[0] = 10; // R of pixel 0
        img[2] = 30; // B of pixel 0
        let img = Rgb8Image::from_raw(224, 224, img).unwrap();
        let t = pre.apply(&img, Layout::Nchw);
        let n = 224 * 224;
        assert_eq!(t[0], 30.0 - 103.939f32);
        assert_eq!(t[n], -116.779f32);
        assert_eq!(t[2 * n], 10.0 - 123.68f32);
        let t = pre.apply(&img, Layout::Nhwc);
        assert_eq!(&t[..3], &[30.0 - 103.939f32, -116.779f32, 10.0 - 123.68f32]);
    }

    #[test]
    fn invalid_crop_is_rejected() {
        let mut p = Preset::Torchvision.preprocess();
        p.crop = Some((300, 224));
        assert!(p.validate().is_err());
        p.crop = Some((224, 224));
        p.std[1] = 0.0;
        assert!(p.validate().is_err());
    }
}
