//! Download benchmark: `cargo run -p tugas1b --release --bin bench`.
//! Fetches a 1 GiB file (`--size-mib`) from the real server running in
//! this process, several times, next to a plain file -> TCP -> file copy
//! and a memory-to-memory loopback copy measured in the same run.
//! `--burst N` instead: N connections at once, then one more client's
//! `GET` timed (how fast the thread-per-connection server takes a burst).
use std::process::ExitCode;
use std::time::Duration;

use common::bench::{run_download_burst, FileBench, BURST, RUNS, SIZE_MIB};
use common::cli::Command;
use common::error::{run_main, AppError};
use common::net;
use tugas1b::{fetch, start_server, Config};

const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 1b download benchmark over loopback.",
    args: "",
    flags: &[SIZE_MIB, RUNS, BURST],
};

fn main() -> ExitCode {
    run_main(&BENCH, |m| {
        let burst: usize = m.parse("burst")?;
        if burst > 0 {
            return burst_probe(burst, m.parse("runs")?);
        }
        let bench = FileBench::prepare("tugas1b-bench", &m, "served/big.bin")?;
        let listener = net::bind("127.0.0.1", 0)?;
        let config = Config {
            dir: bench.dir.join("served"),
            timeout: Duration::from_secs(30),
        };
        let server =
            start_server(listener, config).map_err(|e| AppError::io("cannot start", &e))?;
        let port = server.addr().port();
        let dest = bench.dir.join("downloads/big.bin");
        bench.compare("download", || {
            // Deleting the previous run's 1 GiB copy is not part of a download.
            let _ = std::fs::remove_file(&dest);
            let summary = fetch("127.0.0.1", port, "big.bin", &dest, Duration::from_secs(60))?;
            Ok(summary.mb_per_s())
        })?;
        server.stop();
        Ok(())
    })
}

/// `--burst N`: a small file asked for after N connections arrived at once.
fn burst_probe(connections: usize, runs: usize) -> Result<(), common::error::MainError> {
    log::set_max_level(log::LevelFilter::Warn);
    Ok(run_download_burst(
        "tugas1b",
        connections,
        runs,
        |dir, listener| {
            let timeout = Duration::from_secs(30);
            start_server(listener, Config { dir, timeout })
        },
    )?)
}
