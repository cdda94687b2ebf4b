//! Tugas 1a: transfer a file from the client to the server.
//!
//! The course's modification of `client.py`/`server.py`: the client reads
//! `file.txt` and sends it; the server shows the content on its console and
//! writes it to `hasil.txt`.
//!
//! # Wire format (the codec is [`common::transfer`])
//!
//! ```text
//! client -> server   FILE <size> <name>\n  then exactly <size> bytes, then the client half-closes
//! server -> client   OK received <size> bytes, saved as hasil.txt\n
//!                or  ERROR <reason>\n
//! ```
//!
//! The size goes first, so the server knows when the file is complete and
//! can tell a finished upload from a cut-off one. The file is written under
//! a temporary name and renamed to `hasil.txt` only when every byte
//! arrived: a broken transfer never leaves a partial `hasil.txt`.
//!
//! ```text
//! cargo run -p tugas1a --bin server
//! cargo run -p tugas1a --bin client -- --file tugas1a/file.txt
//! cargo run -p tugas1a --bin check                 # grader: test any upload server
//! ```
//!
//! The flow, in this file: the server's [`run_server`] accepts each client
//! on a thread of its own, [`handle_connection`] reads the header, receives
//! the bytes into an [`AtomicFile`], prints them and answers the status;
//! the client's [`run_client`] sends the header and the bytes and reads the
//! status.
//!
//! Modules: [`check`], the grader's conformance check of any upload server.

pub mod check;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown as Both, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::cli::{self, Command, Flag, Matches};
use common::error::{AppError, MainError};
use common::files::{
    remove_stale_temp_files, send_file_bytes, AtomicFile, Progress, Summary, COPY_BUF,
};
use common::framing::{copy_exact_paced, shorten, DeadlineReader, FrameError};
use common::net;
use common::stop::{Running, Shutdown};
use common::transfer::{FileHeader, Status};

/// The assignment's port (the `--port` default of server and client).
pub const DEFAULT_PORT: u16 = 31100;

/// At most this many bytes of a text file are printed on the server's console.
pub const PRINT_LIMIT: usize = 4096;

/// Bytes shown as hex for a binary file.
pub const HEX_PREVIEW: usize = 64;

/// Once the `FILE` header's first byte came, the whole header must arrive
/// within this (or `--timeout`, if shorter): a flood of trickling clients
/// is cut in seconds.
pub const HEADER_TIME: Duration = Duration::from_secs(5);

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 1a server: receives a file, prints it, saves it as hasil.txt.",
    args: "",
    flags: &[
        cli::host("0.0.0.0"),
        cli::port("31100"),
        Flag::value(
            "output",
            "PATH",
            "hasil.txt",
            "where to save each received file",
        ),
        cli::TIMEOUT,
    ],
};

/// The client's flags.
pub const CLIENT: Command = Command {
    name: "client",
    about: "Tugas 1a client: sends a file to the server.",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port("31100"),
        Flag::value(
            "file",
            "PATH",
            "file.txt",
            "the file to send (falls back to the crate's sample file.txt)",
        ),
        Flag::value(
            "name",
            "NAME",
            "",
            "name to announce [default: the file's own name]",
        ),
        cli::TIMEOUT,
    ],
};

/// Where the server prints received files: stdout in the program, a buffer
/// in tests. Locked per file so two uploads never interleave on screen.
pub type Console = Arc<Mutex<dyn Write + Send>>;

/// The console of the real program.
pub fn stdout_console() -> Console {
    Arc::new(Mutex::new(io::stdout()))
}

/// How the server runs (from its flags).
#[derive(Clone)]
pub struct Config {
    /// Where each complete upload is saved (`--output`, `hasil.txt`).
    pub output: PathBuf,
    /// Read/write timeout of each connection (`--timeout`).
    pub timeout: Duration,
    /// Where received files are shown.
    pub console: Console,
}

impl Config {
    /// Saving to `output`, a 30 s timeout, printing to stdout.
    pub fn new(output: impl Into<PathBuf>) -> Config {
        Config {
            output: output.into(),
            timeout: Duration::from_secs(30),
            console: stdout_console(),
        }
    }

    /// The configuration from the server's parsed flags ([`SERVER`]).
    ///
    /// # Errors
    /// A bad `--timeout` (usage error).
    pub fn from_matches(m: &Matches) -> Result<Config, MainError> {
        Ok(Config {
            timeout: m.timeout()?,
            ..Config::new(m.value("output"))
        })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("output", &self.output)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Accepts uploads until `shutdown` is given, each client on a thread of
/// its own; then joins those threads and returns.
///
/// # Errors
/// Only if the listener has no address; one client's failure is logged
/// and the server goes on.
pub fn run_server(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    remove_stale_uploads(config);
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
    // Before it returns, so a test sees the folder as the server left it.
    remove_stale_uploads(&config);
    Running::spawn(listener, Shutdown::new(), move |listener, shutdown| {
        run_server(listener, &config, &shutdown)
    })
}

/// Removes the temporary files a server killed mid-upload left beside
/// [`Config::output`] (`.hasil.txt.PID-N.part`, of processes that no longer
/// run); one log line when it removed any. Called when the server starts.
pub fn remove_stale_uploads(config: &Config) {
    let dir = match config.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Err(e) = remove_stale_temp_files(dir) {
        log::warn!(
            "cannot look for stale temporary files in {}: {}",
            dir.display(),
            net::describe_io(&e)
        );
    }
}

/// Receives one file on `stream`: reads the `FILE <size> <name>` header,
/// copies exactly `<size>` bytes into a temporary file, prints the file,
/// renames it to [`Config::output`] and answers `OK ...`; or answers
/// `ERROR <reason>` (and the partial file is removed).
///
/// # Errors
/// The reason the upload failed (already reported to the client if the
/// connection still worked).
pub fn handle_connection(stream: TcpStream, config: &Config) -> io::Result<()> {
    let peer = peer_of(&stream);
    let mut reader = BufReader::with_capacity(
        COPY_BUF,
        DeadlineReader::new(stream.try_clone()?, Some(config.timeout))?,
    );
    let mut writer = stream;
    // The whole header line within the timeout, not only each read: a
    // client trickling a byte now and then is cut off.
    reader.get_mut().start(config.timeout);
    if matches!(reader.fill_buf(), Ok(b) if !b.is_empty()) {
        // It started: the rest of the line must come soon.
        let soon = Instant::now() + HEADER_TIME;
        let deadline = reader.get_ref().deadline().map(|d| d.min(soon));
        reader.get_mut().set_deadline(deadline);
    }
    let header = FileHeader::read_from(&mut reader).map_err(|e| match e {
        // Said the same whether nothing came or the header was too slow.
        e if e.is_timeout() => FrameError::Io(io::ErrorKind::TimedOut.into()),
        e => e,
    });
    reader.get_mut().clear();
    let header = match header {
        Ok(Some(h)) => h,
        Ok(None) => {
            log::info!("{peer}: connected and closed without sending a file");
            return Ok(());
        }
        Err(e) => return reject(&mut writer, &mut reader, &peer, e),
    };
    log::info!(
        "{peer}: receiving {:?} ({} bytes)",
        shorten(&header.name),
        header.size
    );
    let mut file = AtomicFile::create(&config.output)?;
    let mut preview = Preview::default();
    // The read timeout also bounds how slowly a client may send.
    let stall = writer.read_timeout()?;
    let mut tee = Tee {
        file: &mut file,
        preview: &mut preview,
    };
    let copied = copy_exact_paced(&mut reader, &mut tee, header.size, COPY_BUF, stall, |_| ());
    if let Err(e) = copied {
        // Remove the temporary file before answering, so that when the
        // client hears "ERROR" nothing of the upload is left on disk.
        drop(file);
        return reject(&mut writer, &mut reader, &peer, e);
    }
    let saved = file.commit()?;
    {
        let mut out = config.console.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "received {:?} ({} bytes) from {peer}, saved as {}",
            shorten(&header.name),
            header.size,
            saved.display()
        );
        let _ = writeln!(out, "{}", describe_content(&preview.bytes, header.size));
        let _ = out.flush();
    }
    let reply = format!(
        "received {} bytes, saved as {}",
        header.size,
        saved.display()
    );
    log::info!("{peer}: {reply}");
    Status::Ok(reply).write_to(&mut writer)?;
    let _ = writer.shutdown(Both::Both);
    Ok(())
}

/// The connection's reader: the header within a deadline, then the bytes.
type Reader = BufReader<DeadlineReader<TcpStream>>;

/// Tells the client why its upload failed (if it still listens), closes
/// without losing that answer, and returns the error for the log.
fn reject(
    writer: &mut TcpStream,
    reader: &mut Reader,
    peer: &str,
    e: FrameError,
) -> io::Result<()> {
    log::warn!("{peer}: upload failed: {e}");
    if Status::Error(format!("upload failed: {e}"))
        .write_to(writer)
        .is_ok()
    {
        net::linger_close(writer, reader);
    }
    Err(e.into())
}

/// The peer's address for the log.
fn peer_of(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The first bytes of a file, kept for the console.
#[derive(Default)]
struct Preview {
    bytes: Vec<u8>,
}

/// Writes to the file and keeps the first [`PRINT_LIMIT`] bytes.
struct Tee<'a> {
    file: &'a mut AtomicFile,
    preview: &'a mut Preview,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        let room = PRINT_LIMIT.saturating_sub(self.preview.bytes.len());
        self.preview.bytes.extend_from_slice(&buf[..n.min(room)]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// How the server shows a file on the console: text as text (up to
/// [`PRINT_LIMIT`] bytes), anything else as its size and a hex preview.
pub fn describe_content(head: &[u8], total: u64) -> String {
    if total == 0 {
        return "(empty file)".to_string();
    }
    let more = total.saturating_sub(head.len() as u64);
    if let Some(text) = as_text(head, more > 0) {
        let mut s = format!("----- content -----\n{text}");
        if !text.ends_with('\n') {
            s.push('\n');
        }
        if more > 0 {
            s.push_str(&format!("... ({more} more bytes not shown)\n"));
        }
        s.push_str("-------------------");
        return s;
    }
    let shown = &head[..head.len().min(HEX_PREVIEW)];
    let mut s = format!("binary data, {total} bytes; first {} bytes:\n", shown.len());
    s.push_str(&hex_dump(shown));
    s.trim_end().to_string()
}

/// The bytes as text if they are UTF-8 without control characters (other
/// than tab and line breaks). `cut` allows a character split at the end.
fn as_text(bytes: &[u8], cut: bool) -> Option<&str> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let printable = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
    printable.then_some(text)
}

/// Classic hex dump: offset, 16 bytes in hex, the same bytes as ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, row) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = row
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{:08x}  {:<47}  |{ascii}|\n",
            i * 16,
            hex.join(" ")
        ));
    }
    out
}

/// What the client sends, and where (from its flags).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server's host (`--host`).
    pub host: String,
    /// The server's port (`--port`).
    pub port: u16,
    /// The file to send (`--file`, see [`choose_file`]).
    pub file: PathBuf,
    /// The name announced to the server; `None`: the file's own name.
    pub name: Option<String>,
    /// Connect/read/write timeout (`--timeout`).
    pub timeout: Duration,
}

impl ClientConfig {
    /// The configuration from the client's parsed flags ([`CLIENT`]).
    ///
    /// # Errors
    /// A bad `--port` or `--timeout` (usage error).
    pub fn from_matches(m: &Matches) -> Result<ClientConfig, MainError> {
        Ok(ClientConfig {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            file: choose_file(m),
            name: Some(m.value("name"))
                .filter(|n| !n.is_empty())
                .map(String::from),
            timeout: m.timeout()?,
        })
    }
}

/// The file the client sends: `--file`, or when the default `file.txt` is
/// not in the current folder, the sample shipped with this crate.
pub fn choose_file(m: &Matches) -> PathBuf {
    let given = PathBuf::from(m.value("file"));
    if !m.is_set("file") && !given.exists() {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("file.txt");
        if sample.exists() {
            log::info!("no file.txt here; sending the sample {}", sample.display());
            return sample;
        }
    }
    given
}

/// Sends the file of `config` to the server: the `FILE <size> <name>`
/// header, the bytes, a half-close; then reads the server's status.
/// Returns the server's `OK` text and the transfer summary.
///
/// # Errors
/// The file cannot be opened, the connection fails or is cut, or the
/// server answers `ERROR`.
pub fn run_client(config: &ClientConfig) -> Result<(String, Summary), AppError> {
    let path = &config.file;
    let open_err = |e: &io::Error| {
        let err = AppError::io(format!("cannot open {}", path.display()), e);
        if e.kind() == io::ErrorKind::NotFound {
            err.hint("give the file to send with --file PATH")
        } else {
            err
        }
    };
    let mut file = File::open(path).map_err(|e| open_err(&e))?;
    let meta = file.metadata().map_err(|e| open_err(&e))?;
    if !meta.is_file() {
        return Err(AppError::new(
            format!("cannot send {}", path.display()),
            "not a regular file",
        ));
    }
    let name = match &config.name {
        Some(n) => n.clone(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into()),
    };
    let stream = net::connect(&config.host, config.port, config.timeout)?;
    let target = net::join_host_port(&config.host, config.port);
    let what = format!("cannot send {} to {target}", path.display());
    let mut writer = stream.try_clone().map_err(|e| AppError::io(&what, &e))?;
    let size = meta.len();
    let mut progress = Progress::new(name.clone(), Some(size));
    let header = FileHeader { name, size };
    let sent = header
        .write_to(&mut writer)
        .map_err(FrameError::from)
        .and_then(|()| send_file_bytes(&mut file, &mut writer, size, None, |d| progress.update(d)));
    // Whatever happened, hear the server out: it may explain the failure.
    let _ = writer.shutdown(Both::Write);
    let mut reader = BufReader::new(stream);
    let status = Status::read_from(&mut reader);
    match (sent, status) {
        (Ok(n), Ok(Status::Ok(msg))) => Ok((msg, progress.finish(n))),
        (_, Ok(Status::Error(msg))) => Err(AppError::new(what, format!("server says: {msg}"))),
        (Err(e), _) => Err(AppError::new(what, e)),
        (Ok(_), Err(e)) => Err(AppError::new(format!("no answer from {target}"), e)),
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
        let m = SERVER.parse(["--timeout", "5"].map(String::from)).unwrap();
        let c = Config::from_matches(&m).unwrap();
        assert_eq!(
            (c.output, c.timeout),
            ("hasil.txt".into(), Duration::from_secs(5))
        );
        let m = CLIENT.parse(["--name", "x.txt"].map(String::from)).unwrap();
        let c = ClientConfig::from_matches(&m).unwrap();
        assert_eq!((c.name.as_deref(), c.port), (Some("x.txt"), DEFAULT_PORT));
    }

    #[test]
    fn text_is_shown_as_text() {
        let s = describe_content(b"halo\ndunia\n", 11);
        assert_eq!(s, "----- content -----\nhalo\ndunia\n-------------------");
        let s = describe_content("é".repeat(10).as_bytes(), 5000);
        assert!(
            s.contains("éééé") && s.contains("(4980 more bytes not shown)"),
            "{s}"
        );
        assert_eq!(describe_content(b"", 0), "(empty file)");
    }

    #[test]
    fn binary_is_shown_as_size_and_hex() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        let s = describe_content(&bytes, 256);
        assert!(
            s.starts_with("binary data, 256 bytes; first 64 bytes:\n"),
            "{s}"
        );
        assert!(
            s.contains(
                "00000000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  |................|"
            ),
            "{s}"
        );
        assert_eq!(s.lines().count(), 5);
        // A split UTF-8 character at the cut is still text; one in the middle is not.
        assert!(describe_content(&"aé".as_bytes()[..2], 10).starts_with("----- content"));
        assert!(describe_content(b"a\xffb", 3).starts_with("binary"));
    }
}
