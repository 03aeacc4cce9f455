//! 8-bit RGB pixels and the limits on decoding; decoding JPEG and PNG files (cargo feature
//! `images`, default) follows what Keras' `load_img` gets from Pillow, see [`decode_image`].

#[cfg(feature = "images")]
pub use crate::decode::{ImageError, decode_image, load_image};

/// An 8-bit RGB image, rows top to bottom, pixels `R, G, B` interleaved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb8Image {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Rgb8Image {
    /// Wraps interleaved RGB bytes; `None` unless `data.len() == width * height * 3`.
    pub fn from_raw(width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        let len = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(3)?;
        (data.len() == len).then_some(Self {
            width,
            height,
            data,
        })
    }

    /// An image whose every byte is `value`.
    pub fn new_filled(width: u32, height: u32, value: u8) -> Self {
        Self {
            width,
            height,
            data: vec![value; width as usize * height as usize * 3],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The interleaved RGB bytes.
    pub fn as_raw(&self) -> &[u8] {
        &self.data
    }

    /// The pixel at column `x`, row `y` (panics when outside the image).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// A `width` x `height` window whose top-left corner is (`left`, `top`); `None` when it does
    /// not fit inside the image.
    pub fn crop(&self, left: u32, top: u32, width: u32, height: u32) -> Option<Self> {
        if left.checked_add(width)? > self.width || top.checked_add(height)? > self.height {
            return None;
        }
        let stride = self.width as usize * 3;
        let mut data = Vec::with_capacity(width as usize * height as usize * 3);
        for y in top as usize..(top + height) as usize {
            let start = y * stride + left as usize * 3;
            data.extend_from_slice(&self.data[start..start + width as usize * 3]);
        }
        Some(Self {
            width,
            height,
            data,
        })
    }
}

/// Limits that keep a hostile or broken file from exhausting memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width x height. The default, 89 478 485, is Pillow's
    /// `MAX_IMAGE_PIXELS` (its decompression-bomb threshold).
    pub max_pixels: u64,
    /// Largest accepted width or height.
    pub max_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 89_478_485,
            max_side: 65_535,
        }
    }
}
