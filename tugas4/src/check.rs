//! The grader's check for Tugas 4: tests a file server (Python, Java,
//! ours, ...) against this workspace's JSON protocol (`PROTOCOL.md`).
//!
//! ```text
//! cargo run -p tugas4 --bin check                               # 127.0.0.1:6666
//! cargo run -p tugas4 --bin check -- --host 10.0.0.5 --port 6666
//! cargo run -p tugas4 --bin check -- --skip-protocol            # a student's own protocol
//! ```
//!
//! The assignment lets every student design an own protocol, so apart from
//! requirement 1 everything here assumes ours (one JSON object per message,
//! ended by `\r\n\r\n`, file bytes in base64; see `PROTOCOL.md`), and
//! `--skip-protocol` skips it. Requirements, in order of importance:
//!
//! 1. the server accepts a TCP connection;
//! 2. `LIST` answers `OK` with a list of files, the response one JSON
//!    object ended by `\r\n\r\n`;
//! 3. `PUT` of a small file, then `GET` returns the same bytes;
//! 4. `GET` of a byte range returns exactly those bytes;
//! 5. the new file is in `LIST` with its size;
//! 6. `DELETE`, then `GET` gives `ERROR`;
//! 7. malformed JSON gets an `ERROR` response, and the server still
//!    answers the next request;
//! 8. a message over the 4 MiB limit is refused (`ERROR` or a close), and
//!    nothing is stored.
//!
//! The test file gets a unique name (`check-<pid>-<time>.bin`) so nothing
//! of the grader's folder is overwritten, and is deleted at the end.

use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use common::check::{self, difference, show, CheckOptions, Checker, Conn, Failure};
use common::cli::Command;
use common::fileproto::{decode_data, encode_data, DELIMITER, MAX_MESSAGE};
use serde_json::{json, Value};

use crate::DEFAULT_PORT_FLAG;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 4 grader's check: tests a JSON file server (any language) against PROTOCOL.md.",
    args: "",
    flags: &[
        check::host(),
        check::port(DEFAULT_PORT_FLAG),
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
    ],
};

/// Size of the test file (every byte value, several base64 lines' worth).
pub const FILE_SIZE: usize = 3000;
/// The byte range asked for by requirement 4.
pub const RANGE: (usize, usize) = (1000, 100);
/// Longest response read (a `LIST` of a big folder stays well below).
const RESPONSE_CAP: usize = MAX_MESSAGE + 1024;
/// Bytes per write of the oversized message.
const BLOCK: usize = 64 * 1024;

/// The bytes of the test file: every byte value, no short period.
pub fn test_file() -> Vec<u8> {
    (0..FILE_SIZE).map(|i| (i * 7 + i / 256) as u8).collect()
}

/// A name no grader's file has: `check-<pid>-<nanoseconds>.bin`.
pub fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("check-{}-{nanos}.bin", std::process::id())
}

/// Runs every Tugas 4 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker) {
    c.note(
        "assumes this workspace's protocol (tugas4/PROTOCOL.md: JSON + \"\\r\\n\\r\\n\", \
         base64 data); --skip-protocol checks only that a connection is accepted",
    );
    c.check("the server accepts a TCP connection", |o| {
        o.connect().map(drop)
    });
    let name = unique_name();
    let data = test_file();
    c.protocol_check(
        "LIST answers OK with a list of files (one JSON object ending in \"\\r\\n\\r\\n\")",
        |o| {
            let r = ask(o, &json!({"command": "LIST"}), "the LIST response")?;
            match r.value.get("files") {
                Some(Value::Array(_)) => Ok(()),
                _ => Err(r.fail("the LIST response has no \"files\" array")),
            }
        },
    );
    c.protocol_check(
        format!("PUT of a small file ({FILE_SIZE} bytes), then GET returns the same bytes"),
        |o| {
            ask(o, &put(&name, &data), "the PUT response")?;
            let got = get(o, &json!({"command": "GET", "name": name}))?;
            match difference(&data, &got) {
                None => Ok(()),
                Some(d) => Err(Failure::new(format!("the file from GET {d}"))),
            }
        },
    );
    c.protocol_check(
        format!(
            "GET of a byte range (offset {}, length {}) returns exactly those bytes",
            RANGE.0, RANGE.1
        ),
        |o| {
            let (offset, length) = RANGE;
            let req = json!({"command": "GET", "name": name, "offset": offset, "length": length});
            let got = get(o, &req)?;
            match difference(&data[offset..offset + length], &got) {
                None => Ok(()),
                Some(d) => Err(Failure::new(format!("the range from GET {d}"))),
            }
        },
    );
    c.protocol_check("the new file is in LIST with its size", |o| {
        let r = ask(o, &json!({"command": "LIST"}), "the LIST response")?;
        let files = r.value.get("files").and_then(Value::as_array);
        let entry = files.and_then(|f| f.iter().find(|e| e.get("name") == Some(&json!(name))));
        match entry.map(|e| e.get("size").and_then(Value::as_u64)) {
            Some(Some(n)) if n == FILE_SIZE as u64 => Ok(()),
            Some(size) => Err(r.fail(format!(
                "{name} is listed with size {size:?} instead of {FILE_SIZE}"
            ))),
            None => Err(r.fail(format!("{name} is not in the list"))),
        }
    });
    c.protocol_check("DELETE, then GET gives ERROR", |o| {
        ask(
            o,
            &json!({"command": "DELETE", "name": name}),
            "the DELETE response",
        )?;
        expect_error(
            o,
            &json!({"command": "GET", "name": name}),
            "the GET after DELETE",
        )
    });
    c.protocol_check(
        "malformed JSON gets an ERROR response, and the server still answers the next request",
        |o| {
            let mut conn = o.connect()?;
            conn.send(b"{\"command\": \"LIST\", oops\r\n\r\n", "malformed JSON")?;
            let r = response(conn, "the answer to malformed JSON")?;
            if status(&r.value) != Some("ERROR") {
                return Err(r.fail("expected status ERROR"));
            }
            ask(
                o,
                &json!({"command": "LIST"}),
                "the LIST response on a new connection",
            )
            .map(drop)
        },
    );
    c.protocol_check(
        format!("a message over the limit ({MAX_MESSAGE} bytes) is refused, and nothing is stored"),
        |o| {
            let big = unique_name();
            oversized(o, &big)?;
            expect_error(
                o,
                &json!({"command": "GET", "name": big}),
                "the GET of the refused file",
            )
        },
    );
}

/// A response read and parsed, with its connection's transcript.
struct Response {
    value: Value,
    conn: Conn,
}

impl Response {
    fn fail(&self, reason: impl Into<String>) -> Failure {
        self.conn.fail(reason)
    }
}

fn status(v: &Value) -> Option<&str> {
    v.get("status").and_then(Value::as_str)
}

/// A PUT of the whole file in one piece.
fn put(name: &str, data: &[u8]) -> Value {
    let mut b64 = Vec::new();
    encode_data(data, &mut b64);
    json!({"command": "PUT", "name": name, "data": String::from_utf8_lossy(&b64)})
}

/// Sends `req` on a new connection and requires an `OK` response.
fn ask(o: &CheckOptions, req: &Value, what: &str) -> Result<Response, Failure> {
    let r = send_request(o, req, what)?;
    if status(&r.value) != Some("OK") {
        return Err(r.fail(format!("expected status OK in {what}")));
    }
    Ok(r)
}

/// Sends `req` on a new connection and requires an `ERROR` response.
fn expect_error(o: &CheckOptions, req: &Value, what: &str) -> Result<(), Failure> {
    let r = send_request(o, req, what)?;
    if status(&r.value) != Some("ERROR") {
        return Err(r.fail(format!("expected status ERROR in {what}")));
    }
    Ok(())
}

fn send_request(o: &CheckOptions, req: &Value, what: &str) -> Result<Response, Failure> {
    let mut conn = o.connect()?;
    let mut msg = req.to_string().into_bytes();
    msg.extend_from_slice(DELIMITER);
    conn.send(&msg, "the request")?;
    response(conn, what)
}

/// Reads one response (up to `\r\n\r\n`) and parses its JSON object.
fn response(mut conn: Conn, what: &str) -> Result<Response, Failure> {
    match conn.recv_until(DELIMITER, RESPONSE_CAP, what) {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) if value.is_object() => Ok(Response { value, conn }),
            Ok(_) => Err(conn.fail(format!("{what} is JSON but not an object"))),
            Err(e) => Err(conn.fail(format!("{what} is not valid JSON: {e}"))),
        },
        Err(mut f) => {
            if f.reason.starts_with("timed out") || f.reason.contains("closed the connection in") {
                f.reason
                    .push_str(" (a response ends in \"\\r\\n\\r\\n\"; nothing like it came)");
            }
            Err(f)
        }
    }
}

/// Sends a GET and returns the decoded `data` of its `OK` response.
fn get(o: &CheckOptions, req: &Value) -> Result<Vec<u8>, Failure> {
    let r = ask(o, req, "the GET response")?;
    let Some(text) = r.value.get("data").and_then(Value::as_str) else {
        return Err(r.fail("the GET response has no \"data\" string"));
    };
    let mut bytes = Vec::new();
    decode_data(text, &mut bytes).map_err(|e| r.fail(format!("in the GET response: {e}")))?;
    Ok(bytes)
}

/// Sends a PUT of `name` larger than [`MAX_MESSAGE`] while reading the
/// answer; `Ok` if it is `ERROR` or the server closes without one.
fn oversized(o: &CheckOptions, name: &str) -> Result<(), Failure> {
    let mut conn = o.connect()?;
    let head = format!("{{\"command\":\"PUT\",\"name\":\"{name}\",\"data\":\"");
    let mut writer = conn
        .stream()
        .try_clone()
        .map_err(|e| Failure::new(format!("cannot send: {e}")))?;
    let _ = writer.set_write_timeout(Some(o.timeout));
    let answer = thread::scope(|s| {
        let head = head.as_str();
        s.spawn(move || {
            let block = vec![b'A'; BLOCK];
            let mut r = writer.write_all(head.as_bytes());
            for _ in 0..MAX_MESSAGE / BLOCK + 1 {
                if r.is_err() {
                    break;
                }
                r = writer.write_all(&block);
            }
            if r.is_ok() {
                let _ = writer.write_all(b"\"}\r\n\r\n");
            }
        });
        let answer = conn.recv_until(DELIMITER, 64 * 1024, "the answer to the oversized message");
        // Stop the writer now whatever happened (it may be blocked).
        let _ = conn.stream().shutdown(Shutdown::Both);
        answer
    });
    const BLOCKS: usize = MAX_MESSAGE / BLOCK + 1;
    let prefix = format!("{head}AAAA");
    let sent = show(prefix.as_bytes(), (head.len() + BLOCKS * BLOCK + 6) as u64);
    match answer {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if status(&v) == Some("ERROR") => Ok(()),
            _ => Err(Failure {
                reason: "expected an ERROR response to the oversized message".into(),
                sent: Some(sent),
                got: Some(show(&bytes, bytes.len() as u64)),
            }),
        },
        // Refusing by closing the connection is a refusal too.
        Err(f) if f.reason.contains("closed the connection") || f.reason.contains("reset") => {
            Ok(())
        }
        Err(f) => Err(Failure {
            reason: f.reason,
            sent: Some(sent),
            got: f.got,
        }),
    }
}
