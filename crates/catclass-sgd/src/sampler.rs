//! Which rows a mini-batch pass uses.
//!
//! * [`SparkSampler`]: Spark 3.5.3's `RDD.sample(withReplacement = false, fraction, seed)` over
//!   `P` contiguous partitions (partition `p` holds rows `[p*n/P, (p+1)*n/P)`): one
//!   `java.util.Random(seed).nextLong()` per partition seeds an `XORShiftRandom`, which drives
//!   Bernoulli sampling (`fraction > 0.4`) or gap sampling (`fraction <= 0.4`). MLlib's
//!   `GradientDescent` uses seed `42 + i` for pass `i`.
//! * [`ChaChaSampler`]: our default, one ChaCha12 stream per pass, independent of partitions.

use alloc::vec;
use alloc::vec::Vec;
use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// `java.util.Random`, the 48-bit LCG.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    const MULT: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    /// `new Random(seed)`.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            state: (seed as u64 ^ Self::MULT) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.state = (self.state.wrapping_mul(Self::MULT).wrapping_add(0xB)) & Self::MASK;
        (self.state >> (48 - bits)) as i64 as i32
    }

    /// `nextLong()`.
    pub fn next_long(&mut self) -> i64 {
        let hi = self.next(32) as i64;
        let lo = self.next(32) as i64;
        (hi << 32).wrapping_add(lo)
    }
}

/// Scala 2.12 `MurmurHash3.bytesHash`.
fn murmur3_bytes(data: &[u8], seed: u32) -> u32 {
    let mix_k = |mut k: u32| {
        k = k.wrapping_mul(0xCC9E_2D51);
        k = k.rotate_left(15);
        k.wrapping_mul(0x1B87_3593)
    };
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        h ^= mix_k(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xE654_6B64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (j, b) in tail.iter().enumerate().rev() {
            k ^= (*b as u32) << (8 * j);
        }
        h ^= mix_k(k);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    h
}

/// Spark's `org.apache.spark.util.random.XORShiftRandom` (3.5.3).
#[derive(Debug, Clone)]
pub struct XorShiftRandom {
    x: u64,
}

impl XorShiftRandom {
    /// `new XORShiftRandom(seed)`: the seed is hashed with MurmurHash3.
    pub fn new(seed: i64) -> Self {
        let bytes = seed.to_be_bytes();
        let lo = murmur3_bytes(&bytes, 0x3C07_4A61);
        let hi = murmur3_bytes(&bytes, lo);
        XorShiftRandom {
            x: ((hi as u64) << 32) | lo as u64,
        }
    }

    fn next(&mut self, bits: u32) -> i64 {
        let mut x = self.x;
        x ^= x << 21;
        x ^= x >> 35;
        x ^= x << 4;
        self.x = x;
        (x & ((1u64 << bits) - 1)) as i64
    }

    /// `nextDouble()`, as `java.util.Random` builds it from 26 + 27 bits.
    pub fn next_double(&mut self) -> f64 {
        ((self.next(26) << 27) + self.next(27)) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Spark's gap sampling draws `u` no smaller than this.
const GAP_EPSILON: f64 = 5e-11;
/// At or below this fraction Spark's Bernoulli sampler switches to gap sampling.
const GAP_MAX_FRACTION: f64 = 0.4;

fn bernoulli_partition(keep: &mut [bool], fraction: f64, rng: &mut XorShiftRandom) {
    if fraction >= 1.0 {
        keep.iter_mut().for_each(|k| *k = true);
    } else if fraction <= 0.0 {
        keep.iter_mut().for_each(|k| *k = false);
    } else if fraction > GAP_MAX_FRACTION {
        for k in keep.iter_mut() {
            *k = rng.next_double() <= fraction;
        }
    } else {
        let lnq = libm::log1p(-fraction);
        let draw =
            |rng: &mut XorShiftRandom| (libm::log(rng.next_double().max(GAP_EPSILON)) / lnq) as i64;
        let mut skip = draw(rng);
        for k in keep.iter_mut() {
            if skip > 0 {
                skip -= 1;
                *k = false;
            } else {
                skip = draw(rng);
                *k = true;
            }
        }
    }
}

/// Spark's `RDD.sample(false, fraction, seed)` over `partitions` contiguous partitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparkSampler {
    /// Number of contiguous partitions the rows are cut into.
    pub partitions: usize,
}

impl SparkSampler {
    /// Marks in `keep` (one flag per row, in order) the rows that Spark keeps for `seed`.
    pub fn sample(&self, keep: &mut [bool], fraction: f64, seed: i64) {
        let n = keep.len();
        let parts = self.partitions.max(1);
        let mut seeds = JavaRandom::new(seed);
        for p in 0..parts {
            let (lo, hi) = (p * n / parts, (p + 1) * n / parts);
            let mut rng = XorShiftRandom::new(seeds.next_long());
            bernoulli_partition(&mut keep[lo..hi], fraction, &mut rng);
        }
    }
}

/// Independent Bernoulli draws from a ChaCha12 stream keyed by `(seed, pass)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChaChaSampler {
    /// The user's seed.
    pub seed: u64,
}

impl ChaChaSampler {
    /// Marks in `keep` the rows kept in pass `pass` (row `r` kept iff its uniform draw in
    /// `[0, 1)` is `< fraction`).
    pub fn sample(&self, keep: &mut [bool], fraction: f64, pass: u64) {
        let mut rng = ChaCha12Rng::seed_from_u64(self.seed);
        rng.set_stream(pass);
        for k in keep.iter_mut() {
            let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            *k = u < fraction;
        }
    }
}

/// Row indices kept by Spark for `n` rows (a convenience for tests and tools).
pub fn spark_sample_indices(n: usize, partitions: usize, fraction: f64, seed: i64) -> Vec<usize> {
    let mut keep = vec![false; n];
    SparkSampler { partitions }.sample(&mut keep, fraction, seed);
    keep.iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_the_jdk() {
        // new java.util.Random(42).nextLong() == -5025562857975149833
        assert_eq!(JavaRandom::new(42).next_long(), -5_025_562_857_975_149_833);
    }

    #[test]
    fn murmur_of_empty_input_is_the_finalised_seed() {
        // MurmurHash3_x86_32("", 0) == 0
        assert_eq!(murmur3_bytes(&[], 0), 0);
        // MurmurHash3_x86_32("\0\0\0\0", 0) == 0x2362F9DE (reference vector)
        assert_eq!(murmur3_bytes(&[0, 0, 0, 0], 0), 0x2362_F9DE);
    }

    #[test]
    fn chacha_passes_differ_and_repeat() {
        let s = ChaChaSampler { seed: 7 };
        let (mut a, mut b, mut c) = (vec![false; 500], vec![false; 500], vec![false; 500]);
        s.sample(&mut a, 0.5, 1);
        s.sample(&mut b, 0.5, 2);
        s.sample(&mut c, 0.5, 1);
        assert_ne!(a, b);
        assert_eq!(a, c);
        let kept = a.iter().filter(|k| **k).count();
        assert!((200..300).contains(&kept), "{kept}");
    }
}
