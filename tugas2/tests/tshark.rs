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

mod support;

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
    let (tshark, out_rx) = start_tshark(&filter);
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

/// Starts tshark on `lo` with a capture `filter`, printing each packet's
/// UDP destination port and payload; returns once it says it captures
/// (step 1), with its output lines.
fn start_tshark(filter: &str) -> (Tshark, Receiver<String>) {
    let child = Command::new("tshark")
        .args(["-i", "lo", "-n", "-l", "-f", filter])
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
    (tshark, out_rx)
}

/// What Wireshark shows of `udp_fileclient` on `lo`: by default every
/// DATA datagram is a packet of its own, at most 12 + 1024 bytes of UDP
/// payload; with segmentation offload (`--offload`) `lo` passes a run of
/// them as one large packet (the README's capture note), though the
/// receiver gets the same datagrams.
#[test]
#[ignore = "needs tshark"]
fn tshark_sees_udp_fileclients_datagrams_one_by_one_without_offload() {
    use tugas2::protocol::{Datagram, Message, MAX_DATAGRAM};
    let data: Vec<u8> = (0..100 * 1024 + 5).map(|i| (i % 251) as u8).collect();
    let count = data.len().div_ceil(1024);
    for offload in [false, true] {
        let dir = support::TempDir::new("tshark");
        let rx = support::spawn_receiver(support::receive_options(&dir));
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap(); // marker port: bound, never read
        let sync_addr = sink.local_addr().unwrap();
        let filter = format!(
            "udp port {} or udp dst port {}",
            rx.addr.port(),
            sync_addr.port()
        );
        let (tshark, out_rx) = start_tshark(&filter);
        let marker = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut seen = Vec::new();
        sync(
            &out_rx,
            &marker,
            sync_addr,
            "start",
            rx.addr.port(),
            &mut seen,
        );
        let opts = tugas2::sender::SendOptions {
            offload,
            ..support::send_options()
        };
        let (result, out) = support::send_bytes(rx.addr, "f.bin", &data, &opts);
        let report = result.unwrap_or_else(|e| {
            panic!(
                "{e}
{out}"
            )
        });
        sync(
            &out_rx,
            &marker,
            sync_addr,
            "end",
            rx.addr.port(),
            &mut seen,
        );
        drop(tshark);
        assert_eq!(std::fs::read(dir.path().join("data.out")).unwrap(), data);
        let largest = seen.iter().map(Vec::len).max().unwrap();
        if !offload {
            let mut chunks = vec![false; count];
            for packet in &seen {
                assert!(packet.len() <= MAX_DATAGRAM, "{} bytes", packet.len());
                if let Message::Data { seq, .. } = Datagram::decode(packet).unwrap().msg {
                    chunks[seq as usize] = true;
                }
            }
            assert!(chunks.iter().all(|&c| c), "every chunk in the capture");
        } else if report.segmented_sends > 0 {
            assert!(largest > MAX_DATAGRAM, "largest packet {largest} bytes");
        }
    }
}
