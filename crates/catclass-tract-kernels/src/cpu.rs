//! The one place that asks the CPU which vector instructions it has. Every kernel of this crate
//! picks its code path from [`isa`]; the rewrites that only pay with a given instruction set ask
//! it too.

/// The vector instruction sets this crate has code for, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain Rust: what every CPU runs (the reference arithmetic every other path matches bit
    /// for bit).
    Portable,
    /// x86_64 AVX2 with FMA: 8 lanes of f32.
    Avx2Fma,
    /// x86_64 AVX-512F (with AVX2 and FMA): 16 lanes of f32.
    Avx512,
}

/// The strongest [`Isa`] this CPU runs (detected once by the standard library, then cached by
/// it).
///
/// ```
/// use catclass_tract_kernels::{Isa, isa};
///
/// // Every CPU runs the portable path; x86_64 ones usually more.
/// assert!(isa() >= Isa::Portable);
/// ```
pub fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            return if has!("avx512f") {
                Isa::Avx512
            } else {
                Isa::Avx2Fma
            };
        }
    }
    Isa::Portable
}
