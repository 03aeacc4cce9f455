//! Test support for catclass: a real S3-protocol server on loopback and a fault-injecting proxy.
//!
//! * [`S3Server`] runs the `s3s-fs` binary (a real S3 server that checks SigV4 signatures) on a
//!   free `127.0.0.1` port, over a temporary directory, with the fixed credentials
//!   [`ACCESS_KEY`] / [`SECRET_KEY`]. It creates buckets over the S3 protocol, can be stopped and
//!   restarted on the same port and data (to test a server lost in the middle of a run), and is
//!   killed on drop.
//! * [`FaultProxy`] is a small TCP proxy on loopback that forwards to an upstream address and,
//!   on a fixed schedule, drops requests, answers them with an error status (503 as S3's
//!   `Slow Down`), or delays them; on object reads it can also reset the connection mid-body,
//!   drip the body slowly, or send a `Content-Length` that lies. It
//!   forces one HTTP request per connection so that faults hit requests, not just the first
//!   request of a pooled connection. Its work is bounded: a fault budget and a lifetime after
//!   which it stops by itself.
//!
//! Install the server once with
//! `cargo install s3s-fs@0.14.1 --features binary --locked`; [`S3Server::binary`] says where it
//! is looked for. A missing binary is an error, never a silently skipped test.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod proxy;
mod server;

pub use proxy::{Fault, FaultPlan, FaultProxy};
pub use server::{ACCESS_KEY, REGION, S3Server, SECRET_KEY};

use std::path::PathBuf;

/// Everything that can go wrong while starting or driving the test services.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// The `s3s-fs` binary is not installed where it is looked for.
    #[error(
        "s3s-fs not found (set CATCLASS_S3S_FS, or put it on PATH or in $CARGO_HOME/bin); \
         install it with: cargo install s3s-fs@0.14.1 --features binary --locked"
    )]
    BinaryNotFound,
    /// The server process could not be spawned.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary that was run.
        binary: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The server exited or never accepted connections.
    #[error("s3s-fs on port {port} did not become ready: {reason}; server log:\n{log}")]
    NotReady {
        /// The port it was started on.
        port: u16,
        /// Why it is considered dead.
        reason: String,
        /// The server's own output.
        log: String,
    },
    /// Creating a bucket failed.
    #[error("cannot create bucket {bucket}: {reason}")]
    Bucket {
        /// The bucket name.
        bucket: String,
        /// What went wrong.
        reason: String,
    },
    /// A local I/O error (temporary directory, sockets).
    #[error("testkit I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = TestkitError> = std::result::Result<T, E>;
