//! A memory budget shared by the threads of a run: what decoded pixels (or images fetched
//! ahead) may hold at once, whatever the number of workers.

use std::sync::{Arc, Condvar, Mutex};

/// Bytes that the holders of [`MemoryReservation`]s may hold together. A reservation waits
/// until it fits; one larger than the whole budget waits until nothing else is held, then
/// holds the whole budget (so a single large image is still processed, alone).
///
/// ```
/// use catclass_features::MemoryBudget;
/// let budget = MemoryBudget::new(100);
/// let a = budget.reserve(60);
/// assert_eq!(budget.held(), 60);
/// assert!(budget.try_reserve(50).is_none(), "60 + 50 > 100");
/// drop(a);
/// let big = budget.reserve(1_000);
/// assert_eq!(budget.held(), 100);
/// drop(big);
/// assert_eq!(budget.held(), 0);
/// ```
#[derive(Debug)]
pub struct MemoryBudget {
    total: u64,
    held: Mutex<u64>,
    freed: Condvar,
}

/// Bytes held from a [`MemoryBudget`] until dropped.
#[derive(Debug)]
pub struct MemoryReservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl MemoryBudget {
    /// A budget of `total` bytes (at least 1).
    pub fn new(total: u64) -> Arc<Self> {
        Arc::new(MemoryBudget {
            total: total.max(1),
            held: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    /// The budget in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes held now.
    pub fn held(&self) -> u64 {
        *self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds `bytes` (the whole budget if more), waiting until they fit.
    pub fn reserve(self: &Arc<Self>, bytes: u64) -> MemoryReservation {
        let bytes = bytes.min(self.total);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        while *held + bytes > self.total {
            held = self.freed.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        *held += bytes;
        MemoryReservation {
            budget: Arc::clone(self),
            bytes,
        }
    }

    /// Holds `bytes` (the whole budget if more) if they fit now.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Option<MemoryReservation> {
        let bytes = bytes.min(self.total);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if *held + bytes > self.total {
            return None;
        }
        *held += bytes;
        Some(MemoryReservation {
            budget: Arc::clone(self),
            bytes,
        })
    }
}

impl MemoryReservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for MemoryReservation {
    fn drop(&mut self) {
        let mut held = self.budget.held.lock().unwrap_or_else(|e| e.into_inner());
        *held -= self.bytes;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_never_exceed_the_budget() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let budget = MemoryBudget::new(1000);
        let (holders, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (budget, holders, most) = (&budget, &holders, &most);
                s.spawn(move || {
                    for k in 0..200u64 {
                        let r = budget.reserve(100 + (t * 37 + k * 11) % 300);
                        let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        assert!(budget.held() <= 1000 && r.bytes() <= 400);
                        std::thread::yield_now();
                        holders.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        // Reservations of 100 to 399 bytes: up to 10 fit at once, never more than 1000 bytes.
        assert!(most.load(Ordering::SeqCst) >= 2, "several holders at once");
        assert_eq!(budget.held(), 0);
    }
}
