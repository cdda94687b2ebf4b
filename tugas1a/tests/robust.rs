//! A slow header is cut at the deadline, and a server killed mid-upload
//! leaves nothing behind once it starts again (issue 16).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::net;
use tugas1a::{start_server, Config, Console};

const T: Duration = Duration::from_secs(20);

/// Set in the environment of this test executable when it runs as the
/// child server of [`killed_mid_upload_leaves_no_file_after_restart`].
const CHILD_OUTPUT: &str = "TUGAS1A_TEST_CHILD_SERVER_OUTPUT";

fn temp_dir(tag: &str) -> PathBuf {
    common::testkit::temp_dir(&format!("tugas1a-robust-{tag}"))
}

fn config(output: &Path, timeout: Duration) -> Config {
    Config {
        output: output.to_path_buf(),
        timeout,
        console: std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new())) as Console,
    }
}

/// A client that sends its `FILE` header one byte every 100 ms (each read
/// well within the 1 s timeout) is answered `ERROR` and closed about when
/// the timeout ends, not when it finishes.
#[test]
fn trickled_header_is_cut_at_the_deadline() {
    common::logging::init_for_tests();
    let dir = temp_dir("trickle");
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let addr = listener.local_addr().unwrap();
    let timeout = Duration::from_secs(1);
    let _running = start_server(listener, config(&dir.join("hasil.txt"), timeout)).unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    let started = Instant::now();
    let header = format!("FILE 5 {}.txt\n", "a".repeat(200));
    let mut cut = None;
    for b in header.bytes() {
        if stream.write_all(&[b]).is_err() {
            cut = Some(started.elapsed());
            break;
        }
        // Has the server answered already?
        stream.set_nonblocking(true).unwrap();
        let mut peek = [0u8; 1];
        let answered = stream.peek(&mut peek).is_ok();
        stream.set_nonblocking(false).unwrap();
        if answered {
            cut = Some(started.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(100)); // the trickle's pace
    }
    let cut = cut.expect("the server waited for the whole trickled header (over 20 s)");
    let mut answer = String::new();
    let _ = BufReader::new(&stream).read_line(&mut answer);
    assert!(
        answer.starts_with("ERROR upload failed: timed out"),
        "{answer:?}"
    );
    assert!(cut < timeout + Duration::from_secs(2), "cut after {cut:?}");
    assert!(!dir.join("hasil.txt").exists());
}

/// Not a test on its own: the child server of the next test (runs only
/// with [`CHILD_OUTPUT`] set; prints its port, serves until killed).
#[test]
fn child_server() {
    let Ok(output) = std::env::var(CHILD_OUTPUT) else {
        return;
    };
    let listener = net::bind("127.0.0.1", 0).unwrap();
    println!("\nchild-port {}", listener.local_addr().unwrap().port());
    let shutdown = common::stop::Shutdown::new();
    let _ = tugas1a::run_server(listener, &config(Path::new(&output), T), &shutdown);
}

/// The real server process (this test executable in its child mode) is
/// killed with SIGKILL in the middle of an upload: its temporary file is
/// left behind, and the next start removes it, without a partial
/// `hasil.txt`.
#[test]
#[cfg_attr(
    windows,
    ignore = "needs to ask whether a process runs, which common::files cannot on Windows (there it removes only day-old temp files)"
)]
fn killed_mid_upload_leaves_no_file_after_restart() {
    common::logging::init_for_tests();
    let dir = temp_dir("killed");
    let output = dir.join("hasil.txt");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env(CHILD_OUTPUT, &output)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("child-port ")
                .nth(1)
                .map(|p| p.trim().parse().unwrap())
        })
        .expect("the child server printed its port");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"FILE 1000000 big.bin\n").unwrap();
    stream.write_all(&[7u8; 300_000]).unwrap();
    // Wait (bounded) until the server has written into its temporary file.
    let temp = |dir: &Path| -> Vec<PathBuf> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".part"))
            .collect()
    };
    let until = Instant::now() + T;
    while !temp(&dir)
        .iter()
        .any(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0) > 0)
    {
        assert!(Instant::now() < until, "no temporary file appeared");
        thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert_eq!(temp(&dir).len(), 1, "the kill left its temporary file");
    assert!(!output.exists());
    // The next start cleans up before it serves.
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let running = start_server(listener, config(&output, T)).unwrap();
    assert_eq!(temp(&dir), Vec::<PathBuf>::new());
    assert!(!output.exists());
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    drop(running);
}
