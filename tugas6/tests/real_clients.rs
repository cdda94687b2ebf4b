//! The server against the real clients the assignment names: telnet (in a
//! tmux pane, typed like a person, driven by `common::testkit::telnet`), curl, headless Chromium, and ab.
//! Each test needs its tool installed and is ignored by default; CI runs
//! them with `cargo test -- --include-ignored` after installing the tools.

mod support;

use std::io::{self, Read};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::testkit::telnet::Telnet;
use support::*;

/// Fails with an install hint when `tool` cannot be started.
fn require(tool: &str, version_flag: &str, package: &str) {
    match Command::new(tool)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            panic!("needs {tool}: install it first (Debian/Ubuntu: apt-get install {package})")
        }
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

/// Runs a command to completion, killing it after `limit`.
fn run_with_limit(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    wait_with_limit(child, limit)
}

fn wait_with_limit(mut child: Child, limit: Duration) -> Output {
    // Read the pipes on threads so a chatty child cannot block on them.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

#[test]
#[ignore = "needs telnet"]
fn telnet_get_shows_the_heading() {
    let server = start();
    let addr = server.addr();
    let telnet = Telnet::start(addr).unwrap();
    telnet
        .wait_for("connecting", T, |s, exited| {
            assert!(!exited, "telnet exited before connecting:\n{s}");
            s.contains("Escape character is")
        })
        .unwrap();
    // What the assignment says to type: GET<space>/<space>HTTP/1.0<enter><enter>
    telnet.type_line("GET / HTTP/1.0").unwrap();
    telnet.type_line("").unwrap();
    // HTTP/1.0 without keep-alive: the server closes after answering, and
    // telnet exits saying so.
    let screen = telnet
        .wait_for("the server's answer and close", T, |s, exited| {
            exited && s.contains("Connection closed by foreign host")
        })
        .unwrap();
    let lines: Vec<&str> = screen.lines().collect();
    let status = lines
        .iter()
        .position(|l| *l == "HTTP/1.0 200 OK")
        .unwrap_or_else(|| panic!("no status line on the screen:\n{screen}"));
    // The body has no newline of its own, so telnet's goodbye follows it
    // on the same line.
    let answer = lines[status..].join("\n");
    assert!(
        answer.contains("\n\n<h1>SERVER HTTP</h1>"),
        "no body after a blank line on the screen:\n{screen}"
    );
    assert!(answer.contains("\nContent-Length: 20\n"), "{screen}");
}

#[test]
#[ignore = "needs curl"]
fn curl_gets_the_page_head_and_404() {
    require("curl", "--version", "curl");
    let server = start();
    let addr = server.addr();
    let url = format!("http://{addr}/");
    let body = run_with_limit(
        Command::new("curl").args(["-sS", "--max-time", "10", &url]),
        T,
    );
    assert!(
        body.status.success(),
        "{}",
        String::from_utf8_lossy(&body.stderr)
    );
    assert_eq!(body.stdout, b"<h1>SERVER HTTP</h1>");

    // HTTP/1.0 as the assignment's request, headers shown.
    let head = run_with_limit(
        Command::new("curl").args(["-sS", "-i", "--http1.0", "--max-time", "10", &url]),
        T,
    );
    let text = String::from_utf8_lossy(&head.stdout);
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert!(
        text.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n<h1>SERVER HTTP</h1>"), "{text}");

    // HEAD, and a missing page: -w prints the status curl saw.
    for (args, want) in [(vec!["-I"], "200"), (vec![], "404")] {
        let target = if want == "404" {
            format!("{url}nope")
        } else {
            url.clone()
        };
        let out = run_with_limit(
            Command::new("curl")
                .args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "10",
                ])
                .args(args)
                .arg(&target),
            T,
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{target}");
    }

    // Two URLs in one curl command reuse one keep-alive connection.
    let out = run_with_limit(
        Command::new("curl").args(["-sS", "-v", "--max-time", "10", &url, &url]),
        T,
    );
    assert_eq!(out.stdout, b"<h1>SERVER HTTP</h1><h1>SERVER HTTP</h1>");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "{log}"
    );
}

#[test]
#[ignore = "needs chromium"]
fn chromium_renders_the_heading() {
    require("chromium", "--version", "chromium");
    let server = start();
    let addr = server.addr();
    let dir = TempDir::new("chromium");
    let profile = dir.path().join("profile");
    let out = run_with_limit(
        Command::new("chromium")
            // The flags of a browser that runs as root in a container and
            // does not call out to the internet; a fresh profile each run.
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--no-proxy-server",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(format!("http://{addr}/"))
            // Chromium's scratch files go in the temp dir too.
            .env("TMPDIR", dir.path()),
        Duration::from_secs(60),
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
    );
    // The DOM after parsing: the heading is a real <h1> element.
    assert!(
        dom.contains("<body><h1>SERVER HTTP</h1></body>"),
        "heading not rendered; DOM: {dom}"
    );
}

#[test]
#[ignore = "needs ab"]
fn ab_100000_requests_at_concurrency_1000_all_succeed() {
    require("ab", "-V", "apache2-utils");
    // 1000 connections on each side of one process: raise the open-files
    // limit (ab, a child, inherits it too).
    let limit = tugas6::limits::raise_open_files_limit().unwrap_or(0);
    assert!(
        limit >= 2200,
        "open-files limit is {limit}; need 2200 for -c 1000 (ulimit -n)"
    );
    for &engine in tugas6::Engine::ALL {
        let server = start_engine(engine, T);
        let addr = server.addr();
        let url = format!("http://{addr}/");
        for keep_alive in [false, true] {
            let r = tugas6::bench::run_ab(&url, 100_000, 1000, keep_alive, 30)
                .unwrap_or_else(|e| panic!("{e}"));
            let what = format!("{} engine, keep-alive {keep_alive}: {r:?}", engine.name());
            assert_eq!(r.complete, 100_000, "{what}");
            assert_eq!(r.failed, 0, "{what}");
            assert_eq!(r.non_2xx, 0, "{what}");
        }
    }
}
