//! The sending side of the file transfer (`udp_fileclient`).
//!
//! 1. Send START (size, chunk size, name) until the receiver answers with an
//!    ACK (or DONE, for an empty file).
//! 2. Keep up to `window` DATA datagrams in flight. Each ACK says how many
//!    chunks arrived in order plus a bitmap of the ones after that.
//! 3. A chunk is sent again as soon as 3 datagrams sent after it have been
//!    acknowledged and it has not: then it was almost certainly lost, not
//!    just late (a retransmission lost again is found the same way, by the
//!    ones sent after it). When no ACK brings news for two round trips, the
//!    first missing chunk is sent again as a probe; after that the timeout
//!    is RFC 6298's (from measured round trips) and doubles each time.
//! 4. The transfer is over when the receiver says DONE (every byte arrived
//!    and the file is saved) or ERROR. If nothing valid comes back for
//!    `give_up`, the receiver is gone: fail with [`SendError::NoAnswer`].
//!
//! Only the window's chunks are kept in memory, so any file size works.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::protocol::{
    chunk_count, chunk_len, encode_data, sack_bit, Datagram, Message, MAX_CHUNK, MAX_WINDOW,
};
use common::error::io_cause;

/// Default number of unacknowledged DATA datagrams in flight.
pub const DEFAULT_WINDOW: u32 = 512;
/// Retransmission timeout before the first round trip is measured (the
/// START's: a LAN or Wi-Fi answers within a few milliseconds, and a START
/// sent twice is only acknowledged twice).
pub const INITIAL_RTO: Duration = Duration::from_millis(100);
/// Smallest retransmission timeout (loopback round trips are microseconds,
/// but a busy machine can stall a process for milliseconds).
pub const MIN_RTO: Duration = Duration::from_millis(20);
/// Shortest probe timeout (see [`RttEstimator::timer`]).
pub const MIN_PROBE: Duration = Duration::from_millis(2);
/// Largest retransmission timeout after backing off.
pub const MAX_RTO: Duration = Duration::from_secs(1);
/// A chunk is presumed lost once this many datagrams sent after it are acknowledged.
pub const REORDER_THRESHOLD: u64 = 3;

/// How to send.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// DATA datagrams in flight at most (1..=1024).
    pub window: u32,
    /// Payload bytes per DATA datagram (1..=1024).
    pub chunk: u16,
    /// Give up when the receiver has said nothing for this long.
    pub give_up: Duration,
    /// Print a `terkirim X of Y` line every time this share of the file
    /// (0..=1) more is acknowledged; 0 prints one per datagram.
    pub progress_step: f64,
    /// Several datagrams per system call where the OS can ([`crate::batch`]);
    /// false = one `send`/`recv` per datagram (the portable path).
    pub batched: bool,
    /// With `batched`, on Linux: runs of DATA datagrams leave in one call
    /// each, cut into the same datagrams by the kernel (UDP segmentation
    /// offload, [`crate::batch::SendPath`]); false (the default) =
    /// `sendmmsg` only. The receiver gets the same datagrams either way,
    /// but the loopback interface passes a run uncut, so a capture on `lo`
    /// (the assignment's) shows 64 KiB packets instead of the datagrams.
    pub offload: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            window: DEFAULT_WINDOW,
            chunk: MAX_CHUNK as u16,
            give_up: Duration::from_secs(30),
            progress_step: 0.1,
            batched: true,
            offload: false,
        }
    }
}

/// What a finished transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// File bytes delivered.
    pub bytes: u64,
    /// DATA datagrams in the file.
    pub chunks: u32,
    /// Datagrams sent in total (START, DATA, including retransmissions).
    pub sent: u64,
    /// Datagrams sent again (START or DATA).
    pub retransmissions: u64,
    /// System calls that each carried several DATA datagrams for the kernel
    /// to cut apart (UDP segmentation offload); 0 without it.
    pub segmented_sends: u64,
    /// From the first START to DONE.
    pub elapsed: Duration,
}

/// Why a transfer failed.
#[derive(Debug)]
pub enum SendError {
    /// Nothing came back for the give-up time: the receiver is gone or unreachable.
    NoAnswer {
        /// The receiver's address.
        peer: SocketAddr,
        /// How long we waited.
        waited: Duration,
        /// Bytes acknowledged before it went silent.
        acked: u64,
    },
    /// The receiver's host said nothing listens on that port (ICMP port unreachable).
    Refused(SocketAddr),
    /// The receiver answered ERROR.
    Rejected(String),
    /// Reading the file or using the socket failed.
    Io(io::Error),
    /// The file is too large for 32-bit chunk numbers, or changed while being sent.
    BadFile(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoAnswer {
                peer,
                waited,
                acked,
            } => write!(
                f,
                "receiver {peer} gave no answer for {:.1} s after {acked} bytes were acknowledged; giving up (is udp_fileserver running there?)",
                waited.as_secs_f64()
            ),
            SendError::Refused(peer) => write!(
                f,
                "nothing is listening on {peer}: port unreachable (is udp_fileserver running on {peer}?)"
            ),
            SendError::Rejected(reason) => write!(f, "receiver refused the transfer: {reason}"),
            SendError::Io(e) => f.write_str(&io_cause(e)),
            SendError::BadFile(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SendError {}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        SendError::Io(e)
    }
}

/// A fresh random transfer id (never 0), from std's randomly seeded hasher.
pub fn new_transfer_id() -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    let v = h.finish();
    ((v >> 32) as u32 ^ v as u32).max(1)
}

/// Opens a UDP socket "connected" to `peer`: it only receives datagrams
/// from there, and an ICMP port-unreachable shows up as an error.
///
/// # Errors
/// If no local socket can be bound or connected.
pub fn connect_socket(peer: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if peer.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let socket = UdpSocket::bind(local)?;
    crate::enlarge_buffers(&socket);
    socket.connect(peer)?;
    Ok(socket)
}

/// Sends the file at `path` over `socket` (connected to the receiver),
/// printing progress lines to `out`.
///
/// # Errors
/// [`SendError`]: the receiver is gone, refused, or the file cannot be read.
pub fn send_file(
    socket: &UdpSocket,
    path: &Path,
    opts: &SendOptions,
    out: &mut dyn Write,
) -> Result<SendReport, SendError> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Large reads: the sender copies the file a chunk at a time from here.
    let reader = io::BufReader::with_capacity(256 * 1024, file);
    send_reader(socket, &name, size, reader, opts, out)
}

/// Sends `size` bytes read from `source` as a file named `name`.
///
/// # Errors
/// As [`send_file`]; also [`SendError::BadFile`] if `source` ends early.
pub fn send_reader(
    socket: &UdpSocket,
    name: &str,
    size: u64,
    source: impl Read,
    opts: &SendOptions,
    out: &mut dyn Write,
) -> Result<SendReport, SendError> {
    let peer = socket.peer_addr()?;
    let chunk = opts.chunk.clamp(1, MAX_CHUNK as u16);
    let count = chunk_count(size, chunk)
        .ok_or_else(|| SendError::BadFile(format!("{name} is too large ({size} bytes)")))?;
    let mut s = Sender::new(socket, peer, size, chunk, count, source, opts);
    let start = Instant::now();
    writeln!(
        out,
        "sending {name} ({size} bytes, {count} datagrams) to {peer}, transfer id {:08x}",
        s.id
    )?;
    s.run(name, out)?;
    Ok(SendReport {
        bytes: size,
        chunks: count,
        sent: s.sent,
        retransmissions: s.retransmissions,
        segmented_sends: s.path.segmented_sends(),
        elapsed: start.elapsed(),
    })
}

/// One DATA datagram in the window.
struct Slot {
    /// The whole DATA datagram, header included.
    bytes: Vec<u8>,
    /// Order of the latest transmission of this chunk (1, 2, 3, ... across all sends).
    tx: u64,
    sent_at: Instant,
    /// Sent more than once: its ack gives no usable round-trip sample (Karn).
    resent: bool,
    /// Sent again by the timer, maybe only late, not lost: its ACK may be
    /// for any copy, so it never shows other chunks lost.
    probed: bool,
    acked: bool,
}

struct Sender<'a, R> {
    socket: &'a UdpSocket,
    peer: SocketAddr,
    id: u32,
    size: u64,
    chunk: u16,
    count: u32,
    window: u32,
    give_up: Duration,
    source: R,
    /// Chunks `base..next`, sent and not yet known to have arrived in order.
    slots: VecDeque<Slot>,
    /// Slots not yet acknowledged in any way (the "pipe" of RFC 6675).
    in_flight: u32,
    base: u32,
    next: u32,
    tx_counter: u64,
    highest_acked_tx: u64,
    rtt: RttEstimator,
    sent: u64,
    retransmissions: u64,
    last_heard: Instant,
    /// When the retransmission timer last (re)started.
    timer_start: Instant,
    buf: Vec<u8>,
    batched: bool,
    /// How datagrams go out (one per call, `sendmmsg`, segmentation offload).
    path: crate::batch::SendPath,
    /// Buffers of acknowledged slots, reused for new chunks.
    spare: Vec<Vec<u8>>,
    /// The socket's read timeout as last set (setting it is a system call).
    read_timeout: Option<Duration>,
    /// Room for [`INBOX`] received datagrams.
    inbox: Vec<u8>,
    got: Vec<crate::batch::Received>,
    /// Acknowledged byte counts after each ACK that moved them, for the
    /// progress lines (one receive call may take several ACKs).
    acked_marks: Vec<u64>,
    progress: ProgressLines,
}

/// Datagrams (ACKs) the sender takes in one receive call when batching.
const INBOX: usize = 16;
const INBOX_SLOT: usize = crate::protocol::MAX_DATAGRAM + 1;

/// Sends `list` in order on the connected `socket`, as few calls as the OS
/// allows; returns how many were sent. A datagram the OS refuses for want
/// of buffers (ENOBUFS and the like) counts as sent and lost, as on a
/// network: the retransmission rules deal with it.
fn send_list(
    socket: &UdpSocket,
    peer: SocketAddr,
    list: &[&[u8]],
    path: &mut crate::batch::SendPath,
) -> Result<u64, SendError> {
    let mut i = 0;
    while i < list.len() {
        match path.send(socket, &list[i..]) {
            Ok(n) => i += n.max(1),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Err(SendError::Refused(peer))
            }
            // The local send buffer is full: not sent; try again.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                log::debug!("send to {peer} failed: {}", io_cause(&e));
                i += 1;
            }
        }
    }
    Ok(list.len() as u64)
}

/// What the receiver's latest datagram means for the sender.
enum Event {
    Nothing,
    Accepted,
    Done,
}

impl<'a, R: Read> Sender<'a, R> {
    fn new(
        socket: &'a UdpSocket,
        peer: SocketAddr,
        size: u64,
        chunk: u16,
        count: u32,
        source: R,
        opts: &SendOptions,
    ) -> Sender<'a, R> {
        Sender {
            socket,
            peer,
            id: new_transfer_id(),
            size,
            chunk,
            count,
            window: opts.window.clamp(1, MAX_WINDOW),
            give_up: opts.give_up,
            source,
            slots: VecDeque::new(),
            in_flight: 0,
            base: 0,
            next: 0,
            tx_counter: 0,
            highest_acked_tx: 0,
            rtt: RttEstimator::new(),
            sent: 0,
            retransmissions: 0,
            last_heard: Instant::now(),
            timer_start: Instant::now(),
            buf: Vec::with_capacity(crate::protocol::MAX_DATAGRAM),
            batched: opts.batched,
            path: crate::batch::SendPath::new(
                socket,
                opts.batched,
                opts.offload,
                crate::protocol::HEADER_LEN + usize::from(chunk),
            ),
            spare: Vec::new(),
            read_timeout: None,
            inbox: vec![0u8; INBOX * INBOX_SLOT],
            got: Vec::new(),
            acked_marks: Vec::new(),
            progress: ProgressLines::new(size, opts.progress_step, chunk),
        }
    }

    fn run(&mut self, name: &str, out: &mut dyn Write) -> Result<(), SendError> {
        // Handshake: START until an ACK (or DONE for an empty file).
        let start = Datagram::new(
            self.id,
            Message::Start {
                size: self.size,
                chunk: self.chunk,
                name: name.to_string(),
            },
        );
        let mut rto = INITIAL_RTO;
        let mut first = true;
        let mut sent_at;
        loop {
            start.encode_into(&mut self.buf);
            self.send_buf()?;
            if !first {
                self.retransmissions += 1;
            }
            sent_at = Instant::now();
            let deadline = (sent_at + rto).min(self.last_heard + self.give_up);
            let mut event = Event::Nothing;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if left.is_zero() {
                    break;
                }
                event = self.receive(left)?;
                if !matches!(event, Event::Nothing) {
                    break;
                }
            }
            match event {
                Event::Done => {
                    self.progress.finish(out)?;
                    return Ok(());
                }
                Event::Accepted => {
                    if first {
                        self.rtt.sample(sent_at.elapsed());
                    }
                    break;
                }
                Event::Nothing => {}
            }
            self.check_give_up()?;
            first = false;
            rto = (rto * 2).min(MAX_RTO);
        }

        // Data: a sliding window with cumulative + selective acks.
        loop {
            self.fill_window()?;
            let left = (self.last_heard + self.give_up).saturating_duration_since(Instant::now());
            let wait = self.retransmit_expired()?.min(left);
            let event = self.receive(wait)?;
            for acked in self.acked_marks.drain(..) {
                self.progress.report(acked, out)?;
            }
            if let Event::Done = event {
                self.progress.finish(out)?;
                return Ok(());
            }
            self.check_give_up()?;
        }
    }

    fn check_give_up(&self) -> Result<(), SendError> {
        let waited = self.last_heard.elapsed();
        if waited >= self.give_up {
            return Err(SendError::NoAnswer {
                peer: self.peer,
                waited,
                acked: self.acked_bytes(),
            });
        }
        Ok(())
    }

    fn acked_bytes(&self) -> u64 {
        (u64::from(self.base) * u64::from(self.chunk)).min(self.size)
    }

    fn send_buf(&mut self) -> Result<(), SendError> {
        self.sent += send_list(self.socket, self.peer, &[&self.buf], &mut self.path)?;
        Ok(())
    }

    /// Sends new chunks while the window has room.
    fn fill_window(&mut self) -> Result<(), SendError> {
        // The window limits datagrams in flight, not the distance from the
        // oldest missing chunk: while a lost chunk is being resent, chunks
        // after it keep the ACKs coming (which also reveal a resent chunk
        // lost again). The receiver's buffer bounds the distance.
        let holes = self.slots.len() as u32 > self.in_flight; // chunks acked past a missing one
        if self.path.offloading() && self.in_flight > 0 && !holes {
            // New chunks wait until a quarter of the window (at most one
            // segmented send) is free, or the rest of the file fits: a run
            // of 63 costs the kernel about what a run of 2 does. Not while
            // chunks are missing: then every new chunk's ACK is news.
            let most = self.path.run_limit() as u32;
            let run = (self.window / 4).clamp(1, most);
            let room = self.window.saturating_sub(self.in_flight);
            if room < run.min(self.count - self.next) {
                return Ok(());
            }
        }
        let first_new = self.slots.len();
        while self.next < self.count
            && self.in_flight < self.window
            && self.next - self.base < MAX_WINDOW
        {
            let len = chunk_len(self.size, self.chunk, self.next);
            let mut bytes = self.spare.pop().unwrap_or_default();
            encode_data(self.id, self.next, &[], &mut bytes);
            bytes.resize(crate::protocol::HEADER_LEN + len, 0);
            self.source
                .read_exact(&mut bytes[crate::protocol::HEADER_LEN..])
                .map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        SendError::BadFile("the file got shorter while it was being sent".into())
                    } else {
                        SendError::Io(e)
                    }
                })?;
            if self.slots.is_empty() {
                self.timer_start = Instant::now(); // first chunk in flight
            }
            self.next += 1;
            self.tx_counter += 1;
            self.in_flight += 1;
            self.slots.push_back(Slot {
                bytes,
                tx: self.tx_counter,
                sent_at: Instant::now(),
                resent: false,
                probed: false,
                acked: false,
            });
        }
        let indices: Vec<usize> = (first_new..self.slots.len()).collect();
        self.transmit(&indices)
    }

    /// Sends the slots at `indices` (in one batch where the OS can).
    fn transmit(&mut self, indices: &[usize]) -> Result<(), SendError> {
        if indices.is_empty() {
            return Ok(());
        }
        let list: Vec<&[u8]> = indices.iter().map(|&i| &self.slots[i].bytes[..]).collect();
        self.sent += send_list(self.socket, self.peer, &list, &mut self.path)?;
        Ok(())
    }

    /// Sends the slots at `indices` again: found lost, or (`probe`) as the
    /// timer's probe.
    fn retransmit(&mut self, indices: &[usize], probe: bool) -> Result<(), SendError> {
        let now = Instant::now();
        for &index in indices {
            self.tx_counter += 1;
            let slot = &mut self.slots[index];
            slot.tx = self.tx_counter;
            slot.sent_at = now;
            slot.resent = true;
            slot.probed |= probe;
            self.retransmissions += 1;
        }
        self.transmit(indices)
    }

    /// The retransmission timer (one for the whole window, as in TCP): it
    /// runs while chunks are unacknowledged and restarts whenever an ACK
    /// brings news. When it runs out ([`RttEstimator::timer`]), the first
    /// unacknowledged chunk is sent again as a probe and the timeout
    /// doubles. Only the probe: if the
    /// receiver was merely slow (a busy machine), resending the whole window
    /// would pile duplicates onto a queue that is already long. Its ACK
    /// makes room in the window for new chunks, and their ACKs show what
    /// else is missing (the early-retransmission rule in
    /// [`Sender::on_ack`]). Returns how long until the timer runs out.
    fn retransmit_expired(&mut self) -> Result<Duration, SendError> {
        let timer = self.rtt.timer();
        let Some(first) = self.slots.iter().position(|s| !s.acked) else {
            return Ok(timer); // nothing in flight
        };
        let now = Instant::now();
        let deadline = self.timer_start + timer;
        if now < deadline {
            return Ok((deadline - now).max(Duration::from_millis(1)));
        }
        self.retransmit(&[first], true)?;
        // A timeout means the estimate was too low or the path got worse:
        // back off (RFC 6298 5.5) until the path delivers again.
        self.rtt.back_off();
        self.timer_start = Instant::now();
        Ok(self.rtt.timer())
    }

    /// Waits up to `wait` for datagrams from the receiver (with batching:
    /// every one already queued, up to [`INBOX`]) and acts on them.
    fn receive(&mut self, wait: Duration) -> Result<Event, SendError> {
        // Whole milliseconds, so the timeout changes (a system call) rarely.
        let wait = Duration::from_millis(wait.as_millis().clamp(1, 60_000) as u64);
        if self.read_timeout != Some(wait) {
            self.socket.set_read_timeout(Some(wait))?;
            self.read_timeout = Some(wait);
        }
        let slots = if self.batched { INBOX } else { 1 };
        let mut inbox = std::mem::take(&mut self.inbox);
        let mut got = std::mem::take(&mut self.got);
        let received = crate::batch::recv(
            self.socket,
            &mut inbox[..slots * INBOX_SLOT],
            INBOX_SLOT,
            &mut got,
            self.batched,
        );
        let mut result = match received {
            Ok(()) => Ok(Event::Nothing),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                got.clear();
                Ok(Event::Nothing)
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                got.clear();
                Err(SendError::Refused(self.peer))
            }
            Err(e) => {
                got.clear();
                Err(SendError::Io(e))
            }
        };
        for d in &got {
            let bytes = &inbox[d.start..d.start + d.len];
            match self.on_datagram(bytes) {
                Ok(Event::Nothing) => {}
                Ok(Event::Accepted) => {
                    if matches!(result, Ok(Event::Nothing)) {
                        result = Ok(Event::Accepted);
                    }
                }
                other => {
                    result = other;
                    break;
                }
            }
        }
        self.inbox = inbox;
        self.got = got;
        result
    }

    /// Acts on one datagram from the receiver.
    fn on_datagram(&mut self, bytes: &[u8]) -> Result<Event, SendError> {
        let d = match Datagram::decode(bytes) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("ignoring a datagram from {}: {e}", self.peer);
                return Ok(Event::Nothing);
            }
        };
        if d.id != self.id {
            log::debug!("ignoring a datagram of another transfer ({:08x})", d.id);
            return Ok(Event::Nothing);
        }
        self.last_heard = Instant::now();
        match d.msg {
            Message::Ack { cumulative, sack } => {
                self.on_ack(cumulative, &sack)?;
                Ok(Event::Accepted)
            }
            Message::Done { count } if count == self.count => {
                self.base = self.count;
                self.slots.clear();
                Ok(Event::Done)
            }
            Message::Done { count } => Err(SendError::Rejected(format!(
                "receiver says DONE after {count} datagrams, but the file has {}",
                self.count
            ))),
            Message::Error { reason } => Err(SendError::Rejected(reason)),
            Message::Start { .. } | Message::Data { .. } => Ok(Event::Nothing),
        }
    }

    fn on_ack(&mut self, cumulative: u32, sack: &[u8]) -> Result<(), SendError> {
        if cumulative > self.next {
            log::warn!("ack for chunk {cumulative} that was never sent; ignored");
            return Ok(());
        }
        let now = Instant::now();
        let base_before = self.base;
        let mut sacked_new = false;
        // Everything below `cumulative` arrived.
        while self.base < cumulative {
            let slot = self
                .slots
                .pop_front()
                .expect("slot for every chunk in flight");
            self.base += 1;
            if !slot.acked {
                self.in_flight -= 1;
            }
            self.note_acked(&slot, now);
            self.spare.push(slot.bytes);
        }
        // Selective acks: chunk cumulative+1+i for each set bit i.
        for i in 0..sack.len() * 8 {
            if !sack_bit(sack, i) {
                continue;
            }
            let seq = u64::from(cumulative) + 1 + i as u64;
            if seq < u64::from(self.base) || seq >= u64::from(self.next) {
                continue;
            }
            let index = (seq - u64::from(self.base)) as usize;
            let slot = &mut self.slots[index];
            if slot.acked {
                continue;
            }
            slot.acked = true;
            self.in_flight -= 1;
            let (tx, sent_at, resent, probed) = (slot.tx, slot.sent_at, slot.resent, slot.probed);
            self.note_delivered(tx, sent_at, resent, probed, now);
            sacked_new = true;
        }
        if self.base != base_before {
            self.acked_marks.push(self.acked_bytes());
        }
        if self.base != base_before || sacked_new {
            // The path delivers again: stop backing off even if every chunk
            // acknowledged was a retransmission (no RTT sample from those).
            self.rtt.reset_backoff();
            self.timer_start = now;
        }
        // Early retransmission: a chunk sent well before one that has
        // arrived is lost (a late one would have beaten the ones after it).
        let lost: Vec<usize> = (0..self.slots.len())
            .filter(|&i| {
                let slot = &self.slots[i];
                !slot.acked && slot.tx + REORDER_THRESHOLD <= self.highest_acked_tx
            })
            .collect();
        self.retransmit(&lost, false)
    }

    fn note_acked(&mut self, slot: &Slot, now: Instant) {
        if !slot.acked {
            self.note_delivered(slot.tx, slot.sent_at, slot.resent, slot.probed, now);
        }
    }

    /// A chunk has arrived. If it was sent only once, its round trip is a
    /// sample and its transmission order tells which older ones are lost.
    /// If it was sent twice, the ACK may be for either copy (Karn's
    /// ambiguity): it is no round-trip sample. It tells which older ones
    /// are lost only if it cannot be the first copy's: that copy was lost
    /// (three later ones arrived before it; a probe of the timer proves
    /// nothing, the first copy may have been only late), and the ACK came
    /// at least the shortest round trip and half the usual one after the
    /// second copy left. Taken for the newer copy, an ACK for the older
    /// one would declare every chunk sent in between lost: on a busy
    /// machine that is a whole window sent again for nothing, which
    /// overflows the queues and makes real losses, and so on.
    fn note_delivered(
        &mut self,
        tx: u64,
        sent_at: Instant,
        resent: bool,
        probed: bool,
        now: Instant,
    ) {
        let rtt = now - sent_at;
        if !resent {
            self.highest_acked_tx = self.highest_acked_tx.max(tx);
            self.rtt.sample(rtt);
        } else if !probed && rtt >= self.rtt.plausible_round_trip() {
            // Without this, a retransmission lost again would be found
            // only by the timer.
            self.highest_acked_tx = self.highest_acked_tx.max(tx);
        }
    }
}

/// Round-trip time estimate and retransmission timeout as in RFC 6298.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    min_rtt: Option<Duration>,
    rttvar: Duration,
    backoff: u32,
}

impl RttEstimator {
    /// No samples yet: the timeout is [`INITIAL_RTO`].
    pub fn new() -> RttEstimator {
        RttEstimator {
            srtt: None,
            min_rtt: None,
            rttvar: Duration::ZERO,
            backoff: 0,
        }
    }

    /// Adds one measured round trip (of a datagram sent only once).
    pub fn sample(&mut self, rtt: Duration) {
        self.backoff = 0;
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                self.rttvar = self.rttvar * 3 / 4 + diff / 4;
                self.srtt = Some(srtt * 7 / 8 + rtt / 8);
            }
        }
    }

    /// The shortest round trip measured.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// The least time in which a datagram sent now can be acknowledged:
    /// the shortest round trip measured, and at least half the smoothed
    /// one (queues may have grown since the shortest); `Duration::MAX`
    /// before any sample.
    pub fn plausible_round_trip(&self) -> Duration {
        match (self.min_rtt, self.srtt) {
            (Some(min), Some(srtt)) => min.max(srtt / 2),
            _ => Duration::MAX,
        }
    }

    /// Doubles the timeout until the next sample.
    pub fn back_off(&mut self) {
        self.backoff = (self.backoff + 1).min(8);
    }

    /// Undoes [`RttEstimator::back_off`]: new data got through.
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// How long the retransmission timer runs. Until a first timeout: two
    /// round trips (at least [`MIN_PROBE`]), a probe for the case where the
    /// last datagrams or their ACK were lost and nothing else would tell
    /// (RFC 8985's tail loss probe; a needless probe costs one datagram).
    /// After it, [`RttEstimator::rto`], doubling each time.
    pub fn timer(&self) -> Duration {
        match self.srtt {
            Some(srtt) if self.backoff == 0 => (srtt * 2).max(MIN_PROBE).min(self.rto()),
            _ => self.rto(),
        }
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        let base = match self.srtt {
            None => INITIAL_RTO,
            Some(srtt) => srtt + (self.rttvar * 4).max(Duration::from_millis(1)),
        };
        (base.max(MIN_RTO) * (1 << self.backoff)).min(MAX_RTO)
    }
}

impl Default for RttEstimator {
    fn default() -> Self {
        RttEstimator::new()
    }
}

/// Prints `terkirim X of Y` as the acknowledged bytes pass each step.
struct ProgressLines {
    total: u64,
    step: u64,
    next_mark: u64,
    last_printed: Option<u64>,
}

impl ProgressLines {
    fn new(total: u64, share: f64, chunk: u16) -> ProgressLines {
        let step = ((total as f64 * share.clamp(0.0, 1.0)) as u64).max(u64::from(chunk));
        ProgressLines {
            total,
            step,
            next_mark: step.min(total),
            last_printed: None,
        }
    }

    fn report(&mut self, acked: u64, out: &mut dyn Write) -> io::Result<()> {
        if acked >= self.next_mark && acked < self.total && self.last_printed != Some(acked) {
            writeln!(out, "terkirim {acked} of {}", self.total)?;
            self.last_printed = Some(acked);
            while self.next_mark <= acked {
                self.next_mark += self.step;
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "terkirim {} of {}", self.total, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rto_follows_samples_and_backs_off() {
        let mut r = RttEstimator::new();
        assert_eq!(r.rto(), INITIAL_RTO);
        r.sample(Duration::from_millis(100));
        // srtt 100 + 4 * 50 = 300 ms
        assert_eq!(r.rto(), Duration::from_millis(300));
        r.back_off();
        assert_eq!(r.rto(), Duration::from_millis(600));
        r.sample(Duration::from_micros(50));
        assert!(r.rto() >= MIN_RTO);
        for _ in 0..20 {
            r.back_off();
        }
        assert_eq!(r.rto(), MAX_RTO);
    }

    #[test]
    fn timer_probes_after_two_round_trips_then_backs_off() {
        let mut r = RttEstimator::new();
        assert_eq!(r.timer(), INITIAL_RTO, "no sample yet");
        r.sample(Duration::from_millis(10));
        // srtt 10: a probe after 20 ms, before the RFC 6298 timeout (30 ms).
        assert_eq!(r.timer(), Duration::from_millis(20));
        assert_eq!(r.rto(), Duration::from_millis(30));
        r.back_off();
        assert_eq!(
            r.timer(),
            Duration::from_millis(60),
            "after a probe: rto, doubled"
        );
        r.reset_backoff();
        r.sample(Duration::from_micros(50));
        assert!(r.timer() >= MIN_PROBE);
        assert!(r.timer() <= r.rto());
    }

    /// A sender of `chunks` 1024-byte chunks to a socket that never answers
    /// (the test plays the receiver by calling `on_ack`).
    fn sender_to_nowhere<'a>(
        socket: &'a UdpSocket,
        data: &'a [u8],
        window: u32,
    ) -> Sender<'a, &'a [u8]> {
        let opts = SendOptions {
            window,
            batched: false,
            ..SendOptions::default()
        };
        let size = data.len() as u64;
        let count = chunk_count(size, 1024).unwrap();
        Sender::new(
            socket,
            socket.peer_addr().unwrap(),
            size,
            1024,
            count,
            data,
            &opts,
        )
    }

    /// An ACK bitmap for chunks `cumulative + 1 ..` with the given ones set.
    fn sack(cumulative: u32, have: &[u32]) -> Vec<u8> {
        let mut bits = vec![0u8; 4];
        for &seq in have {
            let i = (seq - cumulative - 1) as usize;
            bits[i / 8] |= 1 << (i % 8);
        }
        bits
    }

    #[test]
    fn a_retransmission_lost_again_is_found_by_later_retransmissions() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect_socket(sink.local_addr().unwrap()).unwrap();
        let data = vec![7u8; 16 * 1024];
        let mut s = sender_to_nowhere(&socket, &data, 16);
        s.fill_window().unwrap();
        assert_eq!(s.next, 16);
        // Chunks 2, 5, 6 and 7 lost: the ACK shows 8..15 arrived after them.
        let have: Vec<u32> = [3, 4].into_iter().chain(8..16).collect();
        s.on_ack(2, &sack(2, &have)).unwrap();
        assert_eq!(s.retransmissions, 4, "2, 5, 6, 7 sent again");
        // Their round trips take a while (as on a real path).
        for slot in s.slots.iter_mut().filter(|slot| slot.resent) {
            slot.sent_at -= Duration::from_millis(5);
        }
        // 5, 6 and 7 arrive the second time; 2 (sent again first) does not.
        let have: Vec<u32> = (3..16).collect();
        s.on_ack(2, &sack(2, &have)).unwrap();
        assert_eq!(
            s.retransmissions, 5,
            "three retransmissions sent after chunk 2's arrived and it did not: sent a third time at once"
        );
        assert!(s.slots[0].resent && !s.slots[0].acked);
    }

    #[test]
    fn the_ack_of_a_probed_chunk_shows_nothing_lost() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect_socket(sink.local_addr().unwrap()).unwrap();
        let data = vec![7u8; 16 * 1024];
        let mut s = sender_to_nowhere(&socket, &data, 16);
        s.fill_window().unwrap();
        // The receiver is slow (a busy machine): the timer sends chunk 0
        // again; then chunk 0's first copy arrives, a while later.
        s.retransmit(&[0], true).unwrap();
        assert_eq!(s.retransmissions, 1);
        for slot in s.slots.iter_mut() {
            slot.sent_at -= Duration::from_millis(5);
        }
        s.rtt.sample(Duration::from_micros(100));
        s.on_ack(1, &[]).unwrap();
        assert_eq!(
            s.retransmissions, 1,
            "chunks 1..15 are still on their way, not lost"
        );
    }

    #[test]
    fn an_ack_too_quick_for_the_retransmission_is_no_evidence() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect_socket(sink.local_addr().unwrap()).unwrap();
        let data = vec![7u8; 16 * 1024];
        let mut s = sender_to_nowhere(&socket, &data, 16);
        s.fill_window().unwrap();
        for slot in s.slots.iter_mut() {
            slot.sent_at -= Duration::from_millis(5); // round trips of 5 ms
        }
        let have: Vec<u32> = [3, 4].into_iter().chain(8..16).collect();
        s.on_ack(2, &sack(2, &have)).unwrap();
        assert_eq!(s.retransmissions, 4);
        // An ACK right after the retransmissions left: it is for the first
        // copies of 5, 6 and 7 (late, not lost), so 2's retransmission is
        // not declared lost.
        let have: Vec<u32> = (3..16).collect();
        s.on_ack(2, &sack(2, &have)).unwrap();
        assert_eq!(s.retransmissions, 4);
    }

    #[test]
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    fn with_offload_new_chunks_wait_until_a_whole_run_fits() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect_socket(sink.local_addr().unwrap()).unwrap();
        let data = vec![7u8; 700 * 1024];
        let size = data.len() as u64;
        let opts = SendOptions {
            offload: true,
            ..SendOptions::default() // window 512, batched
        };
        let mut s = Sender::new(
            &socket,
            sink.local_addr().unwrap(),
            size,
            1024,
            700,
            &data[..],
            &opts,
        );
        assert!(s.path.offloading());
        s.fill_window().unwrap();
        assert_eq!(s.next, 512);
        s.on_ack(10, &[]).unwrap();
        s.fill_window().unwrap();
        assert_eq!(s.next, 512, "room for 10: a run of 63 does not fit yet");
        s.on_ack(63, &[]).unwrap();
        s.fill_window().unwrap();
        assert_eq!(s.next, 512 + 63);
        s.on_ack(126, &[]).unwrap();
        s.fill_window().unwrap();
        assert_eq!(s.next, 638, "62 chunks left");
        s.on_ack(187, &[]).unwrap();
        s.fill_window().unwrap();
        assert_eq!(s.next, 638, "room for 61 of them");
        s.on_ack(188, &[]).unwrap();
        s.fill_window().unwrap();
        assert_eq!(s.next, 700, "the rest of the file fits: sent");
    }

    #[test]
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    fn with_offload_new_chunks_go_at_once_while_one_is_missing() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect_socket(sink.local_addr().unwrap()).unwrap();
        let data = vec![7u8; 700 * 1024];
        let size = data.len() as u64;
        let opts = SendOptions {
            offload: true,
            ..SendOptions::default()
        };
        let peer = sink.local_addr().unwrap();
        let mut s = Sender::new(&socket, peer, size, 1024, 700, &data[..], &opts);
        s.fill_window().unwrap();
        // Chunks 0..10 and 11 arrived, 10 did not (yet).
        s.on_ack(10, &sack(10, &[11])).unwrap();
        s.fill_window().unwrap();
        assert_eq!(s.next, 512 + 11, "every free slot used at once");
    }

    #[test]
    fn progress_lines_every_tenth() {
        let mut p = ProgressLines::new(10_240, 0.1, 1024);
        let mut out = Vec::new();
        for acked in (0..=10_240).step_by(512) {
            p.report(acked, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10, "{text}");
        assert_eq!(lines[0], "terkirim 1024 of 10240");
        assert_eq!(lines[9], "terkirim 10240 of 10240");
    }

    #[test]
    fn transfer_ids_differ() {
        let a = new_transfer_id();
        let b = new_transfer_id();
        assert_ne!(a, 0);
        assert_ne!(a, b);
    }
}
