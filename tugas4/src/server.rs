//! The file server: an accept loop ([`run_server`]) that starts a thread
//! per connection; each reads requests in turn and dispatches each to
//! its operation (LIST, GET, PUT, DELETE).
//!
//! Per connection the server holds at most one message (capped at
//! [`MAX_MESSAGE`]), one piece of file data and one answer, so a 1 GiB
//! upload or download costs a few MiB of memory, not a GiB; and all
//! connections together hold at most `--max-buffered` bytes
//! ([`crate::inbox`]). A whole message must arrive within `--timeout`.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::UNIX_EPOCH;

use common::error::io_cause;
use common::fileproto::{
    check_name, decode_data_to, quote, DecodeToError, FileInfo, Request, Response, MAX_CHUNK,
    MAX_MESSAGE,
};
use common::files::{resolve_in_dir, AtomicFile, ServeError};
use common::net;
use common::stop::{Running, Shutdown};

use crate::inbox::{Budget, Inbox, InboxError, Message, Returned};
use crate::wire::{self, Decoded, Skip};
use crate::Config;

/// Serves `config.dir` on `listener` until `shutdown` is given: each
/// connection gets a place among the connections `shutdown` admits and a
/// thread of its own, which sets the `--timeout` on reads and writes and
/// TCP_NODELAY and runs [`handle_connection`]. Returns
/// once every connection's thread has been joined (stopping shuts their
/// sockets down; an upload cut this way is discarded).
///
/// # Errors
/// If the listener has no local address.
pub fn run_server(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    shutdown.watch(&listener)?;
    let mut threads: Vec<thread::JoinHandle<()>> = Vec::new();
    let config = Arc::new(config.clone());
    let budget = Budget::new(config.max_buffered);
    for stream in listener.incoming() {
        // stop() connects to wake this loop: that connection is not a client.
        if shutdown.is_stopping() {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                net::accept_failed(&e);
                continue;
            }
        };
        let Some(admitted) = shutdown.admit(&stream) else {
            continue;
        };
        // The loop only accepts and starts the thread; the connection's
        // set-up happens on its own thread, so the next client is accepted
        // at once.
        let config = Arc::clone(&config);
        let budget = budget.clone();
        let spawned = thread::Builder::new().spawn(move || {
            let _admitted = admitted; // counts the connection until it ends
            serve_one(stream, &config, &budget);
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => log::error!("cannot start a thread: {}", net::describe_io(&e)),
        }
        // Threads that already ended need no join: let them go.
        threads.retain(|t| !t.is_finished());
    }
    // stop() shut every connection's socket down, so each thread is ending.
    for t in threads {
        if t.join().is_err() {
            log::error!("a connection's thread panicked");
        }
    }
    Ok(())
}

/// The body of one connection's thread: timeouts, TCP_NODELAY (one answer
/// per request, sent at once), the requests, the log line when it fails.
fn serve_one(stream: TcpStream, config: &Config, budget: &Budget) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let served = net::set_timeouts(&stream, config.timeout)
        .and_then(|()| handle_connection(stream, peer, config, budget));
    if let Err(e) = served {
        log::warn!("{peer}: {}", net::describe_io(&e));
    }
}

/// Runs [`run_server`] on a thread of its own (tests, the benchmark);
/// stopping or dropping the returned [`Running`] stops and joins it.
///
/// # Errors
/// If the listener has no address or the thread cannot start.
pub fn start_server(listener: TcpListener, config: Config) -> io::Result<Running> {
    Running::spawn(listener, Shutdown::new(), move |listener, shutdown| {
        run_server(listener, &config, &shutdown)
    })
}

/// Reads requests from one client and answers each, until the client
/// closes, stays silent for `config.timeout`, or sends a message that is
/// refused as a whole (too large, too slow, past the memory budget): that
/// one is answered `ERROR` and the connection closed. An upload that is
/// not finished when this returns is discarded (its temporary file
/// removed).
///
/// Two threads share a connection: a read-ahead thread ([`read_ahead`])
/// takes the next message in (the socket, finding its end) while this one
/// handles the last (decoding a piece into its file, or reading and
/// encoding a range) and sends the answer. They pass one message at a
/// time, and its buffer comes back to be read into again, so the
/// connection holds at most two message buffers. Both end with the
/// connection.
///
/// # Errors
/// Socket errors and a connection cut in the middle of a message; the
/// caller logs them.
pub fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    config: &Config,
    budget: &Budget,
) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut inbox = Inbox::new(stream, config.timeout, budget.clone())?;
    let (give_back, returns) = mpsc::channel::<Returned>();
    inbox.give_back_through(returns);
    log::info!("{peer}: connected");
    thread::scope(|scope| {
        // Owned by this closure, so that returning drops it: a read-ahead
        // thread waiting for a buffer to come back then ends.
        let give_back = give_back;
        let (messages, incoming) = mpsc::sync_channel(1);
        let reader = thread::Builder::new()
            .name(format!("{peer} read-ahead"))
            .spawn_scoped(scope, move || read_ahead(inbox, &messages))?;
        let mut session = Session::new(&config.dir, peer, budget);
        let mut out = Vec::new();
        let mut next = None;
        loop {
            let item = match next.take() {
                Some(item) => item,
                // The read-ahead thread ended without a word: it panicked.
                None => incoming
                    .recv()
                    .unwrap_or_else(|_| Err(InboxError::Io(io::Error::other("read-ahead failed")))),
            };
            let refusal = match item {
                Ok(Some(msg)) => {
                    out.clear();
                    session.handle(msg.bytes(), &mut out);
                    // The buffer goes back to be read into again during an
                    // upload (the next piece needs one as big); otherwise
                    // it is let go.
                    let _ = give_back.send(session.upload.is_some().then_some(msg));
                    if let Err(e) = writer.write_all(&out) {
                        // Ends the read-ahead thread's wait for the client.
                        let _ = writer.shutdown(std::net::Shutdown::Both);
                        return Err(e);
                    }
                    // With the next request already here (the clients send
                    // a few ahead), its answer reuses this one's buffers.
                    match incoming.try_recv() {
                        Ok(item) => next = Some(item),
                        Err(_) => session.release(&mut out),
                    }
                    continue;
                }
                Ok(None) => {
                    log::info!("{peer}: closed");
                    return Ok(());
                }
                Err(InboxError::Io(e)) => return Err(e),
                Err(InboxError::Truncated) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed in the middle of a message",
                    ))
                }
                Err(InboxError::TooLarge) => format!(
                    "message larger than the limit of {MAX_MESSAGE} bytes; \
                     send a big file in pieces (PUT with offset and last)"
                ),
                Err(InboxError::TooSlow) => format!(
                    "message not complete within {} s; closing",
                    config.timeout.as_secs_f64()
                ),
                Err(InboxError::Busy) => busy(budget),
            };
            log::warn!("{peer}: {refusal}; refused, closing");
            out.clear();
            Response::error(refusal).encode(&mut out);
            writer.write_all(&out)?;
            // The read-ahead thread stopped after the refused message.
            let inbox = reader
                .join()
                .map_err(|_| io::Error::other("read-ahead panicked"))?;
            net::linger_close(&writer, &mut inbox.stream());
            return Ok(());
        }
    })
}

/// The read-ahead thread of a connection: takes each message in and
/// passes it on, until the client closes, a message is refused or cut
/// short (that is passed on too), or the connection's thread has gone.
/// Returns the inbox, for the linger-close after a refusal.
fn read_ahead(
    mut inbox: Inbox,
    messages: &mpsc::SyncSender<Result<Option<Message>, InboxError>>,
) -> Inbox {
    loop {
        let item = inbox.next_owned();
        let more = matches!(item, Ok(Some(_)));
        if messages.send(item).is_err() || !more {
            return inbox;
        }
    }
}

/// The answer to a message that would pass the memory budget.
fn busy(budget: &Budget) -> String {
    format!(
        "server busy: its connections hold {} of the {} bytes they may \
         buffer together (--max-buffered); try again later",
        budget.used(),
        budget.limit()
    )
}

/// An upload in progress on one connection.
struct Upload {
    name: String,
    file: AtomicFile,
    received: u64,
}

/// What one connection remembers between requests.
struct Session<'d> {
    dir: &'d Path,
    peer: SocketAddr,
    /// The memory budget the file bytes and the answer are taken from.
    budget: &'d Budget,
    /// Bytes of `budget` this session holds for `data` and the answer.
    held: usize,
    upload: Option<Upload>,
    /// File bytes of the current request, reused across requests.
    data: Vec<u8>,
    /// The head of a `PUT` piece on the fast path ([`wire::split_data`]).
    head: Vec<u8>,
}

/// What [`Session::put_fast`] did with a message.
enum Fast {
    /// Took it: the answer is in `out`, or it was refused with this text.
    Took(Result<(), String>),
    /// Left it to the general way. `Some(n)`: it is a piece of the upload
    /// whose base64 stopped being plain ([`wire::Decoded::NotPlain`])
    /// after the first `n` file bytes, which are written already.
    Left(Option<u64>),
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.budget.give(self.held);
        if let Some(up) = self.upload.take() {
            log::warn!(
                "{}: connection ended during the upload of {} after {} bytes; discarded",
                self.peer,
                quote(&up.name),
                up.received
            );
        }
    }
}

impl<'d> Session<'d> {
    fn new(dir: &'d Path, peer: SocketAddr, budget: &'d Budget) -> Session<'d> {
        Session {
            dir,
            peer,
            budget,
            held: 0,
            upload: None,
            data: Vec::new(),
            head: Vec::new(),
        }
    }

    /// Takes what a `GET` answer of `len` file bytes needs (the bytes, and
    /// their base64 in the answer) from the budget.
    fn hold_for_get(&mut self, len: usize) -> Result<(), String> {
        let need = len + base64_len(len) + 1024;
        if need > self.held {
            if !self.budget.take(need - self.held) {
                return Err(busy(self.budget));
            }
            self.held = need;
        }
        Ok(())
    }

    /// After an answer is sent: a big `data` buffer and answer are freed
    /// and their bytes given back to the budget.
    fn release(&mut self, out: &mut Vec<u8>) {
        if self.held > 0 {
            self.data = Vec::new();
            *out = Vec::new();
            self.budget.give(self.held);
            self.held = 0;
        }
    }

    /// Answers one message into `out`.
    fn handle(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        let peer = self.peer;
        // `Some`: a piece of the upload that the fast path began (part of
        // it may be in the file already): refused, it ends the upload, as
        // any refused piece does.
        let written_ahead = match self.put_fast(msg, out) {
            Fast::Took(result) => {
                if let Err(message) = result {
                    self.abort_upload();
                    log::warn!("{peer}: PUT refused: {message}");
                    out.clear();
                    Response::error(message).encode(out);
                }
                return;
            }
            Fast::Left(written_ahead) => written_ahead,
        };
        let req = match Request::decode(msg) {
            Ok(req) => req,
            Err(e) => {
                log::warn!("{peer}: bad request: {e}");
                if written_ahead.is_some() {
                    self.abort_upload();
                }
                return Response::error(e).encode(out);
            }
        };
        if written_ahead.is_some() && !matches!(req, Request::Put { .. }) {
            self.abort_upload();
        }
        let command = req.command();
        let result = match req {
            Request::List => self.list(out),
            Request::Get {
                name,
                offset,
                length,
            } => self.get(&name, offset, length, out),
            Request::Put {
                name,
                offset,
                last,
                data,
            } => {
                let r = self.put(&name, offset, last, &data, written_ahead.unwrap_or(0), out);
                if r.is_err() {
                    self.abort_upload();
                }
                r
            }
            Request::Delete { name } => self.delete(&name, out),
        };
        if let Err(message) = result {
            log::warn!("{peer}: {command} refused: {message}");
            out.clear();
            Response::error(message).encode(out);
        }
    }

    fn list(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let files =
            list_dir(self.dir).map_err(|e| format!("cannot read the folder: {}", io_cause(&e)))?;
        let n = files.len();
        let plural = if n == 1 { "" } else { "s" };
        log::info!("{}: LIST -> {n} file{plural}", self.peer);
        Response::List { files }.encode(out);
        if out.len() > MAX_MESSAGE {
            return Err(format!(
                "the folder has too many files ({n}) to list in one message"
            ));
        }
        Ok(())
    }

    fn get(
        &mut self,
        name: &str,
        offset: u64,
        length: Option<u64>,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        check_name(name)?;
        let path = resolve_in_dir(self.dir, name).map_err(|e| serve_error(name, e))?;
        let mut file = File::open(&path).map_err(|e| open_error(name, &e))?;
        let size = file.metadata().map_err(|e| open_error(name, &e))?.len();
        if offset > size {
            return Err(format!(
                "offset {offset} is past the end of {} ({size} bytes)",
                quote(name)
            ));
        }
        let want = (size - offset)
            .min(length.unwrap_or(u64::MAX))
            .min(MAX_CHUNK as u64) as usize;
        self.hold_for_get(want)?;
        self.data.resize(want, 0);
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut self.data[..want]))
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    format!("{} changed while it was being read", quote(name))
                }
                _ => format!("cannot read {}: {}", quote(name), io_cause(&e)),
            })?;
        if offset == 0 {
            log::info!("{}: GET {} ({size} bytes)", self.peer, quote(name));
        } else {
            log::debug!("{}: GET {} {offset}+{want}", self.peer, quote(name));
        }
        // SIMD base64 (see `wire`): the same text as common's encoder.
        wire::encode_get_ok(name, size, offset, &self.data[..want], out);
        Ok(())
    }

    /// The fast path for the pieces after the first of an upload (all of
    /// a big upload but one): the JSON head is parsed without walking the
    /// base64, which is decoded with SIMD straight from the message to the
    /// file, checked as it is decoded ([`wire`]). [`Fast::Left`] (nothing
    /// done) for any other message, and for one the fast path does not
    /// take (another shape, a piece out of order or too big, or base64
    /// that stops being plain: an escape, a bad character):
    /// [`Session::handle`] then answers it the general way, with the same
    /// answer or error. In the last case the steps before the one that did
    /// not decode are written already (`Fast::Left(Some(n))`): the general
    /// way writes the rest of the piece, or ends the upload if it fails.
    fn put_fast(&mut self, msg: &[u8], out: &mut Vec<u8>) -> Fast {
        let Some(up) = self.upload.as_mut() else {
            return Fast::Left(None);
        };
        let Some(text) = wire::split_data(msg, &mut self.head) else {
            return Fast::Left(None);
        };
        let Ok(Request::Put {
            name, offset, last, ..
        }) = Request::decode(&self.head)
        else {
            return Fast::Left(None);
        };
        if name != up.name || offset == 0 || offset != up.received || decoded_len(text) > MAX_CHUNK
        {
            return Fast::Left(None);
        }
        match wire::decode_steps_to(text, &mut self.data, &mut up.file) {
            Ok(Decoded::All(n)) => up.received += n,
            Ok(Decoded::NotPlain { written }) => return Fast::Left(Some(written)),
            Err(e) => return Fast::Took(Err(write_error(&name, &e))),
        }
        Fast::Took(self.put_done(last, out))
    }

    /// The general way to take a `PUT` piece; `written_ahead`: its first
    /// bytes, already in the file (see [`Session::put_fast`]).
    fn put(
        &mut self,
        name: &str,
        offset: u64,
        last: bool,
        data: &str,
        written_ahead: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        check_name(name)?;
        let piece = decoded_len(data.as_bytes());
        if piece > MAX_CHUNK {
            return Err(format!(
                "a PUT piece carries at most {MAX_CHUNK} bytes; this one has {piece}: \
                 send smaller pieces"
            ));
        }
        if offset == 0 {
            if let Some(old) = self.upload.take() {
                log::warn!(
                    "{}: upload of {} abandoned by a new PUT at offset 0",
                    self.peer,
                    quote(&old.name)
                );
            }
            let dest = self.dir.join(name);
            if dest.is_dir() {
                return Err(format!("{} is a folder on the server", quote(name)));
            }
            let file = AtomicFile::create(&dest)
                .map_err(|e| format!("cannot create {}: {}", quote(name), io_cause(&e)))?;
            log::info!("{}: PUT {} started", self.peer, quote(name));
            self.upload = Some(Upload {
                name: name.to_string(),
                file,
                received: 0,
            });
        }
        let up = match &mut self.upload {
            Some(up) if up.name == name && up.received == offset => up,
            Some(up) if up.name == name => {
                return Err(format!(
                    "PUT of {} at offset {offset}, but {} bytes have arrived: \
                     pieces must come in order; start again at offset 0",
                    quote(name),
                    up.received
                ))
            }
            _ => {
                return Err(format!(
                    "no upload of {} in progress on this connection: \
                     the first piece must have offset 0",
                    quote(name)
                ))
            }
        };
        // Past the bytes the fast path wrote from this piece, if any (a
        // piece at offset 0 starts a new file: all of it goes there).
        let skip = if offset == 0 { 0 } else { written_ahead };
        let mut file = Skip::new(skip, &mut up.file);
        up.received += decode_data_to(data, &mut self.data, &mut file).map_err(|e| match e {
            DecodeToError::Data(e) => e.0,
            DecodeToError::Write(e) => write_error(name, &e),
        })?;
        self.put_done(last, out)
    }

    /// After a piece is written: the file is saved if it was the last
    /// piece, and the answer goes into `out`.
    fn put_done(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), String> {
        let up = self.upload.as_ref().expect("a piece was just written");
        let (name, received) = (up.name.clone(), up.received);
        log::debug!("{}: PUT {} now {received} bytes", self.peer, quote(&name));
        if last {
            let up = self.upload.take().expect("upload checked above");
            up.file
                .commit()
                .map_err(|e| format!("cannot save {}: {}", quote(&name), io_cause(&e)))?;
            log::info!(
                "{}: PUT {} saved ({received} bytes)",
                self.peer,
                quote(&name)
            );
        }
        Response::Put {
            name,
            received,
            saved: last,
        }
        .encode(out);
        Ok(())
    }

    fn delete(&mut self, name: &str, out: &mut Vec<u8>) -> Result<(), String> {
        check_name(name)?;
        resolve_in_dir(self.dir, name).map_err(|e| serve_error(name, e))?;
        // Remove the entry itself (a link, not what it points to).
        fs::remove_file(self.dir.join(name))
            .map_err(|e| format!("cannot delete {}: {}", quote(name), io_cause(&e)))?;
        log::info!("{}: DELETE {}", self.peer, quote(name));
        Response::Delete {
            name: name.to_string(),
        }
        .encode(out);
        Ok(())
    }

    fn abort_upload(&mut self) {
        if let Some(up) = self.upload.take() {
            log::warn!(
                "{}: upload of {} discarded after {} bytes",
                self.peer,
                quote(&up.name),
                up.received
            );
        }
    }
}

/// The regular files of `dir` that the protocol can name, sorted by name.
/// Folders, links, hidden files and uploads in progress are left out.
///
/// # Errors
/// If the folder cannot be read.
pub fn list_dir(dir: &Path) -> io::Result<Vec<FileInfo>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if check_name(&name).is_err() {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue; // deleted meanwhile
        };
        files.push(FileInfo::new(
            name,
            meta.len(),
            meta.modified().unwrap_or(UNIX_EPOCH),
        ));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn serve_error(name: &str, e: ServeError) -> String {
    match e {
        ServeError::NotFound => format!("file not found: {}", quote(name)),
        ServeError::Name(e) => format!("invalid name {}: {e}", quote(name)),
        ServeError::Outside => format!("{} is outside the served folder", quote(name)),
        ServeError::Io(e) => format!("cannot open {}: {}", quote(name), io_cause(&e)),
    }
}

/// The length of the base64 text of `n` bytes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// How many bytes the base64 text `data` stands for (about that many if
/// it is not valid base64, which decoding then refuses).
fn decoded_len(data: &[u8]) -> usize {
    let padding = data.iter().rev().take(2).filter(|&&b| b == b'=').count();
    (data.len() / 4 * 3).saturating_sub(padding)
}

fn write_error(name: &str, e: &io::Error) -> String {
    format!("cannot write {}: {}", quote(name), io_cause(e))
}

fn open_error(name: &str, e: &io::Error) -> String {
    format!("cannot open {}: {}", quote(name), io_cause(e))
}
