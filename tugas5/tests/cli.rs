//! `chat-cli` driven through piped input against a real server.

mod support;

use std::io::Cursor;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use common::chat::Response;
use support::{start, Conn};
use tugas5::cli::{run_client, CliConfig};
use tugas5::token::looks_like_token;

fn config(addr: SocketAddr, interactive: bool) -> CliConfig {
    CliConfig {
        host: addr.ip().to_string(),
        port: addr.port(),
        timeout: Duration::from_secs(10),
        interactive,
    }
}

/// Runs the client on `script` and returns everything it printed.
fn run(addr: SocketAddr, script: &str, interactive: bool) -> String {
    let mut out = Vec::new();
    run_client(
        Cursor::new(script.as_bytes()),
        &mut out,
        &config(addr, interactive),
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

/// The token in "username X logged in, token T".
fn token_of(output: &str) -> String {
    let line = output.lines().find(|l| l.contains("logged in")).unwrap();
    line.rsplit(' ').next().unwrap().to_string()
}

#[test]
fn a_conversation_between_two_scripted_clients() {
    let server = start();
    let addr = server.addr();
    let out = run(
        addr,
        "auth messi surabaya\nsend henderson halo   apa kabar son\nsend lineker selamat pagi\nusers\nquit\n",
        false,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(looks_like_token(&token_of(&out)));
    assert!(
        lines[0].starts_with("username messi logged in, token "),
        "{out}"
    );
    assert_eq!(lines[1], "message sent to henderson");
    assert_eq!(lines[2], "message sent to lineker");
    assert_eq!(
        &lines[3..],
        [
            "USERNAME   NAME              COUNTRY  STATUS",
            "henderson  Jordan Henderson  Inggris  offline",
            "lineker    Gary Lineker      Inggris  offline",
            "bye",
        ]
    );

    let out = run(
        addr,
        "auth henderson surabaya\ninbox\ninbox\nlogout\n",
        false,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[1..],
        [
            "from Lionel Messi: halo apa kabar son",
            "no new messages",
            "logged out",
        ]
    );
}

#[test]
fn online_marks_and_the_session_ends_with_the_client() {
    let server = start();
    let addr = server.addr();
    // A raw connection stays logged in as lineker while the client runs.
    let mut raw = Conn::open(addr);
    let l = raw.login("lineker");
    let out = run(addr, "auth messi surabaya\nusers\n", false);
    assert!(
        out.contains("lineker    Gary Lineker      Inggris  online"),
        "{out}"
    );
    // The input ended without quit: the client logged out anyway.
    let messi_token = token_of(&out);
    assert_eq!(
        raw.req(&format!("inbox {messi_token}")),
        Response::error("Session Tidak Ditemukan")
    );
    let Response::Users(list) = raw.req(&format!("users {l}")) else {
        panic!()
    };
    assert!(list.iter().all(|u| !u.online), "{list:?}");
}

#[test]
fn errors_and_usage_are_one_line_each() {
    let server = start();
    let addr = server.addr();
    let out = run(
        addr,
        "inbox\nsend henderson x\nusers\nlogout\nauth ronaldo surabaya\nauth messi salah\nauth messi\n\
         send\nfoo bar\nauth messi surabaya\nsend ronaldo halo\ninbox now\nlogout\nlogout\nhelp\n",
        false,
    );
    let lines: Vec<&str> = out.lines().collect();
    let not_logged_in = "error: not logged in (type: auth USERNAME PASSWORD)";
    assert_eq!(
        &lines[..8],
        [
            not_logged_in,
            not_logged_in,
            not_logged_in,
            not_logged_in,
            "error: User Tidak Ada",
            "error: Password Salah",
            "usage: auth USERNAME PASSWORD",
            "usage: send USERNAME MESSAGE...",
        ]
    );
    assert_eq!(
        lines[8],
        "error: unknown command \"foo\" (type help for the list)"
    );
    assert!(lines[9].starts_with("username messi logged in"));
    assert_eq!(
        &lines[10..14],
        [
            "error: User Tidak Ditemukan",
            "usage: inbox (no parameters)",
            "logged out",
            not_logged_in,
        ]
    );
    assert_eq!(lines[14], "commands:");
    for cmd in ["auth", "send", "inbox", "users", "logout", "quit", "help"] {
        assert!(
            lines[15..].iter().any(|l| l.trim_start().starts_with(cmd)),
            "help lacks {cmd}"
        );
    }
}

#[test]
fn interactive_mode_shows_the_course_prompt_with_the_token() {
    let server = start();
    let addr = server.addr();
    let out = run(addr, "auth messi surabaya\nquit\n", true);
    let token = token_of(&out);
    assert!(
        out.starts_with(&format!(
            "connected to {addr} (type help for the commands)\nCommand : "
        )),
        "{out}"
    );
    assert!(out.contains(&format!("\nCommand {token}: bye\n")), "{out}");
}

#[test]
fn logging_in_again_ends_the_previous_session() {
    let server = start();
    let addr = server.addr();
    // The client logs in, then the script makes it log in as another user
    // who is not there: the old session is already gone.
    let out = run(addr, "auth messi surabaya\nauth nobody x\ninbox\n", false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "error: User Tidak Ada");
    assert_eq!(
        lines[2],
        "error: not logged in (type: auth USERNAME PASSWORD)"
    );
}

#[test]
fn the_client_reconnects_after_the_server_dropped_an_idle_connection() {
    // A fake server that behaves like the real one after its idle timeout:
    // it answers auth, then closes that connection without reading more.
    // The client must send its next request again on a new connection.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        let (s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "auth messi surabaya\r\n");
        (&s).write_all(b"{\"status\": \"OK\", \"tokenid\": \"t\"}\r\n\r\n")
            .unwrap();
        drop(r);
        drop(s);
        let (s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut got = Vec::new();
        for answer in [
            "{\"status\": \"OK\", \"message\": \"Message Sent\"}",
            "{\"status\": \"OK\", \"message\": \"Logout Berhasil\"}",
        ] {
            line.clear();
            r.read_line(&mut line).unwrap();
            got.push(line.clone());
            (&s).write_all(format!("{answer}\r\n\r\n").as_bytes())
                .unwrap();
        }
        got
    });
    let out = run(addr, "auth messi surabaya\nsend henderson catatan\n", false);
    assert_eq!(
        fake.join().unwrap(),
        ["send t henderson catatan\r\n", "logout t\r\n"]
    );
    assert_eq!(
        out.lines().nth(1),
        Some("message sent to henderson"),
        "{out}"
    );
}

#[test]
fn no_server_is_one_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut out = Vec::new();
    let err = run_client(
        Cursor::new(&b"auth messi surabaya\n"[..]),
        &mut out,
        &config(addr, false),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot connect to 127.0.0.1:{port}: connection refused (is the server running on 127.0.0.1:{port}?)"
        )
    );
    assert!(out.is_empty());
}

#[test]
fn a_server_that_goes_away_mid_session_is_one_clear_error() {
    // A fake server that answers auth, then closes every connection at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        let (s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        (&s).write_all(b"{\"status\": \"OK\", \"tokenid\": \"t\"}\r\n\r\n")
            .unwrap();
        line.clear();
        r.read_line(&mut line).unwrap(); // the inbox request, never answered
        drop(r);
        drop(s);
        // The client's retry: accepted and closed without an answer.
        let (again, _) = listener.accept().unwrap();
        let mut r = BufReader::new(again);
        line.clear();
        let _ = r.read_line(&mut line);
    });
    let mut out = Vec::new();
    let err = run_client(
        Cursor::new(&b"auth messi surabaya\ninbox\n"[..]),
        &mut out,
        &config(addr, false),
    )
    .unwrap_err();
    fake.join().unwrap();
    assert!(
        err.to_string()
            .starts_with(&format!("connection to {addr} lost")),
        "{err}"
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "username messi logged in, token t\n"
    );
}

/// Input fed line by line from the test, and output read line by line, so
/// the test can act between the client's commands.
struct ChanReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
}

impl std::io::Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.buf = b,
                Err(_) => return Ok(0), // the test hung up: end of input
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.drain(..n);
        Ok(n)
    }
}

struct ChanWriter(std::sync::mpsc::Sender<Vec<u8>>);

impl std::io::Write for ChanWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(b.to_vec());
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Collects output until a whole line has arrived and returns it.
fn next_line(rx: &std::sync::mpsc::Receiver<Vec<u8>>, pending: &mut Vec<u8>) -> String {
    loop {
        if let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            return String::from_utf8(line).unwrap().trim_end().to_string();
        }
        let chunk = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("chat-cli printed nothing for 10 s");
        pending.extend_from_slice(&chunk);
    }
}

#[test]
fn a_session_ended_elsewhere_is_reported_and_forgotten() {
    let server = start();
    let addr = server.addr();
    let (in_tx, in_rx) = std::sync::mpsc::channel();
    let (out_tx, out_rx) = std::sync::mpsc::channel();
    let cfg = config(addr, false);
    let client = std::thread::spawn(move || {
        let input = std::io::BufReader::new(ChanReader {
            rx: in_rx,
            buf: Vec::new(),
        });
        run_client(input, ChanWriter(out_tx), &cfg)
    });
    let mut pending = Vec::new();
    in_tx.send(b"auth messi surabaya\n".to_vec()).unwrap();
    let line = next_line(&out_rx, &mut pending);
    let token = token_of(&line);
    // Someone else ends that session (the token is all it takes).
    let mut raw = Conn::open(addr);
    assert!(raw.req(&format!("logout {token}")).is_ok());
    in_tx.send(b"inbox\n".to_vec()).unwrap();
    assert_eq!(
        next_line(&out_rx, &mut pending),
        "error: Session Tidak Ditemukan (the session ended; log in again with auth)"
    );
    in_tx.send(b"users\n".to_vec()).unwrap();
    assert_eq!(
        next_line(&out_rx, &mut pending),
        "error: not logged in (type: auth USERNAME PASSWORD)"
    );
    drop(in_tx);
    client.join().unwrap().unwrap();
}
