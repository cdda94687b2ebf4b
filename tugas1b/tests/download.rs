//! Downloads over real sockets from the server running in-process.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use common::net;
use common::stop::Running;
use tugas1b::{ask_name, default_output, fetch, run_client, start_server, ClientConfig, Config};

const T: Duration = Duration::from_secs(20);

fn temp_dir(tag: &str) -> PathBuf {
    common::testkit::temp_dir(&format!("tugas1b-{tag}"))
}

/// A served folder `<tmp>/served` with the crate's samples, a secret file
/// beside it (outside), and a downloads folder.
struct Setup {
    /// Stopped (and joined) when the test drops it.
    running: Running,
    addr: SocketAddr,
    served: PathBuf,
    downloads: PathBuf,
}

fn start(tag: &str, timeout: Duration) -> Setup {
    common::logging::init_for_tests();
    let root = temp_dir(tag);
    let served = root.join("served");
    fs::create_dir_all(&served).unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("files");
    for f in ["contoh.txt", "gambar.png"] {
        fs::copy(samples.join(f), served.join(f)).unwrap();
    }
    fs::write(root.join("secret.txt"), b"do not serve me").unwrap();
    let listener = net::bind("127.0.0.1", 0).unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        dir: served.canonicalize().unwrap(),
        timeout,
    };
    let running = start_server(listener, config).unwrap();
    Setup {
        running,
        addr,
        served,
        downloads: root.join("downloads"),
    }
}

impl Setup {
    fn get(&self, name: &str) -> Result<Vec<u8>, String> {
        let dest = self.downloads.join("out");
        let _ = fs::remove_file(&dest);
        let summary =
            fetch("127.0.0.1", self.addr.port(), name, &dest, T).map_err(|e| e.to_string())?;
        let bytes = fs::read(&dest).unwrap();
        assert_eq!(summary.bytes, bytes.len() as u64);
        Ok(bytes)
    }

    fn downloads_left(&self) -> Vec<String> {
        fs::read_dir(&self.downloads)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn text_and_image_arrive_byte_identical() {
    let s = start("samples", T);
    for name in ["contoh.txt", "gambar.png"] {
        let want = fs::read(s.served.join(name)).unwrap();
        assert_eq!(s.get(name).unwrap(), want, "{name}");
    }
    assert!(s
        .get("gambar.png")
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn empty_binary_and_large_files() {
    let s = start("kinds", T);
    let every: Vec<u8> = (0..=255u8).cycle().take(256 * 33).collect();
    let large: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for (name, data) in [
        ("kosong.txt", Vec::new()),
        ("bytes.bin", every),
        ("large.bin", large),
    ] {
        fs::write(s.served.join(name), &data).unwrap();
        let got = s.get(name).unwrap();
        assert!(got == data, "{name} differs");
    }
}

#[test]
fn unknown_file_is_a_clear_error_and_saves_nothing() {
    let s = start("missing", T);
    assert_eq!(
        s.get("x.txt").unwrap_err(),
        "server refused: file not found: x.txt"
    );
    assert!(s.downloads_left().is_empty());
}

#[test]
fn names_outside_the_folder_are_refused() {
    let s = start("traversal", T);
    let secret = s.served.parent().unwrap().join("secret.txt");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret, s.served.join("link.txt")).unwrap();
    let cases = [
        (
            "../secret.txt",
            "server refused: refused \"../secret.txt\": '..' is not allowed in a file name",
        ),
        (
            "sub/../../secret.txt",
            "server refused: refused \"sub/../../secret.txt\": '..' is not allowed in a file name",
        ),
        (secret.to_str().unwrap(), "absolute paths are not allowed"),
        (
            "/etc/passwd",
            "server refused: refused \"/etc/passwd\": absolute paths are not allowed",
        ),
        #[cfg(unix)]
        (
            "link.txt",
            "server refused: refused \"link.txt\": outside the served folder",
        ),
    ];
    for (name, want) in cases {
        let err = s.get(name).unwrap_err();
        assert!(err.contains(want), "{name}: {err}");
    }
    assert!(s.downloads_left().is_empty());
}

/// Speaks the protocol by hand: exact bytes, several requests on one connection.
#[test]
fn raw_protocol_bytes() {
    let s = start("raw", T);
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    stream.write_all(b"GET contoh.txt\r\nGET nope\n").unwrap();
    let mut r = BufReader::new(stream);
    let want = fs::read(s.served.join("contoh.txt")).unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, format!("OK {}\n", want.len()));
    let mut body = vec![0u8; want.len()];
    r.read_exact(&mut body).unwrap();
    assert_eq!(body, want);
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "ERROR file not found: nope\n");
    r.get_mut().write_all(b"HELLO\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "ERROR bad request: expected 'GET <name>', got \"HELLO\"\n"
    );
}

#[test]
fn cut_off_download_leaves_no_file() {
    common::logging::init_for_tests();
    // A broken server: announces 1000 bytes, sends 10, closes.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut line = String::new();
        BufReader::new(s.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        s.write_all(b"OK 1000\n0123456789").unwrap();
    });
    let dir = temp_dir("cut");
    let dest = dir.join("downloads/f.bin");
    let err = fetch("127.0.0.1", port, "f.bin", &dest, T).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot download f.bin: connection closed early: got 10 of 1000 bytes"
    );
    let left: Vec<_> = fs::read_dir(dir.join("downloads")).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn silent_client_is_dropped_and_others_are_served() {
    let s = start("silent", Duration::from_millis(300));
    let mut silent = TcpStream::connect(s.addr).unwrap();
    assert!(s.get("contoh.txt").is_ok());
    silent.set_read_timeout(Some(T)).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        silent.read_to_end(&mut buf).unwrap(),
        0,
        "server should close a silent client"
    );
}

/// stop() returns while one client is in the middle of a download it has
/// stopped reading and another is connected and silent: both see their
/// connection end (the first without the whole file), and nothing accepts
/// any more.
#[test]
fn stop_returns_with_clients_connected_mid_transfer_and_idle() {
    let s = start("stop", T);
    // Too big to sit in the socket buffers: the server is still sending.
    let size = 32usize << 20;
    fs::write(s.served.join("big.bin"), vec![7u8; size]).unwrap();
    let mut idle = TcpStream::connect(s.addr).unwrap();
    let mut busy = TcpStream::connect(s.addr).unwrap();
    busy.set_read_timeout(Some(T)).unwrap();
    busy.write_all(b"GET big.bin\n").unwrap();
    let mut first = [0u8; 3];
    busy.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"OK ");
    let deadline = std::time::Instant::now() + T;
    while s.running.shutdown().open_connections() < 2 {
        assert!(std::time::Instant::now() < deadline, "clients not admitted");
        thread::park_timeout(Duration::from_millis(5));
    }
    let Setup { running, addr, .. } = s;
    let shutdown = running.shutdown().clone();
    running.stop();
    assert_eq!(shutdown.open_connections(), 0);
    idle.set_read_timeout(Some(T)).unwrap();
    assert_eq!(
        idle.read(&mut [0u8; 1]).unwrap_or(0),
        0,
        "idle client not closed"
    );
    let mut got = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    while let Ok(n @ 1..) = busy.read(&mut chunk) {
        got += n;
    }
    assert!(got < size, "the whole file arrived after stop");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

/// The whole client flow as the bin runs it: the name typed at the
/// `nama file: ` prompt (piped, so echoed), the file saved where asked.
#[test]
fn client_asks_the_name_and_saves_the_file() {
    let s = start("client", T);
    let dest = s.downloads.join("typed.png");
    let config = ClientConfig {
        host: "127.0.0.1".into(),
        port: s.addr.port(),
        file: None,
        output: Some(dest.clone()),
        timeout: T,
    };
    let mut console = Vec::new();
    let (saved, summary) =
        run_client(&config, &mut &b"gambar.png\n"[..], &mut console, true).unwrap();
    assert_eq!(console, b"nama file: gambar.png\n");
    assert_eq!(saved, dest);
    let want = fs::read(s.served.join("gambar.png")).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), want);
    assert_eq!(summary.bytes, want.len() as u64);
}

#[test]
fn prompt_and_default_output() {
    let mut out = Vec::new();
    let name = ask_name(&mut &b"gambar.png\r\n"[..], &mut out, false).unwrap();
    assert_eq!(
        (name.as_str(), out.as_slice()),
        ("gambar.png", &b"nama file: "[..])
    );
    let mut echoed = Vec::new();
    ask_name(&mut &b" a.txt \n"[..], &mut echoed, true).unwrap();
    assert_eq!(echoed, b"nama file: a.txt\n");
    assert!(ask_name(&mut &b"\n"[..], &mut Vec::new(), false).is_err());
    assert_eq!(
        default_output("gambar.png").unwrap(),
        Path::new("downloads/gambar.png")
    );
    assert_eq!(
        default_output("sub/a.txt").unwrap(),
        Path::new("downloads/a.txt")
    );
    assert!(default_output("../x").is_err());
    let m = tugas1b::SERVER.parse(Vec::<String>::new()).unwrap();
    assert_eq!((m.value("dir"), m.value("port")), (".", "31200"));
    assert!(matches!(
        tugas1b::CLIENT.parse(["--nama".to_string()]),
        Err(common::cli::CliError::Usage(u)) if u.contains("unrecognized flag --nama")
    ));
}
