//! Concurrent vs sequential downloads: `cargo run -p tugas3 --release --bin bench`.
//! Eight 64 MiB files (`--files`, `--size-mib`) from the real server in
//! this process, all at once and then one by one, several rounds.
//! `--burst N` instead: N connections at once, then one more client's
//! `GET` timed (how fast the thread-per-client server takes a burst).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use common::bench::{load_average, make_file, median, peak_rss_kib, run_download_burst, BURST};
use common::cli::{Command, Flag};
use common::error::{run_main, AppError};
use common::files::mb_per_s;
use common::net;
use tugas3::{run_client, start_server, ClientConfig, Config};

const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 3 benchmark: several files downloaded at the same time vs one by one.",
    args: "",
    flags: &[
        Flag::value("files", "N", "8", "how many files"),
        Flag::value("size-mib", "MIB", "64", "size of each file"),
        Flag::value("runs", "N", "3", "rounds of each mode"),
        BURST,
    ],
};

fn main() -> ExitCode {
    run_main(&BENCH, |m| {
        log::set_max_level(log::LevelFilter::Warn);
        let (count, runs): (usize, usize) = (m.parse("files")?, m.parse("runs")?);
        let burst: usize = m.parse("burst")?;
        if burst > 0 {
            return burst_probe(burst, runs);
        }
        let size = m.parse::<u64>("size-mib")? << 20;
        let err = |what: &'static str| move |e: std::io::Error| AppError::io(what, &e);
        let root = std::env::temp_dir().join(format!("tugas3-bench-{}", std::process::id()));
        let served = root.join("served");
        std::fs::create_dir_all(&served).map_err(err("cannot make a temp folder"))?;
        let names: Vec<String> = (1..=count).map(|i| format!("file{i}.bin")).collect();
        for n in &names {
            make_file(&served.join(n), size).map_err(err("cannot write a test file"))?;
        }
        let listener = net::bind("127.0.0.1", 0)?;
        let config = Config {
            dir: served,
            timeout: Duration::from_secs(30),
        };
        let server = start_server(listener, config).map_err(err("cannot start the server"))?;
        let port = server.addr().port();
        println!(
            "{count} files of {} MiB, {runs} rounds, load average {}",
            size >> 20,
            load_average()
        );
        println!(
            "{:>5}  {:>18}  {:>18}",
            "round", "concurrent MB/s", "sequential MB/s"
        );
        let (mut conc, mut seq) = (Vec::new(), Vec::new());
        for round in 1..=runs {
            let mut figures = [0.0f64; 2];
            for (i, sequential) in [false, true].into_iter().enumerate() {
                let out_dir = root.join("downloads");
                // Removing the last round's copies is not part of a download.
                let _ = std::fs::remove_dir_all(&out_dir);
                let job = ClientConfig {
                    host: "127.0.0.1".into(),
                    port,
                    names: names.clone(),
                    out_dir: PathBuf::from(&out_dir),
                    sequential,
                    timeout: Duration::from_secs(60),
                };
                let report = run_client(&job, false);
                if !report.all_ok() {
                    return Err(AppError::new("benchmark", report.render("failed")).into());
                }
                figures[i] = mb_per_s(report.total_bytes(), report.elapsed.as_secs_f64());
            }
            println!("{round:>5}  {:>18.1}  {:>18.1}", figures[0], figures[1]);
            conc.push(figures[0]);
            seq.push(figures[1]);
        }
        let (c, s) = (median(&conc), median(&seq));
        println!(
            "median: concurrent {c:.1} MB/s, sequential {s:.1} MB/s ({:.2}x)",
            c / s
        );
        if let Some(kib) = peak_rss_kib() {
            println!(
                "peak memory (VmHWM), server and clients together: {:.1} MiB",
                kib as f64 / 1024.0
            );
        }
        server.stop();
        let _ = std::fs::remove_dir_all(&root);
        Ok(())
    })
}

/// `--burst N`: a small file asked for after N connections arrived at once.
fn burst_probe(connections: usize, runs: usize) -> Result<(), common::error::MainError> {
    log::set_max_level(log::LevelFilter::Warn);
    Ok(run_download_burst(
        "tugas3",
        connections,
        runs,
        |dir, listener| {
            let timeout = Duration::from_secs(30);
            start_server(listener, Config { dir, timeout })
        },
    )?)
}
