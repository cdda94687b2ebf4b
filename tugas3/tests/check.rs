//! The grader's check against our own threaded server (all pass, found as
//! ours), against threaded fake student servers of each download
//! convention (all pass, the convention named), and against servers that
//! serve one client at a time or lose bytes (the right requirement fails,
//! fast).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::check::transfer::OURS;
use common::check::{CheckOptions, Report, Status, EXIT_FAILED, EXIT_PASSED};
use common::net;
use common::testkit::check::{
    fake_server, fake_server_one_at_a_time, finishes_within, parse_options, run_check, PATIENT,
};
use tugas3::check::{run, Target, CHECK};

/// The timeout for steps meant to time out here: 1 s (not the 0.3 s of
/// `common::testkit::check::SHORT`; the expected messages say "after 1s").
const SHORT: Duration = Duration::from_secs(1);
const OVERLAP: &str = "downloads-overlap";
const SILENT: &str = "silent-client";

const BARE_RAW: &str = "the bare name without a line end (the client then waits), answered \
with the raw bytes until the server closes";
const LINE_RAW: &str =
    "the bare name and '\\n', answered with the raw bytes until the server closes";
const BARE_SIZE: &str = "the bare name without a line end (the client then waits), answered \
with a size line ('<size>\\n') and then the bytes";

/// A served folder with contoh.txt and a 2 MiB besar.bin.
fn folder(tag: &str) -> PathBuf {
    let dir = common::testkit::temp_dir(&format!("tugas3-check-{tag}"));
    fs::write(dir.join("contoh.txt"), b"contoh file untuk Tugas 3\n").unwrap();
    let big: Vec<u8> = (0..2u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(dir.join("besar.bin"), big).unwrap();
    dir
}

fn target(dir: &Path, file: &str) -> Target {
    let path = dir.join(file);
    Target {
        file: file.into(),
        expect: Some((path.display().to_string(), fs::read(&path).unwrap())),
        clients: 8,
    }
}

fn check(port: u16, timeout: Duration, t: &Target) -> Report {
    run_check(CheckOptions::local(port, timeout), |c| run(c, t))
}

/// The file inside `dir`, nothing outside it.
fn careful(dir: &Path, name: &str) -> Option<Vec<u8>> {
    common::files::resolve_in_dir(dir, name)
        .ok()
        .and_then(|p| fs::read(p).ok())
}

/// One `recv(1024)`, trimmed: the course's way to read the name.
fn recv_once(s: &TcpStream) -> String {
    let mut b = [0u8; 1024];
    let n = (&*s).read(&mut b).unwrap_or(0);
    String::from_utf8_lossy(&b[..n]).trim().to_string()
}

fn read_line(s: &TcpStream) -> String {
    let mut line = Vec::new();
    let _ = BufReader::new(s.take(4096)).read_until(b'\n', &mut line);
    String::from_utf8_lossy(&line).trim().to_string()
}

/// A course-style handler: the bare name, then `answer(bytes)` (or a text
/// for a missing file), close.
fn bare(dir: PathBuf, answer: fn(Vec<u8>) -> Vec<u8>) -> impl Fn(TcpStream) + Send + Sync {
    move |s| {
        let name = recv_once(&s);
        let out = careful(&dir, &name)
            .map(answer)
            .unwrap_or_else(|| b"File tidak ditemukan".to_vec());
        let _ = (&s).write_all(&out);
    }
}

fn raw(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

fn size_line(bytes: Vec<u8>) -> Vec<u8> {
    [format!("{}\n", bytes.len()).into_bytes(), bytes].concat()
}

/// A line reader answering the raw bytes.
fn line_raw(dir: PathBuf) -> impl Fn(TcpStream) + Send + Sync {
    move |s| {
        let name = read_line(&s);
        let out = careful(&dir, &name).unwrap_or_else(|| b"tidak ada\n".to_vec());
        let _ = (&s).write_all(&out);
    }
}

/// Only `GET <name>` lines, answered `OK <size>` and the bytes or `ERROR`.
fn ours_only(dir: PathBuf) -> impl Fn(TcpStream) + Send + Sync {
    move |s| {
        let line = read_line(&s);
        let out = match line.strip_prefix("GET ").and_then(|n| careful(&dir, n)) {
            Some(b) => [format!("OK {}\n", b.len()).into_bytes(), b].concat(),
            None => b"ERROR tidak ada\n".to_vec(),
        };
        let _ = (&s).write_all(&out);
    }
}

#[test]
fn our_server_passes_every_requirement_and_is_found_as_ours() {
    common::logging::init_for_tests();
    let dir = folder("ours");
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = tugas3::Config {
        dir: dir.clone(),
        timeout: Duration::from_secs(30),
    };
    let _server = tugas3::start_server(listener, config).unwrap();
    for file in ["contoh.txt", "besar.bin"] {
        let r = check(port, Duration::from_secs(20), &target(&dir, file));
        assert!(r.all_passed(), "{}", r.text());
        assert_eq!(
            (r.required.passed, r.required.total),
            (3, 3),
            "{}",
            r.text()
        );
        assert_eq!((r.extras.passed, r.extras.total), (4, 4), "{}", r.text());
        assert_eq!(r.by_id(OVERLAP).unwrap().status, Status::Pass);
        assert_eq!(r.convention.as_deref(), Some(OURS), "{}", r.text());
        assert_eq!(
            r.by_id("file").unwrap().convention.as_deref(),
            Some(BARE_RAW)
        );
    }
}

/// Threaded fake student servers, one per convention: every requirement
/// passes and the check names the convention.
#[test]
fn each_threaded_student_convention_passes_and_is_named() {
    // (tag, start the fake on a folder, the convention it speaks)
    type Fake = (&'static str, Box<dyn Fn(PathBuf) -> u16>, &'static str);
    let fakes: Vec<Fake> = vec![
        (
            "bare-raw",
            Box::new(|d| fake_server(bare(d, raw))),
            BARE_RAW,
        ),
        ("line-raw", Box::new(|d| fake_server(line_raw(d))), LINE_RAW),
        (
            "bare-size",
            Box::new(|d| fake_server(bare(d, size_line))),
            BARE_SIZE,
        ),
        ("ours-only", Box::new(|d| fake_server(ours_only(d))), OURS),
    ];
    for (tag, start, convention) in fakes {
        let dir = folder(tag);
        let port = start(dir.clone());
        let r = check(port, PATIENT, &target(&dir, "besar.bin"));
        assert_eq!(r.exit_code, EXIT_PASSED, "{tag}: {}", r.text());
        assert!(r.all_passed(), "{tag}: {}", r.text());
        assert_eq!(
            r.convention.as_deref(),
            Some(convention),
            "{tag}: {}",
            r.text()
        );
    }
}

#[test]
fn one_connection_at_a_time_fails_the_overlap_and_the_silent_client() {
    // Our own protocol code, but in the accept loop's thread: the next
    // client waits until the previous one closes.
    let dir = folder("single");
    let config = tugas3::Config {
        dir: dir.clone(),
        timeout: Duration::from_secs(30),
    };
    let port = fake_server_one_at_a_time(move |s| {
        let _ = tugas3::handle_connection(s, &config);
    });
    let r = finishes_within(Duration::from_secs(20), || {
        check(port, SHORT, &target(&dir, "contoh.txt"))
    });
    assert_eq!(r.exit_code, EXIT_FAILED);
    assert_eq!(
        r.first_graded_failure().unwrap().id,
        OVERLAP,
        "{}",
        r.text()
    );
    assert_eq!(
        r.by_id("file").unwrap().status,
        Status::Pass,
        "{}",
        r.text()
    );
    assert_eq!(
        r.by_id(OVERLAP).unwrap().reason.as_deref(),
        Some(
            "download 2 of 8: timed out after 1s waiting for contoh.txt (download 1 was \
             connected and had not asked yet: a server that serves one connection at a time \
             cannot answer)"
        )
    );
    let silent = r.by_id(SILENT).unwrap();
    assert_eq!(silent.status, Status::Fail);
    assert!(silent
        .reason
        .as_deref()
        .unwrap()
        .ends_with("(while a silent connection is open)"));
}

/// The course's single-threaded server (accept, one name, the raw bytes,
/// close, next): every file arrives, but never two at once. The old check
/// passed its concurrency line (each connection was closed by the server
/// before the next one was served); holding download 1 open catches it.
#[test]
#[cfg_attr(
    windows,
    ignore = "needs a blocking send to a closed peer to fail (under Wine it blocks for good)"
)]
fn one_request_then_close_fails_the_overlap() {
    let dir = folder("oneshot");
    let port = fake_server_one_at_a_time(bare(dir.clone(), raw));
    let r = finishes_within(Duration::from_secs(20), || {
        check(port, SHORT, &target(&dir, "besar.bin"))
    });
    assert_eq!(r.convention.as_deref(), Some(BARE_RAW), "{}", r.text());
    assert_eq!(r.failures().len(), 2, "{}", r.text());
    assert_eq!(r.by_id(OVERLAP).unwrap().status, Status::Fail);
    assert_eq!(r.by_id(SILENT).unwrap().status, Status::Fail);
    assert_eq!(r.required.passed, 2);
}

#[test]
fn a_server_that_loses_bytes_fails_the_file_line() {
    let dir = folder("lossy");
    let port = fake_server(bare(dir.clone(), |mut b| {
        b.truncate(b.len() - 1000);
        b
    }));
    let r = check(port, PATIENT, &target(&dir, "besar.bin"));
    assert_eq!(r.convention.as_deref(), Some(BARE_RAW), "{}", r.text());
    let o = r.by_id("file").unwrap();
    assert_eq!(o.status, Status::Fail, "{}", r.text());
    assert_eq!(
        o.reason.as_deref(),
        Some("besar.bin is 2096152 bytes long instead of 2097152")
    );
    assert_eq!(r.first_graded_failure().unwrap().id, "file");
}

#[test]
fn a_server_that_serves_any_path_fails_the_folder_extra() {
    let dir = folder("naive");
    let d = dir.clone();
    let port = fake_server(move |s| {
        let name = recv_once(&s);
        let _ = (&s).write_all(&fs::read(d.join(name)).unwrap_or_default());
    });
    let r = check(port, PATIENT, &target(&dir, "contoh.txt"));
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    assert_eq!(
        r.failures(),
        ["names outside the served folder are not served (../, absolute paths)"],
        "{}",
        r.text()
    );
}

#[test]
fn flags() {
    let (m, o) = parse_options(&CHECK, &["--clients", "3"]);
    let t = Target::from_matches(&m).unwrap();
    assert_eq!((t.file.as_str(), t.clients), ("contoh.txt", 3));
    assert_eq!(o.ports, [31300]);
    for bad in ["0", "1", "1001"] {
        let m = CHECK.parse(["--clients", bad].map(String::from)).unwrap();
        assert_eq!(
            Target::from_matches(&m).unwrap_err().to_string(),
            format!("invalid value '{bad}' for --clients: expected 2 to 1000")
        );
    }
}
