//! Grading a whole class in one command: for each student's repository,
//! start their server, wait until its port answers, run the assignment's
//! check in-process, stop the server and every process it started, and
//! write a gradebook.
//!
//! Each assignment crate has a `grade` program built on this module:
//!
//! ```text
//! cargo run -p tugas6 --bin grade -- --run 'python3 {dir}/tugas6/server_thread_http.py' students/*
//! ```
//!
//! The command given by `--run` is run by the shell (`sh -c` on Unix,
//! `cmd /C` on Windows) in the student's folder; `{dir}` becomes that
//! folder (absolute, quoted) and `{port}` the port checked (`--port`, by
//! default the check's own). In the check's own flags `{dir}` becomes the
//! folder too (unquoted): `--output-file '{dir}/tugas1a/hasil.txt'`
//! compares each student's own output file. Per student:
//!
//! 1. if something already answers on the port (a server from before), the
//!    row says so and nobody is started;
//! 2. the server starts in its own process group (Unix) with its output
//!    (stdout and stderr) saved to `OUT/logs/STUDENT.log`;
//! 3. the port must answer within `--start-timeout` (TCP: a connection is
//!    accepted; UDP: the port is bound, seen in `/proc/net/udp` on Linux,
//!    elsewhere the server still runs after a second); a server that exits
//!    first, or does not answer in time, gets one row `did not start:
//!    <its last stderr line>`;
//! 4. the check runs with `--timeout` per step and `--budget` in all
//!    (a check that overruns even that is abandoned);
//! 5. the server's whole process group gets SIGTERM, then SIGKILL after
//!    the stop grace (Windows: `taskkill /T /F`, the child's tree).
//!
//! So one student costs at most start timeout + budget + stop grace (plus
//! one step). The gradebook: `OUT/grades.csv` and `OUT/grades.json` (one
//! row per student: required score, extras, exit code, the first graded
//! failure's reason, the convention found, seconds; the JSON also holds
//! each full check report), and a one-screen table on stdout.
//!
//! A crate's `src/bin/grade.rs` is:
//!
//! ```no_run
//! use common::check::{self, Checker};
//! use common::cli::{Command, Matches};
//! use common::error::MainError;
//! use common::grade::{Assignment, Transport};
//!
//! const CHECK: Command = Command {
//!     name: "check",
//!     about: "Tugas 9 grader's check: tests a hello server.",
//!     args: "",
//!     flags: &[check::host(), check::port("4000"), check::TIMEOUT, check::JSON],
//! };
//!
//! fn run(c: &mut Checker, _m: &Matches) -> Result<(), MainError> {
//!     c.require("connect", "the server accepts a connection", "", |o| o.connect().map(drop));
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     common::grade::main(&Assignment { name: "tugas9", check: &CHECK, transport: Transport::Tcp, run })
//! }
//! ```

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::check::{self, CheckOptions, Checker, Kind, Report, EXIT_UNREACHABLE};
use crate::cli::{CliError, Command, Flag, Matches};
use crate::error::{io_cause, run_main, AppError, MainError};
use crate::net::{join_host_port, resolve};

/// How the assignment's server is reached, for "the port answers".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP server: it answers when a connection is accepted.
    Tcp,
    /// A UDP receiver: it answers when its port is bound.
    Udp,
}

/// What a crate's `grade` program grades: its check.
#[derive(Debug, Clone, Copy)]
pub struct Assignment {
    /// The assignment's name in the gradebook (`tugas6`).
    pub name: &'static str,
    /// The check program's flag table: `grade` accepts the same flags
    /// (their defaults too, the port first of all), except `--json`.
    pub check: &'static Command,
    /// TCP or UDP.
    pub transport: Transport,
    /// The check itself, as the check program runs it (the body given to
    /// [`check::main`]).
    pub run: fn(&mut Checker, &Matches) -> Result<(), MainError>,
}

/// `--run CMD`: how to start one student's server.
pub const RUN: Flag = Flag::value(
    "run",
    "CMD",
    "",
    "start one student's server: run by the shell in the student's folder, {dir} = that folder, {port} = the port",
);

/// `--list FILE`: the student folders, one per line.
pub const LIST: Flag = Flag::value(
    "list",
    "FILE",
    "",
    "a file naming the student folders, one per line (# starts a comment)",
);

/// `--start-timeout SECS`: how long a server may take to answer.
pub const START_TIMEOUT: Flag = Flag::value(
    "start-timeout",
    "SECS",
    "10",
    "a server that does not answer on its port within this many seconds did not start",
);

/// `--out DIR`: where the gradebook goes.
pub const OUT: Flag = Flag::value(
    "out",
    "DIR",
    "grades",
    "write grades.csv, grades.json and each server's output (logs/) here",
);

/// How long a stopped server may take to exit before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How long the other ports may take once the first answers.
pub const OTHER_PORTS_GRACE: Duration = Duration::from_secs(2);

/// How long to wait for a previous server to let go of the port.
const PORT_FREE_WAIT: Duration = Duration::from_secs(3);

/// Bytes of one server's output kept in its log file.
const LOG_CAP: u64 = 1 << 20;

/// Characters of a line kept for a row.
const LINE_CAP: usize = 300;

/// The `grade` program's flags: [`RUN`], [`LIST`], [`START_TIMEOUT`],
/// [`OUT`], then the check's own (without `--json`) and the kit's
/// ([`check::with_kit_flags`]).
pub fn command(a: &Assignment) -> Command {
    let mut flags = vec![RUN, LIST, START_TIMEOUT, OUT];
    for f in check::with_kit_flags(a.check).flags {
        if f.name != "json" && !flags.iter().any(|g| g.name == f.name) {
            flags.push(*f);
        }
    }
    let about = format!(
        "{} grading of a whole class: starts each student's server (--run), waits for its port, \
         runs the check, stops the server and everything it started, writes a gradebook (CSV, JSON, a table).",
        a.name
    );
    Command {
        name: "grade",
        about: Box::leak(about.into_boxed_str()),
        args: "DIR...",
        flags: Box::leak(flags.into_boxed_slice()),
    }
}

/// What to grade and how patiently.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// The student folders, in order.
    pub students: Vec<PathBuf>,
    /// The command template ([`RUN`]).
    pub run: String,
    /// How long a server may take to answer on its port.
    pub start_timeout: Duration,
    /// How long a stopped server may take to exit before SIGKILL.
    pub stop_grace: Duration,
    /// Where the gradebook goes.
    pub out: PathBuf,
    /// The check's options (host, ports, timeout, budget, strict).
    pub check: CheckOptions,
    /// The parsed flags, for the check's own ones.
    pub matches: Matches,
}

impl GradeOptions {
    /// Options from the flags of [`command`].
    ///
    /// # Errors
    /// No `--run`, no student folder, a list file that cannot be read, or
    /// a bad value.
    pub fn from_matches(
        a: &Assignment,
        cmd: &Command,
        m: &Matches,
    ) -> Result<GradeOptions, MainError> {
        let run = m.value("run").trim().to_string();
        if run.is_empty() {
            return Err(CliError::Usage(
                "--run CMD is needed: how to start a student's server, e.g. \
                 --run 'python3 {dir}/server.py' (try: grade --help)"
                    .to_string(),
            )
            .into());
        }
        let mut students: Vec<PathBuf> = m.positionals().iter().map(PathBuf::from).collect();
        let list = m.value("list");
        if !list.is_empty() {
            let text = fs::read_to_string(list)
                .map_err(|e| AppError::new(format!("cannot read {list}"), io_cause(&e)))?;
            students.extend(
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or_default().trim())
                    .filter(|l| !l.is_empty())
                    .map(PathBuf::from),
            );
        }
        if students.is_empty() {
            return Err(CliError::Usage(
                "no student folders: give them as DIR... or in --list FILE (try: grade --help)"
                    .to_string(),
            )
            .into());
        }
        let start_timeout = seconds(m, "start-timeout")?;
        let mut check = CheckOptions::from_matches(cmd, m)?;
        if check.ports.is_empty() {
            return Err(CliError::Usage("no --port given".to_string()).into());
        }
        check.assignment = a.name.to_string();
        check.json = false;
        Ok(GradeOptions {
            students,
            run,
            start_timeout,
            stop_grace: STOP_GRACE,
            out: PathBuf::from(m.value("out")),
            check,
            matches: m.clone(),
        })
    }

    /// The longest one student can take: start, check, stop.
    pub fn bound_per_student(&self) -> Duration {
        PORT_FREE_WAIT
            + self.start_timeout
            + OTHER_PORTS_GRACE
            + self.check_bound()
            + self.stop_grace * (2 + self.check.ports.len() as u32)
    }

    /// The hard bound of one check: its budget, one more step, a grace.
    fn check_bound(&self) -> Duration {
        self.check.budget + self.check.timeout + Duration::from_secs(5)
    }
}

fn seconds(m: &Matches, name: &str) -> Result<Duration, CliError> {
    let raw = m.value(name);
    match raw.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(CliError::Usage(format!(
            "invalid value '{raw}' for --{name}: expected a positive number of seconds"
        ))),
    }
}

/// How grading one student ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// The server started and the check ran (see the scores).
    Checked,
    /// The server exited or did not answer within the start timeout.
    DidNotStart,
    /// Something already answered on the port before the server started.
    PortBusy,
    /// The folder does not exist.
    NoFolder,
    /// The check did not finish within its bound, or could not run.
    CheckFailed,
}

/// One student's line in the gradebook.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The folder's name (its path when two folders share a name).
    pub student: String,
    /// The folder.
    pub dir: String,
    /// How grading ended.
    pub state: RowState,
    /// Required requirements passed.
    pub required_passed: usize,
    /// Required requirements tried.
    pub required_total: usize,
    /// Extras passed.
    pub extras_passed: usize,
    /// Extras tried.
    pub extras_total: usize,
    /// The check's exit code (0 passed, 1 failed, 3 unreachable); none
    /// when it did not run.
    pub exit_code: Option<u8>,
    /// Why the student lost points: the first graded failure (`id: reason`),
    /// or why nothing was checked ("did not start: ..."); empty when all passed.
    pub first_failure: String,
    /// The id of the first graded failure's requirement.
    pub first_failure_id: Option<String>,
    /// The protocol convention the check found, if any.
    pub convention: Option<String>,
    /// Seconds this student took (start, check, stop).
    pub seconds: f64,
    /// The server's saved output.
    pub log: String,
    /// The full check report (JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

impl Row {
    fn new(student: String, dir: &Path, state: RowState, why: String) -> Row {
        Row {
            student,
            dir: dir.display().to_string(),
            state,
            required_passed: 0,
            required_total: 0,
            extras_passed: 0,
            extras_total: 0,
            exit_code: None,
            first_failure: why,
            first_failure_id: None,
            convention: None,
            seconds: 0.0,
            log: String::new(),
            report: None,
        }
    }

    fn with_report(mut self, report: Report) -> Row {
        self.required_passed = report.required.passed;
        self.required_total = report.required.total;
        self.extras_passed = report.extras.passed;
        self.extras_total = report.extras.total;
        self.exit_code = Some(report.exit_code);
        self.convention = report.convention.clone();
        if report.exit_code == EXIT_UNREACHABLE {
            self.first_failure = report.unreachable.clone().unwrap_or_default();
        } else if let Some(o) = report.first_graded_failure() {
            let extra = if o.kind == Kind::Extra {
                "(extra) "
            } else {
                ""
            };
            self.first_failure_id = Some(o.id.clone());
            self.first_failure = format!("{extra}{}", o.reason.as_deref().unwrap_or("failed"));
        }
        self.report = Some(report);
        self
    }

    /// `7/7` for checked rows, `-` otherwise.
    fn score(&self, passed: usize, total: usize) -> String {
        if self.state == RowState::Checked {
            format!("{passed}/{total}")
        } else {
            "-".to_string()
        }
    }
}

/// Every student's row, in the order given.
#[derive(Debug, Clone, Serialize)]
pub struct Gradebook {
    /// The assignment graded (`tugas6`).
    pub assignment: String,
    /// The `--run` template.
    pub command: String,
    /// Whether the extras graded too (`--strict`).
    pub strict: bool,
    /// One row per student.
    pub rows: Vec<Row>,
}

impl Gradebook {
    /// The rows as CSV (RFC 4180 quoting), with a header line.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "student,required_passed,required_total,extras_passed,extras_total,exit_code,state,first_failure_id,first_failure,convention,seconds,dir,log\n",
        );
        for r in &self.rows {
            let state = serde_json::to_value(r.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let fields = [
                r.student.clone(),
                r.required_passed.to_string(),
                r.required_total.to_string(),
                r.extras_passed.to_string(),
                r.extras_total.to_string(),
                r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                state,
                r.first_failure_id.clone().unwrap_or_default(),
                r.first_failure.clone(),
                r.convention.clone().unwrap_or_default(),
                format!("{:.1}", r.seconds),
                r.dir.clone(),
                r.log.clone(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }

    /// The gradebook as pretty JSON (each row with its full report).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A one-screen table: student, required score, extras, first failure
    /// (cut to fit about 100 columns).
    pub fn table(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.student.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(7, 24);
        let mut out = format!(
            "{:width$}  {:>8}  {:>6}  first failure\n",
            "student", "required", "extras"
        );
        let room = 100usize.saturating_sub(width + 20).max(30);
        for r in &self.rows {
            let name: String = r.student.chars().take(width).collect();
            let line = format!(
                "{name:width$}  {:>8}  {:>6}  {}",
                r.score(r.required_passed, r.required_total),
                r.score(r.extras_passed, r.extras_total),
                cut(&r.first_failure, room)
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let all = self
            .rows
            .iter()
            .filter(|r| {
                r.state == RowState::Checked
                    && r.required_passed == r.required_total
                    && r.first_failure.is_empty()
            })
            .count();
        out.push_str(&format!(
            "{} students, {all} passed every required requirement{}\n",
            self.rows.len(),
            if self.strict { " and extra" } else { "" }
        ));
        out
    }

    /// Writes `grades.csv` and `grades.json` into `dir` (made if needed).
    ///
    /// # Errors
    /// The folder or a file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<(), AppError> {
        let fail = |what: &Path, e: io::Error| {
            AppError::new(format!("cannot write {}", what.display()), io_cause(&e))
        };
        fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        for (name, text) in [("grades.csv", self.csv()), ("grades.json", self.json())] {
            let path = dir.join(name);
            fs::write(&path, text).map_err(|e| fail(&path, e))?;
        }
        Ok(())
    }
}

fn csv_field(f: &str) -> String {
    let f = f.replace(['\r', '\n'], " ");
    if f.contains([',', '"']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(3)).collect();
        t.push_str("...");
        t
    }
}

/// The body of every `grade` binary: parses [`command`]'s flags, grades
/// every student ([`grade_class`], one progress line each on stderr),
/// writes the gradebook to `--out` and prints the table. Exits 0 when the
/// gradebook was written (whatever the grades), 1 if it could not be, 2
/// for a bad flag.
pub fn main(a: &Assignment) -> ExitCode {
    let cmd = command(a);
    run_main(&cmd, |m| {
        let opts = GradeOptions::from_matches(a, &cmd, &m)?;
        let book = grade_class(a, &opts, &mut io::stderr());
        book.write(&opts.out)?;
        let mut out = io::stdout().lock();
        let _ = write!(out, "{}", book.table());
        let _ = writeln!(
            out,
            "gradebook: {} and {} (server output in {})",
            opts.out.join("grades.csv").display(),
            opts.out.join("grades.json").display(),
            opts.out.join("logs").display()
        );
        let _ = out.flush();
        Ok(())
    })
}

/// Grades every student of `opts` one after another (they share the
/// port) and returns the gradebook; writes one line per student to
/// `progress` as each ends, and each server's output to `OUT/logs/`.
pub fn grade_class(a: &Assignment, opts: &GradeOptions, progress: &mut dyn Write) -> Gradebook {
    let logs = opts.out.join("logs");
    let _ = fs::create_dir_all(&logs);
    let names = student_names(&opts.students);
    let n = opts.students.len();
    let mut rows = Vec::with_capacity(n);
    for (i, (dir, name)) in opts.students.iter().zip(names).enumerate() {
        let start = Instant::now();
        let mut row = grade_one(a, opts, dir, name, &logs);
        row.seconds = (start.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        let what = match (&row.report, row.exit_code) {
            (Some(r), Some(code)) if code != EXIT_UNREACHABLE => r.summary.clone(),
            _ => row.first_failure.clone(),
        };
        let _ = writeln!(
            progress,
            "[{}/{n}] {}: {} ({:.1}s)",
            i + 1,
            row.student,
            cut(&what, 200),
            row.seconds
        );
        let _ = progress.flush();
        rows.push(row);
    }
    Gradebook {
        assignment: a.name.to_string(),
        command: opts.run.clone(),
        strict: opts.check.strict,
        rows,
    }
}

/// Each folder's name, or its path where two share a name.
fn student_names(dirs: &[PathBuf]) -> Vec<String> {
    let base = |d: &PathBuf| {
        d.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| d.display().to_string())
    };
    let mut seen = HashSet::new();
    let dup: HashSet<String> = dirs
        .iter()
        .map(base)
        .filter(|n| !seen.insert(n.clone()))
        .collect();
    dirs.iter()
        .map(|d| {
            let b = base(d);
            if dup.contains(&b) {
                d.display().to_string()
            } else {
                b
            }
        })
        .collect()
}

fn grade_one(a: &Assignment, opts: &GradeOptions, dir: &Path, name: String, logs: &Path) -> Row {
    let Ok(abs) = dir.canonicalize().and_then(|d| {
        if d.is_dir() {
            Ok(d)
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "not a folder"))
        }
    }) else {
        return Row::new(name, dir, RowState::NoFolder, "no such folder".to_string());
    };
    let port = opts.check.port();
    let busy = opts
        .check
        .ports
        .iter()
        .find(|&&p| !port_free(a.transport, &opts.check.host, p, PORT_FREE_WAIT));
    if let Some(&busy) = busy {
        let target = join_host_port(&opts.check.host, busy);
        return Row::new(
            name,
            dir,
            RowState::PortBusy,
            format!(
                "not started: something already listens on {target} (a server from before still running?)"
            ),
        );
    }
    let log_path = logs.join(format!("{}.log", file_safe(&name)));
    let mut row = Row::new(name, dir, RowState::Checked, String::new());
    row.log = log_path.display().to_string();
    let cmdline = opts
        .run
        .replace("{dir}", &shell_quote(&abs))
        .replace("{port}", &port.to_string());
    let mut server = match Server::start(&cmdline, &abs, &log_path) {
        Ok(s) => s,
        Err(e) => {
            row.state = RowState::DidNotStart;
            row.first_failure = format!("did not start: cannot run the shell: {}", io_cause(&e));
            return row;
        }
    };
    if let Err(why) = server.wait_until_answering(
        a.transport,
        &opts.check.host,
        &opts.check.ports,
        opts.start_timeout,
    ) {
        server.stop(opts.stop_grace);
        for &p in &opts.check.ports {
            port_free(a.transport, &opts.check.host, p, opts.stop_grace);
        }
        row.state = RowState::DidNotStart;
        row.first_failure = format!("did not start: {why}{}", address_in_use_hint(&why));
        return row;
    }
    let checked = run_check(a, opts, &abs);
    server.stop(opts.stop_grace);
    // The kernel closes a killed server's sockets a moment after kill()
    // returns: the next student starts on a free port.
    for &p in &opts.check.ports {
        port_free(a.transport, &opts.check.host, p, opts.stop_grace);
    }
    match checked {
        Ok(report) => row.with_report(report),
        Err(why) => {
            row.state = RowState::CheckFailed;
            row.first_failure = why;
            row
        }
    }
}

/// Runs the check on its own thread, abandoned if it overruns its bound.
/// `{dir}` in a check flag's value (`--output-file '{dir}/hasil.txt'`)
/// becomes the student's folder.
fn run_check(a: &Assignment, opts: &GradeOptions, dir: &Path) -> Result<Report, String> {
    let (tx, rx) = mpsc::channel();
    let run = a.run;
    let m = opts
        .matches
        .replace_in_values("{dir}", &dir.display().to_string());
    let copts = opts.check.clone();
    thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut c = Checker::new(copts);
            run(&mut c, &m).map(|()| c.finish())
        }));
        let _ = tx.send(match result {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(format!("the check could not run: {e}")),
            Err(_) => Err("the check could not run: the checker itself failed".to_string()),
        });
    });
    let bound = opts.check_bound();
    rx.recv_timeout(bound).unwrap_or_else(|_| {
        Err(format!(
            "the check did not finish within {} (budget, one step, a grace)",
            check::secs(bound)
        ))
    })
}

/// A hint for a server that could not bind its port: after the previous
/// student's server, the port's closed connections wait in TIME_WAIT for
/// up to a minute, and a server that does not set SO_REUSEADDR cannot bind
/// it until then.
fn address_in_use_hint(why: &str) -> &'static str {
    let lower = why.to_ascii_lowercase();
    if lower.contains("address already in use")
        || lower.contains("errno 98")
        || lower.contains("10048")
    {
        " (if no other server runs there, the port's closed connections from before wait in TIME_WAIT for up to a minute and this server does not set SO_REUSEADDR: grade it again alone)"
    } else {
        ""
    }
}

/// A name safe as a file name.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `path` quoted for the shell that runs `--run`.
fn shell_quote(path: &Path) -> String {
    let p = path.display().to_string();
    if cfg!(windows) {
        format!("\"{}\"", p.trim_start_matches(r"\\?\"))
    } else {
        format!("'{}'", p.replace('\'', r"'\''"))
    }
}

fn addrs(host: &str, port: u16) -> Vec<SocketAddr> {
    resolve(host, port).unwrap_or_default()
}

/// Whether a TCP connection to the port is accepted within `wait`.
fn tcp_answers(host: &str, port: u16, wait: Duration) -> bool {
    addrs(host, port)
        .iter()
        .any(|a| TcpStream::connect_timeout(a, wait).is_ok())
}

/// Whether some socket is bound to UDP `port`: `Some` on Linux
/// (`/proc/net/udp`, `/proc/net/udp6`), `None` where that cannot be seen.
fn udp_bound(port: u16) -> Option<bool> {
    let mut known = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        known = true;
        let hit = text.lines().skip(1).any(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|local| local.rsplit(':').next())
                .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                == Some(port)
        });
        if hit {
            return Some(true);
        }
    }
    known.then_some(false)
}

/// Waits up to `wait` for nothing to answer on the port; true if free.
fn port_free(transport: Transport, host: &str, port: u16, wait: Duration) -> bool {
    let end = Instant::now() + wait;
    loop {
        let busy = match transport {
            Transport::Tcp => tcp_answers(host, port, Duration::from_millis(300)),
            Transport::Udp => udp_bound(port) == Some(true),
        };
        if !busy {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The last lines a server printed (stderr and stdout apart).
#[derive(Debug, Default)]
struct Tail {
    stderr: Option<String>,
    stdout: Option<String>,
}

/// One student's running server: its process (group) and its output.
struct Server {
    child: Child,
    tail: Arc<Mutex<Tail>>,
    readers: mpsc::Receiver<()>,
    reaped: bool,
}

impl Server {
    fn start(cmdline: &str, dir: &Path, log: &Path) -> io::Result<Server> {
        let mut cmd = shell(cmdline);
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("PYTHONUNBUFFERED", "1");
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd.spawn()?;
        let file = Arc::new(Mutex::new((File::create(log).ok(), 0u64)));
        let tail = Arc::new(Mutex::new(Tail::default()));
        let (done_tx, readers) = mpsc::channel();
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>);
        for (stream, is_err) in [(stdout, false), (stderr, true)] {
            let Some(stream) = stream else { continue };
            let (file, tail, done) = (Arc::clone(&file), Arc::clone(&tail), done_tx.clone());
            // Ends when every process holding the pipe is gone; never joined.
            thread::spawn(move || {
                collect(stream, is_err, &file, &tail);
                let _ = done.send(());
            });
        }
        Ok(Server {
            child,
            tail,
            readers,
            reaped: false,
        })
    }

    /// Waits until the ports answer, the server exits, or `timeout`. The
    /// first port must answer; the others (a server started once per
    /// port) get [`OTHER_PORTS_GRACE`] more once it does, and the check
    /// judges those that never answer.
    fn wait_until_answering(
        &mut self,
        transport: Transport,
        host: &str,
        ports: &[u16],
        timeout: Duration,
    ) -> Result<(), String> {
        let start = Instant::now();
        let port = ports.first().copied().unwrap_or(0);
        let target = join_host_port(host, port);
        let mut first_answered: Option<Instant> = None;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.reaped = true;
                // Let the readers take the last lines (bounded).
                for _ in 0..2 {
                    let _ = self.readers.recv_timeout(Duration::from_millis(500));
                }
                return Err(match self.last_line() {
                    Some(line) => line,
                    None => format!("the server exited ({status}) and printed nothing"),
                });
            }
            let answers = |port: u16| match transport {
                Transport::Tcp => tcp_answers(host, port, Duration::from_millis(200)),
                Transport::Udp => match udp_bound(port) {
                    Some(bound) => bound,
                    None => start.elapsed() >= Duration::from_secs(1).min(timeout / 2),
                },
            };
            if let Some(at) = first_answered {
                if at.elapsed() >= OTHER_PORTS_GRACE || ports[1..].iter().all(|&p| answers(p)) {
                    return Ok(());
                }
            } else if answers(port) {
                if ports.len() == 1 {
                    return Ok(());
                }
                first_answered = Some(Instant::now());
                continue;
            }
            if start.elapsed() >= timeout {
                let last = self
                    .last_line()
                    .map(|l| format!(" (its last line: {l})"))
                    .unwrap_or_default();
                return Err(format!(
                    "nothing answered on {target} within {}{last}",
                    check::secs(timeout)
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last stderr line, else the last stdout line.
    fn last_line(&self) -> Option<String> {
        let t = self.tail.lock().ok()?;
        t.stderr.clone().or_else(|| t.stdout.clone())
    }

    /// Stops the server and every process it started: SIGTERM to its
    /// process group, SIGKILL after `grace` (Windows: the child's tree).
    fn stop(&mut self, grace: Duration) {
        #[cfg(unix)]
        {
            let pgid = self.child.id();
            let _ = crate::plumbing::sys::signal_process_group(pgid, false);
            let end = Instant::now() + grace;
            while !self.reaped && Instant::now() < end {
                match self.child.try_wait() {
                    Ok(Some(_)) => self.reaped = true,
                    Ok(None) => thread::sleep(Duration::from_millis(20)),
                    Err(_) => break,
                }
            }
            // Whatever of the group is left (a server that ignores
            // SIGTERM, a child the shell left behind).
            let _ = crate::plumbing::sys::signal_process_group(pgid, true);
        }
        #[cfg(windows)]
        {
            let _ = std::process::Command::new("taskkill")
                .args(["/PID", &self.child.id().to_string(), "/T", "/F"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = grace;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.reaped {
            self.stop(Duration::ZERO);
        }
    }
}

fn shell(cmdline: &str) -> std::process::Command {
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        let mut cmd = std::process::Command::new("cmd");
        cmd.arg("/C").raw_arg(cmdline);
        cmd
    }
    #[cfg(not(windows))]
    {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c").arg(cmdline);
        cmd
    }
}

/// Copies a server's output to its log (up to [`LOG_CAP`] bytes) and
/// keeps its last non-empty line (cut to [`LINE_CAP`] characters).
fn collect(
    stream: Box<dyn Read + Send>,
    is_err: bool,
    file: &Mutex<(Option<File>, u64)>,
    tail: &Mutex<Tail>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        // A line of at most 64 KiB at a time: a flood without line ends
        // is cut, not kept whole.
        let n = match (&mut reader).take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Ok(mut f) = file.lock() {
            let (file, written) = &mut *f;
            if let Some(out) = file.as_mut() {
                if *written < LOG_CAP {
                    let prefix: &[u8] = if is_err { b"stderr| " } else { b"stdout| " };
                    let _ = out.write_all(prefix);
                    let _ = out.write_all(&line[..n]);
                    if !line.ends_with(b"\n") {
                        let _ = out.write_all(b"\n");
                    }
                    *written += n as u64 + 8;
                }
            }
        }
        let text = String::from_utf8_lossy(&line[..n]);
        let text = text.trim();
        if !text.is_empty() {
            let kept = cut(text, LINE_CAP);
            if let Ok(mut t) = tail.lock() {
                if is_err {
                    t.stderr = Some(kept);
                } else {
                    t.stdout = Some(kept);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_use_gets_the_time_wait_hint() {
        assert!(
            address_in_use_hint("OSError: [Errno 98] Address already in use").contains("TIME_WAIT")
        );
        assert_eq!(
            address_in_use_hint("ModuleNotFoundError: No module named 'x'"),
            ""
        );
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_ends() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\"\nnow"), "\"say \"\"hi\"\" now\"");
    }

    #[test]
    fn names_are_the_folder_unless_two_share_it() {
        let dirs = ["class/alice", "a/repo", "b/repo"].map(PathBuf::from);
        assert_eq!(student_names(&dirs), ["alice", "a/repo", "b/repo"]);
        assert_eq!(file_safe("a/repo x"), "a_repo_x");
    }

    #[cfg(unix)]
    #[test]
    fn the_folder_is_quoted_for_the_shell() {
        assert_eq!(
            shell_quote(Path::new("/tmp/it's here")),
            r"'/tmp/it'\''s here'"
        );
    }

    #[test]
    fn the_udp_table_is_read_on_linux() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        if cfg!(target_os = "linux") {
            assert_eq!(udp_bound(port), Some(true));
            drop(s);
            assert_eq!(udp_bound(port), Some(false));
        }
    }
}
