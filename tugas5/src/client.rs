//! A connection to the chat server: send a [`Request`], get its [`Reply`]
//! (any course-style answer, read leniently; its strict [`Response`] when it
//! has one of those shapes).

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

#[cfg(doc)]
use common::chat::Response;
use common::chat::{read_reply, Reply, Request};
use common::error::{io_cause, AppError};
use common::framing::FrameError;
use common::net::{self as cnet, join_host_port};

/// One client connection, reopened once if the server has closed it.
///
/// The server drops a connection that stays silent longer than its
/// `--timeout` (30 s by default), and a person at the prompt may well think
/// longer than that. Sessions belong to tokens, not connections, so the
/// client opens a new connection and sends the request again. That is
/// safe because the server only closes while it waits for a request: a
/// close seen before the first byte of the answer means the request was
/// never read.
#[derive(Debug)]
pub struct ChatClient {
    host: String,
    port: u16,
    timeout: Duration,
    conn: Option<Connection>,
}

#[derive(Debug)]
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// How one attempt at a request failed.
enum Attempt {
    /// The connection was closed before any answer came: try a new one.
    Closed(io::Error),
    /// Anything else: report it.
    Failed(AppError),
}

impl ChatClient {
    /// Connects to the server.
    ///
    /// # Errors
    /// An [`AppError`] such as "cannot connect to 127.0.0.1:8889: connection
    /// refused (is the server running on 127.0.0.1:8889?)".
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<ChatClient, AppError> {
        let mut client = ChatClient {
            host: host.to_string(),
            port,
            timeout,
            conn: None,
        };
        client.open()?;
        Ok(client)
    }

    /// The server's address as given.
    pub fn address(&self) -> String {
        join_host_port(&self.host, self.port)
    }

    fn open(&mut self) -> Result<&mut Connection, AppError> {
        let stream = cnet::connect(&self.host, self.port, self.timeout)?;
        let _ = stream.set_nodelay(true);
        let reader = stream.try_clone().map_err(|e| {
            AppError::io(
                format!("cannot use the connection to {}", self.address()),
                &e,
            )
        })?;
        Ok(self.conn.insert(Connection {
            reader: BufReader::new(reader),
            writer: stream,
        }))
    }

    /// Sends one request and reads its response.
    ///
    /// # Errors
    /// An [`AppError`] when the server cannot be reached, closes twice in a
    /// row, does not answer within the timeout, or sends something that is
    /// not JSON. An `ERROR` status is a normal [`Reply`] (`ok` false), and
    /// so is any JSON answer of an unexpected shape.
    pub fn request(&mut self, req: &Request) -> Result<Reply, AppError> {
        let line = req.to_line();
        match self.attempt(line.as_bytes()) {
            Ok(r) => Ok(r),
            Err(Attempt::Failed(e)) => Err(e),
            Err(Attempt::Closed(first)) => {
                log::debug!(
                    "server closed the connection ({}); reconnecting",
                    io_cause(&first)
                );
                self.conn = None;
                self.open()?;
                match self.attempt(line.as_bytes()) {
                    Ok(r) => Ok(r),
                    Err(Attempt::Failed(e)) => Err(e),
                    Err(Attempt::Closed(e)) => {
                        self.conn = None;
                        Err(AppError::new(
                            format!("connection to {} lost", self.address()),
                            io_cause(&e),
                        )
                        .hint("the server closed the connection without answering"))
                    }
                }
            }
        }
    }

    fn attempt(&mut self, line: &[u8]) -> Result<Reply, Attempt> {
        let address = self.address();
        let timeout = self.timeout;
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => self.open().map_err(Attempt::Failed)?,
        };
        if let Err(e) = conn.writer.write_all(line) {
            return Err(if is_closed(&e) {
                Attempt::Closed(e)
            } else {
                Attempt::Failed(AppError::io(format!("cannot send to {address}"), &e))
            });
        }
        // Look at the first byte of the answer before reading it whole, to
        // tell "closed before answering" (safe to retry) from "closed in the
        // middle of an answer" (not).
        match conn.reader.fill_buf() {
            Ok([]) => return Err(Attempt::Closed(io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => {}
            Err(e) if is_closed(&e) => return Err(Attempt::Closed(e)),
            Err(e) => {
                return Err(Attempt::Failed(read_error(
                    &address,
                    timeout,
                    FrameError::Io(e),
                )))
            }
        }
        match read_reply(&mut conn.reader) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(Attempt::Closed(io::ErrorKind::UnexpectedEof.into())),
            Err(e) => {
                self.conn = None;
                Err(Attempt::Failed(read_error(&address, timeout, e)))
            }
        }
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

fn read_error(address: &str, timeout: Duration, e: FrameError) -> AppError {
    let what = format!("no answer from {address}");
    if e.is_timeout() {
        AppError::new(what, format!("timed out after {} s", timeout.as_secs_f64()))
            .hint("is the server busy or stopped? try a larger --timeout")
    } else {
        AppError::new(what, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn reconnects_once_when_the_server_closed_an_idle_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            // First connection: closed without reading, as after an idle timeout.
            let (first, _) = listener.accept().unwrap();
            drop(first);
            // Second: answer one request.
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"inbox t\r\n");
            s.write_all(b"{\"status\": \"OK\", \"messages\": {}}\r\n\r\n")
                .unwrap();
        });
        let mut c = ChatClient::connect("127.0.0.1", port, Duration::from_secs(5)).unwrap();
        let r = c
            .request(&Request::Inbox {
                tokenid: "t".into(),
            })
            .unwrap();
        assert_eq!(
            r.response,
            Some(common::chat::Response::Inbox(Default::default()))
        );
        server.join().unwrap();
    }

    #[test]
    fn a_silent_server_gives_a_timeout_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut c = ChatClient::connect("127.0.0.1", port, Duration::from_millis(300)).unwrap();
        let (_held, _) = listener.accept().unwrap();
        let err = c
            .request(&Request::Users {
                tokenid: "t".into(),
            })
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("no answer from 127.0.0.1:{port}: timed out")),
            "{err}"
        );
    }
}
