//! What the `bench` program measures with: ApacheBench (`ab`) runs and
//! their reports ([`run_ab`], [`parse_ab_report`]), the burst probe
//! ([`burst_latency`]), and a small load generator of its own
//! ([`measure`], `--tool builtin`).
//!
//! The load generator: several client threads, each on its own
//! connection, send requests for a fixed time and record each request's
//! latency. Three workloads are measured in the same run so they can be
//! compared:
//! the form POST on a kept-alive connection (what this server is for), a
//! GET of a small static file on a kept-alive connection (the reference),
//! and the form POST with a new connection for every request (what a
//! client without keep-alive pays).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The figures the bench takes from one ab report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbReport {
    /// "Complete requests".
    pub complete: u64,
    /// "Failed requests".
    pub failed: u64,
    /// "Non-2xx responses" (0 when ab prints no such line).
    pub non_2xx: u64,
    /// "Requests per second".
    pub requests_per_sec: f64,
    /// 99% of the requests were served within this many milliseconds.
    pub p99_ms: f64,
}

/// Reads the figures out of ab's text report.
///
/// # Errors
/// A message naming the first missing line (ab stopped early).
pub fn parse_ab_report(text: &str) -> Result<AbReport, String> {
    let field = |label: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let need = |label: &str| field(label).ok_or(format!("ab's report has no \"{label}\" line"));
    Ok(AbReport {
        complete: need("Complete requests:")? as u64,
        failed: need("Failed requests:")? as u64,
        non_2xx: field("Non-2xx responses:").unwrap_or(0.0) as u64,
        requests_per_sec: need("Requests per second:")?,
        p99_ms: need("99%")?,
    })
}

/// Runs `ab -r -q -n requests -c concurrency [-k] url`, with
/// `-p post -T application/x-www-form-urlencoded` for a POST of the
/// file `post`, and reads its report. Start the program with an
/// open-files limit above `concurrency` (`ulimit -n 20000`): ab inherits it.
///
/// # Errors
/// A message when ab cannot start (not installed: Debian/Ubuntu
/// `apt-get install apache2-utils`), fails, or prints no report.
pub fn run_ab(
    url: &str,
    requests: u64,
    concurrency: u64,
    keep_alive: bool,
    post: Option<&Path>,
) -> Result<AbReport, String> {
    let mut cmd = Command::new("ab");
    cmd.args(["-r", "-q", "-s", "30", "-n", &requests.to_string()])
        .args(["-c", &concurrency.to_string()]);
    if keep_alive {
        cmd.arg("-k");
    }
    if let Some(file) = post {
        cmd.arg("-p")
            .arg(file)
            .args(["-T", "application/x-www-form-urlencoded"]);
    }
    cmd.arg(url);
    let what = format!(
        "ab -n {requests} -c {concurrency}{} {url}",
        if keep_alive { " -k" } else { "" }
    );
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run {what}: {} (ab: Debian/Ubuntu apt-get install apache2-utils)",
            common::error::io_cause(&e)
        )
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(format!(
            "{what}: ab failed ({}): {}",
            out.status,
            last.unwrap_or("").trim()
        ));
    }
    parse_ab_report(&String::from_utf8_lossy(&out.stdout)).map_err(|e| format!("{what}: {e}"))
}

pub use common::bench::burst_latency;

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

/// What the ab table loads: a GET of a static file (on every server) or
/// the form POST (on this server only: nginx answers a POST to a file
/// with 405).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbWorkload {
    /// `GET /sending.html` (1164 bytes).
    Get,
    /// `POST /sending.html` with `kirim=ISILAH`.
    Post,
}

/// One row of the ab table.
#[derive(Debug, Clone, PartialEq)]
pub struct AbRow {
    /// Which server.
    pub target: String,
    /// GET or POST.
    pub workload: AbWorkload,
    /// ab -k.
    pub keep_alive: bool,
    /// ab -c.
    pub concurrency: u64,
    /// Median requests/s.
    pub requests_per_sec: f64,
    /// Median p99 (ms).
    pub p99_ms: f64,
    /// Failed requests, all runs.
    pub failed: u64,
    /// Non-2xx answers, all runs.
    pub non_2xx: u64,
}

/// The median (mean of the middle two for an even count); 0 when empty.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Runs ab `runs` times per setting against each target (name, base URL
/// ending in `/`), taking turns within each round so load from elsewhere
/// hits all alike; GET of `sending.html` on every target, and the POST on
/// the first (this server) only. Prints each run on stderr.
///
/// # Errors
/// The first ab failure.
pub fn ab_table(
    targets: &[(String, String)],
    requests: u64,
    levels: &[u64],
    runs: usize,
    post_file: &Path,
) -> Result<Vec<AbRow>, String> {
    let mut rows = Vec::new();
    for keep_alive in [false, true] {
        for &c in levels {
            let mut settings: Vec<(usize, AbWorkload)> =
                (0..targets.len()).map(|t| (t, AbWorkload::Get)).collect();
            settings.push((0, AbWorkload::Post));
            let mut reports: Vec<Vec<AbReport>> = vec![Vec::new(); settings.len()];
            for round in 0..runs {
                for (i, &(t, workload)) in settings.iter().enumerate() {
                    let (name, base) = &targets[t];
                    let url = format!("{base}sending.html");
                    let post = (workload == AbWorkload::Post).then_some(post_file);
                    let r = run_ab(&url, requests, c, keep_alive, post)?;
                    eprintln!(
                        "  {name:<8} {:<4} -c {c:<5}{} run {}: {:>8.0} requests/s, {} failed",
                        if post.is_some() { "POST" } else { "GET" },
                        if keep_alive { " -k" } else { "   " },
                        round + 1,
                        r.requests_per_sec,
                        r.failed
                    );
                    reports[i].push(r);
                }
            }
            for (&(t, workload), runs) in settings.iter().zip(&reports) {
                rows.push(AbRow {
                    target: targets[t].0.clone(),
                    workload,
                    keep_alive,
                    concurrency: c,
                    requests_per_sec: median(runs.iter().map(|r| r.requests_per_sec)),
                    p99_ms: median(runs.iter().map(|r| r.p99_ms)),
                    failed: runs.iter().map(|r| r.failed).sum(),
                    non_2xx: runs.iter().map(|r| r.non_2xx).sum(),
                });
            }
        }
    }
    Ok(rows)
}

/// The ab rows as a table; each GET row also as a share of this server's
/// GET at the same setting (the first target's).
pub fn ab_table_text(rows: &[AbRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<18} {:>10} {:>6} {:>11} {:>7} {:>7} {:>8} {:>9}",
        "server",
        "request",
        "keep-alive",
        "-c",
        "requests/s",
        "p99 ms",
        "failed",
        "non-2xx",
        "vs first"
    );
    for row in rows {
        let first = rows.iter().find(|r| {
            r.workload == AbWorkload::Get
                && r.keep_alive == row.keep_alive
                && r.concurrency == row.concurrency
        });
        let share = match first {
            Some(f) if row.workload == AbWorkload::Get && f.requests_per_sec > 0.0 => {
                format!("{:.0}%", 100.0 * row.requests_per_sec / f.requests_per_sec)
            }
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<10} {:<18} {:>10} {:>6} {:>11.0} {:>7.0} {:>7} {:>8} {:>9}",
            row.target,
            match row.workload {
                AbWorkload::Get => "GET sending.html",
                AbWorkload::Post => "POST sending.html",
            },
            if row.keep_alive { "yes (-k)" } else { "no" },
            row.concurrency,
            row.requests_per_sec,
            row.p99_ms,
            row.failed,
            row.non_2xx,
            share
        );
    }
    out
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
    fn reads_abs_figures() {
        let report = "Complete requests:      1000\nFailed requests:        3\n\
            Non-2xx responses:      7\nRequests per second:    12345.67 [#/sec] (mean)\n\
            Time per request:       0.810 [ms] (mean)\n  50%      1\n  99%      3\n";
        let r = parse_ab_report(report).unwrap();
        assert_eq!(
            r,
            AbReport {
                complete: 1000,
                failed: 3,
                non_2xx: 7,
                requests_per_sec: 12345.67,
                p99_ms: 3.0
            }
        );
        let cut = &report[..report.find("Requests per").unwrap()];
        assert_eq!(
            parse_ab_report(cut).unwrap_err(),
            "ab's report has no \"Requests per second:\" line"
        );
    }

    #[test]
    fn burst_probe_times_a_real_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // A server that answers the first connection with data and holds
        // the rest: the probe's connection is the 11th.
        let server = thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().take(11) {
                held.push(stream.unwrap());
            }
            let mut probe = held.pop().unwrap();
            let mut buf = [0u8; 64];
            let _ = probe.read(&mut buf).unwrap();
            probe
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        let (took, status) = burst_latency(addr, 10, b"GET / HTTP/1.1\r\n\r\n").unwrap();
        server.join().unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(took < Duration::from_secs(30));
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
