//! The file-transfer wire format shared by Tugas 1a (upload), Tugas 1b and
//! Tugas 3 (download).
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
//! client -> server   FILE <size> <name>\n  then exactly <size> bytes
//! server -> client   OK <message>\n        or   ERROR <message>\n
//! ```
//!
//! Download (client asks for a file by name, Tugas 1b and 3):
//!
//! ```text
//! client -> server   GET <name>\n
//! server -> client   OK <size>\n  then exactly <size> bytes
//!                or  ERROR <message>\n      e.g. "ERROR file not found: x.txt"
//! ```
//!
//! `<size>` is a decimal byte count; `<name>` is the rest of the line (it
//! may hold spaces, never a line break). Lines end in `\n`; a `\r` before
//! it is ignored. A header line longer than [`MAX_HEADER`] is refused.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use crate::net::ServeOptions;
use std::path::{Path, PathBuf};

use crate::files::{
    resolve_in_dir, send_file_bytes, AtomicFile, Progress, ServeError, Summary, COPY_BUF,
};
use crate::framing::{copy_exact_paced, read_line, shorten, FrameError};

/// Longest header or status line accepted (name included).
pub const MAX_HEADER: usize = 4096;

/// The line in front of an uploaded file: its name and size.
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
        if self.name.contains(['\n', '\r']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "file name contains a line break",
            ));
        }
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

/// A one-line answer: `OK <text>` or `ERROR <text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Success, with its text (a size for downloads, a message for uploads).
    Ok(String),
    /// Failure, with the reason to show the user.
    Error(String),
}

impl Status {
    /// Writes the status line.
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

/// Sends `FILE <size> <name>\n` and the file's bytes, updating `progress`.
///
/// # Errors
/// If the file cannot be read (or shrinks while being sent) or the socket fails.
pub fn send_file<W: Write + ?Sized>(
    w: &mut W,
    name: &str,
    file: &mut File,
    size: u64,
    progress: &mut Progress,
) -> Result<u64, FrameError> {
    FileHeader {
        name: name.to_string(),
        size,
    }
    .write_to(w)?;
    send_file_bytes(file, w, size, None, |d| progress.update(d))
}

/// Serves the files of `dir` forever: the whole server of Tugas 1b and 3,
/// a thread per client (from [`crate::net::serve`]).
pub fn serve_folder(listener: TcpListener, opts: ServeOptions, dir: PathBuf) {
    crate::net::serve(listener, opts, move |stream, _peer| {
        serve_downloads(stream, &dir)
    });
}

/// Serves one download request on `stream` from the folder `dir`: reads
/// `GET <name>`, answers `OK <size>` and the bytes, or `ERROR <why>`.
/// Several requests may follow one another on the same connection.
///
/// # Errors
/// Socket failures and malformed requests (after answering `ERROR`).
pub fn serve_downloads(stream: TcpStream, dir: &Path) -> io::Result<()> {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let line = match read_line(&mut reader, MAX_HEADER) {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(e @ (FrameError::TooLarge { .. } | FrameError::Malformed(_))) => {
                Status::Error(format!("bad request: {e}")).write_to(&mut writer)?;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        let Some(name) = line.strip_prefix("GET ") else {
            let msg = format!(
                "bad request: expected 'GET <name>', got {:?}",
                shorten(&line)
            );
            Status::Error(msg.clone()).write_to(&mut writer)?;
            return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
        };
        let path = match resolve_in_dir(dir, name) {
            Ok(p) => p,
            Err(e) => {
                let msg = refusal(name, &e);
                log::warn!("{peer}: GET {name:?} refused: {msg}");
                Status::Error(msg).write_to(&mut writer)?;
                continue;
            }
        };
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                let msg = format!("cannot read {name}: {}", crate::error::io_cause(&e));
                log::warn!("{peer}: {msg}");
                Status::Error(msg).write_to(&mut writer)?;
                continue;
            }
        };
        let size = file.metadata()?.len();
        log::info!("{peer}: sending {name} ({size} bytes)");
        Status::Ok(size.to_string()).write_to(&mut writer)?;
        // The write timeout also bounds how slowly a client may read.
        let stall = writer.write_timeout()?;
        send_file_bytes(&mut file, &mut writer, size, stall, |_| ())?;
        log::info!("{peer}: sent {name} ({size} bytes)");
    }
}

/// The `ERROR` text for a refused download, naming the file.
fn refusal(name: &str, e: &ServeError) -> String {
    match e {
        ServeError::NotFound => format!("file not found: {name}"),
        ServeError::Name(n) => format!("refused {name:?}: {n}"),
        ServeError::Outside => format!("refused {name:?}: outside the served folder"),
        ServeError::Io(io) => format!("cannot read {name}: {}", crate::error::io_cause(io)),
    }
}

/// Asks for `name` on an open connection and saves it to `dest` (through a
/// temporary file, renamed only once every byte arrived).
///
/// # Errors
/// `Err(DownloadError::Refused)` with the server's `ERROR` text; other
/// variants for cut-off transfers and local file problems.
pub fn download(
    reader: &mut BufReader<TcpStream>,
    name: &str,
    dest: &Path,
    progress: Progress,
) -> Result<Summary, DownloadError> {
    if name.contains(['\n', '\r']) {
        return Err(DownloadError::Refused(
            "file name contains a line break".to_string(),
        ));
    }
    let stream = reader.get_mut();
    stream.write_all(format!("GET {name}\n").as_bytes())?;
    stream.flush()?;
    let size = match Status::read_from(reader)? {
        Status::Error(msg) => return Err(DownloadError::Refused(msg)),
        Status::Ok(size) => size.trim().parse::<u64>().map_err(|_| {
            FrameError::Malformed(format!("expected 'OK <size>', got 'OK {}'", shorten(&size)))
        })?,
    };
    let out = AtomicFile::create(dest).map_err(|e| DownloadError::Local(dest.to_path_buf(), e))?;
    let mut out = LocalWriter {
        file: out,
        failed: false,
    };
    let mut progress = progress;
    progress.set_total(size);
    let stall = reader.get_ref().read_timeout()?;
    if let Err(e) = copy_exact_paced(reader, &mut out, size, COPY_BUF, stall, |d| {
        progress.update(d)
    }) {
        // The temporary file is removed when `out` drops here.
        return Err(match e {
            FrameError::Io(io) if out.failed => DownloadError::Local(dest.to_path_buf(), io),
            other => DownloadError::Frame(other),
        });
    }
    out.file
        .commit()
        .map_err(|e| DownloadError::Local(dest.to_path_buf(), e))?;
    Ok(progress.finish(size))
}

/// The local file being downloaded into; remembers whether writing failed
/// so a full disk is reported as a local problem, not a network one.
struct LocalWriter {
    file: AtomicFile,
    failed: bool,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.file.write(buf);
        self.failed |= r.is_err();
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        let r = self.file.flush();
        self.failed |= r.is_err();
        r
    }
}

/// Why a download failed.
#[derive(Debug)]
pub enum DownloadError {
    /// The server answered `ERROR <text>`.
    Refused(String),
    /// The connection failed or the answer was cut off or malformed.
    Frame(FrameError),
    /// The file could not be written locally.
    Local(PathBuf, io::Error),
}

impl std::fmt::Display for DownloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownloadError::Refused(msg) => write!(f, "server says: {msg}"),
            DownloadError::Frame(e) => e.fmt(f),
            DownloadError::Local(p, e) => {
                write!(
                    f,
                    "cannot write {}: {}",
                    p.display(),
                    crate::error::io_cause(e)
                )
            }
        }
    }
}

impl std::error::Error for DownloadError {}

impl From<FrameError> for DownloadError {
    fn from(e: FrameError) -> Self {
        DownloadError::Frame(e)
    }
}

impl From<io::Error> for DownloadError {
    fn from(e: io::Error) -> Self {
        DownloadError::Frame(e.into())
    }
}

/// Replaces line breaks so a message stays one line on the wire.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

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
    }

    #[test]
    fn bad_headers_are_malformed() {
        for bad in ["HELLO\n", "FILE x name\n", "FILE 12\n", "FILE -1 a\n"] {
            let r = FileHeader::read_from(&mut Cursor::new(bad.as_bytes().to_vec()));
            assert!(matches!(r, Err(FrameError::Malformed(_))), "{bad:?}: {r:?}");
        }
        let newline_name = FileHeader {
            name: "a\nb".into(),
            size: 1,
        };
        assert!(newline_name.write_to(&mut Vec::new()).is_err());
    }

    #[test]
    fn status_round_trip() {
        for s in [
            Status::Ok("12".into()),
            Status::Error("file not found: x.txt".into()),
        ] {
            let mut buf = Vec::new();
            s.write_to(&mut buf).unwrap();
            assert_eq!(Status::read_from(&mut Cursor::new(buf)).unwrap(), s);
        }
        let r = Status::read_from(&mut Cursor::new(b"WHAT\n".to_vec()));
        assert!(matches!(r, Err(FrameError::Malformed(_))));
        let r = Status::read_from(&mut Cursor::new(Vec::new()));
        assert!(matches!(r, Err(FrameError::Truncated { .. })));
    }
}
