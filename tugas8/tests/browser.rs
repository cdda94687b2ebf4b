//! The assignment itself, with a real browser: headless Chromium opens
//! /sending.html, types ISILAH into the `kirim` field and clicks the submit
//! button; the page the server sends back must contain ISILAH, the
//! browser's own User-Agent line and its Content-Type line.
//!
//! The browser is driven through chromedriver (Debian's `chromium-driver`,
//! always the same version as `chromium`) with the W3C WebDriver HTTP API,
//! spoken here with plain `TcpStream` requests and serde_json: no client
//! library. The browser builds and sends the POST itself.
//!
//! Run: `cargo test -p tugas8 --test browser -- --include-ignored --nocapture`.
//! It starts its own server on a free port; with `TUGAS8_URL` set (e.g.
//! `http://127.0.0.1:10002`) it uses a server you started yourself, so you
//! can watch that server's log while the browser posts.
//! The screenshot of the answer page is saved to `$TUGAS8_SCREENSHOT`, or
//! by default `<target dir>/tmp/tugas8-browser-post.png`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{start_www, TempDir};

/// The W3C WebDriver key that holds an element's id.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Time allowed for chromedriver to start and for each page load.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running chromedriver and (once created) its browser session; both
/// are ended on drop, also when the test fails half-way.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            let _ = webdriver(self.port, "DELETE", &format!("/session/{id}"), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// `chromedriver --port=0`; waits for the line naming the port it chose.
    fn start(tmp: &Path) -> Driver {
        let mut child = Command::new("chromedriver")
            .arg("--port=0")
            .arg(format!("--log-path={}", tmp.join("chromedriver.log").display()))
            // Chromium's scratch files go under our temp dir too.
            .env("TMPDIR", tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("needs chromium: cannot run chromedriver ({e}); install it with: apt-get install chromium chromium-driver")
            });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port.parse::<u16>().ok());
                }
            }
        });
        let port = match rx.recv_timeout(STEP_TIMEOUT) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(tmp.join("chromedriver.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                panic!("chromedriver did not report its port ({other:?}); its log ends: {tail:?}");
            }
        };
        Driver {
            child,
            port,
            session: None,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let session = self.session.as_deref().unwrap_or("-");
        let path = path.replace("{s}", session);
        webdriver(self.port, method, &path, body.as_ref())
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// Waits until the page that set `window.__oldPage` has been replaced
    /// by a fully loaded new one (the server's answer to a submit).
    fn wait_for_new_page(&self) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let done = self.js(
                "return window.__oldPage === undefined && document.readyState === 'complete'",
                json!([]),
            );
            if done == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page after submitting the form"
            );
            std::thread::sleep(Duration::from_millis(100)); // polling the page's state
        }
    }

    /// Runs JavaScript in the page and returns its result.
    fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/session/{s}/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }
}

/// One WebDriver call: a plain HTTP/1.1 request with a JSON body; returns
/// the answer's `value`, or the WebDriver error as text.
fn webdriver(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(STEP_TIMEOUT + Duration::from_secs(30)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).map_err(|e| e.to_string())?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<u64>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
    }
    // Our own body readers work for a response body as well.
    let bytes = if chunked {
        tugas8::body::read_chunked(&mut r, 64 << 20).map_err(|e| e.to_string())?
    } else if let Some(n) = length {
        tugas8::body::read_sized(&mut r, n, 64 << 20).map_err(|e| e.to_string())?
    } else {
        let mut all = Vec::new();
        r.read_to_end(&mut all).map_err(|e| e.to_string())?;
        all
    };
    let answer: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} with a body that is not JSON ({e})", status.trim()))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("{error}: {}", message.lines().next().unwrap_or("")));
    }
    Ok(value)
}

/// Standard base64 (the screenshot comes as base64 text).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for group in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

fn screenshot_path() -> PathBuf {
    match std::env::var_os("TUGAS8_SCREENSHOT") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("tugas8-browser-post.png"),
    }
}

#[test]
#[ignore = "needs chromium"]
fn chromium_submits_the_form_and_sees_its_own_headers() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "needs chromium: /usr/bin/chromium not found; install it with: apt-get install chromium chromium-driver"
    );
    // Our server unless told another; stopped when the test ends.
    let mut ours = None;
    let base = match std::env::var("TUGAS8_URL") {
        Ok(url) => url.trim_end_matches('/').to_string(),
        Err(_) => format!("http://{}", ours.insert(start_www()).addr()),
    };
    let tmp = TempDir::new("browser");
    let mut driver = Driver::start(tmp.path());

    // A headless browser with the flags proven on this machine, and a
    // fresh profile in our temp dir.
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "timeouts": { "pageLoad": STEP_TIMEOUT.as_millis() as u64, "script": 30000, "implicit": 0 },
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--no-proxy-server", "--window-size=1024,1300",
                format!("--user-data-dir={}", tmp.path().join("profile").display()),
            ]
        }
    }}});
    let session = driver.call("POST", "/session", Some(caps));
    let id = session["sessionId"]
        .as_str()
        .expect("a session id")
        .to_string();
    driver.session = Some(id);

    let form_url = format!("{base}/sending.html");
    driver.call("POST", "/session/{s}/url", Some(json!({ "url": form_url })));

    // The field, with the form's default value; clear it and type.
    let field = driver.call(
        "POST",
        "/session/{s}/element",
        Some(json!({ "using": "css selector", "value": "input[name=\"kirim\"]" })),
    );
    let field_id = field[ELEMENT_KEY]
        .as_str()
        .expect("an element id")
        .to_string();
    let field_ref = json!([{ ELEMENT_KEY: field_id }]);
    assert_eq!(
        driver.js("return arguments[0].value", field_ref.clone()),
        "isilah"
    );
    let form = driver.js(
        "var f = arguments[0].form; return [f.method, f.enctype]",
        field_ref.clone(),
    );
    assert_eq!(form, json!(["post", "application/x-www-form-urlencoded"]));
    driver.call(
        "POST",
        &format!("/session/{{s}}/element/{field_id}/clear"),
        Some(json!({})),
    );
    driver.call(
        "POST",
        &format!("/session/{{s}}/element/{field_id}/value"),
        Some(json!({ "text": "ISILAH" })),
    );
    assert_eq!(
        driver.js("return arguments[0].value", field_ref.clone()),
        "ISILAH"
    );

    // Click the form's submit button like a person; a marker on the old
    // page tells when the browser shows the server's answer instead.
    driver.js("window.__oldPage = true; return true", json!([]));
    let button = driver.js(
        "return arguments[0].form.querySelector('input[type=submit]')",
        field_ref,
    );
    let button_id = button[ELEMENT_KEY]
        .as_str()
        .expect("a submit button")
        .to_string();
    driver.call(
        "POST",
        &format!("/session/{{s}}/element/{button_id}/click"),
        Some(json!({})),
    );
    driver.wait_for_new_page();

    let url = driver.call("GET", "/session/{s}/url", None);
    assert_eq!(url, json!(form_url), "the form posts to itself");
    let text = driver.js("return document.body.innerText", json!([]));
    let text = text.as_str().expect("page text");
    let source = driver.call("GET", "/session/{s}/source", None);
    let source = source.as_str().expect("page source");
    let user_agent = driver.js("return navigator.userAgent", json!([]));
    let user_agent = user_agent.as_str().expect("a user agent");

    let shot = driver.call("GET", "/session/{s}/screenshot", None);
    let png = base64_decode(shot.as_str().expect("base64 screenshot"));
    let path = screenshot_path();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, &png).unwrap();
    eprintln!("----- page the server sent back (as the browser shows it) -----\n{text}\n-----");
    eprintln!("screenshot of the answer page: {}", path.display());

    assert!(
        text.contains("kirim: ISILAH"),
        "no 'kirim: ISILAH' in:\n{text}"
    );
    assert!(!text.contains("kosong\n"), "{text}");
    assert!(
        text.contains(&format!("User-Agent: {user_agent}")),
        "the browser's own User-Agent ({user_agent}) is not on the page:\n{text}"
    );
    assert!(
        text.contains("Content-Type: application/x-www-form-urlencoded"),
        "{text}"
    );
    assert!(text.contains("POST /sending.html HTTP/1.1"), "{text}");
    assert!(
        source.contains("<pre id=\"fields\">kirim: ISILAH\n</pre>"),
        "{source}"
    );
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
    assert!(png.len() > 10_000, "screenshot suspiciously small");

    // The second form on sending.html posts multipart/form-data with a
    // file: the browser picks the boundary and the part headers.
    let upload = tmp.path().join("catatan.txt");
    std::fs::write(&upload, "isi berkas\n").unwrap();
    driver.call("POST", "/session/{s}/url", Some(json!({ "url": form_url })));
    let find = |css: &str| -> String {
        let el = driver.call(
            "POST",
            "/session/{s}/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        el[ELEMENT_KEY].as_str().expect("an element id").to_string()
    };
    let note = find("input[name=\"catatan\"]");
    let file = find("input[name=\"berkas\"]");
    driver.call(
        "POST",
        &format!("/session/{{s}}/element/{note}/clear"),
        Some(json!({})),
    );
    driver.call(
        "POST",
        &format!("/session/{{s}}/element/{note}/value"),
        Some(json!({ "text": "halo <multipart>" })),
    );
    // Typing a path into a file input selects that file.
    driver.call(
        "POST",
        &format!("/session/{{s}}/element/{file}/value"),
        Some(json!({ "text": upload.to_str().unwrap() })),
    );
    driver.js("window.__oldPage = true; return true", json!([]));
    let send = find("form[enctype=\"multipart/form-data\"] input[type=submit]");
    driver.call(
        "POST",
        &format!("/session/{{s}}/element/{send}/click"),
        Some(json!({})),
    );
    driver.wait_for_new_page();
    let text = driver.js("return document.body.innerText", json!([]));
    let text = text.as_str().expect("page text");
    assert!(text.contains("Form fields (multipart/form-data)"), "{text}");
    assert!(text.contains("catatan: halo <multipart>"), "{text}");
    assert!(
        text.contains("berkas: file \"catatan.txt\" (text/plain, 11 bytes)"),
        "{text}"
    );
    assert!(
        text.contains("Content-Type: multipart/form-data; boundary=----WebKitFormBoundary"),
        "{text}"
    );
}
