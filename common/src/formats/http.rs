//! A small HTTP/1.x toolkit: read a request head, write a whole response.
//!
//! Tugas 6 (the `GET /` server) and Tugas 8 (the POST server) both speak
//! HTTP/1.0 and HTTP/1.1 over plain `std::net` sockets. What they share is
//! here:
//!
//! - [`parse_head`] parses one request head (request line and header
//!   lines up to the blank line) from the bytes received so far: a pure
//!   function that says "need more bytes" (`Ok(None)`), the head and how
//!   many bytes it used, or why it is no request (400, 431). An event loop
//!   calls it on its own buffer; [`Head`] borrows that buffer and
//!   allocates nothing (a server's hot path).
//! - [`read_head`] and [`read_request_head`] run [`parse_head`] over a
//!   blocking connection's `BufRead`, in any segmentation; [`Request`] is
//!   the owned form of a [`Head`].
//! - [`Response`] holds a status, headers and a body, and
//!   [`Response::write_to`] sends it in one write with `Date`, `Server`,
//!   `Content-Length` and `Connection` filled in.
//! - [`reason_phrase`] and [`http_date`] (IMF-fixdate, RFC 9110 5.6.7).
//!
//! # Wire format (RFC 9112, what is accepted)
//!
//! ```text
//! GET /index.html HTTP/1.1\r\n        request line: METHOD SP TARGET SP VERSION
//! Host: 127.0.0.1:10001\r\n           header lines: name ":" OWS value OWS
//! Connection: keep-alive\r\n
//! \r\n                                a blank line ends the head
//! ```
//!
//! Lines may end in `\r\n` or a bare `\n` (telnet and `nc` users type the
//! latter); empty lines before the request line are skipped, as RFC 9112
//! 2.2 asks. Rejected with 400: a request line that is not exactly three
//! parts separated by single spaces, a method that is not a token, a target
//! with spaces or control bytes, a version other than `HTTP/1.x`, a header
//! line without `:`, a space before the `:`, a folded (continuation) line,
//! control bytes in a value. A head longer than the cap is 431; a client
//! that does not send a whole head in time is 408 (the server's deadline).
//!
//! Header bytes are taken as UTF-8 when they are valid UTF-8, otherwise as
//! ISO-8859-1 (one char per byte, HTTP's historical charset), so nothing a
//! client sent is lost or replaced.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::framing::{self, FrameError};

/// Largest request head accepted, in bytes (request line plus header lines,
/// without the blank line). A larger head is answered with 431.
pub const MAX_HEAD: usize = 8 * 1024;

/// The `Server` header every response carries.
pub const SERVER_NAME: &str = "progjar-rust";

/// One parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method as sent, case-sensitive (`GET`, `HEAD`, `POST`, ...).
    pub method: String,
    /// The request target as sent (`/`, `/sending.html?x=1`, ...).
    pub target: String,
    /// `"HTTP/1.0"` or `"HTTP/1.1"` (a later `HTTP/1.x` is read as 1.1).
    pub version: String,
    /// Header fields in the order received, names as sent, values with the
    /// surrounding spaces removed.
    pub headers: Vec<(String, String)>,
    /// Every header line exactly as received (without its line ending), in
    /// order; the request line is not included.
    pub head_lines: Vec<String>,
}

impl Request {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection stays open after the response: HTTP/1.1
    /// unless the client sent `Connection: close`; HTTP/1.0 only if it
    /// sent `Connection: keep-alive` (what `ab -k` sends).
    pub fn keep_alive(&self) -> bool {
        keep_alive_of(
            &self.version,
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
                .map(|(_, v)| v.as_bytes()),
        )
    }

    /// The target's path, without a `?query` or `#fragment`.
    pub fn path(&self) -> &str {
        let end = self.target.find(['?', '#']).unwrap_or(self.target.len());
        &self.target[..end]
    }

    /// The body length the client announced: `Ok(None)` without a
    /// `Content-Length` header.
    ///
    /// # Errors
    /// [`HeadError::Malformed`] (400) when the value is not a decimal
    /// number, or when several `Content-Length` headers disagree.
    pub fn content_length(&self) -> Result<Option<u64>, HeadError> {
        content_length_of(
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.as_bytes()),
        )
    }
}

/// Why a request head could not be read.
#[derive(Debug)]
pub enum HeadError {
    /// The head is larger than the cap: answer 431.
    TooLarge,
    /// The bytes are not an HTTP/1.x request head, or the client closed in
    /// the middle of one: answer 400. The text says what was wrong.
    Malformed(String),
    /// The client sent nothing (or not enough) within the read timeout:
    /// answer 408 and close.
    Timeout,
    /// The socket failed: close without an answer.
    Io(io::Error),
}

impl HeadError {
    /// The status to answer with, or `None` when the connection is unusable.
    pub fn status(&self) -> Option<u16> {
        match self {
            HeadError::TooLarge => Some(431),
            HeadError::Malformed(_) => Some(400),
            HeadError::Timeout => Some(408),
            HeadError::Io(_) => None,
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::TooLarge => f.write_str("request head larger than the limit"),
            HeadError::Malformed(why) => write!(f, "bad request: {why}"),
            HeadError::Timeout => f.write_str("timed out waiting for the request"),
            HeadError::Io(e) => f.write_str(&crate::error::io_cause(e)),
        }
    }
}

impl std::error::Error for HeadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HeadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FrameError> for HeadError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::TooLarge { .. } => HeadError::TooLarge,
            FrameError::Io(e) if framing::is_timeout(&e) => HeadError::Timeout,
            FrameError::Io(e) => HeadError::Io(e),
            FrameError::Truncated { .. } => HeadError::Malformed(
                "connection closed before the blank line that ends the request head".into(),
            ),
            FrameError::Malformed(why) => HeadError::Malformed(why),
        }
    }
}

/// Parses the request head at the start of `buf`, if it is all there.
///
/// A pure function over the bytes received so far, in the shape of
/// mini-redis's `Frame::check`: the caller keeps its own buffer, appends
/// what each read brings, and calls this again.
///
/// - `Ok(Some((head, used)))`: a whole head; `used` bytes of `buf` (blank
///   lines before the request line, the head, and the blank line that ends
///   it) belong to it. A body or a pipelined next request starts at
///   `buf[used..]`.
/// - `Ok(None)`: not all here yet; read more and call again. Not an
///   error: TCP may cut a request anywhere. At the end of the stream,
///   [`end_of_input`] says what the bytes left over mean.
///
/// Lines end in `\r\n` or a bare `\n`; blank lines before the request line
/// are skipped (RFC 9112 2.2) but count towards `max`. The bytes are
/// checked only once the blank line that ends the head has arrived.
///
/// # Errors
/// [`HeadError::TooLarge`] as soon as the head (request line and header
/// lines with their line ends, without the last line end and the blank
/// line) is longer than `max`, even before its end has come;
/// [`HeadError::Malformed`] for a whole head that is not HTTP/1.x (the
/// text says why).
pub fn parse_head(buf: &[u8], max: usize) -> Result<Option<(Head<'_>, usize)>, HeadError> {
    // Blank lines before the request line.
    let mut start = 0;
    loop {
        match &buf[start..] {
            [b'\n', ..] => start += 1,
            [b'\r', b'\n', ..] => start += 2,
            _ => break,
        }
        if start > max {
            return Err(HeadError::TooLarge);
        }
    }
    // Line by line: `line` is where the current line starts, `content_end`
    // where the last complete line's content (without its line end) ends.
    let mut line = start;
    let mut content_end = start;
    while let Some(off) = buf[line..].iter().position(|&b| b == b'\n') {
        let nl = line + off;
        let content = strip_cr(&buf[line..nl]);
        if content.is_empty() {
            // The blank line: the head is complete.
            let head = Head::parse(&buf[start..content_end])?;
            return Ok(Some((head, nl + 1)));
        }
        content_end = line + content.len();
        if content_end - start > max {
            return Err(HeadError::TooLarge);
        }
        line = nl + 1;
    }
    // A line still coming; it may end in the "\r" of its "\r\n".
    let partial = strip_cr(&buf[line..]);
    if line + partial.len() - start > max {
        return Err(HeadError::TooLarge);
    }
    Ok(None)
}

/// What the bytes left over mean when the client closes: `Ok` when they
/// are only blank lines (or nothing), a clean end between requests;
/// otherwise the client closed in the middle of a head, a
/// [`HeadError::Malformed`] (400).
///
/// # Errors
/// As said, for anything but blank lines.
pub fn end_of_input(rest: &[u8]) -> Result<(), HeadError> {
    if rest.iter().all(|&b| b == b'\r' || b == b'\n') {
        Ok(())
    } else {
        Err(bad(
            "connection closed before the blank line that ends the request head",
        ))
    }
}

/// Reads one request head through a blocking connection's `BufRead` with
/// [`parse_head`], and returns what `with` makes of it.
///
/// The blocking counterpart of a caller of [`parse_head`]: the head is
/// parsed straight from the reader's buffer when it came whole in one read
/// (nearly always), else from `partial`, where the pieces are gathered
/// (keep one per connection to reuse its memory). Only the head's bytes
/// are consumed: a body or a pipelined request stays in the reader. A
/// piece without a line end is not parsed again, so a client sending a
/// byte at a time costs no rescan per byte.
///
/// Returns `Ok(None)` when the client closed before sending a request (or
/// sent only blank lines): the normal end of a keep-alive connection.
///
/// # Errors
/// As [`parse_head`]; [`HeadError::Malformed`] when the client closes in
/// the middle of a head; [`HeadError::Timeout`] when a read times out (the
/// socket's read timeout, or a [`crate::framing::DeadlineReader`]'s
/// deadline); [`HeadError::Io`] for other socket errors.
pub fn read_head<R, T>(
    r: &mut R,
    max: usize,
    partial: &mut Vec<u8>,
    with: impl FnOnce(Head<'_>) -> T,
) -> Result<Option<T>, HeadError>
where
    R: BufRead + ?Sized,
{
    partial.clear();
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if framing::is_timeout(&e) => return Err(HeadError::Timeout),
            Err(e) => return Err(HeadError::Io(e)),
        };
        if chunk.is_empty() {
            return end_of_input(partial).map(|()| None);
        }
        let n = chunk.len();
        if partial.is_empty() {
            // Parsed where it lies, without a copy.
            if let Some((head, used)) = parse_head(chunk, max)? {
                let out = with(head);
                r.consume(used);
                return Ok(Some(out));
            }
            partial.extend_from_slice(chunk);
            r.consume(n);
            continue;
        }
        let old = partial.len();
        let may_end = chunk.contains(&b'\n');
        partial.extend_from_slice(chunk);
        if !may_end && partial.len() <= max {
            // No line ended and the cap is not reached: nothing new to find.
            r.consume(n);
            continue;
        }
        match parse_head(partial, max)? {
            Some((head, used)) => {
                // The end is in this chunk (it was not in `partial` before).
                r.consume(used - old);
                return Ok(Some(with(head)));
            }
            None => r.consume(n),
        }
    }
}

/// Reads and parses one request head into an owned [`Request`] (see
/// [`read_head`], which this calls).
///
/// # Errors
/// As [`read_head`].
pub fn read_request_head<R: BufRead + ?Sized>(
    r: &mut R,
    max: usize,
) -> Result<Option<Request>, HeadError> {
    read_head(r, max, &mut Vec::new(), |head| head.to_request())
}

/// A request head parsed in place by [`parse_head`]: it borrows the bytes
/// it was parsed from and allocates nothing. Every line was checked;
/// [`Head::to_request`] gives an owned [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    /// The method as sent.
    pub method: &'a str,
    /// The request target as sent.
    pub target: &'a str,
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub version: &'static str,
    /// The header lines, after the request line's line end.
    fields: &'a [u8],
}

impl<'a> Head<'a> {
    /// Checks a whole head: the request line, then header lines (no blank
    /// line before it, none inside, no final line end).
    fn parse(head: &'a [u8]) -> Result<Head<'a>, HeadError> {
        let (request_line, fields) = match head.iter().position(|&b| b == b'\n') {
            Some(i) => (strip_cr(&head[..i]), &head[i + 1..]),
            None => (head, &head[head.len()..]),
        };
        let (method, target, version) = parse_request_line(request_line)?;
        let view = Head {
            method,
            target,
            version,
            fields,
        };
        for line in view.header_lines() {
            parse_header_line(line)?;
        }
        Ok(view)
    }

    /// Every header line as received (without its line end), in order.
    pub fn header_lines(&self) -> impl Iterator<Item = &'a [u8]> {
        let fields = self.fields;
        (!fields.is_empty())
            .then(|| fields.split(|&b| b == b'\n').map(strip_cr))
            .into_iter()
            .flatten()
    }

    /// Every header as (name, value), values with surrounding spaces
    /// removed, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.fields_named(None).map(|(n, v)| (ascii(n), v))
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.values(name).next()
    }

    /// The values of every header called `name` (case-insensitive).
    pub fn values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.fields_named(Some(name.as_bytes())).map(|(_, v)| v)
    }

    /// (name, value) pairs of the lines [`Head::parse`] checked (so not
    /// checked again): all of them, or those called `only`.
    fn fields_named<'n>(
        &self,
        only: Option<&'n [u8]>,
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'n
    where
        'a: 'n,
    {
        self.header_lines().filter_map(move |line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = &line[..colon];
            match only {
                Some(want) if !name.eq_ignore_ascii_case(want) => None,
                _ => Some((name, trim_ows(&line[colon + 1..]))),
            }
        })
    }

    /// As [`Request::keep_alive`].
    pub fn keep_alive(&self) -> bool {
        keep_alive_of(self.version, self.values("connection"))
    }

    /// As [`Request::content_length`].
    ///
    /// # Errors
    /// As [`Request::content_length`].
    pub fn content_length(&self) -> Result<Option<u64>, HeadError> {
        content_length_of(self.values("content-length"))
    }

    /// The same request with owned strings.
    pub fn to_request(&self) -> Request {
        let lines = self.header_lines().count();
        let mut headers = Vec::with_capacity(lines);
        let mut head_lines = Vec::with_capacity(lines);
        for (line, (name, value)) in self.header_lines().zip(self.fields_named(None)) {
            headers.push((ascii(name).to_string(), text(value)));
            head_lines.push(text(line));
        }
        Request {
            method: self.method.to_string(),
            target: self.target.to_string(),
            version: self.version.to_string(),
            headers,
            head_lines,
        }
    }
}

/// A line without the `\r` of its `\r\n`.
fn strip_cr(line: &[u8]) -> &[u8] {
    match line {
        [rest @ .., b'\r'] => rest,
        _ => line,
    }
}

/// Whether a connection stays open, from the version and the values of
/// the `Connection` headers.
fn keep_alive_of<'v>(version: &str, connection: impl Iterator<Item = &'v [u8]>) -> bool {
    let (mut close, mut keep) = (false, false);
    for token in connection.flat_map(|v| v.split(|&b| b == b',')) {
        let token = trim_ows(token);
        close |= token.eq_ignore_ascii_case(b"close");
        keep |= token.eq_ignore_ascii_case(b"keep-alive");
    }
    if version == "HTTP/1.0" {
        keep && !close
    } else {
        !close
    }
}

/// The body length from the values of the `Content-Length` headers.
fn content_length_of<'v>(values: impl Iterator<Item = &'v [u8]>) -> Result<Option<u64>, HeadError> {
    let mut found: Option<u64> = None;
    for value in values {
        let shown = || String::from_utf8_lossy(value).into_owned();
        // "5, 5" is allowed by RFC 9110 8.6 when all parts agree.
        for part in value.split(|&b| b == b',') {
            let part = trim_ows(part);
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(HeadError::Malformed(format!(
                    "bad Content-Length {:?}: expected a number of bytes",
                    shown()
                )));
            }
            let n = part
                .iter()
                .try_fold(0u64, |n, &d| {
                    n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                })
                .ok_or_else(|| {
                    HeadError::Malformed(format!("Content-Length {} is too large", shown()))
                })?;
            match found {
                Some(m) if m != n => {
                    return Err(HeadError::Malformed(format!(
                        "conflicting Content-Length values {m} and {n}"
                    )))
                }
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// `METHOD SP TARGET SP HTTP/1.x`, strictly.
fn parse_request_line(line: &[u8]) -> Result<(&str, &str, &'static str), HeadError> {
    let shown = || String::from_utf8_lossy(line).into_owned();
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!(
            "request line {:?} is not METHOD SP TARGET SP HTTP-VERSION",
            shown()
        )));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad(format!("bad method in request line {:?}", shown())));
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(bad(format!("bad target in request line {:?}", shown())));
    }
    let version = match version {
        b"HTTP/1.0" => "HTTP/1.0",
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => "HTTP/1.1",
        _ => {
            return Err(bad(format!(
                "unsupported version in request line {:?}: expected HTTP/1.0 or HTTP/1.1",
                shown()
            )))
        }
    };
    // Both are ASCII, checked above.
    Ok((ascii(method), ascii(target), version))
}

/// `name ":" OWS value OWS`; the name is a token (ASCII).
fn parse_header_line(line: &[u8]) -> Result<(&str, &[u8]), HeadError> {
    let shown = || String::from_utf8_lossy(line).into_owned();
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(bad(format!(
            "folded header line {:?} (obsolete line folding is not accepted)",
            shown()
        )));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| bad(format!("header line {:?} has no ':'", shown())))?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(bad(format!("bad header name in {:?}", shown())));
    }
    let value = trim_ows(&line[colon + 1..]);
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(bad(format!("control byte in header {:?}", shown())));
    }
    Ok((ascii(name), value))
}

/// Bytes already checked to be ASCII, as text.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// RFC 9110 5.6.2 token characters, as a table: checked for every byte
/// of every method and header name.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Bytes as text: UTF-8 if valid, else ISO-8859-1 (never lossy).
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn bad(why: impl Into<String>) -> HeadError {
    HeadError::Malformed(why.into())
}

/// A response to write: status, extra headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Headers besides `Date`, `Server`, `Content-Length` and `Connection`
    /// (those four are written by [`Response::write_to`]).
    pub headers: Vec<(String, String)>,
    /// The body (not sent for HEAD, but still counted in `Content-Length`).
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// An HTML response (`Content-Type: text/html; charset=utf-8`).
    pub fn html(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "text/html; charset=utf-8")
            .with_body(body)
    }

    /// A small HTML error page for a status: `<h1>404 Not Found</h1>`.
    pub fn error_page(status: u16) -> Self {
        Response::html(
            status,
            format!("<h1>{status} {}</h1>\n", reason_phrase(status)),
        )
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Appends the whole response to `out`: status line, `Date`, `Server`,
    /// `Content-Length`, `Connection: keep-alive` or `close`, the headers,
    /// a blank line, and the body unless `head_only` (a HEAD request).
    ///
    /// `version` is the status line's version, normally the request's.
    /// Servers on a hot path keep one `out` buffer per connection and
    /// clear it between responses.
    pub fn encode_into(&self, out: &mut Vec<u8>, version: &str, head_only: bool, keep_alive: bool) {
        out.reserve(160 + self.body.len());
        self.encode_head_into(out, version, self.body.len() as u64, keep_alive);
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }

    /// Appends only the head (status line, headers, blank line) to `out`,
    /// announcing `content_length` body bytes. For a body the caller sends
    /// itself, such as a large file streamed from disk; `self.body` is
    /// ignored.
    pub fn encode_head_into(
        &self,
        out: &mut Vec<u8>,
        version: &str,
        content_length: u64,
        keep_alive: bool,
    ) {
        out.extend_from_slice(version.as_bytes());
        out.push(b' ');
        push_u64(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        with_current_date(|d| out.extend_from_slice(d.as_bytes()));
        out.extend_from_slice(b"\r\nServer: ");
        out.extend_from_slice(SERVER_NAME.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        push_u64(out, content_length);
        out.extend_from_slice(if keep_alive {
            b"\r\nConnection: keep-alive\r\n"
        } else {
            b"\r\nConnection: close\r\n"
        });
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Writes the whole response in one `write_all` (see
    /// [`Response::encode_into`] for what is written) and flushes.
    ///
    /// # Errors
    /// The socket's write error.
    pub fn write_to<W: Write + ?Sized>(
        &self,
        w: &mut W,
        version: &str,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<()> {
        let mut out = Vec::new();
        self.encode_into(&mut out, version, head_only, keep_alive);
        w.write_all(&out)?;
        w.flush()
    }

    /// Writes only the head (see [`Response::encode_head_into`]) announcing
    /// `content_length` bytes, which the caller then writes itself.
    ///
    /// # Errors
    /// The socket's write error.
    pub fn write_head_to<W: Write + ?Sized>(
        &self,
        w: &mut W,
        version: &str,
        content_length: u64,
        keep_alive: bool,
    ) -> io::Result<()> {
        let mut out = Vec::with_capacity(256);
        self.encode_head_into(&mut out, version, content_length, keep_alive);
        w.write_all(&out)
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The standard reason phrase of a status code ("OK", "Not Found", ...),
/// or `""` for a code this module does not know.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// A time as an IMF-fixdate, the one format HTTP dates are sent in:
/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 5.6.7). Times before 1970
/// are written as 1970-01-01.
pub fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31) in the proleptic
/// Gregorian calendar. Counts in 400-year eras (146 097 days each) of
/// years that start on 1 March, so the leap day is the last day of a year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of March-based year
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    (year, month, day)
}

thread_local! {
    /// The `Date` value of the current second, so a busy server formats
    /// it once a second per thread rather than once per response.
    static DATE_CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with the current time as an IMF-fixdate (cached per second).
fn with_current_date<T>(f: impl FnOnce(&str) -> T) -> T {
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DATE_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != secs {
            *cache = (secs, http_date(now));
        }
        f(&cache.1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor, Read};
    use std::time::Duration;

    /// A reader that hands out one byte per read: the worst segmentation.
    struct Trickle(Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    fn read_all(bytes: &[u8]) -> Vec<Result<Request, String>> {
        let mut r = BufReader::with_capacity(1, Trickle(Cursor::new(bytes.to_vec())));
        let mut out = Vec::new();
        loop {
            match read_request_head(&mut r, MAX_HEAD) {
                Ok(Some(req)) => out.push(Ok(req)),
                Ok(None) => return out,
                Err(e) => {
                    out.push(Err(format!("{:?} {e}", e.status())));
                    return out;
                }
            }
        }
    }

    fn one(bytes: &[u8]) -> Result<Request, HeadError> {
        let mut r = Cursor::new(bytes.to_vec());
        read_request_head(&mut r, MAX_HEAD).map(|o| o.expect("a request"))
    }

    #[test]
    fn request_line_and_headers() {
        let req =
            one(b"GET /a?b=1 HTTP/1.1\r\nHost: x:1\r\nX-Empty:\r\nAccept:  */*  \r\n\r\n").unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/a?b=1");
        assert_eq!(req.path(), "/a");
        assert_eq!(req.version, "HTTP/1.1");
        assert_eq!(
            req.headers,
            vec![
                ("Host".to_string(), "x:1".to_string()),
                ("X-Empty".to_string(), String::new()),
                ("Accept".to_string(), "*/*".to_string()),
            ]
        );
        assert_eq!(req.head_lines, ["Host: x:1", "X-Empty:", "Accept:  */*  "]);
        assert_eq!(req.header("host"), Some("x:1"));
        assert_eq!(req.header("HOST"), Some("x:1"));
        assert_eq!(req.header("cookie"), None);
    }

    #[test]
    fn both_line_endings_and_one_byte_segments() {
        let got = read_all(
            b"GET / HTTP/1.0\n\nHEAD /x HTTP/1.1\r\nA: 1\r\n\r\n\r\nGET /y HTTP/1.0\r\nB: 2\n\n",
        );
        let got: Vec<_> = got
            .into_iter()
            .map(|r| {
                let r = r.unwrap();
                (r.method, r.target, r.head_lines)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("GET".into(), "/".into(), vec![]),
                ("HEAD".into(), "/x".into(), vec!["A: 1".to_string()]),
                ("GET".into(), "/y".into(), vec!["B: 2".to_string()]),
            ]
        );
    }

    #[test]
    fn head_without_allocation_matches_the_owned_request() {
        let wire = b"\r\nGET /x?y HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n\
                     HEAD / HTTP/1.0\nConnection: keep-alive\nContent-Length: 3\n\r\nabc";
        // Pipelined: the first head uses only its own bytes.
        let (v, used) = parse_head(wire, MAX_HEAD).unwrap().unwrap();
        assert_eq!(&wire[used..used + 4], b"HEAD");
        assert_eq!((v.method, v.target, v.version), ("GET", "/x?y", "HTTP/1.1"));
        assert_eq!(v.header("HOST"), Some(&b"h"[..]));
        assert!(!v.keep_alive());
        assert_eq!(v.content_length().unwrap(), None);
        let owned = v.to_request();
        assert_eq!(owned, one(wire).unwrap());
        assert_eq!(
            owned.head_lines,
            ["Host: h", "Connection: keep-alive, Close"]
        );

        let rest = &wire[used..];
        let (v, used) = parse_head(rest, MAX_HEAD).unwrap().unwrap();
        assert_eq!((v.method, v.version), ("HEAD", "HTTP/1.0"));
        assert!(v.keep_alive());
        assert_eq!(v.content_length().unwrap(), Some(3));
        assert_eq!(v.header_lines().count(), 2);
        assert_eq!(
            v.headers().collect::<Vec<_>>(),
            [("Connection", &b"keep-alive"[..]), ("Content-Length", b"3")]
        );
        assert_eq!(&rest[used..], b"abc", "the body is left");
    }

    /// The requests of the split-point tests: both line ends, blank lines
    /// first, no headers, a body after.
    const WHOLE: [&[u8]; 4] = [
        b"GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
        b"GET / HTTP/1.0\n\n",
        b"\r\n\nHEAD / HTTP/1.0\r\nA: 1\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
    ];

    #[test]
    fn every_split_point_needs_more_bytes_until_the_blank_line() {
        for wire in WHOLE {
            let (whole, used) = parse_head(wire, MAX_HEAD).unwrap().unwrap();
            let whole = whole.to_request();
            for cut in 0..used {
                match parse_head(&wire[..cut], MAX_HEAD) {
                    Ok(None) => {}
                    other => panic!("{wire:?} cut at {cut}: {other:?}"),
                }
            }
            // From the blank line's end on, the same head and length.
            for cut in used..=wire.len() {
                let (head, n) = parse_head(&wire[..cut], MAX_HEAD).unwrap().unwrap();
                assert_eq!((head.to_request(), n), (whole.clone(), used), "{wire:?}");
            }
        }
    }

    #[test]
    fn every_split_into_two_reads_gives_the_same_heads_through_a_reader() {
        // Two requests pipelined, cut into two reads at every point, read
        // through read_head: the same two heads, the body left in place.
        let wire = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.0\nB: 2\n\nrest";
        for cut in 0..=wire.len() {
            let (a, b) = wire.split_at(cut);
            let mut r = BufReader::with_capacity(
                64,
                Cursor::new(a.to_vec()).chain(Cursor::new(b.to_vec())),
            );
            let mut partial = Vec::new();
            let first = read_head(&mut r, MAX_HEAD, &mut partial, |h| h.to_request());
            let second = read_head(&mut r, MAX_HEAD, &mut partial, |h| h.to_request());
            let (first, second) = (first.unwrap().unwrap(), second.unwrap().unwrap());
            assert_eq!(
                (first.target.as_str(), second.target.as_str()),
                ("/1", "/2"),
                "cut {cut}"
            );
            assert_eq!(second.head_lines, ["B: 2"]);
            let mut rest = String::new();
            r.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "rest", "cut {cut}");
        }
    }

    #[test]
    fn bad_lines_are_found_once_the_head_is_whole() {
        let wire = b"GET / HTTP/1.0\r\nno colon\r\n\r\n";
        let end = wire.len();
        for cut in 0..end {
            assert!(
                matches!(parse_head(&wire[..cut], MAX_HEAD), Ok(None)),
                "cut {cut}"
            );
        }
        match parse_head(wire, MAX_HEAD) {
            Err(HeadError::Malformed(why)) => assert!(why.contains("no ':'"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_cap_is_found_before_the_end_arrives() {
        // A request line longer than the cap, no line end yet.
        let mut line = b"GET /".to_vec();
        line.resize(100, b'a');
        assert!(matches!(parse_head(&line[..98], 98), Ok(None)));
        assert!(matches!(
            parse_head(&line[..99], 98),
            Err(HeadError::TooLarge)
        ));
        // The "\r" of a "\r\n" still to come is not counted.
        let mut exact = line[..98].to_vec();
        exact.push(b'\r');
        assert!(matches!(parse_head(&exact, 98), Ok(None)));
        // Complete lines past the cap, no blank line yet.
        let lines = b"GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\n";
        assert!(matches!(parse_head(lines, 20), Err(HeadError::TooLarge)));
        assert!(matches!(parse_head(lines, 30), Ok(None)));
        // Blank lines alone count.
        assert!(matches!(
            parse_head(&b"\r\n".repeat(30), 50),
            Err(HeadError::TooLarge)
        ));
        assert!(matches!(parse_head(&b"\r\n".repeat(25), 50), Ok(None)));
    }

    #[test]
    fn what_a_close_leaves_behind() {
        assert!(end_of_input(b"").is_ok());
        assert!(end_of_input(b"\r\n\n\r").is_ok());
        let e = end_of_input(b"GET / HTTP/1.0\r\n").unwrap_err();
        assert_eq!(e.status(), Some(400));
        // Through a reader: blank lines then a close is a clean end.
        let mut r = Cursor::new(b"\r\n\r\n".to_vec());
        assert!(read_request_head(&mut r, MAX_HEAD).unwrap().is_none());
    }

    #[test]
    fn token_table_matches_the_rfc_list() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), want, "byte {b}");
        }
    }

    #[test]
    fn body_stays_in_the_reader() {
        let mut r = Cursor::new(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".to_vec());
        let req = read_request_head(&mut r, MAX_HEAD).unwrap().unwrap();
        assert_eq!(req.content_length().unwrap(), Some(5));
        let mut body = String::new();
        r.read_to_string(&mut body).unwrap();
        assert_eq!(body, "hello");
    }

    #[test]
    fn garbage_is_400() {
        for head in [
            &b"GET / HTTP/1.0 extra\r\n\r\n"[..],
            b"GET  / HTTP/1.0\r\n\r\n",
            b"GET /\r\n\r\n",
            b"GET\r\n\r\n",
            b"G(T / HTTP/1.0\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / http/1.0\r\n\r\n",
            b"GET /\x01 HTTP/1.0\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost x\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost : x\r\n\r\n",
            b"GET / HTTP/1.0\r\n: x\r\n\r\n",
            b"GET / HTTP/1.0\r\nA: 1\r\n folded\r\n\r\n",
            b"GET / HTTP/1.0\r\nA: 1\r\n\tfolded\r\n\r\n",
            b"GET / HTTP/1.0\r\nA: x\x00y\r\n\r\n",
            b"GET / HTTP/1.0\r\nA: x\ry\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
            b"GET / HTTP/1.0\r\n", // closed before the blank line
        ] {
            match one(head) {
                Err(e) => assert_eq!(e.status(), Some(400), "{head:?}: {e}"),
                Ok(r) => panic!("{head:?} accepted as {r:?}"),
            }
        }
    }

    #[test]
    fn size_cap_is_431() {
        let mut big = b"GET / HTTP/1.0\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        big.extend_from_slice(b"\r\n\r\n");
        let err = one(&big).unwrap_err();
        assert_eq!(err.status(), Some(431));
        // Without an end at all, reading stops at the cap.
        let endless = vec![b'a'; 100_000];
        let mut r = Cursor::new(endless);
        let err = read_request_head(&mut r, 100).unwrap_err();
        assert!(matches!(err, HeadError::TooLarge));
        assert!(r.position() < 1000, "read {} bytes", r.position());
        // Blank lines alone also count.
        let blanks = b"\r\n\r\n".repeat(100);
        let mut r = Cursor::new(blanks);
        assert!(matches!(
            read_request_head(&mut r, 50),
            Err(HeadError::TooLarge)
        ));
        // A head of exactly the cap is fine.
        let mut exact = b"GET / HTTP/1.0\r\nX: ".to_vec();
        exact.resize(MAX_HEAD, b'b');
        exact.extend_from_slice(b"\r\n\r\n");
        assert!(one(&exact).is_ok());
    }

    #[test]
    fn clean_close_timeout_and_io() {
        let mut r = Cursor::new(Vec::new());
        assert!(read_request_head(&mut r, MAX_HEAD).unwrap().is_none());
        let e: HeadError = FrameError::Io(io::ErrorKind::WouldBlock.into()).into();
        assert_eq!(e.status(), Some(408));
        let e: HeadError = FrameError::Io(io::ErrorKind::ConnectionReset.into()).into();
        assert_eq!(e.status(), None);
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |h: &str| one(h.as_bytes()).unwrap().keep_alive();
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(ka("GET / HTTP/1.1\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n"));
        assert!(!ka(
            "GET / HTTP/1.1\r\nconnection: x\r\nConnection: close\r\n\r\n"
        ));
    }

    #[test]
    fn latin1_header_bytes_are_kept() {
        let req = one(b"GET / HTTP/1.1\r\nX-Name: caf\xe9\r\n\r\n").unwrap();
        assert_eq!(req.header("x-name"), Some("caf\u{e9}"));
        let req = one("GET / HTTP/1.1\r\nX-Name: café\r\n\r\n".as_bytes()).unwrap();
        assert_eq!(req.header("x-name"), Some("café"));
    }

    #[test]
    fn content_length_checks() {
        let cl = |h: &str| one(h.as_bytes()).unwrap().content_length();
        assert_eq!(cl("POST / HTTP/1.1\r\n\r\n").unwrap(), None);
        assert_eq!(
            cl("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap(),
            Some(0)
        );
        assert_eq!(
            cl("POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n").unwrap(),
            Some(7)
        );
        for bad in ["-1", "1x", "", "1, 2", "99999999999999999999999"] {
            let h = format!("POST / HTTP/1.1\r\nContent-Length: {bad}\r\n\r\n");
            assert_eq!(cl(&h).unwrap_err().status(), Some(400), "{bad}");
        }
        let h = "POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n";
        assert_eq!(cl(h).unwrap_err().status(), Some(400));
    }

    #[test]
    fn response_bytes() {
        let mut out = Vec::new();
        Response::html(200, "<h1>SERVER HTTP</h1>")
            .write_to(&mut out, "HTTP/1.0", false, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines[0], "HTTP/1.0 200 OK");
        assert!(lines[1].starts_with("Date: ") && lines[1].ends_with(" GMT"));
        assert_eq!(
            &lines[2..],
            [
                "Server: progjar-rust",
                "Content-Length: 20",
                "Connection: close",
                "Content-Type: text/html; charset=utf-8",
            ]
        );
        assert_eq!(body, "<h1>SERVER HTTP</h1>");

        let mut out = Vec::new();
        Response::error_page(404)
            .write_to(&mut out, "HTTP/1.1", true, true)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Length: 23\r\nConnection: keep-alive\r\n"));
        assert!(text.ends_with("\r\n\r\n"), "HEAD sends no body: {text}");
    }

    #[test]
    fn head_alone_announces_the_given_length() {
        let mut out = Vec::new();
        Response::new(200)
            .with_header("Content-Type", "image/png")
            .write_head_to(&mut out, "HTTP/1.1", 123_456_789, true)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("\r\nContent-Length: 123456789\r\nConnection: keep-alive\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\r\nContent-Type: image/png\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn http_dates() {
        let at = |s: u64| http_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(at(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
        assert_eq!(at(1_767_225_599), "Wed, 31 Dec 2025 23:59:59 GMT");
        assert_eq!(
            http_date(UNIX_EPOCH - Duration::from_secs(5)),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(501), "Not Implemented");
        assert_eq!(reason_phrase(799), "");
    }
}
