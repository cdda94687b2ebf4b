//! The event-loop engine (Linux): one thread per CPU core, each serving
//! thousands of connections with epoll, like nginx's workers.
//!
//! # Why a second engine
//!
//! The threads engine ([`crate::threads`]) gives every connection
//! a thread that sleeps in `read` until its client speaks. It is the
//! clearest way to write a server, but each request then costs a thread
//! wake-up and a switch between threads; at `ab -c 100 -k` a fifth of the
//! server's time went there. Here a worker asks the kernel once "which of
//! my sockets are ready?" ([`Epoll::wait`]) and serves every ready one in
//! turn, without sleeping in between.
//!
//! # What a worker does
//!
//! ```text
//! loop {
//!     wait for ready sockets (at most until the next timeout sweep)
//!     listener ready   -> accept every waiting connection, watch it
//!     connection ready -> read what came, answer every complete request,
//!                         write the answers; if the client is slow to
//!                         read, keep the rest and wait until it can take more
//!     every tick       -> close connections past their deadline (408 for a
//!                         request left unfinished, as the threads engine does)
//!     stopping         -> ring the doorbell for the other workers, close
//!                         every connection, leave
//! }
//! ```
//!
//! # How it ends
//!
//! The server's [`Shutdown`] watches the listener: `stop()` connects to
//! it, so one worker wakes (the listener is ready), sees the flag, and
//! rings a [`Waker`], an eventfd every worker watches; each worker wakes,
//! leaves its loop and drops its connections, which closes them. The
//! thread that called [`EventLoop::run`] joins the others.
//!
//! Sockets are non-blocking: a read or write that would wait returns
//! `WouldBlock` at once, and the worker goes on with other sockets. They
//! are watched edge-triggered, as nginx does: epoll reports a socket when
//! something new happens on it, once, so the worker keeps track of whether
//! a socket may still hold unread bytes (`may_read`), and epoll does not
//! re-check every socket it reported before each wait. A
//! connection's state between events lives in a `Conn`; the bytes of a
//! request that came whole in one read (almost always) are parsed straight
//! from the worker's read buffer by `common::http::parse_head`, so an idle
//! connection holds no buffers. A head cut between reads waits in the
//! connection's `input` until the rest comes (`parse_head` says "need
//! more bytes").
//!
//! Behaviour on the wire is the same as the threads engine's: the same
//! parser and answers (`crate::respond`), the same statuses for bad input,
//! the same keep-alive rules, the same timeouts; `tests/http.rs` runs every
//! case against both engines.

use std::io::{self, Read, Write};
use std::net::{Shutdown as Both, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::http::{self, HeadError, MAX_HEAD};
use common::net::{LINGER_MAX_BYTES, LINGER_TIME};
use common::stop::Shutdown;

use crate::epoll::{self, Epoll, Event, Waker, EDGE, EXCLUSIVE, PEER_CLOSED, READABLE, WRITABLE};
use crate::{Answer, Config};

/// The listener's token; connections use their slot number.
const LISTENER: u64 = u64::MAX;

/// The doorbell's token (see [`Waker`]).
const WAKER: u64 = u64::MAX - 1;

/// One read takes at most this much; a worker shares one such buffer.
const READ_BUF: usize = 16 * 1024;

/// Answers queued for a client that is slow to read them, past which the
/// worker stops reading that client's pipelined requests until it catches
/// up (so a client cannot make the server buffer without end).
const MAX_PENDING: usize = 64 * 1024;

/// Events taken from the kernel per wait.
const EVENTS_PER_WAIT: usize = 1024;

/// What a connection is watched for, once and for all: edge-triggered,
/// so epoll reports a socket when something new happens on it (bytes
/// came, room to write, the client closed), and never again for the same
/// readiness. A worker therefore reads until it knows the socket is empty
/// (see `Conn::may_read`), and epoll does not re-check every socket it
/// reported last time, as level-triggered watching would.
const INTEREST: u32 = READABLE | WRITABLE | PEER_CLOSED | EDGE;

/// How long the kernel holds a new connection back from `accept` waiting
/// for its first bytes (TCP_DEFER_ACCEPT, [`epoll::defer_accept`]): a
/// client that sends nothing is accepted about this much later, and its
/// 408 comes after this plus `--timeout`.
pub const DEFER_ACCEPT_SECS: u32 = 1;

/// Connections one worker accepts per wake-up, all of them before it
/// serves any. The listener is watched level-triggered, so connections
/// still waiting are reported again at once, and meanwhile the other
/// workers take their share; a worker that accepted the whole backlog
/// would serve it all on one core (with deferred accept each connection
/// comes with its request, so accepting is serving).
///
/// Accepting first matters when a few clients connect at once, as a load
/// generator's connections do: accepting ten takes a few microseconds,
/// serving each of them in turn as it is accepted would take ten times
/// that, and meanwhile the kernel wakes a second worker for the ones still
/// waiting. Their keep-alive connections would then be split between two
/// cores for good, which costs a thread switch on a core the client also
/// needs (on 2 cores with `wrk -k -c 10` beside the server: 105-135
/// thousand requests/s split, 150-175 thousand on one worker).
const ACCEPTS_PER_WAKE: usize = 16;

/// Rounds of read-answer-write for one connection per event, so a client
/// that sends without pause cannot keep its worker from the others.
const ROUNDS_PER_EVENT: usize = 8;

/// One worker per CPU core: more would only take turns on the same cores.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The event-loop engine, set up: every worker but one already runs on a
/// thread of its own; [`EventLoop::run`] runs the last.
pub struct EventLoop {
    last: Worker,
    threads: Vec<JoinHandle<()>>,
}

/// Sets up `workers` workers serving `listener` until `shutdown` is given,
/// and starts all but one on threads of their own.
///
/// # Errors
/// If an epoll instance or the doorbell cannot be made or the listener
/// cannot be watched; the threads already started are stopped and joined
/// then, and nothing has been served.
pub fn start(
    listener: TcpListener,
    config: &Config,
    shutdown: &Shutdown,
    workers: usize,
) -> io::Result<EventLoop> {
    listener.set_nonblocking(true)?;
    shutdown.watch(&listener)?;
    // A connection reaches `accept` with its request (see `Worker::add`).
    if let Err(e) = epoll::defer_accept(&listener, DEFER_ACCEPT_SECS) {
        log::debug!("TCP_DEFER_ACCEPT: {e}; connections are accepted at once");
    }
    let shared = Arc::new(Shared {
        listener,
        timeout: config.timeout,
        max_connections: config.max_connections,
        open: AtomicUsize::new(0),
        waker: Waker::new()?,
        shutdown: shutdown.clone(),
    });
    let local = shared.listener.local_addr()?;
    let mut threads = Vec::new();
    let mut started = || -> io::Result<Worker> {
        for i in 1..workers.max(1) {
            let worker = Worker::new(Arc::clone(&shared))?;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("http worker {i} {local}"))
                    .spawn(move || worker.run())?,
            );
        }
        Worker::new(Arc::clone(&shared))
    };
    match started() {
        Ok(last) => Ok(EventLoop { last, threads }),
        Err(e) => {
            shared.waker.wake();
            for t in threads {
                let _ = t.join();
            }
            Err(e)
        }
    }
}

impl EventLoop {
    /// Serves on the calling thread until the server's [`Shutdown`] is
    /// given, then joins the other workers.
    pub fn run(self) {
        self.last.run();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// What the workers share.
struct Shared {
    listener: TcpListener,
    timeout: Duration,
    max_connections: usize,
    /// Connections open across all workers, for `max_connections`.
    open: AtomicUsize,
    /// Rung by the first worker that sees the server stop.
    waker: Waker,
    shutdown: Shutdown,
}

/// One event loop: its epoll instance, its connections, its buffers.
struct Worker {
    shared: Arc<Shared>,
    epoll: Epoll,
    /// Connections by slot; a slot's index is its epoll token.
    conns: Vec<Option<Conn>>,
    /// Empty slots, reused first.
    free: Vec<usize>,
    bufs: Buffers,
    /// Whether the listener is watched (it is not for a moment after
    /// `accept` fails for want of file descriptors).
    listening: bool,
}

/// Scratch space a worker lends to the connection being served.
struct Buffers {
    read: Box<[u8]>,
    /// Answers being written.
    out: Vec<u8>,
}

/// What a connection is doing, which decides what its deadline means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A request is under way (or expected: a new connection, pipelined
    /// bytes, a body being read away). At the deadline: 408, or just a
    /// close when the head was already answered.
    Request,
    /// Kept alive between requests with nothing received. At the
    /// deadline: a quiet close.
    Idle,
    /// The last answer is queued; close once it is written, first
    /// lingering if `linger`.
    Closing { linger: bool },
    /// Our side is shut; reading and dropping what the client still
    /// sends, until it closes or the deadline (as `common::net::linger_close`).
    Lingering { drained: usize },
}

/// One connection between events.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    state: State,
    deadline: Instant,
    /// Bytes received but not used yet (part of a head, pipelined
    /// requests); empty, without a buffer, most of the time.
    input: Vec<u8>,
    /// Answer bytes the client's socket could not take yet.
    pending: Vec<u8>,
    /// Body bytes of the last request still to be read away.
    skip: u64,
    /// Requests answered.
    served: u64,
    /// The client has closed its sending side.
    eof: bool,
    /// The last [`Conn::answer_requests`] stopped with enough answers
    /// queued, maybe before the last complete request.
    full: bool,
    /// The socket may hold bytes (or the end of the stream) not read yet.
    /// Set by a readable event; cleared once a read comes back short or
    /// with `WouldBlock`, which says the socket is empty: with
    /// edge-triggered epoll no new event comes for bytes already there.
    may_read: bool,
    /// The client has closed its side (epoll said so): read on until the
    /// read returns 0, even after a short read.
    peer_closed: bool,
}

/// What to do with a connection after serving an event.
enum Next {
    /// Keep it; epoll reports it again when something new happens.
    Wait,
    /// Keep it, and have epoll report it again at once: there is more to
    /// do, but other connections come first.
    Later,
    Close,
}

impl Worker {
    fn new(shared: Arc<Shared>) -> io::Result<Worker> {
        let epoll = Epoll::new()?;
        epoll.add(shared.listener.as_raw_fd(), LISTENER, READABLE | EXCLUSIVE)?;
        // Level-triggered: once rung, reported in every wait.
        epoll.add(shared.waker.as_raw_fd(), WAKER, READABLE)?;
        Ok(Worker {
            shared,
            epoll,
            conns: Vec::new(),
            free: Vec::new(),
            bufs: Buffers {
                read: vec![0; READ_BUF].into_boxed_slice(),
                out: Vec::with_capacity(4096),
            },
            listening: true,
        })
    }

    /// Serves until the server stops; dropping the worker then closes
    /// its connections.
    fn run(mut self) {
        let timeout = self.shared.timeout;
        // Deadlines are checked every tick: a tenth of the timeout, so a
        // silent client is closed at most 10% late.
        let tick = (timeout / 10).clamp(Duration::from_millis(5), Duration::from_secs(1));
        let mut next_sweep = Instant::now() + tick;
        let mut events: Vec<Event> = Vec::with_capacity(EVENTS_PER_WAIT);
        loop {
            let wait = next_sweep.saturating_duration_since(Instant::now());
            if let Err(e) = self.epoll.wait(&mut events, Some(wait)) {
                log::error!("epoll_wait failed: {e}; this worker stops");
                return;
            }
            let now = Instant::now();
            let mut rung = false;
            for event in &events {
                match event.token() {
                    LISTENER => self.accept_all(now),
                    WAKER => rung = true,
                    token => self.serve(token as usize, *event, now),
                }
            }
            if rung || self.shared.shutdown.is_stopping() {
                // The first to see it wakes the others.
                self.shared.waker.wake();
                log::debug!("worker stops, closing {} connections", self.open());
                return;
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + tick;
            }
        }
    }

    /// Connections open in this worker.
    fn open(&self) -> usize {
        self.conns.iter().flatten().count()
    }

    /// Accepts up to [`ACCEPTS_PER_WAKE`] connections waiting in the
    /// backlog, then serves each.
    fn accept_all(&mut self, now: Instant) {
        let mut accepted = Vec::with_capacity(ACCEPTS_PER_WAKE);
        self.accept_into(&mut accepted);
        for (stream, peer) in accepted {
            self.add(stream, peer, now);
        }
    }

    /// The accepting half of [`Worker::accept_all`]: fills `accepted` up
    /// to [`ACCEPTS_PER_WAKE`], until the backlog is empty or the server
    /// stops.
    fn accept_into(&mut self, accepted: &mut Vec<(TcpStream, SocketAddr)>) {
        while accepted.len() < ACCEPTS_PER_WAKE {
            match epoll::accept_nonblocking(&self.shared.listener) {
                // Maybe the connection that wakes us to stop.
                Ok(_) if self.shared.shutdown.is_stopping() => return,
                Ok(conn) => accepted.push(conn),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    // Out of file descriptors, most likely. The listener
                    // would stay ready and wake us again and again: stop
                    // watching it until the next sweep; meanwhile clients
                    // wait in the backlog.
                    log::error!("accept failed: {}", common::net::describe_io(&e));
                    if self.epoll.delete(self.shared.listener.as_raw_fd()).is_ok() {
                        self.listening = false;
                    }
                    return;
                }
            }
        }
    }

    /// Takes a new connection in (non-blocking already, see
    /// [`epoll::accept_nonblocking`]) and serves what it already sent; only
    /// a connection still open after that is watched with epoll.
    fn add(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        let max = self.shared.max_connections;
        if self.shared.open.fetch_add(1, Ordering::AcqRel) >= max {
            self.shared.open.fetch_sub(1, Ordering::AcqRel);
            log::warn!("{peer}: refused, {max} connections already open");
            return;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let fd = stream.as_raw_fd();
        log::debug!("{peer}: connected");
        self.conns[slot] = Some(Conn {
            stream,
            peer,
            state: State::Request,
            deadline: now + self.shared.timeout,
            input: Vec::new(),
            pending: Vec::new(),
            skip: 0,
            served: 0,
            eof: false,
            full: false,
            may_read: true,
            peer_closed: false,
        });
        // Accepts are deferred until the first bytes come (see `start`),
        // so the request is almost always here: serve it now. A request
        // without keep-alive is answered and closed before epoll ever
        // hears of its socket.
        let ready = Event::new(READABLE, slot as u64);
        let Some(conn) = self.conns[slot].as_mut() else {
            return;
        };
        let next = conn.on_event(&ready, &mut self.bufs, now, self.shared.timeout);
        if let Next::Close = next {
            self.close(slot);
            return;
        }
        // Adding an edge-triggered watch reports what is ready at once,
        // so bytes that came meanwhile (or a `Next::Later`) are not lost.
        if let Err(e) = self.epoll.add(fd, slot as u64, INTEREST) {
            log::warn!("{peer}: cannot watch: {e}");
            self.close(slot);
        }
    }

    /// Serves one event on the connection in `slot`.
    fn serve(&mut self, slot: usize, event: Event, now: Instant) {
        let timeout = self.shared.timeout;
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return; // closed earlier in this same batch of events
        };
        let next = conn.on_event(&event, &mut self.bufs, now, timeout);
        self.apply(slot, next);
    }

    /// Keeps, re-arms or closes the connection, as `next` says.
    fn apply(&mut self, slot: usize, next: Next) {
        let Some(conn) = self.conns[slot].as_mut() else {
            return;
        };
        match next {
            Next::Wait => {}
            Next::Later => {
                // Modifying an edge-triggered watch re-checks the socket:
                // still readable, so it is reported in the next wait.
                let fd = conn.stream.as_raw_fd();
                if let Err(e) = self.epoll.modify(fd, slot as u64, INTEREST) {
                    log::warn!("{}: cannot watch: {e}", conn.peer);
                    self.close(slot);
                }
            }
            Next::Close => self.close(slot),
        }
    }

    /// Closes the connection in `slot` (closing the socket also removes it
    /// from epoll) and frees the slot.
    fn close(&mut self, slot: usize) {
        if let Some(conn) = self.conns[slot].take() {
            log::debug!("{}: closed", conn.peer);
            self.free.push(slot);
            self.shared.open.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Every tick: deals with connections past their deadline, and watches
    /// the listener again if `accept` had failed.
    fn sweep(&mut self, now: Instant) {
        if !self.listening {
            let fd = self.shared.listener.as_raw_fd();
            self.listening = self.epoll.add(fd, LISTENER, READABLE | EXCLUSIVE).is_ok();
        }
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else {
                continue;
            };
            if now >= conn.deadline {
                let next = conn.on_deadline(&mut self.bufs, now);
                self.apply(slot, next);
            }
        }
    }
}

impl Conn {
    /// Serves a readiness event: writes what is pending, then rounds of
    /// read, answer every complete request, write the answers.
    fn on_event(
        &mut self,
        event: &Event,
        bufs: &mut Buffers,
        now: Instant,
        timeout: Duration,
    ) -> Next {
        if event.readable() {
            self.may_read = true;
        }
        if event.peer_closed() {
            self.peer_closed = true;
        }
        if let State::Lingering { .. } = self.state {
            return self.drain(bufs);
        }
        if !self.pending.is_empty() {
            match self.write_pending(now, timeout) {
                Ok(true) => {}
                // Still no room: epoll reports the socket when there is.
                Ok(false) => return Next::Wait,
                Err(()) => return Next::Close,
            }
            if let State::Closing { linger } = self.state {
                return self.finish(linger, bufs, now);
            }
        }
        for _ in 0..ROUNDS_PER_EVENT {
            let mut got = 0;
            // Complete requests still buffered are answered before more
            // is read, so `input` never holds more than a part of a head
            // plus one read.
            if self.may_read && !self.eof && !self.full {
                match (&self.stream).read(&mut bufs.read) {
                    Ok(0) => {
                        self.eof = true;
                        self.may_read = false;
                    }
                    Ok(n) => {
                        got = n;
                        // A short read emptied the socket (but for the end
                        // of the stream, if the client has closed).
                        self.may_read = n == bufs.read.len() || self.peer_closed;
                        if self.state == State::Idle {
                            self.state = State::Request;
                            self.deadline = now + timeout;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.may_read = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Next::Close,
                }
            }
            bufs.out.clear();
            if self.input.is_empty() {
                // The usual case: parse straight from the read buffer and
                // keep only what is left over (part of a next request).
                let bytes = &bufs.read[..got];
                let used = self.answer_requests(bytes, &mut bufs.out, now, timeout);
                self.input.extend_from_slice(&bytes[used..]);
            } else if got > 0
                && !self.eof
                && self.input.len() + got <= MAX_HEAD
                && !bufs.read[..got].contains(&b'\n')
            {
                // More of an unfinished line: a head can only end at a
                // '\n', so parsing it all again now would find nothing (a
                // client sending a byte at a time would cost a rescan per
                // byte).
                self.input.extend_from_slice(&bufs.read[..got]);
            } else {
                self.input.extend_from_slice(&bufs.read[..got]);
                let input = std::mem::take(&mut self.input);
                let used = self.answer_requests(&input, &mut bufs.out, now, timeout);
                self.input = input;
                self.input.drain(..used);
            }
            if let Some(next) = self.send(bufs, now, timeout) {
                return next;
            }
            // Another round only if there is something to do: bytes maybe
            // waiting in the socket, or complete requests left buffered
            // when the answers filled up.
            let more_to_read = self.may_read && !self.eof;
            if !self.full && !more_to_read {
                return Next::Wait;
            }
        }
        Next::Later
    }

    /// At the deadline: 408 for a request left unfinished, otherwise a
    /// close.
    fn on_deadline(&mut self, bufs: &mut Buffers, now: Instant) -> Next {
        if !self.pending.is_empty() {
            log::debug!("{}: not reading its answers; closed", self.peer);
            return Next::Close;
        }
        match self.state {
            State::Request if self.skip == 0 => {
                bufs.out.clear();
                crate::encode_error(&HeadError::Timeout, self.peer, &mut bufs.out);
                self.state = State::Closing { linger: true };
                // No longer waiting for this client: a short deadline for
                // writing the 408.
                self.send(bufs, now, LINGER_TIME).unwrap_or(Next::Wait)
            }
            State::Idle => {
                log::debug!("{}: idle keep-alive connection timed out", self.peer);
                Next::Close
            }
            _ => Next::Close,
        }
    }

    /// Answers the requests in `bytes` (appending the answers to `out`)
    /// and returns how many bytes were used. Stops at an incomplete
    /// request, at an answer that closes the connection, or when enough
    /// answers are queued.
    fn answer_requests(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
        timeout: Duration,
    ) -> usize {
        let mut used = 0;
        self.full = false;
        loop {
            if !matches!(self.state, State::Request | State::Idle) {
                return used;
            }
            if self.skip > 0 {
                let n = self.skip.min((bytes.len() - used) as u64);
                used += n as usize;
                self.skip -= n;
                if self.skip > 0 {
                    if self.eof {
                        self.state = State::Closing { linger: false };
                    }
                    return used;
                }
            }
            let rest = &bytes[used..];
            if rest.is_empty() {
                if self.eof {
                    self.state = State::Closing { linger: false };
                } else if self.served > 0 && self.state == State::Request {
                    // Answered, and nothing of a next request yet.
                    self.state = State::Idle;
                    self.deadline = now + timeout;
                }
                return used;
            }
            if out.len() >= MAX_PENDING {
                self.full = true;
                return used;
            }
            let answer = match http::parse_head(rest, MAX_HEAD) {
                Ok(Some((head, n))) => {
                    used += n;
                    crate::respond(&head, out, self.peer)
                }
                // Not all here yet: wait for more.
                Ok(None) if !self.eof => return used,
                // The client closed: only blank lines is a clean end, half
                // a head a 400 (as in the threads engine).
                Ok(None) => match http::end_of_input(rest) {
                    Ok(()) => {
                        self.state = State::Closing { linger: false };
                        return bytes.len();
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match answer {
                Ok(answer) => self.answered(&answer, used < bytes.len(), now, timeout),
                Err(e) => {
                    self.answer_error(e, out);
                    return bytes.len();
                }
            }
        }
    }

    /// After an answer: keep the connection for the next request, or close
    /// it once the answer is written.
    fn answered(&mut self, answer: &Answer, more_bytes: bool, now: Instant, timeout: Duration) {
        self.served += 1;
        if self.served == 2 {
            // As in the threads engine: send each answer at once rather
            // than letting Nagle's algorithm hold it back.
            let _ = self.stream.set_nodelay(true);
        }
        if answer.keep_alive {
            self.skip = answer.discard;
            self.state = State::Request;
            self.deadline = now + timeout;
        } else {
            // Unread bytes would make close() send a reset that can
            // destroy the answer: linger first (as `common::net::linger_close`).
            let linger = !answer.body_read || answer.discard > 0 || more_bytes;
            self.state = State::Closing { linger };
        }
    }

    /// Queues the answer to a request that could not be read (400, 431),
    /// and closes after it.
    fn answer_error(&mut self, e: HeadError, out: &mut Vec<u8>) {
        let answered = crate::encode_error(&e, self.peer, out);
        self.state = State::Closing { linger: answered };
    }

    /// Writes the answers in `bufs.out` (keeping what the socket cannot
    /// take yet). `Some` when this event is over for the connection:
    /// waiting for room to write, closing, or lingering.
    fn send(&mut self, bufs: &mut Buffers, now: Instant, timeout: Duration) -> Option<Next> {
        let out = &bufs.out;
        if !out.is_empty() {
            let written = match (&self.stream).write(out) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(_) => return Some(Next::Close),
            };
            if written < out.len() {
                // The rest goes when epoll reports room (or the deadline
                // closes a client that does not read).
                self.pending.extend_from_slice(&out[written..]);
                self.deadline = now + timeout;
                return Some(Next::Wait);
            }
        }
        match self.state {
            State::Closing { linger } => Some(self.finish(linger, bufs, now)),
            _ if self.eof => Some(Next::Close),
            _ => None,
        }
    }

    /// Writes pending answer bytes; `Ok(true)` once all are written.
    fn write_pending(&mut self, now: Instant, timeout: Duration) -> Result<bool, ()> {
        loop {
            match (&self.stream).write(&self.pending) {
                Ok(0) => return Err(()),
                Ok(n) => {
                    self.pending.drain(..n);
                    self.deadline = now + timeout;
                    if self.pending.is_empty() {
                        self.pending = Vec::new();
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
    }

    /// The last answer is written: close, or shut our side and linger.
    fn finish(&mut self, linger: bool, bufs: &mut Buffers, now: Instant) -> Next {
        if !linger || self.eof || self.stream.shutdown(Both::Write).is_err() {
            return Next::Close;
        }
        self.state = State::Lingering { drained: 0 };
        self.deadline = now + LINGER_TIME;
        // Bytes already in the socket bring no new event: drain them now.
        self.drain(bufs)
    }

    /// While lingering: reads and drops what the client sends.
    fn drain(&mut self, bufs: &mut Buffers) -> Next {
        let State::Lingering { drained } = &mut self.state else {
            return Next::Close;
        };
        loop {
            match (&self.stream).read(&mut bufs.read) {
                Ok(0) => return Next::Close,
                Ok(n) => {
                    *drained += n;
                    if *drained >= LINGER_MAX_BYTES {
                        return Next::Close;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }
}
