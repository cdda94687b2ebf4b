//! Tugas 2 (assignment 2): UDP, and seeing it in Wireshark.
//!
//! The course asks students to capture, in Wireshark, the datagrams of a
//! small UDP sender (`udp_simpel.py`: "ini angka 1", "ini angka 2", ... to
//! 127.0.0.1:5005) and of a UDP file sender (`udp_fileclient.py`), first on
//! the local machine and then to a friend's computer over Wi-Fi. This crate
//! is those programs in Rust:
//!
//! - `udp_simple` sends `ini angka N` once a second; `udp_server` prints
//!   each datagram's text and sender ([`simple`]).
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
//! Modules: [`app`] (the programs' flags and bodies), [`simple`],
//! [`protocol`], [`sender`], [`receiver`], [`relay`] (a lossy relay for
//! tests and the benchmark).
#![deny(missing_docs)]

pub mod app;
pub mod protocol;
pub mod receiver;
pub mod relay;
pub mod sender;
pub mod simple;

/// The assignment's UDP port.
pub const DEFAULT_PORT: u16 = 5005;
/// The assignment's address.
pub const DEFAULT_HOST: &str = "127.0.0.1";
