//! Tugas 2 (assignment 2): UDP, and seeing it in Wireshark.
//!
//! The course asks students to capture, in Wireshark, the datagrams of a
//! small UDP sender (`udp_simpel.py`: "ini angka 1", "ini angka 2", ... to
//! 127.0.0.1:5005) and of a UDP file sender (`udp_fileclient.py`), first on
//! the local machine and then to a friend's computer over Wi-Fi. This crate
//! is those programs in Rust:
//!
//! - `udp_simple` sends `ini angka N` once a second; `udp_server` prints
//!   each datagram's text and sender ([`simple`]), until Ctrl-C.
//! - `udp_fileclient` sends a file to `udp_fileserver` in datagrams of at
//!   most 1024 payload bytes. UDP may drop, duplicate or reorder them, so
//!   each carries a header with a transfer id and a sequence number; the
//!   receiver acknowledges (cumulative + selective acks), the sender keeps a
//!   window of datagrams in flight and sends again what was not
//!   acknowledged in time ([`sender`], [`receiver`], format in [`protocol`]).
//!   The receiver renames its output into place only when every byte came.
//!
//! Wire format of the file transfer (12-byte header, big-endian):
//!
//! ```text
//! | 'P' 'J' | version 1 | type | transfer id (4) | sequence number (4) | payload 0..=1024 |
//! type: 1 START, 2 DATA, 3 ACK, 4 DONE, 5 ERROR
//! ```
//!
//! Run (two terminals, from the `tugas2/` folder):
//!
//! ```text
//! cargo run -p tugas2 --bin udp_server
//! cargo run -p tugas2 --bin udp_simple -- --count 5
//!
//! cargo run -p tugas2 --bin udp_fileserver -- --output data.out
//! cargo run -p tugas2 --bin udp_fileclient -- --file bart.png
//! ```
//!
//! Modules: [`app`] (the programs' flags, typed settings and bodies), [`simple`],
//! [`protocol`], [`sender`], [`receiver`], [`relay`] (a lossy relay for
//! tests and the benchmark), [`check`] (the grader's check), [`batch`]
//! (several datagrams per system call on Linux), `sys` (the system calls
//! std lacks, Unix only: socket buffers, and on Linux batching and UDP
//! segmentation/receive offload).
#![deny(missing_docs)]

pub mod app;
pub mod batch;
pub mod check;
pub mod plain;
pub mod protocol;
pub mod receiver;
pub mod relay;
pub mod sender;
pub mod simple;
#[cfg(unix)]
pub mod sys;

/// Socket buffer size asked for on both sides: room for a full window of
/// datagrams, so a receiver that is briefly busy does not make the kernel
/// drop what is queued for it. Linux caps it at `net.core.rmem_max` /
/// `wmem_max` (often 208 KiB; then larger windows lose datagrams on loopback
/// and are sent again).
pub const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Asks the kernel for [`SOCKET_BUFFER`]-sized send and receive buffers on
/// `socket`. Best effort: a refusal is only logged. Unix only (on Windows
/// the OS default is kept), as std has no portable call for it
/// ([`sys::set_buffer_sizes`]).
pub fn enlarge_buffers(socket: &std::net::UdpSocket) {
    #[cfg(unix)]
    if let Err(e) = sys::set_buffer_sizes(socket, SOCKET_BUFFER) {
        log::debug!("cannot enlarge socket buffer: {e}");
    }
    #[cfg(not(unix))]
    let _ = socket;
}

/// The assignment's UDP port.
pub const DEFAULT_PORT: u16 = 5005;
/// The assignment's address.
pub const DEFAULT_HOST: &str = "127.0.0.1";
