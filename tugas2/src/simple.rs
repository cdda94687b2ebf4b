//! `udp_simple` and `udp_server`: plain text datagrams, one per message.
//!
//! Nothing is added to the text: the UDP payload is exactly the bytes of
//! `ini angka 1`, which is what Wireshark shows under "Data".

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::error::io_cause;
use common::stop::{Running, Shutdown};

/// Longest text shown for one datagram; longer ones are cut with a note.
pub const MAX_SHOWN: usize = 200;

/// The `i`-th message: `ini angka i` ("this is number i").
pub fn message(i: u64) -> String {
    format!("ini angka {i}")
}

/// Sends `ini angka 1`, `ini angka 2`, ... to `target`, waiting `interval`
/// between two messages, and prints each to `out`. `count` 0 = forever.
/// Returns how many were sent.
///
/// UDP does not know whether anyone listens: if the target's host answers
/// "port unreachable", that is logged and sending goes on (a capture in
/// Wireshark still shows every datagram).
///
/// # Errors
/// If a datagram cannot be sent for another reason, or `out` fails.
pub fn send_numbers(
    socket: &UdpSocket,
    target: SocketAddr,
    count: u64,
    interval: Duration,
    out: &mut dyn Write,
) -> io::Result<u64> {
    let mut i = 0;
    while count == 0 || i < count {
        if i > 0 {
            std::thread::sleep(interval);
        }
        i += 1;
        let text = message(i);
        loop {
            match socket.send_to(text.as_bytes(), target) {
                Ok(_) => break,
                // An ICMP error for an earlier datagram is reported on the
                // next call; this datagram was not sent, so send it again.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    log::warn!("{target}: port unreachable (is udp_server running?)");
                }
                Err(e) => return Err(e),
            }
        }
        writeln!(out, "sent \"{text}\" to {target}")?;
        out.flush()?;
    }
    Ok(i)
}

/// `udp_server`: prints every datagram that arrives on `socket` as
/// `received "TEXT" from IP:PORT`, until `limit` datagrams (never if
/// `None`) or until `shutdown` is given: it wakes the blocked `recv_from`
/// with an empty datagram, which is not printed; the datagrams that
/// arrived before it are. Returns how many were printed.
///
/// # Errors
/// If the socket fails (not for anything a peer sends) or `out` fails.
pub fn run_server(
    socket: &UdpSocket,
    limit: Option<u64>,
    shutdown: &Shutdown,
    out: &mut dyn Write,
) -> io::Result<u64> {
    shutdown.watch_udp(socket)?;
    let mut buf = vec![0u8; 65536];
    let mut n_seen = 0;
    while limit.is_none_or(|l| n_seen < l) {
        let (n, peer) = match socket.recv_from(&mut buf) {
            // The stop's wake-up; datagrams that came before it are printed.
            Ok((0, _)) if shutdown.is_stopping() => break,
            Ok(pair) => pair,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                continue
            }
            Err(_) if shutdown.is_stopping() => break,
            Err(e) => {
                log::error!("receive failed: {}", io_cause(&e));
                return Err(e);
            }
        };
        n_seen += 1;
        writeln!(out, "{}", describe(&buf[..n], peer))?;
        out.flush()?;
    }
    Ok(n_seen)
}

/// Runs [`run_server`] (no limit) on a thread of its own with a new
/// [`Shutdown`] (for tests); stopping or dropping the returned [`Running`]
/// stops it and waits until it returned.
///
/// # Errors
/// If the socket has no local address or the thread cannot start.
pub fn start_server<W>(socket: UdpSocket, mut out: W) -> io::Result<Running>
where
    W: Write + Send + 'static,
{
    let addr = socket.local_addr()?;
    Running::spawn_at(addr, Shutdown::new(), move |shutdown| {
        run_server(&socket, None, &shutdown, &mut out).map(drop)
    })
}

/// `received "ini angka 1" from 127.0.0.1:40000`: the text with control
/// characters and invalid UTF-8 escaped, cut after [`MAX_SHOWN`] characters.
pub fn describe(payload: &[u8], peer: SocketAddr) -> String {
    let text = String::from_utf8_lossy(payload);
    let mut shown = String::new();
    let mut chars = 0;
    for c in text.chars() {
        if chars >= MAX_SHOWN {
            shown.push_str("...");
            break;
        }
        shown.extend(c.escape_debug());
        chars += 1;
    }
    if chars >= MAX_SHOWN || payload.len() != text.len() {
        format!("received \"{shown}\" from {peer} ({} bytes)", payload.len())
    } else {
        format!("received \"{shown}\" from {peer}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_escapes_and_cuts() {
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            describe(b"ini angka 1", peer),
            "received \"ini angka 1\" from 127.0.0.1:4000"
        );
        assert_eq!(
            describe(b"a\nb\"\xff", peer),
            "received \"a\\nb\\\"\u{fffd}\" from 127.0.0.1:4000 (5 bytes)"
        );
        let long = describe(&[b'x'; 1000], peer);
        assert!(
            long.ends_with("...\" from 127.0.0.1:4000 (1000 bytes)"),
            "{long}"
        );
    }
}
