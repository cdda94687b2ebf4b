//! The datagram format of the reliable file transfer.
//!
//! Every datagram starts with the same 12-byte header (all numbers
//! big-endian), followed by a payload whose meaning depends on the type:
//!
//! ```text
//!  0       7 8      15 16     23 24     31
//! +--------+--------+--------+--------+
//! |  'P'   |  'J'   | version|  type  |   magic "PJ", version 1, type below
//! +--------+--------+--------+--------+
//! |           transfer id             |   random per transfer, chosen by the sender
//! +--------+--------+--------+--------+
//! |          sequence number          |   DATA: chunk index; ACK: chunks received in order
//! +--------+--------+--------+--------+
//! |  payload (0..=1024 bytes) ...
//! +--------+--------+-- -- -- -- -- --
//! ```
//!
//! | type | name  | from     | seq                      | payload |
//! |------|-------|----------|--------------------------|---------|
//! | 1    | START | sender   | 0                        | file size u64, chunk size u16, name length u8, name (UTF-8) |
//! | 2    | DATA  | sender   | chunk index (0-based)    | bytes `seq*chunk ..` of the file, exactly one chunk (the last may be shorter) |
//! | 3    | ACK   | receiver | chunks received in order | selective-ack bitmap: bit `i` (LSB first) = chunk `seq+1+i` received |
//! | 4    | DONE  | receiver | chunk count              | empty: the whole file arrived and was saved |
//! | 5    | ERROR | either   | 0                        | reason (UTF-8): the transfer is over |
//!
//! A datagram with a transfer id that the other side does not know (a late
//! copy from an earlier transfer) is ignored. Datagrams are at most
//! [`MAX_DATAGRAM`] = 1036 bytes, below every common MTU, so IP never
//! fragments them.

use std::fmt;

/// The two magic bytes that open every datagram ("PJ": Pemrograman Jaringan).
pub const MAGIC: [u8; 2] = *b"PJ";
/// Protocol version carried in byte 2.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 12;
/// Largest payload of a DATA datagram (the assignment's limit).
pub const MAX_CHUNK: usize = 1024;
/// Largest datagram either side sends.
pub const MAX_DATAGRAM: usize = HEADER_LEN + MAX_CHUNK;
/// How many chunks past the last in-order one a receiver buffers; a sender's
/// window may not be larger. The ACK bitmap covers this many chunks.
pub const MAX_WINDOW: u32 = 1024;
/// Longest file name carried in START (bytes).
pub const MAX_NAME: usize = 255;
/// Longest ERROR reason (bytes).
pub const MAX_REASON: usize = 512;

/// What a datagram says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Sender to receiver: a new transfer of `size` bytes in chunks of `chunk` bytes.
    Start {
        /// File size in bytes.
        size: u64,
        /// Payload size of every DATA datagram but the last (1..=1024).
        chunk: u16,
        /// The file's name, for the receiver's log only.
        name: String,
    },
    /// Sender to receiver: chunk number `seq`.
    Data {
        /// Chunk index, 0-based.
        seq: u32,
        /// The chunk's bytes.
        bytes: Vec<u8>,
    },
    /// Receiver to sender: every chunk below `cumulative` has arrived, and
    /// so has chunk `cumulative + 1 + i` for every set bit `i` of `sack`.
    Ack {
        /// Count of chunks received in order (the next one expected).
        cumulative: u32,
        /// Selective-ack bitmap (LSB of byte 0 = chunk `cumulative + 1`).
        sack: Vec<u8>,
    },
    /// Receiver to sender: all `count` chunks arrived and the file is saved.
    Done {
        /// Number of chunks in the file.
        count: u32,
    },
    /// Either side: the transfer failed and is over, with the reason.
    Error {
        /// Why, in words.
        reason: String,
    },
}

/// A whole datagram: which transfer it belongs to and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The transfer id.
    pub id: u32,
    /// The message.
    pub msg: Message,
}

/// Why a datagram was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header (or a START shorter than its fields).
    TooShort(usize),
    /// Longer than [`MAX_DATAGRAM`].
    TooLong(usize),
    /// The first two bytes are not "PJ".
    BadMagic,
    /// A version this program does not speak.
    BadVersion(u8),
    /// An unknown type byte.
    BadType(u8),
    /// A field out of range (chunk size 0 or > 1024, bad name, bitmap too long...).
    BadField(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort(n) => write!(f, "datagram too short ({n} bytes)"),
            DecodeError::TooLong(n) => write!(f, "datagram too long ({n} bytes)"),
            DecodeError::BadMagic => f.write_str("not a tugas2 datagram (bad magic)"),
            DecodeError::BadVersion(v) => write!(f, "unsupported version {v}"),
            DecodeError::BadType(t) => write!(f, "unknown datagram type {t}"),
            DecodeError::BadField(what) => write!(f, "bad {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

const T_START: u8 = 1;
const T_DATA: u8 = 2;
const T_ACK: u8 = 3;
const T_DONE: u8 = 4;
const T_ERROR: u8 = 5;

impl Datagram {
    /// A datagram of transfer `id`.
    pub fn new(id: u32, msg: Message) -> Datagram {
        Datagram { id, msg }
    }

    /// Writes the datagram into `buf` (cleared first), ready for `send`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        buf.clear();
        let (kind, seq) = match &self.msg {
            Message::Start { .. } => (T_START, 0),
            Message::Data { seq, .. } => (T_DATA, *seq),
            Message::Ack { cumulative, .. } => (T_ACK, *cumulative),
            Message::Done { count } => (T_DONE, *count),
            Message::Error { .. } => (T_ERROR, 0),
        };
        buf.extend_from_slice(&MAGIC);
        buf.push(VERSION);
        buf.push(kind);
        buf.extend_from_slice(&self.id.to_be_bytes());
        buf.extend_from_slice(&seq.to_be_bytes());
        match &self.msg {
            Message::Start { size, chunk, name } => {
                buf.extend_from_slice(&size.to_be_bytes());
                buf.extend_from_slice(&chunk.to_be_bytes());
                let name = truncate_utf8(name, MAX_NAME);
                buf.push(name.len() as u8);
                buf.extend_from_slice(name.as_bytes());
            }
            Message::Data { bytes, .. } => buf.extend_from_slice(bytes),
            Message::Ack { sack, .. } => {
                buf.extend_from_slice(&sack[..sack.len().min(MAX_WINDOW as usize / 8)])
            }
            Message::Done { .. } => {}
            Message::Error { reason } => {
                buf.extend_from_slice(truncate_utf8(reason, MAX_REASON).as_bytes())
            }
        }
    }

    /// The datagram as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(MAX_DATAGRAM);
        self.encode_into(&mut buf);
        buf
    }

    /// Parses one received datagram. Never panics, whatever the bytes.
    ///
    /// # Errors
    /// [`DecodeError`] for anything that is not a well-formed datagram.
    pub fn decode(buf: &[u8]) -> Result<Datagram, DecodeError> {
        if buf.len() < HEADER_LEN {
            return Err(DecodeError::TooShort(buf.len()));
        }
        if buf.len() > MAX_DATAGRAM {
            return Err(DecodeError::TooLong(buf.len()));
        }
        if buf[0..2] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        if buf[2] != VERSION {
            return Err(DecodeError::BadVersion(buf[2]));
        }
        let id = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let seq = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let body = &buf[HEADER_LEN..];
        let msg = match buf[3] {
            T_START => {
                if body.len() < 11 {
                    return Err(DecodeError::TooShort(buf.len()));
                }
                let size = u64::from_be_bytes(body[0..8].try_into().expect("8 bytes"));
                let chunk = u16::from_be_bytes([body[8], body[9]]);
                if chunk == 0 || chunk as usize > MAX_CHUNK {
                    return Err(DecodeError::BadField("chunk size"));
                }
                let name_len = body[10] as usize;
                let name = body
                    .get(11..11 + name_len)
                    .filter(|_| body.len() == 11 + name_len)
                    .ok_or(DecodeError::BadField("name length"))?;
                let name = std::str::from_utf8(name)
                    .map_err(|_| DecodeError::BadField("name (not UTF-8)"))?
                    .to_string();
                Message::Start { size, chunk, name }
            }
            T_DATA => Message::Data {
                seq,
                bytes: body.to_vec(),
            },
            T_ACK => {
                if body.len() > MAX_WINDOW as usize / 8 {
                    return Err(DecodeError::BadField("ack bitmap length"));
                }
                Message::Ack {
                    cumulative: seq,
                    sack: body.to_vec(),
                }
            }
            T_DONE => Message::Done { count: seq },
            T_ERROR => Message::Error {
                reason: String::from_utf8_lossy(body).into_owned(),
            },
            other => return Err(DecodeError::BadType(other)),
        };
        Ok(Datagram { id, msg })
    }
}

/// Writes a DATA datagram into `buf` (cleared first) without building a
/// [`Message`]: the sender's hot path, same bytes as [`Datagram::encode_into`].
pub fn encode_data(id: u32, seq: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&MAGIC);
    buf.push(VERSION);
    buf.push(T_DATA);
    buf.extend_from_slice(&id.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// The transfer id, chunk index and bytes of a DATA datagram, borrowed from
/// `buf` without building a [`Message`] (the receiver's hot path); `None`
/// for anything else, which [`Datagram::decode`] then parses or explains.
pub fn decode_data(buf: &[u8]) -> Option<(u32, u32, &[u8])> {
    if buf.len() < HEADER_LEN
        || buf.len() > MAX_DATAGRAM
        || buf[0..2] != MAGIC
        || buf[2] != VERSION
        || buf[3] != T_DATA
    {
        return None;
    }
    let id = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let seq = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    Some((id, seq, &buf[HEADER_LEN..]))
}

/// Number of chunks a file of `size` bytes takes, or `None` if it does not
/// fit the 32-bit sequence number.
pub fn chunk_count(size: u64, chunk: u16) -> Option<u32> {
    let chunk = u64::from(chunk.max(1));
    u32::try_from(size.div_ceil(chunk)).ok()
}

/// Length of chunk `seq` of a file of `size` bytes.
pub fn chunk_len(size: u64, chunk: u16, seq: u32) -> usize {
    let start = u64::from(seq) * u64::from(chunk);
    size.saturating_sub(start).min(u64::from(chunk)) as usize
}

/// Whether bit `i` of a selective-ack bitmap is set.
pub fn sack_bit(sack: &[u8], i: usize) -> bool {
    sack.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(msg: Message) {
        let d = Datagram::new(0xDEAD_BEEF, msg);
        let bytes = d.encode();
        assert!(bytes.len() <= MAX_DATAGRAM);
        assert_eq!(Datagram::decode(&bytes).unwrap(), d);
    }

    #[test]
    fn every_type_round_trips() {
        round_trip(Message::Start {
            size: 123_456_789_012,
            chunk: 1024,
            name: "bart.png".into(),
        });
        round_trip(Message::Data {
            seq: 7,
            bytes: (0..=255).cycle().take(1024).collect(),
        });
        round_trip(Message::Data {
            seq: u32::MAX,
            bytes: Vec::new(),
        });
        round_trip(Message::Ack {
            cumulative: 42,
            sack: vec![0b1010_0001, 0, 0xFF],
        });
        round_trip(Message::Done { count: 5 });
        round_trip(Message::Error {
            reason: "disk full".into(),
        });
    }

    #[test]
    fn header_layout_is_as_documented() {
        let bytes = Datagram::new(
            0x0102_0304,
            Message::Data {
                seq: 0x0A0B_0C0D,
                bytes: b"xy".to_vec(),
            },
        )
        .encode();
        assert_eq!(
            bytes,
            [b'P', b'J', 1, 2, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D, b'x', b'y']
        );
        let mut fast = Vec::new();
        encode_data(0x0102_0304, 0x0A0B_0C0D, b"xy", &mut fast);
        assert_eq!(fast, bytes);
        assert_eq!(
            decode_data(&bytes),
            Some((0x0102_0304, 0x0A0B_0C0D, &b"xy"[..]))
        );
        let ack = Datagram::new(1, Message::Done { count: 2 }).encode();
        assert_eq!(decode_data(&ack), None, "not DATA");
        assert_eq!(decode_data(&bytes[..11]), None, "too short");
    }

    #[test]
    fn garbage_is_rejected_not_panicked_on() {
        assert_eq!(Datagram::decode(b""), Err(DecodeError::TooShort(0)));
        assert_eq!(
            Datagram::decode(b"hello world!"),
            Err(DecodeError::BadMagic)
        );
        assert_eq!(
            Datagram::decode(b"PJ\x09\x02\0\0\0\0\0\0\0\0"),
            Err(DecodeError::BadVersion(9))
        );
        assert_eq!(
            Datagram::decode(b"PJ\x01\x63\0\0\0\0\0\0\0\0"),
            Err(DecodeError::BadType(0x63))
        );
        assert_eq!(
            Datagram::decode(&vec![0u8; MAX_DATAGRAM + 1]),
            Err(DecodeError::TooLong(MAX_DATAGRAM + 1))
        );
        // START with chunk size 0, or a name length that does not match.
        let mut start = Datagram::new(
            1,
            Message::Start {
                size: 1,
                chunk: 1024,
                name: "ab".into(),
            },
        )
        .encode();
        let mut zero_chunk = start.clone();
        zero_chunk[HEADER_LEN + 8..HEADER_LEN + 10].copy_from_slice(&[0, 0]);
        assert_eq!(
            Datagram::decode(&zero_chunk),
            Err(DecodeError::BadField("chunk size"))
        );
        start.push(b'!');
        assert_eq!(
            Datagram::decode(&start),
            Err(DecodeError::BadField("name length"))
        );
        // A pseudo-random spray of bytes never panics.
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        for len in 0..2000 {
            let buf: Vec<u8> = (0..len % 1100)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = Datagram::decode(&buf);
        }
    }

    #[test]
    fn chunk_arithmetic() {
        assert_eq!(chunk_count(0, 1024), Some(0));
        assert_eq!(chunk_count(1, 1024), Some(1));
        assert_eq!(chunk_count(1024, 1024), Some(1));
        assert_eq!(chunk_count(1025, 1024), Some(2));
        assert_eq!(chunk_count(u64::MAX, 1024), None);
        assert_eq!(chunk_len(1025, 1024, 0), 1024);
        assert_eq!(chunk_len(1025, 1024, 1), 1);
        assert_eq!(chunk_len(1025, 1024, 2), 0);
        assert!(sack_bit(&[0b0000_0010], 1));
        assert!(!sack_bit(&[0b0000_0010], 0));
        assert!(!sack_bit(&[], 100));
    }
}
