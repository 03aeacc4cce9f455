//! EfficientNet-Lite0's 1x1 convolutions (with their bias and ReLU6), batch 1, on one thread:
//! tract's own plan (an `EinSum` run as a packed matrix product) beside catclass's
//! `PointwiseConv` (`use_pointwise_convs_on_any_cpu`: AVX-512 where the CPU has it, else the
//! portable path, which `tune` would not pick; the group's name says which).
//!
//! `cargo bench -p catclass-tract-kernels --bench pointwise`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math::{max, min};
use tract_onnx::tract_core::ops::nn::DataFormat;

use catclass_tract_kernels::{isa, use_pointwise_convs_on_any_cpu};

/// Reproducible values in [-0.5, 0.5).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// `relu6(conv1x1(x) + bias)`, `cin -> cout` channels on a `side x side` map.
fn layer(cin: usize, cout: usize, side: usize) -> TractResult<TypedModel> {
    let mut model = TypedModel::default();
    let x = model.add_source("x", f32::fact([1, cin, side, side]))?;
    let k = Tensor::from_shape(&[cout, cin, 1, 1], &values(cout * cin, 1))?;
    let k = model.add_const("k", k)?;
    let b = model.add_const("b", Tensor::from_shape(&[cout], &values(cout, 2))?)?;
    let conv = Conv {
        pool_spec: PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![1, 1],
            padding: PaddingSpec::Valid,
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
    let six = model.add_const("six", Tensor::from_shape(&[1, 1, 1, 1], &[6f32])?)?;
    let y = model.wire_node("relu6.max", max(), &[y[0], zero])?;
    let y = model.wire_node("relu6.min", min(), &[y[0], six])?;
    model.select_output_outlets(&y)?;
    model.into_decluttered()
}

fn pointwise(c: &mut Criterion) {
    // (name, input channels, output channels, side): expansions and projections from each
    // map size of EfficientNet-Lite0, and its head.
    for (name, cin, cout, side) in [
        ("b1_expand", 16, 96, 112),
        ("b2_project", 144, 24, 56),
        ("b5_expand", 40, 240, 28),
        ("b9_expand", 112, 672, 14),
        ("b12_project", 1152, 192, 7),
        ("head", 320, 1280, 7),
    ] {
        let mut g = c.benchmark_group(format!("pointwise {name} {cin}->{cout} {side}x{side}"));
        g.sample_size(30);
        g.throughput(Throughput::Elements((cin * cout * side * side) as u64));
        let x = Tensor::from_shape(&[1, cin, side, side], &values(cin * side * side, 3))
            .expect("shape");
        for ours in [false, true] {
            let mut model = layer(cin, cout, side).expect("model");
            let label = if ours {
                let done = use_pointwise_convs_on_any_cpu(&mut model).expect("rewrite");
                assert_eq!((done.convs, done.clamps), (1, 1));
                format!("PointwiseConv ({:?})", isa())
            } else {
                "tract".to_owned()
            };
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

criterion_group!(benches, pointwise);
criterion_main!(benches);
