//! The four programs: their flags ([`Command`] tables), their settings
//! typed from the flags (one `Config` each), and their bodies. The
//! binaries in `src/bin/` parse, call one of these, and map the error.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{self, Command, Flag, Matches};
use common::error::{io_cause, AppError, MainError};
use common::files::{remove_stale_temp_files, Summary};
use common::net::{announce_addr, bind_udp, join_host_port, resolve};
use common::stop::Shutdown;

use crate::receiver::{self, ReceiveOptions};
use crate::sender::{self, SendOptions, DEFAULT_WINDOW};
use crate::simple;

/// `udp_simple`: send "ini angka N" once a second.
pub const UDP_SIMPLE: Command = Command {
    name: "udp_simple",
    about: "send \"ini angka 1\", \"ini angka 2\", ... as UDP datagrams, one per interval",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port("5005"),
        Flag::value("count", "N", "10", "how many messages (0 = until stopped)"),
        Flag::value(
            "interval-ms",
            "MS",
            "1000",
            "milliseconds between two messages",
        ),
    ],
};

/// `udp_server`: print every datagram.
pub const UDP_SERVER: Command = Command {
    name: "udp_server",
    about: "receive UDP datagrams and print each one's text and sender",
    args: "",
    flags: &[cli::host("127.0.0.1"), cli::port("5005")],
};

/// `udp_fileclient`: send a file reliably over UDP.
pub const UDP_FILECLIENT: Command = Command {
    name: "udp_fileclient",
    about: "send a file to udp_fileserver as UDP datagrams (at most 1024 payload bytes each), with acks and retransmission",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port("5005"),
        Flag::value(
            "file",
            "PATH",
            "bart.png",
            "file to send; without this flag and no bart.png here, the one shipped in tugas2/",
        ),
        Flag::value(
            "window",
            "N",
            "512",
            "datagrams in flight before waiting for acks (1..=1024)",
        ),
        Flag::value(
            "timeout",
            "SECS",
            "30",
            "give up when the receiver has not answered for this many seconds",
        ),
        Flag::switch(
            "offload",
            "Linux: hand the kernel runs of up to 63 datagrams in one call (UDP segmentation offload), about twice as fast; the receiver gets the same datagrams, but a capture on the loopback interface then shows each run as one 64 KiB packet",
        ),
    ],
};

/// `udp_fileserver`: receive files.
pub const UDP_FILESERVER: Command = Command {
    name: "udp_fileserver",
    about: "receive files sent by udp_fileclient; each complete file is saved to --output",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        cli::port("5005"),
        Flag::value(
            "output",
            "PATH",
            "data.out",
            "where a received file is saved (written under a temporary name, renamed when complete)",
        ),
        Flag::value(
            "timeout",
            "SECS",
            "30",
            "discard a transfer whose sender is silent this many seconds",
        ),
        Flag::switch(
            "plain",
            "the course's plain mode: every datagram is file bytes (no header, no acks); a sender's file ends when it is silent for --plain-idle",
        ),
        Flag::value(
            "plain-idle",
            "SECS",
            "2",
            "with --plain: the file is complete after this many seconds without a datagram from its sender",
        ),
    ],
};

/// The receiver's address from `--host` and `--port`.
///
/// # Errors
/// [`MainError`] for a bad port (usage) or a host name that does not resolve.
pub fn target(m: &Matches) -> Result<SocketAddr, MainError> {
    let host = m.value("host");
    let port: u16 = m.parse("port")?;
    let addrs = resolve(host, port)
        .map_err(|e| AppError::io(format!("cannot resolve {}", join_host_port(host, port)), &e))?;
    Ok(addrs[0])
}

/// Where a receiving program binds (`--host`, `--port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindConfig {
    /// Address to bind.
    pub host: String,
    /// UDP port.
    pub port: u16,
}

impl BindConfig {
    /// `--host` and `--port` of a parsed command line.
    ///
    /// # Errors
    /// A usage error for a bad `--port`.
    pub fn from_matches(m: &Matches) -> Result<BindConfig, MainError> {
        Ok(BindConfig {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
        })
    }

    /// Binds the UDP socket and prints `listening on IP:PORT`.
    ///
    /// # Errors
    /// The port cannot be bound (with a hint), or stdout fails.
    pub fn bind(&self) -> Result<UdpSocket, AppError> {
        let socket = bind_udp(&self.host, self.port)?;
        let addr = socket
            .local_addr()
            .map_err(|e| AppError::io("cannot read the bound address", &e))?;
        announce_addr(addr).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        Ok(socket)
    }
}

/// `udp_simple`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleConfig {
    /// The receiver's address.
    pub to: SocketAddr,
    /// How many messages; 0 = until stopped.
    pub count: u64,
    /// Time between two messages.
    pub interval: Duration,
}

impl SimpleConfig {
    /// The settings of a parsed `udp_simple` command line.
    ///
    /// # Errors
    /// Usage errors for bad numbers; a host that does not resolve.
    pub fn from_matches(m: &Matches) -> Result<SimpleConfig, MainError> {
        Ok(SimpleConfig {
            count: m.parse("count")?,
            interval: Duration::from_millis(m.parse("interval-ms")?),
            to: target(m)?,
        })
    }
}

/// `udp_simple`'s body.
///
/// # Errors
/// An [`AppError`] if sending fails.
pub fn run_udp_simple(config: &SimpleConfig) -> Result<(), MainError> {
    let to = config.to;
    let local = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket =
        UdpSocket::bind(local).map_err(|e| AppError::io("cannot open a UDP socket", &e))?;
    simple::send_numbers(
        &socket,
        to,
        config.count,
        config.interval,
        &mut io::stdout(),
    )
    .map_err(|e| AppError::io(format!("cannot send to {to}"), &e))?;
    Ok(())
}

/// `udp_server`'s body: binds, then prints datagrams until `shutdown` is
/// given (Ctrl-C).
///
/// # Errors
/// An [`AppError`] if the port is taken or receiving fails.
pub fn run_udp_server(config: &BindConfig, shutdown: &Shutdown) -> Result<(), MainError> {
    let socket = config.bind()?;
    simple::run_server(&socket, None, shutdown, &mut io::stdout())
        .map_err(|e| AppError::io(format!("receiving on port {} failed", config.port), &e))?;
    Ok(())
}

/// The file `udp_fileclient` sends: `--file`, or when not given, `bart.png`
/// in the current folder or else the one shipped with this crate.
pub fn file_to_send(m: &Matches) -> PathBuf {
    let given = PathBuf::from(m.value("file"));
    if m.is_set("file") || given.exists() {
        return given;
    }
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("bart.png");
    if shipped.exists() {
        shipped
    } else {
        given
    }
}

/// `udp_fileclient`'s settings.
#[derive(Debug, Clone)]
pub struct FileClientConfig {
    /// The receiver's address.
    pub to: SocketAddr,
    /// The file to send ([`file_to_send`]).
    pub file: PathBuf,
    /// Window and give-up time.
    pub send: SendOptions,
}

impl FileClientConfig {
    /// The settings of a parsed `udp_fileclient` command line.
    ///
    /// # Errors
    /// Usage errors for a bad `--window`, `--timeout` or `--port`; a host
    /// that does not resolve.
    pub fn from_matches(m: &Matches) -> Result<FileClientConfig, MainError> {
        let window: u32 = m.parse("window")?;
        if !(1..=crate::protocol::MAX_WINDOW).contains(&window) {
            return Err(cli::CliError::Usage(format!(
                "invalid value '{window}' for --window: expected 1 to {} (default {DEFAULT_WINDOW})",
                crate::protocol::MAX_WINDOW
            ))
            .into());
        }
        let send = SendOptions {
            window,
            give_up: m.timeout()?,
            offload: m.is_set("offload"),
            ..SendOptions::default()
        };
        Ok(FileClientConfig {
            file: file_to_send(m),
            to: target(m)?,
            send,
        })
    }
}

/// `udp_fileclient`'s body.
///
/// # Errors
/// An [`AppError`] when the file cannot be read or the transfer fails
/// (receiver gone, refused).
pub fn run_udp_fileclient(config: &FileClientConfig) -> Result<(), MainError> {
    let (path, to) = (&config.file, config.to);
    let what = format!("cannot send {} to {to}", path.display());
    let socket = sender::connect_socket(to).map_err(|e| AppError::io(&what, &e))?;
    let report =
        sender::send_file(&socket, path, &config.send, &mut io::stdout()).map_err(|e| match e {
            sender::SendError::Io(ref io_err) if io_err.kind() == io::ErrorKind::NotFound => {
                AppError::io(&what, io_err).hint("give the file with --file PATH")
            }
            e => AppError::new(&what, e),
        })?;
    let summary = Summary {
        label: path.display().to_string(),
        bytes: report.bytes,
        elapsed: report.elapsed,
    };
    println!(
        "done: {summary}; {} datagrams sent, {} retransmitted",
        report.sent, report.retransmissions
    );
    Ok(())
}

/// `udp_fileserver`'s settings.
#[derive(Debug, Clone)]
pub struct FileServerConfig {
    /// Where to bind.
    pub bind: BindConfig,
    /// Output file and idle timeout.
    pub receive: ReceiveOptions,
}

impl FileServerConfig {
    /// The settings of a parsed `udp_fileserver` command line.
    ///
    /// # Errors
    /// Usage errors for a bad `--port` or `--timeout`.
    pub fn from_matches(m: &Matches) -> Result<FileServerConfig, MainError> {
        Ok(FileServerConfig {
            bind: BindConfig::from_matches(m)?,
            receive: ReceiveOptions {
                output: PathBuf::from(m.value("output")),
                idle_timeout: m.timeout()?,
                plain: if m.is_set("plain") {
                    let secs: f64 = m.parse("plain-idle")?;
                    if !(secs.is_finite() && secs > 0.0 && secs <= 3600.0) {
                        return Err(cli::CliError::Usage(format!(
                            "invalid value '{secs}' for --plain-idle: expected seconds above 0, up to 3600"
                        ))
                        .into());
                    }
                    Some(std::time::Duration::from_secs_f64(secs))
                } else {
                    None
                },
                ..ReceiveOptions::default()
            },
        })
    }
}

/// `udp_fileserver`'s body: binds, then receives files until `shutdown` is
/// given (Ctrl-C).
///
/// # Errors
/// An [`AppError`] if the port is taken or the socket fails.
pub fn run_udp_fileserver(config: &FileServerConfig, shutdown: &Shutdown) -> Result<(), MainError> {
    let socket = config.bind.bind()?;
    // A receiver killed mid-transfer left its temporary file beside the output.
    let dir = match config.receive.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Err(e) = remove_stale_temp_files(dir) {
        log::warn!("cannot clean {}: {}", dir.display(), io_cause(&e));
    }
    receiver::run_server(&socket, &config.receive, shutdown, &mut io::stdout())
        .map_err(|e| AppError::io(format!("receiving on port {} failed", config.bind.port), &e))?;
    Ok(())
}
