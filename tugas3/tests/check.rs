//! The grader's check against our own threaded server (all pass) and
//! against servers that serve one client at a time (the concurrency
//! requirements fail, fast).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::check::{CheckOptions, Report, Status};
use common::net;
use common::testkit::check::{
    fake_server_one_at_a_time, finishes_within, parse_options, run_check, PATIENT,
};
use tugas3::check::{run, Target, CHECK};

/// The timeout for steps meant to time out here: 1 s (not the 0.3 s of
/// `common::testkit::check::SHORT`; the expected messages say "after 1s").
const SHORT: Duration = Duration::from_secs(1);
const CONCURRENT: &str =
    "8 downloads at the same time all complete (all 8 connections open together)";
const SILENT: &str =
    "a silent connection (and one with half a request) does not block another client's download";

/// A served folder with contoh.txt and a 2 MiB besar.bin.
fn folder(tag: &str) -> PathBuf {
    let dir = common::testkit::temp_dir(&format!("tugas3-check-{tag}"));
    fs::write(dir.join("contoh.txt"), b"contoh file untuk Tugas 3\n").unwrap();
    let big: Vec<u8> = (0..2u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(dir.join("besar.bin"), big).unwrap();
    dir
}

fn target(dir: &Path, file: &str) -> Target {
    let path = dir.join(file);
    Target {
        file: file.into(),
        expect: Some((path.display().to_string(), fs::read(&path).unwrap())),
        clients: 8,
    }
}

fn check(port: u16, timeout: Duration, t: &Target) -> Report {
    run_check(CheckOptions::local(port, timeout), |c| run(c, t))
}

#[test]
fn our_server_passes_every_requirement() {
    common::logging::init_for_tests();
    let dir = folder("ours");
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = tugas3::Config {
        dir: dir.clone(),
        timeout: Duration::from_secs(30),
    };
    let _server = tugas3::start_server(listener, config).unwrap();
    for file in ["contoh.txt", "besar.bin"] {
        let r = check(port, Duration::from_secs(20), &target(&dir, file));
        assert!(r.all_passed(), "{}", r.text());
        assert_eq!(r.passed, 8, "{}", r.text());
        assert_eq!(r.find(CONCURRENT).unwrap().status, Status::Pass);
    }
}

#[test]
fn one_connection_at_a_time_fails_both_concurrency_requirements() {
    // Our own protocol code, but in the accept loop's thread: the next
    // client waits until the previous one closes.
    let dir = folder("single");
    let config = tugas3::Config {
        dir: dir.clone(),
        timeout: Duration::from_secs(30),
    };
    let port = fake_server_one_at_a_time(move |s| {
        let _ = tugas3::handle_connection(s, &config);
    });
    let r = finishes_within(Duration::from_secs(10), || {
        check(port, SHORT, &target(&dir, "contoh.txt"))
    });
    let failures = r.failures();
    assert!(failures.contains(&CONCURRENT), "{}", r.text());
    assert!(failures.contains(&SILENT), "{}", r.text());
    assert_eq!(r.requirements[1].status, Status::Pass, "{}", r.text());
    assert_eq!(
        r.find(CONCURRENT).unwrap().reason.as_deref(),
        Some(
            "download 2 of 8: timed out after 1s waiting for \
             the 'OK <size>' line for contoh.txt"
        )
    );
    assert!(r
        .find(SILENT)
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .ends_with("(while a silent connection and a half-sent request are open)"));
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs a blocking send to a closed peer to fail (under Wine it blocks for good)"
)]
fn one_request_then_close_fails_only_the_silent_client_requirement() {
    // Course-style: accept, read one request, answer, close, next.
    let dir = folder("oneshot");
    let served = dir.clone();
    let port = fake_server_one_at_a_time(move |s| {
        let mut line = Vec::new();
        let mut r = BufReader::new((&s).take(4096));
        if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = String::from_utf8_lossy(&line);
        let name = line.trim_end().strip_prefix("GET ").unwrap_or("");
        let answer = match common::files::resolve_in_dir(&served, name)
            .ok()
            .and_then(|p| fs::read(p).ok())
        {
            Some(bytes) => [format!("OK {}\n", bytes.len()).into_bytes(), bytes].concat(),
            None => b"ERROR tidak ada\n".to_vec(),
        };
        let _ = (&s).write_all(&answer);
    });
    let r = check(port, PATIENT, &target(&dir, "besar.bin"));
    assert_eq!(r.failures(), [SILENT], "{}", r.text());
}

#[test]
fn flags() {
    let (m, o) = parse_options(&CHECK, &["--clients", "3"]);
    let t = Target::from_matches(&m).unwrap();
    assert_eq!((t.file.as_str(), t.clients), ("contoh.txt", 3));
    assert_eq!(o.ports, [31300]);
    let m = CHECK.parse(["--clients", "0"].map(String::from)).unwrap();
    assert!(Target::from_matches(&m).is_err());
}
