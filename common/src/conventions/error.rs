//! Errors a program reports to its user, and the `main` wrapper that reports them.
//!
//! A user error is printed as one line, `error: <what failed>: <cause>`,
//! with a hint in brackets where one helps, and the program exits 1:
//!
//! ```text
//! error: cannot listen on 0.0.0.0:31000: address already in use (is another server running on port 31000?)
//! error: cannot connect to 127.0.0.1:8889: connection refused (is the server running on 127.0.0.1:8889?)
//! ```
//!
//! Bad flags exit 2 ([`crate::cli::CliError::Usage`]), `--help` exits 0.

use std::fmt;
use std::io;
use std::process::ExitCode;

use crate::cli::{CliError, Command, Matches};

/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a bad flag or value.
pub const EXIT_USAGE: u8 = 2;

/// A failure to report to the user: what was being done, why it failed,
/// and optionally what to check.
#[derive(Debug)]
pub struct AppError {
    /// What failed, e.g. "cannot connect to 127.0.0.1:31000".
    pub what: String,
    /// Why, e.g. "connection refused".
    pub cause: String,
    /// A suggestion for the user, e.g. "is the server running on 127.0.0.1:31000?".
    pub hint: Option<String>,
}

impl AppError {
    /// An error with a cause and no hint.
    pub fn new(what: impl Into<String>, cause: impl fmt::Display) -> AppError {
        AppError {
            what: what.into(),
            cause: cause.to_string(),
            hint: None,
        }
    }

    /// Adds a hint shown in brackets after the cause.
    pub fn hint(mut self, hint: impl Into<String>) -> AppError {
        self.hint = Some(hint.into());
        self
    }

    /// An error from an I/O failure, with its cause written the way people
    /// say it ("connection refused", not "Connection refused (os error 111)").
    pub fn io(what: impl Into<String>, err: &io::Error) -> AppError {
        AppError::new(what, io_cause(err))
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.cause)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}

/// An I/O error's cause in plain lowercase words, without "(os error N)".
pub fn io_cause(err: &io::Error) -> String {
    use io::ErrorKind::*;
    let plain = match err.kind() {
        NotFound => "no such file or directory",
        PermissionDenied => "permission denied",
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        NotConnected => "not connected",
        AddrInUse => "address already in use",
        AddrNotAvailable => "address not available on this machine",
        BrokenPipe => "connection closed by peer (broken pipe)",
        AlreadyExists => "already exists",
        WouldBlock | TimedOut => "timed out",
        UnexpectedEof => "connection closed before the end of the data",
        _ => "",
    };
    if !plain.is_empty() {
        return plain.to_string();
    }
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

/// Runs a program's body with the workspace conventions: logging set up,
/// flags parsed from the process arguments, `--help` to stdout with exit 0,
/// a usage error as one line with exit 2, an [`AppError`] as one line with
/// exit 1.
///
/// ```no_run
/// use common::cli::{Command, port};
/// use std::process::ExitCode;
///
/// const CMD: Command = Command { name: "server", about: "echo", args: "", flags: &[port("31000")] };
///
/// fn main() -> ExitCode {
///     common::error::run_main(&CMD, |m| {
///         let port: u16 = m.parse("port")?;
///         println!("would listen on {port}");
///         Ok(())
///     })
/// }
/// ```
pub fn run_main<F>(cmd: &Command, body: F) -> ExitCode
where
    F: FnOnce(Matches) -> Result<(), MainError>,
{
    crate::logging::init();
    let outcome = cmd
        .parse(std::env::args().skip(1))
        .map_err(MainError::from)
        .and_then(body);
    exit_code(outcome)
}

/// Prints the outcome of a program the conventional way and gives its exit code.
pub fn exit_code(outcome: Result<(), MainError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(MainError::Cli(CliError::Help(text))) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(MainError::Cli(CliError::Usage(msg))) => {
            eprintln!("error: {msg}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(MainError::App(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// What a program's body can fail with: a usage problem or a runtime failure.
#[derive(Debug)]
pub enum MainError {
    /// Flags or values (exit 2), or `--help` (exit 0).
    Cli(CliError),
    /// A runtime failure (exit 1).
    App(AppError),
}

impl From<CliError> for MainError {
    fn from(e: CliError) -> Self {
        MainError::Cli(e)
    }
}

impl From<AppError> for MainError {
    fn from(e: AppError) -> Self {
        MainError::App(e)
    }
}

impl fmt::Display for MainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MainError::Cli(e) => e.fmt(f),
            MainError::App(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MainError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_plain_words() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(io_cause(&e), "connection refused");
        let e = io::Error::from_raw_os_error(36); // ENAMETOOLONG on Linux
        assert!(!io_cause(&e).contains("os error"), "{}", io_cause(&e));
        let e = io::Error::other("Bad thing");
        assert_eq!(io_cause(&e), "bad thing");
    }

    #[test]
    fn display_has_what_cause_and_hint() {
        let e = AppError::new("cannot open file.txt", "no such file or directory")
            .hint("run from the crate folder");
        assert_eq!(
            e.to_string(),
            "cannot open file.txt: no such file or directory (run from the crate folder)"
        );
    }

    #[test]
    fn exit_codes_follow_the_conventions() {
        assert_eq!(exit_code(Ok(())), ExitCode::SUCCESS);
        assert_eq!(
            exit_code(Err(CliError::Help("h".into()).into())),
            ExitCode::SUCCESS
        );
        assert_eq!(
            exit_code(Err(CliError::Usage("bad".into()).into())),
            ExitCode::from(2)
        );
        assert_eq!(
            exit_code(Err(AppError::new("x", "y").into())),
            ExitCode::from(1)
        );
    }
}
