//! Tugas 4: a JSON protocol to put, get, list (and delete) files.
//!
//! The assignment ("Rancanglah sebuah protokol untuk meletakkan file,
//! mengambil file, melihat list file ... Gunakan format JSON ... Buatlah
//! client untuk setiap operasi tersebut") asks for an own protocol, its
//! documentation, and one client program per operation. The protocol is
//! documented in `tugas4/PROTOCOL.md` (in Indonesian, with the
//! assignment's four parts); a test sends every example in that file to
//! the real server and checks the documented answer.
//!
//! # Wire format (from [`common::fileproto`])
//!
//! Every request and every response is one JSON object followed by
//! `\r\n\r\n`; a connection carries any number of requests in turn.
//!
//! ```text
//! {"command":"LIST"}
//! {"command":"GET","name":"halo.txt","offset":0,"length":2097152}
//! {"command":"PUT","name":"halo.txt","offset":0,"last":true,"data":"aGFsbyBkdW5pYQo="}
//! {"command":"DELETE","name":"halo.txt"}
//!
//! {"status":"OK","command":"LIST","files":[{"name":"halo.txt","size":11,...}]}
//! {"status":"ERROR","message":"file not found: \"x.txt\""}
//! ```
//!
//! No message may exceed 4 MiB ([`common::fileproto::MAX_MESSAGE`]), so a
//! big file moves in pieces of at most 2 MiB: `PUT`s with growing `offset`
//! (the last says `"last":true`, and only then is the file renamed into
//! place), or `GET`s of byte ranges. Memory stays a few MiB per connection
//! whatever the file size.
//!
//! # Running
//!
//! ```text
//! cargo run -p tugas4 --bin server -- --dir tugas4/files
//! cargo run -p tugas4 --bin list
//! cargo run -p tugas4 --bin put -- tugas4/README.md
//! cargo run -p tugas4 --bin get -- README.md            # saved as downloads/README.md
//! cargo run -p tugas4 --bin delete -- README.md
//! cargo run -p tugas4 --release --bin bench             # 1 GiB put/get, MB/s, peak memory
//! ```
//!
//! # Modules
//!
//! - [`server`]: the connection loop and the four operations.
//! - [`client`]: [`Client`], one connection, requests in flight.
//! - [`programs`]: flags and bodies of the `server`, `list`, `get`, `put`
//!   and `delete` programs.
//! - [`bench`](mod@bench): the benchmark behind `--bin bench`.
//! - [`check`]: the grader's check behind `--bin check`.
//! - [`wire`]: the fast paths for messages that carry file data (SIMD
//!   base64, no JSON walk over the data).

pub mod bench;
pub mod check;
pub mod client;
pub mod inbox;
pub mod programs;
pub mod server;
mod sys;
pub mod wire;

pub use client::{Client, ClientError};
use std::path::PathBuf;
use std::time::Duration;

use common::cli::{CliError, Matches};

pub use server::{handle_connection, run_server, start_server};

/// The server's default port (the course's own).
pub const DEFAULT_PORT: u16 = 6666;

/// [`DEFAULT_PORT`] as the flag tables show it.
pub const DEFAULT_PORT_FLAG: &str = "6666";

/// The server's default bind address: every address of the machine.
pub const DEFAULT_HOST: &str = "0.0.0.0";

/// The folder served by default.
pub const DEFAULT_DIR: &str = "files";

/// A connection silent this long is closed, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes that all connections together may hold in buffers (messages
/// being received, file pieces, answers being sent), by default: 16 MiB,
/// so that even 4000 connections holding unfinished messages keep the
/// server under 64 MiB (each thread costs about 10 KiB more).
pub const DEFAULT_MAX_BUFFERED: usize = 16 * 1024 * 1024;

/// The server's settings, from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to bind (`--host`).
    pub host: String,
    /// Port to listen on (`--port`).
    pub port: u16,
    /// The folder whose files are served (`--dir`).
    pub dir: PathBuf,
    /// How long a connection may stay silent between messages, and how
    /// long one whole message may take to arrive (`--timeout`).
    pub timeout: Duration,
    /// Bytes all connections together may hold in buffers
    /// (`--max-buffered`, in MiB): a message that would pass it is
    /// refused with `ERROR` and its connection closed.
    pub max_buffered: usize,
}

impl Config {
    /// The defaults ([`DEFAULT_HOST`], [`DEFAULT_PORT`], [`DEFAULT_TIMEOUT`])
    /// for serving `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Config {
        Config {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            dir: dir.into(),
            timeout: DEFAULT_TIMEOUT,
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }

    /// The settings of a parsed `server` command line.
    ///
    /// # Errors
    /// A bad `--port`, `--timeout` or `--max-buffered`.
    pub fn from_matches(m: &Matches) -> Result<Config, CliError> {
        let mib: usize = m.parse("max-buffered")?;
        Ok(Config {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            dir: PathBuf::from(m.value("dir")),
            timeout: m.timeout()?,
            max_buffered: mib.saturating_mul(1024 * 1024),
        })
    }
}
