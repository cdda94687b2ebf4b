//! Helpers shared by the integration tests: start the server in-process,
//! talk raw HTTP over a socket, split responses.
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::check::http::{parse_response, read_response as read_one, Response};
use common::net;
use common::stop::Running;
use tugas6::{Config, Engine};

/// Long enough for a loaded CI machine, short enough that a hang fails.
pub const T: Duration = Duration::from_secs(10);

/// Starts the Tugas 6 server with `engine` on a free port with this
/// per-connection timeout. Dropping the returned server stops it.
pub fn start_engine(engine: Engine, timeout: Duration) -> Running {
    start_engine_with(Config {
        timeout,
        max_connections: 20_000,
        engine,
        ..Config::default()
    })
}

/// Starts the Tugas 6 server with `config` on a free port.
pub fn start_engine_with(config: Config) -> Running {
    common::logging::init_for_tests();
    let listener = net::bind("127.0.0.1", 0).unwrap();
    tugas6::start_server(listener, &config).unwrap()
}

/// Starts the server (its default engine) with this timeout.
pub fn start_with_timeout(timeout: Duration) -> Running {
    start_engine(default_engine(), timeout)
}

/// Starts the server (its default engine) with a 10 s timeout.
pub fn start() -> Running {
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

/// One response taken apart (by `common::check::http::parse_response`,
/// the workspace's one HTTP response parser), with the status line
/// required.
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

impl From<Response> for Parsed {
    fn from(r: Response) -> Parsed {
        Parsed {
            status_line: r.status_line.expect("a status line"),
            headers: r.headers,
            body: r.body,
        }
    }
}

/// Splits the responses in `bytes` (HEAD responses have no body: `heads`
/// lists which ones are answers to HEAD). Panics on anything malformed:
/// lines not ended by CRLF, a bad status or header line, no
/// Content-Length, a body shorter than it says.
pub fn split_responses(mut bytes: &[u8], heads: &[bool]) -> Vec<Parsed> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let head = heads.get(out.len()).copied().unwrap_or(false);
        match parse_response(bytes, head) {
            Ok(Some((r, used))) => {
                out.push(Parsed::from(r));
                bytes = &bytes[used..];
            }
            Ok(None) => panic!("a response cut short: {:?}", String::from_utf8_lossy(bytes)),
            Err(e) => panic!("{e}"),
        }
    }
    out
}

/// The one response in `bytes`.
pub fn parse_one(bytes: &[u8], head: bool) -> Parsed {
    let mut all = split_responses(bytes, &[head]);
    assert_eq!(all.len(), 1, "expected one response");
    all.remove(0)
}

/// Reads exactly one response (not HEAD) off a keep-alive connection,
/// and not a byte more (the reader takes a byte at a time).
pub fn read_response(s: &mut TcpStream) -> Parsed {
    let mut bytewise = BufReader::with_capacity(1, s);
    match read_one(&mut bytewise, false) {
        Ok(Some(r)) => Parsed::from(r),
        Ok(None) => panic!("closed before a response"),
        Err(e) => panic!("{e}"),
    }
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
