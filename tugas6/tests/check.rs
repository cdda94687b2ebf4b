//! The grader's check against our own server (all pass) and against
//! deliberately broken HTTP servers (the right requirement fails, fast).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::check::{CheckOptions, Report};
use common::testkit::check::{
    fake_server, fake_server_one_at_a_time, finishes_within, holding_server, parse_options,
    run_check, PATIENT, SHORT,
};
use tugas6::check::{run, Reply, CHECK};

const BODY: &str = "GET / HTTP/1.0 gets the body \"<h1>SERVER HTTP</h1>\"";
const VALID: &str =
    "the response is valid HTTP (status line, headers, blank line, Content-Length = body length)";
const CONCURRENT: &str = "20 connections at once are all answered (multithreaded)";
const SPLIT: &str = "a request sent in small segments works";
const BARE_LF: &str = "a request ended by \"\\n\\n\" (telnet style) works";
const HEAD: &str = "HEAD / gets the head and no body";
const NOT_FOUND: &str = "an unknown path gets 404";

fn check(port: u16, timeout: Duration) -> Report {
    run_check(CheckOptions::local(port, timeout), run)
}

/// Reads a request head (up to a blank line, `\r\n\r\n` or `\n\n`);
/// returns its first line, or `None` if the client closed first.
fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !(head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n")) {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    Some(text.lines().next().unwrap_or("").to_string())
}

/// A course-style server: a thread per connection, one request each,
/// answered with `answer(request line)`, then the connection closed.
fn threaded(answer: fn(&str) -> Vec<u8>) -> u16 {
    fake_server(move |mut s| {
        if let Some(line) = read_request(&mut s) {
            let _ = s.write_all(&answer(&line));
        }
    })
}

/// A correct answer for `line` with `head` as the headers.
fn good(line: &str) -> Vec<u8> {
    let (code, body) = if line.split(' ').nth(1) == Some("/") {
        ("200 OK", "<h1>SERVER HTTP</h1>")
    } else {
        ("404 Not Found", "<h1>404</h1>")
    };
    let mut out = format!(
        "HTTP/1.0 {code}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !line.starts_with("HEAD") {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[test]
fn our_server_passes_every_requirement() {
    let server = support::start();
    let addr = server.addr();
    let r = check(addr.port(), PATIENT);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(r.passed, 7, "{}", r.text());
    assert!(
        r.text()
            .ends_with("\n4 of 4 required passed; 3 extras (3 passed)\n"),
        "{}",
        r.text()
    );
}

#[test]
fn a_correct_course_style_server_passes_too() {
    let r = check(threaded(good), PATIENT);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn wrong_body_fails_every_body_requirement() {
    let port =
        threaded(|_| b"HTTP/1.0 200 OK\r\nContent-Length: 19\r\n\r\n<h1>SERVER HTTP<h1>".to_vec());
    let r = check(port, PATIENT);
    assert_eq!(
        r.failures(),
        [BODY, CONCURRENT, SPLIT, BARE_LF, HEAD, NOT_FOUND],
        "{}",
        r.text()
    );
    assert_eq!(
        r.find("gets the body").unwrap().reason.as_deref(),
        Some("the body differs at byte 16 of 20 (expected \"/\", got \"h\")")
    );
}

#[test]
fn body_only_without_http_head_passes_the_body_but_not_valid_http() {
    let port = threaded(|_| b"<h1>SERVER HTTP</h1>".to_vec());
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [VALID, HEAD, NOT_FOUND], "{}", r.text());
    assert_eq!(
        r.find("valid HTTP").unwrap().reason.as_deref(),
        Some("the response does not start with a status line \"HTTP/1.0 200 OK\"")
    );
}

#[test]
fn missing_or_wrong_content_length_fails_only_valid_http() {
    let port = threaded(|line| {
        let mut out = good(line);
        let text = String::from_utf8(out.clone()).unwrap();
        out = text.replace("Content-Length: 20\r\n", "").into_bytes();
        out
    });
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [VALID], "{}", r.text());
    assert_eq!(
        r.find("valid HTTP").unwrap().reason.as_deref(),
        Some("no Content-Length header")
    );
    let port = threaded(|line| {
        let text = String::from_utf8(good(line)).unwrap();
        text.replace("Content-Length: 20", "Content-Length: 25")
            .into_bytes()
    });
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [VALID], "{}", r.text());
    assert_eq!(
        r.find("valid HTTP").unwrap().reason.as_deref(),
        Some("Content-Length is 25 but the body has 20 bytes")
    );
}

#[test]
fn single_threaded_server_fails_only_concurrency() {
    // One connection at a time, as a server without threads does.
    let port = fake_server_one_at_a_time(|mut s| {
        if let Some(line) = read_request(&mut s) {
            let _ = s.write_all(&good(&line));
        }
    });
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [CONCURRENT], "{}", r.text());
    assert!(
        r.find(CONCURRENT)
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .starts_with(
                "timed out after 5s waiting for the response on connection 20 while 19 others wait"
            ),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_that_needs_crlf_fails_only_the_bare_newline_request() {
    let port = fake_server(|mut s| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match s.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap()
            .to_string();
        let _ = s.write_all(&good(&line));
    });
    let r = check(port, SHORT.max(Duration::from_secs(1)));
    assert_eq!(r.failures(), [BARE_LF], "{}", r.text());
}

#[test]
fn a_server_that_drops_the_connection_fails_everything() {
    let port = threaded(|_| Vec::new());
    let r = check(port, SHORT);
    assert_eq!(r.passed, 0, "{}", r.text());
    assert_eq!(
        r.find("gets the body").unwrap().reason.as_deref(),
        Some("the server closed the connection without sending the response")
    );
}

#[test]
fn garbage_and_silence_fail_fast_without_hanging() {
    let garbage = threaded(|_| (0..5000u32).map(|i| (i * 13 + 7) as u8).collect());
    let r = check(garbage, SHORT);
    assert_eq!(r.passed, 0, "{}", r.text());
    assert!(
        r.find("gets the body")
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .starts_with("the body differs at byte 0 of 20"),
        "{}",
        r.text()
    );
    let port = holding_server(); // never reads, never answers, never closes
    let r = finishes_within(Duration::from_secs(10), || check(port, SHORT));
    assert_eq!(r.passed, 0, "{}", r.text());
    assert_eq!(
        r.find("gets the body").unwrap().reason.as_deref(),
        Some("timed out after 0.3s waiting for the response")
    );
}

#[test]
fn endless_stream_is_bounded() {
    let port = threaded(|_| {
        let mut v = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        v.extend(std::iter::repeat_n(b'x', 3 << 20));
        v
    });
    let r = check(port, PATIENT);
    assert_eq!(r.passed, 0, "{}", r.text());
    assert!(
        r.find("gets the body")
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .starts_with("more than 1048576 bytes"),
        "{}",
        r.text()
    );
}

#[test]
fn reply_parse_splits_heads_with_either_line_end() {
    let r = Reply::parse(b"HTTP/1.0 200 OK\nContent-Length: 2\n\nhi");
    assert_eq!(
        (r.status(), r.crlf, r.body.as_slice()),
        (Some(200), false, &b"hi"[..])
    );
    assert_eq!(r.header("content-length"), Some("2"));
    let r = Reply::parse(b"HTTP/1.1 404 Not Found\r\nX: y\r\nbad line\r\n\r\nno");
    assert_eq!((r.status(), r.crlf), (Some(404), true));
    assert_eq!(r.bad_lines, ["bad line"]);
    let r = Reply::parse(b"<h1>SERVER HTTP</h1>");
    assert_eq!(
        (r.status_line, r.body.as_slice()),
        (None, &b"<h1>SERVER HTTP</h1>"[..])
    );
}

#[test]
fn flags_default_to_the_course_port() {
    let (_, o) = parse_options(&CHECK, &[]);
    assert_eq!(
        (o.host.as_str(), o.ports.as_slice()),
        ("127.0.0.1", &[10001][..])
    );
    assert_eq!(o.timeout, Duration::from_secs(5));
    assert!(CHECK.help().contains("[default: 10001]"));
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}
