//! Every command's success and error cases over real sockets, byte for byte.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::chat::{Response, UserInfo, UserRecord};
use support::{error_bytes, start, start_with, Conn};
use tugas5::token::looks_like_token;
use tugas5::ChatServer;

#[test]
fn auth_gives_random_uuid_tokens_or_the_course_errors() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let raw = c.raw("auth messi surabaya");
    let prefix = "{\"status\": \"OK\", \"tokenid\": \"";
    assert!(
        raw.starts_with(prefix) && raw.ends_with("\"}\r\n\r\n"),
        "{raw:?}"
    );
    let t1 = &raw[prefix.len()..raw.len() - 6];
    assert!(looks_like_token(t1), "{t1}");
    let t2 = c.login("messi");
    assert_ne!(t1, t2, "two logins must give two tokens");
    assert_eq!(
        c.raw("auth ronaldo surabaya"),
        error_bytes("User Tidak Ada")
    );
    assert_eq!(c.raw("auth messi jakarta"), error_bytes("Password Salah"));
    // Password check is exact: no prefix, no case folding.
    assert_eq!(c.raw("auth messi Surabaya"), error_bytes("Password Salah"));
    assert_eq!(c.raw("auth messi"), error_bytes("Protocol Tidak Benar"));
}

#[test]
fn send_then_inbox_byte_for_byte() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let m = c.login("messi");
    let h = c.login("henderson");
    assert_eq!(
        c.raw(&format!("send {m} henderson halo son, apa kabar?")),
        "{\"status\": \"OK\", \"message\": \"Message Sent\"}\r\n\r\n"
    );
    assert_eq!(
        c.raw(&format!("send {m} henderson kedua")),
        "{\"status\": \"OK\", \"message\": \"Message Sent\"}\r\n\r\n"
    );
    // The text is the words after the receiver, single-spaced, no leading
    // space: even when the client sends extra spaces (chat-cli.py does).
    c.send(format!("send {h} messi   jauh   di  sana \r\n").as_bytes());
    assert!(c.read_raw().contains("Message Sent"));
    assert_eq!(
        c.raw(&format!("inbox {h}")),
        "{\"status\": \"OK\", \"messages\": {\"messi\": [\
         {\"msg_from\": \"Lionel Messi\", \"msg_to\": \"Jordan Henderson\", \"msg\": \"halo son, apa kabar?\"}, \
         {\"msg_from\": \"Lionel Messi\", \"msg_to\": \"Jordan Henderson\", \"msg\": \"kedua\"}]}}\r\n\r\n"
    );
    // Delivered messages are gone; the sender stays listed, as in chat.py.
    assert_eq!(
        c.raw(&format!("inbox {h}")),
        "{\"status\": \"OK\", \"messages\": {\"messi\": []}}\r\n\r\n"
    );
    assert_eq!(
        c.raw(&format!("inbox {m}")),
        "{\"status\": \"OK\", \"messages\": {\"henderson\": [\
         {\"msg_from\": \"Jordan Henderson\", \"msg_to\": \"Lionel Messi\", \"msg\": \"jauh di sana\"}]}}\r\n\r\n"
    );
    let l = c.login("lineker");
    assert_eq!(
        c.raw(&format!("inbox {l}")),
        "{\"status\": \"OK\", \"messages\": {}}\r\n\r\n"
    );
}

#[test]
fn messages_reach_the_user_on_any_session_and_non_ascii_is_escaped() {
    let server = start();
    let addr = server.addr();
    let mut a = Conn::open(addr);
    let mut b = Conn::open(addr);
    let m = a.login("messi");
    let l1 = b.login("lineker");
    let l2 = a.login("lineker");
    a.req(&format!("send {m} lineker selamat pagi \u{e9}\u{1F600}"));
    a.req(&format!("send {m} lineker"));
    // The inbox belongs to the user: either session reads it, once.
    assert_eq!(
        b.raw(&format!("inbox {l1}")),
        "{\"status\": \"OK\", \"messages\": {\"messi\": [\
         {\"msg_from\": \"Lionel Messi\", \"msg_to\": \"Gary Lineker\", \"msg\": \"selamat pagi \\u00e9\\ud83d\\ude00\"}, \
         {\"msg_from\": \"Lionel Messi\", \"msg_to\": \"Gary Lineker\", \"msg\": \"\"}]}}\r\n\r\n"
    );
    let Response::Inbox(rest) = a.req(&format!("inbox {l2}")) else {
        panic!()
    };
    assert!(rest.is_empty());
}

#[test]
fn send_errors() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let m = c.login("messi");
    assert_eq!(
        c.raw("send 00000000-0000-4000-8000-000000000000 henderson halo"),
        error_bytes("Session Tidak Ditemukan")
    );
    assert_eq!(
        c.raw(&format!("send {m} ronaldo halo")),
        error_bytes("User Tidak Ditemukan")
    );
    // The token is checked before the receiver, as chat.py does.
    assert_eq!(
        c.raw("send nope ronaldo halo"),
        error_bytes("Session Tidak Ditemukan")
    );
    assert_eq!(
        c.raw(&format!("send {m}")),
        error_bytes("Protocol Tidak Benar")
    );
    assert_eq!(c.raw("send"), error_bytes("Protocol Tidak Benar"));
    // Nothing arrived anywhere.
    let h = c.login("henderson");
    assert_eq!(
        c.raw(&format!("inbox {h}")),
        "{\"status\": \"OK\", \"messages\": {}}\r\n\r\n"
    );
}

#[test]
fn token_commands_reject_unknown_tokens_and_missing_ones() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    for cmd in ["inbox", "users", "logout"] {
        assert_eq!(
            c.raw(&format!("{cmd} 5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18")),
            error_bytes("Session Tidak Ditemukan"),
            "{cmd}"
        );
        assert_eq!(c.raw(cmd), error_bytes("Protocol Tidak Benar"), "{cmd}");
    }
}

#[test]
fn unknown_commands_are_protocol_errors() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    for line in [
        "",
        "   ",
        "hapus semua",
        "AUTH messi surabaya",
        "list",
        "GET / HTTP/1.0",
    ] {
        assert_eq!(c.raw(line), error_bytes("Protocol Tidak Benar"), "{line:?}");
    }
    // The connection still works afterwards.
    c.login("messi");
}

#[test]
fn users_lists_the_others_with_online_marks() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let m = c.login("messi");
    assert_eq!(
        c.raw(&format!("users {m}")),
        "{\"status\": \"OK\", \"users\": [\
         {\"username\": \"henderson\", \"name\": \"Jordan Henderson\", \"country\": \"Inggris\", \"online\": false}, \
         {\"username\": \"lineker\", \"name\": \"Gary Lineker\", \"country\": \"Inggris\", \"online\": false}]}\r\n\r\n"
    );
    let h = c.login("henderson");
    let online = |c: &mut Conn, token: &str| -> Vec<(String, bool)> {
        match c.req(&format!("users {token}")) {
            Response::Users(list) => list.into_iter().map(|u| (u.username, u.online)).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        online(&mut c, &m),
        [
            ("henderson".to_string(), true),
            ("lineker".to_string(), false)
        ]
    );
    assert_eq!(
        online(&mut c, &h),
        [("messi".to_string(), true), ("lineker".to_string(), false)]
    );
    c.req(&format!("logout {h}"));
    assert_eq!(
        online(&mut c, &m),
        [
            ("henderson".to_string(), false),
            ("lineker".to_string(), false)
        ]
    );
}

#[test]
fn logout_ends_only_that_session() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let m1 = c.login("messi");
    let m2 = c.login("messi");
    let h = c.login("henderson");
    assert_eq!(
        c.raw(&format!("logout {m1}")),
        "{\"status\": \"OK\", \"message\": \"Logout Berhasil\"}\r\n\r\n"
    );
    for line in [
        format!("inbox {m1}"),
        format!("users {m1}"),
        format!("send {m1} henderson halo"),
        format!("logout {m1}"),
    ] {
        assert_eq!(
            c.raw(&line),
            error_bytes("Session Tidak Ditemukan"),
            "{line}"
        );
    }
    // The other session of the same user, and other users, go on.
    assert!(c.req(&format!("send {m2} henderson masih di sini")).is_ok());
    let Response::Inbox(inbox) = c.req(&format!("inbox {h}")) else {
        panic!()
    };
    assert_eq!(inbox.iter().next().unwrap().1.msg, "masih di sini");
    // messi is still online through m2.
    let Response::Users(list) = c.req(&format!("users {h}")) else {
        panic!()
    };
    assert!(list.iter().any(|u| u.username == "messi" && u.online));
}

#[test]
fn users_from_a_file_replace_the_builtin_ones() {
    let chat = ChatServer::new(vec![
        UserRecord::new("budi", "rahasia", "Budi Santoso", "Indonesia"),
        UserRecord::new("siti", "kunci", "Siti Aminah", "Indonesia"),
    ])
    .unwrap();
    let server = start_with(chat, Duration::from_secs(30));
    let addr = server.addr();
    let mut c = Conn::open(addr);
    assert_eq!(c.raw("auth messi surabaya"), error_bytes("User Tidak Ada"));
    let Response::Token(b) = c.req("auth budi rahasia") else {
        panic!()
    };
    assert_eq!(
        c.req(&format!("users {b}")),
        Response::Users(vec![UserInfo {
            username: "siti".into(),
            name: "Siti Aminah".into(),
            country: "Indonesia".into(),
            online: false,
        }])
    );
}

#[test]
fn request_split_over_many_segments() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    // One byte per write, with TCP_NODELAY: many small segments.
    for b in b"auth messi surabaya\r\n" {
        c.send(&[*b]);
        c.writer.flush().unwrap();
    }
    let raw = c.read_raw();
    assert!(
        raw.starts_with("{\"status\": \"OK\", \"tokenid\": "),
        "{raw}"
    );
    // A line end split between segments: "\r" then "\n".
    c.send(b"auth messi jakarta\r");
    c.send(b"\n");
    assert_eq!(c.read_raw(), error_bytes("Password Salah"));
}

#[test]
fn several_requests_in_one_segment_are_answered_in_order() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let m = c.login("messi");
    let h = c.login("henderson");
    let batch = format!(
        "send {m} henderson satu\r\nsend {m} henderson dua\nsend {m} henderson tiga \r\ninbox {h}\r\nauth x y\r\n"
    );
    c.send(batch.as_bytes());
    for _ in 0..3 {
        assert_eq!(
            c.read_raw(),
            "{\"status\": \"OK\", \"message\": \"Message Sent\"}\r\n\r\n"
        );
    }
    let Response::Inbox(inbox) = Response::from_slice(c.read_raw().as_bytes()).unwrap() else {
        panic!()
    };
    let texts: Vec<&str> = inbox.iter().map(|(_, m)| m.msg.as_str()).collect();
    assert_eq!(texts, ["satu", "dua", "tiga"]);
    assert_eq!(c.read_raw(), error_bytes("User Tidak Ada"));
}

#[test]
fn the_course_clients_exact_bytes_work() {
    // chat-cli.py sends "auth U P \r\n" (space before the line end) and
    // "send TOKEN USER  WORDS\r\n" (its message starts with a space).
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    c.send(b"auth messi surabaya \r\n");
    let Response::Token(m) = Response::from_slice(c.read_raw().as_bytes()).unwrap() else {
        panic!()
    };
    c.send(format!("send {m} lineker  hello gimana kabarnya\r\n").as_bytes());
    assert!(c.read_raw().contains("Message Sent"));
    c.send(b"auth lineker surabaya \r\n");
    let Response::Token(l) = Response::from_slice(c.read_raw().as_bytes()).unwrap() else {
        panic!()
    };
    c.send(format!("inbox {l} \r\n").as_bytes());
    assert!(c
        .read_raw()
        .contains("\"msg\": \"hello gimana kabarnya\"}]"));
}

#[test]
fn over_long_line_gets_an_error_then_close() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let mut line = b"send x henderson ".to_vec();
    line.resize(200_000, b'a');
    line.extend_from_slice(b"\r\n");
    // Write from another thread: the server stops reading at its cap.
    let mut w = c.writer.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&line);
    });
    assert_eq!(c.read_raw(), error_bytes("Pesan Terlalu Panjang"));
    assert!(c.read_to_close().is_empty(), "connection should close");
    writer.join().unwrap();
    // The server itself goes on.
    Conn::open(addr).login("messi");
}

#[test]
fn invalid_utf8_is_an_error_and_the_connection_goes_on() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    c.send(b"auth \xff\xfe\xfd surabaya\r\n");
    assert_eq!(c.read_raw(), error_bytes("Protocol Tidak Benar"));
    c.send(b"\x00\x01\x02garbage\x7f\r\n");
    assert_eq!(c.read_raw(), error_bytes("Protocol Tidak Benar"));
    c.login("messi");
}

#[test]
fn disconnect_mid_line_and_silent_clients_do_not_hurt_the_server() {
    let server = start_with(
        ChatServer::with_builtin_users(),
        Duration::from_millis(1000),
    );
    let addr = server.addr();
    {
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"auth messi sura").unwrap();
    } // closed mid-line
    let mut silent = Conn::open(addr);
    let mut c = Conn::open(addr);
    let m = c.login("messi");
    // The silent client is dropped after the server's timeout.
    assert!(silent.read_to_close().is_empty());
    // A client idle past the timeout is closed too; its session is not.
    assert!(c.read_to_close().is_empty());
    let mut again = Conn::open(addr);
    assert!(matches!(
        again.req(&format!("users {m}")),
        Response::Users(_)
    ));
}

#[test]
fn random_garbage_gets_one_error_per_line_and_never_breaks_the_server() {
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    // A fixed pseudo-random byte stream (no test dependency on a RNG crate).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::new();
    for _ in 0..300 {
        let len = (x % 120) as usize;
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = (x >> 24) as u8;
            bytes.push(if b == b'\n' { b'x' } else { b });
        }
        bytes.push(b'\n');
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    // Send from another thread so neither side waits on a full buffer.
    let mut w = c.writer.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&bytes).unwrap());
    for i in 0..lines {
        let r = c.read_raw();
        assert_eq!(r, error_bytes("Protocol Tidak Benar"), "line {i}");
    }
    writer.join().unwrap();
    c.login("messi");
}

#[test]
fn stop_returns_with_a_client_still_connected_and_it_sees_eof() {
    let server = start();
    let mut c = Conn::open(server.addr());
    let token = c.login("messi");
    assert!(!token.is_empty());
    let shutdown = server.shutdown().clone();
    assert_eq!(shutdown.open_connections(), 1);
    // The client's thread waits for its next line; stop ends it and joins.
    server.stop();
    assert_eq!(shutdown.open_connections(), 0);
    assert!(c.read_to_close().is_empty(), "EOF, nothing more");
}
