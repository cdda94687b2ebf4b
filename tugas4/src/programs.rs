//! The programs' flags and bodies: `server`, `list`, `get`, `put`,
//! `delete`. Each `src/bin/*.rs` only calls one of these, so the flags and
//! exit codes are tested here, without running the binaries.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use common::cli::{self, CliError, Command, Flag, Matches};
use common::error::{exit_code as common_exit_code, AppError, MainError, EXIT_FAILURE};
use common::fileproto::{check_name, FileInfo};
use common::files::{human_bytes, remove_stale_temp_files, AtomicFile, Progress, Summary};
use common::net;
use common::stop::Shutdown;
use std::time::Duration;

use crate::client::{Client, ClientError};
use crate::{Config, DEFAULT_PORT_FLAG};

/// `server [--host HOST] [--port PORT] [--dir DIR] [--max-buffered MIB] [--timeout SECS]`
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 4 file server: LIST, GET, PUT and DELETE files in one folder, \
            JSON messages ending in \\r\\n\\r\\n (see PROTOCOL.md).",
    args: "",
    flags: &[
        cli::host("0.0.0.0"),
        cli::port(DEFAULT_PORT_FLAG),
        Flag::value(
            "dir",
            "DIR",
            "files",
            "the folder to serve (created if missing)",
        ),
        Flag::value(
            "max-buffered",
            "MIB",
            "16",
            "memory all connections together may hold in buffers; a message past it is refused",
        ),
        cli::TIMEOUT,
    ],
};

/// `list [--host HOST] [--port PORT]`
pub const LIST: Command = Command {
    name: "list",
    about: "Tugas 4 client: list the files on the server (name, size, modification time).",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port(DEFAULT_PORT_FLAG),
        cli::TIMEOUT,
    ],
};

/// `get NAME [--output PATH]`
pub const GET: Command = Command {
    name: "get",
    about: "Tugas 4 client: download a file from the server.",
    args: "NAME",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port(DEFAULT_PORT_FLAG),
        Flag::value(
            "output",
            "PATH",
            "",
            "where to save it (default downloads/NAME; - prints it to stdout)",
        ),
        cli::TIMEOUT,
    ],
};

/// `put PATH [--name NAME]`
pub const PUT: Command = Command {
    name: "put",
    about: "Tugas 4 client: upload a file to the server.",
    args: "PATH",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port(DEFAULT_PORT_FLAG),
        Flag::value(
            "name",
            "NAME",
            "",
            "the name to save it under on the server (default: PATH's file name)",
        ),
        cli::TIMEOUT,
    ],
};

/// `delete NAME`
pub const DELETE: Command = Command {
    name: "delete",
    about: "Tugas 4 client: delete a file on the server.",
    args: "NAME",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port(DEFAULT_PORT_FLAG),
        cli::TIMEOUT,
    ],
};

/// The server program: makes the folder, binds, prints `listening on
/// IP:PORT`, and serves until `shutdown` is given (Ctrl-C).
///
/// # Errors
/// A folder that cannot be made, a port that cannot be bound.
pub fn server(config: &Config, shutdown: &Shutdown) -> Result<(), MainError> {
    let dir = &config.dir;
    fs::create_dir_all(dir)
        .map_err(|e| AppError::io(format!("cannot create the folder {}", dir.display()), &e))?;
    // Uploads cut by an earlier server's crash left their temporary files.
    if let Err(e) = remove_stale_temp_files(dir) {
        log::warn!(
            "cannot clean {}: {}",
            dir.display(),
            common::error::io_cause(&e)
        );
    }
    let listener = net::bind(&config.host, config.port)?;
    net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
    log::info!("serving the files in {}", dir.display());
    crate::run_server(listener, config, shutdown)
        .map_err(|e| AppError::io("the file server failed", &e))?;
    Ok(())
}

/// Where a client program connects, from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The server's address (`--host`).
    pub host: String,
    /// The server's port (`--port`).
    pub port: u16,
    /// Connect, read and write timeout (`--timeout`).
    pub timeout: Duration,
}

impl ClientConfig {
    /// The settings of a parsed client command line (`list`, `get`, `put`,
    /// `delete`).
    ///
    /// # Errors
    /// A bad `--port` or `--timeout`.
    pub fn from_matches(m: &Matches) -> Result<ClientConfig, CliError> {
        Ok(ClientConfig {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            timeout: m.timeout()?,
        })
    }

    /// Connects to the server.
    ///
    /// # Errors
    /// The server cannot be reached (with a hint).
    pub fn connect(&self) -> Result<Client, AppError> {
        Client::connect(&self.host, self.port, self.timeout)
    }
}

/// How a client program failed: a flag problem (exit 2) or a failure (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// `--help` (exit 0) or a bad flag (exit 2).
    Cli(CliError),
    /// The operation failed (exit 1).
    Client(ClientError),
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Failure::Cli(e)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::Client(ClientError::App(e))
    }
}

/// The `main` of a client program: logging, flags from the process
/// arguments, the body, and the exit code ([`exit_code`]).
pub fn client_main(cmd: &Command, body: fn(&Matches) -> Result<(), Failure>) -> ExitCode {
    common::logging::init();
    // `list | head -3`: output cut short is a quiet stop, not a panic.
    common::error::quiet_when_stdout_closes(|| exit_code(run(cmd, std::env::args().skip(1), body)))
}

/// Parses `args` for `cmd` and runs `body` (what [`client_main`] does,
/// minus the process arguments and exit code).
///
/// # Errors
/// As `body`, plus flag errors.
pub fn run<I>(
    cmd: &Command,
    args: I,
    body: fn(&Matches) -> Result<(), Failure>,
) -> Result<(), Failure>
where
    I: IntoIterator<Item = String>,
{
    let m = cmd.parse(args)?;
    body(&m)
}

/// Prints a failure the conventional way and gives the exit code: an
/// `ERROR` from the server is printed as `error: <message>`, exit 1.
pub fn exit_code(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Cli(e)) => common_exit_code(Err(MainError::Cli(e))),
        Err(Failure::Client(ClientError::App(e))) => common_exit_code(Err(MainError::App(e))),
        Err(Failure::Client(ClientError::Server(message))) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `list`: prints a table of the server's files.
///
/// # Errors
/// Connection errors, an `ERROR` answer.
pub fn list(m: &Matches) -> Result<(), Failure> {
    let mut client = connect(m)?;
    let files = client.list()?;
    print!("{}", format_list(&files));
    Ok(())
}

/// The `list` table: name, size, modification time, then a total line.
pub fn format_list(files: &[FileInfo]) -> String {
    if files.is_empty() {
        return "no files\n".to_string();
    }
    let width = files
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!("{:width$}  {:>12}  MODIFIED (UTC)\n", "NAME", "SIZE");
    let mut total = 0u64;
    for f in files {
        out.push_str(&format!(
            "{:width$}  {:>12}  {}\n",
            f.name, f.size, f.modified
        ));
        total += f.size;
    }
    let plural = if files.len() == 1 { "" } else { "s" };
    out.push_str(&format!("{} file{plural}, {total} bytes", files.len()));
    if total >= 1024 {
        out.push_str(&format!(" ({})", human_bytes(total)));
    }
    out.push('\n');
    out
}

/// `get NAME`: downloads into `downloads/NAME` (or `--output`).
///
/// # Errors
/// Connection errors, an `ERROR` answer, a local file that cannot be written.
pub fn get(m: &Matches) -> Result<(), Failure> {
    let name = one_arg(m, "NAME")?;
    check_name(name).map_err(ClientError::Server)?;
    let output = match m.value("output") {
        "" => Path::new("downloads").join(name),
        o => PathBuf::from(o),
    };
    let mut client = connect(m)?;
    let label = format!("get {name}");
    let mut live: Option<Progress> = None;
    let mut progress = |done: u64, total: u64| {
        live.get_or_insert_with(|| Progress::new(label.clone(), Some(total)))
            .update(done)
    };
    let start = Instant::now();
    if output.as_os_str() == "-" {
        // Stdout itself (not its lock) goes to the decoder thread.
        let mut sink = io::BufWriter::with_capacity(256 * 1024, io::stdout());
        client.get(name, &mut sink, &mut progress)?;
        sink.flush()
            .map_err(|e| AppError::io("cannot write to stdout", &e))?;
        return Ok(());
    }
    ready_folder(&output, m.value("output").is_empty())?;
    let mut file = AtomicFile::create(&output)
        .map_err(|e| AppError::io(format!("cannot create {}", output.display()), &e))?;
    let size = client.get(name, &mut file, &mut progress)?;
    file.commit()
        .map_err(|e| AppError::io(format!("cannot save {}", output.display()), &e))?;
    if let Some(p) = live {
        p.finish(size);
    }
    let summary = Summary {
        label,
        bytes: size,
        elapsed: start.elapsed(),
    };
    println!("{summary}, saved as {}", output.display());
    Ok(())
}

/// Makes sure the folder `output` goes into exists: the default
/// `downloads/` is created when missing (only that one folder); a folder
/// named in `--output` must exist already, so a typo is not silently
/// turned into new folders.
///
/// # Errors
/// The folder of `--output` does not exist (or `downloads` cannot be made).
fn ready_folder(output: &Path, default: bool) -> Result<(), AppError> {
    let folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Ok(()),
    };
    if folder.is_dir() {
        return Ok(());
    }
    if default {
        return fs::create_dir(folder)
            .map_err(|e| AppError::io(format!("cannot create {}", folder.display()), &e));
    }
    Err(AppError::new(
        format!("cannot save {}", output.display()),
        format!(
            "the folder {} does not exist (create it first)",
            folder.display()
        ),
    ))
}

/// `put PATH`: uploads a local file (as `--name` or its own file name).
///
/// # Errors
/// A file that cannot be read, connection errors, an `ERROR` answer.
pub fn put(m: &Matches) -> Result<(), Failure> {
    let path = Path::new(one_arg(m, "PATH")?);
    let name = match m.value("name") {
        "" => path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            AppError::new(
                format!("cannot upload {}", path.display()),
                "it has no usable file name",
            )
            .hint("give one with --name NAME")
        })?,
        n => n,
    };
    check_name(name).map_err(ClientError::Server)?;
    let what = || format!("cannot read {}", path.display());
    let mut file = File::open(path).map_err(|e| AppError::io(what(), &e))?;
    let meta = file.metadata().map_err(|e| AppError::io(what(), &e))?;
    if !meta.is_file() {
        return Err(AppError::new(what(), "not a regular file").into());
    }
    let size = meta.len();
    let mut client = connect(m)?;
    let label = format!("put {name}");
    let mut live = Progress::new(label.clone(), Some(size));
    let start = Instant::now();
    client.put(name, &mut file, size, &mut |done, _| live.update(done))?;
    live.finish(size);
    let summary = Summary {
        label,
        bytes: size,
        elapsed: start.elapsed(),
    };
    println!("{summary}, saved on the server");
    Ok(())
}

/// `delete NAME`.
///
/// # Errors
/// Connection errors, an `ERROR` answer (e.g. file not found).
pub fn delete(m: &Matches) -> Result<(), Failure> {
    let name = one_arg(m, "NAME")?;
    check_name(name).map_err(ClientError::Server)?;
    let mut client = connect(m)?;
    client.delete(name)?;
    println!("deleted {name}");
    Ok(())
}

fn connect(m: &Matches) -> Result<Client, Failure> {
    Ok(ClientConfig::from_matches(m)?.connect()?)
}

fn one_arg<'m>(m: &'m Matches, what: &str) -> Result<&'m str, CliError> {
    match m.positionals() {
        [one] => Ok(one),
        [] => Err(CliError::Usage(format!("missing {what} (try --help)"))),
        [_, extra, ..] => Err(CliError::Usage(format!(
            "unexpected argument {extra:?}: give one {what} (try --help)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(cmd: &Command, args: &[&str]) -> Result<(), Failure> {
        run(cmd, args.iter().map(|s| s.to_string()), |m| {
            one_arg(m, "NAME")?;
            m.parse::<u16>("port")?;
            Ok(())
        })
    }

    #[test]
    fn positional_arguments_are_counted() {
        assert!(parse(&GET, &["a.txt"]).is_ok());
        for (args, want) in [
            (&[][..], "missing NAME"),
            (&["a", "b"][..], "unexpected argument \"b\""),
            (&["--bogus", "a"][..], "unrecognized flag --bogus"),
            (&["a", "--port", "x"][..], "invalid value 'x' for --port"),
        ] {
            match parse(&GET, args) {
                Err(Failure::Cli(CliError::Usage(msg))) => {
                    assert!(msg.contains(want), "{args:?}: {msg}")
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn help_shows_defaults() {
        let text = SERVER.help();
        assert!(text.contains("[default: 6666]"), "{text}");
        assert!(text.contains("[default: files]"), "{text}");
        assert!(text.contains("[default: 0.0.0.0]"), "{text}");
        for cmd in [LIST, GET, PUT, DELETE] {
            assert!(cmd.help().contains("[default: 127.0.0.1]"));
        }
        assert!(GET.help().contains("usage: get [FLAGS] NAME"));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(Ok(())), ExitCode::SUCCESS);
        assert_eq!(
            exit_code(Err(Failure::Cli(CliError::Usage("x".into())))),
            ExitCode::from(2)
        );
        assert_eq!(
            exit_code(Err(Failure::Client(ClientError::Server("no".into())))),
            ExitCode::from(1)
        );
        assert_eq!(
            exit_code(Err(Failure::Cli(CliError::Help("h".into())))),
            ExitCode::SUCCESS
        );
    }

    #[test]
    fn list_table() {
        let files = vec![
            FileInfo::new("halo.txt", 11, std::time::UNIX_EPOCH),
            FileInfo::new("b", 2048, std::time::UNIX_EPOCH),
        ];
        let t = format_list(&files);
        assert_eq!(
            t,
            "NAME              SIZE  MODIFIED (UTC)\n\
             halo.txt            11  1970-01-01T00:00:00Z\n\
             b                 2048  1970-01-01T00:00:00Z\n\
             2 files, 2059 bytes (2.0 KiB)\n"
        );
        assert_eq!(format_list(&[]), "no files\n");
        assert!(format_list(&files[..1]).ends_with("\n1 file, 11 bytes\n"));
    }
}
