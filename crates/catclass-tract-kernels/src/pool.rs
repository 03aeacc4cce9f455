//! 2x2, stride-2 max pooling ([`MaxPool2x2`]) and the rewrite that puts it in
//! ([`use_max_pools_2x2`]).
//!
//! tract runs a stride-2 2x2 max pool on NCHW data one output point at a time (its vector path
//! is for stride 1): VGG16's five pools took about 11 ms of an image. [`MaxPool2x2`] computes each
//! output row from two input rows with the same comparisons in the same order as tract (start
//! from `f32::MIN`, then taps (0, 0), (0, 1), (1, 0), (1, 1), each taken when greater), written
//! once as plain Rust and compiled for AVX2 and AVX-512, where the compiler makes each row one
//! run of vector instructions; every path gives tract's bits.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::MaxPool;
use tract_onnx::tract_core::ops::nn::DataFormat;

use crate::cpu::{Isa, isa};

/// Max pooling over 2x2 windows with stride 2 and no padding, of f32 planes `[H, W]` (any
/// leading axes): output `[H / 2, W / 2]` per plane (a last odd row or column is left out, as a
/// valid pool does). Each output is tract's: `f32::MIN`, then each tap in row-major order when
/// greater (a NaN tap is passed over).
///
/// ```
/// use catclass_tract_kernels::MaxPool2x2;
/// use tract_onnx::prelude::*;
/// use tract_onnx::tract_core::internal::{EvalOp, tvec};
///
/// let op = MaxPool2x2 { input: [2, 4], output_shape: tvec![1, 1, 2] };
/// let x = Tensor::from_shape(&[1, 2, 4], &[1f32, 5., 2., 0., 3., 4., -1., 7.])?;
/// let y = op.eval_out_of_plan(tvec![x.into()])?.expect("evaluated");
/// assert_eq!(y[0].try_as_plain_ram()?.as_slice::<f32>()?, [5., 7.]);
/// # Ok::<(), TractError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPool2x2 {
    /// Input plane height and width.
    pub input: [usize; 2],
    /// The output's shape (its last two axes `[H / 2, W / 2]`).
    pub output_shape: TVec<usize>,
}

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "CatclassMaxPool2x2".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("input planes {:?}", self.input)])
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let [h, w] = self.input;
        let (oh, ow) = (h / 2, w / 2);
        let planes = self.output_shape.iter().product::<usize>() / (oh * ow).max(1);
        ensure!(
            oh > 0 && ow > 0 && x.len() == planes * h * w,
            "max pool 2x2: input of shape {:?} for {planes} planes of {h}x{w}",
            x.shape()
        );
        let x = x.try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        // SAFETY: every output point is written below before the tensor is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
        let mut view = out.try_as_plain_ram_mut()?;
        let out_planes = view.as_slice_mut::<f32>()?.chunks_exact_mut(oh * ow);
        for (input, output) in x.chunks_exact(h * w).zip(out_planes) {
            pool_plane(isa(), input, [h, w], output);
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1, "max pool 2x2 takes one input");
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    as_op!();
}

/// One plane, with the code compiled for `isa` (at most this CPU's).
fn pool_plane(isa: Isa, input: &[f32], [h, w]: [usize; 2], out: &mut [f32]) {
    assert!(input.len() == h * w && out.len() == (h / 2) * (w / 2));
    assert!(isa <= crate::isa());
    // SAFETY (each): the CPU has the instruction set.
    #[cfg(target_arch = "x86_64")]
    match isa {
        Isa::Avx512 => return unsafe { vector::pool_avx512(input, w, out) },
        Isa::Avx2Fma => return unsafe { vector::pool_avx2(input, w, out) },
        Isa::Portable => {}
    }
    pool_rows(input, w, out);
}

/// The reference: each output row from input rows `2 y` and `2 y + 1`.
#[inline(always)]
fn pool_rows(input: &[f32], w: usize, out: &mut [f32]) {
    let ow = w / 2;
    for (y, row) in out.chunks_exact_mut(ow).enumerate() {
        let top = &input[2 * y * w..][..2 * ow];
        let bottom = &input[(2 * y + 1) * w..][..2 * ow];
        for ((o, t), b) in row
            .iter_mut()
            .zip(top.chunks_exact(2))
            .zip(bottom.chunks_exact(2))
        {
            let mut m = f32::MIN;
            for v in [t[0], t[1], b[0], b[1]] {
                m = if v > m { v } else { m };
            }
            *o = m;
        }
    }
}

/// [`pool_rows`] compiled with AVX2 and with AVX-512.
#[cfg(target_arch = "x86_64")]
mod vector {
    use super::pool_rows;

    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pool_avx2(input: &[f32], w: usize, out: &mut [f32]) {
        pool_rows(input, w, out)
    }

    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pool_avx512(input: &[f32], w: usize, out: &mut [f32]) {
        pool_rows(input, w, out)
    }
}

/// Replaces by [`MaxPool2x2`] each max pool of `model` over 2x2 windows with stride 2, no
/// dilation and no padding, on f32 NCHW (or CHW) data of fixed shape, without index outputs.
/// Run it on a decluttered model, before `into_optimized`. Returns how many were replaced.
pub fn use_max_pools_2x2(model: &mut TypedModel) -> TractResult<usize> {
    let mut done = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(pool) = node.op_as::<MaxPool>() else {
            continue;
        };
        let spec = &pool.pool_spec;
        let fact = model.outlet_fact(node.inputs[0])?;
        let out = model.outlet_fact(OutletId::new(id, 0))?;
        let (Some(x), Some(y)) = (fact.shape.as_concrete(), out.shape.as_concrete()) else {
            continue;
        };
        if pool.with_index_outputs.is_some()
            || fact.datum_type != f32::datum_type()
            || !matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
            || spec.kernel_shape[..] != [2, 2]
            || spec.strides()[..] != [2, 2]
            || spec.dilations().iter().any(|&d| d != 1)
            || x.len() < 2
        {
            continue;
        }
        let hw = [x[x.len() - 2], x[x.len() - 1]];
        let padding = spec.computed_padding(&hw);
        let valid = padding
            .iter()
            .all(|p| p.pad_before == 0 && p.pad_after == 0);
        if !valid || y[y.len() - 2..] != [hw[0] / 2, hw[1] / 2] || hw[0] < 2 || hw[1] < 2 {
            continue;
        }
        let op = MaxPool2x2 {
            input: hw,
            output_shape: y.into(),
        };
        let mut patch = TypedModelPatch::default();
        let input = patch.tap_model(model, node.inputs[0])?;
        let wire = patch.wire_node(&node.name, op, &[input])?;
        patch.shunt_outside(model, OutletId::new(id, 0), wire[0])?;
        patch.apply(model)?;
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{run_on, same_bits, values};
    use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};

    /// `batch` images of `channels` `[h, w]` planes, one max pool with this kernel, stride and
    /// padding; decluttered.
    fn pool_model(
        batch: usize,
        channels: usize,
        [h, w]: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: PaddingSpec,
    ) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model
            .add_source("x", f32::fact([batch, channels, h, w]))
            .unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![kernel, kernel],
            padding,
            dilations: None,
            strides: Some(tvec![stride, stride]),
            input_channels: channels,
            output_channels: channels,
        };
        let y = model
            .wire_node("pool", MaxPool::new(spec, None), &[x])
            .unwrap();
        model.select_output_outlets(&y).unwrap();
        model.into_decluttered().unwrap()
    }

    #[test]
    fn pools_give_tracts_bits() {
        // Even and odd sides, batches of 1 (CHW once decluttered) and 2; values with ties of
        // signed zeros, NaNs and infinities, where the order of comparisons shows.
        for (batch, channels, plane) in [
            (1, 3, [8, 8]),
            (2, 2, [7, 9]),
            (1, 4, [224, 224]),
            (1, 1, [2, 33]),
        ] {
            let n = batch * channels * plane[0] * plane[1];
            let mut x = values(n, plane[1] as u64);
            for (i, v) in x.iter_mut().enumerate() {
                *v = match i % 29 {
                    3 => 0.0,
                    4 => -0.0,
                    7 => f32::NAN,
                    11 => f32::NEG_INFINITY,
                    13 => f32::INFINITY,
                    _ => *v,
                };
            }
            let mut tuned = pool_model(batch, channels, plane, 2, 2, PaddingSpec::Valid);
            assert_eq!(use_max_pools_2x2(&mut tuned).unwrap(), 1);
            let plain = pool_model(batch, channels, plane, 2, 2, PaddingSpec::Valid);
            let (fast, slow) = (run_on(tuned, &x), run_on(plain, &x));
            assert!(same_bits(&fast, &slow), "{batch}x{channels}x{plane:?}");
        }
        // Other pools are left to tract.
        for (kernel, stride, padding) in [
            (3, 2, PaddingSpec::Valid),
            (2, 1, PaddingSpec::Valid),
            (2, 2, PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1])),
        ] {
            let mut model = pool_model(1, 2, [8, 8], kernel, stride, padding);
            assert_eq!(use_max_pools_2x2(&mut model).unwrap(), 0);
        }
    }

    #[test]
    fn every_path_gives_the_portable_bits() {
        for [h, w] in [[2, 2], [3, 5], [16, 33], [57, 112]] {
            let mut x = values(h * w, (h * w) as u64);
            x[1] = f32::NAN;
            let mut slow = vec![f32::NAN; (h / 2) * (w / 2)];
            pool_rows(&x, w, &mut slow);
            for isa in [Isa::Portable, Isa::Avx2Fma, Isa::Avx512]
                .into_iter()
                .filter(|&i| i <= isa())
            {
                let mut fast = vec![f32::NAN; slow.len()];
                pool_plane(isa, &x, [h, w], &mut fast);
                assert!(same_bits(&fast, &slow), "{h}x{w} {isa:?}");
            }
        }
    }
}
