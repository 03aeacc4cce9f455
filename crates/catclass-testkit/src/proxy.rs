//! A fault-injecting HTTP/1.1 proxy on loopback.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest request head the proxy reads before giving up on a connection.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body drained before answering with an error status.
const MAX_DRAIN: u64 = 256 * 1024 * 1024;
/// Read timeout on every proxied socket, so that no connection thread outlives a stuck peer.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What the proxy does to a request chosen for a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Read the request, then close the connection without answering.
    Drop,
    /// Answer with this HTTP status and an S3-style XML error body (`SlowDown` for 503,
    /// `InternalError` otherwise) without forwarding.
    Status(u16),
    /// Wait this long, then forward the request as usual.
    Delay(Duration),
}

/// When and how the proxy injects faults.
///
/// Connections are numbered from 1 in accept order; each carries exactly one request (the
/// proxy asks the server to close after answering). Connection `n` gets a fault when
/// `every > 0`, `n % every == 0` and fewer than `max_faults` were injected so far; the faults
/// are taken from `faults` in turn.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Inject a fault on every `every`-th request; 0 never.
    pub every: usize,
    /// The faults, used round-robin; an empty list injects nothing.
    pub faults: Vec<Fault>,
    /// The most faults injected over the proxy's life.
    pub max_faults: usize,
    /// After this long the proxy stops accepting connections by itself.
    pub lifetime: Duration,
}

impl FaultPlan {
    /// A plan that forwards everything untouched (for a baseline through the same proxy).
    pub fn none() -> Self {
        Self::new(0, Vec::new())
    }

    /// A fault on every `every`-th request, cycling through `faults`, with at most 10,000
    /// faults and a five-minute lifetime.
    pub fn new(every: usize, faults: Vec<Fault>) -> Self {
        FaultPlan {
            every,
            faults,
            max_faults: 10_000,
            lifetime: Duration::from_secs(300),
        }
    }

    /// Sets the fault budget.
    pub fn with_max_faults(mut self, max_faults: usize) -> Self {
        self.max_faults = max_faults;
        self
    }

    /// Sets the lifetime after which the proxy stops by itself.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicUsize,
    faults: AtomicUsize,
}

/// A running proxy on `127.0.0.1`; stops on drop or when its lifetime ends.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that forwards to `upstream` following `plan`.
    pub fn start(upstream: SocketAddr, plan: FaultPlan) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let acceptor = {
            let stop = Arc::clone(&stop);
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("fault-proxy".into())
                .spawn(move || accept_loop(listener, upstream, plan, stop, counters))?
        };
        Ok(FaultProxy {
            addr,
            stop,
            counters,
            acceptor: Some(acceptor),
        })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen so far (faulted or not).
    pub fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Faults injected so far.
    pub fn faults_injected(&self) -> usize {
        self.counters.faults.load(Ordering::SeqCst)
    }

    /// Stops accepting connections; connections in flight finish on their own.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.acceptor.take() {
            // The acceptor never panics on I/O errors; a panic would already be reported.
            let _ = handle.join();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    plan: FaultPlan,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) {
    let deadline = Instant::now() + plan.lifetime;
    let plan = Arc::new(plan);
    let mut accepted = 0usize;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match listener.accept() {
            Ok((client, _)) => {
                accepted += 1;
                let plan = Arc::clone(&plan);
                let counters = Arc::clone(&counters);
                let n = accepted;
                // A connection the proxy cannot serve is simply closed: the client sees a
                // dropped connection, which is itself one of the faults under test.
                let _ = std::thread::Builder::new()
                    .name(format!("fault-proxy-{n}"))
                    .spawn(move || {
                        let _ = serve(client, upstream, n, &plan, &counters);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    n: usize,
    plan: &FaultPlan,
    counters: &Counters,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_nodelay(true)?;
    let Some((head, rest)) = read_head(&mut client)? else {
        return Ok(()); // an idle connection closed by the client
    };
    counters.requests.fetch_add(1, Ordering::SeqCst);
    let fault = choose_fault(plan, n, counters);
    match fault {
        Some(Fault::Drop) => {
            client.shutdown(Shutdown::Both)?;
            return Ok(());
        }
        Some(Fault::Status(code)) => {
            let len = content_length(&head).unwrap_or(0);
            drain(&mut client, len.saturating_sub(rest.len() as u64))?;
            let (reason, s3_code) = if code == 503 {
                ("Service Unavailable", "SlowDown")
            } else {
                ("Error", "InternalError")
            };
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code>\
                 <Message>injected by the test proxy</Message></Error>"
            );
            let response = format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(response.as_bytes())?;
            client.shutdown(Shutdown::Both)?;
            return Ok(());
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        None => {}
    }
    let mut server = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    server.set_read_timeout(Some(IO_TIMEOUT))?;
    server.set_nodelay(true)?;
    server.write_all(&close_after(&head))?;
    server.write_all(&rest)?;
    let mut server_read = server.try_clone()?;
    let mut client_write = client.try_clone()?;
    let downstream = std::thread::spawn(move || {
        let _ = io::copy(&mut server_read, &mut client_write);
        let _ = client_write.shutdown(Shutdown::Both);
    });
    let _ = io::copy(&mut client, &mut server);
    let _ = server.shutdown(Shutdown::Write);
    let _ = downstream.join();
    Ok(())
}

fn choose_fault(plan: &FaultPlan, n: usize, counters: &Counters) -> Option<Fault> {
    if plan.every == 0 || plan.faults.is_empty() || !n.is_multiple_of(plan.every) {
        return None;
    }
    let k = counters
        .faults
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| {
            (k < plan.max_faults).then_some(k + 1)
        })
        .ok()?;
    Some(plan.faults[k % plan.faults.len()])
}

/// Reads up to the end of the request head; returns the head (with its final blank line) and
/// any bytes read past it, or `None` when the client closed before sending anything.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let k = stream.read(&mut chunk)?;
        if k == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated request head",
                ))
            };
        }
        buf.extend_from_slice(&chunk[..k]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
    }
}

/// The request head with any `Connection` header replaced by `Connection: close`, so the server
/// closes after one response and every request arrives on a fresh connection.
fn close_after(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 20);
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let is_connection = line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"));
        if !is_connection {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn content_length(head: &[u8]) -> Option<u64> {
    String::from_utf8_lossy(head)
        .split("\r\n")
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
}

fn drain(stream: &mut TcpStream, len: u64) -> io::Result<()> {
    let len = len.min(MAX_DRAIN);
    io::copy(&mut stream.take(len), &mut io::sink())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_header_is_replaced_by_close() {
        let head = b"GET /b/k HTTP/1.1\r\nHost: x\r\nconnection: keep-alive\r\nA: 1\r\n\r\n";
        let out = String::from_utf8(close_after(head)).unwrap();
        assert_eq!(
            out,
            "GET /b/k HTTP/1.1\r\nHost: x\r\nA: 1\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn content_length_is_parsed_case_insensitively() {
        assert_eq!(
            content_length(b"PUT / HTTP/1.1\r\ncontent-LENGTH: 42\r\n\r\n"),
            Some(42)
        );
        assert_eq!(content_length(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), None);
    }

    #[test]
    fn faults_follow_the_schedule_and_budget() {
        let plan = FaultPlan::new(2, vec![Fault::Drop, Fault::Status(503)]).with_max_faults(3);
        let counters = Counters::default();
        let got: Vec<_> = (1..=10)
            .map(|n| choose_fault(&plan, n, &counters))
            .collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(Fault::Drop),
                None,
                Some(Fault::Status(503)),
                None,
                Some(Fault::Drop),
                None,
                None,
                None,
                None
            ]
        );
        assert_eq!(counters.faults.load(Ordering::SeqCst), 3);
    }
}
