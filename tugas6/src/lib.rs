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
//! `--timeout` seconds 408 and a close. HTTP/1.1, and HTTP/1.0 with
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
//!   until its client speaks ([`handle_connection`]). The plainest
//!   multithreaded server, and the one to read first.
//! - `--engine epoll` (the default on Linux): one thread per CPU core, each
//!   an event loop that asks the kernel which of its connections are ready
//!   and serves them in turn ([`event_loop`]), as nginx does. Same answers,
//!   same limits; under `ab -k` about twice the requests per second,
//!   because no thread has to be woken for each request.
//!
//! Both build every answer with [`respond`], and the tests run every case
//! against both.
//!
//! # Modules
//!
//! - this file: the server ([`run_server`], [`handle_connection`],
//!   [`respond`], [`route`]);
//! - `event_loop` and `epoll` (Linux): the event-loop engine and the three
//!   epoll system calls it needs, declared by hand;
//! - [`limits`]: raising the open-files limit for thousands of connections;
//! - [`bench`](mod@bench): running `ab`, reading its report, the table and the SVG chart;
//! - [`check`]: the grader's check behind `--bin check`.
//!
//! The request-head parser and response writer are `common::http`, shared
//! with Tugas 8.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::cli::{self, Command, Flag};
use common::framing;
use common::http::{self, HeadError, RequestView, Response, MAX_HEAD};
use common::net::{self, ServeOptions};

pub mod bench;
pub mod check;
#[cfg(target_os = "linux")]
pub mod epoll;
#[cfg(target_os = "linux")]
pub mod event_loop;
pub mod limits;

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
    /// ([`handle_connection`]): the simplest design, and the course's.
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

/// Serves HTTP on `listener` for ever with `engine`, with `opts.timeout`
/// for each request and each write and at most `opts.max_connections`
/// at once. TCP_NODELAY is set on every connection kept alive.
///
/// # Errors
/// Only if the engine cannot start (the event loop's epoll instances).
pub fn run_server(listener: TcpListener, opts: ServeOptions, engine: Engine) -> io::Result<()> {
    match engine {
        #[cfg(target_os = "linux")]
        Engine::EventLoop => event_loop::run(listener, opts),
        #[cfg(not(target_os = "linux"))]
        Engine::EventLoop => Err(io::Error::other("the epoll engine needs Linux")),
        Engine::Threads => {
            // Each connection on its own thread (threads are reused, see
            // common::net::serve).
            let timeout = opts.timeout;
            net::serve(listener, opts, move |stream, peer| {
                handle_connection(stream, peer, timeout)
            });
            Ok(())
        }
    }
}

/// Starts [`run_server`] on background threads and returns its address
/// (for tests and the bench: bind first, so nothing has to wait).
///
/// # Errors
/// If the listener has no address or the engine cannot start.
pub fn spawn_server(
    listener: TcpListener,
    opts: ServeOptions,
    engine: Engine,
) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let name = format!("http server {addr}");
    match engine {
        #[cfg(target_os = "linux")]
        Engine::EventLoop => {
            // Set up here, so that an error is returned, not logged.
            let last = event_loop::start(listener, opts, event_loop::default_workers())?;
            std::thread::Builder::new()
                .name(name)
                .spawn(move || last.run())?;
        }
        _ => {
            std::thread::Builder::new()
                .name(name)
                .spawn(move || run_server(listener, opts, engine))?;
        }
    }
    Ok(addr)
}

/// The options the `server` binary uses, from its flags.
///
/// # Errors
/// A usage error for a bad `--timeout`, `--max-connections` or `--engine`.
pub fn serve_options(m: &cli::Matches) -> Result<(ServeOptions, Engine), cli::CliError> {
    let opts = ServeOptions {
        timeout: m.timeout()?,
        max_connections: m.parse("max-connections")?,
        // Set per connection by the handler, only on kept-alive ones.
        nodelay: false,
        ..ServeOptions::default()
    };
    Ok((opts, m.parse("engine")?))
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

/// Serves one connection: reads requests and answers them until the client
/// closes, asks to close, or is silent for `timeout`.
///
/// One `BufReader` lives as long as the connection, so a request that
/// arrives in pieces, or several pipelined requests in one segment, are
/// read correctly; each response leaves in one `write`. The stream's own
/// read timeout bounds each wait for bytes; `timeout` also bounds the
/// whole of one request, so a client sending a byte now and then cannot
/// hold the connection for ever.
///
/// # Errors
/// Socket failures other than the client closing or going silent.
pub fn handle_connection(stream: TcpStream, peer: SocketAddr, timeout: Duration) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(
        4096,
        DeadlineReader {
            stream: &stream,
            deadline: None,
        },
    );
    // Both buffers live as long as the connection: after the first request
    // reading and answering allocate nothing.
    let mut head: Vec<u8> = Vec::with_capacity(1024);
    let mut out: Vec<u8> = Vec::with_capacity(512);
    let mut served = 0u64;
    loop {
        if served > 0 {
            // Between requests only the socket's idle timeout applies.
            reader.get_mut().deadline = None;
            if !wait_for_next_request(&mut reader, peer)? {
                return Ok(());
            }
        }
        reader.get_mut().deadline = Some(Instant::now() + timeout);
        match http::read_head_into(&mut reader, MAX_HEAD, &mut head) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => return answer_error(&stream, &mut reader, &mut out, peer, e),
        }
        out.clear();
        let answer = match respond(&head, &mut out, peer) {
            Ok(answer) => answer,
            Err(e) => return answer_error(&stream, &mut reader, &mut out, peer, e),
        };
        if answer.discard > 0 {
            framing::copy_exact(&mut reader, &mut io::sink(), answer.discard, 8192, |_| ())
                .map_err(io::Error::from)?;
        }
        if served == 1 {
            // A second answer on this connection: send each answer at once
            // rather than letting Nagle's algorithm hold it until the
            // client acknowledges the previous one. (The first answer
            // never waits, so a connection used once skips the syscall.)
            let _ = stream.set_nodelay(true);
        }
        (&stream).write_all(&out)?;
        served += 1;
        if !answer.keep_alive {
            // Bytes still unread (a pipelined request, a big body) would
            // make close() send a reset that can destroy our response.
            if !answer.body_read || !reader.buffer().is_empty() {
                linger_close(&stream, &mut reader);
            }
            return Ok(());
        }
    }
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

/// Answers one request head (the bytes before its blank line): appends
/// the whole response to `out`, logs it, and says how the connection goes
/// on. Both engines serve every request through here.
///
/// # Errors
/// [`HeadError::Malformed`] (answer 400) for a head that does not parse
/// or a bad `Content-Length`.
pub fn respond(head: &[u8], out: &mut Vec<u8>, peer: SocketAddr) -> Result<Answer, HeadError> {
    let req = RequestView::parse(head)?;
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

/// Between keep-alive requests: waits for the next request's first byte.
/// A client that goes quiet or closes here has done nothing wrong, so the
/// connection just ends (no 408).
fn wait_for_next_request(reader: &mut Conn<'_>, peer: SocketAddr) -> io::Result<bool> {
    match reader.fill_buf() {
        Ok([]) => Ok(false),
        Ok(_) => Ok(true),
        Err(e) if framing::is_timeout(&e) => {
            log::debug!("{peer}: idle keep-alive connection timed out");
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(false),
        Err(e) => Err(e),
    }
}

/// Answers a request that could not be read (400, 408, 431) and closes.
fn answer_error(
    stream: &TcpStream,
    reader: &mut Conn<'_>,
    out: &mut Vec<u8>,
    peer: SocketAddr,
    e: HeadError,
) -> io::Result<()> {
    out.clear();
    if !encode_error(&e, peer, out) {
        return match e {
            HeadError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
            HeadError::Io(e) => Err(e),
            _ => Ok(()),
        };
    }
    // The client may be gone already (e.g. it closed after a partial head).
    let mut writer = stream;
    if writer.write_all(out).is_ok() {
        linger_close(stream, reader);
    }
    Ok(())
}

/// How long a closing connection reads and drops what the client still
/// sends (the "lingering close" of `linger_close`).
pub const LINGER: Duration = Duration::from_secs(2);

/// The most bytes read and dropped while lingering.
pub const MAX_DRAIN: usize = 1024 * 1024;

/// Closes our side, then reads and drops what the client still sends for
/// a moment, so the kernel does not answer those bytes with a reset that
/// would wipe the response from the client's receive buffer before it is
/// read ("lingering close", as Apache and nginx do).
fn linger_close(stream: &TcpStream, reader: &mut Conn<'_>) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    reader.get_mut().deadline = None;
    let start = Instant::now();
    let mut drained = 0usize;
    while drained < MAX_DRAIN && start.elapsed() < LINGER {
        match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(buf) => {
                let n = buf.len();
                drained += n;
                reader.consume(n);
            }
        }
    }
}

/// The reading side of a connection, buffered.
type Conn<'a> = BufReader<DeadlineReader<'a>>;

/// Reads from the socket, but fails with `TimedOut` once a deadline has
/// passed. Each read still waits at most the socket's read timeout, so a
/// request takes at most about twice `--timeout` however its bytes trickle
/// in; checking the clock costs no system call.
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Option<Instant>,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request not complete within the timeout",
                ));
            }
        }
        self.stream.read(buf)
    }
}
