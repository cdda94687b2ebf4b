//! The accept loop: one thread per connection, threads reused, and every
//! thread accepts for itself.
//!
//! `common::net::serve` has one thread that accepts and starts a new thread
//! for every connection. That is the simplest correct design, but a load
//! test without keep-alive (`ab -n 100000 -c 1000`) then starts 100 000
//! threads, and every connection is handed from one thread to another.
//!
//! Here the threads take turns: an idle thread waits in `accept` itself
//! (the kernel wakes exactly one waiter per new connection), serves the
//! connection it got, and goes back to `accept`. Just before serving, a
//! thread that sees no other thread left waiting in `accept` starts one, so
//! there is always a thread ready for the next client: a slow or idle
//! keep-alive client holds only its own thread and never delays anyone
//! (the property a fixed-size pool would lose). When many threads are idle
//! after a burst, those above [`MAX_IDLE_THREADS`] exit.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::error::io_cause;
use common::net::{describe_io, set_timeouts, ServeOptions};

/// Threads kept waiting in `accept` after a burst; more exit. Enough for
/// `ab -c 1000` to find a thread ready for every connection: with only 64
/// kept, threads were started and ended all through such a run and it
/// served about a fifth fewer requests per second. An idle thread costs
/// little (the whole server measured 18 MB resident with 999 threads).
pub const MAX_IDLE_THREADS: usize = 1024;

struct Shared<H> {
    listener: TcpListener,
    opts: ServeOptions,
    handler: H,
    /// Threads in (or about to enter) `accept`.
    idle: AtomicUsize,
    /// Connections being served.
    active: AtomicUsize,
    /// Consecutive `accept` failures, for back-off.
    failures: AtomicUsize,
    local: String,
    /// Idle threads kept; more exit.
    max_idle: usize,
}

/// Accepts connections for ever and runs `handler` for each on a thread of
/// its own, with the timeouts of `opts` set; at most `opts.max_connections`
/// at once (more are closed at once). A handler's error is logged with the
/// peer address and ends only that connection. `opts.nodelay` is left to
/// the handler (it knows whether a connection is kept alive).
pub fn serve<H>(listener: TcpListener, opts: ServeOptions, handler: H)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    serve_keeping(listener, opts, MAX_IDLE_THREADS, handler);
}

/// [`serve`], keeping at most `max_idle` idle threads after a burst.
pub fn serve_keeping<H>(listener: TcpListener, opts: ServeOptions, max_idle: usize, handler: H)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let shared = Arc::new(Shared {
        listener,
        opts,
        handler,
        idle: AtomicUsize::new(1),
        active: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        local,
        max_idle,
    });
    // The calling thread is the first acceptor, and never leaves: `serve`
    // returns only when the process ends.
    worker_loop(&shared, false);
}

/// Accepts and serves, connection after connection; returns only if
/// `may_leave` and enough other threads wait in `accept`.
fn worker_loop<H>(shared: &Arc<Shared<H>>, may_leave: bool)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    // On entry this thread is already counted in `idle`.
    loop {
        let accepted = shared.listener.accept();
        let left_waiting = shared.idle.fetch_sub(1, Ordering::AcqRel) - 1;
        let (stream, peer) = match accepted {
            Ok(pair) => {
                shared.failures.store(0, Ordering::Relaxed);
                pair
            }
            Err(e) => {
                shared.idle.fetch_add(1, Ordering::AcqRel);
                back_off(shared, &e);
                continue;
            }
        };
        if left_waiting == 0 {
            spawn_acceptor(shared);
        }
        serve_one(shared, stream, peer);
        // Back to accept, unless plenty of threads already wait there.
        let waiting = shared.idle.fetch_add(1, Ordering::AcqRel) + 1;
        if may_leave
            && waiting > shared.max_idle
            && shared
                .idle
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n > shared.max_idle).then(|| n - 1)
                })
                .is_ok()
        {
            return;
        }
    }
}

/// Starts one more thread waiting in `accept`.
fn spawn_acceptor<H>(shared: &Arc<Shared<H>>)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    shared.idle.fetch_add(1, Ordering::AcqRel);
    let next = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("http connection".to_string())
        .spawn(move || worker_loop(&next, true));
    if let Err(e) = spawned {
        // New clients wait in the listen backlog until a thread is free.
        shared.idle.fetch_sub(1, Ordering::AcqRel);
        log::error!("cannot start a thread: {}", io_cause(&e));
    }
}

/// Serves one accepted connection with the limits of `opts`.
fn serve_one<H>(shared: &Shared<H>, stream: TcpStream, peer: SocketAddr)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()>,
{
    let opts = &shared.opts;
    if shared.active.fetch_add(1, Ordering::AcqRel) >= opts.max_connections {
        shared.active.fetch_sub(1, Ordering::AcqRel);
        log::warn!(
            "{peer}: refused, {} connections already open",
            opts.max_connections
        );
        return;
    }
    match set_timeouts(&stream, opts.timeout) {
        Ok(()) => {
            log::debug!("{peer}: connected");
            match (shared.handler)(stream, peer) {
                Ok(()) => log::debug!("{peer}: closed"),
                Err(e) => log::warn!("{peer}: {}", describe_io(&e)),
            }
        }
        Err(e) => log::warn!("{peer}: cannot set timeouts: {}", io_cause(&e)),
    }
    shared.active.fetch_sub(1, Ordering::AcqRel);
}

/// After a failed `accept`: routine for an aborted handshake; otherwise
/// (EMFILE: too many open files, ...) say so and wait a little instead of
/// spinning.
fn back_off<H>(shared: &Shared<H>, e: &io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) {
        return;
    }
    let failures = shared.failures.fetch_add(1, Ordering::Relaxed) + 1;
    log::error!("accept on {} failed: {}", shared.local, io_cause(e));
    thread::sleep(Duration::from_millis(10 * failures.min(50) as u64));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::mpsc::channel;
    use std::sync::Mutex;

    #[test]
    fn threads_are_reused_and_a_busy_one_blocks_nobody() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (names_tx, names_rx) = channel();
        let names_tx = Mutex::new(names_tx);
        thread::spawn(move || {
            serve(listener, ServeOptions::default(), move |mut s, _| {
                let id = format!("{:?}", thread::current().id());
                names_tx.lock().unwrap().send(id).unwrap();
                // Echo one byte: the client decides when we are done.
                let mut b = [0u8; 1];
                s.read_exact(&mut b)?;
                s.write_all(&b)
            })
        });
        let t = Some(Duration::from_secs(10));
        // A connection that stays open and silent holds its thread...
        let held = TcpStream::connect(addr).unwrap();
        let held_thread = names_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // ...while others are still served, one after another, and threads
        // that served earlier ones serve the later ones too.
        let mut seen = Vec::new();
        for _ in 0..6 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(t).unwrap();
            s.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            // Wait for the server side to finish (it closes after the echo).
            assert_eq!(s.read(&mut b).unwrap(), 0);
            seen.push(names_rx.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert!(seen.iter().all(|n| *n != held_thread));
        // Each connection was closed before the next began. A thread that
        // accepts starts a spare only when none is left waiting, so two or
        // three threads take turns; six distinct ones would mean no reuse.
        seen.sort();
        seen.dedup();
        assert!(seen.len() < 6, "no thread was reused: {seen:?}");
        drop(held);
    }

    #[test]
    fn many_open_connections_each_get_a_thread_and_serve_goes_on() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        const KEEP: usize = 8;
        let server = thread::spawn(move || {
            serve_keeping(listener, ServeOptions::default(), KEEP, |mut s, _| {
                let mut b = [0u8; 1];
                s.read_exact(&mut b)?;
                s.write_all(&b)
            })
        });
        // More connections waiting at once than threads are kept idle
        // afterwards, then answered in reverse order.
        let mut conns: Vec<TcpStream> = (0..KEEP + 40)
            .map(|_| {
                let s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                s
            })
            .collect();
        for (i, s) in conns.iter_mut().enumerate().rev() {
            s.write_all(&[i as u8]).unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i as u8);
        }
        drop(conns);
        // The surplus threads leave, but `serve` itself (the thread that
        // called it) never returns, and new clients are still served.
        for i in 0..3u8 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&[i]).unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i);
        }
        assert!(!server.is_finished(), "serve returned");
    }
}
