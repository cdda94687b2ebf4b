//! "Two computers": the receiver in one network namespace, the sender in
//! another, joined by a veth cable that drops 10% of the packets each end
//! sends. The file must still arrive byte-identical.
//!
//! Needs root and iproute2, plus `tc netem` or nftables for the loss (this
//! project's CI kernel has no netem, so the nftables egress rule
//! `numgen random mod 100 < 10 drop` does the dropping there).
//!
//! How one test runs code inside a namespace without running the crate's
//! binaries: the test re-executes its own test binary under
//! `ip netns exec NS <this test binary> --exact <this test> --include-ignored`,
//! with `TUGAS2_NETNS_ROLE=receiver|sender` in the environment. When that
//! variable is set the test plays the role (through the library) instead of
//! setting up the namespaces.

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{every_byte_value, TempDir};
use tugas2::receiver::{self, ReceiveOptions};
use tugas2::sender::{self, SendOptions};

const TEST_NAME: &str = "lossy_transfer_between_two_network_namespaces";
const ROLE: &str = "TUGAS2_NETNS_ROLE";
const ADDR: &str = "TUGAS2_NETNS_ADDR";
const PATH: &str = "TUGAS2_NETNS_PATH";
const IP_A: &str = "10.77.2.1";
const IP_B: &str = "10.77.2.2";
const LOSS_PERCENT: u32 = 10;

#[test]
#[ignore = "needs ip netns"]
fn lossy_transfer_between_two_network_namespaces() {
    match std::env::var(ROLE).as_deref() {
        Ok("receiver") => play_receiver(),
        Ok("sender") => play_sender(),
        Ok(other) => panic!("unknown {ROLE} {other:?}"),
        Err(_) => orchestrate(),
    }
}

/// Inside namespace A: receive one file into $PATH, then exit.
fn play_receiver() {
    let addr: SocketAddr = std::env::var(ADDR).unwrap().parse().unwrap();
    let socket = UdpSocket::bind(addr).unwrap();
    println!("listening on {}", socket.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    let opts = ReceiveOptions {
        output: PathBuf::from(std::env::var(PATH).unwrap()),
        idle_timeout: Duration::from_secs(20),
        max_transfers: Some(1),
        progress_step: 0.25,
    };
    let stats = receiver::serve(&socket, &opts, &mut std::io::stdout()).unwrap();
    println!(
        "receiver-stats saved={} duplicates={}",
        stats.saved, stats.duplicates
    );
    assert_eq!(stats.saved, 1);
}

/// Inside namespace B: send $PATH to $ADDR.
fn play_sender() {
    let addr: SocketAddr = std::env::var(ADDR).unwrap().parse().unwrap();
    let path = PathBuf::from(std::env::var(PATH).unwrap());
    let socket = sender::connect_socket(addr).unwrap();
    let opts = SendOptions {
        give_up: Duration::from_secs(20),
        progress_step: 0.25,
        ..SendOptions::default()
    };
    let report = sender::send_file(&socket, &path, &opts, &mut std::io::stdout())
        .unwrap_or_else(|e| panic!("sender failed: {e}"));
    println!(
        "sender-report retransmissions={} sent={}",
        report.retransmissions, report.sent
    );
}

/// Two namespaces and a veth pair, deleted on drop (also when the test
/// fails), with the processes started in them.
struct Hosts {
    ns: [String; 2],
    veth: [String; 2],
    children: Vec<Child>,
}

impl Hosts {
    fn up() -> Hosts {
        let pid = std::process::id();
        let hosts = Hosts {
            ns: [format!("t2a-{pid}"), format!("t2b-{pid}")],
            veth: [format!("t2a{pid}"), format!("t2b{pid}")],
            children: Vec::new(),
        };
        let [a, b] = &hosts.ns;
        let [va, vb] = &hosts.veth;
        run(&["ip", "netns", "add", a]);
        run(&["ip", "netns", "add", b]);
        run(&["ip", "link", "add", va, "type", "veth", "peer", "name", vb]);
        run(&["ip", "link", "set", va, "netns", a]);
        run(&["ip", "link", "set", vb, "netns", b]);
        for (ns, dev, ip) in [(a, va, IP_A), (b, vb, IP_B)] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        hosts
    }

    /// Drops LOSS_PERCENT% of what each end sends: netem where the kernel
    /// has it, else an nftables rule on the egress hook.
    fn add_loss(&self) -> &'static str {
        let mut how = "";
        for (ns, dev) in self.ns.iter().zip(&self.veth) {
            let netem = Command::new("ip")
                .args(["netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev])
                .args(["root", "netem", "loss", &format!("{LOSS_PERCENT}%")])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if netem {
                how = "tc netem";
                continue;
            }
            let rules = format!(
                "table netdev tugas2_loss {{\n  chain out {{\n    type filter hook egress device \"{dev}\" priority 0; policy accept;\n    numgen random mod 100 < {LOSS_PERCENT} counter drop\n  }}\n}}\n"
            );
            let mut nft = Command::new("ip")
                .args(["netns", "exec", ns, "nft", "-f", "-"])
                .stdin(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run nft: {e} (apt-get install nftables)"));
            nft.stdin
                .take()
                .unwrap()
                .write_all(rules.as_bytes())
                .unwrap();
            let out = nft.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "no tc netem and nft failed: {} (apt-get install nftables)",
                String::from_utf8_lossy(&out.stderr)
            );
            how = "nftables egress drop";
        }
        how
    }

    /// Runs this test binary inside namespace `i` in `role`.
    fn spawn_role(&mut self, i: usize, role: &str, addr: &str, path: &str) -> usize {
        let exe = std::env::current_exe().unwrap(); // resolved here, not inside `ip`
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns[i]])
            .arg(exe)
            .args(["--exact", TEST_NAME, "--include-ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(ROLE, role)
            .env(ADDR, addr)
            .env(PATH, path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.len() - 1
    }

    /// The child's stdout, line by line, on a channel.
    fn lines(&mut self, child: usize) -> mpsc::Receiver<String> {
        let stdout = self.children[child].stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Waits for a child to exit (up to `limit`) and says whether it succeeded.
    fn wait(&mut self, child: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.children[child].try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "role process still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50)); // polling an exit, not synchronising
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth[0]])
            .stderr(Stdio::null())
            .status();
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e} (needs iproute2, as root)", args[0]));
    assert!(
        out.status.success(),
        "`{}` failed: {} (this test needs root and iproute2)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn orchestrate() {
    let dir = TempDir::new("netns");
    let input = dir.path().join("input.bin");
    let output = dir.path().join("data.out");
    let data = every_byte_value(2 * 1024 * 1024 + 333);
    fs::write(&input, &data).unwrap();

    let mut hosts = Hosts::up();
    let how = hosts.add_loss();
    println!("loss: {LOSS_PERCENT}% each direction by {how}");

    let rx = hosts.spawn_role(
        0,
        "receiver",
        &format!("{IP_A}:0"),
        output.to_str().unwrap(),
    );
    let rx_lines = hosts.lines(rx);
    let listening = loop {
        let line = rx_lines
            .recv_timeout(Duration::from_secs(20))
            .expect("receiver did not print its address");
        // The harness prints "test NAME ... " first, on the same line.
        if let Some((_, addr)) = line.split_once("listening on ") {
            break addr.trim().to_string();
        }
    };
    assert!(listening.starts_with(IP_A), "{listening}");

    let tx = hosts.spawn_role(1, "sender", &listening, input.to_str().unwrap());
    let tx_lines = hosts.lines(tx);
    assert!(hosts.wait(tx, Duration::from_secs(60)), "sender failed");
    assert!(hosts.wait(rx, Duration::from_secs(30)), "receiver failed");

    let report: Vec<String> = tx_lines.try_iter().collect();
    let retransmissions: u64 = report
        .iter()
        .find_map(|l| {
            l.split_once("sender-report retransmissions=")
                .map(|(_, r)| r)
        })
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no report from the sender: {report:?}"));
    println!("sender: {retransmissions} retransmissions");
    assert_eq!(fs::read(&output).unwrap(), data, "file differs");
    // 10% loss on ~2100 datagrams: the sender must have noticed some.
    assert!(retransmissions > 20, "loss not in effect? {report:?}");
    drop(hosts);
}
