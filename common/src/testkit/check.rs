//! Scaffolding for testing a check program (each crate's `tests/check.rs`):
//! deliberately broken servers on `127.0.0.1:0`, a port where nothing
//! listens, the two timeouts such tests use, and running a check into a
//! [`Report`].
//!
//! A test binds a broken server, runs the crate's check against it and
//! requires that exactly the right requirement fails:
//!
//! ```
//! use std::io::Write;
//! use common::testkit::check::{self as testing, SHORT};
//! use common::check::{CheckOptions, Checker};
//!
//! fn run(c: &mut Checker) {
//!     c.require("hello", "server answers HELLO with WORLD", "", |o| {
//!         let mut conn = o.connect()?;
//!         conn.send(b"HELLO\n", "the request")?;
//!         conn.expect_line_starting("WORLD", 1024, "the answer")?;
//!         Ok(())
//!     });
//! }
//!
//! // Answers with the wrong word.
//! let port = testing::fake_server(|mut s| {
//!     let _ = s.write_all(b"WORD\n");
//! });
//! let r = testing::run_check(CheckOptions::local(port, SHORT), run);
//! assert_eq!(r.failures(), ["server answers HELLO with WORLD"]);
//!
//! // Reads everything, never answers: a timeout, reported quickly.
//! let port = testing::fake_server(testing::silent);
//! let r = testing::finishes_within(std::time::Duration::from_secs(5), || {
//!     testing::run_check(CheckOptions::local(port, SHORT), run)
//! });
//! assert!(r.requirements[0].reason.as_deref().unwrap().starts_with("timed out after 0.3s"));
//! ```
//!
//! The fake servers run until the test program ends (their threads are
//! never joined); each test binds its own, so tests can run in parallel.

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::check::{CheckOptions, Checker, Report};
use crate::cli::{Command, Matches};

/// The timeout for a server that is meant to stay silent (or to fail a
/// step): short, so that waiting for the `FAIL` keeps a test fast. Failure
/// messages then say "timed out after 0.3s".
pub const SHORT: Duration = Duration::from_millis(300);

/// The timeout for steps that are meant to pass: generous (the `check`
/// program's own default), so that a loaded CI machine, where a thread may
/// wait a second for a core, does not turn a pass into a timeout.
pub const PATIENT: Duration = Duration::from_secs(5);

/// Starts a server on a free port of 127.0.0.1 that runs `handler` on its
/// own thread for every connection (as a correct multithreaded server
/// does); returns the port. The listener is bound before this returns,
/// so a client may connect at once.
///
/// # Panics
/// If no port can be bound.
pub fn fake_server<F>(handler: F) -> u16
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let (listener, port) = bind();
    let handler = Arc::new(handler);
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let handler = Arc::clone(&handler);
            thread::spawn(move || handler(s));
        }
    });
    port
}

/// Starts a server on a free port of 127.0.0.1 that runs `handler` for one
/// connection at a time, in its accept loop (a "single-threaded" server:
/// the next client waits until `handler` returns); returns the port.
///
/// # Panics
/// If no port can be bound.
pub fn fake_server_one_at_a_time<F>(mut handler: F) -> u16
where
    F: FnMut(TcpStream) + Send + 'static,
{
    let (listener, port) = bind();
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            handler(s);
        }
    });
    port
}

/// Starts a server on a free port of 127.0.0.1 that accepts every
/// connection and keeps it open, but never reads, never answers and never
/// closes; returns the port.
///
/// # Panics
/// If no port can be bound.
pub fn holding_server() -> u16 {
    let mut open = Vec::new();
    fake_server_one_at_a_time(move |s| open.push(s))
}

/// A handler for [`fake_server`]: reads and discards everything the client
/// sends, answers nothing, closes when the client does.
pub fn silent(mut s: TcpStream) {
    let _ = io::copy(&mut s, &mut io::sink());
}

/// A handler body for [`fake_server`]: writes `chunk` again and again
/// until the client goes away (a server that streams forever).
pub fn stream_forever(mut s: TcpStream, chunk: &[u8]) {
    while s.write_all(chunk).is_ok() {}
}

/// A TCP port on 127.0.0.1 where nothing listens (bound, then released),
/// to check "connection refused".
///
/// # Panics
/// If no port can be bound.
pub fn closed_port() -> u16 {
    bind().1
}

/// A UDP port on 127.0.0.1 where nothing listens (bound, then released),
/// to check "port unreachable".
///
/// # Panics
/// If no port can be bound.
pub fn closed_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the requirements `run` adds to a [`Checker`] with `opts` and
/// returns the [`Report`].
pub fn run_check(opts: CheckOptions, run: impl FnOnce(&mut Checker)) -> Report {
    let mut c = Checker::new(opts);
    run(&mut c);
    c.finish()
}

/// Parses `args` as the flags of `cmd` (a check program's [`Command`]);
/// returns the matches (for the program's own flags) and the
/// [`CheckOptions`] they give.
///
/// # Panics
/// If the flags do not parse, or do not give options.
pub fn parse_options(cmd: &Command, args: &[&str]) -> (Matches, CheckOptions) {
    let m = cmd.parse(args.iter().map(|a| a.to_string())).unwrap();
    let o = CheckOptions::from_matches(cmd, &m).unwrap();
    (m, o)
}

/// Runs `f` and returns what it returns, failing the test if it took
/// `limit` or longer (a check against a hostile server must fail fast, not
/// hang). On Windows the limit is three times as long: under Wine, where
/// CI runs these tests, sockets and threads are several times slower (a
/// check against endless garbage took 11.7 s of a 10 s limit there), and
/// a hang is still caught.
///
/// # Panics
/// If `f` took `limit` or longer.
#[track_caller]
pub fn finishes_within<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let limit = if cfg!(windows) { limit * 3 } else { limit };
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < limit, "took {took:?}, the limit is {limit:?}");
    out
}

fn bind() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}
