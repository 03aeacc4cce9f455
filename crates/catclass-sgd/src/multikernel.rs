//! The one-vs-rest inner loops: a group of rows against every model at once.
//!
//! For a group of up to [`GROUP`] rows, [`margins`] computes every (row, model) margin and
//! [`add_gradients`] adds every violating row to its model's gradient. Each (row, model) margin
//! keeps [`crate::kernel::dot`]'s exact order (four `fma` lanes over strided elements,
//! `0.0 + (((s0 + s1) + s2) + s3)`, `fma` tail), and each gradient element receives its rows in
//! row order, so the results are bit-identical to one [`crate::kernel::dot`] and one
//! [`crate::kernel::add_signed`] per (row, model). What changes is the work's shape: on AVX2 a
//! register tile of 4 rows x 3 models shares every load, the `f32` rows are converted to `f64`
//! once per column tile rather than once per model, and the column tiles keep the rows, the
//! weights and the gradients in cache.

use crate::data::Element;
use crate::kernel::{add_signed, dot};
use alloc::vec;
use alloc::vec::Vec;

/// Rows per group.
pub(crate) const GROUP: usize = 32;

/// Reusable buffers for one block.
pub(crate) struct Scratch {
    /// Converted rows of the current column tile.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    xs: Vec<f64>,
    /// Four-lane accumulators, `GROUP * models`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    acc: Vec<[f64; 4]>,
}

impl Scratch {
    /// Buffers for `models` models.
    pub(crate) fn new(models: usize) -> Self {
        Scratch {
            xs: Vec::new(),
            acc: vec![[0.0; 4]; GROUP * models],
        }
    }
}

/// `out[q * w.len() + j] = dot(rows[q], w[j])`, in MLlib's order. `rows.len() <= GROUP`.
pub(crate) fn margins<T: Element>(
    rows: &[&[T]],
    w: &[&[f64]],
    scratch: &mut Scratch,
    out: &mut [f64],
) {
    debug_assert!(rows.len() <= GROUP);
    #[cfg(target_arch = "x86_64")]
    if crate::kernel::simd_available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe { x86::margins(rows, w, scratch, out) };
        return;
    }
    let _ = scratch;
    for (q, row) in rows.iter().enumerate() {
        for (j, wj) in w.iter().enumerate() {
            out[q * w.len() + j] = dot(row, wj);
        }
    }
}

/// For every model `j`, adds `coef[q * models + j] * rows[q]` (each coefficient -1, 0 or +1)
/// to `grads[j * d .. (j + 1) * d]`, rows in order: exactly [`add_signed`] per nonzero
/// coefficient.
pub(crate) fn add_gradients<T: Element>(
    rows: &[&[T]],
    coef: &[f64],
    models: usize,
    grads: &mut [f64],
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernel::simd_available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe { x86::add_gradients(rows, coef, models, grads, scratch) };
        return;
    }
    let _ = scratch;
    let d = rows.first().map_or(0, |r| r.len());
    for (q, row) in rows.iter().enumerate() {
        for j in 0..models {
            let c = coef[q * models + j];
            if c != 0.0 {
                add_signed(&mut grads[j * d..(j + 1) * d], row, c);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{GROUP, Scratch};
    use crate::data::Element;
    use core::arch::x86_64::*;

    /// Columns per tile (a multiple of 4): 32 rows and 37 models of this many `f64` stay in L2.
    const TILE: usize = 256;

    /// Asks for `rows[..][from .. from + len]` (clamped to the row) to be brought into cache.
    #[inline(always)]
    fn prefetch<T: Element>(rows: &[&[T]], from: usize, len: usize) {
        let step = 64 / core::mem::size_of::<T>();
        for row in rows {
            let end = (from + len).min(row.len());
            let mut e = from;
            while e < end {
                // SAFETY: `e` is inside the row; a prefetch has no other effect.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().add(e) as *const i8) };
                e += step;
            }
        }
    }

    /// Converts `src` into `dst`; returns whether every value is finite.
    #[inline(always)]
    fn convert<T: Element>(src: &[T], dst: &mut [f64]) -> bool {
        const EXP: u64 = 0x7ff0_0000_0000_0000;
        let mut bad = false;
        for (o, v) in dst.iter_mut().zip(src) {
            let x = v.to_f64();
            *o = x;
            bad |= x.to_bits() & EXP == EXP;
        }
        !bad
    }

    /// Accumulates `len` (a multiple of 4) columns of 4 rows x `M` models into `acc`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const M: usize>(
        x: [*const f64; 4],
        w: [*const f64; M],
        len: usize,
        acc: &mut [[__m256d; M]; 4],
    ) {
        let mut a = *acc;
        let mut e = 0;
        while e < len {
            unsafe {
                let mut wv = [_mm256_setzero_pd(); M];
                for m in 0..M {
                    wv[m] = _mm256_loadu_pd(w[m].add(e));
                }
                for q in 0..4 {
                    let xv = _mm256_loadu_pd(x[q].add(e));
                    for m in 0..M {
                        a[q][m] = _mm256_fmadd_pd(xv, wv[m], a[q][m]);
                    }
                }
            }
            e += 4;
        }
        *acc = a;
    }

    /// Runs [`tile`] over every group of 4 rows for models `j .. j + M`, columns
    /// `t0 .. t0 + len`, loading and storing the accumulators.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile_models<const M: usize>(
        xs: &[f64],
        rows4: usize,
        w: &[&[f64]],
        j: usize,
        t0: usize,
        len: usize,
        models: usize,
        acc: &mut [[f64; 4]],
    ) {
        for q0 in (0..rows4).step_by(4) {
            let x: [*const f64; 4] = core::array::from_fn(|q| xs[(q0 + q) * TILE..].as_ptr());
            let wp: [*const f64; M] = core::array::from_fn(|m| w[j + m][t0..].as_ptr());
            let mut a = [[_mm256_setzero_pd(); M]; 4];
            for q in 0..4 {
                for m in 0..M {
                    // SAFETY: [f64; 4] and __m256d have the same size; unaligned load.
                    a[q][m] = unsafe { _mm256_loadu_pd(acc[(q0 + q) * models + j + m].as_ptr()) };
                }
            }
            // SAFETY: every pointer has `len` readable values past it.
            unsafe { tile::<M>(x, wp, len, &mut a) };
            for q in 0..4 {
                for m in 0..M {
                    // SAFETY: as above.
                    unsafe {
                        _mm256_storeu_pd(acc[(q0 + q) * models + j + m].as_mut_ptr(), a[q][m])
                    };
                }
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn margins<T: Element>(
        rows: &[&[T]],
        w: &[&[f64]],
        scratch: &mut Scratch,
        out: &mut [f64],
    ) {
        let n = rows.len();
        let models = w.len();
        if n == 0 || models == 0 {
            return;
        }
        let d = rows[0].len();
        let main = d & !3;
        let rows4 = n.div_ceil(4) * 4;
        scratch.xs.resize(GROUP * TILE, 0.0);
        let acc = &mut scratch.acc[..rows4 * models];
        acc.iter_mut().for_each(|a| *a = [0.0; 4]);
        let mut t0 = 0;
        while t0 < main {
            let len = TILE.min(main - t0);
            for q in 0..rows4 {
                // Padding rows repeat the last row; their margins are not used.
                let src = &rows[q.min(n - 1)][t0..t0 + len];
                let _ = convert(src, &mut scratch.xs[q * TILE..q * TILE + len]);
            }
            prefetch(rows, t0 + len, TILE);
            let mut j = 0;
            while j < models {
                let m = (models - j).min(3);
                // SAFETY: AVX2 and FMA are enabled here.
                unsafe {
                    match m {
                        3 => tile_models::<3>(&scratch.xs, rows4, w, j, t0, len, models, acc),
                        2 => tile_models::<2>(&scratch.xs, rows4, w, j, t0, len, models, acc),
                        _ => tile_models::<1>(&scratch.xs, rows4, w, j, t0, len, models, acc),
                    }
                }
                j += m;
            }
            t0 += len;
        }
        for q in 0..n {
            for j in 0..models {
                let l = acc[q * models + j];
                let mut sum = 0.0 + (((l[0] + l[1]) + l[2]) + l[3]);
                for e in main..d {
                    sum = libm::fma(rows[q][e].to_f64(), w[j][e], sum);
                }
                out[q * models + j] = sum;
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn add_gradients<T: Element>(
        rows: &[&[T]],
        coef: &[f64],
        models: usize,
        grads: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let n = rows.len();
        if n == 0 || coef[..n * models].iter().all(|c| *c == 0.0) {
            return;
        }
        let d = rows[0].len();
        scratch.xs.resize(GROUP * TILE, 0.0);
        let mut t0 = 0;
        while t0 < d {
            let len = TILE.min(d - t0);
            let mut finite = true;
            for (q, row) in rows.iter().enumerate() {
                finite &= convert(
                    &row[t0..t0 + len],
                    &mut scratch.xs[q * TILE..q * TILE + len],
                );
            }
            prefetch(rows, t0 + len, TILE);
            let xs = &scratch.xs;
            for j in 0..models {
                // The rows with a nonzero coefficient for model `j`, in order.
                let mut idx = [0usize; GROUP];
                let mut cv = [_mm256_setzero_pd(); GROUP];
                let mut cs = [0.0f64; GROUP];
                let mut k = 0;
                for q in 0..n {
                    let c = coef[q * models + j];
                    if c != 0.0 {
                        idx[k] = q;
                        cv[k] = _mm256_set1_pd(c);
                        cs[k] = c;
                        k += 1;
                    }
                }
                if k == 0 {
                    continue;
                }
                let g = &mut grads[j * d + t0..j * d + t0 + len];
                let gp = g.as_mut_ptr();
                let mut e = 0;
                // `fma(±1, x, g)` rounds as `g ± x` only for finite `x`: a tile holding an
                // infinity or a NaN takes the scalar path below.
                while finite && e + 16 <= len {
                    // SAFETY: `e + 16 <= len` values of `g` and of each converted row.
                    unsafe {
                        let mut a0 = _mm256_loadu_pd(gp.add(e));
                        let mut a1 = _mm256_loadu_pd(gp.add(e + 4));
                        let mut a2 = _mm256_loadu_pd(gp.add(e + 8));
                        let mut a3 = _mm256_loadu_pd(gp.add(e + 12));
                        for p in 0..k {
                            let x = xs.as_ptr().add(idx[p] * TILE + e);
                            let c = cv[p];
                            a0 = _mm256_fmadd_pd(c, _mm256_loadu_pd(x), a0);
                            a1 = _mm256_fmadd_pd(c, _mm256_loadu_pd(x.add(4)), a1);
                            a2 = _mm256_fmadd_pd(c, _mm256_loadu_pd(x.add(8)), a2);
                            a3 = _mm256_fmadd_pd(c, _mm256_loadu_pd(x.add(12)), a3);
                        }
                        _mm256_storeu_pd(gp.add(e), a0);
                        _mm256_storeu_pd(gp.add(e + 4), a1);
                        _mm256_storeu_pd(gp.add(e + 8), a2);
                        _mm256_storeu_pd(gp.add(e + 12), a3);
                    }
                    e += 16;
                }
                while e < len {
                    for p in 0..k {
                        let x = xs[idx[p] * TILE + e];
                        if cs[p] > 0.0 {
                            g[e] += x;
                        } else {
                            g[e] -= x;
                        }
                    }
                    e += 1;
                }
            }
            t0 += len;
        }
    }
}
