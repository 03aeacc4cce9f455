//! MPI ranks as an executor (feature `mpi`).
//!
//! Every rank holds a contiguous range of blocks ([`Executor::local_blocks`]) and computes
//! their partial sums on its own [`ThreadPool`]. The totals are then combined in a chain in
//! rank order: rank 0 folds its partials onto zeros and sends the running sum (`d + 3`
//! doubles: gradient, loss, count, failure flag) to rank 1, which folds its own partials onto
//! it and sends it on; the last rank broadcasts the total. Every addition therefore happens in
//! block order, exactly as in one process, whatever the number of ranks or the order in which
//! messages arrive (an `MPI_Allreduce` leaves the order of its additions to the library, so it
//! cannot promise the same bits).
//!
//! Failures never leave a rank waiting: [`Executor::agree`] and every pass carry a flag, and
//! when any rank failed every rank returns the same error, naming the lowest failing rank and
//! its message (broadcast from that rank).

use crate::{ExecError, Executor, ThreadPool, rank_blocks};
use catclass_sgd::reduce::BlockFn;
use catclass_sgd::{BlockReducer, Partial, TrainError};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Root, Source};
use std::ops::Range;
use std::sync::Mutex;

/// The MPI state: the universe (finalised on drop) and the world communicator.
struct Comm {
    world: SimpleCommunicator,
    // Dropped after `world`: finalises MPI.
    _universe: Universe,
}

// SAFETY: MPI is initialised with `Threading::Serialized` (or better) and every MPI call goes
// through the `Mutex` around `Comm`, so calls are never made concurrently from two threads.
unsafe impl Send for Comm {}

/// MPI ranks, each running a [`ThreadPool`] (see the module documentation).
pub struct MpiExecutor {
    comm: Mutex<Comm>,
    rank: usize,
    ranks: usize,
    pool: ThreadPool,
}

impl std::fmt::Debug for MpiExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiExecutor")
            .field("rank", &self.rank)
            .field("ranks", &self.ranks)
            .field("pool", &self.pool)
            .finish()
    }
}

impl MpiExecutor {
    /// Initialises MPI (once per process) and a pool of `threads` workers (0 = one per core).
    pub fn init(threads: usize) -> Result<Self, ExecError> {
        let (universe, level) = mpi::initialize_with_threading(mpi::Threading::Serialized)
            .ok_or_else(|| {
                ExecError::Mpi("MPI was already initialised in this process".to_string())
            })?;
        if level < mpi::Threading::Serialized {
            return Err(ExecError::Mpi(format!(
                "the MPI library offers thread level {level:?}, Serialized is needed"
            )));
        }
        let world = universe.world();
        let rank = usize::try_from(world.rank()).unwrap_or(0);
        let ranks = usize::try_from(world.size()).unwrap_or(1).max(1);
        let pool = ThreadPool::new(threads)?;
        Ok(MpiExecutor {
            comm: Mutex::new(Comm {
                world,
                _universe: universe,
            }),
            rank,
            ranks,
            pool,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Comm> {
        // A poisoned lock only means another thread panicked while holding it; the
        // communicator itself is still usable.
        self.comm.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every rank at once (`MPI_Abort`) after the caller has printed why.
    pub fn abort(&self, code: i32) -> ! {
        self.lock().world.abort(code)
    }

    /// Broadcasts `message` from `root` (which knows it) to every rank.
    fn broadcast_message(comm: &Comm, root: usize, message: Option<&str>) -> String {
        let root_process = comm.world.process_at_rank(root as i32);
        let mut len = [message.map_or(0u64, |m| m.len() as u64)];
        root_process.broadcast_into(&mut len[..]);
        let mut bytes = vec![0u8; len[0] as usize];
        if let Some(m) = message {
            bytes.copy_from_slice(m.as_bytes());
        }
        root_process.broadcast_into(&mut bytes[..]);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl BlockReducer for MpiExecutor {
    fn reduce(
        &self,
        n_blocks: usize,
        len: usize,
        block: &BlockFn<'_>,
    ) -> Result<Partial, TrainError> {
        let mine = self.local_blocks(n_blocks);
        self.pool
            .with_partials(mine, len, block, |partials, outcomes| {
                self.fold_along_ranks(len, partials, outcomes)
            })
    }
}

impl MpiExecutor {
    /// Adds this rank's block partials (in order, stopping at the first failure) to the running
    /// sum received from the rank before, passes it on, and returns the total every rank gets.
    fn fold_along_ranks(
        &self,
        len: usize,
        partials: &[Partial],
        outcomes: Vec<Result<(), catclass_sgd::DatasetError>>,
    ) -> Result<Partial, TrainError> {
        let comm = self.lock();
        // Running sum of the blocks before this rank's, then the failure flag (lowest failing rank + 1).
        let mut wire = vec![0.0f64; len + 3];
        if self.rank > 0 {
            comm.world
                .process_at_rank(self.rank as i32 - 1)
                .receive_into(&mut wire[..]);
        }
        let mut failure = None;
        if wire[len + 2] == 0.0 {
            let mut acc = Partial::from_wire(&wire[..len + 2]);
            for (p, outcome) in partials.iter().zip(outcomes) {
                match outcome {
                    Ok(()) => acc.add(p),
                    Err(e) => {
                        failure = Some(e.to_string());
                        wire[len + 2] = (self.rank + 1) as f64;
                        break;
                    }
                }
            }
            if failure.is_none() {
                wire[..len].copy_from_slice(&acc.grad);
                wire[len] = acc.loss;
                wire[len + 1] = acc.count as f64;
            }
        }
        if self.rank + 1 < self.ranks {
            comm.world
                .process_at_rank(self.rank as i32 + 1)
                .send(&wire[..]);
        }
        comm.world
            .process_at_rank(self.ranks as i32 - 1)
            .broadcast_into(&mut wire[..]);
        let flag = wire[len + 2];
        if flag >= 1.0 {
            let failed = (flag as usize).saturating_sub(1).min(self.ranks - 1);
            let message = Self::broadcast_message(&comm, failed, failure.as_deref());
            return Err(TrainError::Reduce(format!(
                "rank {failed} of {}: {message}",
                self.ranks
            )));
        }
        Ok(Partial::from_wire(&wire[..len + 2]))
    }
}

impl Executor for MpiExecutor {
    fn map<T: Send, F: Fn(usize) -> T + Sync + Send>(&self, n: usize, f: F) -> Vec<T> {
        self.pool.map(n, f)
    }

    fn threads(&self) -> usize {
        self.pool.threads()
    }

    fn rank(&self) -> usize {
        self.rank
    }

    fn ranks(&self) -> usize {
        self.ranks
    }

    fn local_blocks(&self, n_blocks: usize) -> Range<usize> {
        rank_blocks(self.rank, self.ranks, n_blocks)
    }

    fn sum_counts(&self, local: &[u64]) -> Result<Vec<u64>, ExecError> {
        let comm = self.lock();
        let mut total = vec![0u64; local.len()];
        comm.world
            .all_reduce_into(local, &mut total[..], SystemOperation::sum());
        Ok(total)
    }

    fn same_plan(&self, what: &str, digest: u64) -> Result<(), ExecError> {
        let mut root = [digest];
        self.lock()
            .world
            .process_at_rank(0)
            .broadcast_into(&mut root[..]);
        let differs = (root[0] != digest).then(|| {
            format!(
                "this rank's {what} differ from rank 0's (plan digest {digest:016x}, rank 0 has {:016x}): \
                 every rank must see the same files and settings",
                root[0]
            )
        });
        self.agree(differs)
    }

    fn agree(&self, local_failure: Option<String>) -> Result<(), ExecError> {
        let comm = self.lock();
        let mine = if local_failure.is_some() {
            self.rank as u64
        } else {
            u64::MAX
        };
        let mut lowest = u64::MAX;
        comm.world
            .all_reduce_into(&mine, &mut lowest, SystemOperation::min());
        if lowest == u64::MAX {
            return Ok(());
        }
        let failed = lowest as usize;
        let message = Self::broadcast_message(&comm, failed, local_failure.as_deref());
        Err(ExecError::Rank {
            rank: failed,
            ranks: self.ranks,
            message,
        })
    }
}
