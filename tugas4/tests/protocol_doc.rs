//! PROTOCOL.md is checked against the real server: every ```json request
//! block is sent, in order, on one connection to a server whose folder
//! holds what the document says (`halo.txt` = "halo dunia\n"), and the
//! answer must equal the ```json response block that follows it. Only
//! `modified` and `modified_unix` may differ, and must still have their
//! documented shape.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;

use serde_json::Value;
use support::{start, Raw, TempDir};

const DOC: &str = include_str!("../PROTOCOL.md");

/// The fields whose values depend on when the test runs.
const VARYING: [&str; 2] = ["modified", "modified_unix"];

/// The ```json request / ```json response blocks, in document order.
fn blocks(doc: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let kind = match line.trim() {
            "```json request" => "request",
            "```json response" => "response",
            _ => continue,
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        out.push((kind, body.join("\n")));
    }
    out
}

/// Whether `got` equals `want`, with the varying fields matched by shape.
fn matches(want: &Value, got: &Value, key: Option<&str>) -> Result<(), String> {
    match key {
        Some("modified") => {
            let s = got.as_str().ok_or("modified is not a string")?;
            let b = s.as_bytes();
            let shape_ok = b.len() == 20
                && b.iter().enumerate().all(|(i, c)| match i {
                    4 | 7 => *c == b'-',
                    10 => *c == b'T',
                    13 | 16 => *c == b':',
                    19 => *c == b'Z',
                    _ => c.is_ascii_digit(),
                });
            return if shape_ok && want.is_string() {
                Ok(())
            } else {
                Err(format!("modified {s:?} is not RFC 3339 UTC"))
            };
        }
        Some("modified_unix") => {
            return match (want.as_u64(), got.as_u64()) {
                (Some(_), Some(_)) => Ok(()),
                _ => Err(format!("modified_unix {got} is not a whole number")),
            }
        }
        _ => {}
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let wk: Vec<&String> = w.keys().collect();
            let gk: Vec<&String> = g.keys().collect();
            if wk != gk {
                return Err(format!("fields differ: documented {wk:?}, got {gk:?}"));
            }
            for (k, wv) in w {
                matches(wv, &g[k], Some(k))?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (wv, gv) in w.iter().zip(g) {
                matches(wv, gv, None)?;
            }
            Ok(())
        }
        _ if want == got => Ok(()),
        _ => Err(format!("documented {want}, got {got}")),
    }
}

/// The text with the varying values replaced by `_`, for an exact
/// comparison of everything else (field order and spelling included).
fn blank_varying(text: &str) -> String {
    let mut out = text.to_string();
    for key in VARYING {
        let marker = format!("\"{key}\":");
        let mut from = 0;
        while let Some(i) = out[from..].find(&marker) {
            let start = from + i + marker.len();
            let rest = &out[start..];
            let len = if let Some(quoted) = rest.strip_prefix('"') {
                quoted.find('"').map_or(rest.len(), |j| j + 2)
            } else {
                rest.find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len())
            };
            out.replace_range(start..start + len, "_");
            from = start + 1;
        }
    }
    out
}

#[test]
fn every_documented_example_is_what_the_server_answers() {
    let dir = TempDir::new("doc");
    fs::write(dir.path().join("halo.txt"), b"halo dunia\n").unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    let mut raw = Raw::connect(addr);

    let blocks = blocks(DOC);
    assert!(
        blocks.len() >= 30,
        "only {} example blocks found",
        blocks.len()
    );
    assert!(blocks.len() % 2 == 0, "a request without its response");
    let mut covered = BTreeSet::new();
    for pair in blocks.chunks(2) {
        let [(k1, request), (k2, response)] = pair else {
            unreachable!()
        };
        assert_eq!(
            (*k1, *k2),
            ("request", "response"),
            "blocks must alternate: {request}"
        );
        assert!(!request.contains('\n'), "one line per request: {request}");

        raw.stream.write_all(request.as_bytes()).unwrap();
        raw.stream.write_all(b"\r\n\r\n").unwrap();
        let msg = common::fileproto::read_message(&mut raw.reader)
            .unwrap()
            .expect("the server answered");
        let got_text = String::from_utf8(msg).unwrap();
        let got: Value = serde_json::from_str(&got_text).unwrap();
        let want: Value = serde_json::from_str(response)
            .unwrap_or_else(|e| panic!("documented response is not JSON ({e}): {response}"));
        if let Err(why) = matches(&want, &got, None) {
            panic!("request {request}\n  documented {response}\n  server     {got_text}\n  {why}");
        }
        assert_eq!(
            blank_varying(&got_text),
            blank_varying(response),
            "exact text differs for {request}"
        );
        assert!(!got_text.contains('\n'), "one line per answer: {got_text}");
        if let Ok(req) = serde_json::from_str::<Value>(request) {
            if let Some(cmd) = req["command"].as_str() {
                covered.insert((cmd.to_string(), got["status"].as_str().unwrap().to_string()));
            }
        }
    }
    for cmd in ["LIST", "GET", "PUT", "DELETE"] {
        for status in ["OK", "ERROR"] {
            assert!(
                covered.contains(&(cmd.to_string(), status.to_string())),
                "PROTOCOL.md lacks an example of {cmd} answered {status}"
            );
        }
    }
    // The folder ends as the examples say.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bagian.txt", "halo.txt"]);
    assert_eq!(
        fs::read(dir.path().join("bagian.txt")).unwrap(),
        b"bagian satu, bagian dua\n"
    );
}

#[test]
fn the_documented_oversize_answer_is_the_real_one() {
    let dir = TempDir::new("doc-oversize");
    let server = start(dir.path());
    let addr = server.addr();
    let mut raw = Raw::connect(addr);
    let mut writer = raw.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let block = vec![b'x'; 1024 * 1024];
        for _ in 0..5 {
            writer.write_all(&block)?;
        }
        Ok::<(), std::io::Error>(())
    });
    let msg = common::fileproto::read_message(&mut raw.reader)
        .unwrap()
        .unwrap();
    let text = String::from_utf8(msg).unwrap();
    assert!(text.contains("larger than the limit"), "{text}");
    assert!(
        DOC.contains(&format!("```text\n{text}\n```")),
        "PROTOCOL.md should show the answer {text}"
    );
    let _ = sender.join().unwrap();
}

#[test]
fn blocks_are_found_and_varying_fields_are_matched_by_shape_only() {
    let doc = "x\n```json request\n{\"command\":\"LIST\"}\n```\n```json response\n{}\n```\n";
    let b = blocks(doc);
    assert_eq!(
        b,
        [
            ("request", "{\"command\":\"LIST\"}".to_string()),
            ("response", "{}".to_string())
        ]
    );
    assert_eq!(
        blank_varying(r#"{"modified":"2026-01-01T00:00:00Z","modified_unix":17,"size":3}"#),
        r#"{"modified":_,"modified_unix":_,"size":3}"#
    );
    let want: Value = serde_json::from_str(
        r#"{"files":[{"name":"a","modified":"2026-01-01T00:00:00Z","modified_unix":1}]}"#,
    )
    .unwrap();
    let same_shape: Value = serde_json::from_str(
        r#"{"files":[{"name":"a","modified":"1999-12-31T23:59:59Z","modified_unix":5}]}"#,
    )
    .unwrap();
    assert!(matches(&want, &same_shape, None).is_ok());
    for bad in [
        r#"{"files":[{"name":"b","modified":"1999-12-31T23:59:59Z","modified_unix":5}]}"#,
        r#"{"files":[{"name":"a","modified":"yesterday","modified_unix":5}]}"#,
        r#"{"files":[{"name":"a","modified":"1999-12-31T23:59:59Z","modified_unix":"5"}]}"#,
        r#"{"files":[{"name":"a","modified_unix":5,"modified":"1999-12-31T23:59:59Z"}],"x":1}"#,
        r#"{"files":[]}"#,
    ] {
        let got: Value = serde_json::from_str(bad).unwrap();
        assert!(
            matches(&want, &got, None).is_err(),
            "{bad} should not match"
        );
    }
}

/// The text of the ```text block that follows `heading` in the document.
fn text_block_after(heading: &str) -> &'static str {
    let at = DOC
        .find(heading)
        .unwrap_or_else(|| panic!("{heading} missing"));
    let rest = &DOC[at..];
    let start = rest.find("```text\n").expect("a text block") + "```text\n".len();
    let len = rest[start..].find("\n```").expect("the block ends");
    &rest[start..start + len]
}

#[test]
fn the_documented_limit_answers_are_the_real_ones() {
    use common::fileproto::{encode_put, MAX_CHUNK};
    let dir = TempDir::new("doc-limits");
    // A PUT piece one byte over 2 MiB: refused, the connection kept.
    let server = start(dir.path());
    let mut raw = Raw::connect(server.addr());
    let mut msg = Vec::new();
    encode_put("besar.bin", 0, true, &vec![0u8; MAX_CHUNK + 1], &mut msg);
    raw.stream.write_all(&msg).unwrap();
    let answer = common::fileproto::read_message(&mut raw.reader)
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        text_block_after("### Bagian PUT terlalu besar")
    );
    assert_eq!(raw.ask(r#"{"command":"LIST"}"#)["status"], "OK");

    // A message not complete within --timeout 1: the documented answer.
    let server = support::start_with_timeout(dir.path(), std::time::Duration::from_secs(1));
    let mut raw = Raw::connect(server.addr());
    raw.stream.write_all(br#"{"command":"LI"#).unwrap();
    let answer = common::fileproto::read_message(&mut raw.reader)
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(answer).unwrap(),
        text_block_after("### Pesan yang terlalu lambat")
    );
    assert!(raw.closed());
}

#[test]
fn the_documented_limits_are_the_servers_and_the_clients() {
    use common::fileproto::{MAX_CHUNK, MAX_MESSAGE};
    let mib = |n: usize| n / (1024 * 1024);
    for (what, text) in [
        (
            "message limit",
            format!("**{} MiB** ({MAX_MESSAGE} byte", mib(MAX_MESSAGE)),
        ),
        (
            "piece limit",
            format!("**{} MiB** ({MAX_CHUNK} byte", mib(MAX_CHUNK)),
        ),
        (
            "piece in base64",
            format!("{} karakter base64", MAX_CHUNK.div_ceil(3) * 4),
        ),
        (
            "memory budget",
            format!("**{} MiB** bersama", mib(tugas4::DEFAULT_MAX_BUFFERED)),
        ),
        (
            "timeout",
            format!("selama {} detik", tugas4::DEFAULT_TIMEOUT.as_secs()),
        ),
        ("port", format!("port **{}**", tugas4::DEFAULT_PORT)),
    ] {
        assert!(
            DOC.contains(&text),
            "PROTOCOL.md should say {text:?} ({what})"
        );
    }
    // The client sends pieces of at most the documented size.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let client = tugas4::Client::new(stream).unwrap();
    assert!(client.chunk <= MAX_CHUNK, "{}", client.chunk);
}
