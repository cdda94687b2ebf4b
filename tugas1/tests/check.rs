//! The grader's check against our own echo server (all pass) and against
//! deliberately broken echo servers (the right requirement fails, fast).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::check::{CheckOptions, Kind, Report, Status, EXIT_PASSED};
use common::net;
use common::testkit::check::{
    closed_port, fake_server, fake_server_one_at_a_time, finishes_within, parse_options, run_check,
    silent, stream_forever, PATIENT, SHORT,
};
use tugas1::check::{run, CHECK};

fn check(ports: Vec<u16>, timeout: Duration) -> Report {
    let first = ports[0];
    run_check(
        CheckOptions {
            ports,
            ..CheckOptions::local(first, timeout)
        },
        run,
    )
}

/// Reads everything and answers each read with `reply(data)`.
fn answer_each_read(mut s: TcpStream, reply: fn(&[u8]) -> Vec<u8>) {
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        if s.write_all(&reply(&buf[..n])).is_err() {
            return;
        }
    }
}

#[test]
fn our_server_passes_every_requirement_on_three_ports() {
    common::logging::init_for_tests();
    let listeners: Vec<TcpListener> = (0..3).map(|_| net::bind("127.0.0.1", 0).unwrap()).collect();
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect::<Vec<_>>();
    let server = tugas1::start_server(listeners, tugas1::Config::default()).unwrap();
    let r = check(ports.clone(), Duration::from_secs(10));
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(r.passed, 8, "{}", r.text());
    for p in ports {
        assert_eq!(
            r.find(&format!("port {p} echoes")).unwrap().status,
            Status::Pass
        );
    }
    assert!(r
        .text()
        .ends_with("\n7 of 7 required passed; 1 extra (1 passed)\n"));
    server.stop();
}

#[test]
fn uppercasing_server_fails_the_byte_values() {
    let port = fake_server(|s| answer_each_read(s, |d| d.to_ascii_uppercase()));
    let r = check(vec![port], PATIENT);
    // The course's message is upper case already: only lower-case data shows it.
    assert_eq!(
        r.failures(),
        [
            "every byte value 0-255 comes back unchanged",
            "two clients at once: the second is answered while the first stays connected"
        ],
        "{}",
        r.text()
    );
    let o = r.find("every byte value").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("the echo of bytes 0-255 differs at byte 97 of 1024 (expected \"a\", got \"A\")")
    );
    assert!(
        o.sent.as_deref().unwrap().starts_with("\"\\x00\\x01"),
        "{o:?}"
    );
}

#[test]
fn silent_server_fails_everything_by_timeout() {
    let port = fake_server(silent);
    let r = finishes_within(Duration::from_secs(5), || check(vec![port], SHORT));
    assert_eq!(r.passed, 0, "{}", r.text());
    assert_eq!(r.failed, 6);
    let first = &r.requirements[0];
    assert_eq!(
        first.line(),
        format!(
            "FAIL  server on port {port} echoes \"PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\": \
             timed out after 0.3s waiting for the echo \
             (sent \"PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\", got nothing)"
        )
    );
}

#[test]
fn server_that_closes_at_once_fails_everything() {
    let port = fake_server(drop);
    let r = check(vec![port], SHORT);
    assert_eq!(r.passed, 0, "{}", r.text());
    let reason = r.requirements[0].reason.clone().unwrap();
    assert!(
        reason.contains("closed the connection after 0 of 39 bytes")
            || reason.contains("connection reset"),
        "{reason}"
    );
}

#[test]
fn server_echoing_only_ten_bytes_fails_with_the_count() {
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 64];
        let mut echoed = 0;
        while let Ok(n @ 1..) = s.read(&mut buf) {
            let k = n.min(10 - echoed);
            if s.write_all(&buf[..k]).is_err() {
                return;
            }
            echoed += k;
        }
    });
    let r = check(vec![port], SHORT);
    assert_eq!(r.passed, 0, "{}", r.text());
    let o = &r.requirements[0];
    assert_eq!(
        o.reason.as_deref(),
        Some("timed out after 0.3s waiting for the echo (got 10 of 39 bytes)")
    );
    assert_eq!(o.got.as_deref(), Some("\"PEMROGRAMA\""));
}

#[test]
fn endless_garbage_is_a_bounded_failure() {
    let port = fake_server(|s| {
        let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
        stream_forever(s, &junk);
    });
    let r = finishes_within(Duration::from_secs(10), || check(vec![port], SHORT));
    assert_eq!(r.passed, 0, "{}", r.text());
    assert!(
        r.requirements[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("the echo differs at byte 0"),
        "{}",
        r.text()
    );
}

#[test]
fn single_threaded_server_fails_only_two_clients_at_once() {
    // One client at a time.
    let port = fake_server_one_at_a_time(|s| answer_each_read(s, |d| d.to_vec()));
    let r = check(vec![port], PATIENT);
    assert_eq!(
        r.failures(),
        ["two clients at once: the second is answered while the first stays connected"],
        "{}",
        r.text()
    );
    assert_eq!(
        r.find("two clients").unwrap().reason.as_deref(),
        Some(
            "timed out after 5s waiting for the echo on the second connection \
             (the first is still open)"
        )
    );
    // That line is an extra: every required line passed, each citing the
    // assignment, and the exit code says so.
    let two = r.by_id("two-clients").unwrap();
    assert_eq!((two.kind, two.status), (Kind::Extra, Status::Fail));
    assert_eq!(r.required.passed, r.required.total, "{}", r.text());
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    for o in r.requirements.iter().filter(|o| o.kind == Kind::Required) {
        assert!(o.citation.is_some(), "{} cites nothing", o.id);
    }
    assert!(r
        .text()
        .ends_with("5 of 5 required passed; 1 extra (0 passed)\n"));
}

#[test]
fn nothing_listening_fails_with_connection_refused() {
    let port = closed_port();
    let r = check(vec![port], SHORT);
    assert_eq!(r.failed, 6);
    assert_eq!(
        r.requirements[0].reason.as_deref(),
        Some(format!("cannot connect to 127.0.0.1:{port}: connection refused").as_str())
    );
}

#[test]
fn flags_default_to_the_three_course_ports() {
    let (_, o) = parse_options(&CHECK, &[]);
    assert_eq!(o.ports, [31000, 31001, 31002]);
    assert_eq!(o.timeout, Duration::from_secs(5));
    let (_, o) = parse_options(&CHECK, &["--port", "5", "--json", "--timeout", "1"]);
    assert_eq!((o.ports.as_slice(), o.json), (&[5][..], true));
    assert!(CHECK.help().contains("[default: 31000,31001,31002]"));
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}

/// The steps after the echoes run on every port that answered: a server
/// on the second port that stops listening after its echo fails them with
/// the port named and says it died in an earlier step.
#[test]
fn later_steps_run_on_every_answering_port_and_say_when_one_died() {
    let good = fake_server(|s| answer_each_read(s, |d| d.to_vec()));
    let once = TcpListener::bind("127.0.0.1:0").unwrap();
    let dies = once.local_addr().unwrap().port();
    thread::spawn(move || {
        // Echoes one client, then the "server" is gone: the listener closes
        // at once, so a later connect is refused (not queued and then reset).
        let accepted = once.accept();
        drop(once);
        if let Ok((s, _)) = accepted {
            answer_each_read(s, |d| d.to_vec());
        }
    });
    let r = check(vec![good, dies], PATIENT);
    assert_eq!(
        r.by_id(&format!("echo-{good}")).unwrap().status,
        Status::Pass
    );
    assert_eq!(
        r.by_id(&format!("echo-{dies}")).unwrap().status,
        Status::Pass
    );
    let bytes = r.by_id("bytes").unwrap();
    assert_eq!(bytes.status, Status::Fail, "{}", r.text());
    let reason = bytes.reason.as_deref().unwrap();
    assert!(
        reason.starts_with(&format!("cannot connect to 127.0.0.1:{dies}"))
            && reason.ends_with(&format!(
                "(port {dies} answered earlier in this check: the server died or \
                 stopped listening during an earlier step)"
            )),
        "{reason}"
    );
    assert!(
        r.text()
            .contains("ASSIGNMENTS.md: \"Jalankan program client.py untuk konek ke server"),
        "{}",
        r.text()
    );
}
