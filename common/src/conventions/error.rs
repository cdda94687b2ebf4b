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
//!
//! A program whose output is closed early (`cargo run -p tugas4 --bin list
//! | head -3`, `--help | head -0`) stops quietly with exit 0, as if it had
//! finished: [`run_main`] runs the body under [`quiet_when_stdout_closes`],
//! so a `println!` into a closed pipe ends the program without a panic
//! message or a backtrace.

use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::Once;

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
    run_with_args(cmd, std::env::args().skip(1), body)
}

/// [`run_main`] with the arguments given and logging left as it is (for
/// tests, and programs that set logging up themselves).
pub fn run_with_args<I, F>(cmd: &Command, args: I, body: F) -> ExitCode
where
    I: IntoIterator<Item = String>,
    F: FnOnce(Matches) -> Result<(), MainError>,
{
    quiet_when_stdout_closes(|| exit_code(cmd.parse(args).map_err(MainError::from).and_then(body)))
}

/// Runs a program's `main` body so that output into a closed pipe is a
/// quiet stop: `println!` panics when stdout's reader has gone (a broken
/// pipe: `| head` read what it wanted, on any OS), and here that panic
/// prints nothing and gives exit 0, the exit of a program that printed
/// everything. Any other panic goes on as usual.
pub fn quiet_when_stdout_closes(body: impl FnOnce() -> ExitCode) -> ExitCode {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !is_stdout_closed(info.payload()) {
                default(info);
            }
        }));
    });
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(code) => code,
        Err(payload) if is_stdout_closed(payload.as_ref()) => ExitCode::SUCCESS,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Whether a panic is the standard library's `failed printing to stdout:
/// <error>` for a broken pipe. The error is only there as text; its OS
/// code, parsed back into an [`io::Error`], says which kind it is on this
/// OS (EPIPE on Unix; ERROR_NO_DATA or ERROR_BROKEN_PIPE on Windows).
fn is_stdout_closed(payload: &(dyn std::any::Any + Send)) -> bool {
    let text = match payload.downcast_ref::<String>() {
        Some(s) => s.as_str(),
        None => match payload.downcast_ref::<&str>() {
            Some(s) => s,
            None => return false,
        },
    };
    text.strip_prefix("failed printing to stdout: ")
        .and_then(|cause| cause.rsplit_once("(os error "))
        .and_then(|(_, code)| code.strip_suffix(')'))
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| io::Error::from_raw_os_error(code).kind() == io::ErrorKind::BrokenPipe)
}

/// Prints the outcome of a program the conventional way and gives its exit code.
pub fn exit_code(outcome: Result<(), MainError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(MainError::Cli(CliError::Help(text))) => {
            // print! (not a write to io::stdout()) so tests capture it; a
            // closed stdout is a quiet stop under quiet_when_stdout_closes.
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

    /// Set in the child process of
    /// `output_into_a_closed_pipe_stops_quietly`: what it prints.
    const CHILD: &str = "COMMON_TEST_CLOSED_STDOUT";

    /// A program printing endless lines, and one printing its `--help`,
    /// into a pipe whose reader has gone: each stops with exit 0 and says
    /// nothing on stderr (no panic, no backtrace). The program is this
    /// test binary run again (the child half below), through the library.
    #[test]
    fn output_into_a_closed_pipe_stops_quietly() {
        if let Ok(mode) = std::env::var(CHILD) {
            closed_stdout_child(&mode);
        }
        use std::io::{BufRead, BufReader};
        use std::process::{Command as Process, Stdio};
        // This test's name as the harness knows it (without the crate).
        let module = module_path!().split_once("::").unwrap().1;
        let test_name = format!("{module}::output_into_a_closed_pipe_stops_quietly");
        for mode in ["lines", "help"] {
            let mut child = Process::new(std::env::current_exe().unwrap())
                .args(["--exact", &test_name, "--nocapture", "--test-threads=1"])
                .env(CHILD, mode)
                .env("RUST_BACKTRACE", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Read until the child is ready (the test harness may print
            // before it on the same line), then close our end of its
            // stdout, then let it print (it waits for the end of stdin).
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            while !line.ends_with("closed-stdout-child-ready\n") {
                line.clear();
                assert!(
                    out.read_line(&mut line).unwrap() > 0,
                    "{mode}: child gave up"
                );
            }
            drop(out);
            drop(child.stdin.take());
            let done = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&done.stderr);
            assert_eq!(done.status.code(), Some(0), "{mode}: {stderr}");
            assert_eq!(stderr, "", "{mode}");
        }
    }

    fn closed_stdout_child(mode: &str) -> ! {
        use std::io::Write;
        println!("closed-stdout-child-ready");
        io::stdout().flush().unwrap();
        io::copy(&mut io::stdin(), &mut io::sink()).unwrap();
        const LISTER: Command = Command {
            name: "list",
            about: "prints file names until its reader goes away",
            args: "",
            flags: &[crate::cli::port("6666")],
        };
        let args = match mode {
            "help" => vec!["--help".to_string()],
            _ => Vec::new(),
        };
        let code = run_with_args(&LISTER, args, |_| {
            for i in 0u64.. {
                println!("file{i}.txt");
            }
            Ok(())
        });
        std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
    }

    #[test]
    fn a_broken_pipe_panic_is_recognised() {
        let broken = io::Error::from(io::ErrorKind::BrokenPipe);
        // The OS's own code for it, as the standard library prints it.
        let code = (1..20000)
            .find(|&c| io::Error::from_raw_os_error(c).kind() == broken.kind())
            .unwrap();
        let text = format!(
            "failed printing to stdout: {}",
            io::Error::from_raw_os_error(code)
        );
        assert!(is_stdout_closed(&text));
        assert!(!is_stdout_closed(
            &"failed printing to stdout: No space left on device (os error 28)".to_string()
        ));
        assert!(!is_stdout_closed(&"index out of bounds".to_string()));
        assert!(!is_stdout_closed(&format!(
            "failed printing to stderr: {}",
            io::Error::from_raw_os_error(code)
        )));
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
