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
        Flag::value("window", "N", "512", "sender window (datagrams in flight)"),
        Flag::switch(
            "portable",
            "also measure the portable path (one datagram per system call) on loopback",
        ),
        Flag::switch(
            "no-offload",
            "the relay rows without UDP segmentation and receive offload (sendmmsg, recvmmsg only); the loopback rows show both",
        ),
        Flag::switch(
            "loopback-only",
            "only the UDP loopback row (for profiling)",
        ),
        Flag::switch(
            "netns",
            "instead: two network namespaces joined by a veth cable that drops --loss % each way (nftables; root), tugas2 against a TCP copy",
        ),
        Flag::value("loss", "PERCENT", "10", "with --netns: packets dropped on the cable, each way"),
    ],
};

struct Run {
    secs: f64,
    retransmissions: u64,
    sent: u64,
    /// START and DATA datagrams the relay dropped (on the way to the
    /// receiver; its lost ACKs are not counted), where a relay was used.
    lost: u64,
}

fn main() -> ExitCode {
    common::error::run_main(&BENCH, |m| {
        let size = m.parse::<u64>("size-mib")? * 1024 * 1024;
        let runs: usize = m.parse::<usize>("runs")?.max(1);
        let window: u32 = m.parse("window")?;
        if m.is_set("netns") {
            let loss: u32 = m.parse("loss")?;
            // Without segmentation offload: the cable's drop rule sees each
            // datagram (with it, a whole run of 63 at a time).
            return lossy_cable::bench(size, runs, window, loss.min(100), false)
                .map_err(|e| AppError::io("lossy-cable benchmark failed", &e).into());
        }
        let cases = Cases {
            portable: m.is_set("portable"),
            offload: !m.is_set("no-offload"),
            loopback_only: m.is_set("loopback-only"),
        };
        bench(size, runs, window, &cases).map_err(|e| AppError::io("benchmark failed", &e).into())
    })
}

/// Which rows to measure, and how.
struct Cases {
    portable: bool,
    offload: bool,
    loopback_only: bool,
}

fn bench(size: u64, runs: usize, window: u32, cases: &Cases) -> io::Result<()> {
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
        offload: cases.offload,
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
        "{:<34} {:>10} {:>16} {:>14} {:>9}",
        "case", "MB/s", "retransmissions", "datagrams", "DATA lost"
    );
    let batched = Sending::Batched {
        offload: cases.offload,
    };
    if !cases.loopback_only {
        let tcp: Vec<Run> = (0..runs)
            .map(|_| tcp_copy(&input, size))
            .collect::<io::Result<_>>()?;
        print_row("TCP copy on loopback (reference)", &tcp, size);
    }

    let direct: Vec<Run> = (0..runs)
        .map(|_| udp_send(rx_addr, &input, &output, window, batched))
        .collect::<io::Result<_>>()?;
    if cases.offload {
        print_row("UDP, loopback, offload (--offload)", &direct, size);
        let plain: Vec<Run> = (0..runs)
            .map(|_| {
                let how = Sending::Batched { offload: false };
                udp_send(rx_addr, &input, &output, window, how)
            })
            .collect::<io::Result<_>>()?;
        print_row("UDP, loopback, sendmmsg (default)", &plain, size);
    } else {
        print_row("UDP, loopback, 0% loss", &direct, size);
    }
    if cases.loopback_only {
        return fs::remove_dir_all(&dir);
    }
    if cases.portable {
        let one_by_one: Vec<Run> = (0..runs)
            .map(|_| udp_send(rx_addr, &input, &output, window, Sending::Portable))
            .collect::<io::Result<_>>()?;
        print_row("UDP, loopback, portable sender", &one_by_one, size);
    }

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
            let mut run = udp_send(relay.addr(), &input, &output, window, batched)?;
            run.lost = relay.stats().dropped_upstream;
            results.push(run);
        }
        print_row(label, &results, size);
    }
    fs::remove_dir_all(&dir)?;
    Ok(())
}

/// How the sender sends.
#[derive(Clone, Copy)]
enum Sending {
    /// One datagram per system call.
    Portable,
    /// Several per call; `offload`: segmentation offload where the kernel has it.
    Batched { offload: bool },
}

fn udp_send(
    to: SocketAddr,
    input: &Path,
    output: &Path,
    window: u32,
    how: Sending,
) -> io::Result<Run> {
    let socket = sender::connect_socket(to)?;
    let (batched, offload) = match how {
        Sending::Portable => (false, false),
        Sending::Batched { offload } => (true, offload),
    };
    let opts = SendOptions {
        window,
        progress_step: 1.0,
        batched,
        offload,
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
        lost: 0,
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
        lost: 0,
    })
}

fn print_row(label: &str, runs: &[Run], size: u64) {
    let mut rates: Vec<f64> = runs.iter().map(|r| size as f64 / 1e6 / r.secs).collect();
    let mut retrans: Vec<u64> = runs.iter().map(|r| r.retransmissions).collect();
    let mut sent: Vec<u64> = runs.iter().map(|r| r.sent).collect();
    let mut lost: Vec<u64> = runs.iter().map(|r| r.lost).collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    retrans.sort();
    sent.sort();
    lost.sort();
    let mid = runs.len() / 2;
    let spread = format!("({:.0}..{:.0})", rates[0], rates[rates.len() - 1]);
    let datagrams = if sent[mid] == 0 {
        "-".to_string()
    } else {
        sent[mid].to_string()
    };
    let lost = if lost[mid] == 0 {
        "-".to_string()
    } else {
        lost[mid].to_string()
    };
    println!(
        "{label:<34} {:>10.1} {:>16} {:>14} {:>9}   MB/s range {spread}",
        rates[mid], retrans[mid], datagrams, lost
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

/// `--netns`: the same file across a real (virtual) cable that loses
/// packets, with tugas2's protocol and with a plain TCP copy. Needs root,
/// `ip` (iproute2) and `nft` (nftables): the kernel here has no `tc
/// netem`, so an nftables rule on each end's egress drops at random.
#[cfg(target_os = "linux")]
mod lossy_cable {
    use super::*;
    use std::process::{Command as Process, Stdio};

    const IP_A: &str = "10.78.0.1";
    const IP_B: &str = "10.78.0.2";

    /// Two namespaces and the cable between them; deleted on drop.
    struct Cable {
        ns: [String; 2],
    }

    impl Cable {
        fn up(loss: u32) -> io::Result<Cable> {
            let pid = std::process::id();
            let cable = Cable {
                ns: [format!("t2b-a-{pid}"), format!("t2b-b-{pid}")],
            };
            let dev = [format!("t2a{pid}"), format!("t2b{pid}")];
            for ns in &cable.ns {
                run("ip", &["netns", "add", ns], "")?;
            }
            run(
                "ip",
                &[
                    "link", "add", &dev[0], "type", "veth", "peer", "name", &dev[1],
                ],
                "",
            )?;
            for (i, addr) in [(0, IP_A), (1, IP_B)] {
                let (ns, dev) = (&cable.ns[i], &dev[i]);
                run("ip", &["link", "set", dev, "netns", ns], "")?;
                run(
                    "ip",
                    &["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev],
                    "",
                )?;
                run("ip", &["-n", ns, "link", "set", "lo", "up"], "")?;
                // One packet per skb on the cable: a GSO "super-packet" of
                // 64 KiB would otherwise be dropped (or kept) as one, and
                // TCP would see a tenth of the losses.
                run(
                    "ip",
                    &["-n", ns, "link", "set", dev, "gso_max_segs", "1"],
                    "",
                )?;
                // Best effort: older iproute2 lacks gro_max_size.
                let _ = run(
                    "ip",
                    &["-n", ns, "link", "set", dev, "gro_max_size", "1500"],
                    "",
                );
                run("ip", &["-n", ns, "link", "set", dev, "up"], "")?;
                let rules = format!(
                    "table netdev loss {{\n  chain out {{\n    type filter hook egress device \"{dev}\" priority 0; policy accept;\n    numgen random mod 100 < {loss} counter drop\n  }}\n}}\n"
                );
                run("ip", &["netns", "exec", ns, "nft", "-f", "-"], &rules)?;
            }
            Ok(cable)
        }

        /// Runs `f` on a thread inside namespace `i` (0 = A, 1 = B).
        fn spawn_in<T: Send + 'static>(
            &self,
            i: usize,
            f: impl FnOnce() -> io::Result<T> + Send + 'static,
        ) -> std::thread::JoinHandle<io::Result<T>> {
            let path = PathBuf::from(format!("/run/netns/{}", self.ns[i]));
            std::thread::spawn(move || {
                tugas2::sys::enter_net_namespace(&path)?;
                f()
            })
        }

        fn run_in<T: Send + 'static>(
            &self,
            i: usize,
            f: impl FnOnce() -> io::Result<T> + Send + 'static,
        ) -> io::Result<T> {
            self.spawn_in(i, f)
                .join()
                .map_err(|_| io::Error::other("thread panicked"))?
        }
    }

    impl Drop for Cable {
        fn drop(&mut self) {
            for ns in &self.ns {
                let _ = run("ip", &["netns", "del", ns], ""); // takes its end of the cable along
            }
        }
    }

    fn run(cmd: &str, args: &[&str], input: &str) -> io::Result<()> {
        let mut child = Process::new(cmd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {cmd}: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if out.status.success() {
            return Ok(());
        }
        Err(io::Error::other(format!(
            "{cmd} {}: {} (root, iproute2 and nftables needed)",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }

    pub fn bench(size: u64, runs: usize, window: u32, loss: u32, offload: bool) -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("tugas2-netns-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let input = dir.join("input.bin");
        write_pseudo_random(&input, size)?;
        let output = dir.join("data.out");
        let cable = Cable::up(loss)?;
        println!(
            "file: {} MiB across a veth cable dropping {loss}% each way (nftables), window {window}, {runs} runs, load average {}",
            size / (1024 * 1024),
            load_average()
        );
        println!(
            "{:<34} {:>10} {:>16} {:>14} {:>9}",
            "case", "MB/s", "retransmissions", "datagrams", "dropped"
        );
        let mut tcp = Vec::new();
        for _ in 0..runs {
            let listener = cable.run_in(0, || TcpListener::bind((IP_A, 0)))?;
            let addr = listener.local_addr()?;
            let reader = std::thread::spawn(move || -> io::Result<u64> {
                let (mut s, _) = listener.accept()?;
                io::copy(&mut s, &mut io::sink())
            });
            let start = Instant::now();
            let file = input.clone();
            cable.run_in(1, move || {
                let mut stream = TcpStream::connect(addr)?;
                io::copy(&mut fs::File::open(&file)?, &mut stream)?;
                stream.shutdown(std::net::Shutdown::Write)
            })?;
            let got = reader
                .join()
                .map_err(|_| io::Error::other("reader panicked"))??;
            if got != size {
                return Err(io::Error::other("TCP copy came short"));
            }
            tcp.push(Run {
                secs: start.elapsed().as_secs_f64(),
                retransmissions: 0,
                sent: 0,
                lost: 0,
            });
        }
        print_row("TCP copy across the lossy cable", &tcp, size);
        let socket = cable.run_in(0, || UdpSocket::bind((IP_A, 0)))?;
        let rx_addr = socket.local_addr()?;
        let opts = ReceiveOptions {
            output: output.clone(),
            progress_step: 1.0,
            ..ReceiveOptions::default()
        };
        let opts = ReceiveOptions { offload, ..opts };
        let _receiver = receiver::start_server(socket, opts, io::sink())?;
        let mut udp = Vec::new();
        for _ in 0..runs {
            let (file, out) = (input.clone(), output.clone());
            let how = Sending::Batched { offload };
            udp.push(cable.run_in(1, move || udp_send(rx_addr, &file, &out, window, how))?);
        }
        print_row("tugas2 UDP across the lossy cable", &udp, size);
        drop(cable);
        fs::remove_dir_all(&dir)
    }
}

#[cfg(not(target_os = "linux"))]
mod lossy_cable {
    pub fn bench(_: u64, _: usize, _: u32, _: u32, _: bool) -> std::io::Result<()> {
        Err(std::io::Error::other(
            "--netns needs Linux network namespaces",
        ))
    }
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
