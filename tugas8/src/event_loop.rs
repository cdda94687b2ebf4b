//! The fast path (Linux): event loops that serve the common request, a
//! GET of a small static file already in memory, without a thread per
//! connection; every other request goes to a connection thread.
//!
//! # Why
//!
//! A thread per connection is the clearest way to write a server (see
//! [`crate::server::handle_connection`]), but under many kept-alive
//! clients every request wakes a sleeping thread: with `ab -k -c 1000`
//! the kernel's thread switches took over half the server's time, and it
//! answered about half as many requests per second as nginx. Here one
//! thread per CPU core asks the kernel which of its connections have
//! bytes ([`Epoll::wait`]) and answers each one in turn, as nginx does.
//!
//! # What a loop does
//!
//! ```text
//! loop {
//!     wait for ready sockets (at most a tick)
//!     listener ready   -> accept up to 4 waiting connections (deferred
//!                         accept: each comes with its request), serve
//!                         what came, watch those still open
//!     connection ready -> read what came; while it holds whole requests
//!                         that the fast path answers (GET or HEAD of a
//!                         file in the cache, no body): answer them;
//!                         anything else (a POST, a body, a head cut
//!                         between reads, a big or new file, an error,
//!                         an answer the client is slow to take):
//!                         hand the connection to a thread
//!     every tick       -> close kept-alive connections idle past
//!                         --timeout; hand a new silent one to a thread
//!                         (which answers 408)
//!     stopping         -> close every connection, leave
//! }
//! ```
//!
//! A connection handed over leaves the loop for good: the thread gets the
//! socket, the bytes already read, the answers not yet written, and the
//! deadline of the request under way, and serves it as it serves any
//! connection ([`crate::server::serve_handed_over`]). So the rules for
//! every request (limits, 408 at the deadline, keep-alive) are the
//! threads' rules, written once; the loop only takes the requests it can
//! answer at once.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::http::{self, Head};
use common::stop::{Admitted, Shutdown};

use crate::epoll::{self, Epoll, Event, EXCLUSIVE, READABLE};
use crate::server::{self, HandOver, Site};
use crate::workers::Workers;

/// The listener's token; connections use their slot number.
const LISTENER: u64 = u64::MAX;

/// How often a loop looks at deadlines and at the stop signal.
const TICK: Duration = Duration::from_millis(50);

/// Connections one loop accepts per wake-up. The listener is watched
/// level-triggered, so connections still waiting are reported again at
/// once, and meanwhile the other loops take their share: one loop
/// accepting everything would serve every connection on one core.
const ACCEPTS_PER_WAKE: usize = 4;

/// How long the kernel holds a new connection back waiting for its first
/// bytes ([`crate::epoll::defer_accept`]): a client that sends nothing
/// reaches the loop about this much later (then 408 after `--timeout`).
pub const DEFER_ACCEPT_SECS: u32 = 1;

/// One read takes at most this much.
const READ_BUF: usize = 16 * 1024;

/// A connection the loop serves.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Counted as open by the server's `Shutdown` until dropped.
    admitted: Admitted,
    /// Requests answered.
    served: u64,
    /// When the loop gives up waiting: a new connection that stays silent
    /// goes to a thread (408), a kept-alive idle one is closed.
    deadline: Instant,
}

/// What to do with a connection after reading from it.
enum Next {
    Keep,
    Close,
    /// To a thread, with the bytes not used and the answers not written
    /// (and whether the connection ends once they are).
    HandOver {
        input: Vec<u8>,
        pending: Vec<u8>,
        close_after: bool,
    },
}

/// One event loop, on the calling thread, until `shutdown` is given.
///
/// # Errors
/// If the epoll instance cannot be made (nothing was served then).
pub fn run(
    listener: &TcpListener,
    site: &Arc<Site>,
    shutdown: &Shutdown,
    workers: &Mutex<Workers>,
) -> io::Result<()> {
    let epoll = Epoll::new()?;
    epoll.add(listener.as_raw_fd(), LISTENER, READABLE | EXCLUSIVE)?;
    let mut lp = Loop {
        epoll,
        conns: Vec::new(),
        free: Vec::new(),
        buf: vec![0; READ_BUF],
        out: Vec::with_capacity(4096),
        site,
        workers,
    };
    let mut events: Vec<Event> = Vec::with_capacity(1024);
    let mut next_sweep = Instant::now() + TICK;
    while !shutdown.is_stopping() {
        if let Err(e) = lp.epoll.wait(&mut events, TICK) {
            log::error!("epoll_wait failed: {e}; this loop stops");
            break;
        }
        for event in &events {
            match event.token() {
                LISTENER => lp.accept_all(listener, shutdown),
                slot => lp.ready(slot as usize),
            }
        }
        let now = Instant::now();
        if now >= next_sweep {
            lp.sweep(now);
            next_sweep = now + TICK;
        }
    }
    // Dropping the connections closes them.
    Ok(())
}

struct Loop<'a> {
    epoll: Epoll,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    buf: Vec<u8>,
    out: Vec<u8>,
    site: &'a Arc<Site>,
    workers: &'a Mutex<Workers>,
}

impl Loop<'_> {
    /// Accepts up to [`ACCEPTS_PER_WAKE`] waiting connections and serves
    /// what each has sent (with deferred accept, usually its request).
    fn accept_all(&mut self, listener: &TcpListener, shutdown: &Shutdown) {
        for _ in 0..ACCEPTS_PER_WAKE {
            let (stream, peer) = match epoll::accept_nonblocking(listener) {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    common::net::accept_failed(&e);
                    return;
                }
            };
            if shutdown.is_stopping() {
                return; // maybe the connection that wakes us to stop
            }
            // Counted, not registered for the stop: this loop closes its
            // connections itself; a thread gets one only watched.
            let Some(admitted) = shutdown.admit_unwatched(peer) else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            log::debug!("{peer}: connected");
            let slot = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let fd = stream.as_raw_fd();
            self.conns[slot] = Some(Conn {
                stream,
                peer,
                admitted,
                served: 0,
                deadline: Instant::now() + self.site.config.timeout,
            });
            // With deferred accept the request is here already: serve it
            // now. Only a connection still open after that (kept alive,
            // or its request not whole yet) is watched: a close-per-request
            // client never costs an epoll_ctl.
            self.ready(slot);
            if self.conns[slot].is_some() {
                if let Err(e) = self.epoll.add(fd, slot as u64, READABLE) {
                    log::warn!("{peer}: cannot watch: {e}");
                    self.close(slot);
                }
            }
        }
    }

    /// Serves the connection in `slot`, which has bytes (or its end).
    fn ready(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let next = serve(conn, &mut self.buf, &mut self.out, self.site);
        match next {
            Next::Keep => {}
            Next::Close => self.close(slot),
            Next::HandOver {
                input,
                pending,
                close_after,
            } => self.hand_over(slot, input, pending, close_after, None),
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(conn) = self.conns[slot].take() {
            log::debug!("{}: closed", conn.peer);
            self.free.push(slot);
        }
    }

    /// Gives the connection in `slot` to a thread: the bytes read but not
    /// used, the answers not yet written, and the request's deadline.
    fn hand_over(
        &mut self,
        slot: usize,
        input: Vec<u8>,
        pending: Vec<u8>,
        close_after: bool,
        deadline: Option<Instant>,
    ) {
        let Some(conn) = self.conns[slot].take() else {
            return;
        };
        self.free.push(slot);
        let _ = self.epoll.delete(conn.stream.as_raw_fd());
        let deadline = deadline.unwrap_or_else(|| Instant::now() + self.site.config.timeout);
        let site = Arc::clone(self.site);
        let Conn {
            stream,
            peer,
            admitted,
            served,
            ..
        } = conn;
        // The thread blocks on the socket: the stop must shut it down.
        admitted.watch(&stream);
        let handed = HandOver {
            stream,
            peer,
            input,
            pending,
            deadline,
            served,
            close_after,
        };
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .run(move || {
                let _admitted = admitted;
                server::serve_handed_over(handed, &site);
            });
    }

    /// Every tick: a kept-alive connection idle past its deadline is
    /// closed; a new one that never spoke goes to a thread, whose deadline
    /// has passed too, so it answers 408 at once.
    fn sweep(&mut self, now: Instant) {
        for slot in 0..self.conns.len() {
            let Some(conn) = &self.conns[slot] else {
                continue;
            };
            if now < conn.deadline {
                continue;
            }
            if conn.served > 0 {
                log::debug!("{}: idle keep-alive connection closed", conn.peer);
                self.close(slot);
            } else {
                let deadline = conn.deadline;
                self.hand_over(slot, Vec::new(), Vec::new(), false, Some(deadline));
            }
        }
    }
}

/// Reads once, answers every whole request the fast path can, writes the
/// answers; says what happens next.
fn serve(conn: &mut Conn, buf: &mut [u8], out: &mut Vec<u8>, site: &Site) -> Next {
    let n = match (&conn.stream).read(buf) {
        Ok(0) => return Next::Close,
        Ok(n) => n,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            return Next::Keep
        }
        Err(_) => return Next::Close,
    };
    let bytes = &buf[..n];
    out.clear();
    let mut used = 0;
    let mut close = false;
    while used < bytes.len() {
        let rest = &bytes[used..];
        let Ok(Some((head, len))) = http::parse_head(rest, site.config.max_head) else {
            break; // cut between reads, or bad: the thread deals with it
        };
        let keep_alive = head.keep_alive();
        // A close with bytes after it needs a lingering close: a thread's.
        if !keep_alive && used + len < bytes.len() {
            break;
        }
        if !fast_answer(&head, site, out, keep_alive, conn.peer) {
            break;
        }
        used += len;
        conn.served += 1;
        if !keep_alive {
            close = true;
            break;
        }
    }
    let rest = bytes[used..].to_vec();
    let written = match (&conn.stream).write(out) {
        Ok(w) => w,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(_) => return Next::Close,
    };
    if written < out.len() || !rest.is_empty() {
        // `close` with bytes left over cannot be (see above): a close
        // after the answer is then the thread's, once it is written.
        return Next::HandOver {
            input: rest,
            pending: out[written..].to_vec(),
            close_after: close,
        };
    }
    if close {
        return Next::Close;
    }
    conn.deadline = Instant::now() + site.config.timeout;
    Next::Keep
}

/// Appends the answer to `head` if the fast path can give it: a GET or
/// HEAD, without a body, of a file already in the cache. `false`
/// otherwise (and nothing appended).
fn fast_answer(
    head: &Head<'_>,
    site: &Site,
    out: &mut Vec<u8>,
    keep_alive: bool,
    peer: SocketAddr,
) -> bool {
    if !matches!(head.method, "GET" | "HEAD")
        || head.header("content-length").is_some()
        || head.header("transfer-encoding").is_some()
        || head.header("expect").is_some()
        || (head.version == "HTTP/1.1" && head.header("host").is_none())
    {
        return false;
    }
    let Some(kept) = server::cached_file(head.target, &site.cache) else {
        return false;
    };
    let response = &kept.response;
    log::info!(
        "{peer} \"{} {} {}\" {} {}",
        head.method,
        head.target,
        head.version,
        response.status,
        response.body.len()
    );
    response.encode_into(out, head.version, head.method == "HEAD", keep_alive);
    true
}
