//! Helpers shared by the integration tests: a real server in-process on
//! 127.0.0.1:0 and a raw connection that reads whole responses.
#![allow(dead_code)]

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::chat::{self, Response};
use common::framing;
use common::stop::Running;
use tugas5::{ChatServer, Config};

/// How long any test read may wait before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts a chat server with the built-in users; it stops (and joins its
/// threads) when the returned value is dropped.
pub fn start() -> Running {
    start_with(ChatServer::with_builtin_users(), Duration::from_secs(30))
}

/// Starts a chat server with the given state and connection timeout.
pub fn start_with(chat: ChatServer, timeout: Duration) -> Running {
    common::logging::init_for_tests();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config {
        timeout,
        ..Config::default()
    };
    tugas5::start_server(listener, Arc::new(chat), config).unwrap()
}

/// A raw connection speaking the wire format.
pub struct Conn {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// Sends raw bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Reads one response's raw bytes, `\r\n\r\n` included.
    pub fn read_raw(&mut self) -> String {
        let body = framing::read_delimited(&mut self.reader, &[chat::RESPONSE_END], 1 << 20)
            .unwrap()
            .expect("server closed instead of answering");
        let mut s = String::from_utf8(body).unwrap();
        s.push_str("\r\n\r\n");
        s
    }

    /// Sends a line (`\r\n` added) and returns the raw response.
    pub fn raw(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.read_raw()
    }

    /// Sends a line and returns the decoded response.
    pub fn req(&mut self, line: &str) -> Response {
        let raw = self.raw(line);
        Response::from_slice(raw.as_bytes()).unwrap()
    }

    /// Logs in and returns the token.
    pub fn login(&mut self, user: &str) -> String {
        match self.req(&format!("auth {user} surabaya")) {
            Response::Token(t) => t,
            other => panic!("login {user}: {other:?}"),
        }
    }

    /// Reads until the server closes; returns what came.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).unwrap();
        rest
    }
}

/// The exact bytes of an error response.
pub fn error_bytes(message: &str) -> String {
    format!("{{\"status\": \"ERROR\", \"message\": \"{message}\"}}\r\n\r\n")
}
