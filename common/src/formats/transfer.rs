//! The file-transfer wire format of Tugas 1a (upload), Tugas 1b and
//! Tugas 3 (download): the three kinds of line, each with its encode
//! (`write_to`) and decode (`read_from`) side by side. The socket flow
//! (accept, resolve, send, save) lives in each crate.
//!
//! Every message starts with one text line, so the whole exchange can be
//! read in Wireshark or typed by hand in telnet/nc; file bytes follow the
//! line raw, and their count is announced first so a short transfer is
//! always detected.
//!
//! # Format
//!
//! Upload (client sends a file, Tugas 1a):
//!
//! ```text
//! client -> server   FILE <size> <name>\n  then exactly <size> bytes    (FileHeader)
//! server -> client   OK <message>\n        or   ERROR <message>\n       (Status)
//! ```
//!
//! Download (client asks for a file by name, Tugas 1b and 3):
//!
//! ```text
//! client -> server   GET <name>\n                                       (Request::Get)
//! server -> client   OK <size>\n  then exactly <size> bytes             (Status::Ok)
//!                or  ERROR <message>\n      e.g. "ERROR file not found: x.txt"
//! ```
//!
//! `<size>` is a decimal byte count; `<name>` is the rest of the line (it
//! may hold spaces, never a line break). Lines end in `\n`; a `\r` before
//! it is ignored. A line longer than [`MAX_HEADER`] is refused.
//!
//! ```
//! use common::transfer::{Request, Status};
//!
//! let mut wire = Vec::new();
//! Request::Get { name: "gambar.png".into() }.write_to(&mut wire).unwrap();
//! assert_eq!(wire, b"GET gambar.png\n");
//! let back = Request::read_from(&mut &wire[..]).unwrap();
//! assert_eq!(back, Some(Request::Get { name: "gambar.png".into() }));
//!
//! let mut wire = Vec::new();
//! Status::sending(1234).write_to(&mut wire).unwrap();
//! assert_eq!(wire, b"OK 1234\n");
//! ```

use std::io::{self, BufRead, Write};

use crate::framing::{read_line, shorten, FrameError};

/// Longest header, request or status line accepted (name included).
pub const MAX_HEADER: usize = 4096;

/// The line in front of an uploaded file: its name and size.
///
/// # Format
/// `FILE <size> <name>\n`, then exactly `<size>` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    /// The name the sender gave (not trusted: check before using as a path).
    pub name: String,
    /// Exact number of bytes that follow.
    pub size: u64,
}

impl FileHeader {
    /// Writes `FILE <size> <name>\n`.
    ///
    /// # Errors
    /// `InvalidInput` if the name holds a line break; otherwise write errors.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        refuse_line_break(&self.name)?;
        w.write_all(format!("FILE {} {}\n", self.size, self.name).as_bytes())
    }

    /// Reads a `FILE <size> <name>` line; `Ok(None)` on a clean close first.
    ///
    /// # Errors
    /// [`FrameError::Malformed`] for any other line; framing errors as usual.
    pub fn read_from<R: BufRead + ?Sized>(r: &mut R) -> Result<Option<FileHeader>, FrameError> {
        let Some(line) = read_line(r, MAX_HEADER)? else {
            return Ok(None);
        };
        let bad = || {
            FrameError::Malformed(format!(
                "expected 'FILE <size> <name>', got {:?}",
                shorten(&line)
            ))
        };
        let rest = line.strip_prefix("FILE ").ok_or_else(bad)?;
        let (size, name) = rest.split_once(' ').ok_or_else(bad)?;
        let size = size.parse::<u64>().map_err(|_| bad())?;
        Ok(Some(FileHeader {
            name: name.to_string(),
            size,
        }))
    }
}

/// What a download client asks for.
///
/// # Format
/// `GET <name>\n`: the name is the rest of the line (spaces allowed, an
/// empty name is passed on for the server to refuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The file called `name` in the server's folder (not trusted: resolve
    /// it inside the folder before opening anything).
    Get {
        /// The name as the client sent it.
        name: String,
    },
}

impl Request {
    /// Writes `GET <name>\n` and flushes.
    ///
    /// # Errors
    /// `InvalidInput` if the name holds a line break (it would end the
    /// line early); otherwise write errors.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        let Request::Get { name } = self;
        refuse_line_break(name)?;
        w.write_all(format!("GET {name}\n").as_bytes())?;
        w.flush()
    }

    /// Reads one request line; `Ok(None)` on a clean close before it.
    ///
    /// # Errors
    /// [`FrameError::Malformed`] for a line that is not `GET <name>` (its
    /// text says what came, for the `ERROR bad request: ...` answer);
    /// [`FrameError::TooLarge`] past [`MAX_HEADER`]; framing errors as usual.
    pub fn read_from<R: BufRead + ?Sized>(r: &mut R) -> Result<Option<Request>, FrameError> {
        let Some(line) = read_line(r, MAX_HEADER)? else {
            return Ok(None);
        };
        match line.strip_prefix("GET ") {
            Some(name) => Ok(Some(Request::Get {
                name: name.to_string(),
            })),
            None => Err(FrameError::Malformed(format!(
                "expected 'GET <name>', got {:?}",
                shorten(&line)
            ))),
        }
    }
}

/// A one-line answer: `OK <text>` or `ERROR <text>`.
///
/// # Format
/// `OK <text>\n` or `ERROR <text>\n`; line breaks inside the text are sent
/// as spaces. The `OK` answer to a [`Request::Get`] carries the file's size
/// ([`Status::sending`], [`parse_size`]), and the bytes follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Success, with its text (a size for downloads, a message for uploads).
    Ok(String),
    /// Failure, with the reason to show the user.
    Error(String),
}

impl Status {
    /// The answer in front of a file of `size` bytes: `OK <size>`.
    pub fn sending(size: u64) -> Status {
        Status::Ok(size.to_string())
    }

    /// Writes the status line and flushes.
    ///
    /// # Errors
    /// Write errors.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        let line = match self {
            Status::Ok(t) => format!("OK {}\n", one_line(t)),
            Status::Error(t) => format!("ERROR {}\n", one_line(t)),
        };
        w.write_all(line.as_bytes())?;
        w.flush()
    }

    /// Reads a status line.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] if the peer closed without answering;
    /// [`FrameError::Malformed`] for a line that is neither OK nor ERROR.
    pub fn read_from<R: BufRead + ?Sized>(r: &mut R) -> Result<Status, FrameError> {
        let line = read_line(r, MAX_HEADER)?.ok_or(FrameError::Truncated {
            expected: None,
            got: 0,
        })?;
        if let Some(t) = line.strip_prefix("OK") {
            return Ok(Status::Ok(t.trim_start().to_string()));
        }
        if let Some(t) = line.strip_prefix("ERROR") {
            return Ok(Status::Error(t.trim_start().to_string()));
        }
        Err(FrameError::Malformed(format!(
            "expected 'OK ...' or 'ERROR ...', got {:?}",
            shorten(&line)
        )))
    }
}

/// The size in the text of an `OK <size>` answer to a download.
///
/// # Errors
/// [`FrameError::Malformed`] when the text is not a byte count.
pub fn parse_size(ok_text: &str) -> Result<u64, FrameError> {
    ok_text.trim().parse::<u64>().map_err(|_| {
        FrameError::Malformed(format!(
            "expected 'OK <size>', got 'OK {}'",
            shorten(ok_text)
        ))
    })
}

/// A name must stay on its line.
fn refuse_line_break(name: &str) -> io::Result<()> {
    if name.contains(['\n', '\r']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "file name contains a line break",
        ));
    }
    Ok(())
}

/// Replaces line breaks so a message stays one line on the wire.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn cursor(bytes: &[u8]) -> Cursor<Vec<u8>> {
        Cursor::new(bytes.to_vec())
    }

    #[test]
    fn header_round_trip_with_spaces() {
        let h = FileHeader {
            name: "my file.txt".into(),
            size: 42,
        };
        let mut buf = Vec::new();
        h.write_to(&mut buf).unwrap();
        assert_eq!(buf, b"FILE 42 my file.txt\n");
        let back = FileHeader::read_from(&mut Cursor::new(buf))
            .unwrap()
            .unwrap();
        assert_eq!(back, h);
        // CR LF, as telnet sends it.
        let back = FileHeader::read_from(&mut cursor(b"FILE 0 a.txt\r\n")).unwrap();
        assert_eq!(
            back,
            Some(FileHeader {
                name: "a.txt".into(),
                size: 0
            })
        );
        assert!(FileHeader::read_from(&mut cursor(b"")).unwrap().is_none());
    }

    #[test]
    fn bad_headers_are_malformed() {
        for bad in ["HELLO\n", "FILE x name\n", "FILE 12\n", "FILE -1 a\n"] {
            let r = FileHeader::read_from(&mut cursor(bad.as_bytes()));
            assert!(matches!(r, Err(FrameError::Malformed(_))), "{bad:?}: {r:?}");
        }
        for name in ["a\nb", "a\rb"] {
            let h = FileHeader {
                name: name.into(),
                size: 1,
            };
            let e = h.write_to(&mut Vec::new()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        let long = format!("FILE 1 {}\n", "a".repeat(MAX_HEADER));
        let r = FileHeader::read_from(&mut cursor(long.as_bytes()));
        assert!(matches!(r, Err(FrameError::TooLarge { limit: MAX_HEADER })));
        // A line cut off by the close is not a header.
        let r = FileHeader::read_from(&mut cursor(b"FILE 3 a"));
        assert!(matches!(r, Err(FrameError::Truncated { .. })), "{r:?}");
    }

    #[test]
    fn request_round_trip() {
        for name in ["contoh.txt", "my file.png", "sub/a.txt", "../secret", ""] {
            let req = Request::Get { name: name.into() };
            let mut buf = Vec::new();
            req.write_to(&mut buf).unwrap();
            assert_eq!(buf, format!("GET {name}\n").as_bytes());
            assert_eq!(
                Request::read_from(&mut Cursor::new(buf)).unwrap(),
                Some(req)
            );
        }
        // Two requests on one connection, CR LF, then a clean close.
        let mut r = cursor(b"GET a.txt\r\nGET b c\n");
        let names: Vec<Request> =
            std::iter::from_fn(|| Request::read_from(&mut r).unwrap()).collect();
        assert_eq!(
            names,
            [
                Request::Get {
                    name: "a.txt".into()
                },
                Request::Get { name: "b c".into() }
            ]
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        let e = Request::Get {
            name: "a\nGET b".into(),
        }
        .write_to(&mut Vec::new())
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        match Request::read_from(&mut cursor(b"HELLO\n")) {
            Err(FrameError::Malformed(m)) => assert_eq!(m, "expected 'GET <name>', got \"HELLO\""),
            other => panic!("{other:?}"),
        }
        let r = Request::read_from(&mut cursor(b"GET\n"));
        assert!(matches!(r, Err(FrameError::Malformed(_))), "{r:?}");
        let long = format!("GET {}\n", "a".repeat(MAX_HEADER));
        let r = Request::read_from(&mut cursor(long.as_bytes()));
        assert!(matches!(r, Err(FrameError::TooLarge { limit: MAX_HEADER })));
        let r = Request::read_from(&mut cursor(b"GET \xff\n"));
        assert!(matches!(r, Err(FrameError::Malformed(_))), "{r:?}");
    }

    #[test]
    fn status_round_trip() {
        for s in [
            Status::Ok("12".into()),
            Status::Error("file not found: x.txt".into()),
            Status::sending(0),
        ] {
            let mut buf = Vec::new();
            s.write_to(&mut buf).unwrap();
            assert_eq!(Status::read_from(&mut Cursor::new(buf)).unwrap(), s);
        }
        // A line break in the text stays on one line.
        let mut buf = Vec::new();
        Status::Error("a\r\nb".into()).write_to(&mut buf).unwrap();
        assert_eq!(buf, b"ERROR a  b\n");
        let back = Status::read_from(&mut cursor(b"OK 5\r\n")).unwrap();
        assert_eq!(back, Status::Ok("5".into()));
        let r = Status::read_from(&mut cursor(b"WHAT\n"));
        assert!(matches!(r, Err(FrameError::Malformed(_))));
        let r = Status::read_from(&mut cursor(b""));
        assert!(matches!(r, Err(FrameError::Truncated { .. })));
        let long = format!("OK {}\n", "9".repeat(MAX_HEADER));
        let r = Status::read_from(&mut cursor(long.as_bytes()));
        assert!(matches!(r, Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn sizes_round_trip() {
        for size in [0, 1, u64::MAX] {
            let Status::Ok(text) = Status::sending(size) else {
                unreachable!()
            };
            assert_eq!(parse_size(&text).unwrap(), size);
        }
        match parse_size("lots") {
            Err(FrameError::Malformed(m)) => assert_eq!(m, "expected 'OK <size>', got 'OK lots'"),
            other => panic!("{other:?}"),
        }
    }
}
