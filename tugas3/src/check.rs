//! The grader's check for Tugas 3: tests any threaded file server (Python,
//! Java, ours, ...) against the assignment, downloads at the same time,
//! whatever request format the student chose.
//!
//! ```text
//! cargo run -p tugas3 --bin check                                   # 127.0.0.1:31300, contoh.txt
//! cargo run -p tugas3 --bin check -- --file besar.txt --expect-file tugas3/files/besar.txt
//! ```
//!
//! `--file NAME` is a file that must exist in the server's folder
//! (default `contoh.txt`), `--expect-file PATH` the grader's own copy to
//! compare byte for byte, `--clients N` how many downloads run at once
//! (default 8, at least 2).
//!
//! First the check recognises how the server wants to be asked
//! ([`common::check::transfer`]: the bare name with or without a line
//! end, raw bytes until the close, a size line first, or ours) and says
//! `convention: ...`. Then, required (the assignment's own):
//!
//! 1. `connect`: the server accepts a TCP connection;
//! 2. `file`: the requested file arrives byte for byte (with
//!    `--expect-file`; without it, the same non-empty bytes on two
//!    downloads);
//! 3. `downloads-overlap`: N downloads at the same time all complete and
//!    overlap in time: all N connections are opened first; download 1
//!    stays connected without asking while downloads 2..N are asked and
//!    read at once, and is asked last. A server that serves one
//!    connection at a time cannot answer 2..N while 1 waits, whether it
//!    closes after each file or not.
//!
//! Extras (beyond the assignment, counted apart, graded with `--strict`):
//! `missing-file`, `malformed-request`, `outside-folder` (`../` and
//! absolute names are not served), `silent-client` (a silent connection
//! and one with half a request do not block another's download).
//! `--skip-protocol` leaves the extras out.

use std::thread;

use common::check::transfer::{self, receive, Convention, Downloads};
use common::check::{self, difference, CheckOptions, Checker, Conn, Failure};
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
        Flag::value(
            "clients",
            "N",
            "8",
            "downloads at the same time (2 to 1000)",
        ),
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
        if !(2..=1000).contains(&clients) {
            return Err(common::cli::CliError::Usage(format!(
                "invalid value '{clients}' for --clients: expected 2 to 1000"
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

/// The assignment's sentence (all of Tugas 3).
pub const CITE: &str = "Menambahkan Threading agar program dapat mendownload file bersamaan.";

/// Runs every Tugas 3 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker, target: &Target) {
    let download = transfer::Download {
        file: target.file.clone(),
        expect: target.expect.clone(),
    };
    let mut d = transfer::start(c, CITE, &download);
    d.file_line(c, "file", "file", CITE);
    let n = target.clients;
    c.require(
        "downloads-overlap",
        format!(
            "{n} downloads at the same time all complete and overlap in time (download 1 stays \
             connected, not yet asked, while downloads 2-{n} are served)"
        ),
        CITE,
        |o| overlapping(o, &d, n),
    );
    d.extras(c);
}

/// Opens `n` connections; asks on 2..n at once and reads them on threads
/// while connection 1 waits without asking; then asks on 1.
fn overlapping(o: &CheckOptions, d: &Downloads, n: usize) -> Result<(), Failure> {
    let conv = d.need()?;
    let Some(want) = d.reference.as_deref() else {
        return Err(Failure::new(format!(
            "not tried: {} did not arrive once (see file)",
            d.file
        )));
    };
    let file = d.file.as_str();
    let mut conns = Vec::with_capacity(n);
    for i in 1..=n {
        conns.push(o.connect().map_err(|mut f| {
            f.reason = format!(
                "connection {i} of {n}: {} (the server does not accept {n} connections at once)",
                f.reason
            );
            f
        })?);
    }
    let mut first = conns.remove(0);
    let results: Vec<Result<(), Failure>> = thread::scope(|s| {
        let running: Vec<_> = conns
            .into_iter()
            .map(|mut conn| s.spawn(move || download_same(o, &mut conn, &conv, file, want)))
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
            f.reason = format!(
                "download {} of {n}: {} (download 1 was connected and had not asked yet: a \
                 server that serves one connection at a time cannot answer)",
                i + 2,
                f.reason
            );
            f
        })?;
    }
    download_same(o, &mut first, &conv, file, want).map_err(|mut f| {
        f.reason = format!("download 1 of {n} (asked last): {}", f.reason);
        f
    })
}

/// Asks for `file` on `conn` in `conv` and compares what comes with `want`.
fn download_same(
    o: &CheckOptions,
    conn: &mut Conn,
    conv: &Convention,
    file: &str,
    want: &[u8],
) -> Result<(), Failure> {
    conn.send(&conv.request(file), "the request")?;
    let got = receive(conn, conv, o.timeout, Some(want.len()), file)?;
    match difference(want, &got) {
        None => Ok(()),
        Some(d) => Err(conn.fail(format!("{file} {d}"))),
    }
}
