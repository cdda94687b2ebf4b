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
//! FAIL  server on port 31001 echoes "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA": cannot connect to 127.0.0.1:31001: connection refused
//!       ASSIGNMENTS.md: "Jalankan program server.py di 3 port yang berbeda (31000, 31001, 31002)"
//! FAIL  (extra) two clients at once: the second is answered while the first stays connected: timed out after 5s waiting for the echo on the second connection (the first is still open) (sent "klien kedua", got nothing)
//! 1 of 2 required passed; 1 extra (0 passed)
//! ```
//!
//! # Required and extras
//!
//! Two kinds of requirements:
//!
//! - [`Checker::require`]: the assignment's own, with a stable id
//!   (`echo-31000`), its words, and the sentence of ASSIGNMENTS.md it comes
//!   from (printed under a failure). These grade: the summary
//!   `N of M required passed` and the exit code.
//! - [`Checker::extra`]: beyond the assignment (robustness, HTTP details,
//!   safety), marked `(extra)`, counted apart (`K extras (J passed)`); they
//!   grade only under `--strict`.
//!
//! [`Checker::skip`] lists a required one as `SKIP` that could not be
//! judged (a flag it needs was not given). Where a check recognises which
//! protocol convention a student chose, it says so with
//! [`Checker::convention`].
//!
//! Exit codes: 0 every required requirement passed (and every extra, under
//! `--strict`), 1 some failed, 2 a bad flag, 3 the server could not be
//! reached at all: then one line `error: cannot reach the server: ... (is
//! the server running on HOST:PORT?)` replaces the failure per requirement.
//! `--budget SECS` (default 30) bounds the whole check: every step ends by
//! then, and requirements not started by then are reported as not run
//! ("budget spent") and count as failed. `--strict` and `--budget` come
//! with every check ([`KIT_FLAGS`], added by [`main`]).
//!
//! `--json` prints the same as one JSON object ([`Report`]) for grading
//! scripts: `assignment`, `target`, `notes`, `convention`, `requirements`
//! (each with `id`, `kind`, `requirement`, `citation`, `status`, `reason`,
//! `sent`, `got`, `millis`, `convention`), `passed`, `failed`, `skipped`,
//! `not_run`, `required` and `extras` (`passed`, `total`), `strict`,
//! `budget_spent`, `unreachable`, `summary`, `exit_code`. [`crate::grade`]
//! runs a check over a whole class.
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
//!     c.require("hello", "server answers HELLO with WORLD", "Balaslah HELLO dengan WORLD", |o| {
//!         let mut conn = o.connect()?;                       // FAIL: cannot connect ...
//!         conn.send(b"HELLO\n", "the request")?;             // FAIL: timed out sending ...
//!         let line = conn.recv_line(1024, "the answer line")?; // FAIL: timed out waiting for ...
//!         if line != "WORLD" {
//!             return Err(conn.fail(format!("expected WORLD, got {line:?}")));
//!         }
//!         Ok(())
//!     });
//!     // Beyond the assignment: reported, counted apart.
//!     c.extra("bye", "server answers BYE with OK", |o| {
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
//! assert_eq!((report.required.total, report.extras.total), (1, 1));
//! assert!(report.requirements[0].reason.as_deref().unwrap().contains("cannot connect"));
//! // Nothing was reached at all: exit code 3 and one line.
//! assert_eq!(report.exit_code, common::check::EXIT_UNREACHABLE);
//! assert!(report.text().starts_with("cannot reach the server: cannot connect to 127.0.0.1:"));
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
//!         c.require("connect", "server accepts a connection", "", |o| o.connect().map(drop));
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
//!   [`Conn::recv_to_end`] / [`Conn::expect_close`], [`Conn::recv_some`]
//!   (what comes next, for an answer whose framing is not known yet:
//!   the download checks' conventions). Bytes read past a
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
//! # Shared parts
//!
//! The download requirements of Tugas 1b and 3 (the student conventions
//! they recognise) are in [`transfer`]; reading HTTP responses (Tugas 6
//! and 8) is in [`http`]; the files a traversal probe asks for are in
//! [`outside`].

#[cfg(feature = "http")]
pub mod http;
pub mod outside;
#[cfg(feature = "transfer")]
pub mod transfer;

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{CliError, Command, Flag, Matches};
use crate::error::{io_cause, run_main, AppError, MainError};
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
    "leave out the extras about this workspace's own protocol's details",
);

/// `--strict`: the extras count for the exit code too.
pub const STRICT: Flag = Flag::switch(
    "strict",
    "count the extras (beyond the assignment) for the exit code too",
);

/// The default of `--budget`, in seconds.
pub const DEFAULT_BUDGET_SECS: u64 = 30;

/// `--budget SECS`: the time bound of the whole check.
pub const BUDGET: Flag = Flag::value(
    "budget",
    "SECS",
    "30",
    "time bound of the whole check; requirements not run by then fail as \"budget spent\"",
);

/// The flags every check program has, whether or not its own table lists
/// them: [`TIMEOUT`], [`JSON`], [`STRICT`], [`BUDGET`]. [`main`] (and the
/// `grade` program) add them to the check's table with [`with_kit_flags`].
pub const KIT_FLAGS: [Flag; 4] = [TIMEOUT, JSON, STRICT, BUDGET];

/// `cmd` with the [`KIT_FLAGS`] it does not declare itself appended, so
/// every check gets `--strict` and `--budget` from this one place.
pub fn with_kit_flags(cmd: &Command) -> Command {
    let mut flags = cmd.flags.to_vec();
    for f in KIT_FLAGS {
        if !flags.iter().any(|g| g.name == f.name) {
            flags.push(f);
        }
    }
    // One table per program run; the parsed flags refer to it for good.
    Command {
        flags: Box::leak(flags.into_boxed_slice()),
        ..*cmd
    }
}

/// The assignment a check program is for, from its description: "Tugas 1a
/// grader's check: ..." gives `tugas1a`; otherwise the program's name.
pub fn assignment_of(cmd: &Command) -> String {
    let head = cmd.about.split(" grader").next().unwrap_or_default();
    if head.to_ascii_lowercase().starts_with("tugas") && head.len() <= 12 {
        head.split_whitespace()
            .collect::<String>()
            .to_ascii_lowercase()
    } else {
        cmd.name.to_string()
    }
}

/// Exit code of a check: every graded requirement passed.
pub const EXIT_PASSED: u8 = 0;
/// Exit code of a check: some graded requirement failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of a check: the server could not be reached at all.
pub const EXIT_UNREACHABLE: u8 = 3;

/// Longest rendering of sent or received bytes in a report (characters).
pub const SHOW_CHARS: usize = 120;

/// The budget of [`CheckOptions::local`] (tests): generous, so a loaded
/// test machine never hits it; the programs' default is 30 s.
pub const TEST_BUDGET: Duration = Duration::from_secs(120);

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
    /// `--skip-protocol`: leave out the extras about this workspace's own
    /// protocol's details (each check says which).
    pub skip_protocol: bool,
    /// The assignment checked (`tugas6`), for the report; empty if unknown.
    pub assignment: String,
    /// Time bound of the whole check (`--budget`); a [`Checker`] starts
    /// the clock when it is made.
    pub budget: Duration,
    /// The extras count for the exit code too (`--strict`).
    pub strict: bool,
    /// What the steps of one run share (the budget's end, whether the
    /// server was reached). A [`Checker`] makes a fresh one; leave it as
    /// [`CheckOptions::local`] or [`CheckOptions::from_matches`] gives it.
    pub run: RunState,
}

/// What the steps of one check run share across threads: when its budget
/// ends, whether the server was ever reached, the first failed connect.
#[derive(Debug, Clone, Default)]
pub struct RunState(Arc<RunInner>);

#[derive(Debug, Default)]
struct RunInner {
    until: Option<Instant>,
    budget: Duration,
    reached: AtomicBool,
    unreachable: Mutex<Option<String>>,
}

impl RunState {
    /// A run whose budget ends `budget` from now.
    pub fn start(budget: Duration) -> RunState {
        RunState(Arc::new(RunInner {
            until: Instant::now().checked_add(budget),
            budget,
            ..RunInner::default()
        }))
    }

    /// True once the budget's time is over.
    pub fn budget_spent(&self) -> bool {
        self.0.until.is_some_and(|u| Instant::now() >= u)
    }

    /// Time left in the budget (a long time when there is none).
    fn left(&self) -> Duration {
        match self.0.until {
            Some(u) => u.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        }
    }

    /// The deadline of a step of `step`: now + step, cut at the budget's end.
    fn deadline(&self, step: Duration) -> Instant {
        let own = Instant::now() + step;
        match self.0.until {
            Some(u) if u < own => u,
            _ => own,
        }
    }

    /// The budget, in words, for a reason.
    fn spent_reason(&self) -> String {
        format!(
            "the check's time budget (--budget {}) was spent",
            secs(self.0.budget)
        )
    }

    /// Records that the server answered (a connection, a datagram, a pass).
    pub fn mark_reached(&self) {
        self.0.reached.store(true, Ordering::SeqCst);
    }

    /// Whether the server was ever reached in this run.
    pub fn was_reached(&self) -> bool {
        self.0.reached.load(Ordering::SeqCst)
    }

    /// Records a failed connect (`reason`) to `target` (`host:port`); the
    /// first one becomes the run's "cannot reach" line if nothing is ever
    /// reached.
    pub fn mark_unreachable(&self, target: &str, reason: &str) {
        if let Ok(mut first) = self.0.unreachable.lock() {
            if first.is_none() {
                *first = Some(format!(
                    "cannot reach the server: {reason} (is the server running on {target}?)"
                ));
            }
        }
    }

    /// The "cannot reach" line if nothing was reached and a connect failed.
    pub fn unreachable(&self) -> Option<String> {
        if self.was_reached() {
            return None;
        }
        self.0.unreachable.lock().ok().and_then(|u| u.clone())
    }
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
            assignment: String::new(),
            budget: TEST_BUDGET,
            strict: false,
            run: RunState::default(),
        }
    }

    /// Options from the flags of `cmd` (those of [`host`], [`port`] (repeatable,
    /// or comma-separated: `--port 31000,31001`),
    /// [`TIMEOUT`], and [`JSON`]/[`SKIP_PROTOCOL`]/[`STRICT`]/[`BUDGET`] if
    /// declared); the assignment from [`assignment_of`].
    ///
    /// # Errors
    /// A bad port, timeout or budget (usage error, exit 2).
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
        let budget = if declared("budget") {
            let raw = m.value("budget");
            match raw.parse::<f64>() {
                Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Duration::from_secs_f64(s),
                _ => {
                    return Err(CliError::Usage(format!(
                        "invalid value '{raw}' for --budget: expected a positive number of seconds"
                    ))
                    .into())
                }
            }
        } else {
            Duration::from_secs(DEFAULT_BUDGET_SECS)
        };
        Ok(CheckOptions {
            host: m.value("host").to_string(),
            ports,
            timeout: m.timeout()?,
            json: declared("json") && m.is_set("json"),
            skip_protocol: declared("skip-protocol") && m.is_set("skip-protocol"),
            assignment: assignment_of(cmd),
            budget,
            strict: declared("strict") && m.is_set("strict"),
            run: RunState::default(),
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
        self.udp_with_timeout(self.timeout)
    }

    /// Like [`CheckOptions::udp`] with another per-step timeout (still cut
    /// at the budget's end).
    ///
    /// # Errors
    /// As [`CheckOptions::udp`].
    pub fn udp_with_timeout(&self, timeout: Duration) -> Result<UdpPeer, Failure> {
        let mut peer = UdpPeer::connect(&self.host, self.port(), timeout)?;
        peer.run = self.run.clone();
        Ok(peer)
    }

    /// Connects to `port` on the host within the timeout.
    ///
    /// # Errors
    /// A [`Failure`] saying why.
    pub fn connect_port(&self, port: u16) -> Result<Conn, Failure> {
        Conn::connect_in(&self.host, port, self.timeout, &self.run)
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
    /// Not tried because the check's time budget was spent first; counts
    /// as failed.
    #[serde(rename = "not_run")]
    NotRun,
}

/// Whose requirement it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Asked by the assignment (ASSIGNMENTS.md): it grades.
    Required,
    /// Beyond the assignment (robustness, HTTP details, safety): reported
    /// and counted apart; grades only under `--strict`.
    Extra,
}

/// One requirement's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// A stable name of the requirement (`echo-31000`), for scripts.
    pub id: String,
    /// Required by the assignment, or an extra.
    pub kind: Kind,
    /// The requirement, in the course's wording where it has one.
    pub requirement: String,
    /// The sentence of ASSIGNMENTS.md the requirement comes from.
    pub citation: Option<String>,
    /// Pass, fail, skip or not run.
    pub status: Status,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// What was sent (shortened), for a failure.
    pub sent: Option<String>,
    /// What was received (shortened), for a failure.
    pub got: Option<String>,
    /// How long the check took, in milliseconds.
    pub millis: u64,
    /// The protocol convention the check had found when this ran, if any
    /// ([`Checker::convention`]).
    pub convention: Option<String>,
}

impl Outcome {
    /// The requirement's line: `PASS  ...`, `FAIL  ...: reason (sent ..., got ...)`;
    /// an extra reads `PASS  (extra) ...`.
    pub fn line(&self) -> String {
        let extra = if self.kind == Kind::Extra {
            "(extra) "
        } else {
            ""
        };
        match self.status {
            Status::Pass => format!("PASS  {extra}{}", self.requirement),
            Status::Fail | Status::Skip | Status::NotRun => {
                let tag = if self.status == Status::Skip {
                    "SKIP"
                } else {
                    "FAIL"
                };
                let failure = Failure {
                    reason: self.reason.clone().unwrap_or_default(),
                    sent: self.sent.clone(),
                    got: self.got.clone(),
                };
                format!("{tag}  {extra}{}: {failure}", self.requirement)
            }
        }
    }

    /// True for a failure (a not-run requirement included).
    pub fn failed(&self) -> bool {
        matches!(self.status, Status::Fail | Status::NotRun)
    }

    /// [`Outcome::line`], and for a failed required requirement the
    /// sentence of the assignment it comes from on the next line.
    pub fn lines(&self) -> String {
        let mut out = self.line();
        if let (true, Kind::Required, Some(cite)) = (self.failed(), self.kind, &self.citation) {
            out.push_str(&format!("\n      ASSIGNMENTS.md: \"{cite}\""));
        }
        out
    }
}

/// Passed out of counted, for one kind of requirement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// How many passed.
    pub passed: usize,
    /// How many were tried (skipped ones are not counted; not run ones are).
    pub total: usize,
}

impl Tally {
    /// True when every counted requirement passed.
    pub fn all_passed(&self) -> bool {
        self.passed == self.total
    }
}

/// Every requirement's result, in the order they were checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The assignment checked (`tugas6`); empty if unknown.
    pub assignment: String,
    /// `host:port` of the server checked.
    pub target: String,
    /// Remarks printed before the results (e.g. which protocol is assumed).
    pub notes: Vec<String>,
    /// The protocol convention the check found ([`Checker::convention`]),
    /// the last one if it found several; `null` when none.
    pub convention: Option<String>,
    /// The results.
    pub requirements: Vec<Outcome>,
    /// How many passed (required and extras).
    pub passed: usize,
    /// How many failed (required and extras, not run included).
    pub failed: usize,
    /// How many were skipped.
    pub skipped: usize,
    /// How many were not run because the budget was spent (also in `failed`).
    pub not_run: usize,
    /// The assignment's own requirements: they grade.
    pub required: Tally,
    /// The extras beyond the assignment: they grade only under `--strict`.
    pub extras: Tally,
    /// Whether the extras grade too (`--strict`).
    pub strict: bool,
    /// Whether the time budget ran out before the check was done.
    pub budget_spent: bool,
    /// Set when the server could not be reached at all: the one line to
    /// show instead of a failure per requirement.
    pub unreachable: Option<String>,
    /// The summary line ([`Report::summary`]).
    pub summary: String,
    /// The check's exit code: 0 passed, 1 failed, 3 unreachable.
    pub exit_code: u8,
}

impl Report {
    fn empty(opts: &CheckOptions) -> Report {
        let mut r = Report {
            assignment: opts.assignment.clone(),
            target: opts.target(),
            notes: Vec::new(),
            convention: None,
            requirements: Vec::new(),
            passed: 0,
            failed: 0,
            skipped: 0,
            not_run: 0,
            required: Tally::default(),
            extras: Tally::default(),
            strict: opts.strict,
            budget_spent: false,
            unreachable: None,
            summary: String::new(),
            exit_code: EXIT_PASSED,
        };
        r.refresh();
        r
    }

    /// Recomputes the counts, the summary and the exit code.
    fn refresh(&mut self) {
        let count = |kind: Kind| Tally {
            passed: self
                .requirements
                .iter()
                .filter(|o| o.kind == kind && o.status == Status::Pass)
                .count(),
            total: self
                .requirements
                .iter()
                .filter(|o| o.kind == kind && o.status != Status::Skip)
                .count(),
        };
        self.required = count(Kind::Required);
        self.extras = count(Kind::Extra);
        let with = |status: Status| {
            self.requirements
                .iter()
                .filter(|o| o.status == status)
                .count()
        };
        self.passed = with(Status::Pass);
        self.skipped = with(Status::Skip);
        self.not_run = with(Status::NotRun);
        self.failed = with(Status::Fail) + self.not_run;
        self.summary = self.summary();
        self.exit_code = if self.unreachable.is_some() {
            EXIT_UNREACHABLE
        } else if self.graded_passed() {
            EXIT_PASSED
        } else {
            EXIT_FAILED
        };
    }

    /// True when nothing failed, extras included (tests of our own servers).
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }

    /// True when every requirement that grades passed: the required ones,
    /// and the extras too under `--strict`.
    pub fn graded_passed(&self) -> bool {
        self.required.all_passed() && (!self.strict || self.extras.all_passed())
    }

    /// The summary line: `N of M required passed; K extras (J passed)`,
    /// then what was skipped or not run, and whether `--strict` applies.
    pub fn summary(&self) -> String {
        let extras = if self.extras.total == 1 {
            "1 extra".to_string()
        } else {
            format!("{} extras", self.extras.total)
        };
        let mut s = format!(
            "{} of {} required passed; {extras} ({} passed)",
            self.required.passed, self.required.total, self.extras.passed
        );
        if self.skipped > 0 {
            s.push_str(&format!("; {} skipped", self.skipped));
        }
        if self.not_run > 0 {
            s.push_str(&format!("; {} not run (budget spent)", self.not_run));
        }
        if self.strict {
            s.push_str("; --strict: the extras count");
        }
        s
    }

    /// The outcome of the requirement whose name contains `needle` (tests).
    pub fn find(&self, needle: &str) -> Option<&Outcome> {
        self.requirements
            .iter()
            .find(|o| o.requirement.contains(needle))
    }

    /// The outcome of the requirement with this id.
    pub fn by_id(&self, id: &str) -> Option<&Outcome> {
        self.requirements.iter().find(|o| o.id == id)
    }

    /// Names of the requirements that failed, extras included (tests).
    pub fn failures(&self) -> Vec<&str> {
        self.requirements
            .iter()
            .filter(|o| o.failed())
            .map(|o| o.requirement.as_str())
            .collect()
    }

    /// Ids of the requirements that failed, extras included (tests).
    pub fn failed_ids(&self) -> Vec<&str> {
        self.requirements
            .iter()
            .filter(|o| o.failed())
            .map(|o| o.id.as_str())
            .collect()
    }

    /// The first failed requirement that grades (required, or any under
    /// `--strict`).
    pub fn first_graded_failure(&self) -> Option<&Outcome> {
        self.requirements
            .iter()
            .find(|o| o.failed() && (o.kind == Kind::Required || self.strict))
    }

    /// The whole report as text: notes, the convention found, one line per
    /// requirement (with the citation of a failed required one), summary.
    /// A server that could not be reached is one line instead.
    pub fn text(&self) -> String {
        if let Some(line) = &self.unreachable {
            return format!("{line}\n");
        }
        let mut out = String::new();
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        if let Some(c) = &self.convention {
            out.push_str(&format!("convention: {c}\n"));
        }
        for o in &self.requirements {
            out.push_str(&o.lines());
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

/// A stable id from a requirement's words: lower-case letters and digits,
/// runs of anything else as one `-`, at most 48 characters.
pub fn id_from_text(text: &str) -> String {
    let mut id = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            id.push(ch.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
        if id.len() >= 48 {
            break;
        }
    }
    id.trim_end_matches('-').to_string()
}

/// Runs requirements one after another and records their outcomes.
pub struct Checker {
    opts: CheckOptions,
    report: Report,
    live: Option<Box<dyn Write>>,
    /// Failure lines not printed yet: the server was never reached so far
    /// (if it never is, one "cannot reach" line replaces them).
    held: Vec<String>,
    ids: HashSet<String>,
}

impl Checker {
    /// A checker that prints nothing until asked (tests read [`Checker::finish`]).
    /// The budget's clock starts now.
    pub fn new(mut opts: CheckOptions) -> Checker {
        opts.run = RunState::start(opts.budget);
        let report = Report::empty(&opts);
        Checker {
            opts,
            report,
            live: None,
            held: Vec::new(),
            ids: HashSet::new(),
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

    /// Records the protocol convention the check found in the server
    /// ("bare name, raw bytes until close"); shown as `convention: ...`,
    /// in the JSON's `convention` and in the outcomes recorded after it.
    pub fn convention(&mut self, name: impl Into<String>) {
        let name = name.into();
        self.emit(&format!("convention: {name}"));
        self.report.convention = Some(name);
    }

    /// A requirement of the assignment: `id` is stable (`echo-31000`),
    /// `text` says it in the assignment's words, `cite` is the sentence of
    /// ASSIGNMENTS.md it comes from. `PASS` if `f` returns `Ok`, `FAIL`
    /// with the failure's reason and transcript otherwise (a panic counts
    /// as a failure). It grades: the summary and exit code count it.
    pub fn require<F>(&mut self, id: &str, text: impl Into<String>, cite: &str, f: F)
    where
        F: FnOnce(&CheckOptions) -> Result<(), Failure>,
    {
        let cite = (!cite.is_empty()).then(|| cite.to_string());
        self.run_one(id, text.into(), cite, Kind::Required, f);
    }

    /// A requirement beyond the assignment (robustness, HTTP details,
    /// safety): reported as `PASS  (extra) ...`, counted apart, grading
    /// only under `--strict`.
    pub fn extra<F>(&mut self, id: &str, text: impl Into<String>, f: F)
    where
        F: FnOnce(&CheckOptions) -> Result<(), Failure>,
    {
        self.run_one(id, text.into(), None, Kind::Extra, f);
    }

    /// A required requirement that was not tried, listed as `SKIP` with
    /// `reason` (not counted: e.g. what cannot be judged without a flag).
    pub fn skip(
        &mut self,
        id: &str,
        text: impl Into<String>,
        cite: &str,
        reason: impl Into<String>,
    ) {
        let id = self.unique_id(id);
        let convention = self.report.convention.clone();
        self.record(Outcome {
            id,
            kind: Kind::Required,
            requirement: text.into(),
            citation: Some(cite.to_string()),
            status: Status::Skip,
            reason: Some(reason.into()),
            sent: None,
            got: None,
            millis: 0,
            convention,
        });
    }

    fn unique_id(&mut self, id: &str) -> String {
        let base = if id.is_empty() { "requirement" } else { id };
        let mut id = base.to_string();
        let mut n = 2;
        while !self.ids.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }

    fn run_one<F>(
        &mut self,
        id: &str,
        requirement: String,
        citation: Option<String>,
        kind: Kind,
        f: F,
    ) where
        F: FnOnce(&CheckOptions) -> Result<(), Failure>,
    {
        let id = self.unique_id(id);
        let convention = self.report.convention.clone();
        if self.opts.run.budget_spent() {
            let reason = format!("not run: {}", self.opts.run.spent_reason());
            self.record(Outcome {
                id,
                kind,
                requirement,
                citation,
                status: Status::NotRun,
                reason: Some(reason),
                sent: None,
                got: None,
                millis: 0,
                convention,
            });
            return;
        }
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
        let (status, reason, sent, got) = match result {
            Ok(()) => (Status::Pass, None, None, None),
            Err(f) => (Status::Fail, Some(f.reason), f.sent, f.got),
        };
        self.record(Outcome {
            id,
            kind,
            requirement,
            citation,
            status,
            reason,
            sent,
            got,
            millis,
            convention,
        });
    }

    /// The results so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Ends the run and returns the report. If the server was never
    /// reached and a connect failed, [`Report::unreachable`] holds the one
    /// line to show (exit code 3); the outcomes are still all there.
    pub fn finish(mut self) -> Report {
        self.report.unreachable = self.opts.run.unreachable();
        self.report.budget_spent = self.opts.run.budget_spent() || self.report.not_run > 0;
        if self.report.unreachable.is_none() {
            self.flush_held();
        }
        self.report.refresh();
        self.report
    }

    fn record(&mut self, outcome: Outcome) {
        if outcome.status == Status::Pass {
            self.opts.run.mark_reached();
        }
        let lines = outcome.lines();
        if outcome.failed() && !self.opts.run.was_reached() {
            self.held.push(lines);
        } else {
            self.flush_held();
            self.emit(&lines);
        }
        self.report.requirements.push(outcome);
        self.report.refresh();
    }

    fn flush_held(&mut self) {
        for line in std::mem::take(&mut self.held) {
            self.emit(&line);
        }
    }

    fn emit(&mut self, line: &str) {
        if let Some(out) = self.live.as_mut() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// The body of every `check` binary: adds the [`KIT_FLAGS`] to `cmd`,
/// parses the flags (logging, `--help`, usage errors as in [`run_main`]),
/// runs `body` on a [`Checker`], prints the lines (live) or the JSON, and
/// exits 0 when every required requirement passed (and every extra under
/// `--strict`), 1 otherwise, 3 when the server could not be reached at all
/// (one `error: cannot reach the server: ...` line instead of a failure per
/// requirement), 2 for a bad flag.
pub fn main<F>(cmd: &Command, body: F) -> ExitCode
where
    F: FnOnce(&mut Checker, &Matches) -> Result<(), MainError>,
{
    let full = with_kit_flags(cmd);
    let mut exit = EXIT_PASSED;
    let code = run_main(&full, |m| {
        exit = run_program(&full, &m, body, Box::new(io::stdout()), &mut io::stderr())?;
        Ok(())
    });
    if exit == EXIT_PASSED {
        code
    } else {
        ExitCode::from(exit)
    }
}

/// What [`main`] does once the flags are parsed (`cmd` with the
/// [`KIT_FLAGS`]): runs `body` on a [`Checker`] printing to `out` (each
/// line as it is known, then the summary; or the JSON), writes the one
/// `error: cannot reach the server: ...` line to `err` if nothing was
/// reached, and returns the exit code (0, 1 or 3).
///
/// # Errors
/// Bad options (no `--port`, a bad budget) or what `body` returns.
pub fn run_program<F>(
    cmd: &Command,
    m: &Matches,
    body: F,
    mut out: Box<dyn Write>,
    err: &mut dyn Write,
) -> Result<u8, MainError>
where
    F: FnOnce(&mut Checker, &Matches) -> Result<(), MainError>,
{
    let opts = CheckOptions::from_matches(cmd, m)?;
    if opts.ports.is_empty() {
        return Err(AppError::new("nothing to check", "no --port given").into());
    }
    let json = opts.json;
    let mut checker = Checker::new(opts);
    let (tx, rx) = mpsc::channel::<Box<dyn Write>>();
    if !json {
        checker.print_live(Box::new(Relay(Some(out), Some(tx))));
        // The live printer hands the stream back when the checker drops.
        out = Box::new(io::sink());
    }
    body(&mut checker, m)?;
    let report = checker.finish();
    if let Ok(back) = rx.try_recv() {
        out = back;
    }
    if json {
        let _ = writeln!(out, "{}", report.json());
    } else if report.unreachable.is_none() {
        let _ = writeln!(out, "{}", report.summary());
    }
    let _ = out.flush();
    if let Some(line) = &report.unreachable {
        let _ = writeln!(err, "error: {line}");
    }
    Ok(report.exit_code)
}

/// A live printer that gives its stream back when dropped.
struct Relay(Option<Box<dyn Write>>, Option<mpsc::Sender<Box<dyn Write>>>);

impl Write for Relay {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self.0.as_mut() {
            Some(w) => w.write(b),
            None => Ok(b.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.0.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let (Some(w), Some(tx)) = (self.0.take(), self.1.take()) {
            let _ = tx.send(w);
        }
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
    run: RunState,
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
        Conn::connect_in(host, port, timeout, &RunState::default())
    }

    /// [`Conn::connect`] as a step of `run`: the connect and every later
    /// step end at the run's budget too, and the run learns whether the
    /// server was reached.
    ///
    /// # Errors
    /// As [`Conn::connect`], or the budget already spent.
    pub fn connect_in(
        host: &str,
        port: u16,
        timeout: Duration,
        run: &RunState,
    ) -> Result<Conn, Failure> {
        let target = join_host_port(host, port);
        let failed = |cause: String| {
            let reason = format!("cannot connect to {target}: {cause}");
            run.mark_unreachable(&target, &reason);
            Failure::new(reason)
        };
        let addrs = resolve(host, port).map_err(|e| failed(io_cause(&e)))?;
        let mut last = None;
        for addr in addrs {
            let wait = timeout.min(run.left());
            if wait.is_zero() {
                return Err(Failure::new(run.spent_reason()));
            }
            match TcpStream::connect_timeout(&addr, wait) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    run.mark_reached();
                    return Ok(Conn {
                        stream,
                        timeout,
                        pending: Vec::new(),
                        sent: Log::default(),
                        got: Log::default(),
                        run: run.clone(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        if run.budget_spent() {
            return Err(Failure::new(format!(
                "cannot connect to {target}: {}",
                run.spent_reason()
            )));
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
        Err(failed(cause))
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
        let wait = self.timeout.min(self.run.left());
        if wait.is_zero() {
            return Err(self.fail(format!("{} before sending {what}", self.run.spent_reason())));
        }
        self.stream
            .set_write_timeout(Some(wait))
            .map_err(|e| self.fail(format!("cannot send {what}: {}", io_cause(&e))))?;
        self.sent.add(data);
        match self.stream.write_all(data) {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) && self.run.budget_spent() => {
                Err(self.fail(format!("{} while sending {what}", self.run.spent_reason())))
            }
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
                    self.run.mark_reached();
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
        if self.run.budget_spent() {
            return self.fail(format!(
                "{} while waiting for {what}",
                self.run.spent_reason()
            ));
        }
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
        let deadline = self.run.deadline(self.timeout);
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
        let deadline = self.run.deadline(self.timeout);
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
        let deadline = self.run.deadline(self.timeout);
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

    /// Reads what arrives next, at most `cap` bytes (those kept from an
    /// earlier read first), waiting at most `wait` (cut at the budget's
    /// end), for a check that judges an answer as it comes (a student's
    /// framing it does not know yet). `Ok(None)`: nothing came in time and
    /// the connection is still open; `Ok(Some(empty))`: the server closed.
    ///
    /// # Errors
    /// A failed connection (a reset included) or the budget spent.
    pub fn recv_some(
        &mut self,
        cap: usize,
        wait: Duration,
        what: &str,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let cap = cap.max(1);
        if !self.pending.is_empty() {
            let rest = if self.pending.len() > cap {
                self.pending.split_off(cap)
            } else {
                Vec::new()
            };
            return Ok(Some(std::mem::replace(&mut self.pending, rest)));
        }
        let deadline = self.run.deadline(wait);
        let mut buf = vec![0u8; cap.min(64 * 1024)];
        match self.read_chunk(&mut buf, deadline, what) {
            Ok(Chunk::Data(n)) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Ok(Chunk::Closed) => Ok(Some(Vec::new())),
            Err(_) if Instant::now() >= deadline && !self.run.budget_spent() => Ok(None),
            Err(f) => Err(f),
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
    run: RunState,
    target: String,
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
            run: RunState::default(),
            target,
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
            Err(e) => Err(self.fail(format!("cannot send {what}: {}", udp_cause(&e)))),
        }
    }

    /// Receives one datagram (at most `cap` bytes kept) within the timeout.
    ///
    /// # Errors
    /// A timeout naming `what`, or "connection refused" when nothing
    /// listens on the server's port.
    pub fn recv(&mut self, cap: usize, what: &str) -> Result<Vec<u8>, Failure> {
        let deadline = self.run.deadline(self.timeout);
        let mut buf = vec![0u8; cap.max(1)];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() && self.run.budget_spent() {
                return Err(self.fail(format!(
                    "{} while waiting for {what}",
                    self.run.spent_reason()
                )));
            }
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
                    self.run.mark_reached();
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Windows says "reset" where Unix says "refused".
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    ) {
                        let reason = format!(
                            "nothing answers on {} (UDP): {}",
                            self.target,
                            udp_cause(&e)
                        );
                        self.run.mark_unreachable(&self.target, &reason);
                    }
                    return Err(self.fail(format!(
                        "no {what}: {} (is anything listening on that UDP port?)",
                        udp_cause(&e)
                    )));
                }
            }
        }
    }
}

/// The cause of a failed UDP send or receive. An ICMP "port unreachable"
/// from the server's host shows as "connection refused" on Unix but as
/// "connection reset" (WSAECONNRESET) on Windows: on a datagram socket
/// both mean nothing listens there, so both read "connection refused".
fn udp_cause(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => io_cause(&io::ErrorKind::ConnectionRefused.into()),
        _ => io_cause(e),
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
        // A cap that the 0.3 s deadline leaves time for even under Wine,
        // where every socket call is a round trip to wineserver.
        let f = c.recv_to_end(100_000, "the reply").unwrap_err();
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
    #[cfg_attr(
        windows,
        ignore = "needs shutdown() to wake a send blocked in another thread (Windows and Wine wait for the timeout)"
    )]
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
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs ICMP port unreachable reported on UDP sockets (Wine never reports it)"
    )]
    fn udp_to_a_closed_port_is_refused() {
        let port = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let mut p = UdpPeer::connect("127.0.0.1", port, SHORT).unwrap();
        p.send(b"x", "a datagram").unwrap();
        let f = p.recv(1024, "the ack").unwrap_err();
        assert!(
            f.reason
                .starts_with("no the ack: connection refused (is anything listening"),
            "{f}"
        );
    }

    /// Windows' "connection reset" for a UDP port with nothing behind it
    /// reads as the refusal it is.
    #[test]
    fn udp_reset_reads_as_refused() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(udp_cause(&reset), "connection refused");
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(udp_cause(&other), "permission denied");
    }

    #[test]
    fn checker_counts_skips_and_panics() {
        let mut c = Checker::new(CheckOptions::local(1, SHORT));
        c.require("passes", "passes", "", |_| Ok(()));
        c.require("fails", "fails", "", |_| Err(Failure::new("because")));
        c.require("panics", "panics", "", |_| panic!("oops"));
        c.skip(
            "skipped",
            "skipped",
            "",
            "assumes this workspace's protocol",
        );
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
        assert!(
            text.ends_with("\n1 of 3 required passed; 0 extras (0 passed); 1 skipped\n"),
            "{text}"
        );
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

    /// A `Write` the test can read back (what a live checker printed).
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    const CITE: &str = "Jalankan program server.py di 3 port yang berbeda (31000, 31001, 31002)";

    fn echo_port() -> u16 {
        fake_server(|mut s| {
            let mut r = s.try_clone().unwrap();
            let _ = io::copy(&mut r, &mut s);
        })
    }

    fn kinds(c: &mut Checker) {
        c.require("echo", "the server echoes", CITE, |o| {
            let mut conn = o.connect()?;
            conn.send(b"hi", "the message")?;
            conn.recv_exact(2, "the echo").map(drop)
        });
        c.require("wrong", "a required one that fails", CITE, |_| {
            Err(Failure::new("because"))
        });
        c.extra("extra-pass", "an extra that passes", |_| Ok(()));
        c.extra("extra-fail", "an extra that fails", |_| {
            Err(Failure::new("not asked anyway"))
        });
        c.require("another", "another required one", CITE, |_| Ok(()));
    }

    #[test]
    fn required_and_extras_are_counted_apart() {
        let port = echo_port();
        let r = crate::testkit::check::run_check(CheckOptions::local(port, SHORT), kinds);
        assert_eq!(
            r.required,
            Tally {
                passed: 2,
                total: 3
            }
        );
        assert_eq!(
            r.extras,
            Tally {
                passed: 1,
                total: 2
            }
        );
        assert_eq!((r.passed, r.failed), (3, 2));
        assert_eq!(r.exit_code, EXIT_FAILED);
        assert_eq!(r.summary(), "2 of 3 required passed; 2 extras (1 passed)");
        assert_eq!(r.first_graded_failure().unwrap().id, "wrong");
        assert_eq!(r.by_id("another").unwrap().kind, Kind::Required);
        let text = r.text();
        assert!(text.contains("PASS  the server echoes\n"), "{text}");
        assert!(
            text.contains(&format!(
                "FAIL  a required one that fails: because\n      ASSIGNMENTS.md: \"{CITE}\"\n"
            )),
            "{text}"
        );
        assert!(
            text.contains("PASS  (extra) an extra that passes\n"),
            "{text}"
        );
        // An extra's failure has no citation line.
        assert!(
            text.contains(
                "FAIL  (extra) an extra that fails: not asked anyway\nPASS  another required one"
            ),
            "{text}"
        );

        // Only the extras fail: exit 0, unless --strict.
        let only_extras = |c: &mut Checker| {
            c.require("echo", "the server echoes", CITE, |_| Ok(()));
            c.extra("x", "an extra that fails", |_| Err(Failure::new("no")));
        };
        let r = crate::testkit::check::run_check(CheckOptions::local(port, SHORT), only_extras);
        assert_eq!((r.exit_code, r.graded_passed()), (EXIT_PASSED, true));
        assert!(r.first_graded_failure().is_none());
        let strict = CheckOptions {
            strict: true,
            ..CheckOptions::local(port, SHORT)
        };
        let r = crate::testkit::check::run_check(strict, only_extras);
        assert_eq!(r.exit_code, EXIT_FAILED);
        assert_eq!(
            r.summary(),
            "1 of 1 required passed; 1 extra (0 passed); --strict: the extras count"
        );
        assert_eq!(r.first_graded_failure().unwrap().id, "x");
    }

    #[test]
    fn ids_stay_unique_and_come_from_the_words() {
        assert_eq!(
            id_from_text("server on port 31000 echoes \"PEMROGRAMAN JARINGAN\""),
            "server-on-port-31000-echoes-pemrograman-jaringan"
        );
        let mut c = Checker::new(CheckOptions::local(1, SHORT));
        c.extra("same", "one", |_| Ok(()));
        c.extra("same", "two", |_| Ok(()));
        c.require("", "no id given", "", |_| Ok(()));
        let r = c.finish();
        let ids: Vec<&str> = r.requirements.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["same", "same-2", "requirement"]);
    }

    #[test]
    fn json_has_the_assignment_ids_kinds_citations_and_convention() {
        let port = echo_port();
        let opts = CheckOptions {
            assignment: "tugas1".to_string(),
            ..CheckOptions::local(port, SHORT)
        };
        let mut c = Checker::new(opts);
        c.extra("before", "before any convention", |_| Ok(()));
        c.convention("raw bytes until close");
        kinds(&mut c);
        let json: serde_json::Value = serde_json::from_str(&c.finish().json()).unwrap();
        assert_eq!(json["assignment"], "tugas1");
        assert_eq!(json["convention"], "raw bytes until close");
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["required"]["passed"], 2);
        assert_eq!(json["extras"]["total"], 3);
        assert_eq!(json["unreachable"], serde_json::Value::Null);
        let reqs = json["requirements"].as_array().unwrap();
        assert_eq!(reqs[0]["convention"], serde_json::Value::Null);
        let wrong = &reqs[2];
        assert_eq!(wrong["id"], "wrong");
        assert_eq!(wrong["kind"], "required");
        assert_eq!(wrong["citation"], CITE);
        assert_eq!(wrong["status"], "fail");
        assert_eq!(wrong["reason"], "because");
        assert_eq!(wrong["convention"], "raw bytes until close");
        for key in ["requirement", "sent", "got", "millis"] {
            assert!(wrong.get(key).is_some(), "{key} missing: {wrong}");
        }
        assert_eq!(reqs[3]["kind"], "extra");
        assert_eq!(reqs[3]["citation"], serde_json::Value::Null);
        for key in ["target", "notes", "passed", "failed", "skipped"] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
    }

    #[test]
    fn the_budget_bounds_the_whole_check() {
        let port = fake_server(|s| {
            let _keep = s;
            thread::park();
        });
        let opts = CheckOptions {
            budget: Duration::from_millis(600),
            ..CheckOptions::local(port, Duration::from_secs(5))
        };
        let start = Instant::now();
        let r = crate::testkit::check::run_check(opts, |c| {
            for i in 0..4 {
                c.require(&format!("r{i}"), format!("requirement {i}"), CITE, |o| {
                    let mut conn = o.connect()?;
                    conn.send(b"x", "a byte")?;
                    conn.recv_exact(1, "the echo").map(drop)
                });
            }
        });
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        let first = r.by_id("r0").unwrap();
        assert_eq!(first.status, Status::Fail);
        assert_eq!(
            first.reason.as_deref(),
            Some("the check's time budget (--budget 0.6s) was spent while waiting for the echo")
        );
        let last = r.by_id("r3").unwrap();
        assert_eq!(last.status, Status::NotRun);
        assert_eq!(
            last.line(),
            "FAIL  requirement 3: not run: the check's time budget (--budget 0.6s) was spent"
        );
        assert_eq!((r.required.passed, r.required.total), (0, 4));
        assert_eq!((r.failed, r.not_run), (4, 3));
        assert!(r.budget_spent);
        assert_eq!(r.exit_code, EXIT_FAILED);
        assert!(
            r.summary().ends_with("; 3 not run (budget spent)"),
            "{}",
            r.summary()
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&r.json()).unwrap()["requirements"][3]
                ["status"],
            "not_run"
        );
    }

    #[test]
    fn a_server_that_never_answers_fails_each_requirement_after_the_timeout() {
        let port = fake_server(crate::testkit::check::silent);
        let start = Instant::now();
        let r = crate::testkit::check::run_check(CheckOptions::local(port, SHORT), |c| {
            for i in 0..3 {
                c.require(&format!("r{i}"), format!("requirement {i}"), CITE, |o| {
                    let mut conn = o.connect()?;
                    conn.send(b"x", "a byte")?;
                    conn.recv_exact(1, "the echo").map(drop)
                });
            }
        });
        assert!(start.elapsed() < Duration::from_secs(3));
        assert_eq!(r.failed, 3);
        assert!(r.unreachable.is_none());
        assert_eq!(r.exit_code, EXIT_FAILED);
        for o in &r.requirements {
            assert_eq!(
                o.reason.as_deref(),
                Some("timed out after 0.3s waiting for the echo")
            );
        }
    }

    #[test]
    fn an_unreachable_server_is_one_line_and_exit_3() {
        let port = crate::testkit::check::closed_port();
        let out = Shared::default();
        let mut c = Checker::new(CheckOptions::local(port, SHORT));
        c.print_live(Box::new(out.clone()));
        for i in 0..3 {
            c.require(&format!("r{i}"), format!("requirement {i}"), CITE, |o| {
                o.connect().map(drop)
            });
        }
        let r = c.finish();
        let line = format!(
            "cannot reach the server: cannot connect to 127.0.0.1:{port}: connection refused \
             (is the server running on 127.0.0.1:{port}?)"
        );
        assert_eq!(r.unreachable.as_deref(), Some(line.as_str()));
        assert_eq!(r.exit_code, EXIT_UNREACHABLE);
        assert_eq!(r.text(), format!("{line}\n"));
        // Nothing else was printed: no FAIL per requirement.
        assert_eq!(out.text(), "");
        // The outcomes are all there for scripts.
        assert_eq!(r.failed, 3);
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["exit_code"], 3);
        assert_eq!(json["unreachable"], line.as_str());
    }

    #[test]
    fn failures_before_the_server_is_reached_are_printed_once_it_is() {
        let port = echo_port();
        let closed = crate::testkit::check::closed_port();
        let out = Shared::default();
        let mut c = Checker::new(CheckOptions {
            ports: vec![closed, port],
            ..CheckOptions::local(closed, SHORT)
        });
        c.print_live(Box::new(out.clone()));
        for p in [closed, port] {
            c.require(&format!("echo-{p}"), format!("echo on {p}"), CITE, |o| {
                o.connect_port(p).map(drop)
            });
        }
        let r = c.finish();
        assert!(r.unreachable.is_none());
        assert_eq!(r.exit_code, EXIT_FAILED);
        let text = out.text();
        assert!(
            text.starts_with(&format!("FAIL  echo on {closed}: cannot connect")),
            "{text}"
        );
        assert!(
            text.contains(&format!("\nPASS  echo on {port}\n")),
            "{text}"
        );
    }

    #[test]
    fn the_program_prints_one_line_and_exits_3_when_nothing_listens() {
        const CMD: Command = Command {
            name: "check",
            about: "Tugas 1 grader's check: tests an echo server.",
            args: "",
            flags: &[host(), port("31000"), TIMEOUT, JSON],
        };
        let full = with_kit_flags(&CMD);
        let body = |c: &mut Checker, _m: &Matches| {
            for i in 0..3 {
                c.require(&format!("r{i}"), format!("requirement {i}"), CITE, |o| {
                    o.connect().map(drop)
                });
            }
            Ok(())
        };
        let closed = crate::testkit::check::closed_port().to_string();
        let m = full
            .parse(["--port", closed.as_str(), "--timeout", "0.3"].map(String::from))
            .unwrap();
        let (out, mut err) = (Shared::default(), Vec::new());
        let code = run_program(&full, &m, body, Box::new(out.clone()), &mut err).unwrap();
        assert_eq!(code, EXIT_UNREACHABLE);
        assert_eq!(out.text(), "");
        assert_eq!(
            String::from_utf8(err).unwrap(),
            format!(
                "error: cannot reach the server: cannot connect to 127.0.0.1:{closed}: \
                 connection refused (is the server running on 127.0.0.1:{closed}?)\n"
            )
        );

        // A server that answers: the lines, then the summary; exit 0.
        let port = echo_port().to_string();
        let m = full
            .parse(["--port", port.as_str()].map(String::from))
            .unwrap();
        let (out, mut err) = (Shared::default(), Vec::new());
        let code = run_program(&full, &m, body, Box::new(out.clone()), &mut err).unwrap();
        assert_eq!(code, EXIT_PASSED);
        assert_eq!(
            out.text(),
            "PASS  requirement 0\nPASS  requirement 1\nPASS  requirement 2\n\
             3 of 3 required passed; 0 extras (0 passed)\n"
        );
        assert!(err.is_empty());

        // --json: one object, with the assignment's name.
        let m = full
            .parse(["--port", port.as_str(), "--json"].map(String::from))
            .unwrap();
        let out = Shared::default();
        run_program(&full, &m, body, Box::new(out.clone()), &mut Vec::new()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&out.text()).unwrap();
        assert_eq!(json["assignment"], "tugas1");
        assert_eq!(json["requirements"][2]["id"], "r2");
    }

    #[test]
    fn kit_flags_are_added_once() {
        const CMD: Command = Command {
            name: "check",
            about: "Tugas 1a grader's check: tests a file-upload server (any language).",
            args: "",
            flags: &[host(), port("31100"), TIMEOUT, JSON],
        };
        let full = with_kit_flags(&CMD);
        let names: Vec<&str> = full.flags.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            ["host", "port", "timeout", "json", "strict", "budget"]
        );
        let m = full.parse(Vec::<String>::new()).unwrap();
        let o = CheckOptions::from_matches(&full, &m).unwrap();
        assert_eq!((o.budget, o.strict), (Duration::from_secs(30), false));
        assert_eq!(o.assignment, "tugas1a");
        let m = full
            .parse(["--strict", "--budget", "2.5"].map(String::from))
            .unwrap();
        let o = CheckOptions::from_matches(&full, &m).unwrap();
        assert_eq!((o.budget, o.strict), (Duration::from_millis(2500), true));
        let m = full.parse(["--budget", "0"].map(String::from)).unwrap();
        assert!(CheckOptions::from_matches(&full, &m).is_err());
        // Without the kit flags the defaults hold.
        let m = CMD.parse(Vec::<String>::new()).unwrap();
        let o = CheckOptions::from_matches(&CMD, &m).unwrap();
        assert_eq!((o.budget, o.strict), (Duration::from_secs(30), false));
        let other = Command {
            about: "checks a hello server",
            ..CMD
        };
        assert_eq!(assignment_of(&other), "check");
    }
}
