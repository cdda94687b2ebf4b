//! Session tokens: 122 random bits from the operating system, written as a
//! version-4 UUID (`5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18`), the form the
//! course's `str(uuid.uuid4())` gives.
//!
//! A token is the only thing that proves who is sending, so it must not be
//! guessable: it comes from the OS's generator (`getrandom`: `getrandom(2)`
//! on Linux, `BCryptGenRandom` on Windows), never from the clock or a
//! counter.

use std::io;

/// A new session token.
///
/// # Errors
/// Only if the operating system's random generator fails (practically never).
pub fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| io::Error::other(format!("no randomness from the OS: {e}")))?;
    Ok(format_uuid_v4(bytes))
}

/// Writes 16 random bytes as a version-4 UUID: 6 bits become the version
/// (`4`) and the variant (`8`-`b`), the other 122 stay random.
pub fn format_uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `s` has the form of a version-4 UUID, as tokens have.
pub fn looks_like_token(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn uuid_form_with_version_and_variant() {
        assert_eq!(
            format_uuid_v4([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(
            format_uuid_v4([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
        assert!(looks_like_token("5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18"));
        assert!(!looks_like_token("5b1f0c3e-8a47-1d2b-9e61-0c7f3a2d4b18"));
        assert!(!looks_like_token("5b1f0c3e8a474d2b9e610c7f3a2d4b18"));
    }

    #[test]
    fn tokens_are_random() {
        let tokens: HashSet<String> = (0..1000).map(|_| new_token().unwrap()).collect();
        assert_eq!(tokens.len(), 1000);
        assert!(tokens.iter().all(|t| looks_like_token(t)));
        // Every random hex digit position takes many values over 1000 tokens
        // (a clock or counter would leave the leading digits fixed).
        for pos in (0..36).filter(|p| ![8, 13, 14, 18, 19, 23].contains(p)) {
            let seen: HashSet<u8> = tokens.iter().map(|t| t.as_bytes()[pos]).collect();
            assert!(seen.len() >= 12, "position {pos} took only {seen:?}");
        }
    }
}
