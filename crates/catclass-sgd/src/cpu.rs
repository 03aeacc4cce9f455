//! Runtime CPU feature detection, in one place for every SIMD kernel of the crate.

#[cfg(target_arch = "x86_64")]
cpufeatures::new!(avx2_fma_token, "avx2", "fma");

/// Whether this CPU runs AVX2 with FMA (detected once, then cached).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn avx2_fma() -> bool {
    avx2_fma_token::get()
}
