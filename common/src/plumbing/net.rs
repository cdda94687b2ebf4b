//! Server scaffolding: bind, announce, accept in a loop, a thread per
//! connection with timeouts; and a client connect with a useful error.
//!
//! A server binary does:
//!
//! ```no_run
//! use common::net::{bind, announce, serve, ServeOptions};
//! use std::time::Duration;
//!
//! let listener = bind("0.0.0.0", 31000).unwrap();       // error names the port
//! announce(&listener).unwrap();                         // "listening on 0.0.0.0:31000"
//! let opts = ServeOptions { timeout: Duration::from_secs(30), ..ServeOptions::default() };
//! serve(listener, opts, |stream, peer| {
//!     // one connection; an Err is logged and the server goes on
//!     Ok(())
//! });
//! ```
//!
//! Tests bind `127.0.0.1:0` themselves and run [`serve`] on a thread, so the
//! port is known before the first `connect` and nothing has to sleep.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::error::{io_cause, AppError};

/// Listen backlog asked of the kernel. std's `TcpListener::bind` asks for
/// 128, which makes a load test with 1000 concurrent connects (ab -c 1000)
/// see connect stalls; the kernel caps this at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Default cap on connections served at once; past it new ones are closed
/// at once so a flood cannot exhaust threads or file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Default cap on idle threads kept after a burst of connections. Enough
/// for `ab -c 1000` to find a thread ready for every connection: with only
/// 64 kept, threads were started and ended all through such a run and the
/// Tugas 6 server answered about a fifth fewer requests per second. An
/// idle thread costs little (a whole server measured 18 MB resident with
/// 999 threads).
pub const DEFAULT_MAX_IDLE_THREADS: usize = 1024;

/// Binds a TCP listener on `host:port` with a large backlog.
///
/// # Errors
/// An [`AppError`] naming the address, with a hint for the usual causes
/// (port taken, address not on this machine, privileged port).
pub fn bind(host: &str, port: u16) -> Result<TcpListener, AppError> {
    let what = format!("cannot listen on {}", join_host_port(host, port));
    let listener = first_address(host, port, TcpListener::bind)
        .map_err(|err| with_bind_hint(AppError::io(what, &err), &err, port))?;
    set_backlog(&listener, LISTEN_BACKLOG);
    Ok(listener)
}

/// Binds a UDP socket on `host:port`, with the same hints as [`bind`].
///
/// # Errors
/// An [`AppError`] naming the address.
pub fn bind_udp(host: &str, port: u16) -> Result<UdpSocket, AppError> {
    let what = format!("cannot listen on {} (UDP)", join_host_port(host, port));
    first_address(host, port, UdpSocket::bind)
        .map_err(|err| with_bind_hint(AppError::io(what, &err), &err, port))
}

/// Resolves `host:port` and returns the first address `f` succeeds with,
/// or the last error (a name can resolve to several addresses, e.g.
/// `localhost` to ::1 and 127.0.0.1).
fn first_address<T>(
    host: &str,
    port: u16,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in resolve(host, port)? {
        match f(addr) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no address")))
}

/// The hint for a failed bind, by cause.
pub fn with_bind_hint(e: AppError, err: &io::Error, port: u16) -> AppError {
    match err.kind() {
        io::ErrorKind::AddrInUse => e.hint(format!(
            "is another server running on port {port}? try --port {}",
            port.wrapping_add(1).max(1024)
        )),
        io::ErrorKind::AddrNotAvailable => {
            e.hint("this machine has no such address; try --host 0.0.0.0 or 127.0.0.1")
        }
        io::ErrorKind::PermissionDenied if port < 1024 => {
            e.hint("ports below 1024 need root; try a port above 1024")
        }
        _ => e,
    }
}

/// Resolves `host:port` to socket addresses (names such as `localhost` too).
///
/// # Errors
/// The resolver's error, or `NotFound` when the name has no address.
pub fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no address for host {host}"),
        ));
    }
    Ok(addrs)
}

/// `host:port`, with brackets around an IPv6 literal.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Asks for a `backlog` of waiting connections (std asks for 128).
fn set_backlog(listener: &TcpListener, backlog: i32) {
    #[cfg(unix)]
    if let Err(e) = super::sys::set_backlog(listener, backlog) {
        log::debug!("could not raise listen backlog: {e}");
    }
    #[cfg(not(unix))]
    let _ = (listener, backlog);
}

/// Prints `listening on IP:PORT` to stdout and flushes it. Scripts and
/// tests wait for this line; it is printed once the socket is bound.
///
/// # Errors
/// Only if stdout cannot be written.
pub fn announce(listener: &TcpListener) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    announce_addr(addr)?;
    Ok(addr)
}

/// Prints `listening on ADDR` for any bound socket (UDP servers use this).
///
/// # Errors
/// Only if stdout cannot be written.
pub fn announce_addr(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

/// The usual start of a server binary: binds `--host`/`--port`, prints
/// `listening on IP:PORT`, and returns the listener with [`ServeOptions`]
/// whose timeout is `--timeout`.
///
/// # Errors
/// A bad flag value (exit 2) or a failed bind (exit 1, with a hint).
pub fn listen(
    m: &crate::cli::Matches,
) -> Result<(TcpListener, ServeOptions), crate::error::MainError> {
    let port: u16 = m.parse("port")?;
    let opts = ServeOptions {
        timeout: m.timeout()?,
        ..ServeOptions::default()
    };
    let listener = bind(m.value("host"), port)?;
    announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
    Ok((listener, opts))
}

/// Connects to `host:port` within `timeout`, and sets that timeout on reads
/// and writes of the new stream.
///
/// # Errors
/// An [`AppError`] naming the address, with "is the server running on ...?"
/// when the connection was refused.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, AppError> {
    let target = join_host_port(host, port);
    let what = format!("cannot connect to {target}");
    let stream = match first_address(host, port, |addr| {
        TcpStream::connect_timeout(&addr, timeout)
    }) {
        Ok(stream) => stream,
        Err(err) => {
            return Err(connect_hint(
                AppError::io(what, &err),
                &err,
                &target,
                timeout,
            ))
        }
    };
    set_timeouts(&stream, timeout).map_err(|e| AppError::io(&what, &e))?;
    Ok(stream)
}

/// The hint for a failed connect, by cause.
fn connect_hint(e: AppError, err: &io::Error, target: &str, timeout: Duration) -> AppError {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => e.hint(format!("is the server running on {target}?")),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => e.hint(format!(
            "no answer within {:?}; is {target} reachable?",
            timeout
        )),
        _ => e,
    }
}

/// Sets the same read and write timeout on a stream.
///
/// # Errors
/// Only for a zero duration (rejected by the OS interface).
pub fn set_timeouts(stream: &TcpStream, timeout: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))
}

/// How [`serve`] treats each connection.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Read and write timeout set on every accepted stream.
    pub timeout: Duration,
    /// Connections served at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// Set TCP_NODELAY on accepted streams (request/response protocols).
    pub nodelay: bool,
    /// Idle threads kept waiting in `accept` after a burst; more exit.
    pub max_idle_threads: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            timeout: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            nodelay: false,
            max_idle_threads: DEFAULT_MAX_IDLE_THREADS,
        }
    }
}

/// Accepts connections forever and runs `handler` for each on a thread of
/// its own, with the timeouts (and TCP_NODELAY) of `opts` set; at most
/// `opts.max_connections` at once (more are closed at once). A handler's
/// error is logged with the peer's address and ends only that connection.
/// Returns only when the process ends.
///
/// # Design: a thread per connection, threads reused
///
/// The simplest server starts a new thread for every connection. Under a
/// load test without keep-alive (`ab -n 100000 -c 1000`) that is 100 000
/// thread starts. Here threads take turns instead: an idle thread waits in
/// `accept` itself (the kernel wakes exactly one waiter per connection),
/// serves the connection it got, and goes back to `accept`. Just before
/// serving, a thread that sees no other thread left waiting in `accept`
/// starts one, so there is always a thread ready for the next client: a
/// slow or silent client holds only its own thread and never delays anyone
/// (the property a fixed-size pool would lose). When more than
/// `opts.max_idle_threads` are idle after a burst, the extra ones exit.
pub fn serve<H>(listener: TcpListener, opts: ServeOptions, handler: H)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let shared = Arc::new(Shared {
        listener,
        opts,
        handler,
        idle: AtomicUsize::new(1),
        active: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        local,
    });
    // The calling thread is the first acceptor and never leaves.
    worker_loop(&shared, false);
}

struct Shared<H> {
    listener: TcpListener,
    opts: ServeOptions,
    handler: H,
    /// Threads in (or about to enter) `accept`.
    idle: AtomicUsize,
    /// Connections being served.
    active: AtomicUsize,
    /// Consecutive `accept` failures, for back-off.
    failures: AtomicUsize,
    local: String,
}

/// Accepts and serves, connection after connection; returns only if
/// `may_leave` and enough other threads wait in `accept`.
fn worker_loop<H>(shared: &Arc<Shared<H>>, may_leave: bool)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    // On entry this thread is already counted in `idle`.
    loop {
        let accepted = shared.listener.accept();
        let left_waiting = shared.idle.fetch_sub(1, Ordering::AcqRel) - 1;
        let (stream, peer) = match accepted {
            Ok(pair) => {
                shared.failures.store(0, Ordering::Relaxed);
                pair
            }
            Err(e) => {
                shared.idle.fetch_add(1, Ordering::AcqRel);
                back_off(shared, &e);
                continue;
            }
        };
        if left_waiting == 0 {
            spawn_acceptor(shared);
        }
        serve_one(shared, stream, peer);
        // Back to accept, unless plenty of threads already wait there.
        let max_idle = shared.opts.max_idle_threads.max(1);
        let waiting = shared.idle.fetch_add(1, Ordering::AcqRel) + 1;
        if may_leave
            && waiting > max_idle
            && shared
                .idle
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n > max_idle).then(|| n - 1)
                })
                .is_ok()
        {
            return;
        }
    }
}

/// Starts one more thread waiting in `accept`.
fn spawn_acceptor<H>(shared: &Arc<Shared<H>>)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    shared.idle.fetch_add(1, Ordering::AcqRel);
    let next = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("conn {}", shared.local))
        .spawn(move || worker_loop(&next, true));
    if let Err(e) = spawned {
        // New clients wait in the listen backlog until a thread is free.
        shared.idle.fetch_sub(1, Ordering::AcqRel);
        log::error!("cannot start a thread: {}", io_cause(&e));
    }
}

/// Serves one accepted connection with the limits of `opts`.
fn serve_one<H>(shared: &Shared<H>, stream: TcpStream, peer: SocketAddr)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()>,
{
    let opts = &shared.opts;
    if shared.active.fetch_add(1, Ordering::AcqRel) >= opts.max_connections {
        shared.active.fetch_sub(1, Ordering::AcqRel);
        log::warn!(
            "{peer}: refused, {} connections already open",
            opts.max_connections
        );
        return;
    }
    match set_timeouts(&stream, opts.timeout) {
        Ok(()) => {
            if opts.nodelay {
                let _ = stream.set_nodelay(true);
            }
            log::debug!("{peer}: connected");
            match (shared.handler)(stream, peer) {
                Ok(()) => log::debug!("{peer}: closed"),
                Err(e) => log::warn!("{peer}: {}", describe_io(&e)),
            }
        }
        Err(e) => log::warn!("{peer}: cannot set timeouts: {}", io_cause(&e)),
    }
    shared.active.fetch_sub(1, Ordering::AcqRel);
}

/// After a failed `accept`: routine for an aborted handshake; otherwise
/// (EMFILE: too many open files, ...) say so and wait a little instead of
/// spinning.
fn back_off<H>(shared: &Shared<H>, e: &io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) {
        return;
    }
    let failures = shared.failures.fetch_add(1, Ordering::Relaxed) + 1;
    log::error!("accept on {} failed: {}", shared.local, io_cause(e));
    thread::sleep(Duration::from_millis(10 * failures.min(50) as u64));
}

/// Runs [`serve`] on a background thread (for tests and embedding) and
/// returns the listener's address.
///
/// # Errors
/// If the listener has no local address or the thread cannot start.
pub fn spawn_server<H>(
    listener: TcpListener,
    opts: ServeOptions,
    handler: H,
) -> io::Result<SocketAddr>
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    let addr = listener.local_addr()?;
    thread::Builder::new()
        .name(format!("server {addr}"))
        .spawn(move || serve(listener, opts, handler))?;
    Ok(addr)
}

/// After a failed `accept`: nothing for a routine failure (an aborted
/// handshake); otherwise (EMFILE: too many open files, ...) an error line
/// and a short pause, so the accept loop does not spin.
pub fn accept_failed(e: &io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) {
        return;
    }
    log::error!("accept failed: {}", io_cause(e));
    thread::sleep(Duration::from_millis(50));
}

/// Most bytes [`linger_close`] reads away before it gives up.
pub const LINGER_MAX_BYTES: usize = 256 * 1024;

/// How long [`linger_close`] waits for the peer at most.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// Closes a connection after an error answer without losing that answer:
/// ends our sending side, then reads away what the client still sends
/// (at most [`LINGER_MAX_BYTES`] for at most [`LINGER_TIME`]) until it
/// closes too. Closing a socket with unread bytes in it makes the kernel
/// send a reset, which can destroy the answer before the client read it.
/// `reader` is the stream itself or the buffered reader in front of it.
pub fn linger_close<R: io::Read + ?Sized>(stream: &TcpStream, reader: &mut R) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let end = std::time::Instant::now() + LINGER_TIME;
    let mut sink = [0u8; 16 * 1024];
    let mut total = 0;
    while total < LINGER_MAX_BYTES {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}

/// A connection error in words for the log: timeouts and closes read as such.
pub fn describe_io(e: &io::Error) -> String {
    if e.get_ref().is_some() {
        // Errors made by the protocol layers carry their own words.
        e.to_string()
    } else if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        "timed out waiting for the peer; connection dropped".to_string()
    } else {
        io_cause(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::mpsc::channel;
    use std::sync::Mutex;

    #[test]
    fn bind_in_use_gives_the_hint() {
        let first = bind("127.0.0.1", 0).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind("127.0.0.1", port).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("cannot listen on 127.0.0.1:{port}")),
            "{text}"
        );
        assert!(text.contains("address already in use"), "{text}");
        assert!(text.contains("is another server running"), "{text}");
    }

    #[test]
    fn connect_refused_gives_the_hint() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = connect("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot connect to 127.0.0.1:{port}: connection refused (is the server running on 127.0.0.1:{port}?)"
            )
        );
    }

    #[test]
    fn one_failing_connection_does_not_stop_the_server() {
        let listener = bind("127.0.0.1", 0).unwrap();
        let addr = spawn_server(listener, ServeOptions::default(), |mut s, _| {
            let mut b = [0u8; 1];
            s.read_exact(&mut b)?;
            if b[0] == b'!' {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bang"));
            }
            s.write_all(&b)
        })
        .unwrap();
        let mut bad = TcpStream::connect(addr).unwrap();
        bad.write_all(b"!").unwrap();
        let mut rest = Vec::new();
        bad.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        let mut good = TcpStream::connect(addr).unwrap();
        good.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        good.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
    }

    #[test]
    fn silent_client_is_dropped_after_the_timeout() {
        let listener = bind("127.0.0.1", 0).unwrap();
        let opts = ServeOptions {
            timeout: Duration::from_millis(200),
            ..ServeOptions::default()
        };
        let addr = spawn_server(listener, opts, |mut s, _| {
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).map(drop)
        })
        .unwrap();
        let mut silent = TcpStream::connect(addr).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 1];
        // The server gives up and closes: we see EOF long before our own 10 s.
        assert_eq!(silent.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn threads_are_reused_and_a_busy_one_blocks_nobody() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (names_tx, names_rx) = channel();
        let names_tx = Mutex::new(names_tx);
        thread::spawn(move || {
            serve(listener, ServeOptions::default(), move |mut s, _| {
                let id = format!("{:?}", thread::current().id());
                names_tx.lock().unwrap().send(id).unwrap();
                // Echo one byte: the client decides when we are done.
                let mut b = [0u8; 1];
                s.read_exact(&mut b)?;
                s.write_all(&b)
            })
        });
        let t = Some(Duration::from_secs(10));
        // A connection that stays open and silent holds its thread...
        let held = TcpStream::connect(addr).unwrap();
        let held_thread = names_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // ...while others are still served, one after another, and threads
        // that served earlier ones serve the later ones too.
        let mut seen = Vec::new();
        for _ in 0..6 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(t).unwrap();
            s.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            // Wait for the server side to finish (it closes after the echo).
            assert_eq!(s.read(&mut b).unwrap(), 0);
            seen.push(names_rx.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert!(seen.iter().all(|n| *n != held_thread));
        // Each connection was closed before the next began. A thread that
        // accepts starts a spare only when none is left waiting, so two or
        // three threads take turns; six distinct ones would mean no reuse.
        seen.sort();
        seen.dedup();
        assert!(seen.len() < 6, "no thread was reused: {seen:?}");
        drop(held);
    }

    #[test]
    fn many_open_connections_each_get_a_thread_and_serve_goes_on() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        const KEEP: usize = 8;
        let server = thread::spawn(move || {
            serve(
                listener,
                ServeOptions {
                    max_idle_threads: KEEP,
                    ..ServeOptions::default()
                },
                |mut s, _| {
                    let mut b = [0u8; 1];
                    s.read_exact(&mut b)?;
                    s.write_all(&b)
                },
            )
        });
        // More connections waiting at once than threads are kept idle
        // afterwards, then answered in reverse order.
        let mut conns: Vec<TcpStream> = (0..KEEP + 40)
            .map(|_| {
                let s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                s
            })
            .collect();
        for (i, s) in conns.iter_mut().enumerate().rev() {
            s.write_all(&[i as u8]).unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i as u8);
        }
        drop(conns);
        // The surplus threads leave, but `serve` itself (the thread that
        // called it) never returns, and new clients are still served.
        for i in 0..3u8 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&[i]).unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i);
        }
        assert!(!server.is_finished(), "serve returned");
    }
}
