//! The grader's check against our own server (all pass) and against
//! deliberately broken servers (the right requirement fails, fast).

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use common::check::{CheckOptions, Report, Status};
use common::fileproto::{decode_data, encode_data, MAX_MESSAGE};
use common::testkit::check::{
    closed_port, fake_server, finishes_within, parse_options, run_check, silent, PATIENT, SHORT,
};
use serde_json::{json, Value};
use support::{start, TempDir};
use tugas4::check::{run, CHECK};

const CONNECT: &str = "the server accepts a TCP connection";
const LIST: &str =
    "LIST answers OK with a list of files (one JSON object ending in \"\\r\\n\\r\\n\")";
const PUT_GET: &str = "PUT of a small file (3000 bytes), then GET returns the same bytes";
const RANGE: &str = "GET of a byte range (offset 1000, length 100) returns exactly those bytes";
const LISTED: &str = "the new file is in LIST with its size";
const DELETE: &str = "DELETE, then GET gives ERROR";
const MALFORMED: &str =
    "malformed JSON gets an ERROR response, and the server still answers the next request";
const OVERSIZE: &str = "a message over the limit (4194304 bytes) is refused, and nothing is stored";

fn check(port: u16, timeout: Duration, skip_protocol: bool) -> Report {
    let opts = CheckOptions {
        skip_protocol,
        ..CheckOptions::local(port, timeout)
    };
    run_check(opts, run)
}

/// What an in-memory look-alike of our server gets wrong.
#[derive(Clone, Copy, Default)]
struct Bugs {
    /// GET returns the file with its first byte changed.
    flip_get: bool,
    /// Responses end in "\n" instead of "\r\n\r\n".
    newline_only: bool,
    /// No size limit: a huge PUT is stored.
    no_limit: bool,
}

/// A small in-memory server speaking our protocol, with `bugs`.
fn look_alike(bugs: Bugs) -> u16 {
    let files: Mutex<HashMap<String, Vec<u8>>> = Mutex::default();
    fake_server(move |s| serve_look_alike(s, &files, bugs))
}

fn serve_look_alike(mut s: TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>, bugs: Bugs) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut scanned = 0; // bytes of `buf` known not to start the delimiter
    loop {
        let found = buf[scanned..].windows(4).position(|w| w == b"\r\n\r\n");
        let Some(end) = found.map(|i| scanned + i) else {
            scanned = buf.len().saturating_sub(3);
            if buf.len() > MAX_MESSAGE && !bugs.no_limit {
                let _ = s.write_all(b"{\"status\":\"ERROR\",\"message\":\"too big\"}\r\n\r\n");
                return;
            }
            match s.read(&mut chunk) {
                Ok(n @ 1..) => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
            continue;
        };
        let msg: Vec<u8> = buf.drain(..end + 4).take(end).collect();
        scanned = 0;
        let answer = match serde_json::from_slice::<Value>(&msg) {
            Err(_) => json!({"status": "ERROR", "message": "invalid JSON"}),
            Ok(req) => {
                let name = req["name"].as_str().unwrap_or("").to_string();
                let mut files = files.lock().unwrap();
                match req["command"].as_str().unwrap_or("") {
                    "LIST" => {
                        let list: Vec<Value> = files
                            .iter()
                            .map(|(n, d)| json!({"name": n, "size": d.len()}))
                            .collect();
                        json!({"status": "OK", "command": "LIST", "files": list})
                    }
                    "PUT" => {
                        let mut data = Vec::new();
                        decode_data(req["data"].as_str().unwrap_or(""), &mut data).unwrap();
                        files.insert(name, data);
                        json!({"status": "OK", "command": "PUT"})
                    }
                    "GET" => match files.get(&name) {
                        None => json!({"status": "ERROR", "message": "file not found"}),
                        Some(d) => {
                            let off = req["offset"].as_u64().unwrap_or(0) as usize;
                            let len = req["length"].as_u64().map_or(d.len() - off, |l| l as usize);
                            let mut part = d[off..off + len].to_vec();
                            if bugs.flip_get {
                                part[0] ^= 1;
                            }
                            let mut b64 = Vec::new();
                            encode_data(&part, &mut b64);
                            json!({"status": "OK", "command": "GET",
                                   "data": String::from_utf8(b64).unwrap()})
                        }
                    },
                    "DELETE" => {
                        files.remove(&name);
                        json!({"status": "OK", "command": "DELETE"})
                    }
                    _ => json!({"status": "ERROR", "message": "unknown command"}),
                }
            }
        };
        let end: &[u8] = if bugs.newline_only {
            b"\n"
        } else {
            b"\r\n\r\n"
        };
        let mut out = answer.to_string().into_bytes();
        out.extend_from_slice(end);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

#[test]
fn our_server_passes_every_requirement_and_leaves_the_folder_as_it_was() {
    common::logging::init_for_tests();
    let dir = TempDir::new("check");
    std::fs::write(dir.path().join("halo.txt"), "halo dunia\n").unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    let r = check(addr.port(), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(r.passed, 8, "{}", r.text());
    assert!(
        r.text()
            .ends_with("\n8 of 8 required passed; 0 extras (0 passed)\n"),
        "{}",
        r.text()
    );
    assert!(r
        .text()
        .starts_with("note: assumes this workspace's protocol"));
    assert_eq!(dir.entries(), ["halo.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("halo.txt")).unwrap(),
        "halo dunia\n"
    );
}

#[test]
fn our_look_alike_passes_so_the_broken_ones_below_differ_only_by_their_bug() {
    let r = check(look_alike(Bugs::default()), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn wrong_bytes_from_get_fail_the_round_trip_and_the_range() {
    let port = look_alike(Bugs {
        flip_get: true,
        ..Bugs::default()
    });
    let r = check(port, PATIENT, false);
    assert_eq!(r.failures(), [PUT_GET, RANGE], "{}", r.text());
    assert_eq!(
        r.find("PUT of a small file").unwrap().reason.as_deref(),
        Some("the file from GET differs at byte 0 of 3000 (expected \"\\x00\", got \"\\x01\")")
    );
}

#[test]
fn responses_ending_in_a_newline_fail_by_timeout_saying_what_was_missing() {
    let port = look_alike(Bugs {
        newline_only: true,
        ..Bugs::default()
    });
    let r = check(port, SHORT, false);
    assert_eq!(r.passed, 1, "{}", r.text());
    let o = r.find("LIST answers").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some(
            "timed out after 0.3s waiting for the LIST response \
             (a response ends in \"\\r\\n\\r\\n\"; nothing like it came)"
        )
    );
    assert!(
        o.got
            .as_deref()
            .unwrap()
            .starts_with("\"{\\\"command\\\":\\\"LIST\\\""),
        "{o:?}"
    );
}

#[test]
fn a_server_without_a_size_limit_fails_only_the_oversized_message() {
    let port = look_alike(Bugs {
        no_limit: true,
        ..Bugs::default()
    });
    let r = check(port, PATIENT, false);
    assert_eq!(r.failures(), [OVERSIZE], "{}", r.text());
    let o = r.find("over the limit").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("expected an ERROR response to the oversized message")
    );
    assert!(
        o.got
            .as_deref()
            .unwrap()
            .contains("\\\"status\\\":\\\"OK\\\""),
        "{o:?}"
    );
}

#[test]
fn a_silent_server_fails_everything_but_the_connection_fast() {
    let port = fake_server(silent);
    let r = finishes_within(Duration::from_secs(10), || check(port, SHORT, false));
    assert_eq!(r.passed, 1, "{}", r.text());
    assert_eq!(r.find(CONNECT).unwrap().status, Status::Pass);
    assert_eq!(r.failed, 7, "{}", r.text());
    assert!(
        r.find("LIST answers")
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .starts_with("timed out after 0.3s waiting for the LIST response"),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_answering_garbage_fails_with_not_json() {
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 4096];
        while let Ok(1..) = s.read(&mut buf) {
            if s.write_all(b"\xff\xfeHALO\r\n\r\n").is_err() {
                return;
            }
        }
    });
    let r = check(port, SHORT, false);
    assert_eq!(r.passed, 1, "{}", r.text());
    let reason = r.find("LIST answers").unwrap().reason.clone().unwrap();
    assert!(
        reason.starts_with("the LIST response is not valid JSON"),
        "{reason}"
    );
}

#[test]
fn a_server_that_closes_at_once_fails_every_protocol_requirement() {
    let port = fake_server(drop);
    let r = check(port, SHORT, false);
    assert_eq!(
        r.failures(),
        [LIST, PUT_GET, RANGE, LISTED, DELETE, MALFORMED, OVERSIZE],
        "{}",
        r.text()
    );
    let reason = r.find("LIST answers").unwrap().reason.clone().unwrap();
    assert!(
        reason.starts_with("the server closed the connection without sending the LIST response")
            || reason.contains("reset"),
        "{reason}"
    );
    // Closing on the oversized message is a refusal; the GET after it gets no ERROR though.
    assert!(
        r.find(OVERSIZE)
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .contains("the GET of the refused file"),
        "{}",
        r.text()
    );
}

#[test]
fn skip_protocol_checks_only_the_connection() {
    let port = fake_server(drop);
    let r = check(port, SHORT, true);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!((r.passed, r.skipped), (1, 7));
    let closed = closed_port();
    let r = check(closed, SHORT, true);
    assert_eq!(r.failures(), [CONNECT]);
}

#[test]
fn flags_default_to_the_course_port() {
    let (_, o) = parse_options(&CHECK, &[]);
    assert_eq!(
        (o.host.as_str(), o.ports.as_slice()),
        ("127.0.0.1", &[6666][..])
    );
    assert_eq!(o.timeout, Duration::from_secs(5));
    let (_, o) = parse_options(&CHECK, &["--skip-protocol", "--json"]);
    assert!(o.skip_protocol && o.json);
    assert!(CHECK.help().contains("[default: 6666]"));
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}
