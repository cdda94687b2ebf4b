//! Tugas 1b: the server sends the file the client asks for.
//!
//! The course's modification of `server.py`: the client asks the user for
//! a file name ("nama file: "), sends it, and saves what the server sends
//! back. Text files and images (binary) both arrive byte for byte.
//!
//! # Wire format (the codec is [`common::transfer`], shared with Tugas 3)
//!
//! ```text
//! client -> server   GET <name>\n
//! server -> client   OK <size>\n  then exactly <size> bytes
//!                or  ERROR <reason>\n       e.g. "ERROR file not found: x.txt"
//! ```
//!
//! As a connection's first message the server also takes the course's
//! bare name (`contoh.txt`, with or without a line end): it answers with
//! the raw bytes and closes. A silent client is closed after `--timeout`;
//! once a request started, its whole line must arrive within
//! [`REQUEST_TIME`] (or `--timeout`, if shorter).
//!
//! The server answers only for files inside its folder (`--dir`): names
//! with `..`, absolute paths and symlinks that lead outside are refused.
//! The client writes `downloads/<name>.part...` and renames it when every
//! byte arrived, so a cut transfer leaves no half file.
//!
//! ```text
//! cargo run -p tugas1b --bin server -- --dir tugas1b/files
//! cargo run -p tugas1b --bin client            # asks: nama file:
//! cargo run -p tugas1b --bin client -- --file gambar.png
//! cargo run -p tugas1b --bin check                 # grader: test any download server
//! ```
//!
//! The flow, in this file. Server: [`run_server`] accepts each client on a
//! thread of its own; [`handle_connection`] reads each request
//! (`read_request`, with the deadline and the bare-name pause), resolves the name inside `--dir` and sends `OK <size>`
//! and the bytes, or `ERROR <reason>`. Client: [`run_client`] asks the name,
//! then [`fetch`] sends the request, reads the status and saves the bytes
//! through an [`AtomicFile`] into `downloads/`.
//!
//! Modules: [`check`], the grader's conformance check of any download server.

pub mod check;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown as Both, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use common::cli::{self, Command, Flag, Matches};
use common::error::{io_cause, AppError, MainError};
use common::files::{
    check_relative, resolve_in_dir, send_file_bytes, served_dir, AtomicFile, Progress, ServeError,
    Summary, COPY_BUF,
};
use common::framing::{copy_exact_paced, is_timeout, shorten, DeadlineReader, FrameError};
use common::net;
use common::stop::{Running, Shutdown};
use common::transfer::{parse_size, Request, Status, MAX_HEADER};

/// The assignment's port (the `--port` default of server and client).
pub const DEFAULT_PORT: u16 = 31200;

/// The prompt of the course's client.
pub const PROMPT: &str = "nama file: ";

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 1b server: sends the files in a folder to clients that ask by name.",
    args: "",
    flags: &[
        cli::host("0.0.0.0"),
        cli::port("31200"),
        Flag::value("dir", "DIR", ".", "folder whose files are served"),
        cli::TIMEOUT,
    ],
};

/// The client's flags.
pub const CLIENT: Command = Command {
    name: "client",
    about: "Tugas 1b client: asks the server for a file by name and saves it.",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port("31200"),
        Flag::value(
            "file",
            "NAME",
            "",
            "file to ask for [default: ask 'nama file: ' on stdin]",
        ),
        Flag::value(
            "output",
            "PATH",
            "",
            "where to save it [default: downloads/NAME]",
        ),
        cli::TIMEOUT,
    ],
};

/// How the server runs (from its flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder whose files are served (`--dir`), absolute.
    pub dir: PathBuf,
    /// Read/write timeout of each connection (`--timeout`).
    pub timeout: Duration,
}

impl Config {
    /// The configuration from the server's parsed flags ([`SERVER`]).
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

/// Serves the files of `config.dir` until `shutdown` is given, each client
/// on a thread of its own; then joins those threads and returns.
///
/// # Errors
/// Only if the listener has no address; one client's failure is logged
/// and the server goes on.
pub fn run_server(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    shutdown.watch(&listener)?;
    let mut threads = Vec::new();
    for stream in listener.incoming() {
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
        let Some(admitted) = shutdown.admit(&stream) else {
            continue;
        };
        let config = config.clone();
        threads.push(thread::spawn(move || {
            let _admitted = admitted; // counts as open until this thread ends
            let peer = peer_of(&stream);
            let served = net::set_timeouts(&stream, config.timeout)
                .and_then(|()| handle_connection(stream, &config));
            if let Err(e) = served {
                log::warn!("{peer}: {}", net::describe_io(&e));
            }
        }));
        threads.retain(|t| !t.is_finished());
    }
    for t in threads {
        let _ = t.join();
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

/// What the client asks for, and where (from its flags).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's host (`--host`).
    pub host: String,
    /// The server's port (`--port`).
    pub port: u16,
    /// The name to ask for (`--file`); `None`: ask `nama file: `.
    pub file: Option<String>,
    /// Where to save (`--output`); `None`: [`default_output`].
    pub output: Option<PathBuf>,
    /// Connect/read/write timeout (`--timeout`).
    pub timeout: Duration,
}

impl ClientConfig {
    /// The configuration from the client's parsed flags ([`CLIENT`]).
    ///
    /// # Errors
    /// A bad `--port` or `--timeout` (usage error).
    pub fn from_matches(m: &Matches) -> Result<ClientConfig, MainError> {
        let given = |flag| Some(m.value(flag)).filter(|v| !v.is_empty());
        Ok(ClientConfig {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            file: given("file").map(String::from),
            output: given("output").map(PathBuf::from),
            timeout: m.timeout()?,
        })
    }
}

/// The client: takes the name from `config` or asks it on `input`/`out`
/// (see [`ask_name`]; `echo` for piped input), downloads the file and
/// returns where it was saved and how the transfer went.
///
/// # Errors
/// No name, a name that cannot be saved, or any error of [`fetch`].
pub fn run_client<R: BufRead, W: Write>(
    config: &ClientConfig,
    input: &mut R,
    out: &mut W,
    echo: bool,
) -> Result<(PathBuf, Summary), AppError> {
    let name = match &config.file {
        Some(name) => name.clone(),
        None => ask_name(input, out, echo)?,
    };
    let dest = match &config.output {
        Some(path) => {
            existing_folder_of(path)?;
            path.clone()
        }
        // `downloads/` is made if missing (only that folder).
        None => default_output(&name)?,
    };
    let summary = fetch(&config.host, config.port, &name, &dest, config.timeout)?;
    Ok((dest, summary))
}

/// Asks "nama file: " on `out` and reads one line from `input`. With
/// `echo` (input piped, not typed) the name is written after the prompt,
/// so the console reads as if it had been typed.
///
/// # Errors
/// An empty answer or a closed input.
pub fn ask_name<R: BufRead, W: Write>(
    input: &mut R,
    out: &mut W,
    echo: bool,
) -> Result<String, AppError> {
    let _ = write!(out, "{PROMPT}");
    let _ = out.flush();
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| AppError::io("cannot read the file name", &e))?;
    let name = line.trim().to_string();
    if echo {
        let _ = writeln!(out, "{name}");
    }
    if name.is_empty() {
        return Err(AppError::new("no file name given", "the input was empty")
            .hint("type a name, or pass --file NAME"));
    }
    Ok(name)
}

/// Makes the folder `--output PATH` saves into when it is missing, but
/// only that last folder: a mistyped path is an error, not a new tree of
/// folders.
///
/// # Errors
/// "cannot save to PATH: the folder DIR does not exist" when even the
/// folder's parent is missing, or the folder cannot be made.
pub fn existing_folder_of(path: &Path) -> Result<(), AppError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Ok(()),
    };
    if dir.is_dir() {
        return Ok(());
    }
    let what = || format!("cannot save to {}", path.display());
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(AppError::new(
                what(),
                format!("the folder {} does not exist", parent.display()),
            )
            .hint("make it first: --output makes only the file's own folder"));
        }
    }
    std::fs::create_dir(dir).map_err(|e| AppError::io(what(), &e))
}

/// Where the client saves `name` by default: `downloads/<last part of name>`.
///
/// # Errors
/// A name that is not a plain relative file name.
pub fn default_output(name: &str) -> Result<PathBuf, AppError> {
    let rel =
        check_relative(name).map_err(|e| AppError::new(format!("cannot ask for {name:?}"), e))?;
    let base = rel.file_name().expect("checked name has a last part");
    Ok(Path::new("downloads").join(base))
}

/// Downloads `name` from the server into `dest`: sends `GET <name>`, reads
/// the status, and copies exactly the announced bytes into a temporary
/// file that is renamed to `dest` once the last byte arrived.
///
/// # Errors
/// The server's `ERROR` answer ("file not found: x.txt"), connection
/// problems, a cut-off transfer (no file is left), or a local write error.
pub fn fetch(
    host: &str,
    port: u16,
    name: &str,
    dest: &Path,
    timeout: Duration,
) -> Result<Summary, AppError> {
    let stream = net::connect(host, port, timeout)?;
    let mut reader = BufReader::with_capacity(COPY_BUF, stream);
    let failed = |e: FrameError| AppError::new(format!("cannot download {name}"), e);
    // Timed from the request on, as the user waits.
    let mut progress = Progress::new(name, None);
    Request::Get { name: name.into() }
        .write_to(reader.get_mut())
        .map_err(|e| failed(e.into()))?;
    let size = match Status::read_from(&mut reader).map_err(failed)? {
        Status::Error(msg) => return Err(AppError::new("server refused", msg)),
        Status::Ok(text) => parse_size(&text).map_err(failed)?,
    };
    let local = |e: &io::Error| {
        AppError::new(
            format!("cannot download {name}"),
            format!("cannot write {}: {}", dest.display(), io_cause(e)),
        )
    };
    let mut out = LocalFile {
        file: AtomicFile::create(dest).map_err(|e| local(&e))?,
        failed: false,
    };
    progress.set_total(size);
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
    Ok(progress.finish(size))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_defaults_are_the_typed_ones() {
        for cmd in [&SERVER, &CLIENT] {
            let m = cmd.parse(Vec::<String>::new()).unwrap();
            assert_eq!(m.parse::<u16>("port").unwrap(), DEFAULT_PORT);
        }
        let m = CLIENT.parse(Vec::<String>::new()).unwrap();
        let c = ClientConfig::from_matches(&m).unwrap();
        assert_eq!((c.file, c.output), (None, None));
        let m = CLIENT
            .parse(["--file", "a.txt", "--output", "b"].map(String::from))
            .unwrap();
        let c = ClientConfig::from_matches(&m).unwrap();
        assert_eq!(
            (c.file.as_deref(), c.output),
            (Some("a.txt"), Some("b".into()))
        );
        let m = SERVER
            .parse(["--dir", "/no/such/dir"].map(String::from))
            .unwrap();
        assert!(Config::from_matches(&m).is_err());
    }
}
