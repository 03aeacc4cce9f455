//! Hand-written convolution kernels for [tract](https://github.com/sonos/tract) CNN plans, and
//! the rewrites that put them in: [`tune`] (or [`tune_with`] and [`TuneOptions`]) rewrites a
//! decluttered [`TypedModel`] before tract optimises it; each rewrite was measured on this
//! project's models (see the README). `catclass_features::TractBackend` runs every ONNX
//! network it loads through [`tune_with`].
//!
//! ```
//! use catclass_tract_kernels::{TuneOptions, tune, tune_with};
//! use tract_onnx::prelude::*;
//! use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
//! use tract_onnx::tract_core::ops::nn::DataFormat;
//!
//! // An RGB image's stem: 3 -> 8 channels, 3x3, stride 2, padding 1.
//! fn stem() -> TractResult<TypedModel> {
//!     let mut model = TypedModel::default();
//!     let x = model.add_source("x", f32::fact([1, 3, 32, 32]))?;
//!     let k = model.add_const("k", Tensor::from_shape(&[8, 3, 3, 3], &[0.01f32; 8 * 27])?)?;
//!     let b = model.add_const("b", Tensor::from_shape(&[8], &[0.5f32; 8])?)?;
//!     let conv = Conv {
//!         pool_spec: PoolSpec {
//!             data_format: DataFormat::NCHW,
//!             kernel_shape: tvec![3, 3],
//!             padding: PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1]),
//!             dilations: None,
//!             strides: Some(tvec![2, 2]),
//!             input_channels: 3,
//!             output_channels: 8,
//!         },
//!         kernel_fmt: KernelFormat::OIHW,
//!         group: 1,
//!         q_params: None,
//!     };
//!     let y = model.wire_node("conv", conv, &[x, k, b])?;
//!     model.select_output_outlets(&y)?;
//!     model.into_decluttered()
//! }
//!
//! // Few input channels: the convolution runs as `DirectConv2d`.
//! let mut model = stem()?;
//! assert_eq!(tune(&mut model)?.direct.convs, 1);
//! let plan = model.into_optimized()?.into_runnable()?;
//! let y = plan.run(tvec![Tensor::from_shape(&[1, 3, 32, 32], &[1f32; 3 * 32 * 32])?.into()])?;
//! assert_eq!(y[0].shape(), [1, 8, 16, 16]);
//!
//! // The same model with that rewrite switched off keeps tract's convolution.
//! let mut model = stem()?;
//! let opts = TuneOptions { direct_convs: false, ..TuneOptions::default() };
//! assert_eq!(tune_with(&mut model, &opts)?.direct.convs, 0);
//! # Ok::<(), TractError>(())
//! ```
//!
//! The ops ([`DirectConv2d`], [`PointwiseConv`], [`WinogradInput`], [`WinogradProduct`],
//! [`WinogradOutput`], [`MaxPool2x2`]) are tract ops (`tract_core`'s `Op`, `EvalOp` and `TypedOp`) that evaluate f32 data; on x86_64
//! they run vector code (`unsafe`, `#[target_feature]`: AVX2 with FMA, and AVX-512 where
//! [`isa`] finds it), elsewhere a portable path with the same arithmetic and the same bits.
//! [`isa`] is the one place that asks the CPU.
//!
//! ## 1x1 convolutions: [`use_pointwise_convs`]
//!
//! tract runs a 1x1 convolution (an `EinSum` once decluttered) as a matrix product whose
//! activations it packs on every run. [`PointwiseConv`] reads them where they lie, 16 points
//! per AVX-512 register, and fuses the bias, the ReLU6 and an inverted-residual block's add
//! into its stores. On EfficientNet-Lite0 (one thread) its 32 1x1 convolutions went from
//! about 5.9 ms (products and packing) to about 3.4-4.0 ms an image; layer by layer
//! (`cargo bench -p catclass-tract-kernels --bench pointwise`) 2.5x tract's plan on the
//! 112x112 expansion, 1.1-1.2x on the 14x14 and 7x7 ones, 0.95x on the head. Without AVX-512
//! the rewrite is not made (tract's AVX2 products beat the portable path).
//!
//! ## Depthwise and few-channel convolutions: [`use_direct_convs`]
//!
//! tract lowers a depthwise `Conv` on NCHW data to its `DepthWise` op, which walks each channel
//! zone by zone (borders apart) and, on x86_64, one output point at a time: on EfficientNet-Lite0
//! that op took 15 of the 37 ms of an image, most of it on the 7x7 and 14x14 maps where the
//! zones are a few points wide; the stem (3 input channels) went through im2col and a matrix
//! product with K = 27. [`DirectConv2d`] instead copies each input channel once into a
//! zero-padded scratch plane (split into `stride` column phases, so that every tap reads
//! contiguous columns) and computes each output row in runs of 8 lanes (16 with AVX-512 on maps
//! wider than 8), 2 to 4 rows at a time, with no borders to special-case, and applies the ReLU6
//! that follows as it stores.
//!
//! Arithmetic: each output is `bias`, then one fused multiply-add per tap in (input channel,
//! row, column) order, then the clamp. The AVX2 path and the portable path do exactly that, so
//! they give the same bits.
//!
//! ## 3x3 convolutions: [`use_winograd`]
//!
//! VGG-like 3x3, stride-1 convolutions with at least 64 input channels run as Winograd (see
//! [`winograd`]'s docs): F(4x4, 3x3), 36 multiplications per 4x4 outputs and input channel
//! instead of 144, and F(2x2, 3x3) (16 instead of 36) on maps of 16x16 points or fewer. On
//! VGG16 that took the network from about 400 ms an image (im2col and matrix products on
//! blocks 1-2, F(2x2, 3x3) on blocks 3-5) to about 260 ms on an AVX2 machine, within 4e-6 of
//! the plain convolutions at `fc2`. Where the CPU has AVX-512 the products run on
//! [`PointwiseConv`]'s kernel ([`WinogradProduct`]); with the transforms vectorised as
//! intended and 2x2 max pools as [`MaxPool2x2`] ([`use_max_pools_2x2`]), VGG16 took
//! 130-170 ms an image on one thread of a Zen 5 core (it was 252). On the large maps
//! (224x224, 112x112) the three steps then run fused, a band of tile rows at a time
//! ([`WinogradConv`]), so that the transformed tiles stay in the core's cache: `block1_conv2`
//! 49.8 -> 11 ms, the network 100-101 ms an image.
//!
//! ## Thick convolutions: [`use_im2col_for_thick_convs`]
//!
//! tract runs a group-1 NCHW convolution of up to 576 inputs per output point (input channels x
//! kernel taps) with its direct spatial kernel, on rows of 128 points or more. On VGG16 that
//! made `block1_conv2` (64 channels x 3x3 = 576) take 313 of the 820 ms of an image, against
//! 72 ms through im2col and a matrix product; `block1_conv1` (3 x 3x3 = 27) is the other way
//! round (6 ms direct, 28 ms im2col). Above 64 inputs per point (tract's own limit where AMX
//! runs the products) those convolutions are lowered through im2col.

#![deny(missing_docs)]

mod cpu;
pub mod pointwise;
pub mod pool;
pub mod winograd;

pub use cpu::{Isa, isa};
pub use pointwise::{
    PointwiseConv, PointwiseConvs, use_pointwise_convs, use_pointwise_convs_on_any_cpu,
};
pub use pool::{MaxPool2x2, use_max_pools_2x2};
pub use winograd::{
    Tiles, Variant, WINOGRAD_BAND_BYTES, WINOGRAD_F2_MAX_PLANE, WINOGRAD_MIN_INPUT_CHANNELS,
    WinogradConv, WinogradInput, WinogradOutput, WinogradProduct, use_winograd, use_winograd_with,
};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Output points in one AVX2 register: the runs of a [`PlaneLayout`] by default.
const LANES: usize = 8;

/// Output points in one AVX-512 register: the runs of a [`PlaneLayout`] for maps wider than
/// [`LANES`] on a CPU with AVX-512.
const WIDE_LANES: usize = 16;

/// Output channels computed together when they read several input planes.
const CHANNEL_TILE: usize = 4;

/// Geometry of a 2-D depthwise convolution on one `[H, W]` plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Input height and width.
    pub input: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Vertical and horizontal strides.
    pub strides: [usize; 2],
    /// Padding before (top, left).
    pub pad_before: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
}

/// A clamp fused into a convolution's output: `min(max(x, lo), hi)` (ReLU6 is `0, 6`; a plain
/// ReLU is `0, inf`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clamp {
    /// Lower bound.
    pub lo: f32,
    /// Upper bound.
    pub hi: f32,
}

impl Eq for Clamp {}

impl std::hash::Hash for Clamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.lo.to_bits(), self.hi.to_bits()).hash(state);
    }
}

/// Direct 2-D convolution of NCHW f32 data, for the convolutions with few inputs per output
/// channel: depthwise ones (one input channel per group) and those on few input channels (an
/// RGB image). Inputs `[N, Cin, H, W]` (or `[Cin, H, W]`), kernel `[Cout, Cin / groups, KH,
/// KW]`, bias `[Cout]` (or one value); output `[N, Cout, OH, OW]` (or `[Cout, OH, OW]`),
/// clamped when [`Self::clamp`] says so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DirectConv2d {
    /// The per-plane geometry.
    pub geometry: Geometry,
    /// `false` when the data has no batch axis (`[C, H, W]`, what tract leaves of a batch of 1).
    pub batch_axis: bool,
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Channel groups (the input channels for a depthwise convolution).
    pub groups: usize,
    /// The activation fused into the output, if any.
    pub clamp: Option<Clamp>,
}

impl Op for DirectConv2d {
    fn name(&self) -> StaticName {
        "CatclassDirectConv2d".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{:?}, channels {:?}, groups {}, clamp {:?}",
            self.geometry, self.channels, self.groups, self.clamp
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for DirectConv2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, kernel, bias) = args_3!(inputs);
        let shape = x.shape();
        let [cin, cout] = self.channels;
        let n = match *shape {
            [n, c, _, _] if self.batch_axis && c == cin => n,
            [c, _, _] if !self.batch_axis && c == cin => 1,
            _ => bail!("direct conv: input of shape {shape:?}, expected {cin} channels"),
        };
        let g = &self.geometry;
        let [h, w] = g.input;
        let [oh, ow] = g.output;
        let (cin_g, cout_g) = (cin / self.groups, cout / self.groups);
        let taps = cin_g * g.kernel[0] * g.kernel[1];
        ensure!(
            shape[shape.len() - 2..] == [h, w] && kernel.len() == cout * taps,
            "direct conv: input {shape:?} or kernel {:?} does not match {g:?}",
            kernel.shape()
        );
        let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let kernel = kernel.try_as_plain_ram()?.as_slice::<f32>()?;
        let bias = bias.try_as_plain_ram()?.as_slice::<f32>()?;
        ensure!(
            bias.len() == cout || bias.len() == 1,
            "direct conv: bias of {} values for {cout} channels",
            bias.len()
        );
        let out_shape: TVec<usize> = if self.batch_axis {
            tvec![n, cout, oh, ow]
        } else {
            tvec![cout, oh, ow]
        };
        // SAFETY: every element is written below (each plane's every output point) before the
        // tensor is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&out_shape)? };
        let mut view = out.try_as_plain_ram_mut()?;
        let out_planes = view.as_slice_mut::<f32>()?.chunks_exact_mut(oh * ow);
        let layout = PlaneLayout::new(*g, cin_g, self.clamp);
        let mut scratch = vec![0f32; layout.len * cin_g];
        let mut out_planes = out_planes.enumerate();
        for group_input in x.chunks_exact(cin_g * h * w) {
            for (plane, input) in group_input.chunks_exact(h * w).enumerate() {
                layout.fill(input, &mut scratch[plane * layout.len..][..layout.len]);
            }
            let bias_of = |oc: usize| if bias.len() == 1 { bias[0] } else { bias[oc] };
            let mut left = cout_g;
            // Several input planes: four output channels at a time share each load.
            while cin_g > 1 && left >= CHANNEL_TILE {
                let mut four = out_planes.by_ref().take(CHANNEL_TILE);
                let planes: [(usize, &mut [f32]); CHANNEL_TILE] =
                    std::array::from_fn(|_| four.next().expect("four output planes left"));
                let oc0 = planes[0].0 % cout;
                let kernels = std::array::from_fn(|i| &kernel[(oc0 + i) * taps..][..taps]);
                let biases = std::array::from_fn(|i| bias_of(oc0 + i));
                layout.convolve_channels(&scratch, kernels, biases, planes.map(|(_, p)| p));
                left -= CHANNEL_TILE;
            }
            for (oc, output) in out_planes.by_ref().take(left) {
                let oc = oc % cout;
                layout.convolve(&scratch, &kernel[oc * taps..][..taps], bias_of(oc), output);
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DirectConv2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.len() == 3,
            "direct conv takes input, kernel and bias"
        );
        let rank = inputs[0].rank();
        let [oh, ow] = self.geometry.output;
        let mut shape: TVec<TDim> = inputs[0].shape.iter().take(rank - 3).cloned().collect();
        shape.extend([self.channels[1].to_dim(), oh.to_dim(), ow.to_dim()]);
        Ok(tvec!(f32::fact(shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let [kh, kw] = self.geometry.kernel;
        let [oh, ow] = self.geometry.output;
        let [cin, cout] = self.channels;
        let rank = inputs[0].rank();
        let batch: TDim = inputs[0].shape.iter().take(rank - 3).product();
        let per_image = cout * (cin / self.groups) * kh * kw * oh * ow;
        Ok(tvec!((Cost::FMA(f32::datum_type()), batch * per_image)))
    }

    as_op!();
}

/// Offsets worked out once per evaluation, so that the loops over planes, rows and taps do no
/// division.
struct PlaneLayout {
    /// The geometry this layout is for.
    g: Geometry,
    /// Width of one scratch row (of one column phase).
    row: usize,
    /// Scratch floats per plane.
    len: usize,
    /// Scratch offset of each input column `x` in the scratch row of input row 0.
    column: Vec<usize>,
    /// Scratch offset of each tap (input plane, kernel row, kernel column) for output point
    /// (0, 0); the planes lie one after the other, `len` floats each.
    taps: Vec<usize>,
    /// Points per vector run: [`LANES`] or [`WIDE_LANES`].
    lanes: usize,
    /// Output width rounded up to whole runs of `lanes`.
    wide: usize,
    /// The clamp applied to each output.
    clamp: Option<Clamp>,
}

impl PlaneLayout {
    /// The layout for this CPU: runs of [`WIDE_LANES`] on AVX-512 for maps wider than
    /// [`LANES`], of [`LANES`] otherwise.
    fn new(g: Geometry, planes: usize, clamp: Option<Clamp>) -> Self {
        let wide = isa() >= Isa::Avx512 && g.output[1] > LANES;
        Self::with_lanes(g, planes, clamp, if wide { WIDE_LANES } else { LANES })
    }

    /// The layout with runs of `lanes` points ([`LANES`] or [`WIDE_LANES`]).
    fn with_lanes(g: Geometry, planes: usize, clamp: Option<Clamp>, lanes: usize) -> Self {
        let [h, w] = g.input;
        let [kh, kw] = g.kernel;
        let [sy, sx] = g.strides;
        let [pt, pl] = g.pad_before;
        let [oh, _] = g.output;
        let wide = g.output[1].div_ceil(lanes) * lanes;
        // Every tap of every output point reads inside its phase: column `ox + kx / sx` with
        // `ox < wide`, row `oy * sy + ky`.
        let row = (wide + (kw - 1) / sx + 1).max((w + pl).div_ceil(sx));
        let rows = (h + pt).max((oh - 1) * sy + kh);
        let phase = rows * row;
        let column = (0..w)
            .map(|x| (x + pl) % sx * phase + pt * row + (x + pl) / sx)
            .collect();
        let len = sx * phase;
        let taps = (0..planes)
            .flat_map(|p| (0..kh).map(move |ky| (p, ky)))
            .flat_map(|(p, ky)| (0..kw).map(move |kx| (p, ky, kx)))
            .map(|(p, ky, kx)| p * len + (kx % sx) * phase + ky * row + kx / sx)
            .collect();
        Self {
            g,
            row,
            len,
            column,
            taps,
            lanes,
            wide,
            clamp,
        }
    }

    /// Copies one input plane into its scratch plane (`len` floats, zeroed once: the cells this
    /// leaves alone are the padding, the same for every plane).
    fn fill(&self, input: &[f32], scratch: &mut [f32]) {
        let [h, w] = self.g.input;
        #[cfg(target_arch = "x86_64")]
        if isa() >= Isa::Avx512 && matches!(self.g.strides[1], 1 | 2 | 4) && w >= self.g.strides[1]
        {
            // Every write of row `y` is at `y * row + column[x]` for a column `x < w`, and
            // each phase's columns are contiguous from its first.
            let last = (h - 1) * self.row + self.column.iter().max().copied().unwrap_or(0);
            assert!(input.len() == h * w && last < scratch.len());
            // SAFETY: the CPU has AVX-512F; the writes stay at or below `last` (checked).
            unsafe { fill_avx512::fill(self, input, scratch) };
            return;
        }
        let rows = input.chunks_exact(w).enumerate();
        match self.g.strides[1] {
            1 => {
                for (y, src) in rows {
                    scratch[y * self.row + self.column[0]..][..w].copy_from_slice(src);
                }
            }
            2 if w >= 2 => self.fill_phases::<2>(input, scratch),
            4 if w >= 4 => self.fill_phases::<4>(input, scratch),
            _ => {
                for (y, src) in rows {
                    for (&v, &col) in src.iter().zip(&self.column) {
                        scratch[y * self.row + col] = v;
                    }
                }
            }
        }
    }

    /// [`Self::fill`] for `S` column phases (`S <= w`): column `x` of each whole group of `S`
    /// goes to phase `x % S`, each phase contiguous; the last, partial group one by one.
    fn fill_phases<const S: usize>(&self, input: &[f32], scratch: &mut [f32]) {
        let [_, w] = self.g.input;
        let starts: [usize; S] = std::array::from_fn(|k| self.column[k]);
        let groups = w / S;
        for (y, src) in input.chunks_exact(w).enumerate() {
            let at = y * self.row;
            for (i, group) in src.chunks_exact(S).enumerate() {
                for k in 0..S {
                    scratch[at + starts[k] + i] = group[k];
                }
            }
            for x in groups * S..w {
                scratch[at + self.column[x]] = src[x];
            }
        }
    }

    /// Computes one output plane from the scratch planes (one per input channel it reads).
    fn convolve(&self, scratch: &[f32], kernel: &[f32], bias: f32, out: &mut [f32]) {
        self.convolve_on(isa(), scratch, kernel, bias, out);
    }

    /// [`Self::convolve`] with the vector code of `isa` (at most this CPU's; AVX-512 only for a
    /// layout of [`WIDE_LANES`]).
    fn convolve_on(&self, isa: Isa, scratch: &[f32], kernel: &[f32], bias: f32, out: &mut [f32]) {
        let planes = self.taps.len() / (self.g.kernel[0] * self.g.kernel[1]);
        assert!(scratch.len() >= planes * self.len && kernel.len() == self.taps.len());
        assert_eq!(out.len(), self.g.output[0] * self.g.output[1]);
        assert!(isa <= crate::isa());
        // SAFETY (both): the CPU has the instruction set; every read is inside the scratch
        // plane (see `PlaneLayout::with_lanes`), whose length was just checked.
        #[cfg(target_arch = "x86_64")]
        if isa >= Isa::Avx512 && self.lanes == WIDE_LANES {
            unsafe { avx512::convolve(self, scratch, kernel, bias, out) };
            return;
        } else if isa >= Isa::Avx2Fma {
            unsafe { avx2::convolve(self, scratch, kernel, bias, out) };
            return;
        }
        self.convolve_portable(scratch, kernel, bias, out);
    }

    /// [`Self::convolve`] for [`CHANNEL_TILE`] output channels reading the same planes, with
    /// the same bits as one call each.
    fn convolve_channels(
        &self,
        scratch: &[f32],
        kernels: [&[f32]; CHANNEL_TILE],
        biases: [f32; CHANNEL_TILE],
        outs: [&mut [f32]; CHANNEL_TILE],
    ) {
        self.convolve_channels_on(isa(), scratch, kernels, biases, outs);
    }

    /// [`Self::convolve_channels`] with the vector code of `isa`, as [`Self::convolve_on`].
    fn convolve_channels_on(
        &self,
        isa: Isa,
        scratch: &[f32],
        kernels: [&[f32]; CHANNEL_TILE],
        biases: [f32; CHANNEL_TILE],
        outs: [&mut [f32]; CHANNEL_TILE],
    ) {
        let planes = self.taps.len() / (self.g.kernel[0] * self.g.kernel[1]);
        assert!(scratch.len() >= planes * self.len);
        assert!(kernels.iter().all(|k| k.len() == self.taps.len()));
        assert!(
            outs.iter()
                .all(|o| o.len() == self.g.output[0] * self.g.output[1])
        );
        assert!(isa <= crate::isa());
        // SAFETY (both): as in `convolve_on`; the lengths were just checked.
        #[cfg(target_arch = "x86_64")]
        if isa >= Isa::Avx512 && self.lanes == WIDE_LANES {
            unsafe { avx512::convolve_channels(self, scratch, kernels, biases, outs) };
            return;
        } else if isa >= Isa::Avx2Fma {
            unsafe { avx2::convolve_channels(self, scratch, kernels, biases, outs) };
            return;
        }
        for ((k, b), o) in kernels.into_iter().zip(biases).zip(outs) {
            self.convolve_portable(scratch, k, b, o);
        }
    }

    /// The reference arithmetic: `bias`, then one fused multiply-add per tap in (plane, row,
    /// column) order, then the clamp.
    fn convolve_portable(&self, scratch: &[f32], kernel: &[f32], bias: f32, out: &mut [f32]) {
        let [sy, _] = self.g.strides;
        let [_, ow] = self.g.output;
        for (oy, out_row) in out.chunks_exact_mut(ow).enumerate() {
            let base = oy * sy * self.row;
            for (ox, o) in out_row.iter_mut().enumerate() {
                let mut acc = bias;
                for (&tap, &k) in self.taps.iter().zip(kernel) {
                    acc = scratch[base + ox + tap].mul_add(k, acc);
                }
                *o = match self.clamp {
                    Some(c) => acc.max(c.lo).min(c.hi),
                    None => acc,
                };
            }
        }
    }
}

/// [`PlaneLayout::fill`] on AVX-512: rows copied 16 floats at a time (a masked register for
/// the rest, no call per row), and for stride 2 the even and odd columns split 32 at a time.
#[cfg(target_arch = "x86_64")]
mod fill_avx512 {
    use super::PlaneLayout;
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F must be available; the input must hold the plane, the stride be 1, 2 or 4 (and
    /// no more than the width), and every write of the layout fit in `scratch`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fill(layout: &PlaneLayout, input: &[f32], scratch: &mut [f32]) {
        let [_, w] = layout.g.input;
        let dst = scratch.as_mut_ptr();
        for (y, src) in input.chunks_exact(w).enumerate() {
            let at = y * layout.row;
            let src = src.as_ptr();
            // SAFETY (all below): reads inside the row of `w` floats (masked past it); writes
            // at `at + column[x]` for `x < w`, which the caller checked.
            unsafe {
                if layout.g.strides[1] == 1 {
                    copy(src, dst.add(at + layout.column[0]), w);
                    continue;
                }
                if layout.g.strides[1] == 4 {
                    let phases = std::array::from_fn(|k| dst.add(at + layout.column[k]));
                    split4(src, phases, w);
                    for x in w / 64 * 64..w {
                        *dst.add(at + layout.column[x]) = *src.add(x);
                    }
                    continue;
                }
                let (even, odd) = (
                    dst.add(at + layout.column[0]),
                    dst.add(at + layout.column[1]),
                );
                let pick_even =
                    _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
                let pick_odd =
                    _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
                let mut i = 0;
                while 2 * i + 32 <= w {
                    let a = _mm512_loadu_ps(src.add(2 * i));
                    let b = _mm512_loadu_ps(src.add(2 * i + 16));
                    _mm512_storeu_ps(even.add(i), _mm512_permutex2var_ps(a, pick_even, b));
                    _mm512_storeu_ps(odd.add(i), _mm512_permutex2var_ps(a, pick_odd, b));
                    i += 16;
                }
                for x in 2 * i..w {
                    *dst.add(at + layout.column[x]) = *src.add(x);
                }
            }
        }
    }

    /// Columns `x = 64 g + 4 i + k` of the whole groups of 64 of a row of `w` to `phases[k] +
    /// 16 g + i`: two rounds of permutes, 64 floats at a time.
    ///
    /// # Safety
    /// `w` floats readable at `src`; `w / 4` writable at each phase.
    #[target_feature(enable = "avx512f")]
    unsafe fn split4(src: *const f32, phases: [*mut f32; 4], w: usize) {
        // From 32 columns: phases 0 and 1 (8 each), phases 2 and 3.
        let p01 = _mm512_set_epi32(29, 25, 21, 17, 13, 9, 5, 1, 28, 24, 20, 16, 12, 8, 4, 0);
        let p23 = _mm512_set_epi32(31, 27, 23, 19, 15, 11, 7, 3, 30, 26, 22, 18, 14, 10, 6, 2);
        // Then the first (or second) 8 lanes of each of two such halves.
        let lo = _mm512_set_epi32(23, 22, 21, 20, 19, 18, 17, 16, 7, 6, 5, 4, 3, 2, 1, 0);
        let hi = _mm512_set_epi32(31, 30, 29, 28, 27, 26, 25, 24, 15, 14, 13, 12, 11, 10, 9, 8);
        let mut i = 0;
        // SAFETY: the caller's: reads below `w`, writes below `w / 4` at each phase.
        unsafe {
            while 4 * i + 64 <= w {
                let x = src.add(4 * i);
                let (a, b) = (_mm512_loadu_ps(x), _mm512_loadu_ps(x.add(16)));
                let (c, d) = (_mm512_loadu_ps(x.add(32)), _mm512_loadu_ps(x.add(48)));
                let (ab01, ab23) = (
                    _mm512_permutex2var_ps(a, p01, b),
                    _mm512_permutex2var_ps(a, p23, b),
                );
                let (cd01, cd23) = (
                    _mm512_permutex2var_ps(c, p01, d),
                    _mm512_permutex2var_ps(c, p23, d),
                );
                _mm512_storeu_ps(phases[0].add(i), _mm512_permutex2var_ps(ab01, lo, cd01));
                _mm512_storeu_ps(phases[1].add(i), _mm512_permutex2var_ps(ab01, hi, cd01));
                _mm512_storeu_ps(phases[2].add(i), _mm512_permutex2var_ps(ab23, lo, cd23));
                _mm512_storeu_ps(phases[3].add(i), _mm512_permutex2var_ps(ab23, hi, cd23));
                i += 16;
            }
        }
    }

    /// Copies `n` floats from `src` to `dst`, 16 at a time.
    #[target_feature(enable = "avx512f")]
    unsafe fn copy(src: *const f32, dst: *mut f32, n: usize) {
        let mut x = 0;
        // SAFETY: the caller's: `n` floats readable at `src`, writable at `dst`.
        unsafe {
            while x + 16 <= n {
                _mm512_storeu_ps(dst.add(x), _mm512_loadu_ps(src.add(x)));
                x += 16;
            }
            if x < n {
                let m = ((1u32 << (n - x)) - 1) as __mmask16;
                _mm512_mask_storeu_ps(dst.add(x), m, _mm512_maskz_loadu_ps(m, src.add(x)));
            }
        }
    }
}

/// The vector tiles of [`PlaneLayout::convolve`] and [`PlaneLayout::convolve_channels`], written
/// once and instantiated per instruction set (`avx2`: 8 lanes, `avx512`: 16), each a module whose
/// functions run with that set's target features. Output runs are `LANES` points wide; the layout
/// must have been made for that many lanes ([`PlaneLayout::lanes`]).
macro_rules! direct_tiles {
    ($name:ident, $features:literal, $lanes:literal, $vec:ty, $zero:ident, $set1:ident, $load:ident,
     $fma:ident, $min:ident, $max:ident, $store:ident) => {
        #[cfg(target_arch = "x86_64")]
        mod $name {
            use super::{CHANNEL_TILE, PlaneLayout};
            use std::arch::x86_64::*;

            /// Output points in one register.
            const LANES: usize = $lanes;

            /// [`PlaneLayout::convolve_portable`] on tiles of 6 to 8 registers (2 rows of 24 or 32
            /// output points, 4 rows of 16, 8 rows of 8; fewer rows at the bottom of the plane), so
            /// that the fused multiply-adds of a tap form enough independent chains.
            ///
            /// # Safety
            /// The module's instruction set must be available; `scratch` must hold `layout.len` floats, `kernel` one
            /// per tap and `out` the output plane.
            #[target_feature(enable = $features)]
            pub(super) unsafe fn convolve(
                layout: &PlaneLayout,
                scratch: &[f32],
                kernel: &[f32],
                bias: f32,
                out: &mut [f32],
            ) {
                let [oh, _] = layout.g.output;
                let mut ox = 0;
                while ox < layout.wide {
                    let runs = ((layout.wide - ox) / LANES).min(4);
                    let mut oy = 0;
                    while oy < oh {
                        let rows = (oh - oy).min(8 / runs);
                        let args = (layout, scratch, kernel, bias, &mut *out, oy, ox);
                        // SAFETY (every arm): the caller's contract.
                        unsafe {
                            match (runs, rows) {
                                (4, 2) => tile::<2, 4>(args),
                                (4, _) => tile::<1, 4>(args),
                                (3, 2) => tile::<2, 3>(args),
                                (3, _) => tile::<1, 3>(args),
                                (2, 4) => tile::<4, 2>(args),
                                (2, 3) => tile::<3, 2>(args),
                                (2, 2) => tile::<2, 2>(args),
                                (2, _) => tile::<1, 2>(args),
                                (_, 8) => tile::<8, 1>(args),
                                (_, 7) => tile::<7, 1>(args),
                                (_, 6) => tile::<6, 1>(args),
                                (_, 5) => tile::<5, 1>(args),
                                (_, 4) => tile::<4, 1>(args),
                                (_, 3) => tile::<3, 1>(args),
                                (_, 2) => tile::<2, 1>(args),
                                _ => tile::<1, 1>(args),
                            }
                        }
                        oy += rows;
                    }
                    ox += runs * LANES;
                }
            }

            /// [`super::PlaneLayout::convolve_channels`]: one row of 8 or 16 output points of each of
            /// the [`CHANNEL_TILE`] channels at a time, each loaded input vector used by all four.
            ///
            /// # Safety
            /// As [`convolve`], for each kernel and output plane.
            #[target_feature(enable = $features)]
            pub(super) unsafe fn convolve_channels(
                layout: &PlaneLayout,
                scratch: &[f32],
                kernels: [&[f32]; CHANNEL_TILE],
                biases: [f32; CHANNEL_TILE],
                mut outs: [&mut [f32]; CHANNEL_TILE],
            ) {
                let [oh, ow] = layout.g.output;
                let row_step = layout.g.strides[0] * layout.row;
                for oy in 0..oh {
                    let mut ox = 0;
                    while ox < layout.wide {
                        let runs = ((layout.wide - ox) / LANES).min(2);
                        // SAFETY: the caller's contract.
                        let base = unsafe { scratch.as_ptr().add(oy * row_step + ox) };
                        let rows = outs.each_mut().map(|o| &mut o[oy * ow..][..ow]);
                        unsafe {
                            if runs == 2 {
                                channel_tile::<2>(layout, base, &kernels, &biases, rows, ox);
                            } else {
                                channel_tile::<1>(layout, base, &kernels, &biases, rows, ox);
                            }
                        }
                        ox += runs * LANES;
                    }
                }
            }

            /// Points `ox..ox + 8 * RUNS` of one output row of each channel, reading from `base` (the
            /// scratch at that row and column).
            #[target_feature(enable = $features)]
            unsafe fn channel_tile<const RUNS: usize>(
                layout: &PlaneLayout,
                base: *const f32,
                kernels: &[&[f32]; CHANNEL_TILE],
                biases: &[f32; CHANNEL_TILE],
                rows: [&mut [f32]; CHANNEL_TILE],
                ox: usize,
            ) {
                let mut acc = [[$zero(); RUNS]; CHANNEL_TILE];
                let mut c = 0;
                while c < CHANNEL_TILE {
                    let b = $set1(biases[c]);
                    let mut r = 0;
                    while r < RUNS {
                        acc[c][r] = b;
                        r += 1;
                    }
                    c += 1;
                }
                for (t, &tap) in layout.taps.iter().enumerate() {
                    let mut v = [$zero(); RUNS];
                    let mut r = 0;
                    while r < RUNS {
                        // SAFETY: `PlaneLayout::new` sizes the scratch so that every run reads inside it.
                        v[r] = unsafe { $load(base.add(tap + r * LANES)) };
                        r += 1;
                    }
                    let mut c = 0;
                    while c < CHANNEL_TILE {
                        // SAFETY: every kernel holds one value per tap (checked by the caller).
                        let k = $set1(unsafe { *kernels[c].get_unchecked(t) });
                        let mut r = 0;
                        while r < RUNS {
                            acc[c][r] = $fma(v[r], k, acc[c][r]);
                            r += 1;
                        }
                        c += 1;
                    }
                }
                for (acc, row) in acc.into_iter().zip(rows) {
                    store_run::<RUNS>(layout, acc, row, ox);
                }
            }

            /// Clamps (when the layout says so) and stores `RUNS` registers at `ox` of `row`, the
            /// points past its end left out.
            #[target_feature(enable = $features)]
            fn store_run<const RUNS: usize>(
                layout: &PlaneLayout,
                mut acc: [$vec; RUNS],
                row: &mut [f32],
                ox: usize,
            ) {
                if let Some(c) = layout.clamp {
                    // `max(acc, lo)` returns `lo` for a NaN `acc`, as `f32::max` does.
                    let (lo, hi) = ($set1(c.lo), $set1(c.hi));
                    for a in &mut acc {
                        *a = $min($max(*a, lo), hi);
                    }
                }
                let ow = row.len();
                let mut r = 0;
                while r < RUNS {
                    let start = ox + r * LANES;
                    if start + LANES <= ow {
                        // SAFETY: `start + 8 <= row.len()`.
                        unsafe { $store(row.as_mut_ptr().add(start), acc[r]) };
                    } else if start < ow {
                        let mut tmp = [0f32; LANES];
                        // SAFETY: `tmp` holds 8 floats.
                        unsafe { $store(tmp.as_mut_ptr(), acc[r]) };
                        row[start..].copy_from_slice(&tmp[..ow - start]);
                    }
                    r += 1;
                }
            }

            /// What a tile reads and where it writes: layout, scratch planes, kernel, bias, output
            /// plane, first output row, first output column.
            type TileArgs<'a> = (
                &'a PlaneLayout,
                &'a [f32],
                &'a [f32],
                f32,
                &'a mut [f32],
                usize,
                usize,
            );

            /// Output rows `oy..oy + ROWS`, points `ox..ox + 8 * RUNS` of each (those inside the
            /// width are stored).
            #[target_feature(enable = $features)]
            unsafe fn tile<const ROWS: usize, const RUNS: usize>(args: TileArgs<'_>) {
                let (layout, scratch, kernel, bias, out, oy, ox) = args;
                let row_step = layout.g.strides[0] * layout.row;
                let base = unsafe { scratch.as_ptr().add(oy * row_step + ox) };
                let mut acc = [[$set1(bias); RUNS]; ROWS];
                let taps = layout.taps.len().min(kernel.len());
                // Constant trip counts inside the tap loop, so that the accumulators stay in registers.
                for t in 0..taps {
                    // SAFETY: `t` is below both lengths.
                    let (tap, k) =
                        unsafe { (*layout.taps.get_unchecked(t), *kernel.get_unchecked(t)) };
                    let k = $set1(k);
                    // SAFETY: `PlaneLayout::new` sizes the scratch so that every tile reads inside it.
                    let src = unsafe { base.add(tap) };
                    let mut y = 0;
                    while y < ROWS {
                        let mut r = 0;
                        while r < RUNS {
                            let v = unsafe { $load(src.add(y * row_step + r * LANES)) };
                            acc[y][r] = $fma(v, k, acc[y][r]);
                            r += 1;
                        }
                        y += 1;
                    }
                }
                let ow = layout.g.output[1];
                let mut y = 0;
                while y < ROWS {
                    store_run::<RUNS>(layout, acc[y], &mut out[(oy + y) * ow..][..ow], ox);
                    y += 1;
                }
            }
        }
    };
}

direct_tiles!(
    avx2,
    "avx2,fma",
    8,
    __m256,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_min_ps,
    _mm256_max_ps,
    _mm256_storeu_ps
);
direct_tiles!(
    avx512,
    "avx512f",
    16,
    __m512,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_min_ps,
    _mm512_max_ps,
    _mm512_storeu_ps
);

/// What [`tune`] or [`tune_with`] changed: how many convolutions each rewrite took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    /// Convolutions now run by [`DirectConv2d`].
    pub direct: DirectConvs,
    /// 1x1 convolutions now run by [`PointwiseConv`].
    pub pointwise: PointwiseConvs,
    /// 3x3 convolutions now run as Winograd.
    pub winograd: usize,
    /// Convolutions lowered through im2col rather than tract's direct spatial kernel.
    pub im2col: usize,
    /// 2x2, stride-2 max pools now run by [`MaxPool2x2`].
    pub max_pools: usize,
}

/// Which rewrites [`tune_with`] applies. The [`Default`] is what [`tune`] does: every
/// rewrite, the Winograd variant chosen by the size of the map ([`WinogradChoice::ByPlane`]).
///
/// ```
/// use catclass_tract_kernels::{TuneOptions, Variant, WinogradChoice};
///
/// let all = TuneOptions::default();
/// assert!(all.direct_convs && all.im2col_for_thick_convs);
/// assert_eq!(all.winograd, WinogradChoice::ByPlane);
/// // No Winograd; tract's direct spatial kernel kept for thick convolutions.
/// let fewer = TuneOptions {
///     winograd: WinogradChoice::Off,
///     im2col_for_thick_convs: false,
///     ..TuneOptions::default()
/// };
/// assert_eq!(fewer.winograd.variant_for([14, 14]), None);
/// assert_eq!(all.winograd.variant_for([14, 14]), Some(Variant::F2));
/// assert_eq!(all.winograd.variant_for([28, 28]), Some(Variant::F4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TuneOptions {
    /// Depthwise and few-channel convolutions run as [`DirectConv2d`] ([`use_direct_convs`]).
    pub direct_convs: bool,
    /// 1x1 convolutions run as [`PointwiseConv`] where the CPU runs AVX-512
    /// ([`use_pointwise_convs`]).
    pub pointwise_convs: bool,
    /// Whether, and with which variant, 3x3 convolutions run as Winograd ([`use_winograd_with`]).
    pub winograd: WinogradChoice,
    /// Thick convolutions that tract would run with its direct spatial kernel are lowered
    /// through im2col instead ([`use_im2col_for_thick_convs`]; the only place where tract's
    /// scoped knob `TRACT_DISABLE_DIRECT_SPATIAL` is set, and only while this rewrite runs).
    pub im2col_for_thick_convs: bool,
    /// 2x2, stride-2 max pools run as [`MaxPool2x2`] ([`use_max_pools_2x2`]).
    pub max_pools: bool,
}

impl Default for TuneOptions {
    fn default() -> Self {
        Self {
            direct_convs: true,
            pointwise_convs: true,
            winograd: WinogradChoice::ByPlane,
            im2col_for_thick_convs: true,
            max_pools: true,
        }
    }
}

/// Which Winograd variant [`tune_with`] gives the convolutions [`use_winograd`] takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum WinogradChoice {
    /// No Winograd: tract runs every 3x3 convolution itself.
    Off,
    /// [`Variant::for_plane`]: F(2x2, 3x3) on maps of up to [`WINOGRAD_F2_MAX_PLANE`] points,
    /// F(4x4, 3x3) above (what [`use_winograd`] does).
    #[default]
    ByPlane,
    /// This variant on every map.
    Always(Variant),
}

impl WinogradChoice {
    /// The variant for a map of `[height, width]` points (`None`: no Winograd).
    pub fn variant_for(self, [height, width]: [usize; 2]) -> Option<Variant> {
        match self {
            WinogradChoice::Off => None,
            WinogradChoice::ByPlane => Some(Variant::for_plane(height * width)),
            WinogradChoice::Always(v) => Some(v),
        }
    }
}

/// Applies every rewrite of this crate to a decluttered model, before `into_optimized`:
/// [`tune_with`] and the default [`TuneOptions`].
pub fn tune(model: &mut TypedModel) -> TractResult<Tuning> {
    tune_with(model, &TuneOptions::default())
}

/// Applies the rewrites that `options` selects to a decluttered model, before
/// `into_optimized`, in this order: [`use_direct_convs`], [`use_pointwise_convs`],
/// [`use_winograd_with`], [`use_im2col_for_thick_convs`], [`use_max_pools_2x2`]. The counts of
/// a rewrite left out are 0.
pub fn tune_with(model: &mut TypedModel, options: &TuneOptions) -> TractResult<Tuning> {
    let direct = if options.direct_convs {
        use_direct_convs(model)?
    } else {
        DirectConvs::default()
    };
    let pointwise = if options.pointwise_convs {
        use_pointwise_convs(model)?
    } else {
        PointwiseConvs::default()
    };
    let winograd = match options.winograd {
        WinogradChoice::Off => 0,
        choice => use_winograd_with(model, |plane| choice.variant_for(plane))?,
    };
    let im2col = if options.im2col_for_thick_convs {
        use_im2col_for_thick_convs(model)?
    } else {
        0
    };
    let max_pools = if options.max_pools {
        use_max_pools_2x2(model)?
    } else {
        0
    };
    Ok(Tuning {
        direct,
        pointwise,
        winograd,
        im2col,
        max_pools,
    })
}

/// Most inputs per output point (input channels x kernel taps) for which a convolution keeps
/// tract's direct spatial kernel.
pub const DIRECT_SPATIAL_MAX_INPUTS: usize = 64;

/// Lowers now, through im2col and a matrix product, each convolution of `model` that tract
/// would run with its direct spatial kernel although it has more than
/// [`DIRECT_SPATIAL_MAX_INPUTS`] inputs per output point. Run it on a decluttered model, before
/// `into_optimized`. Returns how many convolutions were lowered.
pub fn use_im2col_for_thick_convs(model: &mut TypedModel) -> TractResult<usize> {
    let no_direct =
        tract_onnx::tract_core::knobs::KnobScope::new([("TRACT_DISABLE_DIRECT_SPATIAL", "true")])?;
    let mut lowered = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else {
            continue;
        };
        let taps: usize = conv.pool_spec.kernel_shape.iter().product();
        if conv.group != 1 || conv.input_channels() * taps <= DIRECT_SPATIAL_MAX_INPUTS {
            continue;
        }
        // What tract would do with it: only a direct spatial lowering is replaced.
        let Some(patch) = conv.codegen(model, node)? else {
            continue;
        };
        if !patch
            .model
            .nodes()
            .iter()
            .any(|n| n.op().name() == "DirectSpatialConv")
        {
            continue;
        }
        let Some(patch) = no_direct.enter(|| conv.codegen(model, node))? else {
            continue;
        };
        patch.apply(model)?;
        lowered += 1;
    }
    Ok(lowered)
}

/// Most input channels of a group-1 convolution that [`use_direct_convs`] takes over (an
/// image's 3, or 4 with alpha).
pub const DIRECT_MAX_INPUT_CHANNELS: usize = 4;

/// What [`use_direct_convs`] replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectConvs {
    /// Convolutions now run by [`DirectConv2d`].
    pub convs: usize,
    /// Of those, how many absorbed the clamp (ReLU, ReLU6) that followed them.
    pub clamps: usize,
}

/// Replaces by [`DirectConv2d`] each convolution of `model` (f32, NCHW, OIHW kernel, 2-D, no
/// dilation, fixed shape) that is depthwise or reads at most [`DIRECT_MAX_INPUT_CHANNELS`]
/// channels, with the `Max`/`Min` by constants that follow it (ReLU6) fused in. Run it on a
/// decluttered model, before `into_optimized`.
pub fn use_direct_convs(model: &mut TypedModel) -> TractResult<DirectConvs> {
    let mut done = DirectConvs::default();
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else {
            continue;
        };
        let Some(mut op) = direct_conv(model, node, conv)? else {
            continue;
        };
        let (clamp, last) = clamp_after(model, OutletId::new(id, 0))?;
        op.clamp = clamp;
        let mut patch = TypedModelPatch::default();
        let inputs = patch.taps(model, &node.inputs)?;
        let wire = patch.wire_node(&node.name, op, &inputs)?;
        patch.shunt_outside(model, last, wire[0])?;
        patch.apply(model)?;
        done.convs += 1;
        done.clamps += usize::from(clamp.is_some());
    }
    Ok(done)
}

/// The clamp made by a `Max` then a `Min` (or only one of them) by scalar constants that take
/// `outlet` and nothing else does, and the outlet it ends at (`outlet` when there is none).
fn clamp_after(model: &TypedModel, outlet: OutletId) -> TractResult<(Option<Clamp>, OutletId)> {
    let mut clamp = Clamp {
        lo: f32::NEG_INFINITY,
        hi: f32::INFINITY,
    };
    let (mut at, mut found) = (outlet, false);
    while let Some((op, value, after)) = scalar_op_after(model, at)? {
        match op {
            "Max" if !found => clamp.lo = value,
            "Min" => clamp.hi = value,
            _ => break,
        }
        (at, found) = (after, true);
        if op == "Min" {
            break;
        }
    }
    Ok((found.then_some(clamp), at))
}

/// The binary operator (`Max`, `Min`, ...) by an f32 scalar constant that is the only reader of
/// `outlet` (not a model output), the constant, and its output, which has `outlet`'s shape.
fn scalar_op_after(
    model: &TypedModel,
    outlet: OutletId,
) -> TractResult<Option<(&'static str, f32, OutletId)>> {
    use tract_onnx::tract_core::ops::binary::TypedBinOp;
    let successors = &model.node(outlet.node).outputs[outlet.slot].successors;
    if successors.len() != 1 || model.output_outlets()?.contains(&outlet) {
        return Ok(None);
    }
    let next = model.node(successors[0].node);
    let Some(bin) = next.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    let after = OutletId::new(next.id, 0);
    if bin.1.is_some()
        || next.inputs.len() != 2
        || model.outlet_fact(after)?.shape != model.outlet_fact(outlet)?.shape
    {
        return Ok(None);
    }
    let other = next.inputs[1 - successors[0].slot.min(1)];
    match &model.outlet_fact(other)?.konst {
        Some(k) if k.len() == 1 && k.datum_type() == f32::datum_type() => {
            Ok(Some((bin.0.name(), k.cast_to_scalar::<f32>()?, after)))
        }
        _ => Ok(None),
    }
}

/// The [`DirectConv2d`] (without clamp) for `conv`, if it is one this module takes.
fn direct_conv(
    model: &TypedModel,
    node: &TypedNode,
    conv: &Conv,
) -> TractResult<Option<DirectConv2d>> {
    let spec = &conv.pool_spec;
    if conv.q_params.is_some()
        || node.inputs.len() != 3
        || !matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        || conv.kernel_fmt != KernelFormat::OIHW
        || spec.rank() != 2
        || spec.dilations().iter().any(|&d| d != 1)
    {
        return Ok(None);
    }
    let facts: Vec<&TypedFact> = node
        .inputs
        .iter()
        .map(|i| model.outlet_fact(*i))
        .collect::<TractResult<_>>()?;
    if facts.iter().any(|f| f.datum_type != f32::datum_type()) {
        return Ok(None);
    }
    let Some(x) = facts[0].shape.as_concrete() else {
        return Ok(None);
    };
    let Some(k) = facts[1].shape.as_concrete() else {
        return Ok(None);
    };
    // CHW is NCHW with the batch axis decluttered away (batch 1).
    let x: TVec<usize> = match spec.data_format {
        DataFormat::CHW => std::iter::once(1).chain(x.iter().copied()).collect(),
        _ => x.into(),
    };
    let (cin, cout, groups) = (conv.input_channels(), conv.output_channels(), conv.group);
    let depthwise = groups == cin && cout == cin;
    let thin = groups == 1 && cin <= DIRECT_MAX_INPUT_CHANNELS;
    if x.len() != 4
        || x[1] != cin
        || !(depthwise || thin)
        || k != [
            cout,
            cin / groups,
            spec.kernel_shape[0],
            spec.kernel_shape[1],
        ]
    {
        return Ok(None);
    }
    let bias = facts[2].shape.volume();
    if bias != 1.to_dim() && bias != cout.to_dim() {
        return Ok(None);
    }
    let padding = spec.computed_padding(&x[2..]);
    let strides = spec.strides();
    let geometry = Geometry {
        input: [x[2], x[3]],
        kernel: [spec.kernel_shape[0], spec.kernel_shape[1]],
        strides: [strides[0], strides[1]],
        pad_before: [padding[0].pad_before, padding[1].pad_before],
        output: [padding[0].convoluted, padding[1].convoluted],
    };
    if geometry.output.contains(&0) || geometry.strides.contains(&0) {
        return Ok(None);
    }
    Ok(Some(DirectConv2d {
        geometry,
        batch_axis: spec.data_format == DataFormat::NCHW,
        channels: [cin, cout],
        groups,
        clamp: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    pub(super) fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Optimises `model` and runs it on `x` (its one input's values): its one output's values.
    pub(super) fn run_on(model: TypedModel, x: &[f32]) -> Vec<f32> {
        run_optimized(model.into_optimized().unwrap(), x)
    }

    /// The input shape of `model`.
    fn input_shape(model: &TypedModel) -> Vec<usize> {
        let fact = model.input_fact(0).unwrap();
        fact.shape.as_concrete().unwrap().to_vec()
    }

    /// Runs an optimised `plan` on `x` (shaped as its input): its output's values.
    fn run_optimized(plan: TypedModel, x: &[f32]) -> Vec<f32> {
        let x = Tensor::from_shape(&input_shape(&plan), x).unwrap();
        let y = plan.into_runnable().unwrap().run(tvec![x.into()]).unwrap();
        y[0].try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec()
    }

    /// Direct convolution in f64 that skips the padding taps.
    fn reference(g: &Geometry, x: &[f32], k: &[f32], b: f32) -> Vec<f64> {
        let ([h, w], [kh, kw], [sy, sx], [pt, pl], [oh, ow]) =
            (g.input, g.kernel, g.strides, g.pad_before, g.output);
        let mut out = vec![0f64; oh * ow];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = b as f64;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let (y, x_) = (
                            (oy * sy + ky) as isize - pt as isize,
                            (ox * sx + kx) as isize - pl as isize,
                        );
                        if (0..h as isize).contains(&y) && (0..w as isize).contains(&x_) {
                            acc += k[ky * kw + kx] as f64 * x[y as usize * w + x_ as usize] as f64;
                        }
                    }
                }
                out[oy * ow + ox] = acc;
            }
        }
        out
    }

    fn geometries() -> Vec<Geometry> {
        let mut v = Vec::new();
        for &(h, w) in &[(1, 1), (3, 5), (7, 7), (14, 13), (20, 33), (56, 56)] {
            for &(kh, kw) in &[(1, 1), (2, 2), (3, 3), (5, 5), (3, 5)] {
                for &(sy, sx) in &[(1, 1), (2, 2), (1, 2), (3, 3)] {
                    for &(pad, extra) in &[(0, 0), (1, 0), (2, 1)] {
                        let (ph, pw) = ((pad.min(kh - 1)), (pad.min(kw - 1)));
                        let (hh, ww) = (h + 2 * ph + extra, w + 2 * pw + extra);
                        if hh < kh || ww < kw {
                            continue;
                        }
                        v.push(Geometry {
                            input: [h, w],
                            kernel: [kh, kw],
                            strides: [sy, sx],
                            pad_before: [ph, pw],
                            output: [(hh - kh) / sy + 1, (ww - kw) / sx + 1],
                        });
                    }
                }
            }
        }
        v
    }

    /// A model of one group-1 3x3 convolution of `channels` channels on a `[1, C, 16, width]`
    /// input, padding 1.
    fn one_conv(channels: usize, width: usize) -> TypedModel {
        conv_model(1, channels, [16, width], false)
    }

    /// `batch` images of `channels` x `height` x `width`, one 3x3 padding-1 convolution, then
    /// a ReLU when `relu`.
    fn conv_model(
        batch: usize,
        channels: usize,
        [height, width]: [usize; 2],
        relu: bool,
    ) -> TypedModel {
        use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
        let mut model = TypedModel::default();
        let x = model
            .add_source("x", f32::fact([batch, channels, height, width]))
            .unwrap();
        let k = Tensor::from_shape(
            &[channels, channels, 3, 3],
            &values(channels * channels * 9, 5),
        )
        .unwrap();
        let k = model.add_const("k", k).unwrap();
        let b = model
            .add_const(
                "b",
                Tensor::from_shape(&[channels], &values(channels, 6)).unwrap(),
            )
            .unwrap();
        let conv = Conv {
            pool_spec: PoolSpec {
                data_format: DataFormat::NCHW,
                kernel_shape: tvec![3, 3],
                padding: PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1]),
                dilations: None,
                strides: None,
                input_channels: channels,
                output_channels: channels,
            },
            kernel_fmt: KernelFormat::OIHW,
            group: 1,
            q_params: None,
        };
        let mut y = model.wire_node("conv", conv, &[x, k, b]).unwrap();
        if relu {
            let zero = Tensor::from_shape(&[1, 1, 1, 1], &[0f32]).unwrap();
            let zero = model.add_const("zero", zero).unwrap();
            let max = tract_onnx::tract_core::ops::math::max();
            y = model.wire_node("relu", max, &[y[0], zero]).unwrap();
        }
        model.select_output_outlets(&y).unwrap();
        model.into_decluttered().unwrap()
    }

    /// Runs `model` on reproducible values of its input's shape: the output, and how many
    /// convolutions tract ran with its direct spatial kernel.
    fn run(model: TypedModel) -> (Vec<f32>, usize) {
        let plan = model.into_optimized().unwrap();
        let direct = plan
            .nodes()
            .iter()
            .filter(|n| n.op().name() == "DirectSpatialConv")
            .count();
        let x = values(input_shape(&plan).iter().product(), 7);
        (run_optimized(plan, &x), direct)
    }

    /// The Winograd convolutions of `model`: variant, fused activation, and whether the three
    /// steps run fused.
    fn winograd_convs(model: &TypedModel) -> Vec<(Variant, Option<Clamp>, bool)> {
        let steps = |n: &TypedNode| {
            let o = n.op_as::<WinogradOutput>()?;
            Some((o.tiles.variant, o.clamp, false))
        };
        let fused = |n: &TypedNode| {
            let c = n.op_as::<WinogradConv>()?;
            Some((c.tiles.variant, c.clamp, true))
        };
        model
            .nodes()
            .iter()
            .filter_map(|n| steps(n).or_else(|| fused(n)))
            .collect()
    }

    #[test]
    fn winograd_gives_the_direct_convolution_within_rounding() {
        // (batch, channels, [height, width], relu): heights and widths that are not whole
        // tiles, a batch of 2, a fused ReLU, a wide map, and a convolution left alone (too few
        // channels).
        for (batch, channels, plane, relu) in [
            (1, 64, [16, 12], false),
            (1, 64, [16, 19], false),
            (2, 72, [13, 33], true),
            (2, 64, [7, 9], true),
            (1, 64, [1, 5], false),
            (1, 64, [23, 22], true),
            (1, 16, [16, 20], true),
            (1, 64, [16, 300], false),
        ] {
            let [height, width] = plane;
            let (plain, _) = run(conv_model(batch, channels, plane, relu));
            let scale = plain.iter().fold(0f32, |m, v| m.max(v.abs()));
            let fits = channels >= WINOGRAD_MIN_INPUT_CHANNELS;
            let chosen = Variant::for_plane(height * width);
            // The variant `use_winograd` picks, then each one forced.
            for forced in [None, Some(Variant::F2), Some(Variant::F4)] {
                let mut tuned = conv_model(batch, channels, plane, relu);
                let replaced = match forced {
                    None => use_winograd(&mut tuned),
                    Some(v) => use_winograd_with(&mut tuned, |_| Some(v)),
                }
                .unwrap();
                assert_eq!(replaced, usize::from(fits), "{channels} channels");
                let convs = winograd_convs(&tuned);
                let variant = forced.unwrap_or(chosen);
                let used = convs.first().map(|c| c.0);
                assert_eq!(used, fits.then_some(variant), "{plane:?}");
                // The ReLU goes into the output transform.
                assert_eq!(convs.iter().any(|c| c.1.is_some()), fits && relu);
                // Fused where the CPU has AVX-512 and fusing pays.
                let tiles = Tiles { plane, variant };
                let fused = WinogradConv::new(tiles, [channels; 2], true, None).pays()
                    && isa() >= Isa::Avx512;
                assert_eq!(convs.first().map(|c| c.2), fits.then_some(fused));
                let (got, _) = run(tuned);
                assert_eq!(got.len(), plain.len());
                if relu {
                    assert!(got.iter().all(|&v| v >= 0.0));
                }
                let d = got
                    .iter()
                    .zip(&plain)
                    .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                let tolerance = match variant {
                    Variant::F2 => 1e-5,
                    Variant::F4 => 1e-4,
                };
                assert!(
                    d <= tolerance * scale,
                    "{variant:?}, {channels} channels, {plane:?}: {d} of {scale}"
                );
            }
        }
    }

    #[test]
    fn tune_with_applies_only_the_rewrites_the_options_select() {
        // 64 channels on a 16x20 map: Winograd F(4x4, 3x3) by default; 3 channels: direct.
        let default = TuneOptions::default();
        let mut model = conv_model(1, 64, [16, 20], true);
        let tuning = tune_with(&mut model, &default).unwrap();
        assert_eq!(
            tuning,
            tune(&mut conv_model(1, 64, [16, 20], true)).unwrap()
        );
        assert_eq!((tuning.winograd, tuning.direct.convs), (1, 0));
        for (winograd, want) in [
            (WinogradChoice::Off, None),
            (WinogradChoice::ByPlane, Some(Variant::F4)),
            (WinogradChoice::Always(Variant::F2), Some(Variant::F2)),
        ] {
            let mut model = conv_model(1, 64, [16, 20], true);
            let opts = TuneOptions {
                winograd,
                ..default
            };
            let tuning = tune_with(&mut model, &opts).unwrap();
            assert_eq!(tuning.winograd, usize::from(want.is_some()), "{winograd:?}");
            let used = winograd_convs(&model).first().map(|c| c.0);
            assert_eq!(used, want, "{winograd:?}");
        }
        let no_direct = TuneOptions {
            direct_convs: false,
            ..default
        };
        assert_eq!(tune(&mut one_conv(3, 20)).unwrap().direct.convs, 1);
        let tuning = tune_with(&mut one_conv(3, 20), &no_direct).unwrap();
        assert_eq!(tuning, Tuning::default());
        // 8 channels x 3x3 on rows of 130: tract's direct spatial kernel unless lowered.
        let no_im2col = TuneOptions {
            im2col_for_thick_convs: false,
            ..default
        };
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") {
            assert_eq!(tune(&mut one_conv(8, 130)).unwrap().im2col, 1);
        }
        let mut kept = one_conv(8, 130);
        assert_eq!(tune_with(&mut kept, &no_im2col).unwrap().im2col, 0);
    }

    #[test]
    fn thick_convolutions_go_through_im2col_with_the_same_results() {
        for (channels, width) in [(8, 130), (3, 130), (8, 20)] {
            let (untuned, direct) = run(one_conv(channels, width));
            let mut tuned = one_conv(channels, width);
            let lowered = use_im2col_for_thick_convs(&mut tuned).unwrap();
            let (got, direct_left) = run(tuned);
            // 8 x 3x3 = 72 inputs per point: lowered whenever tract would run it direct;
            // 3 x 3x3 = 27 keeps tract's choice; a 20-wide row is never direct.
            let thick = channels * 9 > DIRECT_SPATIAL_MAX_INPUTS;
            // tract 0.23 has its direct kernel on x86_64 with FMA: the case this pass is for.
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("fma") && width == 130 {
                assert_eq!(direct, 1, "tract no longer runs {channels} channels direct");
            }
            assert_eq!(
                lowered,
                if thick { direct } else { 0 },
                "{channels} channels, width {width}"
            );
            assert_eq!(direct_left, if thick { 0 } else { direct });
            let scale = untuned.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in got.iter().zip(&untuned) {
                assert!((a - b).abs() <= 1e-5 * scale, "{a} vs {b}");
            }
        }
    }

    /// Evaluates `op` on `x`, kernel `k`, bias `b`.
    fn eval(op: &DirectConv2d, x: (&[usize], &[f32]), k: &[f32], b: &[f32]) -> TractResult<Tensor> {
        let [cin, cout] = op.channels;
        let [kh, kw] = op.geometry.kernel;
        let out = op.eval_out_of_plan(tvec![
            Tensor::from_shape(x.0, x.1)?.into_tvalue(),
            Tensor::from_shape(&[cout, cin / op.groups, kh, kw], k)?.into_tvalue(),
            Tensor::from_shape(&[b.len()], b)?.into_tvalue(),
        ])?;
        Ok(out.unwrap().remove(0).into_tensor())
    }

    fn floats(t: &Tensor) -> Vec<f32> {
        t.try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec()
    }

    /// Checks `op` against [`reference`] (summed over each group's input planes, clamped) on a
    /// batch of 2.
    fn check(op: &DirectConv2d, seed: u64) {
        let g = op.geometry;
        let ([h, w], [kh, kw], [oh, ow]) = (g.input, g.kernel, g.output);
        let ([cin, cout], n) = (op.channels, 2);
        let (cin_g, cout_g) = (cin / op.groups, cout / op.groups);
        let x = values(n * cin * h * w, seed);
        let k = values(cout * cin_g * kh * kw, 1000 + seed);
        let b = values(cout, 2000 + seed);
        let out = eval(op, (&[n, cin, h, w], &x), &k, &b).unwrap();
        assert_eq!(out.shape(), [n, cout, oh, ow], "{op:?}");
        let got = floats(&out);
        for (plane, got) in got.chunks_exact(oh * ow).enumerate() {
            let (img, oc) = (plane / cout, plane % cout);
            let group = oc / cout_g;
            let mut want = vec![b[oc] as f64; oh * ow];
            for ci in 0..cin_g {
                let input = &x[(img * cin + group * cin_g + ci) * h * w..][..h * w];
                let kernel = &k[(oc * cin_g + ci) * kh * kw..][..kh * kw];
                for (w, r) in want.iter_mut().zip(reference(&g, input, kernel, 0.0)) {
                    *w += r;
                }
            }
            for (j, (&o, &r)) in got.iter().zip(&want).enumerate() {
                let r = match op.clamp {
                    Some(c) => r.max(c.lo as f64).min(c.hi as f64),
                    None => r,
                };
                let tol = 1e-5 * (1.0 + r.abs()) * (cin_g as f64).sqrt();
                assert!(
                    (o as f64 - r).abs() <= tol,
                    "{op:?} plane {plane} point {j}: {o} vs {r}"
                );
            }
        }
    }

    #[test]
    fn every_geometry_matches_a_direct_convolution() {
        for (i, g) in geometries().into_iter().enumerate() {
            let c = 3;
            let depthwise = DirectConv2d {
                geometry: g,
                batch_axis: true,
                channels: [c, c],
                groups: c,
                clamp: None,
            };
            check(&depthwise, i as u64);
        }
    }

    #[test]
    fn dense_grouped_and_clamped_convolutions_match_too() {
        let relu6 = Some(Clamp { lo: 0.0, hi: 0.6 });
        for (i, g) in geometries().into_iter().enumerate().step_by(7) {
            for (channels, groups, clamp) in [
                ([3, 5], 1, None),
                ([3, 8], 1, relu6),
                ([4, 6], 2, relu6),
                ([3, 3], 3, relu6),
            ] {
                check(
                    &DirectConv2d {
                        geometry: g,
                        batch_axis: true,
                        channels,
                        groups,
                        clamp,
                    },
                    i as u64,
                );
            }
        }
    }

    pub(super) fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    #[test]
    fn fill_puts_each_input_column_where_the_layout_says() {
        // 1 to 4 column phases (2 and 4 by whole groups), widths with and without a partial
        // group.
        for sx in 1..=4 {
            for w in [
                1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 33, 40, 57, 113, 128, 131, 224,
            ] {
                if w < sx {
                    continue;
                }
                let h = 3;
                let g = Geometry {
                    input: [h, w],
                    kernel: [3, 3],
                    strides: [1, sx],
                    pad_before: [1, 1],
                    output: [h, w.div_ceil(sx)],
                };
                let layout = PlaneLayout::new(g, 1, None);
                let input = values(h * w, (sx * 100 + w) as u64);
                let mut got = vec![0f32; layout.len];
                layout.fill(&input, &mut got);
                let mut want = vec![0f32; layout.len];
                for (y, row) in input.chunks_exact(w).enumerate() {
                    for (x, &v) in row.iter().enumerate() {
                        want[y * layout.row + layout.column[x]] = v;
                    }
                }
                assert!(same_bits(&got, &want), "{sx} phases, width {w}");
            }
        }
    }

    #[test]
    fn the_vector_path_gives_the_bits_of_the_portable_path() {
        // Every vector path this CPU runs, on layouts of both run widths.
        let isas: Vec<Isa> = [Isa::Avx2Fma, Isa::Avx512]
            .into_iter()
            .filter(|&i| i <= isa())
            .collect();
        println!("vector paths checked: {isas:?}");
        for (i, g) in geometries().into_iter().enumerate() {
            for (planes, clamp) in [(1, None), (3, Some(Clamp { lo: -0.1, hi: 0.2 }))] {
                for lanes in [LANES, WIDE_LANES] {
                    let [h, w] = g.input;
                    let layout = PlaneLayout::with_lanes(g, planes, clamp, lanes);
                    let mut scratch = vec![0f32; layout.len * planes];
                    for p in 0..planes {
                        let plane = &mut scratch[p * layout.len..][..layout.len];
                        layout.fill(&values(h * w, 7 + (i * 3 + p) as u64), plane);
                    }
                    let k = values(planes * g.kernel[0] * g.kernel[1], 3000 + i as u64);
                    let mut slow = vec![f32::NAN; g.output[0] * g.output[1]];
                    layout.convolve_portable(&scratch, &k, 0.25, &mut slow);
                    // Four channels at a time: each the bits of its own portable run.
                    let ks: Vec<Vec<f32>> = (0..CHANNEL_TILE as u64)
                        .map(|c| values(k.len(), 4000 + c))
                        .collect();
                    let biases = [0.5, -0.5, 0.0, 1.0];
                    let wants: Vec<Vec<f32>> = (0..CHANNEL_TILE)
                        .map(|c| {
                            let mut want = vec![f32::NAN; slow.len()];
                            layout.convolve_portable(&scratch, &ks[c], biases[c], &mut want);
                            want
                        })
                        .collect();
                    for &isa in &isas {
                        let case = format!("{g:?}, {lanes} lanes, {isa:?}");
                        let mut fast = vec![f32::NAN; slow.len()];
                        layout.convolve_on(isa, &scratch, &k, 0.25, &mut fast);
                        assert!(same_bits(&fast, &slow), "{case}");
                        let mut outs = vec![vec![f32::NAN; slow.len()]; CHANNEL_TILE];
                        let mut planes = outs.iter_mut().map(Vec::as_mut_slice);
                        let planes = std::array::from_fn(|_| planes.next().expect("four planes"));
                        let kernels = std::array::from_fn(|c| &ks[c][..]);
                        layout.convolve_channels_on(isa, &scratch, kernels, biases, planes);
                        for (c, (got, want)) in outs.iter().zip(&wants).enumerate() {
                            assert!(same_bits(got, want), "{case}, channel {c}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn batchless_input_a_single_bias_value_and_bad_inputs() {
        let g = Geometry {
            input: [9, 10],
            kernel: [3, 3],
            strides: [2, 2],
            pad_before: [1, 1],
            output: [5, 5],
        };
        let c = 4;
        let x = values(c * 90, 1);
        let k = values(c * 9, 2);
        let op = DirectConv2d {
            geometry: g,
            batch_axis: false,
            channels: [c, c],
            groups: c,
            clamp: None,
        };
        let fact = op
            .output_facts(&[
                &f32::fact([c, 9, 10]),
                &f32::fact([c, 1, 3, 3]),
                &f32::fact([1]),
            ])
            .unwrap();
        assert_eq!(fact[0].shape.as_concrete().unwrap(), [c, 5, 5]);
        let got = floats(&eval(&op, (&[c, 9, 10], &x), &k, &[0.5]).unwrap());
        for ch in 0..c {
            let want = reference(&g, &x[ch * 90..][..90], &k[ch * 9..][..9], 0.5);
            for (&o, &r) in got[ch * 25..][..25].iter().zip(&want) {
                assert!((o as f64 - r).abs() <= 1e-5);
            }
        }
        // A 4-D input for a batch-less op, or the wrong channel count, is refused, not misread.
        for shape in [[1, c, 9, 10].as_slice(), &[c + 1, 9, 10]] {
            let len = shape.iter().product();
            let err = eval(&op, (shape, &values(len, 3)), &k, &[0.5]).unwrap_err();
            assert!(format!("{err:#}").contains("direct conv"), "{err:#}");
        }
    }
}
