//! Limits and bad input: each gets its status, and the server goes on
//! serving everyone else.

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use common::*;
use tugas8::Config;

const MAX_BODY: usize = 1000;
const TIMEOUT: Duration = Duration::from_millis(400);

/// The crate's www/ with a small body cap and a short timeout.
fn start_small() -> ::common::stop::Running {
    start(Config {
        max_body: MAX_BODY,
        timeout: TIMEOUT,
        ..Config::new(tugas8::crate_www())
    })
}

fn post_with_length(len: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\n"
    )
}

#[test]
fn body_over_the_cap_is_413_without_reading_it() {
    let server = start_small();
    let addr = server.addr();
    // Only the head is sent: the answer must not wait for the body.
    let r = exchange(addr, post_with_length(MAX_BODY + 1).as_bytes());
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(r.text().contains("limit of 1000 bytes"), "{}", r.text());
    // A body of exactly the cap is fine.
    let body = format!("kirim={}", "a".repeat(MAX_BODY - 6));
    let r = post_form(addr, "/", &body);
    assert_eq!(r.status, 200);
    assert_still_serving(addr);
}

#[test]
fn big_body_sent_anyway_still_gets_the_413() {
    // A client that sends its whole (too large) body without waiting:
    // the server answers, then reads and drops the rest before closing,
    // so the client reads the 413 rather than a connection reset.
    let server = start_small();
    let addr = server.addr();
    let mut s = connect(addr);
    let len = 200_000;
    s.write_all(post_with_length(len).as_bytes()).unwrap();
    s.write_all(&vec![b'a'; len]).unwrap();
    let r = read_response(&mut BufReader::new(s), false);
    assert_eq!(r.status, 413);
}

#[test]
fn chunked_body_over_the_cap_is_413() {
    let server = start_small();
    let addr = server.addr();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n{}\r\n200\r\n{}\r\n",
        "a".repeat(0x200),
        "b".repeat(0x200)
    );
    let r = exchange(addr, req.as_bytes());
    assert_eq!(r.status, 413);
    assert_still_serving(addr);
}

#[test]
fn head_over_the_cap_is_431() {
    let server = start_small();
    let addr = server.addr();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(common_max_head())
    );
    let r = exchange(addr, req.as_bytes());
    assert_eq!(r.status, 431);
    assert_eq!(
        r.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // Many small headers add up the same way.
    let many: String = (0..2000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = exchange(addr, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes());
    assert_eq!(r.status, 431);
    assert_still_serving(addr);
}

fn common_max_head() -> usize {
    ::common::http::MAX_HEAD
}

#[test]
fn silent_client_gets_408_then_close() {
    let server = start_small();
    let addr = server.addr();
    let started = Instant::now();
    let mut s = connect(addr);
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap(); // the server answers and closes
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(started.elapsed() >= TIMEOUT, "answered before the timeout");
    assert_still_serving(addr);
}

#[test]
fn slow_client_gets_408_even_while_sending() {
    // One byte every 50 ms never leaves a 400 ms silence, but the whole
    // head must arrive within the timeout.
    let server = start_small();
    let addr = server.addr();
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let drip = b"GET / HTTP/1.1\r\nX-Slow: "
        .iter()
        .chain(std::iter::repeat(&b'a'));
    for b in drip {
        if s.write_all(std::slice::from_ref(b)).is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if !got.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no 408 for a slow client"
        );
    }
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    got.extend(rest);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert_still_serving(addr);
}

#[test]
fn body_that_stops_coming_is_408() {
    let server = start_small();
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(post_with_length(100).as_bytes()).unwrap();
    s.write_all(b"kirim=only-a-part").unwrap();
    let r = read_response(&mut BufReader::new(s), false);
    assert_eq!(r.status, 408);
    assert!(r.text().contains("timed out"), "{}", r.text());
}

#[test]
fn idle_keep_alive_connection_is_closed_quietly() {
    let server = start_small();
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(b"GET /teks.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).status, 200);
    // Say nothing more: after the timeout the server closes without a 408.
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

#[test]
fn post_without_length_is_411() {
    let server = start_small();
    let addr = server.addr();
    let r = exchange(addr, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nkirim=x");
    assert_eq!(r.status, 411);
    assert_eq!(r.status_line, "HTTP/1.1 411 Length Required");
    assert_still_serving(addr);
}

#[test]
fn unknown_methods_are_501() {
    let server = start_small();
    let addr = server.addr();
    for method in ["PUT", "DELETE", "OPTIONS", "PATCH", "BREW", "get"] {
        let r = exchange(
            addr,
            format!("{method} / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 501, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, POST"), "{method}");
    }
    // Without a body the connection stays usable after a 501.
    let mut s = connect(addr);
    s.write_all(
        b"DELETE /teks.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /teks.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).status, 501);
    assert_eq!(read_response(&mut r, false).status, 200);
    // An unsupported transfer coding is 501 too.
    let r = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    );
    assert_eq!(r.status, 501);
}

#[test]
fn malformed_requests_are_400() {
    let server = start_small();
    let addr = server.addr();
    let cases: &[&[u8]] = &[
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", // TLS hello bytes
        b"GARBAGE\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n", // HTTP/1.1 without Host
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
    ];
    for req in cases {
        let r = exchange(addr, req);
        assert_eq!(
            r.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(req),
            r.text()
        );
        assert_eq!(r.header("connection"), Some("close"));
    }
    // A bad path is 400 too, but the request itself was framed fine, so the
    // connection may stay open.
    let r = get(addr, "/a%zz");
    assert_eq!(r.status, 400);
    assert_still_serving(addr);
}

#[test]
fn unknown_expectation_is_417() {
    let server = start_small();
    let addr = server.addr();
    let r = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\n",
    );
    assert_eq!(r.status, 417);
}

#[test]
fn client_that_closes_mid_body_does_not_hurt_the_server() {
    let server = start_small();
    let addr = server.addr();
    for cut in [0usize, 1, 50] {
        let mut s = connect(addr);
        s.write_all(post_with_length(100).as_bytes()).unwrap();
        s.write_all(&vec![b'a'; cut]).unwrap();
        drop(s);
    }
    // And one that closes in the middle of its head.
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    drop(s);
    assert_still_serving(addr);
}

#[test]
fn a_slow_client_does_not_delay_others() {
    let server = start(Config {
        timeout: Duration::from_secs(20),
        ..Config::new(tugas8::crate_www())
    });
    let addr = server.addr();
    // Ten connections that say nothing, held open.
    let idle: Vec<_> = (0..10).map(|_| connect(addr)).collect();
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(post_form(addr, "/", "kirim=x").status, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(idle);
}

#[test]
fn stop_returns_with_a_kept_alive_client_connected_and_it_sees_the_close() {
    let server = start_www();
    let addr = server.addr();
    let s = connect(addr);
    (&s).write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(
        (resp.status, resp.header("connection")),
        (200, Some("keep-alive"))
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stopper = std::thread::spawn(move || {
        server.stop();
        let _ = tx.send(());
    });
    // Bounded: a stop that hangs fails here instead of hanging the test.
    rx.recv_timeout(READ_TIMEOUT)
        .expect("stop() did not return");
    stopper.join().unwrap();
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).unwrap(), 0, "{rest:?}");
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs shutdown() to wake a read blocked in another thread (Windows and Wine do not)"
)]
fn stop_returns_with_a_client_in_the_middle_of_its_request() {
    // Half a head: the event loop hands the connection to a thread, which
    // waits for the rest (the timeout is 30 s). The stop must wake it.
    let server = start_www();
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    let deadline = Instant::now() + READ_TIMEOUT;
    while server.shutdown().open_connections() == 0 {
        assert!(
            Instant::now() < deadline,
            "the connection was never accepted"
        );
        std::thread::yield_now();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let stopper = std::thread::spawn(move || {
        server.stop();
        let _ = tx.send(());
    });
    rx.recv_timeout(READ_TIMEOUT)
        .expect("stop() did not return: the thread serving the half request was not woken");
    stopper.join().unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "{rest:?}"
    );
}

#[test]
fn a_silent_client_is_cut_within_the_timeout_plus_a_bounded_delay() {
    // On Linux accepts are deferred until the first bytes come: a client
    // that sends none reaches the server about a second later, and must
    // still get its 408, not hang.
    let server = start_small();
    let addr = server.addr();
    let started = Instant::now();
    let mut s = connect(addr);
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(took < TIMEOUT + Duration::from_secs(5), "took {took:?}");
    // Connections closed without a byte cost nothing either.
    for _ in 0..20 {
        drop(std::net::TcpStream::connect(addr).unwrap());
    }
    assert_still_serving(addr);
}
