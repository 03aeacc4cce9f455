//! Where the work of a training pass runs.
//!
//! An [`Executor`] is a [`BlockReducer`] (the solvers of `catclass-sgd` hand it the per-block
//! computation of a pass and get back the sum, folded in block order) that can also map a
//! function over independent tasks (one-vs-rest models, evaluation, sweep settings).
//! [`ThreadPool`] runs everything on a rayon pool of a chosen size; results are bit-identical
//! for every pool size because the fold order is fixed by the data. With the `mpi` feature,
//! `MpiExecutor` spreads the blocks over MPI ranks (each with its own pool) and still returns
//! the same bits for every number of ranks.
//!
//! ```
//! use catclass_exec::{Executor, ThreadPool};
//! let pool = ThreadPool::new(2)?;
//! // Independent tasks, answered in task order whatever the number of threads.
//! assert_eq!(pool.map(4, |i| i * i), vec![0, 1, 4, 9]);
//! # Ok::<(), catclass_exec::ExecError>(())
//! ```
#![deny(missing_docs)]

#[cfg(feature = "mpi")]
mod mpi;
#[cfg(feature = "mpi")]
pub use crate::mpi::MpiExecutor;

use catclass_sgd::reduce::BlockFn;
use catclass_sgd::{BlockReducer, DatasetError, Partial, TrainError};
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

/// A place to run passes and independent tasks.
pub trait Executor: BlockReducer + Send + Sync {
    /// Runs `f` over `0..n` (possibly in parallel) and returns the results in index order.
    fn map<T: Send, F: Fn(usize) -> T + Sync + Send>(&self, n: usize, f: F) -> Vec<T>;

    /// Worker threads available to this process.
    fn threads(&self) -> usize;

    /// This process's rank (0 when there is a single process).
    fn rank(&self) -> usize {
        0
    }

    /// Number of processes.
    fn ranks(&self) -> usize {
        1
    }

    /// The blocks of `0..n_blocks` whose rows this process holds (all of them by default).
    fn local_blocks(&self, n_blocks: usize) -> Range<usize> {
        0..n_blocks
    }

    /// Checks that every process planned the same work: `digest` is a hash of what this
    /// process will read and how (the files listed, their count, the classes, the dimension,
    /// the parameters). With several processes, returns [`ExecError::Rank`] on every process
    /// when any differs from rank 0 (a rank that listed another set of files would otherwise
    /// count rows twice or train on a mismatch); `what` names the plan in the message. A
    /// single process has nothing to compare.
    ///
    /// ```
    /// use catclass_exec::{Executor, ThreadPool};
    /// ThreadPool::new(1)?.same_plan("training files", 42)?;
    /// # Ok::<(), catclass_exec::ExecError>(())
    /// ```
    fn same_plan(&self, what: &str, digest: u64) -> Result<(), ExecError> {
        let _ = (what, digest);
        Ok(())
    }

    /// Makes every process agree on whether a step succeeded everywhere, so that no process
    /// waits for one that gave up. `local_failure` is this process's error message, if any.
    ///
    /// With several processes, returns [`ExecError::Rank`] on every process when any failed
    /// (naming the lowest failing rank and its message). A single process has nobody to tell:
    /// it returns `Ok(())` and the caller returns its own error.
    fn agree(&self, local_failure: Option<String>) -> Result<(), ExecError> {
        let _ = local_failure;
        Ok(())
    }

    /// Sums counts over every process, element by element (integer sums: exact in any
    /// order). Every process passes the same number of counts and gets the totals. A single
    /// process returns its own counts.
    ///
    /// ```
    /// use catclass_exec::{Executor, ThreadPool};
    /// assert_eq!(ThreadPool::new(1)?.sum_counts(&[3, 4])?, vec![3, 4]);
    /// # Ok::<(), catclass_exec::ExecError>(())
    /// ```
    fn sum_counts(&self, local: &[u64]) -> Result<Vec<u64>, ExecError> {
        Ok(local.to_vec())
    }
}

/// Blocks `[rank * n_blocks / ranks, (rank + 1) * n_blocks / ranks)` of `0..n_blocks`:
/// contiguous, in rank order, covering every block exactly once (some ranks may get none).
pub fn rank_blocks(rank: usize, ranks: usize, n_blocks: usize) -> Range<usize> {
    let ranks = ranks.max(1);
    (rank * n_blocks / ranks)..((rank + 1) * n_blocks / ranks)
}

/// Errors starting an executor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The thread pool could not be built.
    #[error("cannot start a pool of {threads} threads: {reason}")]
    Pool {
        /// Threads asked for.
        threads: usize,
        /// Why it failed.
        reason: String,
    },
    /// MPI could not start or misbehaved.
    #[error("MPI: {0}")]
    Mpi(String),
    /// A step failed on some rank (every rank reports the same one).
    #[error("rank {rank} of {ranks}: {message}")]
    Rank {
        /// The lowest rank that failed.
        rank: usize,
        /// Number of ranks.
        ranks: usize,
        /// Its error.
        message: String,
    },
}

/// A rayon thread pool of a fixed size.
///
/// It keeps the per-block partial sums of its last pass to reuse in the next one (a pass of
/// 21 blocks of 4 096 features allocated and zeroed 688 KB of fresh pages every time), up to
/// [`ThreadPool::KEPT_PARTIALS_BYTES`], until the next pass or until it is dropped.
#[derive(Debug)]
pub struct ThreadPool {
    pool: rayon::ThreadPool,
    spare: Mutex<Vec<Partial>>,
}

impl ThreadPool {
    /// A pool of `threads` workers (0 = one per core).
    pub fn new(threads: usize) -> Result<Self, ExecError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("catclass-worker-{i}"))
            .build()
            .map_err(|e| ExecError::Pool {
                threads,
                reason: e.to_string(),
            })?;
        Ok(ThreadPool {
            pool,
            spare: Mutex::new(Vec::new()),
        })
    }

    /// The most bytes of partial sums kept between passes (larger passes allocate theirs).
    ///
    /// ```
    /// use catclass_exec::ThreadPool;
    /// // 37 one-vs-rest models of 4 096 features over 7 400 rows (29 blocks): kept.
    /// assert!(29 * 37 * 4097 * 8 <= ThreadPool::KEPT_PARTIALS_BYTES);
    /// ```
    pub const KEPT_PARTIALS_BYTES: usize = 64 << 20;

    /// Computes the partial of each block of `blocks` (each from zeros, concurrently) into
    /// buffers kept between passes, and hands them to `fold` in block order, each with its
    /// block's outcome.
    pub(crate) fn with_partials<R>(
        &self,
        blocks: Range<usize>,
        len: usize,
        block: &BlockFn<'_>,
        fold: impl FnOnce(&[Partial], Vec<Result<(), DatasetError>>) -> R,
    ) -> R {
        use rayon::prelude::*;
        let mut partials =
            std::mem::take(&mut *self.spare.lock().unwrap_or_else(PoisonError::into_inner));
        partials.truncate(blocks.len());
        partials.resize_with(blocks.len(), || Partial::zeros(len));
        let outcomes = self.pool.install(|| {
            partials
                .par_iter_mut()
                .enumerate()
                .map(|(k, p)| {
                    if p.grad.len() == len {
                        p.clear();
                    } else {
                        *p = Partial::zeros(len);
                    }
                    block(blocks.start + k, p)
                })
                .collect()
        });
        let folded = fold(&partials, outcomes);
        if partials.len() * len * size_of::<f64>() <= Self::KEPT_PARTIALS_BYTES {
            *self.spare.lock().unwrap_or_else(PoisonError::into_inner) = partials;
        }
        folded
    }

    /// Runs `f` inside the pool (so rayon calls in `f` use this pool).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

impl BlockReducer for ThreadPool {
    fn reduce(
        &self,
        n_blocks: usize,
        len: usize,
        block: &BlockFn<'_>,
    ) -> Result<Partial, TrainError> {
        self.with_partials(0..n_blocks, len, block, |partials, outcomes| {
            let mut acc = Partial::zeros(len);
            for (p, outcome) in partials.iter().zip(outcomes) {
                outcome.map_err(TrainError::Data)?;
                acc.add(p);
            }
            Ok(acc)
        })
    }
}

impl Executor for ThreadPool {
    fn map<T: Send, F: Fn(usize) -> T + Sync + Send>(&self, n: usize, f: F) -> Vec<T> {
        use rayon::prelude::*;
        self.pool
            .install(|| (0..n).into_par_iter().map(&f).collect())
    }

    fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }
}

/// One thread: blocks and tasks run in order on the calling thread.
///
/// ```
/// use catclass_exec::Executor;
/// use catclass_sgd::Sequential;
/// assert_eq!(Sequential.map(3, |i| i * 2), vec![0, 2, 4]);
/// ```
impl Executor for catclass_sgd::Sequential {
    fn map<T: Send, F: Fn(usize) -> T + Sync + Send>(&self, n: usize, f: F) -> Vec<T> {
        (0..n).map(f).collect()
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Folds already computed block partials in block order (what every executor must return).
pub fn fold_in_order(len: usize, partials: impl IntoIterator<Item = Partial>) -> Partial {
    let mut acc = Partial::zeros(len);
    for p in partials {
        acc.add(&p);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rank ranges are contiguous, in order, and cover every block once, for any rank count.
    #[test]
    fn rank_blocks_partition_the_blocks() {
        for n_blocks in 0..40 {
            for ranks in 1..9 {
                let mut next = 0;
                for r in 0..ranks {
                    let b = rank_blocks(r, ranks, n_blocks);
                    assert_eq!(b.start, next, "n_blocks {n_blocks} ranks {ranks} rank {r}");
                    assert!(b.end >= b.start);
                    next = b.end;
                }
                assert_eq!(next, n_blocks);
            }
        }
    }
    use catclass_sgd::{Dataset, Sequential, SgdParams};
    use proptest::prelude::*;

    fn data(seed: u64, rows: usize, dim: usize) -> (Vec<f64>, Vec<f64>) {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let x: Vec<f64> = (0..rows * dim)
            .map(|_| (next() - 0.4).max(0.0) / 3.0)
            .collect();
        let y: Vec<f64> = (0..rows)
            .map(|r| f64::from(u8::from(x[r * dim] + next() > 0.6)))
            .collect();
        (x, y)
    }

    /// The pool reuses its block partials between passes: each still starts from zeros,
    /// whatever the shape of the pass before, and a failing block is reported in block order.
    #[test]
    fn reused_partials_start_from_zeros() {
        let pool = ThreadPool::new(2).unwrap();
        let pass = |n_blocks: usize, len: usize| {
            pool.reduce(n_blocks, len, &|b, out| {
                out.grad[b % len] += 1.0 + b as f64;
                out.loss += 0.5;
                out.count += 1;
                Ok(())
            })
            .unwrap()
        };
        for (n_blocks, len) in [(21, 5), (21, 5), (3, 9), (40, 2), (21, 5), (0, 4)] {
            let got = pass(n_blocks, len);
            let mut want = Partial::zeros(len);
            for b in 0..n_blocks {
                want.grad[b % len] += 1.0 + b as f64;
            }
            assert_eq!(got.grad, want.grad, "{n_blocks} blocks of length {len}");
            assert_eq!(
                (got.loss, got.count),
                (0.5 * n_blocks as f64, n_blocks as u64)
            );
        }
        let failed = pool.reduce(8, 3, &|b, _| {
            if b >= 5 {
                Err(DatasetError::BlockNotHeld {
                    block: b,
                    first: 0,
                    end: 0,
                    held_first: 0,
                    held_end: 0,
                })
            } else {
                Ok(())
            }
        });
        assert!(
            matches!(
                failed,
                Err(TrainError::Data(DatasetError::BlockNotHeld {
                    block: 5,
                    ..
                }))
            ),
            "{failed:?}"
        );
        // And the pool still serves passes after a failed one.
        assert_eq!(pass(4, 2).count, 4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        /// Same weights, bit for bit, for 1, 2, 3 threads and the sequential reducer, with
        /// general doubles (where the summation order shows) and mini-batches.
        #[test]
        fn thread_count_does_not_change_the_model(seed in 1u64..1000, rows in 1usize..900, fraction in 0.2f64..=1.0) {
            let dim = 7;
            let (x, y) = data(seed, rows, dim);
            let d = Dataset::new(&x, &y, dim).unwrap();
            let p = SgdParams::builder().iterations(15).mini_batch_fraction(fraction).check().unwrap();
            let want = p.fit(&d, &Sequential).unwrap();
            for threads in [1, 2, 3] {
                let pool = ThreadPool::new(threads).unwrap();
                let got = p.fit(&d, &pool).unwrap();
                prop_assert_eq!(&got, &want, "threads = {}", threads);
            }
        }
    }
}
