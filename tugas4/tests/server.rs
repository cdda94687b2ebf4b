//! The real server over real sockets: every operation's success and
//! error, big files in pieces, dropped uploads, bad input.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::cli::CliError;
use common::fileproto::{encode_put, MAX_CHUNK, MAX_MESSAGE};
use support::{error_message, pseudo_random, start, start_with_timeout, wait_until, Raw, TempDir};
use tugas4::programs::{self, Failure};
use tugas4::{Client, ClientError, Config};

/// Base64 through the protocol's own encoder (the tests add no dependency).
fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    common::fileproto::encode_data(bytes, &mut out);
    String::from_utf8(out).unwrap()
}

fn client(addr: std::net::SocketAddr) -> Client {
    Client::connect("127.0.0.1", addr.port(), Duration::from_secs(20)).unwrap()
}

#[test]
fn list_get_put_delete_with_the_client() {
    let dir = TempDir::new("ops");
    fs::write(dir.path().join("halo.txt"), b"halo dunia\n").unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    let mut c = client(addr);

    let files = c.list().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!((files[0].name.as_str(), files[0].size), ("halo.txt", 11));
    let mtime = fs::metadata(dir.path().join("halo.txt"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(files[0].modified_unix, mtime);
    assert_eq!(files[0].modified, common::fileproto::rfc3339(mtime));

    let body = pseudo_random(1000, 1);
    c.put("data.bin", &mut &body[..], 1000, &mut |_, _| ())
        .unwrap();
    assert_eq!(fs::read(dir.path().join("data.bin")).unwrap(), body);

    let mut got = Vec::new();
    let size = c.get("data.bin", &mut got, &mut |_, _| ()).unwrap();
    assert_eq!((size, &got), (1000, &body));

    // An empty file goes through too.
    c.put("empty", &mut &b""[..], 0, &mut |_, _| ()).unwrap();
    let mut got = vec![1u8];
    got.clear();
    assert_eq!(c.get("empty", &mut got, &mut |_, _| ()).unwrap(), 0);
    assert_eq!(fs::read(dir.path().join("empty")).unwrap(), b"");

    let names: Vec<String> = c.list().unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["data.bin", "empty", "halo.txt"]);

    c.delete("data.bin").unwrap();
    assert!(!dir.path().join("data.bin").exists());
    assert_eq!(dir.entries(), ["empty", "halo.txt"]);
}

#[test]
fn errors_of_each_operation_keep_the_connection() {
    let dir = TempDir::new("errors");
    fs::write(dir.path().join("halo.txt"), b"halo dunia\n").unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    let mut raw = Raw::connect(addr);
    let cases: &[(&str, &str)] = &[
        (
            r#"{"command":"GET","name":"nope.txt"}"#,
            "file not found: \"nope.txt\"",
        ),
        (
            r#"{"command":"DELETE","name":"nope.txt"}"#,
            "file not found: \"nope.txt\"",
        ),
        (
            r#"{"command":"GET","name":"halo.txt","offset":12}"#,
            "offset 12 is past the end",
        ),
        (
            r#"{"command":"PUT","name":"a.txt","data":"!!notbase64"}"#,
            "data is not valid base64",
        ),
        (
            r#"{"command":"PUT","name":"a.txt","offset":5,"data":"YQ=="}"#,
            "no upload of \"a.txt\" in progress",
        ),
        (r#"{"command":"PUT","name":"a.txt"}"#, "PUT needs \"data\""),
        (r#"{"command":"GET"}"#, "GET needs a \"name\""),
        (r#"{"command":"LIST","nama":"x"}"#, "unknown field `nama`"),
        (r#"{"command":"FETCH"}"#, "unknown command \"FETCH\""),
        (r#"{"command":"LIST""#, "invalid JSON"),
        (r#"["LIST"]"#, "invalid request"),
        ("", "empty message"),
    ];
    for (req, want) in cases {
        let msg = error_message(&raw.ask(req));
        assert!(msg.contains(want), "{req}: {msg:?} lacks {want:?}");
        // The same connection still works after each error.
        assert_eq!(raw.ask(r#"{"command":"LIST"}"#)["status"], "OK");
    }
    assert_eq!(dir.entries(), ["halo.txt"], "errors must not leave files");
}

#[test]
fn bad_names_are_refused_by_every_operation() {
    let outer = TempDir::new("names");
    let served = outer.path().join("served");
    fs::create_dir_all(served.join("sub")).unwrap();
    fs::write(outer.path().join("secret.txt"), b"secret").unwrap();
    fs::write(served.join("sub/in.txt"), b"in").unwrap();
    fs::write(served.join(".hidden"), b"h").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), served.join("link.txt")).unwrap();
    let server = start(&served);
    let addr = server.addr();
    let mut raw = Raw::connect(addr);
    let secret = outer.path().join("secret.txt");
    let names = [
        "../secret.txt".to_string(),
        "sub/in.txt".to_string(),
        "..".to_string(),
        secret.to_str().unwrap().to_string(),
        "a\u{0}b".to_string(),
        ".hidden".to_string(),
        "a\\b".to_string(),
        "".to_string(),
        "x".repeat(300),
    ];
    for name in &names {
        let n = serde_json::to_string(name).unwrap();
        for req in [
            format!(r#"{{"command":"GET","name":{n}}}"#),
            format!(r#"{{"command":"DELETE","name":{n}}}"#),
            format!(r#"{{"command":"PUT","name":{n},"data":"YQ=="}}"#),
        ] {
            let msg = error_message(&raw.ask(&req));
            assert!(msg.starts_with("invalid name "), "{req}: {msg}");
        }
    }
    #[cfg(unix)]
    {
        let msg = error_message(&raw.ask(r#"{"command":"GET","name":"link.txt"}"#));
        assert!(msg.contains("outside the served folder"), "{msg}");
    }
    let list = raw.ask(r#"{"command":"LIST"}"#);
    assert_eq!(
        list["files"],
        serde_json::json!([]),
        "nothing listable: {list}"
    );
    assert_eq!(fs::read(&secret).unwrap(), b"secret");
    assert!(served.join("sub/in.txt").exists() && served.join(".hidden").exists());
}

#[test]
fn multi_piece_put_and_ranged_get_are_byte_identical() {
    let dir = TempDir::new("big");
    let server = start(dir.path());
    let addr = server.addr();
    let body = pseudo_random(5 * 1024 * 1024 + 123, 7);

    // Default pieces (2 MiB): three PUTs; small pieces with a deep window: many.
    for (chunk, window) in [(MAX_CHUNK, 4), (100_000, 1), (65_536, 7)] {
        let mut c = client(addr);
        c.chunk = chunk;
        c.window = window;
        let mut seen = Vec::new();
        c.put("big.bin", &mut &body[..], body.len() as u64, &mut |d, _| {
            seen.push(d)
        })
        .unwrap();
        assert_eq!(
            seen.len(),
            body.len().div_ceil(chunk),
            "one answer per piece"
        );
        assert_eq!(*seen.last().unwrap(), body.len() as u64);
        assert!(fs::read(dir.path().join("big.bin")).unwrap() == body);

        let mut got = Vec::new();
        c.get("big.bin", &mut got, &mut |_, _| ()).unwrap();
        assert!(got == body, "download differs (chunk {chunk})");
    }
    assert_eq!(dir.entries(), ["big.bin"], "no temp files left");

    // Arbitrary ranges, including the end and past the cap.
    let mut c = client(addr);
    for (offset, length) in [
        (0u64, 1u64),
        (12_345, 999_999),
        (body.len() as u64 - 3, 10),
        (body.len() as u64, 5),
    ] {
        let (size, bytes) = c.get_range("big.bin", offset, Some(length)).unwrap();
        assert_eq!(size, body.len() as u64);
        let end = (offset + length).min(size) as usize;
        assert!(
            bytes == body[offset as usize..end],
            "range {offset}+{length}"
        );
    }
    let (_, whole) = c.get_range("big.bin", 0, None).unwrap();
    assert_eq!(whole.len(), MAX_CHUNK, "the server caps one answer");
    let (_, huge) = c.get_range("big.bin", 1, Some(u64::MAX)).unwrap();
    assert!(huge == body[1..1 + MAX_CHUNK]);
}

#[test]
fn a_client_that_vanishes_mid_upload_leaves_nothing() {
    let dir = TempDir::new("vanish");
    fs::write(dir.path().join("keep.txt"), b"old").unwrap();
    let server = start(dir.path());
    let addr = server.addr();

    // 1. Pieces confirmed, then the connection drops before the last one.
    let mut raw = Raw::connect(addr);
    for (offset, name) in [(0, "new.bin"), (0, "keep.txt")] {
        let mut msg = Vec::new();
        encode_put(name, offset, false, &pseudo_random(1000, 3), &mut msg);
        raw.stream.write_all(&msg).unwrap();
        let a = raw.answer();
        assert_eq!(
            (a["received"].as_u64(), a["saved"].as_bool()),
            (Some(1000), Some(false)),
            "{a}"
        );
    }
    // A new PUT at offset 0 dropped the first upload; the second is in progress.
    let temps: Vec<String> = dir
        .entries()
        .into_iter()
        .filter(|e| e.ends_with(".part"))
        .collect();
    assert_eq!(temps.len(), 1, "{:?}", dir.entries());
    // Until the last piece, readers see the old file.
    assert_eq!(fs::read(dir.path().join("keep.txt")).unwrap(), b"old");
    drop(raw);
    wait_until("the temp file is removed", || dir.entries() == ["keep.txt"]);
    assert_eq!(fs::read(dir.path().join("keep.txt")).unwrap(), b"old");

    // 2. Cut off in the middle of a piece's message.
    let mut raw = Raw::connect(addr);
    let mut msg = Vec::new();
    encode_put("cut.bin", 0, false, &pseudo_random(100_000, 4), &mut msg);
    raw.stream.write_all(&msg).unwrap();
    assert_eq!(raw.answer()["received"], 100_000);
    assert_eq!(
        dir.entries().len(),
        2,
        "temp file exists: {:?}",
        dir.entries()
    );
    msg.clear();
    encode_put(
        "cut.bin",
        100_000,
        true,
        &pseudo_random(100_000, 5),
        &mut msg,
    );
    raw.stream.write_all(&msg[..msg.len() / 2]).unwrap();
    raw.stream.shutdown(Shutdown::Both).unwrap();
    drop(raw);
    wait_until("the cut upload is gone", || dir.entries() == ["keep.txt"]);

    // 3. A failed piece (bad offset) ends the upload at once.
    let mut raw = Raw::connect(addr);
    let mut msg = Vec::new();
    encode_put("gap.bin", 0, false, b"abc", &mut msg);
    raw.stream.write_all(&msg).unwrap();
    assert_eq!(raw.answer()["status"], "OK");
    msg.clear();
    encode_put("gap.bin", 10, true, b"def", &mut msg);
    raw.stream.write_all(&msg).unwrap();
    let err = error_message(&raw.answer());
    assert!(err.contains("pieces must come in order"), "{err}");
    assert_eq!(dir.entries(), ["keep.txt"]);
    // The server is fine for everyone.
    assert_eq!(client(addr).list().unwrap().len(), 1);
}

#[test]
fn two_clients_put_different_files_at_the_same_time() {
    let dir = TempDir::new("two");
    let server = start(dir.path());
    let addr = server.addr();

    // Interleaved by hand, piece by piece, on two connections.
    let a = pseudo_random(300_000, 11);
    let b = pseudo_random(250_000, 12);
    let mut ca = Raw::connect(addr);
    let mut cb = Raw::connect(addr);
    let piece = 64 * 1024;
    let mut offset = 0;
    while offset < a.len().max(b.len()) {
        for (raw, body, name) in [(&mut ca, &a, "a.bin"), (&mut cb, &b, "b.bin")] {
            if offset >= body.len() {
                continue;
            }
            let end = (offset + piece).min(body.len());
            let mut msg = Vec::new();
            encode_put(
                name,
                offset as u64,
                end == body.len(),
                &body[offset..end],
                &mut msg,
            );
            raw.stream.write_all(&msg).unwrap();
            let ans = raw.answer();
            assert_eq!(ans["received"].as_u64(), Some(end as u64), "{ans}");
            assert_eq!(ans["saved"].as_bool(), Some(end == body.len()));
        }
        offset += piece;
    }
    assert!(fs::read(dir.path().join("a.bin")).unwrap() == a);
    assert!(fs::read(dir.path().join("b.bin")).unwrap() == b);

    // And with the real client on two threads started together.
    let start_line = Arc::new(Barrier::new(2));
    let workers: Vec<_> = [("c.bin", 21u64), ("d.bin", 22)]
        .into_iter()
        .map(|(name, seed)| {
            let start_line = Arc::clone(&start_line);
            thread::spawn(move || {
                let body = pseudo_random(3_000_000, seed);
                let mut c = client(addr);
                c.chunk = 100_000;
                start_line.wait();
                c.put(name, &mut &body[..], body.len() as u64, &mut |_, _| ())
                    .unwrap();
                body
            })
        })
        .collect();
    for (w, name) in workers.into_iter().zip(["c.bin", "d.bin"]) {
        let body = w.join().unwrap();
        assert!(fs::read(dir.path().join(name)).unwrap() == body, "{name}");
    }
    assert_eq!(dir.entries(), ["a.bin", "b.bin", "c.bin", "d.bin"]);
}

#[test]
fn an_oversized_message_is_refused_and_the_connection_closed() {
    let dir = TempDir::new("oversize");
    let server = start(dir.path());
    let addr = server.addr();
    let mut raw = Raw::connect(addr);
    // A valid start of a PUT whose data never ends within the cap.
    let mut writer = raw.stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        writer.write_all(br#"{"command":"PUT","name":"huge.bin","data":""#)?;
        let block = vec![b'A'; 64 * 1024];
        let mut sent = 0;
        while sent < MAX_MESSAGE + 1024 * 1024 {
            writer.write_all(&block)?;
            sent += block.len();
        }
        writer.write_all(b"\"}\r\n\r\n")
    });
    let msg = error_message(&raw.answer());
    assert!(
        msg.contains(&format!("larger than the limit of {MAX_MESSAGE} bytes")),
        "{msg}"
    );
    assert!(raw.closed(), "the server closes after refusing");
    let _ = sender.join().unwrap(); // may fail once the server closes: fine
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    // Others are served as usual.
    assert!(client(addr).list().unwrap().is_empty());
}

#[test]
fn garbage_does_not_hurt_the_server() {
    let dir = TempDir::new("garbage");
    fs::write(dir.path().join("halo.txt"), b"halo dunia\n").unwrap();
    let server = start(dir.path());
    let addr = server.addr();

    // Random bytes, then the delimiter: an ERROR answer, connection kept.
    let mut raw = Raw::connect(addr);
    let junk = pseudo_random(1024 * 1024, 99);
    assert!(common::framing::find(&junk, b"\r\n\r\n").is_none());
    raw.stream.write_all(&junk).unwrap();
    raw.stream.write_all(b"\r\n\r\n").unwrap();
    let msg = error_message(&raw.answer());
    assert!(msg.starts_with("invalid JSON"), "{msg}");
    assert_eq!(
        raw.ask(r#"{"command":"LIST"}"#)["files"][0]["name"],
        "halo.txt"
    );

    // Random bytes and a sudden close, several times over.
    for seed in 0..5 {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(&pseudo_random(200_000, seed));
        drop(s);
    }
    // Several requests in one write are answered in order.
    let mut raw = Raw::connect(addr);
    raw.stream
        .write_all(b"{\"command\":\"LIST\"}\r\n\r\n{\"command\":\"GET\",\"name\":\"halo.txt\"}\r\n\r\n{\"command\":\"nope\"}\r\n\r\n")
        .unwrap();
    assert_eq!(raw.answer()["command"], "LIST");
    assert_eq!(raw.answer()["data"], encode(b"halo dunia\n"));
    assert!(error_message(&raw.answer()).contains("unknown command"));
    assert_eq!(dir.entries(), ["halo.txt"]);
}

#[test]
fn silent_and_truncating_clients_are_dropped() {
    let dir = TempDir::new("silent");
    let server = start_with_timeout(dir.path(), Duration::from_millis(300));
    let addr = server.addr();
    let mut silent = Raw::connect(addr);
    assert!(silent.closed(), "a silent client is timed out");
    let mut half = Raw::connect(addr);
    half.stream.write_all(br#"{"command":"LI"#).unwrap();
    let msg = error_message(&half.answer());
    assert!(msg.contains("not complete within"), "{msg}");
    assert!(half.closed(), "a client stuck mid-message is timed out");
    let mut fine = Raw::connect(addr);
    assert_eq!(fine.ask(r#"{"command":"LIST"}"#)["status"], "OK");
}

#[test]
fn client_programs_run_against_the_server() {
    let dir = TempDir::new("programs");
    let local = TempDir::new("programs-local");
    let server = start(dir.path());
    let addr = server.addr();
    let port = addr.port().to_string();
    let run = |cmd, args: &[&str], body| {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--port".to_string(), port.clone()]);
        programs::run(cmd, all, body)
    };
    let src = local.path().join("catatan.txt");
    fs::write(&src, b"isi catatan\n").unwrap();
    let out = local.path().join("out/copy.txt");
    // --output into a folder that does not exist: a clear error, and no
    // folder made.
    match run(
        &programs::GET,
        &["catatan.txt", "--output", out.to_str().unwrap()],
        programs::get,
    ) {
        Err(Failure::Client(ClientError::App(e))) => assert_eq!(
            e.to_string(),
            format!(
                "cannot save {}: the folder {} does not exist (create it first)",
                out.display(),
                local.path().join("out").display()
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(local.entries(), ["catatan.txt"]);
    fs::create_dir(local.path().join("out")).unwrap();

    run(&programs::PUT, &[src.to_str().unwrap()], programs::put).unwrap();
    run(
        &programs::PUT,
        &[src.to_str().unwrap(), "--name", "lain.txt"],
        programs::put,
    )
    .unwrap();
    assert_eq!(
        fs::read(dir.path().join("lain.txt")).unwrap(),
        b"isi catatan\n"
    );
    run(&programs::LIST, &[], programs::list).unwrap();
    run(
        &programs::GET,
        &["catatan.txt", "--output", out.to_str().unwrap()],
        programs::get,
    )
    .unwrap();
    assert_eq!(fs::read(&out).unwrap(), b"isi catatan\n");
    run(&programs::DELETE, &["catatan.txt"], programs::delete).unwrap();
    assert_eq!(dir.entries(), ["lain.txt"]);

    // Server errors come back as the server's message (printed `error: <message>`).
    let missing = local.path().join("out/missing.txt");
    match run(
        &programs::GET,
        &["catatan.txt", "--output", missing.to_str().unwrap()],
        programs::get,
    ) {
        Err(Failure::Client(ClientError::Server(m))) => {
            assert_eq!(m, "file not found: \"catatan.txt\"")
        }
        other => panic!("{other:?}"),
    }
    assert!(!missing.exists());
    assert_eq!(local.entries(), ["catatan.txt", "out"]);
    assert_eq!(
        fs::read_dir(local.path().join("out")).unwrap().count(),
        1,
        "no temp file"
    );
    match run(&programs::DELETE, &["../x"], programs::delete) {
        Err(Failure::Client(ClientError::Server(m))) => assert!(m.contains("'..'"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A missing local file and a refused connection are local errors.
    match run(&programs::PUT, &["/no/such/file"], programs::put) {
        Err(Failure::Client(ClientError::App(e))) => {
            assert_eq!(
                e.to_string(),
                "cannot read /no/such/file: no such file or directory"
            )
        }
        other => panic!("{other:?}"),
    }
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    match programs::run(
        &programs::LIST,
        ["--port".to_string(), closed.to_string()],
        programs::list,
    ) {
        Err(Failure::Client(ClientError::App(e))) => {
            assert!(
                e.to_string()
                    .contains("connection refused (is the server running"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_server_answers_a_slow_writer_piece_by_piece() {
    // One byte per write: framing must not depend on how TCP splits data.
    let dir = TempDir::new("trickle");
    fs::write(dir.path().join("halo.txt"), b"halo dunia\n").unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    let mut raw = Raw::connect(addr);
    raw.stream.set_nodelay(true).unwrap();
    for b in br#"{"command":"GET","name":"halo.txt","offset":5,"length":5}"#
        .iter()
        .chain(b"\r\n\r\n")
    {
        raw.stream.write_all(&[*b]).unwrap();
    }
    let a = raw.answer();
    assert_eq!(a["data"], encode(b"dunia"), "{a}");
    assert_eq!(
        (
            a["size"].as_u64(),
            a["offset"].as_u64(),
            a["length"].as_u64()
        ),
        (Some(11), Some(5), Some(5))
    );
    let mut rest = [0u8; 1];
    raw.stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert!(
        raw.stream.read(&mut rest).is_err(),
        "nothing more than one answer"
    );
}

#[test]
fn stop_returns_with_a_client_still_connected_and_it_sees_eof() {
    let dir = TempDir::new("stop");
    let server = start(dir.path());
    let mut raw = Raw::connect(server.addr());
    let answer = raw.ask(r#"{"command":"LIST"}"#);
    assert_eq!(answer["status"], "OK", "{answer}");
    // Half an upload is in flight on this connection when the server stops.
    let answer =
        raw.ask(r#"{"command":"PUT","name":"half.bin","offset":0,"last":false,"data":"QUJD"}"#);
    assert_eq!(answer["status"], "OK", "{answer}");
    let shutdown = server.shutdown().clone();
    assert_eq!(shutdown.open_connections(), 1);
    server.stop();
    assert_eq!(shutdown.open_connections(), 0);
    assert!(raw.closed(), "the client sees the end of the connection");
    // The unfinished upload was discarded, temp file included.
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
}

#[test]
fn a_stray_argument_is_refused_with_one_error_line() {
    let err = programs::SERVER
        .parse(["--port", "0", "31001"].map(String::from))
        .unwrap_err();
    let line = format!("error: {err}");
    assert!(line.contains("31001") && !line.contains('\n'), "{line}");
    assert_eq!(
        programs::exit_code(Err(Failure::Cli(err))),
        std::process::ExitCode::from(2)
    );
    // `list` takes no positionals either; get/put/delete take exactly one.
    match programs::run(&programs::LIST, ["31001".to_string()], programs::list) {
        Err(Failure::Cli(CliError::Usage(m))) => assert!(m.contains("31001"), "{m}"),
        other => panic!("{other:?}"),
    }
    let m = programs::GET.parse(["halo.txt".to_string()]).unwrap();
    assert_eq!(m.positionals(), ["halo.txt"]);
    // The server's flags, typed.
    let m = programs::SERVER.parse(Vec::<String>::new()).unwrap();
    let config = tugas4::Config::from_matches(&m).unwrap();
    assert_eq!(config, tugas4::Config::new("files"));
    assert_eq!(config.port, tugas4::DEFAULT_PORT);
}

#[test]
fn the_server_removes_a_crashed_servers_temporary_files_at_start() {
    let dir = TempDir::new("stale");
    let stale = dir
        .path()
        .join(format!(".big.bin.{}-3.part", std::process::id()));
    fs::write(&stale, b"half an upload").unwrap();
    fs::write(dir.path().join("keep.txt"), b"kept").unwrap();
    let config = tugas4::Config {
        host: "127.0.0.1".to_string(),
        port: 0,
        ..tugas4::Config::new(dir.path())
    };
    let shutdown = common::stop::Shutdown::new();
    shutdown.stop(); // returns at once, after its start-up
    programs::server(&config, &shutdown).unwrap();
    assert_eq!(dir.entries(), ["keep.txt"]);
}

#[test]
fn a_client_trickling_one_message_is_answered_error_and_cut_at_the_timeout() {
    let dir = TempDir::new("trickle-deadline");
    let timeout = Duration::from_secs(1);
    let server = start_with_timeout(dir.path(), timeout);
    let mut raw = Raw::connect(server.addr());
    raw.stream.set_nodelay(true).unwrap();
    // One byte every 100 ms: each read comes well within the timeout, the
    // whole message never does (it would take 4 s).
    let mut writer = raw.stream.try_clone().unwrap();
    let started = Instant::now();
    let trickler = thread::spawn(move || {
        for b in br#"{"command":"GET","name":"halo.txt"}"#.iter() {
            writer.write_all(&[*b])?;
            thread::sleep(Duration::from_millis(100));
        }
        writer.write_all(b"\r\n\r\n")
    });
    let msg = error_message(&raw.answer());
    let cut = started.elapsed();
    assert!(msg.contains("not complete within 1 s"), "{msg}");
    assert!(raw.closed(), "the server closes after the ERROR");
    assert!(
        cut < timeout + Duration::from_secs(2),
        "cut after {cut:?}, the timeout is {timeout:?}"
    );
    let _ = trickler.join().unwrap(); // fails once the server closed: fine
}

#[test]
fn a_message_past_the_memory_budget_is_refused_and_the_connection_closed() {
    let dir = TempDir::new("budget");
    let server = support::start_with(Config {
        max_buffered: 1024 * 1024,
        ..Config::new(dir.path())
    });
    let addr = server.addr();
    // One connection: a message of 2 MiB needs more than the whole budget.
    let mut raw = Raw::connect(addr);
    let mut writer = raw.stream.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&vec![b'x'; 2 * 1024 * 1024]));
    let msg = error_message(&raw.answer());
    assert!(msg.starts_with("server busy"), "{msg}");
    assert!(raw.closed(), "the server closes after refusing");
    let _ = sender.join().unwrap();

    // Two connections each holding 700 KiB of an unfinished message need
    // 1 MiB of buffer each: exactly one fits in 1.5 MiB, the other is refused.
    let server = support::start_with(Config {
        max_buffered: 1536 * 1024,
        ..Config::new(dir.path())
    });
    let addr = server.addr();
    let mut both: Vec<Raw> = (0..2).map(|_| Raw::connect(addr)).collect();
    for raw in &mut both {
        let _ = raw.stream.write_all(&vec![b'x'; 700 * 1024]); // the refused one may be cut
    }
    // The refused one answers; the other stays silent until its deadline.
    for raw in &mut both {
        raw.stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
    }
    let answers: Vec<Option<String>> = both
        .iter_mut()
        .map(|raw| {
            common::fileproto::read_message(&mut raw.reader)
                .ok()
                .flatten()
                .map(|m| String::from_utf8(m).unwrap())
        })
        .collect();
    let busy = answers
        .iter()
        .flatten()
        .filter(|a| a.contains("server busy"))
        .count();
    assert_eq!(busy, 1, "{answers:?}");
    // The one that fits is served once its message ends; so are others.
    for raw in &mut both {
        let _ = raw.stream.write_all(b"\r\n\r\n");
    }
    assert!(client(addr).list().unwrap().is_empty());
}

#[test]
fn a_put_piece_over_the_documented_2_mib_is_refused() {
    let dir = TempDir::new("piece-limit");
    let server = start(dir.path());
    let mut raw = Raw::connect(server.addr());
    let mut msg = Vec::new();
    encode_put("big.bin", 0, true, &vec![7u8; MAX_CHUNK + 1], &mut msg);
    raw.stream.write_all(&msg).unwrap();
    let e = error_message(&raw.answer());
    assert!(
        e.contains(&format!("a PUT piece carries at most {MAX_CHUNK} bytes")),
        "{e}"
    );
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    // The connection stays usable, and a piece of exactly 2 MiB is taken.
    msg.clear();
    encode_put("big.bin", 0, true, &vec![7u8; MAX_CHUNK], &mut msg);
    raw.stream.write_all(&msg).unwrap();
    let a = raw.answer();
    assert_eq!(a["received"].as_u64(), Some(MAX_CHUNK as u64), "{a}");
    assert_eq!(dir.entries(), ["big.bin"]);
}

/// Pieces after the first take the server's fast path (`tugas4::wire`);
/// every message it does not take must get the general answer: an escape
/// in the base64, `data` before another field, bad base64.
#[test]
fn later_pieces_of_any_shape_get_the_general_answer() {
    let dir = TempDir::new("fast-path");
    let server = start(dir.path());
    let mut raw = Raw::connect(server.addr());
    let a = raw.ask(r#"{"command":"PUT","name":"f.bin","offset":0,"last":false,"data":"YWJj"}"#);
    assert_eq!(a["received"].as_u64(), Some(3), "{a}");
    // "Lz8/" ("/??") with its "/" escaped, as JSON allows.
    let a = raw.ask(r#"{"command":"PUT","name":"f.bin","offset":3,"last":false,"data":"Lz8\/"}"#);
    assert_eq!(a["received"].as_u64(), Some(6), "{a}");
    let a = raw.ask(r#"{"command":"PUT","data":"ZGVm","name":"f.bin","offset":6,"last":false}"#);
    assert_eq!(a["received"].as_u64(), Some(9), "{a}");
    let a = raw.ask(r#"{"command":"PUT","name":"f.bin","offset":9,"last":true,"data":"eHl6"}"#);
    assert_eq!(a["saved"].as_bool(), Some(true), "{a}");
    assert_eq!(fs::read(dir.path().join("f.bin")).unwrap(), b"abc/??defxyz");

    raw.ask(r#"{"command":"PUT","name":"g.bin","offset":0,"last":false,"data":"YWJj"}"#);
    let a = raw.ask(r#"{"command":"PUT","name":"g.bin","offset":3,"last":true,"data":"YW*j"}"#);
    let e = error_message(&a);
    assert!(e.contains("unexpected character '*' at position 2"), "{e}");
    assert_eq!(dir.entries(), ["f.bin"], "the bad upload is discarded");
}

/// A `PUT` piece of `bytes` at `offset` whose base64 has its first `/`
/// past `from` (deep in the text, after the first steps the fast path
/// decodes and writes) replaced by `with`.
fn piece_spoiled_past(name: &str, offset: u64, bytes: &[u8], from: usize, with: &[u8]) -> Vec<u8> {
    let mut msg = Vec::new();
    encode_put(name, offset, true, bytes, &mut msg);
    let data = msg.windows(8).position(|w| w == b"\"data\":\"").unwrap() + 8;
    let at = data + from + msg[data + from..].iter().position(|&b| b == b'/').unwrap();
    msg.splice(at..=at, with.iter().copied());
    msg
}

/// An escape deep in a piece's base64: the fast path has written the steps
/// before it, and the general way must write the rest of the piece, and
/// only the rest.
#[test]
fn a_piece_escaped_deep_in_its_base64_is_saved_once() {
    let dir = TempDir::new("escaped-deep");
    let server = start(dir.path());
    let mut raw = Raw::connect(server.addr());
    let body = pseudo_random(2 << 20, 11);
    let (first, second) = body.split_at(1 << 20);
    send_piece(&mut raw, "e.bin", 0, false, first);
    assert_eq!(raw.answer()["received"].as_u64(), Some(1 << 20));
    // `\/` is `/` in JSON, 600 000 characters in (past four 128 KiB steps).
    let msg = piece_spoiled_past("e.bin", 1 << 20, second, 600_000, b"\\/");
    raw.stream.write_all(&msg).unwrap();
    let a = raw.answer();
    assert_eq!(a["saved"].as_bool(), Some(true), "{a}");
    assert_eq!(a["received"].as_u64(), Some(2 << 20), "{a}");
    assert!(fs::read(dir.path().join("e.bin")).unwrap() == body);
}

/// A piece whose JSON goes wrong deep in its base64 is refused, and, like
/// any refused piece, ends the upload: what the fast path wrote from it
/// is not kept for a later piece to follow.
#[test]
fn a_piece_whose_json_breaks_deep_in_its_base64_ends_the_upload() {
    let dir = TempDir::new("broken-deep");
    let server = start(dir.path());
    let mut raw = Raw::connect(server.addr());
    let body = pseudo_random(3 << 20, 12);
    send_piece(&mut raw, "b.bin", 0, false, &body[..1 << 20]);
    assert_eq!(raw.answer()["received"].as_u64(), Some(1 << 20));
    // `\q` is no JSON escape.
    let msg = piece_spoiled_past("b.bin", 1 << 20, &body[1 << 20..2 << 20], 600_000, b"\\q");
    raw.stream.write_all(&msg).unwrap();
    let e = error_message(&raw.answer());
    assert!(e.contains("escape"), "{e}");
    send_piece(&mut raw, "b.bin", 2 << 20, true, &body[2 << 20..]);
    let e = error_message(&raw.answer());
    assert!(e.contains("no upload of \"b.bin\" in progress"), "{e}");
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
}

/// Sends one `PUT` piece, not waiting for its answer.
fn send_piece(raw: &mut Raw, name: &str, offset: u64, last: bool, bytes: &[u8]) {
    let mut msg = Vec::new();
    encode_put(name, offset, last, bytes, &mut msg);
    raw.stream.write_all(&msg).unwrap();
}
