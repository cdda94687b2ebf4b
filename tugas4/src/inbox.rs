//! How the server takes messages in without letting clients take its
//! memory or its time:
//!
//! - [`Budget`]: the bytes all connections together may hold in buffers
//!   (`--max-buffered`). Every connection asks it before a buffer grows;
//!   when it says no, the message is refused.
//! - [`Inbox`]: one connection's incoming messages. It reads straight into
//!   one buffer that grows (within the budget) as a message arrives, and
//!   it gives a whole message at most `--timeout` from its first byte to
//!   its `\r\n\r\n`: a client trickling a byte a second is cut off.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::fileproto::{DELIMITER, MAX_MESSAGE};
use common::framing::DeadlineReader;

/// The first buffer of a message: most requests (all but `PUT`) fit.
const FIRST_BUFFER: usize = 4 * 1024;

/// Bytes asked of the socket at a time: at most this much of the next
/// message comes in with the end of this one and is moved to the front of
/// the buffer afterwards.
const READ: usize = 256 * 1024;

/// The largest buffer a connection needs: one message of [`MAX_MESSAGE`]
/// bytes, its delimiter, and room for one more read.
const MAX_BUFFER: usize = MAX_MESSAGE + DELIMITER.len() + 64 * 1024;

/// The bytes that all connections together may hold; shared by cloning.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget {
            used: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held now by all connections.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `n` bytes if they fit; `false` (nothing taken) if not.
    pub fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&after| after <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `n` bytes taken earlier.
    pub fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Why [`Inbox::next_message`] returned no message.
#[derive(Debug)]
pub enum InboxError {
    /// The message passed [`MAX_MESSAGE`] bytes.
    TooLarge,
    /// Taking in the message would pass the [`Budget`].
    Busy,
    /// The message was not complete within the time allowed.
    TooSlow,
    /// The client closed in the middle of a message.
    Truncated,
    /// A socket error (including the silence between messages running
    /// past the timeout).
    Io(io::Error),
}

/// One connection's incoming messages.
pub struct Inbox {
    reader: DeadlineReader<TcpStream>,
    budget: Budget,
    /// How long one whole message may take.
    within: Duration,
    /// The bytes received: `buf[..filled]`; its length is what the budget
    /// counts for this connection.
    buf: Vec<u8>,
    filled: usize,
    /// The length of the message last returned plus its delimiter, to be
    /// dropped before the next one is read.
    used: usize,
    /// Whether the buffer stays when no bytes are left (see
    /// [`Inbox::keep_buffer`]).
    keep: bool,
}

impl Inbox {
    /// Reads `stream`, waiting at most `timeout` for a message to start
    /// and giving it `timeout` to arrive whole.
    ///
    /// # Errors
    /// If the socket's timeout cannot be set.
    pub fn new(stream: TcpStream, timeout: Duration, budget: Budget) -> io::Result<Inbox> {
        Ok(Inbox {
            reader: DeadlineReader::new(stream, Some(timeout))?,
            budget,
            within: timeout,
            buf: Vec::new(),
            filled: 0,
            used: 0,
            keep: false,
        })
    }

    /// The next message (the bytes before `\r\n\r\n`); `Ok(None)` when the
    /// client closed between messages. The slice is valid until the next
    /// call.
    ///
    /// # Errors
    /// See [`InboxError`].
    pub fn next_message(&mut self) -> Result<Option<&[u8]>, InboxError> {
        self.drop_used();
        // Bytes already here (a pipelined request) start the clock now;
        // otherwise it starts with the first byte.
        if self.filled > 0 {
            self.reader.start(self.within);
        }
        let mut scanned = 0;
        let found = loop {
            if let Some(pos) = crate::wire::find_delimiter(&self.buf[scanned..self.filled]) {
                break scanned + pos;
            }
            scanned = self.filled.saturating_sub(DELIMITER.len() - 1);
            if self.filled > MAX_MESSAGE + DELIMITER.len() - 1 {
                return Err(InboxError::TooLarge);
            }
            if self.filled == self.buf.len() {
                self.grow()?;
            }
            let room = self.buf.len().min(self.filled + READ);
            let n = match self.reader.read(&mut self.buf[self.filled..room]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::TimedOut && self.filled > 0 => {
                    return Err(InboxError::TooSlow)
                }
                Err(e) => return Err(InboxError::Io(e)),
            };
            if n == 0 {
                return if self.filled == 0 {
                    Ok(None)
                } else {
                    Err(InboxError::Truncated)
                };
            }
            if self.filled == 0 {
                self.reader.start(self.within);
            }
            self.filled += n;
        };
        self.reader.clear();
        if found > MAX_MESSAGE {
            return Err(InboxError::TooLarge);
        }
        self.used = found + DELIMITER.len();
        Ok(Some(&self.buf[..found]))
    }

    /// Whether bytes of a next message have already arrived (a request
    /// sent before the answer to the last one: pipelining).
    pub fn has_pending(&self) -> bool {
        self.filled > self.used
    }

    /// With `true`, the buffer stays when a message leaves no bytes after
    /// it, for the next message to use without growing a new buffer from
    /// 4 KiB (the server keeps it between the pieces of an upload); with
    /// `false` (the default) it goes back to the budget then.
    pub fn keep_buffer(&mut self, keep: bool) {
        self.keep = keep;
    }

    /// Drops the message last returned, keeping the bytes after it; with
    /// nothing left, the buffer's memory goes back to the budget (an idle
    /// connection holds none), unless [`Inbox::keep_buffer`] said to keep it.
    fn drop_used(&mut self) {
        self.buf.copy_within(self.used..self.filled, 0);
        self.filled -= self.used;
        self.used = 0;
        if self.filled == 0 && !self.keep {
            self.budget.give(self.buf.len());
            self.buf = Vec::new();
        }
    }

    /// Doubles the buffer (at least [`FIRST_BUFFER`], at most
    /// [`MAX_BUFFER`]), if the budget allows.
    fn grow(&mut self) -> Result<(), InboxError> {
        let old = self.buf.len();
        let new = (old * 2).clamp(FIRST_BUFFER, MAX_BUFFER);
        if new <= old {
            return Err(InboxError::TooLarge);
        }
        if !self.budget.take(new - old) {
            return Err(InboxError::Busy);
        }
        self.buf.resize(new, 0);
        Ok(())
    }

    /// The socket (to answer on and to linger-close).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// The reader, for [`common::net::linger_close`].
    pub fn reader_mut(&mut self) -> &mut DeadlineReader<TcpStream> {
        &mut self.reader
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.budget.give(self.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_what_does_not_fit_and_takes_back() {
        let b = Budget::new(100);
        assert!(b.take(60));
        assert!(!b.take(41), "60 + 41 > 100");
        assert_eq!(b.used(), 60);
        assert!(b.clone().take(40));
        b.give(100);
        assert_eq!(b.used(), 0);
    }
}
