//! Tugas 7: load-testing the server with ApacheBench (`ab`), reading ab's
//! report, and showing the results as a table and an SVG chart.
//!
//! `ab -n N -c C URL` sends N requests in total, keeping C of them in
//! flight at any moment (C simulated users, each sending its next request
//! as soon as its previous one is answered). With `-k` each user keeps its
//! connection open (HTTP keep-alive); without it every request opens and
//! closes a connection of its own.
//!
//! `--tool wrk` runs the same table with `wrk` instead, as a second
//! opinion: wrk is a more efficient client (it runs for `--seconds` on
//! one thread, `-H "Connection: close"` for a new connection per
//! request), so it loads the servers harder than ab.

use std::fmt::Write as _;
use std::io;
use std::process::Command;
use std::time::Duration;

use common::cli::{self, CliError, Flag, Matches};
use common::error::AppError;
use common::net;

use crate::Engine;

/// The bench program's flags.
pub const BENCH: cli::Command = cli::Command {
    name: "bench",
    about:
        "Tugas 7: runs the Tugas 6 server on a free port, loads it with ab at several \
            concurrency levels with and without keep-alive, prints a table and writes an SVG chart.",
    args: "",
    flags: &[
        Flag::value("requests", "N", "50000", "requests per ab run (ab -n)"),
        Flag::value(
            "concurrency",
            "LIST",
            "1,10,100,1000",
            "concurrency levels, comma-separated (ab -c)",
        ),
        Flag::value(
            "runs",
            "N",
            "3",
            "runs per setting; the table shows medians",
        ),
        Flag::value(
            "compare",
            "[NAME=]URL",
            "",
            "also load this server (e.g. nginx=http://127.0.0.1:8080/); repeatable",
        ),
        Flag::value(
            "engines",
            "LIST",
            ENGINES,
            "server engines to load, comma-separated (see the server's --engine)",
        ),
        Flag::value("output", "PATH", "bench.svg", "where to write the chart"),
        Flag::value("timeout", "SECS", "30", "ab's per-request timeout (ab -s)"),
        Flag::value(
            "tool",
            "NAME",
            "ab",
            "load generator: ab (ab -n REQUESTS) or wrk (wrk -t 1 -d SECONDS)",
        ),
        Flag::value("seconds", "SECS", "3", "length of each wrk run (wrk -d)"),
        Flag::value(
            "burst",
            "N",
            "0",
            "instead of the table: open N connections at once, then time one more client's request",
        ),
    ],
};

/// Every engine this platform has, as `--engines` takes them.
#[cfg(target_os = "linux")]
const ENGINES: &str = "epoll,threads";
/// Every engine this platform has, as `--engines` takes them.
#[cfg(not(target_os = "linux"))]
const ENGINES: &str = "threads";

/// What [`run_bench`] does, from the flags.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// ab -n for each run.
    pub requests: u64,
    /// ab -c values, in order.
    pub levels: Vec<u64>,
    /// Runs per setting.
    pub runs: usize,
    /// The Tugas 6 server's engines to load, each on a port of its own.
    pub engines: Vec<Engine>,
    /// Reference servers: (name, URL).
    pub compare: Vec<(String, String)>,
    /// Chart file.
    pub output: String,
    /// ab -s, and wrk's --timeout.
    pub timeout_secs: u64,
    /// The load generator.
    pub tool: Tool,
    /// wrk -d: seconds per run.
    pub seconds: u64,
    /// Connections of the burst probe ([`run_burst`]); 0: the ab/wrk table.
    pub burst: usize,
}

/// The program that loads the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// ApacheBench: `ab -n REQUESTS -c C [-k]`, what Tugas 7 asks for.
    Ab,
    /// wrk: `wrk -t 1 -c C -d SECONDS` (keep-alive), with
    /// `-H "Connection: close"` for a new connection per request.
    Wrk,
}

impl Tool {
    /// The tool's program name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Ab => "ab",
            Tool::Wrk => "wrk",
        }
    }
}

impl BenchConfig {
    /// Reads the flags.
    ///
    /// # Errors
    /// A usage error for a value that is not a positive number, an empty
    /// concurrency list, a concurrency above the request count, or a
    /// `--compare` value that is not an `http://` URL, an unknown engine.
    pub fn from_matches(m: &Matches) -> Result<BenchConfig, CliError> {
        let positive = |name: &str| -> Result<u64, CliError> {
            match m.parse::<u64>(name)? {
                0 => Err(CliError::Usage(format!("--{name} must be at least 1"))),
                n => Ok(n),
            }
        };
        let requests = positive("requests")?;
        let mut levels = Vec::new();
        for part in m.value("concurrency").split(',') {
            let c: u64 = part.trim().parse().map_err(|_| {
                CliError::Usage(format!(
                    "invalid value '{part}' in --concurrency: expected numbers like 1,10,100"
                ))
            })?;
            if c == 0 || c > requests {
                return Err(CliError::Usage(format!(
                    "concurrency {c} must be between 1 and --requests ({requests})"
                )));
            }
            levels.push(c);
        }
        let mut engines = Vec::new();
        for part in m.value("engines").split(',') {
            let engine: Engine = part.trim().parse().map_err(|why| {
                CliError::Usage(format!("invalid value '{part}' in --engines: {why}"))
            })?;
            if !engines.contains(&engine) {
                engines.push(engine);
            }
        }
        let mut compare = Vec::new();
        for value in m.values("compare") {
            let (name, url) = match value.split_once('=') {
                Some((name, url)) if !name.contains("://") => (name.to_string(), url.to_string()),
                _ => (label_of(value), value.to_string()),
            };
            if !url.starts_with("http://") {
                return Err(CliError::Usage(format!(
                    "invalid --compare '{value}': expected [NAME=]http://HOST:PORT/PATH (ab speaks plain http)"
                )));
            }
            compare.push((name, url));
        }
        Ok(BenchConfig {
            requests,
            levels,
            runs: positive("runs")? as usize,
            engines,
            compare,
            output: m.value("output").to_string(),
            timeout_secs: positive("timeout")?,
            tool: match m.value("tool") {
                "ab" => Tool::Ab,
                "wrk" => Tool::Wrk,
                other => {
                    return Err(CliError::Usage(format!(
                        "invalid value '{other}' for --tool: ab or wrk"
                    )))
                }
            },
            seconds: positive("seconds")?,
            burst: m.parse("burst")?,
        })
    }
}

/// A short name for a URL: its host and port.
fn label_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// The load average from /proc/loadavg ("0.52 0.40 0.31"), if there is one.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Runs the whole benchmark: starts the server in-process on a free port,
/// runs ab against it (and each `--compare` server) at every concurrency
/// level, without and with keep-alive, prints the table to stdout and
/// writes the chart.
///
/// # Errors
/// If ab is missing or fails, a server cannot be reached, or the chart
/// cannot be written.
pub fn run_bench(config: &BenchConfig) -> Result<Vec<Row>, AppError> {
    let version = match config.tool {
        Tool::Ab => check_ab()?,
        Tool::Wrk => check_wrk()?,
    };
    crate::limits::raise_open_files_limit();
    // A log line per request would measure the terminal, not the server.
    if std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let mut targets = Vec::new();
    // Each server runs until the end of the bench (dropped: stopped).
    let mut servers = Vec::new();
    for &engine in &config.engines {
        let listener = net::bind("127.0.0.1", 0)?;
        let server_config = crate::Config {
            timeout: Duration::from_secs(30),
            max_connections: 20_000,
            engine,
            ..crate::Config::default()
        };
        let server = crate::start_server(listener, &server_config)
            .map_err(|e| AppError::io("cannot start the server", &e))?;
        let addr = server.addr();
        servers.push(server);
        targets.push((
            format!("tugas6/{}", engine.name()),
            format!("http://{addr}/"),
        ));
    }
    targets.extend(config.compare.iter().cloned());

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = load_average().unwrap_or_else(|| "?".into());
    eprintln!("{version}; {cpus} CPUs; load average {load_before}");
    for (name, url) in &targets {
        // Warm-up, and a clear error now if a --compare server is not there.
        let warm = match config.tool {
            Tool::Ab => run_ab(
                url,
                2000.min(config.requests),
                10,
                false,
                config.timeout_secs,
            )?,
            Tool::Wrk => run_wrk(url, 1, 10, false, config.timeout_secs)?,
        };
        eprintln!(
            "{name} at {url}: warm-up {:.0} requests/s",
            warm.requests_per_sec
        );
    }

    let mut rows = Vec::new();
    for keep_alive in [false, true] {
        for &c in &config.levels {
            let mut runs: Vec<Vec<AbReport>> = vec![Vec::new(); targets.len()];
            // Targets take turns within each round, so a burst of load from
            // something else on the machine hits them alike.
            for round in 0..config.runs {
                for (i, (name, url)) in targets.iter().enumerate() {
                    let r = match config.tool {
                        Tool::Ab => {
                            run_ab(url, config.requests, c, keep_alive, config.timeout_secs)?
                        }
                        Tool::Wrk => {
                            run_wrk(url, config.seconds, c, keep_alive, config.timeout_secs)?
                        }
                    };
                    eprintln!(
                        "  {name:<16} -c {c:<5}{} run {}: {:>8.0} requests/s, {} failed",
                        if keep_alive { " -k" } else { "   " },
                        round + 1,
                        r.requests_per_sec,
                        r.failed
                    );
                    runs[i].push(r);
                }
            }
            for ((name, _), reports) in targets.iter().zip(&runs) {
                rows.push(Row::from_runs(name, keep_alive, c, reports));
            }
        }
    }
    let load_after = load_average().unwrap_or_else(|| "?".into());

    let how = match config.tool {
        Tool::Ab => format!("ab -n {}", config.requests),
        Tool::Wrk => format!("wrk -t 1 -d {}s", config.seconds),
    };
    println!(
        "{how} at each setting, median of {} runs; {cpus} CPUs; load average before {load_before}, after {load_after}",
        config.runs
    );
    for (name, url) in &targets {
        println!("  {name}: {url}");
    }
    println!();
    print!("{}", table(&rows));

    let mut series = Vec::new();
    for (t, (name, _)) in targets.iter().enumerate() {
        for keep_alive in [false, true] {
            series.push(Series {
                label: format!("{name}{}", if keep_alive { " (-k)" } else { "" }),
                points: rows
                    .iter()
                    .filter(|r| r.target == *name && r.keep_alive == keep_alive)
                    .map(|r| (r.concurrency, r.requests_per_sec))
                    .collect(),
                dashed: keep_alive,
                color: t,
            });
        }
    }
    // The 1-minute load average only, so the line fits the chart.
    let first = |load: &str| load.split(' ').next().unwrap_or("?").to_string();
    let subtitle = format!(
        "{how}, median of {} runs, {cpus} CPUs, load average {} -> {}",
        config.runs,
        first(&load_before),
        first(&load_after)
    );
    let svg = svg_chart(
        &format!(
            "Tugas 6 HTTP server under {}: requests/s by concurrency",
            config.tool.name()
        ),
        &subtitle,
        &config.levels,
        &series,
    );
    std::fs::write(&config.output, svg)
        .map_err(|e| AppError::io(format!("cannot write {}", config.output), &e))?;
    println!("\nchart written to {}", config.output);
    Ok(rows)
}

/// The burst probe, once per engine, `config.runs` times (a fresh server
/// each time): opens
/// `config.burst` connections at once (they send nothing), then times one
/// more client's `GET /` until its answer's head has come; prints each
/// run and the median.
///
/// # Errors
/// If a server cannot start or the probe's connections fail (the
/// open-files limit is raised first; ab is not needed).
pub fn run_burst(config: &BenchConfig) -> Result<(), AppError> {
    crate::limits::raise_open_files_limit();
    if std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let n = config.burst;
    let load_before = load_average().unwrap_or_else(|| "?".into());
    let mut lines = Vec::new();
    for &engine in &config.engines {
        let server_config = crate::Config {
            max_connections: 20_000,
            engine,
            ..crate::Config::default()
        };
        let mut times = Vec::new();
        for run in 1..=config.runs {
            // A fresh server each run: no threads left idle by the last.
            let listener = net::bind("127.0.0.1", 0)?;
            let server = crate::start_server(listener, &server_config)
                .map_err(|e| AppError::io("cannot start the server", &e))?;
            let (took, status) = burst_latency(server.addr(), n, b"GET / HTTP/1.0\r\n\r\n")
                .map_err(|e| AppError::io(format!("burst of {n} connections"), &e))?;
            drop(server);
            let ms = took.as_secs_f64() * 1000.0;
            eprintln!(
                "  tugas6/{} run {run}: {ms:.1} ms ({status})",
                engine.name()
            );
            times.push(ms);
        }
        lines.push(format!(
            "tugas6/{:<8} after {n} connections at once, a new client's request answered in {:.1} ms (median of {})",
            engine.name(),
            median(times.into_iter()),
            config.runs
        ));
    }
    for line in lines {
        println!("{line}");
    }
    println!(
        "load average before {load_before}, after {}",
        load_average().unwrap_or_else(|| "?".into())
    );
    Ok(())
}

pub use common::bench::burst_latency;

/// How to get `ab` when it is missing.
pub const INSTALL_HINT: &str = "ab is part of Apache's tools: Debian/Ubuntu: \
     sudo apt-get install apache2-utils; Fedora/RHEL: sudo dnf install httpd-tools; \
     Arch: sudo pacman -S apache; macOS: ab comes with the system";

/// The figures this program takes from one ab (or wrk) report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbReport {
    /// "Complete requests".
    pub complete: u64,
    /// "Failed requests" (connect, receive, length or exception errors).
    pub failed: u64,
    /// "Non-2xx responses" (0 when ab does not print the line).
    pub non_2xx: u64,
    /// "Requests per second".
    pub requests_per_sec: f64,
    /// The first "Time per request" (mean time one user waits for one
    /// answer), in milliseconds.
    pub mean_ms: f64,
    /// 99% of the requests were served within this many milliseconds.
    pub p99_ms: f64,
}

/// Reads the figures out of ab's text report.
///
/// # Errors
/// A message naming the first line that is missing; ab prints all of them
/// for every completed run, so a missing one means ab stopped early.
pub fn parse_ab_report(text: &str) -> Result<AbReport, String> {
    let field = |label: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
    };
    let num = |label: &str| -> Result<f64, String> {
        field(label)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("ab's report has no \"{label}\" line"))
    };
    let p99 = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("99%"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| "ab's report has no 99% line in its percentile table".to_string())?;
    Ok(AbReport {
        complete: num("Complete requests:")? as u64,
        failed: num("Failed requests:")? as u64,
        non_2xx: field("Non-2xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        requests_per_sec: num("Requests per second:")?,
        mean_ms: num("Time per request:")?,
        p99_ms: p99,
    })
}

/// Checks that `ab` can be run; returns its version line.
///
/// # Errors
/// An [`AppError`] with [`INSTALL_HINT`] when ab is not installed.
pub fn check_ab() -> Result<String, AppError> {
    check_ab_at("ab")
}

/// [`check_ab`] for an ab under another name or path.
///
/// # Errors
/// As [`check_ab`].
pub fn check_ab_at(program: &str) -> Result<String, AppError> {
    match Command::new(program).arg("-V").output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let first = text.lines().next().unwrap_or("ab").trim();
            Ok(first.strip_prefix("This is ").unwrap_or(first).to_string())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(AppError::new("cannot run ab", "it is not installed").hint(INSTALL_HINT))
        }
        Err(e) => Err(AppError::io("cannot run ab", &e)),
    }
}

/// How to get `wrk` when it is missing.
pub const WRK_INSTALL_HINT: &str = "Debian/Ubuntu: sudo apt-get install wrk; \
     Fedora: sudo dnf install wrk; macOS: brew install wrk";

/// Checks that `wrk` can be run; returns its version line.
///
/// # Errors
/// An [`AppError`] with [`WRK_INSTALL_HINT`] when wrk is not installed.
pub fn check_wrk() -> Result<String, AppError> {
    // wrk -v prints its version and exits 1.
    match Command::new("wrk").arg("-v").output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(text.lines().next().unwrap_or("wrk").trim().to_string())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(AppError::new("cannot run wrk", "it is not installed").hint(WRK_INSTALL_HINT))
        }
        Err(e) => Err(AppError::io("cannot run wrk", &e)),
    }
}

/// Runs `wrk -t 1 -c concurrency -d seconds --latency --timeout T url`
/// (with `-H "Connection: close"` unless `keep_alive`) and reads its
/// report.
///
/// # Errors
/// If wrk cannot start, exits with an error, or prints no report.
pub fn run_wrk(
    url: &str,
    seconds: u64,
    concurrency: u64,
    keep_alive: bool,
    timeout_secs: u64,
) -> Result<AbReport, AppError> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", "1", "-c", &concurrency.to_string()])
        .args(["-d", &format!("{seconds}s"), "--latency"])
        .args(["--timeout", &format!("{timeout_secs}s")]);
    if !keep_alive {
        cmd.args(["-H", "Connection: close"]);
    }
    cmd.arg(url);
    let what = format!(
        "wrk -c {concurrency} -d {seconds}s{} {url}",
        if keep_alive { "" } else { " (close)" }
    );
    let out = cmd
        .output()
        .map_err(|e| AppError::io(format!("cannot run {what}"), &e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(AppError::new(
            what,
            format!(
                "wrk failed ({}): {}",
                out.status,
                last.unwrap_or("no message").trim()
            ),
        ));
    }
    parse_wrk_report(&stdout).map_err(|e| AppError::new(what, e))
}

/// A wrk duration ("334.53us", "1.00ms", "2.10s") in milliseconds.
fn wrk_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * scale)
}

/// Reads the figures out of wrk's text report (run with `--latency`):
/// requests, socket errors (counted as failed), non-2xx answers,
/// requests/s, mean and 99% latency.
///
/// # Errors
/// A message naming the first line that is missing.
pub fn parse_wrk_report(text: &str) -> Result<AbReport, String> {
    let line = |prefix: &str| text.lines().map(str::trim).find(|l| l.starts_with(prefix));
    let requests_per_sec = line("Requests/sec:")
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or("wrk's report has no \"Requests/sec:\" line")?;
    let complete = line_with(text, "requests in")
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or("wrk's report has no \"N requests in\" line")?;
    let mean_ms = line("Latency")
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(wrk_ms)
        .ok_or("wrk's report has no \"Latency\" line")?;
    let p99_ms = line("99%")
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(wrk_ms)
        .ok_or("wrk's report has no 99% line (run with --latency)")?;
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let failed = line("Socket errors:").map_or(0, |l| {
        l.split([',', ':'])
            .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum()
    });
    let non_2xx = line("Non-2xx or 3xx responses:")
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(AbReport {
        complete,
        failed,
        non_2xx,
        requests_per_sec,
        mean_ms,
        p99_ms,
    })
}

fn line_with<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    text.lines().map(str::trim).find(|l| l.contains(needle))
}

/// Runs `ab -r -q -n requests -c concurrency [-k] -s timeout url` and reads
/// its report. `-r` keeps ab going after a failed request so failures are
/// counted rather than ending the run.
///
/// Start the program with a raised open-files limit
/// ([`crate::limits::raise_open_files_limit`]): ab inherits it, and at
/// `-c 1000` it needs more than 1024 descriptors.
///
/// # Errors
/// If ab cannot start, exits with an error, or prints no report.
pub fn run_ab(
    url: &str,
    requests: u64,
    concurrency: u64,
    keep_alive: bool,
    timeout_secs: u64,
) -> Result<AbReport, AppError> {
    let mut cmd = Command::new("ab");
    cmd.args(["-r", "-q", "-n", &requests.to_string()])
        .args(["-c", &concurrency.to_string()])
        .args(["-s", &timeout_secs.to_string()]);
    if keep_alive {
        cmd.arg("-k");
    }
    cmd.arg(url);
    let what = format!(
        "ab -n {requests} -c {concurrency}{} {url}",
        if keep_alive { " -k" } else { "" }
    );
    let out = cmd.output().map_err(|e| {
        let err = AppError::io(format!("cannot run {what}"), &e);
        if e.kind() == io::ErrorKind::NotFound {
            err.hint(INSTALL_HINT)
        } else {
            err
        }
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(AppError::new(
            what,
            format!(
                "ab failed ({}): {}",
                out.status,
                last.unwrap_or("no message").trim()
            ),
        ));
    }
    parse_ab_report(&stdout).map_err(|e| AppError::new(what, e))
}

/// One line of the results table: a target at one setting, summarised over
/// several runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Which server (`tugas6`, `nginx`, ...).
    pub target: String,
    /// Whether ab ran with `-k`.
    pub keep_alive: bool,
    /// ab's `-c`.
    pub concurrency: u64,
    /// Median requests per second over the runs.
    pub requests_per_sec: f64,
    /// Median mean latency (ms).
    pub mean_ms: f64,
    /// Median 99th percentile latency (ms).
    pub p99_ms: f64,
    /// Failed requests, summed over the runs.
    pub failed: u64,
    /// Non-2xx responses, summed over the runs.
    pub non_2xx: u64,
    /// Requests completed, summed over the runs.
    pub complete: u64,
}

impl Row {
    /// Summarises several runs of one setting (medians and sums).
    ///
    /// # Panics
    /// If `runs` is empty.
    pub fn from_runs(target: &str, keep_alive: bool, concurrency: u64, runs: &[AbReport]) -> Row {
        assert!(!runs.is_empty(), "no runs to summarise");
        Row {
            target: target.to_string(),
            keep_alive,
            concurrency,
            requests_per_sec: median(runs.iter().map(|r| r.requests_per_sec)),
            mean_ms: median(runs.iter().map(|r| r.mean_ms)),
            p99_ms: median(runs.iter().map(|r| r.p99_ms)),
            failed: runs.iter().map(|r| r.failed).sum(),
            non_2xx: runs.iter().map(|r| r.non_2xx).sum(),
            complete: runs.iter().map(|r| r.complete).sum(),
        }
    }
}

/// The median (mean of the middle two for an even count); 0 when empty.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The results as a plain-text table, one row per target and setting, with
/// each reference's requests/s also given as a share of the first target's.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>6} {:>11} {:>10} {:>9} {:>7} {:>8} {:>9}",
        "server",
        "keep-alive",
        "-c",
        "requests/s",
        "mean ms",
        "p99 ms",
        "failed",
        "non-2xx",
        "vs first"
    );
    for row in rows {
        let first = rows
            .iter()
            .find(|r| r.keep_alive == row.keep_alive && r.concurrency == row.concurrency);
        let share = match first {
            Some(f) if f.requests_per_sec > 0.0 => {
                format!("{:.0}%", 100.0 * row.requests_per_sec / f.requests_per_sec)
            }
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>6} {:>11.0} {:>10.3} {:>9.0} {:>7} {:>8} {:>9}",
            row.target,
            if row.keep_alive { "yes (-k)" } else { "no" },
            row.concurrency,
            row.requests_per_sec,
            row.mean_ms,
            row.p99_ms,
            row.failed,
            row.non_2xx,
            share
        );
    }
    out
}

/// One line of the chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (concurrency, requests/s), in the order of the x axis.
    pub points: Vec<(u64, f64)>,
    /// A keep-alive run: drawn dashed, in the right-hand panel (runs
    /// with a new connection per request go in the left one).
    pub dashed: bool,
    /// Colour number: lines of one server share a colour.
    pub color: usize,
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

/// A chart of requests/s against concurrency as a standalone SVG
/// document, in two panels side by side, each with a y axis of its own
/// starting at 0: new connection per request (left) and keep-alive
/// (right; the [`Series::dashed`] ones), which differ by ten times or
/// more and would lie flat on one axis. The x axis has one evenly spaced
/// tick per concurrency level (1, 10, 100, 1000 are a log scale).
pub fn svg_chart(title: &str, subtitle: &str, levels: &[u64], series: &[Series]) -> String {
    const PANEL_W: f64 = 300.0;
    const GAP: f64 = 90.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 210.0;
    const TOP: f64 = 70.0;
    const BOTTOM: f64 = 60.0;
    const H: f64 = 470.0;
    const W: f64 = LEFT + PANEL_W + GAP + PANEL_W + RIGHT;
    let plot_h = H - TOP - BOTTOM;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="28" font-size="17" font-weight="bold">{}</text>"#,
        xml_escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="50" fill="#555">{}</text>"##,
        xml_escape(subtitle)
    );
    let panels = [
        (false, "new connection per request"),
        (true, "keep-alive (-k)"),
    ];
    for (p, (keep_alive, name)) in panels.into_iter().enumerate() {
        let left = LEFT + p as f64 * (PANEL_W + GAP);
        let lines: Vec<&Series> = series.iter().filter(|l| l.dashed == keep_alive).collect();
        let max = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        let (step, top) = nice_axis(max);
        let x_of = |c: u64| -> f64 {
            let i = levels.iter().position(|&l| l == c).unwrap_or(0) as f64;
            let n = (levels.len().max(2) - 1) as f64;
            left + PANEL_W * i / n
        };
        let y_of = |v: f64| TOP + plot_h * (1.0 - v / top);
        // Horizontal grid lines with their values.
        let mut v = 0.0;
        while v <= top + step / 2.0 {
            let y = y_of(v);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                left + PANEL_W,
                left - 8.0,
                y + 4.0,
                thousands(v)
            );
            v += step;
        }
        for &c in levels {
            let x = x_of(c);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{c}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 20.0
            );
        }
        let _ = writeln!(
            s,
            r#"<rect x="{left}" y="{TOP}" width="{PANEL_W}" height="{plot_h}" fill="none" stroke="black"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{name}</text>"#,
            left + PANEL_W / 2.0,
            TOP - 6.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">concurrency (-c)</text>"#,
            left + PANEL_W / 2.0,
            H - 15.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle">requests per second</text>"#,
            left - 62.0,
            TOP + plot_h / 2.0
        );
        for line in lines {
            let color = COLORS[line.color % COLORS.len()];
            let dash = if line.dashed {
                r#" stroke-dasharray="7 4""#
            } else {
                ""
            };
            let pts: Vec<String> = line
                .points
                .iter()
                .map(|&(c, v)| format!("{:.1},{:.1}", x_of(c), y_of(v)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2.5"{dash}/>"#,
                pts.join(" ")
            );
            for &(c, v) in &line.points {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{color}"><title>{}: -c {c}: {:.0} requests/s</title></circle>"#,
                    x_of(c),
                    y_of(v),
                    xml_escape(&line.label),
                    v
                );
            }
        }
    }
    for (i, line) in series.iter().enumerate() {
        let color = COLORS[line.color % COLORS.len()];
        let dash = if line.dashed {
            r#" stroke-dasharray="7 4""#
        } else {
            ""
        };
        let ly = TOP + 10.0 + 24.0 * i as f64;
        let lx = W - RIGHT + 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 28.0,
            lx + 36.0,
            ly + 4.0,
            xml_escape(&line.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A grid step of 1, 2 or 5 times a power of ten giving about five lines,
/// and the axis top (a multiple of the step at or above `max`).
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 5.0);
    }
    let rough = max / 5.0;
    let pow = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * pow)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * pow);
    (step, (max / step).ceil() * step)
}

/// 12345.0 as "12,345".
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real report from `ab -n 1000 -c 10 http://127.0.0.1:10001/`
    /// (ApacheBench 2.3), trimmed of its banner.
    const REPORT: &str = "\
Server Software:        progjar-rust
Server Hostname:        127.0.0.1
Server Port:            10001

Document Path:          /
Document Length:        20 bytes

Concurrency Level:      10
Time taken for tests:   0.081 seconds
Complete requests:      1000
Failed requests:        3
   (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)
Non-2xx responses:      7
Total transferred:      175000 bytes
HTML transferred:       20000 bytes
Requests per second:    12345.67 [#/sec] (mean)
Time per request:       0.810 [ms] (mean)
Time per request:       0.081 [ms] (mean, across all concurrent requests)
Transfer rate:          2109.88 [Kbytes/sec] received

Percentage of the requests served within a certain time (ms)
  50%      1
  66%      1
  75%      1
  80%      1
  90%      1
  95%      1
  98%      2
  99%      3
 100%      4 (longest request)
";

    #[test]
    fn reads_the_figures() {
        let r = parse_ab_report(REPORT).unwrap();
        assert_eq!(
            r,
            AbReport {
                complete: 1000,
                failed: 3,
                non_2xx: 7,
                requests_per_sec: 12345.67,
                mean_ms: 0.81,
                p99_ms: 3.0,
            }
        );
        let without_non2xx = REPORT.replace("Non-2xx responses:      7\n", "");
        assert_eq!(parse_ab_report(&without_non2xx).unwrap().non_2xx, 0);
    }

    #[test]
    fn a_cut_report_is_an_error() {
        let cut = &REPORT[..REPORT.find("Requests per second").unwrap()];
        let err = parse_ab_report(cut).unwrap_err();
        assert!(err.contains("99%"), "{err}");
        let no_rps = REPORT.replace("Requests per second", "Requests per fortnight");
        let err = parse_ab_report(&no_rps).unwrap_err();
        assert_eq!(err, "ab's report has no \"Requests per second:\" line");
    }

    #[test]
    fn medians_and_sums() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
        let r = parse_ab_report(REPORT).unwrap();
        let faster = AbReport {
            requests_per_sec: 20000.0,
            ..r
        };
        let row = Row::from_runs("tugas6", true, 10, &[r, faster, r]);
        assert_eq!(row.requests_per_sec, 12345.67);
        assert_eq!((row.failed, row.non_2xx, row.complete), (9, 21, 3000));
        let t = table(&[
            row.clone(),
            Row {
                target: "nginx".into(),
                requests_per_sec: row.requests_per_sec * 2.0,
                ..row
            },
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].starts_with("tugas6") && lines[1].ends_with("100%"),
            "{t}"
        );
        assert!(
            lines[2].starts_with("nginx") && lines[2].ends_with("200%"),
            "{t}"
        );
        assert!(
            lines[1].contains("yes (-k)") && lines[1].contains("12346"),
            "{t}"
        );
    }

    /// A real report of `wrk -t1 -c10 -d1s --latency` (wrk 4.1.0).
    const WRK_REPORT: &str = "\
Running 1s test @ http://127.0.0.1:18080/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   334.53us    0.85ms   8.15ms   90.93%
    Req/Sec    92.85k    19.29k  128.57k    70.00%
  Latency Distribution
     50%   59.00us
     75%   90.00us
     90%    1.00ms
     99%    4.14ms
  92385 requests in 1.01s, 14.71MB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 5
Requests/sec:  91738.61
Transfer/sec:     14.61MB
";

    #[test]
    fn reads_wrks_figures() {
        let r = parse_wrk_report(WRK_REPORT).unwrap();
        assert_eq!(r.complete, 92385);
        assert_eq!((r.failed, r.non_2xx), (3, 5));
        assert_eq!(r.requests_per_sec, 91738.61);
        assert!((r.mean_ms - 0.33453).abs() < 1e-9, "{}", r.mean_ms);
        assert!((r.p99_ms - 4.14).abs() < 1e-9, "{}", r.p99_ms);
        assert_eq!(wrk_ms("2.50s"), Some(2500.0));
        assert_eq!(wrk_ms("7"), None);
        let cut = &WRK_REPORT[..WRK_REPORT.find("Requests/sec").unwrap()];
        assert_eq!(
            parse_wrk_report(cut).unwrap_err(),
            "wrk's report has no \"Requests/sec:\" line"
        );
    }

    #[test]
    fn missing_ab_says_how_to_install_it() {
        let err = check_ab_at("ab-that-is-not-installed").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot run ab: it is not installed ("),
            "{text}"
        );
        assert!(text.contains("apt-get install apache2-utils"), "{text}");
    }

    #[test]
    fn axis_and_numbers() {
        assert_eq!(nice_axis(18_500.0), (5000.0, 20_000.0));
        assert_eq!(nice_axis(93.0), (20.0, 100.0));
        assert_eq!(nice_axis(0.0), (1.0, 5.0));
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }

    #[test]
    fn chart_is_svg_with_every_point() {
        let levels = [1, 10, 100, 1000];
        let series = vec![
            Series {
                label: "tugas6 <close>".into(),
                points: levels.iter().map(|&c| (c, 1000.0 * c as f64)).collect(),
                dashed: false,
                color: 0,
            },
            Series {
                label: "nginx -k".into(),
                points: vec![(1, 5.0), (1000, 7.0)],
                dashed: true,
                color: 1,
            },
        ];
        let svg = svg_chart("t & t", "sub", &levels, &series);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("tugas6 &lt;close&gt;"));
        assert!(svg.contains("t &amp; t"));
        assert!(svg.contains("stroke-dasharray"));
        // The biggest value sits on the top grid line: y == TOP (70).
        assert!(svg.contains(r#"cy="70.0""#), "{svg}");
        assert!(svg.contains(">1,000,000<"));
        // Two panels: the keep-alive line has an axis of its own, so its
        // biggest value (7, on an axis up to 8) is near the top, not flat
        // at the bottom: y = 70 + 340 * (1 - 7/8).
        assert!(svg.contains("new connection per request"));
        assert!(svg.contains("keep-alive (-k)"));
        assert!(svg.contains(r#"cy="112.5""#), "{svg}");
    }
}
