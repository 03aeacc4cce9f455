//! Rewrites of a decluttered tract model that [`crate::TractBackend`] applies before tract
//! optimises it ([`tune`]); each was measured on this project's models (see the README).
//!
//! ## Depthwise convolutions: [`use_fast_depthwise`]
//!
//! tract lowers a depthwise `Conv` on NCHW data to its `DepthWise` op, which walks each channel
//! zone by zone (borders apart) and, on x86_64, one output point at a time: on EfficientNet-Lite0
//! that op took 15 of the 37 ms of an image, most of it on the 7x7 and 14x14 maps where the
//! zones are a few points wide. [`DepthwiseConv2d`] instead copies each channel once into a
//! zero-padded scratch plane (split into `stride` column phases, so that every tap reads
//! contiguous columns) and computes each output row in runs of 8 lanes, with no borders to
//! special-case.
//!
//! Arithmetic: each output is `bias`, then one fused multiply-add per tap in (row, column)
//! order. The AVX2 path and the portable path do exactly that, so they give the same bits.
//!
//! ## Thick convolutions: [`use_im2col_for_thick_convs`]
//!
//! tract runs a group-1 NCHW convolution of up to 576 inputs per output point (input channels x
//! kernel taps) with its direct spatial kernel, on rows of 128 points or more. On VGG16 that
//! made `block1_conv2` (64 channels x 3x3 = 576) take 313 of the 820 ms of an image, against
//! 72 ms through im2col and a matrix product; `block1_conv1` (3 x 3x3 = 27) is the other way
//! round (6 ms direct, 28 ms im2col). Above 64 inputs per point (tract's own limit where AMX
//! runs the products) those convolutions are lowered through im2col.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Output points computed together (one AVX2 register each, up to four registers).
const LANES: usize = 8;

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

/// Depthwise 2-D convolution of NCHW f32 data: inputs `[N, C, H, W]` (or `[C, H, W]`), kernel
/// `[C, 1, KH, KW]`, bias `[C]` (or one value); output `[N, C, OH, OW]` (or `[C, OH, OW]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DepthwiseConv2d {
    /// The per-plane geometry.
    pub geometry: Geometry,
    /// `false` when the data has no batch axis (`[C, H, W]`, what tract leaves of a batch of 1).
    pub batch_axis: bool,
}

impl Op for DepthwiseConv2d {
    fn name(&self) -> StaticName {
        "CatclassDepthwiseConv2d".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?}", self.geometry)])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwiseConv2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, kernel, bias) = args_3!(inputs);
        let shape = x.shape();
        let (n, c) = match *shape {
            [n, c, _, _] if self.batch_axis => (n, c),
            [c, _, _] if !self.batch_axis => (1, c),
            _ => bail!("depthwise conv: input of shape {shape:?}"),
        };
        let g = &self.geometry;
        let [h, w] = g.input;
        let [kh, kw] = g.kernel;
        let [oh, ow] = g.output;
        ensure!(
            shape[shape.len() - 2..] == [h, w] && kernel.len() == c * kh * kw,
            "depthwise conv: input {shape:?} or kernel {:?} does not match {g:?}",
            kernel.shape()
        );
        let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let kernel = kernel.try_as_plain_ram()?.as_slice::<f32>()?;
        let bias = bias.try_as_plain_ram()?.as_slice::<f32>()?;
        ensure!(
            bias.len() == c || bias.len() == 1,
            "depthwise conv: bias of {} values for {c} channels",
            bias.len()
        );
        let out_shape: TVec<usize> = if self.batch_axis {
            tvec![n, c, oh, ow]
        } else {
            tvec![c, oh, ow]
        };
        // SAFETY: every element is written below (each plane's every output point) before the
        // tensor is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&out_shape)? };
        let mut view = out.try_as_plain_ram_mut()?;
        let out_slice = view.as_slice_mut::<f32>()?;
        let layout = PlaneLayout::new(*g);
        let mut scratch = vec![0f32; layout.len];
        for (plane, (input, output)) in x
            .chunks_exact(h * w)
            .zip(out_slice.chunks_exact_mut(oh * ow))
            .enumerate()
        {
            let ch = plane % c;
            let b = if bias.len() == 1 { bias[0] } else { bias[ch] };
            layout.fill(input, &mut scratch);
            layout.convolve(&scratch, &kernel[ch * kh * kw..][..kh * kw], b, output);
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DepthwiseConv2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.len() == 3,
            "depthwise conv takes input, kernel and bias"
        );
        let rank = inputs[0].rank();
        let [oh, ow] = self.geometry.output;
        let mut shape: TVec<TDim> = inputs[0].shape.iter().take(rank - 2).cloned().collect();
        shape.extend([oh.to_dim(), ow.to_dim()]);
        Ok(tvec!(f32::fact(shape)))
    }

    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let [kh, kw] = self.geometry.kernel;
        let [oh, ow] = self.geometry.output;
        let rank = inputs[0].rank();
        let planes: TDim = inputs[0].shape.iter().take(rank - 2).product();
        Ok(tvec!((
            Cost::FMA(f32::datum_type()),
            planes * (kh * kw * oh * ow)
        )))
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
    /// Scratch offset of each tap (row-major over the kernel) for output point (0, 0).
    taps: Vec<usize>,
    /// Output width rounded up to whole runs of [`LANES`].
    wide: usize,
}

impl PlaneLayout {
    fn new(g: Geometry) -> Self {
        let [h, w] = g.input;
        let [kh, kw] = g.kernel;
        let [sy, sx] = g.strides;
        let [pt, pl] = g.pad_before;
        let [oh, _] = g.output;
        let wide = g.output[1].div_ceil(LANES) * LANES;
        // Every tap of every output point reads inside its phase: column `ox + kx / sx` with
        // `ox < wide`, row `oy * sy + ky`.
        let row = (wide + (kw - 1) / sx + 1).max((w + pl).div_ceil(sx));
        let rows = (h + pt).max((oh - 1) * sy + kh);
        let phase = rows * row;
        let column = (0..w)
            .map(|x| (x + pl) % sx * phase + pt * row + (x + pl) / sx)
            .collect();
        let taps = (0..kh)
            .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| (kx % sx) * phase + ky * row + kx / sx)
            .collect();
        Self {
            g,
            row,
            len: sx * phase,
            column,
            taps,
            wide,
        }
    }

    /// Copies one input plane into the scratch plane (zeroed once: the cells this leaves alone
    /// are the padding, the same for every plane).
    fn fill(&self, input: &[f32], scratch: &mut [f32]) {
        let [_, w] = self.g.input;
        let rows = input.chunks_exact(w).enumerate();
        match self.g.strides[1] {
            1 => {
                for (y, src) in rows {
                    scratch[y * self.row + self.column[0]..][..w].copy_from_slice(src);
                }
            }
            2 if w >= 2 => {
                // Even columns go to one phase, odd columns to the other, both contiguous.
                let (even, odd) = (self.column[0], self.column[1]);
                for (y, src) in rows {
                    let at = y * self.row;
                    let (e, o) = (&mut scratch[at + even..][..w.div_ceil(2)], at + odd);
                    for (d, s) in e.iter_mut().zip(src.iter().step_by(2)) {
                        *d = *s;
                    }
                    for (d, s) in scratch[o..][..w / 2]
                        .iter_mut()
                        .zip(src.iter().skip(1).step_by(2))
                    {
                        *d = *s;
                    }
                }
            }
            _ => {
                for (y, src) in rows {
                    for (&v, &col) in src.iter().zip(&self.column) {
                        scratch[y * self.row + col] = v;
                    }
                }
            }
        }
    }

    /// Computes one output plane from its scratch plane.
    fn convolve(&self, scratch: &[f32], kernel: &[f32], bias: f32, out: &mut [f32]) {
        assert!(scratch.len() >= self.len && kernel.len() == self.taps.len());
        assert_eq!(out.len(), self.g.output[0] * self.g.output[1]);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA; every read is inside the scratch plane (see
            // `PlaneLayout::new`), whose length was just checked.
            unsafe { avx2::convolve(self, scratch, kernel, bias, out) };
            return;
        }
        self.convolve_portable(scratch, kernel, bias, out);
    }

    /// The reference arithmetic: `bias`, then one fused multiply-add per tap in (row, column)
    /// order.
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
                *o = acc;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{LANES, PlaneLayout};
    use std::arch::x86_64::*;

    /// [`PlaneLayout::convolve_portable`] on tiles of up to 8 registers: 2 rows of up to 32
    /// output points, or 4 rows of 8 on narrow maps, so that the fused multiply-adds of a tap
    /// form independent chains.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `scratch` must hold `layout.len` floats, `kernel` one
    /// per tap and `out` the output plane.
    #[target_feature(enable = "avx2,fma")]
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
            let rows = if runs == 1 { 4 } else { 2 };
            let mut oy = 0;
            // SAFETY (every call): the caller's contract.
            while oy + rows <= oh {
                unsafe {
                    match runs {
                        4 => tile::<2, 4>(layout, scratch, kernel, bias, out, oy, ox),
                        3 => tile::<2, 3>(layout, scratch, kernel, bias, out, oy, ox),
                        2 => tile::<2, 2>(layout, scratch, kernel, bias, out, oy, ox),
                        _ => tile::<4, 1>(layout, scratch, kernel, bias, out, oy, ox),
                    }
                }
                oy += rows;
            }
            for oy in oy..oh {
                unsafe {
                    match runs {
                        4 => tile::<1, 4>(layout, scratch, kernel, bias, out, oy, ox),
                        3 => tile::<1, 3>(layout, scratch, kernel, bias, out, oy, ox),
                        2 => tile::<1, 2>(layout, scratch, kernel, bias, out, oy, ox),
                        _ => tile::<1, 1>(layout, scratch, kernel, bias, out, oy, ox),
                    }
                }
            }
            ox += runs * LANES;
        }
    }

    /// Output rows `oy..oy + ROWS`, points `ox..ox + 8 * RUNS` of each (those inside the
    /// width are stored).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const ROWS: usize, const RUNS: usize>(
        layout: &PlaneLayout,
        scratch: &[f32],
        kernel: &[f32],
        bias: f32,
        out: &mut [f32],
        oy: usize,
        ox: usize,
    ) {
        let row_step = layout.g.strides[0] * layout.row;
        let base = unsafe { scratch.as_ptr().add(oy * row_step + ox) };
        let mut acc = [[_mm256_set1_ps(bias); RUNS]; ROWS];
        for (&tap, &k) in layout.taps.iter().zip(kernel) {
            let k = _mm256_set1_ps(k);
            for (y, row) in acc.iter_mut().enumerate() {
                // SAFETY: `PlaneLayout::new` sizes the scratch so that every tile reads inside it.
                let src = unsafe { base.add(y * row_step + tap) };
                for (r, a) in row.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(unsafe { _mm256_loadu_ps(src.add(r * LANES)) }, k, *a);
                }
            }
        }
        let ow = layout.g.output[1];
        for (y, row) in acc.iter().enumerate() {
            let out_row = &mut out[(oy + y) * ow..][..ow];
            for (r, a) in row.iter().enumerate() {
                let start = ox + r * LANES;
                if start + LANES <= ow {
                    unsafe { _mm256_storeu_ps(out_row.as_mut_ptr().add(start), *a) };
                } else if start < ow {
                    let mut tmp = [0f32; LANES];
                    unsafe { _mm256_storeu_ps(tmp.as_mut_ptr(), *a) };
                    out_row[start..].copy_from_slice(&tmp[..ow - start]);
                }
            }
        }
    }
}

/// What [`tune`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    /// Depthwise convolutions now run by [`DepthwiseConv2d`].
    pub depthwise: usize,
    /// Convolutions lowered through im2col rather than tract's direct spatial kernel.
    pub im2col: usize,
}

/// Applies every rewrite of this module to a decluttered model, before `into_optimized`.
pub fn tune(model: &mut TypedModel) -> TractResult<Tuning> {
    Ok(Tuning {
        depthwise: use_fast_depthwise(model)?,
        im2col: use_im2col_for_thick_convs(model)?,
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

/// Replaces each depthwise `Conv` of `model` (f32, NCHW, OIHW kernel, 2-D, no dilation, fixed
/// shape) by [`DepthwiseConv2d`]. Run it on a decluttered model, before `into_optimized`.
/// Returns how many convolutions were replaced.
pub fn use_fast_depthwise(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else {
            continue;
        };
        let Some(geometry) = depthwise_geometry(model, node, conv)? else {
            continue;
        };
        let batch_axis = conv.pool_spec.data_format == DataFormat::NCHW;
        let op = DepthwiseConv2d {
            geometry,
            batch_axis,
        };
        let patch = TypedModelPatch::replace_single_op(model, node, &node.inputs, op)?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}

fn depthwise_geometry(
    model: &TypedModel,
    node: &TypedNode,
    conv: &Conv,
) -> TractResult<Option<Geometry>> {
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
    let c = x[1];
    if x.len() != 4
        || conv.group != c
        || conv.input_channels() != c
        || conv.output_channels() != c
        || k != [c, 1, spec.kernel_shape[0], spec.kernel_shape[1]]
    {
        return Ok(None);
    }
    let bias = facts[2].shape.volume();
    if bias != 1.to_dim() && bias != c.to_dim() {
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
    Ok(Some(geometry))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
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
        use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
        let mut model = TypedModel::default();
        let x = model
            .add_source("x", f32::fact([1, channels, 16, width]))
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
        let y = model.wire_node("conv", conv, &[x, k, b]).unwrap();
        model.select_output_outlets(&y).unwrap();
        model.into_decluttered().unwrap()
    }

    fn run(model: TypedModel, channels: usize, width: usize) -> (Vec<f32>, usize) {
        let plan = model.into_optimized().unwrap();
        let direct = plan
            .nodes()
            .iter()
            .filter(|n| n.op().name() == "DirectSpatialConv")
            .count();
        let x = Tensor::from_shape(&[1, channels, 16, width], &values(channels * 16 * width, 7))
            .unwrap();
        let out = plan.into_runnable().unwrap().run(tvec![x.into()]).unwrap();
        (
            out[0]
                .try_as_plain_ram()
                .unwrap()
                .as_slice::<f32>()
                .unwrap()
                .to_vec(),
            direct,
        )
    }

    #[test]
    fn thick_convolutions_go_through_im2col_with_the_same_results() {
        for (channels, width) in [(8, 130), (3, 130), (8, 20)] {
            let (untuned, direct) = run(one_conv(channels, width), channels, width);
            let mut tuned = one_conv(channels, width);
            let lowered = use_im2col_for_thick_convs(&mut tuned).unwrap();
            let (got, direct_left) = run(tuned, channels, width);
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

    #[test]
    fn every_geometry_matches_a_direct_convolution() {
        let (n, c) = (2, 3);
        for (i, g) in geometries().into_iter().enumerate() {
            let [h, w] = g.input;
            let [kh, kw] = g.kernel;
            let [oh, ow] = g.output;
            let x = values(n * c * h * w, i as u64);
            let k = values(c * kh * kw, 1000 + i as u64);
            let b = values(c, 2000 + i as u64);
            let op = DepthwiseConv2d {
                geometry: g,
                batch_axis: true,
            };
            let out = op
                .eval_out_of_plan(tvec![
                    Tensor::from_shape(&[n, c, h, w], &x).unwrap().into_tvalue(),
                    Tensor::from_shape(&[c, 1, kh, kw], &k)
                        .unwrap()
                        .into_tvalue(),
                    Tensor::from_shape(&[c], &b).unwrap().into_tvalue(),
                ])
                .unwrap()
                .unwrap();
            assert_eq!(out[0].shape(), [n, c, oh, ow], "{g:?}");
            let got = out[0]
                .try_as_plain_ram()
                .unwrap()
                .as_slice::<f32>()
                .unwrap()
                .to_vec();
            for plane in 0..n * c {
                let ch = plane % c;
                let want = reference(
                    &g,
                    &x[plane * h * w..][..h * w],
                    &k[ch * kh * kw..][..kh * kw],
                    b[ch],
                );
                for (j, (&o, &r)) in got[plane * oh * ow..][..oh * ow]
                    .iter()
                    .zip(&want)
                    .enumerate()
                {
                    assert!(
                        (o as f64 - r).abs() <= 1e-5 * (1.0 + r.abs()),
                        "{g:?} plane {plane} point {j}: {o} vs {r}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_vector_path_gives_the_bits_of_the_portable_path() {
        for (i, g) in geometries().into_iter().enumerate() {
            let [h, w] = g.input;
            let layout = PlaneLayout::new(g);
            let mut scratch = vec![0f32; layout.len];
            layout.fill(&values(h * w, 7 + i as u64), &mut scratch);
            let k = values(g.kernel[0] * g.kernel[1], 3000 + i as u64);
            let mut fast = vec![f32::NAN; g.output[0] * g.output[1]];
            let mut slow = fast.clone();
            layout.convolve(&scratch, &k, 0.25, &mut fast);
            layout.convolve_portable(&scratch, &k, 0.25, &mut slow);
            assert!(
                fast.iter()
                    .zip(&slow)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{g:?}"
            );
        }
    }

    #[test]
    fn batchless_input_and_a_single_bias_value() {
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
        let op = DepthwiseConv2d {
            geometry: g,
            batch_axis: false,
        };
        let fact = op
            .output_facts(&[
                &f32::fact([c, 9, 10]),
                &f32::fact([c, 1, 3, 3]),
                &f32::fact([1]),
            ])
            .unwrap();
        assert_eq!(fact[0].shape.as_concrete().unwrap(), [c, 5, 5]);
        let out = op
            .eval_out_of_plan(tvec![
                Tensor::from_shape(&[c, 9, 10], &x).unwrap().into_tvalue(),
                Tensor::from_shape(&[c, 1, 3, 3], &k).unwrap().into_tvalue(),
                Tensor::from_shape(&[1], &[0.5f32]).unwrap().into_tvalue(),
            ])
            .unwrap()
            .unwrap();
        let got = out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        for ch in 0..c {
            let want = reference(&g, &x[ch * 90..][..90], &k[ch * 9..][..9], 0.5);
            for (&o, &r) in got[ch * 25..][..25].iter().zip(&want) {
                assert!((o as f64 - r).abs() <= 1e-5);
            }
        }
        // A 4-D input for a batch-less op is refused, not misread.
        let err = op
            .eval_out_of_plan(tvec![
                Tensor::from_shape(&[1, c, 9, 10], &x)
                    .unwrap()
                    .into_tvalue(),
                Tensor::from_shape(&[c, 1, 3, 3], &k).unwrap().into_tvalue(),
                Tensor::from_shape(&[1], &[0.5f32]).unwrap().into_tvalue(),
            ])
            .unwrap_err();
        assert!(format!("{err:#}").contains("depthwise conv"), "{err:#}");
    }
}
