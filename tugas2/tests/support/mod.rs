//! Helpers shared by the integration tests: temp folders, a receiver on a
//! thread, an output buffer both sides can print into.
#![allow(dead_code)] // each test file uses a different subset

use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::stop::Shutdown;
use tugas2::receiver::{self, ReceiveOptions, ReceiveStats};
use tugas2::sender::{self, SendError, SendOptions, SendReport};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh empty folder for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tugas2-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Names of the files in the folder, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An output both a thread and the test can look at.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A receiver serving on 127.0.0.1:0 on its own thread; dropping it stops
/// it and waits until it returned.
pub struct Receiver {
    pub addr: SocketAddr,
    pub out: SharedBuf,
    pub shutdown: Shutdown,
    thread: Option<JoinHandle<io::Result<ReceiveStats>>>,
}

impl Receiver {
    /// Waits until the receiver returns by itself (`max_transfers` reached).
    pub fn join(&mut self) -> io::Result<ReceiveStats> {
        self.thread.take().unwrap().join().unwrap()
    }

    /// Stops the receiver and returns what it counted.
    pub fn stop(mut self) -> io::Result<ReceiveStats> {
        self.shutdown.stop();
        self.join()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds first (so the port is known and nothing races), then serves on a thread.
pub fn spawn_receiver(opts: ReceiveOptions) -> Receiver {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let out = SharedBuf::default();
    let mut thread_out = out.clone();
    let shutdown = Shutdown::new();
    let signal = shutdown.clone();
    let thread =
        std::thread::spawn(move || receiver::run_server(&socket, &opts, &signal, &mut thread_out));
    Receiver {
        addr,
        out,
        shutdown,
        thread: Some(thread),
    }
}

pub fn receive_options(dir: &TempDir) -> ReceiveOptions {
    ReceiveOptions {
        output: dir.path().join("data.out"),
        idle_timeout: Duration::from_secs(10),
        max_transfers: None,
        progress_step: 0.1,
        ..ReceiveOptions::default()
    }
}

pub fn send_options() -> SendOptions {
    SendOptions {
        give_up: Duration::from_secs(10),
        ..SendOptions::default()
    }
}

/// Sends `data` to `to`; returns the report (or error) and the sender's output.
pub fn send_bytes(
    to: SocketAddr,
    name: &str,
    data: &[u8],
    opts: &SendOptions,
) -> (Result<SendReport, SendError>, String) {
    let socket = sender::connect_socket(to).unwrap();
    let mut out = Vec::new();
    let result = sender::send_reader(&socket, name, data.len() as u64, data, opts, &mut out);
    (result, String::from_utf8(out).unwrap())
}

/// `len` bytes in which every byte value occurs, in a pattern that does not
/// repeat on 1024-byte boundaries (so a misplaced chunk cannot go unnoticed).
pub fn every_byte_value(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|i| {
            if i < 256 {
                return i as u8;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
