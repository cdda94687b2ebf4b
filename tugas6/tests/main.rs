//! The `server` program through its library (the binary is a thin
//! wrapper over `tugas6::main_with_args`): it listens on the default host,
//! serves with either engine and logs each request at the default level,
//! ends normally when stopped (Ctrl-C), and refuses bad flags (exit 2) and
//! a taken port (exit 1). No binary is picked out of target/.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use common::cli::CliError;
use common::error::{exit_code, MainError};
use common::stop::{Running, Shutdown};

const T: Duration = Duration::from_secs(10);

/// The log lines at `info` and above (the binary's default level), as
/// (level, text), from every test of this file.
static LINES: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let line = (r.level(), r.args().to_string());
            LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

fn capture_logs() {
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Info);
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_server_serves_the_page_with_each_engine_and_logs_it() {
    capture_logs();
    let mut engines = vec![None];
    engines.extend(tugas6::Engine::ALL.iter().map(|e| Some(e.name())));
    for engine in engines {
        let mut a = vec!["--port", "0"];
        if let Some(name) = engine {
            a.extend(["--engine", name]);
        }
        let (listener, config) = tugas6::listen(args(&a)).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(addr.ip().to_string(), "127.0.0.1", "the default host");
        let want = engine.map_or(tugas6::Engine::DEFAULT, |n| n.parse().unwrap());
        assert_eq!(config.engine, want);
        let server = Running::spawn(listener, Shutdown::new(), move |l, s| {
            tugas6::run_server(l, &config, &s)
        })
        .unwrap();

        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert!(got.starts_with("HTTP/1.0 200 OK\r\n"), "{engine:?}: {got}");
        assert!(
            got.ends_with("\r\n\r\n<h1>SERVER HTTP</h1>"),
            "{engine:?}: {got}"
        );
        // Logged before the answer was sent, at info (the default level).
        let line = format!("{} \"GET / HTTP/1.0\" 200 20", s.local_addr().unwrap());
        let logged = LINES
            .lock()
            .unwrap()
            .iter()
            .any(|(level, text)| *level == log::Level::Info && *text == line);
        assert!(logged, "{engine:?}: no {line} in the log");
        server.stop();
    }
}

#[test]
fn a_stopped_server_ends_with_exit_0() {
    for &engine in tugas6::Engine::ALL {
        // Stopped before it starts: it binds, sees the signal, returns.
        let stopped = Shutdown::new();
        stopped.stop();
        let done =
            tugas6::main_with_args(args(&["--port", "0", "--engine", engine.name()]), &stopped);
        assert!(done.is_ok(), "{engine:?}: {done:?}");
        assert_eq!(exit_code(done), ExitCode::SUCCESS);

        // Stopped while it serves (what Ctrl-C does): main returns Ok.
        let shutdown = Shutdown::new();
        let (tx, rx) = mpsc::channel();
        let signal = shutdown.clone();
        let a = args(&["--port", "0", "--engine", engine.name()]);
        let main = thread::spawn(move || {
            let _ = tx.send(tugas6::main_with_args(a, &signal).is_ok());
        });
        // The server may not be listening yet: stop() is given either way.
        shutdown.stop();
        assert_eq!(rx.recv_timeout(T), Ok(true), "{engine:?}");
        main.join().unwrap();
    }
}

#[test]
fn bad_flags_exit_2_and_a_taken_port_exits_1() {
    let shutdown = Shutdown::new();
    let err = tugas6::main_with_args(args(&["--engine", "select"]), &shutdown).unwrap_err();
    assert!(
        matches!(&err, MainError::Cli(CliError::Usage(m)) if m.starts_with("invalid value 'select' for --engine")),
        "{err:?}"
    );
    assert_eq!(exit_code(Err(err)), ExitCode::from(2));
    let err = tugas6::main_with_args(args(&["--port", "0", "31001"]), &shutdown).unwrap_err();
    assert!(
        matches!(&err, MainError::Cli(CliError::Usage(m)) if m.contains("31001")),
        "{err:?}"
    );
    assert_eq!(exit_code(Err(err)), ExitCode::from(2));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let err = tugas6::main_with_args(args(&["--port", &port]), &shutdown).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot listen on 127.0.0.1:") && text.contains("is another server running"),
        "{text}"
    );
    assert_eq!(exit_code(Err(err)), ExitCode::from(1));
}
