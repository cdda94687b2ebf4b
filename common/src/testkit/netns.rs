//! "Two computers" on one Linux machine, for tests: two network namespaces
//! joined by a virtual cable (a veth pair), each with its own address.
//!
//! The course asks students to run the server on one computer and the
//! client on another. [`TwoHosts::up`] makes host A (`10.77.0.1`) and host
//! B (`10.77.0.2`); [`TwoHosts::run_in`] runs a closure on a thread that has
//! entered one host's namespace, so every socket it opens (and every thread
//! it starts) lives on that host. Sockets keep their namespace for life, so
//! a listener made in A can be handed back and served from anywhere.
//!
//! Needs root and the `ip` command (Debian: iproute2); [`TwoHosts::lossy`]
//! also uses `tc` netem where the kernel has it, otherwise `nft`
//! (Debian: nftables). Dropping the value deletes both namespaces.
//!
//! ```no_run
//! use common::testkit::netns::{TwoHosts, Side};
//! let hosts = TwoHosts::up().unwrap();
//! let listener = hosts.run_in(Side::A, || std::net::TcpListener::bind("10.77.0.1:31000")).unwrap().unwrap();
//! let ok = hosts.run_in(Side::B, || std::net::TcpStream::connect("10.77.0.1:31000").is_ok()).unwrap();
//! assert!(ok);
//! # drop(listener);
//! ```

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

/// One of the two hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Host A, address [`TwoHosts::IP_A`].
    A,
    /// Host B, address [`TwoHosts::IP_B`].
    B,
}

/// Two network namespaces joined by a veth pair; removed on drop.
#[derive(Debug)]
pub struct TwoHosts {
    ns: [String; 2],
    dev: [String; 2],
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TwoHosts {
    /// Host A's address.
    pub const IP_A: &'static str = "10.77.0.1";
    /// Host B's address.
    pub const IP_B: &'static str = "10.77.0.2";

    /// Creates both hosts with names unique to this process, addresses
    /// [`TwoHosts::IP_A`] and [`TwoHosts::IP_B`] (/24), links up.
    ///
    /// # Errors
    /// If `ip` is missing or fails (not root, no netns support); whatever
    /// was made is removed again.
    pub fn up() -> io::Result<TwoHosts> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}x{n}", std::process::id());
        let hosts = TwoHosts {
            ns: [format!("pjt-a-{tag}"), format!("pjt-b-{tag}")],
            // Interface names are limited to 15 characters.
            dev: [format!("va{tag}"), format!("vb{tag}")],
        };
        if hosts.dev[0].len() > 15 {
            return Err(io::Error::other("interface name too long"));
        }
        for ns in &hosts.ns {
            ip(&["netns", "add", ns])?;
        }
        ip(&[
            "link",
            "add",
            &hosts.dev[0],
            "type",
            "veth",
            "peer",
            "name",
            &hosts.dev[1],
        ])?;
        for (i, addr) in [(0, Self::IP_A), (1, Self::IP_B)] {
            let (ns, dev) = (&hosts.ns[i], &hosts.dev[i]);
            ip(&["link", "set", dev, "netns", ns])?;
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(hosts)
    }

    /// The address of a host.
    pub fn ip(side: Side) -> &'static str {
        match side {
            Side::A => Self::IP_A,
            Side::B => Self::IP_B,
        }
    }

    /// The namespace name of a host (for `ip netns exec NAME ...`).
    pub fn namespace(&self, side: Side) -> &str {
        &self.ns[side as usize]
    }

    /// Drops `percent` % of the packets each host sends on the cable:
    /// `tc qdisc ... netem loss` where the kernel has netem, otherwise an
    /// nftables rule on the interface's egress hook that drops at random.
    ///
    /// Returns which of the two did it, for the test's log.
    ///
    /// # Errors
    /// If neither tool works.
    pub fn lossy(&self, percent: u32) -> io::Result<&'static str> {
        let mut how = "tc netem";
        for i in 0..2 {
            let (ns, dev) = (&self.ns[i], &self.dev[i]);
            let netem = run(
                "ip",
                &[
                    "netns",
                    "exec",
                    ns,
                    "tc",
                    "qdisc",
                    "replace",
                    "dev",
                    dev,
                    "root",
                    "netem",
                    "loss",
                    &format!("{percent}%"),
                ],
            );
            if netem.is_ok() {
                continue;
            }
            let rules = format!(
                "table netdev loss {{\n  chain out {{\n    type filter hook egress device \"{dev}\" priority 0; policy accept;\n    numgen random mod 100 < {percent} counter drop\n  }}\n}}\n"
            );
            run_with_stdin("ip", &["netns", "exec", ns, "nft", "-f", "-"], &rules).map_err(
                |e| {
                    io::Error::other(format!(
                        "no tc netem, and nft failed ({e}); apt-get install nftables"
                    ))
                },
            )?;
            how = "nftables egress drop (no tc netem in this kernel)";
        }
        Ok(how)
    }

    /// Runs `f` on a new thread inside `side`'s namespace and returns its
    /// result. Threads that `f` starts stay in that namespace too.
    ///
    /// # Errors
    /// If the namespace cannot be entered or `f` panics.
    pub fn run_in<T, F>(&self, side: Side, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let path = format!("/var/run/netns/{}", self.namespace(side));
        thread::spawn(move || -> io::Result<T> {
            enter(&path)?;
            Ok(f())
        })
        .join()
        .map_err(|_| io::Error::other("thread in the namespace panicked"))?
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for ns in &self.ns {
            // Deleting a namespace also deletes its end of the cable.
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

#[cfg(target_os = "linux")]
fn enter(path: &str) -> io::Result<()> {
    let file = std::fs::File::open(path)?;
    crate::plumbing::sys::enter_network_namespace(&file)
}

#[cfg(not(target_os = "linux"))]
fn enter(_path: &str) -> io::Result<()> {
    Err(io::Error::other("network namespaces exist only on Linux"))
}

fn ip(args: &[&str]) -> io::Result<()> {
    run("ip", args)
}

fn run(cmd: &str, args: &[&str]) -> io::Result<()> {
    run_with_stdin(cmd, args, "")
}

fn run_with_stdin(cmd: &str, args: &[&str], input: &str) -> io::Result<()> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(cmd)
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
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
