//! Several datagrams per system call where the OS has it, one per call
//! everywhere else.
//!
//! A datagram of 1024 payload bytes costs a system call on each side, so the
//! transfer's speed is set by calls per second, not bytes. On Linux,
//! `sendmmsg`/`recvmmsg` ([`crate::sys`]) move up to [`BATCH`] datagrams per
//! call; with `batched` false, or on other systems, the same functions fall
//! back to one `send`/`recv_from` per datagram (the portable path; the tests
//! run transfers both ways). The datagrams on the wire are the same.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Most datagrams moved by one call.
pub const BATCH: usize = 64;

/// Whether this build can batch (Linux); `batched` options are ignored elsewhere.
pub const AVAILABLE: bool = cfg!(all(
    target_os = "linux",
    any(target_env = "gnu", target_env = "musl")
));

/// Sends datagrams from the front of `datagrams` on the connected `socket`;
/// returns how many were sent (at least one).
///
/// # Errors
/// The first datagram could not be sent.
pub fn send(socket: &UdpSocket, datagrams: &[&[u8]], batched: bool) -> io::Result<usize> {
    if datagrams.is_empty() {
        return Ok(0);
    }
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    if batched && datagrams.len() > 1 {
        return crate::sys::send_many(socket, &datagrams[..datagrams.len().min(BATCH)]);
    }
    let _ = batched;
    socket.send(datagrams[0]).map(|_| 1)
}

/// Receives one or more datagrams into `buf` (slot `i` at `buf[i * slot..]`),
/// their lengths and senders in `got`: waits within the socket's read
/// timeout for the first, then (batched) takes what is already queued.
///
/// # Errors
/// As `recv_from`; a timeout is `WouldBlock` or `TimedOut`.
pub fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    slot: usize,
    got: &mut Vec<(usize, SocketAddr)>,
    batched: bool,
) -> io::Result<()> {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    if batched && buf.len() >= 2 * slot {
        return crate::sys::recv_many(socket, buf, slot, got);
    }
    let _ = batched;
    got.clear();
    let (n, from) = socket.recv_from(&mut buf[..slot])?;
    got.push((n, from));
    Ok(())
}
