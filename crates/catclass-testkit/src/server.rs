//! The `s3s-fs` server: start, stop, restart, create buckets.

use crate::{Result, TestkitError};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Access key id the server accepts.
pub const ACCESS_KEY: &str = "catclass-test-access-key";
/// Secret access key the server accepts (requests signed with any other are refused).
pub const SECRET_KEY: &str = "catclass-test-secret-key-0123456789";
/// Region used to sign requests (s3s-fs accepts any; object_store defaults to this one).
pub const REGION: &str = "us-east-1";

/// How long a fresh server has to accept its first connection.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How many fresh ports are tried when one turns out to be taken.
const PORT_ATTEMPTS: usize = 5;
/// The server's output, beside (not inside) its data directory.
const LOG_FILE: &str = "server.log";

/// A running `s3s-fs` server on `127.0.0.1`, killed on drop.
///
/// The data lives in a temporary directory that outlives [`S3Server::stop`], so
/// [`S3Server::restart`] brings back the same buckets and objects on the same port.
#[derive(Debug)]
pub struct S3Server {
    binary: PathBuf,
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl S3Server {
    /// Where the `s3s-fs` binary is looked for, in order: `$CATCLASS_S3S_FS`, `s3s-fs` on
    /// `PATH`, `$CARGO_HOME/bin/s3s-fs`, `$HOME/.cargo/bin/s3s-fs`.
    pub fn binary() -> Result<PathBuf> {
        if let Some(p) = std::env::var_os("CATCLASS_S3S_FS") {
            let p = PathBuf::from(p);
            return if p.is_file() {
                Ok(p)
            } else {
                Err(TestkitError::BinaryNotFound)
            };
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join("s3s-fs")));
        }
        if let Some(home) = std::env::var_os("CARGO_HOME") {
            candidates.push(PathBuf::from(home).join("bin/s3s-fs"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(home).join(".cargo/bin/s3s-fs"));
        }
        candidates
            .into_iter()
            .find(|p| p.is_file())
            .ok_or(TestkitError::BinaryNotFound)
    }

    /// Starts a server on a free loopback port over a new empty temporary directory.
    pub fn start() -> Result<Self> {
        let binary = Self::binary()?;
        let dir = tempfile::Builder::new().prefix("catclass-s3s-").tempdir()?;
        std::fs::create_dir(dir.path().join("data"))?;
        let mut last_err = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            match spawn_server(&binary, port, dir.path()) {
                Ok(child) => {
                    return Ok(S3Server {
                        binary,
                        child: Some(child),
                        port,
                        dir,
                    });
                }
                // Most likely the port was taken between probing and binding: try another.
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.expect("at least one attempt was made"))
    }

    /// Starts a server and creates `bucket` on it.
    pub fn start_with_bucket(bucket: &str) -> Result<Self> {
        let server = Self::start()?;
        server.create_bucket(bucket)?;
        Ok(server)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The server's endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The directory the server stores buckets in (one sub-directory per bucket).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server (as a crash would: no graceful shutdown) and waits for it to exit.
    /// The data directory is kept. Stopping a stopped server does nothing.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Both can only fail if the process is already gone, which is the goal.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port over the same data. Restarting a running
    /// server stops it first.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        // The port may linger briefly after the kill; retry binding for a short while.
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Creates `bucket` over the S3 protocol: a presigned `PUT /bucket` with an empty body,
    /// signed with the server's credentials by object_store's [`Signer`].
    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        let fail = |reason: String| TestkitError::Bucket {
            bucket: bucket.to_owned(),
            reason,
        };
        let store = self
            .builder(bucket)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        // `signed_url` is async but does no I/O with static credentials; run it on a private
        // runtime in its own thread so this works inside and outside a caller's runtime.
        let url = std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(store.signed_url(
                    Method::PUT,
                    &ObjectPath::from(""),
                    Duration::from_secs(300),
                ))
                .map_err(std::io::Error::other)
            })
            .join()
            .map_err(|_| std::io::Error::other("signer thread panicked"))?
        })
        .map_err(|e| fail(e.to_string()))?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let (status, body) =
            http_request(self.addr(), "PUT", &target, &[]).map_err(|e| fail(e.to_string()))?;
        if status == 200 {
            Ok(())
        } else {
            Err(fail(format!("HTTP {status}: {body}")))
        }
    }

    /// An [`AmazonS3Builder`] for `bucket` on this server: endpoint, credentials, region and
    /// plain HTTP set; nothing read from the environment.
    ///
    /// `with_client_options` replaces the client options whole, plain HTTP included: pass
    /// `ClientOptions::new().with_allow_http(true)...` when adding timeouts.
    pub fn builder(&self, bucket: &str) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region(REGION)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_bucket_name(bucket)
    }

    /// The standard AWS environment variables that point a child process (the `catclass`
    /// binary) at this server with valid credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// What the server has printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(LOG_FILE)).unwrap_or_default()
    }

    fn spawn(&mut self) -> Result<()> {
        self.child = Some(spawn_server(&self.binary, self.port, self.dir.path())?);
        Ok(())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free on `127.0.0.1` a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Sends one HTTP/1.1 request with an empty body and `Connection: close`; returns the status
/// code and the body as text.
fn http_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("malformed HTTP response: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Spawns `s3s-fs` on `port` over `dir/data`, logging to `dir/server.log`, and waits until it
/// accepts connections.
fn spawn_server(binary: &Path, port: u16, dir: &Path) -> Result<Child> {
    let log = File::options()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))?;
    let mut child = Command::new(binary)
        .arg("--host")
        .arg("127.0.0.1")
        .arg("--port")
        .arg(port.to_string())
        .arg("--access-key")
        .arg(ACCESS_KEY)
        .arg("--secret-key")
        .arg(SECRET_KEY)
        .arg(dir.join("data"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|source| TestkitError::Spawn {
            binary: binary.to_owned(),
            source,
        })?;
    let not_ready = |reason: String| TestkitError::NotReady {
        port,
        reason,
        log: std::fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default(),
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(not_ready(format!("exited with {status}")));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            // Best effort: the process is unresponsive; kill it so it does not linger.
            let _ = child.kill();
            let _ = child.wait();
            return Err(not_ready(format!("no connection within {READY_TIMEOUT:?}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
