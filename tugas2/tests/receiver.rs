//! The receiver spoken to datagram by datagram, as a sender would (and as
//! a broken or unlucky one would): lost DONE, repeated START, wrong sizes,
//! too many transfers at once; and the sender against a receiver that
//! misses its first START.

mod support;

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use support::*;
use tugas2::protocol::{Datagram, Message};
use tugas2::receiver::{ReceiveOptions, MAX_SESSIONS, MAX_SESSIONS_PER_PEER};

/// A raw client socket with a read timeout, so a missing answer fails the test.
fn raw() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn send(s: &UdpSocket, to: SocketAddr, id: u32, msg: Message) {
    s.send_to(&Datagram::new(id, msg).encode(), to).unwrap();
}

fn answer(s: &UdpSocket) -> Datagram {
    let mut buf = [0u8; 2048];
    let (n, _) = s.recv_from(&mut buf).expect("an answer from the receiver");
    Datagram::decode(&buf[..n]).unwrap()
}

fn start(size: u64) -> Message {
    Message::Start {
        size,
        chunk: 1024,
        name: "raw.bin".into(),
    }
}

#[test]
fn done_is_repeated_for_a_sender_that_missed_it() {
    let dir = TempDir::new("redone");
    let rx = spawn_receiver(receive_options(&dir));
    let s = raw();
    send(&s, rx.addr, 41, start(5));
    assert_eq!(
        answer(&s).msg,
        Message::Ack {
            cumulative: 0,
            sack: vec![]
        }
    );
    // A START sent again (its ACK was lost) is acknowledged again.
    send(&s, rx.addr, 41, start(5));
    assert!(matches!(answer(&s).msg, Message::Ack { cumulative: 0, .. }));
    // A chunk of the wrong length is not part of the file.
    send(
        &s,
        rx.addr,
        41,
        Message::Data {
            seq: 0,
            bytes: b"toolong".to_vec(),
        },
    );
    let data = Message::Data {
        seq: 0,
        bytes: b"hello".to_vec(),
    };
    send(&s, rx.addr, 41, data.clone());
    let done = answer(&s);
    assert_eq!((done.id, done.msg), (41, Message::Done { count: 1 }));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), b"hello");
    // DONE was "lost": the sender resends its last chunk, or START.
    send(&s, rx.addr, 41, data);
    assert_eq!(answer(&s).msg, Message::Done { count: 1 });
    send(&s, rx.addr, 41, start(5));
    assert_eq!(answer(&s).msg, Message::Done { count: 1 });
    // The file was saved once and not touched again.
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), b"hello");
    assert_eq!(dir.names(), ["data.out"]);
}

#[test]
fn too_many_transfers_at_once_are_refused_politely() {
    let dir = TempDir::new("busy");
    let rx = spawn_receiver(receive_options(&dir));
    // Four senders with four transfers each fill the 16 slots (one address
    // may hold only MAX_SESSIONS_PER_PEER).
    let senders: Vec<UdpSocket> = (0..MAX_SESSIONS / MAX_SESSIONS_PER_PEER)
        .map(|_| raw())
        .collect();
    for id in 1..=MAX_SESSIONS as u32 {
        let s = &senders[(id as usize - 1) / MAX_SESSIONS_PER_PEER];
        send(s, rx.addr, id, start(10_000));
        let a = answer(s);
        assert_eq!(a.id, id);
        assert!(matches!(a.msg, Message::Ack { .. }), "{a:?}");
    }
    // While they have all sent nothing since START, a new START takes the
    // slot of the oldest one of a sender holding the most (id 1), which is
    // told so.
    let late = raw();
    send(&late, rx.addr, 998, start(10_000));
    let a = answer(&late);
    assert_eq!(a.id, 998);
    assert!(matches!(a.msg, Message::Ack { .. }), "{a:?}");
    let dropped = answer(&senders[0]);
    assert_eq!(dropped.id, 1);
    assert!(
        matches!(&dropped.msg, Message::Error { reason } if reason.contains("transfer dropped")),
        "{dropped:?}"
    );
    // Once every transfer is moving, a new START is refused.
    let first_chunk = || Message::Data {
        seq: 0,
        bytes: vec![0; 1024],
    };
    for id in 2..=MAX_SESSIONS as u32 {
        let s = &senders[(id as usize - 1) / MAX_SESSIONS_PER_PEER];
        send(s, rx.addr, id, first_chunk());
        assert_eq!(answer(s).id, id);
    }
    send(&late, rx.addr, 998, first_chunk());
    assert_eq!(answer(&late).id, 998);
    let later = raw();
    send(&later, rx.addr, 999, start(10_000));
    let a = answer(&later);
    assert_eq!(a.id, 999);
    assert!(
        matches!(&a.msg, Message::Error { reason } if reason.contains("busy")),
        "{a:?}"
    );
    // The transfers already open still work: finish one of them.
    let s = &senders[0];
    for seq in 0..10u32 {
        let len = if seq == 9 { 10_000 - 9 * 1024 } else { 1024 };
        send(
            s,
            rx.addr,
            3,
            Message::Data {
                seq,
                bytes: vec![seq as u8; len],
            },
        );
    }
    let done = loop {
        let a = answer(s);
        if !matches!(a.msg, Message::Ack { .. }) {
            break a;
        }
    };
    assert_eq!((done.id, done.msg), (3, Message::Done { count: 10 }));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap().len(), 10_000);
}

#[test]
fn one_sender_address_holds_only_a_few_slots() {
    let dir = TempDir::new("perpeer");
    let rx = spawn_receiver(receive_options(&dir));
    let greedy = raw();
    for id in 1..=MAX_SESSIONS_PER_PEER as u32 {
        send(&greedy, rx.addr, id, start(10_000));
        assert!(matches!(answer(&greedy).msg, Message::Ack { .. }));
    }
    send(&greedy, rx.addr, 77, start(10_000));
    let a = answer(&greedy);
    assert_eq!(a.id, 77);
    assert!(
        matches!(&a.msg, Message::Error { reason } if reason.contains("too many transfers from")),
        "{a:?}"
    );
    // Another address still gets a slot.
    let other = raw();
    send(&other, rx.addr, 78, start(10_000));
    assert!(matches!(
        answer(&other).msg,
        Message::Ack { cumulative: 0, .. }
    ));
}

#[test]
fn a_repeated_start_without_data_does_not_keep_its_slot() {
    let dir = TempDir::new("startonly");
    let rx = spawn_receiver(ReceiveOptions {
        idle_timeout: Duration::from_secs(1),
        ..receive_options(&dir)
    });
    let s = raw();
    // START again and again (as a greedy client would), never any DATA:
    // the slot must expire anyway, after the idle timeout.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !rx.out.text().contains("timed out") {
        assert!(
            Instant::now() < deadline,
            "a START repeated every 100 ms kept its transfer alive:\n{}",
            rx.out.text()
        );
        send(&s, rx.addr, 5, start(10_000));
        std::thread::sleep(Duration::from_millis(100)); // the attacker's pace
    }
}

#[test]
fn sender_repeats_start_until_the_receiver_answers() {
    // A fake receiver that ignores the first START, as if it were lost.
    let fake = raw();
    let addr = fake.local_addr().unwrap();
    let sender = std::thread::spawn(move || send_bytes(addr, "x", b"", &send_options()));
    let mut buf = [0u8; 2048];
    let (n, _) = fake.recv_from(&mut buf).unwrap();
    let first = Datagram::decode(&buf[..n]).unwrap();
    assert!(matches!(first.msg, Message::Start { size: 0, .. }));
    let (n, peer) = fake.recv_from(&mut buf).unwrap();
    let again = Datagram::decode(&buf[..n]).unwrap();
    assert_eq!(again, first, "the same START, same transfer id");
    send(&fake, peer, first.id, Message::Done { count: 0 });
    let (result, out) = sender.join().unwrap();
    let report = result.unwrap();
    assert_eq!(report.retransmissions, 1);
    assert!(out.contains("terkirim 0 of 0"), "{out}");
}

#[test]
fn stop_returns_with_a_transfer_in_progress_and_leaves_no_file() {
    let dir = TempDir::new("stop");
    let rx = spawn_receiver(receive_options(&dir));
    let s = raw();
    send(&s, rx.addr, 7, start(3000));
    assert!(matches!(answer(&s).msg, Message::Ack { cumulative: 0, .. }));
    send(
        &s,
        rx.addr,
        7,
        Message::Data {
            seq: 0,
            bytes: vec![b'x'; 1024],
        },
    );
    // The receiver holds an unfinished transfer (a temporary file) when stopped.
    let stats = rx.stop().unwrap();
    assert_eq!(stats.saved, 0);
    assert!(dir.names().is_empty(), "{:?}", dir.names());
}

/// Waits (bounded) until the receiver's output contains `what`.
fn wait_for_output(rx: &Receiver, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = rx.out.text();
        if text.contains(what) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {what:?} in:\n{text}");
        std::thread::sleep(Duration::from_millis(20)); // polling the output, bounded
    }
}

#[test]
fn plain_mode_takes_the_course_clients_one_byte_datagrams() {
    // The course's udp_fileclient.py: every byte of the file in a datagram
    // of its own, no header, no end marker.
    let dir = TempDir::new("plain");
    let rx = spawn_receiver(ReceiveOptions {
        plain: Some(Duration::from_secs(2)), // generous: a loaded machine may pause the sender
        ..receive_options(&dir)
    });
    let file = fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/bart.png")).unwrap();
    let s = raw();
    for (i, b) in file.iter().enumerate() {
        s.send_to(&[*b], rx.addr).unwrap();
        if i % 8 == 7 {
            // The course's client prints a line per byte: it is slow. A
            // burst of thousands of datagrams could overflow the socket
            // buffer, and plain datagrams have no retransmission: at most
            // 8 bytes a millisecond, which a receiver keeps up with even
            // under Wine (each recv a round trip to wineserver) on a
            // loaded machine (64 per 2 ms lost a fifth there).
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let text = wait_for_output(&rx, "saved");
    assert!(text.contains(&format!("{} bytes", file.len())), "{text}");
    assert!(
        text.contains(&format!("({} plain datagrams from", file.len())),
        "{text}"
    );
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap(), file);
    assert_eq!(dir.names(), ["data.out"], "temporary file left behind");
}

#[test]
fn plain_mode_ends_a_file_at_an_empty_datagram_and_keeps_senders_apart() {
    let dir = TempDir::new("plainend");
    let rx = spawn_receiver(ReceiveOptions {
        plain: Some(Duration::from_secs(30)), // too long to matter: the empty datagram ends it
        ..receive_options(&dir)
    });
    let (a, b) = (raw(), raw());
    a.send_to(b"hello ", rx.addr).unwrap();
    b.send_to(b"OTHER", rx.addr).unwrap();
    a.send_to(b"world", rx.addr).unwrap();
    a.send_to(b"", rx.addr).unwrap();
    wait_for_output(&rx, "saved");
    assert_eq!(
        fs::read(dir.path().join("data.out")).unwrap(),
        b"hello world"
    );
    // Datagrams of ours are plain bytes in this mode too: no answer comes.
    s_no_answer(&b);
}

fn s_no_answer(s: &UdpSocket) {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(s.recv_from(&mut buf).is_err(), "plain mode never answers");
}
