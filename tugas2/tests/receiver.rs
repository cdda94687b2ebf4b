//! The receiver spoken to datagram by datagram, as a sender would (and as
//! a broken or unlucky one would): lost DONE, repeated START, wrong sizes,
//! too many transfers at once; and the sender against a receiver that
//! misses its first START.

mod support;

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use support::*;
use tugas2::protocol::{Datagram, Message};
use tugas2::receiver::MAX_SESSIONS;

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
    let s = raw();
    for id in 1..=MAX_SESSIONS as u32 {
        send(&s, rx.addr, id, start(10_000));
        let a = answer(&s);
        assert_eq!(a.id, id);
        assert!(matches!(a.msg, Message::Ack { .. }), "{a:?}");
    }
    send(&s, rx.addr, 999, start(10_000));
    let a = answer(&s);
    assert_eq!(a.id, 999);
    assert!(
        matches!(&a.msg, Message::Error { reason } if reason.contains("busy")),
        "{a:?}"
    );
    // The transfers already open still work: finish one of them.
    for seq in 0..10u32 {
        let len = if seq == 9 { 10_000 - 9 * 1024 } else { 1024 };
        send(
            &s,
            rx.addr,
            3,
            Message::Data {
                seq,
                bytes: vec![seq as u8; len],
            },
        );
    }
    let done = loop {
        let a = answer(&s);
        if !matches!(a.msg, Message::Ack { .. }) {
            break a;
        }
    };
    assert_eq!((done.id, done.msg), (3, Message::Done { count: 10 }));
    assert_eq!(fs::read(dir.path().join("data.out")).unwrap().len(), 10_000);
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
