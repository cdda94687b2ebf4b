//! Drive a real telnet client in tmux, for tests and demos.
//!
//! The course's servers are tried by a person typing into `telnet`. A test
//! does the same: [`Telnet::start`] runs `telnet HOST PORT` in a pane of a
//! private tmux server (its own socket in its own temporary folder, so it
//! never touches a user's tmux), [`Telnet::type_line`] types a line and
//! Enter (telnet sends `\r\n`), [`Telnet::wait_for`] polls the screen until
//! something shows, with a deadline, and [`Telnet::screen`] returns it.
//! Dropping the [`Telnet`] kills tmux and telnet and removes the folder.
//!
//! ```no_run
//! use std::time::Duration;
//! use common::testkit::telnet::Telnet;
//!
//! let addr: std::net::SocketAddr = "127.0.0.1:10001".parse().unwrap();
//! let t = Telnet::start(addr).unwrap();
//! t.wait_for_text("Escape character is", Duration::from_secs(10)).unwrap();
//! t.type_line("GET / HTTP/1.0").unwrap();
//! t.type_line("").unwrap();
//! let screen = t
//!     .wait_for("the answer and the close", Duration::from_secs(10), |s, exited| {
//!         exited && s.contains("Connection closed by foreign host")
//!     })
//!     .unwrap();
//! assert!(screen.contains("HTTP/1.0 200 OK"));
//! ```
//!
//! Needs `telnet` (Debian: `inetutils-telnet`) and `tmux`; without them
//! [`Telnet::start`] fails saying what to install.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How often [`Telnet::wait_for`] looks at the screen.
const POLL: Duration = Duration::from_millis(50);

/// Why driving telnet failed: a sentence, with the screen when it matters.
/// `Debug` prints the same text (so `unwrap` in a test shows the screen
/// as it looked, line by line).
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A real `telnet` in a private tmux server, killed on drop.
#[derive(Debug)]
pub struct Telnet {
    /// The private folder: tmux's socket and configuration.
    dir: PathBuf,
    socket: PathBuf,
}

impl Telnet {
    /// Starts `telnet IP PORT` in a new 160x50 pane of a private tmux
    /// server. The pane stays after telnet exits, so its last screen can
    /// still be read.
    ///
    /// # Errors
    /// `telnet` or `tmux` missing (with the package to install), or tmux
    /// failing to start.
    pub fn start(addr: SocketAddr) -> Result<Telnet, Error> {
        require("telnet", "--version", "inetutils-telnet")?;
        require("tmux", "-V", "tmux")?;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "telnet-tmux-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
        let t = Telnet {
            socket: dir.join("sock"),
            dir,
        };
        let conf = t.dir.join("tmux.conf");
        std::fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g history-limit 10000\nset -g default-terminal screen\n",
        )
        .map_err(|e| Error(format!("cannot write {}: {e}", conf.display())))?;
        let command = format!("exec telnet {} {}", addr.ip(), addr.port());
        t.tmux(&[
            "-f",
            &conf.to_string_lossy(),
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "160",
            "-y",
            "50",
            &command,
        ])?;
        Ok(t)
    }

    /// Runs one tmux command on the private server; returns its output.
    fn tmux(&self, args: &[&str]) -> Result<String, Error> {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket).args(args);
        if std::env::var_os("TERM").is_none() {
            cmd.env("TERM", "xterm");
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error(format!("cannot run tmux: {e}")))?;
        if !out.status.success() {
            return Err(Error(format!(
                "tmux {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Types `text`, then Enter (`text` empty: just Enter).
    ///
    /// # Errors
    /// tmux failing.
    pub fn type_line(&self, text: &str) -> Result<(), Error> {
        if !text.is_empty() {
            self.tmux(&["send-keys", "-t", "t", "-l", "--", text])?;
        }
        self.tmux(&["send-keys", "-t", "t", "Enter"])?;
        Ok(())
    }

    /// The pane's text, scroll-back included, lines joined where telnet's
    /// output wrapped, trailing blank rows dropped.
    ///
    /// # Errors
    /// tmux failing.
    pub fn screen(&self) -> Result<String, Error> {
        let text = self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "t"])?;
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("Pane is dead"))
            .collect();
        let last = lines
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(0, |i| i + 1);
        Ok(lines[..last].join("\n"))
    }

    /// Whether telnet has exited (the server closed, say).
    ///
    /// # Errors
    /// tmux failing.
    pub fn exited(&self) -> Result<bool, Error> {
        Ok(self
            .tmux(&["display", "-p", "-t", "t", "#{pane_dead}"])?
            .trim()
            == "1")
    }

    /// Looks at the screen every 50 ms until `done(screen, exited)` holds;
    /// returns that screen.
    ///
    /// # Errors
    /// `limit` passed first (the error names `what` and shows the screen),
    /// or tmux failing.
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&str, bool) -> bool,
    ) -> Result<String, Error> {
        let started = Instant::now();
        loop {
            let screen = self.screen()?;
            if done(&screen, self.exited()?) {
                return Ok(screen);
            }
            if started.elapsed() > limit {
                return Err(Error(format!(
                    "telnet: {what} did not happen within {limit:?}; the screen:\n{screen}"
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until the screen shows `text`; returns the screen.
    ///
    /// # Errors
    /// As [`Telnet::wait_for`].
    pub fn wait_for_text(&self, text: &str, limit: Duration) -> Result<String, Error> {
        self.wait_for(&format!("{text:?} on the screen"), limit, |s, _| {
            s.contains(text)
        })
    }
}

impl Drop for Telnet {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Fails with an install hint when `tool` cannot be started.
fn require(tool: &str, version_flag: &str, package: &str) -> Result<(), Error> {
    match Command::new(tool)
        .arg(version_flag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error(format!(
            "needs {tool}: install it first (Debian/Ubuntu: apt-get install {package})"
        ))),
        Err(e) => Err(Error(format!("cannot run {tool}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A one-line echo server typed into by a real telnet.
    #[test]
    #[ignore = "needs telnet"]
    fn typed_lines_reach_the_server_and_its_answer_shows() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut out = s.try_clone().unwrap();
            let mut line = Vec::new();
            BufReader::new(s).read_until(b'\n', &mut line).unwrap();
            out.write_all(b"ECHO ").unwrap();
            out.write_all(&line).unwrap();
            line
        });
        let t = Telnet::start(addr).unwrap();
        t.wait_for_text("Escape character is", Duration::from_secs(15))
            .unwrap();
        t.type_line("halo dari telnet").unwrap();
        let screen = t
            .wait_for(
                "the echo and the close",
                Duration::from_secs(15),
                |s, exited| exited && s.contains("Connection closed by foreign host"),
            )
            .unwrap();
        assert_eq!(server.join().unwrap(), b"halo dari telnet\r\n");
        assert!(screen.contains("\nECHO halo dari telnet"), "{screen}");
        let dir = t.dir.clone();
        drop(t);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
