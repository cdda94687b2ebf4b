//! Segmentation offload (several DATA datagrams per system call, cut by
//! the kernel) and receive offload must not change what is on the wire:
//! a plain std socket receives exactly the protocol's datagrams, and a
//! kernel that refuses the offload still gets the file across.

mod support;

use std::fs;
use std::net::UdpSocket;
use std::time::Duration;

use support::*;
use tugas2::protocol::{Datagram, Message, HEADER_LEN, MAX_DATAGRAM};
use tugas2::receiver::ReceiveOptions;
use tugas2::sender::{self, SendOptions, SendReport};

/// What a fake receiver (a plain std socket) saw of one transfer.
struct Seen {
    /// Every DATA datagram's chunk index and payload, in arrival order
    /// (a retransmission shows up twice).
    data: Vec<(u32, Vec<u8>)>,
    report: SendReport,
}

/// Sends `data` on `socket` to a fake receiver that records every
/// datagram, answers START with ACK 0, acknowledges what it has whenever
/// its queue runs dry, and says DONE once every chunk came.
fn send_to_a_plain_socket(fake: UdpSocket, socket: UdpSocket, data: Vec<u8>) -> Seen {
    fake.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Room for the whole window, so none is dropped and they come in order.
    tugas2::enlarge_buffers(&fake);
    let count = data.len().div_ceil(1024);
    let sender = std::thread::spawn(move || {
        let opts = SendOptions {
            give_up: Duration::from_secs(10),
            window: 64,
            offload: true,
            ..SendOptions::default()
        };
        let size = data.len() as u64;
        sender::send_reader(&socket, "f.bin", size, &data[..], &opts, &mut Vec::new())
    });
    let mut buf = vec![0u8; 65536];
    let mut have = vec![false; count];
    let mut cumulative = 0usize;
    let mut seen = Vec::new();
    loop {
        let (n, peer) = fake.recv_from(&mut buf).unwrap();
        assert!(n <= MAX_DATAGRAM, "a datagram of {n} bytes on the wire");
        let d = Datagram::decode(&buf[..n]).unwrap();
        match d.msg {
            Message::Start { chunk, .. } => assert_eq!(chunk, 1024),
            Message::Data { seq, bytes } => {
                assert_eq!(n, HEADER_LEN + bytes.len());
                have[seq as usize] = true;
                seen.push((seq, bytes));
            }
            other => panic!("unexpected {other:?}"),
        }
        while cumulative < count && have[cumulative] {
            cumulative += 1;
        }
        let reply = if cumulative == count {
            Message::Done {
                count: count as u32,
            }
        } else {
            Message::Ack {
                cumulative: cumulative as u32,
                sack: Vec::new(),
            }
        };
        fake.set_nonblocking(true).unwrap();
        let queue_empty = fake.peek_from(&mut buf).is_err();
        fake.set_nonblocking(false).unwrap();
        if queue_empty || cumulative == count {
            fake.send_to(&Datagram::new(d.id, reply).encode(), peer)
                .unwrap();
        }
        if cumulative == count {
            break;
        }
    }
    let report = sender.join().unwrap().unwrap();
    Seen { data: seen, report }
}

/// Every chunk of `data` was on the wire as exactly one datagram of the
/// protocol, first seen in order (the batches keep their order), and any
/// second copy (a retransmission) is identical.
fn assert_the_wire_carried(seen: &Seen, data: &[u8]) {
    let count = data.len().div_ceil(1024);
    let mut next = 0u32;
    for (seq, bytes) in &seen.data {
        let start = *seq as usize * 1024;
        let expected = &data[start..(start + 1024).min(data.len())];
        assert_eq!(bytes, expected, "chunk {seq}");
        if *seq == next {
            next += 1;
        } else {
            assert!(*seq < next, "chunk {seq} before chunk {next}");
        }
    }
    assert_eq!(next as usize, count);
    assert!(
        seen.data.len() - count <= seen.report.retransmissions as usize,
        "{} datagrams for {count} chunks, {:?}",
        seen.data.len(),
        seen.report
    );
}

fn fake_and_sender() -> (UdpSocket, UdpSocket) {
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    let socket = sender::connect_socket(fake.local_addr().unwrap()).unwrap();
    (fake, socket)
}

#[test]
fn segmented_sends_put_the_protocols_datagrams_on_the_wire_last_chunk_short() {
    let data = every_byte_value(300 * 1024 + 100);
    let (fake, socket) = fake_and_sender();
    let seen = send_to_a_plain_socket(fake, socket, data.clone());
    assert_the_wire_carried(&seen, &data);
    assert_eq!(
        seen.data.iter().find(|(s, _)| *s == 300).unwrap().1.len(),
        100
    );
    if cfg!(target_os = "linux") {
        assert!(seen.report.segmented_sends > 0, "{:?}", seen.report);
    }
}

#[test]
fn segmented_sends_put_the_protocols_datagrams_on_the_wire_whole_chunks_only() {
    let data = every_byte_value(256 * 1024);
    let (fake, socket) = fake_and_sender();
    let seen = send_to_a_plain_socket(fake, socket, data.clone());
    assert_the_wire_carried(&seen, &data);
    assert!(seen.data.iter().all(|(_, b)| b.len() == 1024));
    if cfg!(target_os = "linux") {
        assert!(seen.report.segmented_sends > 0, "{:?}", seen.report);
    }
}

/// A socket on which the kernel refuses segmentation at send time (no UDP
/// checksums): the sender notices and sends the same datagrams with
/// `sendmmsg`.
#[cfg(target_os = "linux")]
fn refusing(socket: UdpSocket) -> UdpSocket {
    tugas2::sys::set_no_checksum(&socket).unwrap();
    socket
}

#[test]
#[cfg(target_os = "linux")]
fn a_kernel_refusing_segmentation_gets_the_same_datagrams_one_by_one() {
    let data = every_byte_value(200 * 1024 + 1);
    let (fake, socket) = fake_and_sender();
    let seen = send_to_a_plain_socket(fake, refusing(socket), data.clone());
    assert_the_wire_carried(&seen, &data);
    assert_eq!(seen.report.segmented_sends, 0, "{:?}", seen.report);
}

#[test]
#[cfg(target_os = "linux")]
fn a_kernel_refusing_segmentation_still_delivers_the_file() {
    let dir = TempDir::new("refused");
    let rx = spawn_receiver(receive_options(&dir));
    let data = every_byte_value(2 * 1024 * 1024 + 7);
    let socket = refusing(sender::connect_socket(rx.addr).unwrap());
    let report = sender::send_reader(
        &socket,
        "f.bin",
        data.len() as u64,
        &data[..],
        &send_options(),
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(report.segmented_sends, 0);
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), data);
}

#[test]
fn every_combination_of_offload_on_both_sides_delivers_the_file() {
    let data = every_byte_value(3 * 1024 * 1024 + 5);
    for (send_offload, receive_offload) in [(true, true), (true, false), (false, true)] {
        let dir = TempDir::new("offload");
        let rx = spawn_receiver(ReceiveOptions {
            offload: receive_offload,
            ..receive_options(&dir)
        });
        let opts = SendOptions {
            offload: send_offload,
            ..send_options()
        };
        let (result, out) = send_bytes(rx.addr, "f.bin", &data, &opts);
        let report = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(
            fs::read(dir.path().join("data.out")).unwrap(),
            data,
            "offload: send {send_offload}, receive {receive_offload}"
        );
        if !send_offload {
            assert_eq!(report.segmented_sends, 0);
        } else if cfg!(target_os = "linux") {
            assert!(report.segmented_sends > 0, "{report:?}");
        }
        drop(rx);
    }
}

#[test]
fn udp_fileclient_offloads_only_when_told_to() {
    use tugas2::app::{FileClientConfig, UDP_FILECLIENT};
    let config = |args: &[&str]| {
        let m = UDP_FILECLIENT
            .parse(args.iter().map(|a| a.to_string()))
            .unwrap();
        FileClientConfig::from_matches(&m).unwrap()
    };
    assert!(
        !config(&[]).send.offload,
        "a capture on lo shows every datagram"
    );
    assert!(config(&[]).send.batched, "still sendmmsg");
    assert!(config(&["--offload"]).send.offload);
}
