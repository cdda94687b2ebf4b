//! The grader's check for Tugas 1: tests any echo server (Python, Java,
//! ours, ...) against the assignment.
//!
//! ```text
//! cargo run -p tugas1 --bin check                                 # 127.0.0.1, ports 31000 31001 31002
//! cargo run -p tugas1 --bin check -- --host 10.0.0.5 --port 31000 --port 31001
//! ```
//!
//! Required (each line cites its ASSIGNMENTS.md sentence), in order of
//! importance:
//!
//! 1. `echo-PORT`: on each port (`--port`, repeatable or `31000,31001`),
//!    the server echoes "PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA" exactly;
//! 2. `bytes`: every byte value 0-255 comes back unchanged;
//! 3. `large`: a large message (1 MiB) comes back whole;
//! 4. `segments`: a message sent in small segments comes back whole (a
//!    server must not assume one `recv` is one message);
//! 5. `after-abrupt-close`: the server keeps serving after a client
//!    disconnects abruptly.
//!
//! Steps 2-5 run on every port whose echo passed; a port that answered
//! and refuses later is said to have died during an earlier step.
//!
//! Extra, beyond the assignment (threads come in Tugas 3; the course's
//! single-client `server.py` fails only this):
//!
//! - `two-clients`: two clients at once: the second is answered while the
//!   first is still connected.
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

/// ASSIGNMENTS.md: the three ports.
pub const CITE_PORTS: &str =
    "Jalankan program server.py di 3 port yang berbeda (31000, 31001, 31002)";

/// ASSIGNMENTS.md: the client sends the string to the server.
pub const CITE_SEND: &str = "Jalankan program client.py untuk konek ke server yang jalan pada \
poin sebelumnya dan mengirimkan string \u{201c}PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\u{201d}";

/// Runs every Tugas 1 requirement against the server of `c`'s options:
/// the echo on each port (`echo-PORT`), then each further requirement on
/// every port whose echo passed (a port that stopped answering since is
/// said to have died in an earlier step), and the extra.
pub fn run(c: &mut Checker) {
    let ports = c.options().ports.clone();
    for &port in &ports {
        c.require(
            &format!("echo-{port}"),
            format!("server on port {port} echoes \"{DEFAULT_MESSAGE}\""),
            CITE_PORTS,
            |o| {
                let mut conn = o.connect_port(port)?;
                expect_echo(&mut conn, DEFAULT_MESSAGE.as_bytes(), "the echo")
            },
        );
    }
    let answered: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| {
            c.report()
                .by_id(&format!("echo-{p}"))
                .is_some_and(|o| o.status == check::Status::Pass)
        })
        .collect();
    // Nothing answered: the steps below run on the first port, to say so.
    let died = !answered.is_empty();
    let on: Vec<u16> = match answered.is_empty() {
        true => ports.iter().copied().take(1).collect(),
        false => answered,
    };
    let on = on.as_slice();
    c.require(
        "bytes",
        "every byte value 0-255 comes back unchanged",
        CITE_SEND,
        |o| {
            each_port(o, on, died, |conn| {
                let data: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
                expect_echo(conn, &data, "the echo of bytes 0-255")
            })
        },
    );
    c.require(
        "large",
        "a large message (1 MiB) comes back whole",
        CITE_SEND,
        |o| {
            each_port(o, on, died, |conn| {
                let data: Vec<u8> = b"PEMROGRAMAN JARINGAN "
                    .iter()
                    .copied()
                    .cycle()
                    .take(LARGE)
                    .collect();
                expect_echo(conn, &data, "the echo of 1 MiB")
            })
        },
    );
    c.require(
        "segments",
        "a message sent in small segments comes back whole",
        CITE_SEND,
        |o| {
            each_port(o, on, died, |conn| {
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
            })
        },
    );
    c.extra(
        "two-clients",
        "two clients at once: the second is answered while the first stays connected",
        |o| {
            let port = on[0];
            let mut first = connect_again(o, port, died)?;
            expect_echo(
                &mut first,
                b"klien pertama",
                "the echo on the first connection",
            )?;
            let mut second = connect_again(o, port, died)?;
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
    c.require(
        "after-abrupt-close",
        "keeps serving after a client disconnects abruptly",
        CITE_SEND,
        |o| {
            for &port in on {
                let mut rude = connect_again(o, port, died)?;
                rude.send(b"halo, lalu pergi", "a message")?;
                drop(rude); // closes without reading the echo (the server may see a reset)
                let mut conn = connect_again(o, port, died)?;
                expect_echo(
                    &mut conn,
                    DEFAULT_MESSAGE.as_bytes(),
                    "the echo on a new connection",
                )
                .map_err(|f| on_port(f, port, on))?;
            }
            Ok(())
        },
    );
}

/// Runs `step` on a new connection to each of `ports`, stopping at the
/// first failure (which names its port when there are several).
fn each_port<F>(
    o: &check::CheckOptions,
    ports: &[u16],
    answered: bool,
    step: F,
) -> Result<(), Failure>
where
    F: Fn(&mut Conn) -> Result<(), Failure>,
{
    for &port in ports {
        let mut conn = connect_again(o, port, answered)?;
        step(&mut conn).map_err(|f| on_port(f, port, ports))?;
    }
    Ok(())
}

/// Connects to `port` again; when its echo passed earlier (`answered`)
/// and it now refuses, the server is said to have died in an earlier step.
fn connect_again(o: &check::CheckOptions, port: u16, answered: bool) -> Result<Conn, Failure> {
    o.connect_port(port).map_err(|mut f| {
        if !answered {
            return f;
        }
        f.reason = format!(
            "{} (port {port} answered earlier in this check: the server died or \
             stopped listening during an earlier step)",
            f.reason
        );
        f
    })
}

/// Names the port in a failure when several ports are tested.
fn on_port(mut f: Failure, port: u16, ports: &[u16]) -> Failure {
    if ports.len() > 1 {
        f.reason = format!("port {port}: {}", f.reason);
    }
    f
}
