//! The grader's check for Tugas 8: tests any HTTP server with a form POST
//! (the course's `http.py` made to answer, a student's Python or Java
//! server, ours) against the assignment.
//!
//! ```text
//! cargo run -p tugas8 --bin check                                 # 127.0.0.1:10002
//! cargo run -p tugas8 --bin check -- --host 10.0.0.5 --port 10002 --timeout 10
//! cargo run -p tugas8 --bin check -- --strict                     # the extras count too
//! ```
//!
//! The assignment's requirements (each citing its sentence of
//! ASSIGNMENTS.md, Tugas 8; they grade), in order of importance:
//!
//! 1. `page`: `GET /sending.html` answers 200 (the page the browser opens);
//! 2. `form`: the page has a form with `method="post"` and an input named
//!    `kirim`;
//! 3. `isilah`: a urlencoded POST `kirim=ISILAH` gets back a page with
//!    "ISILAH" (and not the starter server's "kosong");
//! 4. `headers`: that page shows the request's header lines (each name with
//!    its value: a distinctive `X-Check`, `Content-Type:
//!    application/x-www-form-urlencoded`, `User-Agent`, `Host`, ...);
//! 5. `decoded`: the value is shown as typed, percent-decoded:
//!    `kirim=halo+dunia%21` shows "halo dunia!";
//! 6. `others-served`: while one client has sent only half of its request
//!    line, five other clients are answered (a browser keeps more than one
//!    connection open, some idle: a server that waits on one client alone
//!    hangs the page). This line judges only the five others; the slow
//!    client's own answer is the `slow-client` extra.
//!
//! Each request is sent in one piece (one TCP segment), as a browser sends
//! a small form. Beyond the assignment, the extras (reported as `(extra)`,
//! counted apart, graded only with `--strict`):
//!
//! - `content-type`: the page comes with Content-Type `text/html`;
//! - `split-body`: a POST body that arrives in several TCP segments is read
//!   whole (by its Content-Length, not by one `recv`);
//! - `valid-http`: responses are valid HTTP: a Content-Length that matches
//!   the body (nothing after it, as the course's `\r\n\r\n` after the
//!   body is), or chunks (the request says `Connection: close`, so the
//!   server closes after the body);
//! - `slow-client`: a request whose request line comes in two parts, half
//!   then the rest a moment later, is answered 200 (a server that takes one
//!   `recv` for the request answers the half);
//! - `traversal`: safety: a path-traversal GET (`/../../etc/passwd`,
//!   `%2e%2e`, an encoded slash, an absolute path) does not return
//!   `/etc/passwd`, `C:\Windows\win.ini` or a file the check planted in the
//!   temp folder (`common::check::outside`; a note lists them);
//! - `script`: safety: a submitted `<script>` does not come back as HTML:
//!   escaped, removed, not in a `text/html` page, or the POST refused (any
//!   status passes; only a live `<script>` fails).
//!
//! `--page` and `--field` name the form page and its field if a server
//! uses others. Every response is read with a deadline (`--timeout`) and a
//! size cap, by its Content-Length, as chunks, or until the server closes
//! (then a body with the course's `\r\n\r\n` after it still holds the
//! value the required lines look for).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::thread;
use std::time::Duration;

use common::check::http::{request, Reader, Response};
use common::check::{self, CheckOptions, Checker, Conn, Failure};
use common::cli::{Command, Flag, Matches};
use common::framing::shorten;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 8 grader's check: tests an HTTP server with a form POST (any language).",
    args: "",
    flags: &[
        check::host(),
        check::port("10002"),
        Flag::value(
            "page",
            "PATH",
            "/sending.html",
            "the form page; the form is posted to it",
        ),
        Flag::value("field", "NAME", "kirim", "the form's text field"),
        check::TIMEOUT,
        check::JSON,
    ],
};

/// Largest response body read (bytes).
pub const MAX_BODY: usize = 4 << 20;

/// Connections answered while one client is slow (`others-served`).
pub const AT_ONCE: usize = 5;

/// How long the `slow-client` extra waits between the two halves of its
/// request line.
pub const SLOW_PAUSE: Duration = Duration::from_millis(100);

/// The sentence of ASSIGNMENTS.md (Tugas 8) behind the form page.
pub const CITE_PAGE: &str = "Bukalah browser arahkan ke http://127.0.0.1:10002/sending.html, \
     isilah dengan sesuatu dan kirim";
/// The sentence behind the form on it.
pub const CITE_FORM: &str = "sending.html merupakan file dengan format HTML yang dapat digunakan \
     untuk mengambil input dari client dan mengirimkannya ke server";
/// The sentence behind the value sent back.
pub const CITE_ISILAH: &str = "misalkan mengisi “ISILAH” maka server akan mereply dengan \
     “ISILAH” juga , dan bukan ‘kosong’";
/// The sentence behind the header lines sent back.
pub const CITE_HEADERS: &str =
    "Modifikasilah agar server dapat membalas dengan isi: semua header yang dikirim dari browser";
/// The sentence behind the value as typed.
pub const CITE_TYPED: &str = "Yang anda isikan di form pada saat mengisi pada poin nomor 5";

/// The form page and its field.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Path of the form page (`/sending.html`).
    pub page: String,
    /// Name of the text field (`kirim`).
    pub field: String,
}

impl Default for Setup {
    /// The assignment's `/sending.html` and `kirim`.
    fn default() -> Setup {
        Setup {
            page: "/sending.html".to_string(),
            field: "kirim".to_string(),
        }
    }
}

impl Setup {
    /// The setup from the flags of [`CHECK`].
    pub fn from_matches(m: &Matches) -> Setup {
        let page = m.value("page");
        Setup {
            page: if page.starts_with('/') {
                page.to_string()
            } else {
                format!("/{page}")
            },
            field: m.value("field").to_string(),
        }
    }
}

/// How responses are read: strict HTTP, chunks decoded, bodies up to
/// [`MAX_BODY`].
const READER: Reader = Reader::strict(MAX_BODY);

/// Reads a whole response to `what` (a request, "GET /x"): the head, then
/// the body by its Content-Length, as chunks, or until the server closes.
///
/// # Errors
/// As [`Reader::read`].
pub fn read_response(conn: &mut Conn, what: &str) -> Result<Response, Failure> {
    READER.read(conn, &format!("the response to {what}"))
}

/// Sends `req` on a new connection and reads the whole response.
fn exchange(o: &CheckOptions, req: &[u8], what: &str) -> Result<(Conn, Response), Failure> {
    let mut conn = o.connect()?;
    conn.send(req, what)?;
    let r = read_response(&mut conn, what)?;
    Ok((conn, r))
}

/// Requires status 200.
fn expect_200(conn: &Conn, r: &Response, what: &str) -> Result<(), Failure> {
    if r.status() == Some(200) {
        Ok(())
    } else {
        Err(conn.fail(format!(
            "expected status 200 to {what}, got {:?}",
            shorten(r.first_line())
        )))
    }
}

/// POSTs `body` urlencoded to the form page with `extra` headers; any
/// status.
fn post_any(
    o: &CheckOptions,
    s: &Setup,
    body: &str,
    extra: &[(&str, &str)],
) -> Result<(Conn, Response, String), Failure> {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    headers.extend_from_slice(extra);
    let what = format!("POST {} {body:?}", s.page);
    let req = request(o, "POST", &s.page, &headers, body.as_bytes());
    let (conn, r) = exchange(o, &req, &what)?;
    Ok((conn, r, what))
}

/// Like [`post_any`], requiring a 200 answer.
fn post(
    o: &CheckOptions,
    s: &Setup,
    body: &str,
    extra: &[(&str, &str)],
) -> Result<(Conn, Response), Failure> {
    let (conn, r, what) = post_any(o, s, body, extra)?;
    expect_200(&conn, &r, &what)?;
    Ok((conn, r))
}

/// A random word, so that an answer cannot be canned.
fn nonce() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    format!("{:010x}", h.finish() & 0xff_ffff_ffff)
}

/// The opening tags `<name ...>` in `html` (lower case).
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = html[from..].find(&open) {
        let start = from + i;
        let after = html[start + open.len()..].chars().next();
        let end = html[start..]
            .find('>')
            .map_or(html.len(), |e| start + e + 1);
        if after.is_some_and(|c| c.is_whitespace() || c == '>' || c == '/') {
            out.push(&html[start..end]);
        }
        from = end.max(start + 1);
    }
    out
}

/// The value of attribute `name` in a lower-case tag: quoted or bare.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = tag[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before = tag[..at].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        return Some(match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or("").to_string(),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or("")
                .trim_end_matches('/')
                .to_string(),
        });
    }
    None
}

/// Whether `page` (lower case) shows header `name` with `value`: the name,
/// then the value within a short distance (a line, or a table row).
fn shows_header(page: &str, name: &str, value: &str) -> bool {
    let (name, value) = (name.to_ascii_lowercase(), value.to_ascii_lowercase());
    let mut from = 0;
    while let Some(i) = page[from..].find(&name) {
        let after = from + i + name.len();
        let window_end = (after + 200 + value.len()).min(page.len());
        let window_end = (window_end..=page.len())
            .find(|&e| page.is_char_boundary(e))
            .unwrap_or(page.len());
        if page[after..window_end].contains(&value) {
            return true;
        }
        from = after;
    }
    false
}

/// Runs every Tugas 8 requirement against the server of `c`'s options:
/// the required ones, then the extras.
pub fn run(c: &mut Checker, s: &Setup) {
    let n = nonce();
    let page = s.page.as_str();
    let field = s.field.as_str();
    // Files that exist outside any served folder on Unix and on Windows,
    // and one planted here for a server on this machine.
    let probes = common::check::outside::Probes::new();
    c.note(probes.describe());

    c.require(
        "page",
        format!("GET {page} answers 200 (the form page)"),
        CITE_PAGE,
        |o| {
            let what = format!("GET {page}");
            let (conn, r) = exchange(o, &request(o, "GET", page, &[], b""), &what)?;
            expect_200(&conn, &r, &what)
        },
    );
    c.require(
        "form",
        format!("{page} has a form with method post and an input named {field}"),
        CITE_FORM,
        |o| {
            let what = format!("GET {page}");
            let (conn, r) = exchange(o, &request(o, "GET", page, &[], b""), &what)?;
            expect_200(&conn, &r, &what)?;
            let html = r.text().to_ascii_lowercase();
            let forms = tags(&html, "form");
            if forms.is_empty() {
                return Err(conn.fail(format!("no <form> in {page}")));
            }
            if !forms
                .iter()
                .any(|f| attribute(f, "method").as_deref() == Some("post"))
            {
                return Err(conn.fail(format!(
                    "no <form method=\"post\"> in {page} (forms: {})",
                    shorten(&forms.join(" "))
                )));
            }
            let named = |t: &&str| attribute(t, "name").as_deref() == Some(field);
            if !tags(&html, "input").iter().any(named) && !tags(&html, "textarea").iter().any(named)
            {
                return Err(conn.fail(format!("no <input name=\"{field}\"> in {page}")));
            }
            Ok(())
        },
    );
    c.require(
        "isilah",
        format!("a POST {field}=ISILAH gets back a page with ISILAH (not \"kosong\")"),
        CITE_ISILAH,
        |o| {
            let (conn, r) = post(o, s, &format!("{field}=ISILAH"), &[])?;
            let text = r.text();
            if text.contains("ISILAH") {
                Ok(())
            } else if text.to_ascii_lowercase().contains("kosong") {
                Err(conn.fail(
                    "the answer says \"kosong\", as the starter server did: the form's value is not shown",
                ))
            } else {
                Err(conn.fail("the answer does not contain ISILAH, the value sent"))
            }
        },
    );
    c.require(
        "headers",
        "the POST answer shows the request's header lines (X-Check, Content-Type, User-Agent, Host, ...)",
        CITE_HEADERS,
        |o| {
            let check_value = format!("progjar-{n}");
            let (conn, r) = post(
                o,
                s,
                &format!("{field}=ISILAH"),
                &[("X-Check", &check_value), ("Accept-Language", "id-ID")],
            )?;
            let shown = r.text().to_ascii_lowercase();
            let host = o.target();
            let expected = [
                ("X-Check", check_value.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("User-Agent", "progjar-check/1.0"),
                ("Accept-Language", "id-ID"),
                ("Host", host.as_str()),
                ("Content-Length", &format!("{}", field.len() + 7)),
            ];
            let missing: Vec<String> = expected
                .iter()
                .filter(|(name, value)| !shows_header(&shown, name, value))
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(conn.fail(format!(
                    "the answer does not show the header line{} {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", ")
                )))
            }
        },
    );
    c.require(
        "decoded",
        format!("the value is percent-decoded: {field}=halo+dunia%21 shows \"halo dunia!\""),
        CITE_TYPED,
        |o| {
            let (conn, r) = post(o, s, &format!("{field}=halo+dunia%21"), &[])?;
            let text = r.text();
            if text.contains("halo dunia!") {
                Ok(())
            } else if text.contains("halo+dunia%21") {
                Err(conn.fail(
                    "the value is shown as sent, \"halo+dunia%21\": `+` is a space and %21 is `!`",
                ))
            } else {
                Err(conn.fail("the answer does not contain \"halo dunia!\""))
            }
        },
    );
    c.require(
        "others-served",
        format!(
            "several connections at once: {AT_ONCE} requests are answered while another client is still sending"
        ),
        CITE_PAGE,
        |o| others_served(o, page),
    );

    c.extra(
        "content-type",
        format!("GET {page} comes with Content-Type text/html"),
        |o| {
            let what = format!("GET {page}");
            let (conn, r) = exchange(o, &request(o, "GET", page, &[], b""), &what)?;
            match r.header("content-type") {
                Some(ct) if ct.to_ascii_lowercase().starts_with("text/html") => Ok(()),
                Some(ct) => Err(conn.fail(format!(
                    "Content-Type is {:?}, expected text/html",
                    shorten(ct)
                ))),
                None => Err(conn.fail("no Content-Type header (expected text/html)")),
            }
        },
    );
    c.extra(
        "split-body",
        "a POST body that arrives in several TCP segments is read whole",
        |o| {
            let value = format!("TERPISAH-{n}");
            let body = format!("{field}={value}");
            let req = request(
                o,
                "POST",
                page,
                &[("Content-Type", "application/x-www-form-urlencoded")],
                body.as_bytes(),
            );
            let head_len = req.len() - body.len();
            let what = format!("POST {page} with the body in 4-byte pieces");
            let mut conn = o.connect()?;
            conn.send(&req[..head_len], &what)?;
            let sent = conn.send_in_pieces(&req[head_len..], 4, Duration::from_millis(15), &what);
            // A server that answers after the first piece and closes makes
            // the later pieces fail: judge its answer if it came.
            let r = match (read_response(&mut conn, &what), sent) {
                (Ok(r), _) => r,
                (Err(_), Err(f)) | (Err(f), Ok(())) => return Err(f),
            };
            expect_200(&conn, &r, &what)?;
            if r.text().contains(&value) {
                Ok(())
            } else {
                Err(conn.fail(format!(
                    "the answer does not contain {value:?}, the value sent in {} pieces after the head \
                     (read the body by its Content-Length, not by one recv)",
                    body.len().div_ceil(4)
                )))
            }
        },
    );
    c.extra(
        "valid-http",
        "responses are valid HTTP (status line, Content-Length matching the body)",
        |o| valid_http(o, s),
    );
    c.extra(
        "slow-client",
        format!("a request whose request line comes in two parts is answered (GET {page})"),
        |o| slow_client(o, page),
    );
    c.extra(
        "traversal",
        "safety: a path-traversal GET does not return /etc/passwd",
        |o| {
            for probe in &probes.list {
                for path in probe.url_paths() {
                    let what = format!("GET {path}");
                    let (conn, r) = exchange(o, &request(o, "GET", &path, &[], b""), &what)?;
                    if probe.matches(r.text().as_bytes()) {
                        return Err(conn.fail(format!(
                            "{what} returned {} ({:?}): files outside the served folder must be refused (403 or 404)",
                            probe.file,
                            shorten(r.first_line())
                        )));
                    }
                }
            }
            Ok(())
        },
    );
    c.extra(
        "script",
        "safety: a submitted <script> does not come back as HTML (escaped or removed)",
        |o| {
            // Softer than the others: any status will do (a server that
            // refuses the POST reflects nothing).
            let (conn, r, _) = post_any(
                o,
                s,
                &format!("{field}=%3Cscript%3Ealert%28{n}%29%3C%2Fscript%3E"),
                &[],
            )?;
            let html = r
                .header("content-type")
                .is_none_or(|ct| ct.to_ascii_lowercase().starts_with("text/html"));
            let raw = format!("<script>alert({n})");
            if html && r.text().to_ascii_lowercase().contains(&raw) {
                Err(conn.fail(
                    "the value comes back as a live <script> tag: escape < > & \" as &lt; &gt; &amp; &quot;",
                ))
            } else {
                Ok(())
            }
        },
    );
}

/// The `valid-http` extra: a GET and a POST each answered with a
/// Content-Length (or chunks) that says where the body ends, nothing
/// after the body before the close.
fn valid_http(o: &CheckOptions, s: &Setup) -> Result<(), Failure> {
    let page = s.page.as_str();
    let get = request(o, "GET", page, &[], b"");
    let body = format!("{}=ISILAH", s.field);
    let post = request(
        o,
        "POST",
        page,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    );
    for (req, what) in [(get, format!("GET {page}")), (post, format!("POST {page}"))] {
        let mut conn = o.connect()?;
        conn.send(&req, &what)?;
        let response = format!("the response to {what}");
        let mut r = READER.read_head(&mut conn, &response)?;
        let chunked = r.is_chunked();
        if !chunked && r.content_length().map_err(|e| conn.fail(e))?.is_none() {
            return Err(conn.fail(format!(
                "no Content-Length header in the response to {what}"
            )));
        }
        // Chunks are valid HTTP/1.1 too: they say where the body ends.
        READER.read_body(&mut conn, &mut r, &response)?;
        let length = r.body.len();
        READER.read_close(&mut conn, &mut r, &response)?;
        let extra = r.extra;
        if extra > 0 {
            return Err(conn.fail(format!(
                "{extra} more bytes came after the {length} that {} announces \
                 (response to {what})",
                if chunked {
                    "the last chunk"
                } else {
                    "Content-Length"
                }
            )));
        }
    }
    Ok(())
}

/// Where the slow clients cut a request: half of its request line, before
/// any line end (so a server that answers at the first `\r\n` waits too).
fn half_request_line(req: &[u8]) -> usize {
    (req.iter().position(|&b| b == b'\r').unwrap_or(2) / 2).max(1)
}

/// The `others-served` requirement: one client sends half a request line
/// and stays; [`AT_ONCE`] others send whole requests and must each get
/// 200. Only the others are judged (the slow one is `slow-client`).
fn others_served(o: &CheckOptions, page: &str) -> Result<(), Failure> {
    let what = format!("GET {page}");
    let req = request(o, "GET", page, &[], b"");
    let cut = half_request_line(&req);
    let mut slow = o.connect()?;
    slow.send(&req[..cut], "the beginning of a request (the slow client)")?;
    let mut others = Vec::new();
    for i in 0..AT_ONCE {
        let mut conn = o.connect().map_err(|mut f| {
            f.reason = format!(
                "connection {} of {AT_ONCE} while another client is still sending: {}",
                i + 1,
                f.reason
            );
            f
        })?;
        conn.send(&req, &what)?;
        others.push(conn);
    }
    let results: Vec<Result<(), Failure>> = thread::scope(|scope| {
        let handles: Vec<_> = others
            .into_iter()
            .map(|mut conn| {
                let what = &what;
                scope.spawn(move || {
                    let r = read_response(&mut conn, what)?;
                    expect_200(&conn, &r, what)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Failure::new("the reading thread failed")))
            })
            .collect()
    });
    drop(slow);
    for (i, result) in results.into_iter().enumerate() {
        result.map_err(|mut f| {
            f.reason = format!(
                "connection {} of {AT_ONCE} (another client's request still incomplete): {}",
                i + 1,
                f.reason
            );
            f
        })?;
    }
    Ok(())
}

/// The `slow-client` extra: half a request line, a pause
/// ([`SLOW_PAUSE`]), the rest; the answer must be 200 with the form page.
fn slow_client(o: &CheckOptions, page: &str) -> Result<(), Failure> {
    let what = format!("GET {page}");
    let req = request(o, "GET", page, &[], b"");
    let cut = half_request_line(&req);
    let mut slow = o.connect()?;
    slow.send(&req[..cut], "the first half of the request line")?;
    thread::sleep(SLOW_PAUSE);
    let sent = slow.send(&req[cut..], "the rest of the request");
    let part = String::from_utf8_lossy(&req[..cut]).into_owned();
    let asked = format!(
        "{what} sent in two parts ({part:?}, then the rest {} ms later)",
        SLOW_PAUSE.as_millis()
    );
    // A server that answered the first part already closed: judge that
    // answer if it came.
    let r = match (read_response(&mut slow, &asked), sent) {
        (Ok(r), _) => r,
        (Err(_), Err(f)) | (Err(f), Ok(())) => return Err(f),
    };
    if r.status() == Some(200) && r.text().to_ascii_lowercase().contains("<form") {
        Ok(())
    } else if r.status() == Some(200) {
        Err(slow.fail(format!(
            "the slow client's answer to {asked} is not the form page (no <form>)"
        )))
    } else {
        Err(slow.fail(format!(
            "the slow client got {:?} to {asked}: read the request up to its empty line (\\r\\n\\r\\n), \
             not one recv",
            shorten(r.first_line())
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_attributes() {
        let html = "<form method=post action='/x'><input type=\"text\" name = \"kirim\"/><inputx name=a><textarea name=b></textarea></form><formal>";
        let forms = tags(html, "form");
        assert_eq!(forms, ["<form method=post action='/x'>"]);
        assert_eq!(attribute(forms[0], "method").as_deref(), Some("post"));
        assert_eq!(attribute(forms[0], "action").as_deref(), Some("/x"));
        let inputs = tags(html, "input");
        assert_eq!(inputs.len(), 1);
        assert_eq!(attribute(inputs[0], "name").as_deref(), Some("kirim"));
        assert_eq!(attribute(inputs[0], "type").as_deref(), Some("text"));
        assert_eq!(attribute("<input data-name=x>", "name"), None);
        assert_eq!(
            attribute("<input name=kirim/>", "name").as_deref(),
            Some("kirim")
        );
        assert_eq!(
            attribute(tags("<textarea name=b>", "textarea")[0], "name").as_deref(),
            Some("b")
        );
    }

    #[test]
    fn headers_are_found_near_their_values() {
        let page = "<tr><td>x-check</td><td>progjar-1</td></tr>\nhost: 127.0.0.1:80";
        assert!(shows_header(page, "X-Check", "progjar-1"));
        assert!(shows_header(page, "Host", "127.0.0.1:80"));
        assert!(!shows_header(page, "User-Agent", "progjar-1"));
        assert!(!shows_header(
            "x-check: other ... progjar-1",
            "X-Check",
            "progjar-2"
        ));
    }

    #[test]
    fn passwd_is_recognised() {
        use common::check::outside::looks_like_passwd;
        assert!(looks_like_passwd("root:x:0:0:root:/root:/bin/bash\n"));
        assert!(looks_like_passwd(
            "<pre>root:x:0:0:root:/root:/bin/sh</pre>"
        ));
        assert!(!looks_like_passwd("<h1>404 Not Found</h1>"));
        assert!(!looks_like_passwd("root: x"));
    }
}
