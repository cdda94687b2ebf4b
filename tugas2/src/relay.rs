//! A bad network on purpose: a UDP relay that drops, duplicates and
//! reorders a fixed share of the datagrams passing through it.
//!
//! The sender talks to the relay's address; the relay forwards to the
//! receiver (`upstream`) and the answers back to the sender. Decisions come
//! from a seeded pseudo-random generator, one per direction, so a run with
//! the same seed makes the same decisions for the same datagram sequence.
//! Used by the tests and the benchmark; it has no binary of its own.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a datagram held back for reordering waits for a later one to
/// overtake it before it is sent anyway.
pub const HOLD_LIMIT: Duration = Duration::from_millis(5);

/// What the relay does to each direction's datagrams, in percent (0..=100).
#[derive(Debug, Clone, Copy, Default)]
pub struct LossConfig {
    /// Share dropped.
    pub drop_percent: u32,
    /// Share of the forwarded ones sent twice.
    pub duplicate_percent: u32,
    /// Share of the forwarded ones held back and sent after the next one.
    pub reorder_percent: u32,
    /// Seed of the pseudo-random decisions.
    pub seed: u64,
}

/// Counts of what the relay did (both directions together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams received by the relay.
    pub received: u64,
    /// Dropped on purpose.
    pub dropped: u64,
    /// Of those, dropped on the way to `upstream` (the sender's START and
    /// DATA; the rest are the receiver's answers).
    pub dropped_upstream: u64,
    /// Sent a second time.
    pub duplicated: u64,
    /// Sent after a datagram that arrived later.
    pub reordered: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
    dropped_upstream: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
}

/// A running relay; dropping it stops the relay thread.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Binds `127.0.0.1:0` and relays between whoever sends to it and `upstream`.
    ///
    /// # Errors
    /// If the socket cannot be bound or the thread cannot start.
    pub fn spawn(upstream: SocketAddr, cfg: LossConfig) -> io::Result<Relay> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(HOLD_LIMIT))?;
        crate::enlarge_buffers(&socket);
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let thread = {
            let stop = Arc::clone(&stop);
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name(format!("relay {addr}"))
                .spawn(move || run(socket, upstream, cfg, &stop, &counters))?
        };
        Ok(Relay {
            addr,
            stop,
            counters,
            thread: Some(thread),
        })
    }

    /// The address senders should use instead of the receiver's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the relay has done so far.
    pub fn stats(&self) -> RelayStats {
        let c = &self.counters;
        RelayStats {
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            dropped_upstream: c.dropped_upstream.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
            reordered: c.reordered.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// SplitMix64: a small, well-mixed, seedable generator (enough for tests).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.next_u64() % 100 < u64::from(percent)
    }
}

struct Direction {
    rng: SplitMix64,
    held: Option<(Vec<u8>, Instant)>,
}

fn run(
    socket: UdpSocket,
    upstream: SocketAddr,
    cfg: LossConfig,
    stop: &AtomicBool,
    counters: &Counters,
) {
    let mut client: Option<SocketAddr> = None;
    // Index 0: client -> upstream; 1: upstream -> client.
    let mut dirs = [
        Direction {
            rng: SplitMix64::new(cfg.seed),
            held: None,
        },
        Direction {
            rng: SplitMix64::new(cfg.seed ^ 0x5555_5555_5555_5555),
            held: None,
        },
    ];
    let mut buf = vec![0u8; 65536];
    let send = |data: &[u8], to: SocketAddr| {
        let _ = socket.send_to(data, to);
    };
    while !stop.load(Ordering::Relaxed) {
        let received = socket.recv_from(&mut buf);
        // Release held datagrams that waited long enough.
        for (i, d) in dirs.iter_mut().enumerate() {
            if d.held
                .as_ref()
                .is_some_and(|(_, t)| t.elapsed() >= HOLD_LIMIT)
            {
                let (data, _) = d.held.take().expect("checked");
                let to = if i == 0 { Some(upstream) } else { client };
                if let Some(to) = to {
                    send(&data, to);
                }
            }
        }
        let (n, from) = match received {
            Ok(pair) => pair,
            Err(_) => continue, // timeout, or an ICMP error from one side
        };
        let (i, to) = if from == upstream {
            match client {
                Some(c) => (1, c),
                None => continue,
            }
        } else {
            client = Some(from);
            (0, upstream)
        };
        counters.received.fetch_add(1, Ordering::Relaxed);
        let d = &mut dirs[i];
        if d.rng.chance(cfg.drop_percent) {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            if i == 0 {
                counters.dropped_upstream.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let data = &buf[..n];
        if d.held.is_none() && d.rng.chance(cfg.reorder_percent) {
            d.held = Some((data.to_vec(), Instant::now()));
            continue;
        }
        send(data, to);
        if d.rng.chance(cfg.duplicate_percent) {
            counters.duplicated.fetch_add(1, Ordering::Relaxed);
            send(data, to);
        }
        if let Some((held, _)) = d.held.take() {
            counters.reordered.fetch_add(1, Ordering::Relaxed);
            send(&held, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_fair() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut g = SplitMix64::new(1);
        let hits = (0..10_000).filter(|_| g.chance(10)).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}
