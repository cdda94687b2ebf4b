//! Tugas 1a: transfer a file from the client to the server.
//!
//! The course's modification of `client.py`/`server.py`: the client reads
//! `file.txt` and sends it; the server shows the content on its console and
//! writes it to `hasil.txt`.
//!
//! # Wire format (from [`common::transfer`])
//!
//! ```text
//! client -> server   FILE <size> <name>\n  then exactly <size> bytes, then the client half-closes
//! server -> client   OK received <size> bytes, saved as hasil.txt\n
//!                or  ERROR <reason>\n
//! ```
//!
//! The size goes first, so the server knows when the file is complete and
//! can tell a finished upload from a cut-off one. The file is written under
//! a temporary name and renamed to `hasil.txt` only when every byte
//! arrived: a broken transfer never leaves a partial `hasil.txt`.
//!
//! ```text
//! cargo run -p tugas1a --bin server
//! cargo run -p tugas1a --bin client -- --file tugas1a/file.txt
//! cargo run -p tugas1a --bin check                 # grader: test any upload server
//! ```
//!
//! Modules: [`check`], the grader's conformance check of any upload server.

pub mod check;

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cli::{self, Command, Flag};
use common::error::AppError;
use common::files::{AtomicFile, Progress, Summary, COPY_BUF};
use common::framing::shorten;
use common::framing::{copy_exact_paced, FrameError};
use common::net::{self, ServeOptions};
use common::transfer::{send_file, FileHeader, Status};

/// Default server port.
pub const DEFAULT_PORT: &str = "31100";

/// At most this many bytes of a text file are printed on the server's console.
pub const PRINT_LIMIT: usize = 4096;

/// Bytes shown as hex for a binary file.
pub const HEX_PREVIEW: usize = 64;

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 1a server: receives a file, prints it, saves it as hasil.txt.",
    args: "",
    flags: &[
        cli::host("0.0.0.0"),
        cli::port(DEFAULT_PORT),
        Flag::value(
            "output",
            "PATH",
            "hasil.txt",
            "where to save each received file",
        ),
        cli::TIMEOUT,
    ],
};

/// The client's flags.
pub const CLIENT: Command = Command {
    name: "client",
    about: "Tugas 1a client: sends a file to the server.",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port(DEFAULT_PORT),
        Flag::value(
            "file",
            "PATH",
            "file.txt",
            "the file to send (falls back to the crate's sample file.txt)",
        ),
        Flag::value(
            "name",
            "NAME",
            "",
            "name to announce [default: the file's own name]",
        ),
        cli::TIMEOUT,
    ],
};

/// Where the server prints received files: stdout in the program, a buffer
/// in tests. Locked per file so two uploads never interleave on screen.
pub type Console = Arc<Mutex<dyn Write + Send>>;

/// The console of the real program.
pub fn stdout_console() -> Console {
    Arc::new(Mutex::new(io::stdout()))
}

/// Serves uploads forever, writing each complete file to `output`.
pub fn run_server(listener: TcpListener, opts: ServeOptions, output: PathBuf, console: Console) {
    net::serve(listener, opts, move |stream, peer| {
        handle_upload(stream, peer, &output, &console)
    });
}

/// Receives one file on `stream`. Answers `OK ...` when it is saved, or
/// `ERROR <reason>` when it is not (the partial file is removed).
///
/// # Errors
/// The reason the upload failed (already reported to the client if the
/// connection still worked).
pub fn handle_upload(
    stream: TcpStream,
    peer: SocketAddr,
    output: &Path,
    console: &Console,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(COPY_BUF, stream.try_clone()?);
    let mut writer = stream;
    let header = match FileHeader::read_from(&mut reader) {
        Ok(Some(h)) => h,
        Ok(None) => {
            log::info!("{peer}: connected and closed without sending a file");
            return Ok(());
        }
        Err(e) => return reject(&mut writer, peer, e),
    };
    log::info!(
        "{peer}: receiving {:?} ({} bytes)",
        shorten(&header.name),
        header.size
    );
    let mut file = AtomicFile::create(output)?;
    let mut preview = Preview::default();
    // The read timeout also bounds how slowly a client may send.
    let stall = writer.read_timeout()?;
    let mut tee = Tee {
        file: &mut file,
        preview: &mut preview,
    };
    let copied = copy_exact_paced(&mut reader, &mut tee, header.size, COPY_BUF, stall, |_| ());
    if let Err(e) = copied {
        // Remove the temporary file before answering, so that when the
        // client hears "ERROR" nothing of the upload is left on disk.
        drop(file);
        return reject(&mut writer, peer, e);
    }
    let saved = file.commit()?;
    {
        let mut out = console.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "received {:?} ({} bytes) from {peer}, saved as {}",
            shorten(&header.name),
            header.size,
            saved.display()
        );
        let _ = writeln!(out, "{}", describe_content(&preview.bytes, header.size));
        let _ = out.flush();
    }
    let reply = format!(
        "received {} bytes, saved as {}",
        header.size,
        saved.display()
    );
    log::info!("{peer}: {reply}");
    Status::Ok(reply).write_to(&mut writer)?;
    let _ = writer.shutdown(Shutdown::Both);
    Ok(())
}

/// Tells the client why its upload failed (if it still listens) and
/// returns the error for the log.
fn reject(writer: &mut TcpStream, peer: SocketAddr, e: FrameError) -> io::Result<()> {
    log::warn!("{peer}: upload failed: {e}");
    let _ = Status::Error(format!("upload failed: {e}")).write_to(writer);
    Err(e.into())
}

/// The first bytes of a file, kept for the console.
#[derive(Default)]
struct Preview {
    bytes: Vec<u8>,
}

/// Writes to the file and keeps the first [`PRINT_LIMIT`] bytes.
struct Tee<'a> {
    file: &'a mut AtomicFile,
    preview: &'a mut Preview,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        let room = PRINT_LIMIT.saturating_sub(self.preview.bytes.len());
        self.preview.bytes.extend_from_slice(&buf[..n.min(room)]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// How the server shows a file on the console: text as text (up to
/// [`PRINT_LIMIT`] bytes), anything else as its size and a hex preview.
pub fn describe_content(head: &[u8], total: u64) -> String {
    if total == 0 {
        return "(empty file)".to_string();
    }
    let more = total.saturating_sub(head.len() as u64);
    if let Some(text) = as_text(head, more > 0) {
        let mut s = format!("----- content -----\n{text}");
        if !text.ends_with('\n') {
            s.push('\n');
        }
        if more > 0 {
            s.push_str(&format!("... ({more} more bytes not shown)\n"));
        }
        s.push_str("-------------------");
        return s;
    }
    let shown = &head[..head.len().min(HEX_PREVIEW)];
    let mut s = format!("binary data, {total} bytes; first {} bytes:\n", shown.len());
    s.push_str(&hex_dump(shown));
    s.trim_end().to_string()
}

/// The bytes as text if they are UTF-8 without control characters (other
/// than tab and line breaks). `cut` allows a character split at the end.
fn as_text(bytes: &[u8], cut: bool) -> Option<&str> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) if cut && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let printable = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
    printable.then_some(text)
}

/// Classic hex dump: offset, 16 bytes in hex, the same bytes as ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, row) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = row
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!(
            "{:08x}  {:<47}  |{ascii}|\n",
            i * 16,
            hex.join(" ")
        ));
    }
    out
}

/// The file the client sends: `--file`, or when the default `file.txt` is
/// not in the current folder, the sample shipped with this crate.
pub fn choose_file(m: &cli::Matches) -> PathBuf {
    let given = PathBuf::from(m.value("file"));
    if !m.is_set("file") && !given.exists() {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("file.txt");
        if sample.exists() {
            log::info!("no file.txt here; sending the sample {}", sample.display());
            return sample;
        }
    }
    given
}

/// Sends `path` to the server and returns the server's answer and the
/// transfer summary.
///
/// # Errors
/// The file cannot be opened, the connection fails or is cut, or the
/// server answers `ERROR`.
pub fn upload(
    host: &str,
    port: u16,
    path: &Path,
    name: Option<&str>,
    timeout: Duration,
) -> Result<(String, Summary), AppError> {
    let open_err = |e: &io::Error| {
        let err = AppError::io(format!("cannot open {}", path.display()), e);
        if e.kind() == io::ErrorKind::NotFound {
            err.hint("give the file to send with --file PATH")
        } else {
            err
        }
    };
    let mut file = File::open(path).map_err(|e| open_err(&e))?;
    let meta = file.metadata().map_err(|e| open_err(&e))?;
    if !meta.is_file() {
        return Err(AppError::new(
            format!("cannot send {}", path.display()),
            "not a regular file",
        ));
    }
    let name = match name {
        Some(n) => n.to_string(),
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into()),
    };
    let stream = net::connect(host, port, timeout)?;
    let target = net::join_host_port(host, port);
    let what = format!("cannot send {} to {target}", path.display());
    let mut writer = stream.try_clone().map_err(|e| AppError::io(&what, &e))?;
    let mut progress = Progress::new(name.clone(), Some(meta.len()));
    let sent = send_file(&mut writer, &name, &mut file, meta.len(), &mut progress);
    // Whatever happened, hear the server out: it may explain the failure.
    let _ = writer.shutdown(Shutdown::Write);
    let mut reader = BufReader::new(stream);
    let status = Status::read_from(&mut reader);
    match (sent, status) {
        (Ok(n), Ok(Status::Ok(msg))) => Ok((msg, progress.finish(n))),
        (_, Ok(Status::Error(msg))) => Err(AppError::new(what, format!("server says: {msg}"))),
        (Err(e), _) => Err(AppError::new(what, e)),
        (Ok(_), Err(e)) => Err(AppError::new(format!("no answer from {target}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_shown_as_text() {
        let s = describe_content(b"halo\ndunia\n", 11);
        assert_eq!(s, "----- content -----\nhalo\ndunia\n-------------------");
        let s = describe_content("é".repeat(10).as_bytes(), 5000);
        assert!(
            s.contains("éééé") && s.contains("(4980 more bytes not shown)"),
            "{s}"
        );
        assert_eq!(describe_content(b"", 0), "(empty file)");
    }

    #[test]
    fn binary_is_shown_as_size_and_hex() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        let s = describe_content(&bytes, 256);
        assert!(
            s.starts_with("binary data, 256 bytes; first 64 bytes:\n"),
            "{s}"
        );
        assert!(
            s.contains(
                "00000000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  |................|"
            ),
            "{s}"
        );
        assert_eq!(s.lines().count(), 5);
        // A split UTF-8 character at the cut is still text; one in the middle is not.
        assert!(describe_content(&"aé".as_bytes()[..2], 10).starts_with("----- content"));
        assert!(describe_content(b"a\xffb", 3).starts_with("binary"));
    }
}
