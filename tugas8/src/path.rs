//! From a request target (`/images/pola.png?x=1`) to a file name inside the
//! served folder, refusing anything that could climb out of it.
//!
//! The checks happen on the *decoded* path, segment by segment, so
//! `/%2e%2e/etc/passwd` is caught just like `/../etc/passwd`. An encoded
//! separator (`%2F`, `%5C`) is refused outright: it would let a name hold a
//! slash that the segment check never saw. `common::files::resolve_in_dir`
//! then checks the name again and refuses symlinks that lead outside.

use std::fmt;

use crate::form::hex;

/// Why a request path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Not a path starting with `/` (or a full `http://host/path` URL).
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// Decoded bytes are not UTF-8.
    NotUtf8,
    /// `%2F` or `%5C`: an encoded `/` or `\`.
    EncodedSeparator,
    /// A NUL or another control character (`%00`, `%0A`, ...).
    ControlCharacter,
    /// A `..` segment, typed or encoded (`%2e%2e`), or a `\` separator.
    Traversal,
}

impl PathError {
    /// The status to answer with: 400 for a target that is not a valid
    /// path at all, 403 for a valid one that asks for something forbidden.
    pub fn status(&self) -> u16 {
        match self {
            PathError::NotAbsolute | PathError::BadEscape | PathError::NotUtf8 => 400,
            PathError::EncodedSeparator | PathError::ControlCharacter | PathError::Traversal => 403,
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "the request target is not a path starting with /",
            PathError::BadEscape => "'%' in the path is not followed by two hex digits",
            PathError::NotUtf8 => "the decoded path is not UTF-8",
            PathError::EncodedSeparator => "an encoded '/' or '\\' (%2F, %5C) in the path",
            PathError::ControlCharacter => "a NUL or control character in the path",
            PathError::Traversal => "'..' in the path",
        })
    }
}

impl std::error::Error for PathError {}

/// The path part of a request target: without `?query` and `#fragment`,
/// and without `http://host` when a client sent the absolute form
/// (`GET http://127.0.0.1:10002/teks.txt HTTP/1.1`, as proxies do).
///
/// # Errors
/// [`PathError::NotAbsolute`] for anything else (`*`, `teks.txt`).
pub fn path_of_target(target: &str) -> Result<&str, PathError> {
    let end = target.find(['?', '#']).unwrap_or(target.len());
    let path = &target[..end];
    if path.starts_with('/') {
        return Ok(path);
    }
    let lower = path.get(..8).unwrap_or(path).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &path[7..]
    } else if lower.starts_with("https://") {
        &path[8..]
    } else {
        return Err(PathError::NotAbsolute);
    };
    Ok(rest.find('/').map_or("/", |i| &rest[i..]))
}

/// Decodes a request target into a relative file name inside the served
/// folder: `"/images/pola%20baru.png?x=1"` gives `"images/pola baru.png"`.
/// `"/"` gives `""` and `"/docs/"` gives `"docs/"`: a trailing slash is
/// kept so the caller can add `index.html`.
///
/// # Errors
/// A [`PathError`]; see [`PathError::status`] for the answer to give.
pub fn decode_path(target: &str) -> Result<String, PathError> {
    let path = path_of_target(target)?;
    let raw = path.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let (Some(hi), Some(lo)) = (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex))
            else {
                return Err(PathError::BadEscape);
            };
            let b = hi << 4 | lo;
            if b == b'/' || b == b'\\' {
                return Err(PathError::EncodedSeparator);
            }
            bytes.push(b);
            i += 3;
        } else {
            // In a path '+' is a plus sign, not a space (that is forms only).
            bytes.push(raw[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(bytes).map_err(|_| PathError::NotUtf8)?;
    if decoded.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter);
    }
    // A backslash is a separator on Windows: never let one through.
    if decoded.contains('\\') {
        return Err(PathError::Traversal);
    }
    if decoded.split('/').any(|segment| segment == "..") {
        return Err(PathError::Traversal);
    }
    Ok(decoded.trim_start_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths() {
        assert_eq!(decode_path("/").unwrap(), "");
        assert_eq!(decode_path("/sending.html").unwrap(), "sending.html");
        assert_eq!(
            decode_path("/images/pola.png?v=2#top").unwrap(),
            "images/pola.png"
        );
        assert_eq!(decode_path("/docs/").unwrap(), "docs/");
        assert_eq!(decode_path("/a%20b+c.txt").unwrap(), "a b+c.txt");
        assert_eq!(decode_path("/caf%C3%A9.txt").unwrap(), "café.txt");
        assert_eq!(decode_path("//teks.txt").unwrap(), "teks.txt");
        // A single dot is harmless ("this folder") and allowed.
        assert_eq!(decode_path("/./teks.txt").unwrap(), "./teks.txt");
        // Dots inside a name are fine too.
        assert_eq!(decode_path("/a..b/..c").unwrap(), "a..b/..c");
    }

    #[test]
    fn absolute_form_targets() {
        assert_eq!(
            decode_path("http://127.0.0.1:10002/teks.txt").unwrap(),
            "teks.txt"
        );
        assert_eq!(decode_path("HTTP://host").unwrap(), "");
        assert_eq!(decode_path("https://h/a?b").unwrap(), "a");
    }

    #[test]
    fn traversal_is_refused_typed_or_encoded() {
        for t in [
            "/../etc/passwd",
            "/images/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/etc/passwd",
            "/.%2e/x",
            "/%2e./x",
            "/images/%2e%2e/%2e%2e/x",
            "/..",
            "/a\\..\\b",
            "/a%5c..%5cb",
        ] {
            let e = decode_path(t).unwrap_err();
            assert!(
                matches!(e, PathError::Traversal | PathError::EncodedSeparator),
                "{t}: {e:?}"
            );
            assert_eq!(e.status(), 403, "{t}");
        }
    }

    #[test]
    fn encoded_separators_are_refused() {
        for t in ["/..%2fetc%2fpasswd", "/images%2Fpola.png", "/a%5Cb"] {
            assert_eq!(decode_path(t), Err(PathError::EncodedSeparator), "{t}");
        }
    }

    #[test]
    fn control_characters_and_nul() {
        for t in ["/teks.txt%00.png", "/a%0Ab", "/a%0d", "/a%7f"] {
            assert_eq!(decode_path(t), Err(PathError::ControlCharacter), "{t}");
        }
    }

    #[test]
    fn malformed_targets() {
        assert_eq!(decode_path("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(decode_path("/a%4"), Err(PathError::BadEscape));
        assert_eq!(decode_path("/a%"), Err(PathError::BadEscape));
        assert_eq!(decode_path("/%FF"), Err(PathError::NotUtf8));
        assert_eq!(decode_path("teks.txt"), Err(PathError::NotAbsolute));
        assert_eq!(decode_path("*"), Err(PathError::NotAbsolute));
        assert_eq!(decode_path(""), Err(PathError::NotAbsolute));
        assert_eq!(PathError::BadEscape.status(), 400);
    }
}
