//! Reading a request body: by `Content-Length`, or `Transfer-Encoding:
//! chunked` (what curl sends for `-H 'Transfer-Encoding: chunked'` or a
//! body of unknown size).
//!
//! TCP may deliver the body in any number of pieces (the browser's headers
//! in one segment and the body in the next, or one byte at a time); both
//! readers loop until they have exactly the body, never reading past it, so
//! the next request on a keep-alive connection starts where it should.
//! Both stop at `max` bytes without buffering more.
//!
//! # Chunked format
//!
//! ```text
//! 7\r\n            size of the chunk in hex (";ext=..." may follow)
//! kirim=I\r\n      the chunk's bytes, then CRLF
//! 5\r\n
//! SILAH\r\n
//! 0\r\n            the last chunk has size 0
//! \r\n             optional trailer lines, then an empty line
//! ```

use std::fmt;
use std::io::{self, BufRead};

use common::framing::{is_timeout, read_delimited, FrameError};

/// Longest chunk-size line (with extensions) or trailer line accepted.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Largest total size of the trailer lines after the last chunk.
pub const MAX_TRAILERS: usize = 8 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body is larger than the cap (answer 413).
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// Not a valid chunked body (answer 400).
    Malformed(String),
    /// The client stopped sending before the end of the body (answer 408).
    Timeout,
    /// The client closed before the end of the body (nobody to answer).
    Truncated {
        /// Bytes announced, if known.
        expected: Option<u64>,
        /// Bytes that arrived.
        got: u64,
    },
    /// Another socket failure (nobody to answer).
    Io(io::Error),
}

impl BodyError {
    /// The status to answer with, or `None` when the connection is gone.
    pub fn status(&self) -> Option<u16> {
        match self {
            BodyError::TooLarge { .. } => Some(413),
            BodyError::Malformed(_) => Some(400),
            BodyError::Timeout => Some(408),
            BodyError::Truncated { .. } | BodyError::Io(_) => None,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => {
                write!(f, "body larger than the limit of {limit} bytes")
            }
            BodyError::Malformed(why) => write!(f, "bad chunked body: {why}"),
            BodyError::Timeout => f.write_str("timed out waiting for the body"),
            BodyError::Truncated {
                expected: Some(n),
                got,
            } => {
                write!(f, "connection closed after {got} of {n} body bytes")
            }
            BodyError::Truncated {
                expected: None,
                got,
            } => {
                write!(f, "connection closed after {got} bytes of a chunked body")
            }
            BodyError::Io(e) => f.write_str(&common::error::io_cause(e)),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<io::Error> for BodyError {
    fn from(e: io::Error) -> Self {
        if is_timeout(&e) {
            BodyError::Timeout
        } else {
            BodyError::Io(e)
        }
    }
}

/// Reads exactly `len` body bytes (the request's Content-Length).
///
/// # Errors
/// [`BodyError::TooLarge`] at once, before reading, when `len > max`;
/// [`BodyError::Truncated`] if the client closes early; timeouts and
/// socket errors as [`BodyError::Timeout`] / [`BodyError::Io`].
pub fn read_sized<R: BufRead + ?Sized>(
    r: &mut R,
    len: u64,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if len > max as u64 {
        return Err(BodyError::TooLarge { limit: max });
    }
    let len = len as usize;
    let mut body = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match r.read(&mut body[got..]) {
            Ok(0) => {
                return Err(BodyError::Truncated {
                    expected: Some(len as u64),
                    got: got as u64,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(body)
}

/// Reads a chunked body and returns the decoded bytes (the chunks joined).
/// Chunk extensions are ignored and trailer lines are read and dropped.
///
/// # Errors
/// [`BodyError::TooLarge`] as soon as the announced chunks add up to more
/// than `max` (before their bytes are read); [`BodyError::Malformed`] for
/// a bad size line or a chunk not followed by CRLF; otherwise as
/// [`read_sized`].
pub fn read_chunked<R: BufRead + ?Sized>(r: &mut R, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    loop {
        let line = chunk_line(r, body.len())?;
        let size = parse_chunk_size(&line)?;
        if size == 0 {
            break;
        }
        if size > (max - body.len()) as u64 {
            return Err(BodyError::TooLarge { limit: max });
        }
        let chunk = read_sized(r, size, max).map_err(|e| match e {
            BodyError::Truncated { got, .. } => BodyError::Truncated {
                expected: None,
                got: body.len() as u64 + got,
            },
            e => e,
        })?;
        body.extend_from_slice(&chunk);
        // The chunk's bytes end with CRLF (a bare LF is tolerated).
        let end = chunk_line(r, body.len())?;
        if !end.is_empty() {
            return Err(BodyError::Malformed(format!(
                "chunk of {size} bytes is followed by {} more bytes instead of CRLF",
                end.len()
            )));
        }
    }
    // Trailer fields up to an empty line; we have no use for them.
    let mut trailers = 0;
    loop {
        let line = chunk_line(r, body.len())?;
        if line.is_empty() {
            return Ok(body);
        }
        trailers += line.len() + 2;
        if trailers > MAX_TRAILERS {
            return Err(BodyError::Malformed(
                "trailer section too large".to_string(),
            ));
        }
    }
}

/// One line of the chunked framing, without its CRLF (or LF).
fn chunk_line<R: BufRead + ?Sized>(r: &mut R, got: usize) -> Result<Vec<u8>, BodyError> {
    match read_delimited(r, &[b"\n"], MAX_CHUNK_LINE) {
        Ok(Some(mut line)) => {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Ok(line)
        }
        Ok(None) | Err(FrameError::Truncated { .. }) => Err(BodyError::Truncated {
            expected: None,
            got: got as u64,
        }),
        Err(FrameError::TooLarge { .. }) => Err(BodyError::Malformed(format!(
            "chunk size line longer than {MAX_CHUNK_LINE} bytes"
        ))),
        Err(FrameError::Malformed(why)) => Err(BodyError::Malformed(why)),
        Err(FrameError::Io(e)) => Err(e.into()),
    }
}

/// The size in a chunk-size line: hex digits, then optional `;extensions`
/// (spaces or tabs allowed before the `;`).
fn parse_chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    let digits_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, rest) = line.split_at(digits_end);
    let rest_ok = rest.is_empty() || {
        let after_ws = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .unwrap_or(rest.len());
        rest.get(after_ws) == Some(&b';')
    };
    if digits.is_empty() || !rest_ok {
        return Err(BodyError::Malformed(format!(
            "bad chunk size line {:?}",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        )));
    }
    // 15 hex digits is far beyond any cap and cannot overflow a u64.
    let digits = match digits.iter().position(|&b| b != b'0') {
        Some(first) => &digits[first..],
        None => return Ok(0),
    };
    if digits.len() > 15 {
        return Err(BodyError::Malformed("chunk size too large".to_string()));
    }
    let text = std::str::from_utf8(digits).expect("hex digits are ASCII");
    Ok(u64::from_str_radix(text, 16).expect("checked hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    /// A reader that hands out one byte per read, like a client sending
    /// one-byte TCP segments.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    fn chunked(input: &[u8], max: usize) -> Result<Vec<u8>, BodyError> {
        read_chunked(&mut &input[..], max)
    }

    #[test]
    fn sized_body_in_one_byte_pieces_and_the_rest_is_left() {
        let mut r = BufReader::with_capacity(1, Trickle(b"kirim=ISILAHGET / HTTP/1.1"));
        assert_eq!(read_sized(&mut r, 12, 100).unwrap(), b"kirim=ISILAH");
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "GET / HTTP/1.1");
    }

    #[test]
    fn sized_body_limits_and_truncation() {
        assert!(matches!(
            read_sized(&mut &b"abc"[..], 4, 3),
            Err(BodyError::TooLarge { limit: 3 })
        ));
        assert!(matches!(
            read_sized(&mut &b"abc"[..], 5, 10),
            Err(BodyError::Truncated {
                expected: Some(5),
                got: 3
            })
        ));
        assert_eq!(read_sized(&mut &b""[..], 0, 0).unwrap(), b"");
    }

    #[test]
    fn chunked_body_is_joined_and_the_rest_is_left() {
        let input = b"7\r\nkirim=I\r\n5;ext=1\r\nSILAH\r\n0\r\n\r\nNEXT";
        let mut r = &input[..];
        assert_eq!(read_chunked(&mut r, 100).unwrap(), b"kirim=ISILAH");
        assert_eq!(r, b"NEXT");
    }

    #[test]
    fn chunked_in_one_byte_pieces_with_trailers_and_bare_lf() {
        let input = b"A\nkirim=ISIL\n002 \t;x\r\nAH\r\n000\r\nX-Trailer: 1\r\nY: 2\n\r\n";
        let mut r = BufReader::with_capacity(1, Trickle(input));
        assert_eq!(read_chunked(&mut r, 100).unwrap(), b"kirim=ISILAH");
    }

    #[test]
    fn chunked_cap_is_checked_before_reading_the_chunk() {
        // The second chunk would pass the cap: refused without its bytes.
        assert!(matches!(
            chunked(b"3\r\nabc\r\nFFFFFFF\r\n", 10),
            Err(BodyError::TooLarge { limit: 10 })
        ));
        assert_eq!(
            chunked(b"5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n", 10).unwrap(),
            b"abcdefghij"
        );
        assert!(matches!(
            chunked(b"5\r\nabcde\r\n6\r\nfghijk\r\n0\r\n\r\n", 10),
            Err(BodyError::TooLarge { .. })
        ));
    }

    #[test]
    fn malformed_chunked_bodies() {
        let cases: &[&[u8]] = &[
            b"zz\r\n",                  // not hex
            b"\r\n",                    // no size
            b"-1\r\n",                  // sign
            b"3 x\r\nabc\r\n0\r\n\r\n", // junk after the size
            b"3\r\nabcd\r\n0\r\n\r\n",  // chunk longer than announced
            b"1000000000000000\r\n",    // 16 hex digits
        ];
        for input in cases {
            let e = chunked(input, 1 << 20).unwrap_err();
            assert!(
                matches!(e, BodyError::Malformed(_)),
                "{:?}: {e:?}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(e.status(), Some(400));
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 10];
        assert!(matches!(chunked(&long, 100), Err(BodyError::Malformed(_))));
    }

    #[test]
    fn truncated_chunked_bodies() {
        for input in [&b""[..], b"5\r\nab", b"5\r\nabcde", b"5\r\nabcde\r\n0\r\n"] {
            let e = chunked(input, 100).unwrap_err();
            assert!(matches!(e, BodyError::Truncated { .. }), "{input:?}: {e:?}");
            assert_eq!(e.status(), None);
        }
    }

    #[test]
    fn huge_trailers_are_refused() {
        let mut input = b"0\r\n".to_vec();
        for _ in 0..400 {
            input.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        input.extend_from_slice(b"\r\n");
        assert!(matches!(chunked(&input, 100), Err(BodyError::Malformed(_))));
    }

    #[test]
    fn timeouts_map_to_408() {
        let e: BodyError = io::Error::from(io::ErrorKind::WouldBlock).into();
        assert_eq!(e.status(), Some(408));
    }
}
