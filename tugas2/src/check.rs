//! The grader's check for Tugas 2: tests a UDP receiver (Python, Java,
//! ours, ...) on 127.0.0.1:5005.
//!
//! ```text
//! cargo run -p tugas2 --bin check                           # any receiver on 127.0.0.1:5005
//! cargo run -p tugas2 --bin check -- --output-file hasil.bin  # a plain receiver: judge its file
//! cargo run -p tugas2 --bin check -- --host 10.0.0.5 --port 5005
//! ```
//!
//! What can be checked from outside is limited: the course's `udp_server`
//! prints what it gets and never answers, and UDP has no delivery receipt.
//! The first requirement can only see that *something* listens on the
//! port: a "connected" UDP socket hears the ICMP "port unreachable" a host
//! sends back when nothing does (as "connection refused" on the next send
//! or receive). That the server printed each datagram must be seen on its
//! console. Required (ASSIGNMENTS.md, Tugas 2):
//!
//! 1. `numbers-reach-port`: "ini angka 1" ... "ini angka N" can be sent to
//!    the port and nothing answers "port unreachable" (udp_simpel.py);
//!
//! then the file transfer (udp_fileclient.py), in the convention the
//! receiver speaks, found by sending this workspace's START of a small file:
//!
//! - answered (this workspace's file protocol, [`crate::protocol`]):
//!   `start-acknowledged` (`ACK 0`) and `transfer-completes` (`DONE` with
//!   the chunk count); extra `garbage-then-transfer`: garbage datagrams do
//!   not stop the receiver;
//! - silent (the course's plain convention: the file's bytes, one per
//!   datagram, no header, no answer): `plain-file-arrives`: with
//!   `--output-file PATH` (the file the receiver writes) the check sends a
//!   file that way and the file must end with exactly those bytes; without
//!   the flag the line is `SKIP` (not judged), not a failure.
//!
//! `--skip-protocol` does not send our START at all (the plain convention
//! only). UDP may lose datagrams: each step is sent up to three times
//! within the timeout. Our receiver saves the test files to its `--output`.

use std::thread;
use std::time::{Duration, Instant};

use common::check::{self, CheckOptions, Checker, Failure, UdpPeer};
use common::cli::{Command, Flag};

use crate::protocol::{chunk_count, Datagram, Message, MAX_CHUNK};
use crate::sender::new_transfer_id;
use crate::simple;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 2 grader's check: tests a UDP receiver (any language) on the course's port.",
    args: "",
    flags: &[
        check::host(),
        check::port("5005"),
        Flag::value(
            "count",
            "N",
            "5",
            "how many \"ini angka N\" datagrams to send",
        ),
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
        Flag::value(
            "output-file",
            "PATH",
            "",
            "the file the receiver writes (for a receiver of the course's plain datagrams: the check compares it with what it sent)",
        ),
    ],
};

/// The assignment's sentence the file requirements come from.
const CITE_FILE: &str =
    "Menangkap paket menggunakan wireshark pada udp_fileclient.py pada jaringan lokal (127.0.0.1, port 5005).";
/// The assignment's sentence requirement 1 comes from.
const CITE_SIMPLE: &str =
    "Menangkap paket menggunakan wireshark pada udp_simpel.py pada jaringan lokal (127.0.0.1, port 5005).";
/// The convention names the check reports.
pub const OURS: &str = "this workspace's file protocol (START/DATA/ACK/DONE, tugas2/README.md)";
/// The course's `udp_fileclient.py` convention.
pub const PLAIN: &str =
    "the course's plain datagrams (udp_fileclient.py: the file's bytes, one per datagram, no header, no answer)";

/// Size of the file of requirements 2 and 3: three datagrams.
pub const FILE_SIZE: usize = 2500;
/// Longest a check waits for an ICMP "port unreachable" after its datagrams.
pub const ICMP_WAIT: Duration = Duration::from_secs(1);
/// How many times a step is sent before giving up.
const ATTEMPTS: u32 = 3;
/// Datagrams a check reads while waiting for one answer (a flood ends it).
const MAX_READS: usize = 10_000;

/// The bytes of a test file: every byte value, not repeating per chunk.
pub fn test_file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Runs every Tugas 2 requirement against the receiver of `c`'s options;
/// `count` is how many "ini angka N" datagrams requirement 1 sends.
pub fn run(c: &mut Checker, count: u64) {
    run_with(c, count, None);
}

/// [`run`], and for a receiver that never answers our START (the course's
/// plain convention), the test file sent as bare one-byte datagrams and
/// compared with `output_file` (the file that receiver writes) when given.
pub fn run_with(c: &mut Checker, count: u64, output_file: Option<std::path::PathBuf>) {
    c.note(
        "the course's udp_server never answers: requirement 1 can only see that something \
         listens (no ICMP port unreachable); check its console for the printed datagrams",
    );
    c.require(
        "numbers-reach-port",
        format!(
            "datagrams \"ini angka 1\"..\"ini angka {count}\" reach the port (no ICMP port unreachable)"
        ),
        CITE_SIMPLE,
        |o| numbers_are_not_refused(o, count),
    );
    if c.options().skip_protocol {
        c.convention(PLAIN);
        plain_file(c, output_file);
        return;
    }
    // Which convention: our START is answered by ours; the course's plain
    // receiver answers nothing.
    let mut transfer: Option<Transfer> = None;
    let mut first_try = None;
    match Transfer::new(c.options(), "check-kecil.bin", test_file(FILE_SIZE)) {
        Ok(mut t) => match t.start() {
            Ok(()) => transfer = Some(t),
            Err(f) => {
                // A receiver that never answered has nothing to abort (and a
                // plain one would take the ERROR as file bytes).
                t.abort_on_drop = !f.reason.starts_with("timed out");
                first_try = Some(f);
            }
        },
        Err(f) => first_try = Some(f),
    }
    let silent = first_try
        .as_ref()
        .is_some_and(|f| f.reason.starts_with("timed out"));
    if silent {
        c.note(
            "the receiver did not answer our START: taken to be the course's plain convention \
             (udp_fileclient.py's bare datagrams)",
        );
        c.convention(PLAIN);
        plain_file(c, output_file);
        return;
    }
    if transfer.is_some() {
        c.convention(OURS);
    }
    c.require(
        "start-acknowledged",
        format!("the START of a small file ({FILE_SIZE} bytes) is acknowledged (ACK 0)"),
        CITE_FILE,
        |_| first_try.map_or(Ok(()), Err),
    );
    c.require(
        "transfer-completes",
        format!(
            "the file's DATA datagrams are acknowledged and the transfer completes (DONE {})",
            FILE_SIZE.div_ceil(MAX_CHUNK)
        ),
        CITE_FILE,
        |_| match transfer.take() {
            Some(mut t) => t.data_until_done(),
            None => Err(Failure::new(
                "not tried: the START was not acknowledged (see above)",
            )),
        },
    );
    c.extra(
        "garbage-then-transfer",
        "garbage datagrams do not stop the receiver: the next transfer completes",
        |o| {
            let mut t = Transfer::new(o, "check-setelah-sampah.bin", test_file(300))?;
            for g in garbage() {
                t.peer
                    .send(&g, "a garbage datagram")
                    .map_err(|f| nothing_listens(o, f))?;
            }
            t.start()?;
            t.data_until_done()
        },
    );
}

/// The course's convention: the test file as bare one-byte datagrams, then
/// (with `--output-file`) the receiver's file must become identical.
fn plain_file(c: &mut Checker, output_file: Option<std::path::PathBuf>) {
    let text = format!(
        "a {PLAIN_SIZE}-byte file sent as the course's plain datagrams (one byte each) arrives byte for byte"
    );
    let Some(path) = output_file else {
        c.skip(
            "plain-file-arrives",
            text,
            CITE_FILE,
            "not judged: give --output-file PATH (the file the receiver writes) and the check \
             sends it a file that way and compares",
        );
        return;
    };
    c.require(
        "plain-file-arrives",
        format!("{text} in {}", path.display()),
        CITE_FILE,
        |o| {
            let data = test_file(PLAIN_SIZE);
            let mut peer = o.udp_with_timeout(o.timeout)?;
            for (i, b) in data.iter().enumerate() {
                peer.send(&[*b], "a plain datagram")
                    .map_err(|f| nothing_listens(o, f))?;
                if i % 8 == 7 {
                    // At most 8 a millisecond (the course's client, printing
                    // a line per byte, is slower still): plain datagrams
                    // have no flow control, and a receiver slower than the
                    // sender loses them (under Wine 64 at a time lost a
                    // quarter of the file).
                    thread::sleep(Duration::from_millis(1));
                }
            }
            // The receiver decides by itself when the file is over (an idle
            // timeout): wait for the file, within the step's timeout.
            let deadline = Instant::now() + o.timeout;
            let mut last = None;
            while Instant::now() < deadline && !o.run.budget_spent() {
                match std::fs::read(&path) {
                    // A receiver that writes every datagram into one file
                    // also holds the earlier ones (the numbers, our START).
                    Ok(got) if got.ends_with(&data) => return Ok(()),
                    Ok(got) => last = Some(got.len()),
                    Err(_) => {}
                }
                thread::sleep(Duration::from_millis(50)); // polling the file, bounded
            }
            Err(Failure::new(match last {
                Some(n) => format!(
                    "{} holds {n} bytes that do not end with the {PLAIN_SIZE} sent (after {})",
                    path.display(),
                    check::secs(o.timeout)
                ),
                None => format!(
                    "{} did not appear within {}",
                    path.display(),
                    check::secs(o.timeout)
                ),
            }))
        },
    );
}

/// Size of the plain-convention test file (one datagram per byte).
pub const PLAIN_SIZE: usize = 600;

/// Requirement 1: sends the numbers through a connected socket and waits
/// [`ICMP_WAIT`] (at most the timeout) for a "connection refused".
fn numbers_are_not_refused(o: &CheckOptions, count: u64) -> Result<(), Failure> {
    let wait = o.timeout.min(ICMP_WAIT);
    let mut peer = o.udp_with_timeout(wait)?;
    for i in 1..=count.max(1) {
        if i > 1 {
            // Room for an ICMP error of the previous datagram to come back.
            thread::sleep(Duration::from_millis(20));
        }
        peer.send(simple::message(i).as_bytes(), "the datagram")
            .map_err(|f| nothing_listens(o, f))?;
    }
    match peer.recv(2048, "an answer") {
        // Answering is allowed (an echo, say); silence is what the course's server does.
        Ok(_) => Ok(()),
        Err(f) if f.reason.starts_with("timed out") => Ok(()),
        Err(f) => Err(nothing_listens(o, f)),
    }
}

/// A refused send or receive means nothing listens: the run's "cannot
/// reach" line (exit 3) unless the receiver answered before.
fn nothing_listens(o: &CheckOptions, mut f: Failure) -> Failure {
    if f.reason.contains("refused") {
        o.run.mark_unreachable(
            &format!("{}:{}", o.host, o.port()),
            "ICMP port unreachable (connection refused)",
        );
        f.reason = "nothing listens on that UDP port: the host answered ICMP port unreachable \
                    (connection refused)"
            .to_string();
    }
    f
}

/// Datagrams a receiver must ignore: not ours, truncated, unknown version
/// and type, too long, and a START with chunk size 0.
fn garbage() -> Vec<Vec<u8>> {
    vec![
        b"ini bukan datagram PJ".to_vec(),
        Vec::new(),
        b"PJ\x01".to_vec(),
        b"PJ\x09\x02\0\0\0\x01\0\0\0\0".to_vec(),
        b"PJ\x01\x63\0\0\0\x01\0\0\0\0".to_vec(),
        vec![0xff; 1400],
        b"PJ\x01\x01\0\0\0\x09\0\0\0\0\0\0\0\0\0\0\0\x10\0\0\0".to_vec(),
    ]
}

/// One transfer of the file protocol, driven step by step.
struct Transfer {
    peer: UdpPeer,
    id: u32,
    name: String,
    data: Vec<u8>,
    timeout: Duration,
    opts: CheckOptions,
    abort_on_drop: bool,
}

/// What a reply means to the step waiting for it.
enum Verdict {
    Done,
    Wait,
    Wrong(String),
}

impl Transfer {
    fn new(o: &CheckOptions, name: &str, data: Vec<u8>) -> Result<Transfer, Failure> {
        let per_attempt = o.timeout / ATTEMPTS;
        Ok(Transfer {
            peer: o.udp_with_timeout(per_attempt.max(Duration::from_millis(1)))?,
            id: new_transfer_id(),
            name: name.to_string(),
            data,
            timeout: o.timeout,
            opts: o.clone(),
            abort_on_drop: true,
        })
    }

    fn chunks(&self) -> u32 {
        chunk_count(self.data.len() as u64, MAX_CHUNK as u16).unwrap_or(0)
    }

    /// Sends START until the receiver acknowledges it with `ACK 0`.
    fn start(&mut self) -> Result<(), Failure> {
        let start = Datagram::new(
            self.id,
            Message::Start {
                size: self.data.len() as u64,
                chunk: MAX_CHUNK as u16,
                name: self.name.clone(),
            },
        )
        .encode();
        self.ask(&[start], "the ACK of START", |m| match m {
            Message::Ack { cumulative: 0, .. } => Verdict::Done,
            Message::Ack { cumulative, .. } => Verdict::Wrong(format!(
                "the ACK of START says {cumulative} chunks arrived, but none was sent yet"
            )),
            other => Verdict::Wrong(format!("expected ACK 0 to START, got {}", name(other))),
        })
    }

    /// Sends every DATA datagram until the receiver says DONE with the
    /// right chunk count.
    fn data_until_done(&mut self) -> Result<(), Failure> {
        let count = self.chunks();
        let datagrams: Vec<Vec<u8>> = self
            .data
            .chunks(MAX_CHUNK)
            .enumerate()
            .map(|(seq, bytes)| {
                Datagram::new(
                    self.id,
                    Message::Data {
                        seq: seq as u32,
                        bytes: bytes.to_vec(),
                    },
                )
                .encode()
            })
            .collect();
        self.ask(&datagrams, &format!("DONE {count}"), |m| match m {
            Message::Done { count: n } if *n == count => Verdict::Done,
            Message::Done { count: n } => {
                Verdict::Wrong(format!("DONE says {n} chunks, but the file has {count}"))
            }
            Message::Ack { cumulative, .. } if *cumulative > count => Verdict::Wrong(format!(
                "ACK {cumulative}: more chunks than the file has ({count})"
            )),
            Message::Ack { .. } => Verdict::Wait,
            other => Verdict::Wrong(format!("expected ACK or DONE, got {}", name(other))),
        })
    }

    /// Sends `datagrams` (again after each silent attempt, [`ATTEMPTS`]
    /// times in all) until `judge` says a reply of this transfer ends the
    /// step. Replies of other transfers are ignored but counted.
    fn ask(
        &mut self,
        datagrams: &[Vec<u8>],
        what: &str,
        judge: impl Fn(&Message) -> Verdict,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + self.timeout;
        let mut others = 0usize;
        let mut reads = 0usize;
        for _ in 0..ATTEMPTS {
            for d in datagrams {
                self.peer
                    .send(d, &format!("the datagrams before {what}"))
                    .map_err(|f| nothing_listens(&self.opts, f))?;
            }
            loop {
                if Instant::now() >= deadline || reads >= MAX_READS {
                    break;
                }
                reads += 1;
                let bytes = match self.peer.recv(2048, what) {
                    Ok(b) => b,
                    Err(f) if f.reason.starts_with("timed out") => break, // send again
                    Err(f) => return Err(nothing_listens(&self.opts, f)),
                };
                let reply = match Datagram::decode(&bytes) {
                    Ok(d) => d,
                    Err(e) => {
                        return Err(self.peer.fail(format!(
                            "waiting for {what}, got a datagram that is not of the protocol: {e}"
                        )))
                    }
                };
                if reply.id != self.id {
                    others += 1;
                    continue;
                }
                match (&reply.msg, judge(&reply.msg)) {
                    (Message::Error { reason }, _) => {
                        return Err(self
                            .peer
                            .fail(format!("the receiver answered ERROR: {reason:?}")))
                    }
                    (_, Verdict::Done) => return Ok(()),
                    (_, Verdict::Wait) => {}
                    (_, Verdict::Wrong(why)) => return Err(self.peer.fail(why)),
                }
            }
        }
        let mut reason = format!(
            "timed out after {} waiting for {what} (sent {ATTEMPTS} times)",
            check::secs(self.timeout)
        );
        if others > 0 {
            reason.push_str(&format!(
                "; {others} datagrams with another transfer id than ours ({:08x}) were ignored",
                self.id
            ));
        }
        Err(self.peer.fail(reason))
    }
}

impl Drop for Transfer {
    /// Tells the receiver an unfinished transfer is over (best effort), so
    /// it does not wait for it until its idle timeout.
    fn drop(&mut self) {
        if !self.abort_on_drop {
            return;
        }
        let abort = Datagram::new(
            self.id,
            Message::Error {
                reason: "check finished".into(),
            },
        );
        let _ = self.peer.socket().send(&abort.encode());
    }
}

fn name(m: &Message) -> String {
    match m {
        Message::Start { .. } => "START".into(),
        Message::Data { seq, .. } => format!("DATA {seq}"),
        Message::Ack { cumulative, .. } => format!("ACK {cumulative}"),
        Message::Done { count } => format!("DONE {count}"),
        Message::Error { reason } => format!("ERROR {reason:?}"),
    }
}
