//! Several datagrams per system call where the OS has it, one per call
//! everywhere else.
//!
//! A datagram of 1024 payload bytes costs a system call on each side, so the
//! transfer's speed is set by calls per second, not bytes. On Linux,
//! `sendmmsg`/`recvmmsg` ([`crate::sys`]) move up to [`BATCH`] datagrams per
//! call; with `batched` false, or on other systems, the same functions fall
//! back to one `send`/`recv_from` per datagram (the portable path; the tests
//! run transfers both ways). The datagrams on the wire are the same.
//!
//! The sender goes one step further on Linux ([`SendPath`]): consecutive
//! datagrams of the same size go out as one `sendmsg` of up to
//! [`MAX_SEGMENTS`] of them with the socket's UDP segment size set (UDP
//! GSO, generic segmentation offload), and the kernel cuts that message
//! back into those same datagrams, once, far down its stack, instead of
//! running each one through it. A kernel that refuses (too old, or a path
//! that cannot segment) is remembered, and from then on `sendmmsg` is used.

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

/// Most datagrams in one segmented send: the kernel takes at most 64, and
/// the whole must fit one IP datagram (65 507 UDP payload bytes: 63 of 1036).
pub const MAX_SEGMENTS: usize = 64;
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
const MAX_SEGMENTED_BYTES: usize = 65_507;

/// How a sender puts its datagrams on the wire; it remembers a kernel that
/// refused segmentation offload.
#[derive(Debug)]
pub struct SendPath {
    batched: bool,
    /// The segment size the socket is set to: every datagram but the last
    /// of a segmented send is exactly this long. `None` = no offload.
    segment: Option<usize>,
    segmented_sends: u64,
}

impl SendPath {
    /// The path for `socket`: one datagram per call unless `batched`; with
    /// `offload` too (Linux), segmentation offload for datagrams of
    /// `segment` bytes, if the kernel accepts the socket option.
    pub fn new(socket: &UdpSocket, batched: bool, offload: bool, segment: usize) -> SendPath {
        #[cfg_attr(
            not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))),
            allow(unused_mut)
        )]
        let mut path = SendPath {
            batched: batched && AVAILABLE,
            segment: None,
            segmented_sends: 0,
        };
        #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
        if path.batched && offload && (2..=usize::from(u16::MAX)).contains(&segment) {
            match crate::sys::set_udp_segment(socket, segment as u16) {
                Ok(()) => path.segment = Some(segment),
                Err(e) => log::debug!("no UDP segmentation offload: {e}"),
            }
        }
        let _ = (socket, offload, segment);
        path
    }

    /// Whether segmented sends are (still) used.
    pub fn offloading(&self) -> bool {
        self.segment.is_some()
    }

    /// Most datagrams one segmented send carries (63 of 1036 bytes), 1
    /// without offload.
    pub fn run_limit(&self) -> usize {
        #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
        if let Some(segment) = self.segment {
            return MAX_SEGMENTS.min(MAX_SEGMENTED_BYTES / segment);
        }
        1
    }

    /// How many segmented sends went out.
    pub fn segmented_sends(&self) -> u64 {
        self.segmented_sends
    }

    /// Sends datagrams from the front of `datagrams` on the connected
    /// `socket`; returns how many were sent (at least one).
    ///
    /// # Errors
    /// The first datagram could not be sent.
    pub fn send(&mut self, socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
        #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
        if let Some(segment) = self.segment {
            let run = segment_run(datagrams, segment);
            let sent = if run >= 2 {
                crate::sys::send_segmented(socket, &datagrams[..run]).map(|_| {
                    self.segmented_sends += 1;
                    run
                })
            } else {
                send(socket, datagrams, self.batched)
            };
            match sent {
                // The kernel cannot segment on this path (it then refuses
                // every send while the segment size is set): never again on
                // this socket; what was refused goes out below, one
                // datagram per message.
                Err(e) if refuses_offload(&e) => {
                    log::info!("UDP segmentation offload refused ({e}); using sendmmsg");
                    self.segment = None;
                    let _ = crate::sys::set_udp_segment(socket, 0);
                }
                other => return other,
            }
        }
        send(socket, datagrams, self.batched)
    }
}

/// How many datagrams from the front of `datagrams` one segmented send can
/// carry: all `segment` bytes long but the last, which may be shorter.
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
fn segment_run(datagrams: &[&[u8]], segment: usize) -> usize {
    let most = MAX_SEGMENTS.min(MAX_SEGMENTED_BYTES / segment); // as run_limit
    let mut run = 0;
    for d in datagrams.iter().take(most) {
        if d.is_empty() || d.len() > segment {
            break;
        }
        run += 1;
        if d.len() < segment {
            break; // a shorter one ends the run
        }
    }
    run
}

/// Errors by which the kernel says it cannot segment (rather than that
/// the datagrams could not be sent).
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
fn refuses_offload(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::EIO | libc::EMSGSIZE | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
    )
}

/// One received datagram: `buf[start..start + len]` of the buffer given
/// to [`recv`], sent by `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Where it starts in the buffer.
    pub start: usize,
    /// Its length.
    pub len: usize,
    /// Its sender.
    pub from: SocketAddr,
}

/// Datagrams a receive-offload message may carry glued (the kernel's
/// limit): room for such a message, as [`recv`]'s `slot`.
pub const OFFLOAD_SLOT: usize = 65_536;

/// Asks the kernel (Linux) to hand over consecutive datagrams of one
/// sender glued into one message (UDP GRO, receive offload); [`recv`]
/// splits them again, so callers see the same datagrams. Needs a `slot` of
/// [`OFFLOAD_SLOT`] bytes. Returns whether it is on (false elsewhere, or
/// when the kernel refuses).
pub fn receive_offload(socket: &UdpSocket) -> bool {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    match crate::sys::set_udp_gro(socket, true) {
        Ok(()) => return true,
        Err(e) => log::debug!("no UDP receive offload: {e}"),
    }
    let _ = socket;
    false
}

/// Receives one or more datagrams into `buf` (message `i` at
/// `buf[i * slot..]`), where each starts, its length and sender in `got`:
/// waits within the socket's read timeout for the first, then (batched)
/// takes what is already queued.
///
/// # Errors
/// As `recv_from`; a timeout is `WouldBlock` or `TimedOut`.
pub fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    slot: usize,
    got: &mut Vec<Received>,
    batched: bool,
) -> io::Result<()> {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    if batched && buf.len() >= 2 * slot {
        return crate::sys::recv_many(socket, buf, slot, got);
    }
    let _ = batched;
    got.clear();
    let (len, from) = socket.recv_from(&mut buf[..slot])?;
    got.push(Received {
        start: 0,
        len,
        from,
    });
    Ok(())
}

/// The offload paths, through the real kernel (Linux only: elsewhere there
/// is nothing to test beyond the portable path the integration tests use).
#[cfg(all(
    test,
    target_os = "linux",
    any(target_env = "gnu", target_env = "musl")
))]
mod tests {
    use super::*;

    #[test]
    fn a_segmented_run_is_equal_sizes_then_at_most_one_shorter() {
        let (full, short) = (vec![0u8; 1036], vec![0u8; 100]);
        let d = |pattern: &[bool]| -> Vec<&[u8]> {
            pattern
                .iter()
                .map(|&f| if f { &full[..] } else { &short[..] })
                .collect()
        };
        assert_eq!(segment_run(&d(&[true, true, true]), 1036), 3);
        assert_eq!(segment_run(&d(&[true, false, true]), 1036), 2);
        assert_eq!(segment_run(&d(&[false, true]), 1036), 1);
        assert_eq!(segment_run(&d(&[true; 100]), 1036), 63, "64 KiB at most");
        assert_eq!(segment_run(&d(&[false; 100]), 100), MAX_SEGMENTS);
        assert_eq!(segment_run(&d(&[true, true]), 500), 0, "too long");
    }

    /// Ten datagrams of 1036 bytes and one of 100, each of its own bytes.
    fn eleven_datagrams() -> Vec<Vec<u8>> {
        (0..11u8)
            .map(|i| {
                let len = if i < 10 { 1036 } else { 100 };
                (0..len).map(|j| (j as u8).wrapping_mul(7) ^ i).collect()
            })
            .collect()
    }

    fn connected_pair() -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        (tx, rx)
    }

    /// Sends all of `list` through `path`.
    fn send_all(path: &mut SendPath, tx: &UdpSocket, list: &[&[u8]]) {
        let mut i = 0;
        while i < list.len() {
            i += path.send(tx, &list[i..]).unwrap();
        }
    }

    fn receive_each(rx: &UdpSocket, count: usize) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        (0..count)
            .map(|_| {
                let n = rx.recv(&mut buf).unwrap();
                buf[..n].to_vec()
            })
            .collect()
    }

    #[test]
    fn one_segmented_send_arrives_as_the_same_datagrams() {
        let (tx, rx) = connected_pair();
        let sent = eleven_datagrams();
        let list: Vec<&[u8]> = sent.iter().map(|d| &d[..]).collect();
        let mut path = SendPath::new(&tx, true, true, 1036);
        assert!(path.offloading(), "this kernel has UDP_SEGMENT");
        assert_eq!(path.send(&tx, &list).unwrap(), 11, "all in one call");
        assert_eq!(path.segmented_sends(), 1);
        assert_eq!(receive_each(&rx, 11), sent);
    }

    #[test]
    fn a_kernel_refusing_segmentation_is_remembered_and_sendmmsg_used() {
        let (tx, rx) = connected_pair();
        let mut path = SendPath::new(&tx, true, true, 1036);
        assert!(path.offloading());
        // Without checksums the kernel refuses to segment (EINVAL).
        crate::sys::set_no_checksum(&tx).unwrap();
        let sent = eleven_datagrams();
        let list: Vec<&[u8]> = sent.iter().map(|d| &d[..]).collect();
        send_all(&mut path, &tx, &list);
        assert!(!path.offloading(), "the refusal is remembered");
        assert_eq!(path.segmented_sends(), 0);
        assert_eq!(receive_each(&rx, 11), sent);
        send_all(&mut path, &tx, &list);
        assert_eq!(receive_each(&rx, 11), sent, "and the next sends work too");
    }

    #[test]
    fn receive_offload_glues_datagrams_and_recv_splits_them_again() {
        let (tx, rx) = connected_pair();
        assert!(receive_offload(&rx), "this kernel has UDP_GRO");
        let sent = eleven_datagrams();
        let list: Vec<&[u8]> = sent.iter().map(|d| &d[..]).collect();
        let mut path = SendPath::new(&tx, true, true, 1036);
        send_all(&mut path, &tx, &list);
        let mut buf = vec![0u8; OFFLOAD_SLOT * 4];
        let (mut got, mut all) = (Vec::new(), Vec::new());
        let mut glued = false;
        while all.len() < sent.len() {
            recv(&rx, &mut buf, OFFLOAD_SLOT, &mut got, true).unwrap();
            for d in &got {
                glued |= d.start % OFFLOAD_SLOT != 0;
                assert_eq!(d.from, tx.local_addr().unwrap());
                all.push(buf[d.start..d.start + d.len].to_vec());
            }
        }
        assert_eq!(all, sent);
        assert!(glued, "loopback hands a segmented send over whole");
    }
}
