//! The download checks shared by Tugas 1b and 3: recognise how the server
//! wants to be asked for a file, then check that files arrive, then the
//! extras beyond the assignment.
//!
//! # Conventions
//!
//! The course fixes no download protocol, so every student invents one.
//! A request ([`Ask`]) is one of
//!
//! - the bare name without a line end (`contoh.txt`; the course's client
//!   sends that and waits): [`Ask::Bare`];
//! - the bare name and a line end (`contoh.txt\n`): [`Ask::BareLine`];
//! - `GET contoh.txt\n` (ours): [`Ask::Get`];
//!
//! and the answer ([`Framing`]), read off the answer itself, is one of
//!
//! - the raw bytes until the server closes (what most students do):
//!   [`Framing::Raw`];
//! - a size line, then the bytes (`287\n...`): [`Framing::SizeLine`];
//! - `OK <size>\n` and the bytes, or `ERROR <reason>\n` (ours):
//!   [`Framing::OkSize`].
//!
//! [`detect`] tries the requests in an order that cannot harm a later try:
//!
//! 1. the bare name without a line end, on the connection of the
//!    `connect` line (so the server never sees an empty connection, which
//!    a course-style server takes as the empty name `''` and may die of);
//!    a server that reads lines just waits: after [`BARE_WAIT`] the line
//!    end follows on the same connection, so no server sees a cut name;
//! 2. only if that brought no file: `GET <name>\n`, on a fresh connection.
//!    A course-style server takes that whole line for a name it does not
//!    have, and 4 of 9 such servers die of a missing file: so it comes
//!    last. With `--expect-file`, an answer that is not the file (a raw
//!    error text) counts as no file yet; the first answer is kept if
//!    nothing better comes.
//!
//! Our own servers answer the bare name too (raw bytes, then the close),
//! so they are first found that way; at the very end, once the missing
//! file extra showed that the server survives a name it does not have,
//! one `GET` tells whether it also speaks ours, and the convention is
//! then reported as [`OURS`].
//!
//! If nothing is recognised, the file line fails with what was sent and
//! what came back for each try.
//!
//! # Lines
//!
//! [`start`] adds `connect` (required) and runs [`detect`];
//! [`Downloads::file_line`] the requested file (byte for byte with
//! `--expect-file`, else the same non-empty bytes on two downloads);
//! [`Downloads::other_file_line`] another file with known content (Tugas
//! 1b's image); [`Downloads::extras`] the extras: `missing-file`,
//! `malformed-request`, `outside-folder` (traversal: the assignment never
//! asks for a served folder, so it is an extra, but a grader sees it) and
//! `silent-client`. Tugas 3 adds its overlapping downloads with
//! [`Downloads::convention`], [`Convention::request`] and [`receive`].
//!
//! The older helpers of our own protocol ([`get`], [`read_download`],
//! [`expect_refusal`], [`expect_refusal_answer`]) stay for other checks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::outside::Probes;
use super::{difference, secs, show, CheckOptions, Checker, Conn, Failure, Status};
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
        Ok(Download {
            file: m.value("file").to_string(),
            expect: read_expected(m, "expect-file")?,
        })
    }

    /// The expected copy as (path, bytes).
    pub fn expected(&self) -> Option<(&str, &[u8])> {
        self.expect
            .as_ref()
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
    }
}

/// The file named by the flag `flag` (a path), read now; `None` when the
/// flag is empty.
///
/// # Errors
/// An unreadable file: "cannot read --FLAG PATH: ..." (exit 1).
pub fn read_expected(m: &Matches, flag: &str) -> Result<Option<(String, Vec<u8>)>, MainError> {
    match m.value(flag) {
        "" => Ok(None),
        path => {
            let bytes = std::fs::read(path)
                .map_err(|e| AppError::io(format!("cannot read --{flag} {path}"), &e))?;
            Ok(Some((path.to_string(), bytes)))
        }
    }
}

/// Largest file a check downloads (a bigger announced size or a longer
/// raw answer is a failure, not an allocation).
pub const MAX_DOWNLOAD: u64 = 256 * 1024 * 1024;

/// How long the bare name without a line end waits for an answer before
/// the check sends the line end (cut at `--timeout`). Our servers take a
/// bare name after 500 ms without a new byte.
pub const BARE_WAIT: Duration = Duration::from_millis(1500);

/// How long a probe whose answer does not matter much (a traversal name,
/// a malformed request) waits for it, and an answer of raw bytes for its
/// next bytes (cut at `--timeout`).
pub const PROBE_WAIT: Duration = Duration::from_millis(1500);

/// Once an answer of raw bytes reached the expected length and the
/// server does not close, how long the check waits for more.
pub const SETTLE: Duration = Duration::from_millis(300);

/// Longest size line the check looks for (`OK 268435456`).
const HEAD: usize = 64;

/// The malformed request of the `malformed-request` extra: no text, no
/// file name (a server that decodes it as UTF-8 without care dies).
pub const MALFORMED: &[u8] = b"\xff\xfe\x00\x01 bukan nama file \x7f\n";

/// The convention name of this workspace's own protocol.
pub const OURS: &str = "ours: 'GET <name>\\n', answered 'OK <size>\\n' and the bytes, \
or 'ERROR <reason>\\n'";

/// How a client asks for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// The bare name without a line end (`contoh.txt`); the client waits.
    Bare,
    /// The bare name and a line end (`contoh.txt\n`).
    BareLine,
    /// `GET contoh.txt\n` (ours).
    Get,
}

/// How a server sends the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The raw bytes, then the close.
    Raw,
    /// A line with the size (`287\n`), then exactly that many bytes.
    SizeLine,
    /// `OK <size>\n` and exactly that many bytes, or `ERROR <reason>\n`.
    OkSize,
}

impl Framing {
    fn describe(self) -> &'static str {
        match self {
            Framing::Raw => "the raw bytes",
            Framing::SizeLine => "a size line ('<size>\\n') and then the bytes",
            Framing::OkSize => "'OK <size>\\n' and the bytes",
        }
    }
}

/// A download convention: how to ask, how the answer comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Convention {
    /// How the name is sent.
    pub ask: Ask,
    /// How the file comes back.
    pub framing: Framing,
    /// Whether the server closed after raw bytes (else the check stops
    /// at the expected size, or after `--timeout` without a new byte).
    pub closes: bool,
}

impl Convention {
    /// This workspace's own protocol.
    pub const OURS: Convention = Convention {
        ask: Ask::Get,
        framing: Framing::OkSize,
        closes: false,
    };

    /// Whether this is [`Convention::OURS`].
    pub fn is_ours(&self) -> bool {
        self.ask == Ask::Get && self.framing == Framing::OkSize
    }

    /// The request for `name`.
    pub fn request(&self, name: &str) -> Vec<u8> {
        match self.ask {
            Ask::Bare => name.as_bytes().to_vec(),
            Ask::BareLine => format!("{name}\n").into_bytes(),
            Ask::Get => format!("GET {name}\n").into_bytes(),
        }
    }

    /// Half a request for `name` (its first half with no line end), where
    /// one exists: a bare name with no line end is whole at any length.
    pub fn half_request(&self, name: &str) -> Option<Vec<u8>> {
        match self.ask {
            Ask::Bare => None,
            Ask::BareLine => Some(name.as_bytes()[..name.len() / 2].to_vec()),
            Ask::Get => Some(b"GET ".to_vec()),
        }
    }

    /// The convention in words, for `convention: ...`.
    pub fn name(&self) -> String {
        if self.is_ours() {
            return OURS.to_string();
        }
        let ask = match self.ask {
            Ask::Bare => "the bare name without a line end (the client then waits)",
            Ask::BareLine => "the bare name and '\\n'",
            Ask::Get => "'GET <name>\\n'",
        };
        let answer = match (self.framing, self.closes) {
            (Framing::Raw, true) => "answered with the raw bytes until the server closes",
            (Framing::Raw, false) => {
                "answered with the raw bytes, the connection left open (a client reading \
                 until the close would wait)"
            }
            (Framing::SizeLine, _) => "answered with a size line ('<size>\\n') and then the bytes",
            (Framing::OkSize, _) => "answered 'OK <size>\\n' and the bytes",
        };
        format!("{ask}, {answer}")
    }
}

/// One answer, as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Nothing within the wait; the connection is still open.
    Nothing,
    /// The server closed (or reset) the connection without a byte.
    Closed,
    /// An `ERROR ...` line.
    Error(String),
    /// A file, as framed; `closed`: the server closed after it.
    File {
        /// How it was framed.
        framing: Framing,
        /// Its bytes (without a size line).
        bytes: Vec<u8>,
        /// Whether the server closed after the bytes.
        closed: bool,
    },
    /// A size line, then fewer bytes than it announced (or more).
    Short {
        /// How it was framed.
        framing: Framing,
        /// The bytes that came after the size line.
        bytes: Vec<u8>,
        /// What was wrong, with the transcript.
        failure: Failure,
    },
}

/// What one read brought.
enum Got {
    Nothing,
    Closed,
    Data(Vec<u8>),
}

fn recv(conn: &mut Conn, cap: usize, wait: Duration, what: &str) -> Result<Got, Failure> {
    match conn.recv_some(cap, wait, what) {
        Ok(None) => Ok(Got::Nothing),
        Ok(Some(b)) if b.is_empty() => Ok(Got::Closed),
        Ok(Some(b)) => Ok(Got::Data(b)),
        // A reset is how many servers close when bytes were left unread.
        Err(f) if f.reason.contains("connection reset") => Ok(Got::Closed),
        Err(f) => Err(f),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    Closed,
    Stalled,
}

/// What the first bytes of an answer say it is.
enum Head {
    Error,
    Sized(Framing, u64, usize),
    Raw,
}

fn digits(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_digit)
}

/// Whether `p`, the first bytes of an answer with no line end yet, can
/// still become a size line or an `ERROR` line.
fn could_be_head(p: &[u8]) -> bool {
    let p = p.strip_suffix(b"\r").unwrap_or(p);
    b"ERROR".starts_with(p)
        || b"OK ".starts_with(p)
        || (p.starts_with(b"OK ") && digits(&p[3..]))
        || digits(p)
}

fn head_decided(buf: &[u8]) -> bool {
    buf.iter().take(HEAD).any(|&b| b == b'\n')
        || buf.len() >= HEAD
        || buf.starts_with(b"ERROR")
        || !could_be_head(buf)
}

fn head(buf: &[u8]) -> Head {
    if buf.starts_with(b"ERROR") {
        return Head::Error;
    }
    let Some(i) = buf.iter().take(HEAD).position(|&b| b == b'\n') else {
        return Head::Raw;
    };
    let line = &buf[..i];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let number = |s: &[u8]| -> Option<u64> {
        if s.is_empty() || s.len() > 19 || !digits(s) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    if let Some(n) = line.strip_prefix(b"OK ").and_then(number) {
        return Head::Sized(Framing::OkSize, n, i + 1);
    }
    match number(line) {
        Some(n) => Head::Sized(Framing::SizeLine, n, i + 1),
        None => Head::Raw,
    }
}

/// Reads one answer to a request already sent, whatever its framing:
/// waits `first_wait` for its first byte and `stall` for each later one.
/// `hint`: the framing the convention found; [`Framing::Raw`] takes the
/// bytes as they are, the others require their size line (or `ERROR`).
/// `want_len`: the expected size of raw bytes, so that a server that does
/// not close is not waited for longer than [`SETTLE`], and one that sends
/// more is not read past [`OVERRUN`] bytes more ([`Reply::Short`]).
///
/// # Errors
/// A failed connection, more than [`MAX_DOWNLOAD`] raw bytes, or (with
/// a `hint` other than raw) an answer in another framing.
pub fn read_reply(
    conn: &mut Conn,
    hint: Option<Framing>,
    first_wait: Duration,
    stall: Duration,
    want_len: Option<usize>,
    what: &str,
) -> Result<Reply, Failure> {
    read_reply_capped(
        conn,
        hint,
        first_wait,
        stall,
        want_len,
        MAX_DOWNLOAD as usize,
        what,
    )
}

/// Raw bytes read past the expected size before the check stops reading.
pub const OVERRUN: usize = 64 * 1024;

/// Raw bytes a probe reads at most (a traversal name, a missing file).
pub const PROBE_CAP: usize = 1024 * 1024;

/// [`read_reply`] reading at most `cap` raw bytes when no size is expected.
///
/// # Errors
/// As [`read_reply`]; more than `cap` raw bytes.
pub fn read_reply_capped(
    conn: &mut Conn,
    hint: Option<Framing>,
    first_wait: Duration,
    stall: Duration,
    want_len: Option<usize>,
    cap: usize,
    what: &str,
) -> Result<Reply, Failure> {
    const CHUNK: usize = 64 * 1024;
    let mut buf = match recv(conn, CHUNK, first_wait, what)? {
        Got::Nothing => return Ok(Reply::Nothing),
        Got::Closed => return Ok(Reply::Closed),
        Got::Data(b) => b,
    };
    let mut end = End::Open;
    let more = |conn: &mut Conn, buf: &mut Vec<u8>, end: &mut End, cap: usize, wait| {
        match recv(conn, cap, wait, what)? {
            Got::Data(b) => buf.extend_from_slice(&b),
            Got::Closed => *end = End::Closed,
            Got::Nothing => *end = End::Stalled,
        }
        Ok::<(), Failure>(())
    };
    if hint != Some(Framing::Raw) {
        while end == End::Open && !head_decided(&buf) {
            more(conn, &mut buf, &mut end, CHUNK, stall)?;
        }
        match head(&buf) {
            Head::Error => {
                while end == End::Open && !buf.contains(&b'\n') && buf.len() <= MAX_HEADER {
                    more(conn, &mut buf, &mut end, MAX_HEADER, stall)?;
                }
                let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
                let line = String::from_utf8_lossy(line);
                return Ok(Reply::Error(
                    crate::framing::shorten(line.trim_end()).to_string(),
                ));
            }
            Head::Sized(framing, size, len) => {
                if hint.is_some_and(|h| h != framing) {
                    return Err(conn.fail(format!(
                        "expected {} for {what}, got {}",
                        hint.unwrap_or(framing).describe(),
                        framing.describe()
                    )));
                }
                let body = buf.split_off(len);
                return sized(conn, body, framing, size, end, stall, what);
            }
            Head::Raw => {
                if let Some(h) = hint {
                    return Err(conn.fail(format!(
                        "expected {} for {what}, got other bytes",
                        h.describe()
                    )));
                }
            }
        }
    }
    while end == End::Open {
        if let Some(n) = want_len.filter(|&n| buf.len() > n + OVERRUN) {
            let failure = conn.fail(format!(
                "the server sent more than the {n} bytes of {what} and kept sending (the check \
                 stopped reading after {})",
                buf.len()
            ));
            return Ok(Reply::Short {
                framing: Framing::Raw,
                bytes: buf,
                failure,
            });
        }
        if buf.len() > cap {
            return Err(conn.fail(format!(
                "more than {cap} bytes of {what}: the server keeps sending"
            )));
        }
        let wait = match want_len {
            Some(n) if buf.len() >= n => SETTLE.min(stall),
            _ => stall,
        };
        more(conn, &mut buf, &mut end, CHUNK, wait)?;
    }
    Ok(Reply::File {
        framing: Framing::Raw,
        bytes: buf,
        closed: end == End::Closed,
    })
}

/// The bytes after a size line: exactly `size` of them.
fn sized(
    conn: &mut Conn,
    mut body: Vec<u8>,
    framing: Framing,
    size: u64,
    mut end: End,
    stall: Duration,
    what: &str,
) -> Result<Reply, Failure> {
    if size > MAX_DOWNLOAD {
        return Err(conn.fail(format!(
            "the announced size {size} is over the checker's limit of {MAX_DOWNLOAD} bytes"
        )));
    }
    let size = size as usize;
    let short = |conn: &Conn, body: Vec<u8>, reason: String| Reply::Short {
        framing,
        bytes: body,
        failure: conn.fail(reason),
    };
    while body.len() < size {
        match end {
            End::Closed => {
                let reason = format!(
                    "the server closed the connection after {} of {size} bytes of {what}",
                    body.len()
                );
                return Ok(short(conn, body, reason));
            }
            End::Stalled => {
                let reason = format!(
                    "timed out after {} waiting for the rest of {what} (got {} of {size} bytes)",
                    secs(stall),
                    body.len()
                );
                return Ok(short(conn, body, reason));
            }
            End::Open => {}
        }
        let cap = (size - body.len()).min(64 * 1024);
        match recv(conn, cap, stall, what)? {
            Got::Data(b) => body.extend_from_slice(&b),
            Got::Closed => end = End::Closed,
            Got::Nothing => end = End::Stalled,
        }
    }
    if body.len() > size {
        let reason = format!(
            "the server sent {} bytes more than the announced size {size} of {what}",
            body.len() - size
        );
        return Ok(short(conn, body, reason));
    }
    Ok(Reply::File {
        framing,
        bytes: body,
        closed: end == End::Closed,
    })
}

/// Reads the answer to a request for `name` sent in `conv` and returns the
/// file's bytes.
///
/// # Errors
/// A refusal, a close or a timeout before the file, a short file, or the
/// answer in another framing than `conv`'s.
pub fn receive(
    conn: &mut Conn,
    conv: &Convention,
    timeout: Duration,
    want_len: Option<usize>,
    name: &str,
) -> Result<Vec<u8>, Failure> {
    match read_reply(conn, Some(conv.framing), timeout, timeout, want_len, name)? {
        Reply::File { bytes, .. } => Ok(bytes),
        Reply::Short { failure, .. } => Err(failure),
        Reply::Nothing => Err(conn.fail(format!(
            "timed out after {} waiting for {name}",
            secs(timeout)
        ))),
        Reply::Closed => Err(conn.fail(format!(
            "the server closed the connection without sending {name}"
        ))),
        Reply::Error(line) => Err(conn.fail(format!("the server refused {name}: {line:?}"))),
    }
}

/// Downloads `name` in `conv` on a fresh connection.
///
/// # Errors
/// As [`receive`], or the connection or request failing.
pub fn download(
    o: &CheckOptions,
    conv: &Convention,
    name: &str,
    want_len: Option<usize>,
) -> Result<Vec<u8>, Failure> {
    let mut conn = o.connect()?;
    conn.send(&conv.request(name), "the request")?;
    receive(&mut conn, conv, o.timeout, want_len, name)
}

/// What [`detect`] found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The convention.
    pub convention: Convention,
    /// The first download of the file: its bytes, or why it failed (a
    /// size line and too few bytes).
    pub first: Result<Vec<u8>, Failure>,
}

/// Recognises the convention of the server by asking for `name` (see the
/// module doc for the order), on `first` (the `connect` line's
/// connection) if given. `expect`: the file's content, if known.
///
/// # Errors
/// Nothing recognised: the reason lists each try, what was sent and what
/// came back.
pub fn detect(
    o: &CheckOptions,
    first: Option<Conn>,
    name: &str,
    expect: Option<&[u8]>,
) -> Result<Found, Failure> {
    let want_len = expect.map(<[u8]>::len);
    let mut tried: Vec<String> = Vec::new();
    let mut candidate: Option<Found> = None;
    // What the try brought: a convention and the file, or how it ended.
    let judge = |ask: Ask, reply: Reply| -> Result<Found, String> {
        match reply {
            Reply::File {
                framing,
                bytes,
                closed,
            } => Ok(Found {
                convention: Convention {
                    ask,
                    framing,
                    closes: closed || framing != Framing::Raw,
                },
                first: Ok(bytes),
            }),
            Reply::Short {
                framing, failure, ..
            } => Ok(Found {
                convention: Convention {
                    ask,
                    framing,
                    closes: true,
                },
                first: Err(failure),
            }),
            Reply::Nothing => Err("no answer".into()),
            Reply::Closed => Err("the server closed the connection without an answer".into()),
            Reply::Error(line) => Err(format!("the server answered {line:?}")),
        }
    };
    let exact = |f: &Found| match (&f.first, expect) {
        (Ok(bytes), Some(want)) => bytes == want,
        (Ok(bytes), None) => !bytes.is_empty(),
        (Err(_), _) => false,
    };

    // 1. The bare name, then (if nothing came) the line end.
    let mut conn = match first {
        Some(c) => c,
        // Nothing could connect: the server is not there.
        None => o.connect()?,
    };
    let (ask, reply) = ask_bare(o, &mut conn, name, want_len);
    let bare_wait = secs(BARE_WAIT.min(o.timeout));
    match reply.map(|reply| judge(ask, reply)) {
        Ok(Ok(found)) if exact(&found) => return Ok(found),
        Ok(Ok(found)) => {
            tried.push(format!(
                "{}: not the file",
                transcript(&conn, "the bare name")
            ));
            candidate = Some(found);
        }
        Ok(Err(how)) => {
            let how = if how == "no answer" {
                format!(
                    "no answer, neither {bare_wait} after the name nor {} after the line end",
                    secs(o.timeout)
                )
            } else {
                how
            };
            tried.push(format!("{}: {how}", transcript(&conn, "the bare name")));
        }
        Err(f) => tried.push(format!("the bare name: {f}")),
    }
    drop(conn);

    // 2. `GET <name>\n`, on a fresh connection.
    let get = (|| -> Result<(Reply, Conn), Failure> {
        let mut conn = o.connect()?;
        conn.send(format!("GET {name}\n").as_bytes(), "the request")?;
        let reply = read_reply(&mut conn, None, o.timeout, o.timeout, want_len, name)?;
        Ok((reply, conn))
    })();
    match get {
        Ok((reply, conn)) => match judge(Ask::Get, reply) {
            Ok(found) if exact(&found) => return Ok(found),
            Ok(found) => {
                tried.push(format!("{}: not the file", transcript(&conn, "GET")));
                candidate.get_or_insert(found);
            }
            Err(how) => {
                let how = if how == "no answer" {
                    format!("no answer within {}", secs(o.timeout))
                } else {
                    how
                };
                tried.push(format!("{}: {how}", transcript(&conn, "GET")));
            }
        },
        Err(f) => tried.push(format!("GET: {f}")),
    }
    candidate.ok_or_else(|| {
        Failure::new(format!(
            "no download convention recognised (the bare name with and without a line end, \
             then 'GET <name>\\n'); {}",
            tried.join("; ")
        ))
    })
}

/// Sends the bare `name` on `conn` and reads the answer; if nothing came
/// within [`BARE_WAIT`], sends the line end and reads again. Returns how
/// it asked in the end and what came.
fn ask_bare(
    o: &CheckOptions,
    conn: &mut Conn,
    name: &str,
    want_len: Option<usize>,
) -> (Ask, Result<Reply, Failure>) {
    let bare = conn
        .send(name.as_bytes(), "the bare file name")
        .and_then(|()| {
            read_reply(
                conn,
                None,
                BARE_WAIT.min(o.timeout),
                o.timeout,
                want_len,
                name,
            )
        });
    match bare {
        Ok(Reply::Nothing) => {}
        other => return (Ask::Bare, other),
    }
    let line = conn
        .send(b"\n", "the line end")
        .and_then(|()| read_reply(conn, None, o.timeout, o.timeout, want_len, name));
    (Ask::BareLine, line)
}

/// A connection for an extra: a refusal then says that the server
/// stopped in an earlier step (it was reached before).
fn connect_again(o: &CheckOptions) -> Result<Conn, Failure> {
    o.connect().map_err(|mut f| {
        if f.reason.contains("connection refused") {
            f.reason = format!(
                "{}: the server stopped accepting connections after an earlier step",
                f.reason
            );
        }
        f
    })
}

/// `bytes` for a report ([`show`]).
fn shown(bytes: &[u8]) -> String {
    show(bytes, bytes.len() as u64)
}

/// "sent X, got Y" of a connection, for a detection failure.
fn transcript(conn: &Conn, what: &str) -> String {
    let f = conn.fail("");
    format!(
        "{what}: sent {}, got {}",
        f.sent.unwrap_or_else(|| "nothing".into()),
        f.got.unwrap_or_else(|| "nothing".into())
    )
}

/// The state of a download check: what to ask for, what it must contain,
/// the convention found.
#[derive(Debug)]
pub struct Downloads {
    /// The file asked for (`--file`).
    pub file: String,
    /// The grader's path and copy of it (`--expect-file`).
    pub expect: Option<(String, Vec<u8>)>,
    /// What [`detect`] found, or why nothing.
    pub found: Result<Found, Failure>,
    /// The file's bytes later lines compare with: `--expect-file`, else
    /// the first download once a second one agreed ([`Downloads::file_line`]).
    pub reference: Option<Vec<u8>>,
    /// What the server sent for the file first: the extras' "keeps
    /// serving" downloads must get it again (a wrong file fails the file
    /// line, not every extra).
    pub served: Option<Vec<u8>>,
}

/// Adds the `connect` line (required, citing `cite`), then recognises
/// the server's convention on that connection ([`detect`]) and reports it
/// with [`Checker::convention`].
pub fn start(c: &mut Checker, cite: &str, target: &Download) -> Downloads {
    if target.expect.is_none() {
        c.note(format!(
            "no --expect-file: the check can only see that the same bytes of {} arrive twice; \
             give the grader's copy to compare byte for byte",
            target.file
        ));
    }
    let mut first: Option<Conn> = None;
    c.require("connect", "server accepts a TCP connection", cite, |o| {
        first = Some(o.connect()?);
        Ok(())
    });
    let expect = target.expected().map(|(_, b)| b);
    let found = match first {
        Some(conn) => detect(c.options(), Some(conn), &target.file, expect),
        None => Err(Failure::new(
            "not tried: the server does not accept connections (see connect)",
        )),
    };
    match &found {
        Ok(f) => c.convention(f.convention.name()),
        Err(_) => c.note("no download convention recognised: see the file line"),
    }
    let served = found
        .as_ref()
        .ok()
        .and_then(|f| f.first.as_ref().ok())
        .filter(|b| !b.is_empty())
        .cloned();
    Downloads {
        served,
        file: target.file.clone(),
        reference: target.expect.as_ref().map(|(_, b)| b.clone()),
        expect: target.expect.clone(),
        found,
    }
}

impl Downloads {
    /// The convention found, if any.
    pub fn convention(&self) -> Option<Convention> {
        self.found.as_ref().ok().map(|f| f.convention)
    }

    /// The convention, or why a line cannot be tried.
    ///
    /// # Errors
    /// No convention was recognised.
    pub fn need(&self) -> Result<Convention, Failure> {
        self.convention().ok_or_else(|| {
            Failure::new("not tried: no download convention was recognised (see the file line)")
        })
    }

    /// The required line that the requested file arrives: `id`, `kind`
    /// ("text file", "file") for its words, `cite`. With `--expect-file`
    /// the first download must be byte for byte the grader's copy; without
    /// it, non-empty and the same on a second download (which then becomes
    /// [`Downloads::reference`]).
    pub fn file_line(&mut self, c: &mut Checker, id: &str, kind: &str, cite: &str) {
        let file = self.file.clone();
        let text = match &self.expect {
            Some((path, _)) => {
                format!("the requested {kind} {file} arrives byte for byte (as {path})")
            }
            None => {
                format!("the requested {kind} {file} arrives (the same bytes on two downloads)")
            }
        };
        let mut reference = None;
        let found = &self.found;
        let expect = &self.expect;
        c.require(id, text, cite, |o| {
            let found = found.as_ref().map_err(Clone::clone)?;
            let got = found.first.clone()?;
            match expect {
                Some((_, want)) => match difference(want, &got) {
                    None => Ok(()),
                    Some(d) => Err(Failure {
                        reason: format!("{file} {d}"),
                        sent: Some(shown(&found.convention.request(&file))),
                        got: Some(shown(&got)),
                    }),
                },
                None => {
                    if got.is_empty() {
                        return Err(Failure::new(format!("{file} arrived empty")));
                    }
                    let again = download(o, &found.convention, &file, Some(got.len()))?;
                    match difference(&got, &again) {
                        None => {
                            reference = Some(got);
                            Ok(())
                        }
                        Some(d) => Err(Failure::new(format!(
                            "two downloads of {file} differ: the second {d}"
                        ))),
                    }
                }
            }
        });
        if reference.is_some() {
            self.reference = reference;
        }
    }

    /// A required line that another file, `name`, arrives byte for byte as
    /// `want` (Tugas 1b's image); `hint` is added to a failure (where the
    /// expected copy came from).
    #[allow(clippy::too_many_arguments)]
    pub fn other_file_line(
        &self,
        c: &mut Checker,
        id: &str,
        text: String,
        cite: &str,
        name: &str,
        want: &[u8],
        hint: &str,
    ) {
        c.require(id, text, cite, |o| {
            let conv = self.need()?;
            let got = download(o, &conv, name, Some(want.len())).map_err(|mut f| {
                if !hint.is_empty() {
                    f.reason = format!("{} ({hint})", f.reason);
                }
                f
            })?;
            match difference(want, &got) {
                None => Ok(()),
                Some(d) => Err(Failure {
                    reason: if hint.is_empty() {
                        format!("{name} {d}")
                    } else {
                        format!("{name} {d} ({hint})")
                    },
                    sent: Some(shown(&conv.request(name))),
                    got: Some(shown(&got)),
                }),
            }
        });
    }

    /// Downloads the file again and compares it with what the server sent
    /// first (or requires it non-empty); `when` says in a failure what came
    /// before.
    ///
    /// # Errors
    /// The download failing or differing, the reason ending in `(when)`.
    pub fn still_serves(&self, o: &CheckOptions, when: &str) -> Result<(), Failure> {
        let conv = self.need()?;
        let with_when = |mut f: Failure| {
            f.reason = if f.reason.contains("connection refused") {
                format!(
                    "{} ({when}: the server stopped accepting connections)",
                    f.reason
                )
            } else {
                format!("{} ({when})", f.reason)
            };
            f
        };
        let want_len = self.served.as_ref().map(Vec::len);
        let got = download(o, &conv, &self.file, want_len).map_err(with_when)?;
        let wrong = match &self.served {
            Some(want) => difference(want, &got).map(|d| format!("{} {d}", self.file)),
            None => got
                .is_empty()
                .then(|| format!("{} arrived empty", self.file)),
        };
        match wrong {
            None => Ok(()),
            Some(reason) => Err(with_when(Failure::new(reason))),
        }
    }

    /// The extras beyond the assignment, in the detected convention (none
    /// under `--skip-protocol`, kept as a way to leave them out):
    /// `missing-file`, `malformed-request`, `outside-folder`,
    /// `silent-client`; then, if the server survived the missing file,
    /// whether it also speaks [`OURS`].
    pub fn extras(&self, c: &mut Checker) {
        if c.options().skip_protocol {
            c.note("--skip-protocol: the extras (beyond the assignment) are not run");
            return;
        }
        c.extra(
            "missing-file",
            "a file that does not exist gets an answer (an error or a close), and the server \
             keeps serving",
            |o| {
                let conv = self.need()?;
                let name = missing_name();
                let mut conn = connect_again(o)?;
                conn.send(&conv.request(&name), "the request for a missing file")?;
                let stall = PROBE_WAIT.min(o.timeout);
                match read_reply_capped(&mut conn, None, o.timeout, stall, None, PROBE_CAP, &name)?
                {
                    Reply::Nothing => {
                        return Err(conn.fail(format!(
                            "no answer and no close within {}: a client asking for a missing \
                             file waits for ever",
                            secs(o.timeout)
                        )))
                    }
                    Reply::File {
                        framing: Framing::OkSize,
                        ..
                    } if conv.framing == Framing::OkSize => {
                        return Err(conn.fail(
                            "the server answered 'OK <size>' for a file that does not exist",
                        ))
                    }
                    _ => {}
                }
                drop(conn);
                self.still_serves(o, "after the request for a missing file")
            },
        );
        c.extra(
            "malformed-request",
            "a malformed request (bytes that are no file name) does not stop the server",
            |o| {
                self.need()?;
                let mut conn = connect_again(o)?;
                conn.send(MALFORMED, "a malformed request")?;
                let wait = PROBE_WAIT.min(o.timeout);
                let _ =
                    read_reply_capped(&mut conn, None, wait, wait, None, PROBE_CAP, "the answer");
                drop(conn);
                self.still_serves(o, "after a malformed request")
            },
        );
        // Files that exist outside any served folder on Unix and on Windows,
        // and one planted here for a server on this machine (see outside.rs).
        let probes = Probes::new();
        c.note(probes.describe());
        c.extra(
            "outside-folder",
            "names outside the served folder are not served (../, absolute paths)",
            |o| {
                let conv = self.need()?;
                let wait = PROBE_WAIT.min(o.timeout);
                for probe in &probes.list {
                    for name in &probe.names {
                        let mut conn = connect_again(o)?;
                        conn.send(&conv.request(name), "a name outside the folder")?;
                        let reply =
                            read_reply_capped(&mut conn, None, wait, wait, None, PROBE_CAP, name);
                        let bytes: &[u8] = match &reply {
                            Ok(Reply::File { bytes, .. } | Reply::Short { bytes, .. }) => bytes,
                            Ok(Reply::Error(line)) => line.as_bytes(),
                            _ => &[],
                        };
                        if probe.matches(bytes) {
                            return Err(
                                conn.fail(format!("the server sent {} for {name:?}", probe.file))
                            );
                        }
                    }
                }
                Ok(())
            },
        );
        drop(probes);
        c.extra(
            "silent-client",
            "a silent client (and one with half a request) does not block another client's \
             download",
            |o| {
                let conv = self.need()?;
                let _silent = connect_again(o)?;
                let _half = match conv.half_request(&self.file) {
                    Some(half) => {
                        let mut conn = connect_again(o)?;
                        conn.send(&half, "half a request")?;
                        Some(conn)
                    }
                    None => None,
                };
                let when = if _half.is_some() {
                    "while a silent connection and a half-sent request are open"
                } else {
                    "while a silent connection is open"
                };
                self.still_serves(o, when)
            },
        );
        self.recognise_ours(c);
    }

    /// Asks once with `GET` whether a server found in another convention
    /// also speaks ours; only after the `missing-file` extra passed (a
    /// server that takes the whole line for a name survives it then).
    fn recognise_ours(&self, c: &mut Checker) {
        let Some(conv) = self.convention() else {
            return;
        };
        let survived = c
            .report()
            .by_id("missing-file")
            .is_some_and(|o| o.status == Status::Pass);
        if conv.is_ours() || !survived {
            return;
        }
        let o = c.options();
        let want_len = self.served.as_ref().map(Vec::len);
        let ours = download(o, &Convention::OURS, &self.file, want_len);
        let same = match (&ours, &self.served) {
            (Ok(got), Some(want)) => got == want,
            (Ok(got), None) => !got.is_empty(),
            _ => false,
        };
        if same {
            c.note(format!(
                "the lines above asked in the convention found first ({}); one GET at the end \
                 shows that the server speaks ours too",
                conv.name()
            ));
            c.convention(OURS);
        }
    }
}

/// Sends `GET <name>` on `conn` and reads `OK <size>` and exactly that
/// many bytes (our protocol).
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

/// A name no server has: `tidak-ada-<pid>-<time>.txt`.
pub fn missing_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("tidak-ada-{}-{nanos}.txt", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::check::{fake_server, SHORT};
    use std::io::{Read, Write};

    fn reply_to(answer: &'static [u8], hint: Option<Framing>) -> Reply {
        let port = fake_server(move |mut s| {
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
            let _ = s.write_all(answer);
        });
        let mut conn = Conn::connect("127.0.0.1", port, SHORT).unwrap();
        conn.send(b"x", "a byte").unwrap();
        read_reply(&mut conn, hint, SHORT, SHORT, None, "x").unwrap()
    }

    #[test]
    fn answers_are_read_in_their_framing() {
        // A sized answer ends at its size, without waiting for the close.
        let file = |framing, bytes: &[u8]| Reply::File {
            framing,
            bytes: bytes.to_vec(),
            closed: framing == Framing::Raw,
        };
        assert_eq!(reply_to(b"OK 3\nabc", None), file(Framing::OkSize, b"abc"));
        assert_eq!(reply_to(b"3\r\nabc", None), file(Framing::SizeLine, b"abc"));
        assert_eq!(reply_to(b"hello\n", None), file(Framing::Raw, b"hello\n"));
        assert_eq!(reply_to(b"12 ab", None), file(Framing::Raw, b"12 ab"));
        assert_eq!(
            reply_to(b"OK 3\nabc", Some(Framing::Raw)),
            file(Framing::Raw, b"OK 3\nabc")
        );
        assert_eq!(
            reply_to(b"ERROR tidak ada\n", None),
            Reply::Error("ERROR tidak ada".into())
        );
        assert_eq!(reply_to(b"", None), Reply::Closed);
        match reply_to(b"OK 5\nabc", None) {
            Reply::Short { failure, bytes, .. } => {
                assert_eq!(bytes, b"abc");
                assert_eq!(
                    failure.reason,
                    "the server closed the connection after 3 of 5 bytes of x"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conventions_name_and_ask() {
        assert_eq!(Convention::OURS.name(), OURS);
        let bare = Convention {
            ask: Ask::Bare,
            framing: Framing::Raw,
            closes: true,
        };
        assert_eq!(bare.request("a.txt"), b"a.txt");
        assert_eq!(bare.half_request("a.txt"), None);
        assert_eq!(
            bare.name(),
            "the bare name without a line end (the client then waits), answered with the raw \
             bytes until the server closes"
        );
        let line = Convention {
            ask: Ask::BareLine,
            ..bare
        };
        assert_eq!(line.request("a.txt"), b"a.txt\n");
        assert_eq!(line.half_request("abcd"), Some(b"ab".to_vec()));
        assert_eq!(Convention::OURS.request("a"), b"GET a\n");
        assert!(!could_be_head(b"1a"));
        assert!(could_be_head(b"OK 12"));
        assert!(could_be_head(b"ERR"));
    }
}
