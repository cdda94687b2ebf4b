//! Echo over real sockets: the server runs in-process on free ports.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::cli::CliError;
use common::error::{exit_code, MainError};
use common::net;
use common::stop::Running;
use tugas1::{run_client, Config, Target, CLIENT, DEFAULT_MESSAGE, SERVER};

const T: Duration = Duration::from_secs(10);

/// Starts one server process-equivalent listening on `n` free ports; it
/// stops when the returned [`Running`] is dropped.
fn start_server(n: usize) -> (Running, Vec<Target>) {
    common::logging::init_for_tests();
    let listeners: Vec<TcpListener> = (0..n).map(|_| net::bind("127.0.0.1", 0).unwrap()).collect();
    let targets = listeners
        .iter()
        .map(|l| Target {
            host: "127.0.0.1".into(),
            port: l.local_addr().unwrap().port(),
        })
        .collect();
    let server = tugas1::start_server(listeners, Config::default()).unwrap();
    (server, targets)
}

#[test]
fn echo_on_three_ports_of_one_server() {
    let (_server, targets) = start_server(3);
    let mut out = Vec::new();
    run_client(&targets, DEFAULT_MESSAGE, T, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    for t in &targets {
        assert!(
            out.contains(&format!("received from {t}: {DEFAULT_MESSAGE}\n")),
            "{out}"
        );
    }
}

#[test]
fn two_clients_at_the_same_time() {
    let (_server, targets) = start_server(1);
    let addr = format!("{}", targets[0]);
    let mut first = TcpStream::connect(&addr).unwrap();
    let mut second = TcpStream::connect(&addr).unwrap();
    for s in [&first, &second] {
        s.set_read_timeout(Some(T)).unwrap();
    }
    // The second client is answered while the first is still connected.
    second.write_all(b"second").unwrap();
    let mut buf = [0u8; 6];
    second.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"second");
    first.write_all(b"first!").unwrap();
    first.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"first!");
}

#[test]
fn every_byte_value_and_a_large_message_come_back() {
    let (_server, targets) = start_server(1);
    let data: Vec<u8> = (0..=255u8).cycle().take(3 * 1024 * 1024).collect();
    let mut s = TcpStream::connect(targets[0].to_string()).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let writer = {
        let mut s = s.try_clone().unwrap();
        let data = data.clone();
        thread::spawn(move || {
            s.write_all(&data).unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "echo differs");
}

/// A server that answers with `reply` to whatever arrives, then closes.
fn fake_server(reply: &'static [u8]) -> Target {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    Target {
        host: "127.0.0.1".into(),
        port,
    }
}

#[test]
fn client_fails_on_a_wrong_or_short_echo() {
    let (_server, mut targets) = start_server(1);
    let good = targets.remove(0);
    let wrong = fake_server(b"pemrograman jaringan teknik informatika");
    let short = fake_server(b"PEMROGRAMAN");
    let mut out = Vec::new();
    let err = run_client(
        &[good.clone(), wrong.clone(), short.clone()],
        DEFAULT_MESSAGE,
        T,
        &mut out,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "echo check: 2 of 3 servers did not echo the message back"
    );
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(&format!("received from {good}: {DEFAULT_MESSAGE}")),
        "{out}"
    );
    assert!(out.contains(&format!("MISMATCH from {wrong}")), "{out}");
    assert!(
        out.contains(&format!(
            "FAILED {short}: echo from {short}: arrived short: got 11 of 39 bytes"
        )),
        "{out}"
    );
}

#[test]
fn client_reports_a_server_that_is_not_running() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = Target {
        host: "127.0.0.1".into(),
        port,
    };
    let mut out = Vec::new();
    assert!(run_client(&[target], "x", T, &mut out).is_err());
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("connection refused (is the server running on 127.0.0.1:"),
        "{out}"
    );
}

#[test]
fn flags_help_and_usage_errors() {
    let code = |cmd: &common::cli::Command, args: &[&str]| {
        let r: Result<(), MainError> = cmd
            .parse(args.iter().map(|s| s.to_string()))
            .map(drop)
            .map_err(MainError::from);
        exit_code(r)
    };
    use std::process::ExitCode;
    assert_eq!(code(&SERVER, &["--help"]), ExitCode::SUCCESS);
    assert_eq!(code(&CLIENT, &["--help"]), ExitCode::SUCCESS);
    assert_eq!(code(&SERVER, &["--bogus"]), ExitCode::from(2));
    assert_eq!(code(&CLIENT, &["--port"]), ExitCode::from(2));
    let Err(CliError::Help(help)) = SERVER.parse(["--help".to_string()]) else {
        panic!()
    };
    assert!(
        help.contains("[default: 31000,31001,31002]") && help.contains("[default: 0.0.0.0]"),
        "{help}"
    );
    let m = CLIENT
        .parse(["--to".to_string(), "nohost".to_string()])
        .unwrap();
    assert!(matches!(tugas1::targets_from(&m), Err(CliError::Usage(_))));
    let m = SERVER
        .parse(["--port", "31000", "--port", "31001"].map(String::from))
        .unwrap();
    assert_eq!(m.parse_all::<u16>("port").unwrap(), [31000, 31001]);
}

#[test]
fn stop_returns_with_clients_still_connected_and_they_see_eof() {
    let (server, targets) = start_server(2);
    let mut clients: Vec<TcpStream> = targets
        .iter()
        .map(|t| {
            let mut s = TcpStream::connect(t.to_string()).unwrap();
            s.set_read_timeout(Some(T)).unwrap();
            s.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
            s
        })
        .collect();
    let shutdown = server.shutdown().clone();
    assert_eq!(shutdown.open_connections(), 2);
    // Returns only after both accept loops and both connections' threads ended.
    server.stop();
    assert_eq!(shutdown.open_connections(), 0);
    for c in &mut clients {
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).unwrap(), 0, "EOF, nothing more");
    }
    for t in &targets {
        let addr = t.to_string().parse().unwrap();
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
            "{t} still accepts"
        );
    }
}

#[test]
fn a_stray_argument_is_refused_with_one_error_line() {
    let err = SERVER
        .parse(["--port", "0", "31001"].map(String::from))
        .unwrap_err();
    assert!(matches!(err, CliError::Usage(_)), "{err:?}");
    let line = format!("error: {err}");
    assert!(line.contains("31001") && !line.contains('\n'), "{line}");
    assert_eq!(
        exit_code(Err(MainError::from(err))),
        std::process::ExitCode::from(2)
    );
    // The client takes no positionals either.
    assert!(matches!(
        CLIENT.parse(["31001".to_string()]),
        Err(CliError::Usage(m)) if m.contains("31001")
    ));
}
