//! Helpers for the benchmark programs (`cargo run --release --bin bench`):
//! a reference speed measured in the same run, peak memory, medians.
//!
//! Benchmarks print figures; no test asserts a timing.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cli::{Flag, Matches};
use crate::error::{AppError, MainError};
use std::thread;
use std::time::{Duration, Instant};

/// `--size-mib MIB`: the size of a file benchmark's test file.
pub const SIZE_MIB: Flag = Flag::value("size-mib", "MIB", "1024", "size of the test file in MiB");

/// `--runs N`: how many times a benchmark measures (medians are shown).
pub const RUNS: Flag = Flag::value(
    "runs",
    "N",
    "3",
    "runs of each measurement (medians are shown)",
);

/// A file-transfer benchmark's working folder and test file, made from
/// [`SIZE_MIB`] and [`RUNS`]; the folder is removed when this is dropped.
#[derive(Debug)]
pub struct FileBench {
    /// The temporary working folder.
    pub dir: PathBuf,
    /// The test file of `--size-mib` pseudo-random bytes inside it.
    pub source: PathBuf,
    runs: usize,
}

impl FileBench {
    /// Makes the folder and writes the test file at `source` (a path
    /// inside the folder). Also quiets per-transfer log lines, which would
    /// only clutter the table.
    ///
    /// # Errors
    /// Bad flags (exit 2) or a file that cannot be written (exit 1).
    pub fn prepare(tag: &str, m: &Matches, source: &str) -> Result<FileBench, MainError> {
        log::set_max_level(log::LevelFilter::Warn);
        let size = m.parse::<u64>("size-mib")? << 20;
        let runs: usize = m.parse("runs")?;
        let dir = scratch_dir(tag).map_err(|e| AppError::io("cannot make a scratch folder", &e))?;
        let bench = FileBench {
            source: dir.join(source),
            dir,
            runs,
        };
        let made = bench
            .source
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| make_file(&bench.source, size));
        made.map_err(|e| AppError::io("cannot write the test file", &e))?;
        Ok(bench)
    }

    /// [`compare_with_references`] for the test file; `transfer` moves it
    /// once and returns its MB/s.
    ///
    /// # Errors
    /// The first failure of the transfer or of a reference copy.
    pub fn compare<F>(&self, label: &str, mut transfer: F) -> Result<(), AppError>
    where
        F: FnMut() -> Result<f64, AppError>,
    {
        compare_with_references(label, &self.source, &self.dir, self.runs, || {
            transfer().map_err(|e| io::Error::other(e.to_string()))
        })
        .map(drop)
        .map_err(|e| AppError::io(format!("{label} benchmark failed"), &e))
    }
}

impl Drop for FileBench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Seconds to send `size` bytes from memory over a loopback TCP socket to
/// a reader that throws them away: the loopback limit.
///
/// # Errors
/// Socket failures.
pub fn memory_copy_secs(size: u64) -> io::Result<f64> {
    plain_copy(
        move |s| {
            let buf = vec![0x5au8; COPY];
            let mut left = size;
            while left > 0 {
                let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                s.write_all(&buf[..n])?;
                left -= n as u64;
            }
            Ok(())
        },
        move |s| {
            let got = io::copy(s, &mut io::sink())?;
            if got == size {
                Ok(())
            } else {
                Err(io::Error::other(format!("copied {got} of {size} bytes")))
            }
        },
    )
}

/// Seconds to send file `src` over a loopback TCP socket into file `dst`,
/// plain bytes with 1 MiB buffers: what any file transfer protocol could
/// at best reach on this machine (disk or page cache included).
///
/// # Errors
/// File or socket failures.
pub fn file_copy_secs(src: &Path, dst: &Path) -> io::Result<f64> {
    let (src, dst) = (src.to_path_buf(), dst.to_path_buf());
    plain_copy(
        move |s| copy_all(&mut File::open(&src)?, s),
        move |s| {
            let mut out = File::create(&dst)?;
            copy_all(s, &mut out)?;
            out.flush()
        },
    )
}

/// Whether two files hold the same bytes.
///
/// # Errors
/// If either cannot be read.
pub fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; COPY], vec![0u8; COPY]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

const COPY: usize = 1 << 20;

fn copy_all(r: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; COPY];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        w.write_all(&buf[..n])?;
    }
}

fn read_full(r: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Times one connection: `send` on a client socket, `receive` on the
/// server side until EOF, then a one-byte acknowledgement (so the time
/// includes the receiver's last write).
fn plain_copy<S, R>(send: S, receive: R) -> io::Result<f64>
where
    S: FnOnce(&mut TcpStream) -> io::Result<()>,
    R: FnOnce(&mut TcpStream) -> io::Result<()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = listener.accept()?;
        receive(&mut s)?;
        s.write_all(b"k")
    });
    let start = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    send(&mut s)?;
    s.shutdown(Shutdown::Write)?;
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack)?;
    let secs = start.elapsed().as_secs_f64();
    server
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    Ok(secs)
}

/// Runs `transfer` (which moves the file `source` once and returns its
/// MB/s) `runs` times, each right after the two references of the same
/// run: a plain file -> TCP -> file copy of `source` (written into
/// `scratch`, removed again) and a memory-to-memory loopback copy. Prints
/// a row per run, the medians, the ratio to the plain file copy, the peak
/// memory and the load. Returns the medians (transfer, file copy, memory).
///
/// # Errors
/// The first failure of any measurement.
pub fn compare_with_references<F>(
    label: &str,
    source: &Path,
    scratch: &Path,
    runs: usize,
    mut transfer: F,
) -> io::Result<(f64, f64, f64)>
where
    F: FnMut() -> io::Result<f64>,
{
    let bytes = std::fs::metadata(source)?.len();
    let mb = |secs: f64| crate::files::mb_per_s(bytes, secs);
    println!(
        "{label}: {} per run, {runs} runs, load average {}",
        crate::files::human_bytes(bytes),
        load_average()
    );
    println!(
        "{:>4}  {:>12}  {:>20}  {:>20}",
        "run", "MB/s", "plain file copy MB/s", "memory copy MB/s"
    );
    let (mut ours, mut files, mut memory) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let copy = scratch.join("plain-copy.bin");
        let file = mb(file_copy_secs(source, &copy)?);
        if !same_bytes(source, &copy)? {
            return Err(io::Error::other("the plain copy differs from its source"));
        }
        std::fs::remove_file(&copy)?;
        let mem = mb(memory_copy_secs(bytes)?);
        let speed = transfer()?;
        println!("{run:>4}  {speed:>12.1}  {file:>20.1}  {mem:>20.1}");
        ours.push(speed);
        files.push(file);
        memory.push(mem);
    }
    let (m, f, r) = (median(&ours), median(&files), median(&memory));
    println!(
        "median: {label} {m:.1} MB/s = {:.0}% of a plain file -> TCP -> file copy ({f:.1} MB/s); memory-to-memory loopback copy {r:.1} MB/s",
        m * 100.0 / f
    );
    match peak_rss_kib() {
        Some(kib) => println!(
            "peak memory (VmHWM) of this process, server and client together: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("peak memory: not available on this system"),
    }
    Ok((m, f, r))
}

/// `VmHWM` (peak resident memory) in KiB from the text of a
/// `/proc/PID/status` file (Linux).
pub fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident memory of this process so far (VmHWM), in KiB; `None`
/// where `/proc` does not exist (not Linux).
pub fn peak_rss_kib() -> Option<u64> {
    vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The median of some figures (the mean of the middle two for an even
/// count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Writes a file of `size` pseudo-random bytes (fast xorshift, not zeros,
/// so nothing along the way can cheat by compressing).
///
/// # Errors
/// If the file cannot be written.
pub fn make_file(path: &Path, size: u64) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = block.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()
}

/// The machine's load averages as `uptime` shows them, for the report.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// A fresh, empty folder under the system's temp folder, unique to this
/// process and call (`tag` names its purpose), for a benchmark's files.
///
/// # Errors
/// If the folder cannot be made.
pub fn scratch_dir(tag: &str) -> io::Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The burst probe of the thread-per-connection servers: opens
/// `connections` connections to `addr` at once (from four threads; they
/// send nothing), then, with all of them connected, times one more
/// client's `request` until the first line of its answer has come.
/// Returns that time and the line (`HTTP/1.1 200 OK`, `OK 12`).
///
/// # Errors
/// A connect or read error (the open-files limit must be above
/// `connections`), or a close before a whole line.
pub fn burst_latency(
    addr: std::net::SocketAddr,
    connections: usize,
    request: &[u8],
) -> io::Result<(Duration, String)> {
    const OPENERS: usize = 4;
    let per = connections.div_ceil(OPENERS);
    let openers: Vec<_> = (0..OPENERS)
        .map(|i| {
            let n = per.min(connections.saturating_sub(i * per));
            thread::spawn(move || {
                (0..n)
                    .map(|_| TcpStream::connect(addr))
                    .collect::<io::Result<Vec<_>>>()
            })
        })
        .collect();
    let mut held = Vec::with_capacity(connections);
    for opener in openers {
        held.extend(opener.join().expect("opener thread panicked")?);
    }
    let started = Instant::now();
    let mut probe = TcpStream::connect(addr)?;
    probe.set_read_timeout(Some(Duration::from_secs(30)))?;
    probe.write_all(request)?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.contains(&b'\n') {
        let n = probe.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let took = started.elapsed();
    drop(held);
    let line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    Ok((took, line))
}

/// `--burst N`: the burst probe instead of the usual table.
pub const BURST: Flag = Flag::value(
    "burst",
    "N",
    "0",
    "instead of the table: open N connections at once, then time one more client's request",
);

/// Runs the burst probe `runs` times, each on a fresh server from
/// `start` (no threads left idle by the last run): the request alone
/// first (the reference), then after `connections` at once. Prints each
/// run to stderr and the medians, with the load average, to stdout.
///
/// # Errors
/// A server that cannot start, or the probe's errors ([`burst_latency`]).
pub fn run_burst<F>(
    label: &str,
    connections: usize,
    runs: usize,
    request: &[u8],
    mut start: F,
) -> Result<(), AppError>
where
    F: FnMut() -> io::Result<crate::stop::Running>,
{
    let load_before = load_average();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (mut alone, mut burst) = (Vec::new(), Vec::new());
    for run in 1..=runs.max(1) {
        let server = start().map_err(|e| AppError::io("cannot start the server", &e))?;
        let (a, _) = burst_latency(server.addr(), 0, request)
            .map_err(|e| AppError::io("the request alone", &e))?;
        let (b, line) = burst_latency(server.addr(), connections, request)
            .map_err(|e| AppError::io(format!("burst of {connections} connections"), &e))?;
        server.stop();
        eprintln!(
            "  {label} run {run}: alone {:.2} ms, after the burst {:.1} ms ({line})",
            ms(a),
            ms(b)
        );
        alone.push(ms(a));
        burst.push(ms(b));
    }
    println!(
        "{label}: after {connections} connections at once, a new client's request answered in {:.1} ms \
         (median of {}; the same request alone: {:.2} ms); load average before {load_before}, after {}",
        median(&burst),
        burst.len(),
        median(&alone),
        load_average()
    );
    Ok(())
}

/// [`run_burst`] for the download servers of Tugas 1b and 3: each run's
/// server gets a scratch folder holding `contoh.txt` and a listener of
/// the servers' own bind (its large backlog holds the whole burst), and
/// the timed request is `GET contoh.txt`.
///
/// # Errors
/// The scratch folder, the bind, or [`run_burst`]'s errors.
pub fn run_download_burst<F>(
    label: &str,
    connections: usize,
    runs: usize,
    mut start: F,
) -> Result<(), AppError>
where
    F: FnMut(PathBuf, TcpListener) -> io::Result<crate::stop::Running>,
{
    let dir = scratch_dir(&format!("{label}-burst"))
        .map_err(|e| AppError::io("cannot make a temp folder", &e))?;
    std::fs::write(dir.join("contoh.txt"), "PEMROGRAMAN JARINGAN\n")
        .map_err(|e| AppError::io("cannot write the test file", &e))?;
    let result = run_burst(label, connections, runs, b"GET contoh.txt\n", || {
        let listener =
            crate::net::bind("127.0.0.1", 0).map_err(|e| io::Error::other(e.to_string()))?;
        start(dir.clone(), listener)
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn loopback_copy_moves_every_byte() {
        assert!(memory_copy_secs(3 << 20).unwrap() > 0.0);
    }

    #[test]
    fn reads_vm_hwm() {
        let status = "Name:\tbench\nVmPeak:\t  10 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(vm_hwm(status), Some(5120));
        assert_eq!(vm_hwm("Name: x\n"), None);
    }

    #[test]
    fn plain_file_copy_moves_every_byte() {
        let dir = crate::testkit::temp_dir("common-bench-copy");
        let (a, b) = (dir.join("a"), dir.join("b"));
        make_file(&a, 1_000_003).unwrap();
        assert!(file_copy_secs(&a, &b).unwrap() > 0.0);
        assert!(same_bytes(&a, &b).unwrap());
        std::fs::write(&b, b"different").unwrap();
        assert!(!same_bytes(&a, &b).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn made_file_has_the_size() {
        let p = std::env::temp_dir().join(format!("common-bench-{}", std::process::id()));
        make_file(&p, 1_000_003).unwrap();
        let data = std::fs::read(&p).unwrap();
        assert_eq!(data.len(), 1_000_003);
        assert!(data.iter().any(|&b| b != data[0]));
        std::fs::remove_file(&p).unwrap();
    }
}
