//! Content-Type by file extension.

use std::path::Path;

/// The Content-Type for a file, from its extension (case-insensitive).
/// Text types carry `charset=utf-8`; unknown extensions, and files without
/// one, are `application/octet-stream` (the browser then offers a download
/// instead of guessing).
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_extension() {
        let cases = [
            ("a.html", "text/html; charset=utf-8"),
            ("a.htm", "text/html; charset=utf-8"),
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
            ("a.exe", "application/octet-stream"),
            ("Makefile", "application/octet-stream"),
            (".png", "application/octet-stream"), // a hidden file named ".png"
            ("dir.d/a", "application/octet-stream"),
        ];
        for (name, want) in cases {
            assert_eq!(content_type(Path::new(name)), want, "{name}");
        }
    }

    #[test]
    fn extension_case_does_not_matter() {
        assert_eq!(content_type(Path::new("FOTO.JPG")), "image/jpeg");
        assert_eq!(
            content_type(Path::new("Index.HtMl")),
            "text/html; charset=utf-8"
        );
    }
}
