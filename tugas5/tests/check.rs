//! The grader's check against our own chat server (all pass), against a
//! copy of the course's `chat.py` behaviour (only the new features fail),
//! and against deliberately broken servers (the right requirement fails,
//! fast).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::check::{CheckOptions, Report};
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
const SESSION: &str = "send with an unknown token gets ERROR (\"Session Tidak Ditemukan\" or the course's \"Informasi tidak ditemukan\")";
const PROTOCOL: &str = "an unknown command gets an ERROR and the connection stays usable";
const USERS: &str = "the new users feature lists the other users (henderson listed)";
const LOGOUT: &str = "the new logout feature ends that session (its token then gets an ERROR) \
                      and only that one (henderson's session keeps working)";
const SPLIT: &str = "a request split into small segments is answered";
const NO_TOKENS: &str = "the user list shows no session tokens";
const NOT_SELF: &str = "the user list leaves the user asking (messi) out";
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
    assert_eq!((r.passed, r.skipped), (12, 0), "{}", r.text());
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
            TWO,
            SPLIT,
            NO_TOKENS,
            NOT_SELF
        ]
    );
    assert_eq!(
        r.convention.as_deref(),
        Some("users command `users`, logout command `logout`")
    );
    assert!(
        r.text()
            .ends_with("\n9 of 9 required passed; 3 extras (3 passed)\n"),
        "{}",
        r.text()
    );
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
        users_command: Some("list".into()),
        ..Setup::default()
    };
    let r = check_with(port, Duration::from_secs(10), false, &setup);
    assert_eq!(r.failures(), [USERS], "{}", r.text());
    let o = r.find(USERS).unwrap();
    assert!(
        o.reason.as_deref().unwrap().starts_with(
            "no command listed the other users; tried `list`: {\"status\": \"ERROR\", \"message\": \"Protocol Tidak Benar\"}"
        ),
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
    let reason = r.find(USERS).unwrap().reason.clone().unwrap();
    assert!(
        reason.starts_with(
            "no command listed the other users (give the student's command with --users-command); \
             tried `users`: {\"message\":\"**Protocol Tidak Benar\",\"status\":\"ERROR\"}; `list`: "
        ) && reason.contains("`who`: "),
        "{reason}"
    );
    // --skip-protocol: the new features are not graded here.
    let r = check_with(port, PATIENT, true, &Setup::default());
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!((r.passed, r.skipped), (8, 0), "{}", r.text());
    assert!(r.find(LOGOUT).is_none() && r.find(USERS).is_none());
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
    assert!(
        r.find(USERS).unwrap().reason.as_deref().unwrap().contains(
            "`users`: OK, but henderson is not listed: {\"status\": \"OK\", \"tokenid\": \"abc\"}"
        ),
        "{}",
        r.text()
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
    assert_eq!(s.logout_command.as_deref(), Some("keluar"));
    assert_eq!(
        s.users_command, None,
        "not given: found among the common names"
    );
    assert!(o.skip_protocol);
    assert!(CHECK.help().contains("[default: 8889]"));
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}

/// How a course-style student server shapes its user list.
#[derive(Clone, Copy)]
enum Shape {
    /// One string: `"henderson, lineker, "`.
    Text,
    /// An object keyed by username.
    Object,
    /// A list of usernames.
    List,
    /// Everyone, the user asking included, with each one's session token.
    LeakyObject,
}

/// A student's extension of the course's `chat.py`, written in Rust: the
/// course's texts ("Informasi tidak ditemukan" for an unknown token,
/// "**Protocol Tidak Benar"), the new commands under the student's names,
/// the user list in `shape`, logout answered as `messages` (a string), and
/// optionally a logout that ends every session.
fn student_server(
    users_cmd: &'static str,
    shape: Shape,
    logout_cmd: &'static str,
    logout_all: bool,
) -> u16 {
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    let chat = ChatServer::with_builtin_users();
    let state: Mutex<(HashMap<String, String>, HashSet<String>)> = Mutex::default();
    fake_server(move |s| {
        answer_each_line(s, &|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let json = |v: Value| {
                let mut out = serde_json::to_vec(&v).unwrap();
                out.extend_from_slice(b"\r\n\r\n");
                out
            };
            let mut st = state.lock().unwrap();
            let (tokens, ended) = &mut *st;
            let command = words[0];
            if command != "auth" && [users_cmd, logout_cmd, "send", "inbox"].contains(&command) {
                let token = words.get(1).copied().unwrap_or("");
                if !tokens.contains_key(token) || ended.contains(token) {
                    return json(
                        serde_json::json!({"status": "ERROR", "message": "Informasi tidak ditemukan"}),
                    );
                }
                let me = tokens[token].clone();
                if command == users_cmd {
                    let all = ["messi", "henderson", "lineker"];
                    let others: Vec<&str> = all.iter().copied().filter(|u| *u != me).collect();
                    let users = match shape {
                        Shape::Text => {
                            Value::from(others.iter().map(|u| format!("{u}, ")).collect::<String>())
                        }
                        Shape::List => Value::from(others.clone()),
                        Shape::Object => others
                            .iter()
                            .map(|u| (u.to_string(), serde_json::json!({"negara": "Inggris"})))
                            .collect::<serde_json::Map<_, _>>()
                            .into(),
                        Shape::LeakyObject => all
                            .iter()
                            .map(|u| {
                                let t: Vec<&String> = tokens
                                    .iter()
                                    .filter(|(_, v)| v == u)
                                    .map(|(k, _)| k)
                                    .collect();
                                (u.to_string(), serde_json::json!({ "tokens": t }))
                            })
                            .collect::<serde_json::Map<_, _>>()
                            .into(),
                    };
                    return json(serde_json::json!({"status": "OK", "users": users}));
                }
                if command == logout_cmd {
                    if logout_all {
                        ended.extend(tokens.keys().cloned());
                    } else {
                        ended.insert(token.to_string());
                    }
                    return json(
                        serde_json::json!({"status": "OK", "messages": "Logout Berhasil"}),
                    );
                }
            }
            // Our server's own `users`/`logout` are not the student's.
            let r = if ["users", "logout"].contains(&command) {
                common::chat::Response::error("Protocol Tidak Benar")
            } else {
                chat.handle_line(line)
            };
            if let common::chat::Response::Token(t) = &r {
                tokens.insert(t.clone(), words[1].to_string());
            }
            let mut v: Value = serde_json::from_slice(&r.to_bytes()).unwrap();
            if v["message"] == "Protocol Tidak Benar" {
                v["message"] = "**Protocol Tidak Benar".into();
            }
            json(v)
        })
    })
}

#[test]
fn students_command_names_and_answer_shapes_are_found_and_pass() {
    for (users_cmd, shape, logout_cmd) in [
        ("list", Shape::Text, "keluar"),
        ("userlist", Shape::Object, "signout"),
        ("who", Shape::List, "exit"),
        ("list_users", Shape::Text, "logout"),
        ("online", Shape::List, "keluar"),
    ] {
        let port = student_server(users_cmd, shape, logout_cmd, false);
        let r = check(port, PATIENT);
        assert!(r.graded_passed(), "{users_cmd}/{logout_cmd}: {}", r.text());
        assert_eq!(r.exit_code, 0, "{}", r.text());
        assert_eq!(
            r.convention.as_deref(),
            Some(format!("users command `{users_cmd}`, logout command `{logout_cmd}`").as_str()),
            "{}",
            r.text()
        );
        assert!(r
            .text()
            .contains(&format!("convention: users command `{users_cmd}`")));
    }
}

#[test]
fn a_students_own_names_are_given_by_flags() {
    // Names no list holds: found only when given.
    let port = student_server("daftar", Shape::Text, "pamit", false);
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [USERS, LOGOUT], "{}", r.text());
    assert!(r
        .find(LOGOUT)
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .starts_with("no command answered OK to log out (give the student's command with --logout-command); tried `logout`: "));
    let setup = Setup {
        users_command: Some("daftar".into()),
        logout_command: Some("pamit".into()),
        ..Setup::default()
    };
    let r = check_with(port, PATIENT, false, &setup);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(
        r.convention.as_deref(),
        Some("users command `daftar`, logout command `pamit`")
    );
}

#[test]
fn a_user_list_leaking_tokens_or_listing_oneself_fails_only_extras() {
    let port = student_server("users", Shape::LeakyObject, "logout", false);
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [NO_TOKENS, NOT_SELF], "{}", r.text());
    assert!(r.graded_passed(), "the extras do not grade: {}", r.text());
    assert_eq!(r.exit_code, 0);
    assert!(r
        .find(NO_TOKENS)
        .unwrap()
        .reason
        .as_deref()
        .unwrap()
        .starts_with("the answer to `users` holds henderson's session token"));
}

#[test]
fn a_logout_that_ends_every_session_fails_logout() {
    let port = student_server("users", Shape::List, "logout", true);
    let r = check(port, PATIENT);
    assert_eq!(r.failures(), [LOGOUT], "{}", r.text());
    assert_eq!(r.exit_code, 1);
    let reason = r.find(LOGOUT).unwrap().reason.clone().unwrap();
    assert!(
        reason.starts_with(
            "`logout` of messi also ended henderson's session: its `inbox` got \
             {\"message\":\"Informasi tidak ditemukan\",\"status\":\"ERROR\"}"
        ),
        "{reason}"
    );
}
