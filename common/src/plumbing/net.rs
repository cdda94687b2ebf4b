//! Sockets with helpful errors: bind (large backlog, hints for a taken
//! port), the `listening on IP:PORT` line, connect (a hint when nothing
//! listens), timeouts, and the lingering close after an error answer.
//!
//! A server binary binds and announces, then runs its own accept loop
//! (each assignment writes it; [`crate::stop`] gives it a way to end):
//!
//! ```no_run
//! use common::net::{announce, bind};
//!
//! let listener = bind("0.0.0.0", 31000).unwrap(); // error names the port
//! announce(&listener).unwrap();                   // "listening on 0.0.0.0:31000"
//! for stream in listener.incoming() {
//!     // a thread per connection, see each assignment's run_server
//! #   drop(stream);
//! }
//! ```
//!
//! Tests bind `127.0.0.1:0` themselves, so the port is known before the
//! first `connect` and nothing has to sleep.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::thread;
use std::time::Duration;

use crate::error::{io_cause, AppError};

/// Listen backlog asked of the kernel. std's `TcpListener::bind` asks for
/// 128, which makes a load test with 1000 concurrent connects (ab -c 1000)
/// see connect stalls; the kernel caps this at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: i32 = 4096;

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

/// The hint for a failed connect, by cause. Windows may report a port with
/// nothing listening as "connection reset" (WSAECONNRESET) where Unix says
/// "refused": both get the same hint.
fn connect_hint(e: AppError, err: &io::Error, target: &str, timeout: Duration) -> AppError {
    match err.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {
            e.hint(format!("is the server running on {target}?"))
        }
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

    /// Windows' way of saying "refused" gets the same hint.
    #[test]
    fn connect_reset_gives_the_hint_too() {
        let err = io::Error::from(io::ErrorKind::ConnectionReset);
        let e = connect_hint(
            AppError::io("cannot connect to 127.0.0.1:9", &err),
            &err,
            "127.0.0.1:9",
            Duration::from_secs(1),
        );
        assert_eq!(
            e.to_string(),
            "cannot connect to 127.0.0.1:9: connection reset by peer (is the server running on 127.0.0.1:9?)"
        );
    }
}
