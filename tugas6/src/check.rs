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

use common::check::http::{Reader, Response};
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
    c.check_extra(
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
    c.check_extra("HEAD / gets the head and no body", |o| {
        let mut conn = o.connect()?;
        conn.send(b"HEAD / HTTP/1.0\r\n\r\n", "the request")?;
        let reply = READER.read_head(&mut conn, "the head")?;
        if reply.status() != Some(200) {
            return Err(conn.fail(format!("expected status 200, got {:?}", reply.status_line)));
        }
        let body = conn.recv_to_end(READER.body_cap, "the close after the head")?;
        if !body.is_empty() {
            return Err(conn.fail(format!("{} bytes of body came after the head", body.len())));
        }
        Ok(())
    });
    c.check_extra("an unknown path gets 404", |o| {
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
