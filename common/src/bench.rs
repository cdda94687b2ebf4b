//! Helpers for the benchmark programs (`cargo run --release --bin bench`):
//! a reference speed measured in the same run, peak memory, medians.
//!
//! Benchmarks print figures; no test asserts a timing.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Instant;

/// The loopback limit: MB/s of a plain copy of `bytes` through a TCP
/// socket on 127.0.0.1 with 1 MiB buffers, no protocol and no files.
///
/// # Errors
/// Socket failures.
pub fn loopback_copy_mb_s(bytes: u64) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sender = thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = listener.accept()?;
        let buf = vec![0x5au8; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            s.write_all(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    });
    let start = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0u64;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    sender
        .join()
        .map_err(|_| io::Error::other("sender panicked"))??;
    if got != bytes {
        return Err(io::Error::other(format!("copied {got} of {bytes} bytes")));
    }
    Ok(crate::files::mb_per_s(bytes, secs))
}

/// Runs `transfer` (which moves `bytes` and returns its MB/s) `runs`
/// times, each right after a plain loopback copy of the same size, and
/// prints both per run, their medians, the ratio, the peak memory and the
/// load. Returns the two medians (transfer, loopback).
///
/// # Errors
/// The first failure of either measurement.
pub fn compare_with_loopback<F>(
    label: &str,
    bytes: u64,
    runs: usize,
    mut transfer: F,
) -> io::Result<(f64, f64)>
where
    F: FnMut() -> io::Result<f64>,
{
    println!(
        "{label}: {} per run, {runs} runs, load average {}",
        crate::files::human_bytes(bytes),
        load_average()
    );
    println!("{:>4}  {:>14}  {:>14}", "run", "MB/s", "loopback MB/s");
    let (mut ours, mut reference) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let base = loopback_copy_mb_s(bytes)?;
        let mb = transfer()?;
        println!("{run:>4}  {mb:>14.1}  {base:>14.1}");
        ours.push(mb);
        reference.push(base);
    }
    let (m, r) = (median(&ours), median(&reference));
    println!(
        "median: {label} {m:.1} MB/s, loopback copy {r:.1} MB/s ({:.0}% of the loopback limit)",
        m * 100.0 / r
    );
    match peak_rss_kib() {
        Some(kib) => println!(
            "peak memory (VmHWM) of this process, server and client together: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("peak memory: not available on this system"),
    }
    Ok((m, r))
}

/// Peak resident memory of this process so far (VmHWM), in KiB; `None`
/// where `/proc` does not exist (not Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
        assert!(loopback_copy_mb_s(3 << 20).unwrap() > 0.0);
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
