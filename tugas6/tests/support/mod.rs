//! Helpers shared by the integration tests: start the server in-process,
//! talk raw HTTP over a socket, split responses.
#![allow(dead_code)] // each test file uses a different part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::net::{self, ServeOptions};
use tugas6::Engine;

/// Long enough for a loaded CI machine, short enough that a hang fails.
pub const T: Duration = Duration::from_secs(10);

/// Starts the Tugas 6 server with `engine` on a free port with this
/// per-connection timeout.
pub fn start_engine(engine: Engine, timeout: Duration) -> SocketAddr {
    let opts = ServeOptions {
        timeout,
        max_connections: 20_000,
        ..ServeOptions::default()
    };
    start_engine_with(engine, opts)
}

/// Starts the Tugas 6 server with `engine` and `opts` on a free port.
pub fn start_engine_with(engine: Engine, opts: ServeOptions) -> SocketAddr {
    common::logging::init_for_tests();
    let listener = net::bind("127.0.0.1", 0).unwrap();
    tugas6::spawn_server(listener, opts, engine).unwrap()
}

/// Starts the server (its default engine) with this timeout.
pub fn start_with_timeout(timeout: Duration) -> SocketAddr {
    start_engine(default_engine(), timeout)
}

/// Starts the server (its default engine) with a 10 s timeout.
pub fn start() -> SocketAddr {
    start_with_timeout(T)
}

/// The engine the `server` binary uses when not told.
pub fn default_engine() -> Engine {
    tugas6::Engine::DEFAULT_NAME.parse().unwrap()
}

/// A connection with read and write timeouts set.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.set_write_timeout(Some(T)).unwrap();
    s
}

/// Sends `request` and reads until the server closes.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// One response taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Parsed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn status(&self) -> u16 {
        self.status_line.split(' ').nth(1).unwrap().parse().unwrap()
    }
}

/// Splits the responses in `bytes` (HEAD responses have no body: `heads`
/// lists which ones are answers to HEAD). Panics on anything malformed.
pub fn split_responses(mut bytes: &[u8], heads: &[bool]) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut i = 0;
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(bytes)));
        let head = std::str::from_utf8(&bytes[..end]).unwrap();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_string();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                (n.to_string(), v.to_string())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "Content-Length")
            .expect("Content-Length")
            .1
            .parse()
            .unwrap();
        let body_len = if heads.get(i).copied().unwrap_or(false) {
            0
        } else {
            len
        };
        let body = bytes[end + 4..end + 4 + body_len].to_vec();
        bytes = &bytes[end + 4 + body_len..];
        out.push(Parsed {
            status_line,
            headers,
            body,
        });
        i += 1;
    }
    out
}

/// The one response in `bytes`.
pub fn parse_one(bytes: &[u8], head: bool) -> Parsed {
    let mut all = split_responses(bytes, &[head]);
    assert_eq!(all.len(), 1, "expected one response");
    all.remove(0)
}

/// Reads exactly one response (not HEAD) off a keep-alive connection.
pub fn read_response(s: &mut TcpStream) -> Parsed {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "closed in the middle of a head"
        );
        buf.push(byte[0]);
    }
    let head = parse_one(&buf, true);
    let len: usize = head.header("Content-Length").unwrap().parse().unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    Parsed { body, ..head }
}

/// A folder of its own under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("tugas6-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
