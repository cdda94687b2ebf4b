//! A client for the protocol: one connection, any number of requests.
//!
//! Big files go in pieces of at most [`MAX_CHUNK`] bytes. To keep the
//! link busy while each side encodes and decodes base64, the client keeps
//! a few requests in flight ([`Client::window`]): it sends the next piece
//! before the answer to the previous one has arrived; and a helper thread
//! encodes the next piece (`put`) or decodes the last answer (`get`)
//! while the connection's thread sends and receives. The server answers
//! in order, so the answers are matched to the requests by position.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::error::{io_cause, AppError};
use common::fileproto::{
    check_name, decode_data, decode_data_to, DecodeToError, FileInfo, Request, Response, DELIMITER,
    MAX_CHUNK, MAX_MESSAGE,
};
use common::framing::FrameError;

use crate::wire::{Decoded, Skip};

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
    incoming: Incoming,
    writer: TcpStream,
    peer: String,
    /// The message being sent, reused.
    out: Vec<u8>,
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
            incoming: Incoming::new(stream.try_clone()?),
            writer: stream,
            peer,
            out: Vec::new(),
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
    /// As in [`Client::put`], two threads share the work: this one asks
    /// for the ranges (a [`Client::window`] of them ahead) and receives the
    /// answers; a helper thread decodes each answer's base64 and writes
    /// the bytes to `sink`, meanwhile.
    ///
    /// # Errors
    /// [`ClientError::Server`] e.g. for a missing file; [`ClientError::App`]
    /// for a file that changed on the server during the download, and for
    /// connection and `sink` errors.
    pub fn get(
        &mut self,
        name: &str,
        sink: &mut (dyn Write + Send),
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, ClientError> {
        let chunk = self.chunk.clamp(1, MAX_CHUNK) as u64;
        let ask = |c: &mut Client, offset: u64, len: u64| {
            c.send(&Request::Get {
                name: name.into(),
                offset,
                length: Some(len),
            })
        };
        // The first answer tells the size.
        ask(self, 0, chunk)?;
        let mut first = Vec::new();
        let first_len = self.receive_into(&mut first)?;
        let total = match decode(&first[..first_len], &self.peer)? {
            Response::Get { size, .. } => size,
            other => return Err(unexpected("GET", &other, &self.peer)),
        };
        let (answers, to_decode) = mpsc::sync_channel::<Answer>(PIPELINE);
        let (report, decoded) = mpsc::channel::<u64>();
        // The decoder gives each answer's buffer back, to be read into again.
        let (give_back, returned) = mpsc::channel::<Vec<u8>>();
        let peer = self.peer.clone();
        thread::scope(|scope| {
            let decoder = scope.spawn(move || {
                decode_pieces(name, total, &peer, sink, to_decode, report, give_back)
            });
            let answers = answers; // dropped on return: the decoder then ends
            let mut asked: VecDeque<(u64, u64)> = [(0, chunk)].into();
            let mut next = chunk;
            let mut first = Some((first, first_len));
            while let Some((offset, len)) = asked.pop_front() {
                let (message, message_len) = match first.take() {
                    Some(m) => m,
                    None => {
                        let mut buf = returned.try_recv().unwrap_or_default();
                        let n = self.receive_into(&mut buf)?;
                        (buf, n)
                    }
                };
                // Ask for the next ranges first, so the server reads and
                // encodes them while this one is decoded.
                while asked.len() < self.window.max(1) && next < total {
                    let len = chunk.min(total - next);
                    ask(self, next, len)?;
                    asked.push_back((next, len));
                    next += len;
                }
                let answer = Answer {
                    offset,
                    len,
                    message,
                    message_len,
                };
                if answers.send(answer).is_err() {
                    break; // the decoder stopped: its error is below
                }
                for done in decoded.try_iter() {
                    progress(done, total);
                }
            }
            drop(answers);
            let result = decoder.join().expect("the decoder thread panicked");
            for done in decoded.try_iter() {
                progress(done, total);
            }
            result.map(|()| total)
        })
    }

    /// Uploads `size` bytes from `source` as `name`, piece by piece,
    /// calling `progress(done, size)` as the server confirms each piece.
    /// The server saves the file when the last piece arrives.
    ///
    /// Two threads share the work, so that reading and encoding the next
    /// piece overlaps sending this one: a helper thread reads each piece
    /// and encodes its `PUT` message; this thread sends the messages and
    /// reads the answers. They pass messages through a channel of
    /// [`PIPELINE`] places, and the sent messages' buffers come back to be
    /// reused, so memory stays a few pieces whatever the size.
    ///
    /// # Errors
    /// [`ClientError::Server`] e.g. for a refused name; connection errors;
    /// a `source` that ends before `size` bytes.
    pub fn put(
        &mut self,
        name: &str,
        source: &mut (dyn Read + Send),
        size: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), ClientError> {
        check_name(name).map_err(ClientError::Server)?;
        let chunk = self.chunk.clamp(1, MAX_CHUNK) as u64;
        let (messages, to_send) = mpsc::sync_channel::<Result<Piece, AppError>>(PIPELINE);
        let (give_back, returned) = mpsc::channel::<Vec<u8>>();
        thread::scope(|scope| {
            scope.spawn(move || encode_pieces(name, source, size, chunk, &messages, &returned));
            // Owned here, so that returning early drops it and the encoder,
            // blocked on a full channel, stops (the scope then joins it).
            let to_send = to_send;
            let mut in_flight = 0usize;
            let mut saved = false;
            // Ends when the encoder is done (or stopped by an error here:
            // returning drops `to_send`, so its next send fails).
            for piece in to_send.iter() {
                let piece = piece?;
                self.writer.write_all(&piece.message).map_err(|e| {
                    ClientError::App(AppError::io(format!("cannot send to {}", self.peer), &e))
                })?;
                let _ = give_back.send(piece.message);
                in_flight += 1;
                while in_flight >= self.window.max(1) || (piece.last && in_flight > 0) {
                    saved = self.put_answer(size, progress)?;
                    in_flight -= 1;
                }
                if piece.last {
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
        })
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

    /// The next answer, in a buffer of its own (short answers).
    fn receive(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut buf = std::mem::take(&mut self.incoming.scratch);
        let got = self.receive_into(&mut buf);
        let msg = got.map(|n| buf[..n].to_vec());
        self.incoming.scratch = buf;
        msg
    }

    /// The next answer, read into `buf` (see [`Incoming::next_into`]):
    /// returns its length.
    fn receive_into(&mut self, buf: &mut Vec<u8>) -> Result<usize, ClientError> {
        let what = || format!("no answer from {}", self.peer);
        match self.incoming.next_into(buf) {
            Ok(Some(n)) => Ok(n),
            Ok(None) => Err(AppError::new(what(), "the server closed the connection").into()),
            Err(FrameError::Io(e)) => Err(AppError::io(what(), &e).into()),
            Err(e) => Err(AppError::new(what(), e).into()),
        }
    }
}

/// Bytes asked of the socket at a time while an answer arrives.
const READ: usize = 256 * 1024;

/// The answers coming from the server, read straight into the buffer the
/// caller gives: a `GET` answer of 2.7 MiB is not copied from a
/// `BufReader` into a new `Vec` (that copy, the growing and the fresh
/// pages of each new `Vec` cost a download about a sixth of its time),
/// and its buffer is reused for a later answer.
struct Incoming {
    stream: TcpStream,
    /// Bytes received after the end of the last answer: the start of the
    /// next one (at most one read's worth).
    ahead: Vec<u8>,
    /// The buffer of [`Client::receive`], reused.
    scratch: Vec<u8>,
}

impl Incoming {
    fn new(stream: TcpStream) -> Incoming {
        Incoming {
            stream,
            ahead: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Reads the next message (the bytes before `\r\n\r\n`, at most
    /// [`MAX_MESSAGE`]) into `buf[..n]` and returns `n`; `None` when the
    /// server closed between messages. `buf`'s length is room to read
    /// into: it grows when needed and never shrinks, so a buffer used
    /// again needs no new memory.
    ///
    /// # Errors
    /// The socket's errors (timeouts too), a message cut short or too long.
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<usize>, FrameError> {
        let mut filled = self.ahead.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        buf[..filled].copy_from_slice(&self.ahead);
        self.ahead.clear();
        let mut scanned = 0;
        loop {
            if let Some(pos) = crate::wire::find_delimiter(&buf[scanned..filled]) {
                let end = scanned + pos;
                self.ahead
                    .extend_from_slice(&buf[end + DELIMITER.len()..filled]);
                if end > MAX_MESSAGE {
                    return Err(FrameError::TooLarge { limit: MAX_MESSAGE });
                }
                return Ok(Some(end));
            }
            if filled > MAX_MESSAGE + DELIMITER.len() - 1 {
                return Err(FrameError::TooLarge { limit: MAX_MESSAGE });
            }
            // A delimiter may straddle two reads.
            scanned = filled.saturating_sub(DELIMITER.len() - 1);
            if buf.len() < filled + READ {
                buf.resize(filled + READ, 0);
            }
            match self.stream.read(&mut buf[filled..filled + READ]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => {
                    return Err(FrameError::Truncated {
                        expected: None,
                        got: filled as u64,
                    })
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
    }
}

/// An answer to one `GET` range, on its way to the decoder.
struct Answer {
    offset: u64,
    len: u64,
    /// The answer is `message[..message_len]` (the buffer is reused).
    message: Vec<u8>,
    message_len: usize,
}

/// The helper thread of [`Client::get`]: checks each answer against the
/// range asked, decodes its base64 into `sink`, and reports the bytes done.
fn decode_pieces(
    name: &str,
    total: u64,
    peer: &str,
    sink: &mut (dyn Write + Send),
    answers: mpsc::Receiver<Answer>,
    report: mpsc::Sender<u64>,
    give_back: mpsc::Sender<Vec<u8>>,
) -> Result<(), ClientError> {
    let mut buf = Vec::new();
    let mut head = Vec::new();
    let mut done = 0u64;
    for answer in answers {
        let (offset, len) = (answer.offset, answer.len);
        let message = &answer.message[..answer.message_len];
        let mut skip = 0;
        // The fast path (see `wire`): parse the head only, decode the
        // base64 with SIMD; anything else goes the general way below.
        if let Some(text) = crate::wire::split_data(message, &mut head) {
            if let Ok(Response::Get {
                size,
                offset: got_offset,
                length,
                ..
            }) = Response::decode(&head)
            {
                check_range(name, (size, got_offset, length), (total, offset, len))?;
                let decoded = crate::wire::decode_steps_to(text, &mut buf, sink)
                    .map_err(|e| AppError::io(format!("cannot write {name}"), &e))?;
                match decoded {
                    Decoded::All(n) if n == length => {
                        done += length;
                        let _ = report.send(done);
                        let _ = give_back.send(answer.message);
                        continue;
                    }
                    Decoded::All(_) => {
                        return Err(bad_answer(peer, "data length differs from \"length\""))
                    }
                    // Not plain base64: the general way below, after the
                    // bytes already written.
                    Decoded::NotPlain { written } => skip = written,
                }
            }
        }
        let (got_size, got_offset, got_len, data) = match decode(message, peer)? {
            Response::Get {
                size,
                offset,
                length,
                data,
                ..
            } => (size, offset, length, data),
            other => return Err(unexpected("GET", &other, peer)),
        };
        check_range(name, (got_size, got_offset, got_len), (total, offset, len))?;
        let mut sink = Skip::new(skip, sink);
        let n = decode_data_to(&data, &mut buf, &mut sink).map_err(|e| match e {
            DecodeToError::Data(e) => bad_answer(peer, e),
            DecodeToError::Write(e) => AppError::io(format!("cannot write {name}"), &e).into(),
        })?;
        if n != got_len {
            return Err(bad_answer(peer, "data length differs from \"length\""));
        }
        done += got_len;
        let _ = report.send(done);
        let _ = give_back.send(answer.message);
    }
    Ok(())
}

/// Checks an answer's (size, offset, length) against the (size, offset,
/// length) asked for.
fn check_range(
    name: &str,
    got: (u64, u64, u64),
    asked: (u64, u64, u64),
) -> Result<(), ClientError> {
    let (total, offset, len) = asked;
    let want_len = len.min(total.saturating_sub(offset));
    if got != (total, offset, want_len) {
        return Err(ClientError::App(AppError::new(
            format!("download of {name} failed"),
            "the file changed on the server during the download",
        )));
    }
    Ok(())
}

/// Messages waiting in the channel between the two threads of a `put`
/// or a `get` (each about 2.7 MiB).
pub const PIPELINE: usize = 2;

/// One encoded `PUT` message.
struct Piece {
    message: Vec<u8>,
    last: bool,
}

/// The helper thread of [`Client::put`]: reads `source` a piece at a time,
/// encodes each as a `PUT` message (in a buffer given back by the sender
/// when there is one) and passes it on, until the last piece or an error.
fn encode_pieces(
    name: &str,
    source: &mut (dyn Read + Send),
    size: u64,
    chunk: u64,
    messages: &mpsc::SyncSender<Result<Piece, AppError>>,
    returned: &mpsc::Receiver<Vec<u8>>,
) {
    let mut bytes = Vec::new();
    let mut sent = 0u64;
    loop {
        let n = chunk.min(size - sent) as usize;
        bytes.resize(n, 0);
        if let Err(e) = source.read_exact(&mut bytes) {
            let cause = match e.kind() {
                io::ErrorKind::UnexpectedEof => "the file got shorter while it was read".into(),
                _ => io_cause(&e),
            };
            let _ = messages.send(Err(AppError::new(format!("cannot read {name}"), cause)));
            return;
        }
        let last = sent + n as u64 == size;
        let mut message = returned.try_recv().unwrap_or_default();
        message.clear();
        // SIMD base64 (see `wire`): the same text as common's encoder.
        crate::wire::encode_put(name, sent, last, &bytes, &mut message);
        sent += n as u64;
        // The sender stopped (an error): nothing more to do.
        if messages.send(Ok(Piece { message, last })).is_err() || last {
            return;
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
