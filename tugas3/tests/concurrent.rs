//! Tugas 3 over real sockets: concurrent downloads, and proof that one
//! stalled client does not hold up the others.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use common::net;
use common::stop::Running;
use tugas3::{run_client, start_server, ClientConfig, Config};

const T: Duration = Duration::from_secs(20);

fn temp_dir(tag: &str) -> PathBuf {
    common::testkit::temp_dir(&format!("tugas3-{tag}"))
}

struct Setup {
    /// Stopped (and joined) when the test drops it.
    running: Running,
    addr: SocketAddr,
    served: PathBuf,
    out: PathBuf,
}

fn start(tag: &str, timeout: Duration) -> Setup {
    common::logging::init_for_tests();
    let root = temp_dir(tag);
    let served = root.join("served");
    fs::create_dir_all(&served).unwrap();
    for entry in fs::read_dir(tugas3::sample_dir()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), served.join(entry.file_name())).unwrap();
    }
    // A file big enough that it cannot sit in socket buffers (stall tests).
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    fs::write(served.join("big.bin"), big).unwrap();
    fs::write(root.join("secret.txt"), b"outside").unwrap();
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
        out: root.join("downloads"),
    }
}

impl Setup {
    fn job(&self, names: &[&str], sequential: bool) -> ClientConfig {
        ClientConfig {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
            names: names.iter().map(|s| s.to_string()).collect(),
            out_dir: self.out.clone(),
            sequential,
            timeout: T,
        }
    }

    fn assert_identical(&self, name: &str) {
        let want = fs::read(self.served.join(name)).unwrap();
        let got = fs::read(self.out.join(name)).unwrap();
        assert!(
            got == want,
            "{name} differs ({} vs {} bytes)",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn several_files_at_the_same_time_arrive_identical() {
    let s = start("many", T);
    let names = ["contoh.txt", "gambar.png", "besar.txt", "big.bin"];
    let report = run_client(&s.job(&names, false), false);
    assert!(report.all_ok(), "{}", report.render("concurrent"));
    for n in names {
        s.assert_identical(n);
    }
    let text = report.render("concurrent");
    assert!(text.contains("concurrent: 4 of 4 files"), "{text}");
    assert!(
        text.contains(&format!("{} bytes", report.total_bytes())),
        "{text}"
    );
}

#[test]
fn sequential_mode_gives_the_same_files() {
    let s = start("seq", T);
    let names = ["besar.txt", "gambar.png"];
    let report = run_client(&s.job(&names, true), false);
    assert!(report.all_ok());
    for n in names {
        s.assert_identical(n);
    }
}

#[test]
fn a_missing_file_does_not_stop_the_others() {
    let s = start("missing", T);
    let report = run_client(
        &s.job(
            &["contoh.txt", "hilang.txt", "../secret.txt", "gambar.png"],
            false,
        ),
        false,
    );
    assert!(!report.all_ok());
    let errors: Vec<String> = report
        .outcomes
        .iter()
        .map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(errors[0], "");
    assert_eq!(errors[1], "server refused: file not found: hilang.txt");
    assert!(errors[2].contains("'..' is not allowed"), "{}", errors[2]);
    assert_eq!(errors[3], "");
    s.assert_identical("contoh.txt");
    s.assert_identical("gambar.png");
    let mut saved: Vec<_> = fs::read_dir(&s.out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    saved.sort();
    assert_eq!(saved, ["contoh.txt", "gambar.png"]);
}

#[test]
fn server_refuses_traversal_on_the_wire() {
    let s = start("traversal", T);
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    stream
        .write_all(b"GET ../secret.txt\nGET /etc/passwd\n")
        .unwrap();
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "ERROR refused \"../secret.txt\": '..' is not allowed in a file name\n"
    );
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "ERROR refused \"/etc/passwd\": absolute paths are not allowed\n"
    );
}

/// The proof that the server is concurrent: two clients hold connections
/// the server cannot finish (one sent nothing, one asked for a big file and
/// reads nothing), and a third client still gets its whole download.
#[test]
fn stalled_clients_do_not_delay_others() {
    let s = start("stall", T);
    let silent = TcpStream::connect(s.addr).unwrap();
    let mut not_reading = TcpStream::connect(s.addr).unwrap();
    not_reading.write_all(b"GET big.bin\n").unwrap();
    // Make sure the server is already busy sending to the stalled reader:
    // its answer line has arrived.
    not_reading.set_read_timeout(Some(T)).unwrap();
    let mut first = [0u8; 3];
    not_reading.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"OK ");

    let report = run_client(&s.job(&["big.bin", "contoh.txt"], false), false);
    assert!(report.all_ok(), "{}", report.render("concurrent"));
    s.assert_identical("big.bin");
    drop((silent, not_reading));
}

#[test]
fn silent_client_is_dropped_after_the_timeout() {
    let s = start("drop", Duration::from_millis(300));
    let mut silent = TcpStream::connect(s.addr).unwrap();
    // Others are served while it hangs on.
    let report = run_client(&s.job(&["contoh.txt"], false), false);
    assert!(report.all_ok());
    silent.set_read_timeout(Some(T)).unwrap();
    let mut buf = Vec::new();
    // The server closes it (EOF) long before our own 20 s read timeout.
    assert_eq!(
        silent.read_to_end(&mut buf).unwrap(),
        0,
        "silent client not closed"
    );
}

/// The state of the TCP connection `local` -> `remote` as the kernel lists
/// it in /proc/net/tcp (1 = established, 4 = FIN_WAIT1, ...), if it exists.
#[cfg(target_os = "linux")]
fn tcp_state(local: SocketAddr, remote: SocketAddr) -> Option<u8> {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::new(),
    };
    let (l, r) = (hex(local), hex(remote));
    fs::read_to_string("/proc/net/tcp")
        .ok()?
        .lines()
        .skip(1)
        .find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.get(1) == Some(&l.as_str()) && f.get(2) == Some(&r.as_str()))
                .then(|| u8::from_str_radix(f[3], 16).ok())
                .flatten()
        })
}

/// A client that asks for a big file and stops reading is dropped: the
/// server gives up after the timeout instead of waiting forever. We watch
/// the server's end of the connection leave ESTABLISHED in the kernel's
/// table (an event, polled), then read what was sent: less than the file.
#[cfg(target_os = "linux")]
#[test]
fn client_that_stops_reading_is_dropped() {
    let s = start("stopread", Duration::from_millis(300));
    let mut stalled = TcpStream::connect(s.addr).unwrap();
    stalled.write_all(b"GET big.bin\n").unwrap();
    let ours = stalled.local_addr().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tcp_state(s.addr, ours) == Some(1) {
        assert!(
            std::time::Instant::now() < deadline,
            "server never gave up on a client that stopped reading"
        );
        thread::park_timeout(Duration::from_millis(20));
    }
    stalled.set_read_timeout(Some(T)).unwrap();
    let mut got = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match stalled.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < 16 << 20,
        "server sent all {got} bytes to a client that stopped reading"
    );
    // And it still serves others.
    assert!(run_client(&s.job(&["contoh.txt"], false), false).all_ok());
}

/// stop() returns while clients are connected: one in the middle of a
/// download it stopped reading, one silent, and one half-way through
/// sending its request. Each client thread ends, the server joins them
/// all, every client sees its connection end, and nothing accepts any more.
#[test]
fn stop_returns_with_clients_connected_mid_transfer_and_idle() {
    let s = start("stop", T);
    let mut idle = TcpStream::connect(s.addr).unwrap();
    let mut half = TcpStream::connect(s.addr).unwrap();
    half.write_all(b"GET big").unwrap();
    let mut busy = TcpStream::connect(s.addr).unwrap();
    busy.set_read_timeout(Some(T)).unwrap();
    busy.write_all(b"GET big.bin\n").unwrap();
    let mut first = [0u8; 3];
    busy.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"OK ");
    let deadline = std::time::Instant::now() + T;
    while s.running.shutdown().open_connections() < 3 {
        assert!(std::time::Instant::now() < deadline, "clients not admitted");
        thread::park_timeout(Duration::from_millis(5));
    }
    let Setup { running, addr, .. } = s;
    let shutdown = running.shutdown().clone();
    running.stop();
    // Returned: every client thread was joined and un-counted.
    assert_eq!(shutdown.open_connections(), 0);
    for c in [&mut idle, &mut half] {
        c.set_read_timeout(Some(T)).unwrap();
        assert_eq!(c.read(&mut [0u8; 1]).unwrap_or(0), 0, "client not closed");
    }
    let mut got = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    while let Ok(n @ 1..) = busy.read(&mut chunk) {
        got += n;
    }
    assert!(got < 16 << 20, "the whole file arrived after stop");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

#[test]
fn no_names_is_a_usage_error() {
    let m = tugas3::CLIENT.parse(["--sequential".to_string()]).unwrap();
    assert!(
        matches!(tugas3::names_from(&m), Err(common::cli::CliError::Usage(u)) if u.contains("no file names"))
    );
    let m = tugas3::CLIENT.parse(["a", "b"].map(String::from)).unwrap();
    assert_eq!(tugas3::names_from(&m).unwrap(), ["a", "b"]);
    assert_eq!(
        tugas3::SERVER
            .parse(Vec::<String>::new())
            .unwrap()
            .value("port"),
        "31300"
    );
}
