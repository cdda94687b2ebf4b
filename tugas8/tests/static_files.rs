//! GET and HEAD of the files in the served folder, over real sockets.

mod common;

use std::io::{BufReader, Read, Write};

use common::*;
use tugas8::Config;

/// The files the crate ships, their types, and bytes equal to the disk.
#[test]
fn www_files_are_served_with_their_types_and_exact_bytes() {
    let server = start_www();
    let addr = server.addr();
    let www = tugas8::crate_www();
    let cases = [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/sending.html", "sending.html", "text/html; charset=utf-8"),
        ("/gambar.html", "gambar.html", "text/html; charset=utf-8"),
        ("/teks.txt", "teks.txt", "text/plain; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/images/pola.png", "images/pola.png", "image/png"),
        ("/images/amplop.svg", "images/amplop.svg", "image/svg+xml"),
        ("/favicon.ico", "favicon.ico", "image/x-icon"),
    ];
    for (target, file, ctype) in cases {
        let r = get(addr, target);
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.status_line, "HTTP/1.1 200 OK");
        assert_eq!(r.header("content-type"), Some(ctype), "{target}");
        let want = std::fs::read(www.join(file)).unwrap();
        assert_eq!(r.body, want, "{target}: bytes differ from {file}");
        assert_eq!(
            r.header("content-length"),
            Some(want.len().to_string().as_str())
        );
        let date = r.header("date").expect("Date header");
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
        assert_eq!(r.header("server"), Some("progjar-rust"));
    }
    // The PNG really is a PNG (made by tools/make_images.py).
    assert!(get(addr, "/images/pola.png")
        .body
        .starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn sending_html_is_the_assignment_form() {
    let server = start_www();
    let addr = server.addr();
    let page = get(addr, "/sending.html").text();
    assert!(page.contains("<form method=\"post\">"), "{page}");
    assert!(
        page.contains("<input type=\"text\" id=\"kirim\" name=\"kirim\" value=\"isilah\">"),
        "{page}"
    );
    assert!(page.contains("<input type=\"submit\""), "{page}");
    // The index links every page.
    let index = get(addr, "/").text();
    for link in ["/sending.html", "/gambar.html", "/teks.txt"] {
        assert!(
            index.contains(&format!("href=\"{link}\"")),
            "index lacks {link}"
        );
    }
    let gambar = get(addr, "/gambar.html").text();
    assert!(gambar.contains("src=\"/images/pola.png\""));
    assert!(gambar.contains("src=\"/images/amplop.svg\""));
}

#[test]
fn content_type_for_every_extension() {
    let dir = TempDir::new("types");
    let cases = [
        ("a.html", "text/html; charset=utf-8"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.json", "application/json"),
        ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.png", "image/png"),
        ("a.gif", "image/gif"),
        ("a.svg", "image/svg+xml"),
        ("a.ico", "image/x-icon"),
        ("a.pdf", "application/pdf"),
        ("A.PNG", "image/png"),
        ("a.bin", "application/octet-stream"),
        ("noext", "application/octet-stream"),
    ];
    for (i, (name, _)) in cases.iter().enumerate() {
        // Every byte value, so binary files must come back exact.
        let mut bytes: Vec<u8> = (0..=255u8).collect();
        bytes.extend(name.bytes());
        bytes.push(i as u8);
        dir.write(name, &bytes);
    }
    let server = start(Config::new(dir.path()));
    let addr = server.addr();
    for (name, ctype) in cases {
        let r = get(addr, &format!("/{name}"));
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some(ctype), "{name}");
        assert_eq!(
            r.body,
            std::fs::read(dir.path().join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn head_sends_the_headers_only() {
    let server = start_www();
    let addr = server.addr();
    let get_r = get(addr, "/images/pola.png");
    let head_r = exchange(
        addr,
        b"HEAD /images/pola.png HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head_r.status, 200);
    assert_eq!(head_r.header("content-type"), Some("image/png"));
    assert_eq!(
        head_r.header("content-length"),
        Some(get_r.body.len().to_string().as_str())
    );
    // exchange() already checked that nothing followed the head.
    assert!(head_r.body.is_empty());
}

#[test]
fn percent_encoded_names_are_decoded() {
    let dir = TempDir::new("names");
    dir.write("a b.txt", b"spasi");
    dir.write("caf\u{e9}.txt", b"kopi");
    dir.write("c+d.txt", b"plus");
    dir.write("sub/index.html", b"<p>sub index</p>");
    let server = start(Config::new(dir.path()));
    let addr = server.addr();
    assert_eq!(get(addr, "/a%20b.txt").body, b"spasi");
    assert_eq!(get(addr, "/caf%C3%A9.txt").body, b"kopi");
    assert_eq!(get(addr, "/caf%c3%a9.txt?x=1#frag").body, b"kopi");
    // In a path '+' is a plus, not a space.
    assert_eq!(get(addr, "/c+d.txt").body, b"plus");
    assert_eq!(get(addr, "/sub/").body, b"<p>sub index</p>");
    assert_eq!(get(addr, "/%73ub/index.html").body, b"<p>sub index</p>");
    assert_eq!(get(addr, "http://127.0.0.1/a%20b.txt").body, b"spasi");
}

#[test]
fn missing_files_are_404() {
    let server = start_www();
    let addr = server.addr();
    for target in [
        "/tidak-ada.html",
        "/images/",
        "/images",
        "/teks.txt/x",
        "/nope/",
    ] {
        let r = get(addr, target);
        assert_eq!(r.status, 404, "{target}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(r.text().contains("<h1>404 Not Found</h1>"), "{}", r.text());
    }
}

/// Nothing outside the served folder, however the path is spelled.
#[test]
fn traversal_attempts_are_refused() {
    let root = TempDir::new("traversal");
    root.write("secret.txt", b"RAHASIA");
    root.write("www/ok.txt", b"ok");
    let www = root.path().join("www");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), www.join("link.txt")).unwrap();
    let server = start(Config::new(&www));
    let addr = server.addr();
    assert_eq!(get(addr, "/ok.txt").body, b"ok");
    let abs = root.path().join("secret.txt");
    let abs = abs.to_str().unwrap();
    let attempts = [
        "/../secret.txt".to_string(),
        "/./../secret.txt".to_string(),
        "/%2e%2e/secret.txt".to_string(),
        "/%2E%2E/secret.txt".to_string(),
        "/.%2e/secret.txt".to_string(),
        "/%2e%2e%2fsecret.txt".to_string(),
        "/..%2fsecret.txt".to_string(),
        "/..%2Fsecret.txt".to_string(),
        "/..%5csecret.txt".to_string(),
        "/..\\secret.txt".to_string(),
        "/ok.txt/../../secret.txt".to_string(),
        "/%252e%252e/secret.txt".to_string(), // double-encoded: a name "%2e%2e"
        "/secret.txt%00.txt".to_string(),
        format!("/{abs}"),
        format!("//{abs}"),
        "/link.txt".to_string(),
        "http://x/../secret.txt".to_string(),
    ];
    for target in &attempts {
        let r = get(addr, target);
        assert!(
            r.status == 403 || r.status == 404,
            "{target}: status {}",
            r.status
        );
        assert!(!r.text().contains("RAHASIA"), "{target} leaked the file");
    }
    // The typed and encoded ".." are named as what they are: forbidden.
    assert_eq!(get(addr, "/../secret.txt").status, 403);
    assert_eq!(get(addr, "/%2e%2e/secret.txt").status, 403);
    assert_eq!(get(addr, "/..%2fsecret.txt").status, 403);
    assert_eq!(get(addr, "/secret.txt%00.txt").status, 403);
    #[cfg(unix)]
    assert_eq!(get(addr, "/link.txt").status, 403);
    assert_eq!(get(addr, "/ok.txt").body, b"ok");
}

#[test]
fn keep_alive_and_pipelining() {
    let server = start_www();
    let addr = server.addr();
    let mut s = connect(addr);
    // Two requests in one write (pipelined), then a third later.
    s.write_all(
        b"GET /teks.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let a = read_response(&mut r, false);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("connection"), Some("keep-alive"));
    assert!(a.text().starts_with("Tugas 8: HTTP POST"));
    let b = read_response(&mut r, true);
    assert_eq!(b.header("content-type"), Some("text/css; charset=utf-8"));
    s.write_all(b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let c = read_response(&mut r, false);
    assert_eq!(c.status, 404);
    assert_eq!(c.header("connection"), Some("close"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn http_1_0_closes_unless_asked() {
    let server = start_www();
    let addr = server.addr();
    let r = exchange(addr, b"GET /teks.txt HTTP/1.0\r\n\r\n");
    assert_eq!(r.status_line, "HTTP/1.0 200 OK");
    assert_eq!(r.header("connection"), Some("close"));

    let mut s = connect(addr);
    s.write_all(b"GET /teks.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(
        read_response(&mut r, false).header("connection"),
        Some("keep-alive")
    );
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r, false).status, 200);
}

#[test]
fn get_with_a_body_keeps_the_connection_in_step() {
    let server = start_www();
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(b"GET /teks.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(
        read_response(&mut r, false).header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        read_response(&mut r, false).header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

#[test]
fn large_file_is_streamed_exactly_and_the_connection_goes_on() {
    let dir = TempDir::new("large");
    // 3 MB of a byte pattern that is not periodic in small steps.
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    dir.write("besar.pdf", &big);
    let server = start(Config::new(dir.path()));
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(
        b"GET /besar.pdf HTTP/1.1\r\nHost: t\r\n\r\nHEAD /besar.pdf HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let got = read_response(&mut r, false);
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert_eq!(got.header("content-length"), Some("3000000"));
    assert!(got.body == big, "streamed bytes differ");
    let head = read_response(&mut r, true);
    assert_eq!(head.header("content-length"), Some("3000000"));
    assert_eq!(head.header("connection"), Some("keep-alive"));
}

/// Small files are answered from memory after their first request, but
/// a file changed, replaced by a link out of the folder, or removed on
/// disk is seen at the next request.
#[test]
fn a_file_changed_on_disk_is_served_new_at_once() {
    let dir = TempDir::new("cache");
    let file = dir.write("a.txt", b"first");
    let server = start(Config::new(dir.path()));
    let addr = server.addr();
    assert_eq!(get(addr, "/a.txt").body, b"first");
    assert_eq!(get(addr, "/a.txt").body, b"first", "from memory");

    std::fs::write(&file, b"second, longer").unwrap();
    assert_eq!(get(addr, "/a.txt").body, b"second, longer");

    #[cfg(unix)]
    {
        let outside = TempDir::new("cache-outside");
        let secret = outside.write("secret.txt", b"secret");
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&secret, &file).unwrap();
        let r = get(addr, "/a.txt");
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(!r.body.windows(6).any(|w| w == b"secret"));
    }

    std::fs::remove_file(&file).unwrap();
    assert_eq!(get(addr, "/a.txt").status, 404);
}

/// On Linux a GET of a file in memory is answered by an event loop, and
/// anything else on the same connection by a thread it hands the
/// connection to: pipelined GETs (from memory), then a POST and a GET in
/// one segment, all answered in order on one connection.
#[test]
fn a_connection_goes_on_after_the_fast_path_hands_it_over() {
    let server = start_www();
    let addr = server.addr();
    // The first GET puts the file in memory.
    assert_eq!(get(addr, "/teks.txt").status, 200);
    let want = std::fs::read(tugas8::crate_www().join("teks.txt")).unwrap();
    let mut s = connect(addr);
    let get_one = b"GET /teks.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    s.write_all(&get_one.repeat(3)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    for _ in 0..3 {
        let resp = read_response(&mut r, false);
        assert_eq!((resp.status, &resp.body), (200, &want));
    }
    let mut mixed = b"POST /sending.html HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\n\r\nkirim=ISILAH".to_vec();
    mixed.extend_from_slice(get_one);
    mixed.extend_from_slice(b"GET /teks.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(&mixed).unwrap();
    let post = read_response(&mut r, false);
    assert_eq!(post.status, 200);
    assert!(post.text().contains("ISILAH"), "{}", post.text());
    for _ in 0..2 {
        let resp = read_response(&mut r, false);
        assert_eq!((resp.status, &resp.body), (200, &want));
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "closed after the last answer");
}

/// A request head cut between two segments, for a file in memory: the
/// connection is handed to a thread with the first part, and the answer
/// is whole.
#[test]
fn a_head_cut_in_two_is_answered() {
    let server = start_www();
    let addr = server.addr();
    assert_eq!(get(addr, "/teks.txt").status, 200);
    let mut s = connect(addr);
    s.set_nodelay(true).unwrap();
    s.write_all(b"GET /teks.txt HT").unwrap();
    s.flush().unwrap();
    // Give the first part a chance to be read alone (not a
    // synchronisation: the answer is the same either way).
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.write_all(b"TP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.body,
        std::fs::read(tugas8::crate_www().join("teks.txt")).unwrap()
    );
}
