//! A small safe wrapper around Linux's epoll, the system call family that
//! tells one thread which of many sockets are ready to read or write, and
//! an eventfd to wake the threads waiting in it.
//!
//! The standard library has no readiness API: the calls come from the C
//! library every Rust program on Linux already links, declared by the
//! `libc` crate. Everything unsafe in this crate stays in this file;
//! [`crate::event_loop`] uses only the safe methods below.
//!
//! ```text
//! let ep = Epoll::new()?;
//! ep.add(socket_fd, 7, READABLE)?;       // "tell me when fd is readable; call it 7"
//! ep.wait(&mut events, Some(timeout))?;  // sleeps until something is ready
//! for e in &events { e.token() == 7 ... }
//! ```

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Interest and event bit: the socket has bytes to read (or an end of
/// stream, or an error, both found out by reading).
pub const READABLE: u32 = libc::EPOLLIN as u32;
/// Interest and event bit: the socket's send buffer has room.
pub const WRITABLE: u32 = libc::EPOLLOUT as u32;
/// Interest and event bit: the peer has closed its sending side (the
/// bytes before the close may still be unread).
pub const PEER_CLOSED: u32 = libc::EPOLLRDHUP as u32;
/// Interest bit: edge-triggered. A socket is reported when it *becomes*
/// ready (new bytes, new room, a close), not again and again while it
/// stays ready, so its owner must read until `WouldBlock` or otherwise
/// know the socket is empty. Without it: level-triggered.
pub const EDGE: u32 = libc::EPOLLET as u32;
/// Interest bit for a socket watched by several epoll instances (the
/// listener, one instance per worker thread): one new connection wakes
/// one worker, not all of them (Linux 4.5+).
pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

const ERROR: u32 = libc::EPOLLERR as u32;
const HANG_UP: u32 = libc::EPOLLHUP as u32;

/// One ready socket, as the kernel reports it: what happened, and the
/// token given to [`Epoll::add`] (C's `struct epoll_event`).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Event(libc::epoll_event);

impl Event {
    /// An event as the kernel would report it (to serve a socket known to
    /// be ready without asking epoll).
    pub fn new(events: u32, token: u64) -> Event {
        Event(libc::epoll_event { events, u64: token })
    }

    /// The token the socket was added with.
    pub fn token(&self) -> u64 {
        self.0.u64
    }

    fn bits(&self) -> u32 {
        self.0.events
    }

    /// Reading will not block: bytes, the end of the stream or an error
    /// (errors and hang-ups count, so that the read finds them).
    pub fn readable(&self) -> bool {
        self.bits() & (READABLE | ERROR | HANG_UP) != 0
    }

    /// The peer has closed its side, or the connection is gone.
    pub fn peer_closed(&self) -> bool {
        self.bits() & (PEER_CLOSED | HANG_UP) != 0
    }

    /// Writing will not block (or will fail at once).
    pub fn writable(&self) -> bool {
        self.bits() & (WRITABLE | ERROR | HANG_UP) != 0
    }
}

/// Asks the kernel to hold each new connection on `listener` back from
/// `accept` until its first bytes arrive (TCP_DEFER_ACCEPT), for at most
/// about `secs` seconds; after that, or once the client closes, it is
/// handed over as usual. A client that sends its request at once (ab,
/// a browser) then wakes the server once, with the request already
/// readable, instead of once for the connection and again for the
/// request; a client that stays silent reaches `accept` about `secs`
/// later than without it.
///
/// # Errors
/// If the option cannot be set (then nothing changed).
pub fn defer_accept(listener: &TcpListener, secs: u32) -> io::Result<()> {
    let value = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    // SAFETY: passes a pointer to `value`, which lives for the call, and
    // its size; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes one connection from `listener`'s backlog, already non-blocking:
/// Linux's `accept4` with `SOCK_NONBLOCK` does in one system call what
/// std's `accept` and then `set_nonblocking` do in two (a close-per-request
/// load test makes one connection per request, so this is one call of
/// about seven per request).
///
/// # Errors
/// As `accept`: `WouldBlock` when the backlog is empty (the listener is
/// non-blocking), `EMFILE` when out of file descriptors, ...
pub fn accept_nonblocking(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes of the peer's address
    // into `addr` and its length into `len`; both live for the call.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            (&mut addr as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket that nothing else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let peer = match libc::c_int::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in,
            // which is smaller than sockaddr_storage and less aligned.
            let a =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            SocketAddr::from((
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            ))
        }
        _ => stream.peer_addr()?,
    };
    Ok((stream, peer))
}

/// The TCP_DEFER_ACCEPT time of `listener` in seconds, as the kernel
/// holds it (rounded up to its SYN-ACK retransmission steps; 0 = off).
///
/// # Errors
/// If the option cannot be read.
pub fn deferred_accept_secs(listener: &TcpListener) -> io::Result<u32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `value` and
    // the length into `len`; both live for the call.
    let rc = unsafe {
        libc::getsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u32::try_from(value).unwrap_or(0))
}

/// An eventfd used as a doorbell: once [`Waker::wake`] was called it stays
/// readable (nobody reads it), so every epoll instance watching it
/// reports it in every wait from then on. The event loop's workers watch
/// one to learn that the server stops.
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// A new, silent doorbell.
    ///
    /// # Errors
    /// When the process is out of file descriptors.
    pub fn new() -> io::Result<Waker> {
        // SAFETY: eventfd takes an initial count and flags and returns a
        // new descriptor or -1; no memory is passed.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by the kernel, is open, and is
        // owned by nothing else.
        Ok(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Rings: the eventfd becomes (and stays) readable.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of `one`, which live for the call.
        // A full counter (EAGAIN) means it is readable already.
        let _ = unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// The descriptor to watch (for [`READABLE`]).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// An epoll instance; closed on drop.
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// A new, empty instance.
    ///
    /// # Errors
    /// When the process is out of file descriptors or memory.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes a flags integer and returns a new
        // descriptor or -1; no memory is passed.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by the kernel, is open, and is
        // owned by nothing else.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Starts watching `fd` for `interest` (a mix of [`READABLE`],
    /// [`WRITABLE`], [`PEER_CLOSED`], [`EDGE`], [`EXCLUSIVE`]); events for
    /// it carry `token`. Without [`EDGE`], level-triggered: a socket keeps
    /// being reported while it stays ready.
    ///
    /// # Errors
    /// For example when `fd` is already watched.
    pub fn add(&self, fd: RawFd, token: u64, interest: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    /// Changes what `fd` is watched for. For an edge-triggered watch this
    /// also re-arms it: a socket ready now is reported in the next wait.
    ///
    /// # Errors
    /// When `fd` is not watched.
    pub fn modify(&self, fd: RawFd, token: u64, interest: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    /// Stops watching `fd`. (Closing a socket also stops it being watched.)
    ///
    /// # Errors
    /// When `fd` is not watched.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn ctl(&self, op: i32, fd: RawFd, token: u64, interest: u32) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: interest,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the
        // call (the kernel copies it); both descriptors are plain integers
        // the kernel checks.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sleeps until at least one watched socket is ready or `timeout`
    /// passes (`None`: no limit), then fills `events` with up to its
    /// capacity of ready sockets (cleared first; empty after a timeout or
    /// a signal).
    ///
    /// # Errors
    /// Only for a broken instance.
    pub fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        events.clear();
        let max = events.capacity().clamp(1, i32::MAX as usize);
        events.reserve(max);
        let ms = match timeout {
            None => -1,
            // Rounded up: a timeout of 0.4 ms must not become a busy loop.
            Some(t) => i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX),
        };
        // SAFETY: the kernel writes at most `max` events into the vector's
        // spare capacity, which holds at least `max` of them (reserved
        // above on an empty vector).
        // `Event` is a transparent wrapper of `libc::epoll_event`.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr().cast::<libc::epoll_event>(),
                max as i32,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: the kernel initialised the first `n` (<= max) events;
        // `Event` is plain old data.
        unsafe { events.set_len(n as usize) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn accepted_sockets_are_non_blocking_with_the_peer_address() {
        for host in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(listener) = TcpListener::bind(host) else {
                continue; // no IPv6 here
            };
            listener.set_nonblocking(true).unwrap();
            let err = accept_nonblocking(&listener).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "empty backlog");
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut server, peer) = loop {
                match accept_nonblocking(&listener) {
                    Ok(pair) => break pair,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            };
            assert_eq!(peer, client.local_addr().unwrap());
            let mut buf = [0u8; 8];
            let err = std::io::Read::read(&mut server, &mut buf).unwrap_err();
            assert_eq!(
                err.kind(),
                io::ErrorKind::WouldBlock,
                "{host}: non-blocking"
            );
        }
    }

    /// Both ends of a loopback connection: (client, server).
    fn connected_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn reports_a_readable_socket_with_its_token() {
        let (mut client, server) = connected_pair();
        let ep = Epoll::new().unwrap();
        ep.add(server.as_raw_fd(), 42, READABLE).unwrap();
        let mut events = Vec::with_capacity(8);

        ep.wait(&mut events, Some(Duration::from_millis(1)))
            .unwrap();
        assert!(events.is_empty(), "nothing sent yet");

        client.write_all(b"x").unwrap();
        ep.wait(&mut events, Some(Duration::from_secs(10))).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].token(), 42);
        assert!(events[0].readable());
        assert!(!events[0].writable());

        ep.modify(server.as_raw_fd(), 43, WRITABLE).unwrap();
        ep.wait(&mut events, Some(Duration::from_secs(10))).unwrap();
        assert_eq!(events[0].token(), 43);
        assert!(events[0].writable());

        ep.delete(server.as_raw_fd()).unwrap();
        ep.wait(&mut events, Some(Duration::from_millis(1)))
            .unwrap();
        assert!(events.is_empty());
        assert!(
            ep.delete(server.as_raw_fd()).is_err(),
            "not watched any more"
        );
    }

    #[test]
    fn deferred_accept_is_set_on_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(deferred_accept_secs(&listener).unwrap(), 0);
        defer_accept(&listener, 1).unwrap();
        assert!(deferred_accept_secs(&listener).unwrap() >= 1);
    }

    #[test]
    fn edge_triggered_reports_once_until_rearmed_or_new_bytes() {
        let (mut client, server) = connected_pair();
        let ep = Epoll::new().unwrap();
        let interest = READABLE | PEER_CLOSED | EDGE;
        ep.add(server.as_raw_fd(), 1, interest).unwrap();
        let mut events = Vec::with_capacity(8);
        let long = Some(Duration::from_secs(10));
        let short = Some(Duration::from_millis(1));

        client.write_all(b"x").unwrap();
        ep.wait(&mut events, long).unwrap();
        assert_eq!(events.len(), 1);
        // Unread, but already reported: no second report.
        ep.wait(&mut events, short).unwrap();
        assert!(events.is_empty());
        // Re-arming reports it again at once.
        ep.modify(server.as_raw_fd(), 1, interest).unwrap();
        ep.wait(&mut events, long).unwrap();
        assert_eq!(events.len(), 1);
        assert!(!events[0].peer_closed());
        // So do new bytes, and the client's close.
        client.write_all(b"y").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        ep.wait(&mut events, long).unwrap();
        assert_eq!(events.len(), 1);
        assert!(events[0].readable());
        if !events[0].peer_closed() {
            // The bytes and the close came as two reports.
            ep.wait(&mut events, long).unwrap();
            assert!(events[0].peer_closed());
        }
    }
}
