//! `application/x-www-form-urlencoded`: what a browser sends for
//! `<form method="post">` without an `enctype`.
//!
//! # Format
//!
//! ```text
//! kirim=ISILAH&nama=Budi+Santoso&kota=Surabaya%2C+Jawa+Timur
//! ```
//!
//! Pairs are joined by `&`; each is `name=value`. Spaces are sent as `+`,
//! and every other byte outside `A-Z a-z 0-9 * - . _` as `%XX` (the UTF-8
//! bytes of the character, so `é` is `%C3%A9`). Decoding follows the WHATWG
//! URL standard's "application/x-www-form-urlencoded parser", which is what
//! browsers and servers agree on: empty pairs are skipped, a pair without
//! `=` is a name with an empty value, a `%` not followed by two hex digits
//! stays as it is, and bytes that are not valid UTF-8 become U+FFFD.

/// Decodes one name or value: `+` is a space, `%XX` is the byte XX, other
/// bytes stay; the result is read as UTF-8 (invalid sequences become
/// U+FFFD, never an error).
pub fn decode_component(raw: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => match (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    bytes.push(hi << 4 | lo);
                    i += 2;
                }
                // Not an escape: keep the '%' literally, as browsers do.
                _ => bytes.push(b'%'),
            },
            b => bytes.push(b),
        }
        i += 1;
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The value of one hex digit.
pub(crate) fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a whole urlencoded body into `(name, value)` pairs, in order.
/// Repeated names are all kept (`a=1&a=2` gives two pairs), as a form
/// with several checkboxes of one name sends them.
pub fn parse_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (
                decode_component(&pair[..eq]),
                decode_component(&pair[eq + 1..]),
            ),
            None => (decode_component(pair), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &str) -> Vec<(String, String)> {
        parse_urlencoded(body.as_bytes())
    }

    fn p(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn the_assignment_form() {
        assert_eq!(pairs("kirim=ISILAH"), vec![p("kirim", "ISILAH")]);
        assert_eq!(pairs("kirim=isilah"), vec![p("kirim", "isilah")]);
    }

    #[test]
    fn plus_and_percent() {
        assert_eq!(
            pairs("a=halo+dunia&b=50%25+off&c=a%2Bb%3Dc%26d"),
            vec![p("a", "halo dunia"), p("b", "50% off"), p("c", "a+b=c&d")]
        );
        // Lower-case hex works too; %20 is a space like '+'.
        assert_eq!(pairs("x=%2f%20"), vec![p("x", "/ ")]);
    }

    #[test]
    fn utf8_is_decoded() {
        assert_eq!(
            pairs("kota=Surabaya%2C+Jawa+Timur&kata=caf%C3%A9+%E2%9C%93"),
            vec![p("kota", "Surabaya, Jawa Timur"), p("kata", "café ✓")]
        );
        // Raw UTF-8 bytes (not escaped) pass through too.
        assert_eq!(pairs("k=é"), vec![p("k", "é")]);
    }

    #[test]
    fn invalid_escapes_stay_literal() {
        assert_eq!(
            pairs("a=%zz&b=%4&c=%&d=100%"),
            vec![p("a", "%zz"), p("b", "%4"), p("c", "%"), p("d", "100%")]
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_character() {
        assert_eq!(
            pairs("a=%FF%FE&b=%C3"),
            vec![p("a", "\u{FFFD}\u{FFFD}"), p("b", "\u{FFFD}")]
        );
    }

    #[test]
    fn repeated_names_are_kept_in_order() {
        assert_eq!(
            pairs("warna=merah&warna=biru&x=1&warna=hijau"),
            vec![
                p("warna", "merah"),
                p("warna", "biru"),
                p("x", "1"),
                p("warna", "hijau")
            ]
        );
    }

    #[test]
    fn empty_pairs_names_and_values() {
        assert_eq!(pairs(""), vec![]);
        assert_eq!(pairs("&&"), vec![]);
        assert_eq!(
            pairs("a=&=b&c&d==e&&"),
            vec![p("a", ""), p("", "b"), p("c", ""), p("d", "=e")]
        );
    }

    #[test]
    fn markup_is_decoded_not_escaped_here() {
        // Escaping for HTML is the page's job (html::escape), not the decoder's.
        assert_eq!(pairs("kirim=%3Cscript%3E"), vec![p("kirim", "<script>")]);
    }
}
