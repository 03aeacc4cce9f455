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
    /// Answer with this HTTP status and an S3-style XML error body without forwarding: 503 is
    /// S3's throttling answer (`503 Slow Down`, code `SlowDown`, `Retry-After: 1`), any other
    /// status an `InternalError`.
    Status(u16),
    /// Wait this long, then forward the request as usual.
    Delay(Duration),
    /// Forward the response head and this many bytes of an object's body, then reset the
    /// connection (`SO_LINGER` 0: the client sees `ECONNRESET`, not a clean end).
    ResetMidBody(usize),
    /// Forward an object's body `bytes` at a time, waiting `pause` before each piece.
    Drip {
        /// Bytes per piece.
        bytes: usize,
        /// Wait before each piece.
        pause: Duration,
    },
    /// Announce this many more bytes than the object's body in `Content-Length`, forward the
    /// body, then close: the connection ends before the announced length.
    OverstatedLength(u64),
    /// Announce this many fewer bytes than the object's body in `Content-Length`, then forward
    /// the whole body: the extra bytes follow what the client takes for the end.
    UnderstatedLength(u64),
}

impl Fault {
    /// Whether the fault is made on an object's body, so that it applies only to object reads
    /// (a `GET` without a query string, answered `200` or `206` with a `Content-Length`).
    pub fn is_on_body(&self) -> bool {
        matches!(
            self,
            Fault::ResetMidBody(_)
                | Fault::Drip { .. }
                | Fault::OverstatedLength(_)
                | Fault::UnderstatedLength(_)
        )
    }
}

/// When and how the proxy injects faults.
///
/// Connections are numbered from 1 in accept order; each carries exactly one request (the
/// proxy asks the server to close after answering). Connection `n` gets a fault when
/// `every > 0`, `n % every == 0` and fewer than `max_faults` were injected so far; the faults
/// are taken from `faults` in turn. A fault on the body ([`Fault::is_on_body`]) due on a
/// request that is not an object read is not made (nor counted): that request is forwarded.
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
    let fault = choose_fault(plan, n, counters, is_object_read(&head));
    match fault {
        Some(Fault::Drop) => {
            client.shutdown(Shutdown::Both)?;
            return Ok(());
        }
        Some(Fault::Status(code)) => {
            let len = content_length(&head).unwrap_or(0);
            drain(&mut client, len.saturating_sub(rest.len() as u64))?;
            client.write_all(&error_response(code))?;
            client.shutdown(Shutdown::Both)?;
            return Ok(());
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        _ => {}
    }
    let mut server = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    server.set_read_timeout(Some(IO_TIMEOUT))?;
    server.set_nodelay(true)?;
    server.write_all(&close_after(&head))?;
    server.write_all(&rest)?;
    let mut server_read = server.try_clone()?;
    let mut client_write = client.try_clone()?;
    let downstream = std::thread::spawn(move || {
        let reset = match fault.filter(Fault::is_on_body) {
            Some(fault) => respond_with_fault(&mut server_read, &mut client_write, fault),
            None => io::copy(&mut server_read, &mut client_write).map(|_| false),
        };
        // A connection to reset is left to be closed (not shut down, which would send FIN).
        if !matches!(reset, Ok(true)) {
            let _ = client_write.shutdown(Shutdown::Both);
        }
    });
    let _ = io::copy(&mut client, &mut server);
    let _ = server.shutdown(Shutdown::Write);
    let _ = downstream.join();
    Ok(())
}

/// The answer to a request given [`Fault::Status`]: the status and an S3 XML error body.
fn error_response(code: u16) -> Vec<u8> {
    let (reason, s3_code, message, extra) = if code == 503 {
        (
            "Slow Down",
            "SlowDown",
            "Please reduce your request rate.",
            "Retry-After: 1\r\n",
        )
    } else {
        ("Error", "InternalError", "injected by the test proxy", "")
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code>\
         <Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Relays the server's response to the client, making `fault` (one on the body) when the
/// response is an object's body with a `Content-Length`; any other response is relayed as is.
/// Returns whether the connection is to be reset: closed by dropping every handle to it.
fn respond_with_fault(
    server: &mut TcpStream,
    client: &mut TcpStream,
    fault: Fault,
) -> io::Result<bool> {
    let Some((head, rest)) = read_head(server)? else {
        return Ok(false);
    };
    let status = response_status(&head);
    let (Some(len), Some(200 | 206)) = (content_length(&head), status) else {
        client.write_all(&head)?;
        client.write_all(&rest)?;
        io::copy(server, client)?;
        return Ok(false);
    };
    let mut body = io::Cursor::new(rest).chain(server.take(len));
    match fault {
        Fault::ResetMidBody(bytes) => {
            client.write_all(&head)?;
            io::copy(&mut body.take(bytes.min(len as usize) as u64), client)?;
            client.flush()?;
            // Discards anything unsent and answers with RST instead of FIN.
            socket2::SockRef::from(&*client).set_linger(Some(Duration::ZERO))?;
            // Wakes the thread reading the request side without sending anything.
            client.shutdown(Shutdown::Read)?;
            return Ok(true);
        }
        Fault::Drip { bytes, pause } => {
            client.write_all(&head)?;
            let mut piece = vec![0u8; bytes.max(1)];
            loop {
                let k = read_full(&mut body, &mut piece)?;
                if k == 0 {
                    break;
                }
                std::thread::sleep(pause);
                client.write_all(&piece[..k])?;
            }
        }
        Fault::OverstatedLength(by) => {
            client.write_all(&with_content_length(&head, len + by))?;
            io::copy(&mut body, client)?;
        }
        Fault::UnderstatedLength(by) => {
            client.write_all(&with_content_length(&head, len.saturating_sub(by)))?;
            io::copy(&mut body, client)?;
        }
        Fault::Drop | Fault::Status(_) | Fault::Delay(_) => {
            client.write_all(&head)?;
            io::copy(&mut body, client)?;
        }
    }
    Ok(false)
}

/// Reads until `buf` is full or the end; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut k = 0;
    while k < buf.len() {
        match r.read(&mut buf[k..])? {
            0 => break,
            m => k += m,
        }
    }
    Ok(k)
}

/// Whether a request head is an object read: a `GET` whose target has no query string (listings
/// and other bucket requests carry one).
fn is_object_read(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut first = text.split("\r\n").next().unwrap_or("").split(' ');
    first.next() == Some("GET") && first.next().is_some_and(|target| !target.contains('?'))
}

/// The status code of a response head.
fn response_status(head: &[u8]) -> Option<u16> {
    String::from_utf8_lossy(head)
        .split(' ')
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

/// The response head with its `Content-Length` replaced by `len`.
fn with_content_length(head: &[u8], len: u64) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let is_length = line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"));
        if is_length {
            out.push_str(&format!("Content-Length: {len}\r\n"));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn choose_fault(
    plan: &FaultPlan,
    n: usize,
    counters: &Counters,
    object_read: bool,
) -> Option<Fault> {
    if plan.every == 0 || plan.faults.is_empty() || !n.is_multiple_of(plan.every) {
        return None;
    }
    let applies = |k: usize| object_read || !plan.faults[k % plan.faults.len()].is_on_body();
    let k = counters
        .faults
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| {
            (k < plan.max_faults && applies(k)).then_some(k + 1)
        })
        .ok()?;
    Some(plan.faults[k % plan.faults.len()])
}

/// Reads up to the end of the request head; returns the head (with its final blank line) and
/// any bytes read past it, or `None` when the client closed before sending anything.
fn read_head(stream: &mut impl Read) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
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
                    "truncated head",
                ))
            };
        }
        buf.extend_from_slice(&chunk[..k]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("head too large"));
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
    fn object_reads_are_told_from_other_requests() {
        assert!(is_object_read(
            b"GET /b/features/a.json HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert!(!is_object_read(
            b"GET /b?list-type=2&prefix=f%2F HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert!(!is_object_read(b"PUT /b/k HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!is_object_read(b"HEAD /b/k HTTP/1.1\r\nHost: x\r\n\r\n"));
    }

    #[test]
    fn response_heads_are_read_and_their_length_rewritten() {
        let head = b"HTTP/1.1 206 Partial Content\r\ncontent-length: 100\r\nETag: \"e\"\r\n\r\n";
        assert_eq!(response_status(head), Some(206));
        assert_eq!(content_length(head), Some(100));
        let out = with_content_length(head, 97);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 206 Partial Content\r\nContent-Length: 97\r\nETag: \"e\"\r\n\r\n"
        );
    }

    #[test]
    fn slow_down_answers_carry_retry_after_and_the_s3_code() {
        let text = String::from_utf8(error_response(503)).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Slow Down\r\n"), "{text}");
        assert!(text.contains("\r\nRetry-After: 1\r\n"), "{text}");
        assert!(text.contains("<Code>SlowDown</Code>"), "{text}");
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(content_length(head.as_bytes()), Some(body.len() as u64));
    }

    #[test]
    fn faults_on_the_body_skip_requests_that_are_not_object_reads() {
        let plan = FaultPlan::new(1, vec![Fault::ResetMidBody(10)]).with_max_faults(2);
        let counters = Counters::default();
        let got: Vec<_> = [false, true, false, true, true]
            .iter()
            .enumerate()
            .map(|(n, &object_read)| choose_fault(&plan, n + 1, &counters, object_read))
            .collect();
        let reset = Some(Fault::ResetMidBody(10));
        assert_eq!(got, vec![None, reset, None, reset, None]);
    }

    #[test]
    fn faults_follow_the_schedule_and_budget() {
        let plan = FaultPlan::new(2, vec![Fault::Drop, Fault::Status(503)]).with_max_faults(3);
        let counters = Counters::default();
        let got: Vec<_> = (1..=10)
            .map(|n| choose_fault(&plan, n, &counters, true))
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
