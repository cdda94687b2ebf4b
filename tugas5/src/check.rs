//! The grader's check for Tugas 5: tests any chat server (the course's
//! `chat.py`, a student's Python or Java version, ours) against the
//! assignment.
//!
//! ```text
//! cargo run -p tugas5 --bin check                                # 127.0.0.1:8889, messi and henderson
//! cargo run -p tugas5 --bin check -- --host 10.0.0.5 --user lineker --other messi
//! cargo run -p tugas5 --bin check -- --users-command daftar --logout-command pamit
//! ```
//!
//! The chat protocol is the course's own (a request is one line ending in
//! `\r\n`, an answer is one JSON object followed by `\r\n\r\n`), so every
//! server must speak it. The assignment's requirements (each citing its
//! sentence of ASSIGNMENTS.md; they grade), in order of importance:
//!
//! 1. `auth USER PASSWORD` gets `status` `OK` and a `tokenid`;
//! 2. an unknown user gets `ERROR` "User Tidak Ada";
//! 3. a wrong password gets `ERROR` "Password Salah";
//! 4. `send TOKEN OTHER text` and then the other user's `inbox TOKEN`
//!    delivers the text, under `messages` -> sender, with `msg_from` and
//!    `msg_to` (the users' names for the course's built-in users);
//! 5. `send` with an unknown token gets `ERROR` ("Session Tidak Ditemukan",
//!    or "Informasi tidak ditemukan" as the course's `chat.py` answers);
//! 6. an unknown command gets an `ERROR` (any text), and the connection
//!    stays usable;
//! 7. the new "show the other users" command lists the other user (as a
//!    key, a value, or a word of one string like `"messi, henderson, "`;
//!    by username or the course's display name);
//! 8. the new "log out" command ends that session (its token then gets
//!    any `ERROR`) and only that one: another user's session, opened
//!    before, keeps working;
//! 9. two clients at once: the second is answered while the first stays
//!    connected;
//!
//! and extras beyond the assignment (reported, counted apart): a request
//! split into small TCP segments is answered; the user list shows no
//! session tokens; the user list leaves the user asking out.
//!
//! The new commands' names are the student's: unless `--users-command` /
//! `--logout-command` name them, the check tries the common names in turn
//! ([`USERS_COMMANDS`]: users, list, userlist, list_users, online, who;
//! [`LOGOUT_COMMANDS`]: logout, exit, signout, keluar), takes the first
//! that works, and reports it as the convention found
//! (`convention: users command `list`, logout command `keluar``).
//! `--skip-protocol` leaves both features out.
//!
//! What the course's own `chat.py` does differently is accepted: error
//! messages with a `**` or `--` in front, a message text kept with a
//! leading space and the `\r\n` (texts are compared without the spaces and
//! line ends around them), and `status` in any case.

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
            "",
            "the command that lists the other users (default: the first of users, list, userlist, list_users, online, who that works)",
        ),
        Flag::value(
            "logout-command",
            "WORD",
            "",
            "the command that logs out (default: the first of logout, exit, signout, keluar that works)",
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
    /// The command listing the other users; `None`: the first of
    /// [`USERS_COMMANDS`] that works.
    pub users_command: Option<String>,
    /// The command ending a session; `None`: the first of
    /// [`LOGOUT_COMMANDS`] that works.
    pub logout_command: Option<String>,
}

/// The names students give the "show the other users" command, tried in
/// this order when `--users-command` is not given.
pub const USERS_COMMANDS: &[&str] = &["users", "list", "userlist", "list_users", "online", "who"];

/// The names students give the "log out" command, tried in this order
/// when `--logout-command` is not given.
pub const LOGOUT_COMMANDS: &[&str] = &["logout", "exit", "signout", "keluar"];

impl Default for Setup {
    /// The course's users messi and henderson, password surabaya.
    fn default() -> Setup {
        Setup {
            user: "messi".to_string(),
            password: "surabaya".to_string(),
            other: "henderson".to_string(),
            other_password: "surabaya".to_string(),
            users_command: None,
            logout_command: None,
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
            users_command: given(m.value("users-command")),
            logout_command: given(m.value("logout-command")),
        }
    }
}

fn given(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
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

    fn is_ok(&self) -> bool {
        self.status().eq_ignore_ascii_case("OK")
    }

    fn is_error(&self) -> bool {
        self.status().eq_ignore_ascii_case("ERROR")
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
    if a.is_ok() {
        Ok(())
    } else {
        Err(conn.fail(format!("expected status OK to {what}, got {}", a.brief())))
    }
}

/// Requires `status` `ERROR` with `message` containing `words` (the
/// course's `chat.py` puts `**` or `--` in front of some).
fn expect_error(conn: &Conn, a: &Answer, words: &str, what: &str) -> Result<(), Failure> {
    expect_error_of(conn, a, &[words], what)
}

/// Requires `status` `ERROR` with `message` containing one of `variants`
/// (the course's texts differ across years); no variants: any `ERROR`.
fn expect_error_of(conn: &Conn, a: &Answer, variants: &[&str], what: &str) -> Result<(), Failure> {
    let mut texts = Vec::new();
    if let Some(m) = a.get("message") {
        strings(m, &mut texts);
    }
    let matches = variants.is_empty()
        || texts.iter().any(|t| {
            variants
                .iter()
                .any(|v| t.to_lowercase().contains(&v.to_lowercase()))
        });
    if a.is_error() && matches {
        return Ok(());
    }
    let wanted = match variants {
        [] => "{\"status\": \"ERROR\", ...}".to_string(),
        [one] => format!("{{\"status\": \"ERROR\", \"message\": \"{one}\"}}"),
        many => format!(
            "{{\"status\": \"ERROR\", \"message\": ...}} with {}",
            many.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    Err(conn.fail(format!("expected {wanted} to {what}, got {}", a.brief())))
}

/// What an unknown token may get: the words of either of the course's
/// versions (`chat.py` answers "Informasi tidak ditemukan" before it ever
/// reaches its "Session Tidak Ditemukan").
pub const UNKNOWN_TOKEN: &[&str] = &[msg::SESSION_TIDAK_DITEMUKAN, msg::INFORMASI_TIDAK_DITEMUKAN];

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

/// The sentence of ASSIGNMENTS.md (Tugas 5) behind the course's protocol.
pub const CITE_RUN: &str =
    "Jalankan program server diatas, cobalah chat-cli untuk berkomunikasi dengan server";
/// The sentence behind the user list.
pub const CITE_USERS: &str = "Untuk memperlihatkan pengguna pengguna lain yang lain";
/// The sentence behind logout.
pub const CITE_LOGOUT: &str = "Melogout user yang sedang aktif";

/// Whether the answer names `user`: its username or (for the course's
/// users) its display name, as a key, a value, or a word of a string
/// (`"messi, henderson, "`).
fn lists(a: &Answer, user: &str) -> bool {
    let mut all = Vec::new();
    strings(&Value::Object(a.json.clone()), &mut all);
    let name = name_of(user);
    all.iter().any(|t| {
        let t = t.trim();
        t == user
            || name.as_deref() == Some(t)
            || t.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
                .any(|w| w == user)
    })
}

/// What the users requirement found: the command's name, its answer to
/// the user asking, and the token of the other user (logged in then).
struct UsersFound {
    command: String,
    answer: Answer,
    other_token: String,
}

/// Finds the users command (`s.users_command`, or the first of
/// [`USERS_COMMANDS`] answered OK naming the other user) and checks it.
fn find_users(o: &check::CheckOptions, s: &Setup) -> Result<UsersFound, Failure> {
    let mut conn = o.connect()?;
    let token = login(&mut conn, &s.user, &s.password)?;
    let other_token = login(&mut conn, &s.other, &s.other_password)?;
    let names: Vec<&str> = match &s.users_command {
        Some(given) => vec![given.as_str()],
        None => USERS_COMMANDS.to_vec(),
    };
    let mut failures = Vec::new();
    for command in &names {
        let a = match ask(&mut conn, &format!("{command} {token}")) {
            Ok(a) => a,
            Err(f) => {
                // No answer (closed, timed out): try the next on a new connection.
                failures.push(format!("`{command}`: {}", f.reason));
                conn = o.connect()?;
                continue;
            }
        };
        if !a.is_ok() {
            failures.push(format!("`{command}`: {}", a.brief()));
            continue;
        }
        if !lists(&a, &s.other) {
            failures.push(format!(
                "`{command}`: OK, but {} is not listed: {}",
                s.other,
                a.brief()
            ));
            continue;
        }
        return Ok(UsersFound {
            command: command.to_string(),
            answer: a,
            other_token,
        });
    }
    let hint = match &s.users_command {
        Some(_) => String::new(),
        None => " (give the student's command with --users-command)".to_string(),
    };
    Err(conn.fail(format!(
        "no command listed the other users{hint}; tried {}",
        failures.join("; ")
    )))
}

/// Finds the logout command (`s.logout_command`, or the first of
/// [`LOGOUT_COMMANDS`] answered OK) for a fresh session of `s.user`, and
/// returns its name and the token it ended.
fn find_logout(o: &check::CheckOptions, s: &Setup) -> Result<(String, String), Failure> {
    let names: Vec<&str> = match &s.logout_command {
        Some(given) => vec![given.as_str()],
        None => LOGOUT_COMMANDS.to_vec(),
    };
    let mut failures = Vec::new();
    for command in &names {
        let mut conn = o.connect()?;
        let token = login(&mut conn, &s.user, &s.password)?;
        match ask(&mut conn, &format!("{command} {token}")) {
            Ok(a) if a.is_ok() => return Ok((command.to_string(), token)),
            Ok(a) => failures.push(format!("`{command}`: {}", a.brief())),
            Err(f) => failures.push(format!("`{command}`: {}", f.reason)),
        }
    }
    let hint = match &s.logout_command {
        Some(_) => String::new(),
        None => " (give the student's command with --logout-command)".to_string(),
    };
    Err(Failure::new(format!(
        "no command answered OK to log out{hint}; tried {}",
        failures.join("; ")
    )))
}

/// Runs every Tugas 5 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker, s: &Setup) {
    let n = nonce();
    let named = |given: &Option<String>, all: &[&str]| match given {
        Some(g) => format!("`{g}`"),
        None => format!("found among {}", all.join(", ")),
    };
    c.note(format!(
        "users {} and {}; the new features: users command {}, logout command {} \
         (--users-command, --logout-command; --skip-protocol skips them)",
        s.user,
        s.other,
        named(&s.users_command, USERS_COMMANDS),
        named(&s.logout_command, LOGOUT_COMMANDS),
    ));

    c.require(
        "auth",
        format!("auth {} gets status OK and a tokenid", s.user),
        CITE_RUN,
        |o| login(&mut o.connect()?, &s.user, &s.password).map(drop),
    );
    c.require(
        "auth-unknown-user",
        format!(
            "auth with an unknown user gets ERROR \"{}\"",
            msg::USER_TIDAK_ADA
        ),
        CITE_RUN,
        |o| {
            let mut conn = o.connect()?;
            let line = format!("auth tidakada{n} {}", s.password);
            let a = ask(&mut conn, &line)?;
            expect_error(&conn, &a, msg::USER_TIDAK_ADA, &format!("`{line}`"))
        },
    );
    c.require(
        "auth-wrong-password",
        format!(
            "auth with a wrong password gets ERROR \"{}\"",
            msg::PASSWORD_SALAH
        ),
        CITE_RUN,
        |o| {
            let mut conn = o.connect()?;
            let line = format!("auth {} salah{n}", s.user);
            let a = ask(&mut conn, &line)?;
            expect_error(&conn, &a, msg::PASSWORD_SALAH, &format!("`{line}`"))
        },
    );
    c.require(
        "send-inbox",
        format!(
            "send, then inbox: {} gets the exact text from {} (msg_from, msg_to)",
            s.other, s.user
        ),
        CITE_RUN,
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
    c.require(
        "send-unknown-token",
        format!(
            "send with an unknown token gets ERROR (\"{}\" or the course's \"{}\")",
            msg::SESSION_TIDAK_DITEMUKAN,
            msg::INFORMASI_TIDAK_DITEMUKAN
        ),
        CITE_RUN,
        |o| {
            let mut conn = o.connect()?;
            let fake = format!("00000000-0000-4000-8000-{n}");
            let a = ask(&mut conn, &format!("send {fake} {} halo", s.other))?;
            expect_error_of(
                &conn,
                &a,
                UNKNOWN_TOKEN,
                "`send` with a token nobody was given",
            )
        },
    );
    c.require(
        "unknown-command",
        "an unknown command gets an ERROR and the connection stays usable",
        CITE_RUN,
        |o| {
            let mut conn = o.connect()?;
            let a = ask(&mut conn, &format!("hapus{n} semua pesan"))?;
            expect_error_of(&conn, &a, &[], "an unknown command")?;
            login(&mut conn, &s.user, &s.password).map(drop)
        },
    );

    // The two new features: their names are the student's.
    let skip = c.options().skip_protocol;
    let mut users_found: Option<UsersFound> = None;
    let mut logout_found: Option<String> = None;
    if skip {
        c.note("--skip-protocol: the new features (users, logout) are not checked");
    } else {
        c.require(
            "users",
            format!(
                "the new users feature lists the other users ({} listed)",
                s.other
            ),
            CITE_USERS,
            |o| {
                users_found = Some(find_users(o, s)?);
                Ok(())
            },
        );
        let mut logout_name = None;
        c.require(
            "logout",
            format!(
                "the new logout feature ends that session (its token then gets an ERROR) \
                 and only that one ({}'s session keeps working)",
                s.other
            ),
            CITE_LOGOUT,
            |o| {
                // Another user's session, open before the logout (sessions
                // are tokens: its connection need not stay open, so a
                // one-client-at-a-time server is judged on logout alone).
                let other_token = login(&mut o.connect()?, &s.other, &s.other_password)?;
                let (command, token) = find_logout(o, s)?;
                logout_name = Some(command.clone());
                // A new connection: a server may close the one that logged out.
                let mut conn = o.connect()?;
                let a = ask(&mut conn, &format!("send {token} {} masih bisa?", s.user))?;
                expect_error_of(
                    &conn,
                    &a,
                    &[],
                    &format!("`send` with the token after `{command}`"),
                )?;
                drop(conn);
                let mut other = o.connect()?;
                let a = ask(&mut other, &format!("inbox {other_token}"))?;
                if !a.is_ok() {
                    return Err(other.fail(format!(
                        "`{command}` of {} also ended {}'s session: its `inbox` got {}",
                        s.user,
                        s.other,
                        a.brief()
                    )));
                }
                Ok(())
            },
        );
        logout_found = logout_name;
    }
    let mut found = Vec::new();
    if let Some(u) = &users_found {
        found.push(format!("users command `{}`", u.command));
    }
    if let Some(l) = &logout_found {
        found.push(format!("logout command `{l}`"));
    }
    if !found.is_empty() {
        c.convention(found.join(", "));
    }

    c.require(
        "two-clients",
        "two clients at once: the second is answered while the first stays connected",
        CITE_RUN,
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
    c.extra(
        "split-request",
        "a request split into small segments is answered",
        |o| {
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
        },
    );
    if let Some(u) = users_found {
        c.extra(
            "users-no-tokens",
            "the user list shows no session tokens",
            |_| {
                if u.answer.text.contains(&u.other_token) {
                    return Err(Failure::new(format!(
                        "the answer to `{}` holds {}'s session token: anyone could act as them",
                        u.command, s.other
                    )));
                }
                Ok(())
            },
        );
        c.extra(
            "users-not-self",
            format!("the user list leaves the user asking ({}) out", s.user),
            |_| {
                if lists(&u.answer, &s.user) {
                    return Err(Failure::new(format!(
                        "{} itself is listed in the answer to `{}`: {}",
                        s.user,
                        u.command,
                        u.answer.brief()
                    )));
                }
                Ok(())
            },
        );
    }
}
