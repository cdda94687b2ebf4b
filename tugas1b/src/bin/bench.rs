//! Download benchmark: `cargo run -p tugas1b --release --bin bench`.
//! Fetches a 1 GiB file (`--size-mib`) from the real server running in
//! this process, several times, next to a plain file -> TCP -> file copy
//! and a memory-to-memory loopback copy measured in the same run.
use std::process::ExitCode;
use std::time::Duration;

use common::cli::{Command, Flag};
use common::error::{run_main, AppError};
use common::net::{self, ServeOptions};

const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 1b download benchmark over loopback.",
    args: "",
    flags: &[
        Flag::value("size-mib", "MIB", "1024", "size of the file fetched"),
        Flag::value("runs", "N", "3", "how many times to fetch it"),
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
        let dir = std::env::temp_dir().join(format!("tugas1b-bench-{}", std::process::id()));
        let served = dir.join("served");
        std::fs::create_dir_all(&served).map_err(io_err("cannot make a temp folder"))?;
        let source = served.join("big.bin");
        common::bench::make_file(&source, size).map_err(io_err("cannot write the test file"))?;
        let listener = net::bind("127.0.0.1", 0)?;
        let port = listener
            .local_addr()
            .map_err(io_err("no local address"))?
            .port();
        std::thread::spawn(move || tugas1b::run_server(listener, ServeOptions::default(), served));
        let dest = dir.join("downloads/big.bin");
        let result =
            common::bench::compare_with_references("download", &source, &dir, runs, || {
                // Deleting the previous run's 1 GiB copy is not part of a download.
                let _ = std::fs::remove_file(&dest);
                let summary =
                    tugas1b::fetch("127.0.0.1", port, "big.bin", &dest, Duration::from_secs(60))
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                Ok(summary.mb_per_s())
            });
        let _ = std::fs::remove_dir_all(&dir);
        result.map_err(io_err("benchmark failed"))?;
        Ok(())
    })
}
