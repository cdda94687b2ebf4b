//! The grader's check against our own server (all pass, recognised as
//! ours), against fakes of the conventions students use (each passes every
//! required line and is recognised), and against broken servers (the
//! right requirement fails, by id, fast).

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::check::{CheckOptions, Kind, Report};
use common::fileproto::{decode_data, encode_data, MAX_MESSAGE};
use common::testkit::check::{
    closed_port, fake_server, finishes_within, parse_options, run_check, silent, PATIENT, SHORT,
};
use serde_json::{json, Value};
use support::{start, TempDir};
use tugas4::check::{run, CHECK};

const REQUIRED: [&str; 4] = ["json", "put", "get", "list"];
const OURS_EXTRAS: [&str; 7] = [
    "missing-file",
    "malformed-json",
    "traversal",
    "answer-framing",
    "get-range",
    "delete",
    "oversized",
];

fn check(port: u16, timeout: Duration, skip_protocol: bool) -> Report {
    let opts = CheckOptions {
        skip_protocol,
        ..CheckOptions::local(port, timeout)
    };
    run_check(opts, run)
}

/// Ids of the failed requirements of `kind`.
fn failed(r: &Report, kind: Kind) -> Vec<&str> {
    r.requirements
        .iter()
        .filter(|o| o.failed() && o.kind == kind)
        .map(|o| o.id.as_str())
        .collect()
}

fn ids(r: &Report, kind: Kind) -> Vec<&str> {
    r.requirements
        .iter()
        .filter(|o| o.kind == kind)
        .map(|o| o.id.as_str())
        .collect()
}

fn reason<'r>(r: &'r Report, id: &str) -> &'r str {
    r.by_id(id)
        .and_then(|o| o.reason.as_deref())
        .unwrap_or_else(|| panic!("{id} has no reason: {}", r.text()))
}

fn b64(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    encode_data(bytes, &mut out);
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------
// Fakes of students' servers, in the shapes the course's students chose.

/// How a fake student server reads a request.
#[derive(Clone, Copy, PartialEq)]
enum Ends {
    /// Lines: each line one request, many per connection.
    Newline,
    /// Everything until the client's half-close is one request.
    HalfClose,
    /// One request up to "\r\n\r\n", answered, then the connection closed.
    BlankLine,
}

/// What a fake student server gets wrong.
#[derive(Clone, Copy, PartialEq, Default)]
enum Bug {
    #[default]
    None,
    /// GET returns the file with one byte changed.
    CorruptGet,
    /// PUT answers OK and stores nothing.
    NeverSaves,
    /// GET serves any path, /etc/passwd too (from a fake root).
    ServesAnyPath,
    /// A GET of a missing file kills the server (every later connection
    /// is closed at once).
    DiesOnMissing,
}

/// A student's convention: framing, key names, verbs, answer shapes.
#[derive(Clone, Copy)]
struct Student {
    ends: Ends,
    command_key: &'static str,
    /// LIST, GET, PUT.
    verbs: [&'static str; 3],
    name_key: &'static str,
    content_key: &'static str,
    status_key: &'static str,
    ok: &'static str,
    error: &'static str,
    list_key: &'static str,
    /// Where a GET answer holds the base64 content.
    answer_content_key: &'static str,
    /// List entries as {"name": .., "size": ..} objects instead of names.
    entries_as_objects: bool,
    bug: Bug,
}

/// `{"command":"list"}` + "\n" -> `{"status":"OK","data":[...]}`.
const NEWLINE: Student = Student {
    ends: Ends::Newline,
    command_key: "command",
    verbs: ["list", "get", "put"],
    name_key: "filename",
    content_key: "content",
    status_key: "status",
    ok: "OK",
    error: "ERROR",
    list_key: "data",
    answer_content_key: "content",
    entries_as_objects: false,
    bug: Bug::None,
};

/// `{"cmd":"upload","filename":..,"content":..}` then a half-close ->
/// `{"result":"success",...}`; the list as objects with sizes.
const HALF_CLOSE: Student = Student {
    ends: Ends::HalfClose,
    command_key: "cmd",
    verbs: ["LIST", "DOWNLOAD", "UPLOAD"],
    name_key: "filename",
    content_key: "content",
    status_key: "result",
    ok: "success",
    error: "failed",
    list_key: "files",
    answer_content_key: "data",
    entries_as_objects: true,
    bug: Bug::None,
};

/// Indonesian keys and `\r\n\r\n`: `{"perintah":"letakkan","nama_file":..,"isi":..}`.
const INDONESIAN: Student = Student {
    ends: Ends::BlankLine,
    command_key: "perintah",
    verbs: ["ls", "ambil", "letakkan"],
    name_key: "nama_file",
    content_key: "isi",
    status_key: "status",
    ok: "sukses",
    error: "gagal",
    list_key: "daftar_file",
    answer_content_key: "isi",
    entries_as_objects: false,
    bug: Bug::None,
};

/// Starts a fake of `st` on a free port.
fn student(st: Student) -> u16 {
    let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let dead = Arc::new(AtomicBool::new(false));
    fake_server(move |s| {
        if dead.load(Ordering::SeqCst) {
            return;
        }
        serve_student(s, st, &files, &dead)
    })
}

fn serve_student(
    s: TcpStream,
    st: Student,
    files: &Mutex<HashMap<String, Vec<u8>>>,
    dead: &AtomicBool,
) {
    let mut writer = s.try_clone().unwrap();
    let mut reader = BufReader::new(s);
    // At most a few requests per connection; the check uses one each.
    for _ in 0..100 {
        let mut msg = Vec::new();
        let got = match st.ends {
            Ends::Newline => reader.read_until(b'\n', &mut msg),
            Ends::HalfClose => reader.read_to_end(&mut msg),
            Ends::BlankLine => loop {
                let mut byte = [0u8; 1];
                match reader.read(&mut byte) {
                    Ok(1) => msg.push(byte[0]),
                    other => break other,
                }
                if msg.ends_with(b"\r\n\r\n") {
                    break Ok(msg.len());
                }
            },
        };
        if !matches!(got, Ok(1..)) {
            return;
        }
        if st.ends == Ends::BlankLine && !msg.ends_with(b"\r\n\r\n") {
            return; // closed in the middle
        }
        // Like a Python server: json.loads, then req["key"]; a KeyError or
        // bad JSON ends the connection without an answer.
        let Ok(req) = serde_json::from_slice::<Value>(&msg) else {
            return;
        };
        let Some(verb) = req.get(st.command_key).and_then(Value::as_str) else {
            return;
        };
        let name = req.get(st.name_key).and_then(Value::as_str).unwrap_or("");
        let ok = |mut v: Value| {
            v[st.status_key] = json!(st.ok);
            v
        };
        let error = |message: &str| json!({st.status_key: st.error, "message": message});
        let answer = if verb == st.verbs[0] {
            let files = files.lock().unwrap();
            let mut names: Vec<&String> = files.keys().collect();
            names.sort();
            let list: Vec<Value> = names
                .iter()
                .map(|n| {
                    if st.entries_as_objects {
                        json!({"name": n, "size": files[*n].len()})
                    } else {
                        json!(n)
                    }
                })
                .collect();
            ok(json!({st.list_key: list}))
        } else if verb == st.verbs[1] {
            let found = if st.bug == Bug::ServesAnyPath && name.ends_with("etc/passwd") {
                Some(b"root:x:0:0:root:/root:/bin/bash\n".to_vec())
            } else {
                files.lock().unwrap().get(name).cloned()
            };
            match found {
                None if st.bug == Bug::DiesOnMissing => {
                    dead.store(true, Ordering::SeqCst);
                    return;
                }
                None => error("file not found"),
                Some(mut data) => {
                    if st.bug == Bug::CorruptGet {
                        data[100] ^= 0x20;
                    }
                    ok(json!({st.answer_content_key: b64(&data), "filename": name}))
                }
            }
        } else if verb == st.verbs[2] {
            let text = req
                .get(st.content_key)
                .and_then(Value::as_str)
                .unwrap_or("");
            let mut data = Vec::new();
            if name.is_empty() || decode_data(text, &mut data).is_err() {
                error("bad upload")
            } else {
                if st.bug != Bug::NeverSaves {
                    files.lock().unwrap().insert(name.to_string(), data);
                }
                ok(json!({"message": "file tersimpan"}))
            }
        } else {
            error("unknown command")
        };
        let mut out = answer.to_string().into_bytes();
        out.extend_from_slice(match st.ends {
            Ends::BlankLine => b"\r\n\r\n",
            _ => b"\n",
        });
        if writer.write_all(&out).is_err() || st.ends != Ends::Newline {
            return;
        }
    }
}

fn with_bug(st: Student, bug: Bug) -> Student {
    Student { bug, ..st }
}

#[test]
fn a_newline_server_with_its_own_keys_passes_every_required_line() {
    let r = check(student(NEWLINE), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(ids(&r, Kind::Required), REQUIRED);
    let conv = r.convention.as_deref().unwrap();
    assert!(
        conv.starts_with("one JSON object per request ended by a newline; the command under \"command\", LIST as \"list\"; answered by one JSON object, status under \"status\", the list under \"data\""),
        "{conv}"
    );
    assert!(
        r.notes.iter().any(
            |n| n.contains("PUT as \"put\" with the name under \"filename\"")
                && n.contains("the answer's content under \"content\"")
        ),
        "{}",
        r.text()
    );
    // No delete: said so, not failed.
    assert!(r.by_id("delete").is_none(), "{}", r.text());
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("no DELETE command found")),
        "{}",
        r.text()
    );
}

#[test]
fn a_half_close_server_in_upper_case_is_recognised_as_such() {
    let r = check(student(HALF_CLOSE), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
    let conv = r.convention.as_deref().unwrap();
    assert!(
        conv.starts_with("one JSON object per request, its end shown by a half-close")
            && conv.contains("the command under \"cmd\", LIST as \"LIST\"")
            && conv.contains("status under \"result\", the list under \"files\""),
        "{conv}"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("PUT as \"UPLOAD\"") && n.contains("GET as \"DOWNLOAD\"")),
        "{}",
        r.text()
    );
}

#[test]
fn a_blank_line_server_with_indonesian_keys_passes_every_required_line() {
    let r = check(student(INDONESIAN), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
    let conv = r.convention.as_deref().unwrap();
    assert!(
        conv.starts_with("one JSON object per request ended by \"\\r\\n\\r\\n\"; the command under \"perintah\", LIST as \"ls\"")
            && conv.contains("the list under \"daftar_file\""),
        "{conv}"
    );
    assert!(
        r.notes.iter().any(
            |n| n.contains("PUT as \"letakkan\" with the name under \"nama_file\"")
                && n.contains("GET as \"ambil\", the answer's content under \"isi\"")
        ),
        "{}",
        r.text()
    );
}

#[test]
fn a_get_that_changes_a_byte_fails_the_get_line() {
    let r = check(student(with_bug(NEWLINE, Bug::CorruptGet)), PATIENT, false);
    assert_eq!(failed(&r, Kind::Required), ["get"], "{}", r.text());
    assert_eq!(
        reason(&r, "get"),
        "the file from GET differs at byte 100 of 3000 (expected \"\\xbc\", got \"\\x9c\")"
    );
    assert_eq!(r.exit_code, 1);
}

#[test]
fn an_upload_that_stores_nothing_fails_the_put_line() {
    let r = check(
        student(with_bug(INDONESIAN, Bug::NeverSaves)),
        PATIENT,
        false,
    );
    assert_eq!(
        failed(&r, Kind::Required),
        ["put", "get", "list"],
        "{}",
        r.text()
    );
    let why = reason(&r, "put");
    assert!(
        why.contains("was answered")
            && why.contains("LIST does not show the file and GET does not return it"),
        "{why}"
    );
    assert!(reason(&r, "get").starts_with("not tried: the PUT did not work"));
}

#[test]
fn a_list_under_a_name_not_known_fails_only_the_list_line() {
    let st = Student {
        verbs: ["daftar", "get", "put"],
        ..NEWLINE
    };
    let r = check(student(st), PATIENT, false);
    assert_eq!(failed(&r, Kind::Required), ["list"], "{}", r.text());
    assert_eq!(
        reason(&r, "list"),
        "no LIST request was understood (see the JSON requirement)"
    );
    let conv = r.convention.as_deref().unwrap();
    assert!(conv.contains("no LIST understood"), "{conv}");
    // Without a LIST, a GET tells that the server lives on.
    assert!(failed(&r, Kind::Extra).is_empty(), "{}", r.text());
}

#[test]
fn a_server_serving_any_path_fails_only_the_traversal_extra() {
    let r = check(
        student(with_bug(HALF_CLOSE, Bug::ServesAnyPath)),
        PATIENT,
        false,
    );
    assert!(failed(&r, Kind::Required).is_empty(), "{}", r.text());
    assert_eq!(failed(&r, Kind::Extra), ["traversal"], "{}", r.text());
    assert_eq!(
        reason(&r, "traversal"),
        "GET of \"../../../../../../../../etc/passwd\" returned 32 bytes under \"data\" \
         (a file outside its folder: /etc/passwd)"
    );
    // Extras do not grade, unless --strict.
    assert_eq!(r.exit_code, 0);
}

#[test]
fn a_server_dying_on_a_missing_file_fails_that_extra() {
    let r = check(
        student(with_bug(NEWLINE, Bug::DiesOnMissing)),
        PATIENT,
        false,
    );
    assert!(failed(&r, Kind::Required).is_empty(), "{}", r.text());
    let extras = failed(&r, Kind::Extra);
    assert_eq!(extras.first(), Some(&"missing-file"), "{}", r.text());
    assert!(
        reason(&r, "missing-file")
            .starts_with("the server closed the connection without sending the answer to GET"),
        "{}",
        r.text()
    );
}

#[test]
fn a_server_answering_text_fails_the_json_line_showing_what_it_said() {
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 4096];
        if let Ok(1..) = s.read(&mut buf) {
            let _ = s.write_all(b"OK daftar file: halo.txt\n");
        }
    });
    let r = check(port, PATIENT, false);
    assert_eq!(failed(&r, Kind::Required), REQUIRED, "{}", r.text());
    let o = r.by_id("json").unwrap();
    let why = o.reason.as_deref().unwrap();
    assert!(
        why.starts_with("no LIST request was answered by a JSON object (tried 6,")
            && why.ends_with("the answer to LIST is not JSON: it starts with \"O\""),
        "{why}"
    );
    assert_eq!(o.got.as_deref(), Some("\"OK daftar file: halo.txt\\n\""));
    assert!(
        o.sent
            .as_deref()
            .unwrap()
            .starts_with("\"{\\\"action\\\":\\\"list\\\""),
        "{o:?}"
    );
    assert!(r.convention.is_none());
    assert!(reason(&r, "put").starts_with("not tried: no JSON convention"));
    assert!(r
        .text()
        .contains("ASSIGNMENTS.md: \"Gunakan format JSON untuk tugas ini\""));
}

/// What an in-memory look-alike of our server gets wrong.
#[derive(Clone, Copy, Default)]
struct Bugs {
    /// GET returns the file with its first byte changed.
    flip_get: bool,
    /// Responses end in "\n" instead of "\r\n\r\n".
    newline_only: bool,
    /// No size limit: a huge PUT is stored.
    no_limit: bool,
}

/// A small in-memory server speaking our protocol, with `bugs`.
fn look_alike(bugs: Bugs) -> u16 {
    let files: Mutex<HashMap<String, Vec<u8>>> = Mutex::default();
    fake_server(move |s| serve_look_alike(s, &files, bugs))
}

fn serve_look_alike(mut s: TcpStream, files: &Mutex<HashMap<String, Vec<u8>>>, bugs: Bugs) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut scanned = 0; // bytes of `buf` known not to start the delimiter
    loop {
        let found = buf[scanned..].windows(4).position(|w| w == b"\r\n\r\n");
        let Some(end) = found.map(|i| scanned + i) else {
            scanned = buf.len().saturating_sub(3);
            if buf.len() > MAX_MESSAGE && !bugs.no_limit {
                let _ = s.write_all(b"{\"status\":\"ERROR\",\"message\":\"too big\"}\r\n\r\n");
                return;
            }
            match s.read(&mut chunk) {
                Ok(n @ 1..) => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
            continue;
        };
        let msg: Vec<u8> = buf.drain(..end + 4).take(end).collect();
        scanned = 0;
        let answer = match serde_json::from_slice::<Value>(&msg) {
            Err(_) => json!({"status": "ERROR", "message": "invalid JSON"}),
            Ok(req) => {
                let name = req["name"].as_str().unwrap_or("").to_string();
                let mut files = files.lock().unwrap();
                match req["command"].as_str().unwrap_or("") {
                    "LIST" => {
                        let list: Vec<Value> = files
                            .iter()
                            .map(|(n, d)| json!({"name": n, "size": d.len()}))
                            .collect();
                        json!({"status": "OK", "command": "LIST", "files": list})
                    }
                    "PUT" => {
                        let mut data = Vec::new();
                        decode_data(req["data"].as_str().unwrap_or(""), &mut data).unwrap();
                        files.insert(name, data);
                        json!({"status": "OK", "command": "PUT"})
                    }
                    "GET" => match files.get(&name) {
                        None => json!({"status": "ERROR", "message": "file not found"}),
                        Some(d) => {
                            let off = req["offset"].as_u64().unwrap_or(0) as usize;
                            let len = req["length"].as_u64().map_or(d.len() - off, |l| l as usize);
                            let mut part = d[off..off + len].to_vec();
                            if bugs.flip_get {
                                part[0] ^= 1;
                            }
                            let mut b64 = Vec::new();
                            encode_data(&part, &mut b64);
                            json!({"status": "OK", "command": "GET",
                                   "data": String::from_utf8(b64).unwrap()})
                        }
                    },
                    "DELETE" => {
                        files.remove(&name);
                        json!({"status": "OK", "command": "DELETE"})
                    }
                    _ => json!({"status": "ERROR", "message": "unknown command"}),
                }
            }
        };
        let end: &[u8] = if bugs.newline_only {
            b"\n"
        } else {
            b"\r\n\r\n"
        };
        let mut out = answer.to_string().into_bytes();
        out.extend_from_slice(end);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------
// Our protocol: the real server, and a look-alike with one bug each.

#[test]
fn our_server_passes_everything_is_recognised_and_leaves_the_folder_as_it_was() {
    common::logging::init_for_tests();
    let dir = TempDir::new("check");
    std::fs::write(dir.path().join("halo.txt"), "halo dunia\n").unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    let r = check(addr.port(), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(ids(&r, Kind::Required), REQUIRED);
    assert_eq!(ids(&r, Kind::Extra), OURS_EXTRAS);
    assert!(
        r.text()
            .ends_with("\n4 of 4 required passed; 7 extras (7 passed)\n"),
        "{}",
        r.text()
    );
    assert!(
        r.convention
            .as_deref()
            .unwrap()
            .starts_with("this workspace's protocol (tugas4/PROTOCOL.md)"),
        "{}",
        r.text()
    );
    assert!(r
        .text()
        .starts_with("convention: this workspace's protocol"));
    assert_eq!(dir.entries(), ["halo.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("halo.txt")).unwrap(),
        "halo dunia\n"
    );
}

#[test]
fn our_look_alike_passes_so_the_broken_ones_below_differ_only_by_their_bug() {
    let r = check(look_alike(Bugs::default()), PATIENT, false);
    assert!(r.all_passed(), "{}", r.text());
    assert!(r
        .convention
        .as_deref()
        .unwrap()
        .starts_with("this workspace's protocol"));
    assert_eq!(ids(&r, Kind::Extra), OURS_EXTRAS);
}

#[test]
fn wrong_bytes_from_get_fail_the_get_line_and_the_range() {
    let port = look_alike(Bugs {
        flip_get: true,
        ..Bugs::default()
    });
    let r = check(port, PATIENT, false);
    assert_eq!(failed(&r, Kind::Required), ["get"], "{}", r.text());
    assert_eq!(failed(&r, Kind::Extra), ["get-range"], "{}", r.text());
    assert_eq!(
        reason(&r, "get"),
        "the file from GET differs at byte 0 of 3000 (expected \"\\x00\", got \"\\x01\")"
    );
}

#[test]
fn answers_ending_in_a_newline_fail_only_our_framing_extra() {
    let port = look_alike(Bugs {
        newline_only: true,
        ..Bugs::default()
    });
    let r = check(port, PATIENT, false);
    assert!(failed(&r, Kind::Required).is_empty(), "{}", r.text());
    assert_eq!(failed(&r, Kind::Extra), ["answer-framing"], "{}", r.text());
    let o = r.by_id("answer-framing").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("timed out after 2s waiting for the \"\\r\\n\\r\\n\" after the LIST answer")
    );
    assert!(o.got.as_deref().unwrap().ends_with("}\\n\""), "{o:?}");
}

#[test]
fn a_server_without_a_size_limit_fails_only_the_oversized_extra() {
    let port = look_alike(Bugs {
        no_limit: true,
        ..Bugs::default()
    });
    let r = check(port, PATIENT, false);
    assert!(failed(&r, Kind::Required).is_empty(), "{}", r.text());
    assert_eq!(failed(&r, Kind::Extra), ["oversized"], "{}", r.text());
    let o = r.by_id("oversized").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("expected an ERROR response to the oversized message")
    );
    assert!(
        o.got
            .as_deref()
            .unwrap()
            .contains("\\\"status\\\":\\\"OK\\\""),
        "{o:?}"
    );
}

#[test]
fn a_silent_server_fails_every_required_line_fast() {
    let port = fake_server(silent);
    let r = finishes_within(Duration::from_secs(10), || check(port, SHORT, false));
    assert_eq!(failed(&r, Kind::Required), REQUIRED, "{}", r.text());
    assert!(r.unreachable.is_none());
    assert_eq!(r.exit_code, 1);
    let why = reason(&r, "json");
    assert!(
        why.ends_with(
            "as list/LIST/ls): ended by \"\\n\" and a half-close: the server closed the \
             connection without sending the answer to LIST; ended by \"\\r\\n\\r\\n\": \
             timed out after 0.3s waiting for the answer to LIST"
        ),
        "{why}"
    );
}

#[test]
fn a_server_answering_garbage_fails_with_not_json() {
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 4096];
        while let Ok(1..) = s.read(&mut buf) {
            if s.write_all(b"\xff\xfeHALO\r\n\r\n").is_err() {
                return;
            }
        }
    });
    let r = check(port, SHORT, false);
    assert_eq!(failed(&r, Kind::Required), REQUIRED, "{}", r.text());
    assert!(
        reason(&r, "json").ends_with("is not JSON: it starts with \"\\xff\""),
        "{}",
        r.text()
    );
}

#[test]
fn a_json_answer_that_is_not_an_object_or_broken_is_not_taken() {
    for answer in [&b"[\"halo.txt\"]\n"[..], b"{'status': 'OK', 'data': []}\n"] {
        let port = fake_server(move |mut s| {
            let mut buf = [0u8; 4096];
            if let Ok(1..) = s.read(&mut buf) {
                let _ = s.write_all(answer);
            }
        });
        let r = check(port, SHORT, false);
        assert_eq!(failed(&r, Kind::Required), REQUIRED, "{}", r.text());
        let why = reason(&r, "json");
        assert!(
            why.ends_with("is not JSON: it starts with \"[\"")
                || why.contains("the answer to LIST is not valid JSON: key must be a string"),
            "{why}"
        );
    }
}

#[test]
fn a_server_that_closes_at_once_fails_every_required_line() {
    let port = fake_server(drop);
    let r = check(port, SHORT, false);
    assert_eq!(failed(&r, Kind::Required), REQUIRED, "{}", r.text());
    let why = reason(&r, "json");
    assert!(
        why.contains("the server closed the connection without sending the answer to LIST")
            || why.contains("reset"),
        "{why}"
    );
}

#[test]
fn nothing_listening_is_exit_3() {
    let r = check(closed_port(), SHORT, false);
    assert_eq!(r.exit_code, 3, "{}", r.text());
    assert!(r
        .text()
        .starts_with("cannot reach the server: cannot connect"));
}

#[test]
fn skip_protocol_leaves_out_only_our_protocols_details() {
    let dir = TempDir::new("check-skip");
    let server = start(dir.path());
    let r = check(server.addr().port(), PATIENT, true);
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(
        ids(&r, Kind::Extra),
        ["missing-file", "malformed-json", "traversal"]
    );
    assert!(r.notes.iter().any(|n| n.starts_with("--skip-protocol")));
    // The test file is deleted all the same.
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    // A student's server needs no flag at all.
    let r = check(student(INDONESIAN), PATIENT, true);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn flags_default_to_the_course_port() {
    let (_, o) = parse_options(&CHECK, &[]);
    assert_eq!(
        (o.host.as_str(), o.ports.as_slice()),
        ("127.0.0.1", &[6666][..])
    );
    assert_eq!(o.timeout, Duration::from_secs(5));
    let (_, o) = parse_options(&CHECK, &["--skip-protocol", "--json"]);
    assert!(o.skip_protocol && o.json);
    assert!(CHECK.help().contains("[default: 6666]"));
    assert!(CHECK.parse(["--bogus".to_string()]).is_err());
}
