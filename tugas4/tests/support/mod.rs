//! Helpers shared by the integration tests: a temp folder per test, the
//! real server started in-process on 127.0.0.1:0, raw wire access.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::stop::Running;
use tugas4::Config;

/// A folder under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("tugas4-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// Names of every entry in the folder, hidden ones included, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the real server on 127.0.0.1:0 serving `dir` (bound before the
/// thread starts, so connecting cannot race); it stops, and joins its
/// threads, when the returned value is dropped.
pub fn start(dir: &Path) -> Running {
    start_with_timeout(dir, Duration::from_secs(10))
}

pub fn start_with_timeout(dir: &Path, timeout: Duration) -> Running {
    start_with(Config {
        timeout,
        ..Config::new(dir)
    })
}

/// Starts the real server with these settings (its host and port unused).
pub fn start_with(config: Config) -> Running {
    common::logging::init_for_tests();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    tugas4::start_server(listener, config).unwrap()
}

/// A raw connection with a read timeout, so a hang fails the test.
pub struct Raw {
    pub reader: BufReader<TcpStream>,
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// Sends `json` followed by the delimiter.
    pub fn send(&mut self, json: &str) {
        self.stream.write_all(json.as_bytes()).unwrap();
        self.stream.write_all(b"\r\n\r\n").unwrap();
    }

    /// Reads one answer; panics if the server closed instead.
    pub fn answer(&mut self) -> serde_json::Value {
        let msg = common::fileproto::read_message(&mut self.reader)
            .expect("read an answer")
            .expect("server closed instead of answering");
        serde_json::from_slice(&msg).expect("answer is JSON")
    }

    pub fn ask(&mut self, json: &str) -> serde_json::Value {
        self.send(json);
        self.answer()
    }

    /// Whether the server closed the connection (EOF before any byte).
    pub fn closed(&mut self) -> bool {
        matches!(self.reader.fill_buf(), Ok(b) if b.is_empty())
    }
}

/// The `message` of an ERROR answer; panics on anything else.
pub fn error_message(v: &serde_json::Value) -> String {
    assert_eq!(v["status"], "ERROR", "expected an ERROR answer, got {v}");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["message", "status"],
        "ERROR answers have exactly status and message"
    );
    v["message"].as_str().unwrap().to_string()
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Waits (at most 10 s) for `cond` to hold, checking every few ms; for
/// effects the server has no way to announce, like removing a temp file
/// after the peer vanished.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
