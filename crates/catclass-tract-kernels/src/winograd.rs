//! Winograd F(2x2, 3x3) and F(4x4, 3x3) for the 3x3, stride-1, padding-1 convolutions of
//! VGG-like networks.
//!
//! Each `m x m` block of outputs (a tile) takes `(m + 2)^2` multiplications per input channel
//! instead of `9 m^2` (16 instead of 36 for F(2x2, 3x3), 36 instead of 144 for F(4x4, 3x3)):
//! the input tiles are transformed ([`WinogradInput`]: `Bt d B`), multiplied by the transformed
//! kernel (`G g Gt`, computed once in f64) in `(m + 2)^2` matrix products that tract runs
//! (`EinSum gok,gkt->got`), and transformed back ([`WinogradOutput`]: `At m A`), the bias and a
//! following ReLU added as the outputs are stored. On large maps, where the CPU has AVX-512,
//! [`WinogradConv`] runs the three steps a band of tile rows at a time, with the same bits.
//! The results differ from a direct
//! convolution by rounding only (the tests hold F(2x2, 3x3) to 1e-5 and F(4x4, 3x3) to 1e-4 of
//! the largest output).
//!
//! The transforms are written once, over a private `Lanes` trait of plain f32 arrays (8 tiles
//! at a time): compiled as they are, they are the reference; compiled inside a function with
//! AVX2 enabled, the compiler turns each array operation into one vector instruction, with the
//! same bits (tested). (Written with intrinsics behind a
//! trait instead, the intrinsics were not inlined into the trait's methods, which have no
//! target features: every lane operation was a call, and the transforms took 150 of VGG16's
//! 250 ms.)

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::{Clamp, Geometry, PlaneLayout, clamp_after};
use crate::cpu::Isa;

/// The most tiles transformed together: the output transform's scratch row is sized for them.
const MAX_TILES: usize = 8;

/// The Winograd algorithm: F(m x m, 3x3), `m` outputs per tile side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// F(2x2, 3x3): 4x4 input tiles, 16 products.
    F2,
    /// F(4x4, 3x3): 6x6 input tiles, 36 products.
    F4,
}

impl Variant {
    /// Outputs per tile side.
    pub fn outputs(self) -> usize {
        match self {
            Variant::F2 => 2,
            Variant::F4 => 4,
        }
    }
    /// Inputs per tile side (`outputs + 2`).
    pub fn inputs(self) -> usize {
        self.outputs() + 2
    }
    /// Points of a transformed tile: the number of matrix products.
    pub fn points(self) -> usize {
        self.inputs() * self.inputs()
    }
    /// The variant for planes of `points` points: F(2x2, 3x3) up to
    /// [`WINOGRAD_F2_MAX_PLANE`], F(4x4, 3x3) above.
    pub fn for_plane(points: usize) -> Variant {
        if points <= WINOGRAD_F2_MAX_PLANE {
            Variant::F2
        } else {
            Variant::F4
        }
    }
}

/// Tile layout of a `[H, W]` plane: `ceil(H / m) x ceil(W / m)` tiles, row after row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiles {
    /// Plane height and width (input and output: padding 1, stride 1).
    pub plane: [usize; 2],
    /// The algorithm.
    pub variant: Variant,
}

impl Tiles {
    fn rows(&self) -> usize {
        self.plane[0].div_ceil(self.variant.outputs())
    }
    fn cols(&self) -> usize {
        self.plane[1].div_ceil(self.variant.outputs())
    }
    /// Tiles of one plane in the transformed tensors.
    fn per_plane(&self) -> usize {
        self.rows() * self.cols()
    }
    /// The padded scratch plane the input tiles are read from: padding 1, columns split in `m`
    /// phases, so that tile `tx` reads phase `j % m`, column `tx + j / m` for its column `j`
    /// (and rows `m ty ..` for row `ty`).
    fn scratch_layout(&self) -> PlaneLayout {
        // The band of every tile row: the whole plane, top padding included.
        self.band(&(0..self.rows())).1
    }

    /// The tile rows `rows` as a plane of their own: its tiles, its scratch layout (the input
    /// rows they read, one padding column on the left and, for the first band, the plane's
    /// padding row on top; columns split in `m` phases), and the input rows it is filled from.
    fn band(
        &self,
        rows: &core::ops::Range<usize>,
    ) -> (Tiles, PlaneLayout, core::ops::Range<usize>) {
        let m = self.variant.outputs();
        let a = self.variant.inputs();
        let [h, w] = self.plane;
        // Scratch row 0 is padded row `m * rows.start`: input row `m * rows.start - 1`, or the
        // top padding.
        let top = usize::from(rows.start == 0);
        let first = (m * rows.start).saturating_sub(1);
        let end = (m * rows.end + 1).min(h);
        let tiles = Tiles {
            plane: [m * rows.len(), w],
            variant: self.variant,
        };
        let geometry = Geometry {
            input: [end - first, w],
            kernel: [a, a],
            strides: [1, m],
            pad_before: [top, 1],
            output: [m * (rows.len() - 1) + 1, self.cols()],
        };
        (tiles, PlaneLayout::new(geometry, 1, None), first..end)
    }
}

/// The input transform: `[N, C, H, W]` (or `[C, H, W]`) to `[points, C, N * tiles]`, or when
/// [`Self::padded`] to `[points, padded_stride(C * N * tiles)]` (each point's `[C, N * tiles]`
/// block, then padding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradInput {
    /// The plane's tiles.
    pub tiles: Tiles,
    /// Whether the data has a batch axis.
    pub batch_axis: bool,
    /// Whether each point's block is padded to [`padded_stride`] floats, so that the 36 (or
    /// 16) blocks written side by side do not fall on the same cache sets (their starts 4 KiB
    /// apart modulo 4 KiB, which the L1 cache cannot hold 36 ways of). [`use_winograd`] leaves
    /// it off: with the transforms vectorised as intended, VGG16's input transforms took
    /// 7.8-9.8 ms unpadded against 8.5-11.2 ms padded (7 interleaved runs, faster in 6).
    pub padded: bool,
}

/// The floats one point's block of `len` takes in a padded transformed tensor: `len` rounded up
/// to an odd number of 64-byte lines, so that the blocks' starts walk through every cache set.
///
/// ```
/// use catclass_tract_kernels::winograd::padded_stride;
///
/// assert_eq!(padded_stride(64 * 3136), 64 * 3136 + 16);
/// assert_eq!(padded_stride(17), 48);
/// ```
pub fn padded_stride(len: usize) -> usize {
    let lines = len.div_ceil(16);
    (lines | 1) * 16
}

/// The output transform: `[points, Cout, N * tiles]` (or `[points, S]` with each point's
/// `[Cout, N * tiles]` block at the start of its `S` floats) and the bias `[Cout]` to
/// `[N, Cout, H, W]` (or `[Cout, H, W]`), clamped when [`Self::clamp`] says so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradOutput {
    /// The plane's tiles.
    pub tiles: Tiles,
    /// Output channels.
    pub channels: usize,
    /// Whether the data has a batch axis (then `batch` images).
    pub batch_axis: bool,
    /// Images.
    pub batch: usize,
    /// The activation fused into the output, if any.
    pub clamp: Option<Clamp>,
}

/// Winograd's products where the CPU has AVX-512: for each of the `points` transformed
/// points, `m[point] = u[point] v[point]` (`[Cout, Cin]` by `[Cin, tiles]`; `v` dense or padded
/// as [`WinogradInput::padded`] makes it, `m` padded: `[points, padded_stride(Cout * tiles)]`),
/// run by [`PointwiseConv`](crate::PointwiseConv)'s kernel (the transformed tiles read where
/// they lie, 16 per register) instead of tract's matrix products, which pack them on every run.
///
/// ```
/// use catclass_tract_kernels::WinogradProduct;
/// use tract_onnx::prelude::*;
/// use tract_onnx::tract_core::internal::{EvalOp, tvec};
///
/// // One point, 1 -> 2 channels, 3 tiles: m = u v.
/// let op = WinogradProduct { points: 1, channels: [1, 2], tiles: 3 };
/// let u = Tensor::from_shape(&[1, 2, 1], &[2f32, -1.])?;
/// let v = Tensor::from_shape(&[1, 1, 3], &[1f32, 2., 3.])?;
/// let m = op.eval_out_of_plan(tvec![u.into(), v.into()])?.expect("evaluated");
/// let m = m[0].try_as_plain_ram()?;
/// assert_eq!(m.as_slice::<f32>()?[..6], [2., 4., 6., -1., -2., -3.]);
/// # Ok::<(), TractError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradProduct {
    /// Transformed points: the number of products.
    pub points: usize,
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Tiles of all the images.
    pub tiles: usize,
}

impl Op for WinogradProduct {
    fn name(&self) -> StaticName {
        "CatclassWinogradProduct".into()
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for WinogradProduct {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (u, v) = args_2!(inputs);
        let ([cin, cout], points, tiles) = (self.channels, self.points, self.tiles);
        let stride_in = v.len() / points.max(1);
        ensure!(
            u.shape() == [points, cout, cin]
                && v.shape().first() == Some(&points)
                && stride_in >= cin * tiles,
            "winograd product: kernel {:?} and tiles {:?} for {self:?}",
            u.shape(),
            v.shape()
        );
        let u = u.try_as_plain_ram()?;
        let u = u.as_slice::<f32>()?;
        let v = v.try_as_plain_ram()?;
        let v = v.as_slice::<f32>()?;
        let stride_out = padded_stride(cout * tiles);
        // SAFETY: every product writes its whole `[Cout, tiles]` block before the tensor is
        // read; the padding after each block is never read.
        let mut m = unsafe { Tensor::uninitialized::<f32>(&[points, stride_out])? };
        let mut view = m.try_as_plain_ram_mut()?;
        let zeros = vec![0f32; cout];
        let blocks = view.as_slice_mut::<f32>()?.chunks_exact_mut(stride_out);
        let (u, v) = (u.chunks_exact(cout * cin), v.chunks_exact(stride_in));
        for ((m, u), v) in blocks.zip(u).zip(v) {
            let (m, v) = (&mut m[..cout * tiles], &v[..cin * tiles]);
            crate::pointwise::product([cin, cout], tiles, v, u, &zeros, m);
        }
        Ok(tvec!(m.into_tvalue()))
    }
}

impl TypedOp for WinogradProduct {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 2, "winograd product takes kernel and tiles");
        let stride = padded_stride(self.channels[1] * self.tiles);
        Ok(tvec!(f32::fact([self.points, stride])))
    }

    fn cost(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let n = self.points * self.channels[0] * self.channels[1] * self.tiles;
        Ok(tvec!((Cost::FMA(f32::datum_type()), n.to_dim())))
    }

    as_op!();
}

/// Winograd's three steps fused, a band of tile rows at a time (where the CPU has AVX-512):
/// the input transform of the band's tiles, the `points` products ([`WinogradProduct`]'s
/// kernel) and the output transform, so that the transformed tiles and the products of a band
/// stay in the core's cache instead of going through memory as whole tensors (on VGG16's
/// 224x224 layer they are 29 MB each). Inputs: `x` `[N, Cin, H, W]` (or `[Cin, H, W]`), the
/// transformed kernel `[points, Cout, Cin]`, the bias `[Cout]` (or `[1]`). Same arithmetic,
/// same bits, as [`WinogradInput`], [`WinogradProduct`] and [`WinogradOutput`] in sequence.
///
/// ```
/// use catclass_tract_kernels::winograd::{Tiles, Variant, WinogradConv};
///
/// let op = WinogradConv::new(
///     Tiles { plane: [224, 224], variant: Variant::F4 },
///     [64, 64],
///     true,
///     None,
/// );
/// // One row of 56 tiles a band: 36 x (64 + 64) x 56 floats, about 1 MiB.
/// assert_eq!(op.band, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradConv {
    /// The plane's tiles.
    pub tiles: Tiles,
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Whether the data has a batch axis.
    pub batch_axis: bool,
    /// The activation fused into the output, if any.
    pub clamp: Option<Clamp>,
    /// Tile rows per band.
    pub band: usize,
}

/// The bytes a band of [`WinogradConv`] should keep in the core's cache (its transformed tiles
/// and products): as many tile rows as fit, at least one.
pub const WINOGRAD_BAND_BYTES: usize = 1 << 20;

impl WinogradConv {
    /// The op, with as many tile rows a band as fit in [`WINOGRAD_BAND_BYTES`].
    pub fn new(tiles: Tiles, channels: [usize; 2], batch_axis: bool, clamp: Option<Clamp>) -> Self {
        let row_bytes = 4 * tiles.variant.points() * (channels[0] + channels[1]) * tiles.cols();
        let band = (WINOGRAD_BAND_BYTES / row_bytes.max(1)).clamp(1, tiles.rows().max(1));
        WinogradConv {
            tiles,
            channels,
            batch_axis,
            clamp,
            band,
        }
    }

    /// Whether fusing pays: every band reads the whole transformed kernel (`points x Cout x
    /// Cin`), which must stay small beside the tiles it serves: `Cin Cout <= 4 (Cin + Cout)
    /// tiles` for a band's tiles. On VGG16 with AVX-512 (`tract_profile`, one image) the
    /// 224x224 and 112x112 layers pass (0.6 to 2.3 kernel floats a tile float) and gained
    /// (49.8 -> 24-26 ms, 16.7 -> 14-17 ms, 11.3 -> 9-10 ms); fused, the 56x56 ones (6 to 9) lost
    /// (11.4 -> 19 ms).
    ///
    /// ```
    /// use catclass_tract_kernels::winograd::{Tiles, Variant, WinogradConv};
    ///
    /// let conv = |plane: usize, c: usize| {
    ///     let tiles = Tiles { plane: [plane, plane], variant: Variant::for_plane(plane * plane) };
    ///     WinogradConv::new(tiles, [c, c], true, None)
    /// };
    /// assert!(conv(224, 64).pays() && conv(112, 128).pays());
    /// assert!(!conv(56, 256).pays() && !conv(14, 512).pays());
    /// ```
    pub fn pays(&self) -> bool {
        let [cin, cout] = self.channels;
        let tiles = self.band * self.tiles.cols();
        cin * cout <= 4 * (cin + cout) * tiles
    }
}

impl Op for WinogradConv {
    fn name(&self) -> StaticName {
        "CatclassWinogradConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{:?} on {:?}, channels {:?}, {} tile rows a band, clamp {:?}",
            self.tiles.variant, self.tiles.plane, self.channels, self.band, self.clamp
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for WinogradConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, u, bias) = args_3!(inputs);
        let t = self.tiles;
        let [cin, cout] = self.channels;
        let [h, w] = t.plane;
        let points = t.variant.points();
        let n = match *x.shape() {
            [n, c, hh, ww] if self.batch_axis && [c, hh, ww] == [cin, h, w] => n,
            [c, hh, ww] if !self.batch_axis && [c, hh, ww] == [cin, h, w] => 1,
            ref shape => bail!("winograd conv: input {shape:?} for {self:?}"),
        };
        ensure!(
            cin * cout * h * w > 0,
            "winograd conv: nothing to convolve in {self:?}"
        );
        ensure!(
            u.shape() == [points, cout, cin] && (bias.len() == cout || bias.len() == 1),
            "winograd conv: kernel {:?} and bias {:?} for {self:?}",
            u.shape(),
            bias.shape()
        );
        let x = x.try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let u = u.try_as_plain_ram()?;
        let u = u.as_slice::<f32>()?;
        let bias = bias.try_as_plain_ram()?;
        let bias = bias.as_slice::<f32>()?;
        let (rows, cols) = (t.rows(), t.cols());
        let band = self.band.clamp(1, rows.max(1));
        let (stride_in, stride_out) = (
            padded_stride(cin * band * cols),
            padded_stride(cout * band * cols),
        );
        // One band of one input plane, padded and split in column phases; re-zeroed when the
        // band's layout changes (the first band has the top padding, the last may be short).
        let mut scratch = Vec::new();
        let mut zeroed_for = None;
        let mut v = vec![0f32; points * stride_in];
        let mut m = vec![0f32; points * stride_out];
        let zeros = vec![0f32; cout];
        let out_shape: TVec<usize> = if self.batch_axis {
            tvec![n, cout, h, w]
        } else {
            tvec![cout, h, w]
        };
        // SAFETY: every output point is written (all tile rows of all planes) before it is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&out_shape)? };
        let mut view = out.try_as_plain_ram_mut()?;
        let o = view.as_slice_mut::<f32>()?;
        for (image, output) in x
            .chunks_exact(cin * h * w)
            .zip(o.chunks_exact_mut(cout * h * w))
        {
            for first in (0..rows).step_by(band) {
                let rows = first..(first + band).min(rows);
                let tiles = rows.len() * cols;
                let (bt, layout, inputs) = t.band(&rows);
                if zeroed_for != Some(layout.g) {
                    scratch.clear();
                    scratch.resize(layout.len, 0f32);
                    zeroed_for = Some(layout.g);
                }
                for (ci, plane) in image.chunks_exact(h * w).enumerate() {
                    layout.fill(&plane[inputs.start * w..inputs.end * w], &mut scratch);
                    let spread = Spread {
                        at: ci * tiles,
                        stride: stride_in,
                        rows: 0..rows.len(),
                    };
                    transform_input(&bt, &layout, &scratch, &mut v, spread);
                }
                let blocks = m
                    .chunks_exact_mut(stride_out)
                    .zip(v.chunks_exact(stride_in));
                for ((m, v), u) in blocks.zip(u.chunks_exact(cout * cin)) {
                    let (m, v) = (&mut m[..cout * tiles], &v[..cin * tiles]);
                    crate::pointwise::product([cin, cout], tiles, v, u, &zeros, m);
                }
                for (co, plane) in output.chunks_exact_mut(h * w).enumerate() {
                    let spread = Spread {
                        at: co * tiles,
                        stride: stride_out,
                        rows: rows.clone(),
                    };
                    let bias = if bias.len() == 1 { bias[0] } else { bias[co] };
                    let epilogue = Epilogue {
                        bias,
                        clamp: self.clamp,
                    };
                    output_plane(&t, &m, spread, epilogue, plane);
                }
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for WinogradConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.len() == 3,
            "winograd conv takes input, kernel and bias"
        );
        let mut shape = inputs[0].shape.to_tvec();
        let channel_axis = usize::from(self.batch_axis);
        ensure!(
            shape.len() == channel_axis + 3,
            "winograd conv: input {shape:?}"
        );
        shape[channel_axis] = self.channels[1].to_dim();
        Ok(tvec!(f32::fact(shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let images = if self.batch_axis {
            inputs[0].shape[0].clone()
        } else {
            1.to_dim()
        };
        let per_image = self.tiles.variant.points()
            * self.channels[0]
            * self.channels[1]
            * self.tiles.per_plane();
        Ok(tvec!((Cost::FMA(f32::datum_type()), images * per_image)))
    }

    as_op!();
}

impl WinogradInput {
    /// Floats per point in the output for `len` values of each point.
    fn stride(&self, len: usize) -> usize {
        if self.padded { padded_stride(len) } else { len }
    }

    /// The output's shape for `c` channels of `tiles` tiles.
    fn shape(&self, c: usize, tiles: usize) -> TVec<usize> {
        let points = self.tiles.variant.points();
        if self.padded {
            tvec![points, padded_stride(c * tiles)]
        } else {
            tvec![points, c, tiles]
        }
    }
}

impl Op for WinogradInput {
    fn name(&self) -> StaticName {
        "CatclassWinogradInput".into()
    }
    op_as_typed_op!();
}

impl Op for WinogradOutput {
    fn name(&self) -> StaticName {
        "CatclassWinogradOutput".into()
    }
    fn validation(&self) -> Validation {
        Validation::Rounding
    }
    op_as_typed_op!();
}

impl EvalOp for WinogradInput {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let shape = x.shape();
        let [h, w] = self.tiles.plane;
        let (n, c) = match *shape {
            [n, c, hh, ww] if self.batch_axis && [hh, ww] == [h, w] => (n, c),
            [c, hh, ww] if !self.batch_axis && [hh, ww] == [h, w] => (1, c),
            _ => bail!("winograd input: shape {shape:?} for {h}x{w} planes"),
        };
        ensure!(h * w > 0, "winograd input: empty {h}x{w} planes");
        let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let t = self.tiles;
        let per = t.per_plane();
        let layout = t.scratch_layout();
        // SAFETY: every element is written below (all the tiles of every plane) before the
        // tensor is read.
        let stride = self.stride(c * n * per);
        let mut out = unsafe { Tensor::uninitialized::<f32>(&self.shape(c, n * per))? };
        let mut view = out.try_as_plain_ram_mut()?;
        let v = view.as_slice_mut::<f32>()?;
        let mut scratch = vec![0f32; layout.len];
        for (plane, input) in x.chunks_exact(h * w).enumerate() {
            let (img, ch) = (plane / c, plane % c);
            layout.fill(input, &mut scratch);
            let at = ch * n * per + img * per;
            transform_input(&t, &layout, &scratch, v, Spread::whole(&t, at, stride));
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl EvalOp for WinogradOutput {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (m, bias) = args_2!(inputs);
        let t = self.tiles;
        let per = t.per_plane();
        let n = self.batch;
        let shape = m.shape();
        let (points, cout, tiles) = (t.variant.points(), self.channels, n * per);
        let stride = m.len() / points;
        ensure!(
            shape.first() == Some(&points) && stride >= cout * tiles,
            "winograd output: shape {shape:?} for {points} points of {cout} x {tiles}"
        );
        let m = m.try_as_plain_ram()?.as_slice::<f32>()?;
        let bias = bias.try_as_plain_ram()?.as_slice::<f32>()?;
        ensure!(
            bias.len() == cout || bias.len() == 1,
            "winograd output: bias of {}",
            bias.len()
        );
        let [h, w] = t.plane;
        let out_shape: TVec<usize> = if self.batch_axis {
            tvec![n, cout, h, w]
        } else {
            tvec![cout, h, w]
        };
        // SAFETY: every output point is written (all tiles of all planes) before it is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&out_shape)? };
        let mut view = out.try_as_plain_ram_mut()?;
        let o = view.as_slice_mut::<f32>()?;
        for img in 0..n {
            for co in 0..cout {
                let b = if bias.len() == 1 { bias[0] } else { bias[co] };
                let plane = &mut o[(img * cout + co) * h * w..][..h * w];
                let at = co * tiles + img * per;
                output_plane(
                    &t,
                    m,
                    Spread::whole(&t, at, stride),
                    Epilogue {
                        bias: b,
                        clamp: self.clamp,
                    },
                    plane,
                );
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for WinogradInput {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        let (n, c) = if self.batch_axis {
            (shape[0].clone(), shape[1].clone())
        } else {
            (1.to_dim(), shape[0].clone())
        };
        let (Ok(c), Ok(n)) = (c.to_usize(), n.to_usize()) else {
            bail!("winograd input: shape {shape:?} not fixed");
        };
        Ok(tvec!(f32::fact(self.shape(c, n * self.tiles.per_plane()))))
    }
    as_op!();
}

impl TypedOp for WinogradOutput {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 2, "winograd output takes products and bias");
        let cout = self.channels.to_dim();
        let [h, w] = self.tiles.plane;
        let shape: TVec<TDim> = if self.batch_axis {
            tvec![self.batch.to_dim(), cout, h.to_dim(), w.to_dim()]
        } else {
            tvec![cout, h.to_dim(), w.to_dim()]
        };
        Ok(tvec!(f32::fact(shape)))
    }
    as_op!();
}

/// Where one plane's tiles sit in a transformed `[points, C, tiles]` tensor: the values for
/// point `xi` of the transform start at `xi * stride + at`, and they are the tiles of the tile
/// rows `rows` (all of them, or a band), row after row.
#[derive(Debug, Clone)]
struct Spread {
    at: usize,
    stride: usize,
    rows: core::ops::Range<usize>,
}

impl Spread {
    /// Every tile row of `t`.
    fn whole(t: &Tiles, at: usize, stride: usize) -> Self {
        Spread {
            at,
            stride,
            rows: 0..t.rows(),
        }
    }

    /// Tiles it covers (a plane of `t`).
    fn tiles(&self, t: &Tiles) -> usize {
        self.rows.len() * t.cols()
    }
}

/// What the output transform applies as it stores: the bias, then the clamp.
#[derive(Debug, Clone, Copy)]
struct Epilogue {
    bias: f32,
    clamp: Option<Clamp>,
}

/// `N` f32 lanes, one tile each: the arithmetic the transforms are written in. Every method
/// does the same IEEE operation lane by lane, so every lane count and instruction set gives the
/// same bits.
trait Lanes: Copy {
    /// Lanes (tiles) per value, at most [`MAX_TILES`].
    const N: usize;
    fn splat(v: f32) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    /// `self * c`.
    fn scale(self, c: f32) -> Self;
    /// `min(max(self, lo), hi)` as `maxps`/`minps` do (`lo` for a NaN).
    fn clamp(self, c: Clamp) -> Self;
    /// Reads `N` floats.
    ///
    /// # Safety
    /// `p` points to `N` readable floats.
    unsafe fn load(p: *const f32) -> Self;
    /// Writes `N` floats.
    ///
    /// # Safety
    /// `p` points to `N` writable floats.
    unsafe fn store(self, p: *mut f32);
    /// Reads the first `n` floats (`n < N`), the other lanes 0.
    ///
    /// # Safety
    /// `p` points to `n` readable floats.
    unsafe fn load_first(p: *const f32, n: usize) -> Self;
    /// Writes the first `n` lanes (`n < N`).
    ///
    /// # Safety
    /// `p` points to `n` writable floats.
    unsafe fn store_first(self, p: *mut f32, n: usize);
    /// Writes `ys.len()` (2 or 4) registers lane-interleaved: `ys[0][0], ys[1][0], ..,
    /// ys[0][1], ..`.
    ///
    /// # Safety
    /// `p` points to `N * ys.len()` writable floats.
    unsafe fn store_interleaved(ys: &[Self], p: *mut f32);
}

/// `N` lanes as a plain array.
#[derive(Clone, Copy)]
struct Plain<const N: usize>([f32; N]);

impl<const N: usize> Lanes for Plain<N> {
    const N: usize = N;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Plain([v; N])
    }
    // Plain loops, not `array::from_fn` or `array::map`: their machinery in `core` is not
    // always inlined, and what is not runs without the caller's target features (SSE on
    // x86_64: 15 % of a fused VGG16 layer's time went to such an outlined closure).
    #[inline(always)]
    fn add(mut self, o: Self) -> Self {
        for (v, o) in self.0.iter_mut().zip(o.0.iter()) {
            *v += *o;
        }
        self
    }
    #[inline(always)]
    fn sub(mut self, o: Self) -> Self {
        for (v, o) in self.0.iter_mut().zip(o.0.iter()) {
            *v -= *o;
        }
        self
    }
    #[inline(always)]
    fn scale(mut self, c: f32) -> Self {
        for v in self.0.iter_mut() {
            *v *= c;
        }
        self
    }
    #[inline(always)]
    fn clamp(mut self, c: Clamp) -> Self {
        for v in self.0.iter_mut() {
            let w = if *v > c.lo { *v } else { c.lo };
            *v = if w < c.hi { w } else { c.hi };
        }
        self
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller's.
        Plain(unsafe { p.cast::<[f32; N]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller's.
        unsafe { p.cast::<[f32; N]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        let mut v = [0.0; N];
        for (l, v) in v.iter_mut().enumerate().take(n) {
            // SAFETY: the caller's.
            *v = unsafe { p.add(l).read() };
        }
        Plain(v)
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        for (l, &v) in self.0.iter().enumerate().take(n) {
            // SAFETY: the caller's.
            unsafe { p.add(l).write(v) };
        }
    }
    #[inline(always)]
    unsafe fn store_interleaved(ys: &[Self], p: *mut f32) {
        let k = ys.len();
        for (j, y) in ys.iter().enumerate() {
            for (l, &v) in y.0.iter().enumerate() {
                // SAFETY: the caller's: `l * k + j < N * k`.
                unsafe { p.add(l * k + j).write(v) };
            }
        }
    }
}

/// One algorithm's 1-D transforms, applied to rows then columns of a tile (arrays sized for
/// F(4x4, 3x3); F(2x2, 3x3) uses the first 4 inputs and 2 outputs).
trait Algorithm {
    const VARIANT: Variant;
    /// One column (or row) of `Bt d B`.
    fn input<V: Lanes>(d: [V; 6]) -> [V; 6];
    /// One column (or row) of `At m A`.
    fn output<V: Lanes>(m: [V; 6]) -> [V; 4];
    /// `G` (`inputs x 3`).
    fn g() -> [[f64; 3]; 6];
}

struct F2;
struct F4;

impl Algorithm for F2 {
    const VARIANT: Variant = Variant::F2;
    /// `Bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
    #[inline(always)]
    fn input<V: Lanes>(d: [V; 6]) -> [V; 6] {
        let z = V::splat(0.0);
        [
            d[0].sub(d[2]),
            d[1].add(d[2]),
            d[2].sub(d[1]),
            d[1].sub(d[3]),
            z,
            z,
        ]
    }
    /// `At = [[1, 1, 1, 0], [0, 1, -1, -1]]`.
    #[inline(always)]
    fn output<V: Lanes>(m: [V; 6]) -> [V; 4] {
        let z = V::splat(0.0);
        [m[0].add(m[1]).add(m[2]), m[1].sub(m[2]).sub(m[3]), z, z]
    }
    fn g() -> [[f64; 3]; 6] {
        [
            [1.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0.0, 0.0, 1.0],
            [0.0; 3],
            [0.0; 3],
        ]
    }
}

impl Algorithm for F4 {
    const VARIANT: Variant = Variant::F4;
    /// `Bt = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
    /// [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]` (Lavin and Gray).
    #[inline(always)]
    fn input<V: Lanes>(d: [V; 6]) -> [V; 6] {
        let a = d[4].sub(d[2].scale(4.0));
        let b = d[3].sub(d[1].scale(4.0));
        let c = d[4].sub(d[2]);
        let e = d[3].sub(d[1]).scale(2.0);
        [
            d[0].scale(4.0).sub(d[2].scale(5.0)).add(d[4]),
            a.add(b),
            a.sub(b),
            c.add(e),
            c.sub(e),
            d[1].scale(4.0).sub(d[3].scale(5.0)).add(d[5]),
        ]
    }
    /// `At = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
    /// [0, 1, -1, 8, -8, 1]]`.
    #[inline(always)]
    fn output<V: Lanes>(m: [V; 6]) -> [V; 4] {
        let a = m[1].add(m[2]);
        let b = m[1].sub(m[2]);
        let c = m[3].add(m[4]);
        let e = m[3].sub(m[4]);
        [
            m[0].add(a).add(c),
            b.add(e.scale(2.0)),
            a.add(c.scale(4.0)),
            b.add(e.scale(8.0)).add(m[5]),
        ]
    }
    fn g() -> [[f64; 3]; 6] {
        [
            [1.0 / 4.0, 0.0, 0.0],
            [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
            [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
            [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
            [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
            [0.0, 0.0, 1.0],
        ]
    }
}

/// The transpose of a small matrix of registers.
#[inline(always)]
fn transpose<V: Copy, const R: usize, const C: usize>(x: [[V; C]; R]) -> [[V; R]; C] {
    let mut t = [[x[0][0]; R]; C];
    for (r, row) in x.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c][r] = v;
        }
    }
    t
}

/// `Bt d B` of every tile of one scratch plane into `v` (point `xi` at `xi * stride + at`).
fn transform_input(
    t: &Tiles,
    layout: &PlaneLayout,
    scratch: &[f32],
    v: &mut [f32],
    spread: Spread,
) {
    transform_input_on(crate::isa(), t, layout, scratch, v, spread);
}

/// [`transform_input`] with the vector code of `isa` (at most this CPU's).
fn transform_input_on(
    isa: Isa,
    t: &Tiles,
    layout: &PlaneLayout,
    scratch: &[f32],
    v: &mut [f32],
    spread: Spread,
) {
    let points = t.variant.points();
    assert!(
        scratch.len() >= layout.len
            && spread.rows.end <= t.rows()
            && v.len() >= (points - 1) * spread.stride + spread.at + spread.tiles(t)
    );
    assert!(isa <= crate::isa());
    // SAFETY: the CPU has AVX2; the reads are inside the scratch plane
    // (see `Tiles::scratch_layout`) and the writes inside `v` (checked above).
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2Fma {
        return unsafe { vector::input_avx2(t, layout, scratch, v, spread) };
    }
    transform_input_portable(t, layout, scratch, v, spread);
}

/// [`transform_input`] on 8 [`Plain`] lanes, compiled for any CPU: the reference arithmetic.
fn transform_input_portable(
    t: &Tiles,
    layout: &PlaneLayout,
    scratch: &[f32],
    v: &mut [f32],
    spread: Spread,
) {
    // SAFETY: as in `transform_input`, which checked the lengths.
    unsafe { input_plane_of::<Plain<8>>(t, layout, scratch, v, spread) }
}

/// [`input_plane`] of `t`'s variant.
///
/// # Safety
/// As [`input_plane`].
#[inline(always)]
unsafe fn input_plane_of<V: Lanes>(
    t: &Tiles,
    layout: &PlaneLayout,
    scratch: &[f32],
    v: &mut [f32],
    spread: Spread,
) {
    // SAFETY: the caller's.
    unsafe {
        match t.variant {
            Variant::F2 => input_plane::<F2, V>(t, layout, scratch, v, spread),
            Variant::F4 => input_plane::<F4, V>(t, layout, scratch, v, spread),
        }
    }
}

/// The input transform of one plane, 8 tiles at a time; a row's last, partial run is stored
/// through a lane mask, so that nothing outside the plane's tiles is touched.
///
/// # Safety
/// `scratch` is a plane of `layout` (`t.scratch_layout()`); `v` holds every point's tiles.
#[inline(always)]
unsafe fn input_plane<A: Algorithm, V: Lanes>(
    t: &Tiles,
    layout: &PlaneLayout,
    scratch: &[f32],
    v: &mut [f32],
    spread: Spread,
) {
    let Spread { at, stride, rows } = spread;
    let m = A::VARIANT.outputs();
    let a = A::VARIANT.inputs();
    let (row, phase, cols) = (layout.row, layout.len / m, t.cols());
    let src = scratch.as_ptr();
    let dst = v.as_mut_ptr();
    let zero = V::splat(0.0);
    for ty in rows.clone() {
        for tx in (0..cols).step_by(V::N) {
            // Rows first: column j of `Bt d` is `Bt` times column j of d.
            // (Columns past `a` stay zeros, as `A::input` makes of zeros.)
            let mut columns = [[zero; 6]; 6];
            for (j, column) in columns.iter_mut().enumerate().take(a) {
                let mut d = [zero; 6];
                for (i, d) in d.iter_mut().enumerate().take(a) {
                    // SAFETY: the scratch plane holds every tile's rows and phase columns,
                    // runs of 8 included.
                    *d = unsafe {
                        V::load(src.add((j % m) * phase + (m * ty + i) * row + tx + j / m))
                    };
                }
                *column = A::input(d);
            }
            let base = at + (ty - rows.start) * cols + tx;
            let run = V::N.min(cols - tx);
            for (i, ri) in transpose(columns).into_iter().enumerate().take(a) {
                for (j, u) in A::input(ri).into_iter().enumerate().take(a) {
                    // SAFETY: point `a i + j`, tiles `base .. base + run` are inside `v`.
                    unsafe {
                        let p = dst.add((a * i + j) * stride + base);
                        if run == V::N {
                            u.store(p);
                        } else {
                            u.store_first(p, run);
                        }
                    }
                }
            }
        }
    }
}

/// The outputs of every tile of one output plane: `At m A + bias`, clamped, from the points of
/// `m` (point `xi` at `xi * stride + at`).
fn output_plane(t: &Tiles, m: &[f32], spread: Spread, epilogue: Epilogue, plane: &mut [f32]) {
    output_plane_on(crate::isa(), t, m, spread, epilogue, plane);
}

/// [`output_plane`] with the vector code of `isa` (at most this CPU's).
fn output_plane_on(
    isa: Isa,
    t: &Tiles,
    m: &[f32],
    spread: Spread,
    epilogue: Epilogue,
    plane: &mut [f32],
) {
    let points = t.variant.points();
    assert!(
        spread.rows.end <= t.rows()
            && m.len() >= (points - 1) * spread.stride + spread.at + spread.tiles(t)
            && plane.len() == t.plane[0] * t.plane[1]
    );
    assert!(isa <= crate::isa());
    // SAFETY: the CPU has AVX2; the reads are inside `m` (checked above).
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2Fma {
        return unsafe { vector::output_avx2(t, m, spread, epilogue, plane) };
    }
    output_plane_portable(t, m, spread, epilogue, plane);
}

/// [`output_plane`] on 8 [`Plain`] lanes, compiled for any CPU: the reference arithmetic.
fn output_plane_portable(
    t: &Tiles,
    m: &[f32],
    spread: Spread,
    epilogue: Epilogue,
    plane: &mut [f32],
) {
    // SAFETY: as in `output_plane`, which checked the lengths.
    unsafe { output_tiles_of::<Plain<8>>(t, m, spread, epilogue, plane) }
}

/// [`output_tiles`] of `t`'s variant.
///
/// # Safety
/// As [`output_tiles`].
#[inline(always)]
unsafe fn output_tiles_of<V: Lanes>(
    t: &Tiles,
    m: &[f32],
    spread: Spread,
    epilogue: Epilogue,
    plane: &mut [f32],
) {
    // SAFETY: the caller's.
    unsafe {
        match t.variant {
            Variant::F2 => output_tiles::<F2, V>(t, m, spread, epilogue, plane),
            Variant::F4 => output_tiles::<F4, V>(t, m, spread, epilogue, plane),
        }
    }
}

/// The output transform of one plane, 8 tiles at a time (a row's last, partial run loaded
/// through a lane mask); each tile row's `m` output rows are stored lane-interleaved.
///
/// # Safety
/// `m` holds every point's tiles; `plane` is one `[H, W]` output plane.
#[inline(always)]
unsafe fn output_tiles<A: Algorithm, V: Lanes>(
    t: &Tiles,
    m: &[f32],
    spread: Spread,
    epilogue: Epilogue,
    plane: &mut [f32],
) {
    let (Spread { at, stride, rows }, Epilogue { bias, clamp }) = (spread, epilogue);
    let s = A::VARIANT.outputs();
    let a = A::VARIANT.inputs();
    let [h, w] = t.plane;
    let cols = t.cols();
    let src = m.as_ptr();
    let zero = V::splat(0.0);
    let b = V::splat(bias);
    for ty in rows.clone() {
        for tx in (0..cols).step_by(V::N) {
            let base = at + (ty - rows.start) * cols + tx;
            let run = V::N.min(cols - tx);
            let load = |x: usize| {
                // SAFETY: point `x`, tiles `base .. base + run` are inside `m`.
                unsafe {
                    let p = src.add(x * stride + base);
                    if run == V::N {
                        V::load(p)
                    } else {
                        V::load_first(p, run)
                    }
                }
            };
            // Columns first: column j of `At m` is `At` times column j of m.
            let mut columns = [[zero; 4]; 6];
            for (j, column) in columns.iter_mut().enumerate().take(a) {
                let mut mj = [zero; 6];
                for (i, mj) in mj.iter_mut().enumerate().take(a) {
                    *mj = load(a * i + j);
                }
                *column = A::output(mj);
            }
            for (i, qi) in transpose(columns).into_iter().enumerate().take(s) {
                let oy = s * ty + i;
                let ox = s * tx;
                if oy >= h {
                    break;
                }
                let mut y = A::output(qi);
                for yj in y.iter_mut().take(s) {
                    *yj = yj.add(b);
                    if let Some(c) = clamp {
                        *yj = yj.clamp(c);
                    }
                }
                let row = &mut plane[oy * w + ox..(oy + 1) * w];
                // SAFETY: `8 s` floats fit in `row` or in `tmp`.
                unsafe {
                    if row.len() >= s * V::N {
                        V::store_interleaved(&y[..s], row.as_mut_ptr());
                    } else {
                        let mut tmp = [0f32; 4 * MAX_TILES];
                        V::store_interleaved(&y[..s], tmp.as_mut_ptr());
                        let len = row.len();
                        row.copy_from_slice(&tmp[..len]);
                    }
                }
            }
        }
    }
}

/// The transforms compiled with AVX2: each 8-lane array operation one instruction. (Compiled
/// with AVX-512 on 16 lanes, the input transform was 5 % faster on VGG16 and the output
/// transform 20 % slower: not kept.)
#[cfg(target_arch = "x86_64")]
mod vector {
    use super::{Epilogue, Plain, PlaneLayout, Spread, Tiles, input_plane_of, output_tiles_of};

    /// [`super::transform_input_portable`] with AVX2, 8 tiles at a time.
    ///
    /// # Safety
    /// AVX2 must be available; as [`super::input_plane`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn input_avx2(
        t: &Tiles,
        layout: &PlaneLayout,
        scratch: &[f32],
        v: &mut [f32],
        spread: Spread,
    ) {
        unsafe { input_plane_of::<Plain<8>>(t, layout, scratch, v, spread) }
    }

    /// [`super::output_plane_portable`] with AVX2, 8 tiles at a time.
    ///
    /// # Safety
    /// AVX2 must be available; as [`super::output_tiles`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn output_avx2(
        t: &Tiles,
        m: &[f32],
        spread: Spread,
        epilogue: Epilogue,
        plane: &mut [f32],
    ) {
        unsafe { output_tiles_of::<Plain<8>>(t, m, spread, epilogue, plane) }
    }
}

/// `G g Gt` of a `[Cout, Cin, 3, 3]` kernel, as `[points, Cout, Cin]`, in f64 then rounded
/// once.
fn transform_kernel(variant: Variant, k: &[f32], cout: usize, cin: usize) -> Tensor {
    let g = match variant {
        Variant::F2 => F2::g(),
        Variant::F4 => F4::g(),
    };
    let a = variant.inputs();
    let mut u = vec![0f32; variant.points() * cout * cin];
    for o in 0..cout {
        for i in 0..cin {
            let kk = &k[(o * cin + i) * 9..][..9];
            // t = G g (a x 3), then t Gt (a x a).
            let mut t = [[0f64; 3]; 6];
            for (ta, ga) in t.iter_mut().zip(&g).take(a) {
                for (c, tac) in ta.iter_mut().enumerate() {
                    *tac = (0..3).map(|b| ga[b] * f64::from(kk[b * 3 + c])).sum();
                }
            }
            for (x, ta) in t.iter().enumerate().take(a) {
                for (y, gb) in g.iter().enumerate().take(a) {
                    let v: f64 = (0..3).map(|c| ta[c] * gb[c]).sum();
                    u[((x * a + y) * cout + o) * cin + i] = v as f32;
                }
            }
        }
    }
    Tensor::from_shape(&[variant.points(), cout, cin], &u).expect("sizes match")
}

/// Fewest input channels of a convolution run as Winograd (fewer: tract's im2col and one
/// matrix product are faster, the products being too thin).
pub const WINOGRAD_MIN_INPUT_CHANNELS: usize = 64;

/// Largest plane (height x width) run as F(2x2, 3x3) rather than F(4x4, 3x3): on VGG16's 14x14
/// maps F(4x4, 3x3) leaves 16 tiles per product, and its 36 thin products were measured
/// slower than F(2x2, 3x3)'s 16 (6.7-8.1 against 6.4-7.2 ms a layer).
pub const WINOGRAD_F2_MAX_PLANE: usize = 16 * 16;

/// Replaces each 3x3, stride-1, padding-1, group-1 f32 NCHW convolution of `model` with at
/// least [`WINOGRAD_MIN_INPUT_CHANNELS`] input channels, a constant kernel and bias, by the
/// Winograd sequence ([`Variant::for_plane`]), with the ReLU that follows fused in: where the
/// CPU has AVX-512, one [`WinogradConv`] when [fusing pays](WinogradConv::pays), else
/// [`WinogradInput`], [`WinogradProduct`] and [`WinogradOutput`]; elsewhere the input
/// transform, tract's matrix products and the output transform. Run it on a decluttered model,
/// before `into_optimized`. Returns how many convolutions were replaced.
pub fn use_winograd(model: &mut TypedModel) -> TractResult<usize> {
    use_winograd_with(model, |[h, w]| Some(Variant::for_plane(h * w)))
}

/// [`use_winograd`] with the variant chosen by `variant_for` from the map's `[height, width]`
/// (`None` leaves that convolution alone).
pub fn use_winograd_with(
    model: &mut TypedModel,
    variant_for: impl Fn([usize; 2]) -> Option<Variant>,
) -> TractResult<usize> {
    let mut done = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else {
            continue;
        };
        let spec = &conv.pool_spec;
        let explicit_one = match &spec.padding {
            PaddingSpec::Explicit(b, a) => b[..] == [1, 1] && a[..] == [1, 1],
            PaddingSpec::SameUpper | PaddingSpec::SameLower => true,
            _ => false,
        };
        if conv.q_params.is_some()
            || node.inputs.len() != 3
            || !matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
            || conv.kernel_fmt != KernelFormat::OIHW
            || conv.group != 1
            || spec.kernel_shape[..] != [3, 3]
            || spec.strides().iter().any(|&s| s != 1)
            || spec.dilations().iter().any(|&d| d != 1)
            || !explicit_one
            || conv.input_channels() < WINOGRAD_MIN_INPUT_CHANNELS
        {
            continue;
        }
        let x = model.outlet_fact(node.inputs[0])?;
        let (Some(shape), Some(kernel), Some(_)) = (
            x.shape.as_concrete(),
            model.outlet_fact(node.inputs[1])?.konst.clone(),
            model.outlet_fact(node.inputs[2])?.konst.clone(),
        ) else {
            continue;
        };
        if x.datum_type != f32::datum_type() || kernel.datum_type() != f32::datum_type() {
            continue;
        }
        let batch_axis = spec.data_format == DataFormat::NCHW;
        let (batch, hw) = if batch_axis {
            (shape[0], &shape[2..])
        } else {
            (1, &shape[1..])
        };
        let Some(variant) = (hw.len() == 2)
            .then(|| variant_for([hw[0], hw[1]]))
            .flatten()
        else {
            continue;
        };
        let (cin, cout) = (conv.input_channels(), conv.output_channels());
        let tiles = Tiles {
            plane: [hw[0], hw[1]],
            variant,
        };
        let u = transform_kernel(
            variant,
            kernel.try_as_plain_ram()?.as_slice::<f32>()?,
            cout,
            cin,
        );
        let (clamp, last) = clamp_after(model, OutletId::new(id, 0))?;
        let relu = clamp.filter(|c| c.lo == 0.0 && c.hi == f32::INFINITY);
        let last = if relu.is_some() {
            last
        } else {
            OutletId::new(id, 0)
        };
        let mut patch = TypedModelPatch::default();
        let inputs = patch.taps(model, &node.inputs)?;
        let name = &node.name;
        // Where the CPU has AVX-512 the products are ours (the tiles unpadded: see
        // `WinogradInput::padded`).
        let ours = crate::isa() >= Isa::Avx512;
        let fused = WinogradConv::new(tiles, [cin, cout], batch_axis, relu);
        if ours && fused.pays() {
            let u = patch.add_const(format!("{name}.winograd_kernel"), u)?;
            let y = patch.wire_node(name, fused, &[inputs[0], u, inputs[2]])?;
            patch.shunt_outside(model, last, y[0])?;
            patch.apply(model)?;
            done += 1;
            continue;
        }
        let v = patch.wire_node(
            format!("{name}.winograd_in"),
            WinogradInput {
                tiles,
                batch_axis,
                padded: false,
            },
            &[inputs[0]],
        )?;
        let u = patch.add_const(format!("{name}.winograd_kernel"), u)?;
        let m = if ours {
            let product = WinogradProduct {
                points: variant.points(),
                channels: [cin, cout],
                tiles: batch * tiles.per_plane(),
            };
            patch.wire_node(format!("{name}.winograd_product"), product, &[u, v[0]])?
        } else {
            let product = EinSum::new("gok,gkt->got".parse()?, f32::datum_type());
            patch.wire_node(format!("{name}.winograd_product"), product, &[u, v[0]])?
        };
        let y = patch.wire_node(
            name,
            WinogradOutput {
                tiles,
                channels: cout,
                batch_axis,
                batch,
                clamp: relu,
            },
            &[m[0], inputs[2]],
        )?;
        patch.shunt_outside(model, last, y[0])?;
        patch.apply(model)?;
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{same_bits, values};
    use super::*;
    use crate::isa;

    #[test]
    fn the_vector_transforms_give_the_bits_of_the_portable_ones() {
        let planes = [
            [1, 1],
            [2, 3],
            [7, 7],
            [14, 14],
            [13, 37],
            [28, 28],
            [56, 56],
        ];
        for variant in [Variant::F2, Variant::F4] {
            for (i, plane) in planes.into_iter().enumerate() {
                let t = Tiles { plane, variant };
                let layout = t.scratch_layout();
                let mut scratch = vec![0f32; layout.len];
                layout.fill(&values(plane[0] * plane[1], i as u64), &mut scratch);
                let (per, points) = (t.per_plane(), variant.points());
                let spread = Spread::whole(&t, 0, per);
                // 8 more floats than the tiles: a partial run must not spill into them.
                let (mut fast, mut slow) = (vec![f32::NAN; points * per + 8], vec![0f32; 0]);
                slow.resize(fast.len(), f32::NAN);
                transform_input_portable(&t, &layout, &scratch, &mut slow, spread.clone());
                for isa in [Isa::Portable, Isa::Avx2Fma]
                    .into_iter()
                    .filter(|&i| i <= isa())
                {
                    fast.fill(f32::NAN);
                    transform_input_on(isa, &t, &layout, &scratch, &mut fast, spread.clone());
                    assert!(
                        same_bits(&fast, &slow),
                        "{variant:?} input {plane:?} {isa:?}"
                    );
                }
                let (tiles, spill) = fast.split_at(points * per);
                assert!(tiles.iter().all(|v| v.is_finite()), "every tile written");
                assert!(spill.iter().all(|v| v.is_nan()), "nothing past the tiles");
                let m = values(points * per, 100 + i as u64);
                for clamp in [None, Some(Clamp { lo: 0.0, hi: 0.5 })] {
                    let n = plane[0] * plane[1];
                    let (mut fast, mut slow) = (vec![f32::NAN; n], vec![f32::NAN; n]);
                    let epilogue = Epilogue { bias: 0.25, clamp };
                    output_plane_portable(&t, &m, spread.clone(), epilogue, &mut slow);
                    for isa in [Isa::Portable, Isa::Avx2Fma]
                        .into_iter()
                        .filter(|&i| i <= isa())
                    {
                        fast.fill(f32::NAN);
                        output_plane_on(isa, &t, &m, spread.clone(), epilogue, &mut fast);
                        assert!(
                            same_bits(&fast, &slow),
                            "{variant:?} output {plane:?} {clamp:?} {isa:?}"
                        );
                    }
                    assert!(fast.iter().all(|v| v.is_finite()), "every point written");
                }
            }
        }
    }

    #[test]
    fn the_input_transform_makes_the_shape_it_declares() {
        for padded in [false, true] {
            for (variant, batch_axis, shape) in [
                (Variant::F4, true, [2usize, 3, 9, 10].as_slice()),
                (Variant::F2, false, &[3, 9, 10]),
            ] {
                let op = WinogradInput {
                    tiles: Tiles {
                        plane: [9, 10],
                        variant,
                    },
                    batch_axis,
                    padded,
                };
                let x = Tensor::from_shape(shape, &values(shape.iter().product(), 4)).unwrap();
                let facts = op.output_facts(&[&f32::fact(shape)]).unwrap();
                let v = op
                    .eval_out_of_plan(tvec![x.into_tvalue()])
                    .unwrap()
                    .unwrap();
                assert_eq!(facts[0].shape.as_concrete().unwrap(), v[0].shape());
            }
        }
    }

    #[test]
    fn the_product_op_multiplies_each_point() {
        // Tiles that are not whole registers, channels that are not whole tiles of 6.
        for (points, cin, cout, tiles) in [(16, 3, 7, 49), (36, 64, 13, 50), (4, 1, 1, 17)] {
            let op = WinogradProduct {
                points,
                channels: [cin, cout],
                tiles,
            };
            let u = values(points * cout * cin, 1);
            let v = values(points * cin * tiles, 2);
            let m = op
                .eval_out_of_plan(tvec![
                    Tensor::from_shape(&[points, cout, cin], &u)
                        .unwrap()
                        .into_tvalue(),
                    Tensor::from_shape(&[points, cin, tiles], &v)
                        .unwrap()
                        .into_tvalue(),
                ])
                .unwrap()
                .unwrap();
            // The shape the op declares is the one it makes.
            let facts = op
                .output_facts(&[
                    &f32::fact([points, cout, cin]),
                    &f32::fact([points, cin, tiles]),
                ])
                .unwrap();
            assert_eq!(facts[0].shape.as_concrete().unwrap(), m[0].shape());
            let m = floats(&m[0]);
            // Each point's block padded to an odd number of cache lines.
            let stride = padded_stride(cout * tiles);
            assert_eq!(m.len(), points * stride);
            for x in 0..points {
                for o in 0..cout {
                    for t in 0..tiles {
                        let want: f64 = (0..cin)
                            .map(|i| {
                                u[(x * cout + o) * cin + i] as f64
                                    * v[(x * cin + i) * tiles + t] as f64
                            })
                            .sum();
                        let got = m[x * stride + o * tiles + t] as f64;
                        assert!((got - want).abs() <= 1e-6 * (1.0 + cin as f64), "{op:?}");
                    }
                }
            }
            // The tiles padded as `WinogradInput::padded` lays them out (NaNs in the padding,
            // never read): the same bits.
            let sv = padded_stride(cin * tiles);
            let mut padded = vec![f32::NAN; points * sv];
            for (block, dense) in padded.chunks_exact_mut(sv).zip(v.chunks_exact(cin * tiles)) {
                block[..cin * tiles].copy_from_slice(dense);
            }
            let again = op
                .eval_out_of_plan(tvec![
                    Tensor::from_shape(&[points, cout, cin], &u)
                        .unwrap()
                        .into_tvalue(),
                    Tensor::from_shape(&[points, sv], &padded)
                        .unwrap()
                        .into_tvalue(),
                ])
                .unwrap()
                .unwrap();
            let again = floats(&again[0]);
            for x in 0..points {
                let block = |m: &[f32]| m[x * stride..][..cout * tiles].to_vec();
                assert!(same_bits(&block(&again), &block(&m)), "{op:?} padded");
            }
            // Shapes that do not fit are refused.
            let bad = op.eval_out_of_plan(tvec![
                Tensor::from_shape(&[points, cout, cin], &u)
                    .unwrap()
                    .into_tvalue(),
                Tensor::from_shape(&[1, v.len()], &v).unwrap().into_tvalue(),
            ]);
            assert!(format!("{:#}", bad.unwrap_err()).contains("winograd product"));
        }
    }

    fn tensor(shape: &[usize], values: &[f32]) -> TValue {
        Tensor::from_shape(shape, values).unwrap().into_tvalue()
    }

    fn floats(t: &Tensor) -> Vec<f32> {
        t.try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec()
    }

    #[test]
    fn the_fused_op_gives_the_bits_of_the_three_steps() {
        // Planes that are not whole tiles, runs of tiles that are not whole registers, bands of
        // one row, of several (the last one short) and of the whole plane, a batch, no batch
        // axis, a single bias, a ReLU.
        let relu = Clamp {
            lo: 0.0,
            hi: f32::INFINITY,
        };
        for (variant, plane, [cin, cout], batch, bands, clamp, one_bias) in [
            (
                Variant::F4,
                [13, 37],
                [5, 7],
                Some(2),
                [1, 3, 4],
                None,
                false,
            ),
            (
                Variant::F4,
                [23, 22],
                [16, 6],
                None,
                [1, 2, 6],
                Some(relu),
                false,
            ),
            (
                Variant::F2,
                [9, 10],
                [3, 13],
                Some(1),
                [1, 2, 5],
                Some(relu),
                true,
            ),
            (Variant::F2, [1, 40], [8, 2], None, [1, 1, 1], None, false),
        ] {
            let tiles = Tiles { plane, variant };
            let [h, w] = plane;
            let n = batch.unwrap_or(1);
            let shape: Vec<usize> = match batch {
                Some(n) => vec![n, cin, h, w],
                None => vec![cin, h, w],
            };
            let x = values(n * cin * h * w, 7);
            let k = values(cout * cin * 9, 8);
            let u = transform_kernel(variant, &k, cout, cin);
            let bias = if one_bias {
                vec![0.125]
            } else {
                values(cout, 9)
            };
            let bias = tensor(&[bias.len()], &bias);
            // The three steps.
            let input = WinogradInput {
                tiles,
                batch_axis: batch.is_some(),
                padded: true,
            };
            let v = input
                .eval_out_of_plan(tvec![tensor(&shape, &x)])
                .unwrap()
                .unwrap();
            let product = WinogradProduct {
                points: variant.points(),
                channels: [cin, cout],
                tiles: n * tiles.per_plane(),
            };
            let m = product
                .eval_out_of_plan(tvec![u.clone().into_tvalue(), v[0].clone()])
                .unwrap()
                .unwrap();
            let output = WinogradOutput {
                tiles,
                channels: cout,
                batch_axis: batch.is_some(),
                batch: n,
                clamp,
            };
            let want = output
                .eval_out_of_plan(tvec![m[0].clone(), bias.clone()])
                .unwrap()
                .unwrap();
            let want = floats(&want[0]);
            for band in bands {
                let mut fused = WinogradConv::new(tiles, [cin, cout], batch.is_some(), clamp);
                fused.band = band;
                let got = fused
                    .eval_out_of_plan(tvec![
                        tensor(&shape, &x),
                        u.clone().into_tvalue(),
                        bias.clone()
                    ])
                    .unwrap()
                    .unwrap();
                let facts = fused
                    .output_facts(&[
                        &f32::fact(&shape),
                        &f32::fact(u.shape()),
                        &f32::fact(bias.shape()),
                    ])
                    .unwrap();
                assert_eq!(facts[0].shape.as_concrete().unwrap(), got[0].shape());
                assert!(
                    same_bits(&floats(&got[0]), &want),
                    "{variant:?} {plane:?} {cin}->{cout} band {band}"
                );
            }
            // Inputs that do not fit are refused, naming the op.
            let fused = WinogradConv::new(tiles, [cin + 1, cout], batch.is_some(), clamp);
            let bad = fused.eval_out_of_plan(tvec![tensor(&shape, &x), u.into_tvalue(), bias]);
            assert!(format!("{:#}", bad.unwrap_err()).contains("winograd conv"));
        }
        let input = WinogradInput {
            tiles: Tiles {
                plane: [0, 4],
                variant: Variant::F2,
            },
            batch_axis: false,
            padded: false,
        };
        let bad = input.eval_out_of_plan(tvec![tensor(&[3, 0, 4], &[])]);
        assert!(format!("{:#}", bad.unwrap_err()).contains("empty 0x4 planes"));
        // So are empty planes and channels (an error, not a panic).
        for (plane, channels) in [([0, 5], [2, 2]), ([3, 3], [0, 2])] {
            let tiles = Tiles {
                plane,
                variant: Variant::F2,
            };
            let fused = WinogradConv::new(tiles, channels, true, None);
            let [h, w] = plane;
            let x = tensor(&[1, channels[0], h, w], &[]);
            let u = tensor(
                &[16, channels[1], channels[0]],
                &vec![0.0; 16 * channels[1] * channels[0]],
            );
            let bias = tensor(&[channels[1]], &vec![0.0; channels[1]]);
            let bad = fused.eval_out_of_plan(tvec![x, u, bias]);
            assert!(format!("{:#}", bad.unwrap_err()).contains("nothing to convolve"));
        }
    }

    #[test]
    fn the_kernel_transform_is_g_g_gt() {
        // A kernel of ones: G 1 Gt has the row sums of G times the column sums of Gt.
        for (variant, sums) in [
            (Variant::F2, &[1.0, 1.5, 0.5, 1.0][..]),
            (
                Variant::F4,
                &[0.25, -0.5, -1.0 / 6.0, 7.0 / 24.0, 0.125, 1.0][..],
            ),
        ] {
            let u = transform_kernel(variant, &[1.0; 9], 1, 1);
            let u = floats(&u);
            let a = variant.inputs();
            assert_eq!(u.len(), a * a);
            for x in 0..a {
                for y in 0..a {
                    let want = sums[x] * sums[y];
                    let got = f64::from(u[x * a + y]);
                    assert!(
                        (got - want).abs() <= 1e-7 * want.abs(),
                        "{variant:?} ({x}, {y})"
                    );
                }
            }
        }
    }
}
