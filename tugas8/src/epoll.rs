//! A small safe wrapper around Linux's epoll: one thread asks the kernel
//! which of many sockets are ready to read, instead of a sleeping thread
//! per socket. The calls come from the C library through the `libc`
//! crate; everything unsafe in this crate stays in this file.
//!
//! ```text
//! let ep = Epoll::new()?;
//! ep.add(socket_fd, 7, READABLE)?;       // "tell me when fd is readable; call it 7"
//! ep.wait(&mut events, timeout)?;        // sleeps until something is ready
//! for e in &events { e.token() == 7 ... }
//! ```
//!
//! Sockets are watched level-triggered: a socket is reported in every
//! wait for as long as it has bytes to read.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Interest and event bit: the socket has bytes to read (or an end of
/// stream, or an error; both found out by reading).
pub const READABLE: u32 = libc::EPOLLIN as u32;
/// Interest bit for a socket watched by several epoll instances (the
/// listener): one new connection wakes one of them, not all.
pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

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

/// Asks the kernel to hold each new connection on `listener` back from
/// `accept` until its first bytes arrive (TCP_DEFER_ACCEPT), for about
/// `secs` seconds at most (or until the client closes): a loop then wakes
/// once per new connection, with its request already there to read.
///
/// # Errors
/// If the option cannot be set.
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

/// One ready socket: the token it was added with (C's `struct epoll_event`).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Event(libc::epoll_event);

impl Event {
    /// The token the socket was added with.
    pub fn token(&self) -> u64 {
        self.0.u64
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
        // SAFETY: `fd` was just returned by the kernel and is owned by
        // nothing else.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Starts watching `fd` for `interest`; its events carry `token`.
    ///
    /// # Errors
    /// For example when `fd` is already watched.
    pub fn add(&self, fd: RawFd, token: u64, interest: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    /// Stops watching `fd` (closing it also does).
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
        // SAFETY: `event` is valid for the call (the kernel copies it);
        // the descriptors are integers the kernel checks.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sleeps until a watched socket is ready or `timeout` passes, then
    /// fills `events` (cleared first) with up to its capacity of them.
    ///
    /// # Errors
    /// Only for a broken instance.
    pub fn wait(&self, events: &mut Vec<Event>, timeout: Duration) -> io::Result<()> {
        events.clear();
        let max = events.capacity().clamp(1, 4096);
        events.reserve(max);
        let ms = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
        // SAFETY: the kernel writes at most `max` events into the spare
        // capacity reserved above; `Event` is a transparent wrapper of
        // `libc::epoll_event`.
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
        // SAFETY: the kernel initialised the first `n` (<= max) events.
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

    #[test]
    fn reports_a_readable_socket_with_its_token() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let ep = Epoll::new().unwrap();
        ep.add(server.as_raw_fd(), 42, READABLE).unwrap();
        let mut events = Vec::with_capacity(8);
        ep.wait(&mut events, Duration::from_millis(1)).unwrap();
        assert!(events.is_empty(), "nothing sent yet");
        client.write_all(b"x").unwrap();
        ep.wait(&mut events, Duration::from_secs(10)).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].token(), 42);
        ep.delete(server.as_raw_fd()).unwrap();
        ep.wait(&mut events, Duration::from_millis(1)).unwrap();
        assert!(events.is_empty());
    }
}
