//! Winograd F(2x2, 3x3) for the 3x3, stride-1, padding-1 convolutions of VGG-like networks.
//!
//! Each 2x2 block of outputs (a tile) takes 16 multiplications per input channel instead of 36:
//! the input tiles are transformed ([`WinogradInput`]: `Bt d B`, additions only), multiplied by
//! the transformed kernel (`G g Gt`, computed once) in 16 matrix products that tract runs
//! (`EinSum gok,gkt->got`), and transformed back ([`WinogradOutput`]: `At m A`, additions
//! only), the bias and a following ReLU added as the outputs are stored. The results differ
//! from a direct convolution by rounding only (the tests hold them to 1e-5 relative).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::{Clamp, Geometry, PlaneLayout, clamp_after};

/// Tiles transformed together (one AVX2 register).
const TILES: usize = 8;

/// Tile layout of a `[H, W]` plane: `ceil(H / 2) x ceil(W / 2)` tiles, the row count padded to
/// whole runs of [`TILES`] in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiles {
    /// Plane height and width (input and output: padding 1, stride 1).
    pub plane: [usize; 2],
}

impl Tiles {
    fn rows(&self) -> usize {
        self.plane[0].div_ceil(2)
    }
    fn cols(&self) -> usize {
        self.plane[1].div_ceil(2)
    }
    /// Tile columns rounded up to whole runs.
    fn wide(&self) -> usize {
        self.cols().div_ceil(TILES) * TILES
    }
    /// Tiles of one plane as laid out in the transformed tensors.
    fn per_plane(&self) -> usize {
        self.rows() * self.wide()
    }
    /// The padded scratch plane the input tiles are read from: padding 1, columns split in
    /// two phases, so that tile `tx` reads phase columns `tx` and `tx + 1` (4 rows from `2 ty`).
    fn scratch_layout(&self) -> PlaneLayout {
        let geometry = Geometry {
            input: self.plane,
            kernel: [4, 4],
            strides: [1, 2],
            pad_before: [1, 1],
            output: [2 * self.rows() - 1, self.cols()],
        };
        PlaneLayout::new(geometry, 1, None)
    }
}

/// The input transform: `[N, C, H, W]` (or `[C, H, W]`) to `[16, C, N * tiles]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradInput {
    /// The plane's tiles.
    pub tiles: Tiles,
    /// Whether the data has a batch axis.
    pub batch_axis: bool,
}

/// The output transform: `[16, Cout, N * tiles]` (and the bias `[Cout]`) to `[N, Cout, H, W]`
/// (or `[Cout, H, W]`), clamped when [`Self::clamp`] says so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WinogradOutput {
    /// The plane's tiles.
    pub tiles: Tiles,
    /// Whether the data has a batch axis (then `batch` images).
    pub batch_axis: bool,
    /// Images.
    pub batch: usize,
    /// The activation fused into the output, if any.
    pub clamp: Option<Clamp>,
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
        let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let t = self.tiles;
        let per = t.per_plane();
        let layout = t.scratch_layout();
        // SAFETY: every element is written below (all the tiles of every plane, padding
        // tiles included) before the tensor is read.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&[16, c, n * per])? };
        let mut view = out.try_as_plain_ram_mut()?;
        let v = view.as_slice_mut::<f32>()?;
        let mut scratch = vec![0f32; layout.len];
        for (plane, input) in x.chunks_exact(h * w).enumerate() {
            let (img, ch) = (plane / c, plane % c);
            layout.fill(input, &mut scratch);
            let at = ch * n * per + img * per;
            transform_input(
                &t,
                &layout,
                &scratch,
                v,
                Spread {
                    at,
                    stride: c * n * per,
                },
            );
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

/// Where one plane's tiles sit in a transformed `[16, C, tiles]` tensor: the values for
/// position `xi` of the 4x4 transform start at `xi * stride + at`.
#[derive(Debug, Clone, Copy)]
struct Spread {
    at: usize,
    stride: usize,
}

/// What the output transform applies as it stores: the bias, then the clamp.
#[derive(Debug, Clone, Copy)]
struct Epilogue {
    bias: f32,
    clamp: Option<Clamp>,
}

/// `Bt d B` of every tile of one scratch plane into `v` (plane `xi` at `xi * stride + at`).
fn transform_input(
    t: &Tiles,
    layout: &PlaneLayout,
    scratch: &[f32],
    v: &mut [f32],
    spread: Spread,
) {
    let Spread { at, stride } = spread;
    assert!(scratch.len() >= layout.len && v.len() >= 15 * stride + at + t.per_plane());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is there; the reads are inside the scratch plane (see
        // `Tiles::scratch_layout`) and the writes inside `v` (checked above).
        unsafe { avx2::transform_input(t, layout, scratch, v, spread) };
        return;
    }
    transform_input_portable(t, layout, scratch, v, spread);
}

/// [`transform_input`] lane by lane: the reference arithmetic.
fn transform_input_portable(
    t: &Tiles,
    layout: &PlaneLayout,
    scratch: &[f32],
    v: &mut [f32],
    spread: Spread,
) {
    let Spread { at, stride } = spread;
    let (row, phase) = (layout.row, layout.len / 2);
    // d[i][j] of 8 tiles: phase j % 2, row 2 ty + i, columns tx + j / 2 onwards.
    for ty in 0..t.rows() {
        for tx in (0..t.wide()).step_by(TILES) {
            let mut d = [[[0f32; TILES]; 4]; 4];
            for (i, di) in d.iter_mut().enumerate() {
                for (j, dij) in di.iter_mut().enumerate() {
                    let src = (j % 2) * phase + (2 * ty + i) * row + tx + j / 2;
                    dij.copy_from_slice(&scratch[src..src + TILES]);
                }
            }
            let u = bt_d_b(&d);
            let base = at + ty * t.wide() + tx;
            for (xi, lanes) in u.iter().enumerate() {
                v[xi * stride + base..][..TILES].copy_from_slice(lanes);
            }
        }
    }
}

/// `Bt d B` lane by lane, `Bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
#[inline(always)]
fn bt_d_b(d: &[[[f32; TILES]; 4]; 4]) -> [[f32; TILES]; 16] {
    // Rows first: r = Bt d.
    let mut r = [[[0f32; TILES]; 4]; 4];
    for j in 0..4 {
        for l in 0..TILES {
            r[0][j][l] = d[0][j][l] - d[2][j][l];
            r[1][j][l] = d[1][j][l] + d[2][j][l];
            r[2][j][l] = d[2][j][l] - d[1][j][l];
            r[3][j][l] = d[1][j][l] - d[3][j][l];
        }
    }
    let mut u = [[0f32; TILES]; 16];
    for i in 0..4 {
        for l in 0..TILES {
            u[4 * i][l] = r[i][0][l] - r[i][2][l];
            u[4 * i + 1][l] = r[i][1][l] + r[i][2][l];
            u[4 * i + 2][l] = r[i][2][l] - r[i][1][l];
            u[4 * i + 3][l] = r[i][1][l] - r[i][3][l];
        }
    }
    u
}

impl EvalOp for WinogradOutput {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (m, bias) = args_2!(inputs);
        let t = self.tiles;
        let per = t.per_plane();
        let n = self.batch;
        let shape = m.shape();
        let [xi, cout, tiles] = *shape else {
            bail!("winograd output: shape {shape:?}");
        };
        ensure!(
            xi == 16 && tiles == n * per,
            "winograd output: shape {shape:?}"
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
        let stride = cout * tiles;
        for img in 0..n {
            for co in 0..cout {
                let b = if bias.len() == 1 { bias[0] } else { bias[co] };
                let plane = &mut o[(img * cout + co) * h * w..][..h * w];
                let at = co * tiles + img * per;
                output_plane(
                    &t,
                    m,
                    Spread { at, stride },
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

/// The outputs of every tile of one output plane: `At m A + bias`, clamped, from the planes of
/// `m` (plane `xi` at `xi * stride + at`).
fn output_plane(t: &Tiles, m: &[f32], spread: Spread, epilogue: Epilogue, plane: &mut [f32]) {
    let Spread { at, stride } = spread;
    assert!(m.len() >= 15 * stride + at + t.per_plane() && plane.len() == t.plane[0] * t.plane[1]);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is there; the reads are inside `m` (checked above).
        unsafe { avx2::output_plane(t, m, spread, epilogue, plane) };
        return;
    }
    output_plane_portable(t, m, spread, epilogue, plane);
}

/// [`output_plane`] lane by lane: the reference arithmetic.
fn output_plane_portable(
    t: &Tiles,
    m: &[f32],
    spread: Spread,
    epilogue: Epilogue,
    plane: &mut [f32],
) {
    let (Spread { at, stride }, Epilogue { bias, clamp }) = (spread, epilogue);
    let [h, w] = t.plane;
    let mut row = [0f32; 2 * TILES];
    for ty in 0..t.rows() {
        for tx in (0..t.wide()).step_by(TILES) {
            let base = at + ty * t.wide() + tx;
            let mm: [[f32; TILES]; 16] = std::array::from_fn(|x| {
                m[x * stride + base..][..TILES].try_into().expect("8 lanes")
            });
            let y = at_m_a(&mm, bias, clamp);
            // Rows 2 ty and 2 ty + 1, columns 2 tx ..: y00/y01 and y10/y11 interleaved.
            for (r, (a, c)) in [(y[0], y[1]), (y[2], y[3])].into_iter().enumerate() {
                let oy = 2 * ty + r;
                let ox = 2 * tx;
                if oy >= h || ox >= w {
                    break;
                }
                for l in 0..TILES {
                    row[2 * l] = a[l];
                    row[2 * l + 1] = c[l];
                }
                let len = (w - ox).min(2 * TILES);
                plane[oy * w + ox..][..len].copy_from_slice(&row[..len]);
            }
        }
    }
}

/// `At m A` lane by lane plus `bias`, clamped; `At = [[1, 1, 1, 0], [0, 1, -1, -1]]`. Returns
/// the outputs (0, 0), (0, 1), (1, 0), (1, 1) of each tile.
#[inline(always)]
fn at_m_a(m: &[[f32; TILES]; 16], bias: f32, clamp: Option<Clamp>) -> [[f32; TILES]; 4] {
    let mut s = [[[0f32; TILES]; 4]; 2];
    for j in 0..4 {
        for l in 0..TILES {
            s[0][j][l] = m[j][l] + m[4 + j][l] + m[8 + j][l];
            s[1][j][l] = m[4 + j][l] - m[8 + j][l] - m[12 + j][l];
        }
    }
    let mut y = [[0f32; TILES]; 4];
    for i in 0..2 {
        for l in 0..TILES {
            y[2 * i][l] = s[i][0][l] + s[i][1][l] + s[i][2][l] + bias;
            y[2 * i + 1][l] = s[i][1][l] - s[i][2][l] - s[i][3][l] + bias;
        }
    }
    if let Some(c) = clamp {
        for v in y.iter_mut().flatten() {
            *v = v.max(c.lo).min(c.hi);
        }
    }
    y
}

impl TypedOp for WinogradInput {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        let (n, c) = if self.batch_axis {
            (shape[0].clone(), shape[1].clone())
        } else {
            (1.to_dim(), shape[0].clone())
        };
        Ok(tvec!(f32::fact([
            16.to_dim(),
            c,
            n * self.tiles.per_plane()
        ])))
    }
    as_op!();
}

impl TypedOp for WinogradOutput {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let cout = inputs[0].shape[1].clone();
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

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Epilogue, PlaneLayout, Spread, TILES, Tiles};
    use std::arch::x86_64::*;

    /// [`super::transform_input_portable`], 8 tiles per register.
    ///
    /// # Safety
    /// AVX2 must be available; `scratch` is a plane of `layout`, `v` holds the 16 planes.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn transform_input(
        t: &Tiles,
        layout: &PlaneLayout,
        scratch: &[f32],
        v: &mut [f32],
        spread: Spread,
    ) {
        let Spread { at, stride } = spread;
        let (row, phase) = (layout.row, layout.len / 2);
        let src = scratch.as_ptr();
        let dst = v.as_mut_ptr();
        for ty in 0..t.rows() {
            for tx in (0..t.wide()).step_by(TILES) {
                // SAFETY: the scratch plane holds every tile's 4 rows and phase columns.
                let d = |i: usize, j: usize| unsafe {
                    _mm256_loadu_ps(src.add((j % 2) * phase + (2 * ty + i) * row + tx + j / 2))
                };
                let mut r = [[_mm256_setzero_ps(); 4]; 4];
                let mut j = 0;
                while j < 4 {
                    let (d0, d1, d2, d3) = (d(0, j), d(1, j), d(2, j), d(3, j));
                    r[0][j] = _mm256_sub_ps(d0, d2);
                    r[1][j] = _mm256_add_ps(d1, d2);
                    r[2][j] = _mm256_sub_ps(d2, d1);
                    r[3][j] = _mm256_sub_ps(d1, d3);
                    j += 1;
                }
                let base = at + ty * t.wide() + tx;
                let mut i = 0;
                while i < 4 {
                    let u = [
                        _mm256_sub_ps(r[i][0], r[i][2]),
                        _mm256_add_ps(r[i][1], r[i][2]),
                        _mm256_sub_ps(r[i][2], r[i][1]),
                        _mm256_sub_ps(r[i][1], r[i][3]),
                    ];
                    let mut k = 0;
                    while k < 4 {
                        // SAFETY: `v` holds the 16 planes (checked by the caller).
                        unsafe { _mm256_storeu_ps(dst.add((4 * i + k) * stride + base), u[k]) };
                        k += 1;
                    }
                    i += 1;
                }
            }
        }
    }

    /// [`super::output_plane_portable`], 8 tiles per register.
    ///
    /// # Safety
    /// AVX2 must be available; `m` holds the 16 planes, `plane` one output plane.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn output_plane(
        t: &Tiles,
        m: &[f32],
        spread: Spread,
        epilogue: Epilogue,
        plane: &mut [f32],
    ) {
        let (Spread { at, stride }, Epilogue { bias, clamp }) = (spread, epilogue);
        let [h, w] = t.plane;
        let b = _mm256_set1_ps(bias);
        let bounds = clamp.map(|c| (_mm256_set1_ps(c.lo), _mm256_set1_ps(c.hi)));
        let src = m.as_ptr();
        for ty in 0..t.rows() {
            for tx in (0..t.wide()).step_by(TILES) {
                let base = at + ty * t.wide() + tx;
                // SAFETY: `m` holds the 16 planes (checked by the caller).
                let mm = |x: usize| unsafe { _mm256_loadu_ps(src.add(x * stride + base)) };
                let mut s0 = [_mm256_setzero_ps(); 4];
                let mut s1 = [_mm256_setzero_ps(); 4];
                let mut j = 0;
                while j < 4 {
                    let (m0, m1, m2, m3) = (mm(j), mm(4 + j), mm(8 + j), mm(12 + j));
                    s0[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                    s1[j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
                    j += 1;
                }
                let fin = |y: __m256| {
                    let y = _mm256_add_ps(y, b);
                    match bounds {
                        // `max(y, lo)` returns `lo` for a NaN `y`, as `f32::max` does.
                        Some((lo, hi)) => _mm256_min_ps(_mm256_max_ps(y, lo), hi),
                        None => y,
                    }
                };
                for (r, s) in [s0, s1].iter().enumerate() {
                    let oy = 2 * ty + r;
                    let ox = 2 * tx;
                    if oy >= h || ox >= w {
                        break;
                    }
                    let a = fin(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]));
                    let c = fin(_mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]));
                    // a0 c0 a1 c1 ... a7 c7.
                    let (lo, hi) = (_mm256_unpacklo_ps(a, c), _mm256_unpackhi_ps(a, c));
                    let first = _mm256_permute2f128_ps(lo, hi, 0x20);
                    let second = _mm256_permute2f128_ps(lo, hi, 0x31);
                    let row = &mut plane[oy * w + ox..(oy + 1) * w];
                    if row.len() >= 2 * TILES {
                        // SAFETY: 16 floats fit in `row`.
                        unsafe {
                            _mm256_storeu_ps(row.as_mut_ptr(), first);
                            _mm256_storeu_ps(row.as_mut_ptr().add(TILES), second);
                        }
                    } else {
                        let mut tmp = [0f32; 2 * TILES];
                        // SAFETY: `tmp` holds 16 floats.
                        unsafe {
                            _mm256_storeu_ps(tmp.as_mut_ptr(), first);
                            _mm256_storeu_ps(tmp.as_mut_ptr().add(TILES), second);
                        }
                        let len = row.len();
                        row.copy_from_slice(&tmp[..len]);
                    }
                }
            }
        }
    }
}

/// `G g Gt` of a `[Cout, Cin, 3, 3]` kernel, as `[16, Cout, Cin]`;
/// `G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]`.
fn transform_kernel(k: &[f32], cout: usize, cin: usize) -> Tensor {
    let g = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    let mut u = vec![0f32; 16 * cout * cin];
    for o in 0..cout {
        for i in 0..cin {
            let kk = &k[(o * cin + i) * 9..][..9];
            // t = G g (4x3), then t Gt (4x4), in f64 then rounded once.
            let mut t = [[0f64; 3]; 4];
            for (a, ga) in g.iter().enumerate() {
                for c in 0..3 {
                    t[a][c] = (0..3).map(|b| ga[b] * f64::from(kk[b * 3 + c])).sum();
                }
            }
            for a in 0..4 {
                for (b, gb) in g.iter().enumerate() {
                    let v: f64 = (0..3).map(|c| t[a][c] * gb[c]).sum();
                    u[((a * 4 + b) * cout + o) * cin + i] = v as f32;
                }
            }
        }
    }
    Tensor::from_shape(&[16, cout, cin], &u).expect("sizes match")
}

/// Fewest input channels of a convolution run as Winograd (fewer: tract's im2col and one
/// matrix product are faster, the 16 products being too thin).
pub const WINOGRAD_MIN_INPUT_CHANNELS: usize = 64;

/// Largest plane (height x width) run as Winograd: on larger ones the transformed tensors (16
/// values per 2x2 tile and channel) cost more memory traffic than the products save (VGG16's
/// 224x224 and 112x112 blocks).
pub const WINOGRAD_MAX_PLANE: usize = 64 * 64;

/// Replaces each 3x3, stride-1, padding-1, group-1 f32 NCHW convolution of `model` with at
/// least [`WINOGRAD_MIN_INPUT_CHANNELS`] input channels, planes of at most
/// [`WINOGRAD_MAX_PLANE`] points, a constant kernel and bias, by the
/// Winograd F(2x2, 3x3) sequence, with the ReLU that follows fused in. Run it on a decluttered
/// model, before `into_optimized`. Returns how many convolutions were replaced.
pub fn use_winograd(model: &mut TypedModel) -> TractResult<usize> {
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
        if hw.len() != 2 || hw[0] * hw[1] > WINOGRAD_MAX_PLANE {
            continue;
        }
        let (cin, cout) = (conv.input_channels(), conv.output_channels());
        let tiles = Tiles {
            plane: [hw[0], hw[1]],
        };
        let u = transform_kernel(kernel.try_as_plain_ram()?.as_slice::<f32>()?, cout, cin);
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
        let v = patch.wire_node(
            format!("{name}.winograd_in"),
            WinogradInput { tiles, batch_axis },
            &[inputs[0]],
        )?;
        let u = patch.add_const(format!("{name}.winograd_kernel"), u)?;
        let product = EinSum::new("gok,gkt->got".parse()?, f32::datum_type());
        let m = patch.wire_node(format!("{name}.winograd_product"), product, &[u, v[0]])?;
        let y = patch.wire_node(
            name,
            WinogradOutput {
                tiles,
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

    #[test]
    fn the_vector_transforms_give_the_bits_of_the_portable_ones() {
        for (i, plane) in [[1, 1], [2, 3], [7, 7], [14, 14], [13, 37], [28, 28]]
            .into_iter()
            .enumerate()
        {
            let t = Tiles { plane };
            let layout = t.scratch_layout();
            let mut scratch = vec![0f32; layout.len];
            layout.fill(&values(plane[0] * plane[1], i as u64), &mut scratch);
            let per = t.per_plane();
            let (mut fast, mut slow) = (vec![f32::NAN; 16 * per], vec![f32::NAN; 16 * per]);
            transform_input(
                &t,
                &layout,
                &scratch,
                &mut fast,
                Spread { at: 0, stride: per },
            );
            transform_input_portable(
                &t,
                &layout,
                &scratch,
                &mut slow,
                Spread { at: 0, stride: per },
            );
            assert!(same_bits(&fast, &slow), "input {plane:?}");
            let m = values(16 * per, 100 + i as u64);
            for clamp in [None, Some(Clamp { lo: 0.0, hi: 0.5 })] {
                let n = plane[0] * plane[1];
                let (mut fast, mut slow) = (vec![f32::NAN; n], vec![f32::NAN; n]);
                let (spread, epilogue) = (
                    Spread { at: 0, stride: per },
                    Epilogue { bias: 0.25, clamp },
                );
                output_plane(&t, &m, spread, epilogue, &mut fast);
                output_plane_portable(&t, &m, spread, epilogue, &mut slow);
                assert!(same_bits(&fast, &slow), "output {plane:?} {clamp:?}");
                assert!(fast.iter().all(|v| v.is_finite()), "every point written");
            }
        }
    }

    #[test]
    fn the_kernel_transform_is_g_g_gt() {
        // A kernel of ones: G 1 Gt has the row sums of G times the column sums of Gt.
        let u = transform_kernel(&[1.0; 9], 1, 1);
        let u = u
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        let sums = [1.0, 1.5, 0.5, 1.0];
        for a in 0..4 {
            for b in 0..4 {
                assert_eq!(u[a * 4 + b], sums[a] * sums[b], "({a}, {b})");
            }
        }
    }
}
