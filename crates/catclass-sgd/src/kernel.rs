//! The two inner loops, with MLlib's exact floating-point order.
//!
//! MLlib's `dot` goes through netlib's `JavaBLAS`, which on Java 11+ is `Java11BLAS.ddot`:
//! four running sums over lanes `j mod 4` updated with `Math.fma`, combined as
//! `0.0 + (((s0 + s1) + s2) + s3)`, then the `len mod 4` tail folded in with `fma`.
//! [`dot`] computes exactly that, with AVX2+FMA where the CPU has them (the four lanes are one
//! 256-bit register) and a correctly rounded software `fma` elsewhere.
//! The hinge gradient adds `±1 * x` to the running gradient; with a ±1 coefficient `fma` and a
//! plain add round identically, so [`add_signed`] is a plain add or subtract.

use crate::data::Element;
use core::any::TypeId;

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) fn as_f32<T: Element>(x: &[T]) -> Option<&[f32]> {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: T is f32.
        Some(unsafe { core::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) })
    } else {
        None
    }
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) fn as_f64<T: Element>(x: &[T]) -> Option<&[f64]> {
    if TypeId::of::<T>() == TypeId::of::<f64>() {
        // SAFETY: T is f64.
        Some(unsafe { core::slice::from_raw_parts(x.as_ptr() as *const f64, x.len()) })
    } else {
        None
    }
}

/// Whether the AVX2 + FMA kernels are used on this CPU.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn simd_available() -> bool {
    x86::available()
}

/// `x · w` in MLlib's order (Java11BLAS `ddot`, see the module docs). `x.len() == w.len()`.
#[inline]
pub fn dot<T: Element>(x: &[T], w: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), w.len());
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

/// [`dot`] without SIMD: the reference statement of MLlib's order.
pub fn dot_portable<T: Element>(x: &[T], w: &[f64]) -> f64 {
    let n = x.len().min(w.len());
    let main = n & !3;
    let (mut s0, mut s1, mut s2, mut s3) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < main {
        s0 = libm::fma(x[i].to_f64(), w[i], s0);
        s1 = libm::fma(x[i + 1].to_f64(), w[i + 1], s1);
        s2 = libm::fma(x[i + 2].to_f64(), w[i + 2], s2);
        s3 = libm::fma(x[i + 3].to_f64(), w[i + 3], s3);
        i += 4;
    }
    let mut sum = 0.0 + (((s0 + s1) + s2) + s3);
    while i < n {
        sum = libm::fma(x[i].to_f64(), w[i], sum);
        i += 1;
    }
    sum
}

/// Four dot products `rows[k] · w` at once (each in MLlib's order, see [`dot`]); on AVX2 the
/// four independent chains hide the `fma` latency.
#[inline]
pub fn dot4<T: Element>(rows: [&[T]; 4], w: &[f64]) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 and FMA were detected.
        unsafe {
            if let (Some(a), Some(b), Some(c), Some(d)) = (
                as_f32(rows[0]),
                as_f32(rows[1]),
                as_f32(rows[2]),
                as_f32(rows[3]),
            ) {
                return x86::dot4_f32([a, b, c, d], w);
            }
        }
    }
    [
        dot(rows[0], w),
        dot(rows[1], w),
        dot(rows[2], w),
        dot(rows[3], w),
    ]
}

/// `acc += sign * x` for `sign` = +1.0 or -1.0 (exactly `fma(sign, x, acc)`).
#[inline]
pub fn add_signed<T: Element>(acc: &mut [f64], x: &[T], sign: f64) {
    debug_assert_eq!(acc.len(), x.len());
    #[cfg(target_arch = "x86_64")]
    if x86::available() {
        // SAFETY: AVX2 was detected.
        unsafe { x86::add_signed(acc, x, sign) };
        return;
    }
    add_signed_portable(acc, x, sign)
}

#[inline(always)]
fn add_signed_portable<T: Element>(acc: &mut [f64], x: &[T], sign: f64) {
    if sign > 0.0 {
        for (a, v) in acc.iter_mut().zip(x) {
            *a += v.to_f64();
        }
    } else {
        for (a, v) in acc.iter_mut().zip(x) {
            *a -= v.to_f64();
        }
    }
}

/// `acc += a * x` rounded twice (product, then sum), as Breeze's non-fused update does.
#[inline]
pub fn axpy_unfused(acc: &mut [f64], a: f64, x: &[f64]) {
    for (s, v) in acc.iter_mut().zip(x) {
        *s += a * *v;
    }
}

/// Euclidean norm, summing squares in order (Breeze's `norm(v, 2.0)`).
pub fn norm2(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x {
        s += v * v;
    }
    libm::sqrt(s)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Element, add_signed_portable};
    use core::arch::x86_64::*;

    pub(super) use crate::cpu::avx2_fma as available;

    #[inline(always)]
    unsafe fn finish(acc: __m256d, x: impl Fn(usize) -> f64, w: &[f64], from: usize) -> f64 {
        let mut lanes = [0.0f64; 4];
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), acc) };
        let mut sum = 0.0 + (((lanes[0] + lanes[1]) + lanes[2]) + lanes[3]);
        for (i, wi) in w.iter().enumerate().skip(from) {
            sum = libm::fma(x(i), *wi, sum);
        }
        sum
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_f32(x: &[f32], w: &[f64]) -> f64 {
        let n = x.len().min(w.len());
        let main = n & !3;
        let mut acc = _mm256_setzero_pd();
        let mut i = 0;
        while i < main {
            unsafe {
                let xv = _mm256_cvtps_pd(_mm_loadu_ps(x.as_ptr().add(i)));
                let wv = _mm256_loadu_pd(w.as_ptr().add(i));
                acc = _mm256_fmadd_pd(xv, wv, acc);
            }
            i += 4;
        }
        unsafe { finish(acc, |i| x[i] as f64, &w[..n], main) }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_f64(x: &[f64], w: &[f64]) -> f64 {
        let n = x.len().min(w.len());
        let main = n & !3;
        let mut acc = _mm256_setzero_pd();
        let mut i = 0;
        while i < main {
            unsafe {
                let xv = _mm256_loadu_pd(x.as_ptr().add(i));
                let wv = _mm256_loadu_pd(w.as_ptr().add(i));
                acc = _mm256_fmadd_pd(xv, wv, acc);
            }
            i += 4;
        }
        unsafe { finish(acc, |i| x[i], &w[..n], main) }
    }

    /// How far ahead (in floats) `dot4_f32` asks for each row's next cache line.
    const PREFETCH: usize = 512;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot4_f32(rows: [&[f32]; 4], w: &[f64]) -> [f64; 4] {
        let n = w.len();
        assert!(rows.iter().all(|r| r.len() == n));
        let main = n & !3;
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm256_setzero_pd(),
            _mm256_setzero_pd(),
            _mm256_setzero_pd(),
            _mm256_setzero_pd(),
        );
        let mut i = 0;
        while i < main {
            unsafe {
                if i % 16 == 0 {
                    // Past a row's end, the same place in the row four ahead: the next call's
                    // row when rows lie back to back (the usual case; a wrong guess only costs
                    // a cache line, a prefetch never faults).
                    let ahead = i + PREFETCH;
                    let ahead = if ahead < n { ahead } else { ahead + 3 * n };
                    for r in &rows {
                        _mm_prefetch::<_MM_HINT_T0>(r.as_ptr().wrapping_add(ahead) as *const i8);
                    }
                }
                let wv = _mm256_loadu_pd(w.as_ptr().add(i));
                a0 = _mm256_fmadd_pd(
                    _mm256_cvtps_pd(_mm_loadu_ps(rows[0].as_ptr().add(i))),
                    wv,
                    a0,
                );
                a1 = _mm256_fmadd_pd(
                    _mm256_cvtps_pd(_mm_loadu_ps(rows[1].as_ptr().add(i))),
                    wv,
                    a1,
                );
                a2 = _mm256_fmadd_pd(
                    _mm256_cvtps_pd(_mm_loadu_ps(rows[2].as_ptr().add(i))),
                    wv,
                    a2,
                );
                a3 = _mm256_fmadd_pd(
                    _mm256_cvtps_pd(_mm_loadu_ps(rows[3].as_ptr().add(i))),
                    wv,
                    a3,
                );
            }
            i += 4;
        }
        unsafe {
            [
                finish(a0, |i| rows[0][i] as f64, w, main),
                finish(a1, |i| rows[1][i] as f64, w, main),
                finish(a2, |i| rows[2][i] as f64, w, main),
                finish(a3, |i| rows[3][i] as f64, w, main),
            ]
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn add_signed<T: Element>(acc: &mut [f64], x: &[T], sign: f64) {
        add_signed_portable(acc, x, sign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn simd_and_portable_dot_agree_bitwise() {
        let mut s = 0x1234_5678_u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.3
        };
        for n in [0usize, 1, 3, 4, 5, 31, 257] {
            let x64: Vec<f64> = (0..n).map(|_| next() * 3.7).collect();
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let w: Vec<f64> = (0..n).map(|_| next()).collect();
            assert_eq!(
                dot(&x64, &w).to_bits(),
                dot_portable(&x64, &w).to_bits(),
                "n={n}"
            );
            assert_eq!(
                dot(&x32, &w).to_bits(),
                dot_portable(&x32, &w).to_bits(),
                "n={n}"
            );
            let four = dot4([&x32[..], &x32[..], &x32[..], &x32[..]], &w);
            for v in four {
                assert_eq!(v.to_bits(), dot_portable(&x32, &w).to_bits());
            }
        }
    }

    #[test]
    fn dot_uses_four_lanes_then_fma_tail() {
        // Lane sums lose each +1 against 1e16; a sequential sum would give 4.
        let x = [1e16f64, 1e16, -1e16, -1e16, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(dot(&x, &[1.0; 8]), 0.0);
        assert_eq!(dot_portable(&x, &[1.0; 8]), 0.0);
        // The tail is fused: e*e - (1 + 2^-29) keeps the 2^-60 an unfused product loses.
        let e = 1.0 + libm::ldexp(1.0, -30);
        let x = [-(1.0 + libm::ldexp(1.0, -29)), 0.0, 0.0, 0.0, e];
        let w = [1.0, 0.0, 0.0, 0.0, e];
        let shifted = dot(&x, &w);
        assert_eq!(shifted, libm::ldexp(1.0, -60));
    }
}
