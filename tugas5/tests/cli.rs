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

/// Runs the client on `script` (every command must succeed) and returns
/// everything it printed.
fn run(addr: SocketAddr, script: &str, interactive: bool) -> String {
    let (out, result) = run_any(addr, script, interactive);
    if let Err(e) = result {
        panic!("{e}\n{out}");
    }
    out
}

/// Runs the client on `script`; what it printed, and how it ended.
fn run_any(
    addr: SocketAddr,
    script: &str,
    interactive: bool,
) -> (String, Result<(), common::error::AppError>) {
    let mut out = Vec::new();
    let result = run_client(
        Cursor::new(script.as_bytes()),
        &mut out,
        &config(addr, interactive),
    );
    (String::from_utf8(out).unwrap(), result)
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
    let (out, result) = run_any(
        addr,
        "inbox\nsend henderson x\nusers\nlogout\nauth ronaldo surabaya\nauth messi salah\nauth messi\n\
         send\nfoo bar\nauth messi surabaya\nsend ronaldo halo\ninbox now\nlogout\nlogout\nhelp\n",
        false,
    );
    // Piped input with failed commands: the program ends with an error
    // (exit 1) after running every command.
    assert_eq!(
        result.unwrap_err().to_string(),
        "12 of 15 commands failed: the first: error: not logged in (type: auth USERNAME PASSWORD)"
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
fn a_failed_login_keeps_the_session_and_a_new_one_replaces_it() {
    let server = start();
    let addr = server.addr();
    // A mistyped password on a second auth: the session stays, and says so.
    let (out, result) = run_any(
        addr,
        "auth messi surabaya\nauth nobody x\nauth messi surabya\ninbox\n",
        false,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[1..],
        [
            "error: User Tidak Ada",
            "(still logged in as messi)",
            "error: Password Salah",
            "(still logged in as messi)",
            "no new messages",
        ]
    );
    assert_eq!(
        result.unwrap_err().to_string(),
        "2 of 4 commands failed: the first: error: User Tidak Ada"
    );
    // A successful auth as someone else replaces the session, and says so.
    let mut raw = Conn::open(addr);
    let (out, _) = run_any(
        addr,
        "auth messi surabaya\nauth henderson surabaya\nlogout\n",
        false,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "session of messi ended (replaced by the new login)"
    );
    assert!(lines[2].starts_with("username henderson logged in, token "));
    assert_eq!(lines[3], "logged out");
    let first = lines[0].rsplit(' ').next().unwrap();
    assert_eq!(
        raw.req(&format!("inbox {first}")),
        Response::error("Session Tidak Ditemukan"),
        "the replaced session was ended on the server"
    );
}

#[test]
fn piped_input_exits_cleanly_only_when_every_command_worked() {
    let server = start();
    let addr = server.addr();
    let (_, ok) = run_any(addr, "auth messi surabaya\nusers\nhelp\nquit\n", false);
    assert!(ok.is_ok(), "{ok:?}");
    let (_, failed) = run_any(addr, "auth messi surabaya\nsend ronaldo x\n", false);
    assert_eq!(
        failed.unwrap_err().to_string(),
        "1 of 2 commands failed: the first: error: User Tidak Ditemukan"
    );
    // At a terminal, a failed command is just shown: the person saw it.
    let (_, interactive) = run_any(addr, "send ronaldo x\nquit\n", true);
    assert!(interactive.is_ok());
}

/// A fake course-style server: answers each request line from `answers`
/// in turn (the JSON, then \r\n\r\n), and returns the lines it got.
fn course_style_server(
    answers: Vec<&'static str>,
) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut got = Vec::new();
        for answer in answers {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            got.push(line.trim_end().to_string());
            (&s).write_all(format!("{answer}\r\n\r\n").as_bytes())
                .unwrap();
        }
        got
    });
    (addr, fake)
}

#[test]
fn answers_of_course_style_servers_are_shown_whatever_their_shape() {
    let (addr, fake) = course_style_server(vec![
        r#"{"status": "OK", "tokenid": "t1"}"#,
        r#"{"status": "OK", "users": "messi, henderson, "}"#,
        r#"{"status": "OK", "messages": {"messi": ["halo", "apa kabar"], "lineker": []}}"#,
        r#"{"status": "OK", "message": {"sent": true, "to": "henderson"}}"#,
        r#"{"status": "OK", "messages": "Logout Berhasil", "extra": [1, 2]}"#,
    ]);
    let out = run(
        addr,
        "auth messi surabaya\nusers\ninbox\nsend henderson hai\nlogout\n",
        false,
    );
    assert_eq!(
        fake.join().unwrap(),
        [
            "auth messi surabaya",
            "users t1",
            "inbox t1",
            "send t1 henderson hai",
            "logout t1"
        ]
    );
    assert_eq!(
        out,
        "username messi logged in, token t1\n\
         users: messi, henderson,\n\
         messi: halo\n\
         messi: apa kabar\n\
         sent: true\n\
         to: henderson\n\
         logged out: Logout Berhasil\n\
         extra: 1\n\
         extra: 2\n"
    );
}

#[test]
fn the_course_servers_unknown_token_text_also_ends_the_session() {
    let (addr, fake) = course_style_server(vec![
        r#"{"status": "OK", "tokenid": "t1"}"#,
        r#"{"status": "ERROR", "message": "Informasi tidak ditemukan"}"#,
        r#"{"status": "ERROR", "message": ["odd", "shape"]}"#,
    ]);
    let (out, result) = run_any(
        addr,
        "auth messi surabaya\ninbox\nusers\nauth messi x\n",
        false,
    );
    assert_eq!(
        out,
        "username messi logged in, token t1\n\
         error: Informasi tidak ditemukan (the session ended; log in again with auth)\n\
         error: not logged in (type: auth USERNAME PASSWORD)\n\
         error: odd\n\
         shape\n"
    );
    assert_eq!(
        fake.join().unwrap(),
        ["auth messi surabaya", "inbox t1", "auth messi x"]
    );
    assert!(result
        .unwrap_err()
        .to_string()
        .starts_with("3 of 4 commands failed"));
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
    assert_eq!(
        client.join().unwrap().unwrap_err().to_string(),
        "2 of 3 commands failed: the first: error: Session Tidak Ditemukan (the session ended; log in again with auth)"
    );
}
