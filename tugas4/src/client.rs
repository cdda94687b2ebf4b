//! A client for the protocol: one connection, any number of requests.
//!
//! Big files go in pieces of at most [`MAX_CHUNK`] bytes. To keep the
//! link busy while each side encodes and decodes base64, the client keeps
//! a few requests in flight ([`Client::window`]): it sends the next piece
//! before the answer to the previous one has arrived. The server answers
//! in order, so the answers are matched to the requests by position.

use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::error::{io_cause, AppError};
use common::fileproto::{
    check_name, decode_data, decode_data_to, encode_put, read_message, DecodeToError, FileInfo,
    Request, Response, MAX_CHUNK,
};
use common::framing::FrameError;

/// Requests in flight at once during `get` and `put`.
pub const DEFAULT_WINDOW: usize = 4;

/// Why a client operation failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered `ERROR`; this is its message, shown as
    /// `error: <message>`.
    Server(String),
    /// Anything else: connection, local file, protocol trouble.
    App(AppError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Server(m) => f.write_str(m),
            ClientError::App(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<AppError> for ClientError {
    fn from(e: AppError) -> Self {
        ClientError::App(e)
    }
}

/// A connection to the file server.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    peer: String,
    /// The message being sent, reused.
    out: Vec<u8>,
    /// File bytes of one piece, reused.
    data: Vec<u8>,
    /// File bytes per `PUT`/`GET` piece, at most [`MAX_CHUNK`].
    pub chunk: usize,
    /// Requests in flight at once (1 = wait for each answer).
    pub window: usize,
}

impl Client {
    /// Connects to `host:port`; `timeout` bounds the connect and every
    /// later read and write.
    ///
    /// # Errors
    /// An [`AppError`] naming the address ("is the server running ...?").
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Client, AppError> {
        let stream = common::net::connect(host, port, timeout)?;
        Client::new(stream).map_err(|e| AppError::io("cannot set up the connection", &e))
    }

    /// Wraps a connected stream.
    ///
    /// # Errors
    /// If the stream cannot be cloned for reading.
    pub fn new(stream: TcpStream) -> io::Result<Client> {
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "the server".into());
        let _ = stream.set_nodelay(true);
        Ok(Client {
            reader: BufReader::with_capacity(256 * 1024, stream.try_clone()?),
            writer: stream,
            peer,
            out: Vec::new(),
            data: Vec::new(),
            chunk: MAX_CHUNK,
            window: DEFAULT_WINDOW,
        })
    }

    /// The files on the server.
    ///
    /// # Errors
    /// [`ClientError::Server`] if the server refuses; connection errors.
    pub fn list(&mut self) -> Result<Vec<FileInfo>, ClientError> {
        self.send(&Request::List)?;
        let msg = self.receive()?;
        match decode(&msg, &self.peer)? {
            Response::List { files } => Ok(files),
            other => Err(unexpected("LIST", &other, &self.peer)),
        }
    }

    /// Deletes `name` on the server.
    ///
    /// # Errors
    /// [`ClientError::Server`] e.g. for a missing file; connection errors.
    pub fn delete(&mut self, name: &str) -> Result<(), ClientError> {
        self.send(&Request::Delete { name: name.into() })?;
        let msg = self.receive()?;
        match decode(&msg, &self.peer)? {
            Response::Delete { .. } => Ok(()),
            other => Err(unexpected("DELETE", &other, &self.peer)),
        }
    }

    /// One byte range of `name`: returns the whole file's size and the bytes
    /// (at most [`MAX_CHUNK`], fewer at the end of the file).
    ///
    /// # Errors
    /// [`ClientError::Server`] e.g. for a missing file; connection errors.
    pub fn get_range(
        &mut self,
        name: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<(u64, Vec<u8>), ClientError> {
        self.send(&Request::Get {
            name: name.into(),
            offset,
            length,
        })?;
        let msg = self.receive()?;
        match decode(&msg, &self.peer)? {
            Response::Get { size, data, .. } => {
                let mut bytes = Vec::new();
                decode_data(&data, &mut bytes).map_err(|e| bad_answer(&self.peer, e))?;
                Ok((size, bytes))
            }
            other => Err(unexpected("GET", &other, &self.peer)),
        }
    }

    /// Downloads the whole of `name` into `sink` piece by piece, calling
    /// `progress(done, size)` after each piece. Returns the size.
    ///
    /// # Errors
    /// [`ClientError::Server`] e.g. for a missing file; [`ClientError::App`]
    /// for a file that changed on the server during the download, and for
    /// connection and `sink` errors.
    pub fn get(
        &mut self,
        name: &str,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, ClientError> {
        let chunk = self.chunk.clamp(1, MAX_CHUNK) as u64;
        // The first answer tells the size; then keep `window` ranges asked.
        let ask = |c: &mut Client, offset: u64, len: u64| {
            c.send(&Request::Get {
                name: name.into(),
                offset,
                length: Some(len),
            })
        };
        ask(self, 0, chunk)?;
        let mut asked: std::collections::VecDeque<(u64, u64)> = [(0, chunk)].into();
        let mut next = chunk;
        let mut size = None;
        let mut done = 0u64;
        while let Some((offset, len)) = asked.pop_front() {
            let msg = self.receive()?;
            let (got_size, got_offset, got_len, data) = match decode(&msg, &self.peer)? {
                Response::Get {
                    size,
                    offset,
                    length,
                    data,
                    ..
                } => (size, offset, length, data),
                other => return Err(unexpected("GET", &other, &self.peer)),
            };
            let total = *size.get_or_insert(got_size);
            let want_len = len.min(total.saturating_sub(offset));
            if got_size != total || got_offset != offset || got_len != want_len {
                return Err(ClientError::App(AppError::new(
                    format!("download of {name} failed"),
                    "the file changed on the server during the download",
                )));
            }
            // Ask for the next ranges before decoding this one, so the
            // server reads and encodes them meanwhile.
            while asked.len() < self.window.max(1) && next < total {
                let len = chunk.min(total - next);
                ask(self, next, len)?;
                asked.push_back((next, len));
                next += len;
            }
            let n = decode_data_to(&data, &mut self.data, sink).map_err(|e| match e {
                DecodeToError::Data(e) => bad_answer(&self.peer, e),
                DecodeToError::Write(e) => AppError::io(format!("cannot write {name}"), &e).into(),
            })?;
            if n != got_len {
                return Err(bad_answer(
                    &self.peer,
                    "data length differs from \"length\"",
                ));
            }
            done += got_len;
            progress(done, total);
        }
        Ok(size.unwrap_or(0))
    }

    /// Uploads `size` bytes from `source` as `name`, piece by piece,
    /// calling `progress(done, size)` as the server confirms each piece.
    /// The server saves the file when the last piece arrives.
    ///
    /// # Errors
    /// [`ClientError::Server`] e.g. for a refused name; connection errors;
    /// a `source` that ends before `size` bytes.
    pub fn put(
        &mut self,
        name: &str,
        source: &mut dyn Read,
        size: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ClientError> {
        check_name(name).map_err(ClientError::Server)?;
        let chunk = self.chunk.clamp(1, MAX_CHUNK) as u64;
        let mut sent = 0u64;
        let mut in_flight = 0usize;
        let mut saved = false;
        loop {
            let n = chunk.min(size - sent) as usize;
            self.data.resize(n, 0);
            source.read_exact(&mut self.data[..n]).map_err(|e| {
                let cause = match e.kind() {
                    io::ErrorKind::UnexpectedEof => "the file got shorter while it was read".into(),
                    _ => io_cause(&e),
                };
                AppError::new(format!("cannot read {name}"), cause)
            })?;
            let last = sent + n as u64 == size;
            self.out.clear();
            encode_put(name, sent, last, &self.data[..n], &mut self.out);
            self.flush_out()?;
            sent += n as u64;
            in_flight += 1;
            while in_flight >= self.window.max(1) || (last && in_flight > 0) {
                saved = self.put_answer(size, progress)?;
                in_flight -= 1;
            }
            if last {
                break;
            }
        }
        if !saved {
            return Err(bad_answer(
                &self.peer,
                "the last piece was not confirmed as saved",
            ));
        }
        Ok(())
    }

    fn put_answer(
        &mut self,
        size: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<bool, ClientError> {
        let msg = self.receive()?;
        match decode(&msg, &self.peer)? {
            Response::Put {
                received, saved, ..
            } => {
                progress(received, size);
                Ok(saved)
            }
            other => Err(unexpected("PUT", &other, &self.peer)),
        }
    }

    fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        self.out.clear();
        req.encode(&mut self.out);
        self.flush_out()
    }

    fn flush_out(&mut self) -> Result<(), ClientError> {
        self.writer.write_all(&self.out).map_err(|e| {
            ClientError::App(AppError::io(format!("cannot send to {}", self.peer), &e))
        })
    }

    fn receive(&mut self) -> Result<Vec<u8>, ClientError> {
        let what = || format!("no answer from {}", self.peer);
        match read_message(&mut self.reader) {
            Ok(Some(msg)) => Ok(msg),
            Ok(None) => Err(AppError::new(what(), "the server closed the connection").into()),
            Err(FrameError::Io(e)) => Err(AppError::io(what(), &e).into()),
            Err(e) => Err(AppError::new(what(), e).into()),
        }
    }
}

fn decode<'a>(msg: &'a [u8], peer: &str) -> Result<Response<'a>, ClientError> {
    match Response::decode(msg) {
        Ok(Response::Error { message }) => Err(ClientError::Server(message)),
        Ok(r) => Ok(r),
        Err(e) => Err(bad_answer(peer, e)),
    }
}

fn bad_answer(peer: &str, why: impl fmt::Display) -> ClientError {
    ClientError::App(AppError::new(format!("bad answer from {peer}"), why))
}

fn unexpected(command: &str, got: &Response, peer: &str) -> ClientError {
    let kind = match got {
        Response::Error { .. } => "ERROR",
        Response::List { .. } => "LIST",
        Response::Get { .. } => "GET",
        Response::Put { .. } => "PUT",
        Response::Delete { .. } => "DELETE",
    };
    bad_answer(
        peer,
        format!("expected an answer to {command}, got one to {kind}"),
    )
}
