//! The grader's check against our own download server (all pass) and
//! against deliberately broken servers (the right requirement fails, fast).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use common::check::{CheckOptions, Report, Status};
use common::net;
use common::testkit::check::{
    fake_server, finishes_within, holding_server, parse_options, run_check, stream_forever,
    PATIENT, SHORT,
};
use tugas1b::check::{run, Target, CHECK};
const CONTOH: &[u8] = b"Ini contoh file teks untuk Tugas 1b.\nbaris kedua\n";

/// A served folder holding contoh.txt.
fn folder(tag: &str) -> PathBuf {
    let dir = common::testkit::temp_dir(&format!("tugas1b-check-{tag}"));
    fs::write(dir.join("contoh.txt"), CONTOH).unwrap();
    dir
}

fn target(dir: &std::path::Path) -> Target {
    let path = dir.join("contoh.txt");
    Target {
        file: "contoh.txt".into(),
        expect: Some((path.display().to_string(), fs::read(&path).unwrap())),
    }
}

fn check(port: u16, timeout: Duration, skip_protocol: bool, t: &Target) -> Report {
    let opts = CheckOptions {
        skip_protocol,
        ..CheckOptions::local(port, timeout)
    };
    run_check(opts, |c| run(c, t))
}

/// A one-request-per-connection server answering each request line with
/// `reply(line)`, then closing.
fn fake(reply: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> u16 {
    fake_server(move |s| {
        let mut line = Vec::new();
        let mut r = BufReader::new((&s).take(4096));
        if r.read_until(b'\n', &mut line).is_ok() {
            let line = String::from_utf8_lossy(&line);
            let _ = (&s).write_all(&reply(line.trim_end()));
        }
    })
}

/// `OK <size>\n` and the bytes.
fn ok(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("OK {}\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out
}

/// Serves `dir` the naive way: any name, joined onto the folder as it is.
fn naive(dir: PathBuf, name: &str) -> Vec<u8> {
    match name.strip_prefix("GET ").map(|n| fs::read(dir.join(n))) {
        Some(Ok(bytes)) => ok(&bytes),
        Some(Err(_)) => b"ERROR file not found\n".to_vec(),
        None => b"ERROR bad request\n".to_vec(),
    }
}

#[test]
fn our_server_passes_every_requirement() {
    common::logging::init_for_tests();
    let dir = folder("ours");
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = tugas1b::Config {
        dir: dir.clone(),
        timeout: Duration::from_secs(30),
    };
    let _server = tugas1b::start_server(listener, config).unwrap();
    let r = check(port, Duration::from_secs(10), false, &target(&dir));
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(r.passed, 6, "{}", r.text());
    assert!(r.requirements[2]
        .requirement
        .starts_with("contoh.txt arrives byte for byte as "));
}

#[test]
fn server_that_serves_any_path_fails_the_folder_requirement() {
    let dir = folder("naive");
    let d = dir.clone();
    let port = fake(move |line| naive(d.clone(), line));
    let r = check(port, PATIENT, false, &target(&dir));
    assert_eq!(
        r.failures(),
        ["names outside the served folder are refused (../, /etc/passwd)"],
        "{}",
        r.text()
    );
    let o = r.find("outside").unwrap();
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .starts_with("the server answered \"OK "),
        "{o:?}"
    );
    // The first probe is the system file of the OS the check runs on.
    let first = if cfg!(windows) {
        format!("\"GET {}Windows\\\\win.ini\\n\"", "..\\\\".repeat(16))
    } else {
        "\"GET ../../../../../../../../etc/passwd\\n\"".to_string()
    };
    assert_eq!(o.sent.as_deref(), Some(first.as_str()));
}

/// A server that serves any path but the well-known system files (or runs
/// where they do not exist) is caught by the file the check plants.
#[test]
fn the_planted_file_catches_a_server_without_system_files() {
    let dir = folder("naive-planted");
    let d = dir.clone();
    let port = fake(move |line| {
        if line.contains("passwd") || line.contains("win.ini") {
            b"ERROR file not found\n".to_vec()
        } else {
            naive(d.clone(), line)
        }
    });
    let r = check(port, PATIENT, false, &target(&dir));
    assert_eq!(
        r.failures(),
        ["names outside the served folder are refused (../, /etc/passwd)"],
        "{}",
        r.text()
    );
    let o = r.find("outside").unwrap();
    let sent = o.sent.as_deref().unwrap();
    assert!(
        sent.starts_with("\"GET ../../") && sent.contains("pj-check-outside-"),
        "{sent}"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("(planted by this check)")),
        "{:?}",
        r.notes
    );
}

#[test]
fn different_bytes_fail_the_comparison_only() {
    let dir = folder("differ");
    let port = fake(|line| {
        if line == "GET contoh.txt" {
            let mut wrong = CONTOH.to_vec();
            wrong[4] = b'X';
            ok(&wrong)
        } else if line.starts_with("GET ") {
            b"ERROR file not found\n".to_vec()
        } else {
            Vec::new()
        }
    });
    let r = check(port, PATIENT, false, &target(&dir));
    assert_eq!(r.failures().len(), 1, "{}", r.text());
    let o = &r.requirements[2];
    assert_eq!(o.status, Status::Fail);
    assert_eq!(
        o.reason.as_deref(),
        Some("the file differs at byte 4 of 49 (expected \"c\", got \"X\")")
    );
}

#[test]
fn a_size_that_lies_fails_the_download() {
    let dir = folder("lie");
    let port = fake(|line| {
        if line == "GET contoh.txt" {
            let mut out = format!("OK {}\n", CONTOH.len() + 10).into_bytes();
            out.extend_from_slice(CONTOH);
            out
        } else {
            b"ERROR no\n".to_vec()
        }
    });
    let r = check(port, PATIENT, false, &target(&dir));
    let o = &r.requirements[1];
    assert_eq!(
        o.requirement,
        "GET contoh.txt answers 'OK <size>' and the whole file"
    );
    assert_eq!(
        o.reason.as_deref(),
        Some("the server closed the connection after 49 of 59 bytes of contoh.txt")
    );
    assert_eq!(r.passed, 3, "{}", r.text());
}

#[test]
fn ok_for_a_missing_file_fails_that_requirement() {
    let dir = folder("okmissing");
    let d = dir.clone();
    let port = fake(move |line| {
        let answer = naive(d.clone(), line);
        if answer.starts_with(b"ERROR file not found") {
            b"OK 0\n".to_vec()
        } else {
            answer
        }
    });
    let r = check(port, PATIENT, false, &target(&dir));
    assert!(
        r.failures()
            .contains(&"a file that does not exist gives ERROR"),
        "{}",
        r.text()
    );
    assert_eq!(
        r.find("does not exist").unwrap().reason.as_deref(),
        Some("the server answered \"OK 0\" instead of refusing")
    );
}

#[test]
fn server_that_closes_at_once_fails_all_but_the_connection() {
    let dir = folder("close");
    let port = fake(|_| Vec::new());
    let r = check(port, PATIENT, false, &target(&dir));
    // Closing on a name outside the folder is a refusal: that one passes.
    assert_eq!((r.passed, r.failed), (2, 4), "{}", r.text());
    assert_eq!(
        r.requirements[1].reason.as_deref(),
        Some(
            "the server closed the connection without sending the 'OK <size>' line for contoh.txt"
        )
    );
    // --skip-protocol: only the connection is checked, the rest is listed as skipped.
    let r = check(port, PATIENT, true, &target(&dir));
    assert_eq!((r.passed, r.failed, r.skipped), (1, 0, 5), "{}", r.text());
}

#[test]
fn endless_garbage_is_a_bounded_failure() {
    let dir = folder("garbage");
    let port = fake_server(|s| stream_forever(s, &[0xeeu8; 8192]));
    let r = finishes_within(Duration::from_secs(10), || {
        check(port, SHORT, false, &target(&dir))
    });
    assert_eq!((r.passed, r.failed), (1, 5), "{}", r.text());
    assert!(r.requirements[1]
        .reason
        .as_deref()
        .unwrap()
        .starts_with("no \"\\n\" in the first 4096 bytes"));
}

#[test]
fn silent_server_fails_by_timeout() {
    let dir = folder("silent");
    let port = holding_server();
    let r = check(port, SHORT, false, &target(&dir));
    assert_eq!((r.passed, r.failed), (1, 5), "{}", r.text());
    assert_eq!(
        r.requirements[1].line(),
        "FAIL  GET contoh.txt answers 'OK <size>' and the whole file: timed out after 0.3s \
         waiting for the 'OK <size>' line for contoh.txt (sent \"GET contoh.txt\\n\", got nothing)"
    );
}

#[test]
fn flags_and_a_missing_expect_file() {
    let (m, o) = parse_options(&CHECK, &[]);
    let t = Target::from_matches(&m).unwrap();
    assert_eq!((t.file.as_str(), t.expect.is_none()), ("contoh.txt", true));
    assert_eq!(o.ports, [31200]);
    let m = CHECK
        .parse(["--expect-file", "/nonexistent/contoh.txt"].map(String::from))
        .unwrap();
    let err = Target::from_matches(&m).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot read --expect-file /nonexistent/contoh.txt: no such file or directory"
    );
}
