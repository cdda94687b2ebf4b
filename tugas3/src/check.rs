//! The grader's check for Tugas 3: tests any threaded file server (Python,
//! Java, ours, ...) against the assignment: downloads at the same time.
//!
//! ```text
//! cargo run -p tugas3 --bin check                                   # 127.0.0.1:31300, contoh.txt
//! cargo run -p tugas3 --bin check -- --file besar.txt --expect-file tugas3/files/besar.txt
//! ```
//!
//! `--file NAME` is a file that must exist in the server's folder
//! (default `contoh.txt`), `--expect-file PATH` the grader's own copy to
//! compare byte for byte, `--clients N` how many downloads run at once.
//! Requirements, in order of importance:
//!
//! 1. the server accepts a TCP connection;
//!
//! and, assuming this workspace's format (the same as Tugas 1b: `GET
//! <name>\n`, answered by `OK <size>\n` and the bytes, or `ERROR
//! <reason>\n`; `--skip-protocol` skips these):
//!
//! 2. `GET <file>` answers `OK <size>` and the whole file;
//! 3. with `--expect-file`, the file arrives byte for byte;
//! 4. N downloads at the same time all complete, all N connections open
//!    together (a server that serves one connection at a time fails);
//! 5. a silent connection (and one that sent half a request) does not
//!    block another client's download;
//! 6. a file that does not exist gives `ERROR`;
//! 7. names outside the served folder are refused (`../`, `/etc/passwd`);
//! 8. a malformed request gets `ERROR` or a close, and the server keeps
//!    serving.

use std::thread;

use common::check::transfer::{self, get, read_download};
use common::check::{self, difference, Checker, Conn, Failure};
use common::cli::{Command, Flag, Matches};
use common::error::MainError;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 3 grader's check: tests a threaded file server (any language).",
    args: "",
    flags: &[
        check::host(),
        check::port("31300"),
        transfer::FILE,
        transfer::EXPECT_FILE,
        Flag::value("clients", "N", "8", "downloads at the same time"),
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
    ],
};

/// Which file to ask for, what it must contain, and how many at once.
#[derive(Debug, Clone)]
pub struct Target {
    /// Name of a file in the server's folder.
    pub file: String,
    /// The grader's path and copy of the file.
    pub expect: Option<(String, Vec<u8>)>,
    /// Downloads at the same time.
    pub clients: usize,
}

impl Target {
    /// `--file`, `--expect-file` (read now) and `--clients`.
    ///
    /// # Errors
    /// An unreadable `--expect-file` (exit 1), a bad `--clients` (exit 2).
    pub fn from_matches(m: &Matches) -> Result<Target, MainError> {
        let download = transfer::Download::from_matches(m)?;
        let clients: usize = m.parse("clients")?;
        if !(1..=1000).contains(&clients) {
            return Err(common::cli::CliError::Usage(format!(
                "invalid value '{clients}' for --clients: expected 1 to 1000"
            ))
            .into());
        }
        Ok(Target {
            file: download.file,
            expect: download.expect,
            clients,
        })
    }
}

/// Runs every Tugas 3 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker, target: &Target) {
    let file = target.file.as_str();
    let expect = target
        .expect
        .as_ref()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()));
    transfer::fetch_checks(c, file, expect);
    let n = target.clients;
    c.protocol_check(
        format!("{n} downloads at the same time all complete (all {n} connections open together)"),
        |o| {
            let reference = match expect {
                Some((_, bytes)) => bytes.to_vec(),
                None => get(&mut o.connect()?, file)?,
            };
            let mut conns = Vec::with_capacity(n);
            for _ in 0..n {
                let mut conn = o.connect()?;
                conn.send(format!("GET {file}\n").as_bytes(), "the request")?;
                conns.push(conn);
            }
            // Every connection stays open until every download is read.
            let results: Vec<Result<(), Failure>> = thread::scope(|s| {
                let running: Vec<_> = conns
                    .iter_mut()
                    .map(|conn| s.spawn(|| download_same(conn, file, &reference)))
                    .collect();
                running
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(Failure::new("a download thread failed")))
                    })
                    .collect()
            });
            for (i, r) in results.into_iter().enumerate() {
                r.map_err(|mut f| {
                    f.reason = format!("download {} of {n}: {}", i + 1, f.reason);
                    f
                })?;
            }
            Ok(())
        },
    );
    c.protocol_check(
        "a silent connection (and one with half a request) does not block another client's download",
        |o| {
            let _silent = o.connect()?;
            let mut half = o.connect()?;
            half.send(b"GET ", "half a request")?;
            let mut conn = o.connect()?;
            get(&mut conn, file).map(drop).map_err(|mut f| {
                f.reason = format!(
                    "{} (while a silent connection and a half-sent request are open)",
                    f.reason
                );
                f
            })
        },
    );
    transfer::refusal_checks(c, file);
}

/// Reads the answer to a `GET` already sent and compares it with `want`.
fn download_same(conn: &mut Conn, file: &str, want: &[u8]) -> Result<(), Failure> {
    let got = read_download(conn, file)?;
    match difference(want, &got) {
        None => Ok(()),
        Some(d) => Err(conn.fail(format!("the file {d}"))),
    }
}
