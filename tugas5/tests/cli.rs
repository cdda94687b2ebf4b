//! `chat-cli` driven through piped input against a real server.

mod support;

use std::io::Cursor;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use common::chat::Response;
use support::{start, Conn};
use tugas5::cli::{run_cli, CliConfig};
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
    run_cli(
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
    let addr = start();
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
    let addr = start();
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
    let addr = start();
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
    let addr = start();
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
fn a_session_ended_elsewhere_is_reported_and_forgotten() {
    let addr = start();
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
    let err = run_cli(
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
    let err = run_cli(
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
