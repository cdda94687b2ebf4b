//! What an attacker tries: trickling a request line, guessing passwords.

mod support;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::chat::msg;
use support::{error_bytes, start_with, Conn};
use tugas5::server::{BRAKE_PAUSE, MAX_FAILED_LOGINS};
use tugas5::ChatServer;

/// A request line trickled a byte at a time is answered "Waktu Habis" and
/// closed once `--timeout` has passed since its first byte, although every
/// single read is well within the timeout.
#[test]
fn a_trickled_request_line_is_cut_at_the_timeout() {
    let timeout = Duration::from_secs(1);
    let server = start_with(ChatServer::with_builtin_users(), timeout);
    let mut c = Conn::open(server.addr());
    let mut writer = c.writer.try_clone().unwrap();
    let started = Instant::now();
    // 21 bytes, one every 300 ms: 6.3 s for the whole line, each gap far
    // shorter than the timeout. The pacing is the attack, not a wait.
    let trickler = thread::spawn(move || {
        for b in b"auth messi surabaya\r\n" {
            if writer.write_all(&[*b]).is_err() {
                return true; // the server closed: cut off
            }
            thread::sleep(Duration::from_millis(300));
        }
        false
    });
    assert_eq!(c.read_raw(), error_bytes(msg::WAKTU_HABIS));
    assert!(c.read_to_close().is_empty(), "nothing after the error");
    let took = started.elapsed();
    assert!(
        took < timeout + Duration::from_secs(3),
        "cut after {took:?}, the timeout is {timeout:?}"
    );
    // The server is still there for others.
    assert!(Conn::open(server.addr()).login("messi").len() > 10);
    let _ = trickler.join();
}

/// A silent connection (no byte at all) is still closed quietly after the
/// timeout, with no answer: nothing was asked.
#[test]
fn a_silent_connection_is_closed_without_an_answer() {
    let server = start_with(ChatServer::with_builtin_users(), Duration::from_millis(300));
    let mut c = Conn::open(server.addr());
    assert!(c.read_to_close().is_empty());
}

/// After MAX_FAILED_LOGINS wrong passwords on one connection, the next
/// wrong one gets "Terlalu Banyak Percobaan" after a pause and the
/// connection ends; another client's correct login meanwhile is answered
/// at once, and so is a new login of the guessed user.
#[test]
fn password_guessing_is_braked_per_connection() {
    let server = start_with(ChatServer::with_builtin_users(), Duration::from_secs(30));
    let mut guesser = Conn::open(server.addr());
    for i in 0..MAX_FAILED_LOGINS {
        let line = if i % 2 == 0 {
            format!("auth messi guess{i}")
        } else {
            format!("auth nobody{i} guess")
        };
        let want = if i % 2 == 0 {
            msg::PASSWORD_SALAH
        } else {
            msg::USER_TIDAK_ADA
        };
        assert_eq!(guesser.raw(&line), error_bytes(want), "guess {i}");
    }
    let sent = Instant::now();
    guesser.send(b"auth messi guess-again\r\n");
    // While the guesser waits, a correct login elsewhere is not held up.
    let mut other = Conn::open(server.addr());
    let t = Instant::now();
    assert!(other.login("messi").len() > 10);
    let other_took = t.elapsed();
    assert!(
        other_took < BRAKE_PAUSE,
        "other client's login took {other_took:?}"
    );
    assert_eq!(
        guesser.read_raw(),
        error_bytes(msg::TERLALU_BANYAK_PERCOBAAN)
    );
    assert!(
        sent.elapsed() >= BRAKE_PAUSE,
        "the brake's answer came after {:?}",
        sent.elapsed()
    );
    assert!(guesser.read_to_close().is_empty(), "closed after the brake");
    // A new connection starts with a clean slate.
    let mut again = Conn::open(server.addr());
    assert_eq!(
        again.raw("auth messi wrong"),
        error_bytes(msg::PASSWORD_SALAH)
    );
    assert!(again.login("messi").len() > 10);
}

/// Successful logins and other errors do not count towards the brake.
#[test]
fn correct_logins_and_other_errors_are_not_braked() {
    let server = start_with(ChatServer::with_builtin_users(), Duration::from_secs(30));
    let mut c = Conn::open(server.addr());
    for _ in 0..3 * MAX_FAILED_LOGINS {
        assert!(c.login("henderson").len() > 10);
        assert_eq!(
            c.raw("inbox nope"),
            error_bytes(msg::SESSION_TIDAK_DITEMUKAN)
        );
    }
    assert!(c.login("lineker").len() > 10);
}
