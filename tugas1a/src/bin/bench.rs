//! Upload benchmark: `cargo run -p tugas1a --release --bin bench`.
//! Sends a 1 GiB file (`--size-mib`) to the real server running in this
//! process, several times, next to a plain file -> TCP -> file copy and a
//! memory-to-memory loopback copy measured in the same run.
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cli::{Command, Flag};
use common::error::{run_main, AppError};
use common::net::{self, ServeOptions};

const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 1a upload benchmark over loopback.",
    args: "",
    flags: &[
        Flag::value("size-mib", "MIB", "1024", "size of the file sent"),
        Flag::value("runs", "N", "3", "how many times to send it"),
    ],
};

fn main() -> ExitCode {
    run_main(&BENCH, |m| {
        // Per-transfer log lines would only clutter the table.
        log::set_max_level(log::LevelFilter::Warn);
        let size = m.parse::<u64>("size-mib")? << 20;
        let runs: usize = m.parse("runs")?;
        let io_err = |what: &str| {
            let what = what.to_string();
            move |e: std::io::Error| AppError::io(what.clone(), &e)
        };
        let dir = std::env::temp_dir().join(format!("tugas1a-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io_err("cannot make a temp folder"))?;
        let input = dir.join("input.bin");
        common::bench::make_file(&input, size).map_err(io_err("cannot write the test file"))?;
        let listener = net::bind("127.0.0.1", 0)?;
        let port = listener
            .local_addr()
            .map_err(io_err("no local address"))?
            .port();
        let output = dir.join("hasil.txt");
        let previous = output.clone();
        let console = Arc::new(Mutex::new(std::io::sink()));
        std::thread::spawn(move || {
            tugas1a::run_server(listener, ServeOptions::default(), output, console)
        });
        let result = common::bench::compare_with_references("upload", &input, &dir, runs, || {
            // Deleting the previous run's 1 GiB copy is not part of an upload.
            let _ = std::fs::remove_file(&previous);
            let (_, summary) =
                tugas1a::upload("127.0.0.1", port, &input, None, Duration::from_secs(60))
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok(summary.mb_per_s())
        });
        let _ = std::fs::remove_dir_all(&dir);
        result.map_err(io_err("benchmark failed"))?;
        Ok(())
    })
}
