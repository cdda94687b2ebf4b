//! The grader's check against our own server (all pass) and against
//! deliberately broken HTTP servers (the right requirement fails, fast).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::check::{CheckOptions, Kind, Report, EXIT_FAILED, EXIT_PASSED};
use common::testkit::check::{
    fake_server, fake_server_one_at_a_time, finishes_within, holding_server, parse_options,
    run_check, PATIENT, SHORT,
};
use tugas6::check::{run, Reply, CHECK};

// The requirements' ids: required, then extras.
const BODY: &str = "body";
const TELNET: &str = "telnet";
const CONCURRENT: &str = "multithreaded";
const VALID: &str = "valid-http";
const EXACT: &str = "exact-body";
const SPLIT: &str = "small-segments";
const BARE_LF: &str = "bare-newlines";
const HEAD: &str = "head";
const NOT_FOUND: &str = "not-found";

/// The reason of requirement `id`'s failure.
fn reason<'a>(r: &'a Report, id: &str) -> &'a str {
    r.by_id(id)
        .unwrap_or_else(|| panic!("no requirement {id}: {}", r.text()))
        .reason
        .as_deref()
        .unwrap_or("")
}

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
    let ids: Vec<&str> = r.requirements.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [BODY, TELNET, CONCURRENT, VALID, EXACT, SPLIT, BARE_LF, HEAD, NOT_FOUND]
    );
    assert!(
        r.text()
            .ends_with("\n3 of 3 required passed; 6 extras (6 passed)\n"),
        "{}",
        r.text()
    );
    // Each required line cites its sentence of ASSIGNMENTS.md (Tugas 6).
    for o in &r.requirements {
        assert_eq!(
            o.citation.is_some(),
            o.kind == Kind::Required,
            "{}: {:?}",
            o.id,
            o.citation
        );
    }
    assert_eq!(
        r.by_id(BODY).unwrap().citation.as_deref(),
        Some(
            "Jika tanda akhir request diterima, maka balaslah dengan string “<h1>SERVER HTTP</h1>”"
        )
    );
}

#[test]
fn a_correct_course_style_server_passes_too() {
    let r = check(threaded(good), PATIENT);
    assert!(r.all_passed(), "{}", r.text());
}

/// The course's `server_thread_http.py` style: a thread per connection
/// reads (32 bytes at a time) until what it has ends in `\r\n`, answers
/// HTTP/1.0 with no Content-Length and `\r\n\r\n` appended after the
/// body, whatever the path, and closes; anything but GET gets 400.
fn course_style(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut rcv = Vec::new();
    let mut buf = [0u8; 32];
    while !rcv.ends_with(b"\r\n") {
        match s.read(&mut buf) {
            Ok(n) if n > 0 && rcv.len() < 8192 => rcv.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let answer: &[u8] = if rcv.starts_with(b"GET ") {
        b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>SERVER HTTP</h1>\r\n\r\n"
    } else {
        b"HTTP/1.0 400 Bad Request\r\n\r\n\r\n\r\n"
    };
    let _ = s.write_all(answer);
}

#[test]
fn a_course_style_server_without_content_length_passes_every_required_line() {
    let port = fake_server(course_style);
    let timeout = Duration::from_secs(2);
    let r = check(port, timeout);
    assert!(r.required.all_passed(), "{}", r.text());
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(
        r.failed_ids(),
        [VALID, EXACT, BARE_LF, HEAD, NOT_FOUND],
        "{}",
        r.text()
    );
    assert!(r
        .text()
        .ends_with("\n3 of 3 required passed; 6 extras (1 passed)\n"));
    // The strict HTTP details are told in the extras.
    assert_eq!(
        reason(&r, VALID),
        "no Content-Length header: the body ends only where the server closes, \
         and the 4 bytes \"\\r\\n\\r\\n\" before the close count as body"
    );
    assert_eq!(
        reason(&r, EXACT),
        "the body is 24 bytes long instead of 20 (no Content-Length: read until the server \
         closed: \"<h1>SERVER HTTP</h1>\\r\\n\\r\\n\")"
    );
    // --strict: the extras grade too.
    let mut o = CheckOptions::local(port, timeout);
    o.strict = true;
    let r = run_check(o, run);
    assert_eq!(r.exit_code, EXIT_FAILED, "{}", r.text());
    assert_eq!(r.first_graded_failure().map(|o| o.id.as_str()), Some(VALID));
}

#[test]
fn a_server_with_content_length_and_trailing_crlf_fails_only_extras() {
    // As the course's http.py of Tugas 8 answers: a Content-Length, and
    // server_thread_http.py's "\r\n\r\n" after the body all the same.
    let port = threaded(|line| {
        let mut out = good(line);
        out.extend_from_slice(b"\r\n\r\n");
        out
    });
    let r = check(port, PATIENT);
    // (HEAD gets the "\r\n\r\n" after its head, as a body.)
    assert_eq!(r.failed_ids(), [VALID, HEAD], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        "Content-Length is 20 but the body has 24 bytes"
    );
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
}

#[test]
fn a_course_style_server_serving_one_connection_at_a_time_fails_multithreaded() {
    // It answers at the first "\r\n": half a request line keeps it
    // waiting, so the other connections wait too.
    let port = fake_server_one_at_a_time(course_style);
    let r = check(port, Duration::from_secs(1));
    assert_eq!(
        r.failed_ids()
            .into_iter()
            .filter(|id| r.by_id(id).unwrap().kind == Kind::Required)
            .collect::<Vec<_>>(),
        [CONCURRENT],
        "{}",
        r.text()
    );
    assert!(
        reason(&r, CONCURRENT).starts_with(
            "timed out after 1s waiting for the response on connection 20 while 19 others wait"
        ),
        "{}",
        r.text()
    );
}

#[test]
fn wrong_body_fails_every_body_requirement() {
    let port =
        threaded(|_| b"HTTP/1.0 200 OK\r\nContent-Length: 19\r\n\r\n<h1>SERVER HTTP<h1>".to_vec());
    let r = check(port, PATIENT);
    assert_eq!(
        r.failed_ids(),
        [BODY, TELNET, CONCURRENT, EXACT, SPLIT, BARE_LF, HEAD, NOT_FOUND],
        "{}",
        r.text()
    );
    assert_eq!(
        reason(&r, BODY),
        "the body differs at byte 16 of 20 (expected \"/\", got \"h\")"
    );
    assert_eq!(r.exit_code, EXIT_FAILED);
}

#[test]
fn a_longer_page_holding_the_body_passes_the_required_lines() {
    let port = threaded(|_| {
        let page = "<html><body><h1>SERVER HTTP</h1></body></html>\n";
        format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{page}",
            page.len()
        )
        .into_bytes()
    });
    let r = check(port, PATIENT);
    assert_eq!(r.failed_ids(), [EXACT, HEAD, NOT_FOUND], "{}", r.text());
    assert!(
        reason(&r, EXACT).starts_with("the body differs at byte 2 of 20"),
        "{}",
        r.text()
    );
}

#[test]
fn body_only_without_http_head_passes_the_body_but_not_valid_http() {
    let port = threaded(|_| b"<h1>SERVER HTTP</h1>".to_vec());
    let r = check(port, PATIENT);
    assert_eq!(r.failed_ids(), [VALID, HEAD, NOT_FOUND], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        "the response does not start with a status line \"HTTP/1.0 200 OK\""
    );
    // The course's body-only answer with "\r\n\r\n" after it, too.
    let port = threaded(|_| b"<h1>SERVER HTTP</h1>\r\n\r\n".to_vec());
    let r = check(port, PATIENT);
    assert_eq!(
        r.failed_ids(),
        [VALID, EXACT, HEAD, NOT_FOUND],
        "{}",
        r.text()
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
    assert_eq!(r.failed_ids(), [VALID], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        "no Content-Length header: the body ends only where the server closes"
    );
    let port = threaded(|line| {
        let text = String::from_utf8(good(line)).unwrap();
        text.replace("Content-Length: 20", "Content-Length: 25")
            .into_bytes()
    });
    let r = check(port, PATIENT);
    assert_eq!(r.failed_ids(), [VALID], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        "Content-Length is 25 but the body has 20 bytes"
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
    assert_eq!(r.failed_ids(), [CONCURRENT], "{}", r.text());
    assert!(
        reason(&r, CONCURRENT).starts_with(
            "timed out after 5s waiting for the response on connection 20 while 19 others wait"
        ),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_that_needs_crlf_passes_every_required_line() {
    // The assignment fixes "\r\n\r\n": a bare "\n\n" is only an extra.
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
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(r.failed_ids(), [BARE_LF], "{}", r.text());
    assert_eq!(r.by_id(BARE_LF).unwrap().kind, Kind::Extra);
}

#[test]
fn a_server_that_drops_the_connection_fails_everything() {
    let port = threaded(|_| Vec::new());
    let r = check(port, SHORT);
    assert_eq!(r.passed, 0, "{}", r.text());
    assert_eq!(
        reason(&r, BODY),
        "the server closed the connection without sending the response"
    );
}

#[test]
fn garbage_and_silence_fail_fast_without_hanging() {
    let garbage = threaded(|_| (0..5000u32).map(|i| (i * 13 + 7) as u8).collect());
    let r = check(garbage, SHORT);
    assert_eq!(r.passed, 0, "{}", r.text());
    assert!(
        reason(&r, BODY).starts_with("the body differs at byte 0 of 20"),
        "{}",
        r.text()
    );
    let port = holding_server(); // never reads, never answers, never closes
    let r = finishes_within(Duration::from_secs(10), || check(port, SHORT));
    assert_eq!(r.passed, 0, "{}", r.text());
    assert_eq!(
        reason(&r, BODY),
        "timed out after 0.3s waiting for the response"
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
        reason(&r, BODY).starts_with("more than 1048576 bytes"),
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
