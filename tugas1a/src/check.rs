//! The grader's check for Tugas 1a: tests any upload server (Python, Java,
//! ours, ...) against the assignment.
//!
//! ```text
//! cargo run -p tugas1a --bin check                          # 127.0.0.1:31100
//! cargo run -p tugas1a --bin check -- --host 10.0.0.5 --port 5000 --skip-protocol
//! ```
//!
//! Requirements, in order of importance:
//!
//! 1. the server accepts a TCP connection;
//! 2. it takes a file's bytes and finishes the exchange (answers or
//!    closes) once the client has sent everything (TCP half-close);
//!
//! and, assuming this workspace's format (`FILE <size> <name>\n`, the
//! bytes, then `OK ...` or `ERROR ...`; `--skip-protocol` skips these, for
//! a student whose own upload format differs):
//!
//! 3. an upload of a text file (`file.txt`) gets `OK`;
//! 4. an upload of a binary file with every byte value (1 MiB) gets `OK`;
//! 5. an upload of an empty file gets `OK`;
//! 6. a truncated upload (fewer bytes than announced) gets `ERROR` or a
//!    close, never `OK`;
//! 7. a malformed header gets `ERROR` or a close;
//! 8. the server keeps serving after a broken upload.
//!
//! What the server wrote to disk cannot be seen from the network: look at
//! its `hasil.txt` and console yourself.

use common::check::transfer::expect_refusal_answer;
use common::check::{self, Checker, Conn, Failure};
use common::cli::Command;
use common::transfer::MAX_HEADER;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 1a grader's check: tests a file-upload server (any language).",
    args: "",
    flags: &[
        check::host(),
        check::port("31100"),
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
    ],
};

/// The note printed first: which protocol the protocol checks assume.
pub const PROTOCOL_NOTE: &str = "assumes this workspace's upload protocol: the client sends \
'FILE <size> <name>\\n' and the bytes, the server answers 'OK <message>\\n' or \
'ERROR <reason>\\n' (--skip-protocol skips those checks)";

/// The text file of the upload checks.
pub const TEXT: &str = "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\nisi file.txt untuk Tugas 1a\n";

/// Uploads `data` as `name` with our protocol, half-closes, and requires `OK`.
///
/// # Errors
/// Anything but an `OK ...` line within the timeout.
pub fn upload_ok(conn: &mut Conn, name: &str, data: &[u8]) -> Result<(), Failure> {
    conn.send(
        format!("FILE {} {name}\n", data.len()).as_bytes(),
        "the header",
    )?;
    conn.send(data, "the file's bytes")?;
    conn.finish_sending();
    let line = conn.recv_line(MAX_HEADER, "the 'OK ...' answer")?;
    if line.starts_with("OK") {
        Ok(())
    } else {
        Err(conn.fail(format!(
            "expected 'OK ...', got {:?}",
            common::framing::shorten(&line)
        )))
    }
}

/// Runs every Tugas 1a requirement against the server of `c`'s options.
pub fn run(c: &mut Checker) {
    c.note(PROTOCOL_NOTE);
    c.check("server accepts a TCP connection", |o| o.connect().map(drop));
    c.check(
        "server takes a file's bytes and finishes (answers or closes) when the client has sent everything",
        |o| {
            let mut conn = o.connect()?;
            conn.send(TEXT.as_bytes(), "the content of file.txt")?;
            conn.finish_sending();
            conn.expect_close(64 * 1024, "the server to answer and close")
                .map(drop)
        },
    );
    c.protocol_check("upload of a text file (file.txt) gets OK", |o| {
        upload_ok(&mut o.connect()?, "file.txt", TEXT.as_bytes())
    });
    c.protocol_check(
        "upload of a binary file with every byte value (1 MiB) gets OK",
        |o| {
            let data: Vec<u8> = (0..=255u8).rev().cycle().take(1024 * 1024).collect();
            upload_ok(&mut o.connect()?, "data.bin", &data)
        },
    );
    c.protocol_check("upload of an empty file gets OK", |o| {
        upload_ok(&mut o.connect()?, "kosong.txt", b"")
    });
    c.protocol_check(
        "a truncated upload (fewer bytes than announced) gets ERROR or a close, never OK",
        |o| {
            let mut conn = o.connect()?;
            conn.send(b"FILE 1000 potong.txt\n", "the header")?;
            conn.send(&[b'x'; 100], "100 of the 1000 bytes")?;
            conn.finish_sending();
            expect_refusal_answer(&mut conn, true)
        },
    );
    c.protocol_check("a malformed header gets ERROR or a close", |o| {
        let mut conn = o.connect()?;
        conn.send(b"HALO \x01\xff bukan header\n", "a malformed header")?;
        conn.finish_sending();
        expect_refusal_answer(&mut conn, true)
    });
    c.protocol_check("server keeps serving after a broken upload", |o| {
        upload_ok(&mut o.connect()?, "file.txt", TEXT.as_bytes())
    });
}
