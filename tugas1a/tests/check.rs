//! The grader's check against our own upload server (all pass), against
//! fake student servers of each upload convention (the required lines
//! pass with `--output-file`), and against broken servers (the right
//! requirement fails, by id, fast).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::check::{CheckOptions, Kind, Report, Status, EXIT_FAILED, EXIT_PASSED};
use common::net;
use common::stop::Running;
use common::testkit::check::{
    closed_port, fake_server, finishes_within, parse_options, run_check, stream_forever, PATIENT,
    SHORT,
};
use tugas1a::check::{output_file, run_with, Convention, CHECK, CITE_WRITE, NAME_FIELD};

/// A timeout for checks that are meant to fail a file line: each try
/// waits this long for the file, so it is shorter than [`PATIENT`], but
/// long enough for the steps that pass on a loaded machine.
const MIDDLE: Duration = Duration::from_secs(2);

fn check(port: u16, timeout: Duration, output: Option<&Path>) -> Report {
    check_opts(CheckOptions::local(port, timeout), output)
}

fn check_opts(opts: CheckOptions, output: Option<&Path>) -> Report {
    let output = output.map(Path::to_path_buf);
    run_check(opts, |c| run_with(c, output))
}

fn status(r: &Report, id: &str) -> Status {
    r.by_id(id)
        .unwrap_or_else(|| panic!("no requirement {id}:\n{}", r.text()))
        .status
}

fn reason<'r>(r: &'r Report, id: &str) -> &'r str {
    r.by_id(id)
        .and_then(|o| o.reason.as_deref())
        .unwrap_or_else(|| panic!("{id} has no reason:\n{}", r.text()))
}

/// The ids of the required lines, in order.
const REQUIRED: [&str; 3] = ["connect", "text-arrives", "finishes"];

/// Requires every required line to pass and the convention to be `want`.
#[track_caller]
fn assert_required_pass(r: &Report, want: Convention) {
    for id in REQUIRED {
        assert_eq!(status(r, id), Status::Pass, "{id}:\n{}", r.text());
    }
    assert_eq!(r.required.total, 3, "{}", r.text());
    assert_eq!(r.exit_code, EXIT_PASSED, "{}", r.text());
    let convention = r.convention.as_deref().unwrap_or_default();
    assert!(
        convention.starts_with(&want.describe()),
        "{convention:?} is not {want:?}:\n{}",
        r.text()
    );
}

/// A fresh output file path (the file is not there yet).
fn output(tag: &str) -> PathBuf {
    common::testkit::temp_dir(tag).join("hasil.txt")
}

/// Our server, saving into a fresh temp folder; returns it (stopped when
/// dropped), its port and the saved file's path.
fn our_server() -> (Running, u16, PathBuf) {
    common::logging::init_for_tests();
    let output = output("tugas1a-check");
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = tugas1a::Config {
        console: Arc::new(Mutex::new(Vec::<u8>::new())),
        ..tugas1a::Config::new(&output)
    };
    let server = tugas1a::start_server(listener, config).unwrap();
    (server, port, output)
}

/// A course-style server on its own thread per client: `take` gets the
/// connection and returns the file's bytes, which go to `path` (replaced).
fn writing_server<F>(path: &Path, take: F) -> u16
where
    F: Fn(&mut TcpStream) -> Vec<u8> + Send + Sync + 'static,
{
    let path = path.to_path_buf();
    fake_server(move |mut s| {
        let data = take(&mut s);
        fs::write(&path, data).unwrap();
    })
}

/// Raw bytes until the client closes.
fn raw(s: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let _ = s.read_to_end(&mut data);
    data
}

#[test]
fn our_server_passes_everything_with_and_without_the_output_file() {
    let (_server, port, output) = our_server();
    let r = check(port, PATIENT, Some(&output));
    assert!(r.all_passed(), "{}", r.text());
    assert_required_pass(&r, Convention::Ours);
    assert_eq!(
        (r.required.total, r.extras.total, r.extras.passed),
        (3, 5, 5),
        "{}",
        r.text()
    );
    // The last upload (after the broken one) is what the server kept.
    let kept = fs::read(&output).unwrap();
    assert!(kept.starts_with(tugas1a::check::base_text().as_bytes()));
    assert!(String::from_utf8_lossy(&kept).contains("-- unggahan"));
    let text = r.text();
    assert!(text.contains("PASS  (extra) a truncated upload"), "{text}");
    assert!(
        text.contains(&format!("arrives byte for byte in {}", output.display())),
        "{text}"
    );

    // Without the file, the OK answer is what the arrival is judged on.
    let r = check(port, PATIENT, None);
    assert!(r.all_passed(), "{}", r.text());
    assert_required_pass(&r, Convention::Ours);
    assert!(r.notes.iter().any(|n| n.contains("no --output-file")));
    assert!(r
        .find("file.txt's content")
        .unwrap()
        .requirement
        .contains("confirmed by the server's 'OK'"));
}

#[test]
fn every_required_line_cites_the_assignment() {
    let (_server, port, _output) = our_server();
    let r = check(port, PATIENT, None);
    for o in &r.requirements {
        match o.kind {
            Kind::Required => assert!(o.citation.is_some(), "{} has no citation", o.id),
            Kind::Extra => assert!(o.citation.is_none()),
        }
    }
    assert_eq!(
        r.by_id("text-arrives").unwrap().citation.as_deref(),
        Some(CITE_WRITE)
    );
}

#[test]
fn raw_bytes_then_close_is_recognised_and_the_file_compared() {
    let output = output("tugas1a-raw");
    let port = writing_server(&output, raw);
    let r = check(port, PATIENT, Some(&output));
    assert_required_pass(&r, Convention::Raw);
    // A raw server takes any bytes: the binary arrives too, and it keeps
    // serving after a broken upload. Our protocol's details are not asked.
    assert_eq!(status(&r, "binary"), Status::Pass, "{}", r.text());
    assert_eq!(status(&r, "after-broken"), Status::Pass, "{}", r.text());
    assert!(r.by_id("truncated").is_none() && r.by_id("empty").is_none());
    assert!(r.all_passed(), "{}", r.text());
    assert!(fs::read(&output)
        .unwrap()
        .starts_with(b"PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\n"));
}

#[test]
fn a_name_line_first_is_recognised() {
    let output = output("tugas1a-name-line");
    let port = writing_server(&output, |s| {
        let mut r = BufReader::new(s);
        let mut name = Vec::new();
        r.read_until(b'\n', &mut name).unwrap();
        let mut data = Vec::new();
        let _ = r.read_to_end(&mut data);
        data
    });
    let r = check(port, PATIENT, Some(&output));
    assert_required_pass(&r, Convention::NameLine);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn a_fixed_1024_byte_name_field_first_is_recognised() {
    let output = output("tugas1a-name-field");
    let port = writing_server(&output, |s| {
        let mut name = vec![0u8; NAME_FIELD];
        if s.read_exact(&mut name).is_err() {
            return Vec::new(); // a short upload: no file content
        }
        raw(s)
    });
    let r = check(port, PATIENT, Some(&output));
    assert_required_pass(&r, Convention::NameField);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn a_name_read_with_one_recv_is_sent_as_a_name_field() {
    // `name = conn.recv(1024)`: whatever the first read returns is the
    // name. A name line works only when it arrives alone; a 1024-byte
    // field always does, so the check settles on that.
    let output = output("tugas1a-name-recv");
    let port = writing_server(&output, |s| {
        let mut name = [0u8; 1024];
        let _ = s.read(&mut name);
        raw(s)
    });
    let r = check(port, PATIENT, Some(&output));
    assert_required_pass(&r, Convention::NameField);
    assert!(r.all_passed(), "{}", r.text());
}

#[test]
fn a_server_that_appends_to_its_file_is_recognised() {
    let output = output("tugas1a-append");
    fs::write(&output, b"isi lama dari hasil.txt\n").unwrap();
    let path = output.clone();
    let port = fake_server(move |mut s| {
        let data = raw(&mut s);
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&data).unwrap();
    });
    let r = check(port, PATIENT, Some(&output));
    assert_required_pass(&r, Convention::Raw);
    assert!(
        r.convention.as_deref().unwrap().contains("appends"),
        "{}",
        r.text()
    );
    assert!(r.all_passed(), "{}", r.text());
    assert!(fs::read(&output)
        .unwrap()
        .starts_with(b"isi lama dari hasil.txt\n"));
}

#[test]
fn a_server_that_loses_bytes_fails_the_arrival() {
    // Raw bytes, but the last 10 never reach the file.
    let output = output("tugas1a-lossy");
    let port = writing_server(&output, |s| {
        let mut data = raw(s);
        data.truncate(data.len().saturating_sub(10));
        data
    });
    let r = finishes_within(Duration::from_secs(20), || {
        check(port, MIDDLE, Some(&output))
    });
    assert_eq!(status(&r, "text-arrives"), Status::Fail, "{}", r.text());
    assert_eq!(status(&r, "connect"), Status::Pass);
    assert_eq!(r.exit_code, EXIT_FAILED);
    assert!(r.convention.is_none(), "{}", r.text());
    let why = reason(&r, "text-arrives");
    assert!(why.starts_with("no upload convention recognised"), "{why}");
    // The grader sees how near it came: the raw reading, 10 bytes short.
    assert!(why.contains("(as raw bytes, the file is "), "{why}");
    assert!(why.contains("bytes long instead of"), "{why}");
    assert!(r
        .text()
        .contains(&format!("ASSIGNMENTS.md: \"{CITE_WRITE}\"")));
}

#[test]
fn a_server_that_never_writes_the_file_fails_the_arrival() {
    let output = output("tugas1a-nowrite");
    // Reads everything, prints it (here: nothing), closes, saves nothing.
    let port = fake_server(|mut s| {
        let _ = raw(&mut s);
    });
    let r = finishes_within(Duration::from_secs(20), || {
        check(port, MIDDLE, Some(&output))
    });
    assert_eq!(r.failures().len(), 3, "{}", r.text());
    assert_eq!(status(&r, "text-arrives"), Status::Fail);
    assert!(
        reason(&r, "text-arrives").contains(&format!("{} did not appear", output.display())),
        "{}",
        r.text()
    );
    // The exchange itself is fine; the extras cannot be judged.
    assert_eq!(status(&r, "finishes"), Status::Pass, "{}", r.text());
    assert!(reason(&r, "binary").starts_with("not judged"));
    assert_eq!(r.exit_code, EXIT_FAILED);
}

#[test]
fn a_silent_server_without_the_output_file_is_not_judged_and_not_passed() {
    let output = output("tugas1a-silent");
    let port = writing_server(&output, raw);
    let r = check(port, PATIENT, None);
    assert_eq!(status(&r, "text-arrives"), Status::Fail, "{}", r.text());
    let why = reason(&r, "text-arrives");
    assert!(
        why.starts_with("not judged: the server did not answer"),
        "{why}"
    );
    assert!(why.contains("give --output-file PATH"), "{why}");
    assert_eq!(status(&r, "finishes"), Status::Pass, "{}", r.text());
    assert_eq!(r.exit_code, EXIT_FAILED);
    assert!(r.convention.is_none());
    // With the file the same server passes.
    let r = check(port, PATIENT, Some(&output));
    assert_required_pass(&r, Convention::Raw);
}

#[test]
fn a_server_that_resets_the_connection_fails_the_exchange() {
    // Writes the whole file, then closes with the upload's last byte still
    // unread: the kernel resets the connection (as a crashing server's does).
    let output = output("tugas1a-reset");
    let path = output.clone();
    let port = fake_server(move |mut s| {
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // Look at what arrived without taking it; take it unless it ends
            // the upload (every test text ends with " --\n").
            let n = match s.peek(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let ends = [data.as_slice(), &buf[..n]].concat().ends_with(b" --\n");
            let take = if ends { n - 1 } else { n };
            s.read_exact(&mut buf[..take]).unwrap();
            data.extend_from_slice(&buf[..take]);
            if ends {
                data.push(b'\n');
                fs::write(&path, &data).unwrap();
                return; // one byte unread: a reset
            }
        }
        fs::write(&path, &data).unwrap();
    });
    let r = check(port, PATIENT, Some(&output));
    assert_eq!(status(&r, "text-arrives"), Status::Pass, "{}", r.text());
    assert_eq!(status(&r, "finishes"), Status::Fail, "{}", r.text());
    assert!(
        reason(&r, "finishes").starts_with("the server reset the connection (RST)"),
        "{}",
        r.text()
    );
    assert_eq!(r.exit_code, EXIT_FAILED);
}

/// A server without an accept loop around its handler: it takes `uploads`
/// clients (raw bytes into `path`), then it is gone.
fn dying_server(path: &Path, uploads: usize) -> u16 {
    let path = path.to_path_buf();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for _ in 0..uploads {
            if let Ok((mut s, _)) = listener.accept() {
                let data = raw(&mut s);
                fs::write(&path, data).unwrap();
            }
        }
        drop(listener);
    });
    port
}

#[test]
fn a_server_that_dies_after_the_upload_fails_the_exchange() {
    // One client: its one upload is judged (the connection of the first
    // line is kept for it), and the exchange fails: the server is gone.
    // Two clients: the exchange's own first upload finishes, the next one
    // finds the server gone.
    for uploads in [1, 2] {
        let output = output("tugas1a-dying");
        let port = dying_server(&output, uploads);
        let r = check(port, PATIENT, Some(&output));
        assert_eq!(status(&r, "connect"), Status::Pass, "{}", r.text());
        assert_eq!(status(&r, "text-arrives"), Status::Pass, "{}", r.text());
        assert_eq!(status(&r, "finishes"), Status::Fail, "{}", r.text());
        // Refused; or, when the check came between the close of the
        // upload and that of the listener, queued and then reset.
        let why = reason(&r, "finishes");
        let on = if uploads == 1 {
            "on this upload"
        } else {
            "on the next upload"
        };
        let refused = why.starts_with("cannot connect")
            && why.contains(&format!("{on}, after the server had taken an upload"))
            && why.ends_with("it died or stopped listening)");
        assert!(
            refused || why.starts_with("the server reset the connection (RST)"),
            "{uploads}: {why}"
        );
        assert_eq!(r.exit_code, EXIT_FAILED);
    }
}

#[test]
fn server_that_says_ok_to_everything_fails_our_protocol_extras() {
    // Answers OK as soon as the header line arrives, whatever follows,
    // and saves nothing.
    let port = fake_server(|s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).is_ok() {
            let _ = (&s).write_all(b"OK diterima\n");
        }
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    // Without the file its OK is believed: the required lines pass, our
    // protocol's refusals do not.
    let r = check(port, PATIENT, None);
    assert_required_pass(&r, Convention::Ours);
    assert_eq!(
        r.failed_ids(),
        ["truncated", "malformed-header"],
        "{}",
        r.text()
    );
    let o = r.by_id("truncated").unwrap();
    assert_eq!(
        o.reason.as_deref(),
        Some("the server answered \"OK diterima\" instead of refusing")
    );
    assert!(o
        .sent
        .as_deref()
        .unwrap()
        .starts_with("\"FILE 1000 potong.txt\\nxxxx"));
    // --strict: the extras grade.
    let r = check_opts(
        CheckOptions {
            strict: true,
            ..CheckOptions::local(port, PATIENT)
        },
        None,
    );
    assert_eq!(r.exit_code, EXIT_FAILED);
    // --skip-protocol: our protocol's details are left out.
    let r = check_opts(
        CheckOptions {
            skip_protocol: true,
            ..CheckOptions::local(port, PATIENT)
        },
        None,
    );
    assert!(r.by_id("truncated").is_none(), "{}", r.text());
    assert!(r.all_passed(), "{}", r.text());
    // With the file, the OK is not enough: nothing was saved.
    let output = output("tugas1a-ok-nothing");
    let r = check(port, MIDDLE, Some(&output));
    assert_eq!(status(&r, "text-arrives"), Status::Fail, "{}", r.text());
    assert!(reason(&r, "text-arrives").starts_with("the server answered OK but "));
}

#[test]
fn server_that_never_answers_or_closes_fails_by_timeout() {
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 4096];
        while let Ok(1..) = s.read(&mut buf) {}
        thread::park(); // keeps the connection open after the client is done
    });
    let r = finishes_within(Duration::from_secs(5), || check(port, SHORT, None));
    assert_eq!(r.failures().len(), 4, "{}", r.text());
    assert_eq!(status(&r, "connect"), Status::Pass);
    assert!(reason(&r, "text-arrives").starts_with("not judged"));
    assert_eq!(
        reason(&r, "finishes"),
        "timed out after 0.3s waiting for the server to close the connection (the client had \
         sent everything and half-closed)"
    );
}

#[test]
fn endless_garbage_is_a_bounded_failure() {
    let port = fake_server(|s| stream_forever(s, &[0x5au8; 8192]));
    let output = output("tugas1a-garbage");
    let r = finishes_within(Duration::from_secs(10), || {
        check(port, SHORT, Some(&output))
    });
    assert_eq!(r.failures().len(), 4, "{}", r.text());
    assert_eq!(
        reason(&r, "finishes"),
        "more than 65536 bytes of answer: the server keeps sending"
    );
    assert!(reason(&r, "text-arrives").contains("got back \"ZZZZ"));
}

#[test]
fn nothing_listening_is_one_unreachable_line() {
    let port = closed_port();
    let r = check(port, SHORT, None);
    assert_eq!(r.failed, 5);
    assert_eq!(r.exit_code, common::check::EXIT_UNREACHABLE);
    assert_eq!(
        r.text(),
        format!(
            "cannot reach the server: cannot connect to 127.0.0.1:{port}: connection refused \
             (is the server running on 127.0.0.1:{port}?)\n"
        )
    );
}

#[test]
fn flags() {
    let (m, o) = parse_options(&CHECK, &["--skip-protocol"]);
    assert_eq!(o.ports, [31100]);
    assert!(o.skip_protocol && !o.json);
    assert_eq!(output_file(&m), None);
    let (m, _) = parse_options(&CHECK, &["--output-file", "/tmp/siswa/hasil.txt"]);
    assert_eq!(output_file(&m), Some(PathBuf::from("/tmp/siswa/hasil.txt")));
    let help = CHECK.help();
    assert!(help.contains("--output-file PATH") && help.contains("--skip-protocol"));
}
