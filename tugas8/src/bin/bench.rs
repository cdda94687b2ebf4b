//! Benchmark: the Tugas 8 server under load, in-process on a free port.
//! `cargo run -p tugas8 --release --bin bench -- --seconds 2 --runs 3`
use std::process::ExitCode;
use std::time::Duration;

use common::cli::{Command, Flag};
use common::error::{run_main, AppError};
use common::net::bind;
use tugas8::bench::{measure, Workload};
use tugas8::{server, Config};

const CMD: Command = Command {
    name: "bench",
    about:
        "Tugas 8 benchmark: requests/s and latency of form POSTs against GETs and new connections",
    args: "",
    flags: &[
        Flag::value("seconds", "SECS", "1", "length of each measurement"),
        Flag::value(
            "runs",
            "N",
            "3",
            "measurements per row; the median is shown",
        ),
        Flag::value(
            "clients",
            "LIST",
            "1,8,64",
            "numbers of concurrent clients, comma-separated",
        ),
    ],
};

fn main() -> ExitCode {
    run_main(&CMD, |m| {
        // One log line per request would measure the terminal, not the server.
        log::set_max_level(log::LevelFilter::Warn);
        let seconds: f64 = m.parse("seconds")?;
        let runs: usize = m.parse("runs")?;
        let clients: Vec<usize> = m
            .value("clients")
            .split(',')
            .map(|c| c.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                common::cli::CliError::Usage("--clients wants numbers like 1,8,64".into())
            })?;
        if !(seconds > 0.0 && seconds < 3600.0)
            || runs == 0
            || clients.iter().any(|&c| c == 0 || c > 2000)
        {
            return Err(common::cli::CliError::Usage(
                "--seconds, --runs and --clients must be positive (clients at most 2000)".into(),
            )
            .into());
        }
        let listener = bind("127.0.0.1", 0)?;
        let config = Config::new(tugas8::crate_www());
        let server = server::start_server(listener, &config)
            .map_err(|e| AppError::io("cannot start the server", &e))?;
        let addr = server.addr();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "tugas8 bench: server at {addr}, {seconds} s per measurement, median of {runs} runs"
        );
        println!(
            "load average before: {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!();
        println!(
            "{:<26} {:>7} {:>12} {:>10} {:>10} {:>7}",
            "workload", "clients", "requests/s", "p50 µs", "p99 µs", "failed"
        );
        for &c in &clients {
            for w in [
                Workload::GetKeepAlive,
                Workload::PostKeepAlive,
                Workload::PostNewConnection,
            ] {
                let mut results: Vec<_> = (0..runs)
                    .map(|_| measure(addr, w, c, Duration::from_secs_f64(seconds)))
                    .collect();
                results.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
                let median = &results[results.len() / 2];
                let failed: u64 = results.iter().map(|r| r.failed).sum();
                println!(
                    "{:<26} {:>7} {:>12.0} {:>10} {:>10} {:>7}",
                    w.name(),
                    c,
                    median.per_second(),
                    median.latency(0.5).as_micros(),
                    median.latency(0.99).as_micros(),
                    failed
                );
            }
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!();
        println!(
            "load average after: {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
        Ok(())
    })
}
