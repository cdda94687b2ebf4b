//! The grader's check against our own receivers (all pass) and against
//! deliberately broken ones (the right requirement fails, fast).

mod support;

use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use common::check::{CheckOptions, Report};
use common::stop::Shutdown;
use common::testkit::check::{
    closed_udp_port, finishes_within, parse_options, run_check, PATIENT, SHORT,
};
use support::{receive_options, spawn_receiver, TempDir};
use tugas2::check::{run, test_file, CHECK, FILE_SIZE};
use tugas2::protocol::{Datagram, Message};
use tugas2::simple;

const NUMBERS: &str =
    "datagrams \"ini angka 1\"..\"ini angka 5\" reach the port (no ICMP port unreachable)";
const START: &str = "the START of a small file (2500 bytes) is acknowledged (ACK 0)";
const DONE: &str = "the file's DATA datagrams are acknowledged and the transfer completes (DONE 3)";
const GARBAGE: &str = "garbage datagrams do not stop the receiver: the next transfer completes";

fn check(port: u16, timeout: Duration, skip_protocol: bool) -> Report {
    let opts = CheckOptions {
        skip_protocol,
        ..CheckOptions::local(port, timeout)
    };
    run_check(opts, |c| run(c, 5))
}

/// A receiver on a free port whose every datagram goes to `handler`
/// (with the socket, to answer); it stops when `handler` returns false.
fn fake(handler: fn(&UdpSocket, &[u8], std::net::SocketAddr) -> bool) -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            if !handler(&s, &buf[..n], from) {
                return;
            }
        }
    });
    port
}

#[test]
fn our_fileserver_passes_every_requirement_and_saves_the_file() {
    common::logging::init_for_tests();
    let dir = TempDir::new("check");
    let rx = spawn_receiver(receive_options(&dir));
    let r = check(rx.addr.port(), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(r.passed, 4, "{}", r.text());
    assert!(
        r.text()
            .ends_with("\n3 of 3 required passed; 1 extra (1 passed)\n"),
        "{}",
        r.text()
    );
    // The last transfer (after the garbage) is the file on disk.
    assert_eq!(
        std::fs::read(dir.path().join("data.out")).unwrap(),
        test_file(300)
    );
    let out = rx.out.text();
    assert!(
        out.contains(&format!(
            "receiving check-kecil.bin ({FILE_SIZE} bytes, 3 datagrams)"
        )),
        "{out}"
    );
}

#[test]
fn our_udp_server_passes_with_skip_protocol_and_prints_the_numbers() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    let printer = thread::spawn(move || {
        let mut out = Vec::new();
        simple::run_server(&s, Some(5), &Shutdown::new(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    });
    let r = check(port, PATIENT, true);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!((r.passed, r.skipped), (1, 1), "{}", r.text());
    let printed = printer.join().unwrap();
    for i in 1..=5 {
        assert!(
            printed.contains(&format!("received \"ini angka {i}\"")),
            "{printed}"
        );
    }
    assert!(
        r.text()
            .starts_with("note: the course's udp_server never answers"),
        "{}",
        r.text()
    );
}

#[test]
fn a_printing_server_is_taken_for_the_plain_convention_and_not_failed_without_its_file() {
    // Never answers: the course's udp_server, or a plain file receiver.
    let port = fake(|_, _, _| true);
    let r = finishes_within(Duration::from_secs(5), || check(port, SHORT, false));
    assert_eq!(r.exit_code, 0, "{}", r.text());
    assert_eq!(r.convention.as_deref(), Some(tugas2::check::PLAIN));
    assert!(r.failures().is_empty(), "{}", r.text());
    assert!(r.find("START").is_none(), "{}", r.text());
    let plain = r.by_id("plain-file-arrives").expect("the plain line");
    assert_eq!(plain.status, common::check::Status::Skip, "{}", r.text());
    assert!(
        plain.reason.as_deref().unwrap().contains("--output-file"),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains("1 of 1 required passed; 0 extras (0 passed); 1 skipped"),
        "{}",
        r.text()
    );
}

#[test]
fn a_receiver_that_writes_every_datagram_into_one_file_passes_the_plain_line() {
    // Appends every datagram it gets (the numbers, our STARTs, the file).
    let dir = TempDir::new("appender");
    let path = dir.path().join("hasil.bin");
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    let file = path.clone();
    thread::spawn(move || {
        use std::io::Write;
        let mut out = std::fs::File::create(&file).unwrap();
        let mut buf = [0u8; 65536];
        while let Ok((n, _)) = s.recv_from(&mut buf) {
            out.write_all(&buf[..n]).unwrap();
        }
    });
    let opts = CheckOptions {
        timeout: Duration::from_secs(3),
        ..CheckOptions::local(port, PATIENT)
    };
    let r = run_check(opts, move |c| tugas2::check::run_with(c, 5, Some(path)));
    assert_eq!(r.exit_code, 0, "{}", r.text());
    assert!(
        !r.by_id("plain-file-arrives").unwrap().failed(),
        "{}",
        r.text()
    );
}

#[test]
fn nothing_listening_fails_requirement_one_with_port_unreachable() {
    let port = closed_udp_port();
    let r = check(port, SHORT, false);
    assert_eq!(r.failed, 4, "{}", r.text());
    assert_eq!(r.failures()[0], NUMBERS);
    let reason = r.requirements[0].reason.clone().unwrap();
    assert!(
        reason.starts_with("nothing listens on that UDP port"),
        "{reason}"
    );
    assert!(
        r.find("START")
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .starts_with("nothing listens"),
        "{}",
        r.text()
    );
}

#[test]
fn a_receiver_that_acks_wrongly_is_named() {
    // ACKs START with "5 chunks arrived".
    let port = fake(|s, d, from| {
        if let Ok(d) = Datagram::decode(d) {
            let ack = Message::Ack {
                cumulative: 5,
                sack: Vec::new(),
            };
            let _ = s.send_to(&Datagram::new(d.id, ack).encode(), from);
        }
        true
    });
    let r = check(port, PATIENT, false);
    assert_eq!(r.failures(), [START, DONE, GARBAGE], "{}", r.text());
    assert_eq!(
        r.find("START").unwrap().reason.as_deref(),
        Some("the ACK of START says 5 chunks arrived, but none was sent yet")
    );
}

#[test]
fn a_receiver_that_says_done_with_the_wrong_count_or_garbage_is_named() {
    // Right ACK to START, then DONE 7 for a 3-chunk file.
    let port = fake(|s, d, from| {
        if let Ok(d) = Datagram::decode(d) {
            let reply = match d.msg {
                Message::Start { .. } => Message::Ack {
                    cumulative: 0,
                    sack: Vec::new(),
                },
                _ => Message::Done { count: 7 },
            };
            let _ = s.send_to(&Datagram::new(d.id, reply).encode(), from);
        }
        true
    });
    let r = check(port, PATIENT, false);
    assert_eq!(r.failures(), [DONE, GARBAGE], "{}", r.text());
    assert_eq!(
        r.find("DATA datagrams").unwrap().reason.as_deref(),
        Some("DONE says 7 chunks, but the file has 3")
    );
    // Answers everything with text.
    let port = fake(|s, _, from| s.send_to(b"OK diterima dengan baik", from).is_ok());
    let r = check(port, PATIENT, false);
    assert_eq!(r.failures(), [START, DONE, GARBAGE], "{}", r.text());
    let o = r.find("START").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("waiting for the ACK of START, got a datagram that is not of the protocol: not a tugas2 datagram (bad magic)")
    );
    assert!(o.got.as_deref().unwrap().contains("OK diterima"), "{o:?}");
}

#[test]
fn a_receiver_that_dies_on_garbage_fails_only_the_garbage_requirement() {
    // Our real receiver behind a front that quits at the first non-protocol datagram.
    let dir = TempDir::new("check-dies");
    let rx = spawn_receiver(receive_options(&dir));
    let front = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = front.local_addr().unwrap().port();
    let back = UdpSocket::bind("127.0.0.1:0").unwrap();
    back.connect(rx.addr).unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let mut client = None;
        front
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        back.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        loop {
            if let Ok((n, from)) = front.recv_from(&mut buf) {
                let d = &buf[..n];
                if Datagram::decode(d).is_err() && !d.starts_with(b"ini angka") {
                    return; // "crashes": the port closes
                }
                client = Some(from);
                let _ = back.send(d);
            }
            if let (Ok(n), Some(c)) = (back.recv(&mut buf), client) {
                let _ = front.send_to(&buf[..n], c);
            }
        }
    });
    let r = check(port, PATIENT, false);
    assert_eq!(r.failures(), [GARBAGE], "{}", r.text());
    let reason = r.find("garbage").unwrap().reason.clone().unwrap();
    assert!(
        reason.starts_with("nothing listens")
            || reason.starts_with("timed out after 5s waiting for the ACK of START"),
        "{reason}"
    );
}

#[test]
fn flags_default_to_the_course_port() {
    let (m, o) = parse_options(&CHECK, &[]);
    assert_eq!(
        (o.host.as_str(), o.ports.as_slice()),
        ("127.0.0.1", &[5005][..])
    );
    assert_eq!(o.timeout, Duration::from_secs(5));
    assert_eq!(m.value("count"), "5");
    let (_, o) = parse_options(&CHECK, &["--skip-protocol", "--json", "--count", "3"]);
    assert!(o.skip_protocol && o.json);
    assert!(CHECK.help().contains("[default: 5005]"));
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}

#[test]
fn nothing_listening_is_unreachable_exit_3() {
    let port = closed_udp_port();
    let r = check(port, SHORT, false);
    assert_eq!(r.exit_code, 3, "{}", r.text());
    let line = r.unreachable.clone().unwrap_or_default();
    assert!(line.starts_with("cannot reach the server"), "{line}");
}

#[test]
fn our_protocol_is_named_as_the_convention_found() {
    let dir = TempDir::new("conv");
    let rx = spawn_receiver(receive_options(&dir));
    let r = check(rx.addr.port(), PATIENT, false);
    assert_eq!(
        r.convention.as_deref(),
        Some(tugas2::check::OURS),
        "{}",
        r.text()
    );
}

#[test]
fn a_receiver_of_the_courses_plain_datagrams_is_recognised_and_its_file_checked() {
    let dir = TempDir::new("plaincheck");
    let rx = spawn_receiver(tugas2::receiver::ReceiveOptions {
        plain: Some(Duration::from_millis(300)),
        ..receive_options(&dir)
    });
    let output = dir.path().join("data.out");
    let opts = CheckOptions {
        timeout: Duration::from_secs(3),
        ..CheckOptions::local(rx.addr.port(), PATIENT)
    };
    let path = output.clone();
    let r = run_check(opts, move |c| tugas2::check::run_with(c, 5, Some(path)));
    assert_eq!(
        r.convention.as_deref(),
        Some(tugas2::check::PLAIN),
        "{}",
        r.text()
    );
    let plain = r
        .find("plain datagrams (one byte each)")
        .expect("the plain requirement");
    assert!(!plain.failed(), "{}", r.text());
    // A receiver that writes the wrong bytes fails it.
    let dir2 = TempDir::new("plainwrong");
    let port = fake(|_, _, _| true); // never answers, never writes
    let wrong = dir2.path().join("nothing.out");
    std::fs::write(&wrong, b"not the file").unwrap();
    let opts = CheckOptions {
        timeout: Duration::from_millis(500),
        ..CheckOptions::local(port, SHORT)
    };
    let r = run_check(opts, move |c| tugas2::check::run_with(c, 5, Some(wrong)));
    let plain = r
        .find("plain datagrams (one byte each)")
        .expect("the plain requirement");
    assert!(plain.failed(), "{}", r.text());
    assert!(
        plain.reason.as_deref().unwrap().contains("holds 12 bytes"),
        "{}",
        r.text()
    );
}
