//! The threads that overlap the work of a transfer: the server's
//! read-ahead thread (the next message is taken in while the last one is
//! handled) and the client's answers read straight into reused buffers.
//! A failure in the middle of a pipeline leaves no file, and every thread
//! ends with its connection.

mod support;

use std::fs;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::fileproto::{encode_get_ok, encode_put, read_message, Request, MAX_CHUNK};
use common::stop::Running;
use support::{error_message, pseudo_random, start, start_with, wait_until, Raw, TempDir};
use tugas4::{Client, Config};

fn client(port: u16) -> Client {
    Client::connect("127.0.0.1", port, Duration::from_secs(20)).unwrap()
}

/// Stops the server and checks that every one of its threads was joined
/// within 10 s (a thread left waiting would hold `stop` forever).
fn stop_in_time(server: Running) {
    let (done, stopped) = mpsc::channel();
    thread::spawn(move || {
        server.stop();
        let _ = done.send(());
    });
    assert!(
        stopped.recv_timeout(Duration::from_secs(10)).is_ok(),
        "the server's threads did not end when it stopped"
    );
}

/// `count` PUT messages of `piece` bytes each for `name`, the last with
/// `last` set, as one byte string; and the file they make.
fn pieces(name: &str, count: usize, piece: usize) -> (Vec<u8>, Vec<u8>) {
    let body = pseudo_random(count * piece, 17);
    let mut msgs = Vec::new();
    for (i, bytes) in body.chunks(piece).enumerate() {
        encode_put(name, (i * piece) as u64, i + 1 == count, bytes, &mut msgs);
    }
    (msgs, body)
}

#[test]
fn a_bad_piece_in_a_pipelined_upload_leaves_no_file_and_the_server_goes_on() {
    let dir = TempDir::new("pipe-bad");
    let server = start(dir.path());
    let addr = server.addr();
    // Six pieces of 1 MiB sent at once, without waiting for answers; the
    // fourth has a bad character deep in its base64 (past the first step
    // the server decodes), so it fails while the fifth is being read.
    let (mut msgs, _) = pieces("bad.bin", 6, 1 << 20);
    let fourth = {
        let mut at = 0;
        for _ in 0..3 {
            at += common::framing::find(&msgs[at..], b"\r\n\r\n").unwrap() + 4;
        }
        at
    };
    msgs[fourth + 500_000] = b'*';
    let mut raw = Raw::connect(addr);
    let mut writer = raw.stream.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&msgs));
    for i in 0..3 {
        let a = raw.answer();
        assert_eq!(a["received"].as_u64(), Some((i + 1) << 20), "{a}");
    }
    let e = error_message(&raw.answer());
    assert!(e.contains("unexpected character '*'"), "{e}");
    for _ in 4..6 {
        let e = error_message(&raw.answer());
        assert!(e.contains("no upload of \"bad.bin\" in progress"), "{e}");
    }
    sender.join().unwrap().unwrap();
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    // The same connection goes on, and so does the server.
    assert_eq!(
        raw.ask(r#"{"command":"LIST"}"#)["files"],
        serde_json::json!([])
    );
    let body = pseudo_random(3 * MAX_CHUNK + 5, 3);
    client(addr.port())
        .put(
            "good.bin",
            &mut &body[..],
            body.len() as u64,
            &mut |_, _| (),
        )
        .unwrap();
    assert_eq!(fs::read(dir.path().join("good.bin")).unwrap(), body);
    stop_in_time(server);
}

#[test]
fn a_client_gone_during_a_pipelined_upload_leaves_nothing_and_no_thread() {
    let dir = TempDir::new("pipe-gone");
    let server = start(dir.path());
    let addr = server.addr();
    // 1. Ten pieces of 2 MiB on their way, two answers read, then the
    // client closes with the other answers unread (the server's writes
    // then fail while its read-ahead thread is reading).
    let (msgs, _) = pieces("gone.bin", 10, MAX_CHUNK);
    let mut raw = Raw::connect(addr);
    let mut writer = raw.stream.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&msgs));
    for _ in 0..2 {
        assert_eq!(raw.answer()["saved"], false);
    }
    drop(raw);
    let _ = sender.join().unwrap(); // may fail: the server closed
    wait_until("the upload is discarded", || dir.entries().is_empty());

    // 2. Cut in the middle of the third piece's message, everything
    // before it sent at once.
    let (msgs, _) = pieces("cut.bin", 4, MAX_CHUNK);
    let cut = msgs.len() / 2 + 1000;
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(&msgs[..cut]).unwrap();
    drop(stream);
    wait_until("the upload is discarded", || dir.entries().is_empty());

    // The server still serves, and stops with every thread joined.
    assert!(client(addr.port()).list().unwrap().is_empty());
    stop_in_time(server);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs shutdown() to wake a read blocked in another thread (Windows and Wine do not): the stop at its end waits for the idle client's read-ahead thread"
)]
fn an_upload_goes_through_a_budget_with_no_room_to_read_ahead() {
    // 6 MiB: the first message buffer (4 MiB) fits, a second one for
    // reading ahead does not fit the spare half, so the read-ahead thread
    // waits for the first to come back, piece after piece.
    let dir = TempDir::new("pipe-budget");
    let server = start_with(Config {
        max_buffered: 6 * 1024 * 1024,
        ..Config::new(dir.path())
    });
    let port = server.addr().port();
    let body = pseudo_random(4 * MAX_CHUNK + 1, 9);
    let mut c = client(port);
    c.put(
        "tight.bin",
        &mut &body[..],
        body.len() as u64,
        &mut |_, _| (),
    )
    .unwrap();
    assert_eq!(fs::read(dir.path().join("tight.bin")).unwrap(), body);
    let mut got = Vec::new();
    c.get("tight.bin", &mut got, &mut |_, _| ()).unwrap();
    assert!(got == body, "the download differs");
    stop_in_time(server);
}

/// A fake server for the client: answers each GET request with `answer`
/// (given the range asked), written in pieces of odd sizes, and closes
/// when `answer` gives `None` or the client does.
fn fake_server(
    mut answer: impl FnMut(u64, u64) -> Option<Vec<u8>> + Send + 'static,
) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        while let Ok(Some(msg)) = read_message(&mut reader) {
            let Ok(Request::Get { offset, length, .. }) = Request::decode(&msg) else {
                panic!("not a GET: {}", String::from_utf8_lossy(&msg));
            };
            let Some(bytes) = answer(offset, length.unwrap()) else {
                return;
            };
            for part in bytes.chunks(77_777) {
                if writer.write_all(part).is_err() {
                    return;
                }
            }
        }
    });
    (port, thread)
}

#[test]
fn a_download_whose_base64_stops_being_plain_midway_is_still_right() {
    // Every `/` of the base64 past its first 200 000 characters is sent
    // escaped (`\/`, as JSON allows): the client's one-pass decoder has
    // written the steps before the first escape and must go on after
    // them, not write them twice.
    let body = pseudo_random(2 * MAX_CHUNK + 300_000, 5);
    let total = body.len() as u64;
    let file = body.clone();
    let (port, fake) = fake_server(move |offset, length| {
        let end = (offset + length).min(total);
        let mut msg = Vec::new();
        encode_get_ok(
            "f.bin",
            total,
            offset,
            &file[offset as usize..end as usize],
            &mut msg,
        );
        let at = 200_000;
        let mut out = msg[..at].to_vec();
        for &b in &msg[at..] {
            if b == b'/' {
                out.push(b'\\');
            }
            out.push(b);
        }
        Some(out)
    });
    let mut got = Vec::new();
    let size = client(port).get("f.bin", &mut got, &mut |_, _| ()).unwrap();
    assert_eq!(size, total);
    assert!(got == body, "the download differs");
    fake.join().unwrap();
}

#[test]
fn a_download_cut_in_the_middle_of_an_answer_fails_and_ends() {
    let body = pseudo_random(3 * MAX_CHUNK, 6);
    let total = body.len() as u64;
    let mut answered = 0;
    let (port, fake) = fake_server(move |offset, length| {
        let end = (offset + length).min(total);
        let mut msg = Vec::new();
        encode_get_ok(
            "f.bin",
            total,
            offset,
            &body[offset as usize..end as usize],
            &mut msg,
        );
        answered += 1;
        if answered == 2 {
            msg.truncate(msg.len() / 2); // and at the next request, close
        }
        (answered <= 2).then_some(msg)
    });
    // The download runs on a thread of its own, so a thread of the client
    // left waiting fails the test instead of hanging it.
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let mut got = Vec::new();
        let r = client(port).get("f.bin", &mut got, &mut |_, _| ());
        let _ = done.send((r.map_err(|e| e.to_string()), got.len()));
    });
    let (r, got) = result
        .recv_timeout(Duration::from_secs(20))
        .expect("the download ended");
    let e = r.expect_err("a cut answer is an error");
    assert!(e.contains("no answer from"), "{e}");
    assert!(got <= MAX_CHUNK, "only the first piece was whole: {got}");
    fake.join().unwrap();
}
