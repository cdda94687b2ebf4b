//! The grader's check against our own server (all pass) and against small
//! servers written here, each broken in one way (the right requirement
//! fails, fast).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::check::{CheckOptions, Kind, Report, EXIT_FAILED, EXIT_PASSED};
use common::stop::Running;
use common::testkit::check::{
    fake_server, fake_server_one_at_a_time, finishes_within, parse_options, run_check, silent,
    stream_forever, SHORT,
};
use tugas8::check::{run, Setup, CHECK};
use tugas8::{form, html, server, Config};

/// For servers that must still pass some requirements: 2 s here, not the
/// 5 s of `common::testkit::check::PATIENT` (the single-threaded server's
/// expected message says "after 2s", and that test waits it out).
const PATIENT: Duration = Duration::from_secs(2);

// The requirements' ids: required, then extras.
const PAGE: &str = "page";
const FORM: &str = "form";
const ISILAH: &str = "isilah";
const HEADERS: &str = "headers";
const DECODED: &str = "decoded";
const AT_ONCE: &str = "others-served";
const CONTENT_TYPE: &str = "content-type";
const SPLIT: &str = "split-body";
const VALID: &str = "valid-http";
const SLOW: &str = "slow-client";
const TRAVERSAL: &str = "traversal";
const SCRIPT: &str = "script";

fn check(port: u16, timeout: Duration) -> Report {
    run_check(CheckOptions::local(port, timeout), |c| {
        run(c, &Setup::default())
    })
}

/// Our server on the crate's own `www/`; dropping it stops it.
fn our_server() -> Running {
    common::logging::init_for_tests();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    server::start_server(listener, &Config::new(tugas8::crate_www())).unwrap()
}

/// The form page every small server serves.
const FORM_PAGE: &str = "<html><body><form method=\"post\" action=\"/sending.html\">\
    <input type=\"text\" name=\"kirim\"><input type=\"submit\"></form></body></html>";

/// What a small server does wrong (one thing each).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing: the assignment done right, one thread per connection.
    None,
    /// POST answers "kosong", as the course's starter server.
    Kosong,
    /// POST answers 501 (as `python3 -m http.server`).
    NoPost,
    /// POST shows the body as sent, not decoded.
    Undecoded,
    /// POST reads one `read` as the body, not by Content-Length.
    OneRead,
    /// No Content-Length: the end of the body is the close.
    NoLength,
    /// Content-Length 5 less than the body.
    ShortLength,
    /// One connection at a time.
    SingleThreaded,
    /// Not a fault: the body as chunks (valid HTTP/1.1, no Content-Length).
    Chunked,
    /// Any other path is read from the folder joined as is.
    Traversal,
    /// The value goes into the page unescaped.
    Unescaped,
    /// One `read` is the whole request (head and body), as a server that
    /// handles a browser's single-segment form with one `recv`.
    OneSegment,
    /// The course's `server_thread_http.py`: `\r\n\r\n` after the body,
    /// which the Content-Length does not count.
    TrailingCrlf,
    /// No Content-Type header.
    NoContentType,
}

/// A small HTTP server with `fault`: reads a head, a body by
/// Content-Length, answers and closes.
fn mini(fault: Fault) -> u16 {
    if fault == Fault::SingleThreaded {
        fake_server_one_at_a_time(move |s| serve_one(s, fault))
    } else {
        fake_server(move |s| serve_one(s, fault))
    }
}

/// Reads the head line by line, then the body by its Content-Length (or
/// with one `read`, for [`Fault::OneRead`]).
fn by_lines(s: TcpStream, fault: Fault) -> Option<(Vec<String>, Vec<u8>)> {
    let mut r = BufReader::new(s);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if !matches!(r.read_line(&mut line), Ok(1..)) {
            return None;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let length: usize = lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if fault == Fault::OneRead && length > 0 {
        let n = r.read(&mut body).unwrap_or(0);
        body.truncate(n);
    } else if r.read_exact(&mut body).is_err() {
        return None;
    }
    Some((lines, body))
}

/// One `read` of up to 64 KiB is the request: the head lines up to the
/// first empty line, and what follows as the body (all of it is head
/// when there is no empty line yet).
fn one_segment(mut s: TcpStream) -> Option<(Vec<String>, Vec<u8>)> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = match s.read(&mut buf) {
        Ok(n) if n > 0 => n,
        _ => return None,
    };
    let got = &buf[..n];
    let (head, body) = match got.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&got[..i], got[i + 4..].to_vec()),
        None => (got, Vec::new()),
    };
    let lines = String::from_utf8_lossy(head)
        .split("\r\n")
        .map(str::to_string)
        .collect();
    Some((lines, body))
}

fn serve_one(s: TcpStream, fault: Fault) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut out = s.try_clone().unwrap();
    let request = if fault == Fault::OneSegment {
        one_segment(s)
    } else {
        by_lines(s, fault)
    };
    let Some((lines, body)) = request else {
        return;
    };
    let mut words = lines[0].split(' ');
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let page = if method == "POST" {
        let value = form::parse_urlencoded(&body)
            .into_iter()
            .find(|(n, _)| n == "kirim")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let value = match fault {
            Fault::Kosong => "kosong".to_string(),
            Fault::Undecoded => html::escape(&String::from_utf8_lossy(&body)),
            Fault::Unescaped => value,
            _ => html::escape(&value),
        };
        let shown = if fault == Fault::Kosong {
            String::new()
        } else {
            html::escape(&lines.join("\n"))
        };
        format!("<pre>{shown}</pre><p>{value}</p>\n<!-- end -->\n").into_bytes()
    } else if path == "/sending.html" {
        FORM_PAGE.as_bytes().to_vec()
    } else if fault == Fault::Traversal {
        std::fs::read(std::env::temp_dir().join(&path[1..])).unwrap_or_default()
    } else {
        b"<h1>404 Not Found</h1>".to_vec()
    };
    let status = if method == "POST" && fault == Fault::NoPost {
        "501 Not Implemented"
    } else if method != "POST" && path != "/sending.html" && fault != Fault::Traversal {
        "404 Not Found"
    } else {
        "200 OK"
    };
    let mut head = format!("HTTP/1.0 {status}\r\n");
    if fault != Fault::NoContentType {
        head.push_str("Content-Type: text/html\r\n");
    }
    if fault == Fault::Chunked {
        let mut out_bytes = format!("HTTP/1.1 {status}\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").into_bytes();
        for chunk in page.chunks(50) {
            out_bytes.extend_from_slice(format!("{:x};ext=1\r\n", chunk.len()).as_bytes());
            out_bytes.extend_from_slice(chunk);
            out_bytes.extend_from_slice(b"\r\n");
        }
        out_bytes.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
        let _ = out.write_all(&out_bytes);
        return;
    }
    match fault {
        Fault::NoLength => {}
        Fault::ShortLength => head.push_str(&format!("Content-Length: {}\r\n", page.len() - 5)),
        _ => head.push_str(&format!("Content-Length: {}\r\n", page.len())),
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&page);
    if fault == Fault::TrailingCrlf {
        let _ = out.write_all(b"\r\n\r\n");
    }
}

/// The reason of requirement `id`'s failure.
fn reason<'a>(r: &'a Report, id: &str) -> &'a str {
    r.by_id(id)
        .unwrap_or_else(|| panic!("no requirement {id}: {}", r.text()))
        .reason
        .as_deref()
        .unwrap_or("")
}

#[test]
fn our_server_passes_every_requirement() {
    let server = our_server();
    let port = server.addr().port();
    let r = check(port, Duration::from_secs(10));
    assert!(r.all_passed(), "{}", r.text());
    let ids: Vec<&str> = r.requirements.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            PAGE,
            FORM,
            ISILAH,
            HEADERS,
            DECODED,
            AT_ONCE,
            CONTENT_TYPE,
            SPLIT,
            VALID,
            SLOW,
            TRAVERSAL,
            SCRIPT
        ]
    );
    assert!(r
        .text()
        .ends_with("\n6 of 6 required passed; 6 extras (6 passed)\n"));
    // Each required line cites its sentence of ASSIGNMENTS.md (Tugas 8).
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
        r.by_id(ISILAH).unwrap().citation.as_deref(),
        Some("misalkan mengisi “ISILAH” maka server akan mereply dengan “ISILAH” juga , dan bukan ‘kosong’")
    );
}

#[test]
fn a_small_server_done_right_passes_too() {
    let r = check(mini(Fault::None), PATIENT);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn a_chunked_server_passes_too() {
    let r = check(mini(Fault::Chunked), PATIENT);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn a_server_reading_the_form_in_one_segment_passes_every_required_line() {
    let r = check(mini(Fault::OneSegment), PATIENT);
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert!(r.required.all_passed(), "{}", r.text());
    // Only the extras that send a request in pieces fail.
    assert_eq!(r.failed_ids(), [SPLIT, SLOW], "{}", r.text());
    // The slow client's own answer is told apart from the others'.
    assert_eq!(
        reason(&r, SLOW),
        "the slow client got \"HTTP/1.0 404 Not Found\" to GET /sending.html sent in two parts \
         (\"GET /sending.\", then the rest 100 ms later): read the request up to its empty line \
         (\\r\\n\\r\\n), not one recv"
    );
}

#[test]
fn the_course_style_trailing_crlf_fails_only_valid_http_an_extra() {
    let r = check(mini(Fault::TrailingCrlf), PATIENT);
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(r.failed_ids(), [VALID], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        format!(
            "4 more bytes came after the {} that Content-Length announces \
             (response to GET /sending.html)",
            FORM_PAGE.len()
        )
    );
}

#[test]
fn a_server_without_content_type_fails_only_that_extra() {
    let r = check(mini(Fault::NoContentType), PATIENT);
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(r.failed_ids(), [CONTENT_TYPE], "{}", r.text());
    assert_eq!(
        reason(&r, CONTENT_TYPE),
        "no Content-Type header (expected text/html)"
    );
}

#[test]
fn the_kosong_starter_server_fails_the_post_requirements() {
    let r = check(mini(Fault::Kosong), PATIENT);
    assert_eq!(r.exit_code, EXIT_FAILED, "{}", r.text());
    assert_eq!(
        r.failed_ids(),
        [ISILAH, HEADERS, DECODED, SPLIT],
        "{}",
        r.text()
    );
    assert_eq!(
        reason(&r, ISILAH),
        "the answer says \"kosong\", as the starter server did: the form's value is not shown"
    );
    let headers = reason(&r, HEADERS);
    assert!(
        headers.starts_with("the answer does not show the header lines X-Check: progjar-"),
        "{headers}"
    );
    assert!(
        headers.contains(", Content-Type: application/x-www-form-urlencoded, "),
        "{headers}"
    );
}

#[test]
fn a_server_refusing_post_fails_the_post_requirements_not_the_softer_one() {
    let r = check(mini(Fault::NoPost), PATIENT);
    assert_eq!(
        r.failed_ids(),
        [ISILAH, HEADERS, DECODED, SPLIT],
        "{}",
        r.text()
    );
    assert_eq!(
        reason(&r, ISILAH),
        "expected status 200 to POST /sending.html \"kirim=ISILAH\", got \"HTTP/1.0 501 Not Implemented\""
    );
}

#[test]
fn an_undecoding_server_fails_only_the_decoding() {
    let r = check(mini(Fault::Undecoded), PATIENT);
    assert_eq!(r.failed_ids(), [DECODED], "{}", r.text());
    assert_eq!(
        reason(&r, DECODED),
        "the value is shown as sent, \"halo+dunia%21\": `+` is a space and %21 is `!`"
    );
}

#[test]
fn a_server_taking_one_read_as_the_body_fails_only_the_split_extra() {
    let r = check(mini(Fault::OneRead), PATIENT);
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(r.failed_ids(), [SPLIT], "{}", r.text());
    // The server answers after the first piece and closes; the answer is
    // judged if it can still be read (a reset may destroy it).
    let why = reason(&r, SPLIT);
    assert!(
        why.starts_with("the answer does not contain \"TERPISAH-")
            || why.starts_with("cannot send POST /sending.html with the body in 4-byte pieces"),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_without_content_length_fails_only_valid_http() {
    let r = check(mini(Fault::NoLength), PATIENT);
    assert_eq!(r.failed_ids(), [VALID], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        "no Content-Length header in the response to GET /sending.html"
    );
}

#[test]
fn a_server_with_a_wrong_content_length_fails_valid_http() {
    let r = check(mini(Fault::ShortLength), PATIENT);
    assert_eq!(r.failed_ids(), [VALID], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        format!(
            "5 more bytes came after the {} that Content-Length announces \
             (response to GET /sending.html)",
            FORM_PAGE.len() - 5
        )
    );
}

#[test]
fn a_single_threaded_server_fails_only_several_at_once() {
    let r = check(mini(Fault::SingleThreaded), PATIENT);
    assert_eq!(r.failed_ids(), [AT_ONCE], "{}", r.text());
    assert!(
        reason(&r, AT_ONCE).starts_with(
            "connection 1 of 5 (another client's request still incomplete): timed out after 2s \
             waiting for the response to GET /sending.html"
        ),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_that_serves_any_path_fails_the_traversal_extra() {
    let port = mini(Fault::Traversal);
    let r = check(port, PATIENT);
    assert_eq!(r.failed_ids(), [TRAVERSAL], "{}", r.text());
    assert_eq!(r.by_id(TRAVERSAL).unwrap().kind, Kind::Extra);
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    // The first probe is the system file of the OS the check runs on.
    let first = if cfg!(windows) {
        format!(
            "GET /{}Windows/win.ini returned C:\\Windows\\win.ini (\"HTTP/1.0 200 OK\")",
            "../".repeat(16)
        )
    } else {
        format!(
            "GET /{}etc/passwd returned /etc/passwd (\"HTTP/1.0 200 OK\")",
            "../".repeat(8)
        )
    };
    assert!(reason(&r, TRAVERSAL).starts_with(&first), "{}", r.text());
    // --strict: the extras grade too.
    let mut o = CheckOptions::local(port, PATIENT);
    o.strict = true;
    let r = run_check(o, |c| run(c, &Setup::default()));
    assert_eq!(r.exit_code, EXIT_FAILED, "{}", r.text());
    assert_eq!(
        r.first_graded_failure().map(|o| o.id.as_str()),
        Some(TRAVERSAL)
    );
}

#[test]
fn an_unescaping_server_fails_only_the_safety_check() {
    let r = check(mini(Fault::Unescaped), PATIENT);
    assert_eq!(r.failed_ids(), [SCRIPT], "{}", r.text());
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
}

#[test]
fn a_silent_server_fails_everything_by_timeout_quickly() {
    let port = fake_server(silent);
    let r = finishes_within(Duration::from_secs(8), || check(port, SHORT));
    assert_eq!((r.passed, r.failed), (0, 12), "{}", r.text());
    assert!(
        reason(&r, PAGE).starts_with(
            "timed out after 0.3s waiting for the response to GET /sending.html \
             (status line and headers, then \\r\\n\\r\\n)"
        ),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_that_closes_at_once_fails_everything() {
    let port = fake_server(drop);
    let r = check(port, SHORT);
    assert_eq!((r.passed, r.failed), (0, 12), "{}", r.text());
    let why = reason(&r, PAGE);
    assert!(
        why.starts_with("the server closed the connection without sending the response")
            || why.contains("connection reset")
            || why.contains("broken pipe"),
        "{why}"
    );
}

#[test]
fn a_server_that_streams_forever_is_a_bounded_failure() {
    let port = fake_server(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");
        stream_forever(s, &[b'x'; 16 * 1024]);
    });
    let r = finishes_within(Duration::from_secs(20), || check(port, PATIENT));
    assert_eq!(r.passed, 0, "{}", r.text());
    assert!(
        reason(&r, PAGE).starts_with(
            "more than 4194304 bytes of the body of the response to GET /sending.html"
        ),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_answering_garbage_fails_with_the_status_line() {
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"kosong\r\n\r\n");
    });
    let r = check(port, PATIENT);
    assert_eq!(r.passed, 0, "{}", r.text());
    assert_eq!(
        reason(&r, ISILAH),
        "the status line is not HTTP (`HTTP/1.x NNN reason`): \"kosong\""
    );
}

#[test]
fn flags_default_to_the_assignment_address() {
    let (m, o) = parse_options(&CHECK, &[]);
    assert_eq!(
        (o.host.as_str(), o.ports.as_slice()),
        ("127.0.0.1", &[10002][..])
    );
    let s = Setup::from_matches(&m);
    assert_eq!(
        (s.page.as_str(), s.field.as_str()),
        ("/sending.html", "kirim")
    );
    let (m, o) = parse_options(&CHECK, &["--page", "form.html", "--field", "isi", "--json"]);
    let s = Setup::from_matches(&m);
    assert_eq!((s.page.as_str(), s.field.as_str()), ("/form.html", "isi"));
    assert!(o.json);
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}
