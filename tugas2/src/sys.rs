//! The system calls this crate needs that std lacks, declared by the
//! `libc` crate: a UDP socket's send and receive buffer sizes
//! (`setsockopt` with `SO_SNDBUF` and `SO_RCVBUF`, every Unix; Windows
//! keeps its default buffers), and on Linux several datagrams per call
//! (`sendmmsg`, `recvmmsg`), UDP segmentation and receive offload
//! (`UDP_SEGMENT`, `UDP_GRO`, one `sendmsg` of a run) and entering a
//! network namespace. This module holds the crate's only `unsafe`.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// Asks for `size`-byte send and receive buffers on `socket`. The kernel
/// may give less (Linux caps at `net.core.rmem_max`/`wmem_max`).
///
/// # Errors
/// The first refusal (the other size is still tried).
pub fn set_buffer_sizes(socket: &UdpSocket, size: usize) -> io::Result<()> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    let mut first = Ok(());
    for name in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
        // SAFETY: the descriptor is an open socket that `socket` owns for
        // the whole call; `size` is a c_int that outlives the call, and
        // the length passed is its size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 && first.is_ok() {
            first = Err(io::Error::last_os_error());
        }
    }
    first
}

/// The receive buffer size the kernel reports for `socket`.
///
/// # Errors
/// If the kernel refuses to say.
pub fn recv_buffer_size(socket: &UdpSocket) -> io::Result<usize> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: as above; getsockopt writes at most `len` bytes into `value`,
    // which we own, and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(value).unwrap_or(0))
}

/// Sends the first datagrams of `datagrams` on the connected `socket` in one
/// `sendmmsg` call; returns how many went (at least one, or the error).
///
/// # Errors
/// As `send`: the first datagram could not be sent.
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
pub fn send_many(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
    let n = datagrams.len().min(1024); // UIO_MAXIOV
    let mut iovs: Vec<libc::iovec> = datagrams[..n]
        .iter()
        .map(|d| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid empty header.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: `msgs` holds `n` headers, each pointing at one iovec of
    // `iovs`, each describing a live borrowed slice of `datagrams`; all
    // outlive the call. No address is given: the socket is connected.
    let rc = unsafe { libc::sendmmsg(socket.as_raw_fd(), msgs.as_mut_ptr(), n as libc::c_uint, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as usize)
}

/// Sets the socket's UDP segment size (`setsockopt` `UDP_SEGMENT`, Linux
/// 4.18 and later): from then on one `send` of more than `size` bytes
/// leaves as several datagrams of `size` bytes (the last may be shorter),
/// cut by the kernel (UDP GSO). 0 turns it off. An older kernel refuses
/// (`ENOPROTOOPT`), and then nothing changed.
///
/// # Errors
/// The kernel's refusal.
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
pub fn set_udp_segment(socket: &UdpSocket, size: u16) -> io::Result<()> {
    set_int_option(
        socket,
        libc::SOL_UDP,
        libc::UDP_SEGMENT,
        libc::c_int::from(size),
    )
}

/// Turns receive offload on for the socket (`setsockopt` `UDP_GRO`, Linux
/// 5.0 and later): the kernel may then hand over several consecutive
/// datagrams of one sender glued together, with their size in a control
/// message ([`recv_many`] splits them again).
///
/// # Errors
/// The kernel's refusal.
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
pub fn set_udp_gro(socket: &UdpSocket, on: bool) -> io::Result<()> {
    set_int_option(socket, libc::SOL_UDP, libc::UDP_GRO, libc::c_int::from(on))
}

/// Turns off the checksum of the datagrams the socket sends
/// (`SO_NO_CHECK`). The kernel then refuses segmentation offload at send
/// time (`EINVAL`): the tests use it to exercise the fallback.
///
/// # Errors
/// The kernel's refusal.
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
pub fn set_no_checksum(socket: &UdpSocket) -> io::Result<()> {
    set_int_option(socket, libc::SOL_SOCKET, libc::SO_NO_CHECK, 1)
}

#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
fn set_int_option(
    socket: &UdpSocket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: as in set_buffer_sizes: an open socket, a c_int that
    // outlives the call, and its true size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `datagrams` on the connected `socket` as one `sendmsg` of their
/// concatenation (one iovec each), for a socket whose segment size
/// ([`set_udp_segment`]) is the length of every datagram but the last:
/// the kernel cuts the message back into exactly these datagrams. Returns
/// the bytes sent (all of them: a datagram send is all or nothing).
///
/// # Errors
/// As `send`; also `EINVAL`/`EIO` when the kernel cannot segment on this
/// path (no checksum offload, IPsec, `SO_NO_CHECK`), `EMSGSIZE` when the
/// whole is above 64 KiB or a datagram above the path MTU.
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
pub fn send_segmented(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
    let mut iovs: Vec<libc::iovec> = datagrams
        .iter()
        .take(1024) // UIO_MAXIOV
        .map(|d| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        })
        .collect();
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iovs.as_mut_ptr();
    msg.msg_iovlen = iovs.len() as _;
    // SAFETY: `msg` points at `iovs.len()` iovecs, each describing a live
    // borrowed slice of `datagrams`; all outlive the call. No address and
    // no control data: the socket is connected and its segment size set.
    let rc = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as usize)
}

/// Receives up to `buf.len() / slot` messages in one `recvmmsg` call:
/// waits (within the socket's read timeout) for the first, then takes what
/// is already queued. Message `i` is in `buf[i * slot..]`; each datagram
/// in it is pushed to `got` (cleared first) as its start, length and
/// sender. A message holds one datagram, or with [`set_udp_gro`] several
/// of the same size glued (the control message says the size), which are
/// pushed one by one. A datagram longer than `slot` is cut to `slot` bytes.
///
/// # Errors
/// As `recv_from` (a timeout is `WouldBlock`).
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
pub fn recv_many(
    socket: &UdpSocket,
    buf: &mut [u8],
    slot: usize,
    got: &mut Vec<crate::batch::Received>,
) -> io::Result<()> {
    got.clear();
    let n = (buf.len() / slot).clamp(1, 1024);
    // SAFETY: sockaddr_storage is plain old data; zero is a valid value.
    let mut addrs: Vec<libc::sockaddr_storage> = vec![unsafe { std::mem::zeroed() }; n];
    // Room for the UDP_GRO control message (an int), u64-aligned as cmsghdr needs.
    let mut controls: Vec<[u64; 8]> = vec![[0; 8]; n];
    let mut iovs: Vec<libc::iovec> = buf
        .chunks_mut(slot)
        .take(n)
        .map(|c| libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: c.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .zip(addrs.iter_mut())
        .zip(controls.iter_mut())
        .map(|((iov, addr), control)| {
            // SAFETY: as in send_many.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            h.msg_hdr.msg_control = control.as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = std::mem::size_of::<[u64; 8]>() as _;
            h
        })
        .collect();
    // SAFETY: every header points at one iovec over a disjoint part of
    // `buf`, at one sockaddr_storage of `addrs` and at one control buffer
    // of `controls`, with their true sizes; all outlive the call. The
    // kernel writes only inside them.
    let rc = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    for (i, (m, addr)) in msgs.iter().zip(&addrs).take(rc as usize).enumerate() {
        let Some(from) = socket_addr(addr) else {
            continue;
        };
        let len = (m.msg_len as usize).min(slot);
        let segment = gro_segment(&m.msg_hdr).unwrap_or(len).max(1);
        let mut at = 0;
        loop {
            got.push(crate::batch::Received {
                start: i * slot + at,
                len: segment.min(len - at),
                from,
            });
            at += segment;
            if at >= len {
                break;
            }
        }
    }
    Ok(())
}

/// The segment size in a received message's `UDP_GRO` control message, if
/// it has one (the message then holds several datagrams of that size).
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
fn gro_segment(h: &libc::msghdr) -> Option<usize> {
    let mut found = None;
    // SAFETY: `h` is a header recvmmsg filled in: its control pointer and
    // the length the kernel wrote describe a live buffer of ours, and the
    // CMSG_* macros only walk inside that length. The UDP_GRO payload is
    // an int, read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO {
                let size: libc::c_int = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                found = usize::try_from(size).ok().filter(|&s| s > 0);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    found
}

#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
fn socket_addr(s: &libc::sockaddr_storage) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match libc::c_int::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and aligned enough for.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(
                SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )
                .into(),
            )
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(
                SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )
                .into(),
            )
        }
        _ => None,
    }
}

/// Moves the calling thread into the network namespace at `path`
/// (`/run/netns/NAME`, made by `ip netns add`): every socket it opens from
/// then on lives there. Used by the benchmark's lossy-cable mode (root).
///
/// # Errors
/// If the file cannot be opened or `setns` refuses (not root).
#[cfg(target_os = "linux")]
pub fn enter_net_namespace(path: &std::path::Path) -> io::Result<()> {
    let file = std::fs::File::open(path)?;
    // SAFETY: `file` is an open namespace file for the whole call; setns
    // only changes this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A larger receive buffer is asked for and the kernel reports one at
    /// least that large (Linux doubles the value for its own bookkeeping).
    #[test]
    fn buffers_grow() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = recv_buffer_size(&s).unwrap();
        let want = before + 64 * 1024;
        set_buffer_sizes(&s, want).unwrap();
        assert!(recv_buffer_size(&s).unwrap() >= want, "{before}");
    }
}
