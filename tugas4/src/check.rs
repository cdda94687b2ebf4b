//! The grader's check for Tugas 4: tests a JSON file server (Python,
//! Java, ours, ...) against what the assignment asks, whatever JSON shapes
//! the student chose.
//!
//! ```text
//! cargo run -p tugas4 --bin check                               # 127.0.0.1:6666
//! cargo run -p tugas4 --bin check -- --host 10.0.0.5 --port 6666
//! cargo run -p tugas4 --bin check -- --strict                   # the extras count too
//! ```
//!
//! The assignment lets every student design an own protocol ("Rancanglah
//! sebuah protokol"), in JSON. So the check first finds the convention
//! the server speaks ([`find_dialect`]): it sends a LIST in each candidate
//! shape, each on a fresh connection and bounded in time, and stops at the
//! first that is answered by a JSON object holding a list:
//!
//! 1. framing: one JSON object + `\n` and a half-close (the client shuts
//!    its sending side), which a server reading until a newline, until the
//!    connection's end, or with one `recv` all take, and which ours (and any
//!    server waiting for `\r\n\r\n`) refuses at once; then one JSON object
//!    and `\r\n\r\n` (ours, and the course's chat framing). When the first
//!    works, the same request without the half-close tells a newline
//!    server from one reading until the end;
//! 2. key names: the command under every common key at once
//!    ([`COMMAND_KEYS`]: command, cmd, action, operation, op, request, ...;
//!    a server reading one of them finds it, and none is missing, so no
//!    server dies of a missing key), valued `list`, `LIST` or `ls`; the key
//!    the server reads is then found by giving the others a dummy. A strict
//!    server (ours) that answers an unknown key with a JSON error gets one
//!    key at a time. A file name goes under every name key
//!    ([`NAME_KEYS`]), each with its own name, so the name LIST shows tells
//!    which key the server reads; the content, in base64, under every
//!    content key ([`CONTENT_KEYS`]);
//! 3. answers: `status`/`result`/`success` with ok/OK/success/sukses/true
//!    (or error/gagal/false), the list under files/data/list/file_list/...
//!    or any array, the content under content/data/file_content/isi/file.
//!    An answer is read up to the end of its first JSON object, however it
//!    ends (newline, `\r\n\r\n`, close).
//!
//! A server answering `{"command":"LIST"}` + `\r\n\r\n` with our documented
//! shape (`status` OK, `command` LIST, `files`) is this workspace's
//! protocol (`PROTOCOL.md`) and gets our exact requests. The convention
//! found is printed (`convention: ...`, and in `--json`). If none is
//! recognised, the JSON line fails with what was sent and what came back.
//!
//! The assignment's requirements (they grade; each cites its sentence of
//! ASSIGNMENTS.md), in order:
//!
//! 1. `json`: requests and answers are JSON (a LIST request is answered by
//!    one JSON object);
//! 2. `put`: a PUT of a unique 3000-byte file (every byte value, base64)
//!    is answered as a success and the file is then on the server (LIST
//!    shows it, or GET returns it);
//! 3. `get`: GET returns the file byte for byte;
//! 4. `list`: LIST shows the file (with its size, when sizes are listed).
//!
//! Extras beyond the assignment (reported, counted apart; graded only
//! with `--strict`): a missing file gets an error answer and the server
//! lives on; malformed JSON does not stop the server (ours: it answers
//! `ERROR`); a name outside the folder (`../../../../etc/passwd`,
//! `/etc/passwd`) is refused; and for our protocol only (skipped by
//! `--skip-protocol`): answers end in `\r\n\r\n`, a byte range, DELETE, and
//! the 4 MiB message limit. DELETE of a student's server is tried
//! (delete, hapus, remove, rm) and reported only if it has one.
//!
//! The test file gets a unique name (`check-<pid>-<time>-<key>.bin`) and
//! is deleted at the end when the server has a delete command.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::check::{self, difference, secs, show, CheckOptions, Checker, Conn, Failure};
use common::cli::Command;
use common::error::io_cause;
use common::fileproto::{decode_data, encode_data, DELIMITER, MAX_MESSAGE};
use serde_json::{json, Map, Value};

use crate::DEFAULT_PORT_FLAG;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 4 grader's check: tests a JSON file server (any language, any JSON shapes) against the assignment.",
    args: "",
    flags: &[
        check::host(),
        check::port(DEFAULT_PORT_FLAG),
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
    ],
};

/// The assignment's sentence behind the JSON requirement.
pub const CITE_JSON: &str = "Gunakan format JSON untuk tugas ini";
/// The assignment's bullet behind PUT.
pub const CITE_PUT: &str = "Rancanglah sebuah protokol untuk: Meletakkan file";
/// The assignment's bullet behind GET.
pub const CITE_GET: &str = "Rancanglah sebuah protokol untuk: Mengambil file";
/// The assignment's bullet behind LIST.
pub const CITE_LIST: &str = "Rancanglah sebuah protokol untuk: Melihat list file";

/// Keys students put the command under; a request carries all of them
/// until the one the server reads is found.
pub const COMMAND_KEYS: &[&str] = &[
    "command",
    "cmd",
    "action",
    "operation",
    "op",
    "request",
    "type",
    "perintah",
];
/// Keys students put the file name under (and `file`, see [`FileKey`]).
pub const NAME_KEYS: &[&str] = &["filename", "file_name", "name", "nama", "nama_file"];
/// Keys students put a PUT's base64 content under (and `file`).
pub const CONTENT_KEYS: &[&str] = &["content", "data", "file_content", "isi"];
/// LIST's names, tried in this order.
pub const LIST_VERBS: &[&str] = &["list", "LIST", "ls"];
/// GET's names.
pub const GET_VERBS: &[&str] = &["get", "download", "ambil"];
/// PUT's names.
pub const PUT_VERBS: &[&str] = &["put", "upload", "kirim", "letakkan"];
/// DELETE's names.
pub const DELETE_VERBS: &[&str] = &["delete", "hapus", "remove", "rm"];
/// Keys an answer's status may be under.
const STATUS_KEYS: &[&str] = &["status", "result", "success", "ok", "code"];
/// Keys an answer's list may be under (else: any array in it).
const LIST_KEYS: &[&str] = &["files", "data", "list", "file_list", "result", "isi"];
/// Keys a GET answer's base64 content may be under (at any depth).
const ANSWER_CONTENT_KEYS: &[&str] = &[
    "content",
    "data",
    "file_content",
    "isi",
    "file",
    "file_data",
    "base64",
    "body",
];
/// Keys a listed file's size may be under.
const SIZE_KEYS: &[&str] = &["size", "filesize", "file_size", "ukuran", "bytes", "length"];

/// Size of the test file (every byte value, several base64 lines' worth).
pub const FILE_SIZE: usize = 3000;
/// The byte range of our protocol's range extra.
pub const RANGE: (usize, usize) = (1000, 100);
/// Longest a probe (a request in a shape the server may not speak) waits
/// for its answer; `--timeout` when shorter.
pub const PROBE_WAIT: Duration = Duration::from_secs(2);
/// Longest answer read.
const RESPONSE_CAP: usize = MAX_MESSAGE + 1024;
/// Bytes of an answer kept for a report.
const KEEP: usize = 512;
/// Bytes per write of the oversized message.
const BLOCK: usize = 64 * 1024;
/// The value the other command keys get while the one read is looked for.
const DUMMY: &str = "-";

/// The bytes of the test file: every byte value, no short period.
pub fn test_file() -> Vec<u8> {
    (0..FILE_SIZE).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// A prefix no grader's file has: `check-<pid>-<nanoseconds>`.
pub fn unique_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("check-{}-{nanos}", std::process::id())
}

/// How the end of a request is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON object and `\n`; the connection stays open for the answer.
    Newline,
    /// One JSON object and `\n`, then the sending side is shut (half-close).
    HalfClose,
    /// One JSON object and `\r\n\r\n` (ours, the course's chat framing).
    BlankLine,
}

impl Framing {
    fn end(self) -> &'static [u8] {
        match self {
            Framing::Newline | Framing::HalfClose => b"\n",
            Framing::BlankLine => DELIMITER,
        }
    }

    /// The framing in a few words, for a reason.
    fn short(self) -> &'static str {
        match self {
            Framing::Newline => "ended by \"\\n\"",
            Framing::HalfClose => "ended by \"\\n\" and a half-close",
            Framing::BlankLine => "ended by \"\\r\\n\\r\\n\"",
        }
    }

    /// The framing in words, for the convention line.
    pub fn describe(self) -> &'static str {
        match self {
            Framing::Newline => "one JSON object per request ended by a newline",
            Framing::HalfClose => {
                "one JSON object per request, its end shown by a half-close (the client shuts its sending side)"
            }
            Framing::BlankLine => "one JSON object per request ended by \"\\r\\n\\r\\n\"",
        }
    }
}

/// Where `file` goes in a student's PUT: students use it for the name or
/// for the content. It is always sent (a server reading it never finds it
/// missing); PUT tries it as the content first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKey {
    /// `file` holds the base64 content.
    Content,
    /// `file` holds the name.
    Name,
}

/// The convention a server speaks, as found by [`find_dialect`].
#[derive(Debug, Clone)]
pub struct Dialect {
    /// How requests end.
    pub framing: Framing,
    /// This workspace's protocol (PROTOCOL.md).
    pub ours: bool,
    /// The command keys a request carries: the one the server reads when
    /// found, else all of [`COMMAND_KEYS`].
    pub command_keys: Vec<&'static str>,
    /// LIST's name, if a LIST was understood.
    pub list_verb: Option<&'static str>,
    /// The server took `LIST` and not `list`: commands in upper case.
    pub upper: bool,
    /// The key the LIST answer's list was under.
    pub list_key: Option<String>,
    /// The key the LIST answer's status was under.
    pub status_key: Option<String>,
}

impl Dialect {
    /// Our protocol's dialect with `framing` (always `\r\n\r\n` for ours).
    fn ours() -> Dialect {
        Dialect {
            framing: Framing::BlankLine,
            ours: true,
            command_keys: vec!["command"],
            list_verb: Some("LIST"),
            upper: true,
            list_key: Some("files".to_string()),
            status_key: Some("status".to_string()),
        }
    }

    /// The convention in words.
    pub fn describe(&self) -> String {
        if self.ours {
            return "this workspace's protocol (tugas4/PROTOCOL.md): {\"command\":\"LIST\"} and \
                    the like + \"\\r\\n\\r\\n\", the name under \"name\", the content in base64 \
                    under \"data\""
                .to_string();
        }
        let key = match self.command_keys.as_slice() {
            [one] => format!("the command under \"{one}\""),
            _ => format!(
                "the command under every one of {} (which one the server reads is not known)",
                self.command_keys.join(", ")
            ),
        };
        let list = match self.list_verb {
            Some(v) => format!("LIST as \"{v}\""),
            None => "no LIST understood".to_string(),
        };
        let mut answer = String::from("answered by one JSON object");
        if let Some(k) = &self.status_key {
            answer.push_str(&format!(", status under \"{k}\""));
        }
        if let Some(k) = &self.list_key {
            answer.push_str(&format!(", the list under \"{k}\""));
        }
        format!("{}; {key}, {list}; {answer}", self.framing.describe())
    }

    /// A request: `verb` under the command keys, then `fields`.
    fn request(&self, verb: &str, fields: Vec<(String, Value)>) -> Value {
        let mut m = Map::new();
        for k in &self.command_keys {
            m.insert(k.to_string(), json!(verb));
        }
        for (k, v) in fields {
            m.insert(k, v);
        }
        Value::Object(m)
    }

    /// The names tried for an operation: ours as documented; a student's
    /// in the case LIST was taken in.
    fn verbs(&self, ours: &'static str, all: &[&'static str]) -> Vec<String> {
        if self.ours {
            return vec![ours.to_string()];
        }
        all.iter()
            .map(|v| {
                if self.upper {
                    v.to_ascii_uppercase()
                } else {
                    v.to_string()
                }
            })
            .collect()
    }
}

/// How long a probe waits: [`PROBE_WAIT`], or `--timeout` when shorter.
fn probe_wait(o: &CheckOptions) -> Duration {
    o.timeout.min(PROBE_WAIT)
}

// ---------------------------------------------------------------------
// Reading one JSON object, however the answer ends.

/// Finds the end of the first JSON object in a growing buffer, byte by
/// byte (strings and escapes respected), without parsing it.
#[derive(Debug, Default)]
struct ObjectScan {
    pos: usize,
    start: Option<usize>,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// What [`ObjectScan::feed`] found.
enum Scan {
    /// The object is not complete yet.
    More,
    /// The object is `buf[start..end]`.
    Done(usize, usize),
    /// The first byte that is not white space is not `{` (at this index).
    NotObject(usize),
}

impl ObjectScan {
    fn feed(&mut self, buf: &[u8]) -> Scan {
        while self.pos < buf.len() {
            let b = buf[self.pos];
            self.pos += 1;
            let Some(start) = self.start else {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'{' => {
                        self.start = Some(self.pos - 1);
                        self.depth = 1;
                        continue;
                    }
                    _ => return Scan::NotObject(self.pos - 1),
                }
            };
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Scan::Done(start, self.pos);
                    }
                }
                _ => {}
            }
        }
        Scan::More
    }
}

/// One connection for one request: sends through a [`Conn`] (its
/// transcript), reads the answer itself (up to the end of a JSON object).
struct Link {
    conn: Conn,
    got: Vec<u8>,
    wait: Duration,
    budget: Duration,
    run: check::RunState,
    /// Where the answer's object ended in `got`.
    end: usize,
}

impl Link {
    /// A fresh connection whose steps wait at most `wait`.
    fn open(o: &CheckOptions, wait: Duration) -> Result<Link, Failure> {
        let conn = Conn::connect_in(&o.host, o.port(), wait, &o.run)?;
        Ok(Link {
            conn,
            got: Vec::new(),
            wait,
            budget: o.budget,
            run: o.run.clone(),
            end: 0,
        })
    }

    /// A failure with `reason` and this connection's transcript.
    fn fail(&self, reason: impl Into<String>) -> Failure {
        let mut f = self.conn.fail(reason);
        let head = &self.got[..self.got.len().min(KEEP)];
        f.got = Some(show(head, self.got.len() as u64));
        f
    }

    /// Sends `body` ended as `framing` says (and half-closes for
    /// [`Framing::HalfClose`]).
    fn send(&mut self, framing: Framing, body: &[u8], what: &str) -> Result<(), Failure> {
        let mut msg = body.to_vec();
        msg.extend_from_slice(framing.end());
        self.conn.send(&msg, what)?;
        if framing == Framing::HalfClose {
            self.conn.finish_sending();
        }
        Ok(())
    }

    /// One bounded read into `got`: `Ok(false)` when the server closed.
    fn read_more(&mut self, deadline: Instant, what: &str) -> Result<bool, Failure> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if self.run.budget_spent() {
                return Err(self.fail(format!(
                    "the check's time budget (--budget {}) was spent while waiting for {what}",
                    secs(self.budget)
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.fail(format!(
                    "timed out after {} waiting for {what}",
                    secs(self.wait)
                )));
            }
            // Short slices, so the budget is looked at while waiting.
            let slice = left
                .min(Duration::from_millis(200))
                .max(Duration::from_millis(1));
            let mut stream = self.conn.stream();
            let _ = stream.set_read_timeout(Some(slice));
            match stream.read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.got.extend_from_slice(&buf[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    return Err(self.fail(format!(
                        "connection failed while waiting for {what}: {}",
                        io_cause(&e)
                    )))
                }
            }
        }
    }

    /// Reads the answer: bytes up to the end of the first JSON object.
    fn answer(mut self, what: &str) -> Result<Answer, Failure> {
        let deadline = Instant::now() + self.wait;
        let mut scan = ObjectScan::default();
        loop {
            match scan.feed(&self.got) {
                Scan::Done(start, end) => {
                    self.end = end;
                    return match serde_json::from_slice::<Value>(&self.got[start..end]) {
                        Ok(Value::Object(json)) => Ok(Answer { json, link: self }),
                        Ok(_) => Err(self.fail(format!("{what} is JSON but not an object"))),
                        Err(e) => Err(self.fail(format!("{what} is not valid JSON: {e}"))),
                    };
                }
                Scan::NotObject(at) => {
                    // Let the rest of a text line come, for the report.
                    let soon = Instant::now() + Duration::from_millis(50).min(self.wait);
                    while !self.got[at..].contains(&b'\n') && self.got.len() < KEEP {
                        if !matches!(self.read_more(soon, what), Ok(true)) {
                            break;
                        }
                    }
                    return Err(self.fail(format!(
                        "{what} is not JSON: it starts with {}",
                        show(&self.got[at..at + 1], 1)
                    )));
                }
                Scan::More => {}
            }
            if self.got.len() > RESPONSE_CAP {
                return Err(self.fail(format!(
                    "{what} is not one JSON object: no end of it in the first {RESPONSE_CAP} bytes"
                )));
            }
            match self.read_more(deadline, what) {
                Ok(true) => {}
                Ok(false) if self.got.iter().all(u8::is_ascii_whitespace) => {
                    return Err(self.fail(format!(
                        "the server closed the connection without sending {what}"
                    )))
                }
                Ok(false) => {
                    return Err(self.fail(format!(
                        "the server closed the connection in the middle of {what} \
                         (its JSON object is not complete)"
                    )))
                }
                Err(f) => return Err(f),
            }
        }
    }
}

/// One answer: its JSON object, and the connection it came on.
struct Answer {
    json: Map<String, Value>,
    link: Link,
}

impl Answer {
    fn fail(&self, reason: impl Into<String>) -> Failure {
        self.link.fail(reason)
    }

    /// The answer's JSON text, shortened, for a reason.
    fn brief(&self) -> String {
        let text = Value::Object(self.json.clone()).to_string();
        show(text.as_bytes(), text.len() as u64)
    }

    fn verdict(&self) -> Verdict {
        verdict(&self.json)
    }

    /// The bytes after the object, at least `n` of them if they come.
    fn after(&mut self, n: usize, what: &str) -> Result<Vec<u8>, Failure> {
        let deadline = Instant::now() + self.link.wait;
        while self.link.got.len() < self.link.end + n {
            if !self.link.read_more(deadline, what)? {
                break;
            }
        }
        Ok(self.link.got[self.link.end..].to_vec())
    }
}

/// Sends `req` on a fresh connection, reads its answer and closes the
/// connection (a server serving one connection at a time is then free for
/// the next request).
fn exchange(
    o: &CheckOptions,
    framing: Framing,
    req: &Value,
    wait: Duration,
    what: &str,
) -> Result<Answer, Failure> {
    let a = exchange_open(o, framing, req, wait, what)?;
    let _ = a.link.conn.stream().shutdown(Shutdown::Both);
    Ok(a)
}

/// [`exchange`], the connection left open (to read what follows).
fn exchange_open(
    o: &CheckOptions,
    framing: Framing,
    req: &Value,
    wait: Duration,
    what: &str,
) -> Result<Answer, Failure> {
    let mut link = Link::open(o, wait)?;
    link.send(framing, req.to_string().as_bytes(), "the request")?;
    link.answer(what)
}

// ---------------------------------------------------------------------
// Reading students' answers.

/// What an answer says about its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Error,
    /// No status that says either.
    Unknown,
}

fn word_verdict(word: &str) -> Verdict {
    let w = word.trim().to_ascii_lowercase();
    const OK: &[&str] = &["ok", "succ", "sukses", "berhasil", "true", "done", "200"];
    const ERR: &[&str] = &[
        "err",
        "fail",
        "gagal",
        "false",
        "invalid",
        "not found",
        "4",
        "5",
    ];
    if OK.iter().any(|p| w.starts_with(p)) {
        Verdict::Ok
    } else if ERR.iter().any(|p| w.starts_with(p)) {
        Verdict::Error
    } else {
        Verdict::Unknown
    }
}

/// The status of an answer: under [`STATUS_KEYS`] (a word, a boolean, an
/// HTTP-like number), else an `error` field means an error.
fn verdict(m: &Map<String, Value>) -> Verdict {
    for key in STATUS_KEYS {
        let v = match m.get(*key) {
            Some(Value::String(s)) => word_verdict(s),
            Some(Value::Bool(true)) => Verdict::Ok,
            Some(Value::Bool(false)) => Verdict::Error,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(200..=299) => Verdict::Ok,
                Some(400..) => Verdict::Error,
                _ => Verdict::Unknown,
            },
            _ => Verdict::Unknown,
        };
        if v != Verdict::Unknown {
            return v;
        }
    }
    match m.get("error").or_else(|| m.get("err")) {
        Some(Value::Null) | Some(Value::Bool(false)) | None => Verdict::Unknown,
        Some(Value::String(s)) if s.is_empty() => Verdict::Unknown,
        Some(_) => Verdict::Error,
    }
}

/// The key of the status that decided [`verdict`], for the report.
fn status_key(m: &Map<String, Value>) -> Option<String> {
    STATUS_KEYS
        .iter()
        .find(|k| {
            m.get(**k)
                .is_some_and(|v| v.is_string() || v.is_boolean() || v.is_number())
        })
        .map(|k| k.to_string())
}

/// The answer's list: an array under [`LIST_KEYS`] (or one level down),
/// else the first array in it; its key.
fn list_of(m: &Map<String, Value>) -> Option<String> {
    for key in LIST_KEYS {
        match m.get(*key) {
            Some(Value::Array(_)) => return Some(key.to_string()),
            Some(Value::Object(inner)) => {
                if let Some(k) = inner.iter().find(|(_, v)| v.is_array()).map(|(k, _)| k) {
                    return Some(format!("{key}.{k}"));
                }
            }
            _ => {}
        }
    }
    m.iter().find(|(_, v)| v.is_array()).map(|(k, _)| k.clone())
}

/// Whether `a` answers a LIST: not an error, and a list or an OK status.
fn is_list(a: &Answer) -> bool {
    match a.verdict() {
        Verdict::Error => false,
        Verdict::Ok => true,
        Verdict::Unknown => list_of(&a.json).is_some(),
    }
}

/// Whether `v` names `name`: a string equal to it or holding it as a word
/// (`"a.txt, b.txt"`), or a key equal to it, at any depth.
fn mentions(v: &Value, name: &str, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    match v {
        Value::String(s) => {
            s == name
                || s.split(|c: char| c.is_whitespace() || ",;|'\"[]()".contains(c))
                    .any(|w| w == name)
        }
        Value::Array(a) => a.iter().any(|x| mentions(x, name, depth + 1)),
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k == name || mentions(x, name, depth + 1)),
        _ => false,
    }
}

/// The size a list gives `name`: an object naming it with a size key, or
/// `{"name": size}`.
fn listed_size(v: &Value, name: &str, depth: usize) -> Option<u64> {
    if depth > 16 {
        return None;
    }
    match v {
        Value::Array(a) => a.iter().find_map(|x| listed_size(x, name, depth + 1)),
        Value::Object(m) => {
            if let Some(n) = m.get(name).and_then(Value::as_u64) {
                return Some(n);
            }
            if m.values().any(|x| x.as_str() == Some(name)) {
                if let Some(n) = SIZE_KEYS
                    .iter()
                    .find_map(|k| m.get(*k).and_then(Value::as_u64))
                {
                    return Some(n);
                }
            }
            m.values().find_map(|x| listed_size(x, name, depth + 1))
        }
        _ => None,
    }
}

/// Decodes base64 as students write it: standard or URL-safe alphabet,
/// with or without padding, with line breaks (Python's `encodebytes`).
fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    let mut clean: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while clean.len() % 4 != 0 {
        clean.push('=');
    }
    let mut out = Vec::new();
    decode_data(&clean, &mut out).ok().map(|()| out)
}

/// Base64 contents in an answer: `(key, bytes)` of every string under
/// [`ANSWER_CONTENT_KEYS`] that decodes, at any depth.
fn contents(v: &Value, depth: usize, out: &mut Vec<(String, Vec<u8>)>) {
    if depth > 16 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match x {
                    Value::String(s)
                        if ANSWER_CONTENT_KEYS.contains(&k.to_ascii_lowercase().as_str()) =>
                    {
                        if let Some(bytes) = decode_lenient(s) {
                            out.push((k.clone(), bytes));
                        }
                    }
                    _ => contents(x, depth + 1, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| contents(x, depth + 1, out)),
        _ => {}
    }
}

/// The content of a GET answer: the decoded base64 equal to `want` if
/// there is one, else the longest; with its key.
fn content_of(a: &Answer, want: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut found = Vec::new();
    contents(&Value::Object(a.json.clone()), 0, &mut found);
    if let Some(i) = found.iter().position(|(_, b)| b == want) {
        return Some(found.swap_remove(i));
    }
    found.into_iter().max_by_key(|(_, b)| b.len())
}

// ---------------------------------------------------------------------
// Finding the convention.

/// What the LIST probes gave: the dialect when a LIST was understood (or
/// at least answered in JSON), else the failure to report.
struct Found {
    dialect: Dialect,
    /// The LIST answer (an error when LIST was not understood).
    answer: Answer,
}

/// Sends LIST in each candidate shape (see the module doc), each on a
/// fresh connection, bounded by [`PROBE_WAIT`]; returns the first shape
/// answered by a JSON list (or, failing that, the first answered by any
/// JSON object), or a failure saying what was sent and what came back.
pub fn find_dialect(o: &CheckOptions) -> Result<(Dialect, String), Failure> {
    probe(o).map(|f| (f.dialect, f.answer.brief()))
}

/// Keeps the most telling failed probe: the first, or the first that got
/// bytes back.
fn keep(f: Failure, best: &mut Option<Failure>) {
    let got_bytes = |f: &Failure| f.got.as_deref().is_some_and(|g| g != "nothing");
    if best.as_ref().is_none_or(|b| got_bytes(&f) && !got_bytes(b)) {
        *best = Some(f);
    }
}

fn probe(o: &CheckOptions) -> Result<Found, Failure> {
    let wait = probe_wait(o);
    let mut tried = 0;
    let mut first_json: Option<(Framing, Answer)> = None;
    let mut best: Option<Failure> = None;
    let mut per_framing = Vec::new();
    for framing in [Framing::HalfClose, Framing::BlankLine] {
        let mut answered_json = false;
        let all = Dialect {
            framing,
            ours: false,
            command_keys: COMMAND_KEYS.to_vec(),
            list_verb: None,
            upper: false,
            list_key: None,
            status_key: None,
        };
        for verb in LIST_VERBS {
            tried += 1;
            let req = all.request(verb, Vec::new());
            match exchange(o, framing, &req, wait, "the answer to LIST") {
                Ok(a) if is_list(&a) => {
                    let d = Dialect {
                        list_verb: Some(*verb),
                        upper: *verb == "LIST",
                        ..all.clone()
                    };
                    return Ok(refine(o, d, a));
                }
                Ok(a) => {
                    answered_json = true;
                    if first_json.is_none() {
                        first_json = Some((framing, a));
                    }
                }
                Err(f) => {
                    if *verb == LIST_VERBS[0] {
                        per_framing.push(format!("{}: {}", framing.short(), f.reason));
                    }
                    keep(f, &mut best)
                }
            }
        }
        if !answered_json {
            continue;
        }
        // A JSON answer, but no list: a strict server (ours) may refuse
        // the keys it does not know; one key at a time.
        for key in COMMAND_KEYS {
            for verb in LIST_VERBS {
                tried += 1;
                let d = Dialect {
                    command_keys: vec![*key],
                    ..all.clone()
                };
                let req = d.request(verb, Vec::new());
                match exchange(o, framing, &req, wait, "the answer to LIST") {
                    Ok(a) if is_list(&a) => {
                        let d = Dialect {
                            list_verb: Some(*verb),
                            upper: *verb == "LIST",
                            ..d
                        };
                        return Ok(refine(o, d, a));
                    }
                    Ok(_) => {}
                    // Silence now: the server is not one answering every request.
                    Err(f) if f.reason.starts_with("timed out") => break,
                    Err(_) => {}
                }
            }
        }
    }
    if let Some((framing, answer)) = first_json {
        // JSON came back, but no LIST shape was understood.
        let dialect = Dialect {
            framing,
            ours: false,
            command_keys: COMMAND_KEYS.to_vec(),
            list_verb: None,
            upper: false,
            list_key: None,
            status_key: status_key(&answer.json),
        };
        return Ok(Found { dialect, answer });
    }
    let mut f = best.unwrap_or_else(|| Failure::new("no request was sent"));
    f.reason = format!(
        "no LIST request was answered by a JSON object (tried {tried}, the command under {} as {}): {}",
        COMMAND_KEYS.join("/"),
        LIST_VERBS.join("/"),
        per_framing.join("; ")
    );
    Err(f)
}

/// Whether a LIST answer has our documented shape.
fn looks_ours(m: &Map<String, Value>) -> bool {
    m.get("status") == Some(&json!("OK"))
        && m.get("command") == Some(&json!("LIST"))
        && m.get("files").is_some_and(Value::is_array)
}

/// After a LIST was understood: our protocol? a newline server or one
/// reading until the end? which command key? Each step one more probe.
fn refine(o: &CheckOptions, mut d: Dialect, a: Answer) -> Found {
    let wait = probe_wait(o);
    d.list_key = list_of(&a.json);
    d.status_key = status_key(&a.json);
    let verb = d.list_verb.unwrap_or("list");
    // Ours: answered in our documented shape, and our exact request too.
    if d.framing == Framing::BlankLine && looks_ours(&a.json) {
        let req = json!({"command": "LIST"});
        if let Ok(ours) = exchange(o, d.framing, &req, wait, "the answer to LIST") {
            if looks_ours(&ours.json) {
                return Found {
                    dialect: Dialect::ours(),
                    answer: ours,
                };
            }
        }
    }
    if d.framing == Framing::HalfClose {
        let req = d.request(verb, Vec::new());
        if matches!(
            exchange(o, Framing::Newline, &req, wait, "the answer to LIST"),
            Ok(ref b) if is_list(b)
        ) {
            d.framing = Framing::Newline;
        }
    }
    if d.command_keys.len() > 1 {
        for key in COMMAND_KEYS {
            let mut m = Map::new();
            for k in COMMAND_KEYS {
                m.insert(k.to_string(), json!(if k == key { verb } else { DUMMY }));
            }
            match exchange(o, d.framing, &Value::Object(m), wait, "the answer to LIST") {
                Ok(b) if is_list(&b) => {
                    d.command_keys = vec![*key];
                    break;
                }
                Ok(_) => {}
                // Silence: finding the key could cost a wait per key; all stay.
                Err(f) if f.reason.starts_with("timed out") => break,
                Err(_) => {}
            }
        }
    }
    Found {
        dialect: d,
        answer: a,
    }
}

// ---------------------------------------------------------------------
// The operations, in the dialect found.

/// What the requirements learn about the server, from one to the next.
struct Session {
    d: Dialect,
    prefix: String,
    data: Vec<u8>,
    /// The name keys a request carries (one when LIST showed which).
    name_keys: Vec<&'static str>,
    /// Where `file` goes in a PUT.
    file_key: FileKey,
    put_verb: Option<String>,
    get_verb: Option<String>,
    /// The key the GET answer's content was under.
    content_key: Option<String>,
    /// The name the file is stored under, once LIST or GET showed it.
    stored: Option<String>,
}

impl Session {
    fn new(d: Dialect) -> Session {
        let name_keys = if d.ours {
            vec!["name"]
        } else {
            let mut k = NAME_KEYS.to_vec();
            k.push("file");
            k
        };
        Session {
            d,
            prefix: unique_prefix(),
            data: test_file(),
            name_keys,
            file_key: FileKey::Content,
            put_verb: None,
            get_verb: None,
            content_key: None,
            stored: None,
        }
    }

    /// The test file's name under `key`.
    fn name_for(&self, key: &str) -> String {
        format!("{}-{key}.bin", self.prefix)
    }

    /// Every name the file may be stored under.
    fn names(&self) -> Vec<String> {
        match &self.stored {
            Some(n) => vec![n.clone()],
            None => self.name_keys.iter().map(|k| self.name_for(k)).collect(),
        }
    }

    /// The name fields of a request for the test file (each key its own
    /// name), without `file` when it carries the content.
    fn name_fields(&self, file_is_content: bool) -> Vec<(String, Value)> {
        self.name_keys
            .iter()
            .filter(|k| !(file_is_content && **k == "file"))
            .map(|k| (k.to_string(), json!(self.name_for(k))))
            .collect()
    }

    /// The name fields for a name that is not the test file's.
    fn other_name_fields(&self, name: &str) -> Vec<(String, Value)> {
        self.name_keys
            .iter()
            .map(|k| (k.to_string(), json!(name)))
            .collect()
    }

    fn put_request(&self, verb: &str, file_key: FileKey) -> Value {
        let mut b64 = Vec::new();
        encode_data(&self.data, &mut b64);
        let b64 = String::from_utf8_lossy(&b64).into_owned();
        let content_keys: &[&str] = if self.d.ours { &["data"] } else { CONTENT_KEYS };
        let file_is_content = !self.d.ours && file_key == FileKey::Content;
        let mut fields = self.name_fields(file_is_content);
        for k in content_keys {
            fields.push((k.to_string(), json!(b64)));
        }
        if file_is_content {
            fields.push(("file".to_string(), json!(b64)));
        }
        self.d.request(verb, fields)
    }

    fn list(&self, o: &CheckOptions) -> Result<Answer, Failure> {
        let Some(verb) = self.d.list_verb else {
            return Err(Failure::new(
                "no LIST request was understood (see the JSON requirement)",
            ));
        };
        let req = self.d.request(verb, Vec::new());
        let a = exchange(o, self.d.framing, &req, o.timeout, "the answer to LIST")?;
        if !is_list(&a) {
            return Err(a.fail(format!("LIST was answered with an error: {}", a.brief())));
        }
        Ok(a)
    }

    /// The name of ours the LIST answer shows, if any; remembers it and
    /// which name key it tells.
    fn shown_in(&mut self, a: &Answer) -> Option<String> {
        let v = Value::Object(a.json.clone());
        let name = self.names().into_iter().find(|n| mentions(&v, n, 0))?;
        if self.stored.is_none() {
            if let Some(k) = self
                .name_keys
                .iter()
                .find(|k| self.name_for(k) == name)
                .copied()
            {
                self.name_keys = vec![k];
            }
            self.stored = Some(name.clone());
        }
        Some(name)
    }

    /// PUT: each name in turn until one is answered as a success and the
    /// file is then on the server.
    fn put(&mut self, o: &CheckOptions) -> Result<(), Failure> {
        let wait = probe_wait(o);
        let variants: &[FileKey] = if self.d.ours {
            &[FileKey::Content]
        } else {
            &[FileKey::Content, FileKey::Name]
        };
        let mut tries = Vec::new();
        let mut last: Option<Failure> = None;
        let mut unconfirmed: Option<(String, FileKey, Failure)> = None;
        for &file_key in variants {
            for verb in self.d.verbs("PUT", PUT_VERBS) {
                let req = self.put_request(&verb, file_key);
                let a = match exchange(o, self.d.framing, &req, wait, "the answer to PUT") {
                    Ok(a) => a,
                    Err(f) => {
                        tries.push(format!("\"{verb}\": {}", f.reason));
                        last = Some(f);
                        continue;
                    }
                };
                if a.verdict() == Verdict::Error {
                    tries.push(format!("\"{verb}\": {}", a.brief()));
                    last = Some(a.fail(format!("PUT was answered with an error: {}", a.brief())));
                    continue;
                }
                // Answered as a success: is the file there now?
                if let Ok(l) = self.list(o) {
                    if self.shown_in(&l).is_some() {
                        self.put_verb = Some(verb);
                        self.file_key = file_key;
                        return Ok(());
                    }
                }
                tries.push(format!("\"{verb}\": {} (LIST does not show it)", a.brief()));
                if unconfirmed.is_none() && a.verdict() == Verdict::Ok {
                    let f = a.fail(format!(
                        "PUT \"{verb}\" was answered {}, but LIST does not show the file and \
                         GET does not return it",
                        a.brief()
                    ));
                    unconfirmed = Some((verb, file_key, f));
                }
            }
        }
        if let Some((verb, file_key, f)) = unconfirmed {
            // Maybe LIST is what is broken: GET may still find the file.
            self.put_verb = Some(verb);
            self.file_key = file_key;
            return match self.get(o) {
                Ok(_) => Ok(()),
                Err(_) => Err(f),
            };
        }
        let mut f = last.unwrap_or_else(|| Failure::new("no PUT was sent"));
        f.reason = format!(
            "no PUT was answered as a success with the file then on the server; tried {}",
            tries.join("; ")
        );
        Err(f)
    }

    fn get_request(&self, verb: &str) -> Value {
        self.d.request(verb, self.name_fields(false))
    }

    /// GET of the test file: each name in turn until one returns content;
    /// the decoded content.
    fn get(&mut self, o: &CheckOptions) -> Result<Vec<u8>, Failure> {
        let verbs = match &self.get_verb {
            Some(v) => vec![v.clone()],
            None => self.d.verbs("GET", GET_VERBS),
        };
        let wait = if self.get_verb.is_some() {
            o.timeout
        } else {
            probe_wait(o)
        };
        let mut tries = Vec::new();
        let mut last = None;
        for verb in verbs {
            let req = self.get_request(&verb);
            let a = match exchange(o, self.d.framing, &req, wait, "the answer to GET") {
                Ok(a) => a,
                Err(f) => {
                    tries.push(format!("\"{verb}\": {}", f.reason));
                    last = Some(f);
                    continue;
                }
            };
            if a.verdict() != Verdict::Error {
                if let Some((key, bytes)) = content_of(&a, &self.data) {
                    self.get_verb = Some(verb);
                    self.content_key = Some(key);
                    if self.stored.is_none() {
                        self.stored = self
                            .names()
                            .into_iter()
                            .find(|n| mentions(&Value::Object(a.json.clone()), n, 0));
                    }
                    return Ok(bytes);
                }
            }
            tries.push(format!("\"{verb}\": {}", a.brief()));
            last = Some(a.fail(format!(
                "the answer to GET holds no base64 content (looked under {}): {}",
                ANSWER_CONTENT_KEYS.join("/"),
                a.brief()
            )));
        }
        let mut f = last.unwrap_or_else(|| Failure::new("no GET was sent"));
        if tries.len() > 1 {
            f.reason = format!(
                "no GET returned the file's content; tried {}",
                tries.join("; ")
            );
        }
        Err(f)
    }

    /// The GET answer to a name that is not the test file's.
    fn get_other(&self, o: &CheckOptions, name: &str) -> Result<Answer, Failure> {
        let Some(verb) = &self.get_verb else {
            return Err(Failure::new("not tried: no GET returned the test file"));
        };
        let req = self.d.request(verb, self.other_name_fields(name));
        exchange(o, self.d.framing, &req, o.timeout, "the answer to GET")
    }

    /// A LIST is still answered (the server lives on).
    fn alive(&self, o: &CheckOptions, after: &str) -> Result<(), Failure> {
        // LIST if one was understood, else a GET of the test file.
        let (what, result) = match (self.d.list_verb, &self.get_verb) {
            (None, Some(verb)) => {
                let req = self.get_request(verb);
                let r = exchange(o, self.d.framing, &req, o.timeout, "the answer to GET");
                ("GET", r.map(drop))
            }
            _ => ("LIST", self.list(o).map(drop)),
        };
        result.map_err(|mut f| {
            f.reason = format!(
                "after {after}, the server no longer answers {what}: {}",
                f.reason
            );
            f
        })
    }

    /// The convention's details learnt by PUT and GET, for a note.
    fn keys_found(&self) -> Option<String> {
        if self.d.ours {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(v) = &self.put_verb {
            let name = match self.name_keys.as_slice() {
                [one] => format!("the name under \"{one}\""),
                _ => {
                    "the name under one of filename/file_name/name/nama/nama_file/file".to_string()
                }
            };
            let content = match self.file_key {
                FileKey::Content => "content/data/file_content/isi/file",
                FileKey::Name => "content/data/file_content/isi",
            };
            parts.push(format!(
                "PUT as \"{v}\" with {name} and the base64 content under {content} (all sent)"
            ));
        }
        if let Some(v) = &self.get_verb {
            let key = self.content_key.as_deref().unwrap_or("?");
            parts.push(format!(
                "GET as \"{v}\", the answer's content under \"{key}\""
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

// ---------------------------------------------------------------------
// The requirements.

/// Runs every Tugas 4 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker) {
    let mut found: Option<Dialect> = None;
    c.require(
        "json",
        "requests and answers are JSON: a LIST request (one JSON object) is answered by one JSON object",
        CITE_JSON,
        |o| {
            let f = probe(o)?;
            found = Some(f.dialect);
            Ok(())
        },
    );
    let Some(dialect) = found else {
        for (id, text, cite) in [
            ("put", put_text(), CITE_PUT),
            ("get", get_text(), CITE_GET),
            ("list", list_text(), CITE_LIST),
        ] {
            c.require(id, text, cite, |_| {
                Err(Failure::new(
                    "not tried: no JSON convention of the server was recognised (see the JSON requirement)",
                ))
            });
        }
        return;
    };
    c.convention(dialect.describe());
    let mut s = Session::new(dialect);
    let mut put_ok = false;
    c.require("put", put_text(), CITE_PUT, |o| {
        s.put(o)?;
        put_ok = true;
        Ok(())
    });
    c.require("get", get_text(), CITE_GET, |o| {
        if !put_ok {
            return Err(Failure::new("not tried: the PUT did not work (see above)"));
        }
        let got = s.get(o)?;
        match difference(&s.data, &got) {
            None => Ok(()),
            Some(d) => Err(Failure::new(format!("the file from GET {d}"))),
        }
    });
    c.require("list", list_text(), CITE_LIST, |o| {
        if !put_ok {
            return Err(Failure::new("not tried: the PUT did not work (see above)"));
        }
        let a = s.list(o)?;
        let Some(name) = s.shown_in(&a) else {
            return Err(a.fail(format!(
                "{} is not in the list: {}",
                s.names().join(" or "),
                a.brief()
            )));
        };
        match listed_size(&Value::Object(a.json.clone()), &name, 0) {
            Some(n) if n != FILE_SIZE as u64 => Err(a.fail(format!(
                "{name} is listed with size {n} instead of {FILE_SIZE}"
            ))),
            _ => Ok(()),
        }
    });
    if let Some(keys) = s.keys_found() {
        c.note(format!("found: {keys}"));
    }
    extras(c, &mut s);
}

fn put_text() -> String {
    format!(
        "PUT of a {FILE_SIZE}-byte file (base64) is answered as a success and the file is then on the server"
    )
}

fn get_text() -> String {
    "GET returns the file byte for byte (every byte value)".to_string()
}

fn list_text() -> String {
    "LIST shows the new file (with its size, if sizes are listed)".to_string()
}

/// The extras: beyond the assignment.
fn extras(c: &mut Checker, s: &mut Session) {
    let ours = s.d.ours;
    let missing = format!("{}-tidak-ada.bin", s.prefix);
    c.extra(
        "missing-file",
        "GET of a missing file gets an error answer, and the server lives on",
        |o| {
            let a = s.get_other(o, &missing)?;
            let has_content = content_of(&a, &[]).is_some_and(|(_, b)| !b.is_empty());
            if a.verdict() == Verdict::Ok || (a.verdict() == Verdict::Unknown && has_content) {
                return Err(a.fail(format!("expected an error answer, got {}", a.brief())));
            }
            s.alive(o, "a GET of a missing file")
        },
    );
    c.extra(
        "malformed-json",
        if ours {
            "malformed JSON gets an ERROR answer, and the server still answers the next request"
        } else {
            "malformed JSON does not stop the server: the next request is still answered"
        },
        |o| {
            let mut link = Link::open(o, probe_wait(o))?;
            link.send(
                s.d.framing,
                b"{\"command\": \"list\", oops",
                "malformed JSON",
            )?;
            if ours {
                let a = link.answer("the answer to malformed JSON")?;
                if a.json.get("status") != Some(&json!("ERROR")) {
                    return Err(a.fail("expected status ERROR"));
                }
            } else {
                // Any answer or none; closed before the next request (a
                // server may serve one connection at a time).
                let _ = link.answer("the answer to malformed JSON");
            }
            s.alive(o, "malformed JSON")
        },
    );
    c.extra(
        "traversal",
        "a name outside the folder (../../../../../../etc/passwd, /etc/passwd) is refused",
        |o| {
            for name in ["../../../../../../../../etc/passwd", "/etc/passwd"] {
                let a = match s.get_other(o, name) {
                    Ok(a) => a,
                    // No answer: nothing was served.
                    Err(f) if f.reason.starts_with("not tried") => return Err(f),
                    Err(_) => continue,
                };
                if a.verdict() == Verdict::Error {
                    continue;
                }
                if let Some((key, bytes)) = content_of(&a, &[]).filter(|(_, b)| !b.is_empty()) {
                    return Err(a.fail(format!(
                        "GET of {name:?} returned {} bytes under \"{key}\" (a file outside its folder{})",
                        bytes.len(),
                        if bytes.windows(5).any(|w| w == b"root:") {
                            ": /etc/passwd"
                        } else {
                            ""
                        }
                    )));
                }
            }
            Ok(())
        },
    );
    if ours {
        ours_extras(c, s);
    } else {
        student_delete(c, s);
    }
}

/// Our protocol's details (skipped by `--skip-protocol`), then DELETE.
fn ours_extras(c: &mut Checker, s: &mut Session) {
    let name = s.name_for("name");
    if c.options().skip_protocol {
        c.note(
            "--skip-protocol: our protocol's details (answer framing, byte range, DELETE, \
             the 4 MiB limit) are not checked",
        );
        // Leave the grader's folder as it was.
        let o = c.options().clone();
        let _ = exchange(
            &o,
            Framing::BlankLine,
            &json!({"command": "DELETE", "name": name}),
            o.timeout,
            "the DELETE answer",
        );
        return;
    }
    c.extra(
        "answer-framing",
        "answers end in \"\\r\\n\\r\\n\" (PROTOCOL.md)",
        |o| {
            let req = json!({"command": "LIST"});
            // What follows an answer comes with it: no need to wait long.
            let mut a = exchange_open(
                o,
                Framing::BlankLine,
                &req,
                probe_wait(o),
                "the LIST answer",
            )?;
            let after = a.after(
                DELIMITER.len(),
                "the \"\\r\\n\\r\\n\" after the LIST answer",
            );
            match after {
                Ok(b) if b.starts_with(DELIMITER) => Ok(()),
                Ok(b) => Err(a.fail(format!(
                    "the LIST answer is followed by {} instead of \"\\r\\n\\r\\n\"",
                    show(&b, b.len() as u64)
                ))),
                Err(f) => Err(f),
            }
        },
    );
    c.extra(
        "get-range",
        format!(
            "GET of a byte range (offset {}, length {}) returns exactly those bytes",
            RANGE.0, RANGE.1
        ),
        |o| {
            let (offset, length) = RANGE;
            let req = json!({"command": "GET", "name": name, "offset": offset, "length": length});
            let a = exchange(o, Framing::BlankLine, &req, o.timeout, "the GET answer")?;
            let Some(text) = a.json.get("data").and_then(Value::as_str) else {
                return Err(a.fail("the GET answer has no \"data\" string"));
            };
            let mut got = Vec::new();
            decode_data(text, &mut got).map_err(|e| a.fail(format!("in the GET answer: {e}")))?;
            match difference(&s.data[offset..offset + length], &got) {
                None => Ok(()),
                Some(d) => Err(Failure::new(format!("the range from GET {d}"))),
            }
        },
    );
    c.extra("delete", "DELETE, then GET gives ERROR", |o| {
        let req = json!({"command": "DELETE", "name": name});
        let a = exchange(o, Framing::BlankLine, &req, o.timeout, "the DELETE answer")?;
        if a.json.get("status") != Some(&json!("OK")) {
            return Err(a.fail("expected status OK in the DELETE answer"));
        }
        let req = json!({"command": "GET", "name": name});
        let a = exchange(
            o,
            Framing::BlankLine,
            &req,
            o.timeout,
            "the GET after DELETE",
        )?;
        if a.json.get("status") != Some(&json!("ERROR")) {
            return Err(a.fail("expected status ERROR in the GET after DELETE"));
        }
        Ok(())
    });
    c.extra(
        "oversized",
        format!("a message over the limit ({MAX_MESSAGE} bytes) is refused, and nothing is stored"),
        |o| {
            let big = format!("{}-besar.bin", s.prefix);
            oversized(o, &big)?;
            let req = json!({"command": "GET", "name": big});
            let a = exchange(
                o,
                Framing::BlankLine,
                &req,
                o.timeout,
                "the GET of the refused file",
            )?;
            if a.json.get("status") != Some(&json!("ERROR")) {
                return Err(a.fail("expected status ERROR in the GET of the refused file"));
            }
            Ok(())
        },
    );
}

/// A student's DELETE, if the server has one: tried under its common
/// names (this also removes the test file); reported as an extra when
/// one works, as a note when none does.
fn student_delete(c: &mut Checker, s: &mut Session) {
    if s.put_verb.is_none() {
        return;
    }
    let o = c.options().clone();
    let wait = probe_wait(&o);
    let fields = s.name_fields(false);
    let mut worked = None;
    for verb in s.d.verbs("DELETE", DELETE_VERBS) {
        let req = s.d.request(&verb, fields.clone());
        match exchange(&o, s.d.framing, &req, wait, "the answer to DELETE") {
            Ok(a) if a.verdict() == Verdict::Ok => {
                worked = Some(verb);
                break;
            }
            Ok(_) => {}
            Err(f) if f.reason.starts_with("timed out") => break,
            Err(_) => {}
        }
    }
    let Some(verb) = worked else {
        c.note(format!(
            "no DELETE command found (tried {}): the test file {} stays on the server",
            s.d.verbs("DELETE", DELETE_VERBS).join(", "),
            match s.names().as_slice() {
                [one] => one.clone(),
                _ => format!("{}-<key>.bin (<key>: the name key it reads)", s.prefix),
            }
        ));
        return;
    };
    c.extra(
        "delete",
        format!("DELETE (as \"{verb}\") removes the file: LIST no longer shows it"),
        |o| {
            let a = s.list(o)?;
            match s.shown_in(&a) {
                Some(n) => Err(a.fail(format!("{n} is still listed after DELETE"))),
                None => Ok(()),
            }
        },
    );
}

/// Sends a PUT of `name` larger than [`MAX_MESSAGE`] while reading the
/// answer; `Ok` if it is `ERROR` or the server closes without one.
fn oversized(o: &CheckOptions, name: &str) -> Result<(), Failure> {
    let mut conn = o.connect()?;
    let head = format!("{{\"command\":\"PUT\",\"name\":\"{name}\",\"data\":\"");
    let mut writer = conn
        .stream()
        .try_clone()
        .map_err(|e| Failure::new(format!("cannot send: {e}")))?;
    let _ = writer.set_write_timeout(Some(o.timeout));
    let answer = thread::scope(|s| {
        let head = head.as_str();
        s.spawn(move || {
            let block = vec![b'A'; BLOCK];
            let mut r = writer.write_all(head.as_bytes());
            for _ in 0..MAX_MESSAGE / BLOCK + 1 {
                if r.is_err() {
                    break;
                }
                r = writer.write_all(&block);
            }
            if r.is_ok() {
                let _ = writer.write_all(b"\"}\r\n\r\n");
            }
        });
        let answer = conn.recv_until(DELIMITER, 64 * 1024, "the answer to the oversized message");
        // Stop the writer now whatever happened (it may be blocked).
        let _ = conn.stream().shutdown(Shutdown::Both);
        answer
    });
    const BLOCKS: usize = MAX_MESSAGE / BLOCK + 1;
    let prefix = format!("{head}AAAA");
    let sent = show(prefix.as_bytes(), (head.len() + BLOCKS * BLOCK + 6) as u64);
    match answer {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.get("status") == Some(&json!("ERROR")) => Ok(()),
            _ => Err(Failure {
                reason: "expected an ERROR response to the oversized message".into(),
                sent: Some(sent),
                got: Some(show(&bytes, bytes.len() as u64)),
            }),
        },
        // Refusing by closing the connection is a refusal too.
        Err(f) if f.reason.contains("closed the connection") || f.reason.contains("reset") => {
            Ok(())
        }
        Err(f) => Err(Failure {
            reason: f.reason,
            sent: Some(sent),
            got: f.got,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(bytes: &[u8]) -> Option<(usize, usize)> {
        match ObjectScan::default().feed(bytes) {
            Scan::Done(a, b) => Some((a, b)),
            _ => None,
        }
    }

    #[test]
    fn the_scan_finds_the_end_of_the_first_object_only() {
        assert_eq!(scan(b" {\"a\":\"}\\\"{\"}\r\n\r\n{"), Some((1, 13)));
        assert_eq!(scan(b"{\"a\":[{},{}]}x"), Some((0, 13)));
        assert_eq!(scan(b"{\"a\":[{},{}]"), None);
        assert!(matches!(
            ObjectScan::default().feed(b"  OK\n"),
            Scan::NotObject(2)
        ));
        // Fed in pieces, it goes on where it stopped.
        let mut s = ObjectScan::default();
        let all = b"{\"k\":\"v}\"}";
        assert!(matches!(s.feed(&all[..6]), Scan::More));
        assert!(matches!(s.feed(all), Scan::Done(0, 10)));
    }

    #[test]
    fn statuses_in_the_students_words() {
        let v = |j: Value| verdict(j.as_object().unwrap());
        assert_eq!(v(json!({"status": "OK"})), Verdict::Ok);
        assert_eq!(v(json!({"status": "sukses"})), Verdict::Ok);
        assert_eq!(v(json!({"result": "success", "data": []})), Verdict::Ok);
        assert_eq!(v(json!({"success": true})), Verdict::Ok);
        assert_eq!(v(json!({"status": 200})), Verdict::Ok);
        assert_eq!(v(json!({"status": "gagal"})), Verdict::Error);
        assert_eq!(v(json!({"status": "ERROR"})), Verdict::Error);
        assert_eq!(v(json!({"code": 404})), Verdict::Error);
        assert_eq!(v(json!({"error": "no such file"})), Verdict::Error);
        assert_eq!(v(json!({"result": ["a"], "error": null})), Verdict::Unknown);
    }

    #[test]
    fn lists_names_sizes_and_contents_in_any_shape() {
        let m = json!({"status": "OK", "data": {"files": [{"nama": "a.bin", "ukuran": 3}]}});
        assert_eq!(
            list_of(m.as_object().unwrap()).as_deref(),
            Some("data.files")
        );
        assert!(mentions(&m, "a.bin", 0));
        assert_eq!(listed_size(&m, "a.bin", 0), Some(3));
        let m = json!({"daftar": "a.bin, b.bin"});
        assert!(mentions(&m, "b.bin", 0) && !mentions(&m, "c.bin", 0));
        assert_eq!(
            listed_size(&json!({"files": {"a.bin": 7}}), "a.bin", 0),
            Some(7)
        );
        assert_eq!(decode_lenient("AAEC\nAw").unwrap(), [0, 1, 2, 3]);
        assert_eq!(decode_lenient("-_8").unwrap(), [0xfb, 0xff]);
        assert!(decode_lenient("check-1-2-file.bin").is_none());
        let mut found = Vec::new();
        contents(
            &json!({"file": "x.bin", "data": {"isi": "AAEC"}}),
            0,
            &mut found,
        );
        assert_eq!(found, [("isi".to_string(), vec![0, 1, 2])]);
    }
}
