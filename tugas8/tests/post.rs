//! POST over real sockets: the answer page shows the headers exactly as
//! sent and the fields decoded, however the bytes arrive.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;

use common::*;

/// The text inside `<pre id="ID">...</pre>` on the answer page.
fn section(page: &str, id: &str) -> String {
    let start = format!("<pre id=\"{id}\">");
    let from = page
        .find(&start)
        .unwrap_or_else(|| panic!("no {id} section in {page}"))
        + start.len();
    let len = page[from..].find("</pre>").unwrap();
    page[from..from + len].to_string()
}

/// Writes `bytes` one byte per write with Nagle off: one byte per TCP
/// segment, the worst split a server can get.
fn send_in_single_bytes(s: &mut TcpStream, bytes: &[u8]) {
    for b in bytes {
        s.write_all(std::slice::from_ref(b)).unwrap();
        s.flush().unwrap();
    }
}

#[test]
fn the_assignment_isilah_comes_back() {
    let server = start_www();
    let addr = server.addr();
    let r = post_form(addr, "/sending.html", "kirim=ISILAH");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert_eq!(section(&page, "fields"), "kirim: ISILAH\n");
    assert_eq!(
        section(&page, "request-line"),
        "POST /sending.html HTTP/1.1"
    );
    assert_eq!(section(&page, "body"), "kirim=ISILAH");
    assert!(!page.contains(">kosong<"));
}

#[test]
fn every_header_line_is_shown_exactly_as_sent_in_order() {
    let server = start_www();
    let addr = server.addr();
    // Odd spacing, case and repeats must all survive, in this order.
    let lines = [
        "Host: 127.0.0.1",
        "user-agent: TestAgent/1.0 (like a browser)",
        "X-Spaced:    lots   of   space   ",
        "X-Repeat: one",
        "Content-Type: application/x-www-form-urlencoded",
        "X-Repeat: two",
        "X-Empty:",
        "X-Tab:\tvalue",
        "Content-Length: 12",
        "Connection: close",
    ];
    let request = format!(
        "POST /a/b?c=d HTTP/1.1\r\n{}\r\n\r\nkirim=ISILAH",
        lines.join("\r\n")
    );
    let page = exchange(addr, request.as_bytes()).text();
    let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(section(&page, "headers"), want);
    assert_eq!(section(&page, "request-line"), "POST /a/b?c=d HTTP/1.1");
    assert!(page.contains(&format!("exactly as received ({} lines)", lines.len())));
}

#[test]
fn post_to_any_path_is_answered() {
    let server = start_www();
    let addr = server.addr();
    for path in ["/", "/sending.html", "/tidak/ada", "/x?y=1", "/%2e%2e/apa"] {
        let r = post_form(addr, path, "kirim=halo");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(section(&r.text(), "fields"), "kirim: halo\n", "{path}");
    }
}

#[test]
fn body_split_into_one_byte_segments() {
    let server = start_www();
    let addr = server.addr();
    let mut s = connect(addr);
    let body = "kirim=ISILAH+satu+byte&lagi=%C3%A9";
    let request = format!(
        "POST /sending.html HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    send_in_single_bytes(&mut s, request.as_bytes());
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 200);
    assert_eq!(
        section(&resp.text(), "fields"),
        "kirim: ISILAH satu byte\nlagi: \u{e9}\n"
    );
}

#[test]
fn head_and_body_in_separate_writes() {
    let server = start_www();
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")
        .unwrap();
    s.write_all(b"kirim=").unwrap();
    s.write_all(b"ISILAH").unwrap();
    let resp = read_response(&mut BufReader::new(s), false);
    assert_eq!(section(&resp.text(), "fields"), "kirim: ISILAH\n");
}

#[test]
fn chunked_post() {
    let server = start_www();
    let addr = server.addr();
    let request = b"POST /sending.html HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\nkirim=I\r\n5;ext=x\r\nSILAH\r\n0\r\nX-Trailer: t\r\n\r\n";
    let page = exchange(addr, request).text();
    assert_eq!(section(&page, "fields"), "kirim: ISILAH\n");
    assert_eq!(section(&page, "body"), "kirim=ISILAH");
    assert!(section(&page, "headers").contains("Transfer-Encoding: chunked\n"));

    // The same, one byte per segment.
    let mut s = connect(addr);
    send_in_single_bytes(&mut s, request);
    let resp = read_response(&mut BufReader::new(s), false);
    assert_eq!(section(&resp.text(), "fields"), "kirim: ISILAH\n");
}

#[test]
fn urlencoded_edge_cases() {
    let server = start_www();
    let addr = server.addr();
    let cases = [
        ("a=halo+dunia", "a: halo dunia\n"),
        (
            "a=50%25+off&b=a%2Bb%3Dc%26d",
            "a: 50% off\nb: a+b=c&amp;d\n",
        ),
        (
            "kota=Surabaya%2C+Jawa+Timur",
            "kota: Surabaya, Jawa Timur\n",
        ),
        ("k=caf%C3%A9+%E2%9C%93", "k: caf\u{e9} \u{2713}\n"),
        ("bad=%zz%4&pct=100%", "bad: %zz%4\npct: 100%\n"),
        ("x=%FF", "x: \u{fffd}\n"),
        ("w=merah&w=biru&w=merah", "w: merah\nw: biru\nw: merah\n"),
        ("a=&=b&c&&d==e", "a: \n: b\nc: \nd: =e\n"),
        ("", "(no fields)\n"),
    ];
    for (body, want) in cases {
        let r = post_form(addr, "/sending.html", body);
        assert_eq!(section(&r.text(), "fields"), want, "body {body:?}");
    }
}

#[test]
fn everything_reflected_is_html_escaped() {
    let server = start_www();
    let addr = server.addr();
    let body = "kirim=%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E&%3Cb%3E=%27";
    let request = format!(
        "POST /<i>?q=<s> HTTP/1.1\r\nHost: t\r\nX-Evil: <script>alert(1)</script>\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let page = exchange(addr, request.as_bytes()).text();
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        !page.contains("<i>") && !page.contains("<s>") && !page.contains("<b>"),
        "{page}"
    );
    assert_eq!(
        section(&page, "fields"),
        "kirim: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\n&lt;b&gt;: &#39;\n"
    );
    assert!(section(&page, "headers").contains("X-Evil: &lt;script&gt;alert(1)&lt;/script&gt;\n"));
    assert_eq!(
        section(&page, "request-line"),
        "POST /&lt;i&gt;?q=&lt;s&gt; HTTP/1.1"
    );
    // The raw body is shown escaped too (its '&' becomes &amp;).
    assert!(
        section(&page, "body").contains("%3Cscript%3E")
            && section(&page, "body").contains("&amp;%3Cb")
    );
}

#[test]
fn multipart_form_data() {
    let server = start_www();
    let addr = server.addr();
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"catatan\"\r\n\r\nhalo <dunia>\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"berkas\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x01\x02\x03\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"kirim\"\r\n\r\nISILAH\r\n--XyZ--\r\n";
    let request = format!(
        "POST /sending.html HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let page = exchange(addr, request.as_bytes()).text();
    assert_eq!(
        section(&page, "fields"),
        "catatan: halo &lt;dunia&gt;\nberkas: file &quot;a.bin&quot; (application/octet-stream, 3 bytes)\nkirim: ISILAH\n"
    );
    assert!(page.contains("Form fields (multipart/form-data)"));
}

#[test]
fn other_bodies_and_empty_posts() {
    let server = start_www();
    let addr = server.addr();
    let r = exchange(
        addr,
        b"POST /api HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{\"a\":\"b\"}",
    );
    let page = r.text();
    assert_eq!(section(&page, "body"), "{&quot;a&quot;:&quot;b&quot;}");
    assert!(section(&page, "fields").contains("the body is application/json"));
    let r = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(section(&r.text(), "body"), "");
}

#[test]
fn expect_100_continue() {
    let server = start_www();
    let addr = server.addr();
    let mut s = connect(addr);
    s.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"kirim=ISILAH").unwrap();
    let r = read_response(&mut BufReader::new(s), false);
    assert_eq!(r.status, 200);
    assert_eq!(section(&r.text(), "fields"), "kirim: ISILAH\n");
}

#[test]
fn keep_alive_across_posts_and_gets() {
    let server = start_www();
    let addr = server.addr();
    let mut s = connect(addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for value in ["satu", "dua", "tiga"] {
        let body = format!("kirim={value}");
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let resp = read_response(&mut r, false);
        assert_eq!(resp.header("connection"), Some("keep-alive"));
        assert_eq!(section(&resp.text(), "fields"), format!("kirim: {value}\n"));
    }
    s.write_all(b"GET /teks.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r, false).status, 200);
}
