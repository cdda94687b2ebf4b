//! Tugas 8: an HTTP server that answers a form POST with what the browser
//! sent.
//!
//! The assignment: the course's Python HTTP server had a `POST` handler that
//! always answered "kosong" (empty). Run a server on 127.0.0.1:10002, open
//! `http://127.0.0.1:10002/sending.html` in a browser, fill in the form and
//! send it; the server must answer with every header the browser sent and
//! with what was typed ("ISILAH" in, "ISILAH" out).
//!
//! This server:
//!
//! - serves the files in `www/` (`--dir`) to `GET` and `HEAD`, with the
//!   Content-Type of each extension, `Content-Length`, `Date`, `Server`
//!   and `Last-Modified`; `/` is `index.html`; paths are percent-decoded
//!   and anything outside the folder is refused (403), also when spelled
//!   `%2e%2e` or with an encoded slash; a missing file is 404;
//! - answers a `POST` to any path with an HTML page showing the request
//!   line, every header line exactly as received and in order, each form
//!   field decoded (`kirim: ISILAH`), and the raw body, all HTML-escaped;
//!   the body is read by `Content-Length` in however many TCP segments it
//!   arrives, or as `Transfer-Encoding: chunked`;
//!   `application/x-www-form-urlencoded` and `multipart/form-data` bodies
//!   are decoded;
//! - answers 413 to a body over `--max-body`, 431 to a head over 8 KiB,
//!   408 to a client that does not finish its request within `--timeout`,
//!   411 to a POST without a length, 501 to an unknown method, 400 to a
//!   malformed request; none of them affects other connections;
//! - keeps connections alive as HTTP/1.1 says (HTTP/1.0 only with
//!   `Connection: keep-alive`).
//!
//! # Wire format
//!
//! ```text
//! POST /sending.html HTTP/1.1\r\n
//! Host: 127.0.0.1:10002\r\n
//! Content-Type: application/x-www-form-urlencoded\r\n
//! Content-Length: 12\r\n
//! \r\n
//! kirim=ISILAH
//! ```
//!
//! is answered `HTTP/1.1 200 OK` with a `text/html` page that contains
//! `Content-Type: application/x-www-form-urlencoded` among the headers and
//! `kirim: ISILAH` among the fields.
//!
//! # Run
//!
//! ```text
//! cargo run -p tugas8 --bin server                 # http://127.0.0.1:10002/sending.html
//! cargo run -p tugas8 --bin server -- --port 0 --dir some/folder --max-body 65536
//! curl -d kirim=ISILAH http://127.0.0.1:10002/sending.html
//! cargo run -p tugas8 --bin check -- --host HOST --port 10002   # grade a server
//! ```
//!
//! # Modules
//!
//! - [`server`]: `run_server` (stopped by a `common::stop::Shutdown`), the
//!   accept loop where there is no epoll, the connection loop of a
//!   connection thread, static files, the POST answer, limits.
//! - [`workers`]: the connection threads, reused from one connection to
//!   the next.
//! - `event_loop` and `epoll` (Linux): event loops that answer GETs of
//!   files in memory without a thread per connection, handing every other
//!   request to a thread; `epoll` holds the crate's only unsafe code.
//! - [`cache`]: small static files kept in memory after their first
//!   request.
//! - [`bench`](mod@bench): the load generator of the `bench` program.
//! - [`check`]: the grader's check of any Tugas 8 server (`--bin check`).
//! - [`body`]: reading a body by Content-Length or chunked, with a cap.
//! - [`form`]: `application/x-www-form-urlencoded` decoding.
//! - [`multipart`]: `multipart/form-data` parsing.
//! - [`path`]: request target to a safe file name.
//! - [`mime`]: Content-Type by extension.
//! - [`page`]: the HTML pages the server writes (POST answer, errors).
//! - [`html`]: HTML escaping.
//!
//! The request head is parsed by `common::http::parse_head` (through
//! `read_request_head`) and the response written by `common::http`; each
//! request must arrive within its deadline (`common::framing::DeadlineReader`).
#![deny(missing_docs)]

pub mod bench;
pub mod body;
pub mod cache;
pub mod check;
#[cfg(target_os = "linux")]
pub mod epoll;
#[cfg(target_os = "linux")]
pub mod event_loop;
pub mod form;
pub mod html;
pub mod mime;
pub mod multipart;
pub mod page;
pub mod path;
pub mod server;
pub mod workers;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{self, Command, Flag, Matches};
use common::error::{AppError, MainError};
use common::stop::Shutdown;

/// The assignment's address.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The assignment's port.
pub const DEFAULT_PORT: u16 = 10002;

/// Largest request body accepted by default (1 MiB); more is 413.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// The `server` program's flags.
pub const SERVER_CMD: Command = Command {
    name: "server",
    about: "Tugas 8 HTTP server: serves a folder and answers a form POST with the request's headers and fields",
    args: "",
    flags: &[
        cli::host(DEFAULT_HOST),
        cli::port("10002"),
        Flag::value(
            "dir",
            "DIR",
            "www",
            "folder to serve; if ./www does not exist, the crate's own www/ is used",
        ),
        Flag::value(
            "max-body",
            "BYTES",
            "1048576",
            "largest request body accepted (413 beyond)",
        ),
        cli::TIMEOUT,
    ],
};

/// How the server runs: the typed flags of `server`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`--host`).
    pub host: String,
    /// Port to listen on (`--port`).
    pub port: u16,
    /// The folder whose files are served.
    pub dir: PathBuf,
    /// A request's head, and then its body, must arrive within this time
    /// (else 408); also the idle time of a kept-alive connection.
    pub timeout: Duration,
    /// Largest request body accepted (else 413).
    pub max_body: usize,
    /// Largest request head accepted (else 431).
    pub max_head: usize,
}

impl Config {
    /// The defaults (30 s, 1 MiB body, 8 KiB head) for serving `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Config {
        Config {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            dir: dir.into(),
            timeout: Duration::from_secs(30),
            max_body: DEFAULT_MAX_BODY,
            max_head: common::http::MAX_HEAD,
        }
    }

    /// The configuration from parsed flags; `--dir` must be a folder.
    ///
    /// # Errors
    /// A usage error for bad numbers; an [`AppError`] for a missing folder.
    pub fn from_matches(m: &Matches) -> Result<Config, MainError> {
        let dir = if m.is_set("dir") {
            PathBuf::from(m.value("dir"))
        } else {
            default_dir()
        };
        if !dir.is_dir() {
            return Err(AppError::new(
                format!("cannot serve folder {}", dir.display()),
                "no such folder",
            )
            .hint("give the folder with --dir")
            .into());
        }
        Ok(Config {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            dir,
            timeout: m.timeout()?,
            max_body: m.parse("max-body")?,
            max_head: common::http::MAX_HEAD,
        })
    }
}

/// The `server` program after its start: parses `args` (without the
/// program name), binds, prints `listening on IP:PORT`, and serves until
/// `shutdown` is given (Ctrl-C, in the binary).
///
/// # Errors
/// A usage error (exit 2: a bad flag or value, a stray argument), or an
/// [`AppError`] (exit 1: no such folder, the port is taken).
pub fn main_with_args<I>(args: I, shutdown: &Shutdown) -> Result<(), MainError>
where
    I: IntoIterator<Item = String>,
{
    let (listener, config) = listen(args)?;
    server::run_server(listener, &config, shutdown)
        .map_err(|e| AppError::io("cannot start the server", &e))?;
    Ok(())
}

/// The first half of [`main_with_args`]: parses `args`, binds, prints
/// `listening on IP:PORT` and logs the folder and the form's address.
///
/// # Errors
/// As [`main_with_args`].
pub fn listen<I>(args: I) -> Result<(TcpListener, Config), MainError>
where
    I: IntoIterator<Item = String>,
{
    let m = SERVER_CMD.parse(args)?;
    let config = Config::from_matches(&m)?;
    let listener = common::net::bind(&config.host, config.port)?;
    let addr = common::net::announce(&listener)
        .map_err(|e| AppError::io("cannot print the address", &e))?;
    log::info!(
        "serving {} at http://{addr}/ (the form: http://{addr}/sending.html)",
        config
            .dir
            .canonicalize()
            .unwrap_or_else(|_| config.dir.clone())
            .display()
    );
    Ok((listener, config))
}

/// The folder served when `--dir` is not given: `www` in the current
/// folder if there is one (running from inside `tugas8/`), otherwise this
/// crate's own `www/` (running from the workspace root), found through the
/// crate's path at build time.
pub fn default_dir() -> PathBuf {
    let here = Path::new("www");
    if here.is_dir() {
        here.to_path_buf()
    } else {
        crate_www()
    }
}

/// This crate's own `www/` folder (the path where it was built).
pub fn crate_www() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("www")
}
