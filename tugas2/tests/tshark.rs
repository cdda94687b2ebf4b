//! What Wireshark would show: capture `udp_simple --count 3` on loopback
//! with tshark (Wireshark's command-line twin) and find the three payloads.
//!
//! Needs tshark and the right to capture (root, or the wireshark group).
//! tshark starts capturing a little after it prints "Capturing on" and
//! reports packets late, so the test does not sleep and hope: it sends
//! marker datagrams to a second port until tshark reports one (the capture
//! is live), runs the sender, then sends markers again until tshark reports
//! a new one (everything sent before it has been seen).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tugas2::simple;

/// Kills tshark when the test ends, also when it fails.
struct Tshark(Child);

impl Drop for Tshark {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Decodes tshark's `udp.payload` field: hex, with or without colons.
fn unhex(field: &str) -> Vec<u8> {
    let hex: Vec<u8> = field.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    hex.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Sends a marker of this `phase` to `sync` every 250 ms until tshark
/// reports one of them (markers of an earlier phase may still be on their
/// way through tshark: they do not count); collects the payloads it
/// reported for `port` meanwhile.
fn sync(
    lines: &Receiver<String>,
    marker: &UdpSocket,
    sync: SocketAddr,
    phase: &str,
    port: u16,
    seen: &mut Vec<Vec<u8>>,
) {
    let tag = format!("tugas2-sync-{phase}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut next_marker = Instant::now();
    loop {
        if Instant::now() >= next_marker {
            marker.send_to(tag.as_bytes(), sync).unwrap();
            next_marker = Instant::now() + Duration::from_millis(250);
        }
        assert!(
            Instant::now() < deadline,
            "tshark reported no marker within 20 s"
        );
        match lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                let mut fields = line.split('\t');
                let dst: u16 = fields.next().unwrap_or("").trim().parse().unwrap_or(0);
                let payload = unhex(fields.next().unwrap_or(""));
                if dst == sync.port() && payload == tag.as_bytes() {
                    return;
                }
                if dst == port {
                    seen.push(payload);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("tshark stopped"),
        }
    }
}

#[test]
#[ignore = "needs tshark"]
fn tshark_sees_ini_angka_1_to_3_on_loopback() {
    // Stand-ins for port 5005: free ports, so the test runs beside anything.
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap(); // marker port: bound, never read
    let sync_addr = sink.local_addr().unwrap();
    let filter = format!(
        "udp port {} or udp dst port {}",
        server_addr.port(),
        sync_addr.port()
    );
    let child = Command::new("tshark")
        .args(["-i", "lo", "-n", "-l", "-f", &filter])
        .args(["-T", "fields", "-e", "udp.dstport", "-e", "udp.payload"])
        .args(["-a", "duration:120"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run tshark: {e} (install it: apt-get install tshark)"));
    let mut tshark = Tshark(child);
    let (err_tx, err_rx) = mpsc::channel();
    let stderr = tshark.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if err_tx.send(line).is_err() {
                break;
            }
        }
    });
    let (out_tx, out_rx) = mpsc::channel();
    let stdout = tshark.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if out_tx.send(line).is_err() {
                break;
            }
        }
    });
    // 1. tshark says it captures.
    let mut said = Vec::new();
    loop {
        match err_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains("Capturing on") => break,
            Ok(line) => said.push(line),
            Err(_) => panic!("tshark did not start capturing: {said:?}"),
        }
    }
    // 2. The capture is live once it reports a marker.
    let marker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seen = Vec::new();
    sync(
        &out_rx,
        &marker,
        sync_addr,
        "start",
        server_addr.port(),
        &mut seen,
    );
    // 3. udp_simple --count 3, to the stand-in server.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut printed = Vec::new();
    simple::send_numbers(
        &client,
        server_addr,
        3,
        Duration::from_millis(100),
        &mut printed,
    )
    .unwrap();
    // 4. Everything sent so far has been reported once a new marker is.
    sync(
        &out_rx,
        &marker,
        sync_addr,
        "end",
        server_addr.port(),
        &mut seen,
    );
    drop(tshark);

    let texts: Vec<String> = seen
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert_eq!(texts, ["ini angka 1", "ini angka 2", "ini angka 3"]);
    // And the server side did receive them.
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    for want in ["ini angka 1", "ini angka 2", "ini angka 3"] {
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], want.as_bytes());
        assert_eq!(from, client.local_addr().unwrap());
    }
}
