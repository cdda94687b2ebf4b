//! Tugas 7 benchmark: `cargo run -p tugas6 --release --bin bench`, optionally
//! with `-- --compare nginx=http://127.0.0.1:8080/` to measure a reference
//! server in the same run. Needs `ab` (Debian/Ubuntu: apache2-utils).
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas6::bench::BENCH, |m| {
        let config = tugas6::bench::BenchConfig::from_matches(&m)?;
        if config.burst > 0 {
            tugas6::bench::run_burst(&config)?;
        } else {
            tugas6::bench::run_bench(&config)?;
        }
        Ok(())
    })
}
