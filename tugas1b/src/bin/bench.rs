//! Download benchmark: `cargo run -p tugas1b --release --bin bench`.
//! Fetches a 1 GiB file (`--size-mib`) from the real server running in
//! this process, several times, next to a plain file -> TCP -> file copy
//! and a memory-to-memory loopback copy measured in the same run.
use std::process::ExitCode;
use std::time::Duration;

use common::bench::{FileBench, RUNS, SIZE_MIB};
use common::cli::Command;
use common::error::{run_main, AppError};
use common::net;
use tugas1b::{fetch, start_server, Config};

const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 1b download benchmark over loopback.",
    args: "",
    flags: &[SIZE_MIB, RUNS],
};

fn main() -> ExitCode {
    run_main(&BENCH, |m| {
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
