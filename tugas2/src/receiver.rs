//! The receiving side of the file transfer (`udp_fileserver`).
//!
//! One socket serves every sender; each transfer is known by the sender's
//! address and its transfer id. For each transfer the receiver
//!
//! - writes the chunks that arrive in order straight to a temporary file
//!   ([`common::files::AtomicFile`]) and keeps early ones (at most
//!   [`MAX_WINDOW`] chunks ahead) in memory until the gap before them fills;
//! - acknowledges how many chunks arrived in order, plus a bitmap of the
//!   ones after that: every [`ACK_EVERY`] in-order datagrams (or
//!   [`ACK_DELAY`] after the last), and at once after anything unusual;
//! - renames the file into place only when every chunk arrived, then says
//!   DONE (and says it again if the sender did not hear it);
//! - forgets a transfer whose sender went silent for the idle timeout,
//!   deleting the temporary file: a partial file never appears under the
//!   output name.
//!
//! Garbage datagrams are counted and ignored; the loop never stops for a
//! bad datagram, and it keeps serving transfer after transfer.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::error::io_cause;
use common::files::{AtomicFile, Summary};
use common::stop::{Running, Shutdown};

use crate::plain::{Outcome, PlainFiles};
use crate::protocol::{chunk_count, chunk_len, Datagram, Message, MAX_DATAGRAM, MAX_WINDOW};

/// Transfers in progress at once; a START beyond this takes the slot of a
/// transfer that has sent no DATA yet, or is refused with ERROR.
pub const MAX_SESSIONS: usize = 16;
/// Transfers in progress at once from one sender address (IP and port): a
/// START beyond this is refused, so one socket cannot take every slot.
pub const MAX_SESSIONS_PER_PEER: usize = 4;
/// A transfer that has had its START and no DATA for this long (or the idle
/// timeout, if shorter) is dropped: a repeated START does not keep it alive.
pub const START_GRACE: Duration = Duration::from_secs(5);
/// DATA datagrams answered by one ACK while all is well (delayed
/// acknowledgement, as TCP does with 2): fewer ACKs, less work on both
/// sides. A new gap (the first [`URGENT_ACKS`] datagrams after it), a gap
/// filled, a duplicate or a START is answered at once.
pub const ACK_EVERY: u32 = 32;
/// After a gap opens, this many datagrams are each acknowledged at once, so
/// the sender sees soon that the chunk before them is missing.
pub const URGENT_ACKS: u32 = 3;
/// Longest time an ACK is held back waiting for more DATA.
pub const ACK_DELAY: Duration = Duration::from_millis(1);
/// How often the receiver wakes to expire silent transfers.
pub const TICK: Duration = Duration::from_millis(200);
/// With `max_transfers` reached, how long the receiver stays after the last
/// datagram, to repeat a DONE the sender may have missed.
pub const LINGER: Duration = Duration::from_secs(1);
/// Finished transfers remembered, to repeat DONE to a sender that missed it.
pub const FINISHED_MEMORY: usize = 64;

/// How to receive.
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    /// Where a complete file goes (`data.out`).
    pub output: PathBuf,
    /// A transfer whose sender says nothing for this long is discarded.
    pub idle_timeout: Duration,
    /// Return after this many transfers ended (saved or failed) and the
    /// senders have been quiet for [`LINGER`]; `None` = serve forever.
    pub max_transfers: Option<u64>,
    /// Print a `received X of Y` line every time this share of the file
    /// (0..=1) more has arrived.
    pub progress_step: f64,
    /// Several datagrams per system call where the OS can ([`crate::batch`]);
    /// false = one `recv_from` per datagram (the portable path).
    pub batched: bool,
    /// With `batched`, on Linux: let the kernel hand over runs of one
    /// sender's datagrams glued (UDP receive offload), split again here
    /// ([`crate::batch::receive_offload`]); false = `recvmmsg` only.
    pub offload: bool,
    /// `Some(idle)`: the course's plain mode instead of this crate's
    /// protocol: every datagram is file bytes, with no header; a sender's
    /// file ends when it has been silent for `idle` ([`crate::plain`]).
    pub plain: Option<Duration>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            output: PathBuf::from("data.out"),
            idle_timeout: Duration::from_secs(30),
            max_transfers: None,
            progress_step: 0.1,
            batched: true,
            offload: true,
            plain: None,
        }
    }
}

/// Counts kept by [`run_server`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveStats {
    /// Files saved.
    pub saved: u64,
    /// Transfers that ended without a file (timed out, refused, write error).
    pub failed: u64,
    /// Datagrams that were not valid tugas2 datagrams.
    pub garbage: u64,
    /// DATA datagrams that had arrived before (retransmissions, duplicates).
    pub duplicates: u64,
}

struct Session {
    name: String,
    file: AtomicFile,
    size: u64,
    chunk: u16,
    count: u32,
    /// Chunks `0..cumulative` are written.
    cumulative: u32,
    /// Chunks after `cumulative` that arrived early, by `seq % MAX_WINDOW`.
    early: Vec<Option<Vec<u8>>>,
    highest_early: u32,
    /// Something arrived that the sender has not been told about.
    ack_due: bool,
    /// ...and it should hear about it at once (a gap, a duplicate, START).
    ack_now: bool,
    /// DATA since the last ACK.
    unacked: u32,
    /// Highest chunk received so far (+1; 0 = none yet).
    frontier: u32,
    /// Datagrams still to acknowledge at once after a new gap.
    urgent: u32,
    /// Any DATA has arrived.
    got_data: bool,
    /// When the ACK due started being held back.
    held_since: Option<Instant>,
    started: Instant,
    last_heard: Instant,
    next_mark: u64,
    step: u64,
}

/// The ACK describing what `s` has: chunks in order, then a bitmap of the
/// early ones.
fn ack_for(s: &Session) -> Message {
    let mut sack = Vec::new();
    if !s.early.is_empty() && s.highest_early > s.cumulative {
        let span = (s.highest_early - s.cumulative) as usize; // chunks cumulative+1..=highest
        sack.resize(span.div_ceil(8), 0u8);
        for i in 0..span {
            let seq = s.cumulative + 1 + i as u32;
            if s.early[(seq % MAX_WINDOW) as usize].is_some() {
                sack[i / 8] |= 1 << (i % 8);
            }
        }
    }
    Message::Ack {
        cumulative: s.cumulative,
        sack,
    }
}

struct Finished {
    key: (SocketAddr, u32),
    /// DONE's chunk count, or ERROR's reason.
    outcome: Result<u32, String>,
    at: Instant,
}

/// Receives files on `socket`, printing what happens to `out`, until
/// `max_transfers` transfers have ended (never if `None`) or `shutdown` is
/// given. The stop wakes the receiver with an empty datagram (its read
/// timeout, [`TICK`] at most, would too); transfers still in progress are
/// then discarded, their temporary files removed.
///
/// # Errors
/// Only when the socket itself fails (not for anything a sender sends).
pub fn run_server(
    socket: &UdpSocket,
    opts: &ReceiveOptions,
    shutdown: &Shutdown,
    out: &mut dyn Write,
) -> io::Result<ReceiveStats> {
    shutdown.watch_udp(socket)?;
    let mut r = Receiver {
        socket,
        opts,
        sessions: HashMap::new(),
        finished: VecDeque::new(),
        stats: ReceiveStats::default(),
        buf: Vec::with_capacity(MAX_DATAGRAM),
        plain: PlainFiles::default(),
        now: Instant::now(),
    };
    socket.set_read_timeout(Some(TICK))?;
    crate::enlarge_buffers(socket);
    let (slot, slots) = if !opts.batched {
        (
            if opts.plain.is_some() {
                PLAIN_SLOT
            } else {
                SLOT
            },
            1,
        )
    } else if opts.plain.is_some() {
        (PLAIN_SLOT, crate::batch::BATCH)
    } else if opts.offload && crate::batch::receive_offload(socket) {
        // Each message may hold up to 64 datagrams.
        (crate::batch::OFFLOAD_SLOT, OFFLOAD_MESSAGES)
    } else {
        (SLOT, crate::batch::BATCH)
    };
    let mut packets = vec![0u8; slot * slots];
    let mut got = Vec::new();
    let mut last_sweep = Instant::now();
    let mut last_datagram = Instant::now();
    let mut holding = false; // an ACK is held back: wake up soon to send it
    loop {
        recv(socket, &mut packets, slot, &mut got, opts.batched)?;
        if shutdown.is_stopping() {
            if !r.plain.is_empty() {
                log::info!(
                    "stopping: {} unfinished plain files discarded",
                    r.plain.len()
                );
            }
            if !r.sessions.is_empty() {
                log::info!(
                    "stopping: {} unfinished transfers discarded",
                    r.sessions.len()
                );
            }
            return Ok(r.stats);
        }
        r.now = Instant::now();
        if !got.is_empty() {
            last_datagram = r.now;
        }
        for (k, d) in got.iter().enumerate() {
            let (bytes, peer) = (&packets[d.start..d.start + d.len], d.from);
            if opts.plain.is_some() {
                let outcome = r
                    .plain
                    .on_datagram(peer, bytes, &opts.output, MAX_SESSIONS, out)?;
                r.count(outcome);
            } else {
                r.handle(bytes, peer, out)?;
                // One receive call may bring a whole window (receive
                // offload): acknowledge as it goes, every ACK_EVERY.
                if (k + 1) % ACK_EVERY as usize == 0 {
                    r.send_acks();
                }
            }
        }
        let still_holding = r.send_acks();
        if still_holding != holding {
            holding = still_holding;
            socket.set_read_timeout(Some(if holding { ACK_DELAY } else { TICK }))?;
        }
        if last_sweep.elapsed() >= TICK {
            last_sweep = Instant::now();
            r.expire(out)?;
            if let Some(idle) = opts.plain {
                let (saved, failed) = r.plain.expire(idle, &opts.output, out)?;
                r.stats.saved += saved;
                r.stats.failed += failed;
            }
        }
        if let Some(max) = opts.max_transfers {
            // Like TCP's TIME-WAIT: stay a little to repeat DONE in case the
            // last one was lost, and leave once the senders are quiet.
            if r.stats.saved + r.stats.failed >= max
                && r.sessions.is_empty()
                && r.plain.is_empty()
                && last_datagram.elapsed() >= LINGER
            {
                return Ok(r.stats);
            }
        }
    }
}

/// Runs [`run_server`] on a thread of its own with a new [`Shutdown`]
/// (tests, the benchmark); stopping or dropping the returned [`Running`]
/// stops it and waits until it returned.
///
/// # Errors
/// If the socket has no local address or the thread cannot start.
pub fn start_server<W>(socket: UdpSocket, opts: ReceiveOptions, mut out: W) -> io::Result<Running>
where
    W: Write + Send + 'static,
{
    let addr = socket.local_addr()?;
    Running::spawn_at(addr, Shutdown::new(), move |shutdown| {
        run_server(&socket, &opts, &shutdown, &mut out).map(drop)
    })
}

/// Room for one datagram of ours: a longer one is cut, and then too long to decode.
const SLOT: usize = 2048;
/// Room for one datagram in plain mode (any UDP payload).
const PLAIN_SLOT: usize = 65536;
/// Messages taken per receive call with receive offload, each up to 64
/// datagrams glued, or a single one from a sender that does not segment
/// (the default `udp_fileclient`): as many as without the offload, so that
/// sender is not served 16 datagrams per call instead of 64. 4 MiB of
/// buffer, of which a single datagram per message touches one page.
const OFFLOAD_MESSAGES: usize = crate::batch::BATCH;

/// Datagrams into `buf` (their lengths and senders in `got`), or none when
/// none came in time. Errors that one peer can cause (an ICMP "port
/// unreachable" for an ACK to a sender that has quit) are not errors of the
/// receiver.
fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    slot: usize,
    got: &mut Vec<crate::batch::Received>,
    batched: bool,
) -> io::Result<()> {
    match crate::batch::recv(socket, buf, slot, got, batched) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::ConnectionReset
            ) =>
        {
            got.clear();
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Whether to log the `n`-th bad datagram: the first 10, then every
/// 1000th, so a flood of garbage cannot flood the log too.
fn quiet_log(n: u64) -> bool {
    n <= 10 || n % 1000 == 0
}

struct Receiver<'a> {
    socket: &'a UdpSocket,
    opts: &'a ReceiveOptions,
    sessions: HashMap<(SocketAddr, u32), Session>,
    finished: VecDeque<Finished>,
    stats: ReceiveStats,
    buf: Vec<u8>,
    plain: PlainFiles,
    /// When the datagrams being handled arrived (one clock reading per receive call).
    now: Instant,
}

impl Receiver<'_> {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Saved => self.stats.saved += 1,
            Outcome::Failed => self.stats.failed += 1,
            Outcome::Going => {}
        }
    }

    fn send(&mut self, peer: SocketAddr, d: &Datagram) {
        d.encode_into(&mut self.buf);
        if let Err(e) = self.socket.send_to(&self.buf, peer) {
            log::debug!("send to {peer} failed: {}", io_cause(&e));
        }
    }

    fn handle(&mut self, bytes: &[u8], peer: SocketAddr, out: &mut dyn Write) -> io::Result<()> {
        // The hot path: DATA of a transfer in progress, its bytes borrowed
        // (a transfer in progress is never among the finished ones).
        if let Some((id, seq, chunk)) = crate::protocol::decode_data(bytes) {
            if self.sessions.contains_key(&(peer, id)) {
                return self.on_data((peer, id), seq, chunk, out);
            }
        }
        let d = match Datagram::decode(bytes) {
            Ok(d) => d,
            Err(e) => {
                self.stats.garbage += 1;
                if quiet_log(self.stats.garbage) {
                    log::warn!("{peer}: ignoring a datagram: {e}");
                }
                return Ok(());
            }
        };
        let key = (peer, d.id);
        if let Some(f) = self.finished.iter().find(|f| f.key == key) {
            // The sender has not heard how it ended: say it again.
            if matches!(d.msg, Message::Start { .. } | Message::Data { .. }) {
                let reply = match &f.outcome {
                    Ok(count) => Message::Done { count: *count },
                    Err(reason) => Message::Error {
                        reason: reason.clone(),
                    },
                };
                self.send(peer, &Datagram::new(d.id, reply));
            }
            return Ok(());
        }
        match d.msg {
            Message::Start { size, chunk, name } => self.on_start(key, size, chunk, name, out),
            Message::Data { seq, bytes } => self.on_data(key, seq, &bytes, out),
            Message::Error { reason } => {
                if self.sessions.remove(&key).is_some() {
                    writeln!(out, "transfer from {peer} aborted by the sender: {reason}")?;
                    self.finish(key, Err(format!("aborted: {reason}")));
                }
                Ok(())
            }
            Message::Ack { .. } | Message::Done { .. } => {
                log::debug!("{peer}: ignoring a receiver-side datagram");
                Ok(())
            }
        }
    }

    fn on_start(
        &mut self,
        key: (SocketAddr, u32),
        size: u64,
        chunk: u16,
        name: String,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let (peer, id) = key;
        if let Some(s) = self.sessions.get_mut(&key) {
            // Our ACK to START was lost: say it again. This does not renew
            // the idle timer: only DATA does, so a START repeated forever
            // cannot keep a slot.
            s.ack_due = true;
            s.ack_now = true;
            return Ok(());
        }
        let refuse = |r: &mut Self, reason: String| {
            log::warn!("{peer}: refusing transfer {id:08x}: {reason}");
            r.send(peer, &Datagram::new(id, Message::Error { reason }));
        };
        let from_peer = self.sessions.keys().filter(|(p, _)| *p == peer).count();
        if from_peer >= MAX_SESSIONS_PER_PEER {
            refuse(
                self,
                format!(
                    "too many transfers from {peer} ({MAX_SESSIONS_PER_PEER} in progress); finish one first"
                ),
            );
            return Ok(());
        }
        if self.sessions.len() >= MAX_SESSIONS {
            // Full: a transfer that has sent nothing since its START gives
            // its slot up, so STARTs from many sockets cannot lock real
            // senders out (a real one sends DATA one round trip after its
            // START and cannot be chosen then).
            let Some(idle) = self.waiting_for_data() else {
                refuse(
                    self,
                    format!(
                        "receiver busy ({MAX_SESSIONS} transfers in progress); try again later"
                    ),
                );
                return Ok(());
            };
            self.sessions.remove(&idle);
            let reason = format!(
                "transfer dropped: no DATA since its START while the receiver was full \
                 ({MAX_SESSIONS} transfers); start again"
            );
            log::warn!("{}: {reason}", idle.0);
            writeln!(
                out,
                "transfer from {} dropped for a new one: it sent no data",
                idle.0
            )?;
            self.send(
                idle.0,
                &Datagram::new(
                    idle.1,
                    Message::Error {
                        reason: reason.clone(),
                    },
                ),
            );
            self.stats.failed += 1;
            self.finish(idle, Err(reason));
        }
        let Some(count) = chunk_count(size, chunk) else {
            refuse(self, format!("file too large ({size} bytes)"));
            return Ok(());
        };
        let file = match AtomicFile::create(&self.opts.output) {
            Ok(f) => f,
            Err(e) => {
                let reason = format!(
                    "cannot write {}: {}",
                    self.opts.output.display(),
                    io_cause(&e)
                );
                writeln!(out, "transfer from {peer} refused: {reason}")?;
                refuse(self, reason.clone());
                self.stats.failed += 1;
                self.finish(key, Err(reason));
                return Ok(());
            }
        };
        writeln!(
            out,
            "receiving {name} ({size} bytes, {count} datagrams) from {peer}, transfer id {id:08x}"
        )?;
        let step =
            ((size as f64 * self.opts.progress_step.clamp(0.0, 1.0)) as u64).max(u64::from(chunk));
        let now = Instant::now();
        let session = Session {
            name,
            file,
            size,
            chunk,
            count,
            cumulative: 0,
            early: Vec::new(),
            highest_early: 0,
            ack_due: true,
            ack_now: true,
            unacked: 0,
            frontier: 0,
            urgent: 0,
            got_data: false,
            held_since: None,
            started: now,
            last_heard: now,
            next_mark: step,
            step,
        };
        self.sessions.insert(key, session);
        if count == 0 {
            self.complete(key, out)?;
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        key: (SocketAddr, u32),
        seq: u32,
        bytes: &[u8],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let (peer, id) = key;
        let Some(s) = self.sessions.get_mut(&key) else {
            // No START seen (or long forgotten): a stale datagram, or the
            // receiver restarted mid-transfer. Tell the sender to stop.
            log::debug!("{peer}: DATA for unknown transfer {id:08x}");
            self.send(
                peer,
                &Datagram::new(
                    id,
                    Message::Error {
                        reason: "unknown transfer (receiver restarted or timed out?)".into(),
                    },
                ),
            );
            return Ok(());
        };
        if seq >= s.count || bytes.len() != chunk_len(s.size, s.chunk, seq) {
            self.stats.garbage += 1;
            if quiet_log(self.stats.garbage) {
                log::warn!(
                    "{peer}: DATA {seq} with {} bytes does not fit the file; ignored",
                    bytes.len()
                );
            }
            return Ok(());
        }
        s.last_heard = self.now;
        s.got_data = true;
        s.ack_due = true;
        s.unacked += 1;
        if seq < s.cumulative {
            // A duplicate: the sender missed an ACK; tell it now.
            s.ack_now = true;
            self.stats.duplicates += 1;
            return Ok(());
        }
        if seq > s.frontier {
            // Chunks between the old frontier and this one are missing.
            s.urgent = URGENT_ACKS;
        }
        if seq + 1 > s.frontier {
            s.frontier = seq + 1;
        } else if seq > s.cumulative {
            // An early chunk that fills a hole (a retransmission).
            s.ack_now = true;
        }
        if s.urgent > 0 && seq > s.cumulative {
            s.urgent -= 1;
            s.ack_now = true;
        }
        if seq >= s.cumulative + MAX_WINDOW {
            log::debug!("{peer}: DATA {seq} beyond the window; dropped");
            return Ok(());
        }
        if seq > s.cumulative {
            if s.early.is_empty() {
                s.early.resize(MAX_WINDOW as usize, None);
            }
            let slot = &mut s.early[(seq % MAX_WINDOW) as usize];
            if slot.is_some() {
                self.stats.duplicates += 1;
            } else {
                *slot = Some(bytes.to_vec());
                s.highest_early = s.highest_early.max(seq);
            }
            return Ok(());
        }
        // seq == cumulative: write it and every early chunk that now follows.
        let mut result = s.file.write_all(bytes);
        s.cumulative += 1;
        while result.is_ok() && s.cumulative <= s.highest_early {
            let Some(next) = s.early[(s.cumulative % MAX_WINDOW) as usize].take() else {
                break;
            };
            result = s.file.write_all(&next);
            s.cumulative += 1;
            s.ack_now = true; // a gap was filled
        }
        if let Err(e) = result {
            let reason = format!(
                "cannot write {}: {}",
                self.opts.output.display(),
                io_cause(&e)
            );
            writeln!(out, "transfer from {peer} failed: {reason}")?;
            self.sessions.remove(&key);
            self.send(
                peer,
                &Datagram::new(
                    id,
                    Message::Error {
                        reason: reason.clone(),
                    },
                ),
            );
            self.stats.failed += 1;
            self.finish(key, Err(reason));
            return Ok(());
        }
        let done = (u64::from(s.cumulative) * u64::from(s.chunk)).min(s.size);
        if s.cumulative == s.count {
            return self.complete(key, out);
        }
        if done >= s.next_mark {
            writeln!(out, "received {done} of {} from {peer}", s.size)?;
            while s.next_mark <= done {
                s.next_mark += s.step;
            }
        }
        Ok(())
    }

    /// Every chunk is in: rename the file into place and say DONE.
    fn complete(&mut self, key: (SocketAddr, u32), out: &mut dyn Write) -> io::Result<()> {
        let (peer, id) = key;
        let s = self.sessions.remove(&key).expect("session exists");
        let elapsed = s.started.elapsed();
        match s.file.commit() {
            Ok(path) => {
                let summary = Summary {
                    label: path.display().to_string(),
                    bytes: s.size,
                    elapsed,
                };
                writeln!(out, "received {} of {} from {peer}", s.size, s.size)?;
                writeln!(out, "saved {summary} ({} from {peer})", s.name)?;
                self.send(peer, &Datagram::new(id, Message::Done { count: s.count }));
                self.stats.saved += 1;
                self.finish(key, Ok(s.count));
            }
            Err(e) => {
                let reason = format!(
                    "cannot save {}: {}",
                    self.opts.output.display(),
                    io_cause(&e)
                );
                writeln!(out, "transfer from {peer} failed: {reason}")?;
                self.send(
                    peer,
                    &Datagram::new(
                        id,
                        Message::Error {
                            reason: reason.clone(),
                        },
                    ),
                );
                self.stats.failed += 1;
                self.finish(key, Err(reason));
            }
        }
        Ok(())
    }

    /// The transfer to drop when the table is full and a new START comes:
    /// one that has had no DATA yet, from the sender holding the most
    /// transfers, the oldest of those; `None` when every transfer is moving.
    fn waiting_for_data(&self) -> Option<(SocketAddr, u32)> {
        let held_by = |peer: SocketAddr| self.sessions.keys().filter(|(p, _)| *p == peer).count();
        self.sessions
            .iter()
            .filter(|(_, s)| !s.got_data)
            .max_by_key(|((peer, _), s)| (held_by(*peer), std::cmp::Reverse(s.started)))
            .map(|(key, _)| *key)
    }

    fn finish(&mut self, key: (SocketAddr, u32), outcome: Result<u32, String>) {
        if self.finished.len() >= FINISHED_MEMORY {
            self.finished.pop_front();
        }
        self.finished.push_back(Finished {
            key,
            outcome,
            at: Instant::now(),
        });
    }

    /// Sends the ACKs that are due: at once after anything unusual, after
    /// [`ACK_EVERY`] in-order datagrams, or once held back for [`ACK_DELAY`].
    /// Returns whether an ACK is still being held back.
    fn send_acks(&mut self) -> bool {
        let mut holding = false;
        let mut to_send = Vec::new();
        for (key, s) in &mut self.sessions {
            if !s.ack_due {
                continue;
            }
            let held = *s.held_since.get_or_insert_with(Instant::now);
            if s.ack_now || s.unacked >= ACK_EVERY || held.elapsed() >= ACK_DELAY {
                s.ack_due = false;
                s.ack_now = false;
                s.unacked = 0;
                s.held_since = None;
                to_send.push((*key, ack_for(s)));
            } else {
                holding = true;
            }
        }
        for ((peer, id), ack) in to_send {
            self.send(peer, &Datagram::new(id, ack));
        }
        holding
    }

    /// Drops transfers whose sender went silent, and old memories of finished ones.
    fn expire(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let limit = self.opts.idle_timeout;
        let silent: Vec<(SocketAddr, u32)> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                let limit = if s.got_data {
                    limit
                } else {
                    limit.min(START_GRACE)
                };
                s.last_heard.elapsed() >= limit
            })
            .map(|(k, _)| *k)
            .collect();
        for key in silent {
            let s = self.sessions.remove(&key).expect("key from the map");
            let got = (u64::from(s.cumulative) * u64::from(s.chunk)).min(s.size);
            writeln!(
                out,
                "transfer from {} timed out after {:.1} s of silence with {got} of {} bytes; nothing saved",
                key.0,
                limit.as_secs_f64(),
                s.size
            )?;
            drop(s); // removes the temporary file
            self.stats.failed += 1;
            self.finish(key, Err("timed out".into()));
        }
        while self
            .finished
            .front()
            .is_some_and(|f| f.at.elapsed() >= limit)
        {
            self.finished.pop_front();
        }
        Ok(())
    }
}
