//! `chat-cli`: the interactive client, like the course's `chat-cli.py`.
//!
//! It reads commands, one per line, sends them to the server, and prints
//! the answers in words:
//!
//! ```text
//! Command : auth messi surabaya
//! username messi logged in, token 5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18
//! Command 5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18: send henderson halo apa kabar
//! message sent to henderson
//! ```
//!
//! The prompt and the greeting are shown only when [`CliConfig::interactive`]
//! is set (the program sets it when stdin is a terminal); piped input gets
//! the answers alone, one or more lines per command, so a script can read
//! them. Answers and the server's `ERROR` messages go to the output;
//! losing the server ends the program with an [`AppError`], and so does a
//! failed command when the input is piped (after the last command), so a
//! script's exit code says whether everything worked.
//!
//! Answers are read leniently ([`Reply`]): whatever a course-style server
//! puts in `message`/`messages` (a string, a list, an object, nested) is
//! shown, and an unexpected field or type never fails the client.
//!
//! A new `auth` while logged in replaces the session: the client says
//! "session of messi ended (replaced by the new login)" once the new login
//! succeeded; a failed `auth` (a mistyped password) keeps the current
//! session and says "(still logged in as messi)".

use std::io::{BufRead, Write};
use std::time::Duration;

use common::chat::{msg, Reply, Request, Response, UserInfo};
use common::cli::{CliError, Matches};
use common::error::AppError;

use crate::client::ChatClient;

/// The commands, as `help` prints them.
pub const HELP: &str = "\
commands:
  auth USERNAME PASSWORD    log in (the built-in users have password surabaya)
  send USERNAME MESSAGE...  leave a message in USERNAME's inbox
  inbox                     show and take the messages waiting for you
  users                     list the other users and who is online
  logout                    end this session
  quit                      log out and leave (also: exit, end of input)
  help                      this list";

/// Where to connect and how to behave.
#[derive(Debug, Clone)]
pub struct CliConfig {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// How long to wait for the server.
    pub timeout: Duration,
    /// Show a greeting and the `Command <token>:` prompt.
    pub interactive: bool,
}

impl CliConfig {
    /// `chat-cli`'s settings from its flags; `interactive` when stdin is a
    /// terminal.
    ///
    /// # Errors
    /// A bad `--port` or `--timeout`.
    pub fn from_matches(m: &Matches, interactive: bool) -> Result<CliConfig, CliError> {
        Ok(CliConfig {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            timeout: m.timeout()?,
            interactive,
        })
    }
}

/// Runs the client: reads commands from `input` until `quit` or its end,
/// writes answers to `output`. A session still open at the end is logged
/// out, so the user shows as offline.
///
/// # Errors
/// An [`AppError`] when the server cannot be reached or stops answering,
/// or the output cannot be written; and, with piped input (not
/// [`CliConfig::interactive`]), when any command failed (an `ERROR`
/// answer, a usage error, an unknown command, not logged in), after every
/// command has run: "N of M commands failed", so a script sees exit 1.
pub fn run_client<R: BufRead, W: Write>(
    mut input: R,
    mut output: W,
    config: &CliConfig,
) -> Result<(), AppError> {
    let client = ChatClient::connect(&config.host, config.port, config.timeout)?;
    let mut cli = Cli {
        client,
        session: None,
        out: &mut output,
        failed: 0,
        first_failure: None,
    };
    if config.interactive {
        cli.say(&format!(
            "connected to {} (type help for the commands)",
            cli.client.address()
        ))?;
    }
    let mut raw = Vec::new();
    let mut commands = 0usize;
    loop {
        if config.interactive {
            let token = cli.session.as_ref().map_or("", |s| s.token.as_str());
            let prompt = format!("Command {token}: ");
            cli.out
                .write_all(prompt.as_bytes())
                .and_then(|()| cli.out.flush())
                .map_err(output_error)?;
        }
        raw.clear();
        let n = input
            .read_until(b'\n', &mut raw)
            .map_err(|e| AppError::io("cannot read the input", &e))?;
        if n == 0 {
            if config.interactive {
                cli.say("")?;
            }
            break;
        }
        let line = String::from_utf8_lossy(&raw);
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        if !words.is_empty() {
            commands += 1;
        }
        if cli.command(&words)? == Flow::Quit {
            break;
        }
    }
    cli.logout_quietly();
    match cli.first_failure.take() {
        Some(first) if !config.interactive => Err(AppError::new(
            format!("{} of {commands} commands failed", cli.failed),
            format!("the first: {first}"),
        )),
        _ => Ok(()),
    }
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// The logged-in session: whose, and its token.
struct Session {
    username: String,
    token: String,
}

struct Cli<'a, W: Write> {
    client: ChatClient,
    session: Option<Session>,
    out: &'a mut W,
    /// Commands that failed so far, and the first one's message.
    failed: usize,
    first_failure: Option<String>,
}

impl<W: Write> Cli<'_, W> {
    fn say(&mut self, text: &str) -> Result<(), AppError> {
        writeln!(self.out, "{text}")
            .and_then(|()| self.out.flush())
            .map_err(output_error)
    }

    /// Prints a failure and counts it.
    fn fail(&mut self, text: &str) -> Result<(), AppError> {
        self.failed += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(text.to_string());
        }
        self.say(text)
    }

    fn command(&mut self, words: &[&str]) -> Result<Flow, AppError> {
        let Some((&command, args)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        match (command, args) {
            ("auth", [username, password]) => self.auth(username, password)?,
            ("auth", _) => self.fail("usage: auth USERNAME PASSWORD")?,
            ("send", [to, message @ ..]) => self.send(to, &message.join(" "))?,
            ("send", []) => self.fail("usage: send USERNAME MESSAGE...")?,
            ("inbox", []) => self.inbox()?,
            ("users", []) => self.users()?,
            ("logout", []) => self.logout()?,
            ("quit" | "exit", []) => {
                self.logout_quietly();
                self.say("bye")?;
                return Ok(Flow::Quit);
            }
            ("help" | "?", _) => self.say(HELP)?,
            ("inbox" | "users" | "logout" | "quit" | "exit", _) => {
                self.fail(&format!("usage: {command} (no parameters)"))?
            }
            _ => {
                let shown: String = command.chars().take(40).collect();
                self.fail(&format!(
                    "error: unknown command {shown:?} (type help for the list)"
                ))?
            }
        }
        Ok(Flow::Continue)
    }

    /// The token, or a message saying to log in first.
    fn need_token(&mut self) -> Result<Option<String>, AppError> {
        if self.session.is_none() {
            self.fail("error: not logged in (type: auth USERNAME PASSWORD)")?;
        }
        Ok(self.session.as_ref().map(|s| s.token.clone()))
    }

    /// Prints an `ERROR` answer; a lost session also forgets the token.
    fn error(&mut self, reply: &Reply) -> Result<(), AppError> {
        let message = match reply.text() {
            t if t.is_empty() => reply.value.to_string(),
            t => t,
        };
        if message == msg::SESSION_TIDAK_DITEMUKAN || message == msg::INFORMASI_TIDAK_DITEMUKAN {
            self.session = None;
            return self.fail(&format!(
                "error: {message} (the session ended; log in again with auth)"
            ));
        }
        self.fail(&format!("error: {message}"))
    }

    /// An OK answer of a shape this client does not know: its text as it is.
    fn show(&mut self, reply: &Reply, otherwise: &str) -> Result<(), AppError> {
        match reply.text() {
            t if t.is_empty() => self.say(otherwise),
            t => self.say(&t),
        }
    }

    fn auth(&mut self, username: &str, password: &str) -> Result<(), AppError> {
        let req = Request::Auth {
            username: username.to_string(),
            password: password.to_string(),
        };
        let reply = self.client.request(&req)?;
        let token = match &reply.response {
            Some(Response::Token(token)) if reply.ok => token.clone(),
            _ if !reply.ok => {
                // The current session, if any, stays as it was.
                self.error(&reply)?;
                if let Some(s) = &self.session {
                    let still = format!("(still logged in as {})", s.username);
                    self.say(&still)?;
                }
                return Ok(());
            }
            _ => return self.fail(&format!("error: no token in the answer: {}", reply.value)),
        };
        // A new login replaces the current session: end it and say so.
        if let Some(old) = self.session.take() {
            self.end_session(old.token);
            self.say(&format!(
                "session of {} ended (replaced by the new login)",
                old.username
            ))?;
        }
        self.say(&format!("username {username} logged in, token {token}"))?;
        self.session = Some(Session {
            username: username.to_string(),
            token,
        });
        Ok(())
    }

    fn send(&mut self, to: &str, message: &str) -> Result<(), AppError> {
        let Some(tokenid) = self.need_token()? else {
            return Ok(());
        };
        let req = Request::Send {
            tokenid,
            to: to.to_string(),
            message: message.to_string(),
        };
        let reply = self.client.request(&req)?;
        if !reply.ok {
            return self.error(&reply);
        }
        match reply.response {
            Some(Response::Message(_)) => self.say(&format!("message sent to {to}")),
            _ => self.show(&reply, &format!("message sent to {to}")),
        }
    }

    fn inbox(&mut self) -> Result<(), AppError> {
        let Some(tokenid) = self.need_token()? else {
            return Ok(());
        };
        let reply = self.client.request(&Request::Inbox { tokenid })?;
        if !reply.ok {
            return self.error(&reply);
        }
        match &reply.response {
            Some(Response::Inbox(inbox)) if inbox.is_empty() => self.say("no new messages"),
            Some(Response::Inbox(inbox)) => {
                for (_, m) in inbox.iter() {
                    self.say(&format!("from {}: {}", m.msg_from, m.msg.trim()))?;
                }
                Ok(())
            }
            _ => self.show(&reply, "no new messages"),
        }
    }

    fn users(&mut self) -> Result<(), AppError> {
        let Some(tokenid) = self.need_token()? else {
            return Ok(());
        };
        let reply = self.client.request(&Request::Users { tokenid })?;
        if !reply.ok {
            return self.error(&reply);
        }
        match &reply.response {
            Some(Response::Users(users)) => {
                let table = users_table(users);
                self.say(table.trim_end())
            }
            _ => self.show(&reply, "no other users"),
        }
    }

    fn logout(&mut self) -> Result<(), AppError> {
        let Some(tokenid) = self.need_token()? else {
            return Ok(());
        };
        let reply = self.client.request(&Request::Logout { tokenid })?;
        if !reply.ok {
            return self.error(&reply);
        }
        self.session = None;
        match reply.response {
            Some(Response::Message(_)) => self.say("logged out"),
            _ => {
                let text = reply.text();
                if text.is_empty() {
                    self.say("logged out")
                } else {
                    self.say(&format!("logged out: {text}"))
                }
            }
        }
    }

    /// Ends the session, if any, ignoring failures (used when leaving).
    fn logout_quietly(&mut self) {
        if let Some(session) = self.session.take() {
            self.end_session(session.token);
        }
    }

    fn end_session(&mut self, tokenid: String) {
        if let Err(e) = self.client.request(&Request::Logout { tokenid }) {
            log::debug!("ending the old session failed: {e}");
        }
    }
}

/// The `users` answer as a table, one user per line, with an online mark.
///
/// ```text
/// USERNAME   NAME              COUNTRY  STATUS
/// henderson  Jordan Henderson  Inggris  online
/// lineker    Gary Lineker      Inggris  offline
/// ```
pub fn users_table(users: &[UserInfo]) -> String {
    if users.is_empty() {
        return "no other users\n".to_string();
    }
    let w_user = users
        .iter()
        .map(|u| width(&u.username))
        .max()
        .unwrap_or(0)
        .max(8);
    let w_name = users
        .iter()
        .map(|u| width(&u.name))
        .max()
        .unwrap_or(0)
        .max(4);
    let w_country = users
        .iter()
        .map(|u| width(&u.country))
        .max()
        .unwrap_or(0)
        .max(7);
    let mut out = String::new();
    let mut row = |a: &str, b: &str, c: &str, d: &str| {
        out.push_str(&pad(a, w_user));
        out.push_str("  ");
        out.push_str(&pad(b, w_name));
        out.push_str("  ");
        out.push_str(&pad(c, w_country));
        out.push_str("  ");
        out.push_str(d);
        out.push('\n');
    };
    row("USERNAME", "NAME", "COUNTRY", "STATUS");
    for u in users {
        let status = if u.online { "online" } else { "offline" };
        row(&u.username, &u.name, &u.country, status);
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

fn output_error(e: std::io::Error) -> AppError {
    AppError::io("cannot write the output", &e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_marks_online() {
        let users = vec![
            UserInfo {
                username: "henderson".into(),
                name: "Jordan Henderson".into(),
                country: "Inggris".into(),
                online: true,
            },
            UserInfo {
                username: "lineker".into(),
                name: "Gary Lineker".into(),
                country: "Inggris".into(),
                online: false,
            },
        ];
        assert_eq!(
            users_table(&users),
            "USERNAME   NAME              COUNTRY  STATUS\n\
             henderson  Jordan Henderson  Inggris  online\n\
             lineker    Gary Lineker      Inggris  offline\n"
        );
        assert_eq!(users_table(&[]), "no other users\n");
    }
}
