//! The threads engine: a thread per connection that sleeps in `read` until
//! its client speaks; the plainest multithreaded server, and the one to
//! read first.
//!
//! # Threads that take turns at `accept`
//!
//! The simplest such server starts a new thread for every connection.
//! Under a load test without keep-alive (`ab -n 100000 -c 1000`) that is
//! 100 000 thread starts. Here threads are reused instead: an idle thread
//! waits in `accept` itself (the kernel wakes exactly one waiter per
//! connection), serves the connection it got, and goes back to `accept`.
//! A thread that accepts a connection and sees no other thread left
//! waiting in `accept` hands the connection to a new thread and goes
//! straight back to `accept` itself, so there is always a thread ready for
//! the next client, and nobody waits for a thread to start: a burst of
//! 2000 connections is taken in at the speed of `accept` and thread
//! starts, not one thread start after another. A slow or silent client
//! holds only its own thread and never delays anyone (which a fixed-size
//! pool would not promise). When more than [`MAX_IDLE_THREADS`] are idle
//! after a burst, the extra ones end.
//!
//! ```text
//! acceptor thread:
//!     loop {
//!         accept                      (many threads may wait here at once)
//!         stopping?                   -> wake the next waiter, leave
//!         nobody else waiting?        -> a new thread serves the connection
//!                                        (then becomes an acceptor); back to accept
//!         serve the connection        (handle_connection, until it closes)
//!         too many idle threads?      -> leave
//!     }
//! ```
//!
//! # How it ends
//!
//! [`run`] watches the listener with the server's [`Shutdown`]. `stop()`
//! sets the flag, shuts every admitted connection's socket down (a thread
//! blocked reading its client returns at once; on Windows, where that
//! does not wake a read blocked in another thread, a thread waiting for a
//! kept-alive client's next request looks at the flag every
//! [`STOP_CHECK`] instead) and connects to the
//! listener, which wakes one thread in `accept`; that thread sees the
//! flag, connects once more if other threads still wait there, so they
//! wake one after another, and leaves. The thread that called [`run`] is
//! an acceptor too; once it leaves, it joins every thread started, then
//! returns.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::framing::{self, DeadlineReader};
use common::http::{self, HeadError, MAX_HEAD};
use common::net;
use common::stop::Shutdown;

use crate::{encode_error, respond, Config};

/// Idle threads kept waiting in `accept` after a burst of connections;
/// more end. Enough for `ab -c 1000` to find a thread ready for every
/// connection: with only 64 kept, threads were started and ended all
/// through such a run and the server answered about a fifth fewer
/// requests per second. An idle thread costs little (a whole server
/// measured 18 MB resident with 999 threads).
pub const MAX_IDLE_THREADS: usize = 1024;

/// Stack of a connection's thread. Serving a request needs a few KiB;
/// a small stack makes a thread quicker to start (and glibc keeps more
/// of them for reuse) than the default 2 MiB.
pub const CONN_STACK: usize = 256 * 1024;

/// Serves HTTP on `listener` with a thread per connection until
/// `shutdown` is given, then joins every thread it started.
///
/// # Errors
/// If the listener has no address (nothing was served then).
pub fn run(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    shutdown.watch(&listener)?;
    let local = listener.local_addr()?;
    let pool = Arc::new(Pool {
        listener,
        local,
        timeout: config.timeout,
        max_connections: config.max_connections,
        shutdown: shutdown.clone(),
        idle: AtomicUsize::new(1),
        open: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        threads: Mutex::new(Vec::new()),
    });
    // The calling thread is the first acceptor; it leaves only on stop.
    acceptor(&pool, false);
    // Threads started while others were being joined are joined too.
    loop {
        let threads = std::mem::take(&mut *lock(&pool.threads));
        if threads.is_empty() {
            return Ok(());
        }
        for t in threads {
            let _ = t.join();
        }
    }
}

/// What the acceptor threads share.
struct Pool {
    listener: TcpListener,
    local: SocketAddr,
    timeout: Duration,
    max_connections: usize,
    shutdown: Shutdown,
    /// Threads in (or about to enter) `accept`.
    idle: AtomicUsize,
    /// Connections being served, for `max_connections`.
    open: AtomicUsize,
    /// Consecutive `accept` failures, for back-off.
    failures: AtomicUsize,
    /// Every acceptor thread started (finished ones are dropped now and
    /// then), for [`run`] to join.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// Accepts and serves, connection after connection; returns on stop, or
/// if `may_leave` and enough other threads wait in `accept`.
fn acceptor(pool: &Arc<Pool>, may_leave: bool) {
    // On entry this thread is already counted in `idle`.
    loop {
        let accepted = if pool.shutdown.is_stopping() {
            Err(io::ErrorKind::Interrupted.into())
        } else {
            pool.listener.accept()
        };
        let left_waiting = pool.idle.fetch_sub(1, Ordering::AcqRel) - 1;
        if pool.shutdown.is_stopping() {
            if left_waiting > 0 {
                // Wake the next thread blocked in accept, and it the next.
                let _ = TcpStream::connect_timeout(&pool.local, Duration::from_secs(1));
            }
            return;
        }
        let (stream, peer) = match accepted {
            Ok(pair) => {
                pool.failures.store(0, Ordering::Relaxed);
                pair
            }
            Err(e) => {
                pool.idle.fetch_add(1, Ordering::AcqRel);
                back_off(pool, &e);
                continue;
            }
        };
        if left_waiting == 0 {
            // Nobody else waits in accept: the next client must not wait
            // for a thread to start. A new thread serves this connection,
            // and this one goes straight back to accept.
            match spawn_acceptor(pool, stream, peer) {
                Ok(()) => {
                    pool.idle.fetch_add(1, Ordering::AcqRel);
                    continue;
                }
                Err((stream, peer)) => serve_one(pool, stream, peer),
            }
        } else {
            serve_one(pool, stream, peer);
        }
        // Back to accept, unless plenty of threads already wait there.
        let waiting = pool.idle.fetch_add(1, Ordering::AcqRel) + 1;
        if may_leave
            && waiting > MAX_IDLE_THREADS
            && pool
                .idle
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n > MAX_IDLE_THREADS).then(|| n - 1)
                })
                .is_ok()
        {
            return;
        }
    }
}

/// Starts one more thread: it serves `stream`, then waits in `accept` as
/// an acceptor. Gives the connection back if no thread can start.
fn spawn_acceptor(
    pool: &Arc<Pool>,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<(), (TcpStream, SocketAddr)> {
    let next = Arc::clone(pool);
    // Shared with the new thread, so the connection can be taken back if
    // the thread cannot start (the closure is then dropped unrun).
    let conn = Arc::new(Mutex::new(Some((stream, peer))));
    let for_thread = Arc::clone(&conn);
    let spawned = thread::Builder::new()
        .name(format!("conn {}", pool.local))
        .stack_size(CONN_STACK)
        .spawn(move || {
            if let Some((stream, peer)) = lock(&for_thread).take() {
                serve_one(&next, stream, peer);
            }
            next.idle.fetch_add(1, Ordering::AcqRel);
            acceptor(&next, true);
        });
    match spawned {
        Ok(handle) => {
            let mut threads = lock(&pool.threads);
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
            Ok(())
        }
        Err(e) => {
            log::error!("cannot start a thread: {}", common::error::io_cause(&e));
            // Served on the calling thread instead.
            let taken = lock(&conn).take();
            match taken {
                Some(conn) => Err(conn),
                None => Ok(()),
            }
        }
    }
}

/// Serves one accepted connection, if the cap allows.
fn serve_one(pool: &Pool, stream: TcpStream, peer: SocketAddr) {
    if pool.open.fetch_add(1, Ordering::AcqRel) >= pool.max_connections {
        pool.open.fetch_sub(1, Ordering::AcqRel);
        log::warn!(
            "{peer}: refused, {} connections already open",
            pool.max_connections
        );
        return;
    }
    // Registered, so that stop() can shut its socket down.
    if let Some(_admitted) = pool.shutdown.admit(&stream) {
        log::debug!("{peer}: connected");
        match handle_connection(&stream, peer, pool.timeout, &pool.shutdown) {
            Ok(()) => log::debug!("{peer}: closed"),
            Err(e) => log::warn!("{peer}: {}", net::describe_io(&e)),
        }
    }
    pool.open.fetch_sub(1, Ordering::AcqRel);
}

/// After a failed `accept`: routine for an aborted handshake; otherwise
/// (EMFILE: too many open files, ...) say so and wait a little instead of
/// spinning, longer after each failure in a row.
fn back_off(pool: &Pool, e: &io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) {
        return;
    }
    let failures = pool.failures.fetch_add(1, Ordering::Relaxed) + 1;
    log::error!(
        "accept on {} failed: {}",
        pool.local,
        common::error::io_cause(e)
    );
    thread::sleep(Duration::from_millis(10 * failures.min(50) as u64));
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// On Windows, how often a thread waiting for a kept-alive client's next
/// request looks whether the server stops: there `shutdown()` (what
/// `Shutdown::stop` does to each connection) does not wake a read blocked
/// in another thread, so without this a stop would wait for every
/// kept-alive connection's `--timeout`. Elsewhere the shutdown wakes the
/// read and the thread waits in one read.
pub const STOP_CHECK: Duration = Duration::from_millis(100);

/// The reading side of a connection: buffered, each request within its
/// deadline.
type ConnReader<'a> = BufReader<DeadlineReader<&'a TcpStream>>;

/// Serves one connection: reads requests and answers them until the client
/// closes, asks to close, or is silent for `timeout`.
///
/// One `BufReader` lives as long as the connection, so a request that
/// arrives in pieces, or several pipelined requests in one segment, are
/// read correctly; each response leaves in one `write`. Each request (its
/// head, and a body read away) must arrive whole within `timeout` of its
/// start ([`DeadlineReader`]), so a client sending a byte now and then
/// cannot hold the connection for ever; between kept-alive requests the
/// socket's read timeout, also `timeout`, ends an idle connection, and
/// so does `shutdown` being given.
///
/// # Errors
/// Socket failures other than the client closing or going silent.
pub fn handle_connection(
    stream: &TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    shutdown: &Shutdown,
) -> io::Result<()> {
    stream.set_write_timeout(Some(timeout))?;
    let mut reader = BufReader::with_capacity(4096, DeadlineReader::new(stream, Some(timeout))?);
    // The buffers live as long as the connection: after the first request
    // reading and answering allocate nothing.
    let mut partial: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(512);
    let mut served = 0u64;
    loop {
        if served > 0 {
            // Between requests only the socket's idle timeout applies.
            reader.get_mut().clear();
            if !wait_for_next_request(&mut reader, peer, timeout, shutdown)? {
                return Ok(());
            }
        }
        reader.get_mut().start(timeout);
        out.clear();
        let read = http::read_head(&mut reader, MAX_HEAD, &mut partial, |head| {
            respond(&head, &mut out, peer)
        });
        let answer = match read {
            Ok(Some(Ok(answer))) => answer,
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) | Err(e) => {
                return answer_error(stream, &mut reader, &mut out, peer, e)
            }
        };
        if answer.discard > 0 {
            framing::copy_exact(&mut reader, &mut io::sink(), answer.discard, 8192, |_| ())
                .map_err(io::Error::from)?;
        }
        if served == 1 {
            // A second answer on this connection: send each answer at once
            // rather than letting Nagle's algorithm hold it until the
            // client acknowledges the previous one. (The first answer
            // never waits, so a connection used once skips the syscall.)
            let _ = stream.set_nodelay(true);
        }
        (&*stream).write_all(&out)?;
        served += 1;
        if !answer.keep_alive {
            // Bytes still unread (a pipelined request, a big body) would
            // make close() send a reset that can destroy our response.
            if !answer.body_read || !reader.buffer().is_empty() {
                reader.get_mut().set_deadline(None);
                net::linger_close(stream, &mut reader);
            }
            return Ok(());
        }
    }
}

/// Between keep-alive requests: waits for the next request's first byte.
/// A client that goes quiet or closes here has done nothing wrong, so the
/// connection just ends (no 408). Waits at most `timeout`, on Windows in
/// steps of [`STOP_CHECK`] that look at `shutdown` between them.
fn wait_for_next_request(
    reader: &mut ConnReader<'_>,
    peer: SocketAddr,
    timeout: Duration,
    shutdown: &Shutdown,
) -> io::Result<bool> {
    let step = if cfg!(windows) { STOP_CHECK } else { timeout };
    let until = Instant::now() + timeout;
    let came = loop {
        let next = until.min(Instant::now() + step);
        reader.get_mut().set_deadline(Some(next));
        match reader.fill_buf() {
            Ok(bytes) => break Ok(!bytes.is_empty()),
            Err(e) if framing::is_timeout(&e) => {
                if Instant::now() < until && !shutdown.is_stopping() {
                    continue; // one step (Windows) is over, not the timeout
                }
                log::debug!("{peer}: idle keep-alive connection timed out");
                break Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break Ok(false),
            Err(e) => break Err(e),
        }
    };
    // The socket's own timeout back, if a step shortened it.
    reader.get_mut().clear();
    came
}

/// Answers a request that could not be read (400, 408, 431) and closes.
fn answer_error(
    stream: &TcpStream,
    reader: &mut ConnReader<'_>,
    out: &mut Vec<u8>,
    peer: SocketAddr,
    e: HeadError,
) -> io::Result<()> {
    out.clear();
    if !encode_error(&e, peer, out) {
        return match e {
            HeadError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
            HeadError::Io(e) => Err(e),
            _ => Ok(()),
        };
    }
    // The client may be gone already (e.g. it closed after a partial head).
    if (&*stream).write_all(out).is_ok() {
        reader.get_mut().set_deadline(None);
        net::linger_close(stream, reader);
    }
    Ok(())
}
