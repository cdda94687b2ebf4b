//! The grader's check against our own chat server (all pass), against a
//! copy of the course's `chat.py` behaviour (only the new features fail),
//! and against deliberately broken servers (the right requirement fails,
//! fast).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::check::{CheckOptions, Report, Status};
use common::stop::Running;
use common::testkit::check::{
    fake_server, fake_server_one_at_a_time, finishes_within, parse_options, run_check, silent,
    stream_forever, SHORT,
};
use serde_json::Value;
use tugas5::check::{run, Setup, CHECK};
use tugas5::ChatServer;

/// For servers that must still pass some requirements: 2 s here, not the
/// 5 s of `common::testkit::check::PATIENT` (the single-threaded server's
/// expected message says "after 2s", and that test waits it out).
const PATIENT: Duration = Duration::from_secs(2);

const AUTH: &str = "auth messi gets status OK and a tokenid";
const USER_TIDAK_ADA: &str = "auth with an unknown user gets ERROR \"User Tidak Ada\"";
const PASSWORD_SALAH: &str = "auth with a wrong password gets ERROR \"Password Salah\"";
const DELIVERY: &str =
    "send, then inbox: henderson gets the exact text from messi (msg_from, msg_to)";
const SESSION: &str = "send with an unknown token gets ERROR \"Session Tidak Ditemukan\"";
const PROTOCOL: &str =
    "an unknown command gets ERROR \"Protocol Tidak Benar\" and the connection stays usable";
const USERS: &str = "users (new): lists the other users (henderson listed, messi itself not)";
const LOGOUT: &str =
    "logout (new): ends the session (the token then gets \"Session Tidak Ditemukan\")";
const SPLIT: &str = "a request split into small segments is answered";
const TWO: &str = "two clients at once: the second is answered while the first stays connected";

fn check_with(port: u16, timeout: Duration, skip_protocol: bool, setup: &Setup) -> Report {
    let opts = CheckOptions {
        skip_protocol,
        ..CheckOptions::local(port, timeout)
    };
    run_check(opts, |c| run(c, setup))
}

fn check(port: u16, timeout: Duration) -> Report {
    check_with(port, timeout, false, &Setup::default())
}

/// Answers every request line with `reply(line)`.
fn answer_each_line(s: TcpStream, reply: &dyn Fn(&str) -> Vec<u8>) {
    let mut writer = s.try_clone().unwrap();
    let mut lines = BufReader::new(s);
    let mut line = String::new();
    while matches!(lines.read_line(&mut line), Ok(1..)) {
        if writer.write_all(&reply(line.trim_end())).is_err() {
            return;
        }
        line.clear();
    }
}

fn our_server() -> Running {
    common::logging::init_for_tests();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let chat = Arc::new(ChatServer::with_builtin_users());
    tugas5::start_server(listener, chat, tugas5::Config::default()).unwrap()
}

#[test]
fn our_server_passes_every_requirement() {
    let server = our_server();
    let port = server.addr().port();
    let r = check(port, Duration::from_secs(10));
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!((r.passed, r.skipped), (10, 0), "{}", r.text());
    let names: Vec<&str> = r
        .requirements
        .iter()
        .map(|o| o.requirement.as_str())
        .collect();
    assert_eq!(
        names,
        [
            AUTH,
            USER_TIDAK_ADA,
            PASSWORD_SALAH,
            DELIVERY,
            SESSION,
            PROTOCOL,
            USERS,
            LOGOUT,
            SPLIT,
            TWO
        ]
    );
    assert!(r
        .text()
        .ends_with("\n10 of 10 required passed; 0 extras (0 passed)\n"));
    // A second run against the same server passes too (its words are new).
    assert!(check(port, Duration::from_secs(10)).all_passed());
}

#[test]
fn other_users_and_renamed_commands_are_flags() {
    let server = our_server();
    let port = server.addr().port();
    let setup = Setup {
        user: "lineker".into(),
        other: "messi".into(),
        ..Setup::default()
    };
    let r = check_with(port, Duration::from_secs(10), false, &setup);
    assert!(r.all_passed(), "{}", r.text());
    assert!(r.find("messi gets the exact text from lineker").is_some());
    // A server whose list command is `users` fails a check told it is `list`.
    let setup = Setup {
        users_command: "list".into(),
        ..Setup::default()
    };
    let r = check_with(port, Duration::from_secs(10), false, &setup);
    assert_eq!(r.failures().len(), 1, "{}", r.text());
    let o = r.find("list (new)").unwrap();
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .starts_with("expected status OK to `list TOKENID`, got"),
        "{o:?}"
    );
}

/// The course's `chat.py` as it was before the assignment: no `users`,
/// no `logout`, "**Protocol Tidak Benar", texts kept as " text\r\n".
fn course_server() -> u16 {
    let chat = ChatServer::with_builtin_users();
    fake_server(move |s| {
        answer_each_line(s, &|line| {
            let command = line.split(' ').next().unwrap_or("");
            let mut v: Value = if command == "users" || command == "logout" {
                serde_json::json!({"status": "ERROR", "message": "**Protocol Tidak Benar"})
            } else {
                serde_json::from_slice(&chat.handle_line(line).to_bytes()).unwrap()
            };
            if v["message"] == "Protocol Tidak Benar" {
                v["message"] = "**Protocol Tidak Benar".into();
            }
            if let Some(Value::Object(from)) = v.get_mut("messages") {
                for m in from.values_mut().flat_map(|l| l.as_array_mut().unwrap()) {
                    let text = m["msg"].as_str().unwrap().to_string();
                    m["msg"] = format!(" {text}\r\n").into();
                }
            }
            let mut out = serde_json::to_vec(&v).unwrap();
            out.extend_from_slice(b"\r\n\r\n");
            out
        })
    })
}

#[test]
fn the_course_server_fails_only_the_new_features() {
    let port = course_server();
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [USERS, LOGOUT], "{}", r.text());
    assert_eq!(
        r.find(USERS).unwrap().reason.as_deref(),
        Some(
            "expected status OK to `users TOKENID`, got \
             {\"message\":\"**Protocol Tidak Benar\",\"status\":\"ERROR\"}"
        )
    );
    // --skip-protocol: a student's own names for them are not graded here.
    let r = check_with(port, PATIENT, true, &Setup::default());
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!((r.passed, r.skipped), (8, 2));
    assert_eq!(r.find(LOGOUT).unwrap().status, Status::Skip);
}

#[test]
fn a_server_that_always_answers_ok_fails_every_error_and_delivery() {
    let port = fake_server(|s| {
        answer_each_line(s, &|_| {
            b"{\"status\": \"OK\", \"tokenid\": \"abc\"}\r\n\r\n".to_vec()
        })
    });
    let r = check(port, PATIENT);
    assert_eq!(
        r.failures(),
        [
            USER_TIDAK_ADA,
            PASSWORD_SALAH,
            DELIVERY,
            SESSION,
            PROTOCOL,
            USERS,
            LOGOUT
        ],
        "{}",
        r.text()
    );
    let o = r.find(USER_TIDAK_ADA).unwrap();
    assert!(
        o.reason.as_deref().unwrap().starts_with(
            "expected {\"status\": \"ERROR\", \"message\": \"User Tidak Ada\"} to `auth tidakada"
        ),
        "{o:?}"
    );
    assert!(
        o.sent.as_deref().unwrap().starts_with("\"auth tidakada"),
        "{o:?}"
    );
    assert_eq!(
        r.find(DELIVERY).unwrap().reason.as_deref(),
        Some("no \"messages\" object in the inbox answer: {\"status\": \"OK\", \"tokenid\": \"abc\"}")
    );
    assert_eq!(
        r.find(USERS).unwrap().reason.as_deref(),
        Some("henderson is not listed in the answer to `users`")
    );
}

#[test]
fn a_server_that_answers_garbage_fails_everything_as_not_json() {
    let port = fake_server(|s| answer_each_line(s, &|_| b"\x00\xffHALO\r\n\r\n".to_vec()));
    let r = check(port, PATIENT);
    assert_eq!((r.passed, r.failed), (0, 10), "{}", r.text());
    let o = r.find(AUTH).unwrap();
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .starts_with("the answer to `auth` is not JSON"),
        "{o:?}"
    );
    assert_eq!(o.got.as_deref(), Some("\"\\x00\\xffHALO\\r\\n\\r\\n\""));
}

#[test]
fn a_silent_server_fails_everything_by_timeout_quickly() {
    let port = fake_server(silent);
    let r = finishes_within(Duration::from_secs(6), || check(port, SHORT));
    assert_eq!((r.passed, r.failed), (0, 10), "{}", r.text());
    assert_eq!(
        r.requirements[0].line(),
        "FAIL  auth messi gets status OK and a tokenid: timed out after 0.3s waiting for \
         the answer to `auth` (JSON, then \\r\\n\\r\\n) \
         (sent \"auth messi surabaya\\r\\n\", got nothing)"
    );
}

#[test]
fn a_server_that_closes_at_once_fails_everything() {
    let port = fake_server(drop);
    let r = check(port, SHORT);
    assert_eq!((r.passed, r.failed), (0, 10), "{}", r.text());
    let reason = r.requirements[0].reason.clone().unwrap();
    assert!(
        reason.starts_with("the server closed the connection without sending the answer to `auth`")
            || reason.contains("connection reset")
            || reason.contains("broken pipe"),
        "{reason}"
    );
}

#[test]
fn a_server_streaming_without_end_is_a_bounded_failure() {
    let port = fake_server(|s| stream_forever(s, &[b'{'; 8192]));
    let r = check(port, PATIENT);
    assert_eq!(r.passed, 0, "{}", r.text());
    assert!(
        r.requirements[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("no \"\\r\\n\\r\\n\" in the first 1048576 bytes of the answer to `auth`"),
        "{}",
        r.text()
    );
}

#[test]
fn a_single_threaded_server_fails_only_two_clients_at_once() {
    let chat = ChatServer::with_builtin_users();
    let port = fake_server_one_at_a_time(move |s| {
        let peer = s.peer_addr().unwrap();
        let _ = tugas5::handle_connection(&chat, s, peer, std::time::Duration::from_secs(30));
        // one client at a time
    });
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [TWO], "{}", r.text());
    assert_eq!(
        r.find(TWO).unwrap().reason.as_deref(),
        Some(
            "timed out after 2s waiting for the answer to `auth` (JSON, then \\r\\n\\r\\n) \
             (on the second connection; the first is still open)"
        )
    );
}

#[test]
fn a_server_reading_one_segment_as_one_request_fails_the_split() {
    let chat = ChatServer::with_builtin_users();
    let port = fake_server(move |mut s| {
        let mut buf = [0u8; 4096];
        // Wrong: one read taken as one whole request.
        while let Ok(n @ 1..) = s.read(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).trim_end().to_string();
            if s.write_all(&chat.handle_line(&line).to_bytes()).is_err() {
                return;
            }
        }
    });
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [SPLIT], "{}", r.text());
    let o = r.find(SPLIT).unwrap();
    assert!(
        o.reason.as_deref().unwrap().starts_with(
            "expected status OK to `auth` sent in pieces, got {\"status\": \"ERROR\", \"message\": \"Protocol Tidak Benar\"}"
        ),
        "{o:?}"
    );
}

#[test]
fn flags_default_to_the_course_port_and_users() {
    let (m, o) = parse_options(&CHECK, &[]);
    assert_eq!(o.ports, [8889]);
    assert_eq!(o.timeout, Duration::from_secs(5));
    let s = Setup::from_matches(&m);
    assert_eq!((s.user.as_str(), s.other.as_str()), ("messi", "henderson"));
    assert_eq!(s.password, "surabaya");
    let (m, o) = parse_options(
        &CHECK,
        &[
            "--user",
            "a",
            "--other-password",
            "x",
            "--logout-command",
            "keluar",
            "--skip-protocol",
        ],
    );
    let s = Setup::from_matches(&m);
    assert_eq!((s.user.as_str(), s.other_password.as_str()), ("a", "x"));
    assert_eq!(s.logout_command, "keluar");
    assert!(o.skip_protocol);
    assert!(CHECK.help().contains("[default: 8889]"));
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}
