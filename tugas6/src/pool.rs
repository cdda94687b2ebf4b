//! The accept loop: one thread per connection, but threads are reused.
//!
//! `common::net::serve` starts a new thread for every connection. That is
//! the simplest correct design, and a load test without keep-alive
//! (`ab -n 100000 -c 1000`) then starts 100 000 threads, one per request.
//! Here a thread that has finished its connection waits a while for the
//! next one instead of exiting, so under load no thread is started at all;
//! a new thread is started only when every existing one is busy, so a slow
//! or idle keep-alive client still never delays anyone else (the property
//! a fixed-size pool would lose).
//!
//! Bookkeeping: `idle` counts threads waiting for a connection. The accept
//! loop *reserves* one by decrementing `idle` before it queues a stream,
//! or, when none is idle, starts a new thread with the stream. A thread
//! that waited too long leaves only if it can take itself off `idle`; if
//! the count is already 0, a stream has been reserved for it and it stays
//! to receive it. So a queued stream always has a thread coming for it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::error::io_cause;
use common::net::{describe_io, set_timeouts, ServeOptions};

/// How long a finished thread waits for another connection before exiting.
pub const IDLE_THREAD_TIMEOUT: Duration = Duration::from_secs(30);

type Job = (TcpStream, SocketAddr);

struct Shared<H> {
    handler: H,
    idle: AtomicUsize,
    active: AtomicUsize,
    queue: Mutex<Receiver<Job>>,
}

/// Accepts connections for ever and runs `handler` for each on a thread of
/// its own, with the timeouts and TCP_NODELAY of `opts` set; at most
/// `opts.max_connections` at once (more are closed at once). A handler's
/// error is logged with the peer address and ends only that connection.
pub fn serve<H>(listener: TcpListener, opts: ServeOptions, handler: H)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel::<Job>();
    let shared = Arc::new(Shared {
        handler,
        idle: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        queue: Mutex::new(rx),
    });
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut failures = 0u32;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => {
                failures = 0;
                pair
            }
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) {
                    // EMFILE (too many open files) and the like: say so and
                    // back off a little instead of spinning.
                    failures += 1;
                    log::error!("accept on {local} failed: {}", io_cause(&e));
                    thread::sleep(Duration::from_millis(10 * u64::from(failures.min(50))));
                }
                continue;
            }
        };
        if shared.active.load(Ordering::Relaxed) >= opts.max_connections {
            log::warn!(
                "{peer}: refused, {} connections already open",
                opts.max_connections
            );
            continue;
        }
        if let Err(e) = set_timeouts(&stream, opts.timeout) {
            log::warn!("{peer}: cannot set timeouts: {}", io_cause(&e));
            continue;
        }
        if opts.nodelay {
            let _ = stream.set_nodelay(true);
        }
        shared.active.fetch_add(1, Ordering::Relaxed);
        let reserved = shared
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if reserved {
            if tx.send((stream, peer)).is_err() {
                // Cannot happen: `shared` keeps the receiver alive.
                shared.active.fetch_sub(1, Ordering::Relaxed);
            }
            continue;
        }
        let worker = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("http connection".to_string())
            .spawn(move || worker_loop(&worker, stream, peer));
        if let Err(e) = spawned {
            // The closure (and the stream in it) is dropped: connection closed.
            shared.active.fetch_sub(1, Ordering::Relaxed);
            log::error!("{peer}: cannot start a thread: {}", io_cause(&e));
        }
    }
}

/// Serves the first connection, then waits for more until idle too long.
fn worker_loop<H>(shared: &Shared<H>, stream: TcpStream, peer: SocketAddr)
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()>,
{
    let mut job = (stream, peer);
    loop {
        let (stream, peer) = job;
        log::debug!("{peer}: connected");
        match (shared.handler)(stream, peer) {
            Ok(()) => log::debug!("{peer}: closed"),
            Err(e) => log::warn!("{peer}: {}", describe_io(&e)),
        }
        shared.active.fetch_sub(1, Ordering::Relaxed);
        shared.idle.fetch_add(1, Ordering::AcqRel);
        job = match next_job(shared) {
            Some(job) => job,
            None => return,
        };
    }
}

/// Waits for a queued connection; `None` when this thread should exit.
fn next_job<H>(shared: &Shared<H>) -> Option<Job> {
    loop {
        let got = match shared.queue.lock() {
            Ok(queue) => queue.recv_timeout(IDLE_THREAD_TIMEOUT),
            Err(_) => return None,
        };
        match got {
            Ok(job) => return Some(job),
            Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => {
                // Leave only if no stream is reserved for an idle thread.
                let left = shared
                    .idle
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                    .is_ok();
                if left {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::mpsc::channel;

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
        let talk = |s: &mut TcpStream| {
            s.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            // Wait for the server side to finish (it closes after the echo).
            assert_eq!(s.read(&mut b).unwrap(), 0);
        };
        let t = Some(Duration::from_secs(10));
        // A connection that stays open and silent holds its thread...
        let held = TcpStream::connect(addr).unwrap();
        let held_thread = names_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // ...while others are still served, one after another, and the
        // thread that served the first of them serves the next ones too.
        let mut seen = Vec::new();
        for _ in 0..5 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(t).unwrap();
            talk(&mut s);
            seen.push(names_rx.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert!(seen.iter().all(|n| *n != held_thread));
        // Each connection was closed before the next began, so a thread
        // was free each time; a new thread is started only if the previous
        // one had not yet marked itself idle (a window of a few
        // instructions), so five distinct threads would mean no reuse.
        seen.sort();
        seen.dedup();
        assert!(seen.len() < 5, "no thread was reused: {seen:?}");
        drop(held);
    }
}
