//! HTML escaping for everything the server reflects back.

/// Appends `text` to `out` with the five characters that matter in HTML
/// text and attribute values replaced by entities (`&` `<` `>` `"` `'`).
/// A reflected `<script>` then shows as text instead of running.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `text` HTML-escaped (see [`escape_into`]).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn plain_and_non_ascii_text_is_unchanged() {
        assert_eq!(escape("ISILAH naïve ✓"), "ISILAH naïve ✓");
        assert_eq!(escape(""), "");
        // Already-escaped text is escaped again: we show exactly what came.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }
}
