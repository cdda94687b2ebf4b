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
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
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

/// Binds a TCP listener on `host:port` with a large backlog.
///
/// # Errors
/// An [`AppError`] naming the address, with a hint for the usual causes
/// (port taken, address not on this machine, privileged port).
pub fn bind(host: &str, port: u16) -> Result<TcpListener, AppError> {
    let what = format!("cannot listen on {}", join_host_port(host, port));
    let addrs = resolve(host, port).map_err(|e| AppError::io(&what, &e))?;
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr) {
            Ok(listener) => {
                set_backlog(&listener, LISTEN_BACKLOG);
                return Ok(listener);
            }
            Err(e) => last = Some(e),
        }
    }
    let err = last.unwrap_or_else(|| io::Error::other("no address"));
    Err(with_bind_hint(AppError::io(what, &err), &err, port))
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

#[cfg(unix)]
fn set_backlog(listener: &TcpListener, backlog: i32) {
    use std::os::fd::AsRawFd;
    extern "C" {
        // POSIX listen(2). Calling it again on a listening socket only
        // changes the backlog (Linux, BSDs, macOS).
        fn listen(fd: i32, backlog: i32) -> i32;
    }
    // SAFETY: the descriptor is a valid, open, bound socket owned by
    // `listener` for the duration of the call; listen() touches nothing else.
    let rc = unsafe { listen(listener.as_raw_fd(), backlog) };
    if rc != 0 {
        log::debug!(
            "could not raise listen backlog: {}",
            io::Error::last_os_error()
        );
    }
}

#[cfg(not(unix))]
fn set_backlog(_listener: &TcpListener, _backlog: i32) {}

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
    let addrs = resolve(host, port).map_err(|e| AppError::io(&what, &e))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                set_timeouts(&stream, timeout).map_err(|e| AppError::io(&what, &e))?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let err = last.unwrap_or_else(|| io::Error::other("no address"));
    let e = AppError::io(what, &err);
    Err(match err.kind() {
        io::ErrorKind::ConnectionRefused => e.hint(format!("is the server running on {target}?")),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => e.hint(format!(
            "no answer within {:?}; is {target} reachable?",
            timeout
        )),
        _ => e,
    })
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
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            timeout: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            nodelay: false,
        }
    }
}

/// Accepts connections forever, each on its own thread with the timeouts
/// set. A handler's error is logged with the peer's address and ends only
/// that connection. Returns only if the listener itself fails for good.
pub fn serve<H>(listener: TcpListener, opts: ServeOptions, handler: H)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let active = Arc::new(AtomicUsize::new(0));
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut failures = 0u32;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => {
                failures = 0;
                pair
            }
            Err(e) => {
                // EMFILE and friends: log, back off a little, keep going.
                // Interrupted/aborted handshakes are routine.
                failures += 1;
                if !matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) {
                    log::error!("accept on {local} failed: {}", io_cause(&e));
                    thread::sleep(Duration::from_millis(10 * u64::from(failures.min(50))));
                }
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= opts.max_connections {
            log::warn!(
                "{peer}: refused, {} connections already open",
                opts.max_connections
            );
            drop(stream);
            continue;
        }
        if let Err(e) = set_timeouts(&stream, opts.timeout) {
            log::warn!("{peer}: cannot set timeouts: {}", io_cause(&e));
            continue;
        }
        if opts.nodelay {
            let _ = stream.set_nodelay(true);
        }
        active.fetch_add(1, Ordering::SeqCst);
        let guard = ActiveGuard(Arc::clone(&active));
        let handler = Arc::clone(&handler);
        let spawned = thread::Builder::new()
            .name(format!("conn {peer}"))
            .spawn(move || {
                let _guard = guard;
                log::debug!("{peer}: connected");
                match handler(stream, peer) {
                    Ok(()) => log::debug!("{peer}: closed"),
                    Err(e) => log::warn!("{peer}: {}", describe_io(&e)),
                }
            });
        if let Err(e) = spawned {
            log::error!("{peer}: cannot start a thread: {}", io_cause(&e));
        }
    }
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

struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

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
}
