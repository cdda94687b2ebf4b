//! Tugas 1b: the server sends the file the client asks for.
//!
//! The course's modification of `server.py`: the client asks the user for
//! a file name ("nama file: "), sends it, and saves what the server sends
//! back. Text files and images (binary) both arrive byte for byte.
//!
//! # Wire format (from [`common::transfer`], shared with Tugas 3)
//!
//! ```text
//! client -> server   GET <name>\n
//! server -> client   OK <size>\n  then exactly <size> bytes
//!                or  ERROR <reason>\n       e.g. "ERROR file not found: x.txt"
//! ```
//!
//! The server answers only for files inside its folder (`--dir`): names
//! with `..`, absolute paths and symlinks that lead outside are refused.
//! The client writes `downloads/<name>.part...` and renames it when every
//! byte arrived, so a cut transfer leaves no half file.
//!
//! ```text
//! cargo run -p tugas1b --bin server -- --dir tugas1b/files
//! cargo run -p tugas1b --bin client            # asks: nama file:
//! cargo run -p tugas1b --bin client -- --file gambar.png
//! cargo run -p tugas1b --bin check                 # grader: test any download server
//! ```
//!
//! Modules: [`check`], the grader's conformance check of any download server.

pub mod check;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{self, Command, Flag};
use common::error::AppError;
use common::files::{check_relative, Progress, Summary, COPY_BUF};
use common::net::{self, ServeOptions};
use common::transfer::{self, DownloadError};

/// Default server port.
pub const DEFAULT_PORT: &str = "31200";

/// The prompt of the course's client.
pub const PROMPT: &str = "nama file: ";

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 1b server: sends the files in a folder to clients that ask by name.",
    args: "",
    flags: &[
        cli::host("0.0.0.0"),
        cli::port(DEFAULT_PORT),
        Flag::value("dir", "DIR", ".", "folder whose files are served"),
        cli::TIMEOUT,
    ],
};

/// The client's flags.
pub const CLIENT: Command = Command {
    name: "client",
    about: "Tugas 1b client: asks the server for a file by name and saves it.",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port(DEFAULT_PORT),
        Flag::value(
            "file",
            "NAME",
            "",
            "file to ask for [default: ask 'nama file: ' on stdin]",
        ),
        Flag::value(
            "output",
            "PATH",
            "",
            "where to save it [default: downloads/NAME]",
        ),
        cli::TIMEOUT,
    ],
};

/// Serves the files of `dir` forever.
pub fn run_server(listener: TcpListener, opts: ServeOptions, dir: PathBuf) {
    transfer::serve_folder(listener, opts, dir);
}

/// Asks "nama file: " on `out` and reads one line from `input`. With
/// `echo` (input piped, not typed) the name is written after the prompt,
/// so the console reads as if it had been typed.
///
/// # Errors
/// An empty answer or a closed input.
pub fn ask_name<R: BufRead, W: Write>(
    input: &mut R,
    out: &mut W,
    echo: bool,
) -> Result<String, AppError> {
    let _ = write!(out, "{PROMPT}");
    let _ = out.flush();
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| AppError::io("cannot read the file name", &e))?;
    let name = line.trim().to_string();
    if echo {
        let _ = writeln!(out, "{name}");
    }
    if name.is_empty() {
        return Err(AppError::new("no file name given", "the input was empty")
            .hint("type a name, or pass --file NAME"));
    }
    Ok(name)
}

/// Where the client saves `name` by default: `downloads/<last part of name>`.
///
/// # Errors
/// A name that is not a plain relative file name.
pub fn default_output(name: &str) -> Result<PathBuf, AppError> {
    let rel =
        check_relative(name).map_err(|e| AppError::new(format!("cannot ask for {name:?}"), e))?;
    let base = rel.file_name().expect("checked name has a last part");
    Ok(Path::new("downloads").join(base))
}

/// Downloads `name` from the server into `dest`.
///
/// # Errors
/// The server's `ERROR` answer ("file not found: x.txt"), connection
/// problems, a cut-off transfer (no file is left), or a local write error.
pub fn fetch(
    host: &str,
    port: u16,
    name: &str,
    dest: &Path,
    timeout: Duration,
) -> Result<Summary, AppError> {
    let stream = net::connect(host, port, timeout)?;
    let mut reader = BufReader::with_capacity(COPY_BUF, stream);
    let progress = Progress::new(name, None);
    transfer::download(&mut reader, name, dest, progress).map_err(|e| match e {
        DownloadError::Refused(msg) => AppError::new("server refused", msg),
        other => AppError::new(format!("cannot download {name}"), other),
    })
}
