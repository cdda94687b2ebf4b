//! The crate's one call that Rust's standard library does not offer: the
//! C library's `memchr`, which finds a byte with the CPU's widest vector
//! instructions (several times faster than a loop in Rust, which matters
//! when the end of a 2.7 MiB message is looked for in every byte of it).
//! Systems without it use [`common::framing::find`]'s loop.

/// Position of the first `b` in `hay`.
#[cfg(any(unix, windows))]
pub fn position_of(hay: &[u8], b: u8) -> Option<usize> {
    // SAFETY: memchr reads at most `hay.len()` bytes from `hay.as_ptr()`,
    // all of them inside the slice, and returns either null or a pointer
    // into those bytes; the slice outlives the call.
    let at = unsafe { libc::memchr(hay.as_ptr().cast(), libc::c_int::from(b), hay.len()) };
    (!at.is_null()).then(|| at as usize - hay.as_ptr() as usize)
}

/// Position of the first `b` in `hay`.
#[cfg(not(any(unix, windows)))]
pub fn position_of(hay: &[u8], b: u8) -> Option<usize> {
    common::framing::find(hay, &[b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_byte_or_none() {
        assert_eq!(position_of(b"", b'x'), None);
        assert_eq!(position_of(b"abc", b'x'), None);
        assert_eq!(position_of(b"xabcx", b'x'), Some(0));
        let mut long = vec![b'A'; 100_000];
        long[77_777] = b'\r';
        long[88_888] = b'\r';
        assert_eq!(position_of(&long, b'\r'), Some(77_777));
        assert_eq!(position_of(&long[77_778..], b'\r'), Some(88_888 - 77_778));
    }
}
