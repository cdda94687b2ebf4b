//! Stopping a server: a [`Shutdown`] signal that its accept loop and its
//! connections share, and [`Running`], a server on its own thread that
//! stops and joins when asked (or dropped).
//!
//! Each assignment writes its own accept loop; this module only gives it a
//! way to end. The loop calls [`Shutdown::watch`] on its listener, checks
//! [`Shutdown::is_stopping`] after every `accept`, and registers each
//! connection with [`Shutdown::admit`] (which also enforces the connection
//! cap). [`Shutdown::stop`] then sets the flag, wakes the blocked `accept`
//! by connecting to the listener, and shuts down every admitted connection,
//! so each connection's thread sees its socket end and returns; the loop
//! joins those threads and returns too.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use std::thread;
//! use common::stop::{Running, Shutdown};
//!
//! fn run_server(listener: TcpListener, shutdown: &Shutdown) -> std::io::Result<()> {
//!     shutdown.watch(&listener)?;
//!     let mut threads = Vec::new();
//!     for stream in listener.incoming() {
//!         if shutdown.is_stopping() {
//!             break;
//!         }
//!         let Ok(stream) = stream else { continue };
//!         let Some(admitted) = shutdown.admit(&stream) else { continue };
//!         threads.push(thread::spawn(move || {
//!             let _admitted = admitted; // unregisters when the thread ends
//!             drop(stream);             // serve the client here
//!         }));
//!         threads.retain(|t: &thread::JoinHandle<()>| !t.is_finished());
//!     }
//!     for t in threads {
//!         let _ = t.join();
//!     }
//!     Ok(())
//! }
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let server = Running::spawn(listener, Shutdown::new(), |l, s| run_server(l, &s)).unwrap();
//! // ... connect to server.addr() ...
//! server.stop(); // stops accepting, closes the connections, joins every thread
//! ```
//!
//! A server binary calls [`Shutdown::on_ctrl_c`] first, so Ctrl-C (or
//! `kill`) stops it the same way and `main` returns normally (exit 0).

use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown as Both, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Default cap on connections served at once by one server; past it a new
/// connection is closed at once, so a flood cannot exhaust threads or
/// file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The stop signal of one server, shared (cheaply cloned) by its accept
/// loop, its connections and whoever stops it.
#[derive(Clone, Debug)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stopping: AtomicBool,
    max_connections: usize,
    /// Admitted connections, by id, so `stop` can shut them down.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    /// Connections admitted and not yet ended (the count `admit` caps).
    count: AtomicUsize,
    /// Where to connect (TCP) or send (UDP) to wake a blocked accept/recv.
    wake_tcp: Mutex<Vec<SocketAddr>>,
    wake_udp: Mutex<Vec<SocketAddr>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A signal not yet given, with [`DEFAULT_MAX_CONNECTIONS`].
    pub fn new() -> Shutdown {
        Shutdown::with_max_connections(DEFAULT_MAX_CONNECTIONS)
    }

    /// A signal not yet given, admitting at most `max` connections at once.
    pub fn with_max_connections(max: usize) -> Shutdown {
        Shutdown {
            inner: Arc::new(Inner {
                stopping: AtomicBool::new(false),
                max_connections: max.max(1),
                open: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                count: AtomicUsize::new(0),
                wake_tcp: Mutex::new(Vec::new()),
                wake_udp: Mutex::new(Vec::new()),
            }),
        }
    }

    /// True once [`stop`](Shutdown::stop) was called: an accept loop checks
    /// this after every `accept` and leaves.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Remembers `listener`'s address, so [`stop`](Shutdown::stop) can wake
    /// a thread blocked in its `accept` by connecting to it.
    ///
    /// # Errors
    /// If the listener has no local address.
    pub fn watch(&self, listener: &TcpListener) -> io::Result<()> {
        let addr = reachable(listener.local_addr()?);
        lock(&self.inner.wake_tcp).push(addr);
        if self.is_stopping() {
            wake_tcp(addr);
        }
        Ok(())
    }

    /// Remembers a UDP socket's address, so [`stop`](Shutdown::stop) can
    /// wake a thread blocked in its `recv` by sending it an empty datagram.
    ///
    /// # Errors
    /// If the socket has no local address.
    pub fn watch_udp(&self, socket: &UdpSocket) -> io::Result<()> {
        let addr = reachable(socket.local_addr()?);
        lock(&self.inner.wake_udp).push(addr);
        if self.is_stopping() {
            wake_udp(addr);
        }
        Ok(())
    }

    /// Registers an accepted connection: `None` (and a log line) when the
    /// server is stopping or already serves its maximum, in which case the
    /// caller just drops `stream`. Otherwise the connection counts until the
    /// returned [`Admitted`] is dropped, and [`stop`](Shutdown::stop) shuts
    /// its socket down.
    pub fn admit(&self, stream: &TcpStream) -> Option<Admitted> {
        let admitted = self.count_in(|| {
            stream
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default()
        })?;
        admitted.register(stream);
        // Checked after registering, so a stop that ran in between cannot
        // miss this connection.
        if self.is_stopping() {
            return None;
        }
        Some(admitted)
    }

    /// As [`admit`](Shutdown::admit), for a connection an event loop
    /// serves: it counts toward the maximum, but its socket is not
    /// registered for [`stop`](Shutdown::stop) to shut down (the loop
    /// closes its own connections when it sees the stop, and registering
    /// costs a copy of the socket, two system calls per connection). Before
    /// a thread blocks on the socket, [`Admitted::watch`] registers it.
    pub fn admit_unwatched(&self, peer: SocketAddr) -> Option<Admitted> {
        let admitted = self.count_in(|| peer.to_string())?;
        if self.is_stopping() {
            return None;
        }
        Some(admitted)
    }

    /// Counts one more connection, or refuses it (a log line naming
    /// `peer()`) when the maximum is open.
    fn count_in(&self, peer: impl FnOnce() -> String) -> Option<Admitted> {
        let inner = &self.inner;
        if inner.count.fetch_add(1, Ordering::AcqRel) >= inner.max_connections {
            inner.count.fetch_sub(1, Ordering::AcqRel);
            log::warn!(
                "{}: refused, {} connections already open",
                peer(),
                inner.max_connections
            );
            return None;
        }
        Some(Admitted {
            shutdown: self.clone(),
            id: inner.next_id.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Connections admitted and not yet ended.
    pub fn open_connections(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// Gives the signal: accept loops leave (woken by a connection to each
    /// watched listener), and every admitted connection's socket is shut
    /// down both ways, so threads blocked reading or writing it return.
    /// Calling it again does nothing more.
    pub fn stop(&self) {
        if self.inner.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        for stream in lock(&self.inner.open).values() {
            let _ = stream.shutdown(Both::Both);
        }
        for addr in lock(&self.inner.wake_tcp).iter() {
            wake_tcp(*addr);
        }
        for addr in lock(&self.inner.wake_udp).iter() {
            wake_udp(*addr);
        }
    }

    /// Makes Ctrl-C (SIGINT) and `kill` (SIGTERM) call [`stop`](Shutdown::stop):
    /// the server finishes as if asked and `main` returns normally. A second
    /// Ctrl-C ends the process at once (exit 130). Call it at the start of
    /// `main`, before any thread is started (on Unix the two signals are
    /// then blocked in every thread but the one that waits for them).
    /// Elsewhere (Windows) it does nothing: Ctrl-C ends the process there.
    ///
    /// # Errors
    /// If the signal mask cannot be set or the thread cannot start.
    pub fn on_ctrl_c(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            super::sys::block_stop_signals()?;
            let shutdown = self.clone();
            thread::Builder::new()
                .name("ctrl-c".to_string())
                .spawn(move || {
                    if super::sys::wait_stop_signal().is_ok() {
                        log::info!("stopping (Ctrl-C again to quit at once)");
                        shutdown.stop();
                    }
                    if super::sys::wait_stop_signal().is_ok() {
                        std::process::exit(130);
                    }
                })?;
        }
        Ok(())
    }
}

/// An admitted connection; dropping it ends its registration (see
/// [`Shutdown::admit`]). Keep it alive for as long as the connection is
/// served, typically by moving it into the connection's thread.
#[derive(Debug)]
pub struct Admitted {
    shutdown: Shutdown,
    id: u64,
}

impl Admitted {
    /// Keeps a copy of `stream` for [`Shutdown::stop`] to shut down.
    fn register(&self, stream: &TcpStream) {
        if let Ok(clone) = stream.try_clone() {
            lock(&self.shutdown.inner.open).insert(self.id, clone);
        }
    }

    /// Registers `stream` (the admitted connection's socket, after
    /// [`Shutdown::admit_unwatched`]) so that [`Shutdown::stop`] shuts it
    /// down; if the stop came already, shuts it down now. Either way a
    /// thread reading or writing it afterwards returns.
    pub fn watch(&self, stream: &TcpStream) {
        self.register(stream);
        if self.shutdown.is_stopping() {
            let _ = stream.shutdown(Both::Both);
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let inner = &self.shutdown.inner;
        lock(&inner.open).remove(&self.id);
        inner.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A server running on a thread of its own; [`Running::stop`] (or dropping
/// it) gives its [`Shutdown`] signal and waits until the server function
/// returned.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    shutdown: Shutdown,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Runs `serve(listener, shutdown)` on a thread named after the
    /// listener's address. `serve` must return once `shutdown` is given
    /// (after joining the threads it started); an error it returns is logged.
    ///
    /// # Errors
    /// If the listener has no local address or the thread cannot start.
    pub fn spawn<F, E>(listener: TcpListener, shutdown: Shutdown, serve: F) -> io::Result<Running>
    where
        F: FnOnce(TcpListener, Shutdown) -> Result<(), E> + Send + 'static,
        E: std::fmt::Display,
    {
        let addr = listener.local_addr()?;
        Running::spawn_at(addr, shutdown, move |s| serve(listener, s))
    }

    /// Like [`spawn`](Running::spawn) for a server that owns its sockets
    /// already (several listeners, a UDP socket): `serve` gets only the
    /// signal, and `addr` is what [`addr`](Running::addr) reports.
    ///
    /// # Errors
    /// If the thread cannot start.
    pub fn spawn_at<F, E>(addr: SocketAddr, shutdown: Shutdown, serve: F) -> io::Result<Running>
    where
        F: FnOnce(Shutdown) -> Result<(), E> + Send + 'static,
        E: std::fmt::Display,
    {
        let signal = shutdown.clone();
        let thread = thread::Builder::new()
            .name(format!("server {addr}"))
            .spawn(move || {
                if let Err(e) = serve(signal) {
                    log::error!("server on {addr} ended: {e}");
                }
            })?;
        Ok(Running {
            addr,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's signal (for example to count its open connections).
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Stops the server and waits until its thread (and every thread it
    /// joins) has ended.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.shutdown.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A lock that ignores poisoning: the maps hold no invariant a panic
/// elsewhere could break.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The address to connect to for a socket bound to `addr`: a socket bound
/// to every address (0.0.0.0 or ::) is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Wakes a thread blocked in `accept` on `addr`: the connection is
/// accepted, the loop sees the flag and leaves.
fn wake_tcp(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
}

/// Wakes a thread blocked in `recv_from` on `addr` with an empty datagram.
fn wake_udp(addr: SocketAddr) {
    let any: SocketAddr = if addr.is_ipv4() {
        (Ipv4Addr::LOCALHOST, 0).into()
    } else {
        (Ipv6Addr::LOCALHOST, 0).into()
    };
    if let Ok(s) = UdpSocket::bind(any) {
        let _ = s.send_to(&[], addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An echo server written as the module docs show.
    fn echo_server(listener: TcpListener, shutdown: &Shutdown) -> io::Result<()> {
        shutdown.watch(&listener)?;
        let mut threads = Vec::new();
        for stream in listener.incoming() {
            if shutdown.is_stopping() {
                break;
            }
            let Ok(mut stream) = stream else { continue };
            let Some(admitted) = shutdown.admit(&stream) else {
                continue;
            };
            threads.push(thread::spawn(move || {
                let _admitted = admitted;
                let mut buf = [0u8; 64];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    if stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }));
            threads.retain(|t| !t.is_finished());
        }
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }

    fn echo_once(addr: SocketAddr) -> TcpStream {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
        s
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs shutdown() to wake a read blocked in another thread (Windows and Wine do not)"
    )]
    fn stop_closes_open_connections_and_joins_the_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Running::spawn(listener, Shutdown::new(), |l, s| echo_server(l, &s)).unwrap();
        let addr = server.addr();
        // Two clients stay connected (their threads block in read).
        let mut a = echo_once(addr);
        let _b = echo_once(addr);
        assert_eq!(server.shutdown().open_connections(), 2);
        let shutdown = server.shutdown().clone();
        server.stop();
        // Returned: every connection thread ended and unregistered.
        assert_eq!(shutdown.open_connections(), 0);
        let mut rest = Vec::new();
        assert_eq!(a.read_to_end(&mut rest).unwrap_or(0), 0);
        // Nothing accepts any more.
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
    }

    #[test]
    fn the_cap_refuses_connections_past_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Running::spawn(listener, Shutdown::with_max_connections(1), |l, s| {
            echo_server(l, &s)
        })
        .unwrap();
        let first = echo_once(server.addr());
        // The second is accepted and closed at once.
        let mut second = TcpStream::connect(server.addr()).unwrap();
        second
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = second.write_all(b"y");
        let mut buf = [0u8; 1];
        assert_eq!(second.read(&mut buf).unwrap_or(0), 0);
        drop(first);
        drop(server); // dropping stops and joins too
    }

    #[test]
    fn unwatched_connections_count_and_are_shut_down_once_watched() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::with_max_connections(2);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let a = shutdown.admit_unwatched(peer).unwrap();
        let b = shutdown.admit_unwatched(peer).unwrap();
        assert_eq!(shutdown.open_connections(), 2);
        assert!(shutdown.admit_unwatched(peer).is_none(), "past the cap");
        drop(b);
        assert_eq!(shutdown.open_connections(), 1);
        // Watched before the stop: the stop shuts the socket down.
        let mut client = TcpStream::connect(addr).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        a.watch(&server_side);
        shutdown.stop();
        let mut rest = Vec::new();
        assert_eq!(
            client.read_to_end(&mut rest).unwrap(),
            0,
            "EOF after the stop"
        );
        // Watched after the stop: shut down at once.
        let mut late_client = TcpStream::connect(addr).unwrap();
        let (late, _) = listener.accept().unwrap();
        a.watch(&late);
        assert_eq!(late_client.read_to_end(&mut rest).unwrap(), 0);
        drop(a);
        assert_eq!(shutdown.open_connections(), 0);
        assert!(shutdown.admit_unwatched(peer).is_none(), "stopping");
    }

    #[test]
    fn watch_after_stop_still_wakes_and_the_loop_ends() {
        let shutdown = Shutdown::new();
        shutdown.stop();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // The loop sees the wake-up connection, then the flag.
        echo_server(listener, &shutdown).unwrap();
    }

    #[test]
    fn a_udp_receiver_is_woken() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let shutdown = Shutdown::new();
        shutdown.watch_udp(&socket).unwrap();
        let addr = socket.local_addr().unwrap();
        let server = Running::spawn_at(addr, shutdown, move |s| -> io::Result<()> {
            let mut buf = [0u8; 16];
            while !s.is_stopping() {
                socket.recv_from(&mut buf)?;
            }
            Ok(())
        })
        .unwrap();
        server.stop();
    }

    #[test]
    fn bound_to_every_address_is_woken_on_loopback() {
        let any: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        assert_eq!(reachable(any), "127.0.0.1:5000".parse().unwrap());
        let v6: SocketAddr = "[::]:5000".parse().unwrap();
        assert_eq!(reachable(v6), "[::1]:5000".parse().unwrap());
    }
}
