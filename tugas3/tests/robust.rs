//! Slow and greedy clients (issue 16) and the course-style bare-name
//! request (issue 14), over real sockets.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use common::net;
use common::stop::{Running, Shutdown};
use tugas3::{run_server, Config};

const T: Duration = Duration::from_secs(20);

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("files")
}

/// The server on the crate's samples, at most `cap` clients at once.
fn start(timeout: Duration, cap: usize) -> (Running, SocketAddr) {
    common::logging::init_for_tests();
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        dir: samples().canonicalize().unwrap(),
        timeout,
    };
    let shutdown = Shutdown::with_max_connections(cap);
    let running = Running::spawn(listener, shutdown, move |listener, shutdown| {
        run_server(listener, &config, &shutdown)
    })
    .unwrap();
    (running, addr)
}

/// Sends `bytes` one at a time, `pace` apart, until the server answers or
/// closes; returns when that happened (since the first byte) and what it sent.
fn trickle(addr: SocketAddr, bytes: &[u8], pace: Duration) -> (Duration, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    let started = Instant::now();
    for b in bytes {
        if stream.write_all(&[*b]).is_err() {
            break;
        }
        stream.set_nonblocking(true).unwrap();
        let answered = !matches!(stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        stream.set_nonblocking(false).unwrap();
        if answered {
            break;
        }
        thread::sleep(pace); // the trickle's pace
    }
    let cut = started.elapsed();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    (cut, got)
}

/// A `GET` line sent one byte every 100 ms (each read well within the 1 s
/// timeout) is answered `ERROR` and closed when the timeout ends.
#[test]
fn trickled_request_is_cut_at_the_deadline() {
    let timeout = Duration::from_secs(1);
    let (_running, addr) = start(timeout, 64);
    let line = format!("GET {}.txt\n", "a".repeat(100));
    let (cut, got) = trickle(addr, line.as_bytes(), Duration::from_millis(100));
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.starts_with("ERROR bad request: request not complete within 1 s of its first byte"),
        "{got:?}"
    );
    assert!(cut < timeout + Duration::from_secs(2), "cut after {cut:?}");
}

/// The course's client: the bare name with no line end, then it waits for
/// the bytes until the server closes.
#[test]
fn bare_name_without_line_end_gets_the_raw_bytes_and_the_close() {
    let (_running, addr) = start(T, 64);
    for name in ["contoh.txt", "gambar.png"] {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(T)).unwrap();
        stream.write_all(name.as_bytes()).unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        assert_eq!(got, fs::read(samples().join(name)).unwrap(), "{name}");
    }
}

/// The name with a line end, and the name then a half-close, are bare
/// names too; a missing one gets an `ERROR` line and the close.
#[test]
fn bare_name_with_line_end_or_half_close_and_a_missing_one() {
    let (_running, addr) = start(T, 64);
    let want = fs::read(samples().join("contoh.txt")).unwrap();
    let ask = |bytes: &[u8], half_close: bool| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(T)).unwrap();
        stream.write_all(bytes).unwrap();
        if half_close {
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        got
    };
    assert_eq!(ask(b"contoh.txt\n", false), want);
    assert_eq!(ask(b"contoh.txt\r\n", false), want);
    assert_eq!(ask(b"contoh.txt", true), want);
    assert_eq!(
        ask(b"tidak-ada.txt", false),
        b"ERROR file not found: tidak-ada.txt\n"
    );
    assert!(ask(b"../../../../etc/passwd", false).starts_with(b"ERROR refused"));
    // Our protocol on the same server, after all that.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"GET contoh.txt\n").unwrap();
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, format!("OK {}\n", want.len()));
}

/// More trickling connections than the cap: they are cut at the deadline,
/// so a normal client trying again gets its file within a few seconds
/// (the one-off run at 4200 against the release binary is in the README).
#[test]
fn trickling_flood_past_the_cap_does_not_lock_a_client_out() {
    let timeout = Duration::from_secs(2);
    let cap = 40;
    let (_running, addr) = start(timeout, cap);
    // One thread keeps 60 connections trickling "GET " and a name, a
    // byte each every 300 ms: each read is within the timeout, the line never ends.
    // They connect first, so the cap is full before the client tries.
    let mut conns: Vec<TcpStream> = (0..60).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 200 {
                let b = b"GET aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[i.min(45)];
                conns.retain_mut(|c| c.write_all(&[b]).is_ok());
                i += 1;
                thread::sleep(Duration::from_millis(300)); // the trickle's pace
            }
            conns.len()
        })
    };
    let started = Instant::now();
    let mut served = None;
    let mut refused = 0;
    while started.elapsed() < Duration::from_secs(15) {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"GET contoh.txt\n");
        let mut line = String::new();
        let _ = BufReader::new(&stream).read_line(&mut line);
        if line.starts_with("OK ") {
            served = Some(started.elapsed());
            break;
        }
        refused += 1;
        thread::sleep(Duration::from_millis(100)); // the client's retry pace
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = flood.join();
    let served = served.expect("a normal client was locked out for 15 s");
    assert!(refused > 0, "the flood did not fill the cap");
    assert!(
        served < Duration::from_secs(8),
        "served after {served:?} ({refused} refused)"
    );
}

/// `--out` makes only its last folder: a missing parent is a clear error
/// and nothing is made.
#[test]
fn out_into_a_missing_folder_fails_clearly() {
    let root = common::testkit::temp_dir("tugas3-missing-out");
    let deep = root.join("no-such-dir/downloads");
    let err = tugas3::prepare_out_dir(&deep).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot save into {}: the folder {} does not exist",
            deep.display(),
            root.join("no-such-dir").display()
        )),
        "{err}"
    );
    assert!(!root.join("no-such-dir").exists());
    let last = root.join("downloads");
    tugas3::prepare_out_dir(&last).unwrap();
    assert!(last.is_dir());
    tugas3::prepare_out_dir(&last).unwrap();
}
