//! `udp_simple` and `udp_server` over real sockets, and the programs' flags
//! and exit codes through the library (never by running the binaries).

mod support;

use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

use common::cli::CliError;
use common::error::{exit_code, MainError};
use common::stop::Shutdown;
use support::TempDir;
use tugas2::app;
use tugas2::simple;

#[test]
fn three_numbers_arrive_as_three_datagrams_with_their_sender() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = server.local_addr().unwrap();
    let printer = std::thread::spawn(move || {
        let mut out = Vec::new();
        let n = simple::run_server(&server, Some(3), &Shutdown::new(), &mut out).unwrap();
        (n, String::from_utf8(out).unwrap())
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client_addr = client.local_addr().unwrap();
    let mut sent = Vec::new();
    let n = simple::send_numbers(&client, addr, 3, Duration::from_millis(20), &mut sent).unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        format!(
            "sent \"ini angka 1\" to {addr}\nsent \"ini angka 2\" to {addr}\nsent \"ini angka 3\" to {addr}\n"
        )
    );
    let (got, printed) = printer.join().unwrap();
    assert_eq!(got, 3);
    assert_eq!(
        printed,
        format!(
            "received \"ini angka 1\" from {client_addr}\nreceived \"ini angka 2\" from {client_addr}\nreceived \"ini angka 3\" from {client_addr}\n"
        )
    );
}

#[test]
fn payload_is_exactly_the_text() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    simple::send_numbers(
        &client,
        server.local_addr().unwrap(),
        2,
        Duration::ZERO,
        &mut Vec::new(),
    )
    .unwrap();
    let mut buf = [0u8; 100];
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ini angka 1");
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ini angka 2");
}

#[test]
fn sending_to_a_port_nobody_listens_on_is_not_an_error() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = format!("127.0.0.1:{port}").parse().unwrap();
    let n =
        simple::send_numbers(&client, to, 3, Duration::from_millis(5), &mut Vec::new()).unwrap();
    assert_eq!(n, 3);
}

#[test]
fn server_prints_binary_and_empty_datagrams_safely() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = server.local_addr().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"", addr).unwrap();
    client.send_to(b"\x00\x1b[2J\xff", addr).unwrap();
    client.send_to(&[b'a'; 5000], addr).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        simple::run_server(&server, Some(3), &Shutdown::new(), &mut out).unwrap(),
        3
    );
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("received \"\" from"), "{text}");
    assert!(
        lines[1].starts_with("received \"\\0\\u{1b}[2J\u{fffd}\""),
        "{text}"
    );
    assert!(lines[2].ends_with("(5000 bytes)"), "{text}");
    assert!(lines[2].len() < 300, "{text}");
}

fn parse(cmd: &common::cli::Command, args: &[&str]) -> Result<common::cli::Matches, CliError> {
    cmd.parse(args.iter().map(|s| s.to_string()))
}

#[test]
fn help_shows_every_flag_with_its_default() {
    for (cmd, needles) in [
        (
            app::UDP_SIMPLE,
            &[
                "--count N",
                "[default: 10]",
                "--interval-ms MS",
                "[default: 1000]",
                "[default: 5005]",
                "[default: 127.0.0.1]",
            ][..],
        ),
        (
            app::UDP_SERVER,
            &["--host HOST", "--port PORT", "[default: 5005]"][..],
        ),
        (
            app::UDP_FILECLIENT,
            &[
                "--file PATH",
                "[default: bart.png]",
                "--window N",
                "[default: 512]",
                "--timeout SECS",
                "[default: 30]",
            ][..],
        ),
        (
            app::UDP_FILESERVER,
            &[
                "--output PATH",
                "[default: data.out]",
                "--timeout SECS",
                "[default: 5005]",
                "--plain",
                "--plain-idle SECS",
                "[default: 2]",
            ][..],
        ),
    ] {
        let Err(CliError::Help(text)) = parse(&cmd, &["--help"]) else {
            panic!("no help for {}", cmd.name)
        };
        for n in needles {
            assert!(text.contains(n), "{} help lacks {n}:\n{text}", cmd.name);
        }
        assert_eq!(
            exit_code(Err(CliError::Help(text).into())),
            ExitCode::SUCCESS
        );
    }
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    let bad = parse(&app::UDP_SIMPLE, &["--bogus"]).unwrap_err();
    assert!(matches!(&bad, CliError::Usage(m) if m.contains("unrecognized flag --bogus")));
    assert_eq!(exit_code(Err(bad.into())), ExitCode::from(2));

    let m = parse(&app::UDP_SIMPLE, &["--count", "many"]).unwrap();
    let e = app::SimpleConfig::from_matches(&m)
        .and_then(|c| app::run_udp_simple(&c))
        .unwrap_err();
    assert!(
        matches!(&e, MainError::Cli(CliError::Usage(s)) if s.contains("--count")),
        "{e}"
    );

    let m = parse(&app::UDP_FILECLIENT, &["--window", "0"]).unwrap();
    let e = app::FileClientConfig::from_matches(&m)
        .and_then(|c| app::run_udp_fileclient(&c))
        .unwrap_err();
    assert!(
        matches!(&e, MainError::Cli(CliError::Usage(s)) if s.contains("--window")),
        "{e}"
    );
    assert_eq!(exit_code(Err(e)), ExitCode::from(2));

    let m = parse(&app::UDP_FILESERVER, &["--port", "99999"]).unwrap();
    let e = app::FileServerConfig::from_matches(&m)
        .and_then(|c| app::run_udp_fileserver(&c, &Shutdown::new()))
        .unwrap_err();
    assert!(matches!(e, MainError::Cli(CliError::Usage(_))), "{e}");
}

#[test]
fn runtime_failures_are_one_line_errors_with_exit_1() {
    let dir = TempDir::new("flags");
    // A missing file.
    let missing = dir.path().join("nope.png");
    let m = parse(&app::UDP_FILECLIENT, &["--file", missing.to_str().unwrap()]).unwrap();
    let e = app::FileClientConfig::from_matches(&m)
        .and_then(|c| app::run_udp_fileclient(&c))
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("no such file"), "{text}");
    assert!(text.contains("--file"), "{text}");
    assert_eq!(exit_code(Err(e)), ExitCode::from(1));

    // A receiver that never answers: the program gives up after --timeout.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let m = parse(&app::UDP_FILECLIENT, &["--port", &port, "--timeout", "0.5"]).unwrap();
    let e = app::FileClientConfig::from_matches(&m)
        .and_then(|c| app::run_udp_fileclient(&c))
        .unwrap_err();
    assert!(e.to_string().contains("giving up"), "{e}");
    assert_eq!(exit_code(Err(e)), ExitCode::from(1));

    // A taken port.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let m = parse(&app::UDP_SERVER, &["--port", &port]).unwrap();
    let e = app::BindConfig::from_matches(&m)
        .and_then(|c| app::run_udp_server(&c, &Shutdown::new()))
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("address already in use"), "{text}");
    assert!(text.contains("is another server running"), "{text}");
    assert_eq!(exit_code(Err(e)), ExitCode::from(1));
}

#[test]
fn the_default_file_is_the_shipped_bart_png() {
    let m = parse(&app::UDP_FILECLIENT, &[]).unwrap();
    let path = app::file_to_send(&m);
    assert!(path.ends_with("bart.png"), "{path:?}");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let m = parse(&app::UDP_FILECLIENT, &["--file", "other.png"]).unwrap();
    assert_eq!(app::file_to_send(&m), std::path::PathBuf::from("other.png"));
}

#[test]
fn udp_server_stops_while_waiting_for_a_datagram() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    // Two datagrams wait in the socket before the server starts.
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    simple::send_numbers(&sender, addr, 2, Duration::ZERO, &mut Vec::new()).unwrap();
    let out = support::SharedBuf::default();
    let server = simple::start_server(socket, out.clone()).unwrap();
    // Stop wakes it with an empty datagram, queued behind the two: both
    // are printed, the wake-up is not, and stop returns.
    server.stop();
    let text = out.text();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("received \"ini angka 1\" from"), "{text}");
    assert!(text.contains("received \"ini angka 2\" from"), "{text}");
}

#[test]
fn a_stray_argument_is_refused_with_one_error_line() {
    for cmd in [
        &app::UDP_SERVER,
        &app::UDP_FILESERVER,
        &app::UDP_SIMPLE,
        &app::UDP_FILECLIENT,
    ] {
        let err = parse(cmd, &["--port", "0", "31001"]).unwrap_err();
        assert!(matches!(err, CliError::Usage(_)), "{err:?}");
        let line = format!("error: {err}");
        assert!(line.contains("31001") && !line.contains('\n'), "{line}");
        assert_eq!(exit_code(Err(err.into())), ExitCode::from(2));
    }
}

#[test]
fn configs_hold_the_flags_typed() {
    let m = parse(&app::UDP_SERVER, &[]).unwrap();
    let c = app::BindConfig::from_matches(&m).unwrap();
    assert_eq!(
        (c.host.as_str(), c.port),
        (tugas2::DEFAULT_HOST, tugas2::DEFAULT_PORT)
    );
    let m = parse(
        &app::UDP_FILESERVER,
        &["--output", "x.out", "--timeout", "2"],
    )
    .unwrap();
    let c = app::FileServerConfig::from_matches(&m).unwrap();
    assert_eq!(c.receive.output, std::path::PathBuf::from("x.out"));
    assert_eq!(c.receive.idle_timeout, Duration::from_secs(2));
    let m = parse(&app::UDP_SIMPLE, &["--count", "3", "--interval-ms", "5"]).unwrap();
    let c = app::SimpleConfig::from_matches(&m).unwrap();
    assert_eq!(
        (c.count, c.interval, c.to.port()),
        (3, Duration::from_millis(5), 5005)
    );
}

#[test]
fn udp_fileserver_removes_a_crashed_receivers_temporary_file_at_start() {
    let dir = TempDir::new("stale");
    // What a receiver killed mid-transfer leaves (this PID: an earlier process's).
    let stale = dir
        .path()
        .join(format!(".data.out.{}-0.part", std::process::id()));
    std::fs::write(&stale, b"half a file").unwrap();
    let output = dir.path().join("data.out");
    let m = parse(
        &app::UDP_FILESERVER,
        &["--port", "0", "--output", output.to_str().unwrap()],
    )
    .unwrap();
    let config = app::FileServerConfig::from_matches(&m).unwrap();
    let shutdown = Shutdown::new();
    shutdown.stop(); // returns at once, after its start-up
    app::run_udp_fileserver(&config, &shutdown).unwrap();
    assert!(!stale.exists());
    assert!(dir.names().is_empty(), "{:?}", dir.names());
}
