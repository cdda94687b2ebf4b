//! Benchmark: the Tugas 8 server under load, in-process on a free port.
//!
//! ```text
//! cargo run -p tugas8 --release --bin bench -- --compare nginx=http://127.0.0.1:18081/
//! cargo run -p tugas8 --release --bin bench -- --tool builtin --seconds 2 --runs 3
//! cargo run -p tugas8 --release --bin bench -- --burst 2000
//! ```
use std::process::ExitCode;
use std::time::Duration;

use common::cli::{CliError, Command, Flag, Matches};
use common::error::{run_main, AppError, MainError};
use common::net::bind;
use tugas8::bench::{ab_table, ab_table_text, burst_latency, measure, median, Workload};
use tugas8::{server, Config};

const CMD: Command = Command {
    name: "bench",
    about:
        "Tugas 8 benchmark: ab against the server (and --compare servers serving the same www/), \
            GET sending.html and the form POST; or the built-in load generator; or the burst probe",
    args: "",
    flags: &[
        Flag::value(
            "tool",
            "NAME",
            "ab",
            "ab (the table beside --compare), builtin (own load generator) or burst",
        ),
        Flag::value("requests", "N", "20000", "requests per ab run (ab -n)"),
        Flag::value(
            "concurrency",
            "LIST",
            "1,10,100,1000",
            "ab -c levels, comma-separated",
        ),
        Flag::value(
            "compare",
            "NAME=URL",
            "",
            "also load this server serving tugas8/www (URL ends in /); repeatable",
        ),
        Flag::value(
            "seconds",
            "SECS",
            "1",
            "builtin: length of each measurement",
        ),
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
            "builtin: numbers of concurrent clients, comma-separated",
        ),
        Flag::value(
            "burst",
            "N",
            "2000",
            "burst: connections opened at once before the timed request",
        ),
    ],
};

fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn numbers(m: &Matches, name: &str) -> Result<Vec<u64>, CliError> {
    m.value(name)
        .split(',')
        .map(|c| match c.trim().parse() {
            Ok(0) | Err(_) => Err(CliError::Usage(format!(
                "--{name} wants positive numbers like 1,10,100"
            ))),
            Ok(n) => Ok(n),
        })
        .collect()
}

fn main() -> ExitCode {
    run_main(&CMD, |m| {
        // One log line per request would measure the terminal, not the server.
        log::set_max_level(log::LevelFilter::Warn);
        let runs: usize = m.parse("runs")?;
        if runs == 0 {
            return Err(CliError::Usage("--runs must be at least 1".into()).into());
        }
        let listener = bind("127.0.0.1", 0)?;
        let config = Config::new(tugas8::crate_www());
        let server = server::start_server(listener, &config)
            .map_err(|e| AppError::io("cannot start the server", &e))?;
        let addr = server.addr();
        match m.value("tool") {
            "ab" => ab(&m, addr, runs),
            "builtin" => builtin(&m, addr, runs),
            "burst" => burst(&m, addr, runs),
            other => Err(CliError::Usage(format!(
                "invalid value '{other}' for --tool: ab, builtin or burst"
            ))
            .into()),
        }
    })
}

/// The ab table: GET sending.html on this server and each --compare
/// server, the POST on this one.
fn ab(m: &Matches, addr: std::net::SocketAddr, runs: usize) -> Result<(), MainError> {
    let requests: u64 = m.parse("requests")?;
    let levels = numbers(m, "concurrency")?;
    let mut targets = vec![("tugas8".to_string(), format!("http://{addr}/"))];
    for value in m.values("compare") {
        let Some((name, url)) = value.split_once('=') else {
            return Err(CliError::Usage(format!("--compare wants NAME=URL, not {value:?}")).into());
        };
        if !url.starts_with("http://") || !url.ends_with('/') {
            return Err(CliError::Usage(format!(
                "--compare {value:?}: the URL must start with http:// and end in /"
            ))
            .into());
        }
        targets.push((name.to_string(), url.to_string()));
    }
    let post_file = std::env::temp_dir().join(format!("tugas8-bench-{}.form", std::process::id()));
    std::fs::write(&post_file, "kirim=ISILAH")
        .map_err(|e| AppError::io("cannot write the POST body file", &e))?;
    let load_before = load_average();
    eprintln!("load average {load_before}");
    let rows = ab_table(&targets, requests, &levels, runs, &post_file);
    let _ = std::fs::remove_file(&post_file);
    let rows = rows.map_err(|e| AppError::new("ab", e))?;
    println!(
        "ab -n {requests} at each setting, median of {runs} runs; load average before {load_before}, after {}",
        load_average()
    );
    for (name, url) in &targets {
        println!("  {name}: {url}");
    }
    println!();
    print!("{}", ab_table_text(&rows));
    Ok(())
}

/// The built-in load generator's table (GET teks.txt and POST, kept
/// alive or a new connection per request).
fn builtin(m: &Matches, addr: std::net::SocketAddr, runs: usize) -> Result<(), MainError> {
    let seconds: f64 = m.parse("seconds")?;
    let clients = numbers(m, "clients")?;
    if !(seconds > 0.0 && seconds < 3600.0) || clients.iter().any(|&c| c > 2000) {
        return Err(CliError::Usage(
            "--seconds must be positive and --clients at most 2000".into(),
        )
        .into());
    }
    println!("tugas8 bench: server at {addr}, {seconds} s per measurement, median of {runs} runs");
    println!("load average before: {}", load_average());
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
                .map(|_| measure(addr, w, c as usize, Duration::from_secs_f64(seconds)))
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
    println!();
    println!("load average after: {}", load_average());
    Ok(())
}

/// The burst probe: `--burst` connections at once, then one request timed.
fn burst(m: &Matches, addr: std::net::SocketAddr, runs: usize) -> Result<(), MainError> {
    let n: usize = m.parse("burst")?;
    let request = b"GET /sending.html HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    let load_before = load_average();
    let mut times = Vec::new();
    for run in 1..=runs {
        let (took, status) = burst_latency(addr, n, request)
            .map_err(|e| AppError::io(format!("burst of {n} connections"), &e))?;
        eprintln!(
            "  run {run}: {:.1} ms ({status})",
            took.as_secs_f64() * 1000.0
        );
        times.push(took.as_secs_f64() * 1000.0);
    }
    println!(
        "tugas8: after {n} connections at once, a new client's request answered in {:.1} ms \
         (median of {runs}; load average before {load_before}, after {})",
        median(times.into_iter()),
        load_average()
    );
    Ok(())
}
