//! Benchmark of the UDP file transfer: a 64 MiB file over loopback with no
//! loss, and through the in-process lossy relay dropping 10% of the
//! datagrams in each direction. Prints MB/s and retransmissions (median of
//! `--runs` runs), next to a TCP copy of the same file on the same loopback
//! as the reference.
//!
//! `cargo run -p tugas2 --release --bin bench` (`-- --size-mib 16 --runs 5`).

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use common::cli::{Command, Flag};
use common::error::AppError;
use tugas2::receiver::{self, ReceiveOptions};
use tugas2::relay::{LossConfig, Relay};
use tugas2::sender::{self, SendOptions};

const BENCH: Command = Command {
    name: "bench",
    about:
        "measure the UDP file transfer on loopback: 0% loss, and 10% loss each way through a relay",
    args: "",
    flags: &[
        Flag::value("size-mib", "MIB", "64", "file size in MiB"),
        Flag::value("runs", "N", "3", "runs per case (the median is reported)"),
        Flag::value("window", "N", "128", "sender window (datagrams in flight)"),
    ],
};

struct Run {
    secs: f64,
    retransmissions: u64,
    sent: u64,
}

fn main() -> ExitCode {
    common::error::run_main(&BENCH, |m| {
        let size = m.parse::<u64>("size-mib")? * 1024 * 1024;
        let runs: usize = m.parse::<usize>("runs")?.max(1);
        let window: u32 = m.parse("window")?;
        bench(size, runs, window).map_err(|e| AppError::io("benchmark failed", &e).into())
    })
}

fn bench(size: u64, runs: usize, window: u32) -> io::Result<()> {
    let dir = std::env::temp_dir().join(format!("tugas2-bench-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let input = dir.join("input.bin");
    write_pseudo_random(&input, size)?;
    let output = dir.join("data.out");

    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let rx_addr = socket.local_addr()?;
    let opts = ReceiveOptions {
        output: output.clone(),
        progress_step: 1.0,
        ..ReceiveOptions::default()
    };
    // Stops (and is joined) when dropped, at the end of the benchmark.
    let _receiver = receiver::start_server(socket, opts, io::sink())?;

    println!(
        "file: {} MiB, window {window}, {runs} runs per case, load average {}",
        size / (1024 * 1024),
        load_average()
    );
    println!(
        "{:<34} {:>10} {:>16} {:>14}",
        "case", "MB/s", "retransmissions", "datagrams"
    );
    let tcp: Vec<Run> = (0..runs)
        .map(|_| tcp_copy(&input, size))
        .collect::<io::Result<_>>()?;
    print_row("TCP copy on loopback (reference)", &tcp, size);

    let direct: Vec<Run> = (0..runs)
        .map(|_| udp_send(rx_addr, &input, &output, window))
        .collect::<io::Result<_>>()?;
    print_row("UDP, loopback, 0% loss", &direct, size);

    for (label, drop) in [
        ("UDP, relay, 0% loss", 0),
        ("UDP, relay, 10% loss each way", 10),
    ] {
        let mut results = Vec::new();
        for run in 0..runs {
            let relay = Relay::spawn(
                rx_addr,
                LossConfig {
                    drop_percent: drop,
                    seed: 1000 + run as u64,
                    ..LossConfig::default()
                },
            )?;
            results.push(udp_send(relay.addr(), &input, &output, window)?);
        }
        print_row(label, &results, size);
    }
    fs::remove_dir_all(&dir)?;
    Ok(())
}

fn udp_send(to: SocketAddr, input: &Path, output: &Path, window: u32) -> io::Result<Run> {
    let socket = sender::connect_socket(to)?;
    let opts = SendOptions {
        window,
        progress_step: 1.0,
        ..SendOptions::default()
    };
    let start = Instant::now();
    let report = sender::send_file(&socket, input, &opts, &mut io::sink())
        .map_err(|e| io::Error::other(e.to_string()))?;
    let secs = start.elapsed().as_secs_f64();
    if !same_contents(input, output)? {
        return Err(io::Error::other("received file differs from the input"));
    }
    Ok(Run {
        secs,
        retransmissions: report.retransmissions,
        sent: report.sent,
    })
}

fn tcp_copy(input: &Path, size: u64) -> io::Result<Run> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        io::copy(&mut s, &mut io::sink())
    });
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    io::copy(&mut fs::File::open(input)?, &mut stream)?;
    drop(stream);
    let got = reader.join().expect("reader thread")?;
    if got != size {
        return Err(io::Error::other("TCP copy came short"));
    }
    Ok(Run {
        secs: start.elapsed().as_secs_f64(),
        retransmissions: 0,
        sent: 0,
    })
}

fn print_row(label: &str, runs: &[Run], size: u64) {
    let mut rates: Vec<f64> = runs.iter().map(|r| size as f64 / 1e6 / r.secs).collect();
    let mut retrans: Vec<u64> = runs.iter().map(|r| r.retransmissions).collect();
    let mut sent: Vec<u64> = runs.iter().map(|r| r.sent).collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    retrans.sort();
    sent.sort();
    let mid = runs.len() / 2;
    let spread = format!("({:.0}..{:.0})", rates[0], rates[rates.len() - 1]);
    let datagrams = if sent[mid] == 0 {
        "-".to_string()
    } else {
        sent[mid].to_string()
    };
    println!(
        "{label:<34} {:>10.1} {:>16} {:>14}   MB/s range {spread}",
        rates[mid], retrans[mid], datagrams
    );
    let _ = io::stdout().flush();
}

fn write_pseudo_random(path: &PathBuf, size: u64) -> io::Result<()> {
    let mut f = io::BufWriter::new(fs::File::create(path)?);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut left = size;
    let mut block = vec![0u8; 1 << 16];
    while left > 0 {
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n])?;
        left -= n as u64;
    }
    f.flush()
}

fn same_contents(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
