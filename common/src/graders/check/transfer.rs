//! Requirements of the download protocol of Tugas 1b and 3 (the `GET` /
//! `OK <size>` / `ERROR` format of [`crate::transfer`], encoded with its
//! [`Request`]), shared by both crates' `check` programs.
//!
//! Everything but "accepts a connection" assumes our protocol and goes
//! through [`Checker::protocol_check`], so `--skip-protocol` leaves a
//! student's own design alone.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{difference, Checker, Conn, Failure};
use crate::cli::{Flag, Matches};
use crate::error::{AppError, MainError};
use crate::transfer::{Request, MAX_HEADER};

/// `--file NAME`: the file a download check asks for.
pub const FILE: Flag = Flag::value(
    "file",
    "NAME",
    "contoh.txt",
    "a file that exists in the server's folder",
);

/// `--expect-file PATH`: the grader's copy of that file.
pub const EXPECT_FILE: Flag = Flag::value(
    "expect-file",
    "PATH",
    "",
    "the grader's copy of that file, to compare byte for byte",
);

/// Which file a download check asks for and, optionally, what it must
/// contain (from [`FILE`] and [`EXPECT_FILE`]).
#[derive(Debug, Clone)]
pub struct Download {
    /// Name of a file in the server's folder.
    pub file: String,
    /// The grader's path and copy of the file.
    pub expect: Option<(String, Vec<u8>)>,
}

impl Download {
    /// `--file` and `--expect-file` (read now, so a wrong path is an error
    /// before any check runs).
    ///
    /// # Errors
    /// An unreadable `--expect-file` (exit 1).
    pub fn from_matches(m: &Matches) -> Result<Download, MainError> {
        let expect = match m.value("expect-file") {
            "" => None,
            path => {
                let bytes = std::fs::read(path)
                    .map_err(|e| AppError::io(format!("cannot read --expect-file {path}"), &e))?;
                Some((path.to_string(), bytes))
            }
        };
        Ok(Download {
            file: m.value("file").to_string(),
            expect,
        })
    }

    /// The expected copy as (path, bytes), for [`download_checks`].
    pub fn expected(&self) -> Option<(&str, &[u8])> {
        self.expect
            .as_ref()
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
    }
}

/// The note a download check prints first: which protocol it assumes.
pub const PROTOCOL_NOTE: &str = "assumes this workspace's download protocol: the client sends \
'GET <name>\\n', the server answers 'OK <size>\\n' and the bytes, or 'ERROR <reason>\\n' \
(--skip-protocol skips those checks)";

/// Largest file a check downloads (a bigger announced size is a failure,
/// not an allocation).
pub const MAX_DOWNLOAD: u64 = 256 * 1024 * 1024;

/// Sends `GET <name>` on `conn` and reads `OK <size>` and exactly that
/// many bytes.
///
/// # Errors
/// An `ERROR` answer, a malformed status line, a size over
/// [`MAX_DOWNLOAD`], a close before the last byte, or a timeout.
pub fn get(conn: &mut Conn, name: &str) -> Result<Vec<u8>, Failure> {
    let mut request = Vec::new();
    Request::Get { name: name.into() }
        .write_to(&mut request)
        .map_err(|e| conn.fail(format!("cannot ask for {name:?}: {e}")))?;
    conn.send(&request, "the request")?;
    read_download(conn, name)
}

/// Reads the answer to `GET <name>`: `OK <size>` and exactly that many bytes.
///
/// # Errors
/// As [`get`].
pub fn read_download(conn: &mut Conn, name: &str) -> Result<Vec<u8>, Failure> {
    let what = format!("the 'OK <size>' line for {name}");
    let line = conn.recv_line(MAX_HEADER, &what)?;
    let Some(size) = line.strip_prefix("OK ") else {
        return Err(conn.fail(format!(
            "expected 'OK <size>' for an existing file, got {:?}",
            crate::framing::shorten(&line)
        )));
    };
    let size: u64 = size
        .trim()
        .parse()
        .map_err(|_| conn.fail(format!("'OK {size}': the size is not a number")))?;
    if size > MAX_DOWNLOAD {
        return Err(conn.fail(format!(
            "the announced size {size} is over the checker's limit of {MAX_DOWNLOAD} bytes"
        )));
    }
    conn.recv_exact(size as usize, name)
}

/// Sends `request` and requires a refusal: an `ERROR ...` line, or (when
/// `close_ok`) the server closing or resetting without an answer. An `OK`
/// is a failure.
///
/// # Errors
/// An `OK`, anything else than `ERROR`, or a timeout.
pub fn expect_refusal(conn: &mut Conn, request: &[u8], close_ok: bool) -> Result<(), Failure> {
    conn.send(request, "the request")?;
    expect_refusal_answer(conn, close_ok)
}

/// Reads the answer to something the server must refuse: an `ERROR ...`
/// line, or (when `close_ok`) a close or reset without an answer.
///
/// # Errors
/// An `OK`, anything else than `ERROR`, or a timeout.
pub fn expect_refusal_answer(conn: &mut Conn, close_ok: bool) -> Result<(), Failure> {
    match conn.recv_line(MAX_HEADER, "the 'ERROR <reason>' line") {
        Ok(line) if line.starts_with("ERROR") => Ok(()),
        Ok(line) if line.starts_with("OK") => Err(conn.fail(format!(
            "the server answered {:?} instead of refusing",
            crate::framing::shorten(&line)
        ))),
        Ok(line) => Err(conn.fail(format!(
            "expected 'ERROR <reason>', got {:?}",
            crate::framing::shorten(&line)
        ))),
        Err(f)
            if close_ok
                && (f.reason.contains("closed the connection without sending")
                    || f.reason.contains("connection reset")) =>
        {
            Ok(())
        }
        Err(f) => Err(f),
    }
}

/// A name no server has: `tidak-ada-<time>.txt`.
pub fn missing_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("tidak-ada-{}-{nanos}.txt", std::process::id())
}

/// The requirements of Tugas 1b, in order of importance: [`fetch_checks`]
/// then [`refusal_checks`]. `file` must exist on the server.
pub fn download_checks(c: &mut Checker, file: &str, expect: Option<(&str, &[u8])>) {
    fetch_checks(c, file, expect);
    refusal_checks(c, file);
}

/// Notes the protocol, then: the server accepts a connection; `GET <file>`
/// answers `OK <size>` and the whole file; with `expect` (the grader's
/// path and copy), the bytes are the same.
pub fn fetch_checks(c: &mut Checker, file: &str, expect: Option<(&str, &[u8])>) {
    c.note(PROTOCOL_NOTE);
    c.check("server accepts a TCP connection", |o| o.connect().map(drop));
    c.protocol_check(
        format!("GET {file} answers 'OK <size>' and the whole file"),
        |o| get(&mut o.connect()?, file).map(drop),
    );
    if let Some((path, want)) = expect {
        c.protocol_check(format!("{file} arrives byte for byte as {path}"), |o| {
            let mut conn = o.connect()?;
            let got = get(&mut conn, file)?;
            match difference(want, &got) {
                None => Ok(()),
                Some(d) => Err(conn.fail(format!("the file {d}"))),
            }
        });
    }
}

/// A missing file gets `ERROR`; names outside the served folder are
/// refused (the [`super::outside`] probes, listed in a note); a malformed request is refused and the server keeps serving
/// (`file` is downloaded again to see that).
pub fn refusal_checks(c: &mut Checker, file: &str) {
    c.protocol_check("a file that does not exist gives ERROR", |o| {
        let name = missing_name();
        expect_refusal(&mut o.connect()?, format!("GET {name}\n").as_bytes(), false)
    });
    // Files that exist outside any served folder on Unix and on Windows,
    // and one planted here for a server on this machine (see outside.rs).
    let probes = super::outside::Probes::new();
    c.note(probes.describe());
    c.protocol_check(
        "names outside the served folder are refused (../, /etc/passwd)",
        |o| {
            for name in probes.list.iter().flat_map(|p| &p.names) {
                expect_refusal(&mut o.connect()?, format!("GET {name}\n").as_bytes(), true)?;
            }
            Ok(())
        },
    );
    c.protocol_check(
        "a malformed request gets ERROR or a close, and the server keeps serving",
        |o| {
            let mut conn = o.connect()?;
            expect_refusal(&mut conn, b"HELLO \x01\xff garbage\n", true)?;
            get(&mut o.connect()?, file).map(drop)
        },
    );
}
