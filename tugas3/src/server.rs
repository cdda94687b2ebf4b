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
use std::io::{self, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::cli::Matches;
use common::error::{io_cause, MainError};
use common::files::{resolve_in_dir, send_file_bytes, served_dir, ServeError};
use common::framing::FrameError;
use common::net;
use common::stop::{Running, Shutdown};
use common::transfer::{Request, Status};

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
/// answered with `OK <size>` and the file or `ERROR <reason>`. A request
/// that cannot be read is answered `ERROR bad request: ...` and ends the
/// connection.
///
/// # Errors
/// Socket failures and malformed requests (after answering `ERROR`).
pub fn handle_connection(stream: TcpStream, config: &Config) -> io::Result<()> {
    let peer = peer_of(&stream);
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let name = match read_request(&mut reader) {
            Ok(Some(Request::Get { name })) => name,
            Ok(None) => return Ok(()),
            Err(e @ (FrameError::TooLarge { .. } | FrameError::Malformed(_))) => {
                Status::Error(format!("bad request: {e}")).write_to(&mut writer)?;
                net::linger_close(&writer, &mut reader);
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        send_file(&mut writer, &config.dir, &name, &peer)?;
    }
}

/// Reads the next request of a client: `GET <name>`; `Ok(None)` when it
/// closed. Every request is read here, so another request form (the
/// course's bare name) would be added in this one place.
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>, FrameError> {
    Request::read_from(reader)
}

/// Answers a request for `name`: finds it inside `dir` and sends
/// `OK <size>` and the bytes, or `ERROR <reason>` when it cannot.
///
/// # Errors
/// Only socket failures (a refusal is an answer, not an error).
fn send_file(writer: &mut TcpStream, dir: &Path, name: &str, peer: &str) -> io::Result<()> {
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
    Status::sending(size).write_to(writer)?;
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
