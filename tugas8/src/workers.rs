//! Connection threads that are reused: a thread per connection, without
//! starting a new thread for every connection.
//!
//! The accept loop hands each connection to [`Workers::run`]. If a thread
//! is idle (it finished its last connection and waits for another), the
//! connection goes to it through a channel; otherwise a new thread is
//! started for it. So every connection still has a thread of its own
//! (a slow or silent client holds only its own), but a client that opens
//! a new connection per request (a form POST from `ab` without `-k`)
//! mostly finds a thread ready instead of paying for a thread start, and
//! the accept loop never waits for a thread to start before accepting
//! the next connection: a burst of thousands of connections is taken in
//! at the speed of `accept`.
//!
//! ```text
//! accept loop:  connection -> an idle thread?  yes: send it the connection
//!                                              no:  start a thread with it
//! thread:       serve the connection; then wait for the next one
//!               (idle); idle for IDLE_TIME with others idle too: end
//! ```
//!
//! [`Workers::join`] (when the server stops) closes the channel: idle
//! threads leave at once, busy ones once their connection ends (the
//! server's `Shutdown` shuts their sockets down), and it joins them all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What a thread runs: serving one connection.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// An idle thread ends after waiting this long for a connection (one at
/// a time: the others wait behind it), so a burst's threads do not stay
/// forever.
pub const IDLE_TIME: Duration = Duration::from_secs(10);

/// The connection threads of one server.
pub struct Workers {
    /// Where connections go to idle threads; `None` once joining.
    sender: Option<mpsc::Sender<Job>>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// What the threads share.
struct Shared {
    /// The receiving end, taken in turn by the idle threads.
    jobs: Mutex<mpsc::Receiver<Job>>,
    /// Threads idle and not yet promised a connection.
    idle: AtomicUsize,
}

impl Default for Workers {
    fn default() -> Workers {
        Workers::new()
    }
}

impl Workers {
    /// No threads yet.
    pub fn new() -> Workers {
        let (sender, receiver) = mpsc::channel();
        Workers {
            sender: Some(sender),
            shared: Arc::new(Shared {
                jobs: Mutex::new(receiver),
                idle: AtomicUsize::new(0),
            }),
            threads: Vec::new(),
        }
    }

    /// Runs `job` on an idle thread, or on a new one if none is idle.
    /// Never waits for the job. If no thread can be started, the job is
    /// dropped (with what it owns: the connection closes) and logged.
    pub fn run(&mut self, job: impl FnOnce() + Send + 'static) {
        let mut job: Job = Box::new(job);
        // Promise the job to one idle thread, if there is one.
        let promised = self
            .shared
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if promised {
            match self.sender.as_ref().map(|s| s.send(job)) {
                Some(Ok(())) => return,
                Some(Err(SendError(back))) => job = back,
                None => return,
            }
        }
        let shared = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name("conn".to_string())
            .spawn(move || work(job, &shared));
        match spawned {
            Ok(t) => self.threads.push(t),
            Err(e) => log::error!("cannot start a thread: {}", common::error::io_cause(&e)),
        }
        self.threads.retain(|t| !t.is_finished());
    }

    /// Threads started and not finished (busy or idle).
    pub fn threads(&self) -> usize {
        self.threads.iter().filter(|t| !t.is_finished()).count()
    }

    /// Lets idle threads leave, and waits until every thread has ended.
    pub fn join(mut self) {
        self.sender = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A thread's life: its first job, then each job it is sent, until it has
/// been idle for [`IDLE_TIME`] or the channel closes.
fn work(first: Job, shared: &Shared) {
    first();
    loop {
        shared.idle.fetch_add(1, Ordering::AcqRel);
        loop {
            let next = shared
                .jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv_timeout(IDLE_TIME);
            match next {
                Ok(job) => {
                    job();
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Leave, unless every idle thread has been promised a
                    // job: then one is on its way to this thread.
                    let left = shared
                        .idle
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
                    if left.is_ok() {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_finished_thread_takes_the_next_job() {
        let mut workers = Workers::new();
        let (done, finished) = channel();
        for i in 0..50 {
            let done = done.clone();
            workers.run(move || done.send((i, thread::current().id())).unwrap());
            finished.recv_timeout(Duration::from_secs(10)).unwrap();
            // Until the thread waits for the next job (bounded).
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while workers.shared.idle.load(Ordering::Acquire) == 0 {
                assert!(std::time::Instant::now() < deadline, "never idle");
                thread::yield_now();
            }
        }
        assert_eq!(workers.threads(), 1, "one thread served all 50 in turn");
        workers.join();
    }

    #[test]
    fn jobs_that_block_each_get_a_thread() {
        // Ten jobs that each wait until all ten run: only possible if none
        // waits behind another.
        let mut workers = Workers::new();
        let barrier = Arc::new(std::sync::Barrier::new(10));
        let (done, finished) = channel();
        for _ in 0..10 {
            let barrier = Arc::clone(&barrier);
            let done = done.clone();
            workers.run(move || {
                barrier.wait();
                done.send(()).unwrap();
            });
        }
        for _ in 0..10 {
            finished.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        workers.join();
    }
}
