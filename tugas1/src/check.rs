//! The grader's check for Tugas 1: tests any echo server (Python, Java,
//! ours, ...) against the assignment.
//!
//! ```text
//! cargo run -p tugas1 --bin check                                 # 127.0.0.1, ports 31000 31001 31002
//! cargo run -p tugas1 --bin check -- --host 10.0.0.5 --port 31000 --port 31001
//! ```
//!
//! Requirements, in order of importance:
//!
//! 1. on each port (`--port`, repeatable or `31000,31001`), the server echoes
//!    "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA" exactly;
//! 2. every byte value 0-255 comes back unchanged;
//! 3. a large message (1 MiB) comes back whole;
//! 4. a message sent in small segments comes back whole (a server must not
//!    assume one `recv` is one message);
//! 5. two clients at once: the second is answered while the first is still
//!    connected;
//! 6. the server keeps serving after a client disconnects abruptly.
//!
//! No protocol is assumed beyond "every byte comes back, in order".

use std::time::Duration;

use common::check::{self, difference, Checker, Conn, Failure};
use common::cli::{Command, Flag};

use crate::DEFAULT_MESSAGE;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 1 grader's check: tests an echo server (any language) on the course's ports.",
    args: "",
    flags: &[
        check::host(),
        Flag::value(
            "port",
            "PORT",
            "31000,31001,31002",
            "the server's port; repeat or separate with commas for several",
        ),
        check::TIMEOUT,
        check::JSON,
    ],
};

/// Size of the large-message check.
pub const LARGE: usize = 1024 * 1024;

/// Sends `data` (while reading) and requires the same bytes back.
///
/// # Errors
/// A failure naming the first differing byte, a short echo or a timeout.
pub fn expect_echo(conn: &mut Conn, data: &[u8], what: &str) -> Result<(), Failure> {
    let back = conn.exchange(data, data.len(), what)?;
    match difference(data, &back) {
        None => Ok(()),
        Some(d) => Err(conn.fail(format!("{what} {d}"))),
    }
}

/// Runs every Tugas 1 requirement against the server of `c`'s options.
pub fn run(c: &mut Checker) {
    let ports = c.options().ports.clone();
    for port in ports {
        c.check(
            format!("server on port {port} echoes \"{DEFAULT_MESSAGE}\""),
            |o| {
                let mut conn = o.connect_port(port)?;
                expect_echo(&mut conn, DEFAULT_MESSAGE.as_bytes(), "the echo")
            },
        );
    }
    c.check("every byte value 0-255 comes back unchanged", |o| {
        let data: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
        expect_echo(&mut o.connect()?, &data, "the echo of bytes 0-255")
    });
    c.check("a large message (1 MiB) comes back whole", |o| {
        let data: Vec<u8> = b"PEMROGRAMAN JARINGAN "
            .iter()
            .copied()
            .cycle()
            .take(LARGE)
            .collect();
        expect_echo(&mut o.connect()?, &data, "the echo of 1 MiB")
    });
    c.check("a message sent in small segments comes back whole", |o| {
        let mut conn = o.connect()?;
        let msg = DEFAULT_MESSAGE.as_bytes();
        conn.send_in_pieces(
            msg,
            4,
            Duration::from_millis(10),
            "the message in 4-byte pieces",
        )?;
        let back = conn.recv_exact(msg.len(), "the echo")?;
        match difference(msg, &back) {
            None => Ok(()),
            Some(d) => Err(conn.fail(format!("the echo {d}"))),
        }
    });
    c.check_extra(
        "two clients at once: the second is answered while the first stays connected",
        |o| {
            let mut first = o.connect()?;
            expect_echo(
                &mut first,
                b"klien pertama",
                "the echo on the first connection",
            )?;
            let mut second = o.connect()?;
            expect_echo(
                &mut second,
                b"klien kedua",
                "the echo on the second connection (the first is still open)",
            )?;
            expect_echo(
                &mut first,
                b"pertama lagi",
                "the echo on the first connection again",
            )
        },
    );
    c.check("keeps serving after a client disconnects abruptly", |o| {
        let mut rude = o.connect()?;
        rude.send(b"halo, lalu pergi", "a message")?;
        drop(rude); // closes without reading the echo (the server may see a reset)
        expect_echo(
            &mut o.connect()?,
            DEFAULT_MESSAGE.as_bytes(),
            "the echo on a new connection",
        )
    });
}
