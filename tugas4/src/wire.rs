//! Fast paths for the messages that carry file data: a `PUT` piece and a
//! `GET` answer. They write and read exactly the text that
//! [`common::fileproto`] writes and reads (a test below compares them),
//! only faster:
//!
//! - base64 with SIMD instructions ([`base64_simd`], several GB/s; the
//!   `base64` crate does about 1 GB/s, which alone held a 1 GiB transfer
//!   to a third of a plain TCP copy);
//! - the JSON parser never walks the 2.7 MiB `data` string. Our encoders
//!   put `"data"` last, so a message ends `,"data":"BASE64"}`:
//!   [`split_data`] cuts it there, the short head is parsed by the
//!   general decoder (same checks, same errors), and the base64 is decoded
//!   straight from the message buffer. Base64 holds no `"` or `\`, so
//!   when the text decodes, it was a plain JSON string and the cut was
//!   right; when it does not (an escape such as `\/`, a field after
//!   `data`, bad base64), the caller falls back to the general decoder,
//!   which gives the exact answer or error.

use base64_simd::{Out, STANDARD as B64};
use common::fileproto;

/// Where the head of a message (all fields but `data`) must end for the
/// fast path: a name of 255 bytes, even escaped, fits easily.
const HEAD_MAX: usize = 4096;

/// The key that starts the last field.
const DATA_KEY: &[u8] = b",\"data\":\"";

/// Appends a `PUT` message carrying `bytes` to `out`: the same bytes as
/// [`common::fileproto::encode_put`], the base64 written by [`B64`].
pub fn encode_put(name: &str, offset: u64, last: bool, bytes: &[u8], out: &mut Vec<u8>) {
    fileproto::encode_put_with(name, offset, last, bytes, out, |b, out| {
        B64.encode_append(b, out)
    });
}

/// Appends a successful `GET` answer carrying `bytes` to `out`: the same
/// bytes as [`common::fileproto::encode_get_ok`], the base64 written by
/// [`B64`].
pub fn encode_get_ok(name: &str, size: u64, offset: u64, bytes: &[u8], out: &mut Vec<u8>) {
    fileproto::encode_get_ok_with(name, size, offset, bytes, out, |b, out| {
        B64.encode_append(b, out)
    });
}

/// Where the first `\r\n\r\n` (the end of a message) starts in `hay`:
/// the same answer as [`common::framing::find`], found with `memchr`
/// ([`crate::sys`]), which skips the base64 of a big message (no `\r` in
/// it) several times faster.
pub fn find_delimiter(hay: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = crate::sys::position_of(&hay[from..], b'\r') {
        let at = from + i;
        if hay[at..].starts_with(fileproto::DELIMITER) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Cuts a message (without its delimiter) that ends with a `data` string
/// into its head and the base64 text: `head` gets the message with an
/// empty `data` (`{...,"data":""}`, for the general decoder) and the text
/// is returned. `None` if the message does not have that shape; the
/// caller then decodes it the general way.
pub fn split_data<'m>(msg: &'m [u8], head: &mut Vec<u8>) -> Option<&'m [u8]> {
    let text = msg.strip_suffix(b"\"}")?;
    let near = &text[..text.len().min(HEAD_MAX)];
    let at = near.windows(DATA_KEY.len()).position(|w| w == DATA_KEY)?;
    head.clear();
    head.extend_from_slice(&msg[..at]);
    head.extend_from_slice(b",\"data\":\"\"}");
    Some(&text[at + DATA_KEY.len()..])
}

/// Decodes base64 `text` into `out` (resized to fit). `false` if it is
/// not strictly valid standard base64; the caller then takes the general
/// path, which names the problem.
pub fn decode_into(text: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(n) = B64.decoded_length(text) else {
        return false;
    };
    out.resize(n, 0);
    B64.decode(text, Out::from_slice(out)).is_ok()
}

/// Base64 characters decoded at a time by [`decode_steps_to`]: 96 KiB of file
/// bytes, which are still in the CPU cache when they are copied to the
/// file (a 2 MiB piece decoded at once is not, and copying it then costs
/// more than decoding it).
const STEP: usize = 128 * 1024;

/// What [`decode_steps_to`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The text was plain base64: all of it decoded, this many bytes
    /// written.
    All(u64),
    /// The text is not plain base64 from some step on: the steps before
    /// it were, and their bytes (this many) are written. The general
    /// decoder gives the same bytes first (those steps hold base64
    /// characters only, which JSON leaves as they are), so the caller
    /// decodes the whole text the general way and skips them.
    NotPlain {
        /// Bytes written before the step that did not decode.
        written: u64,
    },
}

/// Decodes base64 `text` a step at a time into `buf` (reused) and writes
/// each step to `out`, checking each step as it is decoded (one pass over
/// the text). Returns what it wrote: all of the text, or the steps
/// before the first one that is not plain base64 ([`Decoded::NotPlain`]);
/// the caller then decodes the text the general way, skipping the bytes
/// already written ([`Skip`]), and drops what it wrote if that fails (the
/// server ends the upload, the client's download removes its file).
///
/// # Errors
/// If writing to `out` fails.
pub fn decode_steps_to<W: std::io::Write + ?Sized>(
    text: &[u8],
    buf: &mut Vec<u8>,
    out: &mut W,
) -> std::io::Result<Decoded> {
    let mut written = 0;
    for step in text.chunks(STEP) {
        if !decode_into(step, buf) {
            return Ok(Decoded::NotPlain { written });
        }
        out.write_all(buf)?;
        written += buf.len() as u64;
    }
    Ok(Decoded::All(written))
}

/// A writer that drops the first `left` bytes written to it and passes
/// the rest on to `sink`: the general decoder, going on after the bytes
/// [`decode_steps_to`] wrote.
pub struct Skip<'s, W: ?Sized> {
    left: u64,
    sink: &'s mut W,
}

impl<'s, W: ?Sized> Skip<'s, W> {
    pub fn new(left: u64, sink: &'s mut W) -> Skip<'s, W> {
        Skip { left, sink }
    }
}

impl<W: std::io::Write + ?Sized> std::io::Write for Skip<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return self.sink.write(bytes);
        }
        let dropped = bytes
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        self.left -= dropped as u64;
        Ok(dropped)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::fileproto::{self, Request, Response, DELIMITER};

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 253) as u8).collect()
    }

    #[test]
    fn encoders_write_what_common_writes() {
        for n in [0, 1, 2, 3, 1000, 100_003] {
            for name in ["a.bin", "d\u{e9}\"at\\a,\"data\":\"x"] {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                encode_put(name, 7, n % 2 == 0, &bytes(n), &mut fast);
                fileproto::encode_put(name, 7, n % 2 == 0, &bytes(n), &mut slow);
                assert_eq!(fast, slow);
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                encode_get_ok(name, 1 << 40, 3, &bytes(n), &mut fast);
                fileproto::encode_get_ok(name, 1 << 40, 3, &bytes(n), &mut slow);
                assert_eq!(fast, slow);
            }
        }
    }

    #[test]
    fn split_and_decode_equal_the_general_decoder() {
        // A name holding the data key itself: JSON escapes its quotes.
        for name in ["a.bin", "x,\"data\":\"y"] {
            let mut msg = Vec::new();
            encode_put(name, 5, false, &bytes(3001), &mut msg);
            let msg = msg.strip_suffix(DELIMITER).unwrap();
            let (mut head, mut out) = (Vec::new(), Vec::new());
            let text = split_data(msg, &mut head).expect("our own message splits");
            assert!(decode_into(text, &mut out));
            assert_eq!(out, bytes(3001));
            let Request::Put {
                name: got,
                offset,
                last,
                data,
            } = Request::decode(&head).unwrap()
            else {
                panic!("not a PUT");
            };
            assert_eq!((got.as_str(), offset, last, &*data), (name, 5, false, ""));

            let mut answer = Vec::new();
            encode_get_ok(name, 9000, 0, &bytes(3001), &mut answer);
            let answer = answer.strip_suffix(DELIMITER).unwrap();
            let text = split_data(answer, &mut head).unwrap();
            assert!(decode_into(text, &mut out));
            assert_eq!(out, bytes(3001));
            assert!(matches!(
                Response::decode(&head).unwrap(),
                Response::Get {
                    size: 9000,
                    length: 3001,
                    ..
                }
            ));
        }
    }

    #[test]
    fn the_delimiter_is_found_where_common_finds_it() {
        let cases: [&[u8]; 7] = [
            b"",
            b"\r\n\r",
            b"\r\n\r\n",
            b"ab\r\r\n\r\n",
            b"{}\r\n\r\n{}\r\n\r\n",
            b"\r\n\rx\r\n\r\n",
            b"\r\r\r\r",
        ];
        for hay in cases {
            assert_eq!(
                find_delimiter(hay),
                common::framing::find(hay, DELIMITER),
                "{hay:?}"
            );
        }
    }

    #[test]
    fn steps_decode_until_one_is_not_plain_base64() {
        let data = bytes(3 * STEP);
        let mut text = B64.encode_to_string(&data).into_bytes();
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        assert_eq!(
            decode_steps_to(&text, &mut buf, &mut out).unwrap(),
            Decoded::All(data.len() as u64)
        );
        assert_eq!(out, data);
        // An escaped `/` in the third step: two steps are written.
        text.splice(2 * STEP + 8..2 * STEP + 8, *b"\\");
        out.clear();
        let got = decode_steps_to(&text, &mut buf, &mut out).unwrap();
        assert_eq!(
            got,
            Decoded::NotPlain {
                written: 2 * STEP as u64 / 4 * 3
            }
        );
        assert_eq!(out, data[..2 * STEP / 4 * 3]);
    }

    #[test]
    fn other_shapes_go_the_general_way() {
        let (mut head, mut out) = (Vec::new(), Vec::new());
        // No data: no split. Data not last: the "text" holds a quote.
        assert!(split_data(br#"{"command":"LIST"}"#, &mut head).is_none());
        let msg = br#"{"command":"PUT","data":"YWJj","name":"a"}"#;
        assert!(!decode_into(split_data(msg, &mut head).unwrap(), &mut out));
        // An escape, a bad character, bad padding: split, but no decode.
        for text in [r#"aGFs\/w=="#, "YW*j", "YR==", "YQ==YQ==", "YWJ"] {
            let msg = format!(r#"{{"command":"PUT","name":"a","data":"{text}"}}"#);
            let got = split_data(msg.as_bytes(), &mut head).unwrap();
            assert!(!decode_into(got, &mut out), "{text}");
        }
    }
}
