//! Tugas 3: threads, so that files download at the same time.
//!
//! The server gives every client a thread of its own ([`server`]), so one
//! slow or silent client never holds up the others; a client that stalls
//! is dropped after `--timeout`. The client downloads every file it is
//! given at the same time, one thread and one connection per file
//! ([`client`]), and shows their progress side by side; `--sequential`
//! fetches them one by one for comparison.
//!
//! # Wire format (the codec is [`common::transfer`], the same as Tugas 1b)
//!
//! ```text
//! client -> server   GET <name>\n
//! server -> client   OK <size>\n  then exactly <size> bytes
//!                or  ERROR <reason>\n
//! ```
//!
//! As a connection's first message the server also takes the course's bare
//! name (with or without a line end) and answers with the raw bytes and the
//! close; see [`server::REQUEST_TIME`] and [`server::BARE_NAME_PAUSE`].
//!
//! ```text
//! cargo run -p tugas3 --bin server -- --dir tugas3/files
//! cargo run -p tugas3 --bin client -- contoh.txt gambar.png besar.txt
//! cargo run -p tugas3 --bin client -- --sequential contoh.txt gambar.png besar.txt
//! cargo run -p tugas3 --bin check                 # grader: test any threaded file server
//! ```
//!
//! Modules:
//! - [`server`]: the accept loop, a thread per client, and how those
//!   threads end ([`run_server`], [`handle_connection`]);
//! - [`client`]: a thread per download ([`run_client`]);
//! - [`check`]: the grader's conformance check of any threaded file server.

pub mod check;
pub mod client;
pub mod server;

use std::path::Path;

use common::cli::{self, Command, Flag};

pub use client::{
    live_progress, names_from, prepare_out_dir, run_client, ClientConfig, Outcome, Report,
};
pub use server::{handle_connection, run_server, start_server, Config};

/// The assignment's port (the `--port` default of server and client).
pub const DEFAULT_PORT: u16 = 31300;

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 3 server: serves the files in a folder to many clients at once, a thread each.",
    args: "",
    flags: &[
        cli::host("0.0.0.0"),
        cli::port("31300"),
        Flag::value("dir", "DIR", ".", "folder whose files are served"),
        cli::TIMEOUT,
    ],
};

/// The client's flags.
pub const CLIENT: Command = Command {
    name: "client",
    about:
        "Tugas 3 client: downloads several files at the same time (a thread and a connection each).",
    args: "FILE...",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port("31300"),
        Flag::value("out", "DIR", "downloads", "folder to save the files in"),
        Flag::switch(
            "sequential",
            "download one file after another instead, for comparison",
        ),
        cli::TIMEOUT,
    ],
};

/// The default served folder for tests and benches: this crate's samples.
pub fn sample_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/files"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_defaults_are_the_typed_ones() {
        for cmd in [&SERVER, &CLIENT] {
            let m = cmd.parse(Vec::<String>::new()).unwrap();
            assert_eq!(m.parse::<u16>("port").unwrap(), DEFAULT_PORT);
        }
        let m = CLIENT
            .parse(["--sequential", "a", "b"].map(String::from))
            .unwrap();
        let c = ClientConfig::from_matches(&m).unwrap();
        assert_eq!(c.names, ["a", "b"]);
        assert!(c.sequential);
        assert_eq!(c.out_dir, Path::new("downloads"));
    }
}
