//! One VGG16 3x3 convolution (and its ReLU) per block, batch 1, on one thread: tract's own
//! plan (im2col and a matrix product) beside catclass's Winograd rewrites
//! (`use_winograd_with`), F(2x2, 3x3) and F(4x4, 3x3); `use_winograd` picks
//! F(2x2, 3x3) on 14x14 and F(4x4, 3x3) above.
//!
//! `cargo bench -p catclass-tract-kernels --bench conv3x3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math::max;
use tract_onnx::tract_core::ops::nn::DataFormat;

use catclass_tract_kernels::{Variant, use_im2col_for_thick_convs, use_winograd_with};

/// Reproducible values in [-0.05, 0.05).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1
        })
        .collect()
}

/// `relu(conv3x3(x))`, `cin -> cout` channels on a `side x side` map, padding 1.
fn layer(cin: usize, cout: usize, side: usize) -> TractResult<TypedModel> {
    let mut model = TypedModel::default();
    let x = model.add_source("x", f32::fact([1, cin, side, side]))?;
    let k = Tensor::from_shape(&[cout, cin, 3, 3], &values(cout * cin * 9, 1))?;
    let k = model.add_const("k", k)?;
    let b = model.add_const("b", Tensor::from_shape(&[cout], &values(cout, 2))?)?;
    let conv = Conv {
        pool_spec: PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![3, 3],
            padding: PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1]),
            dilations: None,
            strides: None,
            input_channels: cin,
            output_channels: cout,
        },
        kernel_fmt: KernelFormat::OIHW,
        group: 1,
        q_params: None,
    };
    let y = model.wire_node("conv", conv, &[x, k, b])?;
    let zero = model.add_const("zero", Tensor::from_shape(&[1, 1, 1, 1], &[0f32])?)?;
    let y = model.wire_node("relu", max(), &[y[0], zero])?;
    model.select_output_outlets(&y)?;
    model.into_decluttered()
}

fn conv3x3(c: &mut Criterion) {
    // (block, input channels, output channels, side): VGG16's second convolution of each block.
    for (block, cin, cout, side) in [
        (1, 64, 64, 224),
        (2, 128, 128, 112),
        (3, 256, 256, 56),
        (4, 512, 512, 28),
        (5, 512, 512, 14),
    ] {
        let mut g = c.benchmark_group(format!("vgg16 block{block}_conv2 {cin}x{side}x{side}"));
        g.sample_size(10);
        g.throughput(Throughput::Elements((cout * side * side) as u64));
        let x: Tensor = Tensor::from_shape(
            &[1, cin, side, side],
            &values(cin * side * side, 3)
                .iter()
                .map(|v| v * 20.0)
                .collect::<Vec<_>>(),
        )
        .expect("shape");
        for (label, variant) in [
            ("tract", None),
            ("winograd F2", Some(Variant::F2)),
            ("winograd F4", Some(Variant::F4)),
        ] {
            let mut model = layer(cin, cout, side).expect("model");
            if let Some(v) = variant {
                let replaced = use_winograd_with(&mut model, |_| Some(v)).expect("winograd");
                assert_eq!(replaced, 1);
            } else {
                // tract's own plan, as TractBackend would run it untuned, except that a thick
                // convolution goes through im2col rather than tract's slow direct kernel.
                use_im2col_for_thick_convs(&mut model).expect("im2col");
            }
            let plan = model
                .into_optimized()
                .and_then(|m| m.into_runnable())
                .expect("plan");
            g.bench_function(label, |b| {
                b.iter(|| plan.run(tvec![x.clone().into()]).expect("run"))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, conv3x3);
criterion_main!(benches);
