//! Upload benchmark: `cargo run -p tugas1a --release --bin bench`.
//! Sends a 1 GiB file (`--size-mib`) to the real server running in this
//! process, several times, next to a plain file -> TCP -> file copy and a
//! memory-to-memory loopback copy measured in the same run.
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::bench::{FileBench, RUNS, SIZE_MIB};
use common::cli::Command;
use common::error::{run_main, AppError};
use common::net;
use tugas1a::{run_client, start_server, ClientConfig, Config};

const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 1a upload benchmark over loopback.",
    args: "",
    flags: &[SIZE_MIB, RUNS],
};

fn main() -> ExitCode {
    run_main(&BENCH, |m| {
        let bench = FileBench::prepare("tugas1a-bench", &m, "input.bin")?;
        let listener = net::bind("127.0.0.1", 0)?;
        let output = bench.dir.join("hasil.txt");
        let config = Config {
            console: Arc::new(Mutex::new(std::io::sink())),
            ..Config::new(&output)
        };
        let server =
            start_server(listener, config).map_err(|e| AppError::io("cannot start", &e))?;
        let client = ClientConfig {
            host: "127.0.0.1".into(),
            port: server.addr().port(),
            file: bench.source.clone(),
            name: None,
            timeout: Duration::from_secs(60),
        };
        bench.compare("upload", || {
            // Deleting the previous run's 1 GiB copy is not part of an upload.
            let _ = std::fs::remove_file(&output);
            let (_, summary) = run_client(&client)?;
            Ok(summary.mb_per_s())
        })?;
        server.stop();
        Ok(())
    })
}
