//! The file transfer over real UDP sockets on loopback: directly, and
//! through a relay that drops, duplicates and reorders datagrams.

mod support;

use std::fs;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use support::*;
use tugas2::protocol::{Datagram, Message, HEADER_LEN, MAX_DATAGRAM};
use tugas2::receiver::ReceiveOptions;
use tugas2::relay::{LossConfig, Relay};
use tugas2::sender::{self, SendError, SendOptions};

const BART: &[u8] = include_bytes!("../bart.png");

#[test]
fn empty_file_arrives_as_an_empty_file() {
    let dir = TempDir::new("empty");
    let rx = spawn_receiver(receive_options(&dir));
    let (result, out) = send_bytes(rx.addr, "empty.txt", b"", &send_options());
    let report = result.unwrap();
    assert_eq!(report.bytes, 0);
    assert_eq!(report.chunks, 0);
    assert!(out.contains("terkirim 0 of 0"), "{out}");
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), b"");
    assert_eq!(dir.names(), ["data.out"]);
}

#[test]
fn bart_png_arrives_byte_identical_with_progress_on_both_sides() {
    let dir = TempDir::new("bart");
    let rx = spawn_receiver(receive_options(&dir));
    let (result, out) = send_bytes(rx.addr, "bart.png", BART, &send_options());
    let report = result.unwrap();
    assert_eq!(report.chunks as usize, BART.len().div_ceil(1024));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), BART);
    let total = BART.len();
    assert!(
        out.contains(&format!("terkirim {total} of {total}")),
        "{out}"
    );
    assert!(out.contains("sending bart.png"), "{out}");
    // The receiver prints before it answers DONE, so its lines are there.
    let rx_out = rx.out.text();
    assert!(
        rx_out.contains(&format!("received 1024 of {total} from 127.0.0.1:")),
        "{rx_out}"
    );
    assert!(
        rx_out.contains(&format!("received {total} of {total} from")),
        "{rx_out}"
    );
    assert!(rx_out.contains("saved "), "{rx_out}");
}

#[test]
fn multi_datagram_file_with_every_byte_value() {
    let dir = TempDir::new("multi");
    let rx = spawn_receiver(receive_options(&dir));
    let data = every_byte_value(300 * 1024 + 77);
    let (result, out) = send_bytes(rx.addr, "pattern.bin", &data, &send_options());
    let report = result.unwrap();
    assert_eq!(report.chunks, 301);
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), data);
    assert_eq!(dir.names(), ["data.out"], "temporary file left behind");
    // Progress every tenth: several lines, the last one complete.
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("terkirim")).collect();
    assert!(lines.len() >= 2, "{out}");
    assert_eq!(
        *lines.last().unwrap(),
        format!("terkirim {0} of {0}", data.len())
    );
}

#[test]
fn every_datagram_respects_the_1024_byte_payload_limit() {
    // A fake receiver: records the sender's datagrams and answers like the
    // real one would, so the sizes on the wire can be checked directly.
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = fake.local_addr().unwrap();
    let data = every_byte_value(5000);
    let sender = std::thread::spawn(move || send_bytes(addr, "five.bin", &data, &send_options()));
    let mut buf = [0u8; 65536];
    let mut seen = [false; 5];
    let mut sizes = Vec::new();
    while seen.iter().any(|s| !s) {
        let (n, peer) = fake.recv_from(&mut buf).unwrap();
        assert!(n <= MAX_DATAGRAM && n - HEADER_LEN <= 1024, "{n} bytes");
        let d = Datagram::decode(&buf[..n]).unwrap();
        match d.msg {
            Message::Start { size, chunk, .. } => {
                assert_eq!((size, chunk), (5000, 1024));
                let ack = Message::Ack {
                    cumulative: 0,
                    sack: vec![],
                };
                fake.send_to(&Datagram::new(d.id, ack).encode(), peer)
                    .unwrap();
            }
            Message::Data { seq, bytes } => {
                sizes.push((seq, bytes.len()));
                seen[seq as usize] = true;
                if seen.iter().all(|s| *s) {
                    let done = Datagram::new(d.id, Message::Done { count: 5 });
                    fake.send_to(&done.encode(), peer).unwrap();
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let (result, _) = sender.join().unwrap();
    result.unwrap();
    sizes.sort();
    sizes.dedup();
    assert_eq!(
        sizes,
        [(0, 1024), (1, 1024), (2, 1024), (3, 1024), (4, 5000 - 4096)]
    );
}

#[test]
fn lossy_link_that_drops_duplicates_and_reorders() {
    let dir = TempDir::new("lossy");
    let rx = spawn_receiver(receive_options(&dir));
    let relay = Relay::spawn(
        rx.addr,
        LossConfig {
            drop_percent: 10,
            duplicate_percent: 5,
            reorder_percent: 10,
            seed: 2024,
        },
    )
    .unwrap();
    let data = every_byte_value(2 * 1024 * 1024 + 5);
    let opts = SendOptions {
        window: 64,
        ..send_options()
    };
    let (result, out) = send_bytes(relay.addr(), "lossy.bin", &data, &opts);
    let report = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), data);
    let stats = relay.stats();
    // The link really was bad, and the sender noticed.
    assert!(stats.dropped > 100, "{stats:?}");
    assert!(
        stats.dropped_upstream > 50 && stats.dropped_upstream < stats.dropped,
        "both directions lose datagrams: {stats:?}"
    );
    assert!(stats.duplicated > 50, "{stats:?}");
    assert!(stats.reordered > 50, "{stats:?}");
    assert!(report.retransmissions > 0, "{report:?}");
    // Every START or DATA the relay dropped was sent again, and little
    // else was: retransmissions match the losses.
    assert!(
        report.retransmissions + 10 >= stats.dropped_upstream
            && report.retransmissions <= stats.dropped_upstream * 2 + 50,
        "{} retransmissions for {} datagrams lost on the way: {report:?} {stats:?}",
        report.retransmissions,
        stats.dropped_upstream
    );
    assert_eq!(dir.names(), ["data.out"]);
}

#[test]
fn very_lossy_link_still_delivers() {
    let dir = TempDir::new("verylossy");
    let rx = spawn_receiver(receive_options(&dir));
    let relay = Relay::spawn(
        rx.addr,
        LossConfig {
            drop_percent: 30,
            duplicate_percent: 20,
            reorder_percent: 30,
            seed: 7,
        },
    )
    .unwrap();
    let data = every_byte_value(100 * 1024 + 1);
    let opts = SendOptions {
        window: 16,
        ..send_options()
    };
    let (result, out) = send_bytes(relay.addr(), "worse.bin", &data, &opts);
    result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), data);
}

#[test]
fn sender_gives_up_when_the_receiver_never_answers() {
    // A socket that is bound (so no "port unreachable") but never reads.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let opts = SendOptions {
        give_up: Duration::from_millis(800),
        ..SendOptions::default()
    };
    let started = Instant::now();
    let (result, _) = send_bytes(silent.local_addr().unwrap(), "x", BART, &opts);
    let waited = started.elapsed();
    match result {
        Err(e @ SendError::NoAnswer { acked: 0, .. }) => {
            let text = e.to_string();
            assert!(text.contains("gave no answer"), "{text}");
            assert!(text.contains("giving up"), "{text}");
        }
        other => panic!("expected NoAnswer, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(800), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn sender_gives_up_when_the_receiver_goes_silent_mid_transfer() {
    // Answers START, then nothing: the sender must stop after give_up.
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = fake.local_addr().unwrap();
    let data = every_byte_value(50_000);
    let sender = std::thread::spawn(move || {
        let opts = SendOptions {
            give_up: Duration::from_millis(700),
            ..SendOptions::default()
        };
        send_bytes(addr, "gone.bin", &data, &opts)
    });
    let mut buf = [0u8; 2048];
    let (n, peer) = fake.recv_from(&mut buf).unwrap();
    let d = Datagram::decode(&buf[..n]).unwrap();
    assert!(matches!(d.msg, Message::Start { .. }));
    let ack = Message::Ack {
        cumulative: 0,
        sack: vec![],
    };
    fake.send_to(&Datagram::new(d.id, ack).encode(), peer)
        .unwrap();
    let (result, _) = sender.join().unwrap();
    assert!(
        matches!(result, Err(SendError::NoAnswer { .. })),
        "{result:?}"
    );
}

#[test]
fn nothing_listening_is_reported_at_once() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // the socket is closed again here
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let (result, _) = send_bytes(addr, "x", BART, &send_options());
    match result {
        Err(e @ SendError::Refused(_)) => {
            assert!(e.to_string().contains("is udp_fileserver running"), "{e}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[test]
fn datagrams_of_another_transfer_are_ignored() {
    // A fake receiver that answers everything with DONE/ERROR of a different
    // transfer id: a late datagram of an earlier transfer. The sender must
    // neither finish nor fail on them, only give up for lack of a real answer.
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let addr = fake.local_addr().unwrap();
    let sender = std::thread::spawn(move || {
        let opts = SendOptions {
            give_up: Duration::from_millis(600),
            ..SendOptions::default()
        };
        send_bytes(addr, "bart.png", BART, &opts)
    });
    let mut buf = [0u8; 2048];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let Ok((n, peer)) = fake.recv_from(&mut buf) else {
            if sender.is_finished() {
                break;
            }
            continue;
        };
        let d = Datagram::decode(&buf[..n]).unwrap();
        let stale = d.id.wrapping_add(1);
        for msg in [
            Message::Done { count: 4 },
            Message::Error {
                reason: "old".into(),
            },
        ] {
            fake.send_to(&Datagram::new(stale, msg).encode(), peer)
                .unwrap();
        }
        fake.send_to(b"not even a datagram of ours", peer).unwrap();
    }
    let (result, _) = sender.join().unwrap();
    assert!(
        matches!(result, Err(SendError::NoAnswer { .. })),
        "{result:?}"
    );
}

#[test]
fn receiver_survives_garbage_and_then_serves_a_real_transfer() {
    let dir = TempDir::new("garbage");
    let opts = ReceiveOptions {
        max_transfers: Some(1),
        ..receive_options(&dir)
    };
    let mut rx = spawn_receiver(opts);
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut garbage: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"hello".to_vec(),
        b"PJ".to_vec(),
        b"PJ\x01\x02\0\0".to_vec(),               // truncated header
        b"PJ\x07\x02\0\0\0\x01\0\0\0\0".to_vec(), // unknown version
        b"PJ\x01\x99\0\0\0\x01\0\0\0\0".to_vec(), // unknown type
        vec![0xFF; 1400],                         // too long
        // START with chunk size 0
        b"PJ\x01\x01\0\0\0\x09\0\0\0\0\0\0\0\0\0\0\0\x10\0\0\0".to_vec(),
        // ACK and DONE are for senders, not receivers
        Datagram::new(
            5,
            Message::Ack {
                cumulative: 1,
                sack: vec![1],
            },
        )
        .encode(),
        Datagram::new(5, Message::Done { count: 1 }).encode(),
    ];
    let mut x = 99u64;
    for len in [1usize, 11, 12, 13, 100, 1036, 1037] {
        garbage.push(
            (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (x >> 33) as u8
                })
                .collect(),
        );
    }
    for g in &garbage {
        probe.send_to(g, rx.addr).unwrap();
    }
    // DATA of a transfer the receiver never heard of: it answers ERROR.
    let stray = Datagram::new(
        0xABCD,
        Message::Data {
            seq: 3,
            bytes: vec![1, 2, 3],
        },
    );
    probe.send_to(&stray.encode(), rx.addr).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = probe.recv_from(&mut buf).unwrap();
    let reply = Datagram::decode(&buf[..n]).unwrap();
    assert_eq!(reply.id, 0xABCD);
    assert!(
        matches!(&reply.msg, Message::Error { reason } if reason.contains("unknown transfer")),
        "{reply:?}"
    );
    // Still serving: a real file goes through.
    let (result, out) = send_bytes(rx.addr, "bart.png", BART, &send_options());
    result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), BART);
    let stats = rx.join().unwrap();
    assert_eq!(stats.saved, 1);
    assert!(stats.garbage >= 14, "{stats:?}");
}

#[test]
fn a_transfer_that_stops_halfway_leaves_no_file() {
    let dir = TempDir::new("partial");
    let opts = ReceiveOptions {
        idle_timeout: Duration::from_secs(1),
        max_transfers: Some(1),
        ..receive_options(&dir)
    };
    let mut rx = spawn_receiver(opts);
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Message::Start {
        size: 4000,
        chunk: 1024,
        name: "half.bin".into(),
    };
    raw.send_to(&Datagram::new(77, start).encode(), rx.addr)
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = raw.recv_from(&mut buf).unwrap();
    assert!(matches!(
        Datagram::decode(&buf[..n]).unwrap().msg,
        Message::Ack { cumulative: 0, .. }
    ));
    for seq in [0u32, 2] {
        let data = Message::Data {
            seq,
            bytes: vec![7; 1024],
        };
        raw.send_to(&Datagram::new(77, data).encode(), rx.addr)
            .unwrap();
    }
    // Chunk 0 in order, chunk 2 early: cumulative 1, bit 0 (chunk 2) set.
    let (n, _) = raw.recv_from(&mut buf).unwrap();
    let mut ack = Datagram::decode(&buf[..n]).unwrap().msg;
    if matches!(ack, Message::Ack { cumulative: 1, ref sack } if sack.is_empty()) {
        // The two DATA were read in separate batches; the next ACK has both.
        let (n, _) = raw.recv_from(&mut buf).unwrap();
        ack = Datagram::decode(&buf[..n]).unwrap().msg;
    }
    assert_eq!(
        ack,
        Message::Ack {
            cumulative: 1,
            sack: vec![1]
        }
    );
    // While the transfer is open only a temporary file exists; then silence.
    let names = dir.names();
    assert!(
        names.len() == 1 && names[0].starts_with(".data.out") && names[0].ends_with(".part"),
        "{names:?}"
    );
    let stats = rx.join().unwrap();
    assert_eq!((stats.saved, stats.failed), (0, 1));
    assert!(dir.names().is_empty(), "left: {:?}", dir.names());
    assert!(rx.out.text().contains("timed out"), "{}", rx.out.text());
}

#[test]
fn receiver_serves_one_transfer_after_another_and_two_at_once() {
    let dir = TempDir::new("many");
    let rx = spawn_receiver(receive_options(&dir));
    let first = every_byte_value(10_000);
    let second: Vec<u8> = every_byte_value(20_000).into_iter().rev().collect();
    for data in [&first, &second] {
        let (result, out) = send_bytes(rx.addr, "f", data, &send_options());
        result.unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(&fs::read(dir.path().join("data.out")).unwrap(), data);
    }
    // Two senders at the same time: both succeed; the output is one of the
    // two files whole, never a mix.
    let a = every_byte_value(200_000);
    let b: Vec<u8> = a.iter().map(|x| x ^ 0x5A).collect();
    let (a2, b2) = (a.clone(), b.clone());
    let addr = rx.addr;
    let ta = std::thread::spawn(move || send_bytes(addr, "a", &a2, &send_options()));
    let tb = std::thread::spawn(move || send_bytes(addr, "b", &b2, &send_options()));
    ta.join().unwrap().0.unwrap();
    tb.join().unwrap().0.unwrap();
    let got = fs::read(dir.path().join("data.out")).unwrap();
    assert!(got == a || got == b, "output is neither file");
    assert_eq!(dir.names(), ["data.out"]);
}

#[test]
fn send_file_reads_from_disk_and_reports_a_missing_file() {
    let dir = TempDir::new("fromdisk");
    let rx = spawn_receiver(ReceiveOptions {
        output: dir.path().join("out/data.out"),
        ..receive_options(&dir)
    });
    let path = dir.path().join("input.bin");
    let data = every_byte_value(3000);
    fs::write(&path, &data).unwrap();
    let socket = sender::connect_socket(rx.addr).unwrap();
    let mut out = Vec::new();
    let report = sender::send_file(&socket, &path, &send_options(), &mut out).unwrap();
    assert_eq!(report.bytes, 3000);
    assert_eq!(fs::read(dir.path().join("out/data.out")).unwrap(), data);
    let missing = sender::send_file(
        &socket,
        &dir.path().join("nope.png"),
        &send_options(),
        &mut out,
    );
    assert!(
        matches!(&missing, Err(SendError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound),
        "{missing:?}"
    );
}

#[test]
fn lossy_link_on_the_portable_path_one_datagram_per_call() {
    // The same bad link with batching off on both sides: the path every
    // OS without sendmmsg/recvmmsg takes.
    let dir = TempDir::new("portable");
    let rx = spawn_receiver(tugas2::receiver::ReceiveOptions {
        batched: false,
        ..receive_options(&dir)
    });
    let relay = Relay::spawn(
        rx.addr,
        LossConfig {
            drop_percent: 10,
            duplicate_percent: 5,
            reorder_percent: 10,
            seed: 99,
        },
    )
    .unwrap();
    let data = every_byte_value(1024 * 1024 + 3);
    let opts = SendOptions {
        batched: false,
        ..send_options()
    };
    let (result, out) = send_bytes(relay.addr(), "portable.bin", &data, &opts);
    let report = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), data);
    let stats = relay.stats();
    assert!(
        stats.dropped > 50 && stats.duplicated > 20 && stats.reordered > 20,
        "{stats:?}"
    );
    assert!(report.retransmissions > 0, "{report:?}");
}

#[test]
fn lossy_link_with_segmentation_offload() {
    // `udp_fileclient --offload`: runs of datagrams leave in one call each
    // (where the kernel can), through the same bad link.
    let dir = TempDir::new("offload-lossy");
    let rx = spawn_receiver(receive_options(&dir));
    let relay = Relay::spawn(
        rx.addr,
        LossConfig {
            drop_percent: 10,
            duplicate_percent: 5,
            reorder_percent: 10,
            seed: 7,
        },
    )
    .unwrap();
    let data = every_byte_value(2 * 1024 * 1024 + 11);
    // Window 64, as in the other lossy tests: where socket buffers keep the
    // OS default (Windows), 512 in flight overflow them, and those losses
    // the relay never sees would be retransmitted too.
    let opts = SendOptions {
        offload: true,
        window: 64,
        ..send_options()
    };
    let (result, out) = send_bytes(relay.addr(), "offload.bin", &data, &opts);
    let report = result.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), data);
    let stats = relay.stats();
    assert!(stats.dropped_upstream > 100, "{stats:?}");
    assert!(
        report.retransmissions + 10 >= stats.dropped_upstream
            && report.retransmissions <= stats.dropped_upstream * 2 + 50,
        "{report:?} {stats:?}"
    );
    if cfg!(target_os = "linux") {
        assert!(report.segmented_sends > 0, "{report:?}");
    }
    assert_eq!(dir.names(), ["data.out"]);
}

#[test]
fn a_real_transfer_completes_while_another_socket_floods_starts() {
    real_transfer_during_a_start_flood(1);
}

#[test]
fn a_real_transfer_completes_while_sixteen_sockets_flood_starts() {
    // 16 sockets could hold every slot (4 each) were a transfer that sends
    // no DATA not the first to give its slot up.
    real_transfer_during_a_start_flood(16);
}

/// STARTs with new transfer ids from `sockets` sockets, far faster than 16
/// a second, while a real 300 KiB transfer runs: it must complete.
fn real_transfer_during_a_start_flood(sockets: usize) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let dir = TempDir::new("flood");
    let rx = spawn_receiver(receive_options(&dir));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let flooder = {
        let stop = Arc::clone(&stop);
        let count = Arc::clone(&count);
        let to = rx.addr;
        std::thread::spawn(move || {
            // A new transfer id each time (and the same one again), far
            // faster than 16 a second; bounded in case the test hangs.
            // As fast as the receiver answers (each START gets an ACK or
            // an ERROR; at most 128 unanswered in all), not faster than it
            // can read: a flood that overruns the receiver's socket buffer
            // drops the real client's datagrams too, which no receiver
            // can prevent (under Wine, where every recv and send is a
            // round trip to wineserver, an unpaced flood did that for
            // 10 s).
            let socks: Vec<_> = (0..sockets)
                .map(|_| {
                    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                    s
                })
                .collect();
            let in_flight = (128 / sockets as u64).max(8);
            let mut answer = [0u8; MAX_DATAGRAM];
            let (mut sent, mut answered) = (vec![0u64; sockets], vec![0u64; sockets]);
            let mut total = 0u64;
            while !stop.load(Ordering::Relaxed) && total < 2_000_000 {
                let k = total as usize % sockets;
                while sent[k].saturating_sub(answered[k]) >= in_flight {
                    match socks[k].recv(&mut answer) {
                        Ok(_) => answered[k] += 1,
                        // Not every START is answered (the ACKs of a
                        // START repeated may be sent as one): go on.
                        Err(_) => answered[k] = sent[k].saturating_sub(in_flight / 2),
                    }
                }
                let id = (total % 64) as u32 + 1_000;
                let start = tugas2::protocol::Datagram::new(
                    id,
                    tugas2::protocol::Message::Start {
                        size: 1 << 30,
                        chunk: 1024,
                        name: "flood".into(),
                    },
                );
                let _ = socks[k].send_to(&start.encode(), to);
                sent[k] += 1;
                total += 1;
                count.store(total, Ordering::Relaxed);
            }
            total
        })
    };
    // The flood is under way before the real client starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while count.load(Ordering::Relaxed) < 1_000 {
        assert!(Instant::now() < deadline, "the flooder never got going");
        std::thread::yield_now();
    }
    let data = every_byte_value(300 * 1024);
    let (result, out) = send_bytes(rx.addr, "fair.bin", &data, &send_options());
    stop.store(true, Ordering::Relaxed);
    let floods = flooder.join().unwrap();
    result.unwrap_or_else(|e| panic!("{e} (after {floods} flooding STARTs)\n{out}"));
    assert!(floods > 16, "the flood sent only {floods} STARTs");
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), data);
}
