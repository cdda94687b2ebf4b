//! Reading whole messages off a byte stream.
//!
//! TCP delivers bytes, not messages: one `read` may return half a message
//! or two and a half. These helpers read exactly one message through a
//! [`BufRead`] (keep one `BufReader` per connection for its whole life, or
//! the bytes it read ahead are lost) and never buffer more than a cap.
//!
//! Each returns `Ok(None)` when the peer closed cleanly *between* messages,
//! and an error when it closed in the middle of one, so a caller can tell
//! "done" from "cut off". [`DeadlineReader`] bounds the time a whole
//! message may take, not only each read.

use std::borrow::Borrow;
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Largest text line [`read_line`] accepts by default.
pub const MAX_LINE: usize = 64 * 1024;

/// Why a message could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The socket or file failed (includes timeouts: `WouldBlock`/`TimedOut`).
    Io(io::Error),
    /// The message grew past the cap before its end marker arrived.
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The peer closed before the message was complete.
    Truncated {
        /// Bytes the message should have had (when known).
        expected: Option<u64>,
        /// Bytes that arrived.
        got: u64,
    },
    /// The bytes arrived but do not form a valid message.
    Malformed(String),
}

impl FrameError {
    /// Whether this is a read or write timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, FrameError::Io(e) if is_timeout(e))
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Errors made by this crate carry their own words.
            FrameError::Io(e) if e.get_ref().is_some() => e.fmt(f),
            FrameError::Io(e) if is_timeout(e) => f.write_str("timed out waiting for the peer"),
            FrameError::Io(e) => f.write_str(&crate::error::io_cause(e)),
            FrameError::TooLarge { limit } => {
                write!(f, "message larger than the limit of {limit} bytes")
            }
            FrameError::Truncated {
                expected: Some(n),
                got,
            } => write!(f, "connection closed early: got {got} of {n} bytes"),
            FrameError::Truncated {
                expected: None,
                got,
            } => write!(
                f,
                "connection closed in the middle of a message (after {got} bytes)"
            ),
            FrameError::Malformed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return FrameError::Truncated {
                expected: None,
                got: 0,
            };
        }
        FrameError::Io(e)
    }
}

impl From<FrameError> for io::Error {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Io(e) => e,
            FrameError::TooLarge { .. } | FrameError::Malformed(_) => {
                io::Error::new(io::ErrorKind::InvalidData, e.to_string())
            }
            FrameError::Truncated { .. } => {
                io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string())
            }
        }
    }
}

/// Whether an I/O error is a read/write timeout (`WouldBlock` on Unix,
/// `TimedOut` on Windows).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Reads up to and including the first of `delims`, and returns the bytes
/// before it (the delimiter is consumed, not returned).
///
/// When several delimiters are given, the one that ends earliest wins; so
/// `&[b"\r\n\r\n", b"\n\n"]` ends an HTTP head typed either way.
///
/// # Errors
/// [`FrameError::TooLarge`] once more than `max` bytes arrive without a
/// delimiter (nothing more is read); [`FrameError::Truncated`] if the peer
/// closes mid-message; [`FrameError::Io`] for socket errors and timeouts.
/// `Ok(None)` means a clean close before the first byte.
pub fn read_delimited<R: BufRead + ?Sized>(
    reader: &mut R,
    delims: &[&[u8]],
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let longest = delims.iter().map(|d| d.len()).max().unwrap_or(1).max(1);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if chunk.is_empty() {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(FrameError::Truncated {
                    expected: None,
                    got: buf.len() as u64,
                })
            };
        }
        // Only look at what can still hold a new delimiter: the tail of the
        // old bytes (a delimiter may straddle two reads) plus the new chunk.
        let old_len = buf.len();
        let take = chunk.len().min(max + longest - old_len.min(max + longest));
        buf.extend_from_slice(&chunk[..take]);
        let from = old_len.saturating_sub(longest - 1);
        if let Some((pos, dlen)) = find_first(&buf[from..], delims) {
            let end = from + pos;
            let used = end + dlen - old_len;
            reader.consume(used);
            buf.truncate(end);
            if end > max {
                return Err(FrameError::TooLarge { limit: max });
            }
            return Ok(Some(buf));
        }
        reader.consume(take);
        // A partial delimiter may still end the last `longest - 1` bytes.
        if buf.len() >= max + longest {
            return Err(FrameError::TooLarge { limit: max });
        }
    }
}

/// Where the earliest-ending delimiter starts in `hay`, and its length.
fn find_first(hay: &[u8], delims: &[&[u8]]) -> Option<(usize, usize)> {
    delims
        .iter()
        .filter(|d| !d.is_empty())
        .filter_map(|d| find(hay, d).map(|p| (p, d.len())))
        .min_by_key(|(p, l)| p + l)
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let mut start = 0;
    while let Some(i) = position_of(&hay[start..=hay.len() - needle.len()], first) {
        let at = start + i;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

/// Position of byte `b` in `hay`. Scans 32 bytes per step with a test that
/// has no early exit, which the compiler turns into vector instructions:
/// several times faster than `iter().position` on long messages (a 2.7 MiB
/// base64 body in Tugas 4 is scanned for its end marker).
fn position_of(hay: &[u8], b: u8) -> Option<usize> {
    const BLOCK: usize = 32;
    let mut blocks = hay.chunks_exact(BLOCK);
    for (n, block) in blocks.by_ref().enumerate() {
        if block.iter().fold(false, |seen, &x| seen | (x == b)) {
            return block.iter().position(|&x| x == b).map(|i| n * BLOCK + i);
        }
    }
    let tail = blocks.remainder();
    let tail_start = hay.len() - tail.len();
    tail.iter().position(|&x| x == b).map(|i| tail_start + i)
}

/// Reads one text line ending in `\n` (a `\r` before it is dropped too) of
/// at most `max` bytes, as UTF-8.
///
/// # Errors
/// As [`read_delimited`], and [`FrameError::Malformed`] for invalid UTF-8.
/// A final line without `\n` before the peer closes counts as truncated.
pub fn read_line<R: BufRead + ?Sized>(
    reader: &mut R,
    max: usize,
) -> Result<Option<String>, FrameError> {
    let Some(mut bytes) = read_delimited(reader, &[b"\n"], max)? else {
        return Ok(None);
    };
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| FrameError::Malformed("line is not valid UTF-8 text".to_string()))
}

/// Copies exactly `len` bytes from `reader` to `writer` through a buffer of
/// `buf_size`, calling `on_progress(done)` after each chunk.
///
/// # Errors
/// [`FrameError::Truncated`] with both counts if the reader ends early;
/// [`FrameError::Io`] if either side fails.
pub fn copy_exact<R, W, F>(
    reader: &mut R,
    writer: &mut W,
    len: u64,
    buf_size: usize,
    on_progress: F,
) -> Result<u64, FrameError>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
    F: FnMut(u64),
{
    copy_exact_paced(reader, writer, len, buf_size, None, on_progress)
}

/// As [`copy_exact`], and with `stall = Some(limit)` every `buf_size`
/// bytes must get through within `limit`.
///
/// Socket timeouts alone do not catch a peer that reads or writes a
/// trickle: a blocked send returns the few bytes that fit after the
/// timeout, and the copy would go on for hours. With a limit of 30 s and
/// 256 KiB buffers, a peer slower than about 8.7 KB/s is dropped.
///
/// # Errors
/// As [`copy_exact`], plus a `TimedOut` [`FrameError::Io`] naming the pace
/// when the peer is too slow.
pub fn copy_exact_paced<R, W, F>(
    reader: &mut R,
    writer: &mut W,
    len: u64,
    buf_size: usize,
    stall: Option<Duration>,
    mut on_progress: F,
) -> Result<u64, FrameError>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
    F: FnMut(u64),
{
    let size = buf_size
        .max(1)
        .min(usize::try_from(len).unwrap_or(usize::MAX).max(1));
    let mut buf = vec![0u8; size];
    let mut done = 0u64;
    let mut block_start = Instant::now();
    let mut block_bytes = 0usize;
    let too_slow = |start: Instant| {
        stall.filter(|limit| start.elapsed() > *limit).map(|limit| {
            FrameError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "peer too slow: fewer than {size} bytes in {:.1} s",
                    limit.as_secs_f64()
                ),
            ))
        })
    };
    while done < len {
        let want = buf
            .len()
            .min(usize::try_from(len - done).unwrap_or(usize::MAX));
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(FrameError::Truncated {
                    expected: Some(len),
                    got: done,
                })
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FrameError::Io(e)),
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            if let Some(e) = too_slow(block_start) {
                return Err(e);
            }
            match writer.write(rest) {
                Ok(0) => return Err(FrameError::Io(io::ErrorKind::WriteZero.into())),
                Ok(k) => rest = &rest[k..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
        done += n as u64;
        block_bytes += n;
        if block_bytes >= size {
            block_start = Instant::now();
            block_bytes = 0;
        } else if let Some(e) = too_slow(block_start) {
            return Err(e);
        }
        on_progress(done);
    }
    Ok(done)
}

/// A read may end this much after a [`DeadlineReader`]'s deadline: when
/// the socket's own read timeout is at most this much longer than the
/// time left, it is not shortened (saving a system call per message).
pub const DEADLINE_SLACK: Duration = Duration::from_millis(10);

/// Reads a socket so that a whole message (a request head, a line, a JSON
/// message, a body) must arrive before a deadline, not only each piece of
/// it within the socket's read timeout: a client that trickles a byte now
/// and then is cut off with `TimedOut` once the time is up.
///
/// Before each read with a deadline set, the socket's read timeout is set
/// to the time left (unless it is already that short, give or take
/// [`DEADLINE_SLACK`]); [`DeadlineReader::clear`] puts the socket's own
/// timeout back. Without a deadline it reads like the stream itself.
/// Put a `BufReader` in front and keep both for the connection's life:
///
/// ```no_run
/// use std::io::BufReader;
/// use std::net::TcpStream;
/// use std::time::Duration;
/// use common::framing::{read_line, DeadlineReader, MAX_LINE};
///
/// let stream = TcpStream::connect("127.0.0.1:31000").unwrap();
/// let timeout = Duration::from_secs(30);
/// // The socket's own timeout: how long to wait between messages.
/// let mut reader = BufReader::new(DeadlineReader::new(&stream, Some(timeout)).unwrap());
/// loop {
///     // Wait for the first byte with the socket's timeout (fill_buf),
///     // then the rest of the message within `timeout` of now.
///     reader.get_mut().start(timeout);
///     let Ok(Some(line)) = read_line(&mut reader, MAX_LINE) else { break };
///     reader.get_mut().clear();
///     println!("{line}");
/// }
/// ```
///
/// `S` is the stream or a reference to it (`TcpStream`, `&TcpStream`,
/// `Arc<TcpStream>`).
#[derive(Debug)]
pub struct DeadlineReader<S: Borrow<TcpStream>> {
    stream: S,
    deadline: Option<Instant>,
    /// The socket's own read timeout, put back by `clear`.
    idle: Option<Duration>,
    /// The read timeout now set on the socket.
    current: Option<Duration>,
}

impl<S: Borrow<TcpStream>> DeadlineReader<S> {
    /// Reads `stream`, whose read timeout is set to `idle` (`None`: reads
    /// wait without limit) and put back to it after each deadline.
    ///
    /// # Errors
    /// If the timeout cannot be set (a zero `idle`).
    pub fn new(stream: S, idle: Option<Duration>) -> io::Result<DeadlineReader<S>> {
        stream.borrow().set_read_timeout(idle)?;
        Ok(DeadlineReader {
            stream,
            deadline: None,
            idle,
            current: idle,
        })
    }

    /// From now on, reads fail with `TimedOut` once `within` has passed:
    /// call it when a message starts.
    pub fn start(&mut self, within: Duration) {
        self.deadline = Some(Instant::now() + within);
    }

    /// Sets (or with `None` removes) the deadline.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The deadline, if one is set.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Removes the deadline, and puts the socket's own read timeout back
    /// if a read had shortened it (one system call, only then): call it
    /// when a message is complete.
    pub fn clear(&mut self) {
        self.deadline = None;
        if self.current != self.idle && self.stream.borrow().set_read_timeout(self.idle).is_ok() {
            self.current = self.idle;
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &TcpStream {
        self.stream.borrow()
    }

    /// The error a read returns once the deadline has passed.
    fn timed_out() -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "message not complete within the time limit",
        )
    }
}

impl<S: Borrow<TcpStream>> Read for DeadlineReader<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Self::timed_out());
            }
            let short_enough = self.current.is_some_and(|t| t <= left + DEADLINE_SLACK);
            if !short_enough {
                self.stream.borrow().set_read_timeout(Some(left))?;
                self.current = Some(left);
            }
        }
        match self.stream.borrow().read(buf) {
            // The socket's timeout was the time left: say which it was.
            Err(e) if is_timeout(&e) && self.deadline.is_some_and(|d| Instant::now() >= d) => {
                Err(Self::timed_out())
            }
            other => other,
        }
    }
}

/// At most 80 characters of `s`, for error messages about bad input.
pub fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    /// A reader that hands out one byte per read: the worst segmentation.
    struct Trickle(Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    fn trickle(bytes: &[u8]) -> BufReader<Trickle> {
        BufReader::with_capacity(3, Trickle(Cursor::new(bytes.to_vec())))
    }

    #[test]
    fn delimiter_split_across_reads() {
        let mut r = trickle(b"GET / HTTP/1.0\r\n\r\nrest");
        let head = read_delimited(&mut r, &[b"\r\n\r\n", b"\n\n"], 100).unwrap();
        assert_eq!(head.unwrap(), b"GET / HTTP/1.0");
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "rest");
    }

    #[test]
    fn earliest_delimiter_wins() {
        let mut r = Cursor::new(b"a\n\nb\r\n\r\n".to_vec());
        let got = read_delimited(&mut r, &[b"\r\n\r\n", b"\n\n"], 100).unwrap();
        assert_eq!(got.unwrap(), b"a");
        let got = read_delimited(&mut r, &[b"\r\n\r\n", b"\n\n"], 100).unwrap();
        assert_eq!(got.unwrap(), b"b");
        assert!(read_delimited(&mut r, &[b"\r\n\r\n"], 100)
            .unwrap()
            .is_none());
    }

    #[test]
    fn clean_close_truncation_and_cap() {
        let mut r = Cursor::new(Vec::new());
        assert!(read_line(&mut r, 10).unwrap().is_none());
        let mut r = Cursor::new(b"no newline".to_vec());
        assert!(matches!(
            read_line(&mut r, 100),
            Err(FrameError::Truncated { got: 10, .. })
        ));
        let mut r = trickle(&[b'x'; 1000]);
        assert!(matches!(
            read_line(&mut r, 16),
            Err(FrameError::TooLarge { limit: 16 })
        ));
        // The cap stops reading: no more than cap + a buffer was consumed.
        let rest = r.bytes().count();
        assert!(rest > 900, "consumed too much: {} left", rest);
        let mut r = Cursor::new(b"exactly16bytes!!\nx".to_vec());
        assert_eq!(read_line(&mut r, 16).unwrap().unwrap(), "exactly16bytes!!");
    }

    #[test]
    fn lines_drop_crlf_and_reject_bad_utf8() {
        let mut r = trickle(b"auth messi surabaya\r\ninbox x\n");
        assert_eq!(
            read_line(&mut r, 100).unwrap().unwrap(),
            "auth messi surabaya"
        );
        assert_eq!(read_line(&mut r, 100).unwrap().unwrap(), "inbox x");
        let mut r = Cursor::new(b"\xff\xfe\n".to_vec());
        assert!(matches!(
            read_line(&mut r, 100),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn copy_exact_counts_and_detects_short_input() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut out = Vec::new();
        let mut calls = 0;
        let n = copy_exact(&mut Cursor::new(&data), &mut out, 10_000, 4096, |_| {
            calls += 1
        })
        .unwrap();
        assert_eq!((n, &out), (10_000, &data));
        assert_eq!(calls, 3);
        let err = copy_exact(
            &mut Cursor::new(&data),
            &mut Vec::new(),
            20_000,
            4096,
            |_| (),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "connection closed early: got 10000 of 20000 bytes"
        );
    }

    /// A reader that hands out one byte per read, forever.
    struct Drip;
    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf[0] = b'.';
            Ok(1)
        }
    }

    #[test]
    fn a_trickle_is_stopped_by_the_pace_limit() {
        let limit = Duration::from_millis(50);
        let err = copy_exact_paced(
            &mut Drip,
            &mut io::sink(),
            u64::MAX,
            1 << 30,
            Some(limit),
            |_| (),
        )
        .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(
            err.to_string().starts_with("peer too slow: fewer than"),
            "{err}"
        );
        // Without a limit, the same copy just moves bytes.
        assert_eq!(
            copy_exact(&mut Drip, &mut io::sink(), 1000, 64, |_| ()).unwrap(),
            1000
        );
    }

    #[test]
    fn find_works_at_edges() {
        assert_eq!(find(b"abc", b"c"), Some(2));
        assert_eq!(find(b"abc", b"abcd"), None);
        assert_eq!(find(b"aab", b"ab"), Some(1));
        assert_eq!(find(b"", b"a"), None);
        // Every position, across the 32-byte blocks and the tail.
        for len in [1usize, 31, 32, 33, 64, 100] {
            for at in 0..len {
                let mut hay = vec![b'x'; len];
                hay[at] = b'\r';
                assert_eq!(find(&hay, b"\r"), Some(at), "len {len} at {at}");
            }
            assert_eq!(find(&vec![b'x'; len], b"\r"), None);
        }
        let mut hay = vec![b'\r'; 70];
        hay.extend_from_slice(b"\r\n\r\n");
        assert_eq!(find(&hay, b"\r\n\r\n"), Some(70));
    }

    /// Both ends of a loopback connection: (client, server).
    fn connected_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_deadline_cuts_a_trickling_peer_and_clear_restores_the_timeout() {
        let (mut client, server) = connected_pair();
        let idle = Duration::from_secs(10);
        let mut r = BufReader::new(DeadlineReader::new(&server, Some(idle)).unwrap());
        // Without a deadline: reads as the stream does.
        client.write_all(b"one\n").unwrap();
        assert_eq!(read_line(&mut r, 100).unwrap().unwrap(), "one");
        // A byte every 20 ms, each well within the 10 s read timeout, but
        // the line never ends: cut at the 300 ms deadline.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = std::sync::Arc::clone(&done);
        let writer = std::thread::spawn(move || {
            for _ in 0..200 {
                if stop.load(std::sync::atomic::Ordering::Relaxed)
                    || client.write_all(b"x").is_err()
                {
                    break;
                }
                // Pacing is what is under test, not synchronisation.
                std::thread::sleep(Duration::from_millis(20));
            }
            client
        });
        let started = Instant::now();
        r.get_mut().start(Duration::from_millis(300));
        let err = read_line(&mut r, 100_000).unwrap_err();
        let took = started.elapsed();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(err.is_timeout(), "{err:?}");
        assert!(err.to_string().contains("not complete within"), "{err}");
        assert!(took >= Duration::from_millis(290), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        // The socket's timeout was shortened; clear puts it back.
        assert!(server.read_timeout().unwrap().unwrap() < idle);
        r.get_mut().clear();
        assert_eq!(server.read_timeout().unwrap(), Some(idle));
        assert_eq!(r.get_ref().deadline(), None);
        drop(writer.join().unwrap());
    }

    #[test]
    fn shorten_cuts_long_text() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(shorten(&"x".repeat(100)).chars().count(), 80);
    }
}
