//! The grader's check against our own upload server (all pass) and against
//! deliberately broken servers (the right requirement fails, fast).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::check::{CheckOptions, Report, Status};
use common::net;
use common::stop::Running;
use common::testkit::check::{
    closed_port, fake_server, finishes_within, parse_options, run_check, stream_forever, PATIENT,
    SHORT,
};
use tugas1a::check::{run, CHECK};

fn check(port: u16, timeout: Duration, skip_protocol: bool) -> Report {
    let opts = CheckOptions {
        skip_protocol,
        ..CheckOptions::local(port, timeout)
    };
    run_check(opts, run)
}

/// Our server, saving into a fresh temp folder; returns it (stopped when
/// dropped), its port and the saved file's path.
fn our_server() -> (Running, u16, std::path::PathBuf) {
    common::logging::init_for_tests();
    let dir = common::testkit::temp_dir("tugas1a-check");
    let output = dir.join("hasil.txt");
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = tugas1a::Config {
        console: Arc::new(Mutex::new(Vec::<u8>::new())),
        ..tugas1a::Config::new(&output)
    };
    let server = tugas1a::start_server(listener, config).unwrap();
    (server, port, output)
}

#[test]
fn our_server_passes_every_requirement() {
    let (_server, port, output) = our_server();
    let r = check(port, Duration::from_secs(10), false);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!((r.passed, r.skipped), (8, 0), "{}", r.text());
    // The last requirement uploaded file.txt: that is what the server kept.
    assert_eq!(
        std::fs::read(&output).unwrap(),
        tugas1a::check::TEXT.as_bytes()
    );
    assert!(
        r.notes[0].contains("'FILE <size> <name>\\n'"),
        "{:?}",
        r.notes
    );
}

#[test]
fn skip_protocol_lists_skips_and_checks_the_rest() {
    // A course-style server: reads until the client is done, says nothing, closes.
    let port = fake_server(|mut s| {
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
    });
    let r = check(port, PATIENT, true);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!((r.passed, r.skipped), (2, 6), "{}", r.text());
    let skip = r.find("truncated upload").unwrap();
    assert_eq!(skip.status, Status::Skip);
    assert!(r.text().contains("SKIP  upload of an empty file gets OK: assumes this workspace's protocol (--skip-protocol)"));
    // Without the switch the same server fails the uploads (closing on a
    // truncated upload or a bad header is an acceptable refusal).
    let r = check(port, PATIENT, false);
    assert_eq!(r.passed, 4, "{}", r.text());
    assert_eq!(r.failures().len(), 4, "{}", r.text());
    assert_eq!(
        r.find("text file").unwrap().reason.as_deref(),
        Some("the server closed the connection without sending the 'OK ...' answer")
    );
}

#[test]
fn server_that_says_ok_to_everything_fails_the_truncated_upload() {
    // Answers OK as soon as the header line arrives, whatever follows.
    let port = fake_server(|s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).is_ok() {
            let _ = (&s).write_all(b"OK diterima\n");
        }
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    let r = check(port, PATIENT, false);
    assert_eq!(
        r.failures(),
        [
            "a truncated upload (fewer bytes than announced) gets ERROR or a close, never OK",
            "a malformed header gets ERROR or a close"
        ],
        "{}",
        r.text()
    );
    let o = r.find("truncated").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("the server answered \"OK diterima\" instead of refusing")
    );
    assert!(o
        .sent
        .as_deref()
        .unwrap()
        .starts_with("\"FILE 1000 potong.txt\\nxxxx"));
}

#[test]
fn server_that_never_answers_or_closes_fails_by_timeout() {
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 4096];
        while let Ok(1..) = s.read(&mut buf) {}
        thread::park(); // keeps the connection open after the client is done
    });
    let r = finishes_within(Duration::from_secs(5), || check(port, SHORT, false));
    assert_eq!(r.failures().len(), 7, "{}", r.text());
    assert_eq!(r.requirements[0].status, Status::Pass);
    assert_eq!(
        r.requirements[1].reason.as_deref(),
        Some("timed out after 0.3s waiting for the server to answer and close")
    );
}

#[test]
fn endless_garbage_is_a_bounded_failure() {
    let port = fake_server(|s| stream_forever(s, &[0x5au8; 8192]));
    let r = finishes_within(Duration::from_secs(10), || check(port, SHORT, false));
    assert_eq!(r.failures().len(), 7, "{}", r.text());
    assert_eq!(
        r.requirements[1].reason.as_deref(),
        Some("more than 65536 bytes of the server to answer and close: the server keeps sending")
    );
    assert!(
        r.find("text file")
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .starts_with("no \"\\n\" in the first 4096 bytes"),
        "{}",
        r.text()
    );
}

#[test]
fn nothing_listening_fails_first_with_connection_refused() {
    let port = closed_port();
    let r = check(port, SHORT, false);
    assert_eq!(r.failed, 8);
    assert_eq!(
        r.requirements[0].line(),
        format!("FAIL  server accepts a TCP connection: cannot connect to 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn flags() {
    let (_, o) = parse_options(&CHECK, &["--skip-protocol"]);
    assert_eq!(o.ports, [31100]);
    assert!(o.skip_protocol && !o.json);
    assert!(CHECK.help().contains("--skip-protocol"));
}
