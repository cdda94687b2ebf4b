//! Ctrl-C stops a server the way `Running::stop` does: this test is its own
//! program (`harness = false` in Cargo.toml), because the signal mask that
//! `Shutdown::on_ctrl_c` sets must be set before any other thread starts,
//! which the test harness's own threads would break.
//!
//! It starts a server with a client connected, sends itself SIGINT with
//! `kill -INT` (what a terminal's Ctrl-C does), and checks that the server
//! stopped: the accept loop returned, the client's connection was closed,
//! nothing listens any more.

#[cfg(unix)]
fn main() {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use common::stop::Shutdown;

    let shutdown = Shutdown::new();
    shutdown.on_ctrl_c().expect("ctrl-c handler");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            shutdown.watch(&listener).unwrap();
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if shutdown.is_stopping() {
                    break;
                }
                let stream = stream.unwrap();
                held.push((shutdown.admit(&stream).expect("admitted"), stream));
            }
            held.len()
        })
    };
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    while shutdown.open_connections() == 0 {
        std::thread::yield_now();
    }

    let status = std::process::Command::new("kill")
        .args(["-INT", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT failed: {status}");

    // The accept loop returns, with the one client it had admitted.
    assert_eq!(server.join().unwrap(), 1);
    assert!(shutdown.is_stopping());
    // The client's connection was shut down: it reads the end.
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).unwrap_or(0), 0);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
    println!("ctrl_c: 1 passed, 0 failed");
}

#[cfg(not(unix))]
fn main() {
    // Windows ends the process on Ctrl-C; on_ctrl_c does nothing there.
    println!("ctrl_c: 0 passed, 0 failed, 1 skipped");
}
