//! The JSON file protocol of Tugas 4: request and response messages, how
//! each is written and read, and the rules for file names.
//!
//! # Format
//!
//! Every message, in both directions, is one JSON object (UTF-8, compact:
//! no line breaks inside) followed by `\r\n\r\n`. One connection carries
//! any number of requests; the server answers each in order.
//!
//! ```text
//! {"command":"LIST"}
//! {"command":"GET","name":"a.txt","offset":0,"length":1024}
//! {"command":"PUT","name":"a.txt","offset":0,"last":true,"data":"aGFsbw=="}
//! {"command":"DELETE","name":"a.txt"}
//!
//! {"status":"OK","command":"LIST","files":[{"name":"a.txt","size":5,...}]}
//! {"status":"ERROR","message":"file not found: b.txt"}
//! ```
//!
//! File data travels as standard base64 (RFC 4648, with `=` padding). No
//! message may be longer than [`MAX_MESSAGE`] bytes, so a big file moves
//! in pieces of at most [`MAX_CHUNK`] bytes: several `PUT`s with growing
//! `offset` (the last one says `"last":true`), or several `GET`s of byte
//! ranges. The full description, with examples checked against the real
//! server, is `tugas4/PROTOCOL.md`.
//!
//! Each message type keeps its encoder and decoder side by side
//! ([`Request::encode`]/[`Request::decode`], [`Response::encode`]/
//! [`Response::decode`]); the fast paths for file data
//! ([`encode_put`], [`encode_get_ok`]) write exactly what the general
//! encoders write, without building the base64 text twice.

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::files::check_plain_name;
use crate::framing::{read_delimited, FrameError};

/// What ends every message: a blank line after the JSON object.
pub const DELIMITER: &[u8] = b"\r\n\r\n";

/// Largest message (JSON text before the delimiter) either side accepts:
/// 4 MiB. A longer one is refused without being buffered.
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// Most file bytes one `PUT` carries or one `GET` answer returns: 2 MiB,
/// whose base64 (2.67 MiB) plus the JSON around it stays under
/// [`MAX_MESSAGE`].
pub const MAX_CHUNK: usize = 2 * 1024 * 1024;

/// Longest file name accepted, in bytes (the usual file-system limit).
pub const MAX_NAME: usize = 255;

/// Reads one message (the bytes before `\r\n\r\n`) of at most
/// [`MAX_MESSAGE`] bytes. `Ok(None)` means the peer closed cleanly
/// between messages.
///
/// # Errors
/// [`FrameError::TooLarge`] past the cap, [`FrameError::Truncated`] if the
/// peer closed mid-message, [`FrameError::Io`] for socket errors.
pub fn read_message<R: BufRead + ?Sized>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    read_delimited(reader, &[DELIMITER], MAX_MESSAGE)
}

/// Checks a file name from a request: one plain name inside the served
/// folder (no `/`, `\`, `..`, absolute path or control character) that
/// Windows can store (no `CON`, `nul.txt`, `a:b`, `<>"|?*`, trailing `.`
/// or space: [`crate::files::windows_name_problem`]; on every OS, so a
/// file put on a Linux server can be got on Windows), not
/// starting with `.` (hidden files and uploads in progress are not part of
/// the protocol), at most [`MAX_NAME`] bytes.
///
/// # Errors
/// A message for the user, e.g. `invalid name "../x": '..' is not allowed in a file name`.
pub fn check_name(name: &str) -> Result<&str, String> {
    let bad = |why: &dyn fmt::Display| format!("invalid name {}: {why}", quote(name));
    if name.len() > MAX_NAME {
        return Err(bad(&format!("longer than {MAX_NAME} bytes")));
    }
    check_plain_name(name).map_err(|e| bad(&e))?;
    if name.starts_with('.') {
        return Err(bad(&"names starting with '.' are not allowed"));
    }
    Ok(name)
}

/// A name in double quotes for messages, shortened and with control
/// characters escaped (JSON style), so a hostile name cannot mess up a log.
pub fn quote(name: &str) -> String {
    let short: String = name.chars().take(80).collect();
    let mut q = serde_json::to_string(&short).unwrap_or_else(|_| "\"?\"".to_string());
    if short.len() < name.len() {
        q.insert_str(q.len() - 1, "...");
    }
    q
}

/// Why a message could not be understood. The text goes back to the
/// client as the `message` of an `ERROR` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub String);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtoError {}

fn json_error(e: serde_json::Error, what: &str) -> ProtoError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => ProtoError(format!("invalid {what}: {e}")),
        _ => ProtoError(format!("invalid JSON: {e}")),
    }
}

/// Base64 text, borrowed from the message buffer when it has no JSON
/// escapes (the normal case), so a 2.67 MiB `data` field is not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit)
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Decodes base64 `data` into `out` (cleared first; its memory is reused).
///
/// # Errors
/// A message naming what is wrong with the base64 text.
pub fn decode_data(data: &str, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    out.clear();
    STANDARD
        .decode_vec(data, out)
        .map_err(|e| base64_error(e, 0))
}

/// Base64 characters decoded at a time by [`decode_data_to`]: 96 KiB of
/// file bytes, small enough to still be in the CPU cache when they are
/// copied to the file or socket (a 2 MiB piece decoded at once is not).
const DECODE_STEP: usize = 128 * 1024;

/// Why [`decode_data_to`] stopped.
#[derive(Debug)]
pub enum DecodeToError {
    /// The base64 text is invalid; nothing after the bad part was written.
    Data(ProtoError),
    /// Writing the decoded bytes failed.
    Write(std::io::Error),
}

/// Decodes base64 `data` a slice at a time into `buf` (reused) and writes
/// each slice to `out`; returns the number of bytes written.
///
/// # Errors
/// [`DecodeToError::Data`] for invalid base64 (the same messages as
/// [`decode_data`]); bytes before the bad part may already be written, so
/// the caller discards the output. [`DecodeToError::Write`] if `out` fails.
pub fn decode_data_to<W: std::io::Write + ?Sized>(
    data: &str,
    buf: &mut Vec<u8>,
    out: &mut W,
) -> Result<u64, DecodeToError> {
    let text = data.as_bytes();
    let mut written = 0u64;
    let mut start = 0;
    while start < text.len() {
        let end = (start + DECODE_STEP).min(text.len());
        let step = &text[start..end];
        // Padding may only end the whole text, not a slice of it.
        if end < text.len() && step.last() == Some(&b'=') {
            return Err(DecodeToError::Data(ProtoError(format!(
                "data is not valid base64: unexpected character '=' at position {}",
                end - 1
            ))));
        }
        buf.clear();
        STANDARD
            .decode_vec(step, buf)
            .map_err(|e| DecodeToError::Data(base64_error(e, start)))?;
        out.write_all(buf).map_err(DecodeToError::Write)?;
        written += buf.len() as u64;
        start = end;
    }
    Ok(written)
}

fn base64_error(e: base64::DecodeError, base: usize) -> ProtoError {
    use base64::DecodeError::*;
    let why = match e {
        InvalidByte(at, b) | InvalidLastSymbol(at, b) => format!(
            "unexpected character {:?} at position {}",
            char::from(b),
            base + at
        ),
        InvalidLength(n) => format!("length {} is not a multiple of 4", base + n),
        InvalidPadding => "missing or wrong '=' padding at the end".to_string(),
    };
    ProtoError(format!("data is not valid base64: {why}"))
}

/// Appends `bytes` as standard base64 to `out`.
pub fn encode_data(bytes: &[u8], out: &mut Vec<u8>) {
    // Through a small stack buffer, so `out` is written once (resizing it
    // first would fill megabytes with zeros only to overwrite them).
    const IN: usize = 3 * 1024;
    let mut block = [0u8; IN / 3 * 4];
    out.reserve(bytes.len().div_ceil(3) * 4);
    for piece in bytes.chunks(IN) {
        let n = STANDARD
            .encode_slice(piece, &mut block)
            .expect("4 KiB hold the base64 of 3 KiB");
        out.extend_from_slice(&block[..n]);
    }
}

// ---------------------------------------------------------------- requests

/// A request from a client.
///
/// # Format
///
/// ```text
/// {"command":"LIST"}
/// {"command":"GET","name":NAME}                          whole file (up to MAX_CHUNK bytes)
/// {"command":"GET","name":NAME,"offset":N,"length":M}    a byte range
/// {"command":"PUT","name":NAME,"offset":N,"last":B,"data":BASE64}
/// {"command":"DELETE","name":NAME}
/// ```
///
/// `command` is matched without regard to case. `offset` defaults to 0,
/// `last` to `true` (a one-piece upload). Unknown fields are refused, so a
/// typo such as `"nama"` gets a clear error instead of being ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// List the files in the served folder.
    List,
    /// Read `length` bytes (all that is left when `None`; the server sends
    /// at most [`MAX_CHUNK`]) from `offset` of file `name`.
    Get {
        /// File name (checked with [`check_name`] by the server).
        name: String,
        /// First byte to send.
        offset: u64,
        /// Bytes wanted; `None` = to the end of the file.
        length: Option<u64>,
    },
    /// One piece of an upload: `data` (base64) goes at `offset` of `name`;
    /// `last` commits the file.
    Put {
        /// File name (checked with [`check_name`] by the server).
        name: String,
        /// Where this piece starts: 0 for the first, then the bytes sent so far.
        offset: u64,
        /// Whether this is the final piece.
        last: bool,
        /// The piece's bytes as base64 text.
        data: Cow<'a, str>,
    },
    /// Delete file `name`.
    Delete {
        /// File name (checked with [`check_name`] by the server).
        name: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest<'a> {
    #[serde(borrow)]
    command: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<bool>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    data: Option<Text<'a>>,
}

impl<'a> Request<'a> {
    /// The command word: `LIST`, `GET`, `PUT` or `DELETE`.
    pub fn command(&self) -> &'static str {
        match self {
            Request::List => "LIST",
            Request::Get { .. } => "GET",
            Request::Put { .. } => "PUT",
            Request::Delete { .. } => "DELETE",
        }
    }

    /// Appends the message (JSON and delimiter) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut wire = WireRequest {
            command: Text(Cow::Borrowed(self.command())),
            name: None,
            offset: None,
            length: None,
            last: None,
            data: None,
        };
        match self {
            Request::List => {}
            Request::Get {
                name,
                offset,
                length,
            } => {
                wire.name = Some(name.clone());
                wire.offset = Some(*offset);
                wire.length = *length;
            }
            Request::Put {
                name,
                offset,
                last,
                data,
            } => {
                wire.name = Some(name.clone());
                wire.offset = Some(*offset);
                wire.last = Some(*last);
                wire.data = Some(Text(Cow::Borrowed(data)));
            }
            Request::Delete { name } => wire.name = Some(name.clone()),
        }
        serde_json::to_writer(&mut *out, &wire).expect("writing JSON to a Vec cannot fail");
        out.extend_from_slice(DELIMITER);
    }

    /// Parses one message (the bytes before the delimiter). Large `data`
    /// is borrowed from `msg`, not copied.
    ///
    /// # Errors
    /// [`ProtoError`] for invalid JSON, an unknown command, a missing or
    /// mistyped field, or a field the command does not take.
    pub fn decode(msg: &'a [u8]) -> Result<Request<'a>, ProtoError> {
        if msg.iter().all(u8::is_ascii_whitespace) {
            return Err(ProtoError(
                "empty message: expected a JSON object such as {\"command\":\"LIST\"}".into(),
            ));
        }
        let wire: WireRequest<'a> =
            serde_json::from_slice(msg).map_err(|e| json_error(e, "request"))?;
        let command = wire.command.0.to_ascii_uppercase();
        let name = |wire: &WireRequest| {
            wire.name
                .clone()
                .ok_or_else(|| ProtoError(format!("{command} needs a \"name\" (the file name)")))
        };
        let takes: &[&str] = match command.as_str() {
            "LIST" => &[],
            "GET" => &["name", "offset", "length"],
            "PUT" => &["name", "offset", "last", "data"],
            "DELETE" => &["name"],
            _ => {
                return Err(ProtoError(format!(
                    "unknown command {}: expected LIST, GET, PUT or DELETE",
                    quote(&wire.command.0)
                )))
            }
        };
        // A field that belongs to another command is a mistake worth naming.
        for (field, present) in [
            ("name", wire.name.is_some()),
            ("offset", wire.offset.is_some()),
            ("length", wire.length.is_some()),
            ("last", wire.last.is_some()),
            ("data", wire.data.is_some()),
        ] {
            if present && !takes.contains(&field) {
                return Err(ProtoError(format!(
                    "{command} does not take a \"{field}\" field"
                )));
            }
        }
        Ok(match command.as_str() {
            "LIST" => Request::List,
            "GET" => Request::Get {
                name: name(&wire)?,
                offset: wire.offset.unwrap_or(0),
                length: wire.length,
            },
            "PUT" => Request::Put {
                name: name(&wire)?,
                offset: wire.offset.unwrap_or(0),
                last: wire.last.unwrap_or(true),
                data: match wire.data {
                    Some(Text(d)) => d,
                    None => {
                        return Err(ProtoError(
                            "PUT needs \"data\" (the file's bytes as base64)".into(),
                        ))
                    }
                },
            },
            _ => Request::Delete { name: name(&wire)? },
        })
    }
}

/// Appends a `PUT` message carrying `bytes` to `out`, encoding the base64
/// straight into `out` (the same bytes as [`Request::encode`] writes).
pub fn encode_put(name: &str, offset: u64, last: bool, bytes: &[u8], out: &mut Vec<u8>) {
    encode_put_with(name, offset, last, bytes, out, encode_data);
}

/// [`encode_put`] with another base64 encoder `data` (one that appends
/// the standard, padded base64 of its first argument to its second).
pub fn encode_put_with<F>(
    name: &str,
    offset: u64,
    last: bool,
    bytes: &[u8],
    out: &mut Vec<u8>,
    data: F,
) where
    F: FnOnce(&[u8], &mut Vec<u8>),
{
    out.extend_from_slice(b"{\"command\":\"PUT\",\"name\":");
    serde_json::to_writer(&mut *out, name).expect("writing JSON to a Vec cannot fail");
    out.extend_from_slice(format!(",\"offset\":{offset},\"last\":{last},\"data\":\"").as_bytes());
    data(bytes, out);
    out.extend_from_slice(b"\"}");
    out.extend_from_slice(DELIMITER);
}

// --------------------------------------------------------------- responses

/// One file in a `LIST` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, UTC, RFC 3339 (`2026-11-25T08:00:00Z`).
    pub modified: String,
    /// Last modification in seconds since 1970-01-01 UTC.
    pub modified_unix: u64,
}

impl FileInfo {
    /// A file's entry from its name, size and modification time.
    pub fn new(name: impl Into<String>, size: u64, modified: SystemTime) -> FileInfo {
        let secs = modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        FileInfo {
            name: name.into(),
            size,
            modified: rfc3339(secs),
            modified_unix: secs,
        }
    }
}

/// A server's answer.
///
/// # Format
///
/// ```text
/// {"status":"ERROR","message":TEXT}
/// {"status":"OK","command":"LIST","files":[{"name":..,"size":..,"modified":..,"modified_unix":..}]}
/// {"status":"OK","command":"GET","name":..,"size":TOTAL,"offset":N,"length":M,"data":BASE64}
/// {"status":"OK","command":"PUT","name":..,"received":BYTES_SO_FAR,"saved":B}
/// {"status":"OK","command":"DELETE","name":..}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// The request failed; `message` says why. Nothing was changed.
    Error {
        /// Why, for people.
        message: String,
    },
    /// The folder's files, sorted by name.
    List {
        /// One entry per file.
        files: Vec<FileInfo>,
    },
    /// A piece of a file.
    Get {
        /// File name.
        name: String,
        /// The whole file's size (to know how many pieces are left).
        size: u64,
        /// Where this piece starts.
        offset: u64,
        /// Bytes in this piece.
        length: u64,
        /// The piece as base64.
        data: Cow<'a, str>,
    },
    /// A piece of an upload arrived.
    Put {
        /// File name.
        name: String,
        /// Bytes of this upload received so far.
        received: u64,
        /// `true` once the last piece is in and the file is in place.
        saved: bool,
    },
    /// The file is gone.
    Delete {
        /// File name.
        name: String,
    },
}

#[derive(Serialize, Deserialize)]
struct WireResponse<'a> {
    #[serde(borrow)]
    status: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    saved: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Vec<FileInfo>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    data: Option<Text<'a>>,
}

impl<'a> Response<'a> {
    /// An `ERROR` response.
    pub fn error(message: impl fmt::Display) -> Response<'a> {
        Response::Error {
            message: message.to_string(),
        }
    }

    /// Appends the message (JSON and delimiter) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = WireResponse {
            status: Text(Cow::Borrowed("OK")),
            command: None,
            message: None,
            name: None,
            size: None,
            offset: None,
            length: None,
            received: None,
            saved: None,
            files: None,
            data: None,
        };
        match self {
            Response::Error { message } => {
                w.status = Text(Cow::Borrowed("ERROR"));
                w.message = Some(message.clone());
            }
            Response::List { files } => {
                w.command = Some("LIST".into());
                w.files = Some(files.clone());
            }
            Response::Get {
                name,
                size,
                offset,
                length,
                data,
            } => {
                w.command = Some("GET".into());
                w.name = Some(name.clone());
                w.size = Some(*size);
                w.offset = Some(*offset);
                w.length = Some(*length);
                w.data = Some(Text(Cow::Borrowed(data)));
            }
            Response::Put {
                name,
                received,
                saved,
            } => {
                w.command = Some("PUT".into());
                w.name = Some(name.clone());
                w.received = Some(*received);
                w.saved = Some(*saved);
            }
            Response::Delete { name } => {
                w.command = Some("DELETE".into());
                w.name = Some(name.clone());
            }
        }
        serde_json::to_writer(&mut *out, &w).expect("writing JSON to a Vec cannot fail");
        out.extend_from_slice(DELIMITER);
    }

    /// Parses one message; the `data` of a `GET` answer is borrowed from `msg`.
    ///
    /// # Errors
    /// [`ProtoError`] for invalid JSON, an unknown status or command, or a
    /// field the answer should have and lacks.
    pub fn decode(msg: &'a [u8]) -> Result<Response<'a>, ProtoError> {
        let w: WireResponse<'a> =
            serde_json::from_slice(msg).map_err(|e| json_error(e, "response"))?;
        let missing = |field: &str| ProtoError(format!("response lacks \"{field}\""));
        match &*w.status.0 {
            "ERROR" => {
                return Ok(Response::Error {
                    message: w.message.ok_or_else(|| missing("message"))?,
                })
            }
            "OK" => {}
            other => {
                return Err(ProtoError(format!(
                    "unknown status {}: expected OK or ERROR",
                    quote(other)
                )))
            }
        }
        let command = w.command.ok_or_else(|| missing("command"))?;
        Ok(match command.as_str() {
            "LIST" => Response::List {
                files: w.files.ok_or_else(|| missing("files"))?,
            },
            "GET" => Response::Get {
                name: w.name.ok_or_else(|| missing("name"))?,
                size: w.size.ok_or_else(|| missing("size"))?,
                offset: w.offset.ok_or_else(|| missing("offset"))?,
                length: w.length.ok_or_else(|| missing("length"))?,
                data: w.data.ok_or_else(|| missing("data"))?.0,
            },
            "PUT" => Response::Put {
                name: w.name.ok_or_else(|| missing("name"))?,
                received: w.received.ok_or_else(|| missing("received"))?,
                saved: w.saved.ok_or_else(|| missing("saved"))?,
            },
            "DELETE" => Response::Delete {
                name: w.name.ok_or_else(|| missing("name"))?,
            },
            other => {
                return Err(ProtoError(format!(
                    "unknown command {} in response",
                    quote(other)
                )))
            }
        })
    }
}

/// Appends a successful `GET` answer carrying `bytes` to `out`, encoding
/// the base64 straight into `out` (the same bytes as [`Response::encode`]).
pub fn encode_get_ok(name: &str, size: u64, offset: u64, bytes: &[u8], out: &mut Vec<u8>) {
    encode_get_ok_with(name, size, offset, bytes, out, encode_data);
}

/// [`encode_get_ok`] with another base64 encoder `data` (as
/// [`encode_put_with`]).
pub fn encode_get_ok_with<F>(
    name: &str,
    size: u64,
    offset: u64,
    bytes: &[u8],
    out: &mut Vec<u8>,
    data: F,
) where
    F: FnOnce(&[u8], &mut Vec<u8>),
{
    out.extend_from_slice(b"{\"status\":\"OK\",\"command\":\"GET\",\"name\":");
    serde_json::to_writer(&mut *out, name).expect("writing JSON to a Vec cannot fail");
    out.extend_from_slice(
        format!(
            ",\"size\":{size},\"offset\":{offset},\"length\":{},\"data\":\"",
            bytes.len()
        )
        .as_bytes(),
    );
    data(bytes, out);
    out.extend_from_slice(b"\"}");
    out.extend_from_slice(DELIMITER);
}

/// Seconds since 1970 as an RFC 3339 UTC time, `2026-11-25T08:00:00Z`.
pub fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn strip(msg: &[u8]) -> &[u8] {
        msg.strip_suffix(DELIMITER)
            .expect("ends with the delimiter")
    }

    fn round_trip(req: Request) {
        let mut buf = Vec::new();
        req.encode(&mut buf);
        assert_eq!(Request::decode(strip(&buf)).unwrap(), req);
    }

    #[test]
    fn requests_round_trip() {
        round_trip(Request::List);
        round_trip(Request::Get {
            name: "a b.txt".into(),
            offset: 7,
            length: Some(10),
        });
        round_trip(Request::Get {
            name: "x".into(),
            offset: 0,
            length: None,
        });
        round_trip(Request::Put {
            name: "\"q\".bin".into(),
            offset: 3,
            last: false,
            data: "aGFsbw==".into(),
        });
        round_trip(Request::Delete {
            name: "gambar.png".into(),
        });
    }

    #[test]
    fn request_wire_text_is_compact_json() {
        let mut buf = Vec::new();
        Request::Get {
            name: "a.txt".into(),
            offset: 0,
            length: Some(5),
        }
        .encode(&mut buf);
        assert_eq!(
            buf,
            b"{\"command\":\"GET\",\"name\":\"a.txt\",\"offset\":0,\"length\":5}\r\n\r\n"
        );
    }

    #[test]
    fn put_fast_path_matches_general_encoder_and_borrows() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut fast = Vec::new();
        encode_put("d\u{e9}\"at\\a", 5, true, &bytes, &mut fast);
        let b64 = STANDARD.encode(&bytes);
        let mut slow = Vec::new();
        Request::Put {
            name: "d\u{e9}\"at\\a".into(),
            offset: 5,
            last: true,
            data: b64.as_str().into(),
        }
        .encode(&mut slow);
        assert_eq!(fast, slow);
        let Request::Put { data, .. } = Request::decode(strip(&fast)).unwrap() else {
            panic!("not a PUT");
        };
        assert!(matches!(data, Cow::Borrowed(_)), "data was copied");
        let mut out = vec![1, 2, 3];
        decode_data(&data, &mut out).unwrap();
        assert_eq!(out, bytes);
        for (bad, why) in [
            ("YW*j", "unexpected character '*' at position 2"),
            ("YWJ", "missing or wrong '=' padding at the end"),
            ("YWJjZ", "length 5 is not a multiple of 4"),
            ("YR==", "unexpected character 'R' at position 1"),
        ] {
            let e = decode_data(bad, &mut out).unwrap_err().0;
            assert_eq!(e, format!("data is not valid base64: {why}"), "{bad}");
        }
    }

    #[test]
    fn decoding_in_steps_equals_decoding_at_once() {
        let bytes: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 256) as u8).collect();
        for len in [
            0,
            1,
            2,
            3,
            DECODE_STEP / 4 * 3,
            DECODE_STEP / 4 * 3 + 1,
            700_000,
        ] {
            let mut text = Vec::new();
            encode_data(&bytes[..len], &mut text);
            let text = String::from_utf8(text).unwrap();
            let mut sink = Vec::new();
            let n = decode_data_to(&text, &mut Vec::new(), &mut sink).unwrap();
            assert_eq!((n as usize, &sink[..]), (len, &bytes[..len]));
        }
        // Errors name the position in the whole text, as decode_data does.
        let mut text = "A".repeat(DECODE_STEP * 2);
        text.replace_range(DECODE_STEP + 5..DECODE_STEP + 6, "*");
        let Err(DecodeToError::Data(e)) = decode_data_to(&text, &mut Vec::new(), &mut Vec::new())
        else {
            panic!("bad base64 accepted");
        };
        assert_eq!(
            e.0,
            format!(
                "data is not valid base64: unexpected character '*' at position {}",
                DECODE_STEP + 5
            )
        );
        // Padding in the middle is refused even where a step ends.
        let mut text = "A".repeat(DECODE_STEP - 2);
        text.push_str("==AAAA");
        assert!(decode_data(&text, &mut Vec::new()).is_err());
        assert!(decode_data_to(&text, &mut Vec::new(), &mut Vec::new()).is_err());
    }

    #[test]
    fn escaped_data_still_decodes() {
        let msg = br#"{"command":"PUT","name":"a","data":"aGFs\/w=="}"#;
        let Request::Put { data, last, .. } = Request::decode(msg).unwrap() else {
            panic!("not a PUT");
        };
        assert_eq!(data, "aGFs/w==");
        assert!(last, "last defaults to true");
    }

    #[test]
    fn bad_requests_get_clear_messages() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty message"),
            (b"{\"command\":", "invalid JSON: "),
            (b"[1,2]", "invalid request: "),
            (b"{}", "missing field `command`"),
            (b"{\"command\":\"FETCH\"}", "unknown command \"FETCH\""),
            (b"{\"command\":\"GET\"}", "GET needs a \"name\""),
            (
                b"{\"command\":\"PUT\",\"name\":\"a\"}",
                "PUT needs \"data\"",
            ),
            (
                b"{\"command\":\"LIST\",\"nama\":\"a\"}",
                "unknown field `nama`",
            ),
            (
                b"{\"command\":\"DELETE\",\"name\":\"a\",\"offset\":1}",
                "DELETE does not take a \"offset\"",
            ),
            (
                b"{\"command\":\"GET\",\"name\":\"a\",\"offset\":-1}",
                "invalid request: invalid value",
            ),
            (b"\xff\xfe{}", "invalid JSON"),
        ];
        for (msg, want) in cases {
            let err = Request::decode(msg).unwrap_err().0;
            assert!(
                err.contains(want),
                "{:?}: {err:?} lacks {want:?}",
                String::from_utf8_lossy(msg)
            );
        }
        assert_eq!(
            Request::decode(b"{\"command\":\"list\"}").unwrap(),
            Request::List
        );
    }

    #[test]
    fn responses_round_trip() {
        let all = [
            Response::error("file not found: a.txt"),
            Response::List {
                files: vec![FileInfo::new("a.txt", 5, UNIX_EPOCH)],
            },
            Response::List { files: vec![] },
            Response::Get {
                name: "a".into(),
                size: 10,
                offset: 2,
                length: 3,
                data: "YWJj".into(),
            },
            Response::Put {
                name: "a".into(),
                received: 3,
                saved: false,
            },
            Response::Delete { name: "a".into() },
        ];
        for r in all {
            let mut buf = Vec::new();
            r.encode(&mut buf);
            assert_eq!(Response::decode(strip(&buf)).unwrap(), r);
        }
    }

    #[test]
    fn get_fast_path_matches_general_encoder() {
        let bytes = b"halo dunia\n";
        let mut fast = Vec::new();
        encode_get_ok("halo.txt", 100, 4, bytes, &mut fast);
        let mut slow = Vec::new();
        Response::Get {
            name: "halo.txt".into(),
            size: 100,
            offset: 4,
            length: bytes.len() as u64,
            data: STANDARD.encode(bytes).into(),
        }
        .encode(&mut slow);
        assert_eq!(fast, slow);
        assert!(fast.starts_with(
            b"{\"status\":\"OK\",\"command\":\"GET\",\"name\":\"halo.txt\",\"size\":100,"
        ));
    }

    #[test]
    fn error_response_is_exactly_status_and_message() {
        let mut buf = Vec::new();
        Response::error("no").encode(&mut buf);
        assert_eq!(buf, b"{\"status\":\"ERROR\",\"message\":\"no\"}\r\n\r\n");
        assert!(Response::decode(b"{\"status\":\"MAYBE\"}").is_err());
        assert!(Response::decode(b"{\"status\":\"OK\"}").is_err());
    }

    #[test]
    fn chunk_fits_in_a_message() {
        let mut buf = Vec::new();
        let name = "\u{1}".repeat(MAX_NAME); // worst-case escaping
        encode_put(&name, u64::MAX, false, &vec![0u8; MAX_CHUNK], &mut buf);
        assert!(buf.len() - DELIMITER.len() <= MAX_MESSAGE, "{}", buf.len());
        buf.clear();
        encode_get_ok(&name, u64::MAX, u64::MAX, &vec![0u8; MAX_CHUNK], &mut buf);
        assert!(buf.len() - DELIMITER.len() <= MAX_MESSAGE, "{}", buf.len());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name("gambar.png"), Ok("gambar.png"));
        for bad in [
            "",
            "a/b",
            "../x",
            "/etc/passwd",
            "a\0b",
            ".hidden",
            "..",
            "a\\b",
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(e.starts_with("invalid name "), "{bad:?}: {e}");
        }
        assert!(check_name(&"x".repeat(256))
            .unwrap_err()
            .contains("longer than 255"));
        assert!(check_name("../x").unwrap_err().contains("'..'"));
        // Names Windows cannot store, refused on every OS with the reason.
        for (bad, why) in [
            ("CON", "device names on Windows"),
            ("nul.txt", "device names on Windows"),
            ("a:b", "absolute paths"),
            ("x<y>z", "< > : \" | ? *"),
            ("dot.", "ending in '.' or ' '"),
            ("space ", "ending in '.' or ' '"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(
                e.starts_with("invalid name ") && e.contains(why),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn read_message_splits_on_the_delimiter_and_caps() {
        let mut r = Cursor::new(b"{\"a\":1}\r\n\r\n{}\r\n\r\n".to_vec());
        assert_eq!(read_message(&mut r).unwrap().unwrap(), b"{\"a\":1}");
        assert_eq!(read_message(&mut r).unwrap().unwrap(), b"{}");
        assert!(read_message(&mut r).unwrap().is_none());
        let mut r = Cursor::new(vec![b'x'; MAX_MESSAGE + 10]);
        assert!(matches!(
            read_message(&mut r),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_507_201), "2026-11-24T08:00:01Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}
