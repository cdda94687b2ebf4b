//! The one system call this crate needs that std lacks: setting a UDP
//! socket's send and receive buffer sizes (`setsockopt` with `SO_SNDBUF`
//! and `SO_RCVBUF`), declared by the `libc` crate for each Unix target.
//! This module holds the crate's only `unsafe`. Windows keeps its default
//! buffers.

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
