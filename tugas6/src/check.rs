//! The grader's check for Tugas 6: tests an HTTP server (the course's
//! `server_thread_http.py` made to answer, a student's Python or Java
//! server, ours) against the assignment.
//!
//! ```text
//! cargo run -p tugas6 --bin check                               # 127.0.0.1:10001
//! cargo run -p tugas6 --bin check -- --host 10.0.0.5 --port 10001
//! cargo run -p tugas6 --bin check -- --strict                   # the extras count too
//! ```
//!
//! The assignment's requirements (each citing its sentence of
//! ASSIGNMENTS.md, Tugas 6; they grade), in order of importance:
//!
//! 1. `body`: `GET / HTTP/1.0\r\n\r\n` gets an answer whose body holds
//!    `<h1>SERVER HTTP</h1>`;
//! 2. `telnet`: the same request typed as telnet sends it, the request
//!    line and the empty line in two TCP segments (`GET / HTTP/1.0`,
//!    Enter, Enter; telnet ends each line with `\r\n`), gets the same;
//! 3. `multithreaded`: 20 connections open at once are all answered: the
//!    last one opened is answered while the 19 others have sent only half
//!    of their request line, so a server that serves one connection at a
//!    time fails (half the line, not the whole line, so that a server that
//!    answers at the first `\r\n`, as the course's does, must wait too).
//!
//! The body is judged as the course's own server sends it: HTTP/1.0,
//! often no `Content-Length`, the connection closed after the body and a
//! `\r\n\r\n` appended to it. Without a `Content-Length` the body is what
//! comes until the close; with one, its first `Content-Length` bytes. The
//! required lines accept it when it contains `<h1>SERVER HTTP</h1>` (line
//! ends and other text around it allowed); an answer that is only the
//! body (no HTTP head at all) counts too. What HTTP itself would want is
//! in the extras (reported as `(extra)`, counted apart, graded only with
//! `--strict`):
//!
//! - `valid-http`: a status line `HTTP/1.x 200 ...`, header lines, a blank
//!   line `\r\n\r\n`, a `Content-Length` equal to the body's length and
//!   nothing after the body before the close;
//! - `exact-body`: the body is exactly `<h1>SERVER HTTP</h1>`, nothing
//!   before or after it (no `\r\n\r\n` appended);
//! - `small-segments`: a request sent in 3-byte TCP segments works;
//! - `bare-newlines`: a request ended by `\n\n` (no `\r`) works; the
//!   assignment fixes `\r\n\r\n`, so this is HTTP's leniency only;
//! - `head`: `HEAD /` gets a head and no body;
//! - `not-found`: an unknown path gets `404`.
//!
//! No protocol of ours is assumed: this is HTTP.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::check::http::{Reader, Response};
use common::check::{self, difference, show, CheckOptions, Checker, Conn, Failure};
use common::cli::Command;
use common::framing::{find, shorten};

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

/// The sentence of ASSIGNMENTS.md (Tugas 6) behind the body.
pub const CITE_BODY: &str =
    "Jika tanda akhir request diterima, maka balaslah dengan string “<h1>SERVER HTTP</h1>”";
/// The sentence behind the request typed in telnet.
pub const CITE_TELNET: &str = "Cobalah dengan telnet pada port 10001, dengan cara mengirimkan \
     string GET<spasi>/<spasi>HTTP/1.0<enter><enter>";
/// The sentence behind the connections at once.
pub const CITE_THREADS: &str =
    "Sebuah multithreaded server, buka pada port 10001 di ip address 127.0.0.1";

/// The request of the assignment.
pub const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
/// Connections open at once in the `multithreaded` requirement.
pub const CONCURRENT: usize = 20;
/// How responses are read: leniently (a body-only answer, bare `\n\n`
/// heads), at most 1 MiB.
const READER: Reader = Reader::lenient(1024 * 1024);

/// A response as read from the wire (see [`common::check::http::Response`]).
pub type Reply = Response;

/// Reads one response to an HTTP/1.0 request `request` sent on `conn`
/// (see [`Reader::read_or_ask_again`]).
///
/// # Errors
/// Timeouts, closes and caps, as failures naming `what`.
pub fn read_reply(
    o: &CheckOptions,
    conn: Conn,
    request: &[u8],
    wait_close: bool,
    what: &str,
) -> Result<(Conn, Reply), Failure> {
    READER.read_or_ask_again(o, conn, request, wait_close, what)
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

/// The body as the response delimits it: its first `Content-Length`
/// bytes when it has a (valid) one, else all of it (read to the close).
pub fn framed_body(reply: &Reply) -> &[u8] {
    match reply.content_length() {
        Ok(Some(n)) => &reply.body[..n.min(reply.body.len())],
        _ => &reply.body,
    }
}

/// `bytes` without the `\r` and `\n` at its end.
fn trim_line_ends(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Whether `reply` answers the assignment: its body (see [`framed_body`])
/// holds [`BODY`]; line ends and other text around it are allowed (the
/// course's server appends `\r\n\r\n`). The reason otherwise.
pub fn body_answers(reply: &Reply) -> Result<(), String> {
    let body = framed_body(reply);
    if find(body, BODY.as_bytes()).is_some() {
        return Ok(());
    }
    let d = difference(BODY.as_bytes(), trim_line_ends(body)).unwrap_or_default();
    Err(format!("the body {d}"))
}

/// Requires `reply` to answer the assignment ([`body_answers`]).
fn expect_body(conn: &Conn, reply: &Reply) -> Result<(), Failure> {
    body_answers(reply).map_err(|why| conn.fail(why))
}

/// Runs every Tugas 6 requirement against the server of `c`'s options:
/// the required ones, then the extras.
pub fn run(c: &mut Checker) {
    c.require(
        "body",
        format!("GET / HTTP/1.0 gets the body \"{BODY}\""),
        CITE_BODY,
        |o| {
            let (conn, reply) = fetch(o, REQUEST, false, "the response")?;
            expect_body(&conn, &reply)
        },
    );
    c.require(
        "telnet",
        "the request typed as in telnet (GET / HTTP/1.0, Enter, Enter: two lines) gets the same",
        CITE_TELNET,
        |o| {
            let mut conn = o.connect()?;
            let (line, blank) = REQUEST.split_at(16); // "GET / HTTP/1.0\r\n" | "\r\n"
            conn.send(line, "the request line")?;
            // The server may answer at the first line's end, and close.
            let sent = conn.send(blank, "the empty line after it");
            match (read_reply(o, conn, REQUEST, false, "the response"), sent) {
                (Ok((conn, reply)), _) => expect_body(&conn, &reply),
                (Err(_), Err(f)) | (Err(f), Ok(())) => Err(f),
            }
        },
    );
    c.require(
        "multithreaded",
        format!("{CONCURRENT} connections at once are all answered (multithreaded)"),
        CITE_THREADS,
        concurrent,
    );
    c.extra(
        "valid-http",
        "the response is valid HTTP (status line, headers, blank line, Content-Length = body length)",
        valid_http,
    );
    c.extra(
        "exact-body",
        format!("the body is exactly \"{BODY}\", with nothing before or after it"),
        |o| {
            let (conn, reply) = fetch(o, REQUEST, false, "the response")?;
            let body = framed_body(&reply);
            let Some(d) = difference(BODY.as_bytes(), body) else {
                return Ok(());
            };
            let framing = match reply.content_length() {
                Ok(Some(_)) => "as its Content-Length delimits it",
                _ => "no Content-Length: read until the server closed",
            };
            Err(conn.fail(format!(
                "the body {d} ({framing}: {})",
                show(body, body.len() as u64)
            )))
        },
    );
    c.extra(
        "small-segments",
        "a request sent in 3-byte segments works",
        |o| {
            let mut conn = o.connect()?;
            let sent = conn.send_in_pieces(
                REQUEST,
                3,
                Duration::from_millis(20),
                "the request in 3-byte pieces",
            );
            match (read_reply(o, conn, REQUEST, false, "the response"), sent) {
                (Ok((conn, reply)), _) => expect_body(&conn, &reply),
                (Err(_), Err(f)) | (Err(f), Ok(())) => Err(f),
            }
        },
    );
    c.extra(
        "bare-newlines",
        "a request ended by \"\\n\\n\" (no \\r) works",
        |o| {
            let (conn, reply) = fetch(o, b"GET / HTTP/1.0\n\n", false, "the response")?;
            expect_body(&conn, &reply)
        },
    );
    c.extra("head", "HEAD / gets the head and no body", |o| {
        let mut conn = o.connect()?;
        conn.send(b"HEAD / HTTP/1.0\r\n\r\n", "the request")?;
        let reply = READER.read_head(&mut conn, "the head")?;
        if reply.status() != Some(200) {
            return Err(conn.fail(format!(
                "expected status 200, got {:?}",
                shorten(reply.first_line())
            )));
        }
        let body = conn.recv_to_end(READER.body_cap, "the close after the head")?;
        if !body.is_empty() {
            return Err(conn.fail(format!("{} bytes of body came after the head", body.len())));
        }
        Ok(())
    });
    c.extra("not-found", "an unknown path gets 404", |o| {
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

/// The `valid-http` extra: status line, clean head ended by `\r\n\r\n`,
/// and a `Content-Length` that says where the body ends (the server then
/// closes, with nothing after the body).
fn valid_http(o: &CheckOptions) -> Result<(), Failure> {
    let (conn, r) = fetch(o, REQUEST, true, "the response")?;
    let Some(line) = r.status_line.as_deref() else {
        return Err(conn.fail("the response does not start with a status line \"HTTP/1.0 200 OK\""));
    };
    let version_ok = line.starts_with("HTTP/1.0 ") || line.starts_with("HTTP/1.1 ");
    if !version_ok || r.status().is_none() {
        return Err(conn.fail(format!(
            "the status line {line:?} is not \"HTTP/1.x CODE REASON\""
        )));
    }
    if r.status() != Some(200) {
        return Err(conn.fail(format!(
            "status {:?} instead of 200",
            r.status().unwrap_or(0)
        )));
    }
    if !r.crlf {
        return Err(conn.fail("the head ends in a bare \"\\n\\n\" instead of \"\\r\\n\\r\\n\""));
    }
    if let Some(bad) = r.bad_lines.first() {
        return Err(conn.fail(format!("{bad:?} is not a header line \"Name: value\"")));
    }
    let Some(length) = r.header("Content-Length") else {
        let trailing = r.body.len() - trim_line_ends(&r.body).len();
        let after = if trailing > 0 {
            format!(
                ", and the {trailing} bytes {} before the close count as body",
                show(&r.body[r.body.len() - trailing..], trailing as u64)
            )
        } else {
            String::new()
        };
        return Err(conn.fail(format!(
            "no Content-Length header: the body ends only where the server closes{after}"
        )));
    };
    let actual = r.body.len() + r.extra;
    if length.parse::<usize>().ok() != Some(actual) {
        return Err(conn.fail(format!(
            "Content-Length is {length} but the body has {actual} bytes"
        )));
    }
    Ok(())
}

/// The `multithreaded` requirement: opens [`CONCURRENT`] connections and
/// sends half a request line on each; the last one's request is finished
/// first and must be answered while the others wait; then all are
/// finished and answered.
fn concurrent(o: &CheckOptions) -> Result<(), Failure> {
    // "GET / HT" | "TP/1.0\r\n\r\n": no line end yet, so that a server
    // that answers at the first "\r\n" must wait for the rest too.
    let (first, rest) = REQUEST.split_at(8);
    let mut conns = Vec::with_capacity(CONCURRENT);
    for i in 0..CONCURRENT {
        let mut conn = o.connect().map_err(|mut f| {
            f.reason = format!("connection {} of {CONCURRENT}: {}", i + 1, f.reason);
            f
        })?;
        conn.send(first, "half the request line")?;
        conns.push(conn);
    }
    let mut last = conns.pop().expect("CONCURRENT > 0");
    last.send(rest, "the rest of the request")?;
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
                    conn.send(rest, "the rest of the request")?;
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
