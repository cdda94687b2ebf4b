//! A small load generator for the `bench` program: several client threads,
//! each on its own connection, send requests for a fixed time and record
//! each request's latency.
//!
//! Three workloads are measured in the same run so they can be compared:
//! the form POST on a kept-alive connection (what this server is for), a
//! GET of a small static file on a kept-alive connection (the reference),
//! and the form POST with a new connection for every request (what a
//! client without keep-alive pays).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Most latencies kept per client thread (bounds memory on a fast machine).
pub const MAX_SAMPLES: usize = 1_000_000;

/// What the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `POST /sending.html` with `kirim=ISILAH`, keep-alive.
    PostKeepAlive,
    /// `GET /teks.txt`, keep-alive.
    GetKeepAlive,
    /// `POST /sending.html`, a new connection per request.
    PostNewConnection,
}

impl Workload {
    /// A short name for the table.
    pub fn name(self) -> &'static str {
        match self {
            Workload::PostKeepAlive => "POST keep-alive",
            Workload::GetKeepAlive => "GET teks.txt keep-alive",
            Workload::PostNewConnection => "POST new connection",
        }
    }

    fn request(self) -> &'static [u8] {
        match self {
            Workload::GetKeepAlive => b"GET /teks.txt HTTP/1.1\r\nHost: bench\r\n\r\n",
            Workload::PostKeepAlive => b"POST /sending.html HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\n\r\nkirim=ISILAH",
            Workload::PostNewConnection => b"POST /sending.html HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\nConnection: close\r\n\r\nkirim=ISILAH",
        }
    }
}

/// The result of one measurement.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests that failed (error, or a status other than 200).
    pub failed: u64,
    /// Wall time of the measurement.
    pub elapsed: Duration,
    /// Every latency, sorted.
    pub latencies: Vec<Duration>,
}

impl Measurement {
    /// Answered requests per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at quantile `q` (0.5 = median, 0.99 = p99).
    pub fn latency(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i]
    }
}

/// Runs `clients` threads against `addr` for `duration`.
pub fn measure(
    addr: SocketAddr,
    workload: Workload,
    clients: usize,
    duration: Duration,
) -> Measurement {
    let start = Instant::now();
    let end = start + duration;
    let handles: Vec<_> = (0..clients)
        .map(|_| thread::spawn(move || client(addr, workload, end)))
        .collect();
    let mut ok = 0;
    let mut failed = 0;
    let mut latencies = Vec::new();
    for h in handles {
        let (o, f, l) = h.join().expect("bench client thread panicked");
        ok += o;
        failed += f;
        latencies.extend(l);
    }
    latencies.sort_unstable();
    Measurement {
        ok,
        failed,
        elapsed: start.elapsed(),
        latencies,
    }
}

/// One client: requests until `end`; returns (ok, failed, latencies).
fn client(addr: SocketAddr, workload: Workload, end: Instant) -> (u64, u64, Vec<Duration>) {
    let request = workload.request();
    let mut ok = 0;
    let mut failed = 0;
    let mut latencies = Vec::new();
    let mut conn: Option<BufReader<TcpStream>> = None;
    while Instant::now() < end {
        let t = Instant::now();
        let result = (|| -> io::Result<u16> {
            if conn.is_none() {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                conn = Some(BufReader::new(s));
            }
            let c = conn.as_mut().expect("connected above");
            c.get_mut().write_all(request)?;
            read_response(c)
        })();
        match result {
            Ok(200) => {
                ok += 1;
                if latencies.len() < MAX_SAMPLES {
                    latencies.push(t.elapsed());
                }
            }
            _ => {
                failed += 1;
                conn = None;
            }
        }
        if workload == Workload::PostNewConnection {
            conn = None;
        }
    }
    (ok, failed, latencies)
}

/// Reads one response (head and a Content-Length body); returns the status.
fn read_response<R: BufRead>(r: &mut R) -> io::Result<u16> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut length = None;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("Content-Length: ") {
            length = v.parse::<u64>().ok();
        }
    }
    let length = length.ok_or_else(|| bad("no Content-Length"))?;
    let copied = io::copy(&mut r.take(length), &mut io::sink())?;
    if copied != length {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let m = Measurement {
            ok: 4,
            failed: 0,
            elapsed: Duration::from_secs(2),
            latencies: [1, 2, 3, 100].map(Duration::from_millis).to_vec(),
        };
        assert_eq!(m.per_second(), 2.0);
        assert_eq!(m.latency(0.0), Duration::from_millis(1));
        assert_eq!(m.latency(1.0), Duration::from_millis(100));
        assert_eq!(m.latency(0.5), Duration::from_millis(3)); // index round(1.5) = 2
    }

    #[test]
    fn response_reader_needs_the_whole_body() {
        let mut ok = &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"[..];
        assert_eq!(read_response(&mut ok).unwrap(), 200);
        assert_eq!(read_response(&mut ok).unwrap(), 404);
        let mut short = &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"[..];
        assert!(read_response(&mut short).is_err());
    }
}
