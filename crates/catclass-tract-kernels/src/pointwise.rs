//! 1x1 convolutions ([`PointwiseConv`]) and the rewrite that puts them in
//! ([`use_pointwise_convs`]).
//!
//! tract declutters a 1x1, stride-1, unpadded NCHW convolution into an `EinSum` (then the bias
//! `Add`, the clamp, the residual `Add` of an inverted-residual block), and runs it as a matrix
//! product whose activations it packs on every run: on EfficientNet-Lite0 the packing alone was
//! about a tenth of an image's time. [`PointwiseConv`] reads the activations where they lie (each
//! input channel is a contiguous row of points) with the points in the vector lanes (16 per
//! AVX-512 register, tiles of 6 output channels x 64 points, each weight broadcast once per
//! tile), and fuses the bias, the clamp and the residual add into its stores.
//!
//! Arithmetic: each output is `bias`, then one fused multiply-add per input channel in channel
//! order, then the clamp, then the residual added. The AVX-512 path and the portable path do
//! exactly that, so they give the same bits.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::einsum::EinSum;

use crate::cpu::{Isa, isa};
use crate::{Clamp, clamp_after};

/// f32 lanes in one AVX-512 register.
const LANES: usize = 16;

/// 1x1 convolution of f32 data: `out[co, p] = clamp(bias[co] + sum_ci w[co, ci] x[ci, p]) +
/// residual[co, p]`, for each image of the batch. Inputs: the activations (`[N, cin, ...]` or
/// `[cin, ...]`, `points` values per channel), the weights (`[cout, cin]`), the bias
/// (`cout` values), and when [`Self::residual`] a tensor of the output's shape; output
/// [`Self::output_shape`].
///
/// ```
/// use catclass_tract_kernels::PointwiseConv;
/// use tract_onnx::prelude::*;
/// use tract_onnx::tract_core::internal::{EvalOp, tvec};
///
/// // 2 -> 3 channels on a 2x2 map, no clamp, no residual.
/// let op = PointwiseConv {
///     channels: [2, 3],
///     points: 4,
///     clamp: None,
///     residual: false,
///     output_shape: tvec![3, 2, 2],
/// };
/// let x = Tensor::from_shape(&[2, 2, 2], &[1f32, 2., 3., 4., 10., 20., 30., 40.])?;
/// let w = Tensor::from_shape(&[3, 2], &[1f32, 0., 0., 1., 1., 1.])?; // [cout, cin]
/// let b = Tensor::from_shape(&[3], &[0f32, 0., 0.5])?;
/// let y = op.eval_out_of_plan(tvec![x.into(), w.into(), b.into()])?.expect("evaluated");
/// let y = y[0].try_as_plain_ram()?;
/// assert_eq!(y.as_slice::<f32>()?, [1., 2., 3., 4., 10., 20., 30., 40., 11.5, 22.5, 33.5, 44.5]);
/// # Ok::<(), TractError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PointwiseConv {
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Points of one channel of one image (height x width).
    pub points: usize,
    /// The activation fused into the output, if any.
    pub clamp: Option<Clamp>,
    /// Whether a fourth input, of the output's shape, is added after the clamp.
    pub residual: bool,
    /// The output's shape.
    pub output_shape: TVec<usize>,
}

impl Op for PointwiseConv {
    fn name(&self) -> StaticName {
        "CatclassPointwiseConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "channels {:?}, points {}, clamp {:?}, residual {}",
            self.channels, self.points, self.clamp, self.residual
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for PointwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let [cin, cout] = self.channels;
        let per_image_out = cout * self.points;
        let len: usize = self.output_shape.iter().product();
        ensure!(
            inputs.len() == 3 + usize::from(self.residual),
            "pointwise conv: {} inputs",
            inputs.len()
        );
        ensure!(
            per_image_out > 0 && len.is_multiple_of(per_image_out),
            "pointwise conv: output {:?} is not whole images of {cout} x {} values",
            self.output_shape,
            self.points
        );
        let images = len / per_image_out;
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let w = inputs[1].try_as_plain_ram()?;
        let w = w.as_slice::<f32>()?;
        let bias = inputs[2].try_as_plain_ram()?;
        let bias = bias.as_slice::<f32>()?;
        ensure!(
            x.len() == images * cin * self.points,
            "pointwise conv: input of shape {:?}, expected {images} x {cin} x {} values",
            inputs[0].shape(),
            self.points
        );
        ensure!(
            w.len() == cin * cout && bias.len() == cout,
            "pointwise conv: {} weights and {} biases for {:?} channels",
            w.len(),
            bias.len(),
            self.channels
        );
        let residual = match inputs.get(3) {
            Some(r) => Some(r.try_as_plain_ram()?),
            None => None,
        };
        let residual = match &residual {
            Some(r) => {
                let r = r.as_slice::<f32>()?;
                ensure!(
                    r.len() == len,
                    "pointwise conv: residual of shape {:?}, expected {:?}",
                    inputs[3].shape(),
                    self.output_shape
                );
                Some(r)
            }
            None => None,
        };
        // SAFETY: every element is written below (each image's every output point) before the
        // tensor is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
        let mut view = out.try_as_plain_ram_mut()?;
        let shape = Shape {
            channels: self.channels,
            points: self.points,
            clamp: self.clamp,
        };
        let outs = view.as_slice_mut::<f32>()?.chunks_exact_mut(per_image_out);
        for (i, out) in outs.enumerate() {
            let x = &x[i * cin * self.points..][..cin * self.points];
            let res = residual.map(|r| &r[i * per_image_out..][..per_image_out]);
            shape.run(x, w, bias, res, out);
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for PointwiseConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.len() == 3 + usize::from(self.residual),
            "pointwise conv takes input, weights, bias{}",
            if self.residual { " and residual" } else { "" }
        );
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    fn cost(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let len: usize = self.output_shape.iter().product();
        Ok(tvec!((
            Cost::FMA(f32::datum_type()),
            (len * self.channels[0]).to_dim()
        )))
    }

    as_op!();
}

/// What one image's kernel needs to know.
#[derive(Debug, Clone, Copy)]
struct Shape {
    channels: [usize; 2],
    points: usize,
    clamp: Option<Clamp>,
}

impl Shape {
    /// One image: `x` `[cin, points]`, `w` `[cout, cin]`, `out` (and `res`) `[cout, points]`.
    fn run(&self, x: &[f32], w: &[f32], bias: &[f32], res: Option<&[f32]>, out: &mut [f32]) {
        let [cin, cout] = self.channels;
        assert!(x.len() == cin * self.points && out.len() == cout * self.points);
        assert!(w.len() == cin * cout && bias.len() == cout);
        assert!(res.is_none_or(|r| r.len() == out.len()));
        #[cfg(target_arch = "x86_64")]
        if isa() >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F; the lengths were just checked.
            unsafe { avx512::run(self, x, w, bias, res, out) };
            return;
        }
        self.run_portable(x, w, bias, res, out);
    }

    /// The reference arithmetic: `bias`, one fused multiply-add per input channel in order,
    /// the clamp, the residual.
    fn run_portable(
        &self,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        res: Option<&[f32]>,
        out: &mut [f32],
    ) {
        let [cin, cout] = self.channels;
        let points = self.points;
        for co in 0..cout {
            for p in 0..points {
                let mut acc = bias[co];
                for ci in 0..cin {
                    acc = x[ci * points + p].mul_add(w[co * cin + ci], acc);
                }
                let at = co * points + p;
                out[at] = finish(acc, self.clamp, res.map(|r| r[at]));
            }
        }
    }
}

/// `out[co, p] = sum_ci w[co, ci] x[ci, p]` for one `[cin, points]` input and `[cout, cin]`
/// weights: [`PointwiseConv`]'s kernel without bias, clamp or residual (Winograd's products).
/// `zeros` holds `cout` zeros.
pub(crate) fn product(
    channels: [usize; 2],
    points: usize,
    x: &[f32],
    w: &[f32],
    zeros: &[f32],
    out: &mut [f32],
) {
    let shape = Shape {
        channels,
        points,
        clamp: None,
    };
    shape.run(x, w, zeros, None, out);
}

/// The clamp, then the residual, of one accumulated output.
fn finish(acc: f32, clamp: Option<Clamp>, res: Option<f32>) -> f32 {
    let v = match clamp {
        Some(c) => acc.max(c.lo).min(c.hi),
        None => acc,
    };
    match res {
        Some(r) => v + r,
        None => v,
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{LANES, Shape};
    use std::arch::x86_64::*;

    /// Output channels per tile.
    const ROWS: usize = 6;
    /// Registers of points per tile.
    const RUNS: usize = 4;

    /// The mask of the first `n` lanes (`n <= 16`).
    fn lanes(n: usize) -> __mmask16 {
        if n >= LANES {
            0xFFFF
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// Everything a tile reads and writes.
    struct Args<'a> {
        s: &'a Shape,
        x: &'a [f32],
        w: &'a [f32],
        bias: &'a [f32],
        res: Option<&'a [f32]>,
        out: &'a mut [f32],
    }

    /// [`Shape::run_portable`] on tiles of [`ROWS`] output channels x [`RUNS`] registers of
    /// points (fewer at the edges): the points outside, the channels inside, so that a block of
    /// the input (`cin x 64` floats) stays in the caches while every channel reads it.
    ///
    /// # Safety
    /// AVX-512F must be available; the lengths are [`Shape::run`]'s.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run(
        s: &Shape,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        res: Option<&[f32]>,
        out: &mut [f32],
    ) {
        let [_, cout] = s.channels;
        let mut a = Args {
            s,
            x,
            w,
            bias,
            res,
            out,
        };
        let mut p0 = 0;
        while p0 < s.points {
            let left = s.points - p0;
            let runs = left.div_ceil(LANES).min(RUNS);
            let tail = lanes(left - (runs - 1) * LANES);
            let mut co0 = 0;
            while co0 < cout {
                let rows = (cout - co0).min(ROWS);
                macro_rules! arms {
                    ($(($r:literal, $v:literal)),*) => {
                        match (rows, runs) {
                            // SAFETY (every arm): the caller's contract; `co0 + rows <= cout`,
                            // the points past `p0 + left` are masked.
                            $(($r, $v) => unsafe { pl_tile::<$r, $v>(&mut a, co0, p0, tail) },)*
                            _ => unreachable!("{rows} rows, {runs} runs"),
                        }
                    };
                }
                arms!(
                    (6, 4),
                    (6, 3),
                    (6, 2),
                    (6, 1),
                    (5, 4),
                    (5, 3),
                    (5, 2),
                    (5, 1),
                    (4, 4),
                    (4, 3),
                    (4, 2),
                    (4, 1),
                    (3, 4),
                    (3, 3),
                    (3, 2),
                    (3, 1),
                    (2, 4),
                    (2, 3),
                    (2, 2),
                    (2, 1),
                    (1, 4),
                    (1, 3),
                    (1, 2),
                    (1, 1)
                );
                co0 += rows;
            }
            p0 += runs * LANES;
        }
    }

    /// Output channels `co0..co0 + R`, points `p0..p0 + 16 V` (the last register's lanes
    /// outside `tail` left alone).
    #[target_feature(enable = "avx512f")]
    unsafe fn pl_tile<const R: usize, const V: usize>(
        a: &mut Args<'_>,
        co0: usize,
        p0: usize,
        tail: __mmask16,
    ) {
        let [cin, _] = a.s.channels;
        let points = a.s.points;
        let mask = |v: usize| if v + 1 == V { tail } else { 0xFFFF };
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            *row = [_mm512_set1_ps(a.bias[co0 + r]); V];
        }
        // SAFETY: every read below is at `ci * points + p` with `ci < cin` and `p < points`
        // (masked lanes are not read), or at `(co0 + r) * cin + ci` with `co0 + r < cout`.
        let xp = unsafe { a.x.as_ptr().add(p0) };
        let wp = unsafe { a.w.as_ptr().add(co0 * cin) };
        for ci in 0..cin {
            let row = unsafe { xp.add(ci * points) };
            let mut xv = [_mm512_setzero_ps(); V];
            for (v, xv) in xv.iter_mut().enumerate() {
                *xv = unsafe { _mm512_maskz_loadu_ps(mask(v), row.add(v * LANES)) };
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let wv = _mm512_set1_ps(unsafe { *wp.add(r * cin + ci) });
                for (acc, &xv) in acc.iter_mut().zip(&xv) {
                    *acc = _mm512_fmadd_ps(xv, wv, *acc);
                }
            }
        }
        let clamp =
            a.s.clamp
                .map(|c| (_mm512_set1_ps(c.lo), _mm512_set1_ps(c.hi)));
        for (r, acc) in acc.into_iter().enumerate() {
            let at = (co0 + r) * points + p0;
            for (v, mut acc) in acc.into_iter().enumerate() {
                let at = at + v * LANES;
                if let Some((lo, hi)) = clamp {
                    // `max(acc, lo)` returns `lo` for a NaN `acc`, as `f32::max` does.
                    acc = _mm512_min_ps(_mm512_max_ps(acc, lo), hi);
                }
                if let Some(res) = a.res {
                    // SAFETY: `at` is inside the output, and the residual has its length.
                    let r = unsafe { _mm512_maskz_loadu_ps(mask(v), res.as_ptr().add(at)) };
                    acc = _mm512_add_ps(acc, r);
                }
                // SAFETY: as above; the lanes past the output's end are masked.
                unsafe { _mm512_mask_storeu_ps(a.out.as_mut_ptr().add(at), mask(v), acc) };
            }
        }
    }
}

/// What [`use_pointwise_convs`] replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PointwiseConvs {
    /// Convolutions now run by [`PointwiseConv`].
    pub convs: usize,
    /// Of those, how many absorbed the clamp (ReLU, ReLU6) that followed them.
    pub clamps: usize,
    /// Of those, how many absorbed the residual `Add` that followed them.
    pub residuals: usize,
}

/// Replaces by [`PointwiseConv`] each 1x1 convolution of `model` (as tract declutters it: an
/// f32 `EinSum` of NCHW activations by constant `[cout, cin]` weights, batch 1 or kept, on
/// maps of 16 points or more), with
/// the bias `Add`, the clamp and the residual `Add` that follow fused in, when this CPU runs
/// AVX-512 (elsewhere tract's own matrix products are faster than the portable path, and
/// nothing is changed). Run it on a decluttered model, before `into_optimized`.
pub fn use_pointwise_convs(model: &mut TypedModel) -> TractResult<PointwiseConvs> {
    if isa() < Isa::Avx512 {
        return Ok(PointwiseConvs::default());
    }
    use_pointwise_convs_on_any_cpu(model)
}

/// [`use_pointwise_convs`] whatever the CPU (the portable path runs where AVX-512 does not).
pub fn use_pointwise_convs_on_any_cpu(model: &mut TypedModel) -> TractResult<PointwiseConvs> {
    let mut done = PointwiseConvs::default();
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(found) = pointwise_conv(model, node)? else {
            continue;
        };
        let (bias, after_bias) = match bias_after(model, OutletId::new(id, 0), &found)? {
            Some((bias, at)) => (bias, at),
            None => (vec![0f32; found.channels[1]], OutletId::new(id, 0)),
        };
        let (clamp, after_clamp) = clamp_after(model, after_bias)?;
        let (residual, last) = match residual_after(model, after_clamp)? {
            Some((other, at)) => (Some(other), at),
            None => (None, after_clamp),
        };
        let op = PointwiseConv {
            channels: found.channels,
            points: found.points,
            clamp,
            residual: residual.is_some(),
            output_shape: found.output_shape,
        };
        let name = node.name.clone();
        let mut patch = TypedModelPatch::default();
        let x = patch.tap_model(model, node.inputs[0])?;
        let weights = Tensor::from_shape(&[found.weights.len()], &found.weights)?;
        let w = patch.add_const(format!("{name}.pointwise_weights"), weights)?;
        let b = patch.add_const(
            format!("{name}.pointwise_bias"),
            Tensor::from_shape(&[bias.len()], &bias)?,
        )?;
        let mut inputs = tvec![x, w, b];
        if let Some(other) = residual {
            inputs.push(patch.tap_model(model, other)?);
        }
        let y = patch.wire_node(format!("{name}.pointwise"), op, &inputs)?;
        patch.shunt_outside(model, last, y[0])?;
        patch.apply(model)?;
        done.convs += 1;
        done.clamps += usize::from(clamp.is_some());
        done.residuals += usize::from(residual.is_some());
    }
    Ok(done)
}

/// A 1x1 convolution found in a decluttered model.
struct Found {
    channels: [usize; 2],
    points: usize,
    /// `[cout, cin]`.
    weights: Vec<f32>,
    output_shape: TVec<usize>,
    /// Where the channel axis is in the output.
    channel_axis: usize,
}

/// The 1x1 convolution `node` is, if it is an `EinSum` this module takes: `[N?] I S..,OI ->
/// [N?] O S..` (a contracted `N` only when it is 1), f32, constant weights.
fn pointwise_conv(model: &TypedModel, node: &TypedNode) -> TractResult<Option<Found>> {
    let Some(einsum) = node.op_as::<EinSum>() else {
        return Ok(None);
    };
    if einsum.q_params.is_some()
        || einsum.operating_dt != f32::datum_type()
        || node.inputs.len() != 2
    {
        return Ok(None);
    }
    let (ins, outs) = einsum.axes.to_strs();
    let [x_axes, w_axes] = ins.as_slice() else {
        return Ok(None);
    };
    let [y_axes] = outs.as_slice() else {
        return Ok(None);
    };
    let x_fact = model.outlet_fact(node.inputs[0])?;
    let w_fact = model.outlet_fact(node.inputs[1])?;
    let y_fact = model.outlet_fact(OutletId::new(node.id, 0))?;
    let (Some(x_shape), Some(y_shape)) = (x_fact.shape.as_concrete(), y_fact.shape.as_concrete())
    else {
        return Ok(None);
    };
    let Some(w) = &w_fact.konst else {
        return Ok(None);
    };
    if [x_fact, w_fact, y_fact]
        .iter()
        .any(|f| f.datum_type != f32::datum_type())
        || w.rank() != 2
    {
        return Ok(None);
    }
    // Weights "OI"; activations [N] I S..; output [N] O S.., with the same S.. in order.
    let (Some(o), Some(i)) = (w_axes.chars().next(), w_axes.chars().nth(1)) else {
        return Ok(None);
    };
    let x_chars: Vec<char> = x_axes.chars().collect();
    let y_chars: Vec<char> = y_axes.chars().collect();
    let Some(xi) = x_chars.iter().position(|&c| c == i) else {
        return Ok(None);
    };
    let Some(yo) = y_chars.iter().position(|&c| c == o) else {
        return Ok(None);
    };
    let (x_lead, x_space) = (&x_chars[..xi], &x_chars[xi + 1..]);
    let (y_lead, y_space) = (&y_chars[..yo], &y_chars[yo + 1..]);
    let lead_ok = match (x_lead, y_lead) {
        ([], []) => true,
        ([n], []) => x_shape[0] == 1 && *n != o,
        ([], [m]) => y_shape[0] == 1 && !x_chars.contains(m) && !w_axes.contains(*m),
        ([n], [m]) => n == m,
        _ => false,
    };
    if w_axes.len() != 2
        || !lead_ok
        || x_space != y_space
        || x_space.contains(&o)
        || x_shape[xi + 1..] != y_shape[yo + 1..]
    {
        return Ok(None);
    }
    let (cout, cin) = (w.shape()[0], w.shape()[1]);
    if x_shape[xi] != cin || y_shape[yo] != cout {
        return Ok(None);
    }
    let points: usize = x_shape[xi + 1..].iter().product();
    // Fewer points than a register's lanes (a classifier's matrix-vector product): tract's
    // kernels for those are better.
    if points < LANES || cin == 0 || cout == 0 {
        return Ok(None);
    }
    let weights = w.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    Ok(Some(Found {
        channels: [cin, cout],
        points,
        weights,
        output_shape: y_shape.into(),
        channel_axis: yo,
    }))
}

/// The bias `Add` after a 1x1 convolution: a constant of one value per output channel (shaped
/// along the channel axis) or one value, that alone reads `outlet`; its values (one per
/// channel) and its output.
fn bias_after(
    model: &TypedModel,
    outlet: OutletId,
    found: &Found,
) -> TractResult<Option<(Vec<f32>, OutletId)>> {
    let Some((next, other)) = only_binary_reader(model, outlet, "Add")? else {
        return Ok(None);
    };
    let fact = model.outlet_fact(other)?;
    let Some(k) = &fact.konst else {
        return Ok(None);
    };
    let cout = found.channels[1];
    let along_channels = k.rank() == found.output_shape.len()
        && k.shape()
            .iter()
            .enumerate()
            .all(|(a, &d)| d == 1 || (a == found.channel_axis && d == cout));
    if k.datum_type() != f32::datum_type() || !(along_channels || k.len() == 1) {
        return Ok(None);
    }
    let values = k.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    let bias = if values.len() == cout {
        values
    } else {
        vec![values[0]; cout]
    };
    Ok(Some((bias, next)))
}

/// The residual `Add` after a convolution: an f32 tensor of the same shape (not a constant)
/// that the `Add` alone adds to `outlet`; that tensor's outlet, and the `Add`'s output.
fn residual_after(
    model: &TypedModel,
    outlet: OutletId,
) -> TractResult<Option<(OutletId, OutletId)>> {
    let Some((next, other)) = only_binary_reader(model, outlet, "Add")? else {
        return Ok(None);
    };
    let fact = model.outlet_fact(other)?;
    let mine = model.outlet_fact(outlet)?;
    if fact.konst.is_some() || fact.datum_type != f32::datum_type() || fact.shape != mine.shape {
        return Ok(None);
    }
    Ok(Some((other, next)))
}

/// The binary operator named `name`, unbroadcast to `outlet`'s shape, that is the only reader
/// of `outlet` (not a model output): its output and its other input.
fn only_binary_reader(
    model: &TypedModel,
    outlet: OutletId,
    name: &str,
) -> TractResult<Option<(OutletId, OutletId)>> {
    let successors = &model.node(outlet.node).outputs[outlet.slot].successors;
    if successors.len() != 1 || model.output_outlets()?.contains(&outlet) {
        return Ok(None);
    }
    let next = model.node(successors[0].node);
    let Some(bin) = next.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    let after = OutletId::new(next.id, 0);
    if bin.0.name() != name
        || bin.1.is_some()
        || next.inputs.len() != 2
        || next.inputs[0] == next.inputs[1]
        || model.outlet_fact(after)?.shape != model.outlet_fact(outlet)?.shape
    {
        return Ok(None);
    }
    let other = next.inputs[1 - successors[0].slot.min(1)];
    Ok(Some((after, other)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{run_on, same_bits, values};

    /// `out[co, p] = clamp(bias + sum w x) + res` in f64, per image.
    fn reference(s: &Shape, x: &[f32], w: &[f32], b: &[f32], res: Option<&[f32]>) -> Vec<f64> {
        let ([cin, cout], points) = (s.channels, s.points);
        let mut out = vec![0f64; cout * points];
        for co in 0..cout {
            for p in 0..points {
                let mut acc = b[co] as f64;
                for ci in 0..cin {
                    acc += w[co * cin + ci] as f64 * x[ci * points + p] as f64;
                }
                if let Some(c) = s.clamp {
                    acc = acc.max(c.lo as f64).min(c.hi as f64);
                }
                out[co * points + p] = acc + res.map_or(0.0, |r| r[co * points + p] as f64);
            }
        }
        out
    }

    #[test]
    fn every_path_gives_the_reference_and_the_vector_path_the_portable_bits() {
        let relu6 = Some(Clamp { lo: 0.0, hi: 6.0 });
        let tight = Some(Clamp { lo: -0.2, hi: 0.3 });
        // Channels that are not whole tiles of 6, points that are not whole registers of 16 or
        // blocks of 64 (1, 7x7, 14x14, 200), one input channel, wide inputs.
        let mut shapes = Vec::new();
        for (cin, cout) in [(1, 1), (3, 5), (16, 96), (24, 7), (96, 13), (200, 6)] {
            for points in [1, 15, 16, 49, 64, 65, 196, 200] {
                for clamp in [None, relu6, tight] {
                    shapes.push(Shape {
                        channels: [cin, cout],
                        points,
                        clamp,
                    });
                }
            }
        }
        let vector = isa() >= Isa::Avx512;
        for (i, s) in shapes.iter().enumerate() {
            let ([cin, cout], points, seed) = (s.channels, s.points, i as u64 * 5);
            let x = values(cin * points, seed);
            let w = values(cin * cout, seed + 1);
            let b = values(cout, seed + 2);
            let r = values(cout * points, seed + 3);
            for res in [None, Some(&r[..])] {
                let mut slow = vec![f32::NAN; cout * points];
                s.run_portable(&x, &w, &b, res, &mut slow);
                let want = reference(s, &x, &w, &b, res);
                for (&got, &want) in slow.iter().zip(&want) {
                    let scale = 1.0 + cin as f64;
                    assert!(
                        (got as f64 - want).abs() <= 1e-6 * scale,
                        "{s:?}: {got} vs {want}"
                    );
                }
                // `run` takes the AVX-512 path on a CPU that has it: the same bits.
                let mut fast = vec![f32::NAN; cout * points];
                s.run(&x, &w, &b, res, &mut fast);
                assert!(same_bits(&fast, &slow), "{s:?}, residual {}", res.is_some());
            }
        }
        println!("vector path checked: {vector}");
    }

    /// `batch` images of `cin` channels on a `[h, w]` map, a 1x1 convolution to `cout` with a
    /// bias, a ReLU6, and (when `cin == cout`) the input added back, as ONNX exporters write an
    /// inverted-residual block's end; decluttered.
    fn block(
        batch: usize,
        [cin, cout]: [usize; 2],
        [h, w]: [usize; 2],
        [stride, pad]: [usize; 2],
    ) -> TypedModel {
        use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
        use tract_onnx::tract_core::ops::math;
        use tract_onnx::tract_core::ops::nn::DataFormat;
        let mut model = TypedModel::default();
        let x = model
            .add_source("x", f32::fact([batch, cin, h, w]))
            .unwrap();
        let k = Tensor::from_shape(&[cout, cin, 1, 1], &values(cin * cout, 11)).unwrap();
        let k = model.add_const("k", k).unwrap();
        let b = Tensor::from_shape(&[cout], &values(cout, 12)).unwrap();
        let b = model.add_const("b", b).unwrap();
        let conv = Conv {
            pool_spec: PoolSpec {
                data_format: DataFormat::NCHW,
                kernel_shape: tvec![1, 1],
                padding: PaddingSpec::Explicit(tvec![pad, pad], tvec![pad, pad]),
                dilations: None,
                strides: Some(tvec![stride, stride]),
                input_channels: cin,
                output_channels: cout,
            },
            kernel_fmt: KernelFormat::OIHW,
            group: 1,
            q_params: None,
        };
        let mut y = model.wire_node("conv", conv, &[x, k, b]).unwrap()[0];
        for (name, op, v) in [
            ("relu6.max", math::max(), 0f32),
            ("relu6.min", math::min(), 6.0),
        ] {
            let c = model
                .add_const(
                    name.to_owned() + ".c",
                    Tensor::from_shape(&[1, 1, 1, 1], &[v]).unwrap(),
                )
                .unwrap();
            y = model.wire_node(name, op, &[y, c]).unwrap()[0];
        }
        if cin == cout && stride == 1 && pad == 0 {
            y = model.wire_node("residual", math::add(), &[y, x]).unwrap()[0];
        }
        model.select_output_outlets(&[y]).unwrap();
        model.into_decluttered().unwrap()
    }

    /// `model` run on values in [-4, 4) (some above the ReLU6's 6 once summed).
    fn run(model: TypedModel, seed: u64) -> Vec<f32> {
        let n = model
            .input_fact(0)
            .unwrap()
            .shape
            .volume()
            .to_usize()
            .unwrap();
        let x: Vec<f32> = values(n, seed).iter().map(|v| v * 4.0).collect();
        run_on(model, &x)
    }

    #[test]
    fn the_rewrite_takes_1x1_convolutions_with_what_follows_them() {
        // (batch, channels, map, [stride, padding], what is taken: convs, clamps, residuals)
        for (batch, channels, map, geometry, want) in [
            (1, [24, 24], [14, 14], [1, 0], (1, 1, 1)),
            (2, [24, 24], [7, 7], [1, 0], (1, 1, 1)),
            (1, [16, 96], [9, 11], [1, 0], (1, 1, 0)),
            (2, [40, 8], [5, 5], [1, 0], (1, 1, 0)),
            // Fewer points than lanes: left to tract.
            (1, [16, 16], [3, 5], [1, 0], (0, 0, 0)),
            // tract declutters a strided 1x1 convolution into a subsampling and a product.
            (1, [8, 8], [8, 8], [2, 0], (1, 1, 0)),
            // A padded one is no product of the input as it lies: left to tract.
            (1, [8, 8], [8, 8], [1, 1], (0, 0, 0)),
        ] {
            let mut tuned = block(batch, channels, map, geometry);
            let done = use_pointwise_convs_on_any_cpu(&mut tuned).unwrap();
            let case = format!("batch {batch}, {channels:?}, {map:?}, {geometry:?}");
            assert_eq!((done.convs, done.clamps, done.residuals), want, "{case}");
            let ops: Vec<_> = tuned.nodes().iter().map(|n| n.op().name()).collect();
            assert_eq!(
                ops.iter().filter(|o| *o == "CatclassPointwiseConv").count(),
                want.0
            );
            if want.0 == 1 {
                // Nothing of the bias, the clamp or the residual is left behind.
                assert!(
                    !ops.iter()
                        .any(|o| ["Add", "Max", "Min", "EinSum"].contains(&o.as_ref())),
                    "{case}: {ops:?}"
                );
            }
            let plain = block(batch, channels, map, geometry);
            let (fast, slow) = (run(tuned, 3), run(plain, 3));
            assert_eq!(fast.len(), slow.len());
            for (a, b) in fast.iter().zip(&slow) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{case}: {a} vs {b}"
                );
            }
        }
        // Where the CPU has no AVX-512, `use_pointwise_convs` leaves tract's products alone.
        let mut model = block(1, [24, 24], [14, 14], [1, 0]);
        let done = use_pointwise_convs(&mut model).unwrap();
        assert_eq!(done.convs, usize::from(isa() >= Isa::Avx512));
    }

    #[test]
    fn bad_inputs_are_refused_not_misread() {
        let op = PointwiseConv {
            channels: [3, 2],
            points: 4,
            clamp: None,
            residual: true,
            output_shape: tvec![2, 2, 2],
        };
        let t = |shape: &[usize]| {
            Tensor::from_shape(shape, &values(shape.iter().product(), 1))
                .unwrap()
                .into_tvalue()
        };
        let good = || tvec![t(&[3, 2, 2]), t(&[2, 3]), t(&[2]), t(&[2, 2, 2])];
        assert!(op.eval_out_of_plan(good()).is_ok());
        for (i, bad) in [t(&[3, 2, 3]), t(&[3, 3]), t(&[3]), t(&[2, 2, 3])]
            .into_iter()
            .enumerate()
        {
            let mut inputs = good();
            inputs[i] = bad;
            let err = op.eval_out_of_plan(inputs).unwrap_err();
            assert!(format!("{err:#}").contains("pointwise conv"), "{err:#}");
        }
        let mut short = good();
        short.pop();
        assert!(op.eval_out_of_plan(short).is_err());
    }
}
