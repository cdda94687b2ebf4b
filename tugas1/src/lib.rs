//! Tugas 1: a TCP echo server on one or more ports, and a client that sends
//! "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA" and checks the echo.
//!
//! The course runs `server.py` on ports 31000, 31001 and 31002, on one
//! computer and then on two, and connects `client.py` to each. Here one
//! process can listen on all three ports (`--port` repeated), or three
//! processes on one port each.
//!
//! # Wire format
//!
//! None beyond TCP: the server writes back every byte it reads, in order,
//! until the client closes. The client sends its message, reads exactly as
//! many bytes back, and compares them.
//!
//! ```text
//! cargo run -p tugas1 --bin server -- --port 31000 --port 31001 --port 31002
//! cargo run -p tugas1 --bin client -- --port 31000 --port 31001 --port 31002
//! cargo run -p tugas1 --bin check                 # grader: test any echo server
//! ```
//!
//! Modules: [`check`], the grader's conformance check of any echo server.

pub mod check;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::cli::{self, Command, Flag, Matches};
use common::error::{AppError, MainError};
use common::net;
use common::stop::{Running, Shutdown};

/// The course's message.
pub const DEFAULT_MESSAGE: &str = "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA";

/// The assignment's first port (the course also uses 31001 and 31002).
pub const DEFAULT_PORT: u16 = 31000;

/// The server's ports with no `--port`: the assignment's three, the same
/// the `check` tests by default.
pub const DEFAULT_PORTS: [u16; 3] = [31000, 31001, 31002];

/// The server's default bind address: every address of the machine, so
/// another computer can connect.
pub const DEFAULT_HOST: &str = "0.0.0.0";

/// A silent client (or server) is given up after this long by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 1 echo server: writes back every byte it receives.",
    args: "",
    flags: &[
        cli::host(DEFAULT_HOST),
        Flag::value(
            "port",
            "PORT",
            "31000,31001,31002",
            "port to listen on; repeat or separate with commas for several (0 = any free port)",
        ),
        cli::TIMEOUT,
    ],
};

/// The client's flags.
pub const CLIENT: Command = Command {
    name: "client",
    about: "Tugas 1 echo client: sends a message to one or more echo servers and checks each echo.",
    args: "",
    flags: &[
        cli::host("127.0.0.1"),
        Flag::value(
            "port",
            "PORT",
            "31000",
            "server port on --host; repeat for several servers",
        ),
        Flag::value(
            "to",
            "HOST:PORT",
            "",
            "a server anywhere; repeatable; replaces --host/--port",
        ),
        Flag::value("message", "TEXT", DEFAULT_MESSAGE, "what to send"),
        cli::TIMEOUT,
    ],
};

/// The server's settings, from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to bind (`--host`).
    pub host: String,
    /// Ports to listen on, one listener each (`--port`, repeatable).
    pub ports: Vec<u16>,
    /// Read and write timeout of every connection (`--timeout`).
    pub timeout: Duration,
}

impl Default for Config {
    /// [`DEFAULT_HOST`], [`DEFAULT_PORTS`] and [`DEFAULT_TIMEOUT`].
    fn default() -> Self {
        Config {
            host: DEFAULT_HOST.to_string(),
            ports: DEFAULT_PORTS.to_vec(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Config {
    /// The settings of a parsed `server` command line.
    ///
    /// # Errors
    /// A usage error for a bad `--port` or `--timeout`.
    pub fn from_matches(m: &Matches) -> Result<Config, MainError> {
        Ok(Config {
            host: m.value("host").to_string(),
            ports: server_ports(m)?,
            timeout: m.timeout()?,
        })
    }

    /// Binds every configured port and prints `listening on IP:PORT` for
    /// each, in order.
    ///
    /// # Errors
    /// The first port that cannot be bound (with a hint), or stdout failing.
    pub fn bind(&self) -> Result<Vec<TcpListener>, AppError> {
        let mut listeners = Vec::new();
        for &port in &self.ports {
            let listener = net::bind(&self.host, port)?;
            net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
            listeners.push(listener);
        }
        Ok(listeners)
    }
}

/// Bytes of each connection shown in the log; past them only the count
/// (logged when the connection ends), so no client can fill the disk.
pub const LOG_PREVIEW: usize = 80;

/// What the log shows of one connection: the first [`LOG_PREVIEW`] bytes
/// as they arrive, then nothing until the byte count at the end.
#[derive(Debug, Default)]
pub struct EchoLog {
    shown: usize,
    total: u64,
}

impl EchoLog {
    /// Counts `bytes`; returns the part to log (`None` once the preview is
    /// used up), with `...` when the rest of this read is not shown.
    pub fn preview(&mut self, bytes: &[u8]) -> Option<String> {
        self.total += bytes.len() as u64;
        let room = LOG_PREVIEW - self.shown;
        if room == 0 {
            return None;
        }
        let take = bytes.len().min(room);
        self.shown += take;
        let mut text = format!("{:?}", String::from_utf8_lossy(&bytes[..take]));
        if take < bytes.len() {
            text.push_str(" ... (the rest not logged)");
        }
        Some(text)
    }

    /// Bytes received so far.
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// The server's ports from `--port`: each value may list several
/// (`31000,31001`); the default is the assignment's three.
///
/// # Errors
/// A usage message for a value that is not a port.
pub fn server_ports(m: &Matches) -> Result<Vec<u16>, cli::CliError> {
    let mut ports = Vec::new();
    for value in m.values("port") {
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            ports.push(part.parse::<u16>().map_err(|_| {
                cli::CliError::Usage(format!(
                    "invalid value '{part}' for --port: expected a port number"
                ))
            })?);
        }
    }
    Ok(ports)
}

/// Echoes one connection until the peer closes, logging the first bytes
/// that arrive and, at the end, how many there were ([`EchoLog`]): the
/// whole of Tugas 1's server.
///
/// # Errors
/// Socket failures, including the read timeout for a silent client.
pub fn handle_connection(mut stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let local_port = stream.local_addr()?.port();
    log::info!("connection from {peer} on port {local_port}");
    let mut buf = [0u8; 8192];
    let mut shown = EchoLog::default();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(text) = shown.preview(&buf[..n]) {
            log::info!("port {local_port}: received from {peer}: {text}");
        }
        stream.write_all(&buf[..n])?;
    }
    log::info!(
        "{peer} on port {local_port} closed after {} bytes",
        shown.total()
    );
    Ok(())
}

/// Serves echo on every listener, each with an accept loop on a thread of
/// its own ([`accept_loop`]), all watching the same `shutdown`. Returns
/// once `shutdown` is given and every thread has been joined.
///
/// # Errors
/// If a listener has no local address or a thread cannot start (the loops
/// already started are stopped and joined first).
pub fn run_server(
    listeners: Vec<TcpListener>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let mut loops = Vec::new();
    let mut result = Ok(());
    for listener in listeners {
        let (config, signal) = (config.clone(), shutdown.clone());
        let name = format!("accept {}", listener.local_addr()?);
        match thread::Builder::new()
            .name(name)
            .spawn(move || accept_loop(listener, &config, &signal))
        {
            Ok(t) => loops.push(t),
            Err(e) => {
                shutdown.stop();
                result = Err(e);
                break;
            }
        }
    }
    for t in loops {
        match t.join() {
            Ok(Err(e)) if result.is_ok() => result = Err(e),
            Err(_) => log::error!("an accept loop panicked"),
            _ => {}
        }
    }
    result
}

/// One listener's accept loop: a thread per connection, each running
/// [`handle_connection`]; returns once `shutdown` is given and every
/// connection's thread has ended (stopping shuts their sockets down).
///
/// # Errors
/// If the listener has no local address.
pub fn accept_loop(listener: TcpListener, config: &Config, shutdown: &Shutdown) -> io::Result<()> {
    shutdown.watch(&listener)?;
    let mut threads: Vec<thread::JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        // stop() connects to wake this loop: that connection is not a client.
        if shutdown.is_stopping() {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                net::accept_failed(&e);
                continue;
            }
        };
        let Some(admitted) = shutdown.admit(&stream) else {
            continue;
        };
        // The loop only accepts and starts the thread; the connection's
        // set-up happens on its own thread, so the next client is accepted
        // at once.
        let timeout = config.timeout;
        let spawned = thread::Builder::new().spawn(move || {
            let _admitted = admitted; // counts the connection until it ends
            serve_one(stream, timeout);
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => log::error!("cannot start a thread: {}", net::describe_io(&e)),
        }
        // Threads that already ended need no join: let them go.
        threads.retain(|t| !t.is_finished());
    }
    // stop() shut every connection's socket down, so each thread is ending.
    for t in threads {
        if t.join().is_err() {
            log::error!("a connection's thread panicked");
        }
    }
    Ok(())
}

/// The body of one connection's thread: timeouts, the echo, the log line
/// when it fails.
fn serve_one(stream: TcpStream, timeout: Duration) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let served = net::set_timeouts(&stream, timeout).and_then(|()| handle_connection(stream, peer));
    if let Err(e) = served {
        log::warn!("{peer}: {}", net::describe_io(&e));
    }
}

/// Runs [`run_server`] on a thread of its own with a new [`Shutdown`]
/// (for tests and embedding); [`Running::addr`] is the first listener's.
///
/// # Errors
/// If there is no listener, a listener has no address or the thread cannot
/// start.
pub fn start_server(listeners: Vec<TcpListener>, config: Config) -> io::Result<Running> {
    let addr = listeners
        .first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no listener to serve"))?
        .local_addr()?;
    Running::spawn_at(addr, Shutdown::new(), move |shutdown| {
        run_server(listeners, &config, &shutdown)
    })
}

/// Where the client sends its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&net::join_host_port(&self.host, self.port))
    }
}

/// Parses `HOST:PORT` (`[::1]:31000` for IPv6).
///
/// # Errors
/// A usage message for anything else.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let bad = || format!("invalid value '{s}' for --to: expected HOST:PORT");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok(Target {
        host: host.to_string(),
        port,
    })
}

/// Sends `message` to `target` and returns what came back (exactly as many
/// bytes as were sent, or fewer if the server closed early).
///
/// # Errors
/// Connection failures (with a hint), a timeout, or an echo that is short.
pub fn echo_once(target: &Target, message: &[u8], timeout: Duration) -> Result<Vec<u8>, AppError> {
    let mut stream = net::connect(&target.host, target.port, timeout)?;
    let what = format!("echo from {target}");
    stream
        .write_all(message)
        .map_err(|e| AppError::io(&what, &e))?;
    let mut back = vec![0u8; message.len()];
    let mut got = 0;
    while got < back.len() {
        match stream.read(&mut back[got..]) {
            Ok(0) => {
                return Err(AppError::new(
                    what,
                    format!(
                        "arrived short: got {got} of {} bytes before the server closed",
                        message.len()
                    ),
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(AppError::new(
                    what,
                    format!(
                        "{} after {got} of {} bytes",
                        common::error::io_cause(&e),
                        message.len()
                    ),
                ))
            }
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(back)
}

/// Sends the message to every target in turn, printing what was sent and
/// what came back; checks each echo in full.
///
/// # Errors
/// After trying every target: how many failed (each failure was printed).
pub fn run_client<W: Write>(
    targets: &[Target],
    message: &str,
    timeout: Duration,
    out: &mut W,
) -> Result<(), AppError> {
    let mut failed = 0;
    for target in targets {
        let _ = writeln!(out, "sending to {target}: {message}");
        match echo_once(target, message.as_bytes(), timeout) {
            Ok(back) if back == message.as_bytes() => {
                let _ = writeln!(
                    out,
                    "received from {target}: {}",
                    String::from_utf8_lossy(&back)
                );
            }
            Ok(back) => {
                failed += 1;
                let _ = writeln!(
                    out,
                    "MISMATCH from {target}: {:?} (expected {message:?})",
                    String::from_utf8_lossy(&back)
                );
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(out, "FAILED {target}: {e}");
            }
        }
    }
    let _ = out.flush();
    if failed > 0 {
        return Err(AppError::new(
            "echo check",
            format!(
                "{failed} of {} servers did not echo the message back",
                targets.len()
            ),
        ));
    }
    Ok(())
}

/// The client's targets from its flags: every `--to`, or `--host` with
/// every `--port`.
///
/// # Errors
/// A usage message for a bad `--to` or `--port`.
pub fn targets_from(m: &cli::Matches) -> Result<Vec<Target>, cli::CliError> {
    let to = m.values("to");
    if !to.is_empty() {
        return to
            .into_iter()
            .map(|s| parse_target(s).map_err(cli::CliError::Usage))
            .collect();
    }
    let host = m.value("host").to_string();
    Ok(m.parse_all::<u16>("port")?
        .into_iter()
        .map(|port| Target {
            host: host.clone(),
            port,
        })
        .collect())
}

/// The client's settings, from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The servers to try, in order ([`targets_from`]).
    pub targets: Vec<Target>,
    /// What to send (`--message`).
    pub message: String,
    /// Connect, read and write timeout (`--timeout`).
    pub timeout: Duration,
}

impl ClientConfig {
    /// The settings of a parsed `client` command line.
    ///
    /// # Errors
    /// A usage error for a bad `--to`, `--port` or `--timeout`.
    pub fn from_matches(m: &Matches) -> Result<ClientConfig, MainError> {
        Ok(ClientConfig {
            targets: targets_from(m)?,
            message: m.value("message").to_string(),
            timeout: m.timeout()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_is_the_flag_default() {
        let m = SERVER.parse(Vec::<String>::new()).unwrap();
        let config = Config::from_matches(&m).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.ports, DEFAULT_PORTS);
        assert_eq!(config.ports, [31000, 31001, 31002]);
    }

    #[test]
    fn server_defaults_to_the_three_ports_of_the_assignment_and_the_check() {
        let m = SERVER.parse(Vec::<String>::new()).unwrap();
        assert_eq!(server_ports(&m).unwrap(), [31000, 31001, 31002]);
        let check = crate::check::CHECK.parse(Vec::<String>::new()).unwrap();
        assert_eq!(check.value("port"), m.value("port"));
        let m = SERVER
            .parse(["--port", "1", "--port", "2,3"].map(String::from))
            .unwrap();
        assert_eq!(server_ports(&m).unwrap(), [1, 2, 3]);
        let m = SERVER.parse(["--port", "x"].map(String::from)).unwrap();
        assert!(server_ports(&m).is_err());
    }

    #[test]
    fn the_log_shows_a_preview_and_the_count_whatever_arrives() {
        let mut log = EchoLog::default();
        let chunk = vec![b'x'; 8192];
        let mut logged = 0;
        for _ in 0..12_800 {
            // 100 MiB in reads of 8 KiB
            logged += log.preview(&chunk).map_or(0, |l| l.len());
        }
        assert_eq!(log.total(), 100 * 1024 * 1024);
        assert!(logged < 200, "{logged} bytes of log");
        let mut small = EchoLog::default();
        assert_eq!(
            small.preview(b"PEMROGRAMAN").as_deref(),
            Some("\"PEMROGRAMAN\"")
        );
        assert_eq!(
            small.preview(b" JARINGAN").as_deref(),
            Some("\" JARINGAN\"")
        );
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("10.77.0.1:31000").unwrap(),
            Target {
                host: "10.77.0.1".into(),
                port: 31000
            }
        );
        assert_eq!(parse_target("[::1]:5").unwrap().host, "::1");
        assert!(parse_target("nope").is_err());
        assert!(parse_target(":1").is_err());
        assert!(parse_target("h:99999").is_err());
    }

    #[test]
    fn targets_from_flags() {
        let m = CLIENT
            .parse(["--port", "1", "--port", "2"].map(String::from))
            .unwrap();
        let t = targets_from(&m).unwrap();
        assert_eq!(
            t.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            ["127.0.0.1:1", "127.0.0.1:2"]
        );
        let m = CLIENT
            .parse(["--to", "a:1", "--port", "9"].map(String::from))
            .unwrap();
        assert_eq!(
            targets_from(&m).unwrap(),
            [Target {
                host: "a".into(),
                port: 1
            }]
        );
    }
}
