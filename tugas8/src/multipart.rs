//! `multipart/form-data` (RFC 7578): what a browser sends for a form with
//! `enctype="multipart/form-data"`, needed for file uploads.
//!
//! # Format
//!
//! ```text
//! Content-Type: multipart/form-data; boundary=----WebKitFormBoundaryX
//!
//! ------WebKitFormBoundaryX\r\n
//! Content-Disposition: form-data; name="catatan"\r\n
//! \r\n
//! halo\r\n
//! ------WebKitFormBoundaryX\r\n
//! Content-Disposition: form-data; name="berkas"; filename="a.png"\r\n
//! Content-Type: image/png\r\n
//! \r\n
//! <the file's bytes>\r\n
//! ------WebKitFormBoundaryX--\r\n
//! ```
//!
//! Each part starts after a line `--BOUNDARY`, has its own header lines, an
//! empty line, and its bytes up to the CRLF before the next `--BOUNDARY`;
//! `--BOUNDARY--` ends the body. The parser borrows the parts from the body
//! (no copies) and caps how many parts it accepts.

use std::borrow::Cow;
use std::fmt;

use common::framing::find;

/// Most parts accepted in one body.
pub const MAX_PARTS: usize = 1000;

/// Longest header section of one part.
pub const MAX_PART_HEAD: usize = 8 * 1024;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The form field's name (`name="..."`), if given.
    pub name: Option<String>,
    /// The uploaded file's name (`filename="..."`), for file inputs.
    pub filename: Option<String>,
    /// The part's own Content-Type, if given.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub data: &'a [u8],
}

impl Part<'_> {
    /// Whether this is a plain text field rather than a file: no filename,
    /// and no content type or a `text/*` one.
    pub fn is_text(&self) -> bool {
        self.filename.is_none()
            && self
                .content_type
                .as_deref()
                .is_none_or(|t| t.trim().to_ascii_lowercase().starts_with("text/"))
    }

    /// The bytes as text (invalid UTF-8 becomes U+FFFD).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.data)
    }
}

/// Why a multipart body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// No `--BOUNDARY` line where the first part should start.
    NoFirstBoundary,
    /// The body ends without the closing `--BOUNDARY--`.
    Unterminated,
    /// A part's header section is missing its end or is too long.
    BadPartHead,
    /// More than [`MAX_PARTS`] parts.
    TooManyParts,
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MultipartError::NoFirstBoundary => "the body does not start with the boundary",
            MultipartError::Unterminated => "the body ends without the closing boundary",
            MultipartError::BadPartHead => "a part's headers are malformed or too long",
            MultipartError::TooManyParts => "too many parts",
        })
    }
}

impl std::error::Error for MultipartError {}

/// The boundary from a `multipart/form-data; boundary=...` Content-Type, or
/// `None` if the type is not multipart/form-data or has no valid boundary
/// (1 to 70 characters, RFC 2046).
pub fn boundary(content_type: &str) -> Option<&str> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
        .filter(|b| (1..=70).contains(&b.len()))
}

/// Splits a multipart body into its parts.
///
/// # Errors
/// A [`MultipartError`] for a body that does not follow the format.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    let dash = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    // The first boundary line: at the very start, or after a preamble.
    let mut pos = if body.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        find(body, delim.as_bytes()).ok_or(MultipartError::NoFirstBoundary)? + delim.len()
    };
    let mut parts = Vec::new();
    loop {
        // Just after a boundary: "--" ends the body, otherwise optional
        // spaces and CRLF start a part.
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let ws = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let rest = &rest[ws..];
        let nl = if rest.starts_with(b"\r\n") {
            2
        } else if rest.starts_with(b"\n") {
            1
        } else {
            return Err(MultipartError::Unterminated);
        };
        let start = pos + ws + nl;
        let end =
            start + find(&body[start..], delim.as_bytes()).ok_or(MultipartError::Unterminated)?;
        if parts.len() == MAX_PARTS {
            return Err(MultipartError::TooManyParts);
        }
        parts.push(parse_part(&body[start..end])?);
        pos = end + delim.len();
    }
}

/// One part: header lines, an empty line, the data.
fn parse_part(raw: &[u8]) -> Result<Part<'_>, MultipartError> {
    let (head, data) = if let Some(rest) = raw.strip_prefix(b"\r\n") {
        (&raw[..0], rest) // no headers at all
    } else {
        let end = find(raw, b"\r\n\r\n").ok_or(MultipartError::BadPartHead)?;
        (&raw[..end], &raw[end + 4..])
    };
    if head.len() > MAX_PART_HEAD {
        return Err(MultipartError::BadPartHead);
    }
    let head = String::from_utf8_lossy(head);
    let mut part = Part {
        name: None,
        filename: None,
        content_type: None,
        data,
    };
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((field, value)) = line.split_once(':') else {
            return Err(MultipartError::BadPartHead);
        };
        let field = field.trim();
        if field.eq_ignore_ascii_case("content-disposition") {
            for (k, v) in disposition_params(value) {
                if k.eq_ignore_ascii_case("name") {
                    part.name = Some(v);
                } else if k.eq_ignore_ascii_case("filename") {
                    part.filename = Some(v);
                }
            }
        } else if field.eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.trim().to_string());
        }
    }
    Ok(part)
}

/// The `key=value` parameters after `form-data;`, with quoted values
/// unquoted (a backslash escapes the next character).
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    // Skip the disposition type ("form-data").
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        if chars.peek().is_none() {
            return out;
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => val.extend(chars.next()),
                    c => val.push(c),
                }
            }
            // Skip anything up to the next ';'.
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
            }
        } else {
            val = chars.by_ref().take_while(|&c| c != ';').collect();
        }
        out.push((key.trim().to_string(), val.trim_end().to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "----WebKitFormBoundaryAbC123";

    fn body(parts: &[&str]) -> Vec<u8> {
        let mut out = String::new();
        for p in parts {
            out.push_str(&format!("--{B}\r\n{p}\r\n"));
        }
        out.push_str(&format!("--{B}--\r\n"));
        out.into_bytes()
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={B}")),
            Some(B)
        );
        assert_eq!(
            boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
        assert_eq!(
            boundary("application/x-www-form-urlencoded; boundary=x"),
            None
        );
    }

    #[test]
    fn text_and_file_parts() {
        let b = body(&[
            "Content-Disposition: form-data; name=\"catatan\"\r\n\r\nhalo dunia",
            "Content-Disposition: form-data; name=\"berkas\"; filename=\"a \\\"q\\\".png\"\r\nContent-Type: image/png\r\n\r\n\x7fPNG\r\n\x1a\n",
            "content-disposition: form-data; name=kosong\r\n\r\n",
        ]);
        let parts = parse(&b, B).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].name.as_deref(), Some("catatan"));
        assert!(parts[0].is_text());
        assert_eq!(parts[0].text(), "halo dunia");
        assert_eq!(parts[1].name.as_deref(), Some("berkas"));
        assert_eq!(parts[1].filename.as_deref(), Some("a \"q\".png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert!(!parts[1].is_text());
        // Bytes are exact, CR LF inside the data included.
        assert_eq!(parts[1].data, b"\x7fPNG\r\n\x1a\n");
        assert_eq!(parts[2].name.as_deref(), Some("kosong"));
        assert_eq!(parts[2].data, b"");
    }

    #[test]
    fn preamble_epilogue_and_headerless_part() {
        let raw = format!(
            "ignored preamble\r\n--{B}\r\n\r\nno headers\r\n--{B}  \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--{B}--\r\nepilogue"
        );
        let parts = parse(raw.as_bytes(), B).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, None);
        assert_eq!(parts[0].data, b"no headers");
        assert_eq!(parts[1].name.as_deref(), Some("a"));
        assert_eq!(parts[1].text(), "1");
    }

    #[test]
    fn utf8_names_and_values() {
        let b = body(&["Content-Disposition: form-data; name=\"kota\"\r\n\r\nSurabaya ✓"]);
        let parts = parse(&b, B).unwrap();
        assert_eq!(parts[0].text(), "Surabaya ✓");
    }

    #[test]
    fn empty_form_has_no_parts() {
        assert_eq!(parse(format!("--{B}--\r\n").as_bytes(), B).unwrap(), vec![]);
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(
            parse(b"nothing here", B),
            Err(MultipartError::NoFirstBoundary)
        );
        let unterminated =
            format!("--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue");
        assert_eq!(
            parse(unterminated.as_bytes(), B),
            Err(MultipartError::Unterminated)
        );
        let no_head_end = format!("--{B}\r\nContent-Disposition: form-data\r\n--{B}--");
        assert_eq!(
            parse(no_head_end.as_bytes(), B),
            Err(MultipartError::BadPartHead)
        );
        let junk_after_boundary = format!("--{B}junk\r\n\r\nx\r\n--{B}--");
        assert_eq!(
            parse(junk_after_boundary.as_bytes(), B),
            Err(MultipartError::Unterminated)
        );
        let bad_line = format!("--{B}\r\nno colon here\r\n\r\nx\r\n--{B}--");
        assert_eq!(
            parse(bad_line.as_bytes(), B),
            Err(MultipartError::BadPartHead)
        );
    }

    #[test]
    fn part_count_is_capped() {
        let one = "Content-Disposition: form-data; name=\"a\"\r\n\r\n1";
        let b = body(&vec![one; MAX_PARTS + 1]);
        assert_eq!(parse(&b, B), Err(MultipartError::TooManyParts));
        let b = body(&vec![one; MAX_PARTS]);
        assert_eq!(parse(&b, B).unwrap().len(), MAX_PARTS);
    }
}
