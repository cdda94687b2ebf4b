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
//!   [`Inbox::next_owned`] hands a message out with its buffer
//!   ([`Message`]), so that the server's read-ahead thread takes the next
//!   message in while the connection's thread handles this one; the
//!   buffer comes back to be read into again, and a connection holds at
//!   most two.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
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

    /// Takes `n` bytes only if the budget stays at most half used after
    /// it; `false` (nothing taken) if not. For memory that only makes a
    /// connection faster (its read-ahead buffer), which must not crowd
    /// out other connections' messages.
    pub fn take_spare(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&after| after <= self.limit / 2)
            })
            .is_ok()
    }

    /// Gives back `n` bytes taken earlier.
    pub fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// A message handed out of an [`Inbox`] with its buffer
/// ([`Inbox::next_owned`]). The buffer stays counted in the budget until
/// the message is dropped, or given back to the inbox to be read into
/// again (see [`Inbox::give_back_through`]).
pub struct Message {
    buf: Vec<u8>,
    len: usize,
    budget: Budget,
}

impl Message {
    /// The message (the bytes before `\r\n\r\n`).
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        self.budget.give(self.buf.len());
    }
}

/// What comes back to the inbox for each message it handed out: the
/// message, for its buffer to be read into again, or `None` when the
/// buffer was let go.
pub type Returned = Option<Message>;

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
    /// Whether a message handed out by [`Inbox::next_owned`] has not come
    /// back yet through `returns`.
    out: bool,
    returns: Option<mpsc::Receiver<Returned>>,
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
            out: false,
            returns: None,
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

    /// Like [`Inbox::next_message`], but hands the message out with its
    /// buffer, to be handled (on another thread) while this inbox takes
    /// the next one in. Each message handed out must come back through
    /// the channel given to [`Inbox::give_back_through`] before the next
    /// one is handed out (this waits for it), so the connection holds at
    /// most two buffers: the message being handled and the one arriving.
    /// The bytes after the message (the start of the next, at most one
    /// read) move to the buffer that came back, or to a new one.
    ///
    /// # Errors
    /// See [`InboxError`]; [`InboxError::Io`] also when the messages'
    /// handler is gone.
    pub fn next_owned(&mut self) -> Result<Option<Message>, InboxError> {
        if self.out && self.filled == 0 {
            // Nothing of the next message yet: wait for the last one to
            // come back before waiting for the client, so that an idle
            // connection holds one buffer at most (between the pieces of
            // an upload), and none when its buffer was let go.
            match self.wait_return()? {
                None => {
                    self.budget.give(self.buf.len());
                    self.buf = Vec::new();
                }
                Some(back) => {
                    let spare = if back.len() > self.buf.len() {
                        std::mem::replace(&mut self.buf, back)
                    } else {
                        back
                    };
                    self.budget.give(spare.len());
                }
            }
        }
        let len = match self.next_message()? {
            Some(msg) => msg.len(),
            None => return Ok(None),
        };
        let rest = self.filled - self.used;
        let mut next = if self.out {
            self.wait_return()?.unwrap_or_default()
        } else {
            Vec::new()
        };
        if next.len() < rest {
            let want = rest.next_power_of_two().clamp(FIRST_BUFFER, MAX_BUFFER);
            self.budget.give(next.len());
            if !self.budget.take(want) {
                return Err(InboxError::Busy);
            }
            next = vec![0; want];
        }
        next[..rest].copy_from_slice(&self.buf[self.used..self.filled]);
        let buf = std::mem::replace(&mut self.buf, next);
        self.filled = rest;
        self.used = 0;
        self.out = true;
        Ok(Some(Message {
            buf,
            len,
            budget: self.budget.clone(),
        }))
    }

    /// Where the messages handed out by [`Inbox::next_owned`] come back.
    pub fn give_back_through(&mut self, returns: mpsc::Receiver<Returned>) {
        self.returns = Some(returns);
    }

    /// Waits for the message handed out to come back: its buffer (still
    /// counted in the budget) if it was given back.
    fn wait_return(&mut self) -> Result<Option<Vec<u8>>, InboxError> {
        self.out = false;
        let Some(returns) = &self.returns else {
            return Ok(None);
        };
        match returns.recv() {
            // Taken out of the message: its drop then gives back nothing.
            Ok(Some(mut msg)) => Ok(Some(std::mem::take(&mut msg.buf))),
            Ok(None) => Ok(None),
            Err(_) => Err(InboxError::Io(io::Error::other(
                "the connection's handler has ended",
            ))),
        }
    }

    /// Drops the message last returned by [`Inbox::next_message`],
    /// keeping the bytes after it; with nothing left, the buffer's memory
    /// goes back to the budget (an idle connection holds none). A buffer
    /// that came back after [`Inbox::next_owned`] stays, for the next
    /// message.
    fn drop_used(&mut self) {
        if self.used == 0 {
            return;
        }
        self.buf.copy_within(self.used..self.filled, 0);
        self.filled -= self.used;
        self.used = 0;
        if self.filled == 0 {
            self.budget.give(self.buf.len());
            self.buf = Vec::new();
        }
    }

    /// Doubles the buffer (at least [`FIRST_BUFFER`], at most
    /// [`MAX_BUFFER`]), if the budget allows. While a message is handed
    /// out, this buffer is a second one: it may only use the spare half of
    /// the budget ([`Budget::take_spare`]); past that it waits for the
    /// message to come back and goes on in that buffer, or alone.
    fn grow(&mut self) -> Result<(), InboxError> {
        let old = self.buf.len();
        let new = (old * 2).clamp(FIRST_BUFFER, MAX_BUFFER);
        if new <= old {
            return Err(InboxError::TooLarge);
        }
        loop {
            let taken = if self.out {
                self.budget.take_spare(new - old)
            } else {
                self.budget.take(new - old)
            };
            if taken {
                self.buf.resize(new, 0);
                return Ok(());
            }
            if !self.out {
                return Err(InboxError::Busy);
            }
            if let Some(mut back) = self.wait_return()? {
                if back.len() >= new {
                    back[..self.filled].copy_from_slice(&self.buf[..self.filled]);
                    self.budget.give(self.buf.len());
                    self.buf = back;
                    return Ok(());
                }
                self.budget.give(back.len());
            }
        }
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
        // Spare memory: only up to half of the budget.
        assert!(b.take_spare(50));
        assert!(!b.take_spare(1));
        assert!(b.take(50));
        b.give(100);
    }
}
