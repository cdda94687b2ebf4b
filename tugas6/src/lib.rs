//! Tugas 6: a multithreaded HTTP server on 127.0.0.1:10001 that answers
//! `GET / HTTP/1.0` with `<h1>SERVER HTTP</h1>`; and Tugas 7: its load test
//! with ApacheBench (`ab`).
//!
//! The course asks for a server that reads a request such as
//! `GET / HTTP/1.0` up to the end marker `"\r\n\r\n"` and replies with
//! `<h1>SERVER HTTP</h1>`, tried first with telnet and then with Chrome. A
//! browser only shows a page that comes with a real HTTP response, so the
//! reply here is a complete one: status line, headers, blank line, body.
//!
//! # Wire format
//!
//! ```text
//! client: GET / HTTP/1.0\r\n                 request line
//!         Host: 127.0.0.1:10001\r\n          optional header lines
//!         \r\n                               blank line = end of the request
//! server: HTTP/1.0 200 OK\r\n
//!         Date: Wed, 25 Nov 2026 08:00:00 GMT\r\n
//!         Server: progjar-rust\r\n
//!         Content-Length: 20\r\n
//!         Connection: close\r\n
//!         Content-Type: text/html; charset=utf-8\r\n
//!         \r\n
//!         <h1>SERVER HTTP</h1>
//! ```
//!
//! Lines may also end in a bare `\n` (so the end marker may be `\n\n`), and
//! the request may arrive in any number of TCP segments. `HEAD /` gets the
//! same head without the body; another path gets 404, another method 501,
//! a malformed request 400, a head over 8 KiB 431, a client silent for
//! `--timeout` seconds 408 and a close (with the epoll engine a client
//! that never sends a byte is handed over by the kernel about a second
//! late, see `event_loop::DEFER_ACCEPT_SECS`, so its 408 comes that much
//! later). HTTP/1.1, and HTTP/1.0 with
//! `Connection: keep-alive` (what `ab -k` sends), keep the connection open
//! for the next request; plain HTTP/1.0 and `Connection: close` close it.
//!
//! ```text
//! cargo run -p tugas6 --release --bin server            # 127.0.0.1:10001
//! telnet 127.0.0.1 10001                                # GET / HTTP/1.0, Enter, Enter
//! ab -n 100000 -c 1000 http://127.0.0.1:10001/          # Tugas 7
//! cargo run -p tugas6 --release --bin bench             # the table and bench.svg
//! ```
//!
//! # Two engines, one behaviour
//!
//! How the server waits for many clients at once is its [`Engine`]:
//!
//! - `--engine threads`: a thread per connection that sleeps in `read`
//!   until its client speaks ([`threads`], [`threads::handle_connection`]);
//!   idle threads wait in `accept` and are reused. The plainest
//!   multithreaded server, and the one to read first.
//! - `--engine epoll` (the default on Linux): one thread per CPU core, each
//!   an event loop that asks the kernel which of its connections are ready
//!   and serves them in turn ([`event_loop`]), as nginx does. Same answers,
//!   same limits; under `ab -k` about twice the requests per second,
//!   because no thread has to be woken for each request.
//!
//! Both parse every head with `common::http::parse_head` and build every
//! answer with [`respond`], and the tests run every case against both.
//!
//! # How it ends
//!
//! [`run_server`] serves until its [`Shutdown`] is given (Ctrl-C in the
//! binary, `stop()` or a drop of the [`Running`] that [`start_server`]
//! returns in tests), then returns once every thread it started has
//! ended: the threads engine's acceptors are woken by a connection and
//! leave, the connections they serve are shut down; each event loop is
//! woken through an eventfd it watches, and closes its connections.
//!
//! # Modules
//!
//! - this file: the flags ([`Config`]), the server ([`main_with_args`],
//!   [`run_server`], [`start_server`]) and what both engines answer
//!   ([`respond`], [`route`]);
//! - [`threads`]: the thread-per-connection engine;
//! - `event_loop` and `epoll` (Linux): the event-loop engine, and the
//!   epoll and eventfd system calls it needs (through `libc`, the only
//!   unsafe code of the crate);
//! - [`limits`]: raising the open-files limit for thousands of connections;
//! - [`bench`](mod@bench): running `ab`, reading its report, the table and the SVG chart;
//! - [`check`]: the grader's check behind `--bin check`.
//!
//! The request-head parser and response writer are `common::http`, shared
//! with Tugas 8.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::OnceLock;
use std::time::Duration;

use common::cli::{self, CliError, Command, Flag, Matches};
use common::error::{AppError, MainError};
use common::http::{Head, HeadError, Response};
use common::net;
use common::stop::{Running, Shutdown};

pub mod bench;
pub mod check;
#[cfg(target_os = "linux")]
pub mod epoll;
#[cfg(target_os = "linux")]
pub mod event_loop;
pub mod limits;
pub mod threads;

/// The body of `GET /`, exactly as the assignment writes it.
pub const BODY: &str = "<h1>SERVER HTTP</h1>";

/// The assignment's address.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The assignment's port.
pub const DEFAULT_PORT: u16 = 10001;

/// Largest request body read and thrown away to keep a keep-alive
/// connection in step (this server serves no request with a body); a
/// larger one is answered and the connection closed.
pub const MAX_DISCARD: u64 = 1024 * 1024;

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 6 HTTP server: answers GET / with <h1>SERVER HTTP</h1>, many clients at once.",
    args: "",
    flags: &[
        cli::host(DEFAULT_HOST),
        cli::port("10001"),
        cli::TIMEOUT,
        Flag::value(
            "max-connections",
            "N",
            "10000",
            "connections served at once; more are closed at once",
        ),
        Flag::value(
            "engine",
            "NAME",
            Engine::DEFAULT_NAME,
            "epoll: one event loop per CPU core (Linux); threads: a thread per connection",
        ),
    ],
};

/// How the server waits for its clients. Both answer exactly alike; they
/// differ in speed under load (see the README's Tugas 7 tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A thread per connection, sleeping in `read` until its client speaks
    /// ([`threads::handle_connection`]): the simplest design, and the course's.
    Threads,
    /// One event loop per CPU core, each serving many connections with
    /// epoll ([`event_loop`], Linux only): fewer thread switches, so more
    /// requests per second.
    EventLoop,
}

impl Engine {
    /// Every engine this platform has.
    #[cfg(target_os = "linux")]
    pub const ALL: &'static [Engine] = &[Engine::EventLoop, Engine::Threads];
    /// Every engine this platform has.
    #[cfg(not(target_os = "linux"))]
    pub const ALL: &'static [Engine] = &[Engine::Threads];

    /// The default engine: the fastest this platform has.
    #[cfg(target_os = "linux")]
    pub const DEFAULT: Engine = Engine::EventLoop;
    /// The default engine: the fastest this platform has.
    #[cfg(not(target_os = "linux"))]
    pub const DEFAULT: Engine = Engine::Threads;

    /// The name of the default engine: the fastest this platform has.
    #[cfg(target_os = "linux")]
    pub const DEFAULT_NAME: &'static str = "epoll";
    /// The name of the default engine: the fastest this platform has.
    #[cfg(not(target_os = "linux"))]
    pub const DEFAULT_NAME: &'static str = "threads";

    /// The engine's name, as `--engine` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Threads => "threads",
            Engine::EventLoop => "epoll",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Engine, String> {
        match Engine::ALL.iter().find(|e| e.name() == s) {
            Some(&e) => Ok(e),
            None if s == "epoll" => Err("epoll needs Linux; use threads".into()),
            None => Err(format!(
                "unknown engine {s:?}; one of: {}",
                Engine::ALL
                    .iter()
                    .map(|e| e.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// Connections served at once by default (`--max-connections`); more
/// are closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// How the server runs: the typed flags of `server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on (`--host`).
    pub host: String,
    /// Port to listen on (`--port`).
    pub port: u16,
    /// A request must arrive whole within this time (else 408), each
    /// answer must be taken within it, and a kept-alive connection idle
    /// this long is closed (`--timeout`).
    pub timeout: Duration,
    /// Connections served at once; more are closed at once
    /// (`--max-connections`).
    pub max_connections: usize,
    /// How the server waits for its clients (`--engine`).
    pub engine: Engine,
}

impl Default for Config {
    /// The assignment's address, 30 s, the default engine.
    fn default() -> Config {
        Config {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            timeout: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            engine: Engine::DEFAULT,
        }
    }
}

impl Config {
    /// The configuration from the parsed flags of [`SERVER`].
    ///
    /// # Errors
    /// A usage error (exit 2) for a bad `--port`, `--timeout`,
    /// `--max-connections` or `--engine`.
    pub fn from_matches(m: &Matches) -> Result<Config, CliError> {
        Ok(Config {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            timeout: m.timeout()?,
            max_connections: m.parse("max-connections")?,
            engine: m.parse("engine")?,
        })
    }
}

/// The `server` program after its start: parses `args` (without the
/// program name), binds, prints `listening on IP:PORT`, and serves until
/// `shutdown` is given (Ctrl-C, in the binary).
///
/// # Errors
/// A usage error (exit 2: a bad flag or value, a stray argument), or an
/// [`AppError`] (exit 1: the port is taken, the engine cannot start).
pub fn main_with_args<I>(args: I, shutdown: &Shutdown) -> Result<(), MainError>
where
    I: IntoIterator<Item = String>,
{
    let (listener, config) = listen(args)?;
    run_server(listener, &config, shutdown)
        .map_err(|e| AppError::io("cannot start the server", &e))?;
    Ok(())
}

/// The first half of [`main_with_args`]: parses `args`, raises the
/// open-files limit, binds and prints `listening on IP:PORT`.
///
/// # Errors
/// As [`main_with_args`].
pub fn listen<I>(args: I) -> Result<(TcpListener, Config), MainError>
where
    I: IntoIterator<Item = String>,
{
    let m = SERVER.parse(args)?;
    let config = Config::from_matches(&m)?;
    // Thousands of connections at once need thousands of descriptors.
    if let Some(n) = limits::raise_open_files_limit() {
        log::debug!("open files limit: {n}");
    }
    let listener = net::bind(&config.host, config.port)?;
    net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
    log::debug!("engine: {}", config.engine.name());
    Ok((listener, config))
}

/// Serves HTTP on `listener` with `config.engine` until `shutdown` is
/// given, then returns once every thread it started has ended (the
/// connections still open are closed).
///
/// # Errors
/// Only if the engine cannot start (the event loop's epoll instances).
pub fn run_server(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    match config.engine {
        #[cfg(target_os = "linux")]
        Engine::EventLoop => {
            let workers = event_loop::default_workers();
            event_loop::start(listener, config, shutdown, workers)?.run();
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        Engine::EventLoop => Err(io::Error::other("the epoll engine needs Linux")),
        Engine::Threads => threads::run(listener, config, shutdown),
    }
}

/// Starts [`run_server`] on a thread of its own (for tests and the bench:
/// bind first, so nothing has to wait) with a [`Shutdown`] capped at
/// `config.max_connections`; stopping or dropping the returned
/// [`Running`] stops it and joins its threads.
///
/// # Errors
/// If the listener has no address or the engine cannot start.
pub fn start_server(listener: TcpListener, config: &Config) -> io::Result<Running> {
    let shutdown = Shutdown::with_max_connections(config.max_connections);
    match config.engine {
        #[cfg(target_os = "linux")]
        Engine::EventLoop => {
            // Set up here, so that an error is returned, not logged.
            let addr = listener.local_addr()?;
            let workers = event_loop::default_workers();
            let engine = event_loop::start(listener, config, &shutdown, workers)?;
            Running::spawn_at(addr, shutdown, move |_| {
                engine.run();
                Ok::<(), io::Error>(())
            })
        }
        _ => {
            let config = config.clone();
            Running::spawn(listener, shutdown, move |listener, shutdown| {
                run_server(listener, &config, &shutdown)
            })
        }
    }
}

/// The responses this server sends, built once: the hot path only copies
/// them into the connection's output buffer.
struct Pages {
    home: Response,
    not_found: Response,
    not_implemented: Response,
}

fn pages() -> &'static Pages {
    static PAGES: OnceLock<Pages> = OnceLock::new();
    PAGES.get_or_init(|| Pages {
        home: Response::html(200, BODY),
        not_found: Response::error_page(404),
        not_implemented: Response::error_page(501).with_header("Allow", "GET, HEAD"),
    })
}

/// The answer to a request: `GET`/`HEAD` of `/` is the page, any other
/// path 404, any other method 501.
pub fn route(method: &str, target: &str) -> &'static Response {
    let pages = pages();
    if method != "GET" && method != "HEAD" {
        return &pages.not_implemented;
    }
    if path_of(target) == "/" {
        &pages.home
    } else {
        &pages.not_found
    }
}

/// The path of a request target, for origin form (`/a?b`) and absolute
/// form (`http://127.0.0.1:10001/a?b`, which RFC 9112 3.2.2 says servers
/// must accept too).
pub fn path_of(target: &str) -> &str {
    let mut t = target;
    if let Some(scheme_end) = t.find("://") {
        if t[..scheme_end].eq_ignore_ascii_case("http") {
            let rest = &t[scheme_end + 3..];
            t = rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    let end = t.find(['?', '#']).unwrap_or(t.len());
    &t[..end]
}

/// How a connection goes on after [`respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Keep the connection open for another request.
    pub keep_alive: bool,
    /// The request's body (if any) can be read away to keep the
    /// connection in step; `false` for a chunked or too large body.
    pub body_read: bool,
    /// Body bytes to read and drop before the next request.
    pub discard: u64,
}

/// Answers one request head (parsed by [`common::http::parse_head`]):
/// appends the whole response to `out`, logs it, and says how the
/// connection goes on. Both engines serve every request through here.
///
/// # Errors
/// [`HeadError::Malformed`] (answer 400) for a bad `Content-Length`.
pub fn respond(req: &Head<'_>, out: &mut Vec<u8>, peer: SocketAddr) -> Result<Answer, HeadError> {
    // A body would be read as the next request: read it away, or close.
    let len = req.content_length()?;
    let (body_read, discard) = if req.header("transfer-encoding").is_some() {
        // A chunked body has no length up front; not worth parsing here.
        (false, 0)
    } else {
        match len {
            None | Some(0) => (true, 0),
            Some(n) if n <= MAX_DISCARD => (true, n),
            Some(_) => (false, 0),
        }
    };
    let keep_alive = body_read && req.keep_alive();
    let resp = route(req.method, req.target);
    log::info!(
        "{peer} \"{} {} {}\" {} {}",
        req.method,
        req.target,
        req.version,
        resp.status,
        resp.body.len()
    );
    resp.encode_into(out, req.version, req.method == "HEAD", keep_alive);
    Ok(Answer {
        keep_alive,
        body_read,
        discard,
    })
}

/// The answer to a request head that could not be read (400, 408, 431):
/// logs why and appends the error page, announcing a close, to `out`.
/// Returns `false`, appending nothing, when the connection is unusable
/// and gets no answer (a socket error). Both engines answer through here.
pub fn encode_error(e: &HeadError, peer: SocketAddr, out: &mut Vec<u8>) -> bool {
    let Some(status) = e.status() else {
        return false;
    };
    log::warn!("{peer}: {e}; answering {status}");
    Response::error_page(status).encode_into(out, "HTTP/1.1", false, false);
    true
}
