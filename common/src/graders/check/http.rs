//! Reading HTTP responses in a check (Tugas 6 and 8): one [`Response`]
//! type, the head split into status line and headers, the body read by
//! its `Content-Length`, as chunks or until the server closes, and the
//! request a check sends.
//!
//! A [`Reader`] says how strict to be:
//!
//! - [`Reader::strict`]: lines end in `\r\n`, the status line must be
//!   `HTTP/1.x NNN reason` and every header line `Name: value` (else a
//!   [`Failure`]), chunked bodies are decoded. For checks that judge a
//!   server by HTTP itself (Tugas 8).
//! - [`Reader::lenient`]: lines may end in a bare `\n`; a head that is not
//!   HTTP, bad header lines and a bare `\n\n` are recorded in the
//!   [`Response`] for the check to judge, and [`Reader::read_or_ask_again`]
//!   accepts an answer that is only a body (Tugas 6, where the course's
//!   own first servers answer so).
//!
//! Every read goes through a [`Conn`], so it has a deadline and a cap; the
//! `what` of each function names the response in failures ("the response
//! to GET /x"), and the body and chunk steps are named after it.

use super::{CheckOptions, Conn, Failure};
use crate::framing::shorten;

/// Largest response head read (bytes).
pub const MAX_HEAD: usize = 64 * 1024;

/// How a response's body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// By `Content-Length`.
    Length(usize),
    /// By `Transfer-Encoding: chunked`.
    Chunked,
    /// By the server closing the connection (or not read yet).
    #[default]
    Close,
}

/// One HTTP response as read by a check.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The first line (`HTTP/1.1 200 OK`); `None` when a lenient read got
    /// no HTTP head at all (only a body).
    pub status_line: Option<String>,
    /// Header lines as (name, value), names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (the whole answer when it had no head).
    pub body: Vec<u8>,
    /// How the body's end was found.
    pub framing: Framing,
    /// Whether the head ended in `\r\n\r\n` (not a bare `\n\n`).
    pub crlf: bool,
    /// Head lines after the status line that are not `Name: value` (no
    /// `:`, or white space in or around the name). Those that still have a
    /// name (`Name : value`) are in [`Response::headers`] too, trimmed: a
    /// strict read fails only on the others.
    pub bad_lines: Vec<String>,
    /// Bytes that came after the body, before the close
    /// ([`Reader::read_close`]).
    pub extra: usize,
    /// The server closed the connection after the response.
    pub closed: bool,
}

impl Response {
    /// Splits a head (without its blank line) into status line and header
    /// lines. With `crlf`, lines end in `\r\n` only; without, in `\n` with
    /// an optional `\r`. Never fails: bad lines go to
    /// [`Response::bad_lines`].
    pub fn from_head(head: &[u8], crlf: bool) -> Response {
        let text = String::from_utf8_lossy(head);
        let lines: Vec<&str> = if crlf {
            text.split("\r\n").collect()
        } else {
            text.split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .collect()
        };
        let mut r = Response {
            status_line: lines.first().map(|l| l.to_string()),
            crlf: true,
            ..Response::default()
        };
        for line in lines.iter().skip(1) {
            match header_of(line) {
                Some((name, value)) => {
                    r.headers.push((name.to_string(), value.to_string()));
                    if !is_clean_header(line) {
                        r.bad_lines.push(line.to_string());
                    }
                }
                None => r.bad_lines.push(line.to_string()),
            }
        }
        r
    }

    /// Splits a whole answer (read to the close) into head and body, with
    /// bare `\n` line ends accepted; an answer that does not start with
    /// `HTTP/` is all body.
    pub fn parse(raw: &[u8]) -> Response {
        if !raw.starts_with(b"HTTP/") {
            return Response {
                body: raw.to_vec(),
                closed: true,
                ..Response::default()
            };
        }
        let crlf = crate::framing::find(raw, b"\r\n\r\n");
        let lf = crate::framing::find(raw, b"\n\n");
        let (head_end, body_start, is_crlf) = match (crlf, lf) {
            (Some(c), Some(l)) if l < c + 2 => (l, l + 2, false),
            (Some(c), _) => (c, c + 4, true),
            (None, Some(l)) => (l, l + 2, false),
            (None, None) => (raw.len(), raw.len(), false),
        };
        let mut r = Response::from_head(&raw[..head_end], false);
        r.body = raw[body_start..].to_vec();
        r.crlf = is_crlf;
        r.closed = true;
        r
    }

    /// Whether the answer started with an HTTP status line (`HTTP/...`).
    pub fn is_http(&self) -> bool {
        self.status_line
            .as_deref()
            .is_some_and(|l| l.starts_with("HTTP/"))
    }

    /// The status line, or `""` when there was none.
    pub fn first_line(&self) -> &str {
        self.status_line.as_deref().unwrap_or("")
    }

    /// The status code: the second word of the status line, if a number.
    pub fn status(&self) -> Option<u16> {
        self.status_line
            .as_deref()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `Transfer-Encoding` says `chunked`.
    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    /// The `Content-Length`, if there is one: every such header must hold
    /// the same number.
    ///
    /// # Errors
    /// The reason, in words: a value that is not a number, or two
    /// different values.
    pub fn content_length(&self) -> Result<Option<usize>, String> {
        let mut found: Option<usize> = None;
        for (_, v) in self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            let n = v
                .parse::<usize>()
                .map_err(|_| format!("Content-Length is not a number: {:?}", shorten(v)))?;
            if found.is_some_and(|f| f != n) {
                return Err("two different Content-Length headers".to_string());
            }
            found = Some(n);
        }
        Ok(found)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The (name, value) of a header line, both trimmed, if it has a name
/// before a `:`.
fn header_of(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim();
    (!name.is_empty()).then(|| (name, value.trim()))
}

/// Whether `line` is `Name: value` as HTTP has it: no white space in or
/// around the name.
fn is_clean_header(line: &str) -> bool {
    line.split_once(':')
        .is_some_and(|(name, _)| !name.is_empty() && !name.contains(char::is_whitespace))
}

/// Whether `line` is `HTTP/1.x NNN reason` (the reason may be empty).
fn is_status_line(line: &str) -> bool {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    version.starts_with("HTTP/1.")
        && !version.contains(char::is_whitespace)
        && code.len() == 3
        && code.bytes().all(|b| b.is_ascii_digit())
}

/// How a check reads responses: how strict, whether chunks are decoded,
/// and the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    /// `\r\n` line ends, an HTTP status line and `Name: value` header
    /// lines are required (a [`Failure`] otherwise).
    pub strict: bool,
    /// `Transfer-Encoding: chunked` bodies are decoded (else read to the
    /// close as they are).
    pub chunked: bool,
    /// Largest head read.
    pub head_cap: usize,
    /// Largest body read.
    pub body_cap: usize,
}

impl Reader {
    /// Strict HTTP with chunks, bodies up to `body_cap` bytes.
    pub const fn strict(body_cap: usize) -> Reader {
        Reader {
            strict: true,
            chunked: true,
            head_cap: MAX_HEAD,
            body_cap,
        }
    }

    /// Lenient about line ends and heads, no chunks, bodies up to
    /// `body_cap` bytes.
    pub const fn lenient(body_cap: usize) -> Reader {
        Reader {
            strict: false,
            chunked: false,
            head_cap: MAX_HEAD,
            body_cap,
        }
    }

    /// Reads the head of the response `what` (up to `\r\n\r\n`) and splits
    /// it; the body is left for [`Reader::read_body`].
    ///
    /// # Errors
    /// A timeout, a close, no `\r\n\r\n` within the head cap; when strict,
    /// a status line that is not `HTTP/1.x NNN ...` or a header line
    /// without `name:`.
    pub fn read_head(&self, conn: &mut Conn, what: &str) -> Result<Response, Failure> {
        let head = self.recv_head(conn, what)?;
        let r = Response::from_head(&head, self.strict);
        if self.strict {
            if !is_status_line(r.first_line()) {
                return Err(conn.fail(format!(
                    "the status line is not HTTP (`HTTP/1.x NNN reason`): {:?}",
                    shorten(r.first_line())
                )));
            }
            if let Some(bad) = r.bad_lines.iter().find(|l| header_of(l).is_none()) {
                return Err(conn.fail(format!(
                    "a header line without `name:` in {what}: {:?}",
                    shorten(bad)
                )));
            }
        }
        Ok(r)
    }

    /// The head's bytes, up to and without `\r\n\r\n`.
    fn recv_head(&self, conn: &mut Conn, what: &str) -> Result<Vec<u8>, Failure> {
        let waiting_for = if self.strict {
            format!("{what} (status line and headers, then \\r\\n\\r\\n)")
        } else {
            what.to_string()
        };
        conn.recv_until(b"\r\n\r\n", self.head_cap, &waiting_for)
    }

    /// Reads the body of `r` (whose head was read): as chunks (if
    /// [`Reader::chunked`]), by its `Content-Length`, or until the server
    /// closes; sets [`Response::framing`] (and [`Response::closed`]).
    ///
    /// # Errors
    /// A bad or too large `Content-Length`, a body shorter than announced,
    /// bad chunks, a timeout, a server that keeps sending.
    pub fn read_body(&self, conn: &mut Conn, r: &mut Response, what: &str) -> Result<(), Failure> {
        if self.chunked && r.is_chunked() {
            r.framing = Framing::Chunked;
            r.body = self.read_chunked(conn, what)?;
        } else if let Some(n) = r.content_length().map_err(|e| conn.fail(e))? {
            if n > self.body_cap {
                return Err(conn.fail(format!(
                    "{what} announces {n} bytes (Content-Length), more than the check reads ({})",
                    self.body_cap
                )));
            }
            r.framing = Framing::Length(n);
            r.body = conn.recv_exact(
                n,
                &format!("the body of {what} ({n} bytes, as its Content-Length says)"),
            )?;
        } else {
            r.framing = Framing::Close;
            r.body = conn.recv_to_end(
                self.body_cap,
                &format!("the body of {what} (no Content-Length: until the server closes)"),
            )?;
            r.closed = true;
        }
        Ok(())
    }

    /// Reads a whole response: [`Reader::read_head`] then
    /// [`Reader::read_body`].
    ///
    /// # Errors
    /// As those two.
    pub fn read(&self, conn: &mut Conn, what: &str) -> Result<Response, Failure> {
        let mut r = self.read_head(conn, what)?;
        self.read_body(conn, &mut r, what)?;
        Ok(r)
    }

    /// Waits for the close after the body of `r` and counts the bytes that
    /// came first in [`Response::extra`].
    ///
    /// # Errors
    /// A timeout (the server keeps the connection open) or more than the
    /// body cap.
    pub fn read_close(&self, conn: &mut Conn, r: &mut Response, what: &str) -> Result<(), Failure> {
        if !r.closed {
            let extra = conn.expect_close(
                self.body_cap,
                &format!("the close after the body of {what}"),
            )?;
            r.extra = extra.len();
            r.closed = true;
        }
        Ok(())
    }

    /// A chunked body (`Transfer-Encoding: chunked`), at most the body cap;
    /// trailers are skipped.
    ///
    /// # Errors
    /// A bad chunk size line, a chunk not ended by `\r\n`, too many bytes,
    /// a timeout.
    pub fn read_chunked(&self, conn: &mut Conn, what: &str) -> Result<Vec<u8>, Failure> {
        let what = format!("a chunk of {what}");
        let mut body = Vec::new();
        loop {
            let line = conn.recv_line(1024, &what)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| conn.fail(format!("bad chunk size line {:?}", shorten(&line))))?;
            if size == 0 {
                while !conn.recv_line(self.head_cap, &what)?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > self.body_cap {
                return Err(conn.fail(format!("more than {} bytes of chunks", self.body_cap)));
            }
            body.extend(conn.recv_exact(size, &what)?);
            if conn.recv_exact(2, &what)? != b"\r\n" {
                return Err(conn.fail("a chunk does not end in \\r\\n"));
            }
        }
    }

    /// Reads the response to `request` (already sent on `conn`), leniently:
    /// an answer that is not HTTP is all body; and when the server closes
    /// before a `\r\n\r\n` head or before `Content-Length` bytes (a bare
    /// `\n\n` head, a body only, a length larger than the body), `request`
    /// is sent again on a new connection and that answer read to the close
    /// and split by [`Response::parse`]. With `wait_close`, also waits for
    /// the close after a body of known length ([`Reader::read_close`]).
    /// Returns the connection the answer came on.
    ///
    /// # Errors
    /// Timeouts, caps and a bad `Content-Length`, as failures naming `what`.
    pub fn read_or_ask_again(
        &self,
        o: &CheckOptions,
        mut conn: Conn,
        request: &[u8],
        wait_close: bool,
        what: &str,
    ) -> Result<(Conn, Response), Failure> {
        let whole = || -> Result<(Conn, Response), Failure> {
            let mut again = o.connect()?;
            again.send(request, "the request")?;
            let raw = again.recv_to_end(self.body_cap, what)?;
            Ok((again, Response::parse(&raw)))
        };
        let lenient = Reader {
            strict: false,
            ..*self
        };
        let head = match lenient.recv_head(&mut conn, what) {
            Ok(head) => head,
            Err(f) if f.reason.contains("closed the connection in the middle") => return whole(),
            Err(f) => return Err(f),
        };
        let mut r = Response::from_head(&head, false);
        if !r.is_http() {
            // Not an HTTP head: whatever it was, it is the body.
            let mut body = head;
            body.extend_from_slice(b"\r\n\r\n");
            body.extend(conn.recv_to_end(self.body_cap, what)?);
            let r = Response {
                body,
                closed: true,
                ..Response::default()
            };
            return Ok((conn, r));
        }
        match lenient.read_body(&mut conn, &mut r, what) {
            Ok(()) => {}
            Err(f) if f.reason.contains("closed the connection after") => return whole(),
            Err(f) => return Err(f),
        }
        if wait_close {
            lenient.read_close(&mut conn, &mut r, what)?;
        }
        Ok((conn, r))
    }
}

/// A request as bytes: the request line (HTTP/1.1), `Host`, a
/// `User-Agent`, `extra` header lines, for a POST its `Content-Length`,
/// `Connection: close`, and the body.
pub fn request(
    o: &CheckOptions,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: progjar-check/1.0\r\n",
        o.target()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Parses one response at the start of `bytes`, strictly, as a server's own
/// tests want it: the head ends in `\r\n\r\n` with every line ended by
/// `\r\n` (no bare `\n`), an `HTTP/1.x NNN reason` status line, clean
/// `Name: value` header lines, and a `Content-Length` that gives the
/// body's length (no body when `head_only`, the answer to a HEAD).
///
/// The same shape as [`crate::http::parse_head`]: `Ok(None)` means "not
/// all here yet"; `Ok(Some((response, used)))` gives the bytes it used, so
/// pipelined responses are split by calling it again on the rest.
///
/// # Errors
/// What is wrong, in words.
pub fn parse_response(bytes: &[u8], head_only: bool) -> Result<Option<(Response, usize)>, String> {
    let Some(end) = crate::framing::find(bytes, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = &bytes[..end];
    let bare_lf = head
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'));
    if bare_lf {
        return Err(format!(
            "a line of the head is not ended by \\r\\n: {:?}",
            String::from_utf8_lossy(head)
        ));
    }
    let mut r = Response::from_head(head, true);
    if !is_status_line(r.first_line()) {
        return Err(format!("bad status line {:?}", r.first_line()));
    }
    if let Some(bad) = r.bad_lines.first() {
        return Err(format!("bad header line {bad:?}"));
    }
    let len = r
        .content_length()?
        .ok_or_else(|| format!("no Content-Length in {:?}", String::from_utf8_lossy(head)))?;
    let len = if head_only { 0 } else { len };
    let start = end + 4;
    if bytes.len() < start + len {
        return Ok(None);
    }
    r.body = bytes[start..start + len].to_vec();
    r.framing = Framing::Length(len);
    Ok(Some((r, start + len)))
}

/// Reads one response with [`parse_response`] through a `BufRead` (a
/// test's connection), leaving what follows it in the reader. `Ok(None)`
/// when the server closed before sending a byte.
///
/// # Errors
/// A read error or a close in the middle of the response, or what
/// [`parse_response`] found wrong.
pub fn read_response<R: std::io::BufRead + ?Sized>(
    r: &mut R,
    head_only: bool,
) -> Result<Option<Response>, String> {
    let mut got: Vec<u8> = Vec::new();
    loop {
        let chunk = r
            .fill_buf()
            .map_err(|e| format!("reading a response: {e}"))?;
        if chunk.is_empty() {
            if got.is_empty() {
                return Ok(None);
            }
            return Err(format!(
                "the server closed in the middle of a response: {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        let old = got.len();
        got.extend_from_slice(chunk);
        let n = chunk.len();
        match parse_response(&got, head_only)? {
            Some((response, used)) => {
                r.consume(used - old);
                return Ok(Some(response));
            }
            None => r.consume(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    const SHORT: Duration = Duration::from_millis(300);
    const PATIENT: Duration = Duration::from_secs(5);

    /// A server on a free port that reads a request head (up to a blank
    /// line) on each connection, answers `answer` and closes.
    fn answering(answer: &'static [u8]) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        thread::spawn(move || {
            for s in l.incoming().flatten() {
                thread::spawn(move || {
                    let mut out = s.try_clone().unwrap();
                    let mut lines = BufReader::new(s);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match lines.read_line(&mut line) {
                            Ok(n) if n > 0 && !line.trim_end().is_empty() => {}
                            Ok(n) if n > 0 => break,
                            _ => return,
                        }
                    }
                    let _ = out.write_all(answer);
                });
            }
        });
        port
    }

    /// Sends a GET to `port` and reads the answer with `reader`.
    fn get(port: u16, reader: Reader, timeout: Duration) -> Result<Response, Failure> {
        let mut conn = Conn::connect("127.0.0.1", port, timeout)?;
        conn.send(b"GET / HTTP/1.0\r\n\r\n", "the request")?;
        reader.read(&mut conn, "the response to GET /")
    }

    #[test]
    fn heads_split_by_either_line_end() {
        let r = Response::from_head(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-A:  b \r\nbad",
            true,
        );
        assert_eq!(r.first_line(), "HTTP/1.1 200 OK");
        assert_eq!(r.status(), Some(200));
        assert_eq!(r.header("content-type"), Some("text/html"));
        assert_eq!(r.header("X-a"), Some("b"));
        assert_eq!(r.bad_lines, ["bad"]);
        // Strict: a bare \n is inside a line; lenient: it ends one.
        let head = b"HTTP/1.0 404 Not Found\nX: y\r\nName With Space: z\r\nno colon";
        let strict = Response::from_head(head, true);
        assert_eq!(strict.first_line(), "HTTP/1.0 404 Not Found\nX: y");
        let lenient = Response::from_head(head, false);
        assert_eq!(
            (lenient.first_line(), lenient.status()),
            ("HTTP/1.0 404 Not Found", Some(404))
        );
        assert_eq!(lenient.header("x"), Some("y"));
        assert_eq!(lenient.header("name with space"), Some("z"));
        assert_eq!(lenient.bad_lines, ["Name With Space: z", "no colon"]);
    }

    #[test]
    fn whole_answers_split_at_the_first_blank_line() {
        let r = Response::parse(b"HTTP/1.0 200 OK\nContent-Length: 2\n\nhi\r\n\r\nmore");
        assert_eq!((r.crlf, r.body.as_slice()), (false, &b"hi\r\n\r\nmore"[..]));
        let r = Response::parse(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nx\n\ny");
        assert_eq!((r.crlf, r.body.as_slice()), (true, &b"x\n\ny"[..]));
        assert_eq!(r.header("a"), Some("b"));
        let r = Response::parse(b"<h1>hi</h1>");
        assert!(!r.is_http() && r.closed);
        assert_eq!((r.status_line, r.body), (None, b"<h1>hi</h1>".to_vec()));
    }

    #[test]
    fn strict_parse_splits_pipelined_responses_and_needs_more_bytes() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let (first, used) = parse_response(wire, false).unwrap().unwrap();
        assert_eq!(
            (first.status(), first.body.as_slice()),
            (Some(200), &b"hi"[..])
        );
        let rest = &wire[used..];
        // The second as a HEAD answer: no body; as a GET: 5 bytes to come.
        let (second, n) = parse_response(rest, true).unwrap().unwrap();
        assert_eq!(
            (second.header("content-length"), n),
            (Some("5"), rest.len())
        );
        assert!(parse_response(rest, false).unwrap().is_none());
        for cut in 0..used {
            assert!(
                parse_response(&wire[..cut], false).unwrap().is_none(),
                "{cut}"
            );
        }
        for bad in [
            &b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 0\r\n\r\n",
        ] {
            assert!(parse_response(bad, false).is_err(), "{bad:?}");
        }
        let mut r = std::io::Cursor::new(wire.to_vec());
        assert_eq!(read_response(&mut r, false).unwrap().unwrap().body, b"hi");
        assert!(read_response(&mut r, false).is_err(), "closed mid-body");
        assert!(read_response(&mut r, false).unwrap().is_none());
    }

    #[test]
    fn content_length_must_be_one_number() {
        let cl = |head: &[u8]| Response::from_head(head, true).content_length();
        assert_eq!(cl(b"HTTP/1.1 200 OK"), Ok(None));
        assert_eq!(cl(b"HTTP/1.1 200 OK\r\ncontent-length: 12"), Ok(Some(12)));
        assert_eq!(
            cl(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3"),
            Ok(Some(3))
        );
        assert_eq!(
            cl(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4"),
            Err("two different Content-Length headers".to_string())
        );
        assert_eq!(
            cl(b"HTTP/1.1 200 OK\r\nContent-Length: -1"),
            Err("Content-Length is not a number: \"-1\"".to_string())
        );
    }

    #[test]
    fn strict_reads_by_length_chunks_or_close() {
        let port = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA");
        let r = get(port, Reader::strict(1024), PATIENT).unwrap();
        assert_eq!((r.status(), r.framing), (Some(200), Framing::Length(5)));
        assert_eq!(r.text(), "hello");

        let port = answering(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
        );
        let r = get(port, Reader::strict(1024), PATIENT).unwrap();
        assert_eq!(
            (r.text(), r.framing),
            ("hello world".to_string(), Framing::Chunked)
        );
        // Without chunk decoding the chunks are the body, read to the close.
        let mut lenient = Reader::strict(1024);
        lenient.chunked = false;
        let r = get(port, lenient, PATIENT).unwrap();
        assert!(r.text().starts_with("5;ext=1\r\nhello\r\n"), "{}", r.text());
        assert!(r.closed && r.framing == Framing::Close);

        let port = answering(b"HTTP/1.0 404 Not Found\r\n\r\nnot here");
        let r = get(port, Reader::strict(1024), PATIENT).unwrap();
        assert_eq!((r.status(), r.text()), (Some(404), "not here".to_string()));
    }

    #[test]
    fn strict_failures_name_the_response() {
        for (answer, reason) in [
            (
                &b"kosong\r\n\r\n"[..],
                "the status line is not HTTP (`HTTP/1.x NNN reason`): \"kosong\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nSloppy : yes\r\nno colon\r\n\r\n",
                "a header line without `name:` in the response to GET /: \"no colon\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",
                "the response to GET / announces 2000 bytes (Content-Length), \
                 more than the check reads (1024)",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                "the server closed the connection after 5 of 10 bytes of the body of the \
                 response to GET / (10 bytes, as its Content-Length says)",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "bad chunk size line \"zz\"",
            ),
        ] {
            let f = get(answering(answer), Reader::strict(1024), PATIENT).unwrap_err();
            assert_eq!(f.reason, reason);
        }
        let mut small = Reader::strict(4);
        small.chunked = false;
        let empty = answering(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(get(empty, small, PATIENT).unwrap().body, b"");
        let endless = answering(b"HTTP/1.1 200 OK\r\n\r\n0123456789");
        let f = get(endless, small, PATIENT).unwrap_err();
        assert!(
            f.reason.starts_with(
                "more than 4 bytes of the body of the response to GET / \
                 (no Content-Length: until the server closes)"
            ),
            "{f}"
        );
    }

    #[test]
    fn a_silent_server_times_out_waiting_for_the_head() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        thread::spawn(move || {
            let mut open = Vec::new();
            for s in l.incoming().flatten() {
                open.push(s);
            }
        });
        let f = get(port, Reader::strict(1024), SHORT).unwrap_err();
        assert_eq!(
            f.reason,
            "timed out after 0.3s waiting for the response to GET / \
             (status line and headers, then \\r\\n\\r\\n)"
        );
        let f = get(port, Reader::lenient(1024), SHORT).unwrap_err();
        assert_eq!(
            f.reason,
            "timed out after 0.3s waiting for the response to GET /"
        );
    }

    /// Reads the answer to a GET with [`Reader::read_or_ask_again`].
    fn ask(port: u16, wait_close: bool) -> Response {
        let o = CheckOptions::local(port, PATIENT);
        let request = b"GET / HTTP/1.0\r\n\r\n";
        let mut conn = o.connect().unwrap();
        conn.send(request, "the request").unwrap();
        let (_, r) = Reader::lenient(1024)
            .read_or_ask_again(&o, conn, request, wait_close, "the response")
            .unwrap();
        r
    }

    #[test]
    fn lenient_reads_take_a_body_only_or_bare_newlines() {
        let r = ask(answering(b"<h1>SERVER HTTP</h1>"), false);
        assert_eq!(
            (r.status_line.as_deref(), r.text().as_str()),
            (None, "<h1>SERVER HTTP</h1>")
        );
        let r = ask(
            answering(b"HTTP/1.0 200 OK\nContent-Length: 2\n\nhi"),
            false,
        );
        assert_eq!(
            (r.status(), r.crlf, r.text().as_str()),
            (Some(200), false, "hi")
        );
        let r = ask(answering(b"<p>a</p>\r\n\r\n<p>b</p>"), false);
        assert_eq!(
            (r.is_http(), r.text().as_str()),
            (false, "<p>a</p>\r\n\r\n<p>b</p>")
        );
        // A Content-Length larger than the body: the whole answer, asked again.
        let r = ask(
            answering(b"HTTP/1.0 200 OK\r\nContent-Length: 25\r\n\r\nonly20bytes........."),
            false,
        );
        assert_eq!((r.status(), r.crlf, r.body.len()), (Some(200), true, 20));
        // wait_close counts what comes after Content-Length bytes.
        let r = ask(
            answering(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nbad line\r\n\r\nhiEXTRA"),
            true,
        );
        assert_eq!((r.text().as_str(), r.extra, r.closed), ("hi", 5, true));
        assert_eq!(r.bad_lines, ["bad line"]);
    }

    #[test]
    fn requests_name_host_length_and_close() {
        let o = CheckOptions::local(8080, SHORT);
        assert_eq!(
            request(&o, "GET", "/a", &[("X-A", "b")], b""),
            b"GET /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: progjar-check/1.0\r\n\
              X-A: b\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            request(&o, "POST", "/f", &[], b"k=v"),
            b"POST /f HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: progjar-check/1.0\r\n\
              Content-Length: 3\r\nConnection: close\r\n\r\nk=v"
        );
    }

    #[test]
    fn read_close_counts_extra_bytes() {
        let port = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi!!!");
        let mut conn = Conn::connect("127.0.0.1", port, PATIENT).unwrap();
        conn.send(b"GET / HTTP/1.0\r\n\r\n", "the request").unwrap();
        let reader = Reader::strict(1024);
        let mut r = reader.read(&mut conn, "the response").unwrap();
        assert!(!r.closed);
        reader
            .read_close(&mut conn, &mut r, "the response")
            .unwrap();
        assert_eq!((r.extra, r.closed), (3, true));
    }
}
