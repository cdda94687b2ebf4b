//! The benchmark behind `cargo run -p tugas4 --release --bin bench`.
//!
//! It puts and gets a big file (1 GiB by default) through the protocol on
//! loopback and prints MB/s next to two references measured in the same
//! run: a plain TCP copy of the same file (file -> socket -> file, no JSON,
//! no base64), and a memory-to-memory socket copy (the loopback limit).
//!
//! The server, the `put` client and the `get` client each run in their own
//! process (this program started again with `--role`), so each one's peak
//! memory (`VmHWM` in `/proc/PID/status`, Linux) is its own: the clients
//! print theirs when done, and the server's is read just before it is
//! stopped. Every transfer is checked byte for byte after it is timed.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::bench;
use common::cli::{CliError, Command, Flag, Matches};
use common::error::{AppError, MainError};
use common::files::{human_bytes, mb_per_s, AtomicFile};
use common::stop::Shutdown;

use crate::Client;

/// The benchmark's flags.
pub const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 4 benchmark: put and get a big file, MB/s and peak memory of each side, \
            next to a plain TCP copy measured in the same run.",
    args: "",
    flags: &[
        Flag::value("size", "MIB", "1024", "size of the test file in MiB"),
        Flag::value("runs", "N", "5", "runs of each measurement; the median is shown"),
        Flag::value(
            "dir",
            "DIR",
            "",
            "folder for the test files (default: a new folder in the system temp folder, removed at the end)",
        ),
        Flag::value(
            "role",
            "ROLE",
            "",
            "internal: run one side in a child process (server, put, get)",
        ),
        Flag::value("port", "PORT", "0", "internal: the server port for --role put/get"),
        Flag::value("file", "PATH", "", "internal: the local file for --role put/get"),
    ],
};

/// Name of the file on the server.
const REMOTE: &str = "bench.bin";

/// Runs the benchmark, or one side of it when `--role` is given.
///
/// # Errors
/// Bad flags, file or connection failures, a transfer that differs.
pub fn main(m: Matches) -> Result<(), MainError> {
    match m.value("role") {
        "" => run(&m),
        "server" => role_server(&m),
        "put" | "get" => role_client(&m),
        other => Err(CliError::Usage(format!(
            "unknown --role {other:?}: expected server, put or get"
        ))
        .into()),
    }
}

fn fail(what: impl Into<String>) -> impl FnOnce(io::Error) -> AppError {
    let what = what.into();
    move |e| AppError::io(what, &e)
}

fn run(m: &Matches) -> Result<(), MainError> {
    let mib: u64 = m.parse("size")?;
    let runs: usize = m.parse("runs")?;
    if mib == 0 || runs == 0 {
        return Err(CliError::Usage("--size and --runs must be at least 1".into()).into());
    }
    let size = mib * 1024 * 1024;
    let (root, remove_root) = match m.value("dir") {
        "" => (
            std::env::temp_dir().join(format!("tugas4-bench-{}", std::process::id())),
            true,
        ),
        d => (PathBuf::from(d), false),
    };
    let served = root.join("served");
    fs::create_dir_all(&served).map_err(fail(format!("cannot create {}", served.display())))?;
    let source = root.join("source.bin");
    println!(
        "writing a {} test file {} ...",
        human_bytes(size),
        source.display()
    );
    bench::make_file(&source, size).map_err(fail(format!("cannot write {}", source.display())))?;
    flush(&source)?;

    let server = Server::start(&served)?;
    let mut rows: Vec<[f64; 4]> = Vec::new();
    let mut client_peak = [0u64; 2];
    let outcome = (|| -> Result<(), MainError> {
        for i in 1..=runs {
            let mem = bench::memory_copy_secs(size).map_err(fail("plain socket copy failed"))?;
            let copy = root.join("plain.bin");
            let plain =
                bench::file_copy_secs(&source, &copy).map_err(fail("plain file copy failed"))?;
            same_bytes(&source, &copy)?;
            fs::remove_file(&copy).map_err(fail("cannot remove the plain copy"))?;

            let put = child(&["--role", "put"], server.port, &source)?;
            same_bytes(&source, &served.join(REMOTE))?;
            // Write the upload to disk now, so the download is not timed
            // while the kernel flushes the gigabyte the upload left dirty.
            flush(&served.join(REMOTE))?;
            let got = root.join("got.bin");
            let get = child(&["--role", "get"], server.port, &got)?;
            same_bytes(&source, &got)?;
            fs::remove_file(&got).map_err(fail("cannot remove the download"))?;
            // Otherwise the next put's rename would pay for freeing this
            // file's pages inside its timed window.
            fs::remove_file(served.join(REMOTE)).map_err(fail("cannot remove the upload"))?;

            client_peak[0] = client_peak[0].max(put.1);
            client_peak[1] = client_peak[1].max(get.1);
            let row = [
                mb_per_s(size, mem),
                mb_per_s(size, plain),
                mb_per_s(size, put.0),
                mb_per_s(size, get.0),
            ];
            println!(
                "run {i}: socket {:.0} MB/s, plain copy {:.0} MB/s, put {:.0} MB/s, get {:.0} MB/s",
                row[0], row[1], row[2], row[3]
            );
            rows.push(row);
        }
        Ok(())
    })();
    let server_peak = server.peak_kib();
    server.stop();
    let _ = fs::remove_file(&source);
    let _ = fs::remove_dir_all(&served);
    if remove_root {
        let _ = fs::remove_dir_all(&root);
    }
    outcome?;

    let med = |k: usize| bench::median(&rows.iter().map(|r| r[k]).collect::<Vec<_>>());
    // Each run's speed against the plain copy of the same run, so a burst
    // of load from elsewhere moves both sides of the ratio.
    let ratio =
        |k: usize| bench::median(&rows.iter().map(|r| r[k] * 100.0 / r[1]).collect::<Vec<_>>());
    let (mem, plain, put, get) = (med(0), med(1), med(2), med(3));
    let server_peak = server_peak.map_or("n/a".to_string(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    });
    println!();
    println!(
        "{} over 127.0.0.1, median of {runs} run{}, load average {}",
        human_bytes(size),
        if runs == 1 { "" } else { "s" },
        bench::load_average()
    );
    println!("{:<44} {:>9}  {:>9}  peak RSS", "", "MB/s", "vs plain*");
    println!(
        "{:<44} {:>9.0}  {:>9}",
        "socket copy, memory to memory (limit)", mem, ""
    );
    println!(
        "{:<44} {:>9.0}  {:>9}",
        "plain copy, file -> TCP -> file", plain, "100%"
    );
    println!(
        "{:<44} {:>9.0}  {:>8.0}%  client {:.1} MiB",
        "put (JSON + base64, 2 MiB pieces)",
        put,
        ratio(2),
        client_peak[0] as f64 / 1024.0
    );
    println!(
        "{:<44} {:>9.0}  {:>8.0}%  client {:.1} MiB",
        "get (JSON + base64, 2 MiB ranges)",
        get,
        ratio(3),
        client_peak[1] as f64 / 1024.0
    );
    println!("server peak RSS over all runs: {server_peak}");
    println!("* median over the runs of (speed / plain copy speed of the same run)");
    Ok(())
}

/// The server in a child process (`--role server`).
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Result<Server, AppError> {
        let exe = std::env::current_exe().map_err(fail("cannot find this program"))?;
        let mut child = Process::new(exe)
            .args(["--role", "server", "--dir"])
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(fail("cannot start the server process"))?;
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout is piped");
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(fail("cannot read the server's first line"))?;
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| {
                AppError::new("the server did not start", format!("it said {line:?}"))
            })?;
        Ok(Server { child, port })
    }

    fn peak_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        bench::vm_hwm(&status)
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn role_server(m: &Matches) -> Result<(), MainError> {
    let dir = PathBuf::from(m.value("dir"));
    let listener = common::net::bind("127.0.0.1", 0)?;
    common::net::announce(&listener).map_err(fail("cannot write to stdout"))?;
    // Runs until the benchmark kills this child process.
    crate::run_server(listener, &crate::Config::new(dir), &Shutdown::new())
        .map_err(fail("the file server failed"))?;
    Ok(())
}

/// Runs `--role put` or `--role get` in a child; returns its transfer time
/// in seconds and its peak memory in KiB.
fn child(role: &[&str], port: u16, file: &Path) -> Result<(f64, u64), MainError> {
    let exe = std::env::current_exe().map_err(fail("cannot find this program"))?;
    let out = Process::new(exe)
        .args(role)
        .args(["--port", &port.to_string(), "--file"])
        .arg(file)
        .stderr(Stdio::inherit())
        .output()
        .map_err(fail("cannot run the client process"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
    };
    match (out.status.success(), field("secs "), field("vmhwm_kib ")) {
        (true, Some(secs), Some(kib)) => Ok((secs, kib as u64)),
        _ => Err(AppError::new(
            format!("the {} client failed", role[1]),
            format!("{}; it printed {text:?}", out.status),
        )
        .into()),
    }
}

fn role_client(m: &Matches) -> Result<(), MainError> {
    let port: u16 = m.parse("port")?;
    let path = PathBuf::from(m.value("file"));
    let mut client = Client::connect("127.0.0.1", port, Duration::from_secs(60))?;
    let start = Instant::now();
    let failed = |e: crate::ClientError| AppError::new("transfer failed", e);
    if m.value("role") == "put" {
        let mut file =
            File::open(&path).map_err(fail(format!("cannot open {}", path.display())))?;
        let size = file.metadata().map_err(fail("cannot stat the file"))?.len();
        client
            .put(REMOTE, &mut file, size, &mut |_, _| ())
            .map_err(failed)?;
    } else {
        let mut file =
            AtomicFile::create(&path).map_err(fail(format!("cannot create {}", path.display())))?;
        client
            .get(REMOTE, &mut file, &mut |_, _| ())
            .map_err(failed)?;
        file.commit().map_err(fail("cannot save the download"))?;
    }
    let secs = start.elapsed().as_secs_f64();
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    println!("secs {secs}");
    println!("vmhwm_kib {}", bench::vm_hwm(&status).unwrap_or(0));
    Ok(())
}

/// Writes a file's data to disk (outside the timed parts).
fn flush(path: &Path) -> Result<(), AppError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(fail(format!("cannot flush {}", path.display())))
}

/// Compares two files byte for byte.
fn same_bytes(a: &Path, b: &Path) -> Result<(), AppError> {
    match bench::same_bytes(a, b) {
        Ok(true) => Ok(()),
        Ok(false) => Err(AppError::new(
            format!("{} differs from {}", b.display(), a.display()),
            "the transfer is wrong",
        )),
        Err(e) => Err(AppError::io("cannot compare the files", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_names_both_files() {
        let dir = common::testkit::temp_dir("tugas4-bench-test");
        let (a, b) = (dir.join("a"), dir.join("b"));
        bench::make_file(&a, 1_000_003).unwrap();
        fs::copy(&a, &b).unwrap();
        same_bytes(&a, &b).unwrap();
        fs::write(&b, b"different").unwrap();
        let err = same_bytes(&a, &b).unwrap_err().to_string();
        let want = format!("differs from {}: the transfer is wrong", a.display());
        assert!(err.ends_with(&want), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
