//! Combining the per-block partial sums of one data pass, in an order fixed by the data alone.

use crate::data::DatasetError;
use alloc::vec;
use alloc::vec::Vec;

/// Rows per block. Part of the reproducibility contract: a pass's sums are computed per block
/// of this many consecutive training rows (sequentially within the block) and the block sums
/// are added in block order, so the result does not depend on threads or ranks.
pub const ROWS_PER_BLOCK: usize = 256;

/// Number of blocks covering `rows` rows.
pub fn block_count(rows: usize) -> usize {
    rows.div_ceil(ROWS_PER_BLOCK)
}

/// Global rows of block `b` in a set of `rows` rows.
pub fn block_rows(b: usize, rows: usize) -> core::ops::Range<usize> {
    (b * ROWS_PER_BLOCK).min(rows)..((b + 1) * ROWS_PER_BLOCK).min(rows)
}

/// The sums one pass produces: a gradient-shaped vector, a loss sum, and a row count.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    /// Sum of the per-row gradient vectors.
    pub grad: Vec<f64>,
    /// Sum of the per-row losses.
    pub loss: f64,
    /// Rows that contributed.
    pub count: u64,
}

impl Partial {
    /// All zeros, gradient of length `len`.
    pub fn zeros(len: usize) -> Self {
        Partial {
            grad: vec![0.0; len],
            loss: 0.0,
            count: 0,
        }
    }

    /// Resets to zeros, keeping the allocation.
    pub fn clear(&mut self) {
        self.grad.iter_mut().for_each(|g| *g = 0.0);
        self.loss = 0.0;
        self.count = 0;
    }

    /// `self += other`, element by element.
    pub fn add(&mut self, other: &Partial) {
        for (a, b) in self.grad.iter_mut().zip(&other.grad) {
            *a += *b;
        }
        self.loss += other.loss;
        self.count += other.count;
    }

    /// Flattens to `grad ++ [loss, count]` (the `d + 2` doubles sent between ranks).
    pub fn to_wire(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.grad.len() + 2);
        v.extend_from_slice(&self.grad);
        v.push(self.loss);
        v.push(self.count as f64);
        v
    }

    /// Inverse of [`Partial::to_wire`].
    pub fn from_wire(v: &[f64]) -> Self {
        let n = v.len().saturating_sub(2);
        Partial {
            grad: v[..n].to_vec(),
            loss: v[n],
            count: v[n + 1] as u64,
        }
    }
}

/// The computation of one block's partial: fills a zeroed [`Partial`] for block `b`.
pub type BlockFn<'a> = dyn Fn(usize, &mut Partial) -> Result<(), DatasetError> + Sync + 'a;

/// A way to run a pass: computes the partial of every block and returns their sum.
///
/// Contract: the result must equal, bit for bit,
/// `fold(blocks 0..n_blocks in order, zero, |acc, b| acc.add(partial(b)))` where each
/// `partial(b)` starts from zeros. Blocks may be computed concurrently, on other threads or on
/// other processes that hold those rows; only the order of the additions is fixed.
pub trait BlockReducer {
    /// Runs `block` over `0..n_blocks` and folds the partials (of gradient length `len`).
    fn reduce(
        &self,
        n_blocks: usize,
        len: usize,
        block: &BlockFn<'_>,
    ) -> Result<Partial, crate::TrainError>;
}

/// Runs every block on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl BlockReducer for Sequential {
    fn reduce(
        &self,
        n_blocks: usize,
        len: usize,
        block: &BlockFn<'_>,
    ) -> Result<Partial, crate::TrainError> {
        let mut acc = Partial::zeros(len);
        let mut scratch = Partial::zeros(len);
        for b in 0..n_blocks {
            scratch.clear();
            block(b, &mut scratch)?;
            acc.add(&scratch);
        }
        Ok(acc)
    }
}

impl<R: BlockReducer + ?Sized> BlockReducer for &R {
    fn reduce(
        &self,
        n_blocks: usize,
        len: usize,
        block: &BlockFn<'_>,
    ) -> Result<Partial, crate::TrainError> {
        (**self).reduce(n_blocks, len, block)
    }
}
