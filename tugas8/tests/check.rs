//! The grader's check against our own server (all pass) and against small
//! servers written here, each broken in one way (the right requirement
//! fails, fast).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::check::{CheckOptions, Report};
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

const GET: &str = "GET /sending.html answers 200 with Content-Type text/html";
const FORM: &str = "/sending.html has a form with method post and an input named kirim";
const ISILAH: &str = "a POST kirim=ISILAH gets back a page with ISILAH (not \"kosong\")";
const HEADERS: &str =
    "the POST answer shows the request's header lines (X-Check, Content-Type, User-Agent, Host, ...)";
const DECODED: &str = "the value is percent-decoded: kirim=halo+dunia%21 shows \"halo dunia!\"";
const SPLIT: &str = "a POST body that arrives in several TCP segments is read whole";
const VALID: &str = "responses are valid HTTP (status line, Content-Length matching the body)";
const TRAVERSAL: &str = "a path-traversal GET does not return /etc/passwd";
const AT_ONCE: &str =
    "several connections at once: 5 requests are answered while another client is still sending";
const SCRIPT: &str =
    "safety (beyond the assignment): a submitted <script> does not come back as HTML (escaped or removed)";

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

fn serve_one(s: TcpStream, fault: Fault) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut out = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if !matches!(r.read_line(&mut line), Ok(1..)) {
            return;
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
        return;
    }
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
    } else {
        "200 OK"
    };
    let mut head = format!("HTTP/1.0 {status}\r\nContent-Type: text/html\r\n");
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
}

fn reason<'a>(r: &'a Report, requirement: &str) -> &'a str {
    r.find(requirement).unwrap().reason.as_deref().unwrap_or("")
}

#[test]
fn our_server_passes_every_requirement() {
    let server = our_server();
    let port = server.addr().port();
    let r = check(port, Duration::from_secs(10));
    assert!(r.all_passed(), "{}", r.text());
    let names: Vec<&str> = r
        .requirements
        .iter()
        .map(|o| o.requirement.as_str())
        .collect();
    assert_eq!(
        names,
        [GET, FORM, ISILAH, HEADERS, DECODED, SPLIT, VALID, TRAVERSAL, AT_ONCE, SCRIPT]
    );
    assert!(r
        .text()
        .ends_with("\n8 of 8 required passed; 2 extras (2 passed)\n"));
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
fn the_kosong_starter_server_fails_the_post_requirements() {
    let r = check(mini(Fault::Kosong), PATIENT);
    assert_eq!(
        r.failures(),
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
        r.failures(),
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
    assert_eq!(r.failures(), [DECODED], "{}", r.text());
    assert_eq!(
        reason(&r, DECODED),
        "the value is shown as sent, \"halo+dunia%21\": `+` is a space and %21 is `!`"
    );
}

#[test]
fn a_server_taking_one_read_as_the_body_fails_the_split() {
    let r = check(mini(Fault::OneRead), PATIENT);
    assert_eq!(r.failures(), [SPLIT], "{}", r.text());
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
    assert_eq!(r.failures(), [VALID], "{}", r.text());
    assert_eq!(
        reason(&r, VALID),
        "no Content-Length header in the response to GET /sending.html"
    );
}

#[test]
fn a_server_with_a_wrong_content_length_fails_valid_http() {
    let r = check(mini(Fault::ShortLength), PATIENT);
    assert_eq!(r.failures(), [VALID], "{}", r.text());
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
    assert_eq!(r.failures(), [AT_ONCE], "{}", r.text());
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
fn a_server_that_serves_any_path_fails_traversal() {
    let r = check(mini(Fault::Traversal), PATIENT);
    assert_eq!(r.failures(), [TRAVERSAL], "{}", r.text());
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
}

#[test]
fn an_unescaping_server_fails_only_the_safety_check() {
    let r = check(mini(Fault::Unescaped), PATIENT);
    assert_eq!(r.failures(), [SCRIPT], "{}", r.text());
}

#[test]
fn a_silent_server_fails_everything_by_timeout_quickly() {
    let port = fake_server(silent);
    let r = finishes_within(Duration::from_secs(8), || check(port, SHORT));
    assert_eq!((r.passed, r.failed), (0, 10), "{}", r.text());
    assert!(
        reason(&r, GET).starts_with(
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
    assert_eq!((r.passed, r.failed), (0, 10), "{}", r.text());
    let why = reason(&r, GET);
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
        reason(&r, GET).starts_with(
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
