//! "Two computers": the receiver in one network namespace, the sender in
//! another, joined by a veth cable that drops 10% of the packets each end
//! sends. The file must still arrive byte-identical.
//!
//! Needs root and iproute2, plus `tc netem` or nftables for the loss (this
//! project's CI kernel has no netem, so the nftables egress rule
//! `numgen random mod 100 < 10 drop` does the dropping there). The hosts
//! come from `common::testkit::netns`: each side's socket is made on a thread that
//! entered that host's namespace, so the datagrams really cross the cable.

mod support;

use std::fs;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use common::stop::Shutdown;
use common::testkit::netns::{Side, TwoHosts};
use support::{every_byte_value, TempDir};
use tugas2::receiver::{self, ReceiveOptions};
use tugas2::sender::{self, SendOptions};

const LOSS_PERCENT: u32 = 10;

#[test]
#[ignore = "needs ip netns"]
fn lossy_transfer_between_two_network_namespaces() {
    let dir = TempDir::new("netns");
    let input = dir.path().join("input.bin");
    let output = dir.path().join("data.out");
    let data = every_byte_value(2 * 1024 * 1024 + 333);
    fs::write(&input, &data).unwrap();

    let hosts = TwoHosts::up().expect("cannot create network namespaces (needs root and iproute2)");
    let how = hosts.lossy(LOSS_PERCENT).expect("cannot add packet loss");
    println!("loss: {LOSS_PERCENT}% each direction by {how}");

    // Host A: the receiver, for one file.
    let socket = hosts
        .run_in(Side::A, || UdpSocket::bind((TwoHosts::IP_A, 0)))
        .unwrap()
        .expect("bind in host A");
    let addr = socket.local_addr().unwrap();
    let opts = ReceiveOptions {
        output: PathBuf::from(&output),
        idle_timeout: Duration::from_secs(20),
        max_transfers: Some(1),
        progress_step: 0.25,
        ..ReceiveOptions::default()
    };
    let receiving = thread::spawn(move || {
        receiver::run_server(&socket, &opts, &Shutdown::new(), &mut std::io::sink())
    });

    // Host B: the sender.
    let report = hosts
        .run_in(Side::B, move || {
            let socket = sender::connect_socket(addr).map_err(|e| e.to_string())?;
            let opts = SendOptions {
                give_up: Duration::from_secs(20),
                progress_step: 0.25,
                ..SendOptions::default()
            };
            sender::send_file(&socket, &input, &opts, &mut std::io::sink())
                .map_err(|e| e.to_string())
        })
        .unwrap()
        .unwrap_or_else(|e| panic!("sender failed: {e}"));
    let stats = receiving.join().unwrap().expect("receiver failed");

    println!("sender: {} retransmissions", report.retransmissions);
    assert_eq!(stats.saved, 1);
    assert!(fs::read(&output).unwrap() == data, "file differs");
    // 10% loss on ~2100 datagrams: the sender must have noticed some.
    assert!(
        report.retransmissions > 20,
        "loss not in effect? {} retransmissions",
        report.retransmissions
    );
}
