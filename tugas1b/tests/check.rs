//! The grader's check against our own download server (all pass, found
//! as ours), against fake student servers of each download convention
//! (every requirement passes, the convention is named), and against
//! deliberately broken servers (the right requirement fails, fast).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::check::transfer::OURS;
use common::check::{CheckOptions, Report, Status, EXIT_FAILED, EXIT_PASSED};
use common::net;
use common::testkit::check::{
    fake_server, finishes_within, holding_server, parse_options, run_check, stream_forever,
    PATIENT, SHORT,
};
use tugas1b::check::{run, Target, CHECK, SAMPLE_IMAGE};

const CONTOH: &[u8] = b"Ini contoh file teks untuk Tugas 1b.\nbaris kedua\n";

/// The convention names the check reports for the fakes below.
const BARE_RAW: &str = "the bare name without a line end (the client then waits), answered \
with the raw bytes until the server closes";
const LINE_RAW: &str =
    "the bare name and '\\n', answered with the raw bytes until the server closes";
const BARE_SIZE: &str = "the bare name without a line end (the client then waits), answered \
with a size line ('<size>\\n') and then the bytes";
const BARE_OPEN: &str = "the bare name without a line end (the client then waits), answered \
with the raw bytes, the connection left open (a client reading until the close would wait)";

/// A served folder holding contoh.txt and gambar.png (the check's sample).
fn folder(tag: &str) -> PathBuf {
    let dir = common::testkit::temp_dir(&format!("tugas1b-check-{tag}"));
    fs::write(dir.join("contoh.txt"), CONTOH).unwrap();
    fs::write(dir.join("gambar.png"), SAMPLE_IMAGE).unwrap();
    dir
}

/// contoh.txt with the grader's copy, and the built-in sample image.
fn target(dir: &Path) -> Target {
    let path = dir.join("contoh.txt");
    Target::new(
        "contoh.txt",
        Some((path.display().to_string(), fs::read(&path).unwrap())),
    )
}

fn check(port: u16, timeout: Duration, t: &Target) -> Report {
    run_check(CheckOptions::local(port, timeout), |c| run(c, t))
}

/// The file `name` inside `dir` as a careful student serves it: nothing
/// outside the folder (no `..`, no absolute path).
fn careful(dir: &Path, name: &str) -> Option<Vec<u8>> {
    common::files::resolve_in_dir(dir, name)
        .ok()
        .and_then(|p| fs::read(p).ok())
}

/// Any path joined onto `dir` as it is (`open(name)` in Python).
fn naive(dir: &Path, name: &str) -> Option<Vec<u8>> {
    fs::read(dir.join(name)).ok()
}

/// What most students' servers do: one `recv(1024)`, the bytes as the
/// name (trimmed), the raw file (or a text saying it is missing), close.
fn recv_once(s: &TcpStream) -> String {
    let mut b = [0u8; 1024];
    let n = (&*s).read(&mut b).unwrap_or(0);
    String::from_utf8_lossy(&b[..n]).trim().to_string()
}

/// A line reader: the name is the first line.
fn read_line(s: &TcpStream) -> String {
    let mut line = Vec::new();
    let _ = BufReader::new(s.take(4096)).read_until(b'\n', &mut line);
    String::from_utf8_lossy(&line).trim().to_string()
}

type Serve = fn(&Path, &str) -> Option<Vec<u8>>;

/// Course style: the bare name (one recv), the raw bytes, close.
fn bare_raw(dir: PathBuf, serve: Serve) -> u16 {
    fake_server(move |s| {
        let name = recv_once(&s);
        let answer = serve(&dir, &name).unwrap_or_else(|| b"File tidak ditemukan".to_vec());
        let _ = (&s).write_all(&answer);
    })
}

/// A line (`readline()`), then the raw bytes, close.
fn line_raw(dir: PathBuf) -> u16 {
    fake_server(move |s| {
        let name = read_line(&s);
        let answer = careful(&dir, &name).unwrap_or_else(|| b"tidak ada\n".to_vec());
        let _ = (&s).write_all(&answer);
    })
}

/// The bare name, then `<size>\n` and the bytes (`0\n` for a missing file).
fn bare_size(dir: PathBuf) -> u16 {
    fake_server(move |s| {
        let name = recv_once(&s);
        let bytes = careful(&dir, &name).unwrap_or_default();
        let mut answer = format!("{}\n", bytes.len()).into_bytes();
        answer.extend_from_slice(&bytes);
        let _ = (&s).write_all(&answer);
    })
}

/// The bare name, the raw bytes, and the connection left open until the
/// client closes.
fn bare_open(dir: PathBuf) -> u16 {
    fake_server(move |s| {
        let name = recv_once(&s);
        let answer = careful(&dir, &name).unwrap_or_else(|| b"tidak ada".to_vec());
        let _ = (&s).write_all(&answer);
        let _ = std::io::copy(&mut &s, &mut std::io::sink());
    })
}

/// Only our protocol: `GET <name>` lines answered `OK <size>` and the
/// bytes or `ERROR`, one request per connection; `reply` may change the
/// answer to a name.
fn ours_only(dir: PathBuf, reply: fn(&str, Option<Vec<u8>>) -> Vec<u8>) -> u16 {
    fake_server(move |s| {
        let line = read_line(&s);
        let answer = match line.strip_prefix("GET ") {
            Some(name) => reply(name, careful(&dir, name)),
            None => b"ERROR bad request\n".to_vec(),
        };
        let _ = (&s).write_all(&answer);
    })
}

/// `OK <size>\n` and the bytes, or `ERROR file not found`.
fn ok(_name: &str, bytes: Option<Vec<u8>>) -> Vec<u8> {
    match bytes {
        Some(b) => [format!("OK {}\n", b.len()).into_bytes(), b].concat(),
        None => b"ERROR file not found\n".to_vec(),
    }
}

#[test]
fn our_server_passes_every_requirement_and_is_found_as_ours() {
    common::logging::init_for_tests();
    let dir = folder("ours");
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = tugas1b::Config {
        dir: dir.clone(),
        timeout: Duration::from_secs(30),
    };
    let _server = tugas1b::start_server(listener, config).unwrap();
    let r = check(port, Duration::from_secs(10), &target(&dir));
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(
        (r.required.passed, r.required.total),
        (3, 3),
        "{}",
        r.text()
    );
    assert_eq!((r.extras.passed, r.extras.total), (4, 4), "{}", r.text());
    assert_eq!(r.exit_code, EXIT_PASSED);
    // Found first by the course's bare name (our server answers it), then
    // as ours by one GET at the end.
    assert_eq!(r.convention.as_deref(), Some(OURS), "{}", r.text());
    assert_eq!(
        r.by_id("text-file").unwrap().convention.as_deref(),
        Some(BARE_RAW)
    );
    assert!(r.by_id("image-file").unwrap().requirement.starts_with(
        "the requested image gambar.png arrives byte for byte (as tugas1b/files/gambar.png)"
    ));
}

/// One fake student server per convention: every requirement passes
/// (extras too: they are careful), and the check names the convention.
#[test]
fn each_student_convention_passes_and_is_named() {
    // (tag, start the fake on a folder, the convention it speaks)
    type Fake = (&'static str, fn(PathBuf) -> u16, &'static str);
    let fakes: [Fake; 5] = [
        ("bare-raw", |d| bare_raw(d, careful), BARE_RAW),
        ("line-raw", line_raw, LINE_RAW),
        ("bare-size", bare_size, BARE_SIZE),
        ("bare-open", bare_open, BARE_OPEN),
        ("ours-only", |d| ours_only(d, ok), OURS),
    ];
    for (tag, start, convention) in fakes {
        let dir = folder(tag);
        let port = start(dir.clone());
        let r = check(port, PATIENT, &target(&dir));
        assert_eq!(r.exit_code, EXIT_PASSED, "{tag}: {}", r.text());
        assert!(r.graded_passed(), "{tag}: {}", r.text());
        assert!(r.all_passed(), "{tag}: {}", r.text());
        assert_eq!((r.required.total, r.extras.total), (3, 4), "{tag}");
        assert_eq!(
            r.convention.as_deref(),
            Some(convention),
            "{tag}: {}",
            r.text()
        );
    }
}

#[test]
fn without_expect_file_two_downloads_must_agree() {
    let dir = folder("noexpect");
    let port = bare_raw(dir.clone(), careful);
    let r = check(port, PATIENT, &Target::new("contoh.txt", None));
    assert!(r.all_passed(), "{}", r.text());
    assert_eq!(
        r.by_id("text-file").unwrap().requirement,
        "the requested text file contoh.txt arrives (the same bytes on two downloads)"
    );
    assert!(r.notes[0].starts_with("no --expect-file"), "{:?}", r.notes);

    // A server whose answer changes each time fails that.
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let port = fake_server(move |s| {
        let _ = recv_once(&s);
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = (&s).write_all(format!("jawaban ke-{n}").as_bytes());
    });
    let r = check(port, PATIENT, &Target::new("contoh.txt", None));
    let o = r.by_id("text-file").unwrap();
    assert_eq!(o.status, Status::Fail, "{}", r.text());
    assert_eq!(
        o.reason.as_deref(),
        Some(
            "two downloads of contoh.txt differ: the second differs at byte 11 of 12 \
             (expected \"0\", got \"1\")"
        )
    );
}

#[test]
fn a_server_that_loses_bytes_fails_the_byte_for_byte_lines() {
    let dir = folder("lossy");
    let port = bare_raw(dir.clone(), |dir, name| {
        let mut bytes = careful(dir, name)?;
        bytes.pop();
        Some(bytes)
    });
    let r = check(port, PATIENT, &target(&dir));
    assert_eq!(r.exit_code, EXIT_FAILED, "{}", r.text());
    // Still recognised: the convention, then the bytes judged.
    assert_eq!(r.convention.as_deref(), Some(BARE_RAW), "{}", r.text());
    let text = r.by_id("text-file").unwrap();
    assert_eq!(text.status, Status::Fail);
    assert_eq!(
        text.reason.as_deref(),
        Some("contoh.txt is 48 bytes long instead of 49")
    );
    let image = r.by_id("image-file").unwrap();
    assert_eq!(image.status, Status::Fail);
    assert_eq!(
        image.reason.as_deref().unwrap(),
        format!(
            "gambar.png is {} bytes long instead of {} (the check compares with its built-in \
             tugas1b/files/gambar.png: copy that into the server's folder, or give --image NAME \
             --expect-image PATH)",
            SAMPLE_IMAGE.len() - 1,
            SAMPLE_IMAGE.len()
        )
    );
    assert_eq!(r.by_id("connect").unwrap().status, Status::Pass);
    assert_eq!(r.first_graded_failure().unwrap().id, "text-file");
}

#[test]
fn a_server_that_serves_any_path_fails_the_folder_extra() {
    let dir = folder("naive");
    let port = bare_raw(dir.clone(), naive);
    let r = check(port, PATIENT, &target(&dir));
    // The assignment never asks for a served folder: required lines pass.
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(
        r.failures(),
        ["names outside the served folder are not served (../, absolute paths)"],
        "{}",
        r.text()
    );
    let o = r.by_id("outside-folder").unwrap();
    // The first probe is the system file of the OS the check runs on.
    let (file, first) = if cfg!(windows) {
        (
            r"C:\Windows\win.ini",
            format!("\"{}Windows\\\\win.ini\"", "..\\\\".repeat(16)),
        )
    } else {
        (
            "/etc/passwd",
            "\"../../../../../../../../etc/passwd\"".to_string(),
        )
    };
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .starts_with(&format!("the server sent {file} for ")),
        "{o:?}"
    );
    assert_eq!(o.sent.as_deref(), Some(first.as_str()));
    // --strict: the extras grade too.
    let strict = CheckOptions {
        strict: true,
        ..CheckOptions::local(port, PATIENT)
    };
    let r = run_check(strict, |c| run(c, &target(&dir)));
    assert_eq!(r.exit_code, EXIT_FAILED);
    assert_eq!(r.first_graded_failure().unwrap().id, "outside-folder");
}

/// A server that serves any path but the well-known system files (or runs
/// where they do not exist) is caught by the file the check plants.
#[test]
fn the_planted_file_catches_a_server_without_system_files() {
    let dir = folder("naive-planted");
    let port = bare_raw(dir.clone(), |dir, name| {
        if name.contains("passwd") || name.contains("win.ini") {
            None
        } else {
            naive(dir, name)
        }
    });
    let r = check(port, PATIENT, &target(&dir));
    let o = r.by_id("outside-folder").unwrap();
    assert_eq!(o.status, Status::Fail, "{}", r.text());
    let sent = o.sent.as_deref().unwrap();
    assert!(
        sent.starts_with("\"../../") && sent.contains("pj-check-outside-"),
        "{sent}"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("(planted by this check)")),
        "{:?}",
        r.notes
    );
}

#[test]
fn different_bytes_fail_the_text_file_only() {
    let dir = folder("differ");
    let port = ours_only(dir.clone(), |name, bytes| match name {
        "contoh.txt" => {
            let mut wrong = CONTOH.to_vec();
            wrong[4] = b'X';
            ok(name, Some(wrong))
        }
        _ => ok(name, bytes),
    });
    let r = check(port, PATIENT, &target(&dir));
    assert_eq!(r.failures().len(), 1, "{}", r.text());
    assert_eq!(r.convention.as_deref(), Some(OURS));
    let o = r.by_id("text-file").unwrap();
    assert_eq!(o.status, Status::Fail);
    assert_eq!(
        o.reason.as_deref(),
        Some("contoh.txt differs at byte 4 of 49 (expected \"c\", got \"X\")")
    );
    assert_eq!(o.sent.as_deref(), Some("\"GET contoh.txt\\n\""));
}

#[test]
fn a_size_that_lies_fails_the_text_file() {
    let dir = folder("lie");
    let port = ours_only(dir.clone(), |name, bytes| match name {
        "contoh.txt" => [format!("OK {}\n", CONTOH.len() + 10).as_bytes(), CONTOH].concat(),
        _ => ok(name, bytes),
    });
    let r = check(port, PATIENT, &target(&dir));
    assert_eq!(r.convention.as_deref(), Some(OURS), "{}", r.text());
    let o = r.by_id("text-file").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("the server closed the connection after 49 of 59 bytes of contoh.txt")
    );
    assert_eq!(r.by_id("image-file").unwrap().status, Status::Pass);
}

#[test]
fn ok_for_a_missing_file_fails_that_extra() {
    let dir = folder("okmissing");
    let port = ours_only(dir.clone(), |name, bytes| match bytes {
        Some(_) => ok(name, bytes),
        None => b"OK 0\n".to_vec(),
    });
    let r = check(port, PATIENT, &target(&dir));
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    let o = r.by_id("missing-file").unwrap();
    assert_eq!(o.status, Status::Fail, "{}", r.text());
    assert_eq!(
        o.reason.as_deref(),
        Some("the server answered 'OK <size>' for a file that does not exist")
    );
}

/// The course-style server that dies of a missing file: the required
/// lines pass (nothing before them asks for a missing name), the
/// missing-file extra says it stopped.
#[test]
fn a_server_that_dies_of_a_missing_file_passes_the_required_lines() {
    let dir = folder("fragile");
    let d = dir.clone();
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // One client at a time, and the first missing name ends it all:
        // the listener closes before the client sees its connection end,
        // so the check's next connect is refused (not queued, then reset).
        while let Ok((s, _)) = listener.accept() {
            let name = recv_once(&s);
            match careful(&d, &name) {
                Some(bytes) => drop((&s).write_all(&bytes)),
                None => {
                    drop(listener);
                    drop(s);
                    return;
                }
            }
        }
    });
    let r = check(port, PATIENT, &target(&dir));
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(r.required.passed, 3, "{}", r.text());
    let o = r.by_id("missing-file").unwrap();
    assert_eq!(o.status, Status::Fail);
    assert!(
        o.reason.as_deref().unwrap().ends_with(
            "(after the request for a missing file: the server stopped accepting connections)"
        ),
        "{o:?}"
    );
}

#[test]
fn a_server_that_closes_at_once_shows_what_was_tried() {
    let dir = folder("close");
    let port = fake_server(|s| drop(recv_once(&s)));
    let r = check(port, PATIENT, &target(&dir));
    assert_eq!(r.exit_code, EXIT_FAILED);
    assert_eq!(r.convention, None);
    assert_eq!(r.by_id("connect").unwrap().status, Status::Pass);
    assert_eq!(
        r.by_id("text-file").unwrap().reason.as_deref(),
        Some(
            "no download convention recognised (the bare name with and without a line end, \
             then 'GET <name>\\n'); the bare name: sent \"contoh.txt\", got nothing: the server \
             closed the connection without an answer; GET: sent \"GET contoh.txt\\n\", got \
             nothing: the server closed the connection without an answer"
        )
    );
    assert_eq!(
        r.by_id("image-file").unwrap().reason.as_deref(),
        Some("not tried: no download convention was recognised (see the file line)")
    );
    assert_eq!((r.passed, r.failed), (1, 6), "{}", r.text());
}

#[test]
fn a_silent_server_fails_by_timeout_and_shows_both_tries() {
    let dir = folder("silent");
    let port = holding_server();
    let r = finishes_within(Duration::from_secs(10), || {
        check(port, SHORT, &target(&dir))
    });
    assert_eq!(r.exit_code, EXIT_FAILED);
    assert_eq!(
        r.by_id("text-file").unwrap().reason.as_deref(),
        Some(
            "no download convention recognised (the bare name with and without a line end, \
             then 'GET <name>\\n'); the bare name: sent \"contoh.txt\\n\", got nothing: no \
             answer, neither 0.3s after the name nor 0.3s after the line end; GET: sent \
             \"GET contoh.txt\\n\", got nothing: no answer within 0.3s"
        )
    );
}

#[test]
fn endless_garbage_is_a_bounded_failure() {
    let dir = folder("garbage");
    let port = fake_server(|s| stream_forever(s, &[0xeeu8; 8192]));
    let r = finishes_within(Duration::from_secs(10), || {
        check(port, SHORT, &target(&dir))
    });
    assert_eq!(r.exit_code, EXIT_FAILED);
    let o = r.by_id("text-file").unwrap();
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .starts_with("the server sent more than the 49 bytes of contoh.txt and kept sending"),
        "{o:?}"
    );
}

#[test]
fn flags_images_and_a_missing_expect_file() {
    let (m, o) = parse_options(&CHECK, &[]);
    let t = Target::from_matches(&m).unwrap();
    assert_eq!(t.download.file, "contoh.txt");
    assert!(t.download.expect.is_none());
    assert_eq!(t.image, "gambar.png");
    assert!(t.sample_image());
    assert_eq!(t.expect_image.1, SAMPLE_IMAGE);
    assert_eq!(SAMPLE_IMAGE, fs::read("files/gambar.png").unwrap());
    assert_eq!(o.ports, [31200]);
    let (m, _) = parse_options(
        &CHECK,
        &["--image", "foto.png", "--expect-image", "files/contoh.txt"],
    );
    let t = Target::from_matches(&m).unwrap();
    assert_eq!(t.image, "foto.png");
    assert_eq!(t.expect_image.0, "files/contoh.txt");
    assert!(!t.sample_image());
    for flag in ["--expect-file", "--expect-image"] {
        let m = CHECK
            .parse([flag, "/nonexistent/contoh.txt"].map(String::from))
            .unwrap();
        let err = Target::from_matches(&m).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("cannot read {flag} /nonexistent/contoh.txt: no such file or directory")
        );
    }
    // Old scripts' --skip-protocol still parses: it leaves the extras out.
    let dir = folder("skip");
    let port = bare_raw(dir.clone(), careful);
    let opts = CheckOptions {
        skip_protocol: true,
        ..CheckOptions::local(port, PATIENT)
    };
    let r = run_check(opts, |c| run(c, &target(&dir)));
    assert_eq!((r.required.passed, r.extras.total), (3, 0), "{}", r.text());
}
