//! Tugas 5 benchmark: `cargo run -p tugas5 --release --bin bench`
//! (`-- --clients 1,10,100 --pairs 20000 --runs 3`).
use std::io;
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas5::BENCH, |m| {
        // The server logs every request at info; that would measure the log.
        if std::env::var_os("RUST_LOG").is_none() {
            log::set_max_level(log::LevelFilter::Warn);
        }
        let config = tugas5::bench::BenchConfig::from_matches(&m)?;
        tugas5::bench::run_bench(&config, io::stdout().lock())?;
        Ok(())
    })
}
