//! The server: [`run_server`] (on Linux, event loops that answer GETs of
//! files in memory and hand every other request to a connection thread,
//! see `crate::event_loop`; elsewhere an accept loop with a thread per
//! connection), and each connection thread's loop, [`handle_connection`]:
//! read a request head, then its body, answer, and go on while the
//! connection is kept alive. Threads are reused ([`crate::workers`]);
//! small static files are answered from memory after their first request
//! ([`crate::cache`]).
//!
//! Every answer is written whole, with `Content-Length`, by
//! [`common::http::Response`]. After an error that leaves the request's
//! body unread (413, 411, 400, 408, ...) the connection is closed, but
//! only after `common::net::linger_close`: closing a socket with unread
//! bytes makes the kernel send a reset, and the client would lose the
//! error page.
//!
//! # How it ends
//!
//! [`run_server`] serves until its [`Shutdown`] is given (Ctrl-C in the
//! binary, `stop()` on the [`Running`] of [`start_server`] in tests):
//! `stop()` shuts every admitted connection's socket down, so each
//! connection thread's read returns (on Windows, where `shutdown()` does
//! not wake a read blocked in another thread, a thread waiting for a
//! kept-alive client's next request looks at the signal every
//! [`STOP_CHECK`] instead), and connects to the listener. Each
//! event loop sees the signal within 50 ms (the blocked `accept` of the
//! accept loop is woken by that connection), closes its connections and
//! returns; [`run_server`] then lets the idle threads go and joins them
//! all ([`Workers::join`]).

use std::fs;
use std::io::{self, BufRead, BufReader, Cursor, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::files::{resolve_in_dir, ServeError};
use common::framing::{is_timeout, DeadlineReader};
use common::http::{http_date, read_request_head, reason_phrase, HeadError, Request, Response};
use common::net;
use common::stop::{Running, Shutdown};

use crate::body::{read_chunked, read_sized, BodyError};
use crate::cache::{self, Entry, FileCache};
use crate::page::{self, Fields, Posted};
use crate::path::decode_path;
use crate::workers::Workers;
use crate::{mime, Config};

/// Files up to this size are read into memory (and kept there, see
/// [`crate::cache`]) and sent with their head in one write; larger ones
/// are streamed from disk (the kernel's sendfile on Linux), so a big file
/// never sits in memory.
pub const IN_MEMORY_FILE_MAX: u64 = cache::MAX_FILE;

/// The methods this server implements; any other is answered 501.
pub const ALLOWED_METHODS: &str = "GET, HEAD, POST";

/// On Windows, how often a connection thread waiting for a kept-alive
/// client's next request looks whether the server stops: there
/// `shutdown()` (what `Shutdown::stop` does to each connection) does not
/// wake a read blocked in another thread, so without this a stop would
/// wait for every kept-alive connection's `--timeout`. Elsewhere the
/// shutdown wakes the read and the thread waits in one read.
pub const STOP_CHECK: Duration = Duration::from_millis(100);

/// What every connection's thread shares: the flags, the files kept in
/// memory and the stop signal.
#[derive(Debug)]
pub struct Site {
    /// The server's flags.
    pub config: Config,
    /// Small files already served, kept in memory.
    pub cache: FileCache,
    /// The server's stop signal.
    pub shutdown: Shutdown,
}

/// Serves connections on `listener` until `shutdown` is given; then joins
/// every thread it started and returns.
///
/// On Linux, one event loop per CPU core takes the connections and
/// answers GETs of small files already in memory itself; everything else
/// goes to a connection thread ([`crate::event_loop`]). Elsewhere, every
/// connection has a thread ([`accept_loop`]).
///
/// # Errors
/// If the listener has no address, or an event loop cannot start
/// (nothing was served then).
pub fn run_server(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    shutdown.watch(&listener)?;
    let site = Arc::new(Site {
        config: config.clone(),
        cache: FileCache::new(),
        shutdown: shutdown.clone(),
    });
    #[cfg(target_os = "linux")]
    {
        listener.set_nonblocking(true)?;
        // A connection reaches a loop with its request (see event_loop).
        let defer = crate::event_loop::DEFER_ACCEPT_SECS;
        if let Err(e) = crate::epoll::defer_accept(&listener, defer) {
            log::debug!("TCP_DEFER_ACCEPT: {e}; connections are accepted at once");
        }
        let workers = std::sync::Mutex::new(Workers::new());
        let loops = std::thread::available_parallelism().map_or(2, |n| n.get());
        let result = std::thread::scope(|scope| {
            let running: Vec<_> = (0..loops)
                .map(|_| {
                    scope.spawn(|| crate::event_loop::run(&listener, &site, shutdown, &workers))
                })
                .collect();
            let mut result = Ok(());
            for r in running {
                match r.join() {
                    Ok(Err(e)) => {
                        // One loop failed to start: stop the others too.
                        shutdown.stop();
                        result = Err(e);
                    }
                    Ok(Ok(())) => {}
                    Err(_) => shutdown.stop(),
                }
            }
            result
        });
        workers
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .join();
        result
    }
    #[cfg(not(target_os = "linux"))]
    {
        accept_loop(listener, &site, shutdown);
        Ok(())
    }
}

/// The accept loop of a server with a thread for every connection (used
/// where there is no epoll): accept, admit, hand the connection to a
/// thread, until `shutdown` is given; then joins the threads.
pub fn accept_loop(listener: TcpListener, site: &Arc<Site>, shutdown: &Shutdown) {
    let mut workers = Workers::new();
    for stream in listener.incoming() {
        if shutdown.is_stopping() {
            break;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                net::accept_failed(&e);
                continue;
            }
        };
        let Some(admitted) = shutdown.admit(&stream) else {
            continue;
        };
        // The accept loop only accepts and hands the connection to a
        // thread: everything else happens on that thread, so the next
        // client is accepted at once.
        let site = Arc::clone(site);
        workers.run(move || {
            let _admitted = admitted; // counted until the connection ends
            serve_one(stream, &site);
        });
    }
    workers.join();
}

/// A connection an event loop hands to a thread (see
/// [`crate::event_loop`]).
#[derive(Debug)]
pub struct HandOver {
    /// The socket (non-blocking until the thread takes it).
    pub stream: TcpStream,
    /// The client.
    pub peer: SocketAddr,
    /// Bytes read and not used yet: the start of the next request.
    pub input: Vec<u8>,
    /// Answers not written yet: written first.
    pub pending: Vec<u8>,
    /// The deadline of the request under way (or, for a connection that
    /// never spoke, of its first request).
    pub deadline: Instant,
    /// Requests answered already.
    pub served: u64,
    /// The connection ends once `pending` is written.
    pub close_after: bool,
}

/// Serves a connection an event loop handed over, as [`handle_connection`]
/// serves any connection, from where the loop stopped.
pub fn serve_handed_over(h: HandOver, site: &Site) {
    let HandOver {
        stream,
        peer,
        input,
        pending,
        deadline,
        served,
        close_after,
    } = h;
    if stream.set_nonblocking(false).is_err()
        || stream.set_write_timeout(Some(site.config.timeout)).is_err()
        || (&stream).write_all(&pending).is_err()
        || close_after
    {
        return;
    }
    // A request under way (bytes came), or a first one still awaited.
    let under_way = !input.is_empty() || served == 0;
    let first_deadline = under_way.then_some(deadline);
    match serve_connection(stream, peer, site, input, first_deadline, served) {
        Ok(()) => log::debug!("{peer}: closed"),
        Err(e) => log::warn!("{peer}: {}", net::describe_io(&e)),
    }
}

/// Serves one admitted connection, with TCP_NODELAY (each answer leaves
/// at once) and the write timeout set, and logs how it ended.
fn serve_one(stream: TcpStream, site: &Site) {
    let Ok(peer) = stream.peer_addr() else {
        return; // gone already
    };
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream.set_write_timeout(Some(site.config.timeout)) {
        log::warn!(
            "{peer}: cannot set a timeout: {}",
            common::error::io_cause(&e)
        );
        return;
    }
    log::debug!("{peer}: connected");
    match handle_connection(stream, peer, site) {
        Ok(()) => log::debug!("{peer}: closed"),
        Err(e) => log::warn!("{peer}: {}", net::describe_io(&e)),
    }
}

/// Starts [`run_server`] on a thread of its own (tests and the bench use
/// this; bind first, so nothing has to wait); stopping or dropping the
/// returned [`Running`] stops it and joins its threads.
///
/// # Errors
/// If the listener has no local address or the thread cannot start.
pub fn start_server(listener: TcpListener, config: &Config) -> io::Result<Running> {
    let config = config.clone();
    Running::spawn(listener, Shutdown::new(), move |listener, shutdown| {
        run_server(listener, &config, &shutdown)
    })
}

/// The reading side of a connection: buffered, each request within its
/// deadline; first the bytes an event loop had already read, if any.
type ConnReader<'a> = BufReader<io::Chain<Cursor<Vec<u8>>, DeadlineReader<&'a TcpStream>>>;

/// The deadline reader under a [`ConnReader`].
fn deadline<'a, 'b>(conn: &'b mut ConnReader<'a>) -> &'b mut DeadlineReader<&'a TcpStream> {
    conn.get_mut().get_mut().1
}

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
/// Each request's head, and then its body, must arrive whole within
/// `config.timeout` ([`DeadlineReader`]), so a client sending a byte now
/// and then (slowloris) still runs out of time; a kept-alive connection
/// nobody uses again for that long is closed quietly.
///
/// # Errors
/// Socket errors, and a client that closes in the middle of a body; the
/// accept loop logs them and they end only this connection.
pub fn handle_connection(stream: TcpStream, peer: SocketAddr, site: &Site) -> io::Result<()> {
    serve_connection(stream, peer, site, Vec::new(), None, 0)
}

/// [`handle_connection`] from a given point: `input` already read,
/// `first_deadline` for the request under way (else a fresh one), and
/// `served` requests answered before (0: a new connection).
fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    site: &Site,
    input: Vec<u8>,
    first_deadline: Option<Instant>,
    mut served: u64,
) -> io::Result<()> {
    let config = &site.config;
    let reader = DeadlineReader::new(&stream, Some(config.timeout))?;
    let mut conn: ConnReader = BufReader::new(Cursor::new(input).chain(reader));
    let mut first_deadline = first_deadline;
    loop {
        // Between requests: the socket's own timeout, and no 408.
        let between = served > 0 && first_deadline.is_none();
        if between && !wait_for_next_request(&mut conn, peer, site)? {
            return Ok(());
        }
        // The whole head must arrive within one timeout.
        match first_deadline.take() {
            Some(d) => deadline(&mut conn).set_deadline(Some(d)),
            None => deadline(&mut conn).start(config.timeout),
        }
        let req = match read_request_head(&mut conn, config.max_head) {
            Ok(Some(req)) => req,
            Ok(None) => return Ok(()),
            Err(HeadError::Io(e)) => return Err(e),
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
                deadline(&mut conn).set_deadline(None);
                net::linger_close(&stream, &mut conn);
                return Ok(());
            }
        };
        served += 1;
        let answer = match answer(&req, &mut conn, &stream, site, peer) {
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
                deadline(&mut conn).set_deadline(None);
                net::linger_close(&stream, &mut conn);
            }
            return Ok(());
        }
    }
}

/// Waits between two requests of a kept-alive connection for the next
/// one's first bytes, for at most the timeout (then the connection ends
/// quietly, without a 408): true once they came, false when the client
/// closed, stayed silent, or the server stops.
fn wait_for_next_request(conn: &mut ConnReader, peer: SocketAddr, site: &Site) -> io::Result<bool> {
    let timeout = site.config.timeout;
    let step = if cfg!(windows) { STOP_CHECK } else { timeout };
    let until = Instant::now() + timeout;
    // The socket's own timeout back (a request's deadline may have
    // shortened it).
    deadline(conn).clear();
    let came = loop {
        let next = until.min(Instant::now() + step);
        deadline(conn).set_deadline(Some(next));
        match conn.fill_buf() {
            Ok(bytes) => break Ok(!bytes.is_empty()),
            Err(e) if is_timeout(&e) => {
                if Instant::now() < until && !site.shutdown.is_stopping() {
                    continue; // one step (Windows) is over, not the timeout
                }
                log::debug!("{peer}: idle keep-alive connection closed");
                break Ok(false);
            }
            Err(e) => break Err(e),
        }
    };
    deadline(conn).clear();
    came
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
    conn: &mut ConnReader,
    stream: &TcpStream,
    site: &Site,
    peer: SocketAddr,
) -> Result<Answer, BodyError> {
    let config = &site.config;
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
    deadline(conn).start(config.timeout);
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
    Ok(static_file(&req.target, &config.dir, &site.cache))
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

/// The file name a request target asks for: percent-decoded, and "/" or
/// "/folder/" meaning the folder's index.html.
fn file_name(target: &str) -> Result<String, crate::path::PathError> {
    let name = decode_path(target)?;
    Ok(if name.is_empty() || name.ends_with('/') {
        format!("{name}index.html")
    } else {
        name
    })
}

/// The kept answer for a request target, if its file is in the cache and
/// has not changed.
pub fn cached_file(target: &str, cache: &FileCache) -> Option<Arc<Entry>> {
    cache.get(&file_name(target).ok()?)
}

/// A file from the served folder (from memory if it was served before and
/// has not changed), or the error page saying why not.
fn static_file(target: &str, dir: &Path, cache: &FileCache) -> Answer {
    let name = match file_name(target) {
        Ok(name) => name,
        Err(e) => return Answer::ok(error_response(e.status(), &e.to_string())),
    };
    if let Some(kept) = cache.get(&name) {
        return Answer::ok(kept.response.clone());
    }
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
    let modified = meta.modified().ok();
    if let Some(modified) = modified {
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
        Ok(_) => {
            let response = response.with_body(bytes);
            // Kept only if the file was not changed while being read.
            if let Some(modified) = modified.filter(|_| response.body.len() as u64 == len) {
                cache.insert(
                    &name,
                    cache::Entry {
                        path,
                        len,
                        modified,
                        response: response.clone(),
                    },
                );
            }
            Answer::ok(response)
        }
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
