//! The HTML pages the server writes itself: the answer to a POST, and
//! error pages. Everything that came from the client goes through
//! [`crate::html::escape`].

use crate::form::parse_urlencoded;
use crate::html::{escape, escape_into};
use crate::multipart;

/// Most bytes of the raw body shown on the answer page.
pub const MAX_SHOWN_BODY: usize = 64 * 1024;

/// What a POST request carried, as the answer page shows it.
#[derive(Debug, Clone, Copy)]
pub struct Posted<'a> {
    /// `POST /sending.html HTTP/1.1`.
    pub request_line: &'a str,
    /// Every header line exactly as received, in order.
    pub head_lines: &'a [String],
    /// The request's Content-Type, if any.
    pub content_type: Option<&'a str>,
    /// The body (after chunked decoding, if it was chunked).
    pub body: &'a [u8],
}

/// The form fields found in a body, each as `(name, shown value)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fields {
    /// `application/x-www-form-urlencoded`: names and decoded values.
    Urlencoded(Vec<(String, String)>),
    /// `multipart/form-data`: text parts with their value, files as
    /// "file NAME (TYPE, N bytes)".
    Multipart(Vec<(String, String)>),
    /// A multipart body that could not be parsed, and why.
    BadMultipart(String),
    /// Any other body type: there are no fields, only the raw body.
    None,
}

/// Decodes the form fields of a body by its Content-Type.
pub fn fields(content_type: Option<&str>, body: &[u8]) -> Fields {
    let ct = content_type.unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Fields::Urlencoded(parse_urlencoded(body));
    }
    if essence.eq_ignore_ascii_case("multipart/form-data") {
        let Some(b) = multipart::boundary(ct) else {
            return Fields::BadMultipart("no boundary in the Content-Type".to_string());
        };
        return match multipart::parse(body, b) {
            Ok(parts) => Fields::Multipart(
                parts
                    .iter()
                    .map(|p| {
                        let name = p.name.clone().unwrap_or_default();
                        let shown = if p.is_text() {
                            p.text().into_owned()
                        } else {
                            format!(
                                "file {:?} ({}, {} bytes)",
                                p.filename.as_deref().unwrap_or(""),
                                p.content_type.as_deref().unwrap_or("no type"),
                                p.data.len()
                            )
                        };
                        (name, shown)
                    })
                    .collect(),
            ),
            Err(e) => Fields::BadMultipart(e.to_string()),
        };
    }
    Fields::None
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:56em;margin:2em auto;padding:0 1em;color:#222}\
h1{color:#2d4b7a}pre{font-family:'DejaVu Sans Mono',monospace;background:#f4f6fa;border:1px solid #d5dbe6;\
padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}";

/// The answer page for a POST: each form field decoded (`kirim: ISILAH`),
/// the request line, every header line exactly as received and in order,
/// and the raw body; all HTML-escaped.
pub fn post_page(p: &Posted<'_>) -> String {
    let mut out = String::with_capacity(2048 + p.body.len().min(MAX_SHOWN_BODY) * 2);
    out.push_str("<!DOCTYPE html>\n<html lang=\"id\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<title>POST diterima</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>POST diterima</h1>\n");
    out.push_str("<p>This is what your browser sent. The Tugas 8 starter server answered every POST with \u{201c}kosong\u{201d}; this one shows the request.</p>\n");

    let (title, list, note) = match fields(p.content_type, p.body) {
        Fields::Urlencoded(f) => (
            "Form fields (application/x-www-form-urlencoded, decoded)",
            f,
            None,
        ),
        Fields::Multipart(f) => ("Form fields (multipart/form-data)", f, None),
        Fields::BadMultipart(why) => (
            "Form fields (multipart/form-data)",
            Vec::new(),
            Some(format!("the multipart body could not be read: {why}")),
        ),
        Fields::None => (
            "Form fields",
            Vec::new(),
            Some(match p.content_type {
                Some(ct) => format!("no form fields: the body is {ct}, shown raw below"),
                None => "no form fields: the request has no Content-Type".to_string(),
            }),
        ),
    };
    out.push_str(&format!("<h2>{title}</h2>\n<pre id=\"fields\">"));
    for (name, value) in &list {
        escape_into(&mut out, name);
        out.push_str(": ");
        escape_into(&mut out, value);
        out.push('\n');
    }
    if list.is_empty() {
        let note = note.unwrap_or_else(|| "no fields".to_string());
        out.push('(');
        escape_into(&mut out, &note);
        out.push_str(")\n");
    }
    out.push_str("</pre>\n");

    out.push_str("<h2>Request line</h2>\n<pre id=\"request-line\">");
    escape_into(&mut out, p.request_line);
    out.push_str("</pre>\n");

    out.push_str(&format!(
        "<h2>Headers, exactly as received ({} lines)</h2>\n<pre id=\"headers\">",
        p.head_lines.len()
    ));
    for line in p.head_lines {
        escape_into(&mut out, line);
        out.push('\n');
    }
    out.push_str("</pre>\n");

    out.push_str(&format!(
        "<h2>Raw body ({} bytes)</h2>\n<pre id=\"body\">",
        p.body.len()
    ));
    let shown = &p.body[..p.body.len().min(MAX_SHOWN_BODY)];
    escape_into(&mut out, &String::from_utf8_lossy(shown));
    if p.body.len() > shown.len() {
        out.push_str(&format!(
            "\n... ({} more bytes not shown)",
            p.body.len() - shown.len()
        ));
    }
    out.push_str("</pre>\n");
    out.push_str("<p><a href=\"/sending.html\">send again</a> \u{b7} <a href=\"/\">index</a></p>\n</body>\n</html>\n");
    out
}

/// A small HTML page for an error status: `<h1>404 Not Found</h1>` and a
/// sentence saying why (escaped).
pub fn error_page(status: u16, reason: &str, detail: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{status} {reason}</title>\n</head>\n\
         <body>\n<h1>{status} {reason}</h1>\n<p>{}</p>\n</body>\n</html>\n",
        escape(detail)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ct: Option<&str>, body: &[u8]) -> String {
        let lines = vec![
            "Host: 127.0.0.1:10002".to_string(),
            "User-Agent: Mozilla/5.0 <test>".to_string(),
            format!("Content-Type: {}", ct.unwrap_or("")),
        ];
        post_page(&Posted {
            request_line: "POST /sending.html HTTP/1.1",
            head_lines: &lines,
            content_type: ct,
            body,
        })
    }

    #[test]
    fn shows_headers_fields_and_body() {
        let p = page(
            Some("application/x-www-form-urlencoded"),
            b"kirim=ISILAH&kirim=lagi+dong",
        );
        assert!(
            p.contains("<pre id=\"request-line\">POST /sending.html HTTP/1.1</pre>"),
            "{p}"
        );
        assert!(p.contains(
            "<pre id=\"headers\">Host: 127.0.0.1:10002\nUser-Agent: Mozilla/5.0 &lt;test&gt;\nContent-Type: application/x-www-form-urlencoded\n</pre>"
        ), "{p}");
        assert!(
            p.contains("<pre id=\"fields\">kirim: ISILAH\nkirim: lagi dong\n</pre>"),
            "{p}"
        );
        assert!(p.contains("<h2>Raw body (28 bytes)</h2>\n<pre id=\"body\">kirim=ISILAH&amp;kirim=lagi+dong</pre>"), "{p}");
        assert!(!p.contains("kosong</pre>"));
    }

    #[test]
    fn everything_reflected_is_escaped() {
        let p = page(
            Some("application/x-www-form-urlencoded"),
            b"%3Cb%3E=%3Cscript%3Ealert(1)%3C/script%3E",
        );
        assert!(
            p.contains("&lt;b&gt;: &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{p}"
        );
        assert!(!p.contains("<script>"), "{p}");
        assert!(!p.contains("<b>"), "{p}");
    }

    #[test]
    fn multipart_fields() {
        let b = b"--XX\r\nContent-Disposition: form-data; name=\"catatan\"\r\n\r\nhalo <dunia>\r\n--XX\r\nContent-Disposition: form-data; name=\"berkas\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n12345\r\n--XX--\r\n";
        let p = page(Some("multipart/form-data; boundary=XX"), b);
        assert!(p.contains("catatan: halo &lt;dunia&gt;\nberkas: file &quot;a.png&quot; (image/png, 5 bytes)\n"), "{p}");
        let p = page(Some("multipart/form-data; boundary=YY"), b);
        assert!(
            p.contains(
                "(the multipart body could not be read: the body does not start with the boundary)"
            ),
            "{p}"
        );
    }

    #[test]
    fn other_bodies_have_no_fields() {
        let p = page(Some("application/json"), b"{\"a\":1}");
        assert!(
            p.contains("(no form fields: the body is application/json, shown raw below)"),
            "{p}"
        );
        assert!(p.contains("{&quot;a&quot;:1}"), "{p}");
        let p = page(None, b"");
        assert!(
            p.contains("(no form fields: the request has no Content-Type)"),
            "{p}"
        );
        assert!(p.contains("Raw body (0 bytes)"), "{p}");
        let p = page(Some("application/x-www-form-urlencoded"), b"");
        assert!(p.contains("<pre id=\"fields\">(no fields)\n</pre>"), "{p}");
    }

    #[test]
    fn long_bodies_are_cut_on_the_page() {
        let body = vec![b'a'; MAX_SHOWN_BODY + 10];
        let p = page(Some("text/plain"), &body);
        assert!(
            p.contains("... (10 more bytes not shown)"),
            "cut note missing"
        );
        assert!(p.contains(&format!("Raw body ({} bytes)", MAX_SHOWN_BODY + 10)));
    }

    #[test]
    fn error_page_escapes_its_detail() {
        let p = error_page(404, "Not Found", "no file </x>");
        assert!(p.contains("<h1>404 Not Found</h1>"));
        assert!(p.contains("no file &lt;/x&gt;"));
    }
}
