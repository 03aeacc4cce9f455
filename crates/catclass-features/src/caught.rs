//! Panics of third-party engines that this crate turns into errors.
//!
//! tract's parser and burn's shape checks panic on some damaged or unexpected networks; the
//! backends catch those panics and return an error naming the file. The panic hook still runs
//! first (on the panicking thread) and by default prints the panic: [`panic_is_caught`] lets
//! a program's hook stay quiet for the panics that become errors.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    /// How many calls on this thread turn a panic into an error right now.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
}

/// Whether a panic on the calling thread now would be caught by this crate and returned as an
/// error (it is inside a backend's call of tract or burn). A panic hook can stay quiet then:
/// the caller gets an error that says what failed.
///
/// ```
/// // A program that reports the backends' errors itself keeps the previous hook for every
/// // other panic.
/// let previous = std::panic::take_hook();
/// std::panic::set_hook(Box::new(move |info| {
///     if !catclass_features::panic_is_caught() {
///         previous(info)
///     }
/// }));
/// assert!(!catclass_features::panic_is_caught());
/// ```
pub fn panic_is_caught() -> bool {
    CATCHING.with(Cell::get) > 0
}

/// Runs `f`; a panic in it comes back as `Err` with its message, flagged for panic hooks by
/// [`panic_is_caught`] while it unwinds.
#[cfg_attr(not(any(feature = "tract", feature = "burn")), allow(dead_code))]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    /// Lowers the count when `f` returns or unwinds.
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            CATCHING.with(|c| c.set(c.get() - 1));
        }
    }
    CATCHING.with(|c| c.set(c.get() + 1));
    let _leave = Leave;
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_flagged_while_it_unwinds_and_becomes_its_message() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        // Panics of this test's thread only (other tests run beside it).
        let me = std::thread::current().id();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |_| {
            if std::thread::current().id() == me {
                log.lock().unwrap().push(panic_is_caught());
            }
        }));
        let caught = catch(|| -> u8 { panic!("tract: no entry found for key") });
        let inner = catch(|| catch(|| panic!("{}", 7)).map(|_: ()| ()));
        let fine = catch(|| 5);
        std::panic::set_hook(previous);
        assert_eq!(caught, Err("tract: no entry found for key".to_owned()));
        assert_eq!(inner, Ok(Err("7".to_owned())));
        assert_eq!(fine, Ok(5));
        assert_eq!(*seen.lock().unwrap(), [true, true]);
        assert!(!panic_is_caught());
    }
}
