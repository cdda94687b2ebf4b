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
//! # Modules
//!
//! - this file: the server ([`run_server`], [`handle_connection`], [`route`]);
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
    ],
};

/// Serves HTTP on `listener` for ever: each connection on its own thread
/// (threads are reused, see [`common::net::serve`]), with `opts.timeout`
/// on every read and write and at most `opts.max_connections` at once.
/// TCP_NODELAY is set by the handler on every connection kept alive.
pub fn run_server(listener: TcpListener, opts: ServeOptions) {
    let timeout = opts.timeout;
    net::serve(listener, opts, move |stream, peer| {
        handle_connection(stream, peer, timeout)
    });
}

/// Starts [`run_server`] on a background thread and returns its address
/// (for tests and the bench: bind first, so nothing has to wait).
///
/// # Errors
/// If the listener has no address or the thread cannot start.
pub fn spawn_server(listener: TcpListener, opts: ServeOptions) -> io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name(format!("http server {addr}"))
        .spawn(move || run_server(listener, opts))?;
    Ok(addr)
}

/// The options the `server` binary uses, from its flags.
///
/// # Errors
/// A usage error for a bad `--timeout` or `--max-connections`.
pub fn serve_options(m: &cli::Matches) -> Result<ServeOptions, cli::CliError> {
    Ok(ServeOptions {
        timeout: m.timeout()?,
        max_connections: m.parse("max-connections")?,
        // Set per connection by the handler, only on kept-alive ones.
        nodelay: false,
        ..ServeOptions::default()
    })
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
        let req = match RequestView::parse(&head) {
            Ok(req) => req,
            Err(e) => return answer_error(&stream, &mut reader, &mut out, peer, e),
        };
        // A body would be read as the next request: read it away, or close.
        let (body_read, discard) = match body_to_skip(&req) {
            Ok(skip) => skip,
            Err(e) => return answer_error(&stream, &mut reader, &mut out, peer, e),
        };
        let keep_alive = body_read && req.keep_alive();
        if discard > 0 {
            framing::copy_exact(&mut reader, &mut io::sink(), discard, 8192, |_| ())
                .map_err(io::Error::from)?;
        }
        let resp = route(req.method, req.target);
        log::info!(
            "{peer} \"{} {} {}\" {} {}",
            req.method,
            req.target,
            req.version,
            resp.status,
            resp.body.len()
        );
        if served == 1 {
            // A second answer on this connection: send each answer at once
            // rather than letting Nagle's algorithm hold it until the
            // client acknowledges the previous one. (The first answer
            // never waits, so a connection used once skips the syscall.)
            let _ = stream.set_nodelay(true);
        }
        out.clear();
        resp.encode_into(&mut out, req.version, req.method == "HEAD", keep_alive);
        (&stream).write_all(&out)?;
        served += 1;
        if !keep_alive {
            // Bytes still unread (a pipelined request, a big body) would
            // make close() send a reset that can destroy our response.
            if !body_read || !reader.buffer().is_empty() {
                linger_close(&stream, &mut reader);
            }
            return Ok(());
        }
    }
}

/// Whether the request's body (if any) can be read away, and how many
/// bytes it has; `false` means answer and close.
fn body_to_skip(req: &RequestView<'_>) -> Result<(bool, u64), HeadError> {
    let len = req.content_length()?;
    if req.header("transfer-encoding").is_some() {
        // A chunked body has no length up front; not worth parsing here.
        return Ok((false, 0));
    }
    match len {
        None | Some(0) => Ok((true, 0)),
        Some(n) if n <= MAX_DISCARD => Ok((true, n)),
        Some(_) => Ok((false, 0)),
    }
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
    let Some(status) = e.status() else {
        return match e {
            HeadError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
            HeadError::Io(e) => Err(e),
            _ => Ok(()),
        };
    };
    log::warn!("{peer}: {e}; answering {status}");
    out.clear();
    Response::error_page(status).encode_into(out, "HTTP/1.1", false, false);
    // The client may be gone already (e.g. it closed after a partial head).
    let mut writer = stream;
    if writer.write_all(out).is_ok() {
        linger_close(stream, reader);
    }
    Ok(())
}

/// Closes our side, then reads and drops what the client still sends for
/// a moment, so the kernel does not answer those bytes with a reset that
/// would wipe the response from the client's receive buffer before it is
/// read ("lingering close", as Apache and nginx do).
fn linger_close(stream: &TcpStream, reader: &mut Conn<'_>) {
    const LINGER: Duration = Duration::from_secs(2);
    const MAX_DRAIN: usize = 1024 * 1024;
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
