//! The chat protocol of Tugas 5 (the course's `chat.py` / `chat-cli.py`).
//!
//! # Format
//!
//! A request is one text line, words separated by spaces, ending in `\r\n`
//! (a bare `\n` and spaces before the line end are accepted):
//!
//! ```text
//! auth USERNAME PASSWORD
//! send TOKENID USERNAME_TO MESSAGE WORDS...
//! inbox TOKENID
//! users TOKENID
//! logout TOKENID
//! ```
//!
//! A response is one JSON object followed by `\r\n\r\n`, written the way
//! Python's `json.dumps` writes it (`", "` and `": "` between items,
//! characters outside ASCII as `\uXXXX`), so the bytes match the course's
//! server:
//!
//! ```text
//! {"status": "OK", "tokenid": "5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18"}
//! {"status": "ERROR", "message": "Password Salah"}
//! ```
//!
//! This module holds what the server and the client share: [`Request`]
//! (parse a line, write a line), [`Response`] (both directions), the inbox
//! and user-list types, the users-file record, and the course's messages
//! ([`msg`]). The server's state and the client program live in `tugas5`.

use std::fmt;
use std::io::{self, BufRead, Write};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::framing::{self, FrameError};

/// The course's chat port.
pub const DEFAULT_PORT: u16 = 8889;

/// What ends every response: the JSON object, then an empty line.
pub const RESPONSE_END: &[u8] = b"\r\n\r\n";

/// Longest request line a server accepts (the `\r\n` not counted).
pub const MAX_REQUEST_LINE: usize = framing::MAX_LINE;

/// Largest response a client reads (an inbox of many messages).
pub const MAX_RESPONSE: usize = 32 * 1024 * 1024;

/// The words the course's server answers with, plus the ones this
/// workspace adds. Status words are `OK` and `ERROR`.
pub mod msg {
    /// `auth` with a username nobody has.
    pub const USER_TIDAK_ADA: &str = "User Tidak Ada";
    /// `auth` with the wrong password.
    pub const PASSWORD_SALAH: &str = "Password Salah";
    /// A token that was never given out, or was logged out.
    pub const SESSION_TIDAK_DITEMUKAN: &str = "Session Tidak Ditemukan";
    /// `send` to a username nobody has.
    pub const USER_TIDAK_DITEMUKAN: &str = "User Tidak Ditemukan";
    /// Unknown command, missing parameters, or a line that is not UTF-8 text.
    pub const PROTOCOL_TIDAK_BENAR: &str = "Protocol Tidak Benar";
    /// `send` succeeded (the course's own English words).
    pub const MESSAGE_SENT: &str = "Message Sent";
    /// `logout` succeeded.
    pub const LOGOUT_BERHASIL: &str = "Logout Berhasil";
    /// `send` refused: the receiver has too many unread messages.
    pub const INBOX_PENUH: &str = "Inbox Penuh";
    /// The request line is longer than the server accepts; the server closes.
    pub const PESAN_TERLALU_PANJANG: &str = "Pesan Terlalu Panjang";
    /// The request line did not arrive whole within the server's
    /// `--timeout`; the server closes.
    pub const WAKTU_HABIS: &str = "Waktu Habis";
    /// Too many failed `auth` on one connection (password guessing); the
    /// server answers this after a pause and closes.
    pub const TERLALU_BANYAK_PERCOBAAN: &str = "Terlalu Banyak Percobaan";
    /// The course's own answer to an unknown token in some years'
    /// `chat.py` (this server answers [`SESSION_TIDAK_DITEMUKAN`]).
    pub const INFORMASI_TIDAK_DITEMUKAN: &str = "Informasi tidak ditemukan";
}

/// One request line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `auth USERNAME PASSWORD`: log in, get a token.
    Auth {
        /// Who logs in.
        username: String,
        /// Their password.
        password: String,
    },
    /// `send TOKENID USERNAME_TO MESSAGE...`: leave a message in someone's inbox.
    Send {
        /// The sender's session.
        tokenid: String,
        /// The receiver's username.
        to: String,
        /// The words after the receiver, joined by single spaces (may be empty).
        message: String,
    },
    /// `inbox TOKENID`: take every message waiting for this session's user.
    Inbox {
        /// The session.
        tokenid: String,
    },
    /// `users TOKENID`: list the other users and who is online.
    Users {
        /// The session.
        tokenid: String,
    },
    /// `logout TOKENID`: end this session.
    Logout {
        /// The session to end.
        tokenid: String,
    },
}

/// Why a request line is not a request (the server answers
/// [`msg::PROTOCOL_TIDAK_BENAR`]; the reason is for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

impl Request {
    /// Parses one request line (with or without its line end).
    ///
    /// Words are split on spaces and tabs, so a trailing space (as the
    /// course's `chat-cli.py` sends) or doubled spaces do not matter. Words
    /// after the last parameter are ignored, as the course's server does,
    /// except for `send`, where they are the message.
    ///
    /// # Errors
    /// A [`ProtocolError`] naming the unknown command or the missing parameter.
    pub fn parse(line: &str) -> Result<Request, ProtocolError> {
        let mut words = line.split_ascii_whitespace();
        let command = words.next().unwrap_or("");
        let mut need = |what: &str| {
            words
                .next()
                .map(str::to_string)
                .ok_or_else(|| ProtocolError(format!("{command}: missing {what}")))
        };
        let request = match command {
            "auth" => Request::Auth {
                username: need("USERNAME")?,
                password: need("PASSWORD")?,
            },
            "send" => {
                let tokenid = need("TOKENID")?;
                let to = need("USERNAME_TO")?;
                let message = words.collect::<Vec<_>>().join(" ");
                Request::Send {
                    tokenid,
                    to,
                    message,
                }
            }
            "inbox" => Request::Inbox {
                tokenid: need("TOKENID")?,
            },
            "users" => Request::Users {
                tokenid: need("TOKENID")?,
            },
            "logout" => Request::Logout {
                tokenid: need("TOKENID")?,
            },
            "" => return Err(ProtocolError("empty request line".to_string())),
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(ProtocolError(format!("unknown command {shown:?}")));
            }
        };
        Ok(request)
    }

    /// The command word (`auth`, `send`, ...).
    pub fn command(&self) -> &'static str {
        match self {
            Request::Auth { .. } => "auth",
            Request::Send { .. } => "send",
            Request::Inbox { .. } => "inbox",
            Request::Users { .. } => "users",
            Request::Logout { .. } => "logout",
        }
    }

    /// The request as it goes on the wire, `\r\n` included.
    ///
    /// [`Request::parse`] of this line gives the request back, provided no
    /// parameter contains whitespace and the message has single spaces.
    pub fn to_line(&self) -> String {
        match self {
            Request::Auth { username, password } => format!("auth {username} {password}\r\n"),
            Request::Send {
                tokenid,
                to,
                message,
            } if message.is_empty() => format!("send {tokenid} {to}\r\n"),
            Request::Send {
                tokenid,
                to,
                message,
            } => format!("send {tokenid} {to} {message}\r\n"),
            Request::Inbox { tokenid } => format!("inbox {tokenid}\r\n"),
            Request::Users { tokenid } => format!("users {tokenid}\r\n"),
            Request::Logout { tokenid } => format!("logout {tokenid}\r\n"),
        }
    }
}

/// One message in an inbox, with the course's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxMessage {
    /// The sender's display name ("Lionel Messi").
    pub msg_from: String,
    /// The receiver's display name.
    pub msg_to: String,
    /// The text, exactly as sent.
    pub msg: String,
}

/// The `messages` of an inbox response: sender username to that sender's
/// messages, oldest first; senders in the order they first wrote.
///
/// On the wire it is a JSON object (`{"messi": [...], "lineker": [...]}`);
/// this type keeps the order of its keys, which a map type would lose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inbox(pub Vec<(String, Vec<InboxMessage>)>);

impl Inbox {
    /// Every message with its sender's username, sender by sender.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &InboxMessage)> {
        self.0
            .iter()
            .flat_map(|(from, list)| list.iter().map(move |m| (from.as_str(), m)))
    }

    /// How many messages there are in all.
    pub fn len(&self) -> usize {
        self.0.iter().map(|(_, list)| list.len()).sum()
    }

    /// Whether there is no message (senders with empty lists may be listed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Serialize for Inbox {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (from, list) in &self.0 {
            map.serialize_entry(from, list)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Inbox {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InboxVisitor;
        impl<'de> Visitor<'de> for InboxVisitor {
            type Value = Inbox;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of sender username to a list of messages")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Inbox, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, Vec<InboxMessage>>()? {
                    out.push(entry);
                }
                Ok(Inbox(out))
            }
        }
        deserializer.deserialize_map(InboxVisitor)
    }
}

/// One line of the `users` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Country, as the course writes it ("Inggris").
    pub country: String,
    /// Whether the user has at least one session (logged in, not logged out).
    pub online: bool,
}

/// A user as written in a users file (`server --users FILE`): a JSON list
/// of these. The course's own field names `nama` and `negara` work too.
///
/// ```json
/// [{"username": "messi", "password": "surabaya", "name": "Lionel Messi", "country": "Argentina"}]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// Login name: one word.
    pub username: String,
    /// Password: one word.
    pub password: String,
    /// Display name, shown as `msg_from`/`msg_to`.
    #[serde(alias = "nama")]
    pub name: String,
    /// Country.
    #[serde(alias = "negara")]
    pub country: String,
}

impl UserRecord {
    /// A record from its four fields.
    pub fn new(username: &str, password: &str, name: &str, country: &str) -> UserRecord {
        UserRecord {
            username: username.to_string(),
            password: password.to_string(),
            name: name.to_string(),
            country: country.to_string(),
        }
    }
}

/// A response, either direction.
///
/// # Format
/// | variant | JSON |
/// |---|---|
/// | `Token` | `{"status": "OK", "tokenid": "..."}` |
/// | `Message` | `{"status": "OK", "message": "Message Sent"}` |
/// | `Inbox` | `{"status": "OK", "messages": {"messi": [{"msg_from": ..., "msg_to": ..., "msg": ...}]}}` |
/// | `Users` | `{"status": "OK", "users": [{"username": ..., "name": ..., "country": ..., "online": true}]}` |
/// | `Error` | `{"status": "ERROR", "message": "..."}` |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `auth` succeeded: the new session's token.
    Token(String),
    /// Success with a message (`send`, `logout`).
    Message(String),
    /// The messages taken out of the inbox.
    Inbox(Inbox),
    /// The other users.
    Users(Vec<UserInfo>),
    /// Failure, with the course's words ([`msg`]).
    Error(String),
}

impl Response {
    /// An `ERROR` response.
    pub fn error(message: &str) -> Response {
        Response::Error(message.to_string())
    }

    /// Whether the status is `OK`.
    pub fn is_ok(&self) -> bool {
        !matches!(self, Response::Error(_))
    }

    /// The response as it goes on the wire: Python-style JSON, then `\r\n\r\n`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = to_python_json(self);
        out.extend_from_slice(RESPONSE_END);
        out
    }

    /// Decodes one response (the JSON object, with or without `\r\n\r\n`).
    ///
    /// # Errors
    /// Not JSON, or not one of the shapes above.
    pub fn from_slice(bytes: &[u8]) -> Result<Response, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Status first, as the course's dicts have it.
        let mut map = serializer.serialize_map(Some(2))?;
        match self {
            Response::Error(m) => {
                map.serialize_entry("status", "ERROR")?;
                map.serialize_entry("message", m)?;
            }
            Response::Token(t) => {
                map.serialize_entry("status", "OK")?;
                map.serialize_entry("tokenid", t)?;
            }
            Response::Message(m) => {
                map.serialize_entry("status", "OK")?;
                map.serialize_entry("message", m)?;
            }
            Response::Inbox(inbox) => {
                map.serialize_entry("status", "OK")?;
                map.serialize_entry("messages", inbox)?;
            }
            Response::Users(users) => {
                map.serialize_entry("status", "OK")?;
                map.serialize_entry("users", users)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            status: String,
            tokenid: Option<String>,
            message: Option<String>,
            messages: Option<Inbox>,
            users: Option<Vec<UserInfo>>,
        }
        let raw = Raw::deserialize(deserializer)?;
        match raw.status.as_str() {
            "ERROR" => Ok(Response::Error(raw.message.unwrap_or_default())),
            "OK" => {
                if let Some(t) = raw.tokenid {
                    Ok(Response::Token(t))
                } else if let Some(m) = raw.messages {
                    Ok(Response::Inbox(m))
                } else if let Some(u) = raw.users {
                    Ok(Response::Users(u))
                } else if let Some(m) = raw.message {
                    Ok(Response::Message(m))
                } else {
                    Err(de::Error::custom(
                        "OK response without tokenid, message, messages or users",
                    ))
                }
            }
            other => Err(de::Error::custom(format!(
                "unknown status {other:?} (expected OK or ERROR)"
            ))),
        }
    }
}

/// Reads one response (up to `\r\n\r\n`) and decodes it.
///
/// # Errors
/// As [`framing::read_delimited`] with [`MAX_RESPONSE`];
/// [`FrameError::Malformed`] when the bytes are not a response.
/// `Ok(None)`: the server closed before sending anything.
pub fn read_response<R: BufRead + ?Sized>(reader: &mut R) -> Result<Option<Response>, FrameError> {
    let Some(bytes) = framing::read_delimited(reader, &[RESPONSE_END], MAX_RESPONSE)? else {
        return Ok(None);
    };
    Response::from_slice(&bytes)
        .map(Some)
        .map_err(|e| FrameError::Malformed(format!("server sent a bad response: {e}")))
}

/// Any answer a course-style chat server sends, read leniently: the
/// course's servers differ across years and students, and a client must
/// still show what came (`{"status": "OK", "messages": "..."}` after a
/// logout, a user list as one string, an inbox of plain strings).
///
/// `response` is the strict [`Response`] when the answer has one of its
/// shapes; [`Reply::text`] shows whatever `message`/`messages` (and other
/// keys) hold, in any shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Whether the status says OK (`"OK"` in any case; an answer with no
    /// status counts as OK unless it has an `error` key).
    pub ok: bool,
    /// The whole JSON answer.
    pub value: serde_json::Value,
    /// The answer as a [`Response`], when it has one of the strict shapes.
    pub response: Option<Response>,
}

impl Reply {
    /// Decodes one answer (the JSON, with or without `\r\n\r\n`).
    ///
    /// # Errors
    /// Only when the bytes are not JSON at all.
    pub fn from_slice(bytes: &[u8]) -> Result<Reply, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_slice(bytes)?;
        let ok = match value.get("status") {
            Some(serde_json::Value::String(s)) => {
                s.eq_ignore_ascii_case("ok") || s.eq_ignore_ascii_case("success")
            }
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => false,
            None => value.get("error").is_none(),
        };
        let response = Response::deserialize(&value).ok();
        Ok(Reply {
            ok,
            value,
            response,
        })
    }

    /// What the answer says, one line per item: `message` and `messages`
    /// as they are (a string, a number, a list, an object, nested; an
    /// inbox message `{"msg_from": F, "msg": M}` as `from F: M`), then
    /// any other key but `status` as `key: value` (keys in name order). Empty when there is
    /// nothing but the status.
    pub fn text(&self) -> String {
        let mut lines = Vec::new();
        match &self.value {
            serde_json::Value::Object(map) => {
                for key in ["message", "messages"] {
                    if let Some(v) = map.get(key) {
                        flatten(v, "", &mut lines);
                    }
                }
                for (k, v) in map {
                    if !matches!(k.as_str(), "status" | "message" | "messages") {
                        flatten(v, &format!("{k}: "), &mut lines);
                    }
                }
            }
            other => flatten(other, "", &mut lines),
        }
        lines.join("\n")
    }
}

/// Pushes the lines of `v`, each after `prefix`.
fn flatten(v: &serde_json::Value, prefix: &str, lines: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Null => {}
        Value::String(s) if s.trim().is_empty() => {}
        Value::String(s) => lines.push(format!("{prefix}{}", s.trim_end())),
        Value::Bool(_) | Value::Number(_) => lines.push(format!("{prefix}{v}")),
        Value::Array(items) => {
            for item in items {
                flatten(item, prefix, lines);
            }
        }
        Value::Object(map) if map.contains_key("msg") => {
            let from = map
                .get("msg_from")
                .map(scalar)
                .unwrap_or_else(|| "?".to_string());
            let text = map.get("msg").map(scalar).unwrap_or_default();
            lines.push(format!("{prefix}from {from}: {}", text.trim()));
        }
        Value::Object(map) => {
            for (k, v) in map {
                // An inbox keyed by sender: its messages say who sent them.
                let holds_messages = match v {
                    Value::Object(m) => m.contains_key("msg"),
                    Value::Array(a) => a
                        .iter()
                        .any(|x| x.as_object().is_some_and(|m| m.contains_key("msg"))),
                    _ => false,
                };
                if holds_messages {
                    flatten(v, prefix, lines);
                } else {
                    flatten(v, &format!("{prefix}{k}: "), lines);
                }
            }
        }
    }
}

/// A JSON scalar as text (strings without quotes); other values as JSON.
fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads one answer (up to `\r\n\r\n`) as a [`Reply`].
///
/// # Errors
/// As [`framing::read_delimited`] with [`MAX_RESPONSE`];
/// [`FrameError::Malformed`] when the bytes are not JSON.
/// `Ok(None)`: the server closed before sending anything.
pub fn read_reply<R: BufRead + ?Sized>(reader: &mut R) -> Result<Option<Reply>, FrameError> {
    let Some(bytes) = framing::read_delimited(reader, &[RESPONSE_END], MAX_RESPONSE)? else {
        return Ok(None);
    };
    Reply::from_slice(&bytes)
        .map(Some)
        .map_err(|e| FrameError::Malformed(format!("server sent an answer that is not JSON: {e}")))
}

/// Serializes `value` the way Python's `json.dumps` does by default:
/// `", "` between items, `": "` after keys, and every character outside
/// printable ASCII escaped (`"é"` becomes `"\u00e9"`, emoji become a
/// surrogate pair). The course's `chat-cli.py` decodes each 1024-byte
/// `recv` on its own, so an ASCII-only response also keeps it from
/// failing on a character split between two reads.
pub fn to_python_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // Writing into a Vec cannot fail, and the types here have string keys.
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(br#"{"status": "ERROR", "message": "Server Error"}"#);
    }
    out
}

/// A `serde_json` formatter with Python's default separators and ASCII output.
#[derive(Debug, Clone, Copy, Default)]
pub struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has already escaped quotes, backslashes and control
        // characters; what is left to escape is DEL and non-ASCII.
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() && c != '\x7f' {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn requests_parse_like_the_course_server() {
        assert_eq!(
            Request::parse("auth messi surabaya \r\n").unwrap(),
            Request::Auth {
                username: "messi".into(),
                password: "surabaya".into()
            }
        );
        // chat-cli.py puts a space before the message: the words are what count.
        assert_eq!(
            Request::parse("send t-1 henderson  halo   apa kabar \r\n").unwrap(),
            Request::Send {
                tokenid: "t-1".into(),
                to: "henderson".into(),
                message: "halo apa kabar".into()
            }
        );
        assert_eq!(
            Request::parse("send t-1 henderson").unwrap(),
            Request::Send {
                tokenid: "t-1".into(),
                to: "henderson".into(),
                message: String::new()
            }
        );
        assert_eq!(
            Request::parse("inbox t-1 extra").unwrap(),
            Request::Inbox {
                tokenid: "t-1".into()
            }
        );
        for bad in [
            "",
            "   ",
            "auth messi",
            "send t-1",
            "inbox",
            "users",
            "logout",
            "AUTH messi surabaya",
            "list",
        ] {
            assert!(Request::parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(
            Request::parse("auth messi").unwrap_err().to_string(),
            "auth: missing PASSWORD"
        );
    }

    #[test]
    fn request_lines_round_trip() {
        let all = [
            Request::Auth {
                username: "messi".into(),
                password: "surabaya".into(),
            },
            Request::Send {
                tokenid: "t".into(),
                to: "lineker".into(),
                message: "selamat pagi".into(),
            },
            Request::Send {
                tokenid: "t".into(),
                to: "lineker".into(),
                message: String::new(),
            },
            Request::Inbox {
                tokenid: "t".into(),
            },
            Request::Users {
                tokenid: "t".into(),
            },
            Request::Logout {
                tokenid: "t".into(),
            },
        ];
        for req in all {
            let line = req.to_line();
            assert!(
                line.ends_with("\r\n") && !line.ends_with(" \r\n"),
                "{line:?}"
            );
            assert!(line.starts_with(req.command()));
            assert_eq!(Request::parse(&line).unwrap(), req);
        }
    }

    #[test]
    fn responses_are_written_like_python_json_dumps() {
        let r = Response::Token("abc".into());
        assert_eq!(
            r.to_bytes(),
            b"{\"status\": \"OK\", \"tokenid\": \"abc\"}\r\n\r\n"
        );
        let r = Response::error(msg::PASSWORD_SALAH);
        assert_eq!(
            r.to_bytes(),
            b"{\"status\": \"ERROR\", \"message\": \"Password Salah\"}\r\n\r\n"
        );
        // Checked against python3: json.dumps of the same dict.
        let inbox = Inbox(vec![
            (
                "messi".into(),
                vec![InboxMessage {
                    msg_from: "Lionel Messi".into(),
                    msg_to: "Gary Lineker".into(),
                    msg: "halo \u{e9} \u{1F600} \x7f /\t\"\\".into(),
                }],
            ),
            ("x".into(), vec![]),
        ]);
        assert_eq!(
            String::from_utf8(to_python_json(&Response::Inbox(inbox))).unwrap(),
            r#"{"status": "OK", "messages": {"messi": [{"msg_from": "Lionel Messi", "msg_to": "Gary Lineker", "msg": "halo \u00e9 \ud83d\ude00 \u007f /\t\"\\"}], "x": []}}"#
        );
        let users = Response::Users(vec![UserInfo {
            username: "lineker".into(),
            name: "Gary Lineker".into(),
            country: "Inggris".into(),
            online: false,
        }]);
        assert_eq!(
            String::from_utf8(to_python_json(&users)).unwrap(),
            r#"{"status": "OK", "users": [{"username": "lineker", "name": "Gary Lineker", "country": "Inggris", "online": false}]}"#
        );
        assert_eq!(
            to_python_json(&Response::Inbox(Inbox::default())),
            br#"{"status": "OK", "messages": {}}"#
        );
    }

    #[test]
    fn responses_round_trip_and_keep_inbox_order() {
        let inbox = Inbox(vec![
            (
                "zed".into(),
                vec![InboxMessage {
                    msg_from: "Z".into(),
                    msg_to: "M".into(),
                    msg: "satu \u{e9}".into(),
                }],
            ),
            ("abe".into(), vec![]),
        ]);
        assert_eq!(inbox.len(), 1);
        assert!(!inbox.is_empty());
        let all = [
            Response::Token("5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18".into()),
            Response::Message(msg::MESSAGE_SENT.into()),
            Response::Inbox(inbox),
            Response::Users(vec![]),
            Response::error(msg::USER_TIDAK_ADA),
        ];
        for r in all {
            let bytes = r.to_bytes();
            let back = read_response(&mut Cursor::new(&bytes)).unwrap().unwrap();
            assert_eq!(back, r);
        }
        // Compact JSON, as another server might write it, reads too.
        let r = Response::from_slice(br#"{"status":"OK","messages":{"b":[],"a":[]}}"#).unwrap();
        let Response::Inbox(i) = r else { panic!() };
        assert_eq!(i.0[0].0, "b");
        assert!(Response::from_slice(br#"{"status":"MAYBE"}"#).is_err());
        assert!(Response::from_slice(br#"{"status":"OK"}"#).is_err());
        assert!(matches!(
            read_response(&mut Cursor::new(b"not json\r\n\r\n".to_vec())),
            Err(FrameError::Malformed(_))
        ));
        assert!(read_response(&mut Cursor::new(Vec::new()))
            .unwrap()
            .is_none());
    }

    #[test]
    fn user_records_accept_the_course_field_names() {
        let recs: Vec<UserRecord> = serde_json::from_str(
            r#"[{"username":"messi","password":"surabaya","nama":"Lionel Messi","negara":"Argentina"}]"#,
        )
        .unwrap();
        assert_eq!(
            recs[0],
            UserRecord::new("messi", "surabaya", "Lionel Messi", "Argentina")
        );
        let typo = serde_json::from_str::<Vec<UserRecord>>(
            r#"[{"username":"m","pasword":"x","name":"M","country":"C"}]"#,
        );
        assert!(typo.unwrap_err().to_string().contains("pasword"));
    }

    #[test]
    fn replies_of_any_shape_show_their_text() {
        let r = |s: &str| Reply::from_slice(s.as_bytes()).unwrap();
        let logout = r(r#"{"status": "OK", "messages": "Logout Berhasil"}"#);
        assert!(logout.ok);
        assert_eq!(logout.response, None);
        assert_eq!(logout.text(), "Logout Berhasil");
        let ours = r(r#"{"status": "OK", "message": "Message Sent"}"#);
        assert_eq!(
            ours.response,
            Some(Response::Message("Message Sent".into()))
        );
        assert_eq!(ours.text(), "Message Sent");
        let err = r(r#"{"status": "ERROR", "message": "Informasi tidak ditemukan"}"#);
        assert!(!err.ok);
        assert_eq!(err.text(), "Informasi tidak ditemukan");
        let inbox = r(
            r#"{"status": "OK", "messages": {"messi": [{"msg_from": "Lionel Messi", "msg_to": "X", "msg": " halo\r\n"}], "lineker": []}}"#,
        );
        assert_eq!(inbox.text(), "from Lionel Messi: halo");
        let plain = r(r#"{"status": "OK", "messages": {"messi": ["halo", "apa kabar"]}}"#);
        assert_eq!(plain.text(), "messi: halo\nmessi: apa kabar");
        let users = r(r#"{"status": "ok", "users": "messi, henderson, ", "count": 2}"#);
        assert!(users.ok);
        // Other keys in name order.
        assert_eq!(users.text(), "count: 2\nusers: messi, henderson,");
        let nested = r(r#"{"status": "OK", "message": {"detail": [1, true, null, {"a": "b"}]}}"#);
        assert_eq!(nested.text(), "detail: 1\ndetail: true\ndetail: a: b");
        assert!(!r(r#"{"status": 500, "message": 7}"#).ok);
        assert_eq!(r(r#"{"status": 500, "message": 7}"#).text(), "7");
        assert!(r(r#"["x"]"#).ok);
        assert!(!r(r#"{"error": "bad"}"#).ok);
        assert!(Reply::from_slice(b"not json").is_err());
        let mut two = Cursor::new(b"{\"status\": \"OK\"}\r\n\r\n".to_vec());
        let got = read_reply(&mut two).unwrap().unwrap();
        assert_eq!(got.text(), "");
        assert!(read_reply(&mut two).unwrap().is_none());
    }
}
