//! Uploads over real sockets to the server running in-process.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::net;
use common::stop::Running;
use tugas1a::{run_client, start_server, ClientConfig, Config, Console};

const T: Duration = Duration::from_secs(20);

fn temp_dir(tag: &str) -> PathBuf {
    common::testkit::temp_dir(&format!("tugas1a-{tag}"))
}

struct Server {
    /// Stopped (and joined) when the test drops it.
    running: Running,
    addr: SocketAddr,
    dir: PathBuf,
    output: PathBuf,
    console: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    fn start(tag: &str, timeout: Duration) -> Server {
        common::logging::init_for_tests();
        let dir = temp_dir(tag);
        let output = dir.join("hasil.txt");
        let console = Arc::new(Mutex::new(Vec::new()));
        let listener = net::bind("127.0.0.1", 0).unwrap();
        let addr = listener.local_addr().unwrap();
        let config = Config {
            output: output.clone(),
            timeout,
            console: console.clone() as Console,
        };
        let running = start_server(listener, config).unwrap();
        Server {
            running,
            addr,
            dir,
            output,
            console,
        }
    }

    fn console(&self) -> String {
        String::from_utf8(self.console.lock().unwrap().clone()).unwrap()
    }

    /// Files in the output folder other than the inputs we wrote there.
    fn leftovers(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("input"))
            .collect();
        names.sort();
        names
    }

    fn send(&self, name: &str, data: &[u8]) -> Result<String, String> {
        let path = self.dir.join(format!("input-{name}"));
        fs::write(&path, data).unwrap();
        run_client(&client(self.addr.port(), &path, Some(name)))
            .map(|(reply, summary)| {
                assert_eq!(summary.bytes, data.len() as u64);
                reply
            })
            .map_err(|e| e.to_string())
    }
}

/// The client's configuration for sending `path` to `port`.
fn client(port: u16, path: &Path, name: Option<&str>) -> ClientConfig {
    ClientConfig {
        host: "127.0.0.1".into(),
        port,
        file: path.to_path_buf(),
        name: name.map(String::from),
        timeout: T,
    }
}

fn assert_saved(s: &Server, data: &[u8]) {
    let saved = fs::read(&s.output).unwrap();
    assert_eq!(saved.len(), data.len());
    assert!(saved == data, "hasil.txt differs from what was sent");
    assert_eq!(s.leftovers(), ["hasil.txt"], "temporary files left behind");
}

#[test]
fn text_file_is_saved_and_printed() {
    let s = Server::start("text", T);
    let text = "PEMROGRAMAN JARINGAN\nbaris kedua\n";
    let reply = s.send("file.txt", text.as_bytes()).unwrap();
    assert_eq!(
        reply,
        format!(
            "received {} bytes, saved as {}",
            text.len(),
            s.output.display()
        )
    );
    assert_saved(&s, text.as_bytes());
    let console = s.console();
    assert!(
        console.contains("received \"file.txt\" (33 bytes)"),
        "{console}"
    );
    assert!(
        console.contains(
            "----- content -----\nPEMROGRAMAN JARINGAN\nbaris kedua\n-------------------"
        ),
        "{console}"
    );
}

#[test]
fn empty_file() {
    let s = Server::start("empty", T);
    s.send("kosong.txt", b"").unwrap();
    assert_saved(&s, b"");
    assert!(s.console().contains("(empty file)"));
}

#[test]
fn binary_file_with_every_byte_value() {
    let s = Server::start("binary", T);
    let data: Vec<u8> = (0..=255u8).rev().cycle().take(256 * 40).collect();
    s.send("data.bin", &data).unwrap();
    assert_saved(&s, &data);
    let console = s.console();
    assert!(
        console.contains("binary data, 10240 bytes; first 64 bytes:\n00000000  ff fe fd"),
        "{console}"
    );
}

#[test]
fn multi_megabyte_file() {
    let s = Server::start("large", T);
    let mut data = vec![0u8; 24 * 1024 * 1024 + 7];
    let mut x: u32 = 0x1234_5678;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    s.send("big.bin", &data).unwrap();
    assert_saved(&s, &data);
}

/// Sends raw bytes, half-closes, returns the server's one-line answer.
fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    stream.write_all(bytes).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn truncated_upload_leaves_no_file_and_server_goes_on() {
    let s = Server::start("truncated", T);
    let mut bytes = b"FILE 1000 file.txt\n".to_vec();
    bytes.extend_from_slice(&[b'x'; 10]);
    let answer = raw(s.addr, &bytes);
    assert_eq!(
        answer,
        "ERROR upload failed: connection closed early: got 10 of 1000 bytes\n"
    );
    assert!(!s.output.exists(), "partial hasil.txt written");
    assert!(s.leftovers().is_empty(), "left: {:?}", s.leftovers());
    // The server still serves the next client.
    s.send("file.txt", b"after").unwrap();
    assert_saved(&s, b"after");
}

#[test]
fn a_broken_upload_does_not_replace_an_earlier_file() {
    let s = Server::start("keep", T);
    s.send("a.txt", b"first, complete").unwrap();
    raw(s.addr, b"FILE 50 b.txt\nonly part");
    assert_saved(&s, b"first, complete");
}

#[test]
fn garbage_and_silent_clients_get_errors_not_a_crash() {
    let s = Server::start("garbage", Duration::from_millis(300));
    assert!(raw(s.addr, b"\x00\x01GARBAGE\xff\n").starts_with("ERROR upload failed: "));
    assert!(raw(s.addr, b"FILE notanumber x\n")
        .starts_with("ERROR upload failed: expected 'FILE <size> <name>'"));
    assert_eq!(
        raw(s.addr, &[b'A'; 10_000]),
        "ERROR upload failed: message larger than the limit of 4096 bytes\n"
    );
    // Says nothing: dropped after the timeout, and meanwhile others are served.
    let mut silent = TcpStream::connect(s.addr).unwrap();
    s.send("file.txt", b"while another is silent").unwrap();
    silent.set_read_timeout(Some(T)).unwrap();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(
        String::from_utf8_lossy(&rest).starts_with("ERROR upload failed: timed out"),
        "{rest:?}"
    );
    assert_saved(&s, b"while another is silent");
}

#[test]
fn two_uploads_at_the_same_time() {
    let s = Arc::new(Server::start("concurrent", T));
    // Both connections are open before either finishes.
    let mut slow = TcpStream::connect(s.addr).unwrap();
    slow.write_all(b"FILE 6 slow.txt\nabc").unwrap();
    s.send("fast.txt", b"fast").unwrap();
    assert_eq!(fs::read(&s.output).unwrap(), b"fast");
    slow.write_all(b"def").unwrap();
    slow.shutdown(Shutdown::Write).unwrap();
    let mut line = String::new();
    slow.set_read_timeout(Some(T)).unwrap();
    BufReader::new(slow).read_line(&mut line).unwrap();
    assert!(line.starts_with("OK received 6 bytes"), "{line}");
    assert_eq!(fs::read(&s.output).unwrap(), b"abcdef");
}

/// stop() returns while one client is in the middle of an upload and
/// another is connected and silent: both see their connection end, the
/// half upload leaves no file, and nothing accepts any more.
#[test]
fn stop_returns_with_clients_connected_mid_transfer_and_idle() {
    let s = Server::start("stop", T);
    let mut idle = TcpStream::connect(s.addr).unwrap();
    let mut busy = TcpStream::connect(s.addr).unwrap();
    busy.write_all(b"FILE 1000000 big.bin\nonly the start")
        .unwrap();
    // Both connections are registered with the server before it stops.
    let deadline = std::time::Instant::now() + T;
    while s.running.shutdown().open_connections() < 2 {
        assert!(std::time::Instant::now() < deadline, "clients not admitted");
        thread::park_timeout(Duration::from_millis(5));
    }
    let Server {
        running, addr, dir, ..
    } = s;
    let shutdown = running.shutdown().clone();
    running.stop();
    assert_eq!(shutdown.open_connections(), 0);
    for c in [&mut idle, &mut busy] {
        c.set_read_timeout(Some(T)).unwrap();
        let mut rest = Vec::new();
        // EOF (or a reset), never a hang and never an OK.
        let _ = c.read_to_end(&mut rest);
        assert!(!rest.starts_with(b"OK"), "{rest:?}");
    }
    assert!(!dir.join("hasil.txt").exists());
    let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

#[test]
fn client_errors_are_clear() {
    let s = Server::start("clienterr", T);
    let missing = s.dir.join("nope.txt");
    let err = run_client(&client(s.addr.port(), &missing, None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open {}: no such file or directory (give the file to send with --file PATH)",
            missing.display()
        )
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = s.dir.join("input-x");
    fs::write(&file, b"x").unwrap();
    let err = run_client(&client(port, &file, None)).unwrap_err();
    assert!(
        err.to_string()
            .contains("connection refused (is the server running on 127.0.0.1:"),
        "{err}"
    );
}

#[test]
fn flags() {
    use common::cli::CliError;
    let m = tugas1a::CLIENT.parse(Vec::<String>::new()).unwrap();
    assert_eq!(m.value("file"), "file.txt");
    assert_eq!(m.value("port"), "31100");
    // Without file.txt in the current folder, the crate's sample is sent.
    let chosen = tugas1a::choose_file(&m);
    assert!(chosen.exists(), "{}", chosen.display());
    assert!(matches!(
        tugas1a::SERVER.parse(["--output".to_string()]),
        Err(CliError::Usage(_))
    ));
    assert!(
        matches!(tugas1a::SERVER.parse(["--help".to_string()]), Err(CliError::Help(h)) if h.contains("[default: hasil.txt]"))
    );
}

/// A student copies `tugas1a/` and `common/` into their own repository
/// (and, as the root README says, `Cargo.lock` into `tugas1a/`): it must
/// build there with nothing else, with the workspace's locked versions.
#[test]
#[cfg_attr(
    windows,
    ignore = "needs a Windows cargo (CI runs this build under Wine, where CARGO is Linux's)"
)]
fn crate_builds_when_copied_out_of_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dest = temp_dir("copy");
    for name in ["tugas1a", "common"] {
        copy_tree(&root.join(name), &dest.join(name));
    }
    fs::copy(root.join("Cargo.lock"), dest.join("tugas1a/Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--bins"])
        .current_dir(dest.join("tugas1a"))
        .env("CARGO_TARGET_DIR", dest.join("target"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "copied crate does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dest.join("target/debug/server").exists());
    assert!(dest.join("target/debug/client").exists());
    // Cargo only dropped the other crates' entries: every version is the
    // workspace's.
    let packages = |lock: &str| -> Vec<String> {
        lock.split("[[package]]")
            .skip(1)
            .map(|p| p.lines().take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    let ours = packages(&fs::read_to_string(root.join("Cargo.lock")).unwrap());
    let copied = packages(&fs::read_to_string(dest.join("tugas1a/Cargo.lock")).unwrap());
    assert!(
        copied.iter().any(|p| p.contains("\"env_logger\"")),
        "{copied:?}"
    );
    for p in &copied {
        assert!(ours.contains(p), "{p} is not the workspace's version");
    }
    fs::remove_dir_all(&dest).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else if ty.is_file() {
            fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}
