//! Tugas 3: threads, so that files download at the same time.
//!
//! The server gives every client its own thread (from [`common::net::serve`]),
//! so one slow or silent client never holds up the others; a client that
//! stalls is dropped after `--timeout`. The client downloads every file it
//! is given at the same time, one thread and one connection per file, and
//! shows their progress side by side; `--sequential` fetches them one by
//! one for comparison.
//!
//! # Wire format (from [`common::transfer`], the same as Tugas 1b)
//!
//! ```text
//! client -> server   GET <name>\n
//! server -> client   OK <size>\n  then exactly <size> bytes
//!                or  ERROR <reason>\n
//! ```
//!
//! ```text
//! cargo run -p tugas3 --bin server -- --dir tugas3/files
//! cargo run -p tugas3 --bin client -- contoh.txt gambar.png besar.txt
//! cargo run -p tugas3 --bin client -- --sequential contoh.txt gambar.png besar.txt
//! cargo run -p tugas3 --bin check                 # grader: test any threaded file server
//! ```
//!
//! Modules: [`check`], the grader's conformance check of any threaded file server.

pub mod check;

use std::fmt::Write as _;
use std::io::{self, BufReader, IsTerminal, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::cli::{self, Command, Flag};
use common::error::AppError;
use common::files::{check_relative, human_bytes, mb_per_s, Progress, Summary, Tracker, COPY_BUF};
use common::net::{self, ServeOptions};
use common::transfer::{self, DownloadError};

/// Default server port.
pub const DEFAULT_PORT: &str = "31300";

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 3 server: serves the files in a folder to many clients at once, a thread each.",
    args: "",
    flags: &[
        cli::host("0.0.0.0"),
        cli::port(DEFAULT_PORT),
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
        cli::port(DEFAULT_PORT),
        Flag::value("out", "DIR", "downloads", "folder to save the files in"),
        Flag::switch(
            "sequential",
            "download one file after another instead, for comparison",
        ),
        cli::TIMEOUT,
    ],
};

/// Serves the files of `dir` forever, a thread per client.
pub fn run_server(listener: TcpListener, opts: ServeOptions, dir: PathBuf) {
    transfer::serve_folder(listener, opts, dir);
}

/// What the client was asked to do.
#[derive(Debug, Clone)]
pub struct Job {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// File names to ask for.
    pub names: Vec<String>,
    /// Folder to save into.
    pub out_dir: PathBuf,
    /// One after another instead of all at once.
    pub sequential: bool,
    /// Connect/read/write timeout.
    pub timeout: Duration,
}

/// How one file's download ended.
#[derive(Debug)]
pub struct Outcome {
    /// The name asked for.
    pub name: String,
    /// Where it was saved and how it went, or why it failed.
    pub result: Result<(PathBuf, Summary), AppError>,
}

/// All downloads of a run and their wall-clock time.
#[derive(Debug)]
pub struct Report {
    /// One per file, in the order given.
    pub outcomes: Vec<Outcome>,
    /// From the first connect to the last byte.
    pub elapsed: Duration,
}

impl Report {
    /// Whether every file arrived.
    pub fn all_ok(&self) -> bool {
        self.outcomes.iter().all(|o| o.result.is_ok())
    }

    /// Bytes that arrived in total.
    pub fn total_bytes(&self) -> u64 {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().ok())
            .map(|(_, s)| s.bytes)
            .sum()
    }

    /// The summary table: a line per file, then the total.
    pub fn render(&self, mode: &str) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            let _ = match &o.result {
                Ok((path, s)) => writeln!(
                    out,
                    "  ok     {:<24} {:>12} bytes  {:>8.3} s  {:>9.1} MB/s  -> {}",
                    o.name,
                    s.bytes,
                    s.elapsed.as_secs_f64(),
                    s.mb_per_s(),
                    path.display()
                ),
                Err(e) => writeln!(out, "  FAILED {:<24} {e}", o.name),
            };
        }
        let ok = self.outcomes.iter().filter(|o| o.result.is_ok()).count();
        let secs = self.elapsed.as_secs_f64();
        let _ = writeln!(
            out,
            "{mode}: {ok} of {} files, {} bytes in {secs:.3} s ({:.1} MB/s in total)",
            self.outcomes.len(),
            self.total_bytes(),
            mb_per_s(self.total_bytes(), secs)
        );
        out
    }
}

/// Downloads every file of `job`: all at once (a thread and a connection
/// each) or one after another. A failed file does not stop the others.
pub fn run_client(job: &Job, live: bool) -> Report {
    let start = Instant::now();
    let trackers: Vec<Arc<Tracker>> = job
        .names
        .iter()
        .map(|_| Arc::new(Tracker::default()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let board = live.then(|| {
        let (names, trackers, stop) = (job.names.clone(), trackers.clone(), Arc::clone(&stop));
        thread::spawn(move || draw_board(&names, &trackers, &stop))
    });
    let outcomes = if job.sequential {
        job.names
            .iter()
            .zip(&trackers)
            .map(|(name, t)| fetch_one(job, name, Arc::clone(t)))
            .collect()
    } else {
        let handles: Vec<_> = job
            .names
            .iter()
            .zip(&trackers)
            .map(|(name, t)| {
                let (job, name, t) = (job.clone(), name.clone(), Arc::clone(t));
                thread::Builder::new()
                    .name(format!("download {name}"))
                    .spawn(move || fetch_one(&job, &name, t))
            })
            .collect();
        handles
            .into_iter()
            .zip(&job.names)
            .map(|(h, name)| match h {
                Ok(h) => h.join().unwrap_or_else(|_| Outcome {
                    name: name.clone(),
                    result: Err(AppError::new(
                        format!("cannot download {name}"),
                        "the download thread panicked",
                    )),
                }),
                Err(e) => Outcome {
                    name: name.clone(),
                    result: Err(AppError::io(format!("cannot download {name}"), &e)),
                },
            })
            .collect()
    };
    stop.store(true, Ordering::Relaxed);
    if let Some(b) = board {
        b.thread().unpark();
        let _ = b.join();
    }
    Report {
        outcomes,
        elapsed: start.elapsed(),
    }
}

/// One file on its own connection.
fn fetch_one(job: &Job, name: &str, tracker: Arc<Tracker>) -> Outcome {
    let result = (|| {
        let rel = check_relative(name)
            .map_err(|e| AppError::new(format!("cannot ask for {name:?}"), e))?;
        let dest = job
            .out_dir
            .join(rel.file_name().expect("checked name has a last part"));
        let stream = net::connect(&job.host, job.port, job.timeout)?;
        let mut reader = BufReader::with_capacity(COPY_BUF, stream);
        let progress = Progress::with_live(name, None, false).tracked(tracker);
        let summary =
            transfer::download(&mut reader, name, &dest, progress).map_err(|e| match e {
                DownloadError::Refused(msg) => AppError::new("server refused", msg),
                other => AppError::new(format!("cannot download {name}"), other),
            })?;
        log::debug!("{name}: done, {} bytes", summary.bytes);
        Ok((dest, summary))
    })();
    Outcome {
        name: name.to_string(),
        result,
    }
}

/// Redraws one status line with every file's progress until `stop`.
fn draw_board(names: &[String], trackers: &[Arc<Tracker>], stop: &AtomicBool) {
    let mut err = io::stderr();
    loop {
        let finished = stop.load(Ordering::Relaxed);
        let parts: Vec<String> = names
            .iter()
            .zip(trackers)
            .map(|(n, t)| {
                let (done, total) = (
                    t.done.load(Ordering::Relaxed),
                    t.total.load(Ordering::Relaxed),
                );
                if total > 0 {
                    format!("{n} {:.0}%", done as f64 * 100.0 / total as f64)
                } else {
                    format!("{n} {}", human_bytes(done))
                }
            })
            .collect();
        let _ = write!(err, "\r{}\x1b[K", parts.join(" | "));
        let _ = err.flush();
        if finished {
            let _ = writeln!(err);
            return;
        }
        thread::park_timeout(Duration::from_millis(200));
    }
}

/// Whether to draw the live progress line: only for a person at a terminal.
pub fn live_progress() -> bool {
    io::stderr().is_terminal()
}

/// Checks the names given on the command line.
///
/// # Errors
/// A usage message when none was given.
pub fn names_from(m: &cli::Matches) -> Result<Vec<String>, cli::CliError> {
    if m.positionals().is_empty() {
        return Err(cli::CliError::Usage(
            "no file names given (try: client contoh.txt gambar.png besar.txt)".into(),
        ));
    }
    Ok(m.positionals().to_vec())
}

/// The default served folder for tests and benches: this crate's samples.
pub fn sample_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/files"))
}
