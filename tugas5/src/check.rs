//! The grader's check for Tugas 5: tests any chat server (the course's
//! `chat.py`, a student's Python or Java version, ours) against the
//! assignment.
//!
//! ```text
//! cargo run -p tugas5 --bin check                                # 127.0.0.1:8889, messi and henderson
//! cargo run -p tugas5 --bin check -- --host 10.0.0.5 --user lineker --other messi
//! cargo run -p tugas5 --bin check -- --users-command list --logout-command keluar
//! ```
//!
//! The chat protocol is the course's own (a request is one line ending in
//! `\r\n`, an answer is one JSON object followed by `\r\n\r\n`), so every
//! server must speak it. Requirements, in order of importance, with the
//! course's words:
//!
//! 1. `auth USER PASSWORD` gets `status` `OK` and a `tokenid`;
//! 2. an unknown user gets `ERROR` "User Tidak Ada";
//! 3. a wrong password gets `ERROR` "Password Salah";
//! 4. `send TOKEN OTHER text` and then the other user's `inbox TOKEN`
//!    delivers the text, under `messages` -> sender, with `msg_from` and
//!    `msg_to` (the users' names for the course's built-in users);
//! 5. `send` with an unknown token gets `ERROR` "Session Tidak Ditemukan";
//! 6. an unknown command gets `ERROR` "Protocol Tidak Benar", and the
//!    connection stays usable;
//!
//! then the two features the assignment adds, whose command names a
//! student chooses (`users TOKEN` and `logout TOKEN` as in this
//! workspace's PROTOCOL.md by default; `--users-command` and
//! `--logout-command` rename them, `--skip-protocol` skips them):
//!
//! 7. `users TOKEN` lists the other users (the other user is named, the
//!    user asking is not);
//! 8. `logout TOKEN` ends the session: the token then gets
//!    "Session Tidak Ditemukan";
//!
//! and how the server reads:
//!
//! 9. a request split into small TCP segments is answered;
//! 10. two clients at once: the second is answered while the first stays
//!     connected.
//!
//! What the course's own `chat.py` does differently is accepted: error
//! messages with a `**` or `--` in front, and a message text kept with a
//! leading space and the `\r\n` (texts are compared without the spaces and
//! line ends around them).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use common::chat::msg;
use common::check::{self, Checker, Conn, Failure};
use common::cli::{Command, Flag, Matches};
use common::framing::shorten;
use serde_json::{Map, Value};

use crate::users::builtin_users;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 5 grader's check: tests a chat server (any language) against the course's chat protocol.",
    args: "",
    flags: &[
        check::host(),
        check::port("8889"),
        Flag::value("user", "NAME", "messi", "a user that can log in"),
        Flag::value(
            "other",
            "NAME",
            "henderson",
            "a second user, who receives the message",
        ),
        Flag::value("password", "WORD", "surabaya", "the password of --user"),
        Flag::value(
            "other-password",
            "WORD",
            "surabaya",
            "the password of --other",
        ),
        Flag::value(
            "users-command",
            "WORD",
            "users",
            "the command that lists the other users",
        ),
        Flag::value(
            "logout-command",
            "WORD",
            "logout",
            "the command that logs out",
        ),
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
    ],
};

/// Largest answer read (bytes): an inbox can be long, but not endless.
pub const MAX_ANSWER: usize = 1 << 20;

/// Who logs in, and what the new commands are called.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The user who logs in and sends.
    pub user: String,
    /// Their password.
    pub password: String,
    /// The user who receives.
    pub other: String,
    /// Their password.
    pub other_password: String,
    /// The command listing the other users (`users`).
    pub users_command: String,
    /// The command ending a session (`logout`).
    pub logout_command: String,
}

impl Default for Setup {
    /// The course's users messi and henderson, password surabaya.
    fn default() -> Setup {
        Setup {
            user: "messi".to_string(),
            password: "surabaya".to_string(),
            other: "henderson".to_string(),
            other_password: "surabaya".to_string(),
            users_command: "users".to_string(),
            logout_command: "logout".to_string(),
        }
    }
}

impl Setup {
    /// The setup from the flags of [`CHECK`].
    pub fn from_matches(m: &Matches) -> Setup {
        Setup {
            user: m.value("user").to_string(),
            password: m.value("password").to_string(),
            other: m.value("other").to_string(),
            other_password: m.value("other-password").to_string(),
            users_command: m.value("users-command").to_string(),
            logout_command: m.value("logout-command").to_string(),
        }
    }
}

/// A random word, so that two runs against the same server never see each
/// other's messages or users.
fn nonce() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// One answer: a JSON object with a `status`, and its text as received.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The object.
    pub json: Map<String, Value>,
    /// The JSON text (without `\r\n\r\n`), for a failure's reason.
    pub text: String,
}

impl Answer {
    fn get(&self, key: &str) -> Option<&Value> {
        self.json.get(key)
    }

    fn status(&self) -> &str {
        self.get("status").and_then(Value::as_str).unwrap_or("")
    }

    /// The answer's text, shortened for a reason.
    fn brief(&self) -> String {
        shorten(&self.text)
    }
}

/// Sends `line` (plus `\r\n`) and reads the answer, a JSON object ending
/// in `\r\n\r\n`, with the checker's cap and deadline.
///
/// # Errors
/// A timeout, a close, an answer that is not a JSON object with a `status`.
pub fn ask(conn: &mut Conn, line: &str) -> Result<Answer, Failure> {
    let what = format!("`{}`", line.split(' ').next().unwrap_or(line));
    conn.send(format!("{line}\r\n").as_bytes(), &what)?;
    read_answer(conn, &what)
}

/// Reads one answer to `what`.
///
/// # Errors
/// As [`ask`].
pub fn read_answer(conn: &mut Conn, what: &str) -> Result<Answer, Failure> {
    let raw = conn.recv_until(
        b"\r\n\r\n",
        MAX_ANSWER,
        &format!("the answer to {what} (JSON, then \\r\\n\\r\\n)"),
    )?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(json)) if json.get("status").is_some_and(Value::is_string) => Ok(Answer {
            json,
            text: String::from_utf8_lossy(&raw).into_owned(),
        }),
        Ok(_) => Err(conn.fail(format!(
            "the answer to {what} is not a JSON object with a \"status\""
        ))),
        Err(e) => Err(conn.fail(format!("the answer to {what} is not JSON ({e})"))),
    }
}

/// Requires `status` `OK`.
fn expect_ok(conn: &Conn, a: &Answer, what: &str) -> Result<(), Failure> {
    if a.status() == "OK" {
        Ok(())
    } else {
        Err(conn.fail(format!("expected status OK to {what}, got {}", a.brief())))
    }
}

/// Requires `status` `ERROR` with `message` containing `words` (the
/// course's `chat.py` puts `**` or `--` in front of some).
fn expect_error(conn: &Conn, a: &Answer, words: &str, what: &str) -> Result<(), Failure> {
    let message = a.get("message").and_then(Value::as_str).unwrap_or("");
    if a.status() == "ERROR" && message.contains(words) {
        Ok(())
    } else {
        Err(conn.fail(format!(
            "expected {{\"status\": \"ERROR\", \"message\": \"{words}\"}} to {what}, got {}",
            a.brief()
        )))
    }
}

/// Logs `user` in and returns the token.
///
/// # Errors
/// Any answer but `OK` with a non-empty `tokenid`.
pub fn login(conn: &mut Conn, user: &str, password: &str) -> Result<String, Failure> {
    let what = format!("`auth {user} {password}`");
    let a = ask(conn, &format!("auth {user} {password}"))?;
    expect_ok(conn, &a, &what)?;
    match a.get("tokenid").and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() && !t.contains(char::is_whitespace) => Ok(t.to_string()),
        _ => Err(conn.fail(format!(
            "no \"tokenid\" (one word) in the answer to {what}: {}",
            a.brief()
        ))),
    }
}

/// Every string in `v`, keys included (except the `status` key's own value).
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => {
            for (k, v) in m {
                if k != "status" {
                    out.push(k.clone());
                    strings(v, out);
                }
            }
        }
        _ => {}
    }
}

/// The display name of a built-in user (`msg_from`/`msg_to` hold names).
fn name_of(username: &str) -> Option<String> {
    builtin_users()
        .into_iter()
        .find(|u| u.username == username)
        .map(|u| u.name)
}

/// Finds `text` from `from` in an inbox answer and checks its names.
fn check_delivery(
    conn: &Conn,
    a: &Answer,
    from: &str,
    to: &str,
    text: &str,
) -> Result<(), Failure> {
    let messages = match a.get("messages") {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(conn.fail(format!(
                "no \"messages\" object in the inbox answer: {}",
                a.brief()
            )))
        }
    };
    let list = match messages.get(from) {
        Some(Value::Array(list)) => list,
        _ => {
            return Err(conn.fail(format!(
                "the inbox of {to} has no list of messages from {from:?} under \"messages\""
            )))
        }
    };
    let found = list.iter().find(|m| {
        m.get("msg")
            .and_then(Value::as_str)
            .is_some_and(|t| t.trim() == text)
    });
    let Some(found) = found else {
        return Err(conn.fail(format!(
            "the inbox of {to} has no message {text:?} from {from} ({} other messages)",
            list.len()
        )));
    };
    for (key, user) in [("msg_from", from), ("msg_to", to)] {
        let got = found.get(key).and_then(Value::as_str);
        match (got, name_of(user)) {
            (Some(g), Some(name)) if g.trim() == name => {}
            (Some(g), None) if !g.trim().is_empty() => {}
            (got, name) => {
                return Err(conn.fail(format!(
                    "{key} of the message is {}, expected {}",
                    got.map_or("missing".to_string(), |g| format!("{g:?}")),
                    name.map_or(format!("the name of {user}"), |n| format!("{n:?}")),
                )))
            }
        }
    }
    Ok(())
}

/// Runs every Tugas 5 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker, s: &Setup) {
    let n = nonce();
    c.note(format!(
        "users {} and {}; the new features as `{} TOKENID` and `{} TOKENID` \
         (--users-command, --logout-command; --skip-protocol skips them)",
        s.user, s.other, s.users_command, s.logout_command
    ));

    c.check(
        format!("auth {} gets status OK and a tokenid", s.user),
        |o| login(&mut o.connect()?, &s.user, &s.password).map(drop),
    );
    c.check(
        format!(
            "auth with an unknown user gets ERROR \"{}\"",
            msg::USER_TIDAK_ADA
        ),
        |o| {
            let mut conn = o.connect()?;
            let line = format!("auth tidakada{n} {}", s.password);
            let a = ask(&mut conn, &line)?;
            expect_error(&conn, &a, msg::USER_TIDAK_ADA, &format!("`{line}`"))
        },
    );
    c.check(
        format!(
            "auth with a wrong password gets ERROR \"{}\"",
            msg::PASSWORD_SALAH
        ),
        |o| {
            let mut conn = o.connect()?;
            let line = format!("auth {} salah{n}", s.user);
            let a = ask(&mut conn, &line)?;
            expect_error(&conn, &a, msg::PASSWORD_SALAH, &format!("`{line}`"))
        },
    );
    c.check(
        format!(
            "send, then inbox: {} gets the exact text from {} (msg_from, msg_to)",
            s.other, s.user
        ),
        |o| {
            // One client after the other (concurrency is checked last).
            let mut sender = o.connect()?;
            let token = login(&mut sender, &s.user, &s.password)?;
            let text = format!("halo apa kabar {n}");
            let a = ask(&mut sender, &format!("send {token} {} {text}", s.other))?;
            expect_ok(&sender, &a, "`send`")?;
            drop(sender);
            let mut receiver = o.connect()?;
            let other_token = login(&mut receiver, &s.other, &s.other_password)?;
            let a = ask(&mut receiver, &format!("inbox {other_token}"))?;
            expect_ok(&receiver, &a, "`inbox`")?;
            check_delivery(&receiver, &a, &s.user, &s.other, &text)
        },
    );
    c.check(
        format!(
            "send with an unknown token gets ERROR \"{}\"",
            msg::SESSION_TIDAK_DITEMUKAN
        ),
        |o| {
            let mut conn = o.connect()?;
            let fake = format!("00000000-0000-4000-8000-{n}");
            let a = ask(&mut conn, &format!("send {fake} {} halo", s.other))?;
            expect_error(
                &conn,
                &a,
                msg::SESSION_TIDAK_DITEMUKAN,
                "`send` with a token nobody was given",
            )
        },
    );
    c.check(
        format!(
            "an unknown command gets ERROR \"{}\" and the connection stays usable",
            msg::PROTOCOL_TIDAK_BENAR
        ),
        |o| {
            let mut conn = o.connect()?;
            let a = ask(&mut conn, &format!("hapus{n} semua pesan"))?;
            expect_error(&conn, &a, msg::PROTOCOL_TIDAK_BENAR, "an unknown command")?;
            login(&mut conn, &s.user, &s.password).map(drop)
        },
    );
    c.protocol_check(
        format!(
            "{} (new): lists the other users ({} listed, {} itself not)",
            s.users_command, s.other, s.user
        ),
        |o| {
            let mut conn = o.connect()?;
            let token = login(&mut conn, &s.user, &s.password)?;
            login(&mut conn, &s.other, &s.other_password)?;
            let line = format!("{} {token}", s.users_command);
            let a = ask(&mut conn, &line)?;
            expect_ok(&conn, &a, &format!("`{} TOKENID`", s.users_command))?;
            let mut all = Vec::new();
            strings(&Value::Object(a.json.clone()), &mut all);
            if !all.iter().any(|w| w == &s.other) {
                return Err(conn.fail(format!(
                    "{} is not listed in the answer to `{}`",
                    s.other, s.users_command
                )));
            }
            if all.iter().any(|w| w == &s.user) {
                return Err(conn.fail(format!(
                    "{} itself is listed too: the assignment asks for the other users",
                    s.user
                )));
            }
            Ok(())
        },
    );
    c.protocol_check(
        format!(
            "{} (new): ends the session (the token then gets \"{}\")",
            s.logout_command,
            msg::SESSION_TIDAK_DITEMUKAN
        ),
        |o| {
            let mut conn = o.connect()?;
            let token = login(&mut conn, &s.user, &s.password)?;
            let a = ask(&mut conn, &format!("{} {token}", s.logout_command))?;
            expect_ok(&conn, &a, &format!("`{} TOKENID`", s.logout_command))?;
            drop(conn);
            // A new connection: a server may close the one that logged out.
            let mut conn = o.connect()?;
            let a = ask(&mut conn, &format!("send {token} {} masih bisa?", s.user))?;
            expect_error(
                &conn,
                &a,
                msg::SESSION_TIDAK_DITEMUKAN,
                "`send` with the token after logout",
            )
        },
    );
    c.check("a request split into small segments is answered", |o| {
        let mut conn = o.connect()?;
        let line = format!("auth {} {}\r\n", s.user, s.password);
        conn.send_in_pieces(
            line.as_bytes(),
            3,
            Duration::from_millis(10),
            "`auth` in 3-byte pieces",
        )?;
        let a = read_answer(&mut conn, "`auth` sent in pieces")?;
        expect_ok(&conn, &a, "`auth` sent in pieces")
    });
    c.check(
        "two clients at once: the second is answered while the first stays connected",
        |o| {
            let mut first = o.connect()?;
            login(&mut first, &s.user, &s.password)?;
            let mut second = o.connect()?;
            login(&mut second, &s.other, &s.other_password).map_err(|mut f| {
                f.reason = format!(
                    "{} (on the second connection; the first is still open)",
                    f.reason
                );
                f
            })?;
            login(&mut first, &s.user, &s.password).map(drop)
        },
    );
}
