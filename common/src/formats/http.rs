//! A small HTTP/1.x toolkit: read a request head, write a whole response.
//!
//! Tugas 6 (the `GET /` server) and Tugas 8 (the POST server) both speak
//! HTTP/1.0 and HTTP/1.1 over plain `std::net` sockets. What they share is
//! here:
//!
//! - [`read_request_head`] reads one request head (request line and header
//!   lines up to the blank line) through the connection's `BufRead`, in any
//!   segmentation, with a size cap, and parses it into a [`Request`].
//!   [`read_head_into`] and [`RequestView`] do the same into a buffer the
//!   caller reuses, without allocating (a server's hot path).
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
//! that sends nothing within the socket's read timeout is 408.
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

/// Reads one request head of at most `max` bytes and parses it.
///
/// Keep one `BufReader` per connection and pass it to every call: bytes of
/// a pipelined next request stay buffered in it. A body (if any) follows
/// in the same reader, unread.
///
/// Returns `Ok(None)` when the client closed cleanly before sending a byte
/// (the normal end of a keep-alive connection).
///
/// # Errors
/// See [`HeadError`]; [`HeadError::status`] gives the status to answer.
pub fn read_request_head<R: BufRead + ?Sized>(
    r: &mut R,
    max: usize,
) -> Result<Option<Request>, HeadError> {
    let mut head = Vec::new();
    if !read_head_into(r, max, &mut head)? {
        return Ok(None);
    }
    parse_head(&head).map(Some)
}

/// Reads the bytes of one request head into `buf` (cleared first), without
/// the blank line that ends it and without the line end before that.
/// [`RequestView::parse`] then parses it without allocating, so a server
/// that keeps one `buf` per connection reads request after request with no
/// allocation at all.
///
/// Returns `Ok(false)` when the client closed before sending a request.
/// Blank lines before the request line are skipped (RFC 9112 2.2), but
/// count towards `max`, so a stream of them cannot go on for ever. Only
/// new bytes are searched for the end, so a head arriving one byte at a
/// time, or many pipelined requests in one read, cost no extra scanning.
///
/// # Errors
/// [`HeadError::TooLarge`] as soon as the head is longer than `max` (not
/// more than a few bytes past it are read); [`HeadError::Malformed`] if the
/// client closes in the middle; [`HeadError::Timeout`] and
/// [`HeadError::Io`] from the reader.
pub fn read_head_into<R: BufRead + ?Sized>(
    r: &mut R,
    max: usize,
    buf: &mut Vec<u8>,
) -> Result<bool, HeadError> {
    // buf holds complete lines with their line ends, then the line being
    // read. Its longest legal content: max bytes of head plus "\r\n".
    let limit = max.saturating_add(2);
    buf.clear();
    let mut line_start = 0usize;
    let mut skipped = 0usize;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if framing::is_timeout(&e) => return Err(HeadError::Timeout),
            Err(e) => return Err(HeadError::Io(e)),
        };
        if chunk.is_empty() {
            return if buf.is_empty() {
                Ok(false)
            } else {
                Err(bad(
                    "connection closed before the blank line that ends the request head",
                ))
            };
        }
        // Look no further than the cap allows, plus a blank line's "\r\n".
        let window = chunk.len().min(limit - buf.len() + 2);
        let mut pos = 0;
        let mut end = None;
        while let Some(off) = chunk[pos..window].iter().position(|&b| b == b'\n') {
            let nl = pos + off;
            let line_len = buf.len() - line_start + (nl - pos);
            let before_nl = if nl > pos {
                chunk.get(nl - 1)
            } else {
                buf.last()
            };
            let blank = line_len == 0 || (line_len == 1 && before_nl == Some(&b'\r'));
            if blank && line_start == 0 {
                // A blank line before the request line: skip it.
                buf.clear();
                skipped += line_len + 1;
                if skipped > max {
                    return Err(HeadError::TooLarge);
                }
                pos = nl + 1;
                continue;
            }
            if blank {
                end = Some(nl + 1);
                break;
            }
            buf.extend_from_slice(&chunk[pos..=nl]);
            line_start = buf.len();
            pos = nl + 1;
            let ending = if buf.ends_with(b"\r\n") { 2 } else { 1 };
            if buf.len() - ending > max {
                return Err(HeadError::TooLarge);
            }
        }
        if let Some(consumed) = end {
            r.consume(consumed);
            buf.truncate(line_start);
            buf.pop(); // the "\n" of the last header line
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
        buf.extend_from_slice(&chunk[pos..window]);
        r.consume(window);
        // The line being read may end in the "\r" of its "\r\n".
        let partial = buf.len() - usize::from(buf.last() == Some(&b'\r'));
        if partial > max {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Parses the bytes of a head (everything before the blank line).
///
/// # Errors
/// [`HeadError::Malformed`] naming the first problem found.
pub fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    RequestView::parse(head).map(|view| view.to_request())
}

/// A request head parsed in place: it borrows the bytes it was parsed from
/// and allocates nothing. Every line was checked by [`RequestView::parse`];
/// [`RequestView::to_request`] gives an owned [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestView<'a> {
    /// The method as sent.
    pub method: &'a str,
    /// The request target as sent.
    pub target: &'a str,
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub version: &'static str,
    /// The header lines, after the request line's line end.
    fields: &'a [u8],
}

impl<'a> RequestView<'a> {
    /// Parses and checks a head (what [`read_head_into`] reads).
    ///
    /// # Errors
    /// [`HeadError::Malformed`] naming the first problem found.
    pub fn parse(head: &'a [u8]) -> Result<RequestView<'a>, HeadError> {
        // Skip blank lines before the request line.
        let mut rest = head;
        let request_line = loop {
            let (line, after) = split_line(rest);
            if !line.is_empty() {
                rest = after.unwrap_or(&[]);
                break line;
            }
            match after {
                Some(after) => rest = after,
                None => return Err(bad("empty request")),
            }
        };
        let (method, target, version) = parse_request_line(request_line)?;
        let view = RequestView {
            method,
            target,
            version,
            fields: rest,
        };
        for line in view.header_lines() {
            if line.is_empty() {
                // read_head_into stops at the first blank line, so only a
                // head from elsewhere can have one inside.
                return Err(bad("blank line inside the head"));
            }
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

    /// (name, value) pairs of the lines [`RequestView::parse`] checked (so
    /// not checked again): all of them, or those called `only`.
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

/// The first line of `bytes` without its line end, and what follows the
/// `\n` (`None` when there is no `\n`).
fn split_line(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => (strip_cr(&bytes[..i]), Some(&bytes[i + 1..])),
        None => (strip_cr(bytes), None),
    }
}

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
    fn view_without_allocation_matches_the_owned_request() {
        let wire = b"\r\nGET /x?y HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n\
                     HEAD / HTTP/1.0\nConnection: keep-alive\nContent-Length: 3\n\r\nabc";
        // Cursor hands the whole rest out at once: pipelined requests.
        let mut r = Cursor::new(wire.to_vec());
        let mut buf = Vec::new();
        assert!(read_head_into(&mut r, MAX_HEAD, &mut buf).unwrap());
        assert_eq!(
            buf,
            b"GET /x?y HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close"
        );
        let v = RequestView::parse(&buf).unwrap();
        assert_eq!((v.method, v.target, v.version), ("GET", "/x?y", "HTTP/1.1"));
        assert_eq!(v.header("HOST"), Some(&b"h"[..]));
        assert!(!v.keep_alive());
        assert_eq!(v.content_length().unwrap(), None);
        let owned = v.to_request();
        assert_eq!(owned, parse_head(&buf).unwrap());
        assert_eq!(
            owned.head_lines,
            ["Host: h", "Connection: keep-alive, Close"]
        );

        assert!(read_head_into(&mut r, MAX_HEAD, &mut buf).unwrap());
        let v = RequestView::parse(&buf).unwrap();
        assert_eq!((v.method, v.version), ("HEAD", "HTTP/1.0"));
        assert!(v.keep_alive());
        assert_eq!(v.content_length().unwrap(), Some(3));
        assert_eq!(v.header_lines().count(), 2);
        let mut body = String::new();
        r.read_to_string(&mut body).unwrap();
        assert_eq!(body, "abc");
        assert!(!read_head_into(&mut r, MAX_HEAD, &mut buf).unwrap());
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
        big.extend(std::iter::repeat(b'a').take(MAX_HEAD));
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
