//! Running a real program from a test: start it, wait for its
//! `listening on IP:PORT` line (no sleeping), talk to it, and kill it when
//! the test ends.
//!
//! ```no_run
//! use std::time::Duration;
//! use common::testkit::process::ServerProcess;
//!
//! // A program the test knows exactly: never `target/debug/server` or
//! // `env!("CARGO_BIN_EXE_server")`, which may be another crate's build.
//! let server = ServerProcess::start(
//!     "python3", // e.g. a student-style server the test wrote
//!     &["server.py", "--port", "0"],
//!     Duration::from_secs(10),
//! )
//! .unwrap();
//! let addr = server.addr; // connect here
//! // killed when `server` is dropped
//! ```
//!
//! In this workspace several crates have a binary called `server`, and
//! Cargo copies each to the same `target/debug/server` (cargo#6313), so a
//! test never runs the crate's own binary by that path: it tests the
//! program through its library instead.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// A server binary running as a child process; killed on drop.
pub struct ServerProcess {
    child: Child,
    /// The address from its `listening on` line.
    pub addr: SocketAddr,
    stderr: Arc<Captured>,
}

impl ServerProcess {
    /// Starts `program` with `args` and waits up to `limit` for its
    /// `listening on IP:PORT` line. Its stdout and stderr keep being read
    /// (so a chatty server never blocks on a full pipe); stderr is kept
    /// for [`ServerProcess::stderr`].
    ///
    /// # Errors
    /// If the program cannot start, or exits or stays silent before the
    /// line: the error says which, with what it wrote to stderr.
    pub fn start<S: AsRef<OsStr>>(
        program: impl AsRef<OsStr>,
        args: &[S],
        limit: Duration,
    ) -> io::Result<ServerProcess> {
        let (mut child, stdout, err_pipe) = spawn_piped(program.as_ref(), args)?;
        let stderr = Arc::new(Captured::default());
        keep_reading(err_pipe, &stderr);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.trim().parse::<SocketAddr>());
                    break;
                }
            }
            // Keep draining, so the server never blocks writing to stdout.
            lines.for_each(drop);
        });
        let result = rx.recv_timeout(limit);
        let addr = match result {
            Ok(Ok(addr)) => addr,
            failed => {
                let _ = child.kill();
                let status = child.wait().ok();
                // The child is gone: its stderr reaches its end quickly.
                let text = stderr.wait_until(Duration::from_secs(2), |_| false);
                let text = text.trim();
                let why = match failed {
                    Ok(Err(e)) => format!("a bad address in its listening line: {e}"),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        format!("no \"listening on\" line within {limit:?}")
                    }
                    _ => format!("it ended ({status:?}) before a \"listening on\" line"),
                };
                return Err(io::Error::other(format!("{why}; its stderr: {text}")));
            }
        };
        Ok(ServerProcess {
            child,
            addr,
            stderr,
        })
    }

    /// What the server has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits up to `limit` for `needle` to appear in the server's stderr
    /// (a log line, say), and returns all of stderr then.
    pub fn wait_for_stderr(&self, needle: &str, limit: Duration) -> String {
        self.stderr.wait_until(limit, |text| text.contains(needle))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a program that was expected to end did end.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs `program` with `args` to its end, killing it after `limit`.
///
/// # Errors
/// If it cannot start, or did not end within `limit`.
pub fn run_to_end<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    limit: Duration,
) -> io::Result<Finished> {
    let (mut child, out_pipe, err_pipe) = spawn_piped(program.as_ref(), args)?;
    let stdout = Arc::new(Captured::default());
    let stderr = Arc::new(Captured::default());
    let out_reader = keep_reading(out_pipe, &stdout);
    let err_reader = keep_reading(err_pipe, &stderr);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("did not end within {limit:?}"),
            ));
        }
        // Polling a child's exit: std has no wait with a timeout.
        thread::sleep(Duration::from_millis(10));
    };
    let _ = out_reader.join();
    let _ = err_reader.join();
    Ok(Finished {
        status,
        stdout: stdout.text(),
        stderr: stderr.text(),
    })
}

/// Starts `program` with no stdin and its stdout and stderr piped to us.
fn spawn_piped<S: AsRef<OsStr>>(
    program: &OsStr,
    args: &[S],
) -> io::Result<(Child, ChildStdout, ChildStderr)> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok((child, stdout, stderr))
}

/// The bytes read so far from a child's pipe, and whether it has ended;
/// waiters are woken at each new piece.
#[derive(Default)]
struct Captured {
    state: Mutex<(Vec<u8>, bool)>,
    changed: Condvar,
}

impl Captured {
    fn lock(&self) -> MutexGuard<'_, (Vec<u8>, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock().0).into_owned()
    }

    /// Waits until `done` holds for the text, the pipe ends, or `limit`.
    fn wait_until(&self, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        let mut state = self.lock();
        loop {
            let text = String::from_utf8_lossy(&state.0).into_owned();
            let now = Instant::now();
            if done(&text) || state.1 || now >= deadline {
                return text;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Reads `from` to its end on a thread, into `into`.
fn keep_reading(
    mut from: impl Read + Send + 'static,
    into: &Arc<Captured>,
) -> thread::JoinHandle<()> {
    let into = Arc::clone(into);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            let mut state = into.lock();
            state.0.extend_from_slice(&buf[..n]);
            state.1 = n == 0;
            into.changed.notify_all();
            if n == 0 {
                return;
            }
        }
    })
}

#[cfg(all(test, unix))] // the tests run sh scripts
mod tests {
    use super::*;

    #[test]
    fn a_program_that_never_listens_is_an_error_with_its_stderr() {
        let err = ServerProcess::start(
            "sh",
            &["-c", "echo 'error: cannot listen' >&2; exit 1"],
            Duration::from_secs(10),
        )
        .err()
        .expect("no listening line");
        let text = err.to_string();
        assert!(text.contains("before a \"listening on\" line"), "{text}");
        assert!(text.contains("error: cannot listen"), "{text}");
    }

    #[test]
    fn finds_the_listening_line_and_kills_on_drop() {
        let server = ServerProcess::start(
            "sh",
            &[
                "-c",
                "echo starting; echo 'listening on 127.0.0.1:4567'; echo hi >&2; exec sleep 60",
            ],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(server.addr, "127.0.0.1:4567".parse().unwrap());
        assert_eq!(
            server.wait_for_stderr("hi", Duration::from_secs(10)),
            "hi\n"
        );
        drop(server); // must not wait for the minute
    }

    #[test]
    fn run_to_end_gives_status_and_output() {
        let done = run_to_end(
            "sh",
            &["-c", "echo out; echo err >&2; exit 3"],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(done.stdout, "out\n");
        assert_eq!(done.stderr, "err\n");
    }
}
