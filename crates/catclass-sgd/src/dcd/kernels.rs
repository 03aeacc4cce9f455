//! The solver's inner loops, with a fixed floating-point order: 16 lanes (four groups of four)
//! accumulated with fused multiply-adds over the first `len & !15` values, the next whole groups
//! of four into the first group, lanes combined as `(g0 + g1) + (g2 + g3)` then
//! `(l0 + l1) + (l2 + l3)`, and the last `len % 4` values folded in with `fma`.

use crate::data::Element;
#[cfg(target_arch = "x86_64")]
use crate::kernel::{as_f32, as_f64};

/// `x . w` in the module's order (`x.len() == w.len()`; extra values of the longer are
/// ignored).
#[inline]
pub fn dot<T: Element>(x: &[T], w: &[f64]) -> f64 {
    let n = x.len().min(w.len());
    let (x, w) = (&x[..n], &w[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe {
            if let Some(x) = as_f32(x) {
                return x86::dot_f32(x, w);
            }
            if let Some(x) = as_f64(x) {
                return x86::dot_f64(x, w);
            }
        }
    }
    dot_portable(x, w)
}

/// `||x||^2` in the module's order.
#[inline]
pub fn sq_norm<T: Element>(x: &[T]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe {
            if let Some(x) = as_f32(x) {
                return x86::sq_norm_f32(x);
            }
            if let Some(x) = as_f64(x) {
                return x86::dot_f64(x, x);
            }
        }
    }
    sq_norm_portable(x)
}

/// `(x . w, ||x||^2)` reading `x` once; each equals, bit for bit, [`dot`] and [`sq_norm`].
#[inline]
pub fn dot_and_sq_norm<T: Element>(x: &[T], w: &[f64]) -> (f64, f64) {
    let n = x.len().min(w.len());
    let (x, w) = (&x[..n], &w[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe {
            if let Some(x) = as_f32(x) {
                return x86::dot_and_sq_norm_f32(x, w);
            }
        }
    }
    (dot(x, w), sq_norm(x))
}

/// `w[j] = fma(d, x[j], w[j])` for every `j`.
#[inline]
pub fn axpy<T: Element>(w: &mut [f64], d: f64, x: &[T]) {
    let n = x.len().min(w.len());
    let (x, w) = (&x[..n], &mut w[..n]);
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe {
            if let Some(x) = as_f32(x) {
                return x86::axpy_f32(w, d, x);
            }
            if let Some(x) = as_f64(x) {
                return x86::axpy_f64(w, d, x);
            }
        }
    }
    axpy_portable(w, d, x)
}

/// Model `m`'s weights in `w`, the models' weight vectors laid end to end: `w[m * len ..
/// (m + 1) * len]`.
#[inline(always)]
fn weights_of(w: &[f64], m: usize, len: usize) -> &[f64] {
    &w[m * len..(m + 1) * len]
}

/// `out[j] = dot(x, w_m)` for every `m = models[j]`, where `w` holds the models' weight vectors
/// end to end (`w_m = w[m * x.len() .. (m + 1) * x.len()]`): each value has the bits of [`dot`]
/// whatever the other models listed, and each load of `x` serves three models.
#[inline]
pub(crate) fn dots<T: Element>(x: &[T], w: &[f64], models: &[usize], out: &mut [f64]) {
    debug_assert!(out.len() >= models.len());
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe {
            if let Some(x) = as_f32(x) {
                return x86::dots(x, w, models, out);
            }
            if let Some(x) = as_f64(x) {
                return x86::dots(x, w, models, out);
            }
        }
    }
    dots_portable(x, w, models, out)
}

/// `w_m += d x` ([`axpy`]'s bits) for every `(m, d)` of `steps` (distinct models), with `w`
/// laid out as in [`dots`]; each load of `x` serves four models.
#[inline]
pub(crate) fn axpys<T: Element>(w: &mut [f64], steps: &[(usize, f64)], x: &[T]) {
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe {
            if let Some(x) = as_f32(x) {
                return x86::axpys(w, steps, x);
            }
            if let Some(x) = as_f64(x) {
                return x86::axpys(w, steps, x);
            }
        }
    }
    axpys_portable(w, steps, x)
}

/// [`dots`] without SIMD.
pub(crate) fn dots_portable<T: Element>(x: &[T], w: &[f64], models: &[usize], out: &mut [f64]) {
    for (o, &m) in out.iter_mut().zip(models) {
        *o = dot_portable(x, weights_of(w, m, x.len()));
    }
}

/// [`axpys`] without SIMD.
pub(crate) fn axpys_portable<T: Element>(w: &mut [f64], steps: &[(usize, f64)], x: &[T]) {
    let len = x.len();
    for &(m, d) in steps {
        axpy_portable(&mut w[m * len..(m + 1) * len], d, x);
    }
}

/// [`dot`] without SIMD: the reference statement of the order.
pub fn dot_portable<T: Element>(x: &[T], w: &[f64]) -> f64 {
    reduce_portable(x.len().min(w.len()), |i| (x[i].to_f64(), w[i]))
}

/// [`sq_norm`] without SIMD.
pub fn sq_norm_portable<T: Element>(x: &[T]) -> f64 {
    reduce_portable(x.len(), |i| {
        let v = x[i].to_f64();
        (v, v)
    })
}

/// [`axpy`] without SIMD.
pub fn axpy_portable<T: Element>(w: &mut [f64], d: f64, x: &[T]) {
    for (wj, xj) in w.iter_mut().zip(x) {
        *wj = libm::fma(d, xj.to_f64(), *wj);
    }
}

#[inline(always)]
fn reduce_portable(n: usize, pair: impl Fn(usize) -> (f64, f64)) -> f64 {
    let main16 = n & !15;
    let main4 = n & !3;
    let mut acc = [[0.0f64; 4]; 4];
    let mut i = 0;
    while i < main16 {
        for (g, group) in acc.iter_mut().enumerate() {
            for (l, lane) in group.iter_mut().enumerate() {
                let (a, b) = pair(i + 4 * g + l);
                *lane = libm::fma(a, b, *lane);
            }
        }
        i += 16;
    }
    while i < main4 {
        for (l, lane) in acc[0].iter_mut().enumerate() {
            let (a, b) = pair(i + l);
            *lane = libm::fma(a, b, *lane);
        }
        i += 4;
    }
    let mut lanes = [0.0f64; 4];
    for (l, v) in lanes.iter_mut().enumerate() {
        *v = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    }
    let mut sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    while i < n {
        let (a, b) = pair(i);
        sum = libm::fma(a, b, sum);
        i += 1;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    pub(super) use crate::cpu::avx2_fma as available;

    /// Combines the four groups and folds the tail `(from..n)` with scalar fma.
    #[inline(always)]
    unsafe fn finish(
        a: [__m256d; 4],
        n: usize,
        from: usize,
        pair: impl Fn(usize) -> (f64, f64),
    ) -> f64 {
        let mut lanes = [0.0f64; 4];
        unsafe {
            let s = _mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3]));
            _mm256_storeu_pd(lanes.as_mut_ptr(), s);
        }
        let mut sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        for i in from..n {
            let (x, y) = pair(i);
            // SAFETY: FMA is enabled by every caller.
            unsafe {
                sum = _mm_cvtsd_f64(_mm_fmadd_sd(_mm_set_sd(x), _mm_set_sd(y), _mm_set_sd(sum)));
            }
        }
        sum
    }

    #[inline(always)]
    unsafe fn ld32(p: *const f32) -> __m256d {
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_f32(x: &[f32], w: &[f64]) -> f64 {
        let n = x.len();
        debug_assert_eq!(n, w.len());
        let (main16, main4) = (n & !15, n & !3);
        let mut a = [_mm256_setzero_pd(); 4];
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut i = 0;
        // SAFETY: every load reads indices below main16 / main4 <= n.
        unsafe {
            while i < main16 {
                a[0] = _mm256_fmadd_pd(ld32(xp.add(i)), _mm256_loadu_pd(wp.add(i)), a[0]);
                a[1] = _mm256_fmadd_pd(ld32(xp.add(i + 4)), _mm256_loadu_pd(wp.add(i + 4)), a[1]);
                a[2] = _mm256_fmadd_pd(ld32(xp.add(i + 8)), _mm256_loadu_pd(wp.add(i + 8)), a[2]);
                a[3] = _mm256_fmadd_pd(ld32(xp.add(i + 12)), _mm256_loadu_pd(wp.add(i + 12)), a[3]);
                i += 16;
            }
            while i < main4 {
                a[0] = _mm256_fmadd_pd(ld32(xp.add(i)), _mm256_loadu_pd(wp.add(i)), a[0]);
                i += 4;
            }
            finish(a, n, main4, |i| (x[i] as f64, w[i]))
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_and_sq_norm_f32(x: &[f32], w: &[f64]) -> (f64, f64) {
        let n = x.len();
        debug_assert_eq!(n, w.len());
        let (main16, main4) = (n & !15, n & !3);
        let mut a = [_mm256_setzero_pd(); 4];
        let mut q = [_mm256_setzero_pd(); 4];
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut i = 0;
        // SAFETY: every load reads indices below main16 / main4 <= n.
        unsafe {
            while i < main16 {
                for g in 0..4 {
                    let v = ld32(xp.add(i + 4 * g));
                    a[g] = _mm256_fmadd_pd(v, _mm256_loadu_pd(wp.add(i + 4 * g)), a[g]);
                    q[g] = _mm256_fmadd_pd(v, v, q[g]);
                }
                i += 16;
            }
            while i < main4 {
                let v = ld32(xp.add(i));
                a[0] = _mm256_fmadd_pd(v, _mm256_loadu_pd(wp.add(i)), a[0]);
                q[0] = _mm256_fmadd_pd(v, v, q[0]);
                i += 4;
            }
            (
                finish(a, n, main4, |i| (x[i] as f64, w[i])),
                finish(q, n, main4, |i| (x[i] as f64, x[i] as f64)),
            )
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sq_norm_f32(x: &[f32]) -> f64 {
        let n = x.len();
        let (main16, main4) = (n & !15, n & !3);
        let mut a = [_mm256_setzero_pd(); 4];
        let xp = x.as_ptr();
        let mut i = 0;
        // SAFETY: every load reads indices below main16 / main4 <= n.
        unsafe {
            while i < main16 {
                for (g, acc) in a.iter_mut().enumerate() {
                    let v = ld32(xp.add(i + 4 * g));
                    *acc = _mm256_fmadd_pd(v, v, *acc);
                }
                i += 16;
            }
            while i < main4 {
                let v = ld32(xp.add(i));
                a[0] = _mm256_fmadd_pd(v, v, a[0]);
                i += 4;
            }
            finish(a, n, main4, |i| (x[i] as f64, x[i] as f64))
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_f64(x: &[f64], w: &[f64]) -> f64 {
        let n = x.len();
        debug_assert_eq!(n, w.len());
        let (main16, main4) = (n & !15, n & !3);
        let mut a = [_mm256_setzero_pd(); 4];
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut i = 0;
        // SAFETY: every load reads indices below main16 / main4 <= n.
        unsafe {
            while i < main16 {
                for (g, acc) in a.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_pd(
                        _mm256_loadu_pd(xp.add(i + 4 * g)),
                        _mm256_loadu_pd(wp.add(i + 4 * g)),
                        *acc,
                    );
                }
                i += 16;
            }
            while i < main4 {
                a[0] =
                    _mm256_fmadd_pd(_mm256_loadu_pd(xp.add(i)), _mm256_loadu_pd(wp.add(i)), a[0]);
                i += 4;
            }
            finish(a, n, main4, |i| (x[i], w[i]))
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn axpy_f32(w: &mut [f64], d: f64, x: &[f32]) {
        let n = x.len();
        debug_assert_eq!(n, w.len());
        let main4 = n & !3;
        let dv = _mm256_set1_pd(d);
        let (xp, wp) = (x.as_ptr(), w.as_mut_ptr());
        let mut i = 0;
        // SAFETY: every access is below main4 <= n.
        unsafe {
            while i < main4 {
                let r = _mm256_fmadd_pd(dv, ld32(xp.add(i)), _mm256_loadu_pd(wp.add(i)));
                _mm256_storeu_pd(wp.add(i), r);
                i += 4;
            }
        }
        for j in main4..n {
            w[j] = fma1(d, x[j] as f64, w[j]);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn axpy_f64(w: &mut [f64], d: f64, x: &[f64]) {
        let n = x.len();
        debug_assert_eq!(n, w.len());
        let main4 = n & !3;
        let dv = _mm256_set1_pd(d);
        let (xp, wp) = (x.as_ptr(), w.as_mut_ptr());
        let mut i = 0;
        // SAFETY: every access is below main4 <= n.
        unsafe {
            while i < main4 {
                let r = _mm256_fmadd_pd(dv, _mm256_loadu_pd(xp.add(i)), _mm256_loadu_pd(wp.add(i)));
                _mm256_storeu_pd(wp.add(i), r);
                i += 4;
            }
        }
        for j in main4..n {
            w[j] = fma1(d, x[j], w[j]);
        }
    }

    /// A row element type the multi-model kernels load four at a time as `f64`.
    pub(crate) trait Lanes: Copy {
        /// Four values from `p` as `f64`.
        ///
        /// # Safety
        /// `p .. p + 4` must be readable; AVX2 must be available.
        unsafe fn load4(p: *const Self) -> __m256d;
        /// The value as `f64`.
        fn wide(self) -> f64;
    }

    impl Lanes for f32 {
        #[inline(always)]
        unsafe fn load4(p: *const f32) -> __m256d {
            unsafe { ld32(p) }
        }
        #[inline(always)]
        fn wide(self) -> f64 {
            self as f64
        }
    }

    impl Lanes for f64 {
        #[inline(always)]
        unsafe fn load4(p: *const f64) -> __m256d {
            unsafe { _mm256_loadu_pd(p) }
        }
        #[inline(always)]
        fn wide(self) -> f64 {
            self
        }
    }

    /// `x . w[m]` for `M` models, each in `dot_f32`'s order, loading `x` once for all.
    ///
    /// # Safety
    /// Every `w[m]` must point to `x.len()` readable values; AVX2 and FMA must be available.
    #[inline(always)]
    unsafe fn dots_tile<L: Lanes, const M: usize>(x: &[L], w: [*const f64; M]) -> [f64; M] {
        let n = x.len();
        let (main16, main4) = (n & !15, n & !3);
        let xp = x.as_ptr();
        let mut i = 0;
        let mut out = [0.0; M];
        // SAFETY: every load reads indices below main16 / main4 <= n.
        unsafe {
            let mut a = [[_mm256_setzero_pd(); 4]; M];
            while i < main16 {
                for g in 0..4 {
                    let v = L::load4(xp.add(i + 4 * g));
                    for (am, wm) in a.iter_mut().zip(&w) {
                        am[g] = _mm256_fmadd_pd(v, _mm256_loadu_pd(wm.add(i + 4 * g)), am[g]);
                    }
                }
                i += 16;
            }
            while i < main4 {
                let v = L::load4(xp.add(i));
                for m in 0..M {
                    a[m][0] = _mm256_fmadd_pd(v, _mm256_loadu_pd(w[m].add(i)), a[m][0]);
                }
                i += 4;
            }
            for m in 0..M {
                out[m] = finish(a[m], n, main4, |k| (x[k].wide(), *w[m].add(k)));
            }
        }
        out
    }

    /// See [`super::dots`]; `w` must hold every listed model.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn dots<L: Lanes>(x: &[L], w: &[f64], models: &[usize], out: &mut [f64]) {
        let n = x.len();
        let at = |m: usize| super::weights_of(w, m, n).as_ptr();
        let mut j = 0;
        // SAFETY: each pointer starts a slice of `n` weights (checked by `weights_of`).
        unsafe {
            while j + 3 <= models.len() {
                let r = dots_tile(x, [at(models[j]), at(models[j + 1]), at(models[j + 2])]);
                out[j..j + 3].copy_from_slice(&r);
                j += 3;
            }
            match models.len() - j {
                2 => {
                    out[j..j + 2].copy_from_slice(&dots_tile(x, [at(models[j]), at(models[j + 1])]))
                }
                1 => out[j] = dots_tile(x, [at(models[j])])[0],
                _ => {}
            }
        }
    }

    /// `w[m] += d[m] x` for `M` models, each as `axpy_f32`, loading `x` once for all.
    ///
    /// # Safety
    /// Every `w[m]` must point to `x.len()` writable values, no two overlapping; AVX2 and FMA
    /// must be available.
    #[inline(always)]
    unsafe fn axpys_tile<L: Lanes, const M: usize>(x: &[L], w: [*mut f64; M], d: [f64; M]) {
        let n = x.len();
        let main4 = n & !3;
        let xp = x.as_ptr();
        let mut i = 0;
        // SAFETY: every access is below main4 <= n, or below n in the tail.
        unsafe {
            let dv = d.map(|v| _mm256_set1_pd(v));
            while i < main4 {
                let v = L::load4(xp.add(i));
                for m in 0..M {
                    let r = _mm256_fmadd_pd(dv[m], v, _mm256_loadu_pd(w[m].add(i)));
                    _mm256_storeu_pd(w[m].add(i), r);
                }
                i += 4;
            }
            for (k, xk) in x.iter().enumerate().skip(main4) {
                for m in 0..M {
                    *w[m].add(k) = fma1(d[m], xk.wide(), *w[m].add(k));
                }
            }
        }
    }

    /// See [`super::axpys`]; `w` must hold every listed model, each listed once.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn axpys<L: Lanes>(w: &mut [f64], steps: &[(usize, f64)], x: &[L]) {
        let n = x.len();
        for chunk in steps.chunks(4) {
            let mut at = [core::ptr::null_mut::<f64>(); 4];
            let mut d = [0.0; 4];
            for (k, &(m, dm)) in chunk.iter().enumerate() {
                at[k] = w[m * n..(m + 1) * n].as_mut_ptr();
                d[k] = dm;
            }
            // SAFETY: each pointer starts a slice of `n` weights of a distinct model.
            unsafe {
                match chunk.len() {
                    4 => axpys_tile(x, at, d),
                    3 => axpys_tile(x, [at[0], at[1], at[2]], [d[0], d[1], d[2]]),
                    2 => axpys_tile(x, [at[0], at[1]], [d[0], d[1]]),
                    _ => axpys_tile(x, [at[0]], [d[0]]),
                }
            }
        }
    }

    #[target_feature(enable = "fma")]
    fn fma1(a: f64, b: f64, c: f64) -> f64 {
        _mm_cvtsd_f64(_mm_fmadd_sd(_mm_set_sd(a), _mm_set_sd(b), _mm_set_sd(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.4
            })
            .collect()
    }

    #[test]
    fn simd_and_portable_kernels_agree_bitwise() {
        for n in [0usize, 1, 3, 4, 5, 15, 16, 17, 31, 35, 257, 4096] {
            let x64: Vec<f64> = values(n, 0x9E37_79B9 + n as u64)
                .iter()
                .map(|v| v * 3.1)
                .collect();
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let w = values(n, 77 + n as u64);
            assert_eq!(dot(&x64, &w).to_bits(), dot_portable(&x64, &w).to_bits());
            assert_eq!(dot(&x32, &w).to_bits(), dot_portable(&x32, &w).to_bits());
            assert_eq!(sq_norm(&x32).to_bits(), sq_norm_portable(&x32).to_bits());
            assert_eq!(sq_norm(&x64).to_bits(), sq_norm_portable(&x64).to_bits());
            let (d, q) = dot_and_sq_norm(&x32, &w);
            assert_eq!(d.to_bits(), dot_portable(&x32, &w).to_bits());
            assert_eq!(q.to_bits(), sq_norm_portable(&x32).to_bits());
            let (d, q) = dot_and_sq_norm(&x64, &w);
            assert_eq!(d.to_bits(), dot_portable(&x64, &w).to_bits());
            assert_eq!(q.to_bits(), sq_norm_portable(&x64).to_bits());
            for d in [0.37, -1.5e-3] {
                let (mut a, mut b) = (w.clone(), w.clone());
                axpy(&mut a, d, &x32);
                axpy_portable(&mut b, d, &x32);
                assert_eq!(a, b);
                let (mut a, mut b) = (w.clone(), w.clone());
                axpy(&mut a, d, &x64);
                axpy_portable(&mut b, d, &x64);
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn multi_model_kernels_have_the_bits_of_one_model_at_a_time() {
        for n in [1usize, 3, 4, 5, 16, 17, 35, 257] {
            let x64: Vec<f64> = values(n, 5 + n as u64).iter().map(|v| v * 2.3).collect();
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let models = 8;
            let w = values(n * models, 91 + n as u64);
            for pick in [
                &[][..],
                &[3],
                &[0, 7],
                &[5, 1, 2],
                &[0, 1, 2, 3, 4, 5, 6, 7],
                &[6, 2, 4, 0, 1],
            ] {
                let mut out = vec![f64::NAN; pick.len()];
                dots(&x32, &w, pick, &mut out);
                for (o, &m) in out.iter().zip(pick) {
                    assert_eq!(o.to_bits(), dot(&x32, &w[m * n..(m + 1) * n]).to_bits());
                }
                dots(&x64, &w, pick, &mut out);
                for (o, &m) in out.iter().zip(pick) {
                    assert_eq!(o.to_bits(), dot(&x64, &w[m * n..(m + 1) * n]).to_bits());
                }
                let steps: Vec<(usize, f64)> =
                    pick.iter().map(|&m| (m, 0.25 - m as f64 * 0.3)).collect();
                let (mut a, mut b) = (w.clone(), w.clone());
                axpys(&mut a, &steps, &x32);
                for &(m, d) in &steps {
                    axpy(&mut b[m * n..(m + 1) * n], d, &x32);
                }
                assert_eq!(a, b);
                let (mut a, mut b) = (w.clone(), w.clone());
                axpys(&mut a, &steps, &x64);
                axpys_portable(&mut b, &steps, &x64);
                assert_eq!(a, b);
                dots_portable(&x64, &w, pick, &mut out);
                for (o, &m) in out.iter().zip(pick) {
                    assert_eq!(o.to_bits(), dot(&x64, &w[m * n..(m + 1) * n]).to_bits());
                }
            }
        }
    }

    #[test]
    fn dot_order_is_sixteen_lanes_then_fma_tail() {
        // 1e16 in lane 0 of group 0 and -1e16 in lane 0 of group 1 cancel when the groups are
        // added; the 1.0 in group 2 survives. A sequential sum would lose it against 1e16.
        let mut x = [0.0f64; 17];
        x[0] = 1e16;
        x[1] = 1.0;
        x[4] = -1e16;
        x[8] = 1.0;
        x[16] = 0.5;
        let w = [1.0; 17];
        assert_eq!(dot(&x, &w), 2.5);
        assert_eq!(dot_portable(&x, &w), 2.5);
    }

    #[test]
    fn below_is_in_range_and_reproducible() {
        use rand_chacha::ChaCha12Rng;
        use rand_chacha::rand_core::SeedableRng;
        let mut a = ChaCha12Rng::seed_from_u64(3);
        let mut b = ChaCha12Rng::seed_from_u64(3);
        for m in 1..200u64 {
            let v = crate::dcd::below(&mut a, m);
            assert!(v < m);
            assert_eq!(v, crate::dcd::below(&mut b, m));
        }
    }
}
