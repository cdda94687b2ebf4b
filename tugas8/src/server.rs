//! The connection loop: read a request head, then its body, answer, and go
//! on while the connection is kept alive.
//!
//! Every answer is written whole, with `Content-Length`, by
//! [`common::http::Response`]. After an error that leaves the request's
//! body unread (413, 411, 400, 408, ...) the connection is closed, but
//! only after [`linger`]: closing a socket with unread bytes makes the
//! kernel send a reset, and the client would lose the error page.

use std::fs;
use std::io::{self, BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::files::{resolve_in_dir, ServeError};
use common::http::{http_date, read_request_head, reason_phrase, HeadError, Request, Response};
use common::net::{serve, spawn_server, ServeOptions};

use crate::body::{read_chunked, read_sized, BodyError};
use crate::page::{self, Fields, Posted};
use crate::path::decode_path;
use crate::{mime, Config};

/// Most bytes read and thrown away after an error answer (see [`linger`]).
pub const LINGER_MAX_BYTES: usize = 4 << 20;

/// Longest time spent in [`linger`].
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// Files up to this size are read into memory and sent with their head in
/// one write; larger ones are streamed from disk (the kernel's sendfile on
/// Linux), so a big file never sits in memory.
pub const IN_MEMORY_FILE_MAX: u64 = 256 * 1024;

/// The methods this server implements; any other is answered 501.
pub const ALLOWED_METHODS: &str = "GET, HEAD, POST";

/// Serves connections on `listener` for ever, each on its own thread.
pub fn run(listener: TcpListener, config: Config) {
    let opts = serve_options(&config);
    serve(listener, opts, move |stream, peer| {
        handle_connection(stream, peer, &config)
    });
}

/// Starts [`run`] on a background thread (tests use this) and returns the
/// listener's address.
///
/// # Errors
/// If the listener has no local address or the thread cannot start.
pub fn spawn(listener: TcpListener, config: Config) -> io::Result<SocketAddr> {
    let opts = serve_options(&config);
    spawn_server(listener, opts, move |stream, peer| {
        handle_connection(stream, peer, &config)
    })
}

fn serve_options(config: &Config) -> ServeOptions {
    ServeOptions {
        timeout: config.timeout,
        nodelay: true,
        ..ServeOptions::default()
    }
}

/// Reads the socket until a deadline, not only until a silent gap: a
/// client that sends one byte every few seconds (slowloris) still runs
/// out of time. Counts the bytes it reads.
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    count: u64,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let n = self.stream.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

type Conn<'a> = BufReader<DeadlineReader<'a>>;

/// What to send back for one request.
struct Answer {
    response: Response,
    /// A large file sent after the head instead of `response.body`, and
    /// its length.
    file: Option<(fs::File, u64)>,
    /// The body was not read to its end, or the framing is in doubt: the
    /// connection closes after this answer.
    close: bool,
}

impl Answer {
    fn ok(response: Response) -> Answer {
        Answer {
            response,
            file: None,
            close: false,
        }
    }

    /// An error page after which the connection closes.
    fn fatal(status: u16, detail: &str) -> Answer {
        Answer {
            close: true,
            ..Answer::ok(error_response(status, detail))
        }
    }

    /// Writes the answer: head and body in one write, or the head and then
    /// the file streamed from disk.
    fn write(
        self,
        stream: &TcpStream,
        version: &str,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<()> {
        let Some((file, len)) = self.file else {
            return self
                .response
                .write_to(&mut &*stream, version, head_only, keep_alive);
        };
        self.response
            .write_head_to(&mut &*stream, version, len, keep_alive)?;
        if head_only {
            return Ok(());
        }
        let sent = io::copy(&mut file.take(len), &mut &*stream)?;
        if sent != len {
            // The file shrank while being sent: the client cannot be told
            // any more, so the connection must end here.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("file ended after {sent} of {len} bytes"),
            ));
        }
        Ok(())
    }

    fn body_len(&self) -> u64 {
        self.file
            .as_ref()
            .map_or(self.response.body.len() as u64, |(_, len)| *len)
    }
}

/// An HTML error page with this status and an explanation.
fn error_response(status: u16, detail: &str) -> Response {
    Response::html(
        status,
        page::error_page(status, reason_phrase(status), detail),
    )
}

/// Serves one connection: request after request while it is kept alive.
///
/// # Errors
/// Socket errors, and a client that closes in the middle of a body; the
/// accept loop logs them and they end only this connection.
pub fn handle_connection(stream: TcpStream, peer: SocketAddr, config: &Config) -> io::Result<()> {
    let mut conn: Conn = BufReader::new(DeadlineReader {
        stream: &stream,
        deadline: Instant::now(),
        count: 0,
    });
    let mut served = 0u64;
    loop {
        // The whole head must arrive within one timeout.
        conn.get_mut().deadline = Instant::now() + config.timeout;
        let seen_before = conn.get_ref().count;
        let pending = !conn.buffer().is_empty();
        let req = match read_request_head(&mut conn, config.max_head) {
            Ok(Some(req)) => req,
            Ok(None) => return Ok(()),
            Err(HeadError::Io(e)) => return Err(e),
            Err(HeadError::Timeout)
                if served > 0 && !pending && conn.get_ref().count == seen_before =>
            {
                // A kept-alive connection nobody used again: just close.
                log::debug!("{peer}: idle keep-alive connection closed");
                return Ok(());
            }
            Err(e) => {
                let status = e.status().unwrap_or(400);
                let detail = match &e {
                    HeadError::TooLarge => format!(
                        "the request line and headers are larger than {} bytes",
                        config.max_head
                    ),
                    HeadError::Timeout => format!(
                        "no complete request arrived within {} s",
                        config.timeout.as_secs_f64()
                    ),
                    e => e.to_string(),
                };
                log::warn!("{peer}: {status} {detail}");
                error_response(status, &detail).write_to(&mut &stream, "HTTP/1.1", false, false)?;
                linger(&stream);
                return Ok(());
            }
        };
        served += 1;
        let answer = match answer(&req, &mut conn, &stream, config, peer) {
            Ok(a) => a,
            Err(e) => {
                // The client closed or reset in the middle of its body.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} {}: {e}", req.method, req.target),
                ));
            }
        };
        let keep_alive = req.keep_alive() && !answer.close;
        log::info!(
            "{peer} \"{} {} {}\" {} {}",
            req.method,
            req.target,
            req.version,
            answer.response.status,
            answer.body_len()
        );
        let head_only = req.method == "HEAD";
        let close = answer.close;
        answer.write(&stream, &req.version, head_only, keep_alive)?;
        if !keep_alive {
            if close {
                linger(&stream);
            }
            return Ok(());
        }
    }
}

/// How the request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body.
    None,
    /// `Content-Length: n`.
    Sized(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The request's body framing, or the error answer for a request whose
/// framing cannot be trusted (RFC 9112 6).
fn framing(req: &Request) -> Result<Framing, Answer> {
    let codings: Vec<&str> = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    if !codings.is_empty() {
        if req.version == "HTTP/1.0" {
            return Err(Answer::fatal(
                400,
                "Transfer-Encoding is not allowed in an HTTP/1.0 request",
            ));
        }
        if req.header("content-length").is_some() {
            return Err(Answer::fatal(
                400,
                "a request may not have both Transfer-Encoding and Content-Length",
            ));
        }
        if codings.len() != 1 || !codings[0].eq_ignore_ascii_case("chunked") {
            return Err(Answer::fatal(
                501,
                &format!(
                    "Transfer-Encoding {:?} is not supported; only \"chunked\" is",
                    codings.join(", ")
                ),
            ));
        }
        return Ok(Framing::Chunked);
    }
    match req.content_length() {
        Ok(Some(n)) => Ok(Framing::Sized(n)),
        Ok(None) => Ok(Framing::None),
        Err(e) => Err(Answer::fatal(400, &e.to_string())),
    }
}

/// Works out the answer to one request, reading its body if it has one.
/// `Err` only when the body could not be read and nobody is left to
/// answer (the client closed or reset).
fn answer(
    req: &Request,
    conn: &mut Conn,
    stream: &TcpStream,
    config: &Config,
    peer: SocketAddr,
) -> Result<Answer, BodyError> {
    if req.version == "HTTP/1.1" && req.header("host").is_none() {
        return Ok(Answer::fatal(
            400,
            "an HTTP/1.1 request needs a Host header",
        ));
    }
    let framing = match framing(req) {
        Ok(f) => f,
        Err(answer) => return Ok(answer),
    };
    let method = req.method.as_str();
    if !matches!(method, "GET" | "HEAD" | "POST") {
        let mut a = Answer::fatal(
            501,
            &format!("method {method} is not supported; this server knows {ALLOWED_METHODS}"),
        );
        a.response = a.response.with_header("Allow", ALLOWED_METHODS);
        // Without a body there is nothing unread: the connection can stay.
        a.close = !matches!(framing, Framing::None | Framing::Sized(0));
        return Ok(a);
    }
    if method == "POST" && framing == Framing::None {
        return Ok(Answer::fatal(
            411,
            "a POST needs a Content-Length header (or Transfer-Encoding: chunked)",
        ));
    }
    if let Framing::Sized(n) = framing {
        if n > config.max_body as u64 {
            return Ok(too_large(config.max_body));
        }
    }
    if let Some(expect) = req.header("expect") {
        if !expect.eq_ignore_ascii_case("100-continue") {
            return Ok(Answer::fatal(
                417,
                &format!("unknown expectation {expect:?}"),
            ));
        }
        // curl asks before sending a large body; the size is fine, so go on.
        if req.version == "HTTP/1.1" && framing != Framing::None {
            io::Write::write_all(&mut &*stream, b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(BodyError::Io)?;
        }
    }

    // The body gets a fresh deadline of its own.
    conn.get_mut().deadline = Instant::now() + config.timeout;
    let body = match framing {
        Framing::None => Ok(Vec::new()),
        Framing::Sized(n) => read_sized(conn, n, config.max_body),
        Framing::Chunked => read_chunked(conn, config.max_body),
    };
    let body = match body {
        Ok(b) => b,
        Err(BodyError::TooLarge { limit }) => return Ok(too_large(limit)),
        Err(e) => match e.status() {
            Some(status) => {
                log::warn!("{peer}: {status} {e}");
                return Ok(Answer::fatal(status, &e.to_string()));
            }
            None => return Err(e),
        },
    };

    if method == "POST" {
        return Ok(Answer::ok(post_answer(req, &body, peer)));
    }
    // A GET or HEAD with a body: it was read (and is ignored), so the
    // next request starts at the right byte.
    Ok(static_file(&req.target, &config.dir))
}

fn too_large(limit: usize) -> Answer {
    Answer::fatal(
        413,
        &format!("the request body is larger than this server's limit of {limit} bytes"),
    )
}

/// The answer page for a POST; each decoded field is also logged.
fn post_answer(req: &Request, body: &[u8], peer: SocketAddr) -> Response {
    let request_line = format!("{} {} {}", req.method, req.target, req.version);
    let content_type = req.header("content-type");
    match page::fields(content_type, body) {
        Fields::Urlencoded(f) | Fields::Multipart(f) => {
            for (name, value) in &f {
                log::info!("{peer} field {name:?} = {value:?}");
            }
        }
        Fields::BadMultipart(why) => log::warn!("{peer}: bad multipart body: {why}"),
        Fields::None => {}
    }
    let html = page::post_page(&Posted {
        request_line: &request_line,
        head_lines: &req.head_lines,
        content_type,
        body,
    });
    Response::html(200, html).with_header("Cache-Control", "no-store")
}

/// A file from the served folder, or the error page saying why not.
fn static_file(target: &str, dir: &Path) -> Answer {
    let name = match decode_path(target) {
        Ok(name) => name,
        Err(e) => return Answer::ok(error_response(e.status(), &e.to_string())),
    };
    // "/" and "/folder/" mean the folder's index.html.
    let name = if name.is_empty() || name.ends_with('/') {
        format!("{name}index.html")
    } else {
        name
    };
    let refuse = |status: u16, why: &str| Answer::ok(error_response(status, why));
    let not_found = || refuse(404, &format!("there is no file /{name} here"));
    let path = match resolve_in_dir(dir, &name) {
        Ok(path) => path,
        Err(ServeError::NotFound) => return not_found(),
        Err(ServeError::Name(e)) => return refuse(403, &e.to_string()),
        Err(ServeError::Outside) => return refuse(403, "that file is outside the served folder"),
        Err(ServeError::Io(e)) if e.kind() == io::ErrorKind::PermissionDenied => {
            return refuse(403, "that file cannot be read")
        }
        // E.g. "teks.txt/x": a path through a file is no file either.
        Err(ServeError::Io(_)) => return not_found(),
    };
    let opened = fs::File::open(&path).and_then(|f| f.metadata().map(|m| (f, m)));
    let (mut file, meta) = match opened {
        Ok(pair) => pair,
        Err(e) => {
            log::warn!(
                "cannot open {}: {}",
                path.display(),
                common::error::io_cause(&e)
            );
            return refuse(403, "that file cannot be read");
        }
    };
    let mut response =
        Response::new(200).with_header("Content-Type", mime::content_type(Path::new(&name)));
    if let Ok(modified) = meta.modified() {
        response = response.with_header("Last-Modified", &http_date(modified));
    }
    let len = meta.len();
    if len > IN_MEMORY_FILE_MAX {
        return Answer {
            file: Some((file, len)),
            ..Answer::ok(response)
        };
    }
    let mut bytes = Vec::with_capacity(len as usize);
    match file.read_to_end(&mut bytes) {
        Ok(_) => Answer::ok(response.with_body(bytes)),
        Err(e) => {
            log::warn!(
                "cannot read {}: {}",
                path.display(),
                common::error::io_cause(&e)
            );
            refuse(403, "that file cannot be read")
        }
    }
}

/// Before closing after an error answer: stop sending, then read and drop
/// what the client is still sending (at most [`LINGER_MAX_BYTES`] for
/// [`LINGER_TIME`]), so the close does not reset the connection and wipe
/// the answer from the client's receive buffer (RFC 9112 9.6).
pub fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let end = Instant::now() + LINGER_TIME;
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    while total < LINGER_MAX_BYTES {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*stream).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}
