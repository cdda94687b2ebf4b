//! 50 clients at once: 45 senders (logged in as 5 users) send 200 numbered
//! messages each while 5 pollers (one per user) keep reading their inbox.
//! Every message must arrive exactly once, and in order for each
//! sender/receiver pair.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::chat::{Response, UserRecord};
use support::{start_with, Conn};
use tugas5::ChatServer;

const USERS: usize = 5;
const SENDERS: usize = 45;
const MESSAGES: usize = 200;
/// The whole test must finish well within this, or it fails.
const DEADLINE: Duration = Duration::from_secs(60);

fn username(u: usize) -> String {
    format!("u{u}")
}

/// Who sender `client` writes its message number `n` to: it cycles through
/// every user, so each sender talks to each receiver (itself included).
fn receiver(client: usize, n: usize) -> usize {
    (client + n) % USERS
}

#[test]
fn fifty_clients_no_message_lost_duplicated_or_reordered() {
    let users = (0..USERS)
        .map(|u| UserRecord::new(&username(u), "pw", &format!("User {u}"), "Lab"))
        .collect();
    let server = start_with(ChatServer::new(users).unwrap(), Duration::from_secs(30));
    let addr = server.addr();
    let started = Instant::now();
    let barrier = Arc::new(std::sync::Barrier::new(SENDERS + USERS));

    let mut senders = Vec::new();
    for client in 0..SENDERS {
        let barrier = Arc::clone(&barrier);
        senders.push(thread::spawn(move || {
            let mut c = Conn::open(addr);
            let me = client % USERS;
            let Response::Token(t) = c.req(&format!("auth {} pw", username(me))) else {
                panic!("sender {client} could not log in")
            };
            barrier.wait();
            for n in 0..MESSAGES {
                let to = username(receiver(client, n));
                let r = c.req(&format!("send {t} {to} c{client} n{n}"));
                assert_eq!(
                    r,
                    Response::Message("Message Sent".into()),
                    "sender {client} msg {n}"
                );
            }
        }));
    }

    // What each receiver must get: per sender client, the numbers in order.
    let mut expected: Vec<HashMap<usize, Vec<usize>>> = vec![HashMap::new(); USERS];
    for client in 0..SENDERS {
        for n in 0..MESSAGES {
            expected[receiver(client, n)]
                .entry(client)
                .or_default()
                .push(n);
        }
    }
    let mut pollers = Vec::new();
    for (me, want) in expected.into_iter().enumerate() {
        let barrier = Arc::clone(&barrier);
        pollers.push(thread::spawn(move || {
            let total: usize = want.values().map(Vec::len).sum();
            let mut c = Conn::open(addr);
            let Response::Token(t) = c.req(&format!("auth {} pw", username(me))) else {
                panic!("poller {me} could not log in")
            };
            barrier.wait();
            let mut got: HashMap<usize, Vec<usize>> = HashMap::new();
            let mut count = 0;
            let mut polls = 0;
            while count < total {
                assert!(
                    started.elapsed() < DEADLINE,
                    "poller {me}: only {count} of {total} messages after {DEADLINE:?}"
                );
                let Response::Inbox(inbox) = c.req(&format!("inbox {t}")) else {
                    panic!("poller {me}: inbox failed")
                };
                polls += 1;
                for (from, m) in inbox.iter() {
                    let (client, n) = parse(&m.msg);
                    assert_eq!(from, username(client % USERS), "{m:?}");
                    assert_eq!(m.msg_from, format!("User {}", client % USERS));
                    assert_eq!(m.msg_to, format!("User {me}"));
                    got.entry(client).or_default().push(n);
                    count += 1;
                }
            }
            // Nothing more may come: no duplicates sneaking in late.
            let Response::Inbox(rest) = c.req(&format!("inbox {t}")) else {
                panic!()
            };
            assert!(rest.is_empty(), "poller {me}: extra messages {rest:?}");
            (got, want, polls)
        }));
    }

    for s in senders {
        s.join().expect("a sender failed");
    }
    let mut total_polls = 0;
    for (me, p) in pollers.into_iter().enumerate() {
        let (got, want, polls) = p.join().expect("a poller failed");
        total_polls += polls;
        assert_eq!(got.len(), want.len(), "receiver {me}: senders differ");
        for (client, numbers) in &want {
            assert_eq!(
                got.get(client),
                Some(numbers),
                "receiver {me} from client {client}: lost, duplicated or out of order"
            );
        }
    }
    // The pollers really ran concurrently with the senders (many polls, not one).
    assert!(total_polls > USERS, "only {total_polls} polls");
}

/// "c12 n34" -> (12, 34)
fn parse(text: &str) -> (usize, usize) {
    let (c, n) = text.split_once(' ').expect("two words");
    (
        c.strip_prefix('c').unwrap().parse().unwrap(),
        n.strip_prefix('n').unwrap().parse().unwrap(),
    )
}
