//! The real `server` binary, as a grader runs it: it prints `listening on
//! IP:PORT`, serves with either engine, and refuses bad flags.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use std::path::PathBuf;

use common::testkit::process::{own_binary, run_to_end, ServerProcess};

const T: Duration = Duration::from_secs(10);

/// This crate's `server` binary (other crates have one of the same name).
fn server_binary() -> PathBuf {
    own_binary(env!("CARGO_BIN_EXE_server"), &tugas6::SERVER.help()).unwrap()
}

/// GET / over a fresh connection; the whole answer.
fn get(server: &ServerProcess) -> String {
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    got
}

#[test]
fn the_binary_serves_the_page_with_each_engine() {
    let mut engines = vec![None];
    engines.extend(tugas6::Engine::ALL.iter().map(|e| Some(e.name())));
    for engine in engines {
        let mut args = vec!["--port", "0"];
        if let Some(name) = engine {
            args.extend(["--engine", name]);
        }
        let server = ServerProcess::start(server_binary(), &args, T).unwrap();
        assert_eq!(
            server.addr.ip().to_string(),
            "127.0.0.1",
            "the default host"
        );
        let got = get(&server);
        assert!(got.starts_with("HTTP/1.0 200 OK\r\n"), "{engine:?}: {got}");
        assert!(
            got.ends_with("\r\n\r\n<h1>SERVER HTTP</h1>"),
            "{engine:?}: {got}"
        );
        // The request is logged at the default level.
        let line = "\"GET / HTTP/1.0\" 200 20";
        // Logged before the answer was sent; read from the pipe by
        // another thread, so wait for it (up to T).
        let log = server.wait_for_stderr(line, T);
        let logged = log.contains(line);
        assert!(logged, "{engine:?}: no {line} in the log: {log}");
    }
}

#[test]
fn bad_flags_exit_2_and_a_taken_port_exits_1() {
    let server_bin = server_binary();
    let done = run_to_end(&server_bin, &["--engine", "select"], T).unwrap();
    assert_eq!(done.status.code(), Some(2), "{done:?}");
    assert!(
        done.stderr
            .starts_with("error: invalid value 'select' for --engine"),
        "{done:?}"
    );

    let server = ServerProcess::start(&server_bin, &["--port", "0"], T).unwrap();
    let port = server.addr.port().to_string();
    let done = run_to_end(&server_bin, &["--port", &port], T).unwrap();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr.contains("cannot listen on 127.0.0.1:")
            && done.stderr.contains("is another server running"),
        "{done:?}"
    );
}
