//! Conformance checkers: test anyone's server against an assignment.
//!
//! Graders grade servers written in Python, Java or anything else. Each
//! assignment crate has a `check` program built on this module:
//!
//! ```text
//! cargo run -p tugas1 --bin check -- --host 10.0.0.5 --port 31000
//! ```
//!
//! It connects to the server, tries what the assignment asks, and prints one
//! line per requirement, then a summary alone on the last line:
//!
//! ```text
//! PASS  server on port 31000 echoes "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA"
//! FAIL  two clients at once: the second is answered while the first stays connected: timed out after 5s waiting for the echo on the second connection (the first is still open) (sent "klien kedua", got nothing)
//! 1 passed, 1 failed
//! ```
//!
//! `--json` prints the same as one JSON object ([`Report`]) for grading
//! scripts. The program exits 0 only when every requirement passed (1
//! otherwise, 2 for a bad flag).
//!
//! # Never hang, never crash
//!
//! A student's server may send nothing, close at once, stream garbage
//! forever or reset the connection. Every network step here goes through a
//! [`Conn`], whose reads have a byte cap and a deadline (`--timeout`, 5 s by
//! default, per step) and whose writes have a timeout: a hostile server
//! becomes a `FAIL` naming what the check was waiting for, never a hang, a
//! crash or unbounded memory. A check that panics (a bug in the checker)
//! is reported as a `FAIL` too.
//!
//! # Writing a check
//!
//! A check program is a list of requirements in order of importance, each
//! a closure that returns `Ok(())` or a [`Failure`]. [`Conn`] methods return
//! failures that already carry the reason and what was sent and received,
//! so `?` is usually all a check needs:
//!
//! ```
//! use common::check::{CheckOptions, Checker, Failure};
//!
//! /// The requirements of a tiny "say hello" assignment.
//! pub fn run(c: &mut Checker) {
//!     c.check("server answers HELLO with WORLD", |o| {
//!         let mut conn = o.connect()?;                       // FAIL: cannot connect ...
//!         conn.send(b"HELLO\n", "the request")?;             // FAIL: timed out sending ...
//!         let line = conn.recv_line(1024, "the answer line")?; // FAIL: timed out waiting for ...
//!         if line != "WORLD" {
//!             return Err(conn.fail(format!("expected WORLD, got {line:?}")));
//!         }
//!         Ok(())
//!     });
//!     // Skipped under --skip-protocol: for what a student may design differently.
//!     c.protocol_check("server answers BYE with OK", |o| {
//!         let mut conn = o.connect()?;
//!         conn.send(b"BYE\n", "the request")?;
//!         conn.expect_line_starting("OK", 1024, "the answer")?;
//!         Ok(())
//!     });
//! }
//!
//! // A test runs it against a server (here: nothing listens on the port).
//! let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
//! let mut c = Checker::new(CheckOptions::local(port, std::time::Duration::from_millis(300)));
//! run(&mut c);
//! let report = c.finish();
//! assert_eq!((report.passed, report.failed), (0, 2));
//! assert!(report.requirements[0].reason.as_deref().unwrap().contains("cannot connect"));
//! ```
//!
//! The `check` binary of a crate is then:
//!
//! ```no_run
//! use common::check;
//! use common::cli::Command;
//!
//! const CHECK: Command = Command {
//!     name: "check",
//!     about: "checks a hello server",
//!     args: "",
//!     flags: &[check::host(), check::port("4000"), check::TIMEOUT, check::JSON, check::SKIP_PROTOCOL],
//! };
//!
//! fn main() -> std::process::ExitCode {
//!     check::main(&CHECK, |c, _m| {
//!         c.check("server accepts a connection", |o| o.connect().map(drop));
//!         Ok(())
//!     })
//! }
//! ```
//!
//! # The toolbox
//!
//! - [`CheckOptions::connect`] / [`CheckOptions::connect_port`]: a [`Conn`]
//!   within the timeout (TCP_NODELAY set, so small sends leave at once).
//! - Sending: [`Conn::send`], [`Conn::send_in_pieces`] (separate TCP
//!   segments, to catch servers that assume one `recv` is one message),
//!   [`Conn::finish_sending`] (half-close), [`Conn::exchange`] (send and read
//!   back at the same time, for large echoes).
//! - Reading, each with a deadline and a cap: [`Conn::recv_exact`],
//!   [`Conn::recv_until`] (e.g. `b"\r\n\r\n"` for an HTTP head or a Tugas 4
//!   message), [`Conn::recv_line`], [`Conn::expect_line_starting`],
//!   [`Conn::recv_to_end`] / [`Conn::expect_close`]. Bytes read past a
//!   delimiter are kept for the next read, so a head and its body can be
//!   read in two steps.
//! - Judging: [`difference`] ("differs at byte 3 of 38 ..."), [`Conn::fail`]
//!   (a reason plus this connection's transcript), [`Failure::new`] (a
//!   reason alone), [`show`] (bytes escaped and shortened for a report).
//! - UDP (Tugas 2): [`CheckOptions::udp`] gives a [`UdpPeer`] with
//!   [`UdpPeer::send`] and [`UdpPeer::recv`] (deadline and size cap too).
//! - Requirements on several connections at once: open them, then read them
//!   on `std::thread::scope` threads; a [`Conn`] is `Send`.
//!
//! # Testing a check
//!
//! In the crate's `tests/check.rs`: start the crate's own server in-process
//! on `127.0.0.1:0` and require [`Report::all_passed`]; then write small
//! broken servers in the test (one that sends nothing, closes at once,
//! answers wrongly, streams garbage forever, serves one client at a time)
//! and require that [`Report::failures`] names exactly the requirement that
//! should fail, with a short timeout (300 ms) so the test stays fast.
//! `common::testkit::check` (feature `testkit`) has what those tests share: broken servers on a free port
//! (`fake_server`, one connection at a time, holding, silent),
//! a port where nothing listens, the short and patient timeouts, and
//! running a check into a [`Report`]. `tugas1/tests/check.rs` is an example.
//!
//! # Protocol checks
//!
//! Protocol-level requirements (our own `FILE`/`GET` format of Tugas 1a,
//! 1b, 3, the JSON protocol of Tugas 4) go through
//! [`Checker::protocol_check`]: with `--skip-protocol` they are listed as
//! `SKIP` and neither pass nor fail, for a student whose own protocol design
//! legitimately differs. The download checks shared by Tugas 1b and 3 are in
//! [`transfer`]; reading HTTP responses (Tugas 6 and 8) is in [`http`].

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "transfer")]
pub mod transfer;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{CliError, Command, Flag, Matches};
use crate::error::{io_cause, run_main, AppError, MainError, EXIT_FAILURE};
use crate::net::{join_host_port, resolve};

/// `--host HOST` of a check program: the server to check.
pub const fn host() -> Flag {
    Flag::value("host", "HOST", "127.0.0.1", "the server to check")
}

/// `--port PORT` of a check program, defaulting to the assignment's port.
pub const fn port(default: &'static str) -> Flag {
    Flag::value("port", "PORT", default, "the server's port")
}

/// `--timeout SECS`: how long each step may wait (default 5 s).
pub const TIMEOUT: Flag = Flag::value(
    "timeout",
    "SECS",
    "5",
    "give up on each step (connect, send, each answer) after this many seconds",
);

/// `--json`: print the report as one JSON object instead of lines.
pub const JSON: Flag = Flag::switch("json", "print the results as JSON (for grading scripts)");

/// `--skip-protocol`: skip requirements that assume this workspace's protocol.
pub const SKIP_PROTOCOL: Flag = Flag::switch(
    "skip-protocol",
    "skip the checks that assume this workspace's own protocol",
);

/// Longest rendering of sent or received bytes in a report (characters).
pub const SHOW_CHARS: usize = 120;

/// Bytes of each direction a [`Conn`] keeps for the report.
const KEEP: usize = 512;

/// What to check and how patiently.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Host name or IP of the server.
    pub host: String,
    /// The server's ports (the first is the main one; `--port` may repeat).
    pub ports: Vec<u16>,
    /// Deadline of every step.
    pub timeout: Duration,
    /// Print JSON instead of lines.
    pub json: bool,
    /// Skip [`Checker::protocol_check`] requirements.
    pub skip_protocol: bool,
}

impl CheckOptions {
    /// Options for a server on 127.0.0.1 (tests).
    pub fn local(port: u16, timeout: Duration) -> CheckOptions {
        CheckOptions {
            host: "127.0.0.1".to_string(),
            ports: vec![port],
            timeout,
            json: false,
            skip_protocol: false,
        }
    }

    /// Options from the flags of `cmd` (those of [`host`], [`port`] (repeatable,
    /// or comma-separated: `--port 31000,31001`),
    /// [`TIMEOUT`], and [`JSON`]/[`SKIP_PROTOCOL`] if declared).
    ///
    /// # Errors
    /// A bad port or timeout (usage error, exit 2).
    pub fn from_matches(cmd: &Command, m: &Matches) -> Result<CheckOptions, MainError> {
        let declared = |name: &str| cmd.flags.iter().any(|f| f.name == name);
        let mut ports = Vec::new();
        for value in m.values("port") {
            for one in value.split(',').filter(|p| !p.trim().is_empty()) {
                ports.push(one.trim().parse::<u16>().map_err(|_| {
                    CliError::Usage(format!("invalid value '{value}' for --port (try --help)"))
                })?);
            }
        }
        Ok(CheckOptions {
            host: m.value("host").to_string(),
            ports,
            timeout: m.timeout()?,
            json: declared("json") && m.is_set("json"),
            skip_protocol: declared("skip-protocol") && m.is_set("skip-protocol"),
        })
    }

    /// The main port (the first `--port`).
    pub fn port(&self) -> u16 {
        self.ports.first().copied().unwrap_or(0)
    }

    /// `host:port` of the main port.
    pub fn target(&self) -> String {
        join_host_port(&self.host, self.port())
    }

    /// Connects to the main port within the timeout.
    ///
    /// # Errors
    /// A [`Failure`] saying why ("connection refused", "timed out").
    pub fn connect(&self) -> Result<Conn, Failure> {
        self.connect_port(self.port())
    }

    /// A UDP socket bound to a free local port and connected to the main
    /// port, for datagram assignments (Tugas 2).
    ///
    /// # Errors
    /// A [`Failure`] if the host does not resolve or no socket can be made.
    pub fn udp(&self) -> Result<UdpPeer, Failure> {
        UdpPeer::connect(&self.host, self.port(), self.timeout)
    }

    /// Connects to `port` on the host within the timeout.
    ///
    /// # Errors
    /// A [`Failure`] saying why.
    pub fn connect_port(&self, port: u16) -> Result<Conn, Failure> {
        Conn::connect(&self.host, port, self.timeout)
    }
}

/// Why a requirement failed: the reason, and what was sent and received
/// (already shortened and escaped, see [`show`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong, in words ("timed out after 5s waiting for ...").
    pub reason: String,
    /// What the check sent on the connection involved, if any.
    pub sent: Option<String>,
    /// What the check received on it, if any.
    pub got: Option<String>,
}

impl Failure {
    /// A failure with a reason and no transcript.
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            sent: None,
            got: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        match (&self.sent, &self.got) {
            (None, None) => Ok(()),
            (Some(s), None) => write!(f, " (sent {s})"),
            (None, Some(g)) => write!(f, " (got {g})"),
            (Some(s), Some(g)) => write!(f, " (sent {s}, got {g})"),
        }
    }
}

/// How a requirement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The server did what the requirement asks.
    Pass,
    /// It did not (see the reason).
    Fail,
    /// Not tried (`--skip-protocol`).
    Skip,
}

/// One requirement's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The requirement, in the course's wording where it has one.
    pub requirement: String,
    /// Pass, fail or skip.
    pub status: Status,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// What was sent (shortened), for a failure.
    pub sent: Option<String>,
    /// What was received (shortened), for a failure.
    pub got: Option<String>,
    /// How long the check took, in milliseconds.
    pub millis: u64,
}

impl Outcome {
    /// The requirement's line: `PASS  ...`, `FAIL  ...: reason (sent ..., got ...)`.
    pub fn line(&self) -> String {
        match self.status {
            Status::Pass => format!("PASS  {}", self.requirement),
            Status::Fail | Status::Skip => {
                let tag = if self.status == Status::Fail {
                    "FAIL"
                } else {
                    "SKIP"
                };
                let failure = Failure {
                    reason: self.reason.clone().unwrap_or_default(),
                    sent: self.sent.clone(),
                    got: self.got.clone(),
                };
                format!("{tag}  {}: {failure}", self.requirement)
            }
        }
    }
}

/// Every requirement's result, in the order they were checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `host:port` of the server checked.
    pub target: String,
    /// Remarks printed before the results (e.g. which protocol is assumed).
    pub notes: Vec<String>,
    /// The results.
    pub requirements: Vec<Outcome>,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
    /// How many were skipped.
    pub skipped: usize,
}

impl Report {
    /// True when nothing failed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }

    /// The summary line, `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }

    /// The outcome of the requirement whose name contains `needle` (tests).
    pub fn find(&self, needle: &str) -> Option<&Outcome> {
        self.requirements
            .iter()
            .find(|o| o.requirement.contains(needle))
    }

    /// Names of the requirements that failed (tests).
    pub fn failures(&self) -> Vec<&str> {
        self.requirements
            .iter()
            .filter(|o| o.status == Status::Fail)
            .map(|o| o.requirement.as_str())
            .collect()
    }

    /// The whole report as text: notes, one line per requirement, summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        for o in &self.requirements {
            out.push_str(&o.line());
            out.push('\n');
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Runs requirements one after another and records their outcomes.
pub struct Checker {
    opts: CheckOptions,
    report: Report,
    live: Option<Box<dyn Write>>,
}

impl Checker {
    /// A checker that prints nothing until asked (tests read [`Checker::finish`]).
    pub fn new(opts: CheckOptions) -> Checker {
        let target = opts.target();
        Checker {
            opts,
            report: Report {
                target,
                notes: Vec::new(),
                requirements: Vec::new(),
                passed: 0,
                failed: 0,
                skipped: 0,
            },
            live: None,
        }
    }

    /// Prints each note and requirement line to `out` as soon as it is known
    /// (a grader watching a slow server sees progress).
    pub fn print_live(&mut self, out: Box<dyn Write>) {
        self.live = Some(out);
    }

    /// The options the checks use.
    pub fn options(&self) -> &CheckOptions {
        &self.opts
    }

    /// Records a remark shown before the results, e.g. the protocol assumed.
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.emit(&format!("note: {text}"));
        self.report.notes.push(text);
    }

    /// Checks one requirement: `PASS` if `f` returns `Ok`, `FAIL` with the
    /// failure's reason and transcript otherwise (a panic counts as a failure).
    pub fn check<F>(&mut self, requirement: impl Into<String>, f: F)
    where
        F: FnOnce(&CheckOptions) -> Result<(), Failure>,
    {
        let requirement = requirement.into();
        let start = Instant::now();
        let result = match catch_unwind(AssertUnwindSafe(|| f(&self.opts))) {
            Ok(r) => r,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown".to_string());
                Err(Failure::new(format!("the checker itself failed: {what}")))
            }
        };
        let millis = start.elapsed().as_millis() as u64;
        let outcome = match result {
            Ok(()) => Outcome {
                requirement,
                status: Status::Pass,
                reason: None,
                sent: None,
                got: None,
                millis,
            },
            Err(f) => Outcome {
                requirement,
                status: Status::Fail,
                reason: Some(f.reason),
                sent: f.sent,
                got: f.got,
                millis,
            },
        };
        self.record(outcome);
    }

    /// Like [`Checker::check`] for a requirement that assumes this
    /// workspace's own protocol: listed as `SKIP` under `--skip-protocol`.
    pub fn protocol_check<F>(&mut self, requirement: impl Into<String>, f: F)
    where
        F: FnOnce(&CheckOptions) -> Result<(), Failure>,
    {
        if self.opts.skip_protocol {
            self.record(Outcome {
                requirement: requirement.into(),
                status: Status::Skip,
                reason: Some("assumes this workspace's protocol (--skip-protocol)".to_string()),
                sent: None,
                got: None,
                millis: 0,
            });
        } else {
            self.check(requirement, f);
        }
    }

    /// The results so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Ends the run and returns the report.
    pub fn finish(self) -> Report {
        self.report
    }

    fn record(&mut self, outcome: Outcome) {
        match outcome.status {
            Status::Pass => self.report.passed += 1,
            Status::Fail => self.report.failed += 1,
            Status::Skip => self.report.skipped += 1,
        }
        self.emit(&outcome.line());
        self.report.requirements.push(outcome);
    }

    fn emit(&mut self, line: &str) {
        if let Some(out) = self.live.as_mut() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// The body of every `check` binary: parses the flags of `cmd` (logging,
/// `--help`, usage errors as in [`run_main`]), runs `body` on a
/// [`Checker`], prints the lines (live) or the JSON, and exits 0 only if
/// every requirement passed, 1 otherwise.
pub fn main<F>(cmd: &Command, body: F) -> ExitCode
where
    F: FnOnce(&mut Checker, &Matches) -> Result<(), MainError>,
{
    let mut all_passed = true;
    let code = run_main(cmd, |m| {
        let opts = CheckOptions::from_matches(cmd, &m)?;
        if opts.ports.is_empty() {
            return Err(AppError::new("nothing to check", "no --port given").into());
        }
        let json = opts.json;
        let mut checker = Checker::new(opts);
        if !json {
            checker.print_live(Box::new(io::stdout()));
        }
        body(&mut checker, &m)?;
        let report = checker.finish();
        let mut out = io::stdout().lock();
        if json {
            let _ = writeln!(out, "{}", report.json());
        } else {
            let _ = writeln!(out, "{}", report.summary());
        }
        let _ = out.flush();
        all_passed = report.all_passed();
        Ok(())
    });
    if all_passed {
        code
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}

/// Bytes for a report: printable ASCII as is, `\r`, `\n`, `\t`, `\\`, `\"`
/// escaped, anything else as `\xNN`; in double quotes, cut to about
/// [`SHOW_CHARS`] characters with the full size after a cut; `nothing` for
/// no bytes. `total` is the real size when `bytes` is only its beginning.
pub fn show(bytes: &[u8], total: u64) -> String {
    if total == 0 {
        return "nothing".to_string();
    }
    let mut out = String::from("\"");
    let mut cut = false;
    for &b in bytes {
        if out.len() >= SHOW_CHARS {
            cut = true;
            break;
        }
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    if cut || (bytes.len() as u64) < total {
        out.push_str(&format!("... ({total} bytes)"));
    }
    out
}

/// The first position where `got` differs from `want`, in words:
/// "differs at byte 3 of 38" or "is 10 bytes long instead of 38".
pub fn difference(want: &[u8], got: &[u8]) -> Option<String> {
    if want == got {
        return None;
    }
    match want.iter().zip(got).position(|(a, b)| a != b) {
        Some(i) => Some(format!(
            "differs at byte {i} of {} (expected {}, got {})",
            want.len(),
            show(&want[i..(i + 1)], 1),
            show(&got[i..(i + 1)], 1)
        )),
        None => Some(format!(
            "is {} bytes long instead of {}",
            got.len(),
            want.len()
        )),
    }
}

/// The beginning of one direction of a connection, kept for the report.
#[derive(Debug, Default, Clone)]
struct Log {
    head: Vec<u8>,
    total: u64,
}

impl Log {
    fn add(&mut self, bytes: &[u8]) {
        let room = KEEP.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.total += bytes.len() as u64;
    }

    fn show(&self) -> String {
        show(&self.head, self.total)
    }
}

/// A connection to the server under check: every read is bounded in bytes
/// and time, every write in time, and everything sent and received is kept
/// (its beginning) for the report.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    timeout: Duration,
    /// Bytes read past the end of the last message asked for.
    pending: Vec<u8>,
    sent: Log,
    got: Log,
}

/// How one bounded read ended.
enum Chunk {
    Data(usize),
    Closed,
}

impl Conn {
    /// Connects within `timeout` (the timeout of every later step too).
    ///
    /// # Errors
    /// A [`Failure`]: "cannot connect to H:P: connection refused" and the like.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Conn, Failure> {
        let target = join_host_port(host, port);
        let addrs = resolve(host, port)
            .map_err(|e| Failure::new(format!("cannot connect to {target}: {}", io_cause(&e))))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Conn {
                        stream,
                        timeout,
                        pending: Vec::new(),
                        sent: Log::default(),
                        got: Log::default(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        let cause = last
            .map(|e| {
                if is_timeout(&e) {
                    format!("no answer within {}", secs(timeout))
                } else {
                    io_cause(&e)
                }
            })
            .unwrap_or_else(|| "no address".to_string());
        Err(Failure::new(format!("cannot connect to {target}: {cause}")))
    }

    /// The underlying stream (for socket options a check needs).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// A failure with `reason` and this connection's transcript.
    pub fn fail(&self, reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            sent: (self.sent.total > 0).then(|| self.sent.show()),
            got: Some(self.got.show()),
        }
    }

    /// Everything received so far (its first bytes), escaped for a report.
    pub fn received(&self) -> String {
        self.got.show()
    }

    /// Sends all of `data` within the timeout; `what` names it in a failure.
    ///
    /// # Errors
    /// A timeout (the server is not reading) or a closed connection.
    pub fn send(&mut self, data: &[u8], what: &str) -> Result<(), Failure> {
        self.stream
            .set_write_timeout(Some(self.timeout))
            .map_err(|e| self.fail(format!("cannot send {what}: {}", io_cause(&e))))?;
        self.sent.add(data);
        match self.stream.write_all(data) {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) => Err(self.fail(format!(
                "timed out after {} sending {what} (the server does not read)",
                secs(self.timeout)
            ))),
            Err(e) => Err(self.fail(format!("cannot send {what}: {}", io_cause(&e)))),
        }
    }

    /// Sends `data` in pieces of `piece` bytes with `pause` between them, so
    /// they travel as separate TCP segments (a server must not assume one
    /// `recv` gets a whole message).
    ///
    /// # Errors
    /// As [`Conn::send`].
    pub fn send_in_pieces(
        &mut self,
        data: &[u8],
        piece: usize,
        pause: Duration,
        what: &str,
    ) -> Result<(), Failure> {
        for (i, part) in data.chunks(piece.max(1)).enumerate() {
            if i > 0 {
                thread::sleep(pause);
            }
            self.send(part, what)?;
        }
        Ok(())
    }

    /// Tells the server nothing more will be sent (TCP half-close); reading
    /// still works.
    pub fn finish_sending(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// One read with the time left until `deadline`.
    fn read_chunk(
        &mut self,
        buf: &mut [u8],
        deadline: Instant,
        what: &str,
    ) -> Result<Chunk, Failure> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timed_out(what));
            }
            let _ = self
                .stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match self.stream.read(buf) {
                Ok(0) => return Ok(Chunk::Closed),
                Ok(n) => {
                    self.got.add(&buf[..n]);
                    return Ok(Chunk::Data(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => {
                    return Err(self.fail(format!(
                        "connection failed while waiting for {what}: {}",
                        io_cause(&e)
                    )))
                }
            }
        }
    }

    fn timed_out(&self, what: &str) -> Failure {
        self.fail(format!(
            "timed out after {} waiting for {what}",
            secs(self.timeout)
        ))
    }

    /// Reads exactly `n` bytes within the timeout.
    ///
    /// # Errors
    /// A timeout or a close before `n` bytes, saying how many came.
    pub fn recv_exact(&mut self, n: usize, what: &str) -> Result<Vec<u8>, Failure> {
        let deadline = Instant::now() + self.timeout;
        let mut out = std::mem::take(&mut self.pending);
        if out.len() >= n {
            self.pending = out.split_off(n);
            return Ok(out);
        }
        out.reserve((n - out.len()).min(1 << 20));
        let mut buf = vec![0u8; 64 * 1024];
        while out.len() < n {
            let want = (n - out.len()).min(buf.len());
            match self.read_chunk(&mut buf[..want], deadline, what) {
                Ok(Chunk::Data(k)) => out.extend_from_slice(&buf[..k]),
                Ok(Chunk::Closed) => {
                    return Err(self.fail(format!(
                        "the server closed the connection after {} of {n} bytes of {what}",
                        out.len()
                    )))
                }
                Err(mut f) => {
                    if !out.is_empty() {
                        f.reason = format!("{} (got {} of {n} bytes)", f.reason, out.len());
                    }
                    return Err(f);
                }
            }
        }
        Ok(out)
    }

    /// Reads up to and without `delim`, at most `cap` bytes, within the timeout.
    ///
    /// # Errors
    /// A timeout, a close first, or `cap` bytes without the delimiter.
    pub fn recv_until(&mut self, delim: &[u8], cap: usize, what: &str) -> Result<Vec<u8>, Failure> {
        let deadline = Instant::now() + self.timeout;
        let mut data = std::mem::take(&mut self.pending);
        let mut buf = [0u8; 16 * 1024];
        let mut scanned: usize = 0;
        loop {
            let from = scanned.saturating_sub(delim.len().saturating_sub(1));
            if let Some(i) = crate::framing::find(&data[from..], delim) {
                let end = from + i;
                self.pending = data.split_off(end + delim.len());
                data.truncate(end);
                return Ok(data);
            }
            scanned = data.len();
            if data.len() > cap {
                return Err(self.fail(format!(
                    "no {} in the first {cap} bytes of {what}",
                    show(delim, delim.len() as u64)
                )));
            }
            let room = (cap + delim.len() - data.len()).min(buf.len()).max(1);
            match self.read_chunk(&mut buf[..room], deadline, what)? {
                Chunk::Data(k) => data.extend_from_slice(&buf[..k]),
                Chunk::Closed if data.is_empty() => {
                    return Err(self.fail(format!(
                        "the server closed the connection without sending {what}"
                    )))
                }
                Chunk::Closed => {
                    return Err(self.fail(format!(
                        "the server closed the connection in the middle of {what} (no {})",
                        show(delim, delim.len() as u64)
                    )))
                }
            }
        }
    }

    /// Reads one line (ending in `\n`; a `\r` before it is dropped) of at
    /// most `cap` bytes; invalid UTF-8 is replaced.
    ///
    /// # Errors
    /// As [`Conn::recv_until`].
    pub fn recv_line(&mut self, cap: usize, what: &str) -> Result<String, Failure> {
        let mut line = self.recv_until(b"\n", cap, what)?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Reads a line and requires it to start with `prefix`; returns the line.
    ///
    /// # Errors
    /// As [`Conn::recv_line`], or a line that starts otherwise.
    pub fn expect_line_starting(
        &mut self,
        prefix: &str,
        cap: usize,
        what: &str,
    ) -> Result<String, Failure> {
        let line = self.recv_line(cap, what)?;
        if line.starts_with(prefix) {
            Ok(line)
        } else {
            Err(self.fail(format!(
                "expected {what} to start with {prefix:?}, got {:?}",
                crate::framing::shorten(&line)
            )))
        }
    }

    /// Reads until the server closes, at most `cap` bytes, within the timeout.
    ///
    /// # Errors
    /// A timeout (the server neither closed nor stopped), or more than `cap`
    /// bytes. A reset after some data counts as the end.
    pub fn recv_to_end(&mut self, cap: usize, what: &str) -> Result<Vec<u8>, Failure> {
        let deadline = Instant::now() + self.timeout;
        let mut data = std::mem::take(&mut self.pending);
        let mut buf = [0u8; 16 * 1024];
        loop {
            if data.len() > cap {
                return Err(self.fail(format!(
                    "more than {cap} bytes of {what}: the server keeps sending"
                )));
            }
            let room = (cap + 1 - data.len()).min(buf.len());
            match self.read_chunk(&mut buf[..room], deadline, what) {
                Ok(Chunk::Data(k)) => data.extend_from_slice(&buf[..k]),
                Ok(Chunk::Closed) => return Ok(data),
                Err(f) if f.reason.contains("connection reset") => return Ok(data),
                Err(f) => return Err(f),
            }
        }
    }

    /// Waits until the server closes (or resets) the connection, ignoring up
    /// to `cap` bytes it sends first; returns them.
    ///
    /// # Errors
    /// A timeout: the server kept the connection open; or more than `cap` bytes.
    pub fn expect_close(&mut self, cap: usize, what: &str) -> Result<Vec<u8>, Failure> {
        self.recv_to_end(cap, what)
    }

    /// Sends `data` while reading `n` bytes back at the same time (a large
    /// echo would fill both directions' buffers if done one after the
    /// other). Both sides have the timeout. If the `n` bytes arrive (or the
    /// read fails) while `data` is still going out, the server is not
    /// reading: the connection is closed and the bytes returned for the
    /// caller to judge.
    ///
    /// # Errors
    /// As [`Conn::send`] and [`Conn::recv_exact`].
    pub fn exchange(&mut self, data: &[u8], n: usize, what: &str) -> Result<Vec<u8>, Failure> {
        let mut writer = self
            .stream
            .try_clone()
            .map_err(|e| self.fail(format!("cannot send {what}: {}", io_cause(&e))))?;
        let _ = writer.set_write_timeout(Some(self.timeout));
        self.sent.add(data);
        let timeout = self.timeout;
        let (done_tx, done_rx) = mpsc::channel();
        let got = thread::scope(|s| {
            let sending = s.spawn(move || {
                let r = writer.write_all(data);
                let _ = done_tx.send(());
                r
            });
            let got = self.recv_exact(n, what);
            // The answer is complete (or failed) while our data is still
            // going out: the server does not read it. Close the connection
            // so the sending thread stops now, not after its timeout.
            let grace = if got.is_ok() {
                Duration::from_millis(200)
            } else {
                Duration::ZERO
            };
            let unfinished = done_rx.recv_timeout(grace).is_err();
            if unfinished {
                let _ = self.stream.shutdown(Shutdown::Both);
            }
            (got, sending.join(), unfinished)
        });
        match got {
            (Err(f), ..) => Err(f),
            // The caller judges the bytes (an echo of garbage, say).
            (Ok(back), _, true) => Ok(back),
            (Ok(_), Ok(Err(e)), _) if is_timeout(&e) => {
                Err(self.fail(format!("timed out after {} sending {what}", secs(timeout))))
            }
            (Ok(_), Ok(Err(e)), _) => {
                Err(self.fail(format!("cannot send {what}: {}", io_cause(&e))))
            }
            (Ok(_), Err(_), _) => Err(self.fail(format!("sending {what} failed"))),
            (Ok(back), Ok(Ok(())), _) => Ok(back),
        }
    }
}

/// A UDP peer of the server under check: datagrams out, datagrams in with
/// a deadline and a size cap, and what went each way kept for the report.
#[derive(Debug)]
pub struct UdpPeer {
    socket: UdpSocket,
    timeout: Duration,
    sent: Log,
    got: Log,
}

impl UdpPeer {
    /// Binds a free local port and connects it to `host:port` (datagrams
    /// from anyone else are ignored; a closed port shows as "connection
    /// refused" on a later receive).
    ///
    /// # Errors
    /// A [`Failure`] if the name does not resolve or no socket can be made.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<UdpPeer, Failure> {
        let target = join_host_port(host, port);
        let fail =
            |e: io::Error| Failure::new(format!("cannot reach {target} (UDP): {}", io_cause(&e)));
        let addr = resolve(host, port).map_err(fail)?[0];
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).map_err(fail)?;
        socket.connect(addr).map_err(fail)?;
        Ok(UdpPeer {
            socket,
            timeout,
            sent: Log::default(),
            got: Log::default(),
        })
    }

    /// The socket (for its local address, say).
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// A failure with `reason` and what went each way.
    pub fn fail(&self, reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            sent: (self.sent.total > 0).then(|| self.sent.show()),
            got: Some(self.got.show()),
        }
    }

    /// Sends one datagram.
    ///
    /// # Errors
    /// The OS refused it (too large, port known closed, ...).
    pub fn send(&mut self, datagram: &[u8], what: &str) -> Result<(), Failure> {
        self.sent.add(datagram);
        match self.socket.send(datagram) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(format!("cannot send {what}: {}", io_cause(&e)))),
        }
    }

    /// Receives one datagram (at most `cap` bytes kept) within the timeout.
    ///
    /// # Errors
    /// A timeout naming `what`, or "connection refused" when nothing
    /// listens on the server's port.
    pub fn recv(&mut self, cap: usize, what: &str) -> Result<Vec<u8>, Failure> {
        let deadline = Instant::now() + self.timeout;
        let mut buf = vec![0u8; cap.max(1)];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.fail(format!(
                    "timed out after {} waiting for {what}",
                    secs(self.timeout)
                )));
            }
            let _ = self
                .socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    self.got.add(&buf[..n]);
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(self.fail(format!(
                        "no {what}: {} (is anything listening on that UDP port?)",
                        io_cause(&e)
                    )))
                }
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A duration as people write it: `5s`, `0.3s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{}s", (s * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::check::{fake_server, SHORT};

    fn conn(port: u16) -> Conn {
        Conn::connect("127.0.0.1", port, SHORT).unwrap()
    }

    #[test]
    fn show_escapes_and_cuts() {
        assert_eq!(show(b"", 0), "nothing");
        assert_eq!(
            show(b"GET / \"x\"\r\n\x00\xff", 12),
            r#""GET / \"x\"\r\n\x00\xff""#
        );
        let long = vec![b'a'; 1000];
        let s = show(&long, 5000);
        assert!(s.len() < SHOW_CHARS + 30, "{s}");
        assert!(s.ends_with("\"... (5000 bytes)"), "{s}");
        assert_eq!(show(b"ab", 10), "\"ab\"... (10 bytes)");
    }

    #[test]
    fn difference_names_the_byte() {
        assert_eq!(difference(b"abc", b"abc"), None);
        assert_eq!(
            difference(b"abc", b"aXc").unwrap(),
            "differs at byte 1 of 3 (expected \"b\", got \"X\")"
        );
        assert_eq!(
            difference(b"abc", b"ab").unwrap(),
            "is 2 bytes long instead of 3"
        );
    }

    #[test]
    fn silent_server_times_out_naming_what() {
        let port = fake_server(|s| {
            let _keep = s;
            thread::park();
        });
        let mut c = conn(port);
        c.send(b"hi", "the greeting").unwrap();
        let start = Instant::now();
        let f = c.recv_exact(2, "the echo").unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3));
        assert_eq!(
            f.to_string(),
            "timed out after 0.3s waiting for the echo (sent \"hi\", got nothing)"
        );
    }

    #[test]
    fn endless_garbage_is_bounded_by_cap_and_deadline() {
        let port = fake_server(|mut s| {
            let junk = [0xabu8; 4096];
            while s.write_all(&junk).is_ok() {}
        });
        let mut c = conn(port);
        let f = c.recv_until(b"\n", 10_000, "a line").unwrap_err();
        assert!(
            f.reason.starts_with("no \"\\n\" in the first 10000 bytes"),
            "{f}"
        );
        let f = c.recv_to_end(1 << 20, "the reply").unwrap_err();
        assert!(f.reason.contains("the server keeps sending"), "{f}");
        assert!(f.got.unwrap().starts_with("\"\\xab\\xab"));
    }

    #[test]
    fn trickling_server_hits_the_deadline() {
        let port = fake_server(|mut s| {
            for _ in 0..100 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let mut c = conn(port);
        let start = Instant::now();
        let f = c.recv_until(b"\n", 1 << 20, "the status line").unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert!(
            f.reason
                .starts_with("timed out after 0.3s waiting for the status line"),
            "{f}"
        );
    }

    #[test]
    fn close_is_reported_with_what_came() {
        let port = fake_server(|mut s| {
            let _ = s.write_all(b"OK 10\nabc");
        });
        let mut c = conn(port);
        assert_eq!(c.recv_line(100, "the status").unwrap(), "OK 10");
        let f = c.recv_exact(10, "the file").unwrap_err();
        assert_eq!(
            f.reason,
            "the server closed the connection after 3 of 10 bytes of the file"
        );
        let port = fake_server(drop);
        let mut c = conn(port);
        let f = c.recv_line(100, "the status").unwrap_err();
        assert_eq!(
            f.reason,
            "the server closed the connection without sending the status"
        );
        assert!(c.expect_close(10, "the end").unwrap().is_empty());
    }

    #[test]
    fn exchange_moves_a_large_echo_both_ways() {
        let port = fake_server(|mut s| {
            let mut r = s.try_clone().unwrap();
            let _ = io::copy(&mut r, &mut s);
        });
        let mut c = Conn::connect("127.0.0.1", port, Duration::from_secs(10)).unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(4 << 20).collect();
        assert!(c.exchange(&data, data.len(), "the echo").unwrap() == data);
    }

    #[test]
    fn exchange_with_a_server_that_never_reads_ends_early() {
        let port = fake_server(|mut s| {
            let junk = [b'z'; 4096];
            while s.write_all(&junk).is_ok() {}
        });
        let mut c = Conn::connect("127.0.0.1", port, Duration::from_secs(5)).unwrap();
        let data = vec![b'a'; 8 << 20];
        let start = Instant::now();
        let back = c.exchange(&data, data.len(), "the echo").unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            difference(&data, &back).unwrap(),
            "differs at byte 0 of 8388608 (expected \"a\", got \"z\")"
        );
    }

    #[test]
    fn udp_round_trip_timeout_and_refusal() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let mut p = UdpPeer::connect("127.0.0.1", port, SHORT).unwrap();
        p.send(b"ini angka 1", "a datagram").unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ini angka 1");
        server.send_to(b"ACK 1", from).unwrap();
        assert_eq!(p.recv(1024, "the ack").unwrap(), b"ACK 1");
        let f = p.recv(1024, "the next ack").unwrap_err();
        assert_eq!(
            f.to_string(),
            "timed out after 0.3s waiting for the next ack (sent \"ini angka 1\", got \"ACK 1\")"
        );
        drop(server);
        p.send(b"x", "a datagram").unwrap();
        let f = p.recv(1024, "the ack").unwrap_err();
        assert!(f.reason.contains("connection refused"), "{f}");
    }

    #[test]
    fn checker_counts_skips_and_panics() {
        let mut opts = CheckOptions::local(1, SHORT);
        opts.skip_protocol = true;
        let mut c = Checker::new(opts);
        c.check("passes", |_| Ok(()));
        c.check("fails", |_| Err(Failure::new("because")));
        c.check("panics", |_| panic!("oops"));
        c.protocol_check("skipped", |_| Ok(()));
        let r = c.finish();
        assert_eq!((r.passed, r.failed, r.skipped), (1, 2, 1));
        assert_eq!(r.failures(), ["fails", "panics"]);
        let text = r.text();
        assert!(text.contains("PASS  passes\n"), "{text}");
        assert!(text.contains("FAIL  fails: because\n"), "{text}");
        assert!(
            text.contains("FAIL  panics: the checker itself failed: oops"),
            "{text}"
        );
        assert!(
            text.contains("SKIP  skipped: assumes this workspace's protocol"),
            "{text}"
        );
        assert!(text.ends_with("\n1 passed, 2 failed\n"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["failed"], 2);
        assert_eq!(json["requirements"][1]["status"], "fail");
        assert_eq!(json["requirements"][1]["reason"], "because");
        assert_eq!(json["requirements"][3]["status"], "skip");
    }

    #[test]
    fn flags_give_options() {
        const CMD: Command = Command {
            name: "check",
            about: "t",
            args: "",
            flags: &[host(), port("31000"), TIMEOUT, JSON, SKIP_PROTOCOL],
        };
        let m = CMD.parse(Vec::<String>::new()).unwrap();
        let o = CheckOptions::from_matches(&CMD, &m).unwrap();
        assert_eq!(
            (o.host.as_str(), o.ports.as_slice()),
            ("127.0.0.1", &[31000][..])
        );
        assert_eq!(o.timeout, Duration::from_secs(5));
        assert!(!o.json && !o.skip_protocol);
        let m = CMD
            .parse(
                [
                    "--port",
                    "1",
                    "--port",
                    "2,3",
                    "--json",
                    "--skip-protocol",
                    "--timeout",
                    "0.5",
                ]
                .map(String::from),
            )
            .unwrap();
        let o = CheckOptions::from_matches(&CMD, &m).unwrap();
        assert_eq!(o.ports, [1, 2, 3]);
        let m = CMD.parse(["--port", "x"].map(String::from)).unwrap();
        assert!(CheckOptions::from_matches(&CMD, &m).is_err());
        assert!(o.json && o.skip_protocol);
        assert_eq!(secs(o.timeout), "0.5s");
    }
}
