//! Running the `async` store API from synchronous code: the command line's convenience.
//!
//! [`block_on`] runs a future on this module's I/O runtime (multi-threaded, one worker per
//! core, started on first use). Called from inside another tokio runtime it does not nest
//! runtimes (which would panic): it waits on a scoped thread instead.

use std::future::Future;
use std::sync::OnceLock;

/// The I/O runtime of [`block_on`].
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("catclass-io")
            .build()
            .unwrap_or_else(|e| panic!("cannot start the I/O runtime: {e}"))
    })
}

/// Runs `f` to completion from synchronous code, inside or outside a tokio runtime.
///
/// ```
/// assert_eq!(catclass_app::blocking::block_on(async { 6 * 7 }), 42);
/// // From inside a runtime too.
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(async { catclass_app::blocking::block_on(async { 1 }) }), 1);
/// ```
pub fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| runtime().block_on(f))
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    } else {
        runtime().block_on(f)
    }
}
