//! Helpers shared by the integration tests: start the real server
//! in-process on 127.0.0.1:0, talk raw HTTP over real sockets, make temp
//! folders.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ::common::check::http::read_response as read_one;
use ::common::stop::Running;
use tugas8::{server, Config};

/// How long any test read may block before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the server with `config`; dropping the returned server stops
/// it. The listener is bound before the server thread starts, so
/// connecting cannot race.
pub fn start(config: Config) -> Running {
    ::common::logging::init_for_tests();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    server::start_server(listener, &config).unwrap()
}

/// Starts the server on the crate's own `www/`.
pub fn start_www() -> Running {
    start(Config::new(tugas8::crate_www()))
}

/// A connection with a read timeout, so a hang fails the test.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One parsed response (by `common::check::http::read_response`, the
/// workspace's one HTTP response parser).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `r`: status line, headers (every line ended by
/// CRLF), and a body of exactly Content-Length bytes (none for HEAD when
/// `head` is true), leaving what follows in `r`.
pub fn read_response<R: BufRead>(r: &mut R, head: bool) -> Resp {
    let resp = match read_one(r, head) {
        Ok(Some(resp)) => resp,
        Ok(None) => panic!("the server closed before a response"),
        Err(e) => panic!("{e}"),
    };
    let status_line = resp.status_line.clone().expect("a status line");
    Resp {
        status: resp.status().expect("a status code"),
        status_line,
        headers: resp.headers,
        body: resp.body,
    }
}

/// Sends `request` on a new connection and reads one response, then
/// checks that the server closed the connection if it said so.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let mut r = BufReader::new(s);
    let head = request.starts_with(b"HEAD ");
    let resp = read_response(&mut r, head);
    if resp.header("connection") == Some("close") {
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "bytes after a Connection: close response: {rest:?}"
        );
    }
    resp
}

/// `GET path` with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A urlencoded POST of `body` to `path` with `Connection: close`.
pub fn post_form(addr: SocketAddr, path: &str, body: &str) -> Resp {
    exchange(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// After an error answer the server closes; this checks it is still
/// serving other clients.
pub fn assert_still_serving(addr: SocketAddr) {
    let r = get(addr, "/");
    assert_eq!(r.status, 200, "server no longer serves after an error");
}

/// A temp folder removed when dropped; unique per test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tugas8-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
