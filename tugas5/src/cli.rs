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
//! losing the server ends the program with an [`AppError`].

use std::io::{BufRead, Write};
use std::time::Duration;

use common::chat::{msg, Request, Response, UserInfo};
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
/// or the output cannot be written.
pub fn run_client<R: BufRead, W: Write>(
    mut input: R,
    mut output: W,
    config: &CliConfig,
) -> Result<(), AppError> {
    let client = ChatClient::connect(&config.host, config.port, config.timeout)?;
    let mut cli = Cli {
        client,
        token: None,
        out: &mut output,
    };
    if config.interactive {
        cli.say(&format!(
            "connected to {} (type help for the commands)",
            cli.client.address()
        ))?;
    }
    let mut raw = Vec::new();
    loop {
        if config.interactive {
            let prompt = format!("Command {}: ", cli.token.as_deref().unwrap_or(""));
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
        if cli.command(&words)? == Flow::Quit {
            break;
        }
    }
    cli.logout_quietly();
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

struct Cli<'a, W: Write> {
    client: ChatClient,
    token: Option<String>,
    out: &'a mut W,
}

impl<W: Write> Cli<'_, W> {
    fn say(&mut self, text: &str) -> Result<(), AppError> {
        writeln!(self.out, "{text}")
            .and_then(|()| self.out.flush())
            .map_err(output_error)
    }

    fn command(&mut self, words: &[&str]) -> Result<Flow, AppError> {
        let Some((&command, args)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        match (command, args) {
            ("auth", [username, password]) => self.auth(username, password)?,
            ("auth", _) => self.say("usage: auth USERNAME PASSWORD")?,
            ("send", [to, message @ ..]) => self.send(to, &message.join(" "))?,
            ("send", []) => self.say("usage: send USERNAME MESSAGE...")?,
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
                self.say(&format!("usage: {command} (no parameters)"))?
            }
            _ => {
                let shown: String = command.chars().take(40).collect();
                self.say(&format!(
                    "error: unknown command {shown:?} (type help for the list)"
                ))?
            }
        }
        Ok(Flow::Continue)
    }

    /// The token, or a message saying to log in first.
    fn need_token(&mut self) -> Result<Option<String>, AppError> {
        if self.token.is_none() {
            self.say("error: not logged in (type: auth USERNAME PASSWORD)")?;
        }
        Ok(self.token.clone())
    }

    /// Prints an `ERROR` answer; a lost session also forgets the token.
    fn error(&mut self, message: &str) -> Result<(), AppError> {
        if message == msg::SESSION_TIDAK_DITEMUKAN {
            self.token = None;
            return self.say(&format!(
                "error: {message} (the session ended; log in again with auth)"
            ));
        }
        self.say(&format!("error: {message}"))
    }

    fn auth(&mut self, username: &str, password: &str) -> Result<(), AppError> {
        // Logging in as someone else ends the current session first.
        self.logout_quietly();
        let req = Request::Auth {
            username: username.to_string(),
            password: password.to_string(),
        };
        match self.client.request(&req)? {
            Response::Token(token) => {
                self.say(&format!("username {username} logged in, token {token}"))?;
                self.token = Some(token);
                Ok(())
            }
            Response::Error(m) => self.error(&m),
            other => self.unexpected(&other),
        }
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
        match self.client.request(&req)? {
            Response::Message(_) => self.say(&format!("message sent to {to}")),
            Response::Error(m) => self.error(&m),
            other => self.unexpected(&other),
        }
    }

    fn inbox(&mut self) -> Result<(), AppError> {
        let Some(tokenid) = self.need_token()? else {
            return Ok(());
        };
        match self.client.request(&Request::Inbox { tokenid })? {
            Response::Inbox(inbox) if inbox.is_empty() => self.say("no new messages"),
            Response::Inbox(inbox) => {
                for (_, m) in inbox.iter() {
                    self.say(&format!("from {}: {}", m.msg_from, m.msg))?;
                }
                Ok(())
            }
            Response::Error(m) => self.error(&m),
            other => self.unexpected(&other),
        }
    }

    fn users(&mut self) -> Result<(), AppError> {
        let Some(tokenid) = self.need_token()? else {
            return Ok(());
        };
        match self.client.request(&Request::Users { tokenid })? {
            Response::Users(users) => {
                let table = users_table(&users);
                self.say(table.trim_end())
            }
            Response::Error(m) => self.error(&m),
            other => self.unexpected(&other),
        }
    }

    fn logout(&mut self) -> Result<(), AppError> {
        let Some(tokenid) = self.need_token()? else {
            return Ok(());
        };
        match self.client.request(&Request::Logout { tokenid })? {
            Response::Message(_) => {
                self.token = None;
                self.say("logged out")
            }
            Response::Error(m) => self.error(&m),
            other => self.unexpected(&other),
        }
    }

    /// Ends the session, if any, ignoring failures (used when leaving).
    fn logout_quietly(&mut self) {
        if let Some(tokenid) = self.token.take() {
            if let Err(e) = self.client.request(&Request::Logout { tokenid }) {
                log::debug!("logout on the way out failed: {e}");
            }
        }
    }

    fn unexpected(&mut self, r: &Response) -> Result<(), AppError> {
        self.say(&format!("error: unexpected answer from the server: {r:?}"))
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
