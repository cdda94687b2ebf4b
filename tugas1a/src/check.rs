//! The grader's check for Tugas 1a: tests any upload server (Python, Java,
//! ours, ...) against the assignment, whatever upload convention the
//! student chose.
//!
//! ```text
//! cargo run -p tugas1a --bin check                                      # 127.0.0.1:31100
//! cargo run -p tugas1a --bin check -- --port 5000 --output-file ~/siswa/tugas1a/hasil.txt
//! ```
//!
//! The course fixes no upload format, so the check recognises the common
//! ones and says which it found (`convention: ...`):
//!
//! - this workspace's protocol: `FILE <size> <name>\n`, the bytes, then an
//!   `OK ...` (or `ERROR ...`) answer; recognised by its `OK`;
//! - raw bytes, then the client closes (no name, no answer);
//! - a first line (the file's name), then the bytes until the close;
//! - the name first in a fixed 1024-byte block (padded with spaces), then
//!   the bytes until the close; also what a server that reads the name
//!   with one `recv(1024)` takes whatever the timing.
//!
//! Only our protocol says from the network that the file arrived. For any
//! other server give `--output-file PATH`, the file the server writes (the
//! student's `hasil.txt`): after each upload the check reads it (polling
//! until `--timeout`, as the server may write a moment after the close;
//! it stops early once the file settled on something else) and recognises
//! the convention from what landed there. The first try is our upload
//! (header and text), which every other kind of server takes without harm:
//! the whole of it in the file is a raw server, the text without the header
//! line a name-line server (then the name block is tried: a server that
//! takes it too reads the name with one `recv`, and gets it); else, on a
//! fresh connection, the name block and a new text. The check then
//! compares the file byte for byte. A server that appends to the file
//! instead of replacing it is accepted too. Without `--output-file` a
//! server that does not answer our `OK` cannot be judged: the arrival line
//! fails and says so, rather than passing what was not seen. When nothing
//! is recognised, the failure says what each try sent, what came back and
//! what the file then held.
//!
//! Required (the assignment: "client.py membaca file.txt, kemudian isi dari
//! file tersebut dikirimkan ke server. Pada server file dibaca, ditampilkan
//! pada konsole, dan ditulis kedalam file hasil.txt"):
//!
//! 1. `connect`: the server accepts a TCP connection (kept for the first
//!    upload, so a server that takes one client and exits is still judged
//!    on it);
//! 2. `text-arrives`: file.txt's content (a text of about 1.7 KiB, longer
//!    than a name block, and new in each upload so that an older file never
//!    passes) arrives byte for byte in the output file (our protocol without
//!    `--output-file`: the server answers `OK`);
//! 3. `finishes`: an upload's connection ends cleanly once the client has
//!    sent everything (the server closes, with or without an answer; a reset
//!    fails) and the server is still running after it: the next upload
//!    finishes the same way (a server that died after the upload refuses it
//!    or resets it).
//!
//! Extras, beyond the assignment:
//!
//! - `binary`: a binary file with every byte value (256 KiB) arrives byte
//!   for byte (the assignment's file is a text);
//! - `empty`, `truncated`, `malformed-header`: details of our protocol (an
//!   empty file gets `OK`; fewer bytes than announced, and a malformed
//!   header, get `ERROR` or a close, never `OK`), only for a server that
//!   speaks it, and not under `--skip-protocol`;
//! - `after-broken`: the server keeps serving after a broken upload (a
//!   client that leaves in the middle).
//!
//! That the server shows the file on its console cannot be seen from the
//! network: look at its console.

use std::fs::File;
use std::io::{self, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::check::transfer::expect_refusal_answer;
use common::check::{self, difference, show, CheckOptions, Checker, Conn, Failure};
use common::cli::{Command, Flag, Matches};

/// `--output-file PATH`: the file the server writes.
pub const OUTPUT_FILE: Flag = Flag::value(
    "output-file",
    "PATH",
    "",
    "the file the server writes (e.g. the student's hasil.txt): the check recognises the \
     upload convention from what lands there and compares it byte for byte",
);

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 1a grader's check: tests a file-upload server (any language, any common upload convention).",
    args: "",
    flags: &[
        check::host(),
        check::port("31100"),
        check::TIMEOUT,
        check::JSON,
        Flag::switch(
            "skip-protocol",
            "do not check this workspace's own protocol details (empty file, truncated upload, \
             malformed header); never needed for a student's server to pass",
        ),
        OUTPUT_FILE,
    ],
};

/// ASSIGNMENTS.md: the task of Tugas 1a.
pub const CITE_TRANSFER: &str = "MODIFIKASILAH program client.py dan server.py agar dapat \
MENTRANSFER file dari client ke server";
/// ASSIGNMENTS.md: the client sends the file's content.
pub const CITE_SEND: &str =
    "client.py membaca file.txt, kemudian isi dari file tersebut dikirimkan ke server";
/// ASSIGNMENTS.md: the server writes it to hasil.txt.
pub const CITE_WRITE: &str =
    "Pada server file dibaca, ditampilkan pada konsole, dan ditulis kedalam file hasil.txt";

/// Size of the name field of [`Convention::NameField`].
pub const NAME_FIELD: usize = 1024;
/// Size of the binary file of the `binary` extra.
pub const BINARY_SIZE: usize = 256 * 1024;
/// Most bytes of answer read on one upload's connection.
pub const MAX_ANSWER: usize = 64 * 1024;
/// Most bytes of the output file read back.
pub const MAX_OUTPUT: u64 = 64 * 1024 * 1024;
/// Pause between two looks at the output file.
const POLL: Duration = Duration::from_millis(20);

/// The upload conventions the check recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    /// `FILE <size> <name>\n`, the bytes, an `OK ...` answer.
    Ours,
    /// The bytes alone, then the close.
    Raw,
    /// A first line (the name), then the bytes until the close.
    NameLine,
    /// A [`NAME_FIELD`]-byte name field, then the bytes until the close.
    NameField,
}

impl Convention {
    /// The convention in words, as reported.
    pub fn describe(self) -> String {
        match self {
            Convention::Ours => "this workspace's protocol (FILE <size> <name>\\n, the bytes, \
                                 an OK/ERROR answer)"
                .to_string(),
            Convention::Raw => "raw bytes, then the client closes (no name, no answer)".to_string(),
            Convention::NameLine => {
                "a first line (taken as the file's name), then the bytes until the client closes"
                    .to_string()
            }
            Convention::NameField => format!(
                "the file's name first, in a {NAME_FIELD}-byte block (padded; what a server \
                 reading the name with one recv({NAME_FIELD}) takes), then the bytes until the \
                 client closes"
            ),
        }
    }

    /// What goes before a file's `len` bytes named `name`. A name line is
    /// the line the server was recognised with: our header, which such a
    /// server takes as the name.
    pub fn head(self, name: &str, len: usize) -> Vec<u8> {
        match self {
            Convention::Ours | Convention::NameLine => format!("FILE {len} {name}\n").into_bytes(),
            Convention::Raw => Vec::new(),
            Convention::NameField => {
                let mut field = name.as_bytes().to_vec();
                field.resize(NAME_FIELD, b' ');
                field
            }
        }
    }
}

/// The convention recognised, and whether the server appends to the
/// output file rather than replacing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// How the server takes an upload.
    pub convention: Convention,
    /// It appends each upload to the output file.
    pub appends: bool,
}

impl Found {
    /// What `convention: ...` reports.
    pub fn describe(&self) -> String {
        let mut s = self.convention.describe();
        if self.appends {
            s.push_str("; the server appends each upload to its file");
        }
        s
    }
}

/// The text every test upload starts with (the test's file.txt).
pub fn base_text() -> String {
    let mut s = String::from(
        "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\n\
         isi file.txt untuk Tugas 1a: client.py membaca file ini dan mengirimkannya ke server\n",
    );
    for i in 1..=18 {
        s.push_str(&format!(
            "baris {i:02}: server membaca file, menampilkannya di konsol, dan menulisnya ke hasil.txt\n"
        ));
    }
    s
}

/// The uploads of one check run: each file's content is new, so that what
/// an earlier upload (or an earlier run) left in the output file never
/// passes for the current one.
#[derive(Debug)]
pub struct Uploads {
    run: String,
    count: u32,
}

impl Uploads {
    /// A run with its own mark (time and process).
    pub fn new() -> Uploads {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        Uploads {
            run: format!("{:x}", nanos ^ (u64::from(std::process::id()) << 40)),
            count: 0,
        }
    }

    /// The next test text: [`base_text`] and a last line naming the upload.
    pub fn text(&mut self) -> Vec<u8> {
        self.count += 1;
        format!(
            "{}-- unggahan {} dari check {} --\n",
            base_text(),
            self.count,
            self.run
        )
        .into_bytes()
    }

    /// The next binary file: a line naming the upload, then every byte value.
    pub fn binary(&mut self) -> Vec<u8> {
        self.count += 1;
        let mut data = format!("unggahan {} dari check {}\n", self.count, self.run).into_bytes();
        let pattern = (0..=255u8).rev().cycle();
        data.extend(pattern.take(BINARY_SIZE - data.len()));
        data
    }
}

impl Default for Uploads {
    fn default() -> Uploads {
        Uploads::new()
    }
}

/// The `--output-file` of the check's flags, if given.
pub fn output_file(m: &Matches) -> Option<PathBuf> {
    let v = m.value("output-file");
    (!v.is_empty()).then(|| PathBuf::from(v))
}

/// How an upload's connection ended, seen from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server closed it (FIN).
    Closed,
    /// The server reset it (RST).
    Reset,
    /// It stayed open past the timeout.
    TimedOut,
    /// The server sent more than [`MAX_ANSWER`] bytes.
    TooMuch,
    /// Another error, in words.
    Failed(String),
}

/// What came back on an upload's connection.
#[derive(Debug)]
pub struct Exchange {
    /// The answer bytes (at most [`MAX_ANSWER`] and a little).
    pub answer: Vec<u8>,
    /// How the connection ended.
    pub end: End,
}

impl Exchange {
    /// The first line of the answer starts with `OK`.
    pub fn is_ok(&self) -> bool {
        self.answer.starts_with(b"OK")
    }

    /// The answer, escaped for a report.
    pub fn shown(&self) -> String {
        show(&self.answer, self.answer.len() as u64)
    }
}

/// Sends an upload of `data` named `name` in `convention` (what goes
/// before the bytes, the bytes), then half-closes.
///
/// # Errors
/// The server does not read, or the connection broke.
pub fn send_upload(
    conn: &mut Conn,
    convention: Convention,
    name: &str,
    data: &[u8],
) -> Result<(), Failure> {
    let head = convention.head(name, data.len());
    if !head.is_empty() {
        conn.send(&head, "what goes before the file's bytes")?;
    }
    conn.send(data, "the file's bytes")?;
    conn.finish_sending();
    Ok(())
}

/// Reads what the server sends until it closes or resets the connection,
/// within the timeout (and the budget), at most [`MAX_ANSWER`] bytes; says
/// which of these ended it.
pub fn read_to_close(conn: &Conn, o: &CheckOptions) -> Exchange {
    let deadline = Instant::now() + o.timeout;
    let mut stream: &TcpStream = conn.stream();
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || o.run.budget_spent() {
            return Exchange {
                answer,
                end: End::TimedOut,
            };
        }
        if answer.len() > MAX_ANSWER {
            return Exchange {
                answer,
                end: End::TooMuch,
            };
        }
        let _ = stream.set_read_timeout(Some(left.min(Duration::from_millis(200)).max(POLL)));
        match stream.read(&mut buf) {
            Ok(0) => {
                return Exchange {
                    answer,
                    end: End::Closed,
                }
            }
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                o.run.mark_reached();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) =>
            {
                return Exchange {
                    answer,
                    end: End::Reset,
                }
            }
            Err(e) => {
                return Exchange {
                    answer,
                    end: End::Failed(common::error::io_cause(&e)),
                }
            }
        }
    }
}

/// A failure on `conn` with `reason` and what came back in `ex`.
fn fail_with(conn: &Conn, ex: &Exchange, reason: String) -> Failure {
    let mut f = conn.fail(reason);
    f.got = Some(ex.shown());
    f
}

/// Requires that the upload's connection ended with a close: a reset, a
/// connection left open, or an endless answer fail.
///
/// # Errors
/// Each of those, in words, with what came back.
pub fn ended_cleanly(conn: &Conn, o: &CheckOptions, ex: &Exchange) -> Result<(), Failure> {
    let reason = match &ex.end {
        End::Closed => return Ok(()),
        End::Reset => "the server reset the connection (RST) instead of closing it: it \
                       crashed or exited, or closed the socket with bytes unread"
            .to_string(),
        End::TimedOut if o.run.budget_spent() => format!(
            "{} while waiting for the server to close the connection",
            budget_words(o)
        ),
        End::TimedOut => format!(
            "timed out after {} waiting for the server to close the connection (the client \
             had sent everything and half-closed)",
            check::secs(o.timeout)
        ),
        End::TooMuch => {
            format!("more than {MAX_ANSWER} bytes of answer: the server keeps sending")
        }
        End::Failed(cause) => format!("the connection failed: {cause}"),
    };
    Err(fail_with(conn, ex, reason))
}

fn budget_words(o: &CheckOptions) -> String {
    format!(
        "the check's time budget (--budget {}) was spent",
        check::secs(o.budget)
    )
}

/// The output file's bytes (at most [`MAX_OUTPUT`]), or `None` when it
/// cannot be read (not there yet).
pub fn read_output(path: &Path) -> Option<Vec<u8>> {
    let file = File::open(path).ok()?;
    let mut data = Vec::new();
    file.take(MAX_OUTPUT).read_to_end(&mut data).ok()?;
    Some(data)
}

/// What the output file showed after an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// It became `wants[index]`, or grew by it (`appended`).
    Match {
        /// Which of the wanted contents.
        index: usize,
        /// The old content is still in front of it.
        appended: bool,
    },
    /// It is not there.
    Missing,
    /// It did not change from what it held before the upload.
    Unchanged(Vec<u8>),
    /// It holds something else.
    Other(Vec<u8>),
}

/// Polls `path` until it holds one of `wants` (or, for a server that
/// appends, `before` followed by one), until `--timeout` (and the budget)
/// is over, or until it settled on something no wanted content starts
/// with. `before` is what it held before the upload.
pub fn wait_for_output(
    o: &CheckOptions,
    path: &Path,
    before: Option<&[u8]>,
    wants: &[&[u8]],
) -> Seen {
    let deadline = Instant::now() + o.timeout;
    loop {
        let now = read_output(path);
        if let Some(got) = &now {
            let added = before
                .filter(|b| !b.is_empty() && got.len() > b.len() && got.starts_with(b))
                .map(|b| &got[b.len()..]);
            for (index, want) in wants.iter().enumerate() {
                if got == want {
                    return Seen::Match {
                        index,
                        appended: false,
                    };
                }
                if added == Some(*want) {
                    return Seen::Match {
                        index,
                        appended: true,
                    };
                }
            }
            let changed = before != Some(got.as_slice());
            let growing = wants
                .iter()
                .any(|w| w.starts_with(got) || added.is_some_and(|a| w.starts_with(a)));
            if changed && !growing {
                return Seen::Other(got.clone());
            }
        }
        if Instant::now() >= deadline || o.run.budget_spent() {
            return match now {
                None => Seen::Missing,
                Some(got) if before == Some(got.as_slice()) => Seen::Unchanged(got),
                Some(got) => Seen::Other(got),
            };
        }
        thread::sleep(POLL);
    }
}

/// What the output file held, in words, compared with the nearest of
/// `wants` (each with a label).
fn describe_seen(o: &CheckOptions, path: &Path, seen: &Seen, wants: &[(&str, &[u8])]) -> String {
    let after = format!("(after {})", check::secs(o.timeout));
    match seen {
        Seen::Match { .. } => format!("{} holds what was sent", path.display()),
        Seen::Missing => format!("{} did not appear {after}", path.display()),
        Seen::Unchanged(got) => format!(
            "{} did not change {after}: it still holds {}",
            path.display(),
            show(got, got.len() as u64)
        ),
        Seen::Other(got) => {
            let mut s = format!(
                "{} then held {}",
                path.display(),
                show(got, got.len() as u64)
            );
            let nearest = wants.iter().max_by_key(|(_, w)| common_prefix(w, got));
            if let Some((label, want)) = nearest {
                if let Some(d) = difference(want, got) {
                    s.push_str(&format!(" (as {label}, the file {d})"));
                }
            }
            s
        }
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Recognises the server's convention with a first upload of file.txt's
/// content and confirms that it arrived (the `text-arrives` line): ours
/// (on `first`, the connection of the `connect` line, if it is there),
/// then a name block. See the module doc.
///
/// # Errors
/// Nothing recognised, the file differs, or (no `output`) a server that
/// does not answer our `OK`, which cannot be judged.
pub fn recognise(
    o: &CheckOptions,
    first: Option<Conn>,
    output: Option<&Path>,
    up: &mut Uploads,
) -> Result<Found, Failure> {
    let text = up.text();
    let before = output.and_then(read_output);
    let mut conn = match first {
        Some(conn) => conn,
        None => o.connect()?,
    };
    send_upload(&mut conn, Convention::Ours, "file.txt", &text)?;
    let ex = read_to_close(&conn, o);
    let Some(path) = output else {
        if ex.is_ok() {
            return Ok(Found {
                convention: Convention::Ours,
                appends: false,
            });
        }
        return Err(fail_with(
            &conn,
            &ex,
            format!(
                "not judged: the server did not answer this workspace's 'OK ...' (it got \
                 'FILE <size> <name>\\n' and the text and answered {}), and the file it writes \
                 cannot be seen from the network: give --output-file PATH (that file, e.g. its \
                 hasil.txt) to recognise its convention and compare the file byte for byte",
                ex.shown()
            ),
        ));
    };
    let head = Convention::Ours.head("file.txt", text.len());
    let raw: Vec<u8> = [head.as_slice(), &text].concat();
    let seen = wait_for_output(o, path, before.as_deref(), &[&text, &raw]);
    if ex.is_ok() {
        return match seen {
            Seen::Match { index: 0, appended } => Ok(Found {
                convention: Convention::Ours,
                appends: appended,
            }),
            seen => Err(fail_with(
                &conn,
                &ex,
                format!(
                    "the server answered OK but {}",
                    describe_seen(o, path, &seen, &[("the text sent", &text)])
                ),
            )),
        };
    }
    match seen {
        Seen::Match { index: 1, appended } => {
            return Ok(Found {
                convention: Convention::Raw,
                appends: appended,
            })
        }
        Seen::Match { appended, .. } => {
            // The first line was taken as the name. A server that reads the
            // name with one recv(1024) does that too when the line came in a
            // segment of its own, and takes a 1024-byte field whatever the
            // timing: prefer that when it works.
            drop(conn);
            let field = field_probe(o, path, up).ok();
            return Ok(match field {
                Some(appends) => Found {
                    convention: Convention::NameField,
                    appends,
                },
                None => Found {
                    convention: Convention::NameLine,
                    appends: appended,
                },
            });
        }
        _ => {}
    }
    let first_try = format!(
        "sent 'FILE <size> file.txt\\n' and the text, got back {}, and {}",
        ex.shown(),
        describe_seen(
            o,
            path,
            &seen,
            &[("raw bytes", &raw), ("a name line and the bytes", &text)]
        )
    );
    let mut sent_first = conn.fail("");
    sent_first.got = Some(ex.shown());
    drop(conn);
    // A name field: the first try went to it as part of the name.
    match field_probe(o, path, up) {
        Ok(appends) => Ok(Found {
            convention: Convention::NameField,
            appends,
        }),
        Err(second_try) => Err(Failure {
            reason: format!("no upload convention recognised: {first_try}; {second_try}"),
            ..sent_first
        }),
    }
}

/// Uploads a new text after a [`NAME_FIELD`]-byte name field; `Ok(appends)`
/// when the output file then holds it (appended or not), else what
/// happened, in words.
fn field_probe(o: &CheckOptions, path: &Path, up: &mut Uploads) -> Result<bool, String> {
    let text = up.text();
    let before = read_output(path);
    let tried = format!("sent a {NAME_FIELD}-byte name block and the text");
    let mut conn = o.connect().map_err(|f| format!("{tried}: {}", f.reason))?;
    send_upload(&mut conn, Convention::NameField, "file.txt", &text)
        .map_err(|f| format!("{tried}: {}", f.reason))?;
    let ex = read_to_close(&conn, o);
    match wait_for_output(o, path, before.as_deref(), &[&text]) {
        Seen::Match { appended, .. } => Ok(appended),
        seen => Err(format!(
            "{tried}, got back {}, and {}",
            ex.shown(),
            describe_seen(o, path, &seen, &[("a name block and the bytes", &text)])
        )),
    }
}

/// Uploads `data` as `name` in `found`'s convention on a new connection
/// and requires that it arrived: our protocol's `OK`, and with `output` the
/// file holding exactly `data`.
///
/// # Errors
/// No `OK` (ours), or the file not becoming `data`.
pub fn upload_arrives(
    o: &CheckOptions,
    found: Found,
    output: Option<&Path>,
    name: &str,
    data: &[u8],
) -> Result<(), Failure> {
    let before = output.and_then(read_output);
    let mut conn = o.connect()?;
    send_upload(&mut conn, found.convention, name, data)?;
    let ex = read_to_close(&conn, o);
    if found.convention == Convention::Ours && !ex.is_ok() {
        return Err(fail_with(
            &conn,
            &ex,
            format!("expected 'OK ...', got {}", ex.shown()),
        ));
    }
    let Some(path) = output else {
        return Ok(());
    };
    match wait_for_output(o, path, before.as_deref(), &[data]) {
        Seen::Match { .. } => Ok(()),
        seen => Err(fail_with(
            &conn,
            &ex,
            describe_seen(o, path, &seen, &[("what was sent", data)]),
        )),
    }
}

/// The reason of a line that needs a recognised convention.
fn not_judged() -> Failure {
    Failure::new(
        "not judged: no upload convention was recognised (see the file.txt line; without \
         --output-file only this workspace's protocol can be)",
    )
}

/// Adds to a failure on `what`, a step after an upload the server took,
/// that the server died or stopped listening (when it refused).
fn after_uploads(mut f: Failure, what: &str) -> Failure {
    if f.reason.starts_with("cannot connect") {
        f.reason = format!(
            "{} (on {what}, after the server had taken an upload in this check: it died \
             or stopped listening)",
            f.reason
        );
    }
    f
}

/// Runs every Tugas 1a requirement against the server of `c`'s options,
/// without an output file: only our protocol can be judged.
pub fn run(c: &mut Checker) {
    run_with(c, None);
}

/// Runs every Tugas 1a requirement; `output` is the file the server writes
/// (`--output-file`), for any upload convention.
pub fn run_with(c: &mut Checker, output: Option<PathBuf>) {
    let output = output.as_deref();
    let skip_ours = c.options().skip_protocol;
    c.note(
        "upload conventions recognised: this workspace's protocol, by its 'OK' answer; with \
         --output-file, from what lands in the file: raw bytes then close, a name line first, \
         a 1024-byte name block first; the console (ditampilkan pada konsole) cannot be seen \
         from the network: look at the server's console",
    );
    match output {
        None => c.note(
            "no --output-file: only a server that answers this workspace's 'OK' can be judged; \
             for any other give --output-file PATH (the file it writes, e.g. its hasil.txt)",
        ),
        Some(path) => c.note(format!(
            "the check's uploads overwrite {} (or add to it)",
            path.display()
        )),
    }
    let mut up = Uploads::new();
    let mut first: Option<Conn> = None;
    c.require(
        "connect",
        "server accepts a TCP connection",
        CITE_TRANSFER,
        |o| {
            // Kept for the first upload: a server that takes one client
            // and exits is still judged on that upload.
            first = Some(o.connect()?);
            Ok(())
        },
    );
    let where_to = match output {
        Some(path) => format!("arrives byte for byte in {}", path.display()),
        None => "is confirmed by the server's 'OK' (--output-file PATH compares the file itself)"
            .to_string(),
    };
    let mut found: Option<Found> = None;
    c.require(
        "text-arrives",
        format!("file.txt's content, sent to the server, {where_to}"),
        CITE_WRITE,
        |o| {
            found = Some(recognise(o, first.take(), output, &mut up)?);
            Ok(())
        },
    );
    if let Some(f) = &found {
        c.convention(f.describe());
    }
    c.require(
        "finishes",
        "an upload's connection ends cleanly once the client has sent everything (the server \
         closes it, no reset) and the server keeps running (the next upload finishes too)",
        CITE_SEND,
        |o| {
            // Unknown convention: raw bytes, which every kind of server takes.
            let convention = found.map_or(Convention::Raw, |f| f.convention);
            let step = |o: &CheckOptions, up: &mut Uploads| {
                let mut conn = o.connect()?;
                send_upload(&mut conn, convention, "file.txt", &up.text())?;
                let ex = read_to_close(&conn, o);
                ended_cleanly(&conn, o, &ex)
            };
            step(o, &mut up).map_err(|f| match found {
                Some(_) => after_uploads(f, "this upload"),
                None => f,
            })?;
            step(o, &mut up).map_err(|f| after_uploads(f, "the next upload"))
        },
    );
    c.extra(
        "binary",
        format!(
            "a binary file with every byte value ({} KiB) {where_to}",
            BINARY_SIZE / 1024
        ),
        |o| {
            let f = found.ok_or_else(not_judged)?;
            upload_arrives(o, f, output, "data.bin", &up.binary())
        },
    );
    let ours = found.is_some_and(|f| f.convention == Convention::Ours);
    if ours && skip_ours {
        c.note("--skip-protocol: this workspace's protocol details are not checked");
    }
    if ours && !skip_ours {
        let empty = match output {
            Some(path) => format!(
                "an upload of an empty file gets OK and empties {}",
                path.display()
            ),
            None => "an upload of an empty file gets OK".to_string(),
        };
        c.extra("empty", empty, |o| {
            let f = found.ok_or_else(not_judged)?;
            upload_arrives(o, f, output, "kosong.txt", b"")
        });
        c.extra(
            "truncated",
            "a truncated upload (fewer bytes than announced) gets ERROR or a close, never OK",
            |o| {
                let mut conn = o.connect()?;
                conn.send(b"FILE 1000 potong.txt\n", "the header")?;
                conn.send(&[b'x'; 100], "100 of the 1000 bytes")?;
                conn.finish_sending();
                expect_refusal_answer(&mut conn, true)
            },
        );
        c.extra(
            "malformed-header",
            "a malformed header gets ERROR or a close",
            |o| {
                let mut conn = o.connect()?;
                conn.send(b"HALO \x01\xff bukan header\n", "a malformed header")?;
                conn.finish_sending();
                expect_refusal_answer(&mut conn, true)
            },
        );
    }
    c.extra(
        "after-broken",
        format!(
            "keeps serving after a broken upload (a client that leaves in the middle): the next \
             file.txt {where_to}"
        ),
        |o| {
            let f = found.ok_or_else(not_judged)?;
            let text = up.text();
            let mut conn = o.connect()?;
            if f.convention == Convention::Ours {
                conn.send(b"FILE 1000 potong.txt\n", "the header")?;
                conn.send(&[b'x'; 100], "100 of the 1000 bytes")?;
                conn.finish_sending();
                let _ = read_to_close(&conn, o);
            } else {
                // What goes first and half of the bytes, then the client is gone.
                conn.send(
                    &f.convention.head("potong.txt", text.len()),
                    "what goes before the file's bytes",
                )?;
                conn.send(&text[..text.len() / 2], "half of the file's bytes")?;
                // Gone: to these servers a close is the end of the file, so
                // wait until the server is done with it.
                conn.finish_sending();
                let _ = read_to_close(&conn, o);
            }
            drop(conn);
            upload_arrives(o, f, output, "file.txt", &up.text())
                .map_err(|f| after_uploads(f, "the upload after the broken one"))
        },
    );
}
