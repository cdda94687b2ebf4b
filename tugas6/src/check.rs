//! The grader's check for Tugas 6: tests an HTTP server (Python, Java,
//! ours, ...) against the assignment.
//!
//! ```text
//! cargo run -p tugas6 --bin check                               # 127.0.0.1:10001
//! cargo run -p tugas6 --bin check -- --host 10.0.0.5 --port 10001
//! ```
//!
//! Requirements, in order of importance:
//!
//! 1. `GET / HTTP/1.0\r\n\r\n` gets the body `<h1>SERVER HTTP</h1>`, exactly;
//! 2. the response is valid HTTP: a status line `HTTP/1.x 200 ...`,
//!    header lines, a blank line, a `Content-Length` equal to the body's
//!    length, and (HTTP/1.0) the connection closed after the body;
//! 3. 20 connections open at once are all answered (multithreaded): the
//!    last one opened is answered while the 19 others have sent only half
//!    a request, so a server that serves one connection at a time fails;
//! 4. a request sent in small TCP segments works;
//! 5. a request ended by `\n\n` (bare newlines, as some telnet clients and
//!    hand-typed requests send) works;
//! 6. `HEAD /` gets a head and no body;
//! 7. an unknown path gets `404`.
//!
//! 6 and 7 go beyond the course's text (which asks only for `GET /`); they
//! are what HTTP requires and come last. No protocol of ours is assumed:
//! this is HTTP.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::check::{self, difference, CheckOptions, Checker, Conn, Failure};
use common::cli::Command;

use crate::BODY;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 6 grader's check: tests an HTTP server (any language) on the course's port.",
    args: "",
    flags: &[
        check::host(),
        check::port("10001"),
        check::TIMEOUT,
        check::JSON,
    ],
};

/// The request of the assignment.
pub const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
/// Connections open at once in requirement 3.
pub const CONCURRENT: usize = 20;
/// Longest response head read.
const HEAD_CAP: usize = 64 * 1024;
/// Longest response read in all.
const RESPONSE_CAP: usize = 1024 * 1024;

/// A response as read from the wire.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The first line, if the response starts with `HTTP/`.
    pub status_line: Option<String>,
    /// Header lines as (name, value), names as sent.
    pub headers: Vec<(String, String)>,
    /// The bytes after the blank line (the whole response when it has no head).
    pub body: Vec<u8>,
    /// Whether the head ended in `\r\n\r\n` (not bare `\n\n`).
    pub crlf: bool,
    /// Head lines after the status line that are not `Name: value`.
    pub bad_lines: Vec<String>,
    /// Bytes that came after `Content-Length` bytes of body.
    pub extra: usize,
    /// The server closed the connection after the response.
    pub closed: bool,
}

impl Reply {
    /// The value of header `name` (any case), the first if repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status code, if the status line has one.
    pub fn status(&self) -> Option<u16> {
        let line = self.status_line.as_deref()?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Splits a whole response (read to the close) into head and body, with
    /// bare `\n` line ends accepted.
    pub fn parse(raw: &[u8]) -> Reply {
        if !raw.starts_with(b"HTTP/") {
            return Reply {
                body: raw.to_vec(),
                closed: true,
                ..Reply::default()
            };
        }
        let crlf = common::framing::find(raw, b"\r\n\r\n");
        let lf = common::framing::find(raw, b"\n\n");
        let (head_end, body_start, is_crlf) = match (crlf, lf) {
            (Some(c), Some(l)) if l < c + 2 => (l, l + 2, false),
            (Some(c), _) => (c, c + 4, true),
            (None, Some(l)) => (l, l + 2, false),
            (None, None) => (raw.len(), raw.len(), false),
        };
        let mut reply = Reply::from_head(&raw[..head_end]);
        reply.body = raw[body_start..].to_vec();
        reply.crlf = is_crlf;
        reply.closed = true;
        reply
    }

    fn from_head(head: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let status_line = lines.next().map(str::to_string);
        let mut reply = Reply {
            status_line,
            crlf: true,
            ..Reply::default()
        };
        for l in lines {
            match l.split_once(':') {
                Some((n, v)) if !n.is_empty() && !n.contains(' ') => {
                    reply.headers.push((n.to_string(), v.trim().to_string()))
                }
                _ => reply.bad_lines.push(l.to_string()),
            }
        }
        reply
    }
}

/// Reads one response to an HTTP/1.0 request: the head up to `\r\n\r\n`,
/// then `Content-Length` bytes (or everything to the close without one).
/// With `wait_close`, also waits for the close and counts extra bytes.
/// A response with no `\r\n\r\n` head (only a body, or bare `\n\n`) is
/// read to the close and split by [`Reply::parse`]; this needs the
/// request sent again, so `request` is what `conn` was sent.
///
/// # Errors
/// Timeouts, closes and caps, as failures naming `what`.
pub fn read_reply(
    o: &CheckOptions,
    mut conn: Conn,
    request: &[u8],
    wait_close: bool,
    what: &str,
) -> Result<(Conn, Reply), Failure> {
    // Without a CRLF CRLF head before the close (only a body, bare "\n\n",
    // a Content-Length larger than the body): ask again and read it whole.
    let whole = |what: &str| -> Result<(Conn, Reply), Failure> {
        let mut again = o.connect()?;
        again.send(request, "the request")?;
        let raw = again.recv_to_end(RESPONSE_CAP, what)?;
        Ok((again, Reply::parse(&raw)))
    };
    let head = match conn.recv_until(b"\r\n\r\n", HEAD_CAP, what) {
        Ok(head) => head,
        Err(f) if f.reason.contains("closed the connection in the middle") => return whole(what),
        Err(f) => return Err(f),
    };
    let mut reply = Reply::from_head(&head);
    if reply
        .status_line
        .as_deref()
        .map_or(true, |l| !l.starts_with("HTTP/"))
    {
        // Not an HTTP head: whatever it was, it is the "body".
        let rest = conn.recv_to_end(RESPONSE_CAP, what)?;
        let mut body = head;
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(&rest);
        return Ok((
            conn,
            Reply {
                body,
                closed: true,
                ..Reply::default()
            },
        ));
    }
    let length = match reply.header("Content-Length") {
        Some(v) => Some(
            v.trim()
                .parse::<usize>()
                .map_err(|_| conn.fail(format!("Content-Length {v:?} is not a number")))?,
        ),
        None => None,
    };
    match length {
        Some(n) if n > RESPONSE_CAP => {
            return Err(conn.fail(format!(
                "Content-Length {n} is implausibly large for this page"
            )))
        }
        Some(n) => {
            reply.body = match conn.recv_exact(n, &format!("the {n}-byte body (Content-Length)")) {
                Ok(body) => body,
                Err(f) if f.reason.contains("closed the connection after") => return whole(what),
                Err(f) => return Err(f),
            };
            if wait_close {
                let extra = conn.recv_to_end(RESPONSE_CAP, "the close after the body")?;
                reply.extra = extra.len();
                reply.closed = true;
            }
        }
        None => {
            reply.body = conn.recv_to_end(RESPONSE_CAP, what)?;
            reply.closed = true;
        }
    }
    Ok((conn, reply))
}

/// Sends `request` on a new connection and reads the reply.
fn fetch(
    o: &CheckOptions,
    request: &[u8],
    wait_close: bool,
    what: &str,
) -> Result<(Conn, Reply), Failure> {
    let mut conn = o.connect()?;
    conn.send(request, "the request")?;
    read_reply(o, conn, request, wait_close, what)
}

/// Requires `reply`'s body to be exactly [`BODY`].
fn expect_body(conn: &Conn, reply: &Reply) -> Result<(), Failure> {
    match difference(BODY.as_bytes(), &reply.body) {
        None => Ok(()),
        Some(d) => Err(conn.fail(format!("the body {d}"))),
    }
}

/// Runs every Tugas 6 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker) {
    c.check(format!("GET / HTTP/1.0 gets the body \"{BODY}\""), |o| {
        let (conn, reply) = fetch(o, REQUEST, false, "the response")?;
        expect_body(&conn, &reply)
    });
    c.check(
        "the response is valid HTTP (status line, headers, blank line, Content-Length = body length)",
        |o| {
            let (conn, r) = fetch(o, REQUEST, true, "the response")?;
            let Some(line) = r.status_line.as_deref() else {
                return Err(conn.fail("the response does not start with a status line \"HTTP/1.0 200 OK\""));
            };
            let version_ok = line.starts_with("HTTP/1.0 ") || line.starts_with("HTTP/1.1 ");
            if !version_ok || r.status().is_none() {
                return Err(conn.fail(format!("the status line {line:?} is not \"HTTP/1.x CODE REASON\"")));
            }
            if r.status() != Some(200) {
                return Err(conn.fail(format!("status {:?} instead of 200", r.status().unwrap_or(0))));
            }
            if !r.crlf {
                return Err(conn.fail("the head ends in a bare \"\\n\\n\" instead of \"\\r\\n\\r\\n\""));
            }
            if let Some(bad) = r.bad_lines.first() {
                return Err(conn.fail(format!("{bad:?} is not a header line \"Name: value\"")));
            }
            let Some(length) = r.header("Content-Length") else {
                return Err(conn.fail("no Content-Length header"));
            };
            let actual = r.body.len() + r.extra;
            if length.parse::<usize>().ok() != Some(actual) {
                return Err(conn.fail(format!(
                    "Content-Length is {length} but the body has {actual} bytes"
                )));
            }
            Ok(())
        },
    );
    c.check(
        format!("{CONCURRENT} connections at once are all answered (multithreaded)"),
        concurrent,
    );
    c.check("a request sent in small segments works", |o| {
        let mut conn = o.connect()?;
        conn.send_in_pieces(
            REQUEST,
            3,
            Duration::from_millis(20),
            "the request in 3-byte pieces",
        )?;
        let (conn, reply) = read_reply(o, conn, REQUEST, false, "the response")?;
        expect_body(&conn, &reply)
    });
    c.check("a request ended by \"\\n\\n\" (telnet style) works", |o| {
        let (conn, reply) = fetch(o, b"GET / HTTP/1.0\n\n", false, "the response")?;
        expect_body(&conn, &reply)
    });
    c.check("HEAD / gets the head and no body", |o| {
        let mut conn = o.connect()?;
        conn.send(b"HEAD / HTTP/1.0\r\n\r\n", "the request")?;
        let head = conn.recv_until(b"\r\n\r\n", HEAD_CAP, "the head")?;
        let reply = Reply::from_head(&head);
        if reply.status() != Some(200) {
            return Err(conn.fail(format!("expected status 200, got {:?}", reply.status_line)));
        }
        let body = conn.recv_to_end(RESPONSE_CAP, "the close after the head")?;
        if !body.is_empty() {
            return Err(conn.fail(format!("{} bytes of body came after the head", body.len())));
        }
        Ok(())
    });
    c.check("an unknown path gets 404", |o| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let request = format!("GET /tidak-ada-{nanos} HTTP/1.0\r\n\r\n");
        let (conn, reply) = fetch(o, request.as_bytes(), false, "the response")?;
        match reply.status() {
            Some(404) => Ok(()),
            other => Err(conn.fail(format!(
                "expected status 404, got {}",
                other.map_or("no status line".to_string(), |s| s.to_string())
            ))),
        }
    });
}

/// Requirement 3: opens [`CONCURRENT`] connections and sends half a
/// request on each; the last one's request is finished first and must be
/// answered while the others wait; then all are finished and answered.
fn concurrent(o: &CheckOptions) -> Result<(), Failure> {
    let (first, rest) = REQUEST.split_at(16); // "GET / HTTP/1.0\r\n" | "\r\n"
    let mut conns = Vec::with_capacity(CONCURRENT);
    for i in 0..CONCURRENT {
        let mut conn = o.connect().map_err(|mut f| {
            f.reason = format!("connection {} of {CONCURRENT}: {}", i + 1, f.reason);
            f
        })?;
        conn.send(first, "the request line")?;
        conns.push(conn);
    }
    let mut last = conns.pop().expect("CONCURRENT > 0");
    last.send(rest, "the blank line")?;
    let (last, reply) = read_reply(
        o,
        last,
        REQUEST,
        false,
        &format!(
            "the response on connection {CONCURRENT} while {} others wait (one connection at a time?)",
            CONCURRENT - 1
        ),
    )?;
    expect_body(&last, &reply)?;
    let results: Vec<Result<(), Failure>> = thread::scope(|s| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, mut conn)| {
                s.spawn(move || {
                    conn.send(rest, "the blank line")?;
                    let (conn, reply) = read_reply(
                        o,
                        conn,
                        REQUEST,
                        false,
                        &format!("the response on connection {}", i + 1),
                    )?;
                    expect_body(&conn, &reply)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Failure::new("a reading thread failed")))
            })
            .collect()
    });
    let failed = results.iter().filter(|r| r.is_err()).count();
    match results.into_iter().find_map(Result::err) {
        None => Ok(()),
        Some(mut f) => {
            f.reason = format!(
                "{failed} of {} connections failed; the first: {}",
                CONCURRENT - 1,
                f.reason
            );
            Err(f)
        }
    }
}
