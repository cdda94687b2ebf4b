//! The threaded server: the accept loop starts a thread for every client,
//! and every thread is joined before [`run_server`] returns.
//!
//! How the threads start and end (see the crate's README for the whole
//! story):
//!
//! 1. [`run_server`] registers the listener with its [`Shutdown`] signal
//!    (`shutdown.watch`), then waits in `accept`.
//! 2. Each accepted client is counted (`shutdown.admit`, which also caps
//!    how many are served at once) and handed to a new thread
//!    (`thread::spawn`) together with its [`Admitted`](common::stop::Admitted)
//!    guard; the loop goes straight back to `accept`, so a slow client
//!    holds only its own thread.
//! 3. The thread runs [`handle_connection`] until the client closes, times
//!    out or fails, then ends; dropping the guard un-counts the client.
//! 4. `shutdown.stop()` (Ctrl-C in the program, [`Running::stop`] in tests)
//!    sets the flag, wakes the `accept` by connecting to the listener, and
//!    shuts down every admitted socket: each client thread's blocked read or
//!    write returns at once and the thread ends. The loop sees the flag,
//!    leaves, and joins every thread it started.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::{Shutdown as Both, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::cli::Matches;
use common::error::{io_cause, MainError};
use common::files::{resolve_in_dir, send_file_bytes, served_dir, ServeError};
use common::framing::{is_timeout, shorten, DeadlineReader, FrameError};
use common::net;
use common::stop::{Running, Shutdown};
use common::transfer::{Status, MAX_HEADER};

/// How the server runs (from its flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder whose files are served (`--dir`), absolute.
    pub dir: PathBuf,
    /// Read/write timeout of each connection (`--timeout`): a client silent
    /// this long, or slower than 256 KiB per this long, is dropped.
    pub timeout: Duration,
}

impl Config {
    /// The configuration from the server's parsed flags ([`crate::SERVER`]).
    ///
    /// # Errors
    /// A bad `--timeout` (usage error); a `--dir` that is not a folder.
    pub fn from_matches(m: &Matches) -> Result<Config, MainError> {
        Ok(Config {
            dir: served_dir(m.value("dir"))?,
            timeout: m.timeout()?,
        })
    }
}

/// Serves the files of `config.dir` to every client at once, a thread
/// each, until `shutdown` is given; then joins every client thread and
/// returns.
///
/// # Errors
/// Only if the listener has no address; one client's failure is logged
/// and the server goes on.
pub fn run_server(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    shutdown.watch(&listener)?;
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        // stop() connects to wake this loop: that connection is not a client.
        if shutdown.is_stopping() {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                net::accept_failed(&e);
                continue;
            }
        };
        // Too many clients at once, or stopping: the stream just closes.
        let Some(admitted) = shutdown.admit(&stream) else {
            continue;
        };
        let config = config.clone();
        threads.push(thread::spawn(move || {
            let _admitted = admitted; // un-counts the client when the thread ends
            serve_client(stream, &config);
        }));
        // Threads that already ended need no join: let them go.
        threads.retain(|t| !t.is_finished());
    }
    // stop() shut every client's socket down, so each thread is ending.
    for t in threads {
        if t.join().is_err() {
            log::error!("a client thread panicked");
        }
    }
    Ok(())
}

/// Runs [`run_server`] on a thread of its own (tests, benches); stop it
/// with [`Running::stop`] or by dropping it.
///
/// # Errors
/// If the listener has no address or the thread cannot start.
pub fn start_server(listener: TcpListener, config: Config) -> io::Result<Running> {
    Running::spawn(listener, Shutdown::new(), move |listener, shutdown| {
        run_server(listener, &config, &shutdown)
    })
}

/// The body of one client's thread: timeouts, the requests, the log line
/// when it fails.
fn serve_client(stream: TcpStream, config: &Config) {
    let peer = peer_of(&stream);
    log::debug!("{peer}: connected on {:?}", thread::current().id());
    let served =
        net::set_timeouts(&stream, config.timeout).and_then(|()| handle_connection(stream, config));
    match served {
        Ok(()) => log::debug!("{peer}: closed"),
        Err(e) => log::warn!("{peer}: {}", net::describe_io(&e)),
    }
}

/// Serves one client: request after request until it closes, each
/// answered with `OK <size>` and the file or `ERROR <reason>`. A first
/// request in the course's style (a bare name) gets the raw bytes and the
/// close instead. A request that cannot be read, or does not arrive whole
/// within the timeout, is answered `ERROR bad request: ...` and ends the
/// connection; a client that sends nothing is just closed.
///
/// # Errors
/// Socket failures and malformed requests (after answering `ERROR`).
pub fn handle_connection(stream: TcpStream, config: &Config) -> io::Result<()> {
    let peer = peer_of(&stream);
    let mut reader = BufReader::new(DeadlineReader::new(
        stream.try_clone()?,
        Some(config.timeout),
    )?);
    let mut writer = stream;
    let mut first = true;
    loop {
        let asked = match read_request(&mut reader, first, config.timeout) {
            Ok(Some(asked)) => asked,
            Ok(None) => return Ok(()),
            Err(e @ (FrameError::TooLarge { .. } | FrameError::Malformed(_))) => {
                Status::Error(format!("bad request: {e}")).write_to(&mut writer)?;
                net::linger_close(&writer, &mut reader);
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        first = false;
        match asked {
            Asked::Get(name) => send_file(&mut writer, &config.dir, &name, &peer, false)?,
            Asked::Bare(name) => {
                log::info!(
                    "{peer}: bare name {:?} (the course's request)",
                    shorten(&name)
                );
                send_file(&mut writer, &config.dir, &name, &peer, true)?;
                // The course's client reads until the close.
                let _ = writer.shutdown(Both::Write);
                return Ok(());
            }
        }
    }
}

/// How long the first request may pause, after some bytes and before any
/// line end, until what came counts as a bare file name (the course's
/// client sends `contoh.txt` with no line end and waits for the bytes).
pub const BARE_NAME_PAUSE: Duration = Duration::from_millis(500);

/// Once a request's first byte came, the whole request must arrive
/// within this (or `--timeout`, if shorter): no real client needs longer
/// for one line, and a flood of trickling clients is cut in seconds.
pub const REQUEST_TIME: Duration = Duration::from_secs(5);

/// A client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    /// `GET <name>\n`: answered `OK <size>` and the bytes; more requests
    /// may follow on the connection.
    Get(String),
    /// The course's bare name (`contoh.txt`, with or without a line end),
    /// as a connection's first message: answered with the raw bytes, then
    /// the server closes (the course's client reads until the close).
    Bare(String),
}

/// The connection's reader: whole requests within a deadline.
type Reader = BufReader<DeadlineReader<TcpStream>>;

/// Reads the next request of a client; `Ok(None)` when it closed. The
/// whole request must arrive within `within`, not only each read, so a
/// client trickling a byte now and then is cut off. `first` (the
/// connection's first request) also accepts the course's bare name
/// ([`Asked::Bare`]). Every request is read here.
///
/// # Errors
/// [`FrameError::Malformed`] for a request that is not one, or that did
/// not arrive whole in time (the caller answers `ERROR bad request: ...`);
/// [`FrameError::TooLarge`] past [`MAX_HEADER`]; a timeout [`FrameError::Io`]
/// when nothing at all came (the caller just closes).
fn read_request(
    reader: &mut Reader,
    first: bool,
    within: Duration,
) -> Result<Option<Asked>, FrameError> {
    reader.get_mut().start(within);
    let asked = read_request_bytes(reader, first, within);
    reader.get_mut().clear();
    asked
}

/// The body of [`read_request`], with the deadline set.
fn read_request_bytes(
    reader: &mut Reader,
    first: bool,
    within: Duration,
) -> Result<Option<Asked>, FrameError> {
    let mut deadline = reader.get_ref().deadline();
    let mut got: Vec<u8> = Vec::new();
    loop {
        if got.is_empty() {
            // Waiting for the first byte: up to `within` (a course client
            // may connect before its user typed the name).
        } else if let Some(d) = deadline.as_mut() {
            // Once it started, the line must end soon.
            *d = (*d).min(Instant::now() + REQUEST_TIME);
        }
        // A name with no line end: wait a short pause for more, not longer.
        let pausing = first && !got.is_empty() && !could_be_get(&got);
        let until = match deadline {
            Some(d) if pausing => Some(d.min(Instant::now() + BARE_NAME_PAUSE)),
            d => d,
        };
        reader.get_mut().set_deadline(until);
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) && pausing && deadline.is_some_and(|d| Instant::now() < d) => {
                return bare(got).map(Some);
            }
            Err(e) if is_timeout(&e) && !got.is_empty() => {
                return Err(FrameError::Malformed(format!(
                    "request not complete within {} s of its first byte (got {:?})",
                    within.min(REQUEST_TIME).as_secs_f64(),
                    shorten(&String::from_utf8_lossy(&got))
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if chunk.is_empty() {
            return match got.is_empty() {
                true => Ok(None),
                // The course's client may half-close after the name.
                false if first => bare(got).map(Some),
                false => Err(FrameError::Truncated {
                    expected: None,
                    got: got.len() as u64,
                }),
            };
        }
        let (take, line_end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        got.extend_from_slice(&chunk[..take]);
        reader.consume(take);
        if got.len() > MAX_HEADER + 1 {
            return Err(FrameError::TooLarge { limit: MAX_HEADER });
        }
        if line_end {
            got.pop();
            if got.last() == Some(&b'\r') {
                got.pop();
            }
            return parse_line(got, first).map(Some);
        }
    }
}

/// Whether the bytes so far can still become `GET ...`.
fn could_be_get(got: &[u8]) -> bool {
    let n = got.len().min(4);
    got[..n] == b"GET "[..n]
}

/// A whole request line: `GET <name>`, or (first request only) a bare name.
fn parse_line(line: Vec<u8>, first: bool) -> Result<Asked, FrameError> {
    let line = String::from_utf8(line)
        .map_err(|_| FrameError::Malformed("the request is not UTF-8 text".into()))?;
    match line.strip_prefix("GET ") {
        Some(name) => Ok(Asked::Get(name.to_string())),
        None if first => bare(line.into_bytes()),
        None => Err(FrameError::Malformed(format!(
            "expected 'GET <name>', got {:?}",
            shorten(&line)
        ))),
    }
}

/// The course's bare name: the text that came, without surrounding spaces.
fn bare(got: Vec<u8>) -> Result<Asked, FrameError> {
    let text = String::from_utf8(got)
        .map_err(|_| FrameError::Malformed("the request is not UTF-8 text".into()))?;
    match text.trim() {
        "" => Err(FrameError::Malformed("empty request".into())),
        name => Ok(Asked::Bare(name.to_string())),
    }
}

/// Answers a request for `name`: finds it inside `dir` and sends
/// `OK <size>` and the bytes (`raw`: the bytes alone), or `ERROR <reason>`
/// when it cannot.
///
/// # Errors
/// Only socket failures (a refusal is an answer, not an error).
fn send_file(
    writer: &mut TcpStream,
    dir: &Path,
    name: &str,
    peer: &str,
    raw: bool,
) -> io::Result<()> {
    let path = match resolve_in_dir(dir, name) {
        Ok(p) => p,
        Err(e) => {
            let msg = refusal(name, &e);
            log::warn!("{peer}: GET {name:?} refused: {msg}");
            return Status::Error(msg).write_to(writer);
        }
    };
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("cannot read {name}: {}", io_cause(&e));
            log::warn!("{peer}: {msg}");
            return Status::Error(msg).write_to(writer);
        }
    };
    let size = file.metadata()?.len();
    log::info!("{peer}: sending {name} ({size} bytes)");
    if !raw {
        Status::sending(size).write_to(writer)?;
    }
    // The write timeout also bounds how slowly a client may read.
    let stall = writer.write_timeout()?;
    send_file_bytes(&mut file, writer, size, stall, |_| ())?;
    log::info!("{peer}: sent {name} ({size} bytes)");
    Ok(())
}

/// The `ERROR` text for a refused download, naming the file.
fn refusal(name: &str, e: &ServeError) -> String {
    match e {
        ServeError::NotFound => format!("file not found: {name}"),
        ServeError::Name(n) => format!("refused {name:?}: {n}"),
        ServeError::Outside => format!("refused {name:?}: outside the served folder"),
        ServeError::Io(io) => format!("cannot read {name}: {}", io_cause(io)),
    }
}

/// The peer's address for the log.
fn peer_of(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into())
}
