//! The downloading client: one thread and one connection per file, all at
//! the same time (or one after another with `--sequential`).
//!
//! [`run_client`] starts a thread per file inside a [`thread::scope`]:
//! each runs `download` on its own connection, and the scope ends only
//! when every one of them has ended, so no download outlives the call. A
//! second small thread redraws the shared progress line meanwhile.

use std::fmt::Write as _;
use std::io::{self, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::cli::{self, Matches};
use common::error::{io_cause, AppError, MainError};
use common::files::{
    check_relative, human_bytes, mb_per_s, AtomicFile, LiveLine, Progress, Summary, Tracker,
    COPY_BUF,
};
use common::framing::{copy_exact_paced, FrameError};
use common::net;
use common::transfer::{parse_size, Request, Status};

/// What the client was asked to do (from its flags).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Server host (`--host`).
    pub host: String,
    /// Server port (`--port`).
    pub port: u16,
    /// File names to ask for (the positional arguments).
    pub names: Vec<String>,
    /// Folder to save into (`--out`).
    pub out_dir: PathBuf,
    /// One after another instead of all at once (`--sequential`).
    pub sequential: bool,
    /// Connect/read/write timeout (`--timeout`).
    pub timeout: Duration,
}

impl ClientConfig {
    /// The configuration from the client's parsed flags ([`crate::CLIENT`]).
    ///
    /// # Errors
    /// No file names, a bad `--port` or `--timeout` (usage errors).
    pub fn from_matches(m: &Matches) -> Result<ClientConfig, MainError> {
        Ok(ClientConfig {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            names: names_from(m)?,
            out_dir: PathBuf::from(m.value("out")),
            sequential: m.is_set("sequential"),
            timeout: m.timeout()?,
        })
    }
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

/// Downloads every file of `config`: all at once (a thread and a
/// connection each) or one after another. A failed file does not stop the
/// others. With `live`, a progress line is redrawn on stderr meanwhile.
pub fn run_client(config: &ClientConfig, live: bool) -> Report {
    let start = Instant::now();
    let trackers: Vec<Arc<Tracker>> = config
        .names
        .iter()
        .map(|_| Arc::new(Tracker::default()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let board = live.then(|| {
        let (names, trackers, stop) = (config.names.clone(), trackers.clone(), Arc::clone(&stop));
        thread::spawn(move || draw_board(&names, &trackers, &stop))
    });
    let outcomes = if config.sequential {
        config
            .names
            .iter()
            .zip(&trackers)
            .map(|(name, t)| download(config, name, Arc::clone(t)))
            .collect()
    } else {
        thread::scope(|scope| {
            // Start every download first: one thread (and connection) per file ...
            let threads: Vec<_> = config
                .names
                .iter()
                .zip(&trackers)
                .map(|(name, t)| {
                    let t = Arc::clone(t);
                    thread::Builder::new()
                        .name(format!("download {name}"))
                        .spawn_scoped(scope, move || download(config, name, t))
                })
                .collect();
            // ... then wait for each, in the order given.
            threads
                .into_iter()
                .zip(&config.names)
                .map(|(thread, name)| {
                    let failed = |cause: String| Outcome {
                        name: name.clone(),
                        result: Err(AppError::new(format!("cannot download {name}"), cause)),
                    };
                    match thread {
                        Ok(t) => t
                            .join()
                            .unwrap_or_else(|_| failed("the download thread panicked".into())),
                        Err(e) => failed(io_cause(&e)),
                    }
                })
                .collect()
        })
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

/// The body of one download's thread: [`fetch`], and its outcome.
fn download(config: &ClientConfig, name: &str, tracker: Arc<Tracker>) -> Outcome {
    Outcome {
        name: name.to_string(),
        result: fetch(config, name, tracker),
    }
}

/// Makes the folder `--out DIR` saves into, when it is missing: only that
/// last folder, so a mistyped path is an error, not a new tree of folders.
///
/// # Errors
/// "cannot save into DIR: the folder PARENT does not exist", or the
/// folder cannot be made.
pub fn prepare_out_dir(dir: &Path) -> Result<(), AppError> {
    if dir.is_dir() {
        return Ok(());
    }
    let what = || format!("cannot save into {}", dir.display());
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(AppError::new(
                what(),
                format!("the folder {} does not exist", parent.display()),
            )
            .hint("make it first: --out makes only its last folder"));
        }
    }
    std::fs::create_dir(dir).map_err(|e| AppError::io(what(), &e))
}

/// One file on its own connection: sends `GET <name>`, reads the status,
/// and copies exactly the announced bytes into a temporary file in
/// `out_dir`, renamed into place once the last byte arrived. Returns where
/// it was saved and how the transfer went.
///
/// # Errors
/// The server's `ERROR` answer, connection problems, a cut-off transfer
/// (no file is left), or a local write error.
fn fetch(
    config: &ClientConfig,
    name: &str,
    tracker: Arc<Tracker>,
) -> Result<(PathBuf, Summary), AppError> {
    let rel =
        check_relative(name).map_err(|e| AppError::new(format!("cannot ask for {name:?}"), e))?;
    let dest = config
        .out_dir
        .join(rel.file_name().expect("checked name has a last part"));
    let stream = net::connect(&config.host, config.port, config.timeout)?;
    let mut reader = BufReader::with_capacity(COPY_BUF, stream);
    let mut progress = Progress::with_live(name, None, false).tracked(tracker);
    let failed = |e: FrameError| AppError::new(format!("cannot download {name}"), e);
    Request::Get { name: name.into() }
        .write_to(reader.get_mut())
        .map_err(|e| failed(e.into()))?;
    let size = match Status::read_from(&mut reader).map_err(failed)? {
        Status::Error(msg) => return Err(AppError::new("server refused", msg)),
        Status::Ok(text) => parse_size(&text).map_err(failed)?,
    };
    progress.set_total(size);
    let local = |e: &io::Error| {
        AppError::new(
            format!("cannot download {name}"),
            format!("cannot write {}: {}", dest.display(), io_cause(e)),
        )
    };
    let mut out = LocalFile {
        file: AtomicFile::create(&dest).map_err(|e| local(&e))?,
        failed: false,
    };
    // The read timeout also bounds how slowly the server may send.
    let stall = reader
        .get_ref()
        .read_timeout()
        .map_err(|e| failed(e.into()))?;
    let copied = copy_exact_paced(&mut reader, &mut out, size, COPY_BUF, stall, |d| {
        progress.update(d)
    });
    match copied {
        // The temporary file is removed when `out` drops here.
        Err(FrameError::Io(e)) if out.failed => return Err(local(&e)),
        Err(e) => return Err(failed(e)),
        Ok(_) => {}
    }
    out.file.commit().map_err(|e| local(&e))?;
    let summary = progress.finish(size);
    log::debug!("{name}: done, {} bytes", summary.bytes);
    Ok((dest, summary))
}

/// The file being downloaded into; remembers whether writing failed, so a
/// full disk is reported as a local problem, not a network one.
struct LocalFile {
    file: AtomicFile,
    failed: bool,
}

impl Write for LocalFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.file.write(buf);
        self.failed |= r.is_err();
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        let r = self.file.flush();
        self.failed |= r.is_err();
        r
    }
}

/// Redraws one status line with every file's progress until `stop`.
fn draw_board(names: &[String], trackers: &[Arc<Tracker>], stop: &AtomicBool) {
    let mut err = io::stderr();
    let mut live = LiveLine::new();
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
        let _ = write!(err, "{}", live.redraw(&parts.join(" | ")));
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
pub fn names_from(m: &Matches) -> Result<Vec<String>, cli::CliError> {
    if m.positionals().is_empty() {
        return Err(cli::CliError::Usage(
            "no file names given (try: client contoh.txt gambar.png besar.txt)".into(),
        ));
    }
    Ok(m.positionals().to_vec())
}
